/**
 * AH (RFC 4302) output and input for one SA: transport and tunnel mode, IPv4
 * and IPv6, 32-bit and extended sequence numbers, anti-replay, ICV over the
 * packet with the mutable fields zeroed and the predictable ones set to the
 * values the receiver will see (§3.3.3.1), incl. the Mobile IPv6 type 2
 * routing header and Home Address option (RFC 6275 §6.3, §6.4).
 */
import { timingSafeEqual } from 'node:crypto';
import {
  ExtHeader,
  IPPROTO,
  IPV4_HEADER,
  OPT_HOME_ADDRESS,
  OPT_MAY_CHANGE,
  ParsedIp,
  getTos,
  parseIp,
  parseOptions,
  refreshIpv4Checksum,
  IPV6_ROUTING_HEADER,
  ROUTING_TYPE_0,
  ROUTING_TYPE_2,
} from './ip';
import { Drop, DropCounters, Result, drop, newDropCounters, ok } from './result';
import { ReplayWindow, SeqNum, SequenceCounter } from './replay';
import { CryptoProvider, MacCtx, UsageCallback, XformSa } from './sa';
import { applyDecapTos, buildOuterHeader, innerProtocol, joinTransport, splitForTransport } from './frame';
import { ahHeaderBytes } from './mtu';
import { StructSpec, decodeStruct, encodeStruct } from './struct';

type AhField = 'nextHeader' | 'payloadLen' | 'reserved' | 'spi' | 'sequenceNumber';
/** RFC 4302 §2: the fixed 12 bytes of AH; the ICV follows. */
export const AH_HEADER: StructSpec<AhField> = {
  name: 'AH header',
  size: 12,
  fields: [
    { name: 'nextHeader', kind: 'uint', offset: 0, bytes: 1 },
    { name: 'payloadLen', kind: 'uint', offset: 1, bytes: 1 }, // AH length in 32-bit words, minus 2 (§2.2)
    { name: 'reserved', kind: 'uint', offset: 2, bytes: 2 },
    { name: 'spi', kind: 'uint', offset: 4, bytes: 4 },
    { name: 'sequenceNumber', kind: 'uint', offset: 8, bytes: 4 },
  ],
};

/**
 * RFC 4302 Appendix A1: IPv4 options that are immutable and so included in
 * the ICV; every other option is zeroed whole.
 */
const IPV4_IMMUTABLE_OPTIONS = new Set([0 /* EOL */, 1 /* NOP */, 130 /* Security */, 133 /* Extended Security */, 134 /* Commercial Security */, 148 /* Router Alert */, 149 /* Sender Directed */]);
const IPOPT_LSRR = 131;
const IPOPT_SSRR = 137;

export interface AhCounters {
  outPackets: number;
  outBytes: number;
  inPackets: number;
  inBytes: number;
  drops: DropCounters;
  ecnAlarms: number;
}

/**
 * A copy of `pkt` (which holds an AH header at `ahOffset`) as the ICV is
 * computed over it: mutable fields zeroed, predictable fields at their
 * values on arrival, the AH ICV field zeroed.
 */
export function ahIcvView(pkt: Buffer, p: ParsedIp, ahOffset: number, icvFieldBytes: number): Result<Buffer> {
  const v = Buffer.from(pkt.subarray(0, p.totalLength));
  v.fill(0, ahOffset + 12, ahOffset + 12 + icvFieldBytes);
  if (p.family === 4) {
    // RFC 4302 §3.3.3.1.1.1: TOS, flags, fragment offset, TTL, checksum are mutable
    v[1] = 0;
    v[6] = 0;
    v[7] = 0;
    v[8] = 0;
    v[10] = 0;
    v[11] = 0;
    let at = IPV4_HEADER.size;
    const end = p.headerLength;
    while (at < end) {
      const type = v[at];
      if (type === 0) break; // EOL: the rest is padding, already zero-or-immutable
      if (type === 1) {
        at++;
        continue;
      }
      if (at + 1 >= end) return drop('bad-ip-header', 'IPv4 option length missing', at);
      const len = v[at + 1];
      if (len < 2 || at + len > end) return drop('bad-ip-header', `IPv4 option ${type} length ${len}`, at + 1);
      if (!IPV4_IMMUTABLE_OPTIONS.has(type)) {
        if ((type === IPOPT_LSRR || type === IPOPT_SSRR) && len >= 7) {
          // the destination the receiver sees is the last address of the source route
          pkt.copy(v, 16, at + len - 4, at + len);
        }
        v.fill(0, at, at + len);
      }
      at += len;
    }
    return ok(v);
  }
  // IPv6 §3.3.3.1.2: traffic class, flow label, hop limit mutable
  v[0] &= 0xf0;
  v[1] = 0;
  v[2] = 0;
  v[3] = 0;
  v[7] = 0;
  for (const e of p.extHeaders) {
    if (e.offset >= ahOffset) break;
    if (e.type === IPPROTO.HOPOPTS || e.type === IPPROTO.DSTOPTS) {
      const opts = parseOptions(v, e);
      if (!opts.ok) return opts;
      for (const o of opts.value) {
        if (o.type === 0) continue;
        if (o.type & OPT_MAY_CHANGE) v.fill(0, o.offset + 2, o.offset + 2 + o.dataLength);
        else if (o.type === OPT_HOME_ADDRESS && e.type === IPPROTO.DSTOPTS && o.dataLength === 16) {
          // RFC 6275 §6.3 / §9.3.1: the receiver swaps the Home Address into the source before AH
          const hoa = Buffer.from(v.subarray(o.offset + 2, o.offset + 18));
          v.copy(v, o.offset + 2, 8, 24);
          hoa.copy(v, 8);
        }
      }
    } else if (e.type === IPPROTO.ROUTING) {
      const r = routingAsReceived(v, e);
      if (!r.ok) return r;
    }
  }
  return ok(v);
}

/**
 * RFC 4302 §3.3.3.1.2 / RFC 6275 §6.4: a type 0 or type 2 routing header and
 * the destination address as they will be at the final destination
 * (Segments Left 0, the final address in the IPv6 destination).
 */
function routingAsReceived(v: Buffer, e: ExtHeader): Result<void> {
  const rh = decodeStruct(IPV6_ROUTING_HEADER, v, e.offset);
  if (!rh) return drop('truncated', 'routing header', e.offset);
  const type = rh.routingType as number;
  const segmentsLeft = rh.segmentsLeft as number;
  if (type !== ROUTING_TYPE_0 && type !== ROUTING_TYPE_2) {
    // other types: only Segments Left is known to change; leave the rest
    return segmentsLeft === 0 ? ok(undefined) : drop('unsupported', `AH over routing header type ${type} with segments left`, e.offset);
  }
  const n = (e.length - 8) / 16;
  if (!Number.isInteger(n) || n < 1) return drop('bad-ext-header', 'routing header address list', e.offset);
  if (type === ROUTING_TYPE_2 && n !== 1) return drop('bad-ext-header', 'type 2 routing header carries one address (RFC 6275 §6.4)', e.offset);
  if (segmentsLeft > n) return drop('bad-ext-header', `segments left ${segmentsLeft} > ${n} addresses`, e.offset + 3);
  if (segmentsLeft === 0) return ok(undefined);
  // addresses as the receiver sees them: the path so far shifted in, the final one in the IPv6 destination
  const addrs: Buffer[] = [];
  for (let i = 0; i < n; i++) addrs.push(Buffer.from(v.subarray(e.offset + 8 + 16 * i, e.offset + 24 + 16 * i)));
  const first = n - segmentsLeft;
  const path = [Buffer.from(v.subarray(24, 40)), ...addrs.slice(first, n)];
  const finalDst = path[path.length - 1];
  const received = [...addrs.slice(0, first), ...path.slice(0, path.length - 1)];
  received.forEach((a, i) => a.copy(v, e.offset + 8 + 16 * i));
  finalDst.copy(v, 24);
  v[e.offset + 3] = 0;
  return ok(undefined);
}

function be32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export class AhSa {
  readonly counters: AhCounters = { outPackets: 0, outBytes: 0, inPackets: 0, inBytes: 0, drops: newDropCounters(), ecnAlarms: 0 };
  readonly seq: SequenceCounter;
  readonly replay: ReplayWindow;
  private readonly mac: MacCtx;

  constructor(
    readonly sa: XformSa,
    provider: CryptoProvider,
    private readonly onUsage?: UsageCallback,
  ) {
    if (sa.proto !== 'ah' || !sa.integ) throw new Error('AhSa needs an AH SA with an integrity algorithm');
    this.mac = provider.createMac(sa.integ, sa.integKey ?? Buffer.alloc(0));
    this.seq = new SequenceCounter(sa.esn);
    this.replay = new ReplayWindow(sa.replayWindow, sa.esn);
  }

  /** Total AH length for a packet of this family (12 + ICV, padded per RFC 4302 §2.6). */
  headerBytes(family: 4 | 6): number {
    return ahHeaderBytes(this.mac.icvBytes, family);
  }

  private countDrop(d: Drop): Drop {
    this.counters.drops[d.reason]++;
    return d;
  }

  output(pkt: Buffer, opts: { seq?: SeqNum; outerIdentification?: number } = {}): Result<Buffer> {
    const parsedR = parseIp(pkt);
    if (!parsedR.ok) return this.countDrop(parsedR);
    let seq: SeqNum;
    if (opts.seq) seq = opts.seq;
    else {
      const n = this.seq.next();
      if (!n.ok) return this.countDrop(n);
      seq = n.value;
    }
    const sa = this.sa;
    let built: Buffer;
    let payloadLength: number;
    const family = sa.mode === 'tunnel' ? (sa.src.length === 4 ? 4 : 6) : parsedR.value.family;
    const ahLen = this.headerBytes(family);
    const ah = (nextHeader: number): Buffer => {
      const h = Buffer.alloc(ahLen);
      encodeStruct(AH_HEADER, { nextHeader, payloadLen: ahLen / 4 - 2, reserved: 0, spi: sa.spi, sequenceNumber: seq.lo }).copy(h);
      return h;
    };
    let ahOffset: number;
    if (sa.mode === 'tunnel') {
      const inner = pkt.subarray(0, parsedR.value.totalLength);
      const outer = buildOuterHeader(sa.src, sa.dst, inner, IPPROTO.AH, ahLen + inner.length, sa.tunnel, opts.outerIdentification);
      ahOffset = outer.length;
      built = Buffer.concat([outer, ah(innerProtocol(inner)), inner]);
      payloadLength = inner.length;
    } else {
      // RFC 4301 §7: transport-mode SAs carry whole datagrams, never fragments
      if (parsedR.value.isFragment) return this.countDrop(drop('unsupported', 'transport-mode AH over a fragment (RFC 4301 §7)'));
      const split = splitForTransport(pkt, parsedR.value);
      ahOffset = split.prefix.length;
      built = joinTransport(split.prefix, split.nextHeaderFieldOffset, IPPROTO.AH, [ah(split.nextHeader), split.payload]);
      payloadLength = split.payload.length;
    }
    const p = parseIp(built);
    if (!p.ok) return this.countDrop(p);
    const view = ahIcvView(built, p.value, ahOffset, ahLen - 12);
    if (!view.ok) return this.countDrop(view);
    const icv = sa.esn ? this.mac.compute(view.value, be32(seq.hi)) : this.mac.compute(view.value);
    icv.copy(built, ahOffset + 12);
    this.counters.outPackets++;
    this.counters.outBytes += payloadLength;
    this.onUsage?.(sa.spi, payloadLength, 1);
    return ok(built);
  }

  input(pkt: Buffer): Result<{ packet: Buffer; seq: SeqNum; nextHeader: number; ecnAlarm: boolean }> {
    const r = this.inputInner(pkt);
    if (!r.ok) this.counters.drops[r.reason]++;
    return r;
  }

  private inputInner(pkt: Buffer): Result<{ packet: Buffer; seq: SeqNum; nextHeader: number; ecnAlarm: boolean }> {
    const pr = parseIp(pkt);
    if (!pr.ok) return pr;
    const p = pr.value;
    if (p.isFragment) return drop('unsupported', 'fragments must be reassembled before AH input (see frag.ts)');
    let ahOffset: number;
    let nhField: number;
    if (p.family === 4) {
      if (p.protocol !== IPPROTO.AH) return drop('wrong-protocol', `protocol ${p.protocol} is not AH`, 9);
      ahOffset = p.headerLength;
      nhField = 9;
    } else {
      const idx = p.extHeaders.findIndex((e) => e.type === IPPROTO.AH);
      if (idx < 0) return drop('wrong-protocol', 'no AH header in the IPv6 header chain', p.protocolFieldOffset);
      ahOffset = p.extHeaders[idx].offset;
      nhField = idx === 0 ? 6 : p.extHeaders[idx - 1].offset;
    }
    const h = decodeStruct(AH_HEADER, pkt, ahOffset);
    if (!h || ahOffset + 12 > p.totalLength) return drop('truncated', 'AH header', ahOffset);
    const ahLen = ((h.payloadLen as number) + 2) * 4;
    const family = p.family;
    if (ahLen !== this.headerBytes(family)) return drop('bad-payload-length', `AH length ${ahLen}, SA expects ${this.headerBytes(family)}`, ahOffset + 1);
    if (ahOffset + ahLen > p.totalLength) return drop('truncated', 'AH ICV', ahOffset + 12);
    const spi = h.spi as number;
    if (spi !== this.sa.spi) return drop('no-sa', `SPI 0x${spi.toString(16)} is not this SA's 0x${this.sa.spi.toString(16)}`, ahOffset + 4);
    const seqR = this.replay.check(h.sequenceNumber as number);
    if (!seqR.ok) return { ...seqR, offset: ahOffset + 8 };
    const seq = seqR.value;
    const view = ahIcvView(pkt, p, ahOffset, ahLen - 12);
    if (!view.ok) return view;
    const want = this.sa.esn ? this.mac.compute(view.value, be32(seq.hi)) : this.mac.compute(view.value);
    const got = pkt.subarray(ahOffset + 12, ahOffset + 12 + want.length);
    if (!timingSafeEqual(want, got)) return drop('icv-mismatch', 'AH ICV', ahOffset + 12);
    const nextHeader = h.nextHeader as number;
    const payload = pkt.subarray(ahOffset + ahLen, p.totalLength);
    if (this.sa.mode === 'tunnel') {
      if (nextHeader !== IPPROTO.IPIP && nextHeader !== IPPROTO.IPV6) return drop('bad-inner-packet', `tunnel SA got next header ${nextHeader}`);
      const ir = parseIp(payload);
      if (!ir.ok) return drop('bad-inner-packet', `inner packet: ${ir.detail}`);
      const inner = Buffer.from(payload.subarray(0, ir.value.totalLength));
      const tos = applyDecapTos(inner, getTos(pkt), this.sa.tunnel);
      if (!tos.ok) return tos;
      if (tos.value.alarm) this.counters.ecnAlarms++;
      this.commit(seq, inner.length);
      return ok({ packet: inner, seq, nextHeader, ecnAlarm: tos.value.alarm });
    }
    const prefix = Buffer.from(pkt.subarray(0, ahOffset));
    const out = joinTransport(prefix, nhField, nextHeader, [payload]);
    if (family === 4) refreshIpv4Checksum(out);
    this.commit(seq, payload.length);
    return ok({ packet: out, seq, nextHeader, ecnAlarm: false });
  }

  private commit(seq: SeqNum, bytes: number): void {
    this.replay.update(seq);
    this.counters.inPackets++;
    this.counters.inBytes += bytes;
    this.onUsage?.(this.sa.spi, bytes, 1);
  }
}

