/**
 * The PF_KEYv2 message model: what every part of tanuki sends to and receives
 * from "the kernel". One interface per RFC 2367 / Linux extension; the codec
 * (codec.ts) holds the single table that maps each of them to bytes.
 *
 * Conventions
 * - Numbers are host values. The codec writes the wire byte order (the SPI and
 *   ports in network order, everything else little-endian host order as Linux
 *   x86_64/arm64 does).
 * - 64-bit counters are bigint.
 * - Binary blobs are Buffer.
 * - Optional fields are omitted (not undefined) when absent, so that
 *   decode(encode(m)) deep-equals m.
 */
import type {
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  NatTType,
  SadbMsgType,
  SadbSaState,
  SadbSaType,
} from './constants';

/** A socket address as Linux lays out sockaddr_in / sockaddr_in6 (no sa_len). */
export interface SockAddr {
  family: 2 | 10; // AF_INET | AF_INET6
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
  address: string;
  port: number;
  /** IPv6 only, omitted when zero. */
  flowinfo?: number;
  /** IPv6 only, omitted when zero. */
  scopeId?: number;
}

/** RFC 2367 §2.3.3 sadb_sa. */
export interface SadbSa {
  spi: number; // u32, network order on the wire
  replay: number; // window size in packets (u8; Linux: bytes for -r in setkey are converted by the tool)
  state: SadbSaState;
  auth: number; // SadbAalg
  encrypt: number; // SadbEalg or SadbCalg for IPComp
  flags: number;
}

/** RFC 2367 §2.3.3 sadb_lifetime (CURRENT/HARD/SOFT). */
export interface SadbLifetime {
  allocations: number;
  bytes: bigint;
  addtime: bigint; // seconds (absolute time for CURRENT, duration for HARD/SOFT)
  usetime: bigint;
}

/** RFC 2367 §2.3.3 sadb_address. */
export interface SadbAddress {
  proto: number; // upper-layer protocol, 255 (IPSEC_ULPROTO_ANY) = any
  prefixlen: number;
  addr: SockAddr;
}

/** RFC 2367 §2.3.3 sadb_key. */
export interface SadbKey {
  bits: number;
  key: Buffer; // ceil(bits/8) bytes
}

/** RFC 2367 §2.3.3 sadb_ident. */
export interface SadbIdent {
  type: number; // SADB_IDENTTYPE_*
  id: bigint;
  /** The identity string without the NUL padding. */
  data: Buffer;
}

/** RFC 2367 §2.3.3 sadb_sens. */
export interface SadbSens {
  dpd: number;
  sensLevel: number;
  integLevel: number;
  sensBitmap: bigint[]; // sens_len 64-bit words
  integBitmap: bigint[];
}

/** RFC 2367 §2.3.3 sadb_comb (72 bytes on Linux). */
export interface SadbComb {
  auth: number;
  encrypt: number;
  flags: number;
  authMinbits: number;
  authMaxbits: number;
  encryptMinbits: number;
  encryptMaxbits: number;
  softAllocations: number;
  hardAllocations: number;
  softBytes: bigint;
  hardBytes: bigint;
  softAddtime: bigint;
  hardAddtime: bigint;
  softUsetime: bigint;
  hardUsetime: bigint;
}

/** RFC 2367 §2.3.3 sadb_prop. */
export interface SadbProp {
  replay: number;
  combs: SadbComb[];
}

/** RFC 2367 §2.3.3 sadb_alg. */
export interface SadbAlg {
  id: number;
  ivlen: number;
  minbits: number;
  maxbits: number;
}

/** RFC 2367 §2.3.3 sadb_supported (SUPPORTED_AUTH / SUPPORTED_ENCRYPT). */
export interface SadbSupported {
  algs: SadbAlg[];
}

/** RFC 2367 §2.3.3 sadb_spirange. */
export interface SadbSpirange {
  min: number;
  max: number;
}

/** KAME sadb_x_kmprivate. */
export interface SadbXKmprivate {
  reserved: number;
}

/** Linux sadb_x_ipsecrequest (16 bytes + sockaddr pair, len in bytes). */
export interface SadbXIpsecRequest {
  proto: number; // IPPROTO_ESP / AH / COMP
  mode: IpsecMode;
  level: IpsecLevel;
  reqid: number;
  /** Tunnel endpoints; both present or both absent. */
  src?: SockAddr;
  dst?: SockAddr;
}

/** Linux sadb_x_policy (16 bytes) followed by its ipsecrequests. */
export interface SadbXPolicy {
  type: IpsecPolicyType;
  dir: IpsecDir;
  id: number;
  priority: number;
  requests: SadbXIpsecRequest[];
}

/** Linux sadb_x_sa2. */
export interface SadbXSa2 {
  mode: IpsecMode;
  sequence: number;
  reqid: number;
}

/** Linux sadb_x_nat_t_type. */
export interface SadbXNatTType {
  type: NatTType;
}

/** Linux sadb_x_nat_t_port (port in network order on the wire). */
export interface SadbXNatTPort {
  port: number;
}

/** Linux sadb_x_sec_ctx. */
export interface SadbXSecCtx {
  alg: number;
  doi: number;
  ctx: Buffer;
}

/** sadb_x_kmaddress (draft-ebalard-mext-pfkey-enhanced-migrate): local first. */
export interface SadbXKmaddress {
  local: SockAddr;
  remote: SockAddr;
}

/** Linux sadb_x_filter (dump filter by address prefix). */
export interface SadbXFilter {
  family: 2 | 10;
  saddr: string;
  daddr: string;
  splen: number;
  dplen: number;
}

/** Every extension a message may carry, keyed by its RFC name. */
export interface PfKeyExtensions {
  sa?: SadbSa;
  lifetimeCurrent?: SadbLifetime;
  lifetimeHard?: SadbLifetime;
  lifetimeSoft?: SadbLifetime;
  addressSrc?: SadbAddress;
  addressDst?: SadbAddress;
  addressProxy?: SadbAddress;
  keyAuth?: SadbKey;
  keyEncrypt?: SadbKey;
  identitySrc?: SadbIdent;
  identityDst?: SadbIdent;
  sensitivity?: SadbSens;
  proposal?: SadbProp;
  supportedAuth?: SadbSupported;
  supportedEncrypt?: SadbSupported;
  spirange?: SadbSpirange;
  kmprivate?: SadbXKmprivate;
  policy?: SadbXPolicy;
  sa2?: SadbXSa2;
  natTType?: SadbXNatTType;
  natTSport?: SadbXNatTPort;
  natTDport?: SadbXNatTPort;
  natTOa?: SadbAddress;
  secCtx?: SadbXSecCtx;
  kmaddress?: SadbXKmaddress;
  filter?: SadbXFilter;
}

/** An extension the codec does not know: reported and skipped, never fatal. */
export interface UnknownExtension {
  type: number;
  offset: number; // byte offset of its sadb_ext header in the message
  body: Buffer; // the whole extension including its 4-byte header
}

/** One PF_KEYv2 message: the sadb_msg header fields and its extensions. */
export interface PfKeyMessage {
  type: SadbMsgType;
  satype: SadbSaType;
  errno: number;
  seq: number;
  pid: number;
  /** sadb_msg_reserved, omitted when zero. */
  reserved?: number;
  ext: PfKeyExtensions;
  /** Extensions of unknown type met while decoding, omitted when none. */
  unknown?: UnknownExtension[];
}

/** A typed decode failure naming where and which rule was broken. */
export interface PfKeyDecodeError {
  offset: number;
  rule: string; // short machine-readable rule id, e.g. 'ext-len-overrun'
  message: string; // human text naming the field
}

export type PfKeyDecodeResult =
  | { ok: true; msg: PfKeyMessage; warnings: string[] }
  | { ok: false; error: PfKeyDecodeError };
