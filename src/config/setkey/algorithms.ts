/**
 * setkey algorithm names -> PF_KEY (Linux pfkeyv2.h) numbers and key sizes.
 *
 * The names are those of ipsec-tools' setkey lexer (token.l, S_ENCALG /
 * S_AUTHALG states, and the -C keywords); the dump names are those of
 * libipsec pfkey_dump.c (str_alg_enc / str_alg_auth / str_alg_comp), which
 * differ for a few (keyed-md5 dumps as "md5", hmac-sha2-256 as "hmac-sha256").
 * Key sizes are the registry's (what tanuki's data plane implements), plus
 * the salt/nonce for counter and AEAD modes.
 *
 * Names marked `tanuki` are not in setkey's lexer; they are tanuki additions
 * for algorithms that have a Linux SADB number (AES-GCM/CCM/GMAC).
 *
 * Numbers, names and key sizes come from the shared algorithm registry
 * (src/crypto/registry.ts); this file adds setkey's special tokens and the
 * pfkey_dump names.
 */
import { SADB_X_EALG_CHACHA20POLY1305_TANUKI, algorithmsOf, findAlgorithm } from '../../crypto/registry';
import { SadbAalg, SadbCalg, SadbEalg } from '../../pfkey/constants';

export type AlgorithmKind = 'auth' | 'encrypt' | 'comp';

export interface SetkeyAlgorithm {
  kind: AlgorithmKind;
  /** The name as written in a setkey script. */
  name: string;
  /** sadb_sa_auth / sadb_sa_encrypt value. */
  sadb: number;
  /** Accepted key lengths in bits (inclusive range); absent when the algorithm takes no key. */
  keyBits?: { min: number; max: number; step: number };
  /** Extra sadb_sa_flags the name implies (des-deriv, des-32iv). */
  flags?: number;
  /** Flags this name requires to be set/clear in the SA (des-32iv needs esp-old). */
  requiresOld?: boolean;
  forbidsOld?: boolean;
  /** "simple": accepted with "WARNING: obsolete algorithm". */
  obsolete?: boolean;
  /** Not in ipsec-tools' lexer: a tanuki addition. */
  tanuki?: boolean;
  /** BSD-only name that setkey on Linux does not accept. */
  unsupportedReason?: string;
}

/** KAME sadb_sa_flags bits (netinet6/ipsec.h, net/pfkeyv2.h SADB_X_EXT_*), used by setkey -f and -E des-*. */
export const SadbXSaFlag = {
  OLD: 0x0001,
  IV4B: 0x0010,
  DERIV: 0x0020,
  CYCSEQ: 0x0040,
  RAWCPI: 0x0080,
  PSEQ: 0x0000,
  PRAND: 0x0100,
  PZERO: 0x0200,
  PMASK: 0x0300,
} as const;

/** setkey names whose meaning is more than a registry row (token.l special tokens). */
const SPECIAL: readonly SetkeyAlgorithm[] = [
  // des-deriv / des-32iv: DES with KAME flags (ALG_ENC_DESDERIV / ALG_ENC_DES32IV)
  { kind: 'encrypt', name: 'des-deriv', sadb: SadbEalg.DESCBC, keyBits: { min: 64, max: 64, step: 8 }, flags: SadbXSaFlag.DERIV, forbidsOld: true },
  { kind: 'encrypt', name: 'des-32iv', sadb: SadbEalg.DESCBC, keyBits: { min: 64, max: 64, step: 8 }, flags: SadbXSaFlag.IV4B, requiresOld: true },
  // simple: ALG_ENC_OLD, null encryption with "WARNING: obsolete algorithm"
  { kind: 'encrypt', name: 'simple', sadb: SadbEalg.NULL, obsolete: true },
  {
    kind: 'auth',
    name: 'tcp-md5',
    sadb: -1,
    unsupportedReason: 'tcp-md5 (SADB_X_AALG_TCP_MD5) is a BSD-only PF_KEY algorithm; Linux has no number for it',
  },
];

const REGISTRY_KIND = { encrypt: 'encr', auth: 'integ', comp: 'comp' } as const;

/** Key lengths as a range: the registry's lengths plus the salt/nonce the SA key carries (RFC 3686 §5.1, RFC 4106 §8.1, RFC 4309 §7.1, RFC 4543 §3.2). */
function keyRange(bits: readonly number[], saltBits: number): { min: number; max: number; step: number } | undefined {
  const all = bits.filter((b) => b > 0).map((b) => b + saltBits);
  if (all.length === 0) return undefined;
  const min = Math.min(...all);
  const max = Math.max(...all);
  const step = all.length > 1 ? (max - min) / (all.length - 1) : 8;
  // the registry lists evenly spaced sizes (e.g. AES 128/192/256); the step check relies on that
  return { min, max, step: Number.isInteger(step) && step > 0 ? step : 8 };
}

/**
 * The one lookup of a setkey algorithm name: the special tokens above, then
 * the shared algorithm registry (src/crypto/registry.ts, naming 'setkey').
 * Names are case-sensitive like setkey's lexer.
 */
export function findSetkeyAlgorithm(kind: AlgorithmKind, name: string): SetkeyAlgorithm | undefined {
  const special = SPECIAL.find((r) => r.kind === kind && r.name === name);
  if (special) return special;
  const row = findAlgorithm(REGISTRY_KIND[kind], 'setkey', name);
  if (!row || !row.setkey.includes(name)) return undefined;
  const tanuki = row.extensionNames.includes(name);
  if (row.sadb === null) {
    return {
      kind,
      name,
      sadb: -1,
      tanuki,
      unsupportedReason: `${name} has no Linux PF_KEY (SADB) algorithm number, so it cannot be installed through PF_KEY`,
    };
  }
  const out: SetkeyAlgorithm = { kind, name, sadb: row.sadb, tanuki };
  if (row.kind === 'encr') {
    const range = keyRange(row.keyBits, row.saltBytes * 8);
    if (range) out.keyBits = range;
  } else if (row.kind === 'integ') {
    if (row.keyBytes > 0) out.keyBits = { min: row.keyBytes * 8, max: row.keyBytes * 8, step: 8 };
  }
  return out;
}

/** Every name setkey accepts (for documentation and tests). */
export function setkeyAlgorithmNames(kind: AlgorithmKind): string[] {
  const names = new Set<string>(SPECIAL.filter((r) => r.kind === kind).map((r) => r.name));
  for (const row of algorithmsOf(REGISTRY_KIND[kind])) for (const n of row.setkey) names.add(n);
  return [...names];
}

/**
 * Names used when dumping (libipsec pfkey_dump.c str_alg_*). Numbers not
 * listed print as "%u " like GETMSGV2S does.
 */
const DUMP_NAMES: Record<AlgorithmKind, ReadonlyMap<number, string>> = {
  auth: new Map<number, string>([
    [SadbAalg.NONE, 'none'],
    [SadbAalg.MD5HMAC, 'hmac-md5'],
    [SadbAalg.SHA1HMAC, 'hmac-sha1'],
    [SadbAalg.X_MD5, 'md5'],
    [SadbAalg.X_SHA, 'sha'],
    [SadbAalg.X_NULL, 'null'],
    [SadbAalg.SHA2_256HMAC, 'hmac-sha256'],
    [SadbAalg.SHA2_384HMAC, 'hmac-sha384'],
    [SadbAalg.SHA2_512HMAC, 'hmac-sha512'],
    [SadbAalg.RIPEMD160HMAC, 'hmac-ripemd160'],
    [SadbAalg.AES_XCBC_MAC, 'aes-xcbc-mac'],
  ]),
  encrypt: new Map<number, string>([
    [SadbEalg.NONE, 'none'],
    [SadbEalg.DESCBC, 'des-cbc'],
    [SadbEalg.TRIPLEDESCBC, '3des-cbc'],
    [SadbEalg.NULL, 'null'],
    [SadbEalg.CASTCBC, 'cast128-cbc'],
    [SadbEalg.BLOWFISHCBC, 'blowfish-cbc'],
    [SadbEalg.AESCBC, 'aes-cbc'],
    [SadbEalg.TWOFISHCBC, 'twofish-cbc'],
    [SadbEalg.AESCTR, 'aes-ctr'],
    [SadbEalg.CAMELLIACBC, 'camellia-cbc'],
    // tanuki-private number (src/crypto/registry.ts); pfkey_dump knows no name for it
    [SADB_X_EALG_CHACHA20POLY1305_TANUKI, 'chacha20-poly1305'],
  ]),
  comp: new Map<number, string>([
    [SadbCalg.NONE, 'none'],
    [SadbCalg.OUI, 'oui'],
    [SadbCalg.DEFLATE, 'deflate'],
    [SadbCalg.LZS, 'lzs'],
  ]),
};

/** pfkey_dump's name for an algorithm number, or the decimal number. */
export function dumpAlgorithmName(kind: AlgorithmKind, id: number): string {
  return DUMP_NAMES[kind].get(id) ?? String(id);
}
