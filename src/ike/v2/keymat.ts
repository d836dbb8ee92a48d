/**
 * IKEv2 key material (RFC 7296 §2.13, §2.14, §2.17, §2.18) and the PSK AUTH
 * value (§2.15). Pure functions over an injected PRF.
 */
import type { PrfLike, PrfSuite } from './crypto-port';

/** RFC 7296 §2.13 prf+: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n). */
export function prfPlus(prf: PrfLike, key: Buffer, seed: Buffer, length: number): Buffer {
  if (length > 255 * prf.outBytes) throw new RangeError(`prf+ cannot produce ${length} octets (max 255 blocks)`);
  const out: Buffer[] = [];
  let t: Buffer = Buffer.alloc(0);
  let have = 0;
  for (let n = 1; have < length; n++) {
    t = prf.compute(key, Buffer.concat([t, seed, Buffer.from([n])]));
    out.push(t);
    have += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

export interface IkeKeyLengths {
  /** SK_ai/SK_ar: the integrity key length, 0 for AEAD */
  integKeyBytes: number;
  /** SK_ei/SK_er: the encryption key length including any AEAD salt */
  encrKeyBytes: number;
}

/** RFC 7296 §2.14: SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr. */
export interface IkeSaKeys {
  skeyseed: Buffer;
  skD: Buffer;
  skAi: Buffer;
  skAr: Buffer;
  skEi: Buffer;
  skEr: Buffer;
  skPi: Buffer;
  skPr: Buffer;
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, v));
  return b;
}

/** RFC 7296 §2.14: the PRF key Ni | Nr, or 64 bits of each for fixed-key PRFs. */
function nonceKey(suite: PrfSuite, ni: Buffer, nr: Buffer): Buffer {
  if (suite.fixedKeyBytes === undefined) return Buffer.concat([ni, nr]);
  const half = suite.fixedKeyBytes / 2;
  return Buffer.concat([ni.subarray(0, half), nr.subarray(0, half)]);
}

function split(suite: PrfSuite, skeyseed: Buffer, seed: Buffer, lens: IkeKeyLengths): IkeSaKeys {
  const p = suite.prf.outBytes;
  const sizes = [p, lens.integKeyBytes, lens.integKeyBytes, lens.encrKeyBytes, lens.encrKeyBytes, p, p];
  const total = sizes.reduce((a, b) => a + b, 0);
  const stream = prfPlus(suite.prf, skeyseed, seed, total);
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    parts.push(Buffer.from(stream.subarray(at, at + n)));
    at += n;
  }
  const [skD, skAi, skAr, skEi, skEr, skPi, skPr] = parts;
  return { skeyseed, skD, skAi, skAr, skEi, skEr, skPi, skPr };
}

/** RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir); keys = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). */
export function deriveIkeSaKeys(
  suite: PrfSuite,
  ni: Buffer,
  nr: Buffer,
  sharedSecret: Buffer,
  spiI: bigint,
  spiR: bigint,
  lens: IkeKeyLengths,
): IkeSaKeys {
  const skeyseed = suite.prf.compute(nonceKey(suite, ni, nr), sharedSecret);
  return split(suite, skeyseed, Buffer.concat([ni, nr, u64(spiI), u64(spiR)]), lens);
}

/**
 * RFC 7296 §2.18: rekeyed IKE SA. SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr),
 * with the old SA's PRF; the new keys use the new SA's PRF and SPIs.
 */
export function deriveRekeyedIkeSaKeys(
  oldSuite: PrfSuite,
  oldSkD: Buffer,
  newSuite: PrfSuite,
  ni: Buffer,
  nr: Buffer,
  sharedSecret: Buffer,
  spiI: bigint,
  spiR: bigint,
  lens: IkeKeyLengths,
): IkeSaKeys {
  const skeyseed = oldSuite.prf.compute(oldSkD, Buffer.concat([sharedSecret, ni, nr]));
  return split(newSuite, skeyseed, Buffer.concat([ni, nr, u64(spiI), u64(spiR)]), lens);
}

/** RFC 7296 §2.17 CHILD_SA keys, in the order initiator→responder first. */
export interface ChildSaKeys {
  encrI: Buffer;
  integI: Buffer;
  encrR: Buffer;
  integR: Buffer;
}

/** KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr). */
export function deriveChildSaKeys(
  suite: PrfSuite,
  skD: Buffer,
  ni: Buffer,
  nr: Buffer,
  sharedSecret: Buffer | null,
  encrKeyBytes: number,
  integKeyBytes: number,
): ChildSaKeys {
  const seed = Buffer.concat(sharedSecret ? [sharedSecret, ni, nr] : [ni, nr]);
  const km = prfPlus(suite.prf, skD, seed, 2 * (encrKeyBytes + integKeyBytes));
  let at = 0;
  const take = (n: number) => {
    const b = Buffer.from(km.subarray(at, at + n));
    at += n;
    return b;
  };
  const encrI = take(encrKeyBytes);
  const integI = take(integKeyBytes);
  const encrR = take(encrKeyBytes);
  const integR = take(integKeyBytes);
  return { encrI, integI, encrR, integR };
}

/** RFC 7296 §2.15 the key pad constant. */
export const KEY_PAD_FOR_IKEV2 = Buffer.from('Key Pad for IKEv2', 'ascii');

/**
 * RFC 7296 §2.15 signed octets:
 *   InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
 *   MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
 * (and the mirror image for the responder with SK_pr).
 * `idBody` is the ID payload body: ID Type | RESERVED | Identification Data.
 */
export function signedOctets(prf: PrfLike, realMessage: Buffer, peerNonce: Buffer, skP: Buffer, idBody: Buffer): Buffer {
  return Buffer.concat([realMessage, peerNonce, prf.compute(skP, idBody)]);
}

/**
 * prf(Shared Secret, "Key Pad for IKEv2") depends only on the PRF and the PSK:
 * remembered per PRF object and PSK buffer (both live as long as their
 * configuration), so a responder does not recompute it twice per handshake.
 */
const PAD_KEYS = new WeakMap<PrfLike, WeakMap<Buffer, Buffer>>();

function padKey(prf: PrfLike, psk: Buffer): Buffer {
  let byPsk = PAD_KEYS.get(prf);
  if (!byPsk) PAD_KEYS.set(prf, (byPsk = new WeakMap()));
  let k = byPsk.get(psk);
  if (!k) byPsk.set(psk, (k = prf.compute(psk, KEY_PAD_FOR_IKEV2)));
  return k;
}

/** RFC 7296 §2.15: AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>). */
export function pskAuth(prf: PrfLike, psk: Buffer, octets: Buffer): Buffer {
  return prf.compute(padKey(prf, psk), octets);
}

/** The ID payload body as signed (RFC 7296 §2.15 RestOfInitIDPayload). */
export function idPayloadBody(idType: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([idType, 0, 0, 0]), data]);
}
