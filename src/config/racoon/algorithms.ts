/**
 * racoon.conf algorithm names → protocol numbers.
 *
 * Every name the configuration accepts is resolved through `lookupRacoonAlgorithm`
 * and nothing else. The protocol numbers (IKEv1, IPsec DOI, IKEv2, SADB) come
 * from the shared crypto registry (src/crypto/registry.ts,
 * `findAlgorithm(kind, 'racoon', name)`). What stays here is what only racoon's
 * configuration knows: which names racoon's lexer accepts in which class, the
 * key-length rules of racoon's algorithm.c (check_keylen/default_keylen — e.g.
 * blowfish 40..448 bits), and the phase-1 authentication methods, which are not
 * algorithms and have no registry row. The numbers in the table below are used
 * only for names the registry does not know.
 *
 * Numbers:
 *  - IKEv1 phase 1 attributes: RFC 2409 Appendix A (encryption, hash, auth method,
 *    group description), RFC 4754 §3 (ECDSA auth), RFC 5903 / RFC 8031 group numbers.
 *  - IKEv1 phase 2: RFC 2407 §4.4.4 (ESP transform IDs), §4.5 (auth algorithm),
 *    §4.4.5 (IPCOMP transform IDs); RFC 4106/4309/4543 AEAD transform IDs.
 *  - IKEv2: RFC 7296 §3.3.2 transform IDs and the IANA IKEv2 registry
 *    (RFC 5282 CCM/GCM, RFC 7634 ChaCha20-Poly1305, RFC 4494 AES-CMAC-96).
 *  - PF_KEY: Linux pfkeyv2.h SADB_*ALG_* (for the SADB_REGISTER kernel check).
 */
import { type AlgKind, findAlgorithm } from '../../crypto/registry';
import { SadbAalg, SadbCalg, SadbEalg } from '../../pfkey/constants';

/** racoon's algorithm classes (algorithm.h `algclass_*`). */
export type AlgorithmClass =
  | 'isakmp_enc'
  | 'isakmp_hash'
  | 'isakmp_ameth'
  | 'isakmp_dh'
  | 'ipsec_enc'
  | 'ipsec_auth'
  | 'ipsec_comp';

/** Key length rule: default bits, and the accepted lengths (check_keylen). */
export interface KeyLengthRule {
  readonly defaultBits: number;
  readonly minBits: number;
  readonly maxBits: number;
  readonly stepBits: number;
}

export interface RacoonAlgorithm {
  readonly cls: AlgorithmClass;
  /** the canonical racoon name (aliases resolve to it). */
  readonly name: string;
  /** IKEv1 attribute / transform number; null when IKEv1 does not define it. */
  readonly ikev1: number | null;
  /** IKEv2 transform number (type depends on the class); null when not defined. */
  readonly ikev2: number | null;
  /** PF_KEY SADB algorithm number (phase-2 classes only); null when none. */
  readonly sadb: number | null;
  /** null: a key length is not allowed ("keylen not allowed"). */
  readonly keyLength: KeyLengthRule | null;
  readonly aead: boolean;
  /** tanuki extension of the racoon grammar (IKEv2 issue), not in racoon's lexer. */
  readonly extension: boolean;
}

const AES_KL: KeyLengthRule = { defaultBits: 128, minBits: 128, maxBits: 256, stepBits: 64 };

interface Row {
  names: string[];
  ikev1: number | null;
  ikev2: number | null;
  sadb?: number | null;
  kl?: KeyLengthRule;
  aead?: boolean;
  ext?: boolean;
}

function table(cls: AlgorithmClass, rows: Row[]): Map<string, RacoonAlgorithm> {
  const m = new Map<string, RacoonAlgorithm>();
  for (const r of rows) {
    const alg: RacoonAlgorithm = Object.freeze({
      cls,
      name: r.names[0],
      ikev1: r.ikev1,
      ikev2: r.ikev2,
      sadb: r.sadb ?? null,
      keyLength: r.kl ?? null,
      aead: r.aead ?? false,
      extension: r.ext ?? false,
    });
    for (const n of r.names) m.set(n, alg);
  }
  return m;
}

const TABLES: ReadonlyMap<AlgorithmClass, Map<string, RacoonAlgorithm>> = new Map([
  [
    'isakmp_enc',
    table('isakmp_enc', [
      { names: ['des'], ikev1: 1, ikev2: 2 },
      { names: ['idea'], ikev1: 2, ikev2: 9 },
      { names: ['blowfish'], ikev1: 3, ikev2: 7, kl: { defaultBits: 128, minBits: 40, maxBits: 448, stepBits: 8 } },
      { names: ['rc5'], ikev1: 4, ikev2: 4, kl: { defaultBits: 128, minBits: 40, maxBits: 2040, stepBits: 8 } },
      { names: ['3des'], ikev1: 5, ikev2: 3 },
      { names: ['cast128'], ikev1: 6, ikev2: 6, kl: { defaultBits: 128, minBits: 40, maxBits: 128, stepBits: 8 } },
      { names: ['aes', 'rijndael'], ikev1: 7, ikev2: 12, kl: AES_KL },
      { names: ['camellia'], ikev1: 8, ikev2: 23, kl: AES_KL },
      { names: ['aes_ccm_8'], ikev1: null, ikev2: 14, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_ccm_12'], ikev1: null, ikev2: 15, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_ccm_16'], ikev1: null, ikev2: 16, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_gcm_8'], ikev1: null, ikev2: 18, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_gcm_12'], ikev1: null, ikev2: 19, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_gcm_16'], ikev1: null, ikev2: 20, kl: AES_KL, aead: true, ext: true },
      { names: ['chacha20_poly1305'], ikev1: null, ikev2: 28, aead: true, ext: true },
    ]),
  ],
  [
    'isakmp_hash',
    table('isakmp_hash', [
      // ikev2 = PRF transform ID (RFC 7296 §3.3.2 type 2)
      { names: ['md5'], ikev1: 1, ikev2: 1 },
      { names: ['sha1'], ikev1: 2, ikev2: 2 },
      { names: ['sha256', 'sha2_256'], ikev1: 4, ikev2: 5 },
      { names: ['sha384', 'sha2_384'], ikev1: 5, ikev2: 6 },
      { names: ['sha512', 'sha2_512'], ikev1: 6, ikev2: 7 },
    ]),
  ],
  [
    'isakmp_ameth',
    table('isakmp_ameth', [
      // ikev2 = Auth Method (RFC 7296 §3.8): 1 RSA sig, 2 PSK, 14 digital signature (RFC 7427)
      { names: ['pre_shared_key'], ikev1: 1, ikev2: 2 },
      { names: ['dsssig'], ikev1: 2, ikev2: 3 },
      { names: ['rsasig'], ikev1: 3, ikev2: 1 },
      { names: ['rsaenc'], ikev1: 4, ikev2: null },
      { names: ['rsarev'], ikev1: 5, ikev2: null },
      { names: ['gssapi_krb'], ikev1: 65001, ikev2: null },
      { names: ['hybrid_rsa_server'], ikev1: 64222, ikev2: null },
      { names: ['hybrid_rsa_client'], ikev1: 64221, ikev2: null },
      { names: ['hybrid_dss_server'], ikev1: 64224, ikev2: null },
      { names: ['hybrid_dss_client'], ikev1: 64223, ikev2: null },
      { names: ['xauth_psk_server'], ikev1: 65002, ikev2: null },
      { names: ['xauth_psk_client'], ikev1: 65001, ikev2: null },
      { names: ['xauth_rsa_server'], ikev1: 65006, ikev2: null },
      { names: ['xauth_rsa_client'], ikev1: 65005, ikev2: null },
      { names: ['ecdsa_sig'], ikev1: 9, ikev2: 14, ext: true },
    ]),
  ],
  [
    'isakmp_dh',
    table('isakmp_dh', [
      { names: ['modp768'], ikev1: 1, ikev2: 1 },
      { names: ['modp1024'], ikev1: 2, ikev2: 2 },
      { names: ['ec2n155'], ikev1: 3, ikev2: null },
      { names: ['ec2n185'], ikev1: 4, ikev2: null },
      { names: ['modp1536'], ikev1: 5, ikev2: 5 },
      { names: ['modp2048'], ikev1: 14, ikev2: 14 },
      { names: ['modp3072'], ikev1: 15, ikev2: 15 },
      { names: ['modp4096'], ikev1: 16, ikev2: 16 },
      { names: ['modp6144'], ikev1: 17, ikev2: 17 },
      { names: ['modp8192'], ikev1: 18, ikev2: 18 },
      { names: ['ecp256'], ikev1: 19, ikev2: 19, ext: true },
      { names: ['ecp384'], ikev1: 20, ikev2: 20, ext: true },
      { names: ['ecp521'], ikev1: 21, ikev2: 21, ext: true },
      { names: ['curve25519'], ikev1: 31, ikev2: 31, ext: true },
      { names: ['curve448'], ikev1: 32, ikev2: 32, ext: true },
    ]),
  ],
  [
    'ipsec_enc',
    table('ipsec_enc', [
      { names: ['des_iv64'], ikev1: 1, ikev2: 1, sadb: null },
      { names: ['des'], ikev1: 2, ikev2: 2, sadb: SadbEalg.DESCBC },
      { names: ['3des'], ikev1: 3, ikev2: 3, sadb: SadbEalg.TRIPLEDESCBC },
      { names: ['rc5'], ikev1: 4, ikev2: 4, sadb: null, kl: { defaultBits: 128, minBits: 40, maxBits: 2040, stepBits: 8 } },
      { names: ['idea'], ikev1: 5, ikev2: 5, sadb: null },
      { names: ['cast128'], ikev1: 6, ikev2: 6, sadb: SadbEalg.CASTCBC, kl: { defaultBits: 128, minBits: 40, maxBits: 128, stepBits: 8 } },
      { names: ['blowfish'], ikev1: 7, ikev2: 7, sadb: SadbEalg.BLOWFISHCBC, kl: { defaultBits: 128, minBits: 40, maxBits: 448, stepBits: 8 } },
      { names: ['3idea'], ikev1: 8, ikev2: 8, sadb: null },
      { names: ['des_iv32'], ikev1: 9, ikev2: 9, sadb: null },
      { names: ['rc4'], ikev1: 10, ikev2: null, sadb: null },
      { names: ['null_enc', 'null'], ikev1: 11, ikev2: 11, sadb: SadbEalg.NULL },
      { names: ['aes', 'rijndael'], ikev1: 12, ikev2: 12, sadb: SadbEalg.AESCBC, kl: AES_KL },
      { names: ['aes_ctr'], ikev1: 13, ikev2: 13, sadb: SadbEalg.AESCTR, kl: AES_KL, ext: true },
      { names: ['aes_ccm_8'], ikev1: 14, ikev2: 14, sadb: SadbEalg.AES_CCM_ICV8, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_ccm_12'], ikev1: 15, ikev2: 15, sadb: SadbEalg.AES_CCM_ICV12, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_ccm_16'], ikev1: 16, ikev2: 16, sadb: SadbEalg.AES_CCM_ICV16, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_gcm_8'], ikev1: 18, ikev2: 18, sadb: SadbEalg.AES_GCM_ICV8, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_gcm_12'], ikev1: 19, ikev2: 19, sadb: SadbEalg.AES_GCM_ICV12, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_gcm_16'], ikev1: 20, ikev2: 20, sadb: SadbEalg.AES_GCM_ICV16, kl: AES_KL, aead: true, ext: true },
      { names: ['aes_gmac'], ikev1: 23, ikev2: 21, sadb: SadbEalg.NULL_AES_GMAC, kl: AES_KL, aead: true, ext: true },
      { names: ['camellia'], ikev1: 22, ikev2: 23, sadb: SadbEalg.CAMELLIACBC, kl: AES_KL },
      { names: ['chacha20_poly1305'], ikev1: null, ikev2: 28, sadb: null, aead: true, ext: true },
      { names: ['twofish'], ikev1: 253, ikev2: null, sadb: SadbEalg.TWOFISHCBC, kl: { defaultBits: 128, minBits: 40, maxBits: 256, stepBits: 8 } },
    ]),
  ],
  [
    'ipsec_auth',
    table('ipsec_auth', [
      // ikev1 = RFC 2407 §4.5 Authentication Algorithm; ikev2 = integrity transform ID
      { names: ['hmac_md5'], ikev1: 1, ikev2: 1, sadb: SadbAalg.MD5HMAC },
      { names: ['hmac_sha1'], ikev1: 2, ikev2: 2, sadb: SadbAalg.SHA1HMAC },
      { names: ['des_mac'], ikev1: 3, ikev2: 3, sadb: null },
      { names: ['kpdk'], ikev1: 4, ikev2: 4, sadb: null },
      { names: ['hmac_sha256', 'hmac_sha2_256'], ikev1: 5, ikev2: 12, sadb: SadbAalg.SHA2_256HMAC },
      { names: ['hmac_sha384', 'hmac_sha2_384'], ikev1: 6, ikev2: 13, sadb: SadbAalg.SHA2_384HMAC },
      { names: ['hmac_sha512', 'hmac_sha2_512'], ikev1: 7, ikev2: 14, sadb: SadbAalg.SHA2_512HMAC },
      { names: ['aes_xcbc_mac'], ikev1: 9, ikev2: 5, sadb: SadbAalg.AES_XCBC_MAC, ext: true },
      { names: ['aes_cmac'], ikev1: null, ikev2: 8, sadb: null, ext: true },
      // non_auth: no authentication attribute (AH impossible, ESP with AEAD or null integrity)
      { names: ['non_auth'], ikev1: null, ikev2: 0, sadb: SadbAalg.NONE },
    ]),
  ],
  [
    'ipsec_comp',
    table('ipsec_comp', [
      { names: ['oui'], ikev1: 1, ikev2: null, sadb: SadbCalg.OUI },
      { names: ['deflate'], ikev1: 2, ikev2: null, sadb: SadbCalg.DEFLATE },
      { names: ['lzs'], ikev1: 3, ikev2: null, sadb: SadbCalg.LZS },
    ]),
  ],
]);

/** Every algorithm-type word the lexer knows (racoon's ALGORITHMTYPE tokens plus the extension). */
export const ALGORITHM_WORDS: ReadonlySet<string> = new Set([
  ...[...TABLES.values()].flatMap((t) => [...t.keys()]),
  'tiger', // lexed by racoon, defined in no class
]);

/** racoon spellings the registry lists under another racoon name. */
const REGISTRY_ALIASES: Readonly<Record<string, string>> = {
  aes_gmac: 'null_aes_gmac',
  sha2_384: 'sha384',
  sha2_512: 'sha512',
};

/** The registry's numbers for a racoon name of a class; null when the registry has no row. */
function registryNumbers(cls: AlgorithmClass, name: string): { ikev1: number | null; ikev2: number | null; sadb: number | null } | null {
  const key = REGISTRY_ALIASES[name] ?? name;
  const kind: AlgKind | null =
    cls === 'isakmp_enc' || cls === 'ipsec_enc'
      ? 'encr'
      : cls === 'isakmp_hash'
        ? 'hash'
        : cls === 'isakmp_dh'
          ? 'dh'
          : cls === 'ipsec_auth'
            ? 'integ'
            : cls === 'ipsec_comp'
              ? 'comp'
              : null;
  if (kind === null) return null;
  if (kind === 'hash') {
    const h = findAlgorithm('hash', 'racoon', key);
    if (!h) return null;
    // hash_algorithm names the PRF in IKEv2 (the HMAC over that hash)
    const prf = h.hmacPrf === null ? undefined : findAlgorithm('prf', 'id', h.hmacPrf);
    return { ikev1: h.ikev1, ikev2: prf?.ikev2 ?? null, sadb: null };
  }
  const row = findAlgorithm(kind, 'racoon', key);
  if (!row) return null;
  // phase 1 uses the IKEv1 attribute values, phase 2 the IPsec DOI values (RFC 2407)
  const v1 = cls === 'isakmp_enc' || cls === 'isakmp_dh' ? row.ikev1 : row.ipsecDoi;
  return { ikev1: v1, ikev2: cls === 'ipsec_comp' ? null : row.ikev2, sadb: cls.startsWith('ipsec_') ? row.sadb : null };
}

const resolved = new Map<string, RacoonAlgorithm | null>();

/**
 * The one place a racoon algorithm name becomes numbers. Returns null when the
 * name is not an algorithm of that class (racoon's algtype2doi() == -1).
 */
export function lookupRacoonAlgorithm(cls: AlgorithmClass, name: string): RacoonAlgorithm | null {
  const k = `${cls}:${name}`;
  const cached = resolved.get(k);
  if (cached !== undefined) return cached;
  const local = TABLES.get(cls)?.get(name) ?? null;
  let out: RacoonAlgorithm | null = local;
  if (local) {
    const reg = registryNumbers(cls, name);
    if (reg) out = Object.freeze({ ...local, ikev1: reg.ikev1, ikev2: reg.ikev2, sadb: reg.sadb });
  }
  resolved.set(k, out);
  return out;
}

/** DH group by number (cfparse.y num2dhgroup, plus the extension's 19/20/21/31/32). */
export function dhGroupByNumber(n: number): RacoonAlgorithm | null {
  const t = TABLES.get('isakmp_dh');
  if (!t) return null;
  for (const a of t.values()) if (a.ikev1 === n) return lookupRacoonAlgorithm('isakmp_dh', a.name);
  return null;
}

/** check_keylen(): true when `bits` is acceptable for the algorithm. */
export function keyLengthAllowed(alg: RacoonAlgorithm, bits: number): boolean {
  const kl = alg.keyLength;
  if (!kl) return false;
  return bits >= kl.minBits && bits <= kl.maxBits && (bits - kl.minBits) % kl.stepBits === 0;
}

/**
 * IKEv2 reading of a phase-1 proposal (the tanuki extension): `hash_algorithm`
 * names the PRF and, for a non-AEAD cipher, the integrity algorithm HMAC over
 * the same hash (RFC 7296 §3.3.2 transform types 2 and 3; RFC 4868 truncations).
 * Returns the IKEv2 transform IDs; integrity is null for AEAD ciphers.
 */
export function ikev2ProposalTransforms(
  encryption: RacoonAlgorithm,
  hash: RacoonAlgorithm,
): { readonly encr: number | null; readonly prf: number | null; readonly integ: number | null } {
  const integRow = encryption.aead ? undefined : findAlgorithm('integ', 'racoon', `hmac_${REGISTRY_ALIASES[hash.name] ?? hash.name}`);
  return { encr: encryption.ikev2, prf: hash.ikev2, integ: encryption.aead ? null : (integRow?.ikev2 ?? null) };
}
