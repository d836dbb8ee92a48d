/**
 * IKEv2 handshakes per second over real UDP (issue 4, "Performance"): the load
 * generator of bench/ike-loadgen.ts (tanuki's initiator engine, many concurrent
 * exchanges) against
 *   (a) tanuki's racoon as responder (the real daemon process with its
 *       embedded userspace kernel, PF_KEY GETSPI/UPDATE/ADD for every CHILD_SA), and
 *   (b) strongSwan's charon as responder with the kernel-libipsec plugin
 *       (charon's own userspace IPsec stack, SAs and policies installed in it),
 * in the same run, alternating, each in a network namespace of its own joined
 * to the generator's by a veth pair (src/interop/lab.ts). The generator process
 * runs in the other namespace; both share this machine's cores.
 *
 * Why kernel-libipsec is the fair charon: this kernel has no ESP modules, so
 * charon's kernel-netlink cannot install SAs, and without any IPsec backend
 * charon cannot even allocate a SPI and refuses the CHILD_SA. libipsec is, like
 * tanuki's userspace kernel, an in-process SADB + SPD: both responders do the
 * same work per handshake (two DH operations, key derivation, two SAs
 * installed). Routes are not installed (install_routes = no), as tanuki installs none.
 * Both run with their DoS protection out of the way of a single busy
 * initiator: concurrency stays below racoon's cookie threshold (30 half-open
 * IKE SAs, RFC 7296 §2.6), and charon's cookie_threshold / block_threshold
 * (10 / 5 half-open per source address by default) are raised above it.
 *
 * Baseline: x25519 operations per second from `openssl speed ecdhx25519`
 * (one derive per op) measured in the same run, the machine's DH limit. A
 * responder spends two such operations per handshake (key pair + shared secret).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHARON, Lab, PROJECT_ROOT, cmd, sleep, track, waitFor } from '../src/interop/lab';
import { STRONGSWAN_LOAD } from '../src/interop/scenario';
import type { LoadgenOptions, LoadgenResult } from './ike-loadgen';
import type { BenchResult } from './types';

const COUNT = Number(process.env.BENCH_IKEV2_UDP_SAS ?? 1500);
const WARMUP = Math.min(100, Math.floor(COUNT / 10));
/** below racoon's cookie threshold of 30 half-open IKE SAs */
const CONCURRENCY = Number(process.env.BENCH_IKEV2_UDP_CONCURRENCY ?? 24);
const ROUNDS = Number(process.env.BENCH_IKEV2_UDP_ROUNDS ?? 2);

/** Addresses of src/interop/lab.ts: 10.99.0.1 at its "charon" end, 10.99.0.2 at its "tanuki" end. */
const NET = {
  generator: '10.99.0.1',
  responder: '10.99.0.2',
  generatorTs: '10.1.0.0/24',
  responderTs: '10.2.0.0/24',
  generatorId: 'gen.bench.test',
  responderId: 'srv.bench.test',
  psk: 'tanuki-bench-psk',
};

/** x25519 derive operations per second, `openssl speed` (null when openssl is missing). */
export function opensslX25519(): number | null {
  const r = cmd('openssl', ['speed', '-seconds', '2', 'ecdhx25519'], { timeoutMs: 60000 });
  const m = /X25519\)\s+\S+\s+([\d.]+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

function racoonConf(dir: string, sockDir: string): string {
  return `path pre_shared_key "${dir}/psk.txt";
listen {
  isakmp ${NET.responder} [500];
  isakmp_natt ${NET.responder} [4500];
  adminsock "${sockDir}/racoon.sock";
}
remote "gen" {
  remote_address ${NET.generator};
  ike_version 2;
  my_identifier fqdn "${NET.responderId}";
  peers_identifier fqdn "${NET.generatorId}";
  initial_contact off;
  lifetime time 1 hour;
  proposal {
    encryption_algorithm aes_gcm_16 128;
    hash_algorithm sha256;
    authentication_method pre_shared_key;
    dh_group curve25519;
  }
}
sainfo anonymous {
  lifetime time 1 hour;
  encryption_algorithm aes_gcm_16 128;
  authentication_algorithm non_auth;
  compression_algorithm deflate;
}
`;
}

function setkeyPolicies(): string {
  return (
    `spdadd ${NET.responderTs} ${NET.generatorTs} any -P out ipsec esp/tunnel/${NET.responder}-${NET.generator}/require;\n` +
    `spdadd ${NET.generatorTs} ${NET.responderTs} any -P in ipsec esp/tunnel/${NET.generator}-${NET.responder}/require;\n`
  );
}

function strongswanConf(sockDir: string): string {
  return `charon {
  load = ${STRONGSWAN_LOAD}
  port = 500
  port_nat_t = 4500
  install_routes = no
  cookie_threshold = 1000
  block_threshold = 1000
  filelog {
    stderr {
      default = ${process.env.BENCH_CHARON_LOG ?? 0}
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
  plugins {
    vici {
      socket = unix://${sockDir}/charon.vici
    }
  }
}
`;
}

function swanctlConf(responder: string, generator: string, responderTs: string, generatorTs: string): string {
  return `connections {
  bench {
    version = 2
    local_addrs = ${responder}
    remote_addrs = ${generator}
    proposals = aes128gcm16-prfsha256-x25519
    mobike = no
    local {
      auth = psk
      id = ${NET.responderId}
    }
    remote {
      auth = psk
      id = ${NET.generatorId}
    }
    children {
      bench {
        local_ts = ${responderTs}
        remote_ts = ${generatorTs}
        esp_proposals = aes128gcm16
        mode = tunnel
      }
    }
  }
}
secrets {
  ike-bench {
    id-a = ${NET.responderId}
    id-b = ${NET.generatorId}
    secret = "${NET.psk}"
  }
}
`;
}

function loadgenOptions(generator: string, responder: string): LoadgenOptions {
  return {
    local: { address: generator, port: 500 },
    remote: { address: responder, port: 500 },
    localId: NET.generatorId,
    remoteId: NET.responderId,
    psk: NET.psk,
    localTs: NET.generatorTs,
    remoteTs: NET.responderTs,
    count: COUNT,
    warmup: WARMUP,
    concurrency: CONCURRENCY,
    timeoutMs: 240000,
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/** The pid of the process named `comm` in namespace `ns`. */
function pidIn(ns: string, comm: string): number | null {
  for (const p of cmd('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) return Number(p);
    } catch {
      /* gone */
    }
  }
  return null;
}

export interface RoundResult extends LoadgenResult {
  /** CPU seconds the responder process used during the generator's run */
  responderCpuSeconds: number;
  /** completed handshakes per CPU second of the responder: independent of other load on the machine */
  handshakesPerCpuSecond: number;
}

/** Run the generator against the responder process `pid`, measuring the CPU time the responder spends. */
async function measured(pid: number, run: () => Promise<LoadgenResult>): Promise<RoundResult> {
  const before = cpuSeconds(pid);
  const r = await run();
  const cpu = cpuSeconds(pid) - before;
  return { ...r, responderCpuSeconds: cpu, handshakesPerCpuSecond: r.completed / cpu };
}

function check<R extends LoadgenResult>(r: R, who: string): R {
  if (r.completed < COUNT) throw new Error(`${who}: only ${r.completed} of ${COUNT} handshakes completed (${r.failed} failed): ${r.errors.join('; ')}`);
  return r;
}

/** BENCH_RACOON_PROF=1: racoon writes a V8 CPU profile (--cpu-prof) into the round's directory at exit. */
function profileFlags(dir: string): string[] {
  return process.env.BENCH_RACOON_PROF ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

/** One round against tanuki's racoon; the generator is at the "charon" end of the lab. */
export async function againstRacoon(dir: string): Promise<RoundResult> {
  mkdirSync(dir, { recursive: true });
  const lab = new Lab(dir);
  const untrack = track(lab);
  try {
    writeFileSync(join(dir, 'racoon.conf'), racoonConf(dir, lab.sockDir));
    writeFileSync(join(dir, 'psk.txt'), `${NET.generatorId}\t${NET.psk}\n`);
    chmodSync(join(dir, 'psk.txt'), 0o600);
    lab.up();
    // the lab's own addresses are 10.99.0.1 (charon end) and 10.99.0.2 (tanuki end)
    const racoon = spawn(
      'ip',
      ['netns', 'exec', lab.nsTanuki, process.execPath, ...profileFlags(dir), join(PROJECT_ROOT, 'bin', 'racoon'), '-F', '-f', join(dir, 'racoon.conf'), '-l', join(dir, 'racoon.log'), '--socket', lab.pfkeySocket, '--pid-file', join(dir, 'racoon.pid')],
      { stdio: 'ignore' },
    );
    lab.racoon = racoon;
    await waitFor(() => lab.racoonReady() || racoon.exitCode !== null, 20000, 'racoon sockets');
    if (!lab.racoonReady()) throw new Error(`racoon exited with status ${racoon.exitCode} (see ${dir}/racoon.log)`);
    const pol = lab.setkey(['-c'], setkeyPolicies());
    if (pol.status !== 0) throw new Error(`setkey -c: ${pol.stderr.trim()}`);
    await sleep(300);
    const pid = pidIn(lab.nsTanuki, 'node');
    if (pid === null) throw new Error('racoon process not found in its namespace');
    const r = check(await measured(pid, () => runGenerator(lab.nsCharon, dir, loadgenOptions(NET.generator, NET.responder))), 'racoon');
    if (process.env.BENCH_RACOON_PROF) {
      // let racoon delete its SAs and exit by itself, so that it writes the profile
      racoon.kill('SIGTERM');
      await waitFor(() => racoon.exitCode !== null || racoon.signalCode !== null, 120000, 'racoon exit');
    }
    return r;
  } finally {
    await lab.teardown();
    untrack();
  }
}

/** One round against charon (kernel-libipsec); charon sits at 10.99.0.1, so the roles of the addresses swap. */
export async function againstCharon(dir: string): Promise<RoundResult> {
  mkdirSync(dir, { recursive: true });
  const lab = new Lab(dir);
  const untrack = track(lab);
  try {
    // The lab puts charon at 10.99.0.1 with a host address in 10.1.0.0/24 (libipsec routes
    // need a local address inside the local TS): addresses and selectors swap ends here.
    const responder = NET.generator;
    const generator = NET.responder;
    writeFileSync(join(dir, 'strongswan.conf'), strongswanConf(lab.sockDir));
    writeFileSync(join(dir, 'swanctl.conf'), swanctlConf(responder, generator, NET.generatorTs, NET.responderTs));
    lab.up();
    const charon = lab.startCharon(join(dir, 'strongswan.conf'));
    await waitFor(() => lab.viciReady() || charon.exitCode !== null, 20000, 'charon vici socket');
    if (!lab.viciReady()) throw new Error(`charon exited with status ${charon.exitCode} (see ${dir}/charon.stdout)`);
    const load = lab.swanctlSync(['--load-all', '--file', join(dir, 'swanctl.conf')]);
    if (load.status !== 0) throw new Error(`swanctl --load-all: ${(load.stderr || load.stdout).trim()}`);
    await sleep(300);
    const o = { ...loadgenOptions(generator, responder), localTs: NET.responderTs, remoteTs: NET.generatorTs };
    const pid = pidIn(lab.nsCharon, 'charon');
    if (pid === null) throw new Error('charon process not found in its namespace');
    return check(await measured(pid, () => runGenerator(lab.nsTanuki, dir, o)), 'charon');
  } finally {
    await lab.teardown();
    untrack();
  }
}

/** Run the generator in namespace `ns` and parse its result line. */
function runGenerator(ns: string, dir: string, o: LoadgenOptions): Promise<LoadgenResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, join(PROJECT_ROOT, 'dist', 'bench', 'ike-loadgen.js'), JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      writeFileSync(join(dir, 'loadgen.txt'), out + err);
      if (code !== 0) return reject(new Error(`load generator exited with ${code}: ${err.trim().slice(0, 500)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as LoadgenResult);
      } catch {
        reject(new Error(`load generator printed no result: ${out.slice(0, 300)} ${err.slice(0, 300)}`));
      }
    });
  });
}

/** What is missing on this machine for the UDP benchmark (root, ip netns, charon), or null. */
export function missingPrerequisite(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'root (network namespaces)';
  if (cmd('ip', ['netns', 'list']).status !== 0) return '`ip netns` (iproute2)';
  if (!existsSync(join(PROJECT_ROOT, 'dist', 'bench', 'ike-loadgen.js'))) return 'the build (npm run build)';
  return null;
}

export async function run(): Promise<BenchResult[]> {
  const missing = missingPrerequisite();
  if (missing) {
    process.stderr.write(`bench ikev2-udp: skipped, missing ${missing}\n`);
    return [];
  }
  // configs, logs and the generator's output of each round (kept when a round fails)
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-bench-ikev2-'));
  const haveCharon = existsSync(CHARON);
  if (!haveCharon) process.stderr.write(`bench ikev2-udp: ${CHARON} missing, charon is not measured\n`);
  const tanuki: RoundResult[] = [];
  const charon: RoundResult[] = [];
  const dh: number[] = [];
  // alternate, so that both responders see the same machine (other load comes and goes)
  for (let round = 0; round < ROUNDS; round++) {
    const d = opensslX25519();
    if (d !== null) dh.push(d);
    tanuki.push(await againstRacoon(join(dir, `racoon-${round}`)));
    if (haveCharon) charon.push(await againstCharon(join(dir, `charon-${round}`)));
  }
  const best = (rs: RoundResult[]) => rs.reduce((a, b) => (b.handshakesPerSecond > a.handshakesPerSecond ? b : a));
  const bestCpu = (rs: RoundResult[]) => Math.max(...rs.map((r) => r.handshakesPerCpuSecond));
  const dhOps = dh.length ? Math.max(...dh) : NaN;
  const t = best(tanuki);
  const tCpu = bestCpu(tanuki);
  const out: BenchResult[] = [
    {
      name: `IKEv2 handshakes/s over UDP (wall clock), tanuki racoon responder (x25519, AES-GCM-16, PSK, 1 CHILD_SA; ${CONCURRENCY} concurrent; p50 ${t.latencyMs.p50} ms; best of ${ROUNDS}) vs openssl x25519 ops/s`,
      value: t.handshakesPerSecond,
      unit: 'handshakes/s',
      baseline: dhOps,
      ratio: t.handshakesPerSecond / dhOps,
    },
    {
      name: 'IKEv2 handshakes per CPU-second of the responder process, tanuki racoon, vs openssl x25519 ops per CPU-second',
      value: tCpu,
      unit: 'handshakes/cpu-s',
      baseline: dhOps,
      ratio: tCpu / dhOps,
    },
  ];
  if (charon.length) {
    const c = best(charon);
    const cCpu = bestCpu(charon);
    out.push(
      {
        name: `IKEv2 handshakes/s over UDP (wall clock), strongSwan charon responder (kernel-libipsec; same generator; p50 ${c.latencyMs.p50} ms; best of ${ROUNDS}) vs openssl x25519 ops/s`,
        value: c.handshakesPerSecond,
        unit: 'handshakes/s',
        baseline: dhOps,
        ratio: c.handshakesPerSecond / dhOps,
      },
      {
        name: 'IKEv2 handshakes per CPU-second of the responder process, strongSwan charon (kernel-libipsec), vs openssl x25519 ops per CPU-second',
        value: cCpu,
        unit: 'handshakes/cpu-s',
        baseline: dhOps,
        ratio: cCpu / dhOps,
      },
      {
        name: 'IKEv2 handshakes/s over UDP (wall clock), tanuki racoon vs strongSwan charon (goal: ratio > 1)',
        value: t.handshakesPerSecond,
        unit: 'handshakes/s',
        baseline: c.handshakesPerSecond,
        ratio: t.handshakesPerSecond / c.handshakesPerSecond,
      },
      {
        name: 'IKEv2 handshakes per responder CPU-second, tanuki racoon vs strongSwan charon (goal: ratio > 1)',
        value: tCpu,
        unit: 'handshakes/cpu-s',
        baseline: cCpu,
        ratio: tCpu / cCpu,
      },
    );
  }
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(PROJECT_ROOT, 'bench', 'results', 'ikev2-udp-rounds.json'), `${JSON.stringify({ dh, tanuki, charon }, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  return out;
}

if (require.main === module) {
  run().then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
