/**
 * Optional fast path for ESP AEADs (AES-GCM 8/12/16 and ChaCha20-Poly1305): one
 * EVP_CIPHER_CTX per SA direction, keyed once and reused for every packet, driven through
 * koffi with a small C batch function (native-source.ts) so that one FFI call handles many
 * packets. Everything else, and every failure to set this up, falls back to the node:crypto
 * implementation in aead.ts with identical results (test/crypto/openssl-aead.test.ts).
 *
 * enableFastAead() (alias enableFastCrypto) must be called once to use it; it reports which
 * backend is active and why. It also switches createCipher() (CBC/CTR) and createMac() (HMAC)
 * to reused libcrypto contexts.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Koffi from 'koffi';
import { type Aead, checkAeadIv, checkAeadKey, createNodeAead, setFastAeadFactory } from './aead';
import { type BlockCipher, checkBlocks, checkIv, checkKey, setFastCipherFactory } from './cipher';
import { CryptoError } from './errors';
import { type Mac, setFastMacFactory } from './mac';
import { ESP_AEAD_C_SOURCE } from './native-source';
import type { EncrAlg, IntegAlg } from './registry';

export interface AeadBatchItem {
  readonly iv: Buffer;
  readonly aad: Buffer;
  /** Plaintext for seal, ciphertext || ICV for open. */
  readonly data: Buffer;
}

/** An Aead that can also process many packets per native call. */
export interface BatchAead extends Aead {
  readonly backend: 'openssl-ffi' | 'node';
  sealBatch(items: readonly AeadBatchItem[]): Buffer[];
  openBatch(items: readonly AeadBatchItem[]): (Buffer | null)[];
  /** Whole-packet ESP sealing/opening for one SA (libcrypto fast path only). */
  espBatch?(spi: number, esn: boolean): EspAeadBatch;
}

/** One packet for EspAeadBatch.seal: the payload and what RFC 4303 §2 puts around it. */
export interface EspSealItem {
  readonly payload: Buffer;
  /** RFC 4303 §2.4 padding length (the bytes written are 1, 2, 3, ...). */
  readonly padLen: number;
  readonly nextHeader: number;
  readonly seqHi: number;
  readonly seqLo: number;
}

/** One received packet for EspAeadBatch.open: SPI..ICV, and the ESN high half the replay window inferred. */
export interface EspOpenItem {
  readonly esp: Buffer;
  readonly seqHi: number;
}

/**
 * ESP packets of one AEAD SA built in place in libcrypto-visible memory (RFC 4303 §2 layout,
 * IV = 64-bit sequence number, AAD per RFC 4106 §5 / RFC 7634 §2.1): one copy in, one native
 * call per batch, one copy out.
 */
export interface EspAeadBatch {
  /**
   * For each item: `front` unwritten bytes (the caller's outer headers), then SPI, SN, IV,
   * ciphertext of payload || padding || pad length || next header, ICV. The results may share
   * one allocation.
   */
  seal(items: readonly EspSealItem[], front: number): Buffer[];
  /** For each item: the decrypted payload || padding || pad length || next header, or null when the ICV does not verify. */
  open(items: readonly EspOpenItem[]): (Buffer | null)[];
}

export interface FastAeadStatus {
  readonly enabled: boolean;
  readonly reason: string;
}

type Pointer = unknown;
type NativeFn = (...args: unknown[]) => unknown;

interface Native {
  ctxNew: () => Pointer;
  ctxFree: (ctx: Pointer) => void;
  cipherInit: (ctx: Pointer, cipher: Pointer, impl: null, key: Buffer | null, iv: Buffer | null, enc: number) => number;
  ctxCtrl: (ctx: Pointer, type: number, arg: number, ptr: null) => number;
  ctxSetPadding: (ctx: Pointer, pad: number) => number;
  ciphers: Readonly<Record<string, Pointer>>;
  batch: (ctx: number, arena: number, jobs: number, n: number, enc: number) => number;
  cipherBatch: (ctx: number, arena: number, jobs: number, n: number, enc: number) => number;
  hmacNew: () => Pointer;
  hmacFree: (ctx: Pointer) => void;
  hmacInit: (ctx: Pointer, key: Buffer, len: number, md: Pointer, impl: null) => number;
  digests: Readonly<Record<string, Pointer>>;
  hmacBatch: (ctx: number, arena: number, jobs: number, n: number) => number;
  espSeal: (ctx: number, arena: number, jobs: number, n: number, salt: number, spi: number, esn: number, tagLen: number) => number;
  espOpen: (ctx: number, arena: number, jobs: number, n: number, salt: number, esn: number, tagLen: number) => number;
}

const EVP_CTRL_AEAD_SET_IVLEN = 0x9;
const JOB_INTS = 8;
/** Packets per native call in sealBatch/openBatch (fewer when the data area fills up). */
const MAX_BATCH = 64;
/** Per packet: 12-byte nonce and up to 52 bytes of AAD. */
const ARENA_HEADERS = MAX_BATCH * 64;
/** Input and output data of one batch; a packet larger than half of this uses node:crypto. */
const ARENA_DATA = 256 * 1024;
const DATA_IN = ARENA_HEADERS;
const DATA_OUT = ARENA_HEADERS + ARENA_DATA / 2;
const ARENA_END = ARENA_HEADERS + ARENA_DATA;

let native: Native | null = null;
/** koffi, required lazily so that a missing koffi binary only disables the fast path. */
let koffi: typeof Koffi;
let status: FastAeadStatus = { enabled: false, reason: 'enableFastAead() not called' };

function compileShim(): string {
  const hash = createHash('sha256').update(ESP_AEAD_C_SOURCE).digest('hex').slice(0, 16);
  const dir = process.env['TANUKI_NATIVE_DIR'] ?? join(tmpdir(), 'tanuki-native');
  const so = join(dir, `esp_aead-${hash}.so`);
  if (existsSync(so)) return so;
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `esp_aead-${hash}-${process.pid}.c`);
  const tmpSo = `${so}.${process.pid}.tmp`;
  writeFileSync(src, ESP_AEAD_C_SOURCE);
  execFileSync(process.env['CC'] ?? 'cc', ['-O2', '-shared', '-fPIC', '-o', tmpSo, src, '-l:libcrypto.so.3'], { stdio: 'pipe' });
  renameSync(tmpSo, so); // atomic: concurrent processes never load a half-written file
  return so;
}

function loadNative(): Native {
  koffi = require('koffi') as typeof Koffi;
  const lib = koffi.load('libcrypto.so.3');
  const fn = (decl: string): NativeFn => lib.func(decl) as NativeFn;
  const cipherGetter = (name: string): Pointer => (fn(`void *${name}(void)`) as () => Pointer)();
  const shim = koffi.load(compileShim());
  const batch = shim.func('tanuki_aead_batch', 'int', ['intptr_t', 'intptr_t', 'intptr_t', 'int', 'int']) as NativeFn;
  const cipherBatch = shim.func('tanuki_cipher_batch', 'int', ['intptr_t', 'intptr_t', 'intptr_t', 'int', 'int']) as NativeFn;
  const hmacBatch = shim.func('tanuki_hmac_batch', 'int', ['intptr_t', 'intptr_t', 'intptr_t', 'int']) as NativeFn;
  const espSeal = shim.func('tanuki_esp_aead_seal', 'int', ['intptr_t', 'intptr_t', 'intptr_t', 'int', 'uint32_t', 'uint32_t', 'int', 'int']) as NativeFn;
  const espOpen = shim.func('tanuki_esp_aead_open', 'int', ['intptr_t', 'intptr_t', 'intptr_t', 'int', 'uint32_t', 'int', 'int']) as NativeFn;
  return {
    ctxNew: fn('void *EVP_CIPHER_CTX_new(void)') as () => Pointer,
    ctxFree: fn('void EVP_CIPHER_CTX_free(void *ctx)') as (ctx: Pointer) => void,
    cipherInit: fn(
      'int EVP_CipherInit_ex(void *ctx, void *type, void *impl, const uint8_t *key, const uint8_t *iv, int enc)',
    ) as Native['cipherInit'],
    ctxCtrl: fn('int EVP_CIPHER_CTX_ctrl(void *ctx, int type, int arg, void *ptr)') as Native['ctxCtrl'],
    ctxSetPadding: fn('int EVP_CIPHER_CTX_set_padding(void *ctx, int pad)') as Native['ctxSetPadding'],
    ciphers: {
      'aes-128-gcm': cipherGetter('EVP_aes_128_gcm'),
      'aes-192-gcm': cipherGetter('EVP_aes_192_gcm'),
      'aes-256-gcm': cipherGetter('EVP_aes_256_gcm'),
      'chacha20-poly1305': cipherGetter('EVP_chacha20_poly1305'),
      'aes-128-cbc': cipherGetter('EVP_aes_128_cbc'),
      'aes-192-cbc': cipherGetter('EVP_aes_192_cbc'),
      'aes-256-cbc': cipherGetter('EVP_aes_256_cbc'),
      'aes-128-ctr': cipherGetter('EVP_aes_128_ctr'),
      'aes-192-ctr': cipherGetter('EVP_aes_192_ctr'),
      'aes-256-ctr': cipherGetter('EVP_aes_256_ctr'),
      'camellia-128-cbc': cipherGetter('EVP_camellia_128_cbc'),
      'camellia-192-cbc': cipherGetter('EVP_camellia_192_cbc'),
      'camellia-256-cbc': cipherGetter('EVP_camellia_256_cbc'),
      'des-ede3-cbc': cipherGetter('EVP_des_ede3_cbc'),
    },
    batch: batch as Native['batch'],
    cipherBatch: cipherBatch as Native['cipherBatch'],
    hmacNew: fn('void *HMAC_CTX_new(void)') as () => Pointer,
    hmacFree: fn('void HMAC_CTX_free(void *ctx)') as (ctx: Pointer) => void,
    hmacInit: fn('int HMAC_Init_ex(void *ctx, const uint8_t *key, int len, void *md, void *impl)') as Native['hmacInit'],
    digests: {
      md5: cipherGetter('EVP_md5'),
      sha1: cipherGetter('EVP_sha1'),
      sha256: cipherGetter('EVP_sha256'),
      sha384: cipherGetter('EVP_sha384'),
      sha512: cipherGetter('EVP_sha512'),
    },
    hmacBatch: hmacBatch as Native['hmacBatch'],
    espSeal: espSeal as Native['espSeal'],
    espOpen: espOpen as Native['espOpen'],
  };
}

/**
 * Try to set up the libcrypto fast path and make createAead() use it for AES-GCM and
 * ChaCha20-Poly1305. Never throws: on any failure (no koffi binary, no libcrypto.so.3, no C
 * compiler) the node:crypto path stays in use and the reason is returned.
 */
export function enableFastAead(): FastAeadStatus {
  if (native) return status;
  try {
    native = loadNative();
    setFastAeadFactory((alg, key) => (alg.mode === 'gcm' || alg.mode === 'chacha20-poly1305' ? createFfiAead(alg, key) : null));
    setFastCipherFactory(createFfiCipher);
    setFastMacFactory(createFfiMac);
    status = { enabled: true, reason: 'libcrypto EVP_CIPHER_CTX / HMAC_CTX reuse via koffi with a batch shim' };
  } catch (err) {
    native = null;
    status = { enabled: false, reason: `fast AEAD unavailable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
  return status;
}

/** The same switch under a name that says it covers ciphers and HMACs too. */
export const enableFastCrypto = enableFastAead;

/** Stop using the fast path (tests compare both backends). */
export function disableFastAead(): void {
  setFastAeadFactory(null);
  setFastCipherFactory(null);
  setFastMacFactory(null);
  native = null;
  status = { enabled: false, reason: 'disabled' };
}

export function fastAeadStatus(): FastAeadStatus {
  return status;
}

/** Frees an SA's EVP contexts when its Aead is garbage collected. */
const contexts = new FinalizationRegistry<{ n: Native; ctxs: Pointer[] }>(({ n, ctxs }) => ctxs.forEach((c) => n.ctxFree(c)));

/**
 * The one staging area of the process, shared by every SA: JS is single-threaded and every
 * native call is synchronous, so packets of one batch never meet another SA's.
 */
interface Arena {
  readonly buf: Buffer;
  readonly addr: number;
  readonly jobs: Int32Array;
  readonly jobsAddr: number;
  /** the koffi allocations, kept reachable for the life of the process */
  readonly keep: readonly unknown[];
}
let arena: Arena | null = null;

function sharedArena(): Arena {
  if (!arena) {
    const bytes = ARENA_HEADERS + ARENA_DATA;
    const bufPtr = koffi.alloc('uint8_t', bytes);
    const jobsPtr = koffi.alloc('int32_t', MAX_BATCH * JOB_INTS);
    arena = {
      buf: Buffer.from(koffi.view(bufPtr, bytes)),
      addr: Number(koffi.address(bufPtr)),
      jobs: new Int32Array(koffi.view(jobsPtr, MAX_BATCH * JOB_INTS * 4)),
      jobsAddr: Number(koffi.address(jobsPtr)),
      keep: [bufPtr, jobsPtr],
    };
  }
  return arena;
}

/** A keyed EVP_CIPHER_CTX for one direction (enc 1 = seal, 0 = open). */
function keyedContext(n: Native, cipher: Pointer, key: Buffer, enc: 0 | 1): Pointer {
  const ctx = n.ctxNew();
  if (!ctx) throw new CryptoError('backend', 'EVP_CIPHER_CTX_new failed');
  const ok =
    n.cipherInit(ctx, cipher, null, null, null, enc) === 1 &&
    n.ctxCtrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, null) === 1 &&
    n.cipherInit(ctx, null, null, key, null, enc) === 1;
  if (!ok) {
    n.ctxFree(ctx);
    throw new CryptoError('backend', 'EVP_CipherInit_ex failed');
  }
  return ctx;
}

function createFfiAead(alg: EncrAlg, key: Buffer): BatchAead | null {
  const n = native;
  if (!n) return null;
  const keyBits = checkAeadKey(alg, key);
  const cipherName = alg.mode === 'chacha20-poly1305' ? 'chacha20-poly1305' : `aes-${keyBits}-gcm`;
  const cipher = n.ciphers[cipherName];
  if (!cipher) return null;
  const cipherKey = Buffer.from(key.subarray(0, keyBits / 8));
  const salt = Buffer.from(key.subarray(keyBits / 8));
  const icvBytes = alg.icvBytes;
  const fallback = createNodeAead(alg, key);
  const a = sharedArena();
  const encCtx = keyedContext(n, cipher, cipherKey, 1);
  const decCtx = keyedContext(n, cipher, cipherKey, 0);
  const encAddr = Number(koffi.address(encCtx));
  const decAddr = Number(koffi.address(decCtx));

  /**
   * Lay out up to MAX_BATCH packets in the arena: per packet a 64-byte header slot (nonce at
   * +0, AAD at +12, up to 52 bytes); inputs packed from DATA_IN, outputs packed contiguously
   * from DATA_OUT so that one copy brings all results back. Returns how many packets fit and
   * the total output length.
   */
  const stage = (items: readonly AeadBatchItem[], start: number, enc: boolean): [number, number] => {
    const buf = a.buf;
    const jobs = a.jobs;
    let inOff = DATA_IN;
    let outOff = DATA_OUT;
    let count = 0;
    for (let i = start; i < items.length && count < MAX_BATCH; i++, count++) {
      const it = items[i]!;
      const iv = it.iv;
      const aad = it.aad;
      const data = it.data;
      if (iv.length !== 8) checkAeadIv(alg, iv);
      const inLen = enc ? data.length : data.length - icvBytes;
      const outLen = enc ? inLen + icvBytes : inLen;
      if (inLen < 0 || aad.length > 52 || inOff + data.length > DATA_OUT || outOff + outLen > ARENA_END) break;
      const hdr = count * 64;
      buf[hdr] = salt[0]!;
      buf[hdr + 1] = salt[1]!;
      buf[hdr + 2] = salt[2]!;
      buf[hdr + 3] = salt[3]!;
      for (let k = 0; k < 8; k++) buf[hdr + 4 + k] = iv[k]!;
      if (aad.length <= 16) for (let k = 0; k < aad.length; k++) buf[hdr + 12 + k] = aad[k]!;
      else buf.set(aad, hdr + 12);
      buf.set(data, inOff);
      const j = count * JOB_INTS;
      jobs[j] = hdr;
      jobs[j + 1] = hdr + 12;
      jobs[j + 2] = aad.length;
      jobs[j + 3] = inOff;
      jobs[j + 4] = inLen;
      jobs[j + 5] = outOff;
      jobs[j + 6] = icvBytes;
      inOff += data.length;
      outOff += outLen;
    }
    return [count, outOff - DATA_OUT];
  };

  const runBatch = (items: readonly AeadBatchItem[], enc: boolean): (Buffer | null)[] => {
    const out: (Buffer | null)[] = [];
    let i = 0;
    while (i < items.length) {
      const [count, outTotal] = stage(items, i, enc);
      if (count === 0) {
        // too large for the arena, or a short open input: node:crypto handles it
        const it = items[i]!;
        out.push(enc ? fallback.seal(it.iv, it.aad, it.data) : fallback.open(it.iv, it.aad, it.data));
        i++;
        continue;
      }
      n.batch(enc ? encAddr : decAddr, a.addr, a.jobsAddr, count, enc ? 1 : 0);
      // one copy of all outputs, then a view per packet
      const all = Buffer.allocUnsafe(outTotal);
      all.set(a.buf.subarray(DATA_OUT, DATA_OUT + outTotal));
      for (let k = 0; k < count; k++) {
        const j = k * JOB_INTS;
        const off = a.jobs[j + 5]! - DATA_OUT;
        const len = enc ? a.jobs[j + 4]! + icvBytes : a.jobs[j + 4]!;
        if (a.jobs[j + 7] === 1) out.push(all.subarray(off, off + len));
        else if (enc) throw new CryptoError('backend', `${alg.id}: libcrypto seal failed`);
        else out.push(null);
      }
      i += count;
    }
    return out;
  };

  const aead: BatchAead = {
    backend: 'openssl-ffi',
    icvBytes,
    seal(iv, aad, plaintext) {
      return runBatch([{ iv, aad, data: plaintext }], true)[0]!;
    },
    open(iv, aad, input) {
      checkAeadIv(alg, iv);
      if (input.length < icvBytes) return null;
      return runBatch([{ iv, aad, data: input }], false)[0] ?? null;
    },
    sealBatch: (items) => runBatch(items, true) as Buffer[],
    openBatch: (items) => runBatch(items, false),
    espBatch: (spi, esn) => espAeadBatch(aead, n, a, encAddr, decAddr, salt.readUInt32BE(0), spi >>> 0, esn, icvBytes),
  };
  contexts.register(aead, { n, ctxs: [encCtx, decCtx] });
  return aead;
}

/** ESP header (SPI 4, SN 4) and IV (8) in front of the AEAD ciphertext (RFC 4303 §2, RFC 4106 §3.1, RFC 7634 §2). */
const ESP_AEAD_HEAD = 16;

/**
 * `owner` is the BatchAead whose EVP contexts (encAddr, decAddr) this uses: referenced from the
 * methods so that the contexts are not freed (FinalizationRegistry) while the engine lives.
 */
function espAeadBatch(owner: BatchAead, n: Native, a: Arena, encAddr: number, decAddr: number, salt: number, spi: number, esn: boolean, icvBytes: number): EspAeadBatch {
  const esnFlag = esn ? 1 : 0;
  const alive = (): BatchAead => owner;
  return {
    seal(items, front) {
      alive();
      const out: Buffer[] = new Array<Buffer>(items.length);
      let i = 0;
      while (i < items.length) {
        const buf = a.buf;
        const jobs = a.jobs;
        let at = DATA_IN;
        let count = 0;
        const starts: number[] = [];
        for (; i < items.length && count < MAX_BATCH; i++, count++) {
          const it = items[i]!;
          const ptLen = it.payload.length + it.padLen + 2;
          const end = at + front + ESP_AEAD_HEAD + ptLen + icvBytes;
          if (end > ARENA_END) {
            if (count === 0) throw new CryptoError('bad-data-length', `ESP packet of ${end - at} bytes does not fit the ${ARENA_END - DATA_IN}-byte arena`);
            break;
          }
          buf.set(it.payload, at + front + ESP_AEAD_HEAD);
          const j = count * JOB_INTS;
          jobs[j] = at + front;
          jobs[j + 1] = it.payload.length;
          jobs[j + 2] = it.padLen;
          jobs[j + 3] = it.nextHeader;
          jobs[j + 4] = it.seqHi | 0;
          jobs[j + 5] = it.seqLo | 0;
          starts.push(at);
          at = end;
        }
        n.espSeal(encAddr, a.addr, a.jobsAddr, count, salt, spi, esnFlag, icvBytes);
        const all = Buffer.allocUnsafe(at - DATA_IN);
        all.set(buf.subarray(DATA_IN, at));
        for (let k = 0; k < count; k++) {
          if (jobs[k * JOB_INTS + 7] !== 1) throw new CryptoError('backend', 'libcrypto ESP seal failed');
          const s0 = starts[k]! - DATA_IN;
          const s1 = k + 1 < count ? starts[k + 1]! - DATA_IN : all.length;
          out[i - count + k] = all.subarray(s0, s1);
        }
      }
      return out;
    },
    open(items) {
      alive();
      const out: (Buffer | null)[] = new Array<Buffer | null>(items.length);
      let i = 0;
      while (i < items.length) {
        const buf = a.buf;
        const jobs = a.jobs;
        let at = DATA_IN;
        let count = 0;
        const first = i;
        for (; i < items.length && count < MAX_BATCH; i++, count++) {
          const it = items[i]!;
          const end = at + it.esp.length;
          if (end > ARENA_END) {
            if (count === 0) throw new CryptoError('bad-data-length', `ESP packet of ${it.esp.length} bytes does not fit the arena`);
            break;
          }
          buf.set(it.esp, at);
          const j = count * JOB_INTS;
          jobs[j] = at;
          jobs[j + 1] = it.esp.length;
          jobs[j + 4] = it.seqHi | 0;
          at = end;
        }
        n.espOpen(decAddr, a.addr, a.jobsAddr, count, salt, esnFlag, icvBytes);
        const all = Buffer.allocUnsafe(at - DATA_IN);
        all.set(buf.subarray(DATA_IN, at));
        for (let k = 0; k < count; k++) {
          const j = k * JOB_INTS;
          const ptLen = jobs[j + 1]! - ESP_AEAD_HEAD - icvBytes;
          if (jobs[j + 7] !== 1 || ptLen < 0) out[first + k] = null;
          else {
            const s0 = jobs[j]! - DATA_IN + ESP_AEAD_HEAD;
            out[first + k] = all.subarray(s0, s0 + ptLen);
          }
        }
      }
      return out;
    },
  };
}

/**
 * A BatchAead for any AEAD row: the libcrypto fast path when enabled and applicable,
 * otherwise the node:crypto implementation applied packet by packet.
 */
export function createBatchAead(alg: EncrAlg, key: Buffer): BatchAead {
  checkAeadKey(alg, key);
  const fast = native && (alg.mode === 'gcm' || alg.mode === 'chacha20-poly1305') ? createFfiAead(alg, key) : null;
  if (fast) return fast;
  const slow = createNodeAead(alg, key);
  return {
    backend: 'node',
    icvBytes: slow.icvBytes,
    seal: (iv, aad, pt) => slow.seal(iv, aad, pt),
    open: (iv, aad, ct) => slow.open(iv, aad, ct),
    sealBatch: (items) => items.map((it) => slow.seal(it.iv, it.aad, it.data)),
    openBatch: (items) => items.map((it) => slow.open(it.iv, it.aad, it.data)),
  };
}

/** Frees HMAC contexts when their Mac is garbage collected. */
const hmacContexts = new FinalizationRegistry<{ n: Native; ctx: Pointer }>(({ n, ctx }) => n.hmacFree(ctx));

/** OpenSSL cipher behind a non-AEAD row, or null when the fast path does not take it. */
function evpCipherName(alg: EncrAlg, keyBits: number): string | null {
  switch (alg.id) {
    case 'aes-cbc':
      return `aes-${keyBits}-cbc`;
    case 'aes-ctr':
      return `aes-${keyBits}-ctr`;
    case 'camellia-cbc':
      return `camellia-${keyBits}-cbc`;
    case '3des-cbc':
    case 'des-cbc':
      return 'des-ede3-cbc';
    default:
      return null;
  }
}

/**
 * CBC / CTR with one keyed EVP_CIPHER_CTX per direction, one native call per encrypt/decrypt.
 * Same contract as cipher.ts (no padding, IV length and whole blocks checked).
 */
function createFfiCipher(alg: EncrAlg, key: Buffer, fallback: BlockCipher): BlockCipher | null {
  const n = native;
  if (!n) return null;
  const keyBits = checkKey(alg, key);
  const name = evpCipherName(alg, keyBits);
  const cipher = name === null ? undefined : n.ciphers[name];
  if (!cipher) return null;
  const ctr = alg.mode === 'ctr';
  const cipherKey = alg.id === 'des-cbc' ? Buffer.concat([key, key, key]) : Buffer.from(key.subarray(0, keyBits / 8));
  const nonce = ctr ? Buffer.from(key.subarray(keyBits / 8)) : Buffer.alloc(0);
  const ctxs = [keyedCipherContext(n, cipher, cipherKey, 1), keyedCipherContext(n, cipher, cipherKey, 0)];
  const addrs = ctxs.map((c) => Number(koffi.address(c)));
  const a = sharedArena();
  const blockBytes = alg.blockBytes;
  const run = (enc: 0 | 1, iv: Buffer, data: Buffer): Buffer => {
    checkIv(alg, iv);
    if (!ctr) checkBlocks(alg.id, blockBytes, data);
    if (data.length > DATA_OUT - DATA_IN) return enc ? fallback.encrypt(iv, data) : fallback.decrypt(iv, data);
    const buf = a.buf;
    if (ctr) {
      // RFC 3686 §4: nonce || IV || block counter 1
      buf.set(nonce, 0);
      buf.set(iv, 4);
      buf.writeUInt32BE(1, 12);
    } else {
      buf.set(iv, 0);
    }
    buf.set(data, DATA_IN);
    const j = a.jobs;
    j[0] = 0;
    j[3] = DATA_IN;
    j[4] = data.length;
    j[5] = DATA_OUT;
    n.cipherBatch(addrs[enc === 1 ? 0 : 1]!, a.addr, a.jobsAddr, 1, enc);
    if (j[7] !== 1) throw new CryptoError('backend', `${alg.id}: libcrypto ${enc ? 'encrypt' : 'decrypt'} failed`);
    const out = Buffer.allocUnsafe(data.length);
    out.set(buf.subarray(DATA_OUT, DATA_OUT + data.length));
    return out;
  };
  const c: BlockCipher = {
    blockBytes: fallback.blockBytes,
    ivBytes: fallback.ivBytes,
    encrypt: (iv, data) => run(1, iv, data),
    decrypt: (iv, data) => run(0, iv, data),
  };
  contexts.register(c, { n, ctxs });
  return c;
}

function keyedCipherContext(n: Native, cipher: Pointer, key: Buffer, enc: 0 | 1): Pointer {
  const ctx = n.ctxNew();
  if (!ctx) throw new CryptoError('backend', 'EVP_CIPHER_CTX_new failed');
  if (n.cipherInit(ctx, cipher, null, key, null, enc) !== 1 || n.ctxSetPadding(ctx, 0) !== 1) {
    n.ctxFree(ctx);
    throw new CryptoError('backend', 'EVP_CipherInit_ex failed');
  }
  return ctx;
}

/** HMAC with one keyed HMAC_CTX, restarted per ICV; one native call per compute(). */
function createFfiMac(alg: IntegAlg, key: Buffer): Mac | null {
  const n = native;
  if (!n || alg.mode !== 'hmac' || !alg.digest) return null;
  const md = n.digests[alg.digest];
  if (!md) return null;
  const ctx = n.hmacNew();
  if (!ctx) return null;
  if (n.hmacInit(ctx, key, key.length, md, null) !== 1) {
    n.hmacFree(ctx);
    return null;
  }
  const addr = Number(koffi.address(ctx));
  const a = sharedArena();
  const icvBytes = alg.icvBytes;
  const mac: Mac = {
    icvBytes,
    compute(...parts) {
      let len = 0;
      for (const p of parts) len += p.length;
      if (len > DATA_OUT - DATA_IN) {
        // larger than the arena: fall back to node:crypto for this message
        const h = createHmac(alg.digest!, key);
        for (const p of parts) h.update(p);
        return h.digest().subarray(0, icvBytes);
      }
      let off = DATA_IN;
      for (const p of parts) {
        a.buf.set(p, off);
        off += p.length;
      }
      const j = a.jobs;
      j[3] = DATA_IN;
      j[4] = len;
      j[5] = DATA_OUT;
      n.hmacBatch(addr, a.addr, a.jobsAddr, 1);
      if (j[7]! < icvBytes) throw new CryptoError('backend', `${alg.id}: libcrypto HMAC failed`);
      const out = Buffer.allocUnsafe(icvBytes);
      out.set(a.buf.subarray(DATA_OUT, DATA_OUT + icvBytes));
      return out;
    },
  };
  hmacContexts.register(mac, { n, ctx });
  return mac;
}
