/**
 * PF_KEYv2 wire codec (RFC 2367 §2, Linux include/uapi/linux/pfkeyv2.h layouts).
 *
 * One table, EXTENSIONS, describes every extension: its type number, its
 * PfKeyExtensions key, the fixed struct (field, width, byte offset) and the
 * variable tail after it. encodeMessage and decodeMessage both walk that
 * table, so the two directions cannot drift apart.
 *
 * Wire conventions (Linux x86_64): every multi-byte field is host order
 * (little-endian) except the SPI, ports and sin6_flowinfo, which are network
 * order; sockaddrs are Linux's (no sa_len, AF_INET6 = 10); all lengths in
 * sadb_msg/sadb_ext are 64-bit words (RFC 2367 §2.3.4) except
 * sadb_x_ipsecrequest_len, which Linux counts in bytes.
 *
 * decodeMessage never throws: a malformed message yields a typed error naming
 * the byte offset and the rule broken. An extension of unknown type is
 * skipped and reported (msg.unknown + a warning) instead of rejecting the
 * whole message as libipsec does (that broke racoon on newer kernels).
 */
import { formatIp, parseIp } from '../util/ip';
import {
  AF_INET,
  AF_INET6,
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  NatTType,
  PF_KEY_V2,
  PFKEY_UNIT64,
  SADB_EXT_MAX,
  SADB_MAX,
  SADB_MSG_LEN,
  SadbExtType,
  SadbMsgType,
  SadbSaState,
  SadbSaType,
} from './constants';
import type {
  PfKeyDecodeError,
  PfKeyDecodeResult,
  PfKeyExtensions,
  PfKeyMessage,
  SadbAddress,
  SadbAlg,
  SadbComb,
  SadbIdent,
  SadbKey,
  SadbLifetime,
  SadbProp,
  SadbSa,
  SadbSens,
  SadbSpirange,
  SadbSupported,
  SadbXFilter,
  SadbXIpsecRequest,
  SadbXKmaddress,
  SadbXKmprivate,
  SadbXNatTPort,
  SadbXNatTType,
  SadbXPolicy,
  SadbXSa2,
  SadbXSecCtx,
  SockAddr,
  UnknownExtension,
} from './types';

// ---------------------------------------------------------------------------
// Errors

/** Thrown by the encoders when the model cannot be put on the wire as given. */
export class PfKeyEncodeError extends Error {
  override readonly name = 'PfKeyEncodeError';
  constructor(
    /** Short machine-readable rule id, e.g. 'key-length'. */
    readonly rule: string,
    /** Where in the model, e.g. 'ext.keyAuth.key'. */
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

type Fail = { ok: false; error: PfKeyDecodeError };
const fail = (offset: number, rule: string, message: string): Fail => ({
  ok: false,
  error: { offset, rule, message },
});

export const align8 = (n: number): number => Math.ceil(n / PFKEY_UNIT64) * PFKEY_UNIT64;

// ---------------------------------------------------------------------------
// Fixed-struct field descriptions

/** Field widths; be* are network order, the rest host (little-endian) order. */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'be16' | 'be32';
const FIELD_BITS: Record<FieldKind, number> = { u8: 8, u16: 16, u32: 32, u64: 64, be16: 16, be32: 32 };
const FIELD_LIMIT: Record<FieldKind, number> = { u8: 0x100, u16: 0x10000, u32: 0x100000000, u64: 2 ** 64, be16: 0x10000, be32: 0x100000000 };

type NumericKey<V> = { [P in keyof V]-?: V[P] extends number | bigint ? P : never }[keyof V] & string;

/**
 * One field of a fixed struct, at a byte offset from the start of the struct:
 * - `field`: a model field of the same name (`names`: its enum, for decode
 *   warnings on values it does not know);
 * - `reserved`: written as zero, ignored when read;
 * - `wire`: a wire-only count (e.g. sadb_x_ctx_len) produced by the tail
 *   encoder and handed to the tail decoder.
 */
export type FieldSpec<V> =
  | { offset: number; kind: FieldKind; field: NumericKey<V>; names?: Readonly<Record<number, string>> }
  | { offset: number; kind: FieldKind; reserved: true }
  | { offset: number; kind: FieldKind; wire: string };

export interface StructLayout<V> {
  /** The C struct name in pfkeyv2.h. */
  struct: string;
  size: number;
  fields: readonly FieldSpec<V>[];
}

type Scalars = Record<string, number | bigint>;

/** Write one field; `path` + `field` name it in the error (joined only on failure). */
function writeScalar(b: Buffer, off: number, kind: FieldKind, raw: unknown, path: string, field?: string): void {
  if (kind === 'u64') {
    if (typeof raw !== 'bigint' || raw < 0n || raw > 0xffffffffffffffffn) {
      throw new PfKeyEncodeError('field-range', field ? `${path}.${field}` : path, `must be a bigint in [0, 2^64), got ${String(raw)}`);
    }
    b.writeBigUInt64LE(raw, off);
    return;
  }
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw >= FIELD_LIMIT[kind]) {
    throw new PfKeyEncodeError('field-range', field ? `${path}.${field}` : path, `must be an integer in [0, 2^${FIELD_BITS[kind]}), got ${String(raw)}`);
  }
  switch (kind) {
    case 'u8':
      b.writeUInt8(raw, off);
      break;
    case 'u16':
      b.writeUInt16LE(raw, off);
      break;
    case 'u32':
      b.writeUInt32LE(raw, off);
      break;
    case 'be16':
      b.writeUInt16BE(raw, off);
      break;
    case 'be32':
      b.writeUInt32BE(raw, off);
      break;
  }
}

function readScalar(b: Buffer, off: number, kind: FieldKind): number | bigint {
  switch (kind) {
    case 'u8':
      return b.readUInt8(off);
    case 'u16':
      return b.readUInt16LE(off);
    case 'u32':
      return b.readUInt32LE(off);
    case 'u64':
      return b.readBigUInt64LE(off);
    case 'be16':
      return b.readUInt16BE(off);
    case 'be32':
      return b.readUInt32BE(off);
  }
}

/** Write a struct from its layout into a fresh buffer. */
function writeStruct<V>(layout: StructLayout<V>, v: V, wire: Record<string, number>, path: string): Buffer {
  const b = Buffer.alloc(layout.size);
  for (const f of layout.fields) {
    if ('field' in f) {
      const raw: unknown = v[f.field];
      writeScalar(b, f.offset, f.kind, raw, path, f.field);
    } else if ('wire' in f) {
      writeScalar(b, f.offset, f.kind, wire[f.wire] ?? 0, path, `(${layout.struct} ${f.wire})`);
    }
  }
  return b;
}

/**
 * Read a struct's model fields and wire counts (the caller checked the
 * bounds). Enum values the layout does not name are kept, with a warning.
 */
function readStruct<V>(
  layout: StructLayout<V>,
  b: Buffer,
  base: number,
  warnings?: string[],
  where?: string,
): { model: Scalars; wire: Record<string, number> } {
  const model: Scalars = {};
  const wire: Record<string, number> = {};
  for (const f of layout.fields) {
    if ('field' in f) {
      const v = readScalar(b, base + f.offset, f.kind);
      model[f.field] = v;
      if (f.names && warnings && f.names[Number(v)] === undefined) warnings.push(`${where ?? layout.struct}: unknown ${f.field} ${String(v)}`);
    } else if ('wire' in f) wire[f.wire] = Number(readScalar(b, base + f.offset, f.kind));
  }
  return { model, wire };
}

// ---------------------------------------------------------------------------
// Socket addresses (Linux sockaddr_in / sockaddr_in6, no sa_len)

const SOCKADDR_IN_LEN = 16;
const SOCKADDR_IN6_LEN = 28;

/** sizeof(struct sockaddr_in) / sizeof(struct sockaddr_in6) on Linux. */
export function sockaddrLen(family: number): number | null {
  if (family === AF_INET) return SOCKADDR_IN_LEN;
  if (family === AF_INET6) return SOCKADDR_IN6_LEN;
  return null;
}

/** Largest prefix length for an address family. */
export function maxPrefixLen(family: 2 | 10): number {
  return family === AF_INET ? 32 : 128;
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

function addressBytes(family: 2 | 10, text: unknown, path: string): Buffer {
  const quad = family === AF_INET && typeof text === 'string' ? DOTTED_QUAD.exec(text) : null;
  const bytes = quad
    ? Buffer.from([Number(quad[1]), Number(quad[2]), Number(quad[3]), Number(quad[4])])
    : typeof text === 'string'
      ? parseIp(text)
      : null;
  const want = family === AF_INET ? 4 : 16;
  if (!bytes || bytes.length !== want) {
    throw new PfKeyEncodeError(
      'address-text',
      path,
      `${JSON.stringify(text)} is not an ${family === AF_INET ? 'IPv4' : 'IPv6'} address`,
    );
  }
  return bytes;
}

function checkFamily(family: unknown, path: string): 2 | 10 {
  if (family !== AF_INET && family !== AF_INET6) {
    throw new PfKeyEncodeError('sockaddr-family', path, `family must be AF_INET (2) or AF_INET6 (10), got ${String(family)}`);
  }
  return family;
}

/** Encode a Linux sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes), unpadded. */
export function encodeSockAddr(sa: SockAddr, path = 'sockaddr'): Buffer {
  const family = checkFamily(sa.family, `${path}.family`);
  const addr = addressBytes(family, sa.address, `${path}.address`);
  const b = Buffer.alloc(family === AF_INET ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN);
  b.writeUInt16LE(family, 0);
  writeScalar(b, 2, 'be16', sa.port, `${path}.port`);
  if (family === AF_INET) {
    if ((sa.flowinfo ?? 0) !== 0 || (sa.scopeId ?? 0) !== 0) {
      throw new PfKeyEncodeError('sockaddr-v4-fields', path, 'flowinfo/scopeId exist only for AF_INET6');
    }
    addr.copy(b, 4);
  } else {
    writeScalar(b, 4, 'be32', sa.flowinfo ?? 0, `${path}.flowinfo`);
    addr.copy(b, 8);
    writeScalar(b, 24, 'u32', sa.scopeId ?? 0, `${path}.scopeId`);
  }
  return b;
}

export type SockAddrDecodeResult = { ok: true; addr: SockAddr; length: number } | Fail;

/**
 * Decode a Linux sockaddr at `offset`, not reading past `end`. Error offsets
 * are indexes into `buf`.
 */
export function decodeSockAddr(buf: Uint8Array, offset = 0, end = buf.length): SockAddrDecodeResult {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return readSockAddr(b, offset, Math.min(end, b.length));
}

function readSockAddr(b: Buffer, offset: number, end: number): SockAddrDecodeResult {
  if (offset < 0 || end - offset < 2) {
    return fail(Math.max(0, Math.min(offset, b.length)), 'sockaddr-short', 'no room for sa_family');
  }
  const family = b.readUInt16LE(offset);
  const len = sockaddrLen(family);
  if (len === null) {
    return fail(offset, 'sockaddr-family', `sa_family ${family} is neither AF_INET (2) nor AF_INET6 (10)`);
  }
  if (end - offset < len) {
    return fail(offset, 'sockaddr-len', `${family === AF_INET ? 'sockaddr_in' : 'sockaddr_in6'} needs ${len} bytes, ${end - offset} left`);
  }
  const port = b.readUInt16BE(offset + 2);
  if (family === AF_INET) {
    const a = offset + 4;
    return { ok: true, addr: { family: AF_INET, address: `${b[a]}.${b[a + 1]}.${b[a + 2]}.${b[a + 3]}`, port }, length: len };
  }
  const addr: SockAddr = { family: AF_INET6, address: formatIp(b.subarray(offset + 8, offset + 24)), port };
  const flowinfo = b.readUInt32BE(offset + 4);
  const scopeId = b.readUInt32LE(offset + 24);
  if (flowinfo !== 0) addr.flowinfo = flowinfo;
  if (scopeId !== 0) addr.scopeId = scopeId;
  return { ok: true, addr, length: len };
}

// ---------------------------------------------------------------------------
// Extension table

/** What a tail encoder returns: the bytes after the fixed struct (unpadded) and wire-only counts. */
interface TailOut {
  bytes: Buffer;
  wire?: Record<string, number>;
}

interface TailIn {
  buf: Buffer;
  extStart: number; // absolute offset of the sadb_ext header
  start: number; // absolute offset of the tail (after the fixed struct)
  end: number; // absolute end of the extension (sadb_ext_len)
  model: Scalars; // fixed fields already read
  wire: Record<string, number>;
  warnings: string[];
}

type TailResult<V> = { ok: true; value: Partial<V>; end: number } | Fail;

interface TailSpec<V> {
  /** Human description for docs/describe. */
  what: string;
  encode(v: V, path: string): TailOut;
  decode(t: TailIn): TailResult<V>;
}

export interface ExtLayout<V> extends StructLayout<V> {
  type: SadbExtType;
  /** The C constant, e.g. SADB_X_EXT_POLICY. */
  name: string;
  tail?: TailSpec<V>;
  /** Extra rule over the fixed fields (after they are read). */
  check?: (model: Scalars, extStart: number) => Fail | null;
  /** 16-byte xfrm_address_t-style slots inside the fixed struct (sadb_x_filter). */
  inaddr?: readonly { offset: number; field: 'saddr' | 'daddr' }[];
}

type ExtKey = keyof PfKeyExtensions & string;
type ExtValue<K extends ExtKey> = NonNullable<PfKeyExtensions[K]>;
export type ExtTable = { [K in ExtKey]-?: ExtLayout<ExtValue<K>> };

// RFC 2367 §2.3.3 sadb_sa
const SA_LAYOUT: ExtLayout<SadbSa> = {
  type: SadbExtType.SA,
  name: 'SADB_EXT_SA',
  struct: 'sadb_sa',
  size: 16,
  fields: [
    { offset: 4, kind: 'be32', field: 'spi' },
    { offset: 8, kind: 'u8', field: 'replay' },
    { offset: 9, kind: 'u8', field: 'state', names: SadbSaState },
    { offset: 10, kind: 'u8', field: 'auth' },
    { offset: 11, kind: 'u8', field: 'encrypt' },
    { offset: 12, kind: 'u32', field: 'flags' },
  ],
};

// RFC 2367 §2.3.3 sadb_lifetime
const lifetimeLayout = (type: SadbExtType, name: string): ExtLayout<SadbLifetime> => ({
  type,
  name,
  struct: 'sadb_lifetime',
  size: 32,
  fields: [
    { offset: 4, kind: 'u32', field: 'allocations' },
    { offset: 8, kind: 'u64', field: 'bytes' },
    { offset: 16, kind: 'u64', field: 'addtime' },
    { offset: 24, kind: 'u64', field: 'usetime' },
  ],
});

// RFC 2367 §2.3.3 sadb_address + sockaddr padded to 8
const ADDRESS_TAIL: TailSpec<SadbAddress> = {
  what: 'sockaddr, padded to 8 bytes',
  encode(v, path) {
    const family = checkFamily(v.addr?.family, `${path}.addr.family`);
    if (typeof v.prefixlen === 'number' && v.prefixlen > maxPrefixLen(family)) {
      throw new PfKeyEncodeError('address-prefixlen', `${path}.prefixlen`, `${v.prefixlen} exceeds ${maxPrefixLen(family)}`);
    }
    return { bytes: encodeSockAddr(v.addr, `${path}.addr`) };
  },
  decode(t) {
    const sa = readSockAddr(t.buf, t.start, t.end);
    if (!sa.ok) return sa;
    const prefixlen = Number(t.model.prefixlen);
    if (prefixlen > maxPrefixLen(sa.addr.family)) {
      return fail(t.extStart + 5, 'address-prefixlen', `sadb_address_prefixlen ${prefixlen} exceeds ${maxPrefixLen(sa.addr.family)}`);
    }
    return { ok: true, value: { addr: sa.addr }, end: t.start + sa.length };
  },
};
const addressLayout = (type: SadbExtType, name: string): ExtLayout<SadbAddress> => ({
  type,
  name,
  struct: 'sadb_address',
  size: 8,
  fields: [
    { offset: 4, kind: 'u8', field: 'proto' },
    { offset: 5, kind: 'u8', field: 'prefixlen' },
    { offset: 6, kind: 'u16', reserved: true },
  ],
  tail: ADDRESS_TAIL,
});

// RFC 2367 §2.3.3 sadb_key + key bits padded to 8
const KEY_TAIL: TailSpec<SadbKey> = {
  what: 'ceil(bits/8) key bytes, padded to 8',
  encode(v, path) {
    if (!Buffer.isBuffer(v.key)) throw new PfKeyEncodeError('key-type', `${path}.key`, 'must be a Buffer');
    const want = Math.ceil(v.bits / 8);
    if (v.key.length !== want) {
      throw new PfKeyEncodeError('key-length', `${path}.key`, `${v.key.length} bytes do not match sadb_key_bits ${v.bits} (${want} bytes)`);
    }
    return { bytes: v.key };
  },
  decode(t) {
    const n = Math.ceil(Number(t.model.bits) / 8);
    if (t.start + n > t.end) {
      return fail(t.extStart + 4, 'key-bits-overrun', `sadb_key_bits ${String(t.model.bits)} needs ${n} bytes, extension has ${t.end - t.start}`);
    }
    return { ok: true, value: { key: Buffer.from(t.buf.subarray(t.start, t.start + n)) }, end: t.start + n };
  },
};
const keyLayout = (type: SadbExtType, name: string): ExtLayout<SadbKey> => ({
  type,
  name,
  struct: 'sadb_key',
  size: 8,
  fields: [
    { offset: 4, kind: 'u16', field: 'bits' },
    { offset: 6, kind: 'u16', reserved: true },
  ],
  tail: KEY_TAIL,
});

// RFC 2367 §2.3.3 sadb_ident + NUL-terminated string padded to 8
const IDENT_TAIL: TailSpec<SadbIdent> = {
  what: 'identity string, NUL-terminated and NUL-padded to 8',
  encode(v, path) {
    if (!Buffer.isBuffer(v.data)) throw new PfKeyEncodeError('ident-type', `${path}.data`, 'must be a Buffer');
    if (v.data.length > 0 && v.data[v.data.length - 1] === 0) {
      throw new PfKeyEncodeError('ident-trailing-nul', `${path}.data`, 'must not end in NUL (the NUL padding is added by the codec)');
    }
    return { bytes: Buffer.concat([v.data, Buffer.alloc(1)]) };
  },
  decode(t) {
    let e = t.end;
    while (e > t.start && t.buf[e - 1] === 0) e--;
    return { ok: true, value: { data: Buffer.from(t.buf.subarray(t.start, e)) }, end: t.end };
  },
};
const identLayout = (type: SadbExtType, name: string): ExtLayout<SadbIdent> => ({
  type,
  name,
  struct: 'sadb_ident',
  size: 16,
  fields: [
    { offset: 4, kind: 'u16', field: 'type' },
    { offset: 6, kind: 'u16', reserved: true },
    { offset: 8, kind: 'u64', field: 'id' },
  ],
  tail: IDENT_TAIL,
});

function u64Array(b: Buffer, start: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(b.readBigUInt64LE(start + i * 8));
  return out;
}
function checkBitmap(words: unknown, path: string): bigint[] {
  if (!Array.isArray(words) || words.length > 255) {
    throw new PfKeyEncodeError('sens-bitmap', path, 'must be an array of at most 255 64-bit words');
  }
  return words.map((w: unknown, i) => {
    if (typeof w !== 'bigint' || w < 0n || w > 0xffffffffffffffffn) {
      throw new PfKeyEncodeError('field-range', `${path}[${i}]`, 'must be a bigint in [0, 2^64)');
    }
    return w;
  });
}

// RFC 2367 §2.3.3 sadb_sens + bitmaps
const SENS_LAYOUT: ExtLayout<SadbSens> = {
  type: SadbExtType.SENSITIVITY,
  name: 'SADB_EXT_SENSITIVITY',
  struct: 'sadb_sens',
  size: 16,
  fields: [
    { offset: 4, kind: 'u32', field: 'dpd' },
    { offset: 8, kind: 'u8', field: 'sensLevel' },
    { offset: 9, kind: 'u8', wire: 'sensLen' },
    { offset: 10, kind: 'u8', field: 'integLevel' },
    { offset: 11, kind: 'u8', wire: 'integLen' },
    { offset: 12, kind: 'u32', reserved: true },
  ],
  tail: {
    what: 'sens_len then integ_len 64-bit bitmap words',
    encode(v, path) {
      const s = checkBitmap(v.sensBitmap, `${path}.sensBitmap`);
      const i = checkBitmap(v.integBitmap, `${path}.integBitmap`);
      const bytes = Buffer.alloc((s.length + i.length) * 8);
      [...s, ...i].forEach((w, k) => bytes.writeBigUInt64LE(w, k * 8));
      return { bytes, wire: { sensLen: s.length, integLen: i.length } };
    },
    decode(t) {
      const s = t.wire.sensLen ?? 0;
      const i = t.wire.integLen ?? 0;
      if (t.start + (s + i) * 8 > t.end) {
        return fail(t.extStart + 9, 'sens-bitmap-overrun', `sens_len ${s} + integ_len ${i} words exceed the extension`);
      }
      return {
        ok: true,
        value: { sensBitmap: u64Array(t.buf, t.start, s), integBitmap: u64Array(t.buf, t.start + s * 8, i) },
        end: t.start + (s + i) * 8,
      };
    },
  },
};

// RFC 2367 §2.3.3 sadb_comb (72 bytes on Linux)
export const COMB_LAYOUT: StructLayout<SadbComb> = {
  struct: 'sadb_comb',
  size: 72,
  fields: [
    { offset: 0, kind: 'u8', field: 'auth' },
    { offset: 1, kind: 'u8', field: 'encrypt' },
    { offset: 2, kind: 'u16', field: 'flags' },
    { offset: 4, kind: 'u16', field: 'authMinbits' },
    { offset: 6, kind: 'u16', field: 'authMaxbits' },
    { offset: 8, kind: 'u16', field: 'encryptMinbits' },
    { offset: 10, kind: 'u16', field: 'encryptMaxbits' },
    { offset: 12, kind: 'u32', reserved: true },
    { offset: 16, kind: 'u32', field: 'softAllocations' },
    { offset: 20, kind: 'u32', field: 'hardAllocations' },
    { offset: 24, kind: 'u64', field: 'softBytes' },
    { offset: 32, kind: 'u64', field: 'hardBytes' },
    { offset: 40, kind: 'u64', field: 'softAddtime' },
    { offset: 48, kind: 'u64', field: 'hardAddtime' },
    { offset: 56, kind: 'u64', field: 'softUsetime' },
    { offset: 64, kind: 'u64', field: 'hardUsetime' },
  ],
};

// RFC 2367 §2.3.3 sadb_alg (8 bytes)
export const ALG_LAYOUT: StructLayout<SadbAlg> = {
  struct: 'sadb_alg',
  size: 8,
  fields: [
    { offset: 0, kind: 'u8', field: 'id' },
    { offset: 1, kind: 'u8', field: 'ivlen' },
    { offset: 2, kind: 'u16', field: 'minbits' },
    { offset: 4, kind: 'u16', field: 'maxbits' },
    { offset: 6, kind: 'u16', reserved: true },
  ],
};

/** A tail that is an array of one fixed struct filling the rest of the extension. */
function arrayTail<V, E>(
  layout: StructLayout<E>,
  get: (v: V) => unknown,
  wrap: (items: E[]) => Partial<V>,
  rule: string,
  member: string,
): TailSpec<V> {
  return {
    what: `${layout.struct}[] (${layout.size} bytes each)`,
    encode(v, path) {
      const items = get(v);
      if (!Array.isArray(items)) throw new PfKeyEncodeError('field-type', `${path}.${member}`, 'must be an array');
      return { bytes: Buffer.concat(items.map((it: E, i) => writeStruct(layout, it, {}, `${path}.${member}[${i}]`))) };
    },
    decode(t) {
      if ((t.end - t.start) % layout.size !== 0) {
        return fail(t.start, rule, `${t.end - t.start} bytes after the header are not a whole number of ${layout.size}-byte ${layout.struct}`);
      }
      const items: E[] = [];
      for (let o = t.start; o < t.end; o += layout.size) items.push(readStruct(layout, t.buf, o).model as unknown as E);
      return { ok: true, value: wrap(items), end: t.end };
    },
  };
}

// RFC 2367 §2.3.3 sadb_prop + sadb_comb[]
const PROP_LAYOUT: ExtLayout<SadbProp> = {
  type: SadbExtType.PROPOSAL,
  name: 'SADB_EXT_PROPOSAL',
  struct: 'sadb_prop',
  size: 8,
  fields: [
    { offset: 4, kind: 'u8', field: 'replay' },
    { offset: 5, kind: 'u8', reserved: true },
    { offset: 6, kind: 'u16', reserved: true },
  ],
  tail: arrayTail<SadbProp, SadbComb>(COMB_LAYOUT, (v) => v.combs, (combs) => ({ combs }), 'prop-comb-len', 'combs'),
};

// RFC 2367 §2.3.3 sadb_supported + sadb_alg[]
const supportedLayout = (type: SadbExtType, name: string): ExtLayout<SadbSupported> => ({
  type,
  name,
  struct: 'sadb_supported',
  size: 8,
  fields: [{ offset: 4, kind: 'u32', reserved: true }],
  tail: arrayTail<SadbSupported, SadbAlg>(ALG_LAYOUT, (v) => v.algs, (algs) => ({ algs }), 'supported-alg-len', 'algs'),
});

// RFC 2367 §2.3.3 sadb_spirange (host order, as Linux af_key and libipsec use it)
const SPIRANGE_LAYOUT: ExtLayout<SadbSpirange> = {
  type: SadbExtType.SPIRANGE,
  name: 'SADB_EXT_SPIRANGE',
  struct: 'sadb_spirange',
  size: 16,
  fields: [
    { offset: 4, kind: 'u32', field: 'min' },
    { offset: 8, kind: 'u32', field: 'max' },
    { offset: 12, kind: 'u32', reserved: true },
  ],
};

// KAME sadb_x_kmprivate
const KMPRIVATE_LAYOUT: ExtLayout<SadbXKmprivate> = {
  type: SadbExtType.X_KMPRIVATE,
  name: 'SADB_X_EXT_KMPRIVATE',
  struct: 'sadb_x_kmprivate',
  size: 8,
  fields: [{ offset: 4, kind: 'u32', field: 'reserved' }],
};

/** Linux sadb_x_ipsecrequest (16 bytes); its len counts BYTES incl. the sockaddr pair. */
export const IPSECREQUEST_LAYOUT: StructLayout<SadbXIpsecRequest> = {
  struct: 'sadb_x_ipsecrequest',
  size: 16,
  fields: [
    { offset: 0, kind: 'u16', wire: 'len' },
    { offset: 2, kind: 'u16', field: 'proto' },
    { offset: 4, kind: 'u8', field: 'mode', names: IpsecMode },
    { offset: 5, kind: 'u8', field: 'level', names: IpsecLevel },
    { offset: 6, kind: 'u16', reserved: true },
    { offset: 8, kind: 'u32', field: 'reqid' },
    { offset: 12, kind: 'u32', reserved: true },
  ],
};

/**
 * A sockaddr pair as Linux lays it out after sadb_x_ipsecrequest and
 * sadb_x_kmaddress: both sockaddrs back to back (no padding between them),
 * the pair padded to ALIGN8(2·salen): 32 bytes for IPv4, 56 for IPv6.
 */
export function sockaddrPairSize(family: 2 | 10): number {
  return align8(2 * (family === AF_INET ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN));
}

function encodePair(a: SockAddr, b: SockAddr, path: string, names: [string, string]): Buffer {
  const fa = checkFamily(a.family, `${path}.${names[0]}.family`);
  const fb = checkFamily(b.family, `${path}.${names[1]}.family`);
  if (fa !== fb) {
    throw new PfKeyEncodeError('sockaddr-pair-family', path, `${names[0]} and ${names[1]} must share an address family`);
  }
  const out = Buffer.alloc(sockaddrPairSize(fa));
  const ea = encodeSockAddr(a, `${path}.${names[0]}`);
  ea.copy(out, 0);
  encodeSockAddr(b, `${path}.${names[1]}`).copy(out, ea.length);
  return out;
}

type PairResult = { ok: true; first: SockAddr; second: SockAddr; size: number } | Fail;

function decodePair(buf: Buffer, start: number, end: number, rule: string, what: string): PairResult {
  const a = readSockAddr(buf, start, end);
  if (!a.ok) return a;
  if (end - (start + a.length) >= 2 && buf.readUInt16LE(start + a.length) !== a.addr.family) {
    return fail(start + a.length, `${rule}-family`, `${what}: the second sockaddr's family ${buf.readUInt16LE(start + a.length)} differs from the first's ${a.addr.family}`);
  }
  const b = readSockAddr(buf, start + a.length, end);
  if (!b.ok) return b;
  return { ok: true, first: a.addr, second: b.addr, size: sockaddrPairSize(a.addr.family) };
}

function encodeRequest(r: SadbXIpsecRequest, path: string): Buffer {
  let addrs: Buffer = Buffer.alloc(0);
  if (r.src !== undefined || r.dst !== undefined) {
    if (r.src === undefined || r.dst === undefined) {
      throw new PfKeyEncodeError('ipsecrequest-endpoints', path, 'tunnel endpoints src and dst must both be present or both absent');
    }
    addrs = encodePair(r.src, r.dst, path, ['src', 'dst']);
  }
  const head = writeStruct(IPSECREQUEST_LAYOUT, r, { len: IPSECREQUEST_LAYOUT.size + addrs.length }, path);
  return Buffer.concat([head, addrs]);
}

// Linux sadb_x_policy + sadb_x_ipsecrequest[]
const POLICY_LAYOUT: ExtLayout<SadbXPolicy> = {
  type: SadbExtType.X_POLICY,
  name: 'SADB_X_EXT_POLICY',
  struct: 'sadb_x_policy',
  size: 16,
  fields: [
    { offset: 4, kind: 'u16', field: 'type', names: IpsecPolicyType },
    { offset: 6, kind: 'u8', field: 'dir', names: IpsecDir },
    { offset: 7, kind: 'u8', reserved: true },
    { offset: 8, kind: 'u32', field: 'id' },
    { offset: 12, kind: 'u32', field: 'priority' },
  ],
  tail: {
    what: 'sadb_x_ipsecrequest[] (16 bytes + optional sockaddr pair, len in bytes)',
    encode(v, path) {
      if (!Array.isArray(v.requests)) throw new PfKeyEncodeError('field-type', `${path}.requests`, 'must be an array');
      return { bytes: Buffer.concat(v.requests.map((r, i) => encodeRequest(r, `${path}.requests[${i}]`))) };
    },
    decode(t) {
      const requests: SadbXIpsecRequest[] = [];
      let o = t.start;
      while (o < t.end) {
        if (t.end - o < IPSECREQUEST_LAYOUT.size) {
          return fail(o, 'ipsecrequest-short', `${t.end - o} bytes left, a sadb_x_ipsecrequest needs 16`);
        }
        const len = t.buf.readUInt16LE(o);
        if (len < IPSECREQUEST_LAYOUT.size || len % 8 !== 0 || o + len > t.end) {
          return fail(o, 'ipsecrequest-len', `sadb_x_ipsecrequest_len ${len} is not a multiple of 8 in [16, ${t.end - o}]`);
        }
        const { model } = readStruct(IPSECREQUEST_LAYOUT, t.buf, o, t.warnings, `sadb_x_ipsecrequest at offset ${o}`);
        const r = model as unknown as SadbXIpsecRequest;
        if (len > IPSECREQUEST_LAYOUT.size) {
          const pair = decodePair(t.buf, o + 16, o + len, 'ipsecrequest', 'ipsecrequest');
          if (!pair.ok) return pair;
          if (len !== IPSECREQUEST_LAYOUT.size + pair.size) {
            return fail(o, 'ipsecrequest-len', `sadb_x_ipsecrequest_len ${len} ≠ 16 + ALIGN8(2·salen) = ${16 + pair.size}`);
          }
          r.src = pair.first;
          r.dst = pair.second;
        }
        requests.push(r);
        o += len;
      }
      return { ok: true, value: { requests }, end: t.end };
    },
  },
};

// Linux sadb_x_sa2
const SA2_LAYOUT: ExtLayout<SadbXSa2> = {
  type: SadbExtType.X_SA2,
  name: 'SADB_X_EXT_SA2',
  struct: 'sadb_x_sa2',
  size: 16,
  fields: [
    { offset: 4, kind: 'u8', field: 'mode', names: IpsecMode },
    { offset: 5, kind: 'u8', reserved: true },
    { offset: 6, kind: 'u16', reserved: true },
    { offset: 8, kind: 'u32', field: 'sequence' },
    { offset: 12, kind: 'u32', field: 'reqid' },
  ],
};

// Linux sadb_x_nat_t_type
const NAT_T_TYPE_LAYOUT: ExtLayout<SadbXNatTType> = {
  type: SadbExtType.X_NAT_T_TYPE,
  name: 'SADB_X_EXT_NAT_T_TYPE',
  struct: 'sadb_x_nat_t_type',
  size: 8,
  fields: [
    { offset: 4, kind: 'u8', field: 'type', names: NatTType },
    { offset: 5, kind: 'u8', reserved: true },
    { offset: 6, kind: 'u16', reserved: true },
  ],
};

// Linux sadb_x_nat_t_port (port in network order)
const natTPortLayout = (type: SadbExtType, name: string): ExtLayout<SadbXNatTPort> => ({
  type,
  name,
  struct: 'sadb_x_nat_t_port',
  size: 8,
  fields: [
    { offset: 4, kind: 'be16', field: 'port' },
    { offset: 6, kind: 'u16', reserved: true },
  ],
});

// Linux sadb_x_sec_ctx + context string (sadb_x_sec_len must be exactly ALIGN8(8 + ctx_len)/8, as af_key checks)
const SEC_CTX_LAYOUT: ExtLayout<SadbXSecCtx> = {
  type: SadbExtType.X_SEC_CTX,
  name: 'SADB_X_EXT_SEC_CTX',
  struct: 'sadb_x_sec_ctx',
  size: 8,
  fields: [
    { offset: 4, kind: 'u8', field: 'alg' },
    { offset: 5, kind: 'u8', field: 'doi' },
    { offset: 6, kind: 'u16', wire: 'ctxLen' },
  ],
  tail: {
    what: 'ctx_len context bytes, padded to 8',
    encode(v, path) {
      if (!Buffer.isBuffer(v.ctx)) throw new PfKeyEncodeError('field-type', `${path}.ctx`, 'must be a Buffer');
      if (v.ctx.length > 0xffff) throw new PfKeyEncodeError('sec-ctx-len', `${path}.ctx`, 'longer than 65535 bytes');
      return { bytes: v.ctx, wire: { ctxLen: v.ctx.length } };
    },
    decode(t) {
      const n = t.wire.ctxLen ?? 0;
      if (align8(8 + n) !== t.end - t.extStart) {
        return fail(t.extStart + 6, 'sec-ctx-len', `sadb_x_ctx_len ${n} does not match the extension length ${t.end - t.extStart} (want ALIGN8(8 + ${n}))`);
      }
      return { ok: true, value: { ctx: Buffer.from(t.buf.subarray(t.start, t.start + n)) }, end: t.end };
    },
  },
};

// sadb_x_kmaddress + local then remote sockaddr, padded to ALIGN8(2·salen) (ipsec-tools parse_kmaddress is exact)
const KMADDRESS_LAYOUT: ExtLayout<SadbXKmaddress> = {
  type: SadbExtType.X_KMADDRESS,
  name: 'SADB_X_EXT_KMADDRESS',
  struct: 'sadb_x_kmaddress',
  size: 8,
  fields: [{ offset: 4, kind: 'u32', reserved: true }],
  tail: {
    what: 'local then remote sockaddr (same family), padded to ALIGN8(2·salen)',
    encode(v, path) {
      return { bytes: encodePair(v.local, v.remote, path, ['local', 'remote']) };
    },
    decode(t) {
      const pair = decodePair(t.buf, t.start, t.end, 'kmaddress', 'KMADDRESS');
      if (!pair.ok) return pair;
      if (t.end - t.start !== pair.size) {
        return fail(t.extStart, 'kmaddress-len', `KMADDRESS carries ${t.end - t.start} address bytes, ALIGN8(2·salen) is ${pair.size}`);
      }
      return { ok: true, value: { local: pair.first, remote: pair.second }, end: t.end };
    },
  },
};

// Linux sadb_x_filter (40 bytes): saddr[4], daddr[4] (xfrm_address_t), family, splen, dplen
const FILTER_LAYOUT: ExtLayout<SadbXFilter> = {
  type: SadbExtType.X_FILTER,
  name: 'SADB_X_EXT_FILTER',
  struct: 'sadb_x_filter',
  size: 40,
  fields: [
    { offset: 36, kind: 'u16', field: 'family' },
    { offset: 38, kind: 'u8', field: 'splen' },
    { offset: 39, kind: 'u8', field: 'dplen' },
  ],
  inaddr: [
    { offset: 4, field: 'saddr' },
    { offset: 20, field: 'daddr' },
  ],
  check(model, extStart) {
    const family = Number(model.family);
    if (family !== AF_INET && family !== AF_INET6) {
      return fail(extStart + 36, 'filter-family', `sadb_x_filter_family ${family} is neither AF_INET (2) nor AF_INET6 (10)`);
    }
    const max = maxPrefixLen(family);
    if (Number(model.splen) > max) return fail(extStart + 38, 'filter-prefixlen', `sadb_x_filter_splen ${String(model.splen)} exceeds ${max}`);
    if (Number(model.dplen) > max) return fail(extStart + 39, 'filter-prefixlen', `sadb_x_filter_dplen ${String(model.dplen)} exceeds ${max}`);
    return null;
  },
};

/**
 * THE table: every extension, keyed by its PfKeyExtensions name. Both
 * encodeMessage and decodeMessage walk it.
 */
export const EXTENSIONS: ExtTable = {
  sa: SA_LAYOUT,
  lifetimeCurrent: lifetimeLayout(SadbExtType.LIFETIME_CURRENT, 'SADB_EXT_LIFETIME_CURRENT'),
  lifetimeHard: lifetimeLayout(SadbExtType.LIFETIME_HARD, 'SADB_EXT_LIFETIME_HARD'),
  lifetimeSoft: lifetimeLayout(SadbExtType.LIFETIME_SOFT, 'SADB_EXT_LIFETIME_SOFT'),
  addressSrc: addressLayout(SadbExtType.ADDRESS_SRC, 'SADB_EXT_ADDRESS_SRC'),
  addressDst: addressLayout(SadbExtType.ADDRESS_DST, 'SADB_EXT_ADDRESS_DST'),
  addressProxy: addressLayout(SadbExtType.ADDRESS_PROXY, 'SADB_EXT_ADDRESS_PROXY'),
  keyAuth: keyLayout(SadbExtType.KEY_AUTH, 'SADB_EXT_KEY_AUTH'),
  keyEncrypt: keyLayout(SadbExtType.KEY_ENCRYPT, 'SADB_EXT_KEY_ENCRYPT'),
  identitySrc: identLayout(SadbExtType.IDENTITY_SRC, 'SADB_EXT_IDENTITY_SRC'),
  identityDst: identLayout(SadbExtType.IDENTITY_DST, 'SADB_EXT_IDENTITY_DST'),
  sensitivity: SENS_LAYOUT,
  proposal: PROP_LAYOUT,
  supportedAuth: supportedLayout(SadbExtType.SUPPORTED_AUTH, 'SADB_EXT_SUPPORTED_AUTH'),
  supportedEncrypt: supportedLayout(SadbExtType.SUPPORTED_ENCRYPT, 'SADB_EXT_SUPPORTED_ENCRYPT'),
  spirange: SPIRANGE_LAYOUT,
  kmprivate: KMPRIVATE_LAYOUT,
  policy: POLICY_LAYOUT,
  sa2: SA2_LAYOUT,
  natTType: NAT_T_TYPE_LAYOUT,
  natTSport: natTPortLayout(SadbExtType.X_NAT_T_SPORT, 'SADB_X_EXT_NAT_T_SPORT'),
  natTDport: natTPortLayout(SadbExtType.X_NAT_T_DPORT, 'SADB_X_EXT_NAT_T_DPORT'),
  natTOa: addressLayout(SadbExtType.X_NAT_T_OA, 'SADB_X_EXT_NAT_T_OA'),
  secCtx: SEC_CTX_LAYOUT,
  kmaddress: KMADDRESS_LAYOUT,
  filter: FILTER_LAYOUT,
};

export const EXT_KEYS = Object.keys(EXTENSIONS) as ExtKey[];

/** Extension type number → its model key (built from the one table). */
const KEY_BY_TYPE: ReadonlyMap<number, ExtKey> = new Map(EXT_KEYS.map((k) => [EXTENSIONS[k].type, k]));

export function extensionKey(type: number): ExtKey | undefined {
  return KEY_BY_TYPE.get(type);
}

/** 'SADB_EXT_SA', 'SADB_X_EXT_POLICY', … or 'SADB_EXT_UNKNOWN_<n>'. */
export function extensionName(type: number): string {
  const k = KEY_BY_TYPE.get(type);
  return k ? EXTENSIONS[k].name : type === 0 ? 'SADB_EXT_RESERVED' : `SADB_EXT_UNKNOWN_${type}`;
}

/** 'SADB_GETSPI', 'SADB_X_SPDADD', … */
export function messageTypeName(type: number): string {
  const n: unknown = SadbMsgType[type];
  return typeof n === 'string' ? `SADB_${n}` : `SADB_UNKNOWN_${type}`;
}

/** 'AH', 'ESP', 'X_IPCOMP', 'UNSPEC', … */
export function satypeName(satype: number): string {
  const n: unknown = SadbSaType[satype];
  return typeof n === 'string' ? n : `SATYPE_${satype}`;
}

// ---------------------------------------------------------------------------
// Message header

/** sadb_msg as it is on the wire, read without validation. */
export interface SadbMsgHeader {
  version: number;
  type: number;
  errno: number;
  satype: number;
  len: number; // 64-bit words
  reserved: number;
  seq: number;
  pid: number;
}

/**
 * Read the 16-byte sadb_msg header without any check (null if shorter).
 * Lets a kernel answer a malformed request with an errno reply carrying the
 * sender's seq and pid, as Linux af_key does.
 */
export function peekHeader(buf: Uint8Array): SadbMsgHeader | null {
  if (buf.length < SADB_MSG_LEN) return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    version: b[0],
    type: b[1],
    errno: b[2],
    satype: b[3],
    len: b.readUInt16LE(4),
    reserved: b.readUInt16LE(6),
    seq: b.readUInt32LE(8),
    pid: b.readUInt32LE(12),
  };
}

/** Largest message sadb_msg_len can describe (65535 64-bit words). */
export const PFKEY_MAX_MESSAGE = 0xffff * PFKEY_UNIT64;

// ---------------------------------------------------------------------------
// Encode

function encodeExtension<K extends ExtKey>(key: K, value: ExtValue<K>): Buffer {
  try {
    return encodeExtensionUnchecked(key, value);
  } catch (e) {
    if (e instanceof PfKeyEncodeError) throw e;
    // a value of the wrong shape from untyped code (null where an object belongs, …)
    throw new PfKeyEncodeError('model-shape', `ext.${key}`, e instanceof Error ? e.message : String(e));
  }
}

function encodeExtensionUnchecked<K extends ExtKey>(key: K, value: ExtValue<K>): Buffer {
  // TS cannot correlate EXTENSIONS[key] with PfKeyExtensions[key]; the mapped ExtTable type guarantees it.
  const layout = EXTENSIONS[key] as unknown as ExtLayout<ExtValue<K>>;
  const path = `ext.${key}`;
  if (typeof value !== 'object' || value === null) throw new PfKeyEncodeError('field-type', path, 'must be an object');
  const tail = layout.tail ? layout.tail.encode(value, path) : { bytes: Buffer.alloc(0) };
  const head = writeStruct(layout, value, tail.wire ?? {}, path);
  for (const slot of layout.inaddr ?? []) {
    const fields = value as unknown as Record<string, unknown>;
    const family = checkFamily(fields.family, `${path}.family`);
    const raw: unknown = fields[slot.field];
    addressBytes(family, raw, `${path}.${slot.field}`).copy(head, slot.offset);
  }
  const total = align8(head.length + tail.bytes.length);
  if (total / PFKEY_UNIT64 > 0xffff) throw new PfKeyEncodeError('ext-too-long', path, `${total} bytes exceed sadb_ext_len`);
  const out = Buffer.alloc(total);
  head.copy(out, 0);
  tail.bytes.copy(out, head.length);
  out.writeUInt16LE(total / PFKEY_UNIT64, 0);
  out.writeUInt16LE(layout.type, 2);
  if (layout.check) {
    const bad = layout.check(readStruct(layout, out, 0).model, 0);
    if (bad) throw new PfKeyEncodeError(bad.error.rule, path, bad.error.message);
  }
  return out;
}

function encodeUnknown(u: UnknownExtension, path: string): Buffer {
  const b = u.body;
  if (!Buffer.isBuffer(b) || b.length < 4 || b.length % 8 !== 0) {
    throw new PfKeyEncodeError('unknown-ext-body', `${path}.body`, 'must be a Buffer of a multiple of 8 bytes, sadb_ext header included');
  }
  if (u.type <= SADB_EXT_MAX || b.readUInt16LE(2) !== u.type || b.readUInt16LE(0) * 8 !== b.length) {
    throw new PfKeyEncodeError('unknown-ext-body', path, `type ${u.type} must be > ${SADB_EXT_MAX} and match the body's sadb_ext header`);
  }
  return b;
}

/**
 * Encode a message. Extensions are written in the order of msg.ext's keys
 * (decodeMessage inserts them in wire order). msg.unknown bodies are written
 * verbatim, each before the first known extension that would otherwise start
 * past its recorded offset, so a decoded message re-encodes to the very bytes
 * it came from; unknowns that fit nowhere earlier go last.
 * Throws PfKeyEncodeError for a model that cannot be put on the wire.
 */
export function encodeMessage(msg: PfKeyMessage): Buffer {
  try {
    return encodeMessageUnchecked(msg);
  } catch (e) {
    if (e instanceof PfKeyEncodeError) throw e;
    throw new PfKeyEncodeError('model-shape', 'msg', e instanceof Error ? e.message : String(e));
  }
}

function encodeMessageUnchecked(msg: PfKeyMessage): Buffer {
  const head = Buffer.alloc(SADB_MSG_LEN);
  head.writeUInt8(PF_KEY_V2, 0);
  if (typeof msg.type !== 'number' || !Number.isInteger(msg.type) || msg.type < 0 || msg.type > SADB_MAX) {
    throw new PfKeyEncodeError('msg-type', 'type', `${String(msg.type)} is not a PF_KEY message type 0..${SADB_MAX}`);
  }
  writeScalar(head, 1, 'u8', msg.type, 'type');
  writeScalar(head, 2, 'u8', msg.errno, 'errno');
  writeScalar(head, 3, 'u8', msg.satype, 'satype');
  writeScalar(head, 6, 'u16', msg.reserved ?? 0, 'reserved');
  writeScalar(head, 8, 'u32', msg.seq, 'seq');
  writeScalar(head, 12, 'u32', msg.pid, 'pid');
  const parts: Buffer[] = [head];
  let at = head.length;
  const unknown = (msg.unknown ?? []).map((u, i) => ({ offset: u.offset, body: encodeUnknown(u, `unknown[${i}]`) }));
  const flushUnknown = (all: boolean): void => {
    while (unknown.length > 0 && (all || unknown[0].offset <= at)) {
      const u = unknown.shift();
      if (!u) break;
      parts.push(u.body);
      at += u.body.length;
    }
  };
  if (typeof msg.ext !== 'object' || msg.ext === null) throw new PfKeyEncodeError('field-type', 'ext', 'must be an object');
  for (const key of Object.keys(msg.ext)) {
    if (!KEY_BY_TYPE_VALUES.has(key)) throw new PfKeyEncodeError('ext-key', `ext.${key}`, 'is not a PF_KEY extension');
    const k = key as ExtKey;
    const value = msg.ext[k];
    if (value === undefined) continue;
    flushUnknown(false);
    const part = encodeExtension(k, value);
    parts.push(part);
    at += part.length;
  }
  flushUnknown(true);
  const out = Buffer.concat(parts);
  if (out.length > PFKEY_MAX_MESSAGE) throw new PfKeyEncodeError('msg-too-long', 'msg', `${out.length} bytes exceed sadb_msg_len`);
  out.writeUInt16LE(out.length / PFKEY_UNIT64, 4);
  return out;
}
const KEY_BY_TYPE_VALUES: ReadonlySet<string> = new Set(EXT_KEYS);

// ---------------------------------------------------------------------------
// Decode

type ExtDecoded = { ok: true; value: object } | Fail;

function decodeExtension(key: ExtKey, b: Buffer, extStart: number, extEnd: number, warnings: string[]): ExtDecoded {
  const layout = EXTENSIONS[key] as ExtLayout<object>;
  if (extEnd - extStart < layout.size) {
    return fail(extStart, 'ext-too-short', `${layout.name} is ${extEnd - extStart} bytes, struct ${layout.struct} needs ${layout.size}`);
  }
  const where = `${layout.name} at offset ${extStart}`;
  const { model, wire } = readStruct(layout, b, extStart, warnings, where);
  const bad = layout.check?.(model, extStart);
  if (bad) return bad;
  const value: Record<string, unknown> = { ...model };
  for (const slot of layout.inaddr ?? []) {
    const n = Number(model.family) === AF_INET ? 4 : 16;
    value[slot.field] = formatIp(b.subarray(extStart + slot.offset, extStart + slot.offset + n));
  }
  let consumed = extStart + layout.size;
  if (layout.tail) {
    const t = layout.tail.decode({ buf: b, extStart, start: extStart + layout.size, end: extEnd, model, wire, warnings });
    if (!t.ok) return t;
    Object.assign(value, t.value);
    consumed = t.end;
  }
  if (extEnd - align8(consumed - extStart) > extStart) {
    warnings.push(`${where}: ${extEnd - extStart - align8(consumed - extStart)} trailing bytes ignored`);
  }
  return { ok: true, value };
}

function decodeUnchecked(input: Uint8Array): PfKeyDecodeResult {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (b.length < SADB_MSG_LEN) {
    return fail(b.length, 'msg-short-header', `${b.length} bytes, sadb_msg needs ${SADB_MSG_LEN}`);
  }
  const h = peekHeader(b);
  if (!h) return fail(0, 'msg-short-header', 'no sadb_msg header');
  if (h.version !== PF_KEY_V2) return fail(0, 'msg-version', `sadb_msg_version ${h.version}, expected PF_KEY_V2 (2)`);
  if (h.type > SADB_MAX) return fail(1, 'msg-type', `sadb_msg_type ${h.type} is beyond SADB_MAX (${SADB_MAX})`);
  if (h.len * PFKEY_UNIT64 !== b.length) {
    return fail(4, 'msg-len', `sadb_msg_len ${h.len} words (${h.len * PFKEY_UNIT64} bytes) ≠ ${b.length} bytes received`);
  }
  const warnings: string[] = [];
  if (SadbSaType[h.satype] === undefined) warnings.push(`unknown sadb_msg_satype ${h.satype}`);
  const ext: Record<string, unknown> = {};
  const unknown: UnknownExtension[] = [];
  const seen = new Set<number>();
  let off = SADB_MSG_LEN;
  while (off < b.length) {
    if (b.length - off < 4) return fail(off, 'ext-short-header', `${b.length - off} bytes left, sadb_ext needs 4`);
    const words = b.readUInt16LE(off);
    const type = b.readUInt16LE(off + 2);
    if (words === 0) return fail(off, 'ext-len-zero', `sadb_ext_len 0 (type ${type})`);
    const end = off + words * PFKEY_UNIT64;
    if (end > b.length) {
      return fail(off, 'ext-len-overrun', `sadb_ext_len ${words} words runs ${end - b.length} bytes past the message end`);
    }
    if (type === SadbExtType.RESERVED) return fail(off + 2, 'ext-type-reserved', 'sadb_ext_type 0 is reserved');
    if (seen.has(type)) return fail(off + 2, 'ext-duplicate', `second ${extensionName(type)} in one message`);
    seen.add(type);
    const key = KEY_BY_TYPE.get(type);
    if (key === undefined) {
      unknown.push({ type, offset: off, body: Buffer.from(b.subarray(off, end)) });
      warnings.push(`unknown extension type ${type} at offset ${off} (${end - off} bytes) skipped`);
    } else {
      const r = decodeExtension(key, b, off, end, warnings);
      if (!r.ok) return r;
      ext[key] = r.value;
    }
    off = end;
  }
  const msg: PfKeyMessage = {
    type: h.type as SadbMsgType,
    satype: h.satype as SadbSaType,
    errno: h.errno,
    seq: h.seq,
    pid: h.pid,
    ext: ext as PfKeyExtensions,
  };
  if (h.reserved !== 0) msg.reserved = h.reserved;
  if (unknown.length > 0) msg.unknown = unknown;
  return { ok: true, msg, warnings };
}

/**
 * Decode one PF_KEYv2 message. Never throws: malformed input gives
 * { ok: false, error: { offset, rule, message } }.
 */
export function decodeMessage(buf: Uint8Array): PfKeyDecodeResult {
  try {
    return decodeUnchecked(buf);
  } catch (e) {
    // Not reachable by design (the fuzz test asserts rule !== 'internal'); kept so no input can throw.
    return fail(0, 'internal', `decoder fault: ${e instanceof Error ? e.message : String(e)}`);
  }
}
