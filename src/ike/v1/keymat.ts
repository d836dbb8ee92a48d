/**
 * IKEv1 keying material (RFC 2409 §5, §5.5, App. B): SKEYID for pre-shared
 * keys and signatures, SKEYID_d/a/e, HASH_I/HASH_R, the phase-1 and phase-2
 * IVs with CBC chaining, the encryption-key expansion, Quick Mode HASH(1..3)
 * and KEYMAT, and the RFC 3947 §3.2 NAT-D hash. Pure functions over a
 * negotiated hash: prf is HMAC over it (RFC 2409 §4: "the HMAC version of the
 * negotiated hash algorithm is used as a pseudo-random function").
 */
import { createHash, createHmac } from 'node:crypto';

/** The negotiated phase-1 hash (RFC 2409 App. A attribute 2), by node digest name. */
export interface Ph1Hash {
  /** 'md5', 'sha1', 'sha256', 'sha384', 'sha512' */
  digest: string;
  outBytes: number;
}

export function prf(h: Ph1Hash, key: Buffer, ...data: Buffer[]): Buffer {
  const m = createHmac(h.digest, key);
  for (const d of data) m.update(d);
  return m.digest();
}
export function hash(h: Ph1Hash, ...data: Buffer[]): Buffer {
  const m = createHash(h.digest);
  for (const d of data) m.update(d);
  return m.digest();
}

export function cookieBytes(c: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, c));
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** RFC 2409 §5: SKEYID = prf(pre-shared-key, Ni_b | Nr_b). */
export function skeyidPsk(h: Ph1Hash, psk: Buffer, ni: Buffer, nr: Buffer): Buffer {
  return prf(h, psk, ni, nr);
}
/** RFC 2409 §5: for signatures SKEYID = prf(Ni_b | Nr_b, g^xy). */
export function skeyidSig(h: Ph1Hash, ni: Buffer, nr: Buffer, gxy: Buffer): Buffer {
  return prf(h, Buffer.concat([ni, nr]), gxy);
}

export interface Ph1Keys {
  skeyid: Buffer;
  skeyidD: Buffer;
  skeyidA: Buffer;
  skeyidE: Buffer;
}

/** RFC 2409 §5: SKEYID_d/a/e. */
export function deriveSkeyids(h: Ph1Hash, skeyid: Buffer, gxy: Buffer, cookieI: bigint, cookieR: bigint): Ph1Keys {
  const ck = Buffer.concat([cookieBytes(cookieI), cookieBytes(cookieR)]);
  const skeyidD = prf(h, skeyid, gxy, ck, Buffer.from([0]));
  const skeyidA = prf(h, skeyid, skeyidD, gxy, ck, Buffer.from([1]));
  const skeyidE = prf(h, skeyid, skeyidA, gxy, ck, Buffer.from([2]));
  return { skeyid, skeyidD, skeyidA, skeyidE };
}

/**
 * RFC 2409 App. B: the encryption key is the first `keyBytes` of SKEYID_e, or,
 * when SKEYID_e is too short, of Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0)
 * and Kn = prf(SKEYID_e, Kn-1).
 */
export function encryptionKey(h: Ph1Hash, skeyidE: Buffer, keyBytes: number): Buffer {
  if (skeyidE.length >= keyBytes) return Buffer.from(skeyidE.subarray(0, keyBytes));
  const parts: Buffer[] = [];
  let k = prf(h, skeyidE, Buffer.from([0]));
  parts.push(k);
  let have = k.length;
  while (have < keyBytes) {
    k = prf(h, skeyidE, k);
    parts.push(k);
    have += k.length;
  }
  return Buffer.concat(parts).subarray(0, keyBytes);
}

/**
 * RFC 2409 §5: HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b),
 * HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
 * `sai` is the initiator's SA payload body, `id` the sender's ID payload body.
 */
export function ph1Hash(
  h: Ph1Hash,
  skeyid: Buffer,
  who: 'I' | 'R',
  gxi: Buffer,
  gxr: Buffer,
  cookieI: bigint,
  cookieR: bigint,
  sai: Buffer,
  id: Buffer,
): Buffer {
  return who === 'I'
    ? prf(h, skeyid, gxi, gxr, cookieBytes(cookieI), cookieBytes(cookieR), sai, id)
    : prf(h, skeyid, gxr, gxi, cookieBytes(cookieR), cookieBytes(cookieI), sai, id);
}

/** RFC 2409 App. B: the phase-1 IV is hash(g^xi | g^xr) truncated to the block size. */
export function ph1Iv(h: Ph1Hash, gxi: Buffer, gxr: Buffer, blockBytes: number): Buffer {
  return hash(h, gxi, gxr).subarray(0, blockBytes);
}

/**
 * RFC 2409 App. B: a phase-2 or informational exchange starts with
 * IV = hash(last phase-1 CBC output block | M-ID), truncated.
 */
export function ph2Iv(h: Ph1Hash, lastPh1Block: Buffer, messageId: number, blockBytes: number): Buffer {
  return hash(h, lastPh1Block, u32(messageId)).subarray(0, blockBytes);
}

/** RFC 2409 §5.5 HASH(1) = prf(SKEYID_a, M-ID | rest), also the informational HASH(1) (§5.7). */
export function qmHash1(h: Ph1Hash, skeyidA: Buffer, messageId: number, rest: Buffer): Buffer {
  return prf(h, skeyidA, u32(messageId), rest);
}
/** RFC 2409 §5.5 HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest). */
export function qmHash2(h: Ph1Hash, skeyidA: Buffer, messageId: number, ni: Buffer, rest: Buffer): Buffer {
  return prf(h, skeyidA, u32(messageId), ni, rest);
}
/** RFC 2409 §5.5 HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b). */
export function qmHash3(h: Ph1Hash, skeyidA: Buffer, messageId: number, ni: Buffer, nr: Buffer): Buffer {
  return prf(h, skeyidA, Buffer.from([0]), u32(messageId), ni, nr);
}

/**
 * RFC 2409 §5.5 KEYMAT = K1 | K2 | ... with
 * K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b) and
 * Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b).
 * `spi` is the SPI of the SA being keyed (the receiver's choice).
 */
export function qmKeymat(
  h: Ph1Hash,
  skeyidD: Buffer,
  gqmxy: Buffer | null,
  protocol: number,
  spi: number,
  ni: Buffer,
  nr: Buffer,
  bytes: number,
): Buffer {
  const seed = Buffer.concat([gqmxy ?? Buffer.alloc(0), Buffer.from([protocol]), u32(spi), ni, nr]);
  const parts: Buffer[] = [];
  let have = 0;
  let k: Buffer = Buffer.alloc(0);
  while (have < bytes) {
    k = prf(h, skeyidD, k, seed);
    parts.push(k);
    have += k.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

/** RFC 3947 §3.2: HASH = hash(CKY-I | CKY-R | IP | Port). */
export function natdHash(h: Ph1Hash, cookieI: bigint, cookieR: bigint, address: Buffer, port: number): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return hash(h, cookieBytes(cookieI), cookieBytes(cookieR), address, p);
}
