/**
 * Small IP helpers of the data plane: the SPD selector of a cleartext
 * packet (RFC 4301 §4.4.1.1: addresses, next layer protocol, ports or ICMP
 * type/code), and builders for the ICMP echo and UDP packets the in-process
 * hosts send.
 */
import type { PacketSelector } from '../../spd/spd';
import { IPPROTO, encodeIpv4Header, encodeIpv6Header, internetChecksum, parseIp, upperLayerChecksum, type ParsedIp } from '../../xform/ip';
import type { Result } from '../../xform/result';
import { ok } from '../../xform/result';

/** RFC 792 echo request / reply, RFC 4443 §4.1/§4.2. */
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
/** RFC 862 Echo Protocol port. */
export const UDP_ECHO_PORT = 7;
const DEFAULT_TTL = 64;

const PORTED = new Set<number>([IPPROTO.TCP, IPPROTO.UDP, 132 /* SCTP */, 136 /* UDP-Lite */]);

export interface ParsedPacket {
  ip: ParsedIp;
  selector: PacketSelector;
}

/** Parse a cleartext IP packet into its selector (ports 0 when the header is cut short, as Linux does for fragments). */
export function selectorOf(pkt: Buffer): Result<ParsedPacket> {
  const r = parseIp(pkt);
  if (!r.ok) return r;
  const ip = r.value;
  const at = ip.payloadOffset;
  let sport = 0;
  let dport = 0;
  if (!ip.isFragment || (ip.family === 4 ? ip.header.fragmentOffset === 0 : ip.fragment?.offset === 0)) {
    if (PORTED.has(ip.protocol) && at + 4 <= ip.totalLength) {
      sport = pkt.readUInt16BE(at);
      dport = pkt.readUInt16BE(at + 2);
    } else if ((ip.protocol === IPPROTO.ICMP || ip.protocol === IPPROTO.ICMPV6) && at + 2 <= ip.totalLength) {
      sport = pkt[at];
      dport = pkt[at + 1];
    }
  }
  return ok({ ip, selector: { src: ip.header.src, dst: ip.header.dst, proto: ip.protocol, sport, dport } });
}

let nextId = 1;

/** Wrap an upper-layer segment in an IPv4 or IPv6 header (checksum of the segment filled in by the caller). */
export function ipPacket(src: Buffer, dst: Buffer, protocol: number, segment: Buffer): Buffer {
  if (src.length === 4) {
    const h = encodeIpv4Header({
      dscp: 0,
      ecn: 0,
      totalLength: 20 + segment.length,
      identification: nextId++ & 0xffff,
      flags: 0,
      fragmentOffset: 0,
      ttl: DEFAULT_TTL,
      protocol,
      src,
      dst,
      options: Buffer.alloc(0),
    });
    return Buffer.concat([h, segment]);
  }
  const h = encodeIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: segment.length, nextHeader: protocol, hopLimit: DEFAULT_TTL, src, dst });
  return Buffer.concat([h, segment]);
}

/** ICMP (v4, RFC 792) or ICMPv6 (RFC 4443) echo message, checksummed. */
export function icmpEcho(src: Buffer, dst: Buffer, reply: boolean, id: number, seq: number, data: Buffer): Buffer {
  const v6 = src.length === 16;
  const seg = Buffer.alloc(8 + data.length);
  seg[0] = v6 ? (reply ? ICMPV6_ECHO_REPLY : ICMPV6_ECHO_REQUEST) : reply ? ICMP_ECHO_REPLY : ICMP_ECHO_REQUEST;
  seg.writeUInt16BE(id & 0xffff, 4);
  seg.writeUInt16BE(seq & 0xffff, 6);
  data.copy(seg, 8);
  const protocol = v6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP;
  seg.writeUInt16BE(v6 ? upperLayerChecksum(src, dst, protocol, seg, 2) : internetChecksum(seg), 2);
  return ipPacket(src, dst, protocol, seg);
}

/** UDP datagram (RFC 768) with its checksum. */
export function udpPacket(src: Buffer, dst: Buffer, sport: number, dport: number, data: Buffer): Buffer {
  const seg = Buffer.alloc(8 + data.length);
  seg.writeUInt16BE(sport, 0);
  seg.writeUInt16BE(dport, 2);
  seg.writeUInt16BE(seg.length, 4);
  data.copy(seg, 8);
  seg.writeUInt16BE(upperLayerChecksum(src, dst, IPPROTO.UDP, seg, 6), 6);
  return ipPacket(src, dst, IPPROTO.UDP, seg);
}
