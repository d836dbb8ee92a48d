/**
 * PF_KEY algorithm numbers ↔ the Linux crypto API names XFRM takes
 * (net/xfrm/xfrm_algo.c tables: aalg_list, ealg_list, aead_list, calg_list).
 *
 * The numbers (sadb), key sizes, salt and ICV lengths come from the one
 * algorithm registry (src/crypto/registry.ts); this file adds only what is a
 * fact about the Linux kernel: the crypto API name, and for REGISTER the key
 * ranges and IV length af_key reports in sadb_alg (xfrm_algo.c desc).
 *
 * Truncation (RFC 4868 §2.3: HMAC-SHA-256-128, -384-192, -512-256; RFC 2403/
 * 2404/2857/3566: 96 bits) is explicit in XFRMA_ALG_AUTH_TRUNC, because
 * PF_KEY has no field for it (historic Linux PF_KEY gave hmac(sha256) 96 bits).
 */
import { readFileSync } from 'node:fs';
import { algorithmById } from '../../crypto/registry';
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
  /** Key range as the kernel reports it in sadb_alg (xfrm_algo.c). */
  minBits: number;
  maxBits: number;
  /** sadb_alg_ivlen as af_key reports it. */
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

function sadbOf(kind: 'integ' | 'encr' | 'comp', id: string): number {
  const n = algorithmById(kind, id).sadb;
  if (n === null) throw new RangeError(`registry row ${kind}/${id} has no PF_KEY number`);
  return n;
}

function auth(id: string, kernelName: string): AuthAlgorithm {
  const row = algorithmById('integ', id);
  return { sadb: sadbOf('integ', id) as SadbAalg, kernelName, keyBits: row.keyBytes * 8, truncBits: row.icvBytes * 8 };
}

function cipher(id: string, kernelName: string, minBits: number, maxBits: number, ivBytes: number): CipherAlgorithm {
  return { sadb: sadbOf('encr', id) as SadbEalg, kernelName, minBits, maxBits, ivBytes };
}

function aead(id: string, kernelName: string): AeadAlgorithm {
  const row = algorithmById('encr', id);
  const salt = row.saltBytes * 8;
  return {
    sadb: sadbOf('encr', id) as SadbEalg,
    kernelName,
    minBits: Math.min(...row.keyBits) + salt,
    maxBits: Math.max(...row.keyBits) + salt,
    icvBits: row.icvBytes * 8,
    ivBytes: row.ivBytes,
  };
}

export const AUTH_ALGORITHMS: readonly AuthAlgorithm[] = [
  auth('hmac-md5-96', 'hmac(md5)'), // RFC 2403
  auth('hmac-sha1-96', 'hmac(sha1)'), // RFC 2404
  auth('hmac-sha2-256-128', 'hmac(sha256)'), // RFC 4868
  auth('hmac-sha2-384-192', 'hmac(sha384)'),
  auth('hmac-sha2-512-256', 'hmac(sha512)'),
  auth('hmac-ripemd160-96', 'hmac(rmd160)'), // RFC 2857
  auth('aes-xcbc-mac-96', 'xcbc(aes)'), // RFC 3566
  auth('null-auth', 'digest_null'),
];

export const CIPHER_ALGORITHMS: readonly CipherAlgorithm[] = [
  cipher('des-cbc', 'cbc(des)', 64, 64, 8),
  cipher('3des-cbc', 'cbc(des3_ede)', 192, 192, 8),
  cipher('cast128-cbc', 'cbc(cast5)', 40, 128, 8),
  cipher('blowfish-cbc', 'cbc(blowfish)', 40, 448, 8),
  cipher('null', 'ecb(cipher_null)', 0, 0, 0),
  cipher('aes-cbc', 'cbc(aes)', 128, 256, 8),
  cipher('aes-ctr', 'rfc3686(ctr(aes))', 160, 288, 8), // RFC 3686: key + 4-byte nonce
  cipher('camellia-cbc', 'cbc(camellia)', 128, 256, 8),
  cipher('twofish-cbc', 'cbc(twofish)', 128, 256, 8),
  // Linux-only number with no registry row (SADB_X_EALG_SERPENTCBC).
  { sadb: SadbEalg.SERPENTCBC, kernelName: 'cbc(serpent)', minBits: 128, maxBits: 256, ivBytes: 8 },
];

export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = [
  aead('aes-ccm-8', 'rfc4309(ccm(aes))'),
  aead('aes-ccm-12', 'rfc4309(ccm(aes))'),
  aead('aes-ccm-16', 'rfc4309(ccm(aes))'),
  aead('aes-gcm-8', 'rfc4106(gcm(aes))'),
  aead('aes-gcm-12', 'rfc4106(gcm(aes))'),
  aead('aes-gcm-16', 'rfc4106(gcm(aes))'),
  aead('null-aes-gmac', 'rfc4543(gcm(aes))'),
  // RFC 7634: tanuki-private PF_KEY number (src/crypto/registry.ts); key = 256 bits + 32-bit salt
  aead('chacha20-poly1305', 'rfc7539esp(chacha20,poly1305)'),
];

export const COMP_ALGORITHMS: readonly CompAlgorithm[] = [
  { sadb: sadbOf('comp', 'deflate') as SadbCalg, kernelName: 'deflate' },
  { sadb: sadbOf('comp', 'lzs') as SadbCalg, kernelName: 'lzs' },
  { sadb: sadbOf('comp', 'lzjh') as SadbCalg, kernelName: 'lzjh' },
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
