/**
 * UDP encapsulation of ESP (RFC 3948) and the demultiplexing of port 4500:
 * ESP-in-UDP, IKE behind the 4-byte zero Non-ESP Marker (§2.2), and the
 * one-byte NAT-keepalive (§2.3). Transport-mode checksum fix-up with the
 * NAT-OA addresses (§3.1.2, RFC 3947 §5.2).
 */
import { IPPROTO, ParsedIp, checksumFieldOffset, onesSum, upperLayerChecksum } from './ip';
import { Result, drop, ok } from './result';
import { StructSpec, decodeStruct, encodeStruct } from './struct';

/** The IANA port for UDP-encapsulated ESP and IKE (RFC 3948 §2, RFC 7296 §2.23). */
export const NAT_T_PORT = 4500;
export const IKE_PORT = 500;
export const UDP_ENCAP_HEADER_BYTES = 8;
/** RFC 3948 §2.2 Non-ESP Marker: four zero octets where the SPI would be. */
export const NON_ESP_MARKER = Buffer.alloc(4);
/** RFC 3948 §2.3 NAT-keepalive packet: one octet 0xFF. */
export const NAT_KEEPALIVE = Buffer.from([0xff]);

type UdpField = 'sourcePort' | 'destinationPort' | 'length' | 'checksum';
/** RFC 768 UDP header. */
export const UDP_HEADER: StructSpec<UdpField> = {
  name: 'UDP header',
  size: 8,
  fields: [
    { name: 'sourcePort', kind: 'uint', offset: 0, bytes: 2 },
    { name: 'destinationPort', kind: 'uint', offset: 2, bytes: 2 },
    { name: 'length', kind: 'uint', offset: 4, bytes: 2 },
    { name: 'checksum', kind: 'uint', offset: 6, bytes: 2 },
  ],
};

/**
 * RFC 3948 §2.1 UDP header for ESP-in-UDP. The checksum is zero (SHOULD for
 * IPv4; for IPv6 the caller fills it in, see fillUdpChecksum).
 */
export function buildUdpEncapHeader(sport: number, dport: number, espLength: number): Buffer {
  return encodeStruct(UDP_HEADER, { sourcePort: sport, destinationPort: dport, length: 8 + espLength, checksum: 0 });
}

/** Compute the UDP checksum of the UDP segment inside a built packet (required over IPv6, RFC 8200 §8.1). */
export function fillUdpChecksum(pkt: Buffer, p: ParsedIp): void {
  const seg = pkt.subarray(p.payloadOffset, p.totalLength);
  seg.writeUInt16BE(upperLayerChecksum(p.header.src, p.header.dst, IPPROTO.UDP, seg, 6), 6);
}

/** What arrived on a UDP port where IKE and ESP share the socket. */
export type UdpEncapKind =
  | { kind: 'keepalive' }
  | { kind: 'ike'; message: Buffer }
  | { kind: 'esp'; esp: Buffer; spi: number };

/**
 * Whether the Non-ESP Marker is used on this port pair. strongSwan's socket
 * plugins add and strip the marker iff neither port is 500 (RFC 3948 §2.2
 * defines it for port 4500; a peer behind a NAT that maps 500 elsewhere still
 * sends to 4500).
 */
export function usesNonEspMarker(localPort: number, remotePort: number): boolean {
  return localPort !== IKE_PORT && remotePort !== IKE_PORT;
}

/** Classify a UDP payload received on (localPort, from remotePort). */
export function classifyUdpPayload(data: Buffer, localPort: number, remotePort: number): Result<UdpEncapKind> {
  if (!usesNonEspMarker(localPort, remotePort)) {
    if (data.length === 1 && data[0] === 0xff) return ok({ kind: 'keepalive' });
    return ok({ kind: 'ike', message: data });
  }
  if (data.length === 1 && data[0] === 0xff) return ok({ kind: 'keepalive' });
  if (data.length < 4) return drop('bad-udp-encap', `UDP payload of ${data.length} bytes is neither keepalive, IKE nor ESP`, 0);
  const spi = data.readUInt32BE(0);
  if (spi === 0) return ok({ kind: 'ike', message: data.subarray(4) });
  if (data.length < 8) return drop('bad-udp-encap', 'ESP-in-UDP shorter than SPI + sequence number', data.length);
  return ok({ kind: 'esp', esp: data, spi });
}

/** Frame an IKE message for sending on (localPort → remotePort). */
export function frameIke(message: Buffer, localPort: number, remotePort: number): Buffer {
  return usesNonEspMarker(localPort, remotePort) ? Buffer.concat([NON_ESP_MARKER, message]) : message;
}

/** Decode a UDP header (e.g. from a raw packet). */
export function decodeUdpHeader(buf: Uint8Array, at: number): Result<{ sourcePort: number; destinationPort: number; length: number; checksum: number }> {
  const d = decodeStruct(UDP_HEADER, buf, at);
  if (!d) return drop('truncated', 'UDP header', at);
  return ok({
    sourcePort: d.sourcePort as number,
    destinationPort: d.destinationPort as number,
    length: d.length as number,
    checksum: d.checksum as number,
  });
}

function foldSum(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/**
 * RFC 3948 §3.1.2 transport-mode decapsulation: the sender computed the TCP
 * or UDP checksum with its own (pre-NAT) addresses, the NAT-OA values. Replace
 * them incrementally (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')) with the
 * addresses in the header we received. Without NAT-OA the checksum is
 * recomputed from scratch (ESP's ICV has already vouched for the data).
 * A zero UDP-over-IPv4 checksum means "none" and is left alone.
 */
export function natOaChecksumFixup(pkt: Buffer, p: ParsedIp, originalSrc?: Buffer, originalDst?: Buffer): void {
  if (p.protocol !== IPPROTO.TCP && p.protocol !== IPPROTO.UDP) return;
  const off = checksumFieldOffset(p.protocol);
  const seg = pkt.subarray(p.payloadOffset, p.totalLength);
  if (seg.length < off + 2) return;
  const old = seg.readUInt16BE(off);
  if (p.protocol === IPPROTO.UDP && old === 0 && p.family === 4) return;
  if (!originalSrc && !originalDst) {
    seg.writeUInt16BE(upperLayerChecksum(p.header.src, p.header.dst, p.protocol, seg, off), off);
    return;
  }
  let sum = ~old & 0xffff;
  const sub = (a: Buffer): void => {
    sum += 0xffff * (a.length / 2) - onesSum(a); // add ~m word by word
  };
  if (originalSrc) {
    sub(originalSrc);
    sum += onesSum(p.header.src);
  }
  if (originalDst) {
    sub(originalDst);
    sum += onesSum(p.header.dst);
  }
  let c = ~foldSum(sum) & 0xffff;
  if (p.protocol === IPPROTO.UDP && c === 0) c = 0xffff;
  seg.writeUInt16BE(c, off);
}
