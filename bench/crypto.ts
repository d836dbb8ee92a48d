/**
 * Crypto benchmarks (issue 3, "Performance"): ESP AEAD sealing and opening on one core, per
 * packet through node:crypto, per packet through the libcrypto fast path, and in batches
 * through the fast path; every row against `openssl speed -evp aes-128-gcm` measured in the
 * same run at the same packet size (the machine's limit). Both sides are measured per CPU-second of one
 * process (`openssl speed` without -elapsed does the same).
 *
 * Standalone: `node dist/bench/crypto.js` prints a table and the JSON list.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { createNodeAead, type Aead } from '../src/crypto/aead';
import { createCipher, createNodeCipher } from '../src/crypto/cipher';
import { createMac, createNodeMac } from '../src/crypto/mac';
import { createBatchAead, enableFastAead, type AeadBatchItem } from '../src/crypto/openssl-aead';
import { algorithmById, keymatBytes } from '../src/crypto/registry';
import type { BenchResult } from './types';

export type { BenchResult };

const SIZES = [64, 512, 1400] as const;
const BATCH = 64;
const ROUND_MS = 200;
const ROUNDS = 3;

/**
 * Best throughput (bytes per CPU-second) of `fn` over a few short rounds. CPU time (user +
 * system of this process), not wall time: `openssl speed` also reports per CPU-second by
 * default, and the machine is shared, so wall time would measure the other tenants.
 */
function measure(bytesPerCall: number, fn: () => void): number {
  for (let i = 0; i < 50; i++) fn();
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let calls = 0;
    const c0 = process.cpuUsage();
    let cpu = 0;
    do {
      fn();
      calls++;
      const c = process.cpuUsage(c0);
      cpu = (c.user + c.system) / 1e6;
    } while (cpu < ROUND_MS / 1000);
    best = Math.max(best, (calls * bytesPerCall) / cpu);
  }
  return best;
}

/** `openssl speed -evp NAME -bytes N` in MB/s (1e6 bytes/s); null if openssl is missing. */
async function opensslSpeed(cipher: string, bytes: number): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('openssl', ['speed', '-evp', cipher, '-bytes', String(bytes), '-seconds', '1'], {
      timeout: 30000,
    });
    // last line: "AES-128-GCM    1516710.00k" (thousands of bytes per second)
    const m = /([0-9.]+)k\s*$/.exec(stdout.trim());
    return m ? (Number(m[1]) * 1000) / 1e6 : null;
  } catch {
    return null;
  }
}

function items(size: number): AeadBatchItem[] {
  const aad = randomBytes(8);
  const data = randomBytes(size);
  return Array.from({ length: BATCH }, () => ({ iv: randomBytes(8), aad, data }));
}

function result(name: string, mbps: number, baseline: number | null): BenchResult {
  const base = baseline ?? 0;
  return { name, value: round(mbps), unit: 'MB/s', baseline: round(base), ratio: base > 0 ? round(mbps / base, 3) : 0 };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export async function run(): Promise<BenchResult[]> {
  const fast = enableFastAead();
  const out: BenchResult[] = [];
  const aeads: [string, string][] = [
    ['aes-gcm-16', 'AES-GCM-128'],
    ['chacha20-poly1305', 'ChaCha20-Poly1305'],
  ];
  const limit = new Map<number, number | null>();
  for (const size of SIZES) limit.set(size, await opensslSpeed('aes-128-gcm', size));
  for (const [id, label] of aeads) {
    const alg = algorithmById('encr', id);
    const key = randomBytes(keymatBytes(alg, alg.keyBits[0]));
    const node: Aead = createNodeAead(alg, key);
    const batch = createBatchAead(alg, key);
    for (const size of SIZES) {
      const baseline = limit.get(size) ?? null;
      const it = items(size);
      const first = it[0]!;
      out.push(result(`${label} seal ${size}B node:crypto per packet`, measure(size, () => node.seal(first.iv, first.aad, first.data)) / 1e6, baseline));
      if (fast.enabled) {
        out.push(result(`${label} seal ${size}B libcrypto per packet`, measure(size, () => batch.seal(first.iv, first.aad, first.data)) / 1e6, baseline));
        out.push(result(`${label} seal ${size}B libcrypto batch ${BATCH}`, measure(size * BATCH, () => batch.sealBatch(it)) / 1e6, baseline));
        const sealed = batch.sealBatch(it).map((d, i) => ({ iv: it[i]!.iv, aad: it[i]!.aad, data: d }));
        out.push(result(`${label} open ${size}B libcrypto batch ${BATCH}`, measure(size * BATCH, () => batch.openBatch(sealed)) / 1e6, baseline));
      }
    }
  }
  // AES-CBC-128 + HMAC-SHA2-256-128 per packet (encrypt then MAC, as ESP does): node:crypto,
  // and the reused EVP_CIPHER_CTX / HMAC_CTX of the fast path
  const cbcKey = randomBytes(16);
  const macKey = randomBytes(32);
  const cbcAlg = algorithmById('encr', 'aes-cbc');
  const macAlg = algorithmById('integ', 'hmac-sha2-256-128');
  const variants: [string, ReturnType<typeof createCipher>, ReturnType<typeof createMac>][] = [
    ['node:crypto', createNodeCipher(cbcAlg, cbcKey), createNodeMac(macAlg, macKey)],
  ];
  if (fast.enabled) variants.push(['libcrypto', createCipher(cbcAlg, cbcKey), createMac(macAlg, macKey)]);
  for (const size of SIZES) {
    const baseline = limit.get(size) ?? null;
    const iv = randomBytes(16);
    const header = randomBytes(8);
    const pt = randomBytes(Math.ceil(size / 16) * 16);
    for (const [label, cbc, mac] of variants) {
      out.push(
        result(`AES-CBC-128+HMAC-SHA2-256 ${size}B ${label} per packet`, measure(pt.length, () => mac.compute(header, iv, cbc.encrypt(iv, pt))) / 1e6, baseline),
      );
    }
  }
  return out;
}

if (require.main === module) {
  run()
    .then((results) => {
      const w = Math.max(...results.map((r) => r.name.length));
      for (const r of results) {
        console.log(`${r.name.padEnd(w)}  ${String(r.value).padStart(8)} ${r.unit}  openssl ${String(r.baseline).padStart(8)}  ratio ${r.ratio}`);
      }
      console.log(JSON.stringify(results));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
