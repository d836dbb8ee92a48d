/**
 * IP fragmentation and bounded reassembly.
 *
 * Output styles, chosen per request:
 * - 'pre'  (Linux): fragment the inner packet before encapsulation, each
 *   fragment becomes its own ESP/AH packet; only for IPv4 inner packets
 *   without DF (an IPv6 inner packet or DF set is 'mtu-exceeded': the caller
 *   answers with ICMP "packet too big").
 * - 'post' (FreeBSD): encapsulate, then fragment the outer packet (we are
 *   its source, so IPv6 may use a Fragment header, RFC 8200 §4.5); an IPv4
 *   outer header with DF is 'mtu-exceeded'.
 * Input accepts both: outer fragments are reassembled before AH/ESP, inner
 * fragments are ordinary packets after decapsulation.
 *
 * Reassembly (RFC 791 §3.2, RFC 8200 §4.5) is bounded in bytes and in time,
 * and drops overlapping fragments (RFC 5722).
 */
import {
  IPPROTO,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV6_FRAGMENT_HEADER,
  ParsedIp,
  ParsedIpv6,
  encodeIpv4Header,
  internetChecksum,
  parseIp,
} from './ip';
import { Drop, DropCounters, Result, drop, newDropCounters, ok } from './result';
import { encodeStruct } from './struct';

export type FragmentStyle = 'pre' | 'post';

let ipv6FragmentId = Math.floor(Math.random() * 0xffffffff);

/** Fragment an IPv4 packet to fit `mtu` (RFC 791 §3.2). DF set is 'mtu-exceeded'. */
export function fragmentIpv4(pkt: Buffer, mtu: number, ignoreDf = false): Result<Buffer[]> {
  const pr = parseIp(pkt);
  if (!pr.ok) return pr;
  const p = pr.value;
  if (p.family !== 4) return drop('bad-ip-header', 'not IPv4');
  if (p.totalLength <= mtu) return ok([pkt.subarray(0, p.totalLength)]);
  const h = p.header;
  if (h.flags & IPV4_FLAG_DF && !ignoreDf) return drop('mtu-exceeded', `${p.totalLength} bytes with DF over MTU ${mtu}`);
  // options with the copied flag (0x80) go into every fragment (RFC 791 §3.1 "Options")
  const copied: Buffer[] = [];
  for (let at = 0; at < h.options.length; ) {
    const t = h.options[at];
    if (t === 0) break;
    if (t === 1) {
      at++;
      continue;
    }
    const len = h.options[at + 1] ?? 0;
    if (len < 2) break;
    if (t & 0x80) copied.push(h.options.subarray(at, at + len));
    at += len;
  }
  let laterOptions = Buffer.concat(copied);
  if (laterOptions.length % 4) laterOptions = Buffer.concat([laterOptions, Buffer.alloc(4 - (laterOptions.length % 4))]);
  const data = pkt.subarray(p.headerLength, p.totalLength);
  const out: Buffer[] = [];
  let offset = 0;
  const baseOffset = h.fragmentOffset * 8;
  const lastMf = (h.flags & IPV4_FLAG_MF) !== 0;
  while (offset < data.length) {
    const options = offset === 0 ? h.options : laterOptions;
    const room = Math.floor((mtu - 20 - options.length) / 8) * 8;
    if (room <= 0) return drop('mtu-exceeded', `MTU ${mtu} too small to fragment`);
    const chunk = data.subarray(offset, offset + room);
    const more = offset + chunk.length < data.length || lastMf;
    const hdr = encodeIpv4Header({
      dscp: h.dscp,
      ecn: h.ecn,
      totalLength: 20 + options.length + chunk.length,
      identification: h.identification,
      flags: (h.flags & IPV4_FLAG_DF) | (more ? IPV4_FLAG_MF : 0),
      fragmentOffset: (baseOffset + offset) / 8,
      ttl: h.ttl,
      protocol: h.protocol,
      src: h.src,
      dst: h.dst,
      options,
    });
    out.push(Buffer.concat([hdr, chunk]));
    offset += chunk.length;
  }
  return ok(out);
}

/** RFC 8200 §4.5: the unfragmentable part ends after hop-by-hop, and routing (with the destination options before it). */
function ipv6UnfragmentableEnd(p: ParsedIpv6): { end: number; nextHeaderField: number; nextHeader: number } {
  let end = 40;
  let nextHeaderField = 6;
  let nextHeader = p.header.nextHeader;
  const lastRouting = p.extHeaders.map((e) => e.type).lastIndexOf(IPPROTO.ROUTING);
  for (let i = 0; i < p.extHeaders.length; i++) {
    const e = p.extHeaders[i];
    const keep = e.type === IPPROTO.HOPOPTS || i <= lastRouting;
    if (!keep) break;
    end = e.offset + e.length;
    nextHeaderField = e.offset;
    nextHeader = e.nextHeader;
  }
  return { end, nextHeaderField, nextHeader };
}

/** Fragment an IPv6 packet at its source (RFC 8200 §4.5). */
export function fragmentIpv6(pkt: Buffer, mtu: number, identification = (ipv6FragmentId = (ipv6FragmentId + 1) >>> 0)): Result<Buffer[]> {
  const pr = parseIp(pkt);
  if (!pr.ok) return pr;
  const p = pr.value;
  if (p.family !== 6) return drop('bad-ip-header', 'not IPv6');
  if (p.totalLength <= mtu) return ok([pkt.subarray(0, p.totalLength)]);
  if (p.isFragment) return drop('mtu-exceeded', 'refusing to re-fragment an IPv6 fragment');
  const u = ipv6UnfragmentableEnd(p);
  const unfrag = pkt.subarray(0, u.end);
  const data = pkt.subarray(u.end, p.totalLength);
  const room = Math.floor((mtu - u.end - 8) / 8) * 8;
  if (room <= 0) return drop('mtu-exceeded', `MTU ${mtu} too small to fragment`);
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += room) {
    const chunk = data.subarray(offset, offset + room);
    const more = offset + chunk.length < data.length;
    const fh = encodeStruct(IPV6_FRAGMENT_HEADER, {
      nextHeader: u.nextHeader,
      reserved: 0,
      fragmentOffset: offset / 8,
      res: 0,
      m: more ? 1 : 0,
      identification,
    });
    const head = Buffer.from(unfrag);
    head[u.nextHeaderField] = IPPROTO.FRAGMENT;
    head.writeUInt16BE(u.end - 40 + 8 + chunk.length, 4);
    out.push(Buffer.concat([head, fh, chunk]));
  }
  return ok(out);
}

/** Fragment either family to fit `mtu`. */
export function fragment(pkt: Buffer, mtu: number): Result<Buffer[]> {
  return pkt[0] >> 4 === 4 ? fragmentIpv4(pkt, mtu) : fragmentIpv6(pkt, mtu);
}

// ---------------------------------------------------------------------------
// Reassembly

export interface ReassemblyLimits {
  /** Bytes held across all incomplete datagrams. */
  maxBytes: number;
  /** Lifetime of an incomplete datagram (RFC 8200 §4.5: 60 s; RFC 791 suggests 15 s upward). */
  timeoutMs: number;
  /** Incomplete datagrams at once. */
  maxDatagrams: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { maxBytes: 4 * 1024 * 1024, timeoutMs: 30_000, maxDatagrams: 1024 };

interface Piece {
  offset: number;
  data: Buffer;
}

interface Pending {
  first: number; // time of the first fragment
  pieces: Piece[];
  bytes: number;
  /** Total payload length, known once the last fragment (MF=0) arrived. */
  total: number | null;
  /** Header (IPv4: IP header of the offset-0 fragment; IPv6: the unfragmentable part) and where its next header goes. */
  head: Buffer | null;
  nextHeaderField: number;
  nextHeader: number;
}

export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  private bytes = 0;
  readonly drops: DropCounters = newDropCounters();
  completed = 0;

  constructor(readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /** Bytes currently held. */
  get heldBytes(): number {
    return this.bytes;
  }
  get heldDatagrams(): number {
    return this.pending.size;
  }

  private fail(d: Drop, key?: string): Drop {
    if (key !== undefined) this.discard(key);
    this.drops[d.reason]++;
    return d;
  }

  private discard(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.bytes -= p.bytes;
    this.pending.delete(key);
  }

  /** Drop every incomplete datagram older than the timeout; returns how many were dropped. */
  expire(now: number): number {
    let n = 0;
    for (const [k, p] of this.pending) {
      if (now - p.first >= this.limits.timeoutMs) {
        this.discard(k);
        this.drops['fragment-timeout']++;
        n++;
      }
    }
    return n;
  }

  /**
   * Feed one packet. Non-fragments come back unchanged; a fragment returns
   * null until its datagram is complete, then the reassembled packet.
   */
  add(pkt: Buffer, now: number): Result<Buffer | null> {
    this.expire(now);
    const pr = parseIp(pkt);
    if (!pr.ok) return this.fail(pr);
    const p = pr.value;
    if (!p.isFragment) return ok(pkt);
    const f = fragmentFacts(pkt, p);
    if (!f.ok) return this.fail(f);
    const { key, offset, more, data } = f.value;
    if (offset + data.length > 65535) return this.fail(drop('fragment-too-large', `fragment end ${offset + data.length} > 65535`), key);
    if (more && data.length % 8 !== 0) return this.fail(drop('bad-ip-header', 'non-final fragment not a multiple of 8 bytes'), key);
    let entry = this.pending.get(key);
    if (!entry) {
      if (this.pending.size >= this.limits.maxDatagrams) return this.fail(drop('fragment-memory', `${this.pending.size} datagrams in reassembly`));
      entry = { first: now, pieces: [], bytes: 0, total: null, head: null, nextHeaderField: 0, nextHeader: 0 };
      this.pending.set(key, entry);
    }
    if (this.bytes + data.length > this.limits.maxBytes)
      return this.fail(drop('fragment-memory', `reassembly holds ${this.bytes} bytes, limit ${this.limits.maxBytes}`), key);
    for (const q of entry.pieces) {
      if (offset < q.offset + q.data.length && q.offset < offset + data.length)
        return this.fail(drop('fragment-overlap', `fragment ${offset}+${data.length} overlaps ${q.offset}+${q.data.length} (RFC 5722)`), key);
    }
    if (!more) {
      if (entry.total !== null && entry.total !== offset + data.length) return this.fail(drop('bad-ip-header', 'two last fragments'), key);
      entry.total = offset + data.length;
    }
    if (entry.total !== null && offset + data.length > entry.total) return this.fail(drop('bad-ip-header', 'fragment beyond the last one'), key);
    if (offset === 0) {
      entry.head = f.value.head;
      entry.nextHeaderField = f.value.nextHeaderField;
      entry.nextHeader = f.value.nextHeader;
    }
    entry.pieces.push({ offset, data: Buffer.from(data) });
    entry.bytes += data.length;
    this.bytes += data.length;
    if (entry.total === null || entry.head === null || entry.bytes !== entry.total) return ok(null);
    // complete: pieces do not overlap and sum to total, so they tile [0, total)
    entry.pieces.sort((a, b) => a.offset - b.offset);
    const body = Buffer.concat(entry.pieces.map((x) => x.data));
    const head = Buffer.from(entry.head);
    this.discard(key);
    if (head.length + body.length > 65535 + (pkt[0] >> 4 === 6 ? 40 : 0))
      return this.fail(drop('fragment-too-large', `reassembled ${head.length + body.length} bytes`));
    head[entry.nextHeaderField] = entry.nextHeader;
    if (pkt[0] >> 4 === 4) {
      head.writeUInt16BE(head.length + body.length, 2);
      head.writeUInt16BE(head.readUInt16BE(6) & 0x4000 /* keep DF */, 6);
      head.writeUInt16BE(0, 10);
      head.writeUInt16BE(internetChecksum(head), 10);
    } else {
      head.writeUInt16BE(head.length - 40 + body.length, 4);
    }
    this.completed++;
    return ok(Buffer.concat([head, body]));
  }
}

function fragmentFacts(
  pkt: Buffer,
  p: ParsedIp,
): Result<{ key: string; offset: number; more: boolean; data: Buffer; head: Buffer; nextHeaderField: number; nextHeader: number }> {
  if (p.family === 4) {
    const h = p.header;
    return ok({
      key: `4/${h.src.toString('hex')}/${h.dst.toString('hex')}/${h.protocol}/${h.identification}`,
      offset: h.fragmentOffset * 8,
      more: (h.flags & IPV4_FLAG_MF) !== 0,
      data: pkt.subarray(p.headerLength, p.totalLength),
      head: pkt.subarray(0, p.headerLength),
      nextHeaderField: 9,
      nextHeader: h.protocol,
    });
  }
  const fr = p.fragment;
  if (!fr) return drop('bad-ext-header', 'no fragment header');
  // the header before the Fragment header names it; the unfragmentable part is everything before it
  const idx = p.extHeaders.findIndex((e) => e.type === IPPROTO.FRAGMENT);
  const nextHeaderField = idx === 0 ? 6 : p.extHeaders[idx - 1].offset;
  const fragEnd = fr.headerOffset + 8;
  return ok({
    key: `6/${p.header.src.toString('hex')}/${p.header.dst.toString('hex')}/${fr.identification}`,
    offset: fr.offset,
    more: fr.more,
    data: pkt.subarray(fragEnd, p.totalLength),
    head: pkt.subarray(0, fr.headerOffset),
    nextHeaderField,
    nextHeader: pkt[fr.headerOffset],
  });
}
