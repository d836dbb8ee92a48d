/**
 * PF_KEY algorithm numbers ↔ the Linux crypto API names XFRM takes
 * (net/xfrm/xfrm_algo.c tables: aalg_list, ealg_list, aead_list, calg_list).
 *
 * Kept here until the crypto registry (src/crypto/registry.ts) lands on main;
 * then the sadb numbers should be read from it and only the kernel names and
 * ICV truncation stay in this file.
 *
 * Truncation (RFC 4868 §2.3: HMAC-SHA-256-128, -384-192, -512-256; RFC 2403/
 * 2404/2857/3566: 96 bits) is explicit in XFRMA_ALG_AUTH_TRUNC, because
 * PF_KEY has no field for it (historic Linux PF_KEY gave hmac(sha256) 96 bits).
 */
import { readFileSync } from 'node:fs';
import { SadbAalg, SadbCalg, SadbEalg } from '../../pfkey/constants';
import type { SadbAlg } from '../../pfkey/types';

export interface AuthAlgorithm {
  sadb: SadbAalg;
  kernelName: string;
  keyBits: number;
  truncBits: number;
}

export interface CipherAlgorithm {
  sadb: SadbEalg;
  kernelName: string;
  minBits: number;
  maxBits: number;
  ivBytes: number;
}

export interface AeadAlgorithm {
  sadb: SadbEalg;
  kernelName: string;
  /** Key bits including the salt (RFC 4106 §8.1: 4 bytes; RFC 4309 §7.1: 3 bytes). */
  minBits: number;
  maxBits: number;
  icvBits: number;
  ivBytes: number;
}

export interface CompAlgorithm {
  sadb: SadbCalg;
  kernelName: string;
}

export const AUTH_ALGORITHMS: readonly AuthAlgorithm[] = [
  { sadb: SadbAalg.MD5HMAC, kernelName: 'hmac(md5)', keyBits: 128, truncBits: 96 }, // RFC 2403
  { sadb: SadbAalg.SHA1HMAC, kernelName: 'hmac(sha1)', keyBits: 160, truncBits: 96 }, // RFC 2404
  { sadb: SadbAalg.SHA2_256HMAC, kernelName: 'hmac(sha256)', keyBits: 256, truncBits: 128 }, // RFC 4868
  { sadb: SadbAalg.SHA2_384HMAC, kernelName: 'hmac(sha384)', keyBits: 384, truncBits: 192 },
  { sadb: SadbAalg.SHA2_512HMAC, kernelName: 'hmac(sha512)', keyBits: 512, truncBits: 256 },
  { sadb: SadbAalg.RIPEMD160HMAC, kernelName: 'hmac(rmd160)', keyBits: 160, truncBits: 96 }, // RFC 2857
  { sadb: SadbAalg.AES_XCBC_MAC, kernelName: 'xcbc(aes)', keyBits: 128, truncBits: 96 }, // RFC 3566
  { sadb: SadbAalg.X_NULL, kernelName: 'digest_null', keyBits: 0, truncBits: 0 },
];

export const CIPHER_ALGORITHMS: readonly CipherAlgorithm[] = [
  { sadb: SadbEalg.DESCBC, kernelName: 'cbc(des)', minBits: 64, maxBits: 64, ivBytes: 8 },
  { sadb: SadbEalg.TRIPLEDESCBC, kernelName: 'cbc(des3_ede)', minBits: 192, maxBits: 192, ivBytes: 8 },
  { sadb: SadbEalg.CASTCBC, kernelName: 'cbc(cast5)', minBits: 40, maxBits: 128, ivBytes: 8 },
  { sadb: SadbEalg.BLOWFISHCBC, kernelName: 'cbc(blowfish)', minBits: 40, maxBits: 448, ivBytes: 8 },
  { sadb: SadbEalg.NULL, kernelName: 'ecb(cipher_null)', minBits: 0, maxBits: 0, ivBytes: 0 },
  { sadb: SadbEalg.AESCBC, kernelName: 'cbc(aes)', minBits: 128, maxBits: 256, ivBytes: 8 },
  { sadb: SadbEalg.AESCTR, kernelName: 'rfc3686(ctr(aes))', minBits: 160, maxBits: 288, ivBytes: 8 }, // RFC 3686: key + 4-byte nonce
  { sadb: SadbEalg.CAMELLIACBC, kernelName: 'cbc(camellia)', minBits: 128, maxBits: 256, ivBytes: 8 },
  { sadb: SadbEalg.SERPENTCBC, kernelName: 'cbc(serpent)', minBits: 128, maxBits: 256, ivBytes: 8 },
  { sadb: SadbEalg.TWOFISHCBC, kernelName: 'cbc(twofish)', minBits: 128, maxBits: 256, ivBytes: 8 },
];

export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = [
  { sadb: SadbEalg.AES_CCM_ICV8, kernelName: 'rfc4309(ccm(aes))', minBits: 152, maxBits: 280, icvBits: 64, ivBytes: 8 },
  { sadb: SadbEalg.AES_CCM_ICV12, kernelName: 'rfc4309(ccm(aes))', minBits: 152, maxBits: 280, icvBits: 96, ivBytes: 8 },
  { sadb: SadbEalg.AES_CCM_ICV16, kernelName: 'rfc4309(ccm(aes))', minBits: 152, maxBits: 280, icvBits: 128, ivBytes: 8 },
  { sadb: SadbEalg.AES_GCM_ICV8, kernelName: 'rfc4106(gcm(aes))', minBits: 160, maxBits: 288, icvBits: 64, ivBytes: 8 },
  { sadb: SadbEalg.AES_GCM_ICV12, kernelName: 'rfc4106(gcm(aes))', minBits: 160, maxBits: 288, icvBits: 96, ivBytes: 8 },
  { sadb: SadbEalg.AES_GCM_ICV16, kernelName: 'rfc4106(gcm(aes))', minBits: 160, maxBits: 288, icvBits: 128, ivBytes: 8 },
  { sadb: SadbEalg.NULL_AES_GMAC, kernelName: 'rfc4543(gcm(aes))', minBits: 160, maxBits: 288, icvBits: 128, ivBytes: 8 },
];

export const COMP_ALGORITHMS: readonly CompAlgorithm[] = [
  { sadb: SadbCalg.DEFLATE, kernelName: 'deflate' },
  { sadb: SadbCalg.LZS, kernelName: 'lzs' },
  { sadb: SadbCalg.LZJH, kernelName: 'lzjh' },
];

export const authBySadb = (n: number): AuthAlgorithm | undefined => AUTH_ALGORITHMS.find((a) => a.sadb === n);
export const cipherBySadb = (n: number): CipherAlgorithm | undefined => CIPHER_ALGORITHMS.find((a) => a.sadb === n);
export const aeadBySadb = (n: number): AeadAlgorithm | undefined => AEAD_ALGORITHMS.find((a) => a.sadb === n);
export const compBySadb = (n: number): CompAlgorithm | undefined => COMP_ALGORITHMS.find((a) => a.sadb === n);

export const authByName = (name: string): AuthAlgorithm | undefined => AUTH_ALGORITHMS.find((a) => a.kernelName === name);
export const cipherByName = (name: string): CipherAlgorithm | undefined => CIPHER_ALGORITHMS.find((a) => a.kernelName === name);
export const aeadByName = (name: string, icvBits: number): AeadAlgorithm | undefined =>
  AEAD_ALGORITHMS.find((a) => a.kernelName === name && a.icvBits === icvBits);
export const compByName = (name: string): CompAlgorithm | undefined => COMP_ALGORITHMS.find((a) => a.kernelName === name);

/**
 * Which of the table's algorithms this kernel's crypto API can provide,
 * judged from /proc/crypto: an algorithm is available if its name is
 * registered, or it is a template instance (hmac(x), cbc(x), ...) whose inner
 * algorithm is registered and whose template is proven present by another
 * registered instance. This host has no AF_ALG (EAFNOSUPPORT), which would
 * otherwise allow a direct probe. ESP/AH protocol support itself (esp4,
 * esp6, ah4, ah6) is not visible here; it shows only when NEWSA is refused.
 */
export function kernelCryptoNames(procCrypto?: string): Set<string> {
  let text = procCrypto;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/crypto', 'utf8');
    } catch {
      return new Set();
    }
  }
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(name|driver)\s*:\s*(\S+)/.exec(line);
    if (m) names.add(m[2]);
  }
  return names;
}

export function cryptoAvailable(kernelName: string, names: Set<string>): boolean {
  if (names.has(kernelName)) return true;
  const m = /^([a-z0-9_]+)\((.*)\)$/.exec(kernelName);
  if (!m) return false;
  const [, template, inner] = m;
  if (!cryptoAvailable(inner, names)) return false;
  for (const n of names) if (n.startsWith(`${template}(`)) return true;
  return false;
}

/** The SADB_EXT_SUPPORTED_AUTH / _ENCRYPT lists for REGISTER (RFC 2367 §2.3.3 sadb_alg). */
export function supportedAlgorithms(names: Set<string>): { auth: SadbAlg[]; encrypt: SadbAlg[] } {
  const auth = AUTH_ALGORITHMS.filter((a) => cryptoAvailable(a.kernelName, names)).map((a) => ({
    id: a.sadb,
    ivlen: 0,
    minbits: a.keyBits,
    maxbits: a.keyBits,
  }));
  const encrypt = [
    ...CIPHER_ALGORITHMS.filter((a) => cryptoAvailable(a.kernelName, names)).map((a) => ({ id: a.sadb, ivlen: a.ivBytes, minbits: a.minBits, maxbits: a.maxBits })),
    ...AEAD_ALGORITHMS.filter((a) => cryptoAvailable(a.kernelName, names)).map((a) => ({ id: a.sadb, ivlen: a.ivBytes, minbits: a.minBits, maxbits: a.maxBits })),
  ];
  return { auth, encrypt };
}
