/**
 * The XFRM wire structs (include/uapi/linux/xfrm.h), one table each, with the
 * native x86_64/arm64 layout (offsets checked against offsetof() with gcc on
 * the uapi header). The same table drives encodeStruct and decodeStruct, so
 * the encoder and decoder cannot drift apart.
 *
 * Byte order: xfrm_address_t, SPIs and ports are network order (__be*);
 * every other integer is host order (little-endian on the platforms we run).
 */
import { XfrmAttr } from './constants';

/** A decoding failure with the byte offset (within the netlink message body) of the bad field. */
export class XfrmDecodeError extends Error {
  constructor(
    readonly offset: number,
    readonly rule: string,
    message: string,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'XfrmDecodeError';
  }
}

/** An object given to the encoder does not fit the table (a bug in the caller, reported by name). */
export class XfrmEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XfrmEncodeError';
  }
}

/* ---- the table engine ----------------------------------------------------- */

export type NumKind = 'u8' | 'u16' | 'u32' | 'i32' | 'be16' | 'be32';
type FieldKind<V> = [V] extends [number]
  ? NumKind
  : [V] extends [bigint]
    ? 'u64'
    : [V] extends [Buffer]
      ? 'addr'
      : [V] extends [string]
        ? { cstring: number }
        : { struct: StructDef<V> };

export interface StructDef<T> {
  name: string;
  size: number;
  fields: { [K in keyof T]-?: { offset: number; kind: FieldKind<T[K]> } };
}

type AnyKind = NumKind | 'u64' | 'addr' | { cstring: number } | { struct: StructDef<unknown> };
interface AnyField {
  offset: number;
  kind: AnyKind;
}

function fieldsOf<T>(def: StructDef<T>): [string, AnyField][] {
  return Object.entries(def.fields as unknown as Record<string, AnyField>);
}

const NUM_RANGE: Record<NumKind, [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  be16: [0, 0xffff],
  u32: [0, 0xffffffff],
  be32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

function writeField(out: Buffer, at: number, kind: AnyKind, v: unknown, where: string): void {
  if (typeof kind === 'object') {
    if ('cstring' in kind) {
      if (typeof v !== 'string') throw new XfrmEncodeError(`${where} must be a string`);
      const b = Buffer.from(v, 'utf8');
      if (b.length >= kind.cstring) throw new XfrmEncodeError(`${where} "${v}" is longer than ${kind.cstring - 1} bytes`);
      b.copy(out, at);
      return;
    }
    if (typeof v !== 'object' || v === null) throw new XfrmEncodeError(`${where} must be a ${kind.struct.name}`);
    encodeInto(kind.struct, v, out, at, where);
    return;
  }
  if (kind === 'u64') {
    if (typeof v !== 'bigint') throw new XfrmEncodeError(`${where} must be a bigint`);
    out.writeBigUInt64LE(BigInt.asUintN(64, v), at);
    return;
  }
  if (kind === 'addr') {
    if (!Buffer.isBuffer(v) || v.length > 16) throw new XfrmEncodeError(`${where} must be a Buffer of at most 16 bytes (xfrm_address_t)`);
    out.fill(0, at, at + 16);
    v.copy(out, at);
    return;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new XfrmEncodeError(`${where} must be an integer`);
  const [lo, hi] = NUM_RANGE[kind];
  if (v < lo || v > hi) throw new XfrmEncodeError(`${where} = ${v} does not fit ${kind} (${lo}..${hi})`);
  switch (kind) {
    case 'u8':
      out.writeUInt8(v & 0xff, at);
      return;
    case 'u16':
      out.writeUInt16LE(v & 0xffff, at);
      return;
    case 'be16':
      out.writeUInt16BE(v & 0xffff, at);
      return;
    case 'u32':
      out.writeUInt32LE(v >>> 0, at);
      return;
    case 'be32':
      out.writeUInt32BE(v >>> 0, at);
      return;
    case 'i32':
      out.writeInt32LE(v | 0, at);
      return;
  }
}

function readField(buf: Buffer, at: number, kind: AnyKind): unknown {
  if (typeof kind === 'object') {
    if ('cstring' in kind) {
      const raw = buf.subarray(at, at + kind.cstring);
      const nul = raw.indexOf(0);
      return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
    }
    return decodeAt(kind.struct, buf, at);
  }
  switch (kind) {
    case 'u64':
      return buf.readBigUInt64LE(at);
    case 'addr':
      return Buffer.from(buf.subarray(at, at + 16));
    case 'u8':
      return buf.readUInt8(at);
    case 'u16':
      return buf.readUInt16LE(at);
    case 'be16':
      return buf.readUInt16BE(at);
    case 'u32':
      return buf.readUInt32LE(at);
    case 'be32':
      return buf.readUInt32BE(at);
    case 'i32':
      return buf.readInt32LE(at);
  }
}

function encodeInto<T>(def: StructDef<T>, obj: object, out: Buffer, base: number, where: string): void {
  const rec = obj as Record<string, unknown>;
  for (const [name, f] of fieldsOf(def)) writeField(out, base + f.offset, f.kind, rec[name], `${where}.${name}`);
}

function decodeAt<T>(def: StructDef<T>, buf: Buffer, base: number): T {
  const rec: Record<string, unknown> = {};
  for (const [name, f] of fieldsOf(def)) rec[name] = readField(buf, base + f.offset, f.kind);
  return rec as T;
}

/** Encode one struct into a fresh zeroed buffer of exactly def.size bytes. */
export function encodeStruct<T>(def: StructDef<T>, obj: T): Buffer {
  const out = Buffer.alloc(def.size);
  encodeInto(def, obj as object, out, 0, def.name);
  return out;
}

/** Decode one struct at `offset`; `base` is added to error offsets (position of buf in the message). */
export function decodeStruct<T>(def: StructDef<T>, buf: Buffer, offset = 0, base = 0): T | XfrmDecodeError {
  if (buf.length - offset < def.size)
    return new XfrmDecodeError(base + offset, 'struct-short', `struct ${def.name} needs ${def.size} bytes, only ${Math.max(0, buf.length - offset)} present`);
  return decodeAt(def, buf, offset);
}

/* ---- the structs ---------------------------------------------------------- */

export interface XfrmSelector {
  daddr: Buffer;
  saddr: Buffer;
  dport: number;
  dportMask: number;
  sport: number;
  sportMask: number;
  family: number;
  prefixlenD: number;
  prefixlenS: number;
  proto: number;
  ifindex: number;
  user: number;
}
export const XFRM_SELECTOR: StructDef<XfrmSelector> = {
  name: 'xfrm_selector',
  size: 56,
  fields: {
    daddr: { offset: 0, kind: 'addr' },
    saddr: { offset: 16, kind: 'addr' },
    dport: { offset: 32, kind: 'be16' },
    dportMask: { offset: 34, kind: 'be16' },
    sport: { offset: 36, kind: 'be16' },
    sportMask: { offset: 38, kind: 'be16' },
    family: { offset: 40, kind: 'u16' },
    prefixlenD: { offset: 42, kind: 'u8' },
    prefixlenS: { offset: 43, kind: 'u8' },
    proto: { offset: 44, kind: 'u8' },
    ifindex: { offset: 48, kind: 'i32' },
    user: { offset: 52, kind: 'u32' },
  },
};

export interface XfrmId {
  daddr: Buffer;
  spi: number;
  proto: number;
}
export const XFRM_ID: StructDef<XfrmId> = {
  name: 'xfrm_id',
  size: 24,
  fields: { daddr: { offset: 0, kind: 'addr' }, spi: { offset: 16, kind: 'be32' }, proto: { offset: 20, kind: 'u8' } },
};

export interface XfrmLifetimeCfg {
  softByteLimit: bigint;
  hardByteLimit: bigint;
  softPacketLimit: bigint;
  hardPacketLimit: bigint;
  softAddExpiresSeconds: bigint;
  hardAddExpiresSeconds: bigint;
  softUseExpiresSeconds: bigint;
  hardUseExpiresSeconds: bigint;
}
export const XFRM_LIFETIME_CFG: StructDef<XfrmLifetimeCfg> = {
  name: 'xfrm_lifetime_cfg',
  size: 64,
  fields: {
    softByteLimit: { offset: 0, kind: 'u64' },
    hardByteLimit: { offset: 8, kind: 'u64' },
    softPacketLimit: { offset: 16, kind: 'u64' },
    hardPacketLimit: { offset: 24, kind: 'u64' },
    softAddExpiresSeconds: { offset: 32, kind: 'u64' },
    hardAddExpiresSeconds: { offset: 40, kind: 'u64' },
    softUseExpiresSeconds: { offset: 48, kind: 'u64' },
    hardUseExpiresSeconds: { offset: 56, kind: 'u64' },
  },
};

export interface XfrmLifetimeCur {
  bytes: bigint;
  packets: bigint;
  addTime: bigint;
  useTime: bigint;
}
export const XFRM_LIFETIME_CUR: StructDef<XfrmLifetimeCur> = {
  name: 'xfrm_lifetime_cur',
  size: 32,
  fields: {
    bytes: { offset: 0, kind: 'u64' },
    packets: { offset: 8, kind: 'u64' },
    addTime: { offset: 16, kind: 'u64' },
    useTime: { offset: 24, kind: 'u64' },
  },
};

export interface XfrmStats {
  replayWindow: number;
  replay: number;
  integrityFailed: number;
}
export const XFRM_STATS: StructDef<XfrmStats> = {
  name: 'xfrm_stats',
  size: 12,
  fields: { replayWindow: { offset: 0, kind: 'u32' }, replay: { offset: 4, kind: 'u32' }, integrityFailed: { offset: 8, kind: 'u32' } },
};

export interface XfrmUsersaInfo {
  sel: XfrmSelector;
  id: XfrmId;
  saddr: Buffer;
  lft: XfrmLifetimeCfg;
  curlft: XfrmLifetimeCur;
  stats: XfrmStats;
  seq: number;
  reqid: number;
  family: number;
  mode: number;
  replayWindow: number;
  flags: number;
}
export const XFRM_USERSA_INFO: StructDef<XfrmUsersaInfo> = {
  name: 'xfrm_usersa_info',
  size: 224,
  fields: {
    sel: { offset: 0, kind: { struct: XFRM_SELECTOR } },
    id: { offset: 56, kind: { struct: XFRM_ID } },
    saddr: { offset: 80, kind: 'addr' },
    lft: { offset: 96, kind: { struct: XFRM_LIFETIME_CFG } },
    curlft: { offset: 160, kind: { struct: XFRM_LIFETIME_CUR } },
    stats: { offset: 192, kind: { struct: XFRM_STATS } },
    seq: { offset: 204, kind: 'u32' },
    reqid: { offset: 208, kind: 'u32' },
    family: { offset: 212, kind: 'u16' },
    mode: { offset: 214, kind: 'u8' },
    replayWindow: { offset: 215, kind: 'u8' },
    flags: { offset: 216, kind: 'u8' },
  },
};

export interface XfrmUsersaId {
  daddr: Buffer;
  spi: number;
  family: number;
  proto: number;
}
export const XFRM_USERSA_ID: StructDef<XfrmUsersaId> = {
  name: 'xfrm_usersa_id',
  size: 24,
  fields: {
    daddr: { offset: 0, kind: 'addr' },
    spi: { offset: 16, kind: 'be32' },
    family: { offset: 20, kind: 'u16' },
    proto: { offset: 22, kind: 'u8' },
  },
};

export interface XfrmUserspiInfo {
  info: XfrmUsersaInfo;
  min: number;
  max: number;
}
export const XFRM_USERSPI_INFO: StructDef<XfrmUserspiInfo> = {
  name: 'xfrm_userspi_info',
  size: 232,
  fields: { info: { offset: 0, kind: { struct: XFRM_USERSA_INFO } }, min: { offset: 224, kind: 'u32' }, max: { offset: 228, kind: 'u32' } },
};

export interface XfrmUserpolicyInfo {
  sel: XfrmSelector;
  lft: XfrmLifetimeCfg;
  curlft: XfrmLifetimeCur;
  priority: number;
  index: number;
  dir: number;
  action: number;
  flags: number;
  share: number;
}
export const XFRM_USERPOLICY_INFO: StructDef<XfrmUserpolicyInfo> = {
  name: 'xfrm_userpolicy_info',
  size: 168,
  fields: {
    sel: { offset: 0, kind: { struct: XFRM_SELECTOR } },
    lft: { offset: 56, kind: { struct: XFRM_LIFETIME_CFG } },
    curlft: { offset: 120, kind: { struct: XFRM_LIFETIME_CUR } },
    priority: { offset: 152, kind: 'u32' },
    index: { offset: 156, kind: 'u32' },
    dir: { offset: 160, kind: 'u8' },
    action: { offset: 161, kind: 'u8' },
    flags: { offset: 162, kind: 'u8' },
    share: { offset: 163, kind: 'u8' },
  },
};

export interface XfrmUserpolicyId {
  sel: XfrmSelector;
  index: number;
  dir: number;
}
export const XFRM_USERPOLICY_ID: StructDef<XfrmUserpolicyId> = {
  name: 'xfrm_userpolicy_id',
  size: 64,
  fields: { sel: { offset: 0, kind: { struct: XFRM_SELECTOR } }, index: { offset: 56, kind: 'u32' }, dir: { offset: 60, kind: 'u8' } },
};

export interface XfrmUserTmpl {
  id: XfrmId;
  family: number;
  saddr: Buffer;
  reqid: number;
  mode: number;
  share: number;
  optional: number;
  aalgos: number;
  ealgos: number;
  calgos: number;
}
export const XFRM_USER_TMPL: StructDef<XfrmUserTmpl> = {
  name: 'xfrm_user_tmpl',
  size: 64,
  fields: {
    id: { offset: 0, kind: { struct: XFRM_ID } },
    family: { offset: 24, kind: 'u16' },
    saddr: { offset: 28, kind: 'addr' },
    reqid: { offset: 44, kind: 'u32' },
    mode: { offset: 48, kind: 'u8' },
    share: { offset: 49, kind: 'u8' },
    optional: { offset: 50, kind: 'u8' },
    aalgos: { offset: 52, kind: 'u32' },
    ealgos: { offset: 56, kind: 'u32' },
    calgos: { offset: 60, kind: 'u32' },
  },
};

export interface XfrmEncapTmpl {
  encapType: number;
  encapSport: number;
  encapDport: number;
  encapOa: Buffer;
}
export const XFRM_ENCAP_TMPL: StructDef<XfrmEncapTmpl> = {
  name: 'xfrm_encap_tmpl',
  size: 24,
  fields: {
    encapType: { offset: 0, kind: 'u16' },
    encapSport: { offset: 2, kind: 'be16' },
    encapDport: { offset: 4, kind: 'be16' },
    encapOa: { offset: 8, kind: 'addr' },
  },
};

/** struct xfrm_algo head (68 bytes) — the key follows. */
export interface XfrmAlgoHead {
  algName: string;
  algKeyLen: number; // bits
}
export const XFRM_ALGO: StructDef<XfrmAlgoHead> = {
  name: 'xfrm_algo',
  size: 68,
  fields: { algName: { offset: 0, kind: { cstring: 64 } }, algKeyLen: { offset: 64, kind: 'u32' } },
};

/** struct xfrm_algo_auth head (72 bytes) — the key follows. */
export interface XfrmAlgoAuthHead {
  algName: string;
  algKeyLen: number;
  algTruncLen: number; // bits
}
export const XFRM_ALGO_AUTH: StructDef<XfrmAlgoAuthHead> = {
  name: 'xfrm_algo_auth',
  size: 72,
  fields: {
    algName: { offset: 0, kind: { cstring: 64 } },
    algKeyLen: { offset: 64, kind: 'u32' },
    algTruncLen: { offset: 68, kind: 'u32' },
  },
};

/** struct xfrm_algo_aead head (72 bytes) — the key follows. */
export interface XfrmAlgoAeadHead {
  algName: string;
  algKeyLen: number;
  algIcvLen: number; // bits
}
export const XFRM_ALGO_AEAD: StructDef<XfrmAlgoAeadHead> = {
  name: 'xfrm_algo_aead',
  size: 72,
  fields: {
    algName: { offset: 0, kind: { cstring: 64 } },
    algKeyLen: { offset: 64, kind: 'u32' },
    algIcvLen: { offset: 68, kind: 'u32' },
  },
};

export interface XfrmUserAcquire {
  id: XfrmId;
  saddr: Buffer;
  sel: XfrmSelector;
  policy: XfrmUserpolicyInfo;
  aalgos: number;
  ealgos: number;
  calgos: number;
  seq: number;
}
export const XFRM_USER_ACQUIRE: StructDef<XfrmUserAcquire> = {
  name: 'xfrm_user_acquire',
  size: 280,
  fields: {
    id: { offset: 0, kind: { struct: XFRM_ID } },
    saddr: { offset: 24, kind: 'addr' },
    sel: { offset: 40, kind: { struct: XFRM_SELECTOR } },
    policy: { offset: 96, kind: { struct: XFRM_USERPOLICY_INFO } },
    aalgos: { offset: 264, kind: 'u32' },
    ealgos: { offset: 268, kind: 'u32' },
    calgos: { offset: 272, kind: 'u32' },
    seq: { offset: 276, kind: 'u32' },
  },
};

export interface XfrmUserExpire {
  state: XfrmUsersaInfo;
  hard: number;
}
export const XFRM_USER_EXPIRE: StructDef<XfrmUserExpire> = {
  name: 'xfrm_user_expire',
  size: 232,
  fields: { state: { offset: 0, kind: { struct: XFRM_USERSA_INFO } }, hard: { offset: 224, kind: 'u8' } },
};

export interface XfrmUserPolexpire {
  pol: XfrmUserpolicyInfo;
  hard: number;
}
export const XFRM_USER_POLEXPIRE: StructDef<XfrmUserPolexpire> = {
  name: 'xfrm_user_polexpire',
  size: 176,
  fields: { pol: { offset: 0, kind: { struct: XFRM_USERPOLICY_INFO } }, hard: { offset: 168, kind: 'u8' } },
};

export interface XfrmUsersaFlush {
  proto: number;
}
export const XFRM_USERSA_FLUSH: StructDef<XfrmUsersaFlush> = {
  name: 'xfrm_usersa_flush',
  size: 1,
  fields: { proto: { offset: 0, kind: 'u8' } },
};

export interface XfrmUserMigrate {
  oldDaddr: Buffer;
  oldSaddr: Buffer;
  newDaddr: Buffer;
  newSaddr: Buffer;
  proto: number;
  mode: number;
  reserved: number;
  reqid: number;
  oldFamily: number;
  newFamily: number;
}
export const XFRM_USER_MIGRATE: StructDef<XfrmUserMigrate> = {
  name: 'xfrm_user_migrate',
  size: 76,
  fields: {
    oldDaddr: { offset: 0, kind: 'addr' },
    oldSaddr: { offset: 16, kind: 'addr' },
    newDaddr: { offset: 32, kind: 'addr' },
    newSaddr: { offset: 48, kind: 'addr' },
    proto: { offset: 64, kind: 'u8' },
    mode: { offset: 65, kind: 'u8' },
    reserved: { offset: 66, kind: 'u16' },
    reqid: { offset: 68, kind: 'u32' },
    oldFamily: { offset: 72, kind: 'u16' },
    newFamily: { offset: 74, kind: 'u16' },
  },
};

export interface XfrmUserKmaddress {
  local: Buffer;
  remote: Buffer;
  reserved: number;
  family: number;
}
export const XFRM_USER_KMADDRESS: StructDef<XfrmUserKmaddress> = {
  name: 'xfrm_user_kmaddress',
  size: 40,
  fields: {
    local: { offset: 0, kind: 'addr' },
    remote: { offset: 16, kind: 'addr' },
    reserved: { offset: 32, kind: 'u32' },
    family: { offset: 36, kind: 'u16' },
  },
};

export interface XfrmUserpolicyType {
  type: number;
  reserved1: number;
  reserved2: number;
}
export const XFRM_USERPOLICY_TYPE: StructDef<XfrmUserpolicyType> = {
  name: 'xfrm_userpolicy_type',
  size: 6,
  fields: { type: { offset: 0, kind: 'u8' }, reserved1: { offset: 2, kind: 'u16' }, reserved2: { offset: 4, kind: 'u8' } },
};

export interface XfrmUserMapping {
  id: XfrmUsersaId;
  reqid: number;
  oldSaddr: Buffer;
  newSaddr: Buffer;
  oldSport: number;
  newSport: number;
}
export const XFRM_USER_MAPPING: StructDef<XfrmUserMapping> = {
  name: 'xfrm_user_mapping',
  size: 64,
  fields: {
    id: { offset: 0, kind: { struct: XFRM_USERSA_ID } },
    reqid: { offset: 24, kind: 'u32' },
    oldSaddr: { offset: 28, kind: 'addr' },
    newSaddr: { offset: 44, kind: 'addr' },
    oldSport: { offset: 60, kind: 'be16' },
    newSport: { offset: 62, kind: 'be16' },
  },
};

export interface XfrmMark {
  v: number;
  m: number;
}
export const XFRM_MARK: StructDef<XfrmMark> = {
  name: 'xfrm_mark',
  size: 8,
  fields: { v: { offset: 0, kind: 'u32' }, m: { offset: 4, kind: 'u32' } },
};

/* ---- variable-length algorithm attributes ---------------------------------- */

export interface XfrmAlgo extends XfrmAlgoHead {
  key: Buffer;
}
export interface XfrmAlgoAuth extends XfrmAlgoAuthHead {
  key: Buffer;
}
export interface XfrmAlgoAead extends XfrmAlgoAeadHead {
  key: Buffer;
}

function withKey<H extends { algKeyLen: number }>(def: StructDef<H>, v: H & { key: Buffer }): Buffer {
  const keyBytes = Math.ceil(v.algKeyLen / 8);
  if (v.key.length !== keyBytes) throw new XfrmEncodeError(`${def.name}: ${v.algKeyLen}-bit key needs ${keyBytes} bytes, got ${v.key.length}`);
  const { key, ...head } = v;
  return Buffer.concat([encodeStruct(def, head as unknown as H), key]);
}

function readWithKey<H extends { algKeyLen: number }>(def: StructDef<H>, buf: Buffer, base: number): (H & { key: Buffer }) | XfrmDecodeError {
  const head = decodeStruct(def, buf, 0, base);
  if (head instanceof XfrmDecodeError) return head;
  const keyBytes = Math.ceil(head.algKeyLen / 8);
  if (buf.length < def.size + keyBytes)
    return new XfrmDecodeError(base + 64, 'alg-key-short', `${def.name} "${String((head as unknown as XfrmAlgoHead).algName)}" says ${head.algKeyLen}-bit key but only ${buf.length - def.size} key bytes follow`);
  return { ...head, key: Buffer.from(buf.subarray(def.size, def.size + keyBytes)) };
}

/**
 * struct xfrm_replay_state_esn (include/uapi/linux/xfrm.h, XFRMA_REPLAY_ESN_VAL):
 * the 64-bit sequence state of an XFRM_STATE_ESN SA (RFC 4303 §2.2.1), then
 * bmp_len __u32 words of replay bitmap.
 */
export interface XfrmReplayStateEsnHead {
  bmpLen: number;
  oseq: number;
  seq: number;
  oseqHi: number;
  seqHi: number;
  replayWindow: number;
}
export type XfrmReplayStateEsn = XfrmReplayStateEsnHead & { bmp: number[] };

export const XFRM_REPLAY_STATE_ESN: StructDef<XfrmReplayStateEsnHead> = {
  name: 'xfrm_replay_state_esn',
  size: 24,
  fields: {
    bmpLen: { offset: 0, kind: 'u32' },
    oseq: { offset: 4, kind: 'u32' },
    seq: { offset: 8, kind: 'u32' },
    oseqHi: { offset: 12, kind: 'u32' },
    seqHi: { offset: 16, kind: 'u32' },
    replayWindow: { offset: 20, kind: 'u32' },
  },
};

function encodeReplayEsn(v: XfrmReplayStateEsn): Buffer {
  if (v.bmp.length !== v.bmpLen) throw new XfrmEncodeError(`xfrm_replay_state_esn: bmp_len ${v.bmpLen} but ${v.bmp.length} bitmap words`);
  const { bmp, ...head } = v;
  const words = Buffer.alloc(4 * bmp.length);
  bmp.forEach((w, i) => words.writeUInt32LE(w >>> 0, 4 * i));
  return Buffer.concat([encodeStruct(XFRM_REPLAY_STATE_ESN, head), words]);
}

function decodeReplayEsn(buf: Buffer, base: number): XfrmReplayStateEsn | XfrmDecodeError {
  const head = decodeStruct(XFRM_REPLAY_STATE_ESN, buf, 0, base);
  if (head instanceof XfrmDecodeError) return head;
  if (buf.length < 24 + 4 * head.bmpLen)
    return new XfrmDecodeError(base, 'attr-short', `xfrm_replay_state_esn says bmp_len ${head.bmpLen} but only ${buf.length - 24} bitmap bytes follow`);
  const bmp: number[] = [];
  for (let i = 0; i < head.bmpLen; i++) bmp.push(buf.readUInt32LE(24 + 4 * i));
  return { ...head, bmp };
}

/* ---- netlink attributes: one table --------------------------------------- */

/** The attributes tanuki reads or writes, by name. */
export interface XfrmAttrs {
  algAuth?: XfrmAlgo;
  algAuthTrunc?: XfrmAlgoAuth;
  algCrypt?: XfrmAlgo;
  algAead?: XfrmAlgoAead;
  algComp?: XfrmAlgo;
  encap?: XfrmEncapTmpl;
  tmpl?: XfrmUserTmpl[];
  sa?: XfrmUsersaInfo;
  policy?: XfrmUserpolicyInfo;
  secCtx?: Buffer;
  srcaddr?: Buffer;
  coaddr?: Buffer;
  lastused?: bigint;
  policyType?: XfrmUserpolicyType;
  kmaddress?: XfrmUserKmaddress;
  /**
   * One xfrm_user_migrate per bundle. The kernel reads one XFRMA_MIGRATE holding
   * an array (xfrm_user.c copy_from_user_migrate) but writes one attribute per
   * bundle (build_migrate): the encoder packs the array, the decoder accepts both.
   */
  migrate?: XfrmUserMigrate[];
  mark?: XfrmMark;
  proto?: number;
  saExtraFlags?: number;
  ifId?: number;
  replayEsnVal?: XfrmReplayStateEsn;
}

interface AttrCodec<V> {
  type: XfrmAttr;
  /** One or more attribute values (several only for repeated attributes). */
  encode(v: V): Buffer[];
  /** Decode one attribute value; `prev` is the value already decoded from an earlier repeat. */
  decode(buf: Buffer, base: number, prev: V | undefined): V | XfrmDecodeError;
}

function structAttr<T>(type: XfrmAttr, def: StructDef<T>): AttrCodec<T> {
  return { type, encode: (v) => [encodeStruct(def, v)], decode: (b, base) => decodeStruct(def, b, 0, base) };
}

function arrayAttr<T>(type: XfrmAttr, def: StructDef<T>, onePerAttr: boolean): AttrCodec<T[]> {
  return {
    type,
    encode: (v) => (onePerAttr ? v.map((x) => encodeStruct(def, x)) : [Buffer.concat(v.map((x) => encodeStruct(def, x)))]),
    decode: (b, base, prev) => {
      if (b.length % def.size !== 0)
        return new XfrmDecodeError(base, 'attr-array-len', `attribute of ${b.length} bytes is not a whole number of ${def.name} (${def.size})`);
      const out = prev ? [...prev] : [];
      for (let off = 0; off < b.length; off += def.size) {
        const one = decodeStruct(def, b, off, base);
        if (one instanceof XfrmDecodeError) return one;
        out.push(one);
      }
      return out;
    },
  };
}

function addrAttr(type: XfrmAttr): AttrCodec<Buffer> {
  return {
    type,
    encode: (v) => {
      const b = Buffer.alloc(16);
      v.copy(b);
      return [b];
    },
    decode: (b, base) => (b.length < 16 ? new XfrmDecodeError(base, 'attr-short', `xfrm_address_t attribute has ${b.length} bytes, needs 16`) : Buffer.from(b.subarray(0, 16))),
  };
}

function u32Attr(type: XfrmAttr): AttrCodec<number> {
  return {
    type,
    encode: (v) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(v >>> 0);
      return [b];
    },
    decode: (b, base) => (b.length < 4 ? new XfrmDecodeError(base, 'attr-short', `__u32 attribute has ${b.length} bytes`) : b.readUInt32LE(0)),
  };
}

/**
 * The attribute table, in the order the encoder writes them (the order
 * iproute2 uses for `ip xfrm state add ... auth-trunc ... enc ...`).
 */
export const XFRM_ATTR_TABLE: { [K in keyof XfrmAttrs]-?: AttrCodec<NonNullable<XfrmAttrs[K]>> } = {
  algAuthTrunc: { type: XfrmAttr.ALG_AUTH_TRUNC, encode: (v) => [withKey(XFRM_ALGO_AUTH, v)], decode: (b, base) => readWithKey(XFRM_ALGO_AUTH, b, base) },
  algAuth: { type: XfrmAttr.ALG_AUTH, encode: (v) => [withKey(XFRM_ALGO, v)], decode: (b, base) => readWithKey(XFRM_ALGO, b, base) },
  algCrypt: { type: XfrmAttr.ALG_CRYPT, encode: (v) => [withKey(XFRM_ALGO, v)], decode: (b, base) => readWithKey(XFRM_ALGO, b, base) },
  algAead: { type: XfrmAttr.ALG_AEAD, encode: (v) => [withKey(XFRM_ALGO_AEAD, v)], decode: (b, base) => readWithKey(XFRM_ALGO_AEAD, b, base) },
  algComp: { type: XfrmAttr.ALG_COMP, encode: (v) => [withKey(XFRM_ALGO, v)], decode: (b, base) => readWithKey(XFRM_ALGO, b, base) },
  encap: structAttr(XfrmAttr.ENCAP, XFRM_ENCAP_TMPL),
  tmpl: arrayAttr(XfrmAttr.TMPL, XFRM_USER_TMPL, false),
  sa: structAttr(XfrmAttr.SA, XFRM_USERSA_INFO),
  policy: structAttr(XfrmAttr.POLICY, XFRM_USERPOLICY_INFO),
  secCtx: { type: XfrmAttr.SEC_CTX, encode: (v) => [v], decode: (b) => Buffer.from(b) },
  srcaddr: addrAttr(XfrmAttr.SRCADDR),
  coaddr: addrAttr(XfrmAttr.COADDR),
  lastused: {
    type: XfrmAttr.LASTUSED,
    encode: (v) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(v);
      return [b];
    },
    decode: (b, base) => (b.length < 8 ? new XfrmDecodeError(base, 'attr-short', `__u64 attribute has ${b.length} bytes`) : b.readBigUInt64LE(0)),
  },
  policyType: structAttr(XfrmAttr.POLICY_TYPE, XFRM_USERPOLICY_TYPE),
  kmaddress: structAttr(XfrmAttr.KMADDRESS, XFRM_USER_KMADDRESS),
  migrate: arrayAttr(XfrmAttr.MIGRATE, XFRM_USER_MIGRATE, false),
  mark: structAttr(XfrmAttr.MARK, XFRM_MARK),
  proto: {
    type: XfrmAttr.PROTO,
    encode: (v) => [Buffer.from([v & 0xff])],
    decode: (b, base) => (b.length < 1 ? new XfrmDecodeError(base, 'attr-short', 'XFRMA_PROTO is empty') : b[0]),
  },
  saExtraFlags: u32Attr(XfrmAttr.SA_EXTRA_FLAGS),
  ifId: u32Attr(XfrmAttr.IF_ID),
  replayEsnVal: { type: XfrmAttr.REPLAY_ESN_VAL, encode: (v) => [encodeReplayEsn(v)], decode: (b, base) => decodeReplayEsn(b, base) },
};

const ATTR_ORDER = Object.keys(XFRM_ATTR_TABLE) as (keyof XfrmAttrs)[];
const ATTR_BY_TYPE = new Map<number, keyof XfrmAttrs>(ATTR_ORDER.map((k) => [XFRM_ATTR_TABLE[k].type, k]));

function encodeOne<K extends keyof XfrmAttrs>(k: K, v: NonNullable<XfrmAttrs[K]>): Buffer[] {
  const codec = XFRM_ATTR_TABLE[k] as AttrCodec<NonNullable<XfrmAttrs[K]>>;
  return codec.encode(v).map((value) => {
    const len = 4 + value.length;
    const out = Buffer.alloc((len + 3) & ~3);
    out.writeUInt16LE(len, 0);
    out.writeUInt16LE(codec.type, 2);
    value.copy(out, 4);
    return out;
  });
}

/** Encode the attributes present in `attrs`, in table order. */
export function encodeAttrs(attrs: XfrmAttrs): Buffer {
  const parts: Buffer[] = [];
  for (const k of ATTR_ORDER) {
    const v = attrs[k];
    if (v !== undefined) parts.push(...encodeOne(k, v as NonNullable<XfrmAttrs[typeof k]>));
  }
  return Buffer.concat(parts);
}

function decodeOne<K extends keyof XfrmAttrs>(out: XfrmAttrs, k: K, value: Buffer, base: number): XfrmDecodeError | undefined {
  const codec = XFRM_ATTR_TABLE[k] as AttrCodec<NonNullable<XfrmAttrs[K]>>;
  const v = codec.decode(value, base, out[k] as NonNullable<XfrmAttrs[K]> | undefined);
  if (v instanceof XfrmDecodeError) return v;
  out[k] = v as XfrmAttrs[K];
  return undefined;
}

/**
 * Decode the attributes after a fixed body; `base` is the byte offset of
 * `buf` within the netlink message body. Unknown attribute types are skipped.
 */
export function decodeAttrs(buf: Buffer, base: number): XfrmAttrs | XfrmDecodeError {
  const out: XfrmAttrs = {};
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4) return new XfrmDecodeError(base + off, 'nla-len-short', `nla_len ${len} of attribute type ${type} is shorter than its header`);
    if (off + len > buf.length) return new XfrmDecodeError(base + off, 'nla-len-overrun', `attribute type ${type} (nla_len ${len}) runs past the end of the message`);
    const k = ATTR_BY_TYPE.get(type);
    if (k) {
      const err = decodeOne(out, k, buf.subarray(off + 4, off + len), base + off + 4);
      if (err) return err;
    }
    off += (len + 3) & ~3;
  }
  return out;
}
