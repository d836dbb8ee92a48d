/**
 * IKEv1 algorithm suites over src/crypto's registry: the phase-1 transform
 * attributes (RFC 2409 App. A) and the phase-2 ESP transform + attributes
 * (RFC 2407 §4.4.4, §4.5) turned into ciphers, hashes, DH groups and the
 * PF_KEY numbers racoon hands the kernel.
 */
import { BlockCipher, createCipher } from '../../crypto/cipher';
import { DhExchange, createDh } from '../../crypto/dh';
import { DhGroup, EncrAlg, findAlgorithm, keymatBytes } from '../../crypto/registry';
import { Ph1Attr, Ph2Attr } from './constants';
import type { Ph1Hash } from './keymat';
import type { SaAttribute } from './payloads';

export interface RandomSource {
  bytes(n: number): Buffer;
}

/** A TV attribute is a number; a TLV one a big-endian octet string (RFC 2408 §3.3). */
export function attrNumber(a: SaAttribute | undefined): number | null {
  if (!a) return null;
  if (typeof a.value === 'number') return a.value;
  if (a.value.length === 0 || a.value.length > 6) return null;
  return a.value.readUIntBE(0, a.value.length);
}
export function attr(attrs: SaAttribute[], type: number): number | null {
  return attrNumber(attrs.find((a) => a.type === type));
}
/** Encode a number as TV when it fits in 16 bits, else as a 4-octet TLV (racoon's isakmp_add_attr_v). */
export function numberAttr(type: number, v: number): SaAttribute {
  if (v <= 0xffff) return { type, value: v };
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return { type, value: b };
}

export interface Ph1Suite {
  encr: EncrAlg;
  keyBytes: number;
  hash: Ph1Hash;
  group: DhGroup;
}

/** The phase-1 suite named by a transform's attributes, or a reason it is unusable. */
export function ph1Suite(attrs: SaAttribute[]): Ph1Suite | string {
  const e = attr(attrs, Ph1Attr.ENCRYPTION_ALGORITHM);
  const h = attr(attrs, Ph1Attr.HASH_ALGORITHM);
  const g = attr(attrs, Ph1Attr.GROUP_DESCRIPTION);
  if (e === null || h === null || g === null) return 'transform lacks encryption, hash or group attribute';
  const encr = findAlgorithm('encr', 'ikev1', e);
  if (!encr || !encr.implemented || encr.aead || encr.mode !== 'cbc') return `unsupported encryption algorithm ${e}`;
  const bits = attr(attrs, Ph1Attr.KEY_LENGTH) ?? (encr.keyLengthAttribute ? null : encr.defaultKeyBits);
  if (bits === null || !encr.keyBits.includes(bits)) return `bad key length ${bits} for ${encr.id}`;
  const hash = findAlgorithm('hash', 'ikev1', h);
  if (!hash || !hash.implemented) return `unsupported hash algorithm ${h}`;
  const group = findAlgorithm('dh', 'ikev1', g);
  if (!group || !group.implemented) return `unsupported DH group ${g}`;
  return { encr, keyBytes: keymatBytes(encr, bits), hash: { digest: hash.digest, outBytes: hash.outBytes }, group };
}

export function ph1Cipher(s: Ph1Suite, key: Buffer): BlockCipher {
  return createCipher(s.encr, key);
}

/** A DH exchange with a private key drawn from the injected random source. */
export function makeDh(group: DhGroup, random: RandomSource): DhExchange {
  const n = group.type === 'modp' ? 64 : Math.ceil(group.bits / 8);
  const priv = random.bytes(n);
  if (group.type === 'ecp' && group.bits % 8 !== 0) priv[0] &= (1 << group.bits % 8) - 1;
  try {
    return createDh(group, priv);
  } catch {
    return createDh(group);
  }
}

export function dhGroup(n: number): DhGroup | null {
  const g = findAlgorithm('dh', 'ikev1', n);
  return g && g.implemented ? g : null;
}

export interface EspSuite {
  transformId: number;
  keyBits: number | null;
  authAlg: number;
  sadbEalg: number;
  sadbAalg: number;
  encrKeyBytes: number;
  authKeyBytes: number;
  /** RFC 4304 §2: the transform carries Extended Sequence Number = 1 */
  esn: boolean;
}

/** An ESP transform (RFC 2407 §4.4.4 id + §4.5 attributes) as the kernel knows it. */
export function espSuite(transformId: number, attrs: SaAttribute[]): EspSuite | string {
  const encr = findAlgorithm('encr', 'ipsecDoi', transformId);
  if (!encr || !encr.implemented || encr.sadb === null || encr.aead) return `unsupported ESP transform ${transformId}`;
  const kl = attr(attrs, Ph2Attr.KEY_LENGTH);
  const bits = kl ?? (encr.keyLengthAttribute ? null : encr.defaultKeyBits);
  if (bits === null || !encr.keyBits.includes(bits)) return `bad key length ${bits} for ${encr.id}`;
  const a = attr(attrs, Ph2Attr.AUTHENTICATION_ALGORITHM);
  if (a === null) return 'ESP transform without authentication algorithm';
  const integ = findAlgorithm('integ', 'ipsecDoi', a);
  if (!integ || !integ.implemented || integ.sadb === null) return `unsupported authentication algorithm ${a}`;
  const esn = attr(attrs, Ph2Attr.EXTENDED_SEQUENCE_NUMBER);
  if (esn !== null && esn !== 1) return `unknown Extended Sequence Number value ${esn} (RFC 4304 §2: 1 = 64-bit)`;
  return {
    transformId,
    keyBits: kl,
    authAlg: a,
    sadbEalg: encr.sadb,
    sadbAalg: integ.sadb,
    encrKeyBytes: keymatBytes(encr, bits),
    authKeyBytes: integ.keyBytes,
    esn: esn === 1,
  };
}
