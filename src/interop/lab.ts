/**
 * The lab: two network namespaces joined by a veth pair, charon in one and
 * tanuki's racoon in the other. Every name carries the harness pid and a
 * counter, and teardown() kills the processes it started (by pid) and deletes
 * the namespaces (which removes the veth pair) — also when a step fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NAT_NET, NET, SMALL_MTU, type Topology } from './scenario';

export class LabError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`${step}: ${message}`);
    this.name = 'LabError';
  }
}

export interface CmdResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function cmd(file: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CmdResult {
  const r = spawnSync(file, args, { encoding: 'utf8', input: opts.input, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30000 });
  const status = r.status ?? (r.error ? 127 : 1);
  return { status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error.message) : '') };
}

/** The same, without blocking the event loop (labs run concurrently). */
export function cmdAsync(file: string, args: readonly string[], timeoutMs = 30000, env?: NodeJS.ProcessEnv): Promise<CmdResult> {
  return new Promise((resolveP) => {
    const p = spawn(file, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      resolveP({ status: 127, stdout, stderr: stderr + e.message });
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolveP({ status: code ?? 1, stdout, stderr });
    });
  });
}

function must(step: string, r: CmdResult): CmdResult {
  if (r.status !== 0) throw new LabError(step, (r.stderr || r.stdout).trim() || `exit status ${r.status}`);
  return r;
}

export const PROJECT_ROOT = resolve(__dirname, __dirname.includes(`${'dist'}`) ? '../../..' : '../..');
export const CHARON = '/usr/lib/ipsec/charon';

let counter = 0;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(pred: () => boolean, ms: number, step: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (pred()) return;
    if (Date.now() > until) throw new LabError(step, `timed out after ${ms} ms`);
    await sleep(50);
  }
}

export class Lab {
  readonly nsCharon: string;
  readonly nsTanuki: string;
  /** The NAT router between the peers (topology `nat`). */
  readonly nsRouter: string;
  readonly vethCharon: string;
  readonly vethTanuki: string;
  private procs: ChildProcess[] = [];
  private namespaces: string[] = [];
  charon: ChildProcess | null = null;
  racoon: ChildProcess | null = null;

  /**
   * Unix sockets (vici, PF_KEY, racoon admin) live in a short directory of their
   * own: sun_path holds 108 bytes, and a results path plus a scenario name is longer.
   */
  readonly sockDir: string;

  constructor(readonly dir: string) {
    this.sockDir = mkdtempSync('/tmp/tki-');
    // pid, a separator, then the counter: two harness processes can never produce the same tag.
    const tag = `${process.pid}x${(counter++).toString(36)}`;
    this.nsCharon = `tki-${tag}-c`;
    this.nsTanuki = `tki-${tag}-t`;
    this.nsRouter = `tki-${tag}-r`;
    // IFNAMSIZ: at most 15 characters.
    this.vethCharon = `tic${tag}`.slice(0, 15);
    this.vethTanuki = `tit${tag}`.slice(0, 15);
  }

  /**
   * Namespaces, veth pairs, addresses: the peer addresses + one host address inside
   * charon's TS (kernel-libipsec needs it to install its route; tanuki's side is the
   * in-process `--host`). `nat` puts a masquerading router namespace between them,
   * `small-mtu` lowers the link MTU and drops IP fragments so only IKE fragmentation helps.
   */
  up(topology: Topology = 'direct'): void {
    if (aborting) throw new LabError('ip netns add', `interrupted by ${aborting}`);
    const all = topology === 'nat' ? [this.nsCharon, this.nsRouter, this.nsTanuki] : [this.nsCharon, this.nsTanuki];
    for (const ns of all) {
      must('ip netns add', cmd('ip', ['netns', 'add', ns]));
      this.namespaces.push(ns);
    }
    const inNs = (ns: string, args: string[], step: string) => must(step, cmd('ip', ['-n', ns, ...args]));
    const charonPeerNs = topology === 'nat' ? this.nsRouter : this.nsTanuki;
    must('ip link add veth', cmd('ip', ['link', 'add', this.vethCharon, 'netns', this.nsCharon, 'type', 'veth', 'peer', 'name', this.vethTanuki, 'netns', charonPeerNs]));
    inNs(this.nsCharon, ['addr', 'add', `${NET.charonAddr}/${NET.prefix}`, 'dev', this.vethCharon], 'charon address');
    inNs(charonPeerNs, ['addr', 'add', `${NET.tanukiAddr}/${NET.prefix}`, 'dev', this.vethTanuki], 'tanuki/router address');
    inNs(this.nsCharon, ['addr', 'add', `${NET.charonHost}/32`, 'dev', 'lo'], 'charon TS address');
    const links: [string, string][] = [
      [this.nsCharon, this.vethCharon],
      [charonPeerNs, this.vethTanuki],
    ];
    if (topology === 'nat') {
      const inside = `${this.vethTanuki}i`.slice(0, 15);
      const routerIn = `${this.vethTanuki}r`.slice(0, 15);
      must('ip link add veth (inside)', cmd('ip', ['link', 'add', routerIn, 'netns', this.nsRouter, 'type', 'veth', 'peer', 'name', inside, 'netns', this.nsTanuki]));
      inNs(this.nsRouter, ['addr', 'add', `${NAT_NET.routerInside}/${NAT_NET.insidePrefix}`, 'dev', routerIn], 'router inside address');
      inNs(this.nsTanuki, ['addr', 'add', `${NAT_NET.tanukiInside}/${NAT_NET.insidePrefix}`, 'dev', inside], 'tanuki inside address');
      links.push([this.nsRouter, routerIn], [this.nsTanuki, inside]);
      for (const [ns, dev] of links) inNs(ns, ['link', 'set', dev, 'up'], 'veth up');
      inNs(this.nsTanuki, ['route', 'add', 'default', 'via', NAT_NET.routerInside], 'tanuki default route');
      must('router forwarding', cmd('ip', ['netns', 'exec', this.nsRouter, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']));
      // RFC 3947/7296 §2.23: a real source NAT; the outside address replaces tanuki's, ports may change too.
      must(
        'nft masquerade',
        cmd('ip', ['netns', 'exec', this.nsRouter, 'nft', '-f', '-'], {
          input: `table ip nat {\n chain postrouting {\n  type nat hook postrouting priority srcnat; policy accept;\n  oifname "${this.vethTanuki}" masquerade\n }\n}\n`,
        }),
      );
    } else {
      for (const [ns, dev] of links) inNs(ns, ['link', 'set', dev, 'up'], 'veth up');
    }
    if (topology === 'small-mtu') {
      for (const [ns, dev] of links) inNs(ns, ['link', 'set', dev, 'mtu', String(SMALL_MTU)], 'small MTU');
      // Drop IP fragments arriving at charon: an IKE message larger than the MTU only arrives as IKE fragments (RFC 7383).
      must(
        'nft drop fragments',
        cmd('ip', ['netns', 'exec', this.nsCharon, 'nft', '-f', '-'], {
          input: 'table ip tkifrag {\n chain input {\n  type filter hook prerouting priority -400; policy accept;\n  ip frag-off & 0x3fff != 0 counter drop\n }\n}\n',
        }),
      );
    }
    for (const ns of all) inNs(ns, ['link', 'set', 'lo', 'up'], 'lo up');
  }

  /** charon with a private /run (one pidfile per mount namespace) and its own strongswan.conf. */
  startCharon(strongswanConf: string): ChildProcess {
    const out = openSync(join(this.dir, 'charon.stdout'), 'a');
    const p = spawn(
      'ip',
      ['netns', 'exec', this.nsCharon, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs none /run && exec ${CHARON}`],
      { env: { ...process.env, STRONGSWAN_CONF: strongswanConf }, stdio: ['ignore', out, out] },
    );
    closeSync(out);
    this.procs.push(p);
    this.charon = p;
    return p;
  }

  /** racoon with its embedded userspace kernel and the in-process host inside tanuki's TS. */
  startRacoon(conf: string): ChildProcess {
    const out = openSync(join(this.dir, 'racoon.stdout'), 'a');
    const p = spawn(
      'ip',
      [
        'netns', 'exec', this.nsTanuki, process.execPath, join(PROJECT_ROOT, 'bin', 'racoon'),
        '-F', '-d', '-f', conf, '-l', join(this.dir, 'racoon.log'), '--socket', this.pfkeySocket, '--pid-file', join(this.dir, 'racoon.pid'),
        '--host', NET.tanukiHost,
      ],
      { stdio: ['ignore', out, out] },
    );
    closeSync(out);
    this.procs.push(p);
    this.racoon = p;
    return p;
  }

  get vici(): string {
    return `unix://${join(this.sockDir, 'charon.vici')}`;
  }
  get pfkeySocket(): string {
    return join(this.sockDir, 'pfkey.sock');
  }
  get adminSocket(): string {
    return join(this.sockDir, 'racoon.sock');
  }

  /** swanctl against this lab's charon, without blocking the event loop (the runner's labs run concurrently). */
  swanctl(args: readonly string[], timeoutMs = 30000): Promise<CmdResult> {
    return cmdAsync('swanctl', [...args, '--uri', this.vici], timeoutMs);
  }

  /** The same, blocking (the IKEv1 scenarios of src/interop/ikev1.ts and the handshake bench). */
  swanctlSync(args: readonly string[], timeoutMs = 30000): CmdResult {
    return cmd('swanctl', [...args, '--uri', this.vici], { timeoutMs });
  }
  /** tanuki's setkey against this lab's racoon (one node start-up per call). */
  setkey(args: readonly string[], input?: string): CmdResult {
    return cmd(process.execPath, [join(PROJECT_ROOT, 'bin', 'setkey'), '--socket', this.pfkeySocket, ...args], input === undefined ? {} : { input });
  }
  /** tanuki's racoonctl against this lab's racoon (one node start-up per call). */
  racoonctl(args: readonly string[]): CmdResult {
    return cmd(process.execPath, [join(PROJECT_ROOT, 'bin', 'racoonctl'), '-s', this.adminSocket, ...args]);
  }

  viciReady(): boolean {
    return existsSync(join(this.sockDir, 'charon.vici'));
  }
  racoonReady(): boolean {
    return existsSync(this.adminSocket) && existsSync(this.pfkeySocket);
  }

  /** Kill one of the peers the way a crash would (DPD scenarios). */
  kill(which: 'charon' | 'racoon'): void {
    const p = which === 'charon' ? this.charon : this.racoon;
    if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  /** ping from charon's host address into tanuki's TS (through kernel-libipsec's ipsec0). */
  async pingFromCharon(count: number): Promise<{ sent: number; received: number; output: string }> {
    const r = await cmdAsync('ip', ['netns', 'exec', this.nsCharon, 'ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '5', '-I', NET.charonHost, NET.tanukiHost], 15000);
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), output: (r.stdout + r.stderr).trim() };
  }

  /** Stop what we started (by pid: SIGTERM, then SIGKILL), then delete the namespaces. Never throws. */
  async teardown(): Promise<void> {
    const alive = this.procs.filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of alive) p.kill('SIGTERM');
    const until = Date.now() + 3000;
    while (alive.some((p) => p.exitCode === null && p.signalCode === null) && Date.now() < until) await sleep(50);
    for (const p of alive) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    this.procs = [];
    for (const ns of this.namespaces.splice(0)) {
      // Anything else still inside (it should not be) goes with the namespace's pids.
      const pids = cmd('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter((x) => /^\d+$/.test(x));
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      cmd('ip', ['netns', 'del', ns]);
    }
    rmSync(this.sockDir, { recursive: true, force: true });
  }
}

/** All labs alive in this process, torn down on SIGINT/SIGTERM. */
const live = new Set<Lab>();
let handlersInstalled = false;
let aborting: string | null = null;

/** Set once a signal arrived: no new lab may come up after it. */
export function abortReason(): string | null {
  return aborting;
}

export function track(lab: Lab): () => void {
  if (aborting) throw new LabError('start', `interrupted by ${aborting}`);
  live.add(lab);
  if (!handlersInstalled) {
    handlersInstalled = true;
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        aborting = sig;
        process.stderr.write(`\ntanuki-interop: ${sig}, tearing down ${live.size} lab(s)\n`);
        void (async () => {
          // Labs registered while an earlier teardown ran are torn down too.
          while (live.size > 0) {
            const labs = [...live];
            live.clear();
            await Promise.all(labs.map((l) => l.teardown()));
          }
          process.exit(130);
        })();
      });
    }
  }
  return () => live.delete(lab);
}
