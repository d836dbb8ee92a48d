/**
 * ESP throughput on all cores (issue 3, "Performance"): one worker_thread per
 * core, each with its own SA (its own libcrypto contexts and arena), running
 * the default data-plane path (EspSa.outputBatch / inputBatch, 64 packets per
 * native call) for AES-GCM-128, AES-CBC-128+HMAC-SHA2-256 and
 * ChaCha20-Poly1305 at 64/512/1400 bytes.
 *
 * The figure is the sum over the workers of packets per CPU-second of that
 * worker's thread (CLOCK_THREAD_CPUTIME_ID through koffi). The baseline,
 * measured in the same run, is N concurrent `openssl speed -evp aes-128-gcm`
 * processes, each reporting per CPU-second of its own, summed. (`openssl speed
 * -multi N` itself divides by *elapsed* time — on this shared 2-core machine
 * with a load average near 20 that reads ~4x lower than one process — so it is
 * reported as a row of its own for reference, not used as the ratio's base.)
 * A shared machine thus deflates neither side; what this cannot show is
 * wall-clock scaling under load.
 */
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { registryProvider } from '../src/xform/crypto-provider';
import { EspSa } from '../src/xform/esp';
import { BATCH, SIZES, innerPacket, opensslGcmBytesPerSecond, rowsFor, suites, xsa } from './esp';
import type { BenchResult } from './types';

const CPU_MS = 400;
/** linux/time.h */
const CLOCK_THREAD_CPUTIME_ID = 3;

interface Job {
  suite: number;
  size: number;
  spi: number;
}
interface Rates {
  enc: number;
  dec: number;
}

function threadCpuClock(): () => number {
  const timespec = koffi.struct('tanuki_timespec', { tv_sec: 'int64_t', tv_nsec: 'int64_t' });
  const clockGettime = koffi.load('libc.so.6').func('int clock_gettime(int, _Out_ tanuki_timespec *)') as (id: number, ts: { tv_sec: number; tv_nsec: number }) => number;
  void timespec;
  return () => {
    const ts = { tv_sec: 0, tv_nsec: 0 };
    clockGettime(CLOCK_THREAD_CPUTIME_ID, ts);
    return Number(ts.tv_sec) * 1000 + Number(ts.tv_nsec) / 1e6;
  };
}

/** Calls of body per CPU-second of this thread. */
function threadRate(cpuMs: () => number, body: (i: number) => void, laps: number): number {
  for (let i = 0; i < laps; i++) body(i);
  const t0 = cpuMs();
  let n = 0;
  do {
    for (let i = 0; i < laps; i++) body(i);
    n += laps;
  } while (cpuMs() - t0 < CPU_MS);
  return (n / (cpuMs() - t0)) * 1000;
}

function workerMain(job: Job): Rates {
  const cpuMs = threadCpuClock();
  const s = suites()[job.suite]!;
  const sa = { ...xsa(s), spi: job.spi };
  const inner = innerPacket(job.size);
  const burst = Array.from({ length: BATCH }, () => inner);
  const tx = new EspSa(sa, registryProvider);
  let sink = 0;
  const enc = threadRate(cpuMs, () => {
    for (const r of tx.outputBatch(burst)) if (r.ok) sink += r.value.length;
  }, 8) * BATCH;
  const gen = new EspSa(sa, registryProvider);
  const slices: Buffer[][] = [];
  for (let i = 0; i < 32; i++) slices.push(gen.outputBatch(burst).map((r) => (r.ok ? r.value : Buffer.alloc(0))));
  const rx = new EspSa(sa, registryProvider);
  const dec = threadRate(cpuMs, (i) => {
    if (i === 0) rx.replay.setTop({ hi: 0, lo: 0 });
    for (const r of rx.inputBatch(slices[i]!)) {
      if (!r.ok) throw new Error(`worker decrypt: ${r.reason}`);
      sink += r.value.packet.length;
    }
  }, slices.length) * BATCH;
  if (sink < 0) throw new Error('unreachable');
  return { enc, dec };
}

function runWorkers(n: number, suite: number, size: number): Promise<Rates> {
  const workers = Array.from(
    { length: n },
    (_, i) =>
      new Promise<Rates>((resolve, reject) => {
        const w = new Worker(__filename, { workerData: { suite, size, spi: 0x2000 + i } satisfies Job });
        w.once('message', (m: Rates) => resolve(m));
        w.once('error', reject);
        w.once('exit', (code) => (code !== 0 ? reject(new Error(`worker exited with ${code}`)) : undefined));
      }),
  );
  return Promise.all(workers).then((rs) => rs.reduce((a, r) => ({ enc: a.enc + r.enc, dec: a.dec + r.dec }), { enc: 0, dec: 0 }));
}

/** N concurrent `openssl speed -evp aes-128-gcm -bytes SIZE -mr`, bytes per CPU-second summed; NaN without openssl. */
async function opensslAllCores(bytes: number, n: number): Promise<number> {
  const one = async (): Promise<number> => {
    try {
      const { stdout } = await promisify(execFile)('openssl', ['speed', '-evp', 'aes-128-gcm', '-seconds', '1', '-bytes', String(bytes), '-mr'], { timeout: 60_000 });
      const line = stdout.split('\n').find((l) => l.startsWith('+F:'));
      return line ? Number(line.split(':')[3]) : Number.NaN;
    } catch {
      return Number.NaN;
    }
  };
  const all = await Promise.all(Array.from({ length: n }, one));
  return all.reduce((a, b) => a + b, 0);
}

export async function run(): Promise<BenchResult[]> {
  const cores = availableParallelism();
  const results: BenchResult[] = [];
  for (const size of SIZES) {
    const base = await opensslAllCores(size, cores);
    const multi = opensslGcmBytesPerSecond(size, cores);
    results.push({ name: `openssl speed -evp aes-128-gcm -multi ${cores} ${size}B (elapsed time)`, value: multi / 1e6, unit: 'MB/s', baseline: base / 1e6, ratio: multi / base });
    for (let k = 0; k < suites().length; k++) {
      const s = suites()[k]!;
      const r = await runWorkers(cores, k, size);
      results.push(...rowsFor(`${s.name} SIZE (esp engine batch ${BATCH}, ${cores} workers = all cores)`, size, r.enc, r.dec, base));
    }
  }
  return results;
}

if (!isMainThread) {
  parentPort?.postMessage(workerMain(workerData as Job));
} else if (require.main === module) {
  run().then(
    (rows) => {
      for (const r of rows) process.stdout.write(`${r.name.padEnd(80)} ${r.value.toFixed(1).padStart(12)} ${r.unit.padEnd(10)} baseline ${r.baseline.toFixed(1).padStart(12)} ratio ${r.ratio.toFixed(3)}\n`);
    },
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
