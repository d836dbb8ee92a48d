/**
 * ISAKMP message and payload formats (RFC 2408 §3, RFC 2407 §4.6, RFC 3947
 * §3.2/§5.2, mode-cfg attribute payload), each described once as an
 * encoding-rule table walked by the generic parser/generator in
 * ../v2/wire.ts. ISAKMP proposals and transforms are payloads of their own
 * whose Next Payload is P(2)/T(3) or NONE — exactly the "last substruc"
 * rule the walker knows.
 */
import {
  ExchangeType,
  GENERIC_PAYLOAD_HEADER_BYTES,
  ISAKMP_HEADER_BYTES,
  ISAKMP_MAJOR_VERSION,
  NotifyType,
  PayloadType,
} from './constants';
import { SaAttribute, StructDef, WireError, WireParseError, WireRecord, fail, generateStruct, parseStruct } from '../v2/wire';

export type { SaAttribute, WireError } from '../v2/wire';

/** RFC 2408 §3.1 ISAKMP header. */
export interface IsakmpHeader {
  cookieI: bigint;
  cookieR: bigint;
  nextPayload: number;
  majorVersion: number;
  minorVersion: number;
  exchangeType: number;
  flags: number;
  messageId: number;
  length: number;
}

/** RFC 2408 §3.6 transform payload. */
export interface Transform {
  transformNum: number;
  transformId: number;
  attributes: SaAttribute[];
}
/** RFC 2408 §3.5 proposal payload. */
export interface Proposal {
  proposalNum: number;
  protocolId: number;
  spi: Buffer;
  transforms: Transform[];
}

export interface SaPayload {
  type: PayloadType.SA;
  doi: number;
  situation: number;
  proposals: Proposal[];
}
export interface KePayload {
  type: PayloadType.KE;
  keyData: Buffer;
}
/** RFC 2407 §4.6.2 identification payload (IPsec DOI). */
export interface IdPayload {
  type: PayloadType.ID;
  idType: number;
  protocolId: number;
  port: number;
  data: Buffer;
}
export interface CertPayload {
  type: PayloadType.CERT | PayloadType.CR;
  encoding: number;
  data: Buffer;
}
export interface HashPayload {
  type: PayloadType.HASH | PayloadType.SIG | PayloadType.NONCE | PayloadType.VID | PayloadType.NAT_D | PayloadType.NAT_D_DRAFT;
  data: Buffer;
}
/** RFC 2408 §3.14 notification payload. */
export interface NotifyPayload {
  type: PayloadType.N;
  doi: number;
  protocolId: number;
  notifyType: number;
  spi: Buffer;
  data: Buffer;
}
/** RFC 2408 §3.15 delete payload. */
export interface DeletePayload {
  type: PayloadType.D;
  doi: number;
  protocolId: number;
  spis: Buffer[];
}
/** RFC 3947 §5.2 NAT-OA payload. */
export interface NatOaPayload {
  type: PayloadType.NAT_OA | PayloadType.NAT_OA_DRAFT;
  idType: number;
  address: Buffer;
}
/** draft-ietf-ipsec-isakmp-mode-cfg-05 §3.2 attribute payload. */
export interface AttrPayload {
  type: PayloadType.ATTR;
  cfgType: number;
  identifier: number;
  attributes: SaAttribute[];
}
export interface UnknownPayload {
  type: 'unknown';
  payloadType: number;
  body: Buffer;
}

export type Payload =
  | SaPayload
  | HashPayload
  | KePayload
  | IdPayload
  | CertPayload
  | NotifyPayload
  | DeletePayload
  | NatOaPayload
  | AttrPayload
  | UnknownPayload;

// ---------------------------------------------------------------------------
// the encoding-rule tables

const HEADER: StructDef<keyof IsakmpHeader & string> = {
  name: 'ISAKMP header',
  rules: [
    { op: 'u64', field: 'cookieI' },
    { op: 'u64', field: 'cookieR' },
    { op: 'u8', field: 'nextPayload' },
    { op: 'nibbles', fields: ['majorVersion', 'minorVersion'] },
    { op: 'u8', field: 'exchangeType' },
    { op: 'u8', field: 'flags' },
    { op: 'u32', field: 'messageId' },
    { op: 'u32', field: 'length' },
  ],
};

const TRANSFORM: StructDef<keyof Transform & string> = {
  name: 'transform',
  rules: [
    { op: 'lastSubstruc', more: PayloadType.T },
    { op: 'reserved', bytes: 1 },
    { op: 'lengthU16' },
    { op: 'u8', field: 'transformNum' },
    { op: 'u8', field: 'transformId' },
    { op: 'reserved', bytes: 2 },
    { op: 'saAttributes', field: 'attributes' },
  ],
};

const PROPOSAL: StructDef<keyof Proposal & string> = {
  name: 'proposal',
  rules: [
    { op: 'lastSubstruc', more: PayloadType.P },
    { op: 'reserved', bytes: 1 },
    { op: 'lengthU16' },
    { op: 'u8', field: 'proposalNum' },
    { op: 'u8', field: 'protocolId' },
    { op: 'sizeU8', of: 'spi' },
    { op: 'countU8', of: 'transforms' },
    { op: 'sized', field: 'spi' },
    { op: 'list', field: 'transforms', item: TRANSFORM },
  ],
};

type FieldsOf<T> = Exclude<keyof T, 'type'> & string;
const rest = (name: string): StructDef<'data'> => ({ name, rules: [{ op: 'rest', field: 'data' }] });

/** Body tables keyed by payload type. */
const BODY: { [T in PayloadType]?: StructDef<string> } = {
  [PayloadType.SA]: {
    name: 'SA',
    rules: [
      { op: 'u32', field: 'doi' },
      { op: 'u32', field: 'situation' },
      { op: 'list', field: 'proposals', item: PROPOSAL },
    ],
  } satisfies StructDef<FieldsOf<SaPayload>>,
  [PayloadType.KE]: { name: 'KE', rules: [{ op: 'rest', field: 'keyData' }] } satisfies StructDef<FieldsOf<KePayload>>,
  [PayloadType.ID]: {
    name: 'ID',
    rules: [
      { op: 'u8', field: 'idType' },
      { op: 'u8', field: 'protocolId' },
      { op: 'u16', field: 'port' },
      { op: 'rest', field: 'data' },
    ],
  } satisfies StructDef<FieldsOf<IdPayload>>,
  [PayloadType.CERT]: certRules('CERT'),
  [PayloadType.CR]: certRules('CR'),
  [PayloadType.HASH]: rest('HASH'),
  [PayloadType.SIG]: rest('SIG'),
  [PayloadType.NONCE]: rest('Nonce'),
  [PayloadType.VID]: rest('Vendor ID'),
  [PayloadType.NAT_D]: rest('NAT-D'),
  [PayloadType.NAT_D_DRAFT]: rest('NAT-D (draft)'),
  [PayloadType.N]: {
    name: 'Notification',
    rules: [
      { op: 'u32', field: 'doi' },
      { op: 'u8', field: 'protocolId' },
      { op: 'sizeU8', of: 'spi' },
      { op: 'u16', field: 'notifyType' },
      { op: 'sized', field: 'spi' },
      { op: 'rest', field: 'data' },
    ],
  } satisfies StructDef<FieldsOf<NotifyPayload>>,
  [PayloadType.D]: {
    name: 'Delete',
    rules: [
      { op: 'u32', field: 'doi' },
      { op: 'u8', field: 'protocolId' },
      { op: 'sizeU8', of: 'spis' },
      { op: 'countU16', of: 'spis' },
      { op: 'sizedList', field: 'spis' },
    ],
  } satisfies StructDef<FieldsOf<DeletePayload>>,
  [PayloadType.NAT_OA]: natOaRules('NAT-OA'),
  [PayloadType.NAT_OA_DRAFT]: natOaRules('NAT-OA (draft)'),
  [PayloadType.ATTR]: {
    name: 'Attribute',
    rules: [
      { op: 'u8', field: 'cfgType' },
      { op: 'reserved', bytes: 1 },
      { op: 'u16', field: 'identifier' },
      { op: 'saAttributes', field: 'attributes' },
    ],
  } satisfies StructDef<FieldsOf<AttrPayload>>,
};

function certRules(name: string): StructDef<FieldsOf<CertPayload>> {
  return { name, rules: [{ op: 'u8', field: 'encoding' }, { op: 'rest', field: 'data' }] };
}
function natOaRules(name: string): StructDef<FieldsOf<NatOaPayload>> {
  return { name, rules: [{ op: 'u8', field: 'idType' }, { op: 'reserved', bytes: 3 }, { op: 'rest', field: 'address' }] };
}

// ---------------------------------------------------------------------------
// parsing

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: WireError };

export interface ParsedMessage {
  header: IsakmpHeader;
  /** the octets after the header: the payload chain, or the ciphertext when the E flag is set */
  body: Buffer;
}

/** Parse the fixed header and check version and length (RFC 2408 §3.1, §5.2). */
export function parseHeader(data: Buffer): ParseResult<ParsedMessage> {
  try {
    if (data.length < ISAKMP_HEADER_BYTES)
      fail('truncated', 0, `ISAKMP header needs ${ISAKMP_HEADER_BYTES} octets, got ${data.length}`);
    const header = parseStruct(HEADER, data, 0, ISAKMP_HEADER_BYTES) as unknown as IsakmpHeader;
    if (header.majorVersion !== ISAKMP_MAJOR_VERSION)
      fail('bad-version', 17, `major version ${header.majorVersion}, expected ${ISAKMP_MAJOR_VERSION}`);
    // RFC 2408 §5.1: the length must not exceed the datagram; racoon accepts trailing padding
    if (header.length < ISAKMP_HEADER_BYTES || header.length > data.length)
      fail('bad-length', 24, `ISAKMP header length ${header.length} but datagram has ${data.length} octets`);
    return { ok: true, value: { header, body: data.subarray(ISAKMP_HEADER_BYTES, header.length) } };
  } catch (e) {
    return wireFailure(e, 0);
  }
}

/**
 * Parse a payload chain starting with `firstType`. `base` is added to error
 * offsets (28 for a chain right after the header). Trailing octets after the
 * last payload are allowed only when `allowPadding` (decrypted bodies carry
 * block padding, RFC 2408 §3.1 Length note).
 */
export function parsePayloads(buf: Buffer, firstType: number, base = ISAKMP_HEADER_BYTES, allowPadding = false): ParseResult<Payload[]> {
  try {
    const out: Payload[] = [];
    let next = firstType;
    let pos = 0;
    while (next !== PayloadType.NONE) {
      if (pos + GENERIC_PAYLOAD_HEADER_BYTES > buf.length)
        fail('truncated', pos, `payload ${next}: generic header needs 4 octets, ${buf.length - pos} left`);
      const type = next;
      const following = buf[pos];
      if (buf[pos + 1] !== 0) fail('bad-value', pos + 1, `payload ${type}: RESERVED octet is ${buf[pos + 1]}, must be 0 (RFC 2408 §3.2)`);
      const len = buf.readUInt16BE(pos + 2);
      if (len < GENERIC_PAYLOAD_HEADER_BYTES || pos + len > buf.length)
        fail('bad-length', pos + 2, `payload ${type} length ${len} does not fit in ${buf.length - pos} octets`);
      const def = BODY[type as PayloadType];
      const bodyStart = pos + GENERIC_PAYLOAD_HEADER_BYTES;
      if (type === PayloadType.P || type === PayloadType.T)
        fail('bad-value', pos, `payload ${type} (proposal/transform) outside an SA payload`);
      if (def) out.push({ type, ...parseStruct(def, buf, bodyStart, pos + len) } as unknown as Payload);
      else out.push({ type: 'unknown', payloadType: type, body: Buffer.from(buf.subarray(bodyStart, pos + len)) });
      next = following;
      pos += len;
    }
    if (pos !== buf.length && !allowPadding) fail('trailing-bytes', pos, `${buf.length - pos} octets after the last payload`);
    return { ok: true, value: out };
  } catch (e) {
    return wireFailure(e, base);
  }
}

function wireFailure(e: unknown, base: number): { ok: false; error: WireError } {
  if (e instanceof WireParseError) return { ok: false, error: { ...e.wire, offset: e.wire.offset + base } };
  return { ok: false, error: { code: 'bad-value', offset: base, message: `internal parser error: ${String(e)}` } };
}

// ---------------------------------------------------------------------------
// generation

export function payloadTypeOf(p: Payload): number {
  return p.type === 'unknown' ? p.payloadType : p.type;
}

export function generatePayload(p: Payload, nextPayload: number): Buffer {
  let body: Buffer;
  if (p.type === 'unknown') body = p.body;
  else {
    const def = BODY[p.type];
    if (!def) throw new RangeError(`no encoding table for payload ${p.type}`);
    body = generateStruct(def, p as unknown as WireRecord);
  }
  const out = Buffer.alloc(GENERIC_PAYLOAD_HEADER_BYTES + body.length);
  out[0] = nextPayload;
  out.writeUInt16BE(out.length, 2);
  body.copy(out, GENERIC_PAYLOAD_HEADER_BYTES);
  return out;
}

export function generatePayloads(payloads: Payload[]): Buffer {
  return Buffer.concat(payloads.map((p, i) => generatePayload(p, i + 1 < payloads.length ? payloadTypeOf(payloads[i + 1]) : PayloadType.NONE)));
}

export function generateHeader(h: Omit<IsakmpHeader, 'length'>, length: number): Buffer {
  return generateStruct(HEADER, { ...h, length } as unknown as WireRecord);
}

/** A whole message around an already generated (possibly encrypted) body. */
export function generateMessage(h: Omit<IsakmpHeader, 'length' | 'nextPayload'>, firstPayload: number, body: Buffer): Buffer {
  return Buffer.concat([generateHeader({ ...h, nextPayload: firstPayload }, ISAKMP_HEADER_BYTES + body.length), body]);
}

// ---------------------------------------------------------------------------
// helpers

export type PayloadOf<T extends Payload['type']> = Payload extends infer P ? (P extends { type: infer U } ? (T extends U ? P : never) : never) : never;

export function findPayload<T extends Payload['type']>(payloads: readonly Payload[], t: T): PayloadOf<T> | undefined {
  return payloads.find((p) => p.type === t) as PayloadOf<T> | undefined;
}
export function allPayloads<T extends Payload['type']>(payloads: readonly Payload[], t: T): PayloadOf<T>[] {
  return payloads.filter((p) => p.type === t) as PayloadOf<T>[];
}
export function exchangeName(t: number): string {
  return ExchangeType[t] ?? `EXCHANGE_${t}`;
}
export function describePayloads(payloads: readonly Payload[]): string {
  return payloads
    .map((p) => (p.type === PayloadType.N ? `N(${NotifyType[p.notifyType] ?? p.notifyType})` : p.type === 'unknown' ? `U(${p.payloadType})` : PayloadType[p.type]))
    .join(' ');
}

/**
 * The raw payloads of an already validated chain, generic header included:
 * HASH_I/HASH_R need SAi_b as received, Quick Mode HASH(1)/(2) the octets
 * after the HASH payload (RFC 2409 §5, §5.5). Stops at the chain's end, so a
 * decrypted body's padding is excluded. Returns null on a malformed chain.
 */
export function rawPayloads(buf: Buffer, firstType: number): { type: number; raw: Buffer }[] | null {
  const out: { type: number; raw: Buffer }[] = [];
  let next = firstType;
  let pos = 0;
  while (next !== PayloadType.NONE) {
    if (pos + GENERIC_PAYLOAD_HEADER_BYTES > buf.length) return null;
    const len = buf.readUInt16BE(pos + 2);
    if (len < GENERIC_PAYLOAD_HEADER_BYTES || pos + len > buf.length) return null;
    out.push({ type: next, raw: buf.subarray(pos, pos + len) });
    next = buf[pos];
    pos += len;
  }
  return out;
}
