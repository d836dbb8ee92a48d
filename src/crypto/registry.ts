/**
 * The algorithm registry: one table per transform kind, one row per algorithm.
 *
 * Every number and every name an algorithm is known by appears here exactly once:
 *
 * | naming       | meaning                                                                                  |
 * |--------------|------------------------------------------------------------------------------------------|
 * | `ikev2`      | IANA IKEv2 Transform ID (RFC 7296 §3.3.2 and the IANA "IKEv2 Parameters" registry); for `hash` the RFC 7427 §7 hash algorithm id; for `comp` the IKEv2 IPCOMP_ID (RFC 7296 §3.10.1) |
 * | `ikev1`      | IKEv1 phase-1 attribute value (RFC 2409 App. A): `encr` attr 1, `hash` attr 2, `dh` attr 4 (Group Description) |
 * | `ipsecDoi`   | IPsec DOI (RFC 2407): `encr` ESP transform id §4.4.4, `integ` Authentication Algorithm attribute (class 5) §4.5, `comp` IPCOMP transform id §4.4.5, `dh` Group Description attribute (class 3) §4.5 |
 * | `sadb`       | Linux PF_KEY SADB_EALG_* / SADB_AALG_* / SADB_X_CALG_* (include/uapi/linux/pfkeyv2.h). `null` means Linux has no PF_KEY number |
 * | `setkey`     | ipsec-tools setkey(8) `-E` / `-A` / `-C` token                                             |
 * | `racoon`     | racoon.conf token (`proposal` phase-1 names, `sainfo` phase-2 names, `dh_group`/`pfs_group`) |
 * | `strongswan` | strongSwan proposal keyword (proposal_keywords_static.txt)                                 |
 * | `id`         | tanuki's own stable id                                                                   |
 *
 * A numeric field is `null` where the registry (or Linux) defines no value. Names are matched
 * case-insensitively. Names that upstream ipsec-tools does not have (tanuki additions, so that
 * AEADs and ECP groups can be configured the racoon way) are listed in `extensionNames`.
 *
 * `implemented` says whether tanuki has the primitive (src/crypto/{cipher,aead,mac,prf,dh}.ts).
 */

export type AlgKind = 'encr' | 'integ' | 'prf' | 'dh' | 'comp' | 'hash';
export type AlgNaming = 'ikev2' | 'ikev1' | 'ipsecDoi' | 'sadb' | 'setkey' | 'racoon' | 'strongswan' | 'id';

/** A registry number, or null where the registry / kernel defines none. */
export type AlgNumber = number | null;

interface AlgRowBase {
  /** tanuki id, e.g. 'aes-gcm-16'. */
  readonly id: string;
  /** The name the defining RFC / IANA registry uses, e.g. 'ENCR_AES_GCM_16'. */
  readonly rfcName: string;
  /** Defining document. */
  readonly spec: string;
  readonly implemented: boolean;
  readonly ikev2: AlgNumber;
  readonly ikev1: AlgNumber;
  readonly ipsecDoi: AlgNumber;
  readonly sadb: AlgNumber;
  readonly setkey: readonly string[];
  readonly racoon: readonly string[];
  readonly strongswan: readonly string[];
  /** Names in `setkey`/`racoon` that upstream ipsec-tools does not know (tanuki additions). */
  readonly extensionNames: readonly string[];
  readonly note?: string;
}

export type EncrMode = 'cbc' | 'ctr' | 'gcm' | 'ccm' | 'gmac' | 'chacha20-poly1305' | 'null' | 'legacy';

/** An ESP / IKE encryption transform (IKEv2 transform type 1). */
export interface EncrAlg extends AlgRowBase {
  readonly kind: 'encr';
  readonly mode: EncrMode;
  /** Allowed key lengths in bits, without the salt/nonce. */
  readonly keyBits: readonly number[];
  /** Key length used when none is negotiated (the only one when keyLengthAttribute is false). */
  readonly defaultKeyBits: number;
  /** Whether the IKE Key Length attribute (RFC 7296 §3.3.5, IKEv1 attr 14) is sent for it. */
  readonly keyLengthAttribute: boolean;
  /** Salt / nonce bytes appended to the key in KEYMAT (GCM/GMAC 4, CCM 3, CTR 4, ChaCha20-Poly1305 4). */
  readonly saltBytes: number;
  /** Cipher block size; 1 for counter-based modes. ESP pads to a multiple of max(blockBytes, 4). */
  readonly blockBytes: number;
  /** Explicit IV bytes carried in each packet. */
  readonly ivBytes: number;
  /** ICV bytes for AEADs, 0 otherwise. */
  readonly icvBytes: number;
  readonly aead: boolean;
  /** May protect an IKE SA (false for ENCR_NULL and NULL_AUTH_AES_GMAC, RFC 7296 §3.3.2 / RFC 4543 §5). */
  readonly ike: boolean;
  /** strongSwan keywords that carry a key length (e.g. aes256 → 256). */
  readonly strongswanKeyBits?: Readonly<Record<string, number>>;
}

export type IntegMode = 'hmac' | 'xcbc' | 'cmac' | 'gmac' | 'none' | 'legacy';

/** An ESP/AH/IKE integrity transform (IKEv2 transform type 3). */
export interface IntegAlg extends AlgRowBase {
  readonly kind: 'integ';
  readonly mode: IntegMode;
  /** IPsec DOI AH transform id (RFC 2407 §4.4.3), null where none. */
  readonly ahTransformId: AlgNumber;
  readonly keyBytes: number;
  /** Truncated ICV length on the wire. */
  readonly icvBytes: number;
  /** Untruncated MAC output length. */
  readonly fullBytes: number;
  /** node:crypto digest name for HMAC rows. */
  readonly digest?: string;
}

/** An IKE pseudo-random function (IKEv2 transform type 2). */
export interface PrfAlg extends AlgRowBase {
  readonly kind: 'prf';
  readonly mode: 'hmac' | 'xcbc' | 'cmac' | 'legacy';
  /** Output length, and the preferred key length (RFC 7296 §2.13). */
  readonly outBytes: number;
  readonly keyBytes: number;
  readonly digest?: string;
}

export type DhType = 'modp' | 'ecp' | 'curve25519' | 'curve448' | 'ec2n' | 'modp-subgroup' | 'ecp-brainpool';

/** A Diffie-Hellman group (IKEv2 transform type 4, IKEv1 Group Description). */
export interface DhGroup extends AlgRowBase {
  readonly kind: 'dh';
  readonly type: DhType;
  /** Prime / field size in bits. */
  readonly bits: number;
  /** Length of the KE payload data (RFC 7296 §3.4, RFC 5903 §7, RFC 8031 §3.1). */
  readonly keBytes: number;
  /** Length of the shared secret g^ir. */
  readonly sharedBytes: number;
  /** node:crypto curve name for ECP groups. */
  readonly curve?: string;
}

/** An IPComp transform (numbers only; no compressor is implemented). */
export interface CompAlg extends AlgRowBase {
  readonly kind: 'comp';
}

/** An IKEv1 hash algorithm (phase-1 attribute 2, RFC 2409 App. A); ikev2 is the RFC 7427 id. */
export interface HashAlg extends AlgRowBase {
  readonly kind: 'hash';
  readonly outBytes: number;
  readonly digest: string;
  /** The IKEv2 PRF row that is HMAC over this hash (what IKEv1 uses as its prf). */
  readonly hmacPrf: string | null;
}

export interface RowMap {
  encr: EncrAlg;
  integ: IntegAlg;
  prf: PrfAlg;
  dh: DhGroup;
  comp: CompAlg;
  hash: HashAlg;
}
export type RowOf<K extends AlgKind> = RowMap[K];

const none: readonly string[] = [];

// ---------------------------------------------------------------------------------------------
// encr — IKEv2 transform type 1 (RFC 7296 §3.3.2, IANA); IKEv1 attr 1 (RFC 2409 App. A, RFC 3602
// §5, RFC 4312); ESP transform ids (RFC 2407 §4.4.4, RFC 4106 §9, RFC 4309 §9, RFC 4543 §9);
// Linux SADB_EALG_* / SADB_X_EALG_* (pfkeyv2.h).
// ---------------------------------------------------------------------------------------------

interface EncrSpec {
  id: string;
  rfcName: string;
  spec: string;
  implemented: boolean;
  ikev2: AlgNumber;
  ikev1: AlgNumber;
  ipsecDoi: AlgNumber;
  sadb: AlgNumber;
  setkey?: readonly string[];
  racoon?: readonly string[];
  strongswan?: readonly string[];
  extensionNames?: readonly string[];
  mode: EncrMode;
  keyBits: readonly number[];
  keyLengthAttribute: boolean;
  saltBytes?: number;
  blockBytes: number;
  ivBytes: number;
  icvBytes?: number;
  ike: boolean;
  strongswanKeyBits?: Readonly<Record<string, number>>;
  note?: string;
}

function encr(s: EncrSpec): EncrAlg {
  return {
    kind: 'encr',
    id: s.id,
    rfcName: s.rfcName,
    spec: s.spec,
    implemented: s.implemented,
    ikev2: s.ikev2,
    ikev1: s.ikev1,
    ipsecDoi: s.ipsecDoi,
    sadb: s.sadb,
    setkey: s.setkey ?? none,
    racoon: s.racoon ?? none,
    strongswan: s.strongswan ?? none,
    extensionNames: s.extensionNames ?? none,
    mode: s.mode,
    keyBits: s.keyBits,
    defaultKeyBits: s.keyBits[0] ?? 0,
    keyLengthAttribute: s.keyLengthAttribute,
    saltBytes: s.saltBytes ?? 0,
    blockBytes: s.blockBytes,
    ivBytes: s.ivBytes,
    icvBytes: s.icvBytes ?? 0,
    aead: (s.icvBytes ?? 0) > 0,
    ike: s.ike,
    ...(s.strongswanKeyBits ? { strongswanKeyBits: s.strongswanKeyBits } : {}),
    ...(s.note ? { note: s.note } : {}),
  };
}

const AES_BITS = [128, 192, 256] as const;

/**
 * tanuki's private PF_KEY number for ESP ChaCha20-Poly1305 (RFC 7634). Linux defines none
 * (xfrm_algo.c: pfkey_supported = 0) and the BSDs disagree (OpenBSD 22 = Linux CAMELLIACBC,
 * others collide with Linux's 14–23 too), so the number comes from RFC 2367's private range
 * 249–255: 249 is KAME/FreeBSD SKIPJACK, 250 old FreeBSD AESCTR, 252/253 Linux SERPENT/TWOFISH;
 * 251 is used by none of Linux, FreeBSD, NetBSD, OpenBSD or KAME. The userspace kernel and
 * the XFRM backend (→ "rfc7539esp(chacha20,poly1305)") understand it; on a real AF_KEY kernel it means nothing.
 */
export const SADB_X_EALG_CHACHA20POLY1305_TANUKI = 251;

/** strongSwan's aes{128,192,256}<suffix> keywords (plus bare aliases). */
function aesKeywords(prefix: string, suffixes: readonly string[], bare?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const bits of AES_BITS) for (const suf of suffixes) out[`${prefix}${bits}${suf}`] = bits;
  if (bare !== undefined) out[bare] = 128;
  return out;
}

function aeadRow(
  base: 'gcm' | 'ccm',
  icv: 8 | 12 | 16,
  ikev2: number,
  doi: number,
  sadb: number,
): EncrAlg {
  const upper = base.toUpperCase();
  const icvBits = icv * 8;
  const ss = aesKeywords('aes', [`${base}${icv}`, `${base}${icvBits}`]);
  if (icv === 16) {
    for (const bits of AES_BITS) ss[`aes${bits}${base}`] = bits;
  }
  const setkey = `aes-${base}-${icv}`;
  const racoon = `aes_${base}_${icv}`;
  return encr({
    id: `aes-${base}-${icv}`,
    rfcName: `ENCR_AES_${upper}_${icv}`,
    spec: base === 'gcm' ? 'RFC 4106' : 'RFC 4309',
    implemented: true,
    ikev2,
    ikev1: null,
    ipsecDoi: doi,
    sadb,
    setkey: [setkey],
    racoon: [racoon],
    strongswan: Object.keys(ss),
    extensionNames: [setkey, racoon],
    mode: base,
    keyBits: AES_BITS,
    keyLengthAttribute: true,
    saltBytes: base === 'gcm' ? 4 : 3,
    blockBytes: 1,
    ivBytes: 8,
    icvBytes: icv,
    ike: true,
    strongswanKeyBits: ss,
  });
}

const ENCR: readonly EncrAlg[] = [
  encr({
    id: 'des-iv64', rfcName: 'ENCR_DES_IV64', spec: 'RFC 1827', implemented: false,
    ikev2: 1, ikev1: null, ipsecDoi: 1, sadb: null, racoon: ['des_iv64'],
    mode: 'legacy', keyBits: [64], keyLengthAttribute: false, blockBytes: 8, ivBytes: 8, ike: false,
    note: 'lexed by racoon, not implemented',
  }),
  encr({
    id: 'des-cbc', rfcName: 'ENCR_DES', spec: 'RFC 2405', implemented: true,
    ikev2: 2, ikev1: 1, ipsecDoi: 2, sadb: 2,
    setkey: ['des-cbc'], racoon: ['des'], strongswan: ['des'],
    mode: 'cbc', keyBits: [64], keyLengthAttribute: false, blockBytes: 8, ivBytes: 8, ike: true,
    note: 'single DES; OpenSSL 3 keeps it in the legacy provider, so tanuki uses node-forge',
  }),
  encr({
    id: '3des-cbc', rfcName: 'ENCR_3DES', spec: 'RFC 2451', implemented: true,
    ikev2: 3, ikev1: 5, ipsecDoi: 3, sadb: 3,
    setkey: ['3des-cbc'], racoon: ['3des'], strongswan: ['3des'],
    mode: 'cbc', keyBits: [192], keyLengthAttribute: false, blockBytes: 8, ivBytes: 8, ike: true,
  }),
  encr({
    id: 'rc5-cbc', rfcName: 'ENCR_RC5', spec: 'RFC 2451', implemented: false,
    ikev2: 4, ikev1: 4, ipsecDoi: 4, sadb: null, racoon: ['rc5'],
    mode: 'legacy', keyBits: [128], keyLengthAttribute: true, blockBytes: 8, ivBytes: 8, ike: true,
    note: 'lexed by racoon, not implemented',
  }),
  encr({
    id: 'idea-cbc', rfcName: 'ENCR_IDEA', spec: 'RFC 2451', implemented: false,
    ikev2: 5, ikev1: 2, ipsecDoi: 5, sadb: null, racoon: ['idea'],
    mode: 'legacy', keyBits: [128], keyLengthAttribute: false, blockBytes: 8, ivBytes: 8, ike: true,
    note: 'lexed by racoon, not implemented',
  }),
  encr({
    id: 'cast128-cbc', rfcName: 'ENCR_CAST', spec: 'RFC 2451', implemented: false,
    ikev2: 6, ikev1: 6, ipsecDoi: 6, sadb: 6,
    setkey: ['cast128-cbc'], racoon: ['cast128'], strongswan: ['cast128'],
    mode: 'legacy', keyBits: [128], keyLengthAttribute: true, blockBytes: 8, ivBytes: 8, ike: true,
    strongswanKeyBits: { cast128: 128 },
    note: 'lexed, not implemented (OpenSSL 3 legacy provider only)',
  }),
  encr({
    id: 'blowfish-cbc', rfcName: 'ENCR_BLOWFISH', spec: 'RFC 2451', implemented: false,
    ikev2: 7, ikev1: 3, ipsecDoi: 7, sadb: 7,
    setkey: ['blowfish-cbc'], racoon: ['blowfish'],
    strongswan: ['blowfish', 'blowfish128', 'blowfish192', 'blowfish256'],
    mode: 'legacy', keyBits: [128, 192, 256], keyLengthAttribute: true, blockBytes: 8, ivBytes: 8, ike: true,
    strongswanKeyBits: { blowfish: 128, blowfish128: 128, blowfish192: 192, blowfish256: 256 },
    note: 'lexed, not implemented (OpenSSL 3 legacy provider only)',
  }),
  encr({
    id: '3idea-cbc', rfcName: 'ENCR_3IDEA', spec: 'RFC 2407', implemented: false,
    ikev2: 8, ikev1: null, ipsecDoi: 8, sadb: null, racoon: ['3idea'],
    mode: 'legacy', keyBits: [384], keyLengthAttribute: false, blockBytes: 8, ivBytes: 8, ike: false,
    note: 'lexed by racoon, not implemented',
  }),
  encr({
    id: 'des-iv32', rfcName: 'ENCR_DES_IV32', spec: 'RFC 2407', implemented: false,
    ikev2: 9, ikev1: null, ipsecDoi: 9, sadb: null, racoon: ['des_iv32'],
    mode: 'legacy', keyBits: [64], keyLengthAttribute: false, blockBytes: 8, ivBytes: 4, ike: false,
    note: 'lexed by racoon, not implemented',
  }),
  encr({
    id: 'rc4', rfcName: 'ESP_RC4', spec: 'RFC 2407', implemented: false,
    ikev2: null, ikev1: null, ipsecDoi: 10, sadb: null, racoon: ['rc4'],
    mode: 'legacy', keyBits: [128], keyLengthAttribute: true, blockBytes: 1, ivBytes: 0, ike: false,
    note: 'IKEv2 value 10 is reserved; lexed by racoon, not implemented',
  }),
  encr({
    id: 'null', rfcName: 'ENCR_NULL', spec: 'RFC 2410', implemented: true,
    ikev2: 11, ikev1: null, ipsecDoi: 11, sadb: 11,
    setkey: ['null', 'simple'], racoon: ['null_enc', 'null'], strongswan: ['null'],
    mode: 'null', keyBits: [0], keyLengthAttribute: false, blockBytes: 1, ivBytes: 0, ike: false,
  }),
  encr({
    id: 'aes-cbc', rfcName: 'ENCR_AES_CBC', spec: 'RFC 3602', implemented: true,
    ikev2: 12, ikev1: 7, ipsecDoi: 12, sadb: 12,
    setkey: ['aes-cbc', 'rijndael-cbc'], racoon: ['aes', 'rijndael'],
    strongswan: ['aes', 'aes128', 'aes192', 'aes256'],
    mode: 'cbc', keyBits: AES_BITS, keyLengthAttribute: true, blockBytes: 16, ivBytes: 16, ike: true,
    strongswanKeyBits: aesKeywords('aes', [''], 'aes'),
  }),
  encr({
    id: 'aes-ctr', rfcName: 'ENCR_AES_CTR', spec: 'RFC 3686', implemented: true,
    ikev2: 13, ikev1: null, ipsecDoi: 13, sadb: 13,
    setkey: ['aes-ctr'], racoon: ['aes_ctr'], strongswan: ['aes128ctr', 'aes192ctr', 'aes256ctr'],
    extensionNames: ['aes_ctr'],
    mode: 'ctr', keyBits: AES_BITS, keyLengthAttribute: true, saltBytes: 4, blockBytes: 1, ivBytes: 8, ike: true,
    strongswanKeyBits: aesKeywords('aes', ['ctr']),
    note: 'KEYMAT = key || 4-byte nonce (RFC 3686 §5.1); Linux SADB key bits 160..288 include the nonce',
  }),
  aeadRow('ccm', 8, 14, 14, 14),
  aeadRow('ccm', 12, 15, 15, 15),
  aeadRow('ccm', 16, 16, 16, 16),
  aeadRow('gcm', 8, 18, 18, 18),
  aeadRow('gcm', 12, 19, 19, 19),
  aeadRow('gcm', 16, 20, 20, 20),
  encr({
    id: 'null-aes-gmac', rfcName: 'ENCR_NULL_AUTH_AES_GMAC', spec: 'RFC 4543', implemented: true,
    ikev2: 21, ikev1: null, ipsecDoi: 23, sadb: 23,
    setkey: ['aes-gmac', 'null-aes-gmac'], racoon: ['null_aes_gmac'],
    strongswan: ['aes128gmac', 'aes192gmac', 'aes256gmac'],
    extensionNames: ['aes-gmac', 'null-aes-gmac', 'null_aes_gmac'],
    mode: 'gmac', keyBits: AES_BITS, keyLengthAttribute: true, saltBytes: 4, blockBytes: 1, ivBytes: 8,
    icvBytes: 16, ike: false,
    strongswanKeyBits: aesKeywords('aes', ['gmac']),
    note: 'IKEv2 id 21 but ESP transform id 23 (RFC 4543 §9); authentication only, whole ESP payload is AAD',
  }),
  encr({
    id: 'camellia-cbc', rfcName: 'ENCR_CAMELLIA_CBC', spec: 'RFC 4312 / RFC 5529', implemented: true,
    ikev2: 23, ikev1: 8, ipsecDoi: 22, sadb: 22,
    setkey: ['camellia-cbc'], racoon: ['camellia'],
    strongswan: ['camellia', 'camellia128', 'camellia192', 'camellia256'],
    mode: 'cbc', keyBits: AES_BITS, keyLengthAttribute: true, blockBytes: 16, ivBytes: 16, ike: true,
    strongswanKeyBits: { camellia: 128, camellia128: 128, camellia192: 192, camellia256: 256 },
    note: 'RFC 4312 (IKEv1/ESP), RFC 5529 (IKEv2); OpenSSL camellia-*-cbc',
  }),
  encr({
    id: 'chacha20-poly1305', rfcName: 'ENCR_CHACHA20_POLY1305', spec: 'RFC 7634', implemented: true,
    ikev2: 28, ikev1: null, ipsecDoi: null, sadb: SADB_X_EALG_CHACHA20POLY1305_TANUKI,
    setkey: ['chacha20-poly1305'], racoon: ['chacha20_poly1305'], strongswan: ['chacha20poly1305'],
    extensionNames: ['chacha20-poly1305', 'chacha20_poly1305'],
    mode: 'chacha20-poly1305', keyBits: [256], keyLengthAttribute: false, saltBytes: 4, blockBytes: 1,
    ivBytes: 8, icvBytes: 16, ike: true,
    note: 'no IKEv1 / IPsec DOI number; Linux has no PF_KEY number (xfrm only: rfc7539esp, pfkey_supported = 0): sadb is tanuki-private 251',
  }),
  encr({
    id: 'twofish-cbc', rfcName: 'ENCR_TWOFISH_CBC', spec: 'ipsec-tools / Linux private', implemented: false,
    ikev2: null, ikev1: null, ipsecDoi: null, sadb: 253,
    setkey: ['twofish-cbc'], racoon: ['twofish'],
    strongswan: ['twofish', 'twofish128', 'twofish192', 'twofish256'],
    mode: 'legacy', keyBits: AES_BITS, keyLengthAttribute: true, blockBytes: 16, ivBytes: 16, ike: false,
    strongswanKeyBits: { twofish: 128, twofish128: 128, twofish192: 192, twofish256: 256 },
    note: 'no IANA number (strongSwan uses a private-use id); lexed, not implemented',
  }),
];

// ---------------------------------------------------------------------------------------------
// integ — IKEv2 transform type 3 (RFC 7296 §3.3.2, RFC 4868 §7, RFC 4494 §6, RFC 4543 §9);
// IPsec DOI Authentication Algorithm attribute and AH transform ids (RFC 2407 §4.5 / §4.4.3,
// RFC 4868 §7, RFC 3566 §6); Linux SADB_AALG_* / SADB_X_AALG_*.
// ---------------------------------------------------------------------------------------------

interface IntegSpec {
  id: string;
  rfcName: string;
  spec: string;
  implemented: boolean;
  ikev2: AlgNumber;
  ipsecDoi: AlgNumber;
  ahTransformId: AlgNumber;
  sadb: AlgNumber;
  setkey?: readonly string[];
  racoon?: readonly string[];
  strongswan?: readonly string[];
  extensionNames?: readonly string[];
  mode: IntegMode;
  keyBytes: number;
  icvBytes: number;
  fullBytes: number;
  digest?: string;
  note?: string;
}

function integ(s: IntegSpec): IntegAlg {
  return {
    kind: 'integ',
    id: s.id,
    rfcName: s.rfcName,
    spec: s.spec,
    implemented: s.implemented,
    ikev2: s.ikev2,
    ikev1: null,
    ipsecDoi: s.ipsecDoi,
    ahTransformId: s.ahTransformId,
    sadb: s.sadb,
    setkey: s.setkey ?? none,
    racoon: s.racoon ?? none,
    strongswan: s.strongswan ?? none,
    extensionNames: s.extensionNames ?? none,
    mode: s.mode,
    keyBytes: s.keyBytes,
    icvBytes: s.icvBytes,
    fullBytes: s.fullBytes,
    ...(s.digest ? { digest: s.digest } : {}),
    ...(s.note ? { note: s.note } : {}),
  };
}

const INTEG: readonly IntegAlg[] = [
  integ({
    id: 'none', rfcName: 'NONE', spec: 'RFC 7296 §3.3.2', implemented: true,
    ikev2: 0, ipsecDoi: null, ahTransformId: null, sadb: 0, racoon: ['non_auth'],
    mode: 'none', keyBytes: 0, icvBytes: 0, fullBytes: 0,
    note: 'no integrity transform (AEAD, or ESP without authentication); SADB_AALG_NONE',
  }),
  integ({
    id: 'hmac-md5-96', rfcName: 'AUTH_HMAC_MD5_96', spec: 'RFC 2403', implemented: true,
    ikev2: 1, ipsecDoi: 1, ahTransformId: 2, sadb: 2,
    setkey: ['hmac-md5'], racoon: ['hmac_md5'], strongswan: ['md5'],
    mode: 'hmac', keyBytes: 16, icvBytes: 12, fullBytes: 16, digest: 'md5',
  }),
  integ({
    id: 'hmac-sha1-96', rfcName: 'AUTH_HMAC_SHA1_96', spec: 'RFC 2404', implemented: true,
    ikev2: 2, ipsecDoi: 2, ahTransformId: 3, sadb: 3,
    setkey: ['hmac-sha1'], racoon: ['hmac_sha1'], strongswan: ['sha1', 'sha'],
    mode: 'hmac', keyBytes: 20, icvBytes: 12, fullBytes: 20, digest: 'sha1',
  }),
  integ({
    id: 'des-mac', rfcName: 'AUTH_DES_MAC', spec: 'RFC 2407', implemented: false,
    ikev2: 3, ipsecDoi: 3, ahTransformId: 4, sadb: null, racoon: ['des_mac'],
    mode: 'legacy', keyBytes: 8, icvBytes: 12, fullBytes: 8, note: 'lexed by racoon, not implemented',
  }),
  integ({
    id: 'kpdk-md5', rfcName: 'AUTH_KPDK_MD5', spec: 'RFC 1826', implemented: false,
    ikev2: 4, ipsecDoi: 4, ahTransformId: null, sadb: null, racoon: ['kpdk'],
    mode: 'legacy', keyBytes: 16, icvBytes: 16, fullBytes: 16, note: 'lexed by racoon, not implemented',
  }),
  integ({
    id: 'aes-xcbc-mac-96', rfcName: 'AUTH_AES_XCBC_96', spec: 'RFC 3566', implemented: true,
    ikev2: 5, ipsecDoi: 9, ahTransformId: 9, sadb: 9,
    setkey: ['aes-xcbc-mac'], racoon: ['aes_xcbc_mac'], strongswan: ['aesxcbc'],
    extensionNames: ['aes_xcbc_mac'],
    mode: 'xcbc', keyBytes: 16, icvBytes: 12, fullBytes: 16,
  }),
  integ({
    id: 'hmac-md5-128', rfcName: 'AUTH_HMAC_MD5_128', spec: 'RFC 4595', implemented: true,
    ikev2: 6, ipsecDoi: null, ahTransformId: null, sadb: null, strongswan: ['md5_128'],
    mode: 'hmac', keyBytes: 16, icvBytes: 16, fullBytes: 16, digest: 'md5',
    note: 'IKEv2 only (Fibre Channel); untruncated HMAC-MD5',
  }),
  integ({
    id: 'hmac-sha1-160', rfcName: 'AUTH_HMAC_SHA1_160', spec: 'RFC 4595', implemented: true,
    ikev2: 7, ipsecDoi: null, ahTransformId: null, sadb: null, strongswan: ['sha1_160'],
    mode: 'hmac', keyBytes: 20, icvBytes: 20, fullBytes: 20, digest: 'sha1',
    note: 'IKEv2 only; untruncated HMAC-SHA1',
  }),
  integ({
    id: 'aes-cmac-96', rfcName: 'AUTH_AES_CMAC_96', spec: 'RFC 4494', implemented: true,
    ikev2: 8, ipsecDoi: null, ahTransformId: null, sadb: null,
    setkey: ['aes-cmac'], racoon: ['aes_cmac'], strongswan: ['aescmac'],
    extensionNames: ['aes-cmac', 'aes_cmac'],
    mode: 'cmac', keyBytes: 16, icvBytes: 12, fullBytes: 16,
    note: 'no IKEv1 number; Linux has no PF_KEY number (xfrm cmac(aes), pfkey_supported = 0)',
  }),
  integ({
    id: 'aes-128-gmac', rfcName: 'AUTH_AES_128_GMAC', spec: 'RFC 4543', implemented: false,
    ikev2: 9, ipsecDoi: 11, ahTransformId: 11, sadb: null,
    mode: 'gmac', keyBytes: 20, icvBytes: 16, fullBytes: 16, note: 'AH GMAC; not implemented',
  }),
  integ({
    id: 'aes-192-gmac', rfcName: 'AUTH_AES_192_GMAC', spec: 'RFC 4543', implemented: false,
    ikev2: 10, ipsecDoi: 12, ahTransformId: 12, sadb: null,
    mode: 'gmac', keyBytes: 28, icvBytes: 16, fullBytes: 16, note: 'AH GMAC; not implemented',
  }),
  integ({
    id: 'aes-256-gmac', rfcName: 'AUTH_AES_256_GMAC', spec: 'RFC 4543', implemented: false,
    ikev2: 11, ipsecDoi: 13, ahTransformId: 13, sadb: null,
    mode: 'gmac', keyBytes: 36, icvBytes: 16, fullBytes: 16, note: 'AH GMAC; not implemented',
  }),
  integ({
    id: 'hmac-sha2-256-128', rfcName: 'AUTH_HMAC_SHA2_256_128', spec: 'RFC 4868', implemented: true,
    ikev2: 12, ipsecDoi: 5, ahTransformId: 5, sadb: 5,
    setkey: ['hmac-sha256', 'hmac-sha2-256'], racoon: ['hmac_sha256', 'hmac_sha2_256'],
    strongswan: ['sha256', 'sha2_256'],
    mode: 'hmac', keyBytes: 32, icvBytes: 16, fullBytes: 32, digest: 'sha256',
  }),
  integ({
    id: 'hmac-sha2-384-192', rfcName: 'AUTH_HMAC_SHA2_384_192', spec: 'RFC 4868', implemented: true,
    ikev2: 13, ipsecDoi: 6, ahTransformId: 6, sadb: 6,
    setkey: ['hmac-sha384', 'hmac-sha2-384'], racoon: ['hmac_sha384', 'hmac_sha2_384'],
    strongswan: ['sha384', 'sha2_384'],
    extensionNames: ['hmac_sha2_384'],
    mode: 'hmac', keyBytes: 48, icvBytes: 24, fullBytes: 48, digest: 'sha384',
  }),
  integ({
    id: 'hmac-sha2-512-256', rfcName: 'AUTH_HMAC_SHA2_512_256', spec: 'RFC 4868', implemented: true,
    ikev2: 14, ipsecDoi: 7, ahTransformId: 7, sadb: 7,
    setkey: ['hmac-sha512', 'hmac-sha2-512'], racoon: ['hmac_sha512', 'hmac_sha2_512'],
    strongswan: ['sha512', 'sha2_512'],
    extensionNames: ['hmac_sha2_512'],
    mode: 'hmac', keyBytes: 64, icvBytes: 32, fullBytes: 64, digest: 'sha512',
  }),
  integ({
    id: 'hmac-ripemd160-96', rfcName: 'HMAC-RIPEMD', spec: 'RFC 2857', implemented: false,
    ikev2: null, ipsecDoi: 8, ahTransformId: 8, sadb: 8, setkey: ['hmac-ripemd160'],
    mode: 'legacy', keyBytes: 20, icvBytes: 12, fullBytes: 20, note: 'no IKEv2 number; not implemented',
  }),
  integ({
    id: 'keyed-md5', rfcName: 'SADB_X_AALG_MD5', spec: 'RFC 1828 (KAME)', implemented: false,
    ikev2: null, ipsecDoi: null, ahTransformId: null, sadb: 249, setkey: ['keyed-md5'],
    mode: 'legacy', keyBytes: 16, icvBytes: 16, fullBytes: 16, note: 'KAME keyed MD5, setkey only; not implemented',
  }),
  integ({
    id: 'keyed-sha1', rfcName: 'SADB_X_AALG_SHA', spec: 'KAME', implemented: false,
    ikev2: null, ipsecDoi: null, ahTransformId: null, sadb: 250, setkey: ['keyed-sha1'],
    mode: 'legacy', keyBytes: 20, icvBytes: 20, fullBytes: 20, note: 'KAME keyed SHA1, setkey only; not implemented',
  }),
  integ({
    id: 'null-auth', rfcName: 'SADB_X_AALG_NULL', spec: 'KAME / Linux digest_null', implemented: true,
    ikev2: null, ipsecDoi: null, ahTransformId: null, sadb: 251, setkey: ['null'],
    mode: 'none', keyBytes: 0, icvBytes: 0, fullBytes: 0,
    note: 'setkey -A null: a zero-length ICV (Linux digest_null)',
  }),
];

// ---------------------------------------------------------------------------------------------
// prf — IKEv2 transform type 2 (RFC 7296 §3.3.2, RFC 4434, RFC 4615, RFC 4868 §7). IKEv1 has no
// PRF attribute values in use: it runs HMAC over the negotiated hash (see `hash.hmacPrf`).
// ---------------------------------------------------------------------------------------------

function prf(
  id: string, rfcName: string, spec: string, ikev2: number, strongswan: readonly string[],
  mode: PrfAlg['mode'], outBytes: number, digest: string | undefined, implemented = true,
): PrfAlg {
  return {
    kind: 'prf', id, rfcName, spec, implemented,
    ikev2, ikev1: null, ipsecDoi: null, sadb: null,
    setkey: none, racoon: none, strongswan, extensionNames: none,
    mode, outBytes, keyBytes: outBytes,
    ...(digest ? { digest } : {}),
  };
}

const PRF: readonly PrfAlg[] = [
  prf('prf-hmac-md5', 'PRF_HMAC_MD5', 'RFC 2104', 1, ['prfmd5'], 'hmac', 16, 'md5'),
  prf('prf-hmac-sha1', 'PRF_HMAC_SHA1', 'RFC 2104', 2, ['prfsha1'], 'hmac', 20, 'sha1'),
  prf('prf-hmac-tiger', 'PRF_HMAC_TIGER', 'RFC 7296', 3, [], 'legacy', 24, undefined, false),
  prf('prf-aes128-xcbc', 'PRF_AES128_XCBC', 'RFC 4434', 4, ['prfaesxcbc'], 'xcbc', 16, undefined),
  prf('prf-hmac-sha2-256', 'PRF_HMAC_SHA2_256', 'RFC 4868', 5, ['prfsha256'], 'hmac', 32, 'sha256'),
  prf('prf-hmac-sha2-384', 'PRF_HMAC_SHA2_384', 'RFC 4868', 6, ['prfsha384'], 'hmac', 48, 'sha384'),
  prf('prf-hmac-sha2-512', 'PRF_HMAC_SHA2_512', 'RFC 4868', 7, ['prfsha512'], 'hmac', 64, 'sha512'),
  prf('prf-aes128-cmac', 'PRF_AES128_CMAC', 'RFC 4615', 8, ['prfaescmac'], 'cmac', 16, undefined),
];

// ---------------------------------------------------------------------------------------------
// dh — IKEv2 transform type 4 (RFC 7296 §3.3.2, RFC 3526, RFC 5903, RFC 5114, RFC 6932, RFC 8031)
// and IKEv1 Group Description (RFC 2409 §6 / App. A; same numbers where registered).
// Linux PF_KEY has no DH numbers.
// ---------------------------------------------------------------------------------------------

interface DhSpec {
  id: string;
  rfcName: string;
  spec: string;
  implemented: boolean;
  ikev2: AlgNumber;
  ikev1: AlgNumber;
  racoon?: readonly string[];
  strongswan?: readonly string[];
  extensionNames?: readonly string[];
  type: DhType;
  bits: number;
  keBytes: number;
  sharedBytes: number;
  curve?: string;
  note?: string;
}

function dh(s: DhSpec): DhGroup {
  return {
    kind: 'dh',
    id: s.id,
    rfcName: s.rfcName,
    spec: s.spec,
    implemented: s.implemented,
    ikev2: s.ikev2,
    ikev1: s.ikev1,
    ipsecDoi: s.ikev1,
    sadb: null,
    setkey: none,
    racoon: s.racoon ?? none,
    strongswan: s.strongswan ?? none,
    extensionNames: s.extensionNames ?? none,
    type: s.type,
    bits: s.bits,
    keBytes: s.keBytes,
    sharedBytes: s.sharedBytes,
    ...(s.curve ? { curve: s.curve } : {}),
    ...(s.note ? { note: s.note } : {}),
  };
}

function modp(n: number, bits: number, spec: string, implemented = true): DhGroup {
  return dh({
    id: `modp${bits}`, rfcName: `MODP_${bits}`, spec, implemented, ikev2: n, ikev1: n,
    racoon: [`modp${bits}`], strongswan: [`modp${bits}`],
    type: 'modp', bits, keBytes: bits / 8, sharedBytes: bits / 8,
  });
}

const DH: readonly DhGroup[] = [
  modp(1, 768, 'RFC 2409 §6.1'),
  modp(2, 1024, 'RFC 2409 §6.2'),
  dh({
    id: 'ec2n155', rfcName: 'EC2N_155', spec: 'RFC 2409 §6.3', implemented: false, ikev2: null, ikev1: 3,
    racoon: ['ec2n155'], type: 'ec2n', bits: 155, keBytes: 20, sharedBytes: 20,
    note: 'IKEv1 only (IKEv2 value 3 is reserved); lexed by racoon, not implemented',
  }),
  dh({
    id: 'ec2n185', rfcName: 'EC2N_185', spec: 'RFC 2409 §6.4', implemented: false, ikev2: null, ikev1: 4,
    racoon: ['ec2n185'], type: 'ec2n', bits: 185, keBytes: 24, sharedBytes: 24,
    note: 'IKEv1 only (IKEv2 value 4 is reserved); lexed by racoon, not implemented',
  }),
  modp(5, 1536, 'RFC 3526 §2'),
  modp(14, 2048, 'RFC 3526 §3'),
  modp(15, 3072, 'RFC 3526 §4'),
  modp(16, 4096, 'RFC 3526 §5'),
  modp(17, 6144, 'RFC 3526 §6'),
  modp(18, 8192, 'RFC 3526 §7'),
  dh({
    id: 'ecp256', rfcName: 'ECP_256', spec: 'RFC 5903', implemented: true, ikev2: 19, ikev1: 19,
    racoon: ['ecp256'], strongswan: ['ecp256'], extensionNames: ['ecp256'],
    type: 'ecp', bits: 256, keBytes: 64, sharedBytes: 32, curve: 'prime256v1',
  }),
  dh({
    id: 'ecp384', rfcName: 'ECP_384', spec: 'RFC 5903', implemented: true, ikev2: 20, ikev1: 20,
    racoon: ['ecp384'], strongswan: ['ecp384'], extensionNames: ['ecp384'],
    type: 'ecp', bits: 384, keBytes: 96, sharedBytes: 48, curve: 'secp384r1',
  }),
  dh({
    id: 'ecp521', rfcName: 'ECP_521', spec: 'RFC 5903', implemented: true, ikev2: 21, ikev1: 21,
    racoon: ['ecp521'], strongswan: ['ecp521'], extensionNames: ['ecp521'],
    type: 'ecp', bits: 521, keBytes: 132, sharedBytes: 66, curve: 'secp521r1',
  }),
  dh({
    id: 'modp1024s160', rfcName: 'MODP_1024_160', spec: 'RFC 5114 §2.1', implemented: false, ikev2: 22, ikev1: 22,
    strongswan: ['modp1024s160'], type: 'modp-subgroup', bits: 1024, keBytes: 128, sharedBytes: 128,
    note: 'deprecated (RFC 8247); not implemented',
  }),
  dh({
    id: 'modp2048s224', rfcName: 'MODP_2048_224', spec: 'RFC 5114 §2.2', implemented: false, ikev2: 23, ikev1: 23,
    strongswan: ['modp2048s224'], type: 'modp-subgroup', bits: 2048, keBytes: 256, sharedBytes: 256,
    note: 'deprecated (RFC 8247); not implemented',
  }),
  dh({
    id: 'modp2048s256', rfcName: 'MODP_2048_256', spec: 'RFC 5114 §2.3', implemented: false, ikev2: 24, ikev1: 24,
    strongswan: ['modp2048s256'], type: 'modp-subgroup', bits: 2048, keBytes: 256, sharedBytes: 256,
    note: 'deprecated (RFC 8247); not implemented',
  }),
  dh({
    id: 'ecp192', rfcName: 'ECP_192', spec: 'RFC 5114 §2.4', implemented: false, ikev2: 25, ikev1: 25,
    strongswan: ['ecp192'], type: 'ecp', bits: 192, keBytes: 48, sharedBytes: 24, note: 'not implemented',
  }),
  dh({
    id: 'ecp224', rfcName: 'ECP_224', spec: 'RFC 5114 §2.5', implemented: false, ikev2: 26, ikev1: 26,
    strongswan: ['ecp224'], type: 'ecp', bits: 224, keBytes: 56, sharedBytes: 28, note: 'not implemented',
  }),
  dh({
    id: 'ecp224bp', rfcName: 'ECP_224_BP', spec: 'RFC 6954', implemented: false, ikev2: 27, ikev1: 27,
    strongswan: ['ecp224bp'], type: 'ecp-brainpool', bits: 224, keBytes: 56, sharedBytes: 28, note: 'not implemented',
  }),
  dh({
    id: 'ecp256bp', rfcName: 'ECP_256_BP', spec: 'RFC 6954', implemented: false, ikev2: 28, ikev1: 28,
    strongswan: ['ecp256bp'], type: 'ecp-brainpool', bits: 256, keBytes: 64, sharedBytes: 32, note: 'not implemented',
  }),
  dh({
    id: 'ecp384bp', rfcName: 'ECP_384_BP', spec: 'RFC 6954', implemented: false, ikev2: 29, ikev1: 29,
    strongswan: ['ecp384bp'], type: 'ecp-brainpool', bits: 384, keBytes: 96, sharedBytes: 48, note: 'not implemented',
  }),
  dh({
    id: 'ecp512bp', rfcName: 'ECP_512_BP', spec: 'RFC 6954', implemented: false, ikev2: 30, ikev1: 30,
    strongswan: ['ecp512bp'], type: 'ecp-brainpool', bits: 512, keBytes: 128, sharedBytes: 64, note: 'not implemented',
  }),
  dh({
    id: 'curve25519', rfcName: 'Curve25519', spec: 'RFC 8031', implemented: true, ikev2: 31, ikev1: null,
    racoon: ['curve25519'], strongswan: ['curve25519', 'x25519'], extensionNames: ['curve25519'],
    type: 'curve25519', bits: 255, keBytes: 32, sharedBytes: 32,
    note: 'no IKEv1 group description registered',
  }),
  dh({
    id: 'curve448', rfcName: 'Curve448', spec: 'RFC 8031', implemented: true, ikev2: 32, ikev1: null,
    racoon: ['curve448'], strongswan: ['curve448', 'x448'], extensionNames: ['curve448'],
    type: 'curve448', bits: 448, keBytes: 56, sharedBytes: 56,
    note: 'no IKEv1 group description registered',
  }),
];

// ---------------------------------------------------------------------------------------------
// comp — IPComp (RFC 3173): IPsec DOI IPCOMP transform ids (RFC 2407 §4.4.5), IKEv2 IPCOMP_ID
// (RFC 7296 §3.10.1), Linux SADB_X_CALG_*. Numbers only: no compressor is implemented.
// ---------------------------------------------------------------------------------------------

function comp(id: string, rfcName: string, spec: string, n: number, setkey: readonly string[], racoon: readonly string[]): CompAlg {
  return {
    kind: 'comp', id, rfcName, spec, implemented: false,
    ikev2: n, ikev1: null, ipsecDoi: n, sadb: n,
    setkey, racoon, strongswan: none, extensionNames: none,
    note: 'IPComp numbers only; no compressor in tanuki',
  };
}

const COMP: readonly CompAlg[] = [
  comp('oui', 'IPCOMP_OUI', 'RFC 2407 §4.4.5', 1, ['oui'], ['oui']),
  comp('deflate', 'IPCOMP_DEFLATE', 'RFC 2394', 2, ['deflate'], ['deflate']),
  comp('lzs', 'IPCOMP_LZS', 'RFC 2395', 3, ['lzs'], ['lzs']),
  comp('lzjh', 'IPCOMP_LZJH', 'RFC 3051', 4, [], []),
];

// ---------------------------------------------------------------------------------------------
// hash — IKEv1 phase-1 Hash Algorithm attribute (class 2; RFC 2409 App. A, RFC 4868 §7 adds
// SHA2 4/5/6). `ikev2` carries the RFC 7427 §7 hash id (SIGNATURE_HASH_ALGORITHMS).
// strongSwan names IKEv1 hashes with its integrity keywords.
// ---------------------------------------------------------------------------------------------

function hash(
  id: string, rfcName: string, spec: string, ikev1: number, ikev2: AlgNumber, outBytes: number,
  digest: string, racoon: readonly string[], strongswan: readonly string[], hmacPrf: string | null,
  implemented = true,
): HashAlg {
  return {
    kind: 'hash', id, rfcName, spec, implemented,
    ikev2, ikev1, ipsecDoi: null, sadb: null,
    setkey: none, racoon, strongswan, extensionNames: none,
    outBytes, digest, hmacPrf,
  };
}

const HASH: readonly HashAlg[] = [
  hash('md5', 'MD5', 'RFC 1321', 1, null, 16, 'md5', ['md5'], ['md5'], 'prf-hmac-md5'),
  hash('sha1', 'SHA', 'FIPS 180-4', 2, 1, 20, 'sha1', ['sha1'], ['sha1', 'sha'], 'prf-hmac-sha1'),
  hash('tiger', 'Tiger', 'RFC 2409', 3, null, 24, 'tiger', [], [], null, false),
  hash('sha256', 'SHA2-256', 'RFC 4868', 4, 2, 32, 'sha256', ['sha256', 'sha2_256'], ['sha256', 'sha2_256'], 'prf-hmac-sha2-256'),
  hash('sha384', 'SHA2-384', 'RFC 4868', 5, 3, 48, 'sha384', ['sha384'], ['sha384', 'sha2_384'], 'prf-hmac-sha2-384'),
  hash('sha512', 'SHA2-512', 'RFC 4868', 6, 4, 64, 'sha512', ['sha512'], ['sha512', 'sha2_512'], 'prf-hmac-sha2-512'),
];

// ---------------------------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------------------------

const TABLES: { readonly [K in AlgKind]: readonly RowOf<K>[] } = {
  encr: ENCR,
  integ: INTEG,
  prf: PRF,
  dh: DH,
  comp: COMP,
  hash: HASH,
};

export const ALG_KINDS: readonly AlgKind[] = ['encr', 'integ', 'prf', 'dh', 'comp', 'hash'];
export const ALG_NAMINGS: readonly AlgNaming[] = ['ikev2', 'ikev1', 'ipsecDoi', 'sadb', 'setkey', 'racoon', 'strongswan', 'id'];
const NUMERIC_NAMINGS: ReadonlySet<AlgNaming> = new Set(['ikev2', 'ikev1', 'ipsecDoi', 'sadb']);

type AnyRow = RowOf<AlgKind>;

/** Every key a row answers to under one naming (numbers as decimal text, names lower-cased). */
export function keysOf(row: AnyRow, naming: AlgNaming): readonly string[] {
  switch (naming) {
    case 'id':
      return [row.id];
    case 'ikev2':
    case 'ikev1':
    case 'ipsecDoi':
    case 'sadb': {
      const n = row[naming];
      return n === null ? [] : [String(n)];
    }
    case 'setkey':
    case 'racoon':
    case 'strongswan':
      return row[naming].map((s) => s.toLowerCase());
  }
}

const indexes = new Map<string, Map<string, AnyRow>>();

function indexFor(kind: AlgKind, naming: AlgNaming): Map<string, AnyRow> {
  const cacheKey = `${kind}/${naming}`;
  let idx = indexes.get(cacheKey);
  if (!idx) {
    idx = new Map();
    for (const row of TABLES[kind] as readonly AnyRow[]) {
      for (const k of keysOf(row, naming)) if (!idx.has(k)) idx.set(k, row);
    }
    indexes.set(cacheKey, idx);
  }
  return idx;
}

function normaliseKey(naming: AlgNaming, key: string | number): string | undefined {
  if (NUMERIC_NAMINGS.has(naming)) {
    if (typeof key === 'number') return Number.isInteger(key) ? String(key) : undefined;
    const t = key.trim();
    if (/^[0-9]+$/.test(t)) return String(parseInt(t, 10));
    if (/^0x[0-9a-f]+$/i.test(t)) return String(parseInt(t.slice(2), 16));
    return undefined;
  }
  return String(key).toLowerCase();
}

/** Find the row of `kind` known as `key` under `naming`; undefined if there is none. */
export function findAlgorithm<K extends AlgKind>(kind: K, naming: AlgNaming, key: string | number): RowOf<K> | undefined {
  const k = normaliseKey(naming, key);
  if (k === undefined) return undefined;
  return indexFor(kind, naming).get(k) as RowOf<K> | undefined;
}

/** All rows of one kind, in registry order. */
export function algorithmsOf<K extends AlgKind>(kind: K): readonly RowOf<K>[] {
  return TABLES[kind];
}

/** Look a row up by its tanuki id; throws if the id is unknown (a programming error, not input). */
export function algorithmById<K extends AlgKind>(kind: K, id: string): RowOf<K> {
  const row = findAlgorithm(kind, 'id', id);
  if (!row) throw new RangeError(`no ${kind} algorithm with id '${id}'`);
  return row;
}

/** The key length a strongSwan keyword implies (aes256 → 256, aes128gcm16 → 128); undefined if none. */
export function strongswanKeyBits(row: EncrAlg, keyword: string): number | undefined {
  return row.strongswanKeyBits?.[keyword.toLowerCase()];
}

/** KEYMAT bytes an ESP/IKE encryption transform consumes: key plus salt/nonce (RFC 7296 §2.17, RFC 4106 §8.1). */
export function keymatBytes(alg: EncrAlg, keyBits: number = alg.defaultKeyBits): number {
  return keyBits / 8 + alg.saltBytes;
}

/** Whether `keyBits` is an allowed key length for `alg`. */
export function isValidKeyBits(alg: EncrAlg, keyBits: number): boolean {
  return alg.keyBits.includes(keyBits);
}
