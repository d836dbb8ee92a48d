/**
 * End-to-end goodput (issue 3, "Performance"): TCP through an IPsec tunnel
 * between two network namespaces joined by a veth pair, measured with iperf3.
 *
 *   tanuki:     `tanuki-kernel --tun` in each namespace, manually keyed
 *               AES-GCM-128 tunnel SAs (setkey -c), ESP-in-UDP (RFC 3948) on
 *               port 4500 — TUN ↔ ESP ↔ UDP entirely in tanuki's data plane.
 *   strongSwan: two charon daemons (kernel-libipsec: userspace ESP over a TUN
 *               device, forced UDP encapsulation), IKEv2 PSK with
 *               esp_proposals = aes128gcm16, each with a private /run.
 *
 * Both are measured in the same run; the result rows are tanuki's Mbit/s with
 * strongSwan's as the baseline (goal: ratio >= 2), and strongSwan's own row.
 * Needs root, iperf3 and (for the baseline) charon + swanctl; otherwise the
 * module prints why it skipped and returns no rows. Namespaces, veths and
 * processes carry this process's pid and are removed also on failure.
 *
 * Standalone: `node dist/bench/iperf.js` (TANUKI_IPERF_SECONDS, default 5;
 * TANUKI_IPERF_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", is
 * passed to both tanuki-kernel processes).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchResult } from './types';

const ROOT = resolve(__dirname, __dirname.includes(`${'dist'}`) ? '../..' : '..');
const CHARON = '/usr/lib/ipsec/charon';
const SECONDS = Number(process.env['TANUKI_IPERF_SECONDS'] ?? 5);
const STRONGSWAN_LOAD =
  'random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 aes sha1 sha2 hmac kdf gmp ctr gcm chapoly kernel-libipsec kernel-netlink socket-default vici';

interface Cmd {
  status: number;
  stdout: string;
  stderr: string;
}

function sh(file: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Cmd {
  const r = spawnSync(file, args, { encoding: 'utf8', input: opts.input, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? r.error.message : '') };
}

function must(what: string, r: Cmd): Cmd {
  if (r.status !== 0) throw new Error(`${what}: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`);
  return r;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

/** Why this machine cannot run the benchmark (null: it can). */
export function skipReason(): { tanuki: string | null; strongswan: string | null } {
  if (process.getuid?.() !== 0) return { tanuki: 'not root (needs ip netns and /dev/net/tun)', strongswan: 'not root' };
  if (sh('sh', ['-c', 'command -v iperf3']).status !== 0) return { tanuki: 'iperf3 not installed', strongswan: 'iperf3 not installed' };
  if (!existsSync('/dev/net/tun')) return { tanuki: 'no /dev/net/tun', strongswan: 'no /dev/net/tun' };
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'tanuki-kernel.js'))) return { tanuki: 'dist/ not built (npm run build)', strongswan: null };
  let strongswan: string | null = null;
  if (!existsSync(CHARON)) strongswan = `${CHARON} not installed`;
  else if (sh('sh', ['-c', 'command -v swanctl']).status !== 0) strongswan = 'swanctl not installed';
  return { tanuki: null, strongswan };
}

/** Two namespaces joined by a veth pair, with everything started in them. */
class Pair {
  readonly a: string;
  readonly b: string;
  readonly dir: string;
  private readonly procs: ChildProcess[] = [];
  private made: string[] = [];

  constructor(tag: string) {
    this.a = `tkb-${process.pid}-${tag}a`;
    this.b = `tkb-${process.pid}-${tag}b`;
    this.dir = mkdtempSync(join(tmpdir(), `tkb-${tag}-`));
  }

  up(): void {
    for (const ns of [this.a, this.b]) {
      must('ip netns add', sh('ip', ['netns', 'add', ns]));
      this.made.push(ns);
      must('lo up', sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']));
    }
    const va = `tkv${process.pid % 100000}a`;
    const vb = `tkv${process.pid % 100000}b`;
    must('veth', sh('ip', ['link', 'add', va, 'netns', this.a, 'type', 'veth', 'peer', 'name', vb, 'netns', this.b]));
    must('addr a', sh('ip', ['-n', this.a, 'addr', 'add', '192.168.77.1/24', 'dev', va]));
    must('addr b', sh('ip', ['-n', this.b, 'addr', 'add', '192.168.77.2/24', 'dev', vb]));
    must('veth a up', sh('ip', ['-n', this.a, 'link', 'set', va, 'up']));
    must('veth b up', sh('ip', ['-n', this.b, 'link', 'set', vb, 'up']));
  }

  spawn(ns: string, name: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const out = openSync(join(this.dir, `${name}.log`), 'a');
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', out, out], env });
    closeSync(out);
    this.procs.push(p);
    return p;
  }

  exec(ns: string, argv: readonly string[], timeoutMs?: number): Cmd {
    return sh('ip', ['netns', 'exec', ns, ...argv], timeoutMs === undefined ? {} : { timeoutMs });
  }

  /** iperf3 TCP from a (bound to src) to the server in b at dst: receiver goodput in Mbit/s. */
  async iperf(src: string, dst: string): Promise<number> {
    const server = this.spawn(this.b, 'iperf3-server', ['iperf3', '-s', '-1', '-B', dst]);
    await sleep(500);
    const c = this.exec(this.a, ['iperf3', '-c', dst, '-B', src, '-t', String(SECONDS), '-O', '1', '-J'], (SECONDS + 30) * 1000);
    server.kill('SIGTERM');
    writeFileSync(join(this.dir, 'iperf3-client.json'), c.stdout + c.stderr);
    let j: { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
    try {
      j = JSON.parse(c.stdout) as typeof j;
    } catch {
      throw new Error(`iperf3: ${(c.stderr || c.stdout).trim().slice(0, 200)}`);
    }
    const bps = j.end?.sum_received?.bits_per_second;
    if (j.error || bps === undefined) throw new Error(`iperf3: ${j.error ?? 'no result'}`);
    return bps / 1e6;
  }

  async down(): Promise<void> {
    const alive = this.procs.filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of alive) p.kill('SIGTERM');
    const end = Date.now() + 3000;
    while (alive.some((p) => p.exitCode === null && p.signalCode === null) && Date.now() < end) await sleep(50);
    for (const p of alive) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const ns of this.made.splice(0)) {
      for (const pid of sh('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter((x) => /^\d+$/.test(x))) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      sh('ip', ['netns', 'del', ns]);
    }
  }
}

/** tanuki-kernel --tun on both sides, manual AES-GCM-128 SAs, ESP-in-UDP on 4500. */
async function tanukiGoodput(): Promise<number> {
  const p = new Pair('t');
  try {
    p.up();
    const sock = (s: string): string => join(p.dir, `${s}.sock`);
    const node = [process.execPath, ...(process.env['TANUKI_IPERF_NODE_ARGS'] ?? '').split(' ').filter((x) => x.length > 0)];
    const kernel = join(ROOT, 'bin', 'tanuki-kernel');
    p.spawn(p.a, 'kernel-a', [...node, kernel, '--socket', sock('a'), '--tun', 'tkbt0', '--natt-port', '4500', '--natt-addr', '192.168.77.1']);
    p.spawn(p.b, 'kernel-b', [...node, kernel, '--socket', sock('b'), '--tun', 'tkbt0', '--natt-port', '4500', '--natt-addr', '192.168.77.2']);
    await until(() => existsSync(sock('a')) && existsSync(sock('b')), 20_000, 'tanuki-kernel sockets');
    const keys = `add 192.168.77.1[4500] 192.168.77.2[4500] esp-udp 0x5001 -m tunnel -r 64 -E aes-gcm-16 0x${'51'.repeat(20)};
add 192.168.77.2[4500] 192.168.77.1[4500] esp-udp 0x5002 -m tunnel -r 64 -E aes-gcm-16 0x${'52'.repeat(20)};
`;
    const setkey = (s: string, script: string): void => {
      must(`setkey ${s}`, sh(process.execPath, [join(ROOT, 'bin', 'setkey'), '--socket', sock(s), '-c'], { input: script }));
    };
    setkey('a', `spdadd 10.77.1.0/24 10.77.2.0/24 any -P out ipsec esp/tunnel/192.168.77.1-192.168.77.2/require;
spdadd 10.77.2.0/24 10.77.1.0/24 any -P in ipsec esp/tunnel/192.168.77.2-192.168.77.1/require;
${keys}`);
    setkey('b', `spdadd 10.77.2.0/24 10.77.1.0/24 any -P out ipsec esp/tunnel/192.168.77.2-192.168.77.1/require;
spdadd 10.77.1.0/24 10.77.2.0/24 any -P in ipsec esp/tunnel/192.168.77.1-192.168.77.2/require;
${keys}`);
    must('addr tun a', p.exec(p.a, ['ip', 'addr', 'add', '10.77.1.1/32', 'dev', 'tkbt0']));
    must('addr tun b', p.exec(p.b, ['ip', 'addr', 'add', '10.77.2.1/32', 'dev', 'tkbt0']));
    await until(() => p.exec(p.a, ['ip', 'route']).stdout.includes('10.77.2.0/24 dev tkbt0') && p.exec(p.b, ['ip', 'route']).stdout.includes('10.77.1.0/24 dev tkbt0'), 5000, 'TUN routes');
    const ping = p.exec(p.a, ['ping', '-c', '1', '-W', '3', '-I', '10.77.1.1', '10.77.2.1']);
    if (ping.status !== 0) throw new Error(`no ping through the tanuki tunnel: ${ping.stdout.trim()}`);
    return await p.iperf('10.77.1.1', '10.77.2.1');
  } finally {
    await p.down();
    rmSync(p.dir, { recursive: true, force: true });
  }
}

function strongswanConf(dir: string, side: string): string {
  return `charon {
  load = ${STRONGSWAN_LOAD}
  port = 500
  port_nat_t = 4500
  install_routes = yes
  filelog {
    f { path = ${dir}/charon-${side}.log
        default = 1
        flush_line = yes }
  }
  plugins {
    vici { socket = unix://${dir}/charon-${side}.vici }
  }
}
`;
}

function swanctlConf(local: string, remote: string, lnet: string, rnet: string, lid: string, rid: string): string {
  return `connections {
  bench {
    version = 2
    local_addrs = ${local}
    remote_addrs = ${remote}
    proposals = aes128-sha256-x25519
    local { auth = psk
            id = ${lid} }
    remote { auth = psk
             id = ${rid} }
    children { c1 { local_ts = ${lnet}
                    remote_ts = ${rnet}
                    esp_proposals = aes128gcm16 } }
  }
}
secrets { ike-1 { id-a = a.bench
                  id-b = b.bench
                  secret = "bench-psk-0123456789" } }
`;
}

/** Two charon kernel-libipsec peers, IKEv2 PSK, aes128gcm16 CHILD_SA. */
async function strongswanGoodput(): Promise<number> {
  const p = new Pair('s');
  try {
    p.up();
    must('ts addr a', p.exec(p.a, ['ip', 'addr', 'add', '10.78.1.1/32', 'dev', 'lo']));
    must('ts addr b', p.exec(p.b, ['ip', 'addr', 'add', '10.78.2.1/32', 'dev', 'lo']));
    const sides = [
      { ns: p.a, side: 'a', conf: swanctlConf('192.168.77.1', '192.168.77.2', '10.78.1.0/24', '10.78.2.0/24', 'a.bench', 'b.bench') },
      { ns: p.b, side: 'b', conf: swanctlConf('192.168.77.2', '192.168.77.1', '10.78.2.0/24', '10.78.1.0/24', 'b.bench', 'a.bench') },
    ];
    for (const s of sides) {
      const conf = join(p.dir, `strongswan-${s.side}.conf`);
      writeFileSync(conf, strongswanConf(p.dir, s.side));
      writeFileSync(join(p.dir, `swanctl-${s.side}.conf`), s.conf);
      p.spawn(s.ns, `charon-${s.side}`, ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs none /run && exec ${CHARON}`], {
        ...process.env,
        STRONGSWAN_CONF: conf,
      });
    }
    await until(() => sides.every((s) => existsSync(join(p.dir, `charon-${s.side}.vici`))), 20_000, 'charon vici sockets');
    const swanctl = (side: string, args: readonly string[]): Cmd => sh('swanctl', [...args, '--uri', `unix://${join(p.dir, `charon-${side}.vici`)}`], { timeoutMs: 30_000 });
    for (const s of sides) must(`swanctl --load-all ${s.side}`, swanctl(s.side, ['--load-all', '--file', join(p.dir, `swanctl-${s.side}.conf`)]));
    must('swanctl --initiate', swanctl('a', ['--initiate', '--child', 'c1', '--timeout', '20']));
    const ping = p.exec(p.a, ['ping', '-c', '1', '-W', '3', '-I', '10.78.1.1', '10.78.2.1']);
    if (ping.status !== 0) throw new Error(`no ping through the strongSwan tunnel: ${ping.stdout.trim()}`);
    return await p.iperf('10.78.1.1', '10.78.2.1');
  } finally {
    await p.down();
    rmSync(p.dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const why = skipReason();
  if (why.tanuki) {
    process.stderr.write(`bench iperf: skipped: ${why.tanuki}\n`);
    return [];
  }
  let swan = Number.NaN;
  if (process.env['TANUKI_IPERF_ONLY'] === 'tanuki') process.stderr.write('bench iperf: strongSwan baseline not run (TANUKI_IPERF_ONLY=tanuki)\n');
  else if (why.strongswan) process.stderr.write(`bench iperf: strongSwan baseline skipped: ${why.strongswan}\n`);
  else {
    try {
      swan = await strongswanGoodput();
    } catch (err) {
      process.stderr.write(`bench iperf: strongSwan baseline failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  if (process.env['TANUKI_IPERF_ONLY'] === 'tanuki') swan = Number.NaN;
  const tanuki = await tanukiGoodput();
  const rows: BenchResult[] = [
    { name: `iperf3 TCP goodput, tanuki-kernel --tun ↔ tanuki-kernel --tun, AES-GCM-128 ESP-in-UDP, ${SECONDS}s`, value: tanuki, unit: 'Mbit/s', baseline: swan, ratio: tanuki / swan },
  ];
  if (Number.isFinite(swan)) rows.push({ name: `iperf3 TCP goodput, charon kernel-libipsec ↔ charon kernel-libipsec, aes128gcm16, ${SECONDS}s`, value: swan, unit: 'Mbit/s', baseline: swan, ratio: 1 });
  return rows;
}

if (require.main === module) {
  run().then(
    (rows) => {
      for (const r of rows) process.stdout.write(`${r.name}: ${r.value.toFixed(1)} ${r.unit} (baseline ${r.baseline.toFixed(1)}, ratio ${r.ratio.toFixed(3)})\n`);
    },
    (e: unknown) => {
      process.stderr.write(`bench iperf: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
