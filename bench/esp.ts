/**
 * ESP throughput on one core (issue 3, "Performance"): encrypt (EspSa.output)
 * and decrypt (EspSa.input, incl. replay check and ECN decapsulation) of
 * tunnel-mode IPv4 packets of 64, 512 and 1400 bytes, for AES-GCM-128,
 * AES-CBC-128 + HMAC-SHA2-256-128 and ChaCha20-Poly1305, through the crypto
 * registry's primitives.
 *
 * Baseline, measured in the same run: `openssl speed -evp aes-128-gcm` at the
 * same buffer size — the machine's limit for raw AES-GCM on one core. Both
 * sides are CPU-time rates (openssl speed divides by user CPU time; we divide
 * by the process CPU time spent in the loop), so the shared, busy machine
 * does not skew the ratio. MB/s counts inner-packet bytes (10^6 bytes).
 *
 * Each row runs twice when possible: with src/crypto's node:crypto AEADs
 * (one createCipheriv per packet) and with its libcrypto fast path
 * (enableFastAead: one EVP_CIPHER_CTX per SA reused through koffi), so the
 * table shows what that step buys. AES-CBC+HMAC has no fast path.
 */
import { execFileSync } from 'node:child_process';
import { EspSa } from '../src/xform/esp';
import { registryProvider } from '../src/xform/crypto-provider';
import { algorithmById } from '../src/crypto/registry';
import { DEFAULT_TUNNEL_OPTIONS, XformSa } from '../src/xform/sa';
import { IPPROTO, encodeIpv4Header } from '../src/xform/ip';
import { disableFastAead, enableFastAead } from '../src/crypto/openssl-aead';
import type { BenchResult } from './types';

export const SIZES = [64, 512, 1400];
const MIN_CPU_MS = 250;
/** Packets per EspSa.outputBatch / inputBatch call. */
const BATCH = 64;

interface Suite {
  name: string;
  sa: Pick<XformSa, 'encr' | 'encrKey' | 'integ' | 'integKey'>;
}

function suites(): Suite[] {
  return [
    { name: 'aes-gcm-128', sa: { encr: algorithmById('encr', 'aes-gcm-16'), encrKey: Buffer.alloc(20, 1) } },
    {
      name: 'aes-cbc-128+hmac-sha2-256',
      sa: { encr: algorithmById('encr', 'aes-cbc'), encrKey: Buffer.alloc(16, 2), integ: algorithmById('integ', 'hmac-sha2-256-128'), integKey: Buffer.alloc(32, 3) },
    },
    { name: 'chacha20-poly1305', sa: { encr: algorithmById('encr', 'chacha20-poly1305'), encrKey: Buffer.alloc(36, 4) } },
  ];
}

function xsa(s: Suite): XformSa {
  return {
    spi: 0x1000,
    proto: 'esp',
    mode: 'tunnel',
    src: Buffer.from([192, 0, 2, 1]),
    dst: Buffer.from([192, 0, 2, 2]),
    esn: false,
    replayWindow: 4096,
    padding: 'sequential',
    checkPadding: true,
    tunnel: { ...DEFAULT_TUNNEL_OPTIONS },
    ...s.sa,
  };
}

function innerPacket(size: number): Buffer {
  const h = encodeIpv4Header({
    dscp: 0, ecn: 0, totalLength: size, identification: 1, flags: 2, fragmentOffset: 0, ttl: 64,
    protocol: IPPROTO.UDP, src: Buffer.from([10, 0, 0, 1]), dst: Buffer.from([10, 0, 1, 1]), options: Buffer.alloc(0),
  });
  return Buffer.concat([h, Buffer.alloc(size - 20, 0xab)]);
}

/** Run body() in rounds until MIN_CPU_MS of CPU time passed (after one warm-up batch); returns ops per CPU second. */
function cpuRate(batch: number, body: (i: number) => void): number {
  for (let i = 0; i < batch; i++) body(i);
  let ops = 0;
  const start = process.cpuUsage();
  let cpuMs = 0;
  do {
    for (let i = 0; i < batch; i++) body(i);
    ops += batch;
    const u = process.cpuUsage(start);
    cpuMs = (u.user + u.system) / 1000;
  } while (cpuMs < MIN_CPU_MS);
  return (ops / cpuMs) * 1000;
}

/** `openssl speed -evp aes-128-gcm -bytes N`: bytes per CPU second, or NaN if openssl is missing. */
export function opensslGcmBytesPerSecond(bytes: number): number {
  try {
    const out = execFileSync('openssl', ['speed', '-evp', 'aes-128-gcm', '-seconds', '1', '-bytes', String(bytes), '-mr'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    });
    const line = out.split('\n').find((l) => l.startsWith('+F:'));
    return line ? Number(line.split(':')[3]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

let sink = 0;

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const baseline = new Map<number, number>();
  for (const size of SIZES) baseline.set(size, opensslGcmBytesPerSecond(size));
  disableFastAead();
  const backends: string[] = ['node'];
  const fast = enableFastAead();
  disableFastAead();
  if (fast.enabled) backends.push('openssl-ffi');
  else process.stderr.write(`bench esp: ${fast.reason}\n`);
  for (const backend of backends) {
    if (backend === 'openssl-ffi') enableFastAead();
    for (const size of SIZES) {
      const baseBytes = baseline.get(size) ?? Number.NaN;
      const basePps = baseBytes / size;
      const baseMBs = baseBytes / 1e6;
      const inner = innerPacket(size);
      for (const s of suites()) {
        if (backend === 'openssl-ffi' && !s.sa.encr?.aead) continue;
        const tx = new EspSa(xsa(s), registryProvider);
        const encPps = cpuRate(256, () => {
          const r = tx.output(inner);
          if (r.ok) sink += r.value.length;
        });
        // decrypt: a ring of distinct packets; the window is rewound each lap so none is a replay
        const ring: Buffer[] = [];
        const gen = new EspSa(xsa(s), registryProvider);
        for (let i = 0; i < 2048; i++) {
          const r = gen.output(inner);
          if (!r.ok) throw new Error(`bench setup: ${r.detail}`);
          ring.push(r.value);
        }
        const rx = new EspSa(xsa(s), registryProvider);
        const decPps = cpuRate(ring.length, (i) => {
          if (i === 0) rx.replay.setTop({ hi: 0, lo: 0 });
          const r = rx.input(ring[i]);
          if (!r.ok) throw new Error(`bench decrypt: ${r.reason} ${r.detail}`);
          sink += r.value.packet.length;
        });
        const rows: [string, string, number][] = [
          ['encrypt', backend, encPps],
          ['decrypt', backend, decPps],
        ];
        if (backend === 'openssl-ffi') {
          // EspSa.outputBatch / inputBatch: one native call per BATCH packets
          const burst = Array.from({ length: BATCH }, () => inner);
          const btx = new EspSa(xsa(s), registryProvider);
          const encBatch = cpuRate(8, () => {
            for (const r of btx.outputBatch(burst)) if (r.ok) sink += r.value.length;
          }) * BATCH;
          const brx = new EspSa(xsa(s), registryProvider);
          const slices = ring.length / BATCH;
          const decBatch = cpuRate(slices, (i) => {
            if (i === 0) brx.replay.setTop({ hi: 0, lo: 0 });
            for (const r of brx.inputBatch(ring.slice(i * BATCH, (i + 1) * BATCH))) {
              if (!r.ok) throw new Error(`bench batch decrypt: ${r.reason} ${r.detail}`);
              sink += r.value.packet.length;
            }
          }) * BATCH;
          rows.push(['encrypt', `openssl-ffi batch ${BATCH}`, encBatch], ['decrypt', `openssl-ffi batch ${BATCH}`, decBatch]);
        }
        for (const [dir, how, pps] of rows) {
          const mbs = (pps * size) / 1e6;
          const name = `esp ${dir} ${s.name} ${size}B (${how}, 1 core)`;
          results.push({ name, value: pps, unit: 'packets/s', baseline: basePps, ratio: pps / basePps });
          results.push({ name, value: mbs, unit: 'MB/s', baseline: baseMBs, ratio: mbs / baseMBs });
        }
      }
    }
    disableFastAead();
  }
  if (sink === -1) process.stderr.write('');
  return results;
}

if (require.main === module) {
  run().then(
    (rows) => {
      for (const r of rows) process.stdout.write(`${r.name.padEnd(48)} ${r.value.toFixed(1).padStart(12)} ${r.unit.padEnd(10)} baseline ${r.baseline.toFixed(1).padStart(12)} ratio ${r.ratio.toFixed(3)}\n`);
    },
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
