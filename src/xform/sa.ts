/**
 * XformSa: what the AH/ESP transforms need to know about one SA. The SADB
 * entry is adapted to this shape (src/kernel does the adapting); nothing
 * here knows about PF_KEY messages.
 *
 * Algorithms are registry rows (src/crypto/registry.ts); only the fields the
 * transforms read are named here, so any registry row is assignable.
 */
import type { DfPolicy, DscpDecapPolicy, DscpPolicy, EcnMode } from './ecn';

/** The parts of a registry EncrAlg row that ESP reads. */
export interface EncrAlgRow {
  id?: string;
  /** Registry EncrMode: 'null' (RFC 2410) and 'gmac' (RFC 4543) change how ESP uses the transform. */
  mode?: string;
  saltBytes: number;
  blockBytes: number;
  ivBytes: number;
  icvBytes: number;
  aead: boolean;
}

/** The parts of a registry IntegAlg row that ESP/AH read. */
export interface IntegAlgRow {
  id?: string;
  /** 0 for the registry's 'none' row: no integrity transform. */
  icvBytes: number;
}

/** The primitives of src/crypto, as ESP/AH call them. */
export interface AeadCtx {
  icvBytes: number;
  seal(iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer;
  open(iv: Buffer, aad: Buffer, ctAndIcv: Buffer): Buffer | null;
  /** Optional: many packets per call (src/crypto's libcrypto fast path). */
  sealBatch?(items: readonly { iv: Buffer; aad: Buffer; data: Buffer }[]): Buffer[];
  openBatch?(items: readonly { iv: Buffer; aad: Buffer; data: Buffer }[]): (Buffer | null)[];
  /** Optional: whole ESP packets built and opened in place (src/crypto's EspAeadBatch). */
  espBatch?(spi: number, esn: boolean): EspAeadBatchCtx;
}
/** src/crypto/openssl-aead.ts EspAeadBatch, as the transforms call it. */
export interface EspAeadBatchCtx {
  seal(items: readonly { payload: Buffer; padLen: number; nextHeader: number; seqHi: number; seqLo: number }[], front: number): Buffer[];
  open(items: readonly { esp: Buffer; seqHi: number }[]): (Buffer | null)[];
}
export interface CipherCtx {
  blockBytes: number;
  ivBytes: number;
  encrypt(iv: Buffer, data: Buffer): Buffer;
  decrypt(iv: Buffer, data: Buffer): Buffer;
}
export interface MacCtx {
  icvBytes: number;
  compute(...parts: Buffer[]): Buffer;
}

/** Factories, normally src/crypto's createAead/createCipher/createMac. */
export interface CryptoProvider<E extends EncrAlgRow = EncrAlgRow, I extends IntegAlgRow = IntegAlgRow> {
  createAead(alg: E, key: Buffer): AeadCtx;
  createCipher(alg: E, key: Buffer): CipherCtx;
  createMac(alg: I, key: Buffer): MacCtx;
}

export type IpsecProto = 'esp' | 'ah';
export type IpsecMode = 'transport' | 'tunnel';

/**
 * ESP padding contents (RFC 4303 §2.4 default is 1, 2, 3, ...; KAME's
 * SADB_X_EXT_PSEQ / PRAND / PZERO select sequential, random or zero padding).
 */
export type PaddingMode = 'sequential' | 'random' | 'zero';

/** RFC 3948 UDP encapsulation of ESP. */
export interface NatTEncap {
  /** Our port (usually 4500) and the peer's, as sent in the UDP header. */
  sport: number;
  dport: number;
  /** NAT-OA addresses (RFC 3947 §5.2) for transport-mode checksum fix-up. */
  originalSrc?: Buffer;
  originalDst?: Buffer;
}

export interface TunnelOptions {
  ecn: EcnMode;
  dscp: DscpPolicy;
  dscpDecap: DscpDecapPolicy;
  /** IPv4 outer DF (RFC 4301 §8.1). */
  df: DfPolicy;
  /** Outer TTL / hop limit. */
  ttl: number;
  /** Clamp the MSS of TCP SYNs that go through this tunnel (0 = off). */
  mssClamp: number;
}

export interface XformSa {
  spi: number;
  proto: IpsecProto;
  mode: IpsecMode;
  /** Outer (tunnel) or packet (transport) endpoints, 4 or 16 bytes. */
  src: Buffer;
  dst: Buffer;
  /** ESP cipher / AEAD (absent for AH). */
  encr?: EncrAlgRow;
  /** Key including the salt for AEAD / CTR (RFC 4106 §8.1, RFC 3686 §5.1). */
  encrKey?: Buffer;
  /** Integrity (ESP non-AEAD or AH). */
  integ?: IntegAlgRow;
  integKey?: Buffer;
  esn: boolean;
  /** Anti-replay window in packets, 0..4096 (0 = no replay check). */
  replayWindow: number;
  padding: PaddingMode;
  /** RFC 4303 §2.4: check that received padding is 1, 2, 3, ... (only meaningful with 'sequential'). */
  checkPadding: boolean;
  tunnel: TunnelOptions;
  natt?: NatTEncap;
}

export const DEFAULT_TUNNEL_OPTIONS: TunnelOptions = {
  ecn: 'rfc6040-normal',
  dscp: { kind: 'copy' },
  dscpDecap: 'keep-inner',
  df: 'copy',
  ttl: 64,
  mssClamp: 0,
};

/** Byte and packet counts reported after each packet; the SADB turns them into lifetimes (RFC 2367 CURRENT). */
export type UsageCallback = (spi: number, bytes: number, packets: number) => void;
