import { parseIp as parseAddr } from '../../src/util/ip';
import { DEFAULT_TUNNEL_OPTIONS, EncrAlgRow, IntegAlgRow, XformSa } from '../../src/xform/sa';

export function addr(text: string): Buffer {
  const b = parseAddr(text);
  if (!b) throw new Error(`bad address ${text}`);
  return b;
}

export function espSa(over: Partial<XformSa> & { encr: EncrAlgRow; encrKey: Buffer; integ?: IntegAlgRow }): XformSa {
  return {
    spi: 0x1000,
    proto: 'esp',
    mode: 'tunnel',
    src: addr('192.0.2.1'),
    dst: addr('192.0.2.2'),
    esn: false,
    replayWindow: 64,
    padding: 'sequential',
    checkPadding: true,
    tunnel: { ...DEFAULT_TUNNEL_OPTIONS },
    ...over,
  };
}

import { IPPROTO, encodeIpv4Header, encodeIpv6Header, upperLayerChecksum } from '../../src/xform/ip';

/** An IPv4 UDP datagram with a correct checksum. */
export function udp4(src: string, dst: string, payload: Buffer, opts: { tos?: number; df?: boolean; ttl?: number; sport?: number; dport?: number } = {}): Buffer {
  const s = addr(src);
  const d = addr(dst);
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(opts.sport ?? 1234, 0);
  udp.writeUInt16BE(opts.dport ?? 7, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, 8);
  udp.writeUInt16BE(upperLayerChecksum(s, d, IPPROTO.UDP, udp, 6), 6);
  const tos = opts.tos ?? 0;
  const h = encodeIpv4Header({
    dscp: tos >> 2, ecn: tos & 3, totalLength: 20 + udp.length, identification: 0x1234, flags: opts.df ? 2 : 0,
    fragmentOffset: 0, ttl: opts.ttl ?? 64, protocol: IPPROTO.UDP, src: s, dst: d, options: Buffer.alloc(0),
  });
  return Buffer.concat([h, udp]);
}

/** An IPv6 packet: given extension headers (already encoded, chained by `chain`) then a UDP datagram. */
export function udp6(src: string, dst: string, payload: Buffer, ext: { type: number; body: Buffer }[] = [], opts: { tc?: number; hlim?: number } = {}): Buffer {
  const s = addr(src);
  const d = addr(dst);
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(1234, 0);
  udp.writeUInt16BE(7, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, 8);
  udp.writeUInt16BE(upperLayerChecksum(s, d, IPPROTO.UDP, udp, 6), 6);
  const bodies = ext.map((e, i) => {
    const b = Buffer.from(e.body);
    b[0] = i + 1 < ext.length ? ext[i + 1].type : IPPROTO.UDP;
    return b;
  });
  const rest = Buffer.concat([...bodies, udp]);
  const h = encodeIpv6Header({
    trafficClass: opts.tc ?? 0, flowLabel: 0x12345, payloadLength: rest.length,
    nextHeader: ext.length ? ext[0].type : IPPROTO.UDP, hopLimit: opts.hlim ?? 64, src: s, dst: d,
  });
  return Buffer.concat([h, rest]);
}

/** RFC 6275 §6.4 type 2 routing header carrying the home address. */
export function rh2(homeAddress: string, segmentsLeft = 1): { type: number; body: Buffer } {
  const b = Buffer.alloc(24);
  b[1] = 2; // (24 / 8) - 1
  b[2] = 2;
  b[3] = segmentsLeft;
  addr(homeAddress).copy(b, 8);
  return { type: IPPROTO.ROUTING, body: b };
}

/** Destination options header with a Home Address option (RFC 6275 §6.3), padded to 8n. */
export function haoDestOpts(homeAddress: string): { type: number; body: Buffer } {
  const b = Buffer.alloc(24);
  b[1] = 2;
  b[2] = 1; // PadN
  b[3] = 2; // 2 bytes of padding: 8n+6 alignment for the HAO (RFC 6275 §6.3)
  b[6] = 0xc9;
  b[7] = 16;
  addr(homeAddress).copy(b, 8);
  return { type: IPPROTO.DSTOPTS, body: b };
}

/** Hop-by-hop header with one option of the given type (4 data bytes). */
export function hopByHop(optType: number, data = Buffer.from([1, 2, 3, 4])): { type: number; body: Buffer } {
  const b = Buffer.alloc(8);
  b[1] = 0;
  b[2] = optType;
  b[3] = 4;
  data.copy(b, 4);
  return { type: IPPROTO.HOPOPTS, body: b };
}
