/**
 * IP address text <-> bytes, with RFC 5952 canonical IPv6 text, and prefix
 * arithmetic. Used by every layer that prints or compares addresses.
 */
import { isIP } from 'node:net';

export type IpFamily = 4 | 6;

/** Parse an IPv4/IPv6 literal (an IPv6 %zone suffix is accepted and dropped). Returns null if invalid. */
export function parseIp(text: string): Buffer | null {
  const bare = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  const kind = isIP(bare);
  if (kind === 4) return Buffer.from(bare.split('.').map((p) => Number(p)));
  if (kind !== 6) return null;
  let head = bare;
  let tailV4: number[] = [];
  const lastColon = bare.lastIndexOf(':');
  if (bare.slice(lastColon + 1).includes('.')) {
    tailV4 = bare
      .slice(lastColon + 1)
      .split('.')
      .map((p) => Number(p));
    head = bare.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const leftParts = left ? left.split(':') : [];
  const rightParts = right !== undefined && right !== '' ? right.split(':') : [];
  const fill = right === undefined ? 0 : 8 - leftParts.length - rightParts.length;
  const groups = [...leftParts, ...Array<string>(fill).fill('0'), ...rightParts];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tailV4.length === 4) Buffer.from(tailV4).copy(out, 12);
  return out;
}

/** Canonical text of a 4- or 16-byte address (RFC 5952 for IPv6). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // longest run of >= 2 zero groups, first one on ties (RFC 5952 §4.2)
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

/** Canonicalise an address literal; null if it is not one. */
export function canonicalIp(text: string): string | null {
  const b = parseIp(text);
  return b ? formatIp(b) : null;
}

export function ipFamily(text: string): IpFamily | null {
  const bare = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  const k = isIP(bare);
  return k === 4 || k === 6 ? k : null;
}

/** True when the first `prefixlen` bits of a and b agree (same length required). */
export function prefixMatch(a: Uint8Array, b: Uint8Array, prefixlen: number): boolean {
  if (a.length !== b.length) return false;
  const full = prefixlen >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rem = prefixlen & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (a[full] & mask) === (b[full] & mask);
}

/** Zero the host bits beyond prefixlen. */
export function maskAddress(a: Uint8Array, prefixlen: number): Buffer {
  const out = Buffer.from(a);
  for (let bit = prefixlen; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}
