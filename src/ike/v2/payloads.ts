/**
 * IKEv2 message and payload formats (RFC 7296 §3, RFC 7383 §2.5 for SKF),
 * each described once as an encoding-rule table (wire.ts) used by both the
 * parser and the generator.
 */
import {
  ExchangeType,
  GENERIC_PAYLOAD_HEADER_BYTES,
  HeaderFlag,
  IKE_HEADER_BYTES,
  IKEV2_MAJOR_VERSION,
  NotifyType,
  PayloadType,
} from './constants';
import {
  CpAttribute,
  SaAttribute,
  StructDef,
  WireError,
  WireParseError,
  WireRecord,
  fail,
  generateStruct,
  parseStruct,
} from './wire';

export type { SaAttribute, CpAttribute, WireError } from './wire';

// ---------------------------------------------------------------------------
// typed views

/** RFC 7296 §3.1 IKE header. */
export interface IkeHeader {
  spiI: bigint;
  spiR: bigint;
  nextPayload: number;
  majorVersion: number;
  minorVersion: number;
  exchangeType: number;
  flags: number;
  messageId: number;
  length: number;
}

/** RFC 7296 §3.3.2 transform substructure. */
export interface Transform {
  transformType: number;
  transformId: number;
  attributes: SaAttribute[];
}
/** RFC 7296 §3.3.1 proposal substructure. */
export interface Proposal {
  proposalNum: number;
  protocolId: number;
  spi: Buffer;
  transforms: Transform[];
}
/** RFC 7296 §3.13.1 traffic selector. */
export interface TrafficSelectorWire {
  tsType: number;
  ipProtocolId: number;
  startPort: number;
  endPort: number;
  startAddress: Buffer;
  endAddress: Buffer;
}

interface PayloadBase {
  /** the critical bit (RFC 7296 §3.2); omitted when clear */
  critical?: true;
}
export interface SaPayload extends PayloadBase {
  type: PayloadType.SA;
  proposals: Proposal[];
}
export interface KePayload extends PayloadBase {
  type: PayloadType.KE;
  dhGroup: number;
  keyData: Buffer;
}
export interface IdPayload extends PayloadBase {
  type: PayloadType.IDi | PayloadType.IDr;
  idType: number;
  data: Buffer;
}
export interface CertPayload extends PayloadBase {
  type: PayloadType.CERT | PayloadType.CERTREQ;
  encoding: number;
  data: Buffer;
}
export interface AuthPayload extends PayloadBase {
  type: PayloadType.AUTH;
  method: number;
  data: Buffer;
}
export interface NoncePayload extends PayloadBase {
  type: PayloadType.NONCE;
  nonce: Buffer;
}
export interface NotifyPayload extends PayloadBase {
  type: PayloadType.NOTIFY;
  protocolId: number;
  notifyType: number;
  spi: Buffer;
  data: Buffer;
}
export interface DeletePayload extends PayloadBase {
  type: PayloadType.DELETE;
  protocolId: number;
  /** all SPIs have the same size: 0 for IKE, 4 for AH/ESP */
  spis: Buffer[];
}
export interface VendorIdPayload extends PayloadBase {
  type: PayloadType.VENDOR_ID;
  vendorId: Buffer;
}
export interface TsPayload extends PayloadBase {
  type: PayloadType.TSi | PayloadType.TSr;
  selectors: TrafficSelectorWire[];
}
export interface CpPayload extends PayloadBase {
  type: PayloadType.CP;
  cfgType: number;
  attributes: CpAttribute[];
}
export interface EapPayload extends PayloadBase {
  type: PayloadType.EAP;
  /** the EAP message (RFC 3748 Code, Identifier, Length, Type, data) */
  message: Buffer;
}
/** RFC 7296 §3.14: IV | encrypted payloads, padding, pad length | ICV — kept opaque here, see sk.ts. */
export interface SkPayload extends PayloadBase {
  type: PayloadType.SK;
  /** Next Payload of the SK payload: the type of the first inner payload */
  firstInner: number;
  body: Buffer;
}
/** RFC 7383 §2.5 Encrypted Fragment payload. */
export interface SkfPayload extends PayloadBase {
  type: PayloadType.SKF;
  firstInner: number;
  fragmentNumber: number;
  totalFragments: number;
  body: Buffer;
}
/** A non-critical payload of a type we do not know: kept and skipped (RFC 7296 §2.5). */
export interface UnknownPayload extends PayloadBase {
  type: 'unknown';
  payloadType: number;
  body: Buffer;
}

export type Payload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorIdPayload
  | TsPayload
  | CpPayload
  | EapPayload
  | SkPayload
  | SkfPayload
  | UnknownPayload;

/** The payloads that may appear inside SK (everything but SK/SKF). */
export type InnerPayload = Exclude<Payload, SkPayload | SkfPayload>;

// ---------------------------------------------------------------------------
// the encoding-rule tables

type FieldsOf<T> = Exclude<keyof T, 'type' | 'critical'> & string;

const HEADER: StructDef<keyof IkeHeader & string> = {
  name: 'IKE header',
  rules: [
    { op: 'u64', field: 'spiI' },
    { op: 'u64', field: 'spiR' },
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
    { op: 'lastSubstruc', more: 3 },
    { op: 'reserved', bytes: 1 },
    { op: 'lengthU16' },
    { op: 'u8', field: 'transformType' },
    { op: 'reserved', bytes: 1 },
    { op: 'u16', field: 'transformId' },
    { op: 'saAttributes', field: 'attributes' },
  ],
};

const PROPOSAL: StructDef<keyof Proposal & string> = {
  name: 'proposal',
  rules: [
    { op: 'lastSubstruc', more: 2 },
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

const TRAFFIC_SELECTOR: StructDef<keyof TrafficSelectorWire & string> = {
  name: 'traffic selector',
  rules: [
    { op: 'u8', field: 'tsType' },
    { op: 'u8', field: 'ipProtocolId' },
    { op: 'lengthU16' },
    { op: 'u16', field: 'startPort' },
    { op: 'u16', field: 'endPort' },
    { op: 'halves', fields: ['startAddress', 'endAddress'] },
  ],
};

/** Body tables, keyed by payload type (RFC 7296 §3.3-§3.16, RFC 7383 §2.5). */
const BODY: { [T in PayloadType]?: StructDef<string> } = {
  [PayloadType.SA]: { name: 'SA', rules: [{ op: 'list', field: 'proposals', item: PROPOSAL }] } satisfies StructDef<FieldsOf<SaPayload>>,
  [PayloadType.KE]: {
    name: 'KE',
    rules: [
      { op: 'u16', field: 'dhGroup' },
      { op: 'reserved', bytes: 2 },
      { op: 'rest', field: 'keyData' },
    ],
  } satisfies StructDef<FieldsOf<KePayload>>,
  [PayloadType.IDi]: idRules('IDi'),
  [PayloadType.IDr]: idRules('IDr'),
  [PayloadType.CERT]: certRules('CERT'),
  [PayloadType.CERTREQ]: certRules('CERTREQ'),
  [PayloadType.AUTH]: {
    name: 'AUTH',
    rules: [
      { op: 'u8', field: 'method' },
      { op: 'reserved', bytes: 3 },
      { op: 'rest', field: 'data' },
    ],
  } satisfies StructDef<FieldsOf<AuthPayload>>,
  [PayloadType.NONCE]: { name: 'Nonce', rules: [{ op: 'rest', field: 'nonce' }] } satisfies StructDef<FieldsOf<NoncePayload>>,
  [PayloadType.NOTIFY]: {
    name: 'Notify',
    rules: [
      { op: 'u8', field: 'protocolId' },
      { op: 'sizeU8', of: 'spi' },
      { op: 'u16', field: 'notifyType' },
      { op: 'sized', field: 'spi' },
      { op: 'rest', field: 'data' },
    ],
  } satisfies StructDef<FieldsOf<NotifyPayload>>,
  [PayloadType.DELETE]: {
    name: 'Delete',
    rules: [
      { op: 'u8', field: 'protocolId' },
      { op: 'sizeU8', of: 'spis' },
      { op: 'countU16', of: 'spis' },
      { op: 'sizedList', field: 'spis' },
    ],
  } satisfies StructDef<FieldsOf<DeletePayload>>,
  [PayloadType.VENDOR_ID]: { name: 'Vendor ID', rules: [{ op: 'rest', field: 'vendorId' }] } satisfies StructDef<FieldsOf<VendorIdPayload>>,
  [PayloadType.TSi]: tsRules('TSi'),
  [PayloadType.TSr]: tsRules('TSr'),
  [PayloadType.CP]: {
    name: 'CP',
    rules: [
      { op: 'u8', field: 'cfgType' },
      { op: 'reserved', bytes: 3 },
      { op: 'cpAttributes', field: 'attributes' },
    ],
  } satisfies StructDef<FieldsOf<CpPayload>>,
  [PayloadType.EAP]: { name: 'EAP', rules: [{ op: 'rest', field: 'message' }] } satisfies StructDef<FieldsOf<EapPayload>>,
  [PayloadType.SK]: { name: 'SK', rules: [{ op: 'rest', field: 'body' }] } satisfies StructDef<FieldsOf<SkPayload>>,
  [PayloadType.SKF]: {
    name: 'SKF',
    rules: [
      { op: 'u16', field: 'fragmentNumber' },
      { op: 'u16', field: 'totalFragments' },
      { op: 'rest', field: 'body' },
    ],
  } satisfies StructDef<FieldsOf<SkfPayload>>,
};

function idRules(name: string): StructDef<FieldsOf<IdPayload>> {
  return {
    name,
    rules: [
      { op: 'u8', field: 'idType' },
      { op: 'reserved', bytes: 3 },
      { op: 'rest', field: 'data' },
    ],
  };
}
function certRules(name: string): StructDef<FieldsOf<CertPayload>> {
  return {
    name,
    rules: [
      { op: 'u8', field: 'encoding' },
      { op: 'rest', field: 'data' },
    ],
  };
}
function tsRules(name: string): StructDef<FieldsOf<TsPayload>> {
  return {
    name,
    rules: [
      { op: 'countU8', of: 'selectors' },
      { op: 'reserved', bytes: 3 },
      { op: 'list', field: 'selectors', item: TRAFFIC_SELECTOR },
    ],
  };
}

export function isKnownPayloadType(t: number): t is PayloadType {
  return BODY[t as PayloadType] !== undefined;
}

// ---------------------------------------------------------------------------
// parsing

export interface ParsedMessage {
  header: IkeHeader;
  /** payloads in the clear, in order; an SK/SKF payload, if any, is the last one */
  payloads: Payload[];
  /** offset of the SK/SKF payload's generic header (for the AEAD AAD / ICV span), -1 if none */
  skOffset: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** Parse only the fixed IKE header (to route a message before anything else). */
export function parseHeader(data: Buffer): ParseResult<IkeHeader> {
  if (data.length < IKE_HEADER_BYTES)
    return { ok: false, error: { code: 'truncated', offset: 0, message: `IKE header needs ${IKE_HEADER_BYTES} octets, got ${data.length}` } };
  const header = toHeader(parseStruct(HEADER, data, 0, IKE_HEADER_BYTES));
  return { ok: true, value: header };
}

function toHeader(rec: WireRecord): IkeHeader {
  return rec as unknown as IkeHeader;
}

/**
 * Parse a whole IKEv2 datagram (without the non-ESP marker). RFC 7296 §3.1:
 * the Length field must equal the datagram; §2.5: an unknown critical
 * payload rejects the message (UNSUPPORTED_CRITICAL_PAYLOAD).
 */
export function parseMessage(data: Buffer): ParseResult<ParsedMessage> {
  try {
    const h = parseHeader(data);
    if (!h.ok) return h;
    const header = h.value;
    if (header.majorVersion !== IKEV2_MAJOR_VERSION)
      fail('bad-version', 17, `major version ${header.majorVersion}, expected ${IKEV2_MAJOR_VERSION}`);
    if (header.length !== data.length)
      fail('bad-length', 24, `IKE header length ${header.length} but datagram has ${data.length} octets`);
    const chain = parseChain(data, IKE_HEADER_BYTES, data.length, header.nextPayload, true);
    return { ok: true, value: { header, payloads: chain.payloads, skOffset: chain.skOffset } };
  } catch (e) {
    return wireFailure(e);
  }
}

/** Parse the payload chain found inside a decrypted SK payload. */
export function parseInnerPayloads(plain: Buffer, firstType: number): ParseResult<InnerPayload[]> {
  try {
    const chain = parseChain(plain, 0, plain.length, firstType, false);
    return { ok: true, value: chain.payloads as InnerPayload[] };
  } catch (e) {
    const r = wireFailure(e);
    if (!r.ok) r.error.where = 'sk';
    return r;
  }
}

function wireFailure(e: unknown): { ok: false; error: WireError } {
  if (e instanceof WireParseError) return { ok: false, error: e.wire };
  // a bug in a table, not bad input; still reported as a typed error
  return { ok: false, error: { code: 'bad-value', offset: 0, message: `internal parser error: ${String(e)}` } };
}

function parseChain(
  buf: Buffer,
  start: number,
  end: number,
  firstType: number,
  allowSk: boolean,
): { payloads: Payload[]; skOffset: number } {
  const payloads: Payload[] = [];
  let next = firstType;
  let pos = start;
  let skOffset = -1;
  while (next !== PayloadType.NONE) {
    if (pos + GENERIC_PAYLOAD_HEADER_BYTES > end)
      fail('truncated', pos, `payload ${next}: generic header needs 4 octets, ${end - pos} left`);
    const type = next;
    const following = buf[pos];
    const critical = (buf[pos + 1] & 0x80) !== 0;
    const len = buf.readUInt16BE(pos + 2);
    if (len < GENERIC_PAYLOAD_HEADER_BYTES || pos + len > end)
      fail('bad-length', pos + 2, `payload ${type} length ${len} does not fit in ${end - pos} octets`);
    const bodyStart = pos + GENERIC_PAYLOAD_HEADER_BYTES;
    const bodyEnd = pos + len;
    const def = BODY[type as PayloadType];
    if ((type === PayloadType.SK || type === PayloadType.SKF) && def) {
      if (!allowSk) fail('bad-value', pos, `${type === PayloadType.SK ? 'SK' : 'SKF'} payload inside an SK payload`);
      if (bodyEnd !== end) fail('sk-not-last', pos, 'the SK payload must be the last payload (RFC 7296 §3.14)');
      const rec = parseStruct(def, buf, bodyStart, bodyEnd);
      const p = { ...rec, type, firstInner: following } as unknown as Payload;
      if (critical) p.critical = true;
      payloads.push(p);
      skOffset = pos;
      break;
    }
    if (def) {
      const rec = parseStruct(def, buf, bodyStart, bodyEnd);
      const p = { type, ...rec } as unknown as Payload;
      if (critical) p.critical = true;
      payloads.push(p);
    } else if (critical) {
      throw new WireParseError({
        code: 'unsupported-critical-payload',
        offset: pos,
        message: `payload type ${type} is critical and not supported (RFC 7296 §2.5)`,
        payloadType: type,
      });
    } else {
      const p: UnknownPayload = { type: 'unknown', payloadType: type, body: Buffer.from(buf.subarray(bodyStart, bodyEnd)) };
      payloads.push(p);
    }
    next = following;
    pos = bodyEnd;
  }
  if (skOffset < 0 && pos !== end) fail('trailing-bytes', pos, `${end - pos} octets after the last payload`);
  return { payloads, skOffset };
}

// ---------------------------------------------------------------------------
// generation

export function payloadTypeOf(p: Payload): number {
  return p.type === 'unknown' ? p.payloadType : p.type;
}

/** Generate one payload (generic header + body) with the given Next Payload. */
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
  out[1] = p.critical ? 0x80 : 0;
  out.writeUInt16BE(out.length, 2);
  body.copy(out, GENERIC_PAYLOAD_HEADER_BYTES);
  return out;
}

/** Generate a chain of payloads; the last one's Next Payload is `after` (NONE normally). */
export function generateChain(payloads: Payload[], after: number = PayloadType.NONE): Buffer {
  const parts: Buffer[] = [];
  payloads.forEach((p, i) => {
    const next =
      p.type === PayloadType.SK || p.type === PayloadType.SKF
        ? p.firstInner
        : i + 1 < payloads.length
          ? payloadTypeOf(payloads[i + 1])
          : after;
    parts.push(generatePayload(p, next));
  });
  return Buffer.concat(parts);
}

export function generateHeader(h: Omit<IkeHeader, 'length'>, length: number): Buffer {
  return generateStruct(HEADER, { ...h, length } as unknown as WireRecord);
}

/** Generate a whole (unencrypted) message; header.length and nextPayload are filled in. */
export function generateMessage(h: Omit<IkeHeader, 'length' | 'nextPayload'>, payloads: Payload[]): Buffer {
  const body = generateChain(payloads);
  const next = payloads.length > 0 ? payloadTypeOf(payloads[0]) : PayloadType.NONE;
  const header = generateHeader({ ...h, nextPayload: next }, IKE_HEADER_BYTES + body.length);
  return Buffer.concat([header, body]);
}

// ---------------------------------------------------------------------------
// helpers

export function isResponse(h: IkeHeader): boolean {
  return (h.flags & HeaderFlag.RESPONSE) !== 0;
}
export function isFromInitiator(h: IkeHeader): boolean {
  return (h.flags & HeaderFlag.INITIATOR) !== 0;
}

export function notify(notifyType: NotifyType, data: Buffer = Buffer.alloc(0), protocolId = 0, spi: Buffer = Buffer.alloc(0)): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocolId, notifyType, spi, data };
}

export function findNotify(payloads: readonly Payload[], t: NotifyType): NotifyPayload | undefined {
  return payloads.find((p): p is NotifyPayload => p.type === PayloadType.NOTIFY && p.notifyType === t);
}
/** The payload interface whose `type` admits T (IdPayload for IDi and IDr alike). */
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

/** A short strongSwan-like summary of a payload list, for logs: "SA KE No N(NATD_S_IP)". */
export function describePayloads(payloads: readonly Payload[]): string {
  return payloads
    .map((p) => {
      switch (p.type) {
        case PayloadType.NOTIFY:
          return `N(${NotifyType[p.notifyType] ?? p.notifyType})`;
        case PayloadType.DELETE:
          return `D`;
        case 'unknown':
          return `U(${p.payloadType})`;
        default:
          return PayloadType[p.type];
      }
    })
    .join(' ');
}
