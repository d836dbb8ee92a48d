/**
 * setkey algorithm names -> PF_KEY (Linux pfkeyv2.h) numbers and key sizes.
 *
 * The names are those of ipsec-tools' setkey lexer (token.l, S_ENCALG /
 * S_AUTHALG states, and the -C keywords); the dump names are those of
 * libipsec pfkey_dump.c (str_alg_enc / str_alg_auth / str_alg_comp), which
 * differ for a few (keyed-md5 dumps as "md5", hmac-sha2-256 as "hmac-sha256").
 * Key sizes are the kernel's (Linux af_key/xfrm_algo.c) accepted ranges,
 * which is what setkey's ipsec_check_keylen checks against after REGISTER.
 *
 * Rows marked `tanuki` are not in setkey's lexer; they are tanuki additions
 * for algorithms that have a Linux SADB number (AEADs, serpent).
 *
 * Every lookup goes through findSetkeyAlgorithm(); when the shared crypto
 * registry (src/crypto/registry.ts) is on main, that function is the one
 * place to switch over.
 */
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

const k = (min: number, max = min, step = 8) => ({ min, max, step });

const TABLE: readonly SetkeyAlgorithm[] = [
  // -E (token.l S_ENCALG)
  { kind: 'encrypt', name: 'des-cbc', sadb: SadbEalg.DESCBC, keyBits: k(64) },
  { kind: 'encrypt', name: '3des-cbc', sadb: SadbEalg.TRIPLEDESCBC, keyBits: k(192) },
  { kind: 'encrypt', name: 'null', sadb: SadbEalg.NULL },
  { kind: 'encrypt', name: 'simple', sadb: SadbEalg.NULL, obsolete: true },
  { kind: 'encrypt', name: 'blowfish-cbc', sadb: SadbEalg.BLOWFISHCBC, keyBits: k(40, 448) },
  { kind: 'encrypt', name: 'cast128-cbc', sadb: SadbEalg.CASTCBC, keyBits: k(40, 128) },
  { kind: 'encrypt', name: 'des-deriv', sadb: SadbEalg.DESCBC, keyBits: k(64), flags: SadbXSaFlag.DERIV, forbidsOld: true },
  { kind: 'encrypt', name: 'des-32iv', sadb: SadbEalg.DESCBC, keyBits: k(64), flags: SadbXSaFlag.IV4B, requiresOld: true },
  { kind: 'encrypt', name: 'twofish-cbc', sadb: SadbEalg.TWOFISHCBC, keyBits: k(128, 256, 64) },
  { kind: 'encrypt', name: 'aes-cbc', sadb: SadbEalg.AESCBC, keyBits: k(128, 256, 64) },
  { kind: 'encrypt', name: 'rijndael-cbc', sadb: SadbEalg.AESCBC, keyBits: k(128, 256, 64) },
  // RFC 3686: AES key + 32-bit nonce
  { kind: 'encrypt', name: 'aes-ctr', sadb: SadbEalg.AESCTR, keyBits: k(160, 288, 64) },
  { kind: 'encrypt', name: 'camellia-cbc', sadb: SadbEalg.CAMELLIACBC, keyBits: k(128, 256, 64) },
  // tanuki additions (Linux SADB numbers; key = AES key + 4-byte salt, RFC 4106 §8.1 / RFC 4309 §7.1 (3-byte salt) / RFC 4543 §3.2)
  { kind: 'encrypt', name: 'aes-gcm-16', sadb: SadbEalg.AES_GCM_ICV16, keyBits: k(160, 288, 64), tanuki: true },
  { kind: 'encrypt', name: 'aes-gcm-12', sadb: SadbEalg.AES_GCM_ICV12, keyBits: k(160, 288, 64), tanuki: true },
  { kind: 'encrypt', name: 'aes-gcm-8', sadb: SadbEalg.AES_GCM_ICV8, keyBits: k(160, 288, 64), tanuki: true },
  { kind: 'encrypt', name: 'aes-ccm-16', sadb: SadbEalg.AES_CCM_ICV16, keyBits: k(152, 280, 64), tanuki: true },
  { kind: 'encrypt', name: 'aes-ccm-12', sadb: SadbEalg.AES_CCM_ICV12, keyBits: k(152, 280, 64), tanuki: true },
  { kind: 'encrypt', name: 'aes-ccm-8', sadb: SadbEalg.AES_CCM_ICV8, keyBits: k(152, 280, 64), tanuki: true },
  { kind: 'encrypt', name: 'null-aes-gmac', sadb: SadbEalg.NULL_AES_GMAC, keyBits: k(160, 288, 64), tanuki: true },
  { kind: 'encrypt', name: 'serpent-cbc', sadb: SadbEalg.SERPENTCBC, keyBits: k(128, 256, 64), tanuki: true },

  // -A (token.l S_AUTHALG)
  { kind: 'auth', name: 'hmac-md5', sadb: SadbAalg.MD5HMAC, keyBits: k(128) },
  { kind: 'auth', name: 'hmac-sha1', sadb: SadbAalg.SHA1HMAC, keyBits: k(160) },
  { kind: 'auth', name: 'keyed-md5', sadb: SadbAalg.X_MD5, keyBits: k(128) },
  { kind: 'auth', name: 'keyed-sha1', sadb: SadbAalg.X_SHA, keyBits: k(160) },
  { kind: 'auth', name: 'hmac-sha2-256', sadb: SadbAalg.SHA2_256HMAC, keyBits: k(256) },
  { kind: 'auth', name: 'hmac-sha256', sadb: SadbAalg.SHA2_256HMAC, keyBits: k(256) },
  { kind: 'auth', name: 'hmac-sha2-384', sadb: SadbAalg.SHA2_384HMAC, keyBits: k(384) },
  { kind: 'auth', name: 'hmac-sha384', sadb: SadbAalg.SHA2_384HMAC, keyBits: k(384) },
  { kind: 'auth', name: 'hmac-sha2-512', sadb: SadbAalg.SHA2_512HMAC, keyBits: k(512) },
  { kind: 'auth', name: 'hmac-sha512', sadb: SadbAalg.SHA2_512HMAC, keyBits: k(512) },
  { kind: 'auth', name: 'hmac-ripemd160', sadb: SadbAalg.RIPEMD160HMAC, keyBits: k(160) },
  { kind: 'auth', name: 'aes-xcbc-mac', sadb: SadbAalg.AES_XCBC_MAC, keyBits: k(128) },
  {
    kind: 'auth',
    name: 'tcp-md5',
    sadb: -1,
    unsupportedReason: 'tcp-md5 (SADB_X_AALG_TCP_MD5) is a BSD-only PF_KEY algorithm; Linux has no number for it',
  },
  { kind: 'auth', name: 'null', sadb: SadbAalg.X_NULL },

  // -C (token.l, global keywords)
  { kind: 'comp', name: 'oui', sadb: SadbCalg.OUI },
  { kind: 'comp', name: 'deflate', sadb: SadbCalg.DEFLATE },
  { kind: 'comp', name: 'lzs', sadb: SadbCalg.LZS },
];

/** The one lookup of a setkey algorithm name (switch to src/crypto/registry.ts here). */
export function findSetkeyAlgorithm(kind: AlgorithmKind, name: string): SetkeyAlgorithm | undefined {
  return TABLE.find((row) => row.kind === kind && row.name === name);
}

export function setkeyAlgorithms(kind?: AlgorithmKind): readonly SetkeyAlgorithm[] {
  return kind ? TABLE.filter((r) => r.kind === kind) : TABLE;
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
