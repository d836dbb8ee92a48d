/**
 * Traffic selectors (RFC 7296 §2.9, §3.13): conversion between config text
 * and wire form, and narrowing (intersection) as a responder.
 */
import { isIP } from 'node:net';
import { parseIp, formatIp } from '../../util/ip';
import { TsType } from './constants';
import type { TrafficSelectorConfig } from './config';
import type { TrafficSelectorWire } from './payloads';

export function tsToWire(t: TrafficSelectorConfig): TrafficSelectorWire {
  const v6 = isIP(t.startAddress) === 6;
  return {
    tsType: v6 ? TsType.TS_IPV6_ADDR_RANGE : TsType.TS_IPV4_ADDR_RANGE,
    ipProtocolId: t.protocol,
    startPort: t.startPort,
    endPort: t.endPort,
    startAddress: parseIp(t.startAddress) ?? Buffer.alloc(v6 ? 16 : 4),
    endAddress: parseIp(t.endAddress) ?? Buffer.alloc(v6 ? 16 : 4),
  };
}

export function tsFromWire(t: TrafficSelectorWire): TrafficSelectorConfig {
  return {
    protocol: t.ipProtocolId,
    startPort: t.startPort,
    endPort: t.endPort,
    startAddress: formatIp(t.startAddress),
    endAddress: formatIp(t.endAddress),
  };
}

/** A wire TS is well formed: a known type whose address length matches (§3.13.1). */
export function tsWellFormed(t: TrafficSelectorWire): boolean {
  if (t.tsType === TsType.TS_IPV4_ADDR_RANGE) return t.startAddress.length === 4;
  if (t.tsType === TsType.TS_IPV6_ADDR_RANGE) return t.startAddress.length === 16;
  return false;
}

function maxBuf(a: Buffer, b: Buffer): Buffer {
  return Buffer.compare(a, b) >= 0 ? a : b;
}
function minBuf(a: Buffer, b: Buffer): Buffer {
  return Buffer.compare(a, b) <= 0 ? a : b;
}

/** The intersection of two selectors, or null (§2.9 narrowing). */
export function tsIntersect(a: TrafficSelectorWire, b: TrafficSelectorWire): TrafficSelectorWire | null {
  if (a.tsType !== b.tsType || a.startAddress.length !== b.startAddress.length) return null;
  let proto: number;
  if (a.ipProtocolId === 0) proto = b.ipProtocolId;
  else if (b.ipProtocolId === 0 || b.ipProtocolId === a.ipProtocolId) proto = a.ipProtocolId;
  else return null;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  // RFC 4301 OPAQUE ports (start 65535, end 0) are not supported: they fail here
  if (startPort > endPort) return null;
  const startAddress = maxBuf(a.startAddress, b.startAddress);
  const endAddress = minBuf(a.endAddress, b.endAddress);
  if (Buffer.compare(startAddress, endAddress) > 0) return null;
  return { tsType: a.tsType, ipProtocolId: proto, startPort, endPort, startAddress: Buffer.from(startAddress), endAddress: Buffer.from(endAddress) };
}

/** Narrow the peer's selectors to what our config allows; [] = TS_UNACCEPTABLE. */
export function narrow(offered: TrafficSelectorWire[], allowed: TrafficSelectorConfig[]): TrafficSelectorWire[] {
  const out: TrafficSelectorWire[] = [];
  for (const o of offered) {
    if (!tsWellFormed(o)) continue;
    for (const a of allowed) {
      const i = tsIntersect(o, tsToWire(a));
      if (i && !out.some((x) => tsEqual(x, i))) out.push(i);
    }
  }
  return out;
}

export function tsEqual(a: TrafficSelectorWire, b: TrafficSelectorWire): boolean {
  return (
    a.tsType === b.tsType &&
    a.ipProtocolId === b.ipProtocolId &&
    a.startPort === b.startPort &&
    a.endPort === b.endPort &&
    a.startAddress.equals(b.startAddress) &&
    a.endAddress.equals(b.endAddress)
  );
}

/** Every selector of `inner` lies inside some selector of `outer` (initiator check of a narrowed answer). */
export function tsSubset(inner: TrafficSelectorWire[], outer: TrafficSelectorWire[]): boolean {
  return inner.length > 0 && inner.every((i) => outer.some((o) => { const x = tsIntersect(i, o); return x !== null && tsEqual(x, i); }));
}

export function describeTs(t: TrafficSelectorWire): string {
  const ports = t.startPort === 0 && t.endPort === 65535 ? '' : `[${t.startPort}-${t.endPort}]`;
  const proto = t.ipProtocolId ? `/${t.ipProtocolId}` : '';
  return `${formatIp(t.startAddress)}-${formatIp(t.endAddress)}${proto}${ports}`;
}
