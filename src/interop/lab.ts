/**
 * The lab: two network namespaces joined by a veth pair, charon in one and
 * tanuki's racoon in the other. Every name carries the harness pid and a
 * counter, and teardown() kills the processes it started (by pid) and deletes
 * the namespaces (which removes the veth pair) — also when a step fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NET } from './scenario';

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
    await sleep(100);
  }
}

export class Lab {
  readonly nsCharon: string;
  readonly nsTanuki: string;
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
    const tag = `${process.pid}${(counter++).toString(36)}`;
    this.nsCharon = `tki-${tag}-c`;
    this.nsTanuki = `tki-${tag}-t`;
    // IFNAMSIZ: at most 15 characters.
    this.vethCharon = `tic${tag}`.slice(0, 15);
    this.vethTanuki = `tit${tag}`.slice(0, 15);
  }

  /** Namespaces, veth, addresses (the peer addresses + one host address inside each local TS, as libipsec needs). */
  up(): void {
    if (aborting) throw new LabError('ip netns add', `interrupted by ${aborting}`);
    for (const ns of [this.nsCharon, this.nsTanuki]) {
      must('ip netns add', cmd('ip', ['netns', 'add', ns]));
      this.namespaces.push(ns);
    }
    must('ip link add veth', cmd('ip', ['link', 'add', this.vethCharon, 'netns', this.nsCharon, 'type', 'veth', 'peer', 'name', this.vethTanuki, 'netns', this.nsTanuki]));
    const inNs = (ns: string, args: string[], step: string) => must(step, cmd('ip', ['netns', 'exec', ns, 'ip', ...args]));
    inNs(this.nsCharon, ['addr', 'add', `${NET.charonAddr}/${NET.prefix}`, 'dev', this.vethCharon], 'charon address');
    inNs(this.nsTanuki, ['addr', 'add', `${NET.tanukiAddr}/${NET.prefix}`, 'dev', this.vethTanuki], 'tanuki address');
    inNs(this.nsCharon, ['addr', 'add', `${NET.charonHost}/32`, 'dev', 'lo'], 'charon TS address');
    inNs(this.nsTanuki, ['addr', 'add', `${NET.tanukiHost}/32`, 'dev', 'lo'], 'tanuki TS address');
    for (const [ns, dev] of [
      [this.nsCharon, this.vethCharon],
      [this.nsTanuki, this.vethTanuki],
    ] as const) {
      inNs(ns, ['link', 'set', 'lo', 'up'], 'lo up');
      inNs(ns, ['link', 'set', dev, 'up'], 'veth up');
    }
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

  startRacoon(conf: string): ChildProcess {
    const out = openSync(join(this.dir, 'racoon.stdout'), 'a');
    const p = spawn(
      'ip',
      [
        'netns', 'exec', this.nsTanuki, process.execPath, join(PROJECT_ROOT, 'bin', 'racoon'),
        '-F', '-d', '-f', conf, '-l', join(this.dir, 'racoon.log'), '--socket', this.pfkeySocket, '--pid-file', join(this.dir, 'racoon.pid'),
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

  swanctl(args: readonly string[], timeoutMs = 30000): CmdResult {
    return cmd('swanctl', [...args, '--uri', this.vici], { timeoutMs });
  }
  setkey(args: readonly string[], input?: string): CmdResult {
    return cmd(process.execPath, [join(PROJECT_ROOT, 'bin', 'setkey'), '--socket', this.pfkeySocket, ...args], input === undefined ? {} : { input });
  }
  racoonctl(args: readonly string[]): CmdResult {
    return cmd(process.execPath, [join(PROJECT_ROOT, 'bin', 'racoonctl'), '-s', this.adminSocket, ...args]);
  }

  viciReady(): boolean {
    return existsSync(join(this.sockDir, 'charon.vici'));
  }
  racoonReady(): boolean {
    return existsSync(this.adminSocket) && existsSync(this.pfkeySocket);
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
