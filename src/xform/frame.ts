/**
 * Placing an IPsec header into a packet and taking it out again, for both
 * modes and both IP versions (RFC 4301 §5.1.2 header construction for tunnel
 * mode, RFC 4303 §3.1.1 / RFC 4302 §3.1.1 transport mode header placement).
 */
import {
  IPPROTO,
  IPV4_FLAG_DF,
  ParsedIp,
  getTos,
  internetChecksum,
  ipv6IpsecInsertionPoint,
  refreshIpv4Checksum,
  setTos,
} from './ip';
import { innerTosAfterDecap, outerDf, outerTos } from './ecn';
import { Result, drop, ok } from './result';
import type { TunnelOptions } from './sa';

/** The parts of a packet around the point where AH/ESP goes in transport mode. */
export interface TransportSplit {
  /** IP header and the extension headers that stay in front of AH/ESP. */
  prefix: Buffer;
  /** Offset in `prefix` of the Next Header / Protocol byte to rewrite. */
  nextHeaderFieldOffset: number;
  /** What the protected payload starts with (the IPsec header's Next Header). */
  nextHeader: number;
  payload: Buffer;
}

export function splitForTransport(pkt: Buffer, p: ParsedIp): TransportSplit {
  if (p.family === 4) {
    return {
      prefix: Buffer.from(pkt.subarray(0, p.headerLength)),
      nextHeaderFieldOffset: 9,
      nextHeader: p.protocol,
      payload: pkt.subarray(p.headerLength, p.totalLength),
    };
  }
  const ins = ipv6IpsecInsertionPoint(pkt, p);
  return {
    prefix: Buffer.from(pkt.subarray(0, ins.offset)),
    nextHeaderFieldOffset: ins.nextHeaderFieldOffset,
    nextHeader: ins.nextHeader,
    payload: pkt.subarray(ins.offset, p.totalLength),
  };
}

/**
 * Join a prefix (IP header + unprotected extension headers) and a body,
 * naming `protocol` in the prefix's last Next Header field and fixing the
 * lengths and the IPv4 checksum. The prefix is modified in place.
 */
export function joinTransport(prefix: Buffer, nextHeaderFieldOffset: number, protocol: number, body: Buffer[]): Buffer {
  prefix[nextHeaderFieldOffset] = protocol;
  let bodyLen = 0;
  for (const b of body) bodyLen += b.length;
  const total = prefix.length + bodyLen;
  if (prefix[0] >> 4 === 4) {
    prefix.writeUInt16BE(total, 2);
    refreshIpv4Checksum(prefix);
  } else {
    prefix.writeUInt16BE(total - 40, 4);
  }
  return Buffer.concat([prefix, ...body], total);
}

let ipv4Identification = Math.floor(Math.random() * 0x10000);

/** RFC 791 Identification for the outer headers we originate. */
export function nextIpv4Identification(): number {
  ipv4Identification = (ipv4Identification + 1) & 0xffff;
  return ipv4Identification;
}

/**
 * Write the outer header of a tunnel-mode packet at the start of `out`
 * (RFC 4301 §5.1.2.1 for IPv4, §5.1.2.2 for IPv6) with TOS/Traffic Class
 * from the SA's ECN and DSCP rules and DF from its DF rule. Same layout as
 * IPV4_HEADER / IPV6_HEADER in ip.ts, written directly for the hot path.
 * Returns the header length.
 */
export function writeOuterHeader(
  out: Buffer,
  src: Buffer,
  dst: Buffer,
  innerTos: number,
  innerDf: boolean,
  protocol: number,
  bodyLength: number,
  opts: TunnelOptions,
  identification: number,
): number {
  const tos = outerTos(innerTos, opts.ecn, opts.dscp);
  if (src.length === 4) {
    out[0] = 0x45;
    out[1] = tos;
    out.writeUInt16BE(20 + bodyLength, 2);
    out.writeUInt16BE(identification & 0xffff, 4);
    out.writeUInt16BE(outerDf(innerDf, opts.df) ? IPV4_FLAG_DF << 13 : 0, 6);
    out[8] = opts.ttl;
    out[9] = protocol;
    out[10] = 0;
    out[11] = 0;
    src.copy(out, 12);
    dst.copy(out, 16);
    out.writeUInt16BE(internetChecksum(out.subarray(0, 20)), 10);
    return 20;
  }
  out.writeUInt32BE(((6 << 28) | (tos << 20)) >>> 0, 0);
  out.writeUInt16BE(bodyLength, 4);
  out[6] = protocol;
  out[7] = opts.ttl;
  src.copy(out, 8);
  dst.copy(out, 24);
  return 40;
}

/** The outer header as a new buffer (see writeOuterHeader). */
export function buildOuterHeader(
  src: Buffer,
  dst: Buffer,
  inner: Buffer,
  protocol: number,
  bodyLength: number,
  opts: TunnelOptions,
  identification: number = nextIpv4Identification(),
): Buffer {
  const innerIsV4 = inner[0] >> 4 === 4;
  // an IPv6 inner packet is never fragmented en route: treat it as DF for "copy"
  const innerDf = innerIsV4 ? ((inner[6] >> 5) & IPV4_FLAG_DF) !== 0 : true;
  const out = Buffer.allocUnsafe(src.length === 4 ? 20 : 40);
  writeOuterHeader(out, src, dst, getTos(inner), innerDf, protocol, bodyLength, opts, identification);
  return out;
}

/** The IPsec Next Header value naming an inner packet (RFC 4303 §2.6). */
export function innerProtocol(inner: Buffer): number {
  return inner[0] >> 4 === 4 ? IPPROTO.IPIP : IPPROTO.IPV6;
}

/**
 * After decapsulation: apply the SA's ECN/DSCP rules to the inner packet
 * (in place) given the outer TOS. Drops per RFC 6040 Figure 4 / KAME modes.
 */
export function applyDecapTos(inner: Buffer, outerTosValue: number, opts: TunnelOptions): Result<{ alarm: boolean }> {
  const before = getTos(inner);
  const r = innerTosAfterDecap(before, outerTosValue, opts.ecn, opts.dscpDecap);
  if (r === null)
    return drop('ecn-drop', `outer ECN ${outerTosValue & 3} with inner ECN ${before & 3} is dropped in ${opts.ecn} mode`);
  if (r.tos !== before) setTos(inner, r.tos);
  return ok({ alarm: r.alarm });
}
