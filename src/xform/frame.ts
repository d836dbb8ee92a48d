/**
 * Placing an IPsec header into a packet and taking it out again, for both
 * modes and both IP versions (RFC 4301 §5.1.2 header construction for tunnel
 * mode, RFC 4303 §3.1.1 / RFC 4302 §3.1.1 transport mode header placement).
 */
import {
  IPPROTO,
  IPV4_FLAG_DF,
  ParsedIp,
  encodeIpv4Header,
  encodeIpv6Header,
  getTos,
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
 * The outer header of a tunnel-mode packet (RFC 4301 §5.1.2.1 for IPv4,
 * §5.1.2.2 for IPv6) with TOS/Traffic Class from the SA's ECN and DSCP
 * rules, and DF from its DF rule.
 */
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
  const tos = outerTos(getTos(inner), opts.ecn, opts.dscp);
  if (src.length === 4) {
    // an IPv6 inner packet is never fragmented en route: treat it as DF for "copy"
    const innerDf = innerIsV4 ? ((inner[6] >> 5) & IPV4_FLAG_DF) !== 0 : true;
    return encodeIpv4Header({
      dscp: tos >> 2,
      ecn: tos & 3,
      totalLength: 20 + bodyLength,
      identification,
      flags: outerDf(innerDf, opts.df) ? IPV4_FLAG_DF : 0,
      fragmentOffset: 0,
      ttl: opts.ttl,
      protocol,
      src,
      dst,
      options: Buffer.alloc(0),
    });
  }
  return encodeIpv6Header({
    trafficClass: tos,
    flowLabel: 0,
    payloadLength: bodyLength,
    nextHeader: protocol,
    hopLimit: opts.ttl,
    src,
    dst,
  });
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
