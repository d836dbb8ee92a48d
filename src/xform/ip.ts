/**
 * IPv4 (RFC 791) and IPv6 (RFC 8200) headers as tables, the IPv6 extension
 * header chain (hop-by-hop, routing incl. Mobile IPv6 type 2, fragment,
 * destination options incl. the Home Address option, AH), and the Internet
 * checksum (RFC 1071) with the TCP/UDP pseudo-headers (RFC 793, RFC 768,
 * RFC 8200 §8.1).
 */
import { Result, ok, drop } from './result';
import { StructSpec, decodeStruct, encodeStruct, fieldOf, setField } from './struct';

/** IANA protocol numbers used by the data plane. */
export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  IPIP: 4, // IPv4-in-IP (tunnel mode next header, RFC 4303 §2.6)
  TCP: 6,
  UDP: 17,
  IPV6: 41, // IPv6-in-IP
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59, // RFC 8200 §4.7, RFC 4303 §2.6 dummy packet
  DSTOPTS: 60,
  MH: 135, // RFC 6275 Mobility Header
} as const;

// ---------------------------------------------------------------------------
// IPv4 (RFC 791 §3.1)

type Ipv4Field =
  | 'version'
  | 'ihl'
  | 'dscp'
  | 'ecn'
  | 'totalLength'
  | 'identification'
  | 'flags'
  | 'fragmentOffset'
  | 'ttl'
  | 'protocol'
  | 'checksum'
  | 'src'
  | 'dst';

export const IPV4_HEADER: StructSpec<Ipv4Field> = {
  name: 'IPv4 header',
  size: 20,
  fields: [
    { name: 'version', kind: 'bits', offset: 0, bytes: 1, shift: 4, width: 4 },
    { name: 'ihl', kind: 'bits', offset: 0, bytes: 1, shift: 0, width: 4 },
    { name: 'dscp', kind: 'bits', offset: 1, bytes: 1, shift: 2, width: 6 }, // RFC 2474
    { name: 'ecn', kind: 'bits', offset: 1, bytes: 1, shift: 0, width: 2 }, // RFC 3168 §5
    { name: 'totalLength', kind: 'uint', offset: 2, bytes: 2 },
    { name: 'identification', kind: 'uint', offset: 4, bytes: 2 },
    { name: 'flags', kind: 'bits', offset: 6, bytes: 2, shift: 13, width: 3 },
    { name: 'fragmentOffset', kind: 'bits', offset: 6, bytes: 2, shift: 0, width: 13 },
    { name: 'ttl', kind: 'uint', offset: 8, bytes: 1 },
    { name: 'protocol', kind: 'uint', offset: 9, bytes: 1 },
    { name: 'checksum', kind: 'uint', offset: 10, bytes: 2 },
    { name: 'src', kind: 'bytes', offset: 12, length: 4 },
    { name: 'dst', kind: 'bytes', offset: 16, length: 4 },
  ],
};

/** RFC 791 flags field. */
export const IPV4_FLAG_DF = 0x2;
export const IPV4_FLAG_MF = 0x1;

export interface Ipv4Header {
  version: 4;
  ihl: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  identification: number;
  flags: number;
  fragmentOffset: number; // in 8-octet units
  ttl: number;
  protocol: number;
  checksum: number;
  src: Buffer;
  dst: Buffer;
  options: Buffer;
}

// ---------------------------------------------------------------------------
// IPv6 (RFC 8200 §3)

type Ipv6Field = 'version' | 'trafficClass' | 'flowLabel' | 'payloadLength' | 'nextHeader' | 'hopLimit' | 'src' | 'dst';

export const IPV6_HEADER: StructSpec<Ipv6Field> = {
  name: 'IPv6 header',
  size: 40,
  fields: [
    { name: 'version', kind: 'bits', offset: 0, bytes: 4, shift: 28, width: 4 },
    { name: 'trafficClass', kind: 'bits', offset: 0, bytes: 4, shift: 20, width: 8 },
    { name: 'flowLabel', kind: 'bits', offset: 0, bytes: 4, shift: 0, width: 20 },
    { name: 'payloadLength', kind: 'uint', offset: 4, bytes: 2 },
    { name: 'nextHeader', kind: 'uint', offset: 6, bytes: 1 },
    { name: 'hopLimit', kind: 'uint', offset: 7, bytes: 1 },
    { name: 'src', kind: 'bytes', offset: 8, length: 16 },
    { name: 'dst', kind: 'bytes', offset: 24, length: 16 },
  ],
};

export interface Ipv6Header {
  version: 6;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Buffer;
  dst: Buffer;
}

/** RFC 8200 §4.5 Fragment header. */
type FragField = 'nextHeader' | 'reserved' | 'fragmentOffset' | 'res' | 'm' | 'identification';
export const IPV6_FRAGMENT_HEADER: StructSpec<FragField> = {
  name: 'IPv6 Fragment header',
  size: 8,
  fields: [
    { name: 'nextHeader', kind: 'uint', offset: 0, bytes: 1 },
    { name: 'reserved', kind: 'uint', offset: 1, bytes: 1 },
    { name: 'fragmentOffset', kind: 'bits', offset: 2, bytes: 2, shift: 3, width: 13 },
    { name: 'res', kind: 'bits', offset: 2, bytes: 2, shift: 1, width: 2 },
    { name: 'm', kind: 'bits', offset: 2, bytes: 2, shift: 0, width: 1 },
    { name: 'identification', kind: 'uint', offset: 4, bytes: 4 },
  ],
};

/** RFC 8200 §4.4 Routing header, the fixed part common to every type. */
type RoutingField = 'nextHeader' | 'hdrExtLen' | 'routingType' | 'segmentsLeft';
export const IPV6_ROUTING_HEADER: StructSpec<RoutingField> = {
  name: 'IPv6 Routing header',
  size: 4,
  fields: [
    { name: 'nextHeader', kind: 'uint', offset: 0, bytes: 1 },
    { name: 'hdrExtLen', kind: 'uint', offset: 1, bytes: 1 },
    { name: 'routingType', kind: 'uint', offset: 2, bytes: 1 },
    { name: 'segmentsLeft', kind: 'uint', offset: 3, bytes: 1 },
  ],
};

/** RFC 6275 §6.4: type 2 routing header carries exactly one address after 4 reserved bytes. */
export const ROUTING_TYPE_2 = 2;
/** RFC 5095 deprecated type 0 (still walked: addresses after 4 reserved bytes). */
export const ROUTING_TYPE_0 = 0;
/** RFC 6275 §6.3 Home Address destination option type. */
export const OPT_HOME_ADDRESS = 0xc9;
/** RFC 8200 §4.2: third-highest bit of the option type = "option data may change en route". */
export const OPT_MAY_CHANGE = 0x20;
export const OPT_PAD1 = 0;

export interface ExtHeader {
  /** Protocol number of this header (0, 43, 44, 60, 51). */
  type: number;
  offset: number;
  length: number;
  nextHeader: number;
}

export interface ParsedIpv4 {
  family: 4;
  header: Ipv4Header;
  headerLength: number;
  totalLength: number;
  /** Upper-layer protocol (the IPv4 protocol field). */
  protocol: number;
  payloadOffset: number;
  isFragment: boolean;
}

export interface ParsedIpv6 {
  family: 6;
  header: Ipv6Header;
  totalLength: number;
  extHeaders: ExtHeader[];
  /** The first header after the walked chain (ESP, an upper layer, 59...). */
  protocol: number;
  payloadOffset: number;
  /** Offset of the Next Header byte that names `protocol`. */
  protocolFieldOffset: number;
  fragment?: { headerOffset: number; offset: number; more: boolean; identification: number };
  isFragment: boolean;
}

export type ParsedIp = ParsedIpv4 | ParsedIpv6;

export function ipVersion(buf: Uint8Array): number {
  return buf.length === 0 ? 0 : buf[0] >> 4;
}

export function decodeIpv4Header(buf: Uint8Array): Result<Ipv4Header> {
  const d = decodeStruct(IPV4_HEADER, buf);
  if (!d) return drop('truncated', `IPv4 header needs 20 bytes, have ${buf.length}`, buf.length);
  if (d.version !== 4) return drop('bad-ip-header', `IP version ${String(d.version)} is not 4`, 0);
  const ihl = d.ihl as number;
  if (ihl < 5) return drop('bad-ip-header', `IHL ${ihl} < 5`, 0);
  if (buf.length < ihl * 4) return drop('truncated', `IPv4 options need ${ihl * 4} bytes`, buf.length);
  return ok({
    version: 4,
    ihl,
    dscp: d.dscp as number,
    ecn: d.ecn as number,
    totalLength: d.totalLength as number,
    identification: d.identification as number,
    flags: d.flags as number,
    fragmentOffset: d.fragmentOffset as number,
    ttl: d.ttl as number,
    protocol: d.protocol as number,
    checksum: d.checksum as number,
    src: d.src as Buffer,
    dst: d.dst as Buffer,
    options: Buffer.from(buf.buffer, buf.byteOffset + 20, ihl * 4 - 20),
  });
}

/** Build an IPv4 header with its checksum (RFC 791 §3.1). `checksum` in h is ignored. */
export function encodeIpv4Header(h: Omit<Ipv4Header, 'version' | 'ihl' | 'checksum'>): Buffer {
  if (h.options.length % 4 !== 0) throw new RangeError('IPv4 options must be padded to 4 bytes');
  const ihl = 5 + h.options.length / 4;
  const fixed = encodeStruct(IPV4_HEADER, { ...h, version: 4, ihl, checksum: 0 });
  const out = Buffer.concat([fixed, h.options]);
  out.writeUInt16BE(internetChecksum(out), 10);
  return out;
}

export function decodeIpv6Header(buf: Uint8Array): Result<Ipv6Header> {
  const d = decodeStruct(IPV6_HEADER, buf);
  if (!d) return drop('truncated', `IPv6 header needs 40 bytes, have ${buf.length}`, buf.length);
  if (d.version !== 6) return drop('bad-ip-header', `IP version ${String(d.version)} is not 6`, 0);
  return ok({
    version: 6,
    trafficClass: d.trafficClass as number,
    flowLabel: d.flowLabel as number,
    payloadLength: d.payloadLength as number,
    nextHeader: d.nextHeader as number,
    hopLimit: d.hopLimit as number,
    src: d.src as Buffer,
    dst: d.dst as Buffer,
  });
}

export function encodeIpv6Header(h: Omit<Ipv6Header, 'version'>): Buffer {
  return encodeStruct(IPV6_HEADER, { ...h, version: 6 });
}

/** Parse an IPv4 packet; the slice beyond Total Length is ignored. */
export function parseIpv4(buf: Uint8Array): Result<ParsedIpv4> {
  const h = decodeIpv4Header(buf);
  if (!h.ok) return h;
  const header = h.value;
  const headerLength = header.ihl * 4;
  if (header.totalLength < headerLength) return drop('bad-ip-header', `total length ${header.totalLength} < header`, 2);
  if (header.totalLength > buf.length)
    return drop('truncated', `total length ${header.totalLength} > ${buf.length} bytes received`, 2);
  if (internetChecksum(buf.subarray(0, headerLength)) !== 0) return drop('bad-ip-header', 'IPv4 header checksum', 10);
  return ok({
    family: 4,
    header,
    headerLength,
    totalLength: header.totalLength,
    protocol: header.protocol,
    payloadOffset: headerLength,
    isFragment: header.fragmentOffset !== 0 || (header.flags & IPV4_FLAG_MF) !== 0,
  });
}

/** Length of the extension header at `at` of the given type, or a Drop. */
function extHeaderLength(type: number, buf: Uint8Array, at: number, end: number): Result<number> {
  if (end - at < 2) return drop('truncated', `extension header ${type} truncated`, at);
  let len: number;
  if (type === IPPROTO.FRAGMENT) len = 8;
  else if (type === IPPROTO.AH) len = (buf[at + 1] + 2) * 4; // RFC 4302 §2.2
  else len = (buf[at + 1] + 1) * 8; // RFC 8200 §4.3/4.4/4.6
  if (at + len > end) return drop('truncated', `extension header ${type} length ${len} beyond packet`, at);
  return ok(len);
}

const WALKED = new Set<number>([IPPROTO.HOPOPTS, IPPROTO.ROUTING, IPPROTO.FRAGMENT, IPPROTO.DSTOPTS, IPPROTO.AH]);

/** Parse an IPv6 packet and walk its extension header chain up to ESP or the upper layer. */
export function parseIpv6(buf: Uint8Array): Result<ParsedIpv6> {
  const h = decodeIpv6Header(buf);
  if (!h.ok) return h;
  const header = h.value;
  const totalLength = 40 + header.payloadLength;
  if (header.payloadLength === 0) return drop('bad-ip-header', 'jumbograms (payload length 0) not supported', 4);
  if (totalLength > buf.length) return drop('truncated', `payload length ${header.payloadLength} beyond packet`, 4);
  const extHeaders: ExtHeader[] = [];
  let next = header.nextHeader;
  let at = 40;
  let protocolFieldOffset = 6;
  let fragment: ParsedIpv6['fragment'];
  while (WALKED.has(next)) {
    if (next === IPPROTO.HOPOPTS && at !== 40) return drop('bad-ext-header', 'hop-by-hop header not first (RFC 8200 §4.3)', at);
    const len = extHeaderLength(next, buf, at, totalLength);
    if (!len.ok) return len;
    const nh = buf[at];
    extHeaders.push({ type: next, offset: at, length: len.value, nextHeader: nh });
    if (next === IPPROTO.FRAGMENT) {
      const f = decodeStruct(IPV6_FRAGMENT_HEADER, buf, at);
      if (!f) return drop('truncated', 'fragment header', at);
      fragment = {
        headerOffset: at,
        offset: (f.fragmentOffset as number) * 8,
        more: f.m === 1,
        identification: f.identification as number,
      };
    }
    protocolFieldOffset = at;
    at += len.value;
    next = nh;
    if (fragment && fragment.offset !== 0) break; // the rest is fragment data
  }
  return ok({
    family: 6,
    header,
    totalLength,
    extHeaders,
    protocol: next,
    payloadOffset: at,
    protocolFieldOffset,
    fragment,
    isFragment: fragment !== undefined,
  });
}

export function parseIp(buf: Uint8Array): Result<ParsedIp> {
  const v = ipVersion(buf);
  if (v === 4) return parseIpv4(buf);
  if (v === 6) return parseIpv6(buf);
  return drop(buf.length === 0 ? 'truncated' : 'bad-ip-header', `IP version ${v}`, 0);
}

/** One TLV option of a hop-by-hop or destination options header (RFC 8200 §4.2). */
export interface Ipv6Option {
  type: number;
  /** Offset of the type byte in the packet. */
  offset: number;
  /** Length of the option data (0 for Pad1). */
  dataLength: number;
}

/** Walk the options of a hop-by-hop / destination options header. */
export function parseOptions(buf: Uint8Array, ext: ExtHeader): Result<Ipv6Option[]> {
  const out: Ipv6Option[] = [];
  let at = ext.offset + 2;
  const end = ext.offset + ext.length;
  while (at < end) {
    const type = buf[at];
    if (type === OPT_PAD1) {
      out.push({ type, offset: at, dataLength: 0 });
      at += 1;
      continue;
    }
    if (at + 2 > end) return drop('bad-ext-header', 'option header beyond its extension header', at);
    const dataLength = buf[at + 1];
    if (at + 2 + dataLength > end) return drop('bad-ext-header', `option ${type} data beyond its extension header`, at);
    out.push({ type, offset: at, dataLength });
    at += 2 + dataLength;
  }
  return ok(out);
}

/** True if a destination options header holds a Home Address option (RFC 6275 §6.3). */
export function hasHomeAddressOption(buf: Uint8Array, ext: ExtHeader): boolean {
  const opts = parseOptions(buf, ext);
  return opts.ok && opts.value.some((o) => o.type === OPT_HOME_ADDRESS);
}

/**
 * Where AH or ESP goes in an IPv6 packet in transport mode (RFC 4303 §3.1.1,
 * RFC 4302 §3.1.1): after hop-by-hop, routing and fragment headers; a
 * destination options header goes before when a routing header follows it, or
 * when it carries the Mobile IPv6 Home Address option (RFC 6275 §6.3 places it
 * before AH/ESP), otherwise after (inside the protection).
 */
export function ipv6IpsecInsertionPoint(buf: Uint8Array, p: ParsedIpv6): { offset: number; nextHeaderFieldOffset: number; nextHeader: number } {
  let offset = 40;
  let nextHeaderFieldOffset = 6;
  let nextHeader = p.header.nextHeader;
  for (let i = 0; i < p.extHeaders.length; i++) {
    const e = p.extHeaders[i];
    if (e.type === IPPROTO.AH) break;
    if (e.type === IPPROTO.DSTOPTS) {
      const routingFollows = p.extHeaders.slice(i + 1).some((x) => x.type === IPPROTO.ROUTING);
      if (!routingFollows && !hasHomeAddressOption(buf, e)) break;
    }
    offset = e.offset + e.length;
    nextHeaderFieldOffset = e.offset;
    nextHeader = e.nextHeader;
  }
  return { offset, nextHeaderFieldOffset, nextHeader };
}

// ---------------------------------------------------------------------------
// Checksums (RFC 1071)

/** One's-complement sum of 16-bit words, not folded/complemented. */
export function onesSum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** RFC 1071 Internet checksum; over a buffer that contains a correct checksum it is 0. */
export function internetChecksum(buf: Uint8Array, initial = 0): number {
  return ~fold(onesSum(buf, 0, buf.length, initial)) & 0xffff;
}

/** Pseudo-header sum for TCP/UDP/ICMPv6 (RFC 768, RFC 793, RFC 8200 §8.1). */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let s = onesSum(src) + onesSum(dst) + protocol;
  s += length >>> 16;
  s += length & 0xffff;
  return s;
}

/** Compute the upper-layer checksum for a TCP/UDP/ICMPv6 segment (checksum field zeroed by caller or not). */
export function upperLayerChecksum(src: Uint8Array, dst: Uint8Array, protocol: number, segment: Uint8Array, checksumOffset: number): number {
  const copy = Buffer.from(segment);
  copy.writeUInt16BE(0, checksumOffset);
  const c = internetChecksum(copy, pseudoHeaderSum(src, dst, protocol, segment.length));
  // RFC 768: a computed UDP checksum of 0 is sent as 0xFFFF
  return protocol === IPPROTO.UDP && c === 0 ? 0xffff : c;
}

/** Offset of the checksum field inside a TCP/UDP/ICMPv6 header, or -1. */
export function checksumFieldOffset(protocol: number): number {
  if (protocol === IPPROTO.TCP) return 16;
  if (protocol === IPPROTO.UDP) return 6;
  if (protocol === IPPROTO.ICMPV6) return 2;
  if (protocol === IPPROTO.ICMP) return 2;
  return -1;
}

/** Rewrite an IPv4 header checksum in place. */
export function refreshIpv4Checksum(pkt: Buffer): void {
  const ihl = (pkt[0] & 0x0f) * 4;
  pkt.writeUInt16BE(0, 10);
  pkt.writeUInt16BE(internetChecksum(pkt.subarray(0, ihl)), 10);
}

export const IPV4_TOS = 1;
export const IPV4_TOTAL_LENGTH = fieldOf(IPV4_HEADER, 'totalLength').offset;
export const IPV4_PROTOCOL = fieldOf(IPV4_HEADER, 'protocol').offset;
export const IPV6_PAYLOAD_LENGTH = fieldOf(IPV6_HEADER, 'payloadLength').offset;

/** The 8-bit TOS / Traffic Class (DSCP<<2 | ECN) of an IP packet. */
export function getTos(pkt: Uint8Array): number {
  if (ipVersion(pkt) === 4) return pkt[1];
  return ((pkt[0] & 0x0f) << 4) | (pkt[1] >> 4);
}

/** Set the TOS / Traffic Class in place (fixes the IPv4 checksum). */
export function setTos(pkt: Buffer, tos: number): void {
  if (ipVersion(pkt) === 4) {
    pkt[1] = tos;
    refreshIpv4Checksum(pkt);
  } else {
    setField(fieldOf(IPV6_HEADER, 'trafficClass'), pkt, 0, tos);
  }
}

/** The few facts the output fast path needs, without decoding the whole header. */
export interface IpFacts {
  family: 4 | 6;
  totalLength: number;
  /** IPv4 header length (20 + options); 40 for IPv6. */
  headerLength: number;
  tos: number;
  /** IPv4 DF; true for IPv6 (routers never fragment it). */
  df: boolean;
  isFragment: boolean;
}

/**
 * Check version and lengths of an IP packet and read TOS/DF (RFC 791 §3.1,
 * RFC 8200 §3). Does not verify the IPv4 header checksum: use parseIp for
 * packets from the network; this is for packets we are about to protect.
 */
export function ipFacts(buf: Uint8Array): Result<IpFacts> {
  if (buf.length < 1) return drop('truncated', 'empty packet', 0);
  const v = buf[0] >> 4;
  if (v === 4) {
    if (buf.length < 20) return drop('truncated', `IPv4 header needs 20 bytes, have ${buf.length}`, buf.length);
    const ihl = (buf[0] & 0x0f) * 4;
    const total = (buf[2] << 8) | buf[3];
    if (ihl < 20) return drop('bad-ip-header', `IHL ${ihl / 4} < 5`, 0);
    if (total < ihl) return drop('bad-ip-header', `total length ${total} < header`, 2);
    if (total > buf.length) return drop('truncated', `total length ${total} > ${buf.length} bytes received`, 2);
    const flagsOff = (buf[6] << 8) | buf[7];
    return ok({ family: 4, totalLength: total, headerLength: ihl, tos: buf[1], df: (flagsOff & 0x4000) !== 0, isFragment: (flagsOff & 0x3fff) !== 0 });
  }
  if (v === 6) {
    if (buf.length < 40) return drop('truncated', `IPv6 header needs 40 bytes, have ${buf.length}`, buf.length);
    const plen = (buf[4] << 8) | buf[5];
    if (plen === 0) return drop('bad-ip-header', 'jumbograms (payload length 0) not supported', 4);
    if (40 + plen > buf.length) return drop('truncated', `payload length ${plen} beyond packet`, 4);
    return ok({ family: 6, totalLength: 40 + plen, headerLength: 40, tos: ((buf[0] & 0x0f) << 4) | (buf[1] >> 4), df: true, isFragment: buf[6] === IPPROTO.FRAGMENT });
  }
  return drop(buf.length === 0 ? 'truncated' : 'bad-ip-header', `IP version ${v}`, 0);
}
