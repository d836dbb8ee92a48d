/**
 * racoon's admin socket wire format (ipsec-tools src/racoon/admin.h,
 * evt.h, isakmp_var.h), so that an existing racoonctl binary can talk to
 * tanuki and tanuki's racoonctl to racoon. Native C structs on Linux x86_64:
 * host byte order (little-endian), sockaddr_storage of 128 bytes holding a
 * Linux sockaddr. See shared/reference/racoon-compat.md §4.
 */
import { decodeSockAddr, encodeSockAddr } from '../../pfkey/codec';
import type { SockAddr } from '../../pfkey/types';

/** admin.h ADMIN_* command codes. */
export enum AdminCmd {
  RELOAD_CONF = 0x0001,
  SHOW_SCHED = 0x0002,
  SHOW_EVT = 0x0003,
  SHOW_SA = 0x0101,
  FLUSH_SA = 0x0102,
  STATUS = 0x0103,
  STATUS_VERBOSE = 0x0104,
  DELETE_SA = 0x0201,
  ESTABLISH_SA = 0x0202,
  ESTABLISH_SA_PSK = 0x0203,
  DELETE_ALL_SA_DST = 0x0204,
  LOGOUT_USER = 0x0205,
  GET_SA_CERT = 0x0206,
}

/** admin.h ADMIN_PROTO_* values carried in ac_proto. */
export enum AdminProto {
  NONE = 0,
  ISAKMP = 0x01ff,
  IPSEC = 0x02ff,
  AH = 0x0201,
  ESP = 0x0202,
  INTERNAL = 0x0301,
}

/** admin.h: request carries a version (ac_version valid). */
export const ADMIN_FLAG_VERSION = 0x8000;
/** admin.h: reply longer than 0xffff, ac_len_high holds the high 16 bits. */
export const ADMIN_FLAG_LONG_REPLY = 0x8000;
export const ADMIN_PROTOCOL_VERSION = 1;

/** evt.h EVT_* event types (ec_type). */
export enum EvtType {
  RACOON_QUIT = 0x0001,
  PHASE1_UP = 0x0100,
  PHASE1_DOWN = 0x0101,
  PHASE1_NO_RESPONSE = 0x0102,
  PHASE1_NO_PROPOSAL = 0x0103,
  PHASE1_AUTH_FAILED = 0x0104,
  PHASE1_DPD_TIMEOUT = 0x0105,
  PHASE1_PEER_DELETED = 0x0106,
  PHASE1_MODE_CFG = 0x0107,
  PHASE1_XAUTH_SUCCESS = 0x0108,
  PHASE1_XAUTH_FAILED = 0x0109,
  PHASE2_NO_PHASE1 = 0x0200,
  PHASE2_UP = 0x0201,
  PHASE2_DOWN = 0x0202,
  PHASE2_NO_RESPONSE = 0x0203,
}

export const ADMIN_COM_LEN = 8;
export const SOCKADDR_STORAGE_LEN = 128;
export const INDEXES_LEN = 264;
export const PSK_LEN = 24;
export const PH1DUMP_LEN = 304;
export const EVT_ASYNC_LEN = 280;
export const SCHEDDUMP_LEN = 32;
/** racoon's LOGINLEN (isakmp_xauth.h): the longest login ADMIN_LOGOUT_USER takes. */
export const LOGINLEN = 31;

export class AdminWireError extends Error {
  override readonly name = 'AdminWireError';
  constructor(
    readonly struct: string,
    readonly offset: number,
    message: string,
  ) {
    super(`${struct} at byte ${offset}: ${message}`);
  }
}

/** struct admin_com (8 bytes). `version` is ac_errno/ac_version/ac_len_high by context. */
export interface AdminCom {
  len: number;
  cmd: number;
  /** The union at offset 4, as an unsigned 16-bit value. */
  word: number;
  proto: number;
}

export function encodeAdminCom(h: AdminCom): Buffer {
  const b = Buffer.alloc(ADMIN_COM_LEN);
  b.writeUInt16LE(h.len & 0xffff, 0);
  b.writeUInt16LE(h.cmd & 0xffff, 2);
  b.writeUInt16LE(h.word & 0xffff, 4);
  b.writeUInt16LE(h.proto & 0xffff, 6);
  return b;
}

export function decodeAdminCom(b: Uint8Array, offset = 0): AdminCom {
  if (b.length - offset < ADMIN_COM_LEN) throw new AdminWireError('admin_com', offset, `needs 8 bytes, have ${b.length - offset}`);
  const v = Buffer.from(b.buffer, b.byteOffset + offset, ADMIN_COM_LEN);
  return { len: v.readUInt16LE(0), cmd: v.readUInt16LE(2), word: v.readUInt16LE(4), proto: v.readUInt16LE(6) };
}

/** A request as racoonctl sends it: version flag set, version 1. */
export function encodeRequest(cmd: AdminCmd, proto: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = ADMIN_COM_LEN + payload.length;
  if (len > 0xffff) throw new AdminWireError('admin_com', 0, `request of ${len} bytes exceeds 65535`);
  return Buffer.concat([
    encodeAdminCom({ len, cmd: cmd | ADMIN_FLAG_VERSION, word: ADMIN_PROTOCOL_VERSION, proto }),
    payload,
  ]);
}

/** A decoded request header (version 0 when the flag is absent, as racoon does). */
export interface AdminRequest {
  cmd: number;
  version: number;
  proto: number;
  payload: Buffer;
}

export function decodeRequest(frame: Buffer): AdminRequest {
  const h = decodeAdminCom(frame);
  if (h.len < ADMIN_COM_LEN || h.len > frame.length) {
    throw new AdminWireError('admin_com', 0, `ac_len ${h.len} does not fit a ${frame.length}-byte request`);
  }
  const versioned = (h.cmd & ADMIN_FLAG_VERSION) !== 0;
  return {
    cmd: h.cmd & ~ADMIN_FLAG_VERSION,
    version: versioned ? h.word : 0,
    proto: h.proto,
    payload: frame.subarray(ADMIN_COM_LEN, h.len),
  };
}

/** A reply: errno (signed) in the union, or the high length bits for a long reply. */
export function encodeReply(cmd: number, proto: number, errno: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const total = ADMIN_COM_LEN + payload.length;
  const long = total > 0xffff;
  if (long && errno !== 0) throw new AdminWireError('admin_com', 0, 'a long reply cannot carry an errno');
  const word = long ? (total >>> 16) & 0xffff : errno & 0xffff;
  return Buffer.concat([
    encodeAdminCom({ len: total & 0xffff, cmd: long ? cmd | ADMIN_FLAG_LONG_REPLY : cmd, word, proto }),
    payload,
  ]);
}

export interface AdminReply {
  cmd: number;
  proto: number;
  errno: number;
  /** Total length including the header (long replies combine both halves). */
  totalLen: number;
}

/** Decode a reply header; totalLen tells how many bytes the whole reply has. */
export function decodeReplyHeader(b: Uint8Array): AdminReply {
  const h = decodeAdminCom(b);
  if ((h.cmd & ADMIN_FLAG_LONG_REPLY) !== 0) {
    return { cmd: h.cmd & ~ADMIN_FLAG_LONG_REPLY, proto: h.proto, errno: 0, totalLen: h.len + h.word * 0x10000 };
  }
  const errno = h.word >= 0x8000 ? h.word - 0x10000 : h.word;
  return { cmd: h.cmd, proto: h.proto, errno, totalLen: h.len };
}

// ---------------------------------------------------------------------------
// sockaddr_storage

function writeStorage(b: Buffer, off: number, sa: SockAddr | null): void {
  if (!sa) return; // all zero: AF_UNSPEC
  encodeSockAddr(sa).copy(b, off);
}

function readStorage(b: Buffer, off: number, struct: string): SockAddr | null {
  const family = b.readUInt16LE(off);
  if (family === 0) return null;
  const r = decodeSockAddr(b, off, off + SOCKADDR_STORAGE_LEN);
  if (!r.ok) throw new AdminWireError(struct, off, r.error.message);
  return r.addr;
}

// ---------------------------------------------------------------------------
// struct admin_com_indexes (264 bytes)

export interface AdminIndexes {
  prefs: number;
  prefd: number;
  ulProto: number;
  src: SockAddr | null;
  dst: SockAddr | null;
}

export function encodeIndexes(ix: AdminIndexes): Buffer {
  const b = Buffer.alloc(INDEXES_LEN);
  b.writeUInt8(ix.prefs, 0);
  b.writeUInt8(ix.prefd, 1);
  b.writeUInt8(ix.ulProto, 2);
  writeStorage(b, 8, ix.src);
  writeStorage(b, 8 + SOCKADDR_STORAGE_LEN, ix.dst);
  return b;
}

export function decodeIndexes(b: Buffer, offset = 0): AdminIndexes {
  if (b.length - offset < INDEXES_LEN) {
    throw new AdminWireError('admin_com_indexes', offset, `needs ${INDEXES_LEN} bytes, have ${b.length - offset}`);
  }
  const v = b.subarray(offset, offset + INDEXES_LEN);
  return {
    prefs: v.readUInt8(0),
    prefd: v.readUInt8(1),
    ulProto: v.readUInt8(2),
    src: readStorage(v, 8, 'admin_com_indexes.src'),
    dst: readStorage(v, 8 + SOCKADDR_STORAGE_LEN, 'admin_com_indexes.dst'),
  };
}

// ---------------------------------------------------------------------------
// struct admin_com_psk (24 bytes) + id\0 + key\0

export const IDTYPE_USERFQDN = 3; // racoon's IDTYPE_USERFQDN as racoonctl sends it

export interface AdminPsk {
  idType: number;
  id: string;
  key: string;
}

export function encodePsk(p: AdminPsk): Buffer {
  const id = Buffer.from(`${p.id}\0`, 'utf8');
  const key = Buffer.from(`${p.key}\0`, 'utf8');
  const h = Buffer.alloc(PSK_LEN);
  h.writeInt32LE(p.idType, 0);
  h.writeBigUInt64LE(BigInt(id.length), 8);
  h.writeBigUInt64LE(BigInt(key.length), 16);
  return Buffer.concat([h, id, key]);
}

export function decodePsk(b: Buffer, offset = 0): AdminPsk {
  if (b.length - offset < PSK_LEN) throw new AdminWireError('admin_com_psk', offset, `needs ${PSK_LEN} bytes`);
  const idType = b.readInt32LE(offset);
  const idLen = Number(b.readBigUInt64LE(offset + 8));
  const keyLen = Number(b.readBigUInt64LE(offset + 16));
  const idStart = offset + PSK_LEN;
  if (idLen < 1 || keyLen < 1 || idStart + idLen + keyLen > b.length) {
    throw new AdminWireError('admin_com_psk', offset + 8, `id_len ${idLen} / key_len ${keyLen} overrun the request`);
  }
  const cstr = (start: number, len: number): string => b.subarray(start, start + len - 1).toString('utf8');
  return { idType, id: cstr(idStart, idLen), key: cstr(idStart + idLen, keyLen) };
}

// ---------------------------------------------------------------------------
// struct scheddump (32 bytes) — the ADMIN_SHOW_SCHED reply row (racoon schedule.h):
// time_t xtime @0 (when it fires), long id @8, time_t created @16, time_t tick @24 (seconds after created)

export interface SchedDump {
  xtime: number;
  id: number;
  created: number;
  tick: number;
}

export function encodeSchedDump(d: SchedDump): Buffer {
  const b = Buffer.alloc(SCHEDDUMP_LEN);
  b.writeBigInt64LE(BigInt(d.xtime), 0);
  b.writeBigInt64LE(BigInt(d.id), 8);
  b.writeBigInt64LE(BigInt(d.created), 16);
  b.writeBigInt64LE(BigInt(d.tick), 24);
  return b;
}

/** The rows of an ADMIN_SHOW_SCHED reply; a length that is not a multiple of 32 is an error at the first partial row. */
export function decodeSchedDumps(b: Buffer): SchedDump[] {
  if (b.length % SCHEDDUMP_LEN !== 0) throw new AdminWireError('scheddump', b.length - (b.length % SCHEDDUMP_LEN), `reply of ${b.length} bytes is not a whole number of ${SCHEDDUMP_LEN}-byte rows`);
  const out: SchedDump[] = [];
  for (let o = 0; o < b.length; o += SCHEDDUMP_LEN) {
    out.push({ xtime: Number(b.readBigInt64LE(o)), id: Number(b.readBigInt64LE(o + 8)), created: Number(b.readBigInt64LE(o + 16)), tick: Number(b.readBigInt64LE(o + 24)) });
  }
  return out;
}

// ---------------------------------------------------------------------------
// struct ph1dump (304 bytes) — the ADMIN_SHOW_SA isakmp reply row

export interface Ph1Dump {
  initiatorCookie: Buffer; // 8 bytes
  responderCookie: Buffer; // 8 bytes
  status: number;
  side: number; // 0 initiator, 1 responder
  remote: SockAddr | null;
  local: SockAddr | null;
  version: number; // ISAKMP major<<4|minor (0x10 IKEv1, 0x20 IKEv2)
  etype: number;
  created: number; // time_t seconds
  ph2cnt: number;
}

export function encodePh1Dump(d: Ph1Dump): Buffer {
  const b = Buffer.alloc(PH1DUMP_LEN);
  d.initiatorCookie.copy(b, 0, 0, 8);
  d.responderCookie.copy(b, 8, 0, 8);
  b.writeInt32LE(d.status, 16);
  b.writeInt32LE(d.side, 20);
  writeStorage(b, 24, d.remote);
  writeStorage(b, 152, d.local);
  b.writeUInt8(d.version, 280);
  b.writeUInt8(d.etype, 281);
  b.writeBigInt64LE(BigInt(d.created), 288);
  b.writeInt32LE(d.ph2cnt, 296);
  return b;
}

export function decodePh1Dump(b: Buffer, offset = 0): Ph1Dump {
  if (b.length - offset < PH1DUMP_LEN) throw new AdminWireError('ph1dump', offset, `needs ${PH1DUMP_LEN} bytes`);
  const v = b.subarray(offset, offset + PH1DUMP_LEN);
  return {
    initiatorCookie: Buffer.from(v.subarray(0, 8)),
    responderCookie: Buffer.from(v.subarray(8, 16)),
    status: v.readInt32LE(16),
    side: v.readInt32LE(20),
    remote: readStorage(v, 24, 'ph1dump.remote'),
    local: readStorage(v, 152, 'ph1dump.local'),
    version: v.readUInt8(280),
    etype: v.readUInt8(281),
    created: Number(v.readBigInt64LE(288)),
    ph2cnt: v.readInt32LE(296),
  };
}

// ---------------------------------------------------------------------------
// struct evt_async (280 bytes) — pushed on ADMIN_SHOW_EVT streams

export interface EvtAsync {
  type: EvtType;
  timestamp: number;
  ph1src: SockAddr | null;
  ph1dst: SockAddr | null;
  ph2msgid: number;
}

export function encodeEvtAsync(e: EvtAsync): Buffer {
  const b = Buffer.alloc(EVT_ASYNC_LEN);
  b.writeUInt32LE(e.type, 0);
  b.writeBigInt64LE(BigInt(e.timestamp), 8);
  writeStorage(b, 16, e.ph1src);
  writeStorage(b, 144, e.ph1dst);
  b.writeUInt32LE(e.ph2msgid >>> 0, 272);
  return b;
}

export function decodeEvtAsync(b: Buffer, offset = 0): EvtAsync {
  if (b.length - offset < EVT_ASYNC_LEN) throw new AdminWireError('evt_async', offset, `needs ${EVT_ASYNC_LEN} bytes`);
  const v = b.subarray(offset, offset + EVT_ASYNC_LEN);
  return {
    type: v.readUInt32LE(0),
    timestamp: Number(v.readBigInt64LE(8)),
    ph1src: readStorage(v, 16, 'evt_async.ph1src'),
    ph1dst: readStorage(v, 144, 'evt_async.ph1dst'),
    ph2msgid: v.readUInt32LE(272),
  };
}

/** One pushed event frame: admin_com{len, SHOW_EVT, 0, 0} + evt_async (+ attributes). */
export function encodeEventFrame(e: EvtAsync, attributes: Buffer = Buffer.alloc(0)): Buffer {
  return encodeReply(AdminCmd.SHOW_EVT, 0, 0, Buffer.concat([encodeEvtAsync(e), attributes]));
}
