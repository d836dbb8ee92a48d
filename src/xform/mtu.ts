/**
 * Per-SA overhead, the largest inner packet that fits a path MTU, and TCP MSS
 * clamping for tunnel SAs (so TCP over e.g. PPPoE + IPsec never fragments).
 */
import { IPPROTO, internetChecksum, parseIp, pseudoHeaderSum } from './ip';
import type { IpsecMode } from './sa';

/** The shape of an SA as far as sizes go. */
export interface SaSizes {
  proto: 'esp' | 'ah';
  mode: IpsecMode;
  /** Outer address family (tunnel mode) or packet family (transport mode). */
  family: 4 | 6;
  /** ESP: header (8) + IV. */
  espHeaderBytes?: number;
  /** ESP: padding alignment (4 for AEAD/stream, the block size for CBC). */
  padAlign?: number;
  icvBytes: number;
  udpEncap: boolean;
  /** Transport mode: bytes of IP header + unprotected extension headers before AH/ESP. */
  transportHeaderBytes?: number;
}

const IP_HEADER_BYTES = { 4: 20, 6: 40 } as const;

/** RFC 4302 §2.2/§2.6: AH is 12 bytes + ICV, padded to 32 bits (IPv4) or 64 bits (IPv6). */
export function ahHeaderBytes(icvBytes: number, family: 4 | 6): number {
  const unit = family === 4 ? 4 : 8;
  return Math.ceil((12 + icvBytes) / unit) * unit;
}

/**
 * Exact size on the wire of a packet of `innerLength` bytes after this SA
 * (tunnel mode: the whole inner packet is the payload; transport mode: the
 * payload is what follows transportHeaderBytes). TFC padding excluded.
 */
export function protectedSize(s: SaSizes, innerLength: number, tfcPadding = 0): number {
  const udp = s.udpEncap ? 8 : 0;
  const front = s.mode === 'tunnel' ? IP_HEADER_BYTES[s.family] : (s.transportHeaderBytes ?? IP_HEADER_BYTES[s.family]);
  const payload = s.mode === 'tunnel' ? innerLength : innerLength - front;
  if (s.proto === 'ah') return front + ahHeaderBytes(s.icvBytes, s.family) + payload;
  const align = s.padAlign ?? 4;
  const body = Math.ceil((payload + tfcPadding + 2) / align) * align; // RFC 4303 §2.4
  return front + udp + (s.espHeaderBytes ?? 8) + body + s.icvBytes;
}

/** Overhead added to a packet of `innerLength` bytes (depends on the length through the padding). */
export function overhead(s: SaSizes, innerLength: number): number {
  return protectedSize(s, innerLength) - innerLength;
}

/** Largest inner packet whose protected form fits `pmtu` bytes (0 if none does). */
export function maxInnerLength(s: SaSizes, pmtu: number): number {
  const udp = s.udpEncap ? 8 : 0;
  const front = s.mode === 'tunnel' ? IP_HEADER_BYTES[s.family] : (s.transportHeaderBytes ?? IP_HEADER_BYTES[s.family]);
  const keep = s.mode === 'tunnel' ? 0 : front; // bytes of the inner length that are not payload
  let payloadMax: number;
  if (s.proto === 'ah') payloadMax = pmtu - front - ahHeaderBytes(s.icvBytes, s.family);
  else {
    const align = s.padAlign ?? 4;
    const room = pmtu - front - udp - (s.espHeaderBytes ?? 8) - s.icvBytes;
    payloadMax = Math.floor(room / align) * align - 2;
  }
  return Math.max(0, payloadMax + keep);
}

/** The MSS that keeps TCP segments of the given inner family inside `maxInner`. */
export function mssFor(maxInner: number, innerFamily: 4 | 6): number {
  return Math.max(0, maxInner - IP_HEADER_BYTES[innerFamily] - 20);
}

const TCP_FLAG_SYN = 0x02;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;

/**
 * Lower the MSS option of a TCP SYN (or SYN-ACK) to `mss` if it is larger,
 * fixing the TCP checksum. Other packets are returned unchanged. Modifies
 * and returns `pkt`.
 */
export function clampMss(pkt: Buffer, mss: number): Buffer {
  const p = parseIp(pkt);
  if (!p.ok || p.value.protocol !== IPPROTO.TCP || p.value.isFragment) return pkt;
  const tcp = p.value.payloadOffset;
  const end = p.value.totalLength;
  if (end - tcp < 20) return pkt;
  if ((pkt[tcp + 13] & TCP_FLAG_SYN) === 0) return pkt;
  const dataOffset = (pkt[tcp + 12] >> 4) * 4;
  if (dataOffset < 20 || tcp + dataOffset > end) return pkt;
  let at = tcp + 20;
  while (at < tcp + dataOffset) {
    const kind = pkt[at];
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      at++;
      continue;
    }
    if (at + 1 >= tcp + dataOffset) break;
    const len = pkt[at + 1];
    if (len < 2 || at + len > tcp + dataOffset) break;
    if (kind === TCPOPT_MSS && len === 4) {
      const cur = pkt.readUInt16BE(at + 2);
      if (cur > mss) {
        pkt.writeUInt16BE(mss, at + 2);
        const seg = pkt.subarray(tcp, end);
        seg.writeUInt16BE(0, 16);
        const h = p.value.header;
        seg.writeUInt16BE(internetChecksum(seg, pseudoHeaderSum(h.src, h.dst, IPPROTO.TCP, seg.length)), 16);
      }
      break;
    }
    at += len;
  }
  return pkt;
}
