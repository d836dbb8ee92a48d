/**
 * Output toward a path MTU: the exact per-SA sizes, and pre- or
 * post-fragmentation on request (see frag.ts for the two styles).
 */
import { AhSa } from './ah';
import { EspSa } from './esp';
import { FragmentStyle, fragment, fragmentIpv4 } from './frag';
import { IPV4_FLAG_DF, parseIp, ipVersion, ipv6IpsecInsertionPoint } from './ip';
import { SaSizes, maxInnerLength, protectedSize } from './mtu';
import { Result, drop, ok } from './result';

/** Sizes of an ESP or AH SA for packets of the given (transport) family. */
export function saSizes(x: EspSa | AhSa, packetFamily: 4 | 6, transportHeaderBytes?: number): SaSizes {
  const sa = x.sa;
  const family = sa.mode === 'tunnel' ? (sa.src.length === 4 ? 4 : 6) : packetFamily;
  if (x instanceof EspSa)
    return {
      proto: 'esp',
      mode: sa.mode,
      family,
      espHeaderBytes: x.headerBytes,
      padAlign: x.padAlign,
      icvBytes: x.icvBytes,
      udpEncap: sa.natt !== undefined,
      ...(transportHeaderBytes !== undefined ? { transportHeaderBytes } : {}),
    };
  return {
    proto: 'ah',
    mode: sa.mode,
    family,
    icvBytes: x.headerBytes(family) - 12,
    udpEncap: false,
    ...(transportHeaderBytes !== undefined ? { transportHeaderBytes } : {}),
  };
}

/** Bytes in front of AH/ESP in transport mode for this packet. */
function transportFront(pkt: Buffer): number | undefined {
  const p = parseIp(pkt);
  if (!p.ok) return undefined;
  return p.value.family === 4 ? p.value.headerLength : ipv6IpsecInsertionPoint(pkt, p.value).offset;
}

/** Size of `pkt` once protected by `x`, and the largest packet of its shape that fits `pmtu`. */
export function fitFor(x: EspSa | AhSa, pkt: Buffer, pmtu: number): { protectedBytes: number; maxInner: number } {
  const fam = ipVersion(pkt) === 6 ? 6 : 4;
  const s = saSizes(x, fam, x.sa.mode === 'transport' ? transportFront(pkt) : undefined);
  return { protectedBytes: protectedSize(s, pkt.length), maxInner: maxInnerLength(s, pmtu) };
}

/**
 * Protect `pkt` with `x` so that every packet sent fits `pmtu`:
 * 'pre' fragments the inner IPv4 packet first (Linux), 'post' fragments the
 * protected packet (FreeBSD).
 */
export function protectForPath(x: EspSa | AhSa, pkt: Buffer, pmtu: number, style: FragmentStyle): Result<Buffer[]> {
  const { protectedBytes, maxInner } = fitFor(x, pkt, pmtu);
  if (protectedBytes <= pmtu) {
    const out = x.output(pkt);
    return out.ok ? ok([out.value]) : out;
  }
  if (style === 'pre') {
    if (ipVersion(pkt) !== 4) return drop('mtu-exceeded', `IPv6 packet of ${pkt.length} bytes needs ${protectedBytes} > ${pmtu}: send Packet Too Big (MTU ${maxInner})`);
    if ((pkt[6] >> 5) & IPV4_FLAG_DF) return drop('mtu-exceeded', `DF set and ${protectedBytes} > ${pmtu}: send Fragmentation Needed (MTU ${maxInner})`);
    const frags = fragmentIpv4(pkt, maxInner);
    if (!frags.ok) return frags;
    const out: Buffer[] = [];
    for (const f of frags.value) {
      const o = x.output(f);
      if (!o.ok) return o;
      out.push(o.value);
    }
    return ok(out);
  }
  const o = x.output(pkt);
  if (!o.ok) return o;
  return fragment(o.value, pmtu);
}
