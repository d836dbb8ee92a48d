/**
 * The generic encoding-rule walker (strongSwan's parser.c/generator.c idea):
 * every IKEv2 payload body and substructure is a table of rules, and this one
 * parser and one generator walk the tables. A table is the only description
 * of a wire layout, so the encoder and decoder cannot drift.
 *
 * Errors are typed (`WireError`: rule id, byte offset, text). The walker
 * signals them internally with `WireParseError`, which is always caught at the
 * public entry points of payloads.ts; no untyped exception leaves the parser.
 */

export type WireErrorCode =
  | 'truncated'
  | 'bad-length'
  | 'bad-last-substruc'
  | 'bad-count'
  | 'bad-size'
  | 'trailing-bytes'
  | 'bad-header'
  | 'bad-version'
  | 'unsupported-critical-payload'
  | 'sk-not-last'
  | 'bad-value';

export interface WireError {
  code: WireErrorCode;
  /** Byte offset in the datagram (or in the decrypted SK body, see `where`). */
  offset: number;
  message: string;
  /** 'message' = offset into the datagram; 'sk' = offset into the decrypted SK plaintext. */
  where?: 'message' | 'sk';
  /** For UNSUPPORTED_CRITICAL_PAYLOAD: the payload type that was not understood. */
  payloadType?: number;
}

export class WireParseError extends Error {
  constructor(readonly wire: WireError) {
    super(`${wire.code} at offset ${wire.offset}: ${wire.message}`);
  }
}

export function fail(code: WireErrorCode, offset: number, message: string): never {
  throw new WireParseError({ code, offset, message });
}

/** One step of a wire layout. `F` is the set of field names of the struct. */
export type Rule<F extends string> =
  | { op: 'u8' | 'u16' | 'u32' | 'u64'; field: F }
  /** reserved octets: ignored on parse, zero on generate */
  | { op: 'reserved'; bytes: number }
  /** one octet holding two 4-bit fields, high nibble first */
  | { op: 'nibbles'; fields: [F, F] }
  /** one octet: the high bit is a flag field, the low 7 bits reserved */
  | { op: 'flagHigh'; field: F }
  /** fixed-size octet string */
  | { op: 'fixed'; field: F; bytes: number }
  /** u8 holding the byte size of a later `sized` field (e.g. SPI Size) */
  | { op: 'sizeU8'; of: F }
  /** u8/u16 holding the item count of a later list field */
  | { op: 'countU8' | 'countU16'; of: F }
  /** u16 length of this whole structure, its own header included */
  | { op: 'lengthU16' }
  /** "Last Substruc" octet: `more` when another one follows, 0 for the last (RFC 7296 §3.3.1/§3.3.2) */
  | { op: 'lastSubstruc'; more: number }
  /** octet string whose size was given by a preceding sizeU8 */
  | { op: 'sized'; field: F }
  /** list of equal-size octet strings; item size from sizeU8, count from countU8/U16 */
  | { op: 'sizedList'; field: F }
  /** all remaining octets of the structure */
  | { op: 'rest'; field: F }
  /** the remaining octets split into two equal halves (TS start/end address) */
  | { op: 'halves'; fields: [F, F] }
  /** list of substructures until the end (or count, when a countU8/U16 names it) */
  | { op: 'list'; field: F; item: StructDef<string> }
  /** SA transform attributes (RFC 7296 §3.3.5: AF bit, TV or TLV) until the end */
  | { op: 'saAttributes'; field: F }
  /** CP attributes (RFC 7296 §3.15.1: R bit, always TLV) until the end */
  | { op: 'cpAttributes'; field: F };

export interface StructDef<F extends string> {
  name: string;
  rules: Rule<F>[];
}

/** RFC 7296 §3.3.5: AF=1 → TV (value is a number); AF=0 → TLV (value is bytes). */
export interface SaAttribute {
  type: number;
  value: number | Buffer;
}
/** RFC 7296 §3.15.1 configuration attribute. */
export interface CpAttribute {
  type: number;
  value: Buffer;
}

export type WireValue = number | bigint | boolean | Buffer | Buffer[] | WireRecord[] | SaAttribute[] | CpAttribute[];
export type WireRecord = { [field: string]: WireValue };

function need(buf: Buffer, pos: number, n: number, end: number, what: string): void {
  if (pos + n > end) fail('truncated', pos, `${what}: need ${n} octets, ${Math.max(0, end - pos)} left`);
  if (pos + n > buf.length) fail('truncated', pos, `${what}: beyond end of data`);
}

/** Parse one struct occupying exactly buf[start, end). */
export function parseStruct(def: StructDef<string>, buf: Buffer, start: number, end: number): WireRecord {
  const rec: WireRecord = {};
  const sizes = new Map<string, number>();
  const counts = new Map<string, { n: number; at: number }>();
  let pos = start;
  let declaredEnd = end;
  const label = (f: string) => `${def.name}.${f}`;
  for (const rule of def.rules) {
    switch (rule.op) {
      case 'u8':
        need(buf, pos, 1, declaredEnd, label(rule.field));
        rec[rule.field] = buf[pos];
        pos += 1;
        break;
      case 'u16':
        need(buf, pos, 2, declaredEnd, label(rule.field));
        rec[rule.field] = buf.readUInt16BE(pos);
        pos += 2;
        break;
      case 'u32':
        need(buf, pos, 4, declaredEnd, label(rule.field));
        rec[rule.field] = buf.readUInt32BE(pos);
        pos += 4;
        break;
      case 'u64':
        need(buf, pos, 8, declaredEnd, label(rule.field));
        rec[rule.field] = buf.readBigUInt64BE(pos);
        pos += 8;
        break;
      case 'reserved':
        need(buf, pos, rule.bytes, declaredEnd, `${def.name} reserved`);
        pos += rule.bytes;
        break;
      case 'nibbles':
        need(buf, pos, 1, declaredEnd, label(rule.fields[0]));
        rec[rule.fields[0]] = buf[pos] >> 4;
        rec[rule.fields[1]] = buf[pos] & 0x0f;
        pos += 1;
        break;
      case 'flagHigh':
        need(buf, pos, 1, declaredEnd, label(rule.field));
        rec[rule.field] = (buf[pos] & 0x80) !== 0;
        pos += 1;
        break;
      case 'fixed':
        need(buf, pos, rule.bytes, declaredEnd, label(rule.field));
        rec[rule.field] = Buffer.from(buf.subarray(pos, pos + rule.bytes));
        pos += rule.bytes;
        break;
      case 'sizeU8':
        need(buf, pos, 1, declaredEnd, `${def.name} size of ${rule.of}`);
        sizes.set(rule.of, buf[pos]);
        pos += 1;
        break;
      case 'countU8':
        need(buf, pos, 1, declaredEnd, `${def.name} count of ${rule.of}`);
        counts.set(rule.of, { n: buf[pos], at: pos });
        pos += 1;
        break;
      case 'countU16':
        need(buf, pos, 2, declaredEnd, `${def.name} count of ${rule.of}`);
        counts.set(rule.of, { n: buf.readUInt16BE(pos), at: pos });
        pos += 2;
        break;
      case 'lengthU16': {
        need(buf, pos, 2, declaredEnd, `${def.name} length`);
        const len = buf.readUInt16BE(pos);
        if (len < pos + 2 - start || start + len > end)
          fail('bad-length', pos, `${def.name} length ${len} does not fit in ${end - start} octets`);
        declaredEnd = start + len;
        pos += 2;
        break;
      }
      case 'lastSubstruc':
        need(buf, pos, 1, declaredEnd, `${def.name} last substruc`);
        if (buf[pos] !== 0 && buf[pos] !== rule.more)
          fail('bad-last-substruc', pos, `${def.name} last substruc ${buf[pos]} is neither 0 nor ${rule.more}`);
        rec.__more = buf[pos] === rule.more;
        pos += 1;
        break;
      case 'sized': {
        const n = sizes.get(rule.field) ?? 0;
        need(buf, pos, n, declaredEnd, label(rule.field));
        rec[rule.field] = Buffer.from(buf.subarray(pos, pos + n));
        pos += n;
        break;
      }
      case 'sizedList': {
        const size = sizes.get(rule.field) ?? 0;
        const count = counts.get(rule.field)?.n ?? 0;
        if (size === 0 && count > 0) fail('bad-size', pos, `${label(rule.field)}: ${count} items of size 0`);
        need(buf, pos, size * count, declaredEnd, label(rule.field));
        const items: Buffer[] = [];
        for (let i = 0; i < count; i++, pos += size) items.push(Buffer.from(buf.subarray(pos, pos + size)));
        rec[rule.field] = items;
        break;
      }
      case 'rest':
        rec[rule.field] = Buffer.from(buf.subarray(pos, declaredEnd));
        pos = declaredEnd;
        break;
      case 'halves': {
        const n = declaredEnd - pos;
        if (n % 2 !== 0) fail('bad-length', pos, `${def.name}: ${n} octets cannot be split into two equal addresses`);
        rec[rule.fields[0]] = Buffer.from(buf.subarray(pos, pos + n / 2));
        rec[rule.fields[1]] = Buffer.from(buf.subarray(pos + n / 2, declaredEnd));
        pos = declaredEnd;
        break;
      }
      case 'list': {
        const items: WireRecord[] = [];
        const count = counts.get(rule.field);
        while (count ? items.length < count.n : pos < declaredEnd) {
          if (pos >= declaredEnd)
            fail('bad-count', count ? count.at : pos, `${label(rule.field)}: count says ${count?.n}, found ${items.length}`);
          const item = parseStruct(rule.item, buf, pos, declaredEnd);
          const used = item.__len;
          delete item.__len;
          items.push(item);
          pos += typeof used === 'number' ? used : declaredEnd - pos;
        }
        checkLastSubstruc(items, rule.item.name, pos);
        rec[rule.field] = items;
        break;
      }
      case 'saAttributes':
        rec[rule.field] = parseSaAttributes(buf, pos, declaredEnd);
        pos = declaredEnd;
        break;
      case 'cpAttributes':
        rec[rule.field] = parseCpAttributes(buf, pos, declaredEnd);
        pos = declaredEnd;
        break;
    }
  }
  if (declaredEnd !== end) {
    // a substructure with its own length inside a list: report how much was used
    rec.__len = declaredEnd - start;
  } else if (pos !== end) {
    fail('trailing-bytes', pos, `${def.name}: ${end - pos} octets after the last field`);
  }
  if (pos !== declaredEnd) fail('trailing-bytes', pos, `${def.name}: ${declaredEnd - pos} octets after the last field`);
  return rec;
}

function checkLastSubstruc(items: WireRecord[], name: string, pos: number): void {
  for (let i = 0; i < items.length; i++) {
    const more = items[i].__more;
    if (more === undefined) continue;
    const expected = i < items.length - 1;
    if (more !== expected)
      fail('bad-last-substruc', pos, `${name} #${i + 1}: last substruc says ${more ? 'more' : 'last'} but it is ${expected ? 'not ' : ''}the last`);
    delete items[i].__more;
  }
}

const AF_BIT = 0x8000;

function parseSaAttributes(buf: Buffer, pos: number, end: number): SaAttribute[] {
  const out: SaAttribute[] = [];
  while (pos < end) {
    need(buf, pos, 4, end, 'transform attribute');
    const typeWord = buf.readUInt16BE(pos);
    if (typeWord & AF_BIT) {
      out.push({ type: typeWord & 0x7fff, value: buf.readUInt16BE(pos + 2) });
      pos += 4;
    } else {
      const len = buf.readUInt16BE(pos + 2);
      need(buf, pos + 4, len, end, `transform attribute ${typeWord} value`);
      out.push({ type: typeWord, value: Buffer.from(buf.subarray(pos + 4, pos + 4 + len)) });
      pos += 4 + len;
    }
  }
  return out;
}

function parseCpAttributes(buf: Buffer, pos: number, end: number): CpAttribute[] {
  const out: CpAttribute[] = [];
  while (pos < end) {
    need(buf, pos, 4, end, 'configuration attribute');
    const type = buf.readUInt16BE(pos) & 0x7fff;
    const len = buf.readUInt16BE(pos + 2);
    need(buf, pos + 4, len, end, `configuration attribute ${type} value`);
    out.push({ type, value: Buffer.from(buf.subarray(pos + 4, pos + 4 + len)) });
    pos += 4 + len;
  }
  return out;
}

/** A growable octet sink for the generator. */
export class WireWriter {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): number {
    const at = this.length;
    this.chunks.push(b);
    this.length += b.length;
    return at;
  }
  u8(v: number): number {
    return this.push(Buffer.from([v & 0xff]));
  }
  u16(v: number): number {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v & 0xffff);
    return this.push(b);
  }
  toBuffer(): Buffer {
    const out = Buffer.concat(this.chunks, this.length);
    this.chunks = [out];
    return out;
  }
}

function field(rec: WireRecord, name: string): WireValue | undefined {
  return rec[name];
}
function num(rec: WireRecord, name: string): number {
  const v = field(rec, name);
  return typeof v === 'number' ? v : 0;
}
function bytes(rec: WireRecord, name: string): Buffer {
  const v = field(rec, name);
  return Buffer.isBuffer(v) ? v : Buffer.alloc(0);
}
function array<T>(rec: WireRecord, name: string): T[] {
  const v = field(rec, name);
  return Array.isArray(v) ? (v as T[]) : [];
}

/** Generate a struct; `isLast` fills a lastSubstruc octet. */
export function generateStruct(def: StructDef<string>, rec: WireRecord, isLast = true): Buffer {
  const parts: Buffer[] = [];
  let lengthAt = -1;
  let size = 0;
  const add = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  const u = (v: number, n: 1 | 2 | 4) => {
    const b = Buffer.alloc(n);
    if (n === 1) b[0] = v & 0xff;
    else if (n === 2) b.writeUInt16BE(v & 0xffff);
    else b.writeUInt32BE(v >>> 0);
    add(b);
  };
  for (const rule of def.rules) {
    switch (rule.op) {
      case 'u8':
        u(num(rec, rule.field), 1);
        break;
      case 'u16':
        u(num(rec, rule.field), 2);
        break;
      case 'u32':
        u(num(rec, rule.field), 4);
        break;
      case 'u64': {
        const b = Buffer.alloc(8);
        const v = field(rec, rule.field);
        b.writeBigUInt64BE(typeof v === 'bigint' ? BigInt.asUintN(64, v) : 0n);
        add(b);
        break;
      }
      case 'reserved':
        add(Buffer.alloc(rule.bytes));
        break;
      case 'nibbles':
        u(((num(rec, rule.fields[0]) & 0xf) << 4) | (num(rec, rule.fields[1]) & 0xf), 1);
        break;
      case 'flagHigh':
        u(field(rec, rule.field) === true ? 0x80 : 0, 1);
        break;
      case 'fixed': {
        const b = Buffer.alloc(rule.bytes);
        bytes(rec, rule.field).copy(b);
        add(b);
        break;
      }
      case 'sizeU8': {
        const v = field(rec, rule.of);
        const n = Buffer.isBuffer(v) ? v.length : Array.isArray(v) && v.length > 0 && Buffer.isBuffer(v[0]) ? v[0].length : 0;
        u(n, 1);
        break;
      }
      case 'countU8':
        u(array<unknown>(rec, rule.of).length, 1);
        break;
      case 'countU16':
        u(array<unknown>(rec, rule.of).length, 2);
        break;
      case 'lengthU16':
        lengthAt = size;
        u(0, 2);
        break;
      case 'lastSubstruc':
        u(isLast ? 0 : rule.more, 1);
        break;
      case 'sized':
      case 'rest':
        add(bytes(rec, rule.field));
        break;
      case 'sizedList':
        for (const b of array<Buffer>(rec, rule.field)) add(b);
        break;
      case 'halves':
        add(bytes(rec, rule.fields[0]));
        add(bytes(rec, rule.fields[1]));
        break;
      case 'list': {
        const items = array<WireRecord>(rec, rule.field);
        items.forEach((item, i) => add(generateStruct(rule.item, item, i === items.length - 1)));
        break;
      }
      case 'saAttributes':
        for (const a of array<SaAttribute>(rec, rule.field)) {
          if (typeof a.value === 'number') {
            u(AF_BIT | (a.type & 0x7fff), 2);
            u(a.value, 2);
          } else {
            u(a.type & 0x7fff, 2);
            u(a.value.length, 2);
            add(a.value);
          }
        }
        break;
      case 'cpAttributes':
        for (const a of array<CpAttribute>(rec, rule.field)) {
          u(a.type & 0x7fff, 2);
          u(a.value.length, 2);
          add(a.value);
        }
        break;
    }
  }
  const out = Buffer.concat(parts, size);
  if (lengthAt >= 0) out.writeUInt16BE(size, lengthAt);
  return out;
}
