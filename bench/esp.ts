/**
 * ESP throughput on one core (issue 3, "Performance"): encrypt (EspSa.output /
 * outputBatch) and decrypt (EspSa.input / inputBatch, incl. replay check,
 * padding check and ECN decapsulation) of tunnel-mode IPv4 packets of 64, 512
 * and 1400 bytes, for AES-GCM-128, AES-CBC-128 + HMAC-SHA2-256-128 and
 * ChaCha20-Poly1305.
 *
 * Every suite runs once per *step*, so the table shows what each step bought:
 *   1. `node:crypto per packet`: src/crypto's node:crypto primitives, one
 *      createCipheriv/createHmac per packet (TANUKI_CRYPTO=node).
 *   2. `ctx reuse per packet`: libcrypto through koffi, one keyed
 *      EVP_CIPHER_CTX / HMAC_CTX per SA, one native call per packet.
 *   3. `ctx reuse, sealBatch 64` (AEADs): the generic AEAD batch (one native
 *      call per 64 packets, ESP framing in JS around it).
 *   4. `esp engine per packet` / `esp engine batch 64` (AEADs): the whole ESP
 *      packet built/opened in place in libcrypto-visible memory — the default
 *      path of the data plane (per packet for single packets, batched for
 *      bursts read from TUN or the UDP socket).
 * The all-cores figure (worker_threads) is in bench/esp-multicore.ts.
 *
 * Baseline, measured in the same run: `openssl speed -evp aes-128-gcm` at the
 * same buffer size — the machine's limit for raw AES-GCM on one core. Both
 * sides are CPU-time rates (openssl speed divides by its CPU time; we divide
 * by the process CPU time spent in the loop), so the shared machine does not
 * skew the ratio. MB/s counts inner-packet bytes (10^6 bytes).
 */
import { execFileSync } from 'node:child_process';
import { createNodeAead } from '../src/crypto/aead';
import { createNodeCipher } from '../src/crypto/cipher';
import { createNodeMac } from '../src/crypto/mac';
import { createBatchAead, enableFastCrypto } from '../src/crypto/openssl-aead';
import { createCipher } from '../src/crypto/cipher';
import { createMac } from '../src/crypto/mac';
import { algorithmById, type EncrAlg, type IntegAlg } from '../src/crypto/registry';
import { registryProvider } from '../src/xform/crypto-provider';
import { EspSa } from '../src/xform/esp';
import { IPPROTO, encodeIpv4Header } from '../src/xform/ip';
import { DEFAULT_TUNNEL_OPTIONS, type CryptoProvider, type XformSa } from '../src/xform/sa';
import type { BenchResult } from './types';

export const SIZES = [64, 512, 1400];
const MIN_CPU_MS = 250;
/** Packets per EspSa.outputBatch / inputBatch call. */
export const BATCH = 64;

export interface Suite {
  name: string;
  sa: Pick<XformSa, 'encr' | 'encrKey' | 'integ' | 'integKey'>;
}

export function suites(): Suite[] {
  return [
    { name: 'aes-gcm-128', sa: { encr: algorithmById('encr', 'aes-gcm-16'), encrKey: Buffer.alloc(20, 1) } },
    {
      name: 'aes-cbc-128+hmac-sha2-256',
      sa: { encr: algorithmById('encr', 'aes-cbc'), encrKey: Buffer.alloc(16, 2), integ: algorithmById('integ', 'hmac-sha2-256-128'), integKey: Buffer.alloc(32, 3) },
    },
    { name: 'chacha20-poly1305', sa: { encr: algorithmById('encr', 'chacha20-poly1305'), encrKey: Buffer.alloc(36, 4) } },
  ];
}

export function xsa(s: Suite): XformSa {
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
    natt: { sport: 4500, dport: 4500 },
    ...s.sa,
  };
}

export function innerPacket(size: number): Buffer {
  const h = encodeIpv4Header({
    dscp: 0, ecn: 0, totalLength: size, identification: 1, flags: 2, fragmentOffset: 0, ttl: 64,
    protocol: IPPROTO.UDP, src: Buffer.from([10, 0, 0, 1]), dst: Buffer.from([10, 0, 1, 1]), options: Buffer.alloc(0),
  });
  return Buffer.concat([h, Buffer.alloc(size - 20, 0xab)]);
}

/** Run body() in rounds until MIN_CPU_MS of CPU time passed (after one warm-up round); returns calls per CPU second. */
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

/** `openssl speed -evp aes-128-gcm -bytes N [-multi M]`: bytes per CPU second (summed over M processes), or NaN if openssl is missing. */
export function opensslGcmBytesPerSecond(bytes: number, multi = 1): number {
  try {
    const args = ['speed', '-evp', 'aes-128-gcm', '-seconds', '1', '-bytes', String(bytes), '-mr'];
    if (multi > 1) args.push('-multi', String(multi));
    const out = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
    const line = out.split('\n').find((l) => l.startsWith('+F:'));
    return line ? Number(line.split(':')[3]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The steps: how each one builds an SA's crypto contexts, and whether it is driven per packet or in batches. */
interface Step {
  label: string;
  provider: CryptoProvider<EncrAlg, IntegAlg>;
  batch: boolean;
  aeadOnly: boolean;
}

function steps(fast: boolean): Step[] {
  const node: CryptoProvider<EncrAlg, IntegAlg> = { createAead: createNodeAead, createCipher: createNodeCipher, createMac: createNodeMac };
  const out: Step[] = [{ label: 'node:crypto per packet', provider: node, batch: false, aeadOnly: false }];
  if (!fast) return out;
  // reused contexts, but without the generic batch and the whole-packet engine
  const reuse: CryptoProvider<EncrAlg, IntegAlg> = {
    createAead: (alg, key) => {
      const a = createBatchAead(alg, key);
      return { icvBytes: a.icvBytes, seal: (iv, aad, pt) => a.seal(iv, aad, pt), open: (iv, aad, ct) => a.open(iv, aad, ct) };
    },
    createCipher,
    createMac,
  };
  const sealBatch: CryptoProvider<EncrAlg, IntegAlg> = {
    ...reuse,
    createAead: (alg, key) => {
      const a = createBatchAead(alg, key);
      return {
        icvBytes: a.icvBytes,
        seal: (iv, aad, pt) => a.seal(iv, aad, pt),
        open: (iv, aad, ct) => a.open(iv, aad, ct),
        sealBatch: (items) => a.sealBatch(items),
        openBatch: (items) => a.openBatch(items),
      };
    },
  };
  out.push(
    { label: 'ctx reuse per packet', provider: reuse, batch: false, aeadOnly: false },
    { label: `ctx reuse, sealBatch ${BATCH}`, provider: sealBatch, batch: true, aeadOnly: true },
    { label: 'esp engine per packet', provider: registryProvider, batch: false, aeadOnly: true },
    { label: `esp engine batch ${BATCH}`, provider: registryProvider, batch: true, aeadOnly: true },
  );
  return out;
}

/** Packets per CPU second for encrypt and decrypt of one suite/size/step. */
export function measureStep(s: Suite, size: number, provider: CryptoProvider<EncrAlg, IntegAlg>, batch: boolean): { enc: number; dec: number } {
  const inner = innerPacket(size);
  const gen = new EspSa(xsa(s), provider);
  const ring: Buffer[] = [];
  for (let i = 0; i < 2048; i++) {
    const r = gen.output(inner);
    if (!r.ok) throw new Error(`bench setup: ${r.detail}`);
    ring.push(r.value);
  }
  let sink = 0;
  const tx = new EspSa(xsa(s), provider);
  const rx = new EspSa(xsa(s), provider);
  let enc: number;
  let dec: number;
  if (!batch) {
    enc = cpuRate(256, () => {
      const r = tx.output(inner);
      if (r.ok) sink += r.value.length;
    });
    // decrypt: a ring of distinct packets; the window is rewound each lap so none is a replay
    dec = cpuRate(ring.length, (i) => {
      if (i === 0) rx.replay.setTop({ hi: 0, lo: 0 });
      const r = rx.input(ring[i]!);
      if (!r.ok) throw new Error(`bench decrypt: ${r.reason} ${r.detail}`);
      sink += r.value.packet.length;
    });
  } else {
    const burst = Array.from({ length: BATCH }, () => inner);
    enc = cpuRate(8, () => {
      for (const r of tx.outputBatch(burst)) if (r.ok) sink += r.value.length;
    }) * BATCH;
    const slices = Array.from({ length: ring.length / BATCH }, (_, i) => ring.slice(i * BATCH, (i + 1) * BATCH));
    dec = cpuRate(slices.length, (i) => {
      if (i === 0) rx.replay.setTop({ hi: 0, lo: 0 });
      for (const r of rx.inputBatch(slices[i]!)) {
        if (!r.ok) throw new Error(`bench batch decrypt: ${r.reason} ${r.detail}`);
        sink += r.value.packet.length;
      }
    }) * BATCH;
  }
  if (sink < 0) throw new Error('unreachable');
  return { enc, dec };
}

export function rowsFor(label: string, size: number, enc: number, dec: number, baseBytes: number): BenchResult[] {
  const out: BenchResult[] = [];
  const basePps = baseBytes / size;
  const baseMBs = baseBytes / 1e6;
  for (const [dir, pps] of [['encrypt', enc], ['decrypt', dec]] as const) {
    const name = `esp ${dir} ${label.replace('SIZE', `${size}B`)}`;
    const mbs = (pps * size) / 1e6;
    out.push({ name, value: pps, unit: 'packets/s', baseline: basePps, ratio: pps / basePps });
    out.push({ name, value: mbs, unit: 'MB/s', baseline: baseMBs, ratio: mbs / baseMBs });
  }
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const baseline = new Map<number, number>();
  for (const size of SIZES) baseline.set(size, opensslGcmBytesPerSecond(size));
  const fast = enableFastCrypto();
  if (!fast.enabled) process.stderr.write(`bench esp: only node:crypto rows: ${fast.reason}\n`);
  for (const size of SIZES) {
    for (const s of suites()) {
      for (const step of steps(fast.enabled)) {
        if (step.aeadOnly && !s.sa.encr?.aead) continue;
        const { enc, dec } = measureStep(s, size, step.provider, step.batch);
        results.push(...rowsFor(`${s.name} SIZE (${step.label}, 1 core)`, size, enc, dec, baseline.get(size) ?? Number.NaN));
      }
    }
  }
  return results;
}

if (require.main === module) {
  run().then(
    (rows) => {
      for (const r of rows) process.stdout.write(`${r.name.padEnd(72)} ${r.value.toFixed(1).padStart(12)} ${r.unit.padEnd(10)} baseline ${r.baseline.toFixed(1).padStart(12)} ratio ${r.ratio.toFixed(3)}\n`);
    },
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
