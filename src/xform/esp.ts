/**
 * ESP (RFC 4303) output and input for one SA: transport and tunnel mode,
 * IPv4 and IPv6, 32-bit and extended sequence numbers, AEAD (RFC 4106 /
 * 4309 / 7634, GMAC per RFC 4543) and cipher+MAC, padding and TFC padding,
 * anti-replay, ICV verified before decryption, UDP encapsulation (RFC 3948).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { IPPROTO, ParsedIp, encodeIpv4Header, encodeIpv6Header, internetChecksum, ipFacts, parseIp, upperLayerChecksum, checksumFieldOffset } from './ip';
import { Result, drop, ok, DropCounters, newDropCounters, Drop } from './result';
import { ReplayWindow, SeqNum, SequenceCounter } from './replay';
import { AeadCtx, CipherCtx, CryptoProvider, EspAeadBatchCtx, MacCtx, UsageCallback, XformSa } from './sa';
import { applyDecapTos, joinTransport, nextIpv4Identification, splitForTransport, writeOuterHeader } from './frame';
import { UDP_ENCAP_HEADER_BYTES, buildUdpEncapHeader, fillUdpChecksum, natOaChecksumFixup } from './udpencap';
import { clampMss } from './mtu';

/** RFC 4303 §2: SPI (4) + Sequence Number (4). */
export const ESP_HEADER_BYTES = 8;
/** RFC 4303 §2.4: Pad Length (1) + Next Header (1). */
export const ESP_TRAILER_BYTES = 2;
const EMPTY = Buffer.alloc(0);

export interface EspCounters {
  outPackets: number;
  outBytes: number;
  inPackets: number;
  inBytes: number;
  drops: DropCounters;
  /** RFC 6040 Figure 4 "(!!!)" combinations seen (forwarded but worth logging). */
  ecnAlarms: number;
}

export interface EspOutputOptions {
  /** Explicit IV (published vectors); otherwise random (CBC) or the sequence number (counter modes/AEAD). */
  iv?: Buffer;
  /** RFC 4303 §2.7 TFC padding bytes to append after the inner packet (tunnel mode). */
  tfcPadding?: number;
  /** Use this sequence number instead of the SA's counter (vectors only). */
  seq?: SeqNum;
  /** Explicit padding bytes (vectors only); must bring the payload to the alignment. */
  padding?: Buffer;
  /** IPv4 Identification of the outer header (vectors only); otherwise a running counter. */
  outerIdentification?: number;
}

interface SealJob {
  seq: SeqNum;
  head: Buffer;
  iv: Buffer;
  pt: Buffer;
  aad: Buffer;
  payloadLength: number;
}

/** Result of removing ESP: the inner/plain packet and facts about it. */
export interface EspInput {
  packet: Buffer;
  seq: SeqNum;
  nextHeader: number;
  ecnAlarm: boolean;
}

type Prepared =
  | { kind: 'aead'; aead: AeadCtx; ivBytes: number; align: number; icvBytes: number }
  | { kind: 'cipher'; cipher: CipherCtx | null; mac: MacCtx | null; ivBytes: number; align: number; icvBytes: number };

/** Build the crypto contexts of an SA once (keys are scheduled here, not per packet). */
export function prepareEspCrypto(sa: XformSa, provider: CryptoProvider): Prepared {
  const encr = sa.encr;
  if (!encr) throw new Error(`ESP SA ${sa.spi.toString(16)} has no encryption algorithm (use ENCR_NULL for none)`);
  const key = sa.encrKey ?? Buffer.alloc(0);
  if (encr.aead) {
    const aead = provider.createAead(encr, key);
    // RFC 4106 §3.2 / RFC 4309 §3.2 / RFC 7634 §3 / RFC 4543: 4-byte alignment (blockBytes is 1).
    // ENCR_NULL_AUTH_AES_GMAC (RFC 4543) is an AEAD here too: src/crypto's seal returns
    // payload || ICV with aad || iv || payload authenticated, so ESP treats it like GCM.
    return { kind: 'aead', aead, ivBytes: encr.ivBytes, align: Math.max(4, encr.blockBytes), icvBytes: aead.icvBytes };
  }
  const cipher = encr.mode === 'null' ? null : provider.createCipher(encr, key);
  const mac = sa.integ && sa.integ.icvBytes > 0 ? provider.createMac(sa.integ, sa.integKey ?? Buffer.alloc(0)) : null;
  const blockBytes = cipher ? cipher.blockBytes : 1;
  return {
    kind: 'cipher',
    cipher,
    mac,
    ivBytes: cipher ? cipher.ivBytes : 0,
    align: Math.max(4, blockBytes), // RFC 4303 §2.4
    icvBytes: mac ? mac.icvBytes : 0,
  };
}

function be32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export class EspSa {
  readonly counters: EspCounters = {
    outPackets: 0,
    outBytes: 0,
    inPackets: 0,
    inBytes: 0,
    drops: newDropCounters(),
    ecnAlarms: 0,
  };
  readonly seq: SequenceCounter;
  readonly replay: ReplayWindow;
  private readonly crypto: Prepared;
  private readonly spiBytes: Buffer;
  /**
   * Whole-packet AEAD engine (src/crypto's libcrypto fast path), used for tunnel-mode packets
   * with the default RFC 4303 §2.4 padding and no TFC padding or MSS clamping; null otherwise.
   */
  private readonly engine: EspAeadBatchCtx | null;

  constructor(
    readonly sa: XformSa,
    provider: CryptoProvider,
    private readonly onUsage?: UsageCallback,
    private readonly rng: (n: number) => Buffer = randomBytes,
  ) {
    if (sa.proto !== 'esp') throw new Error('EspSa needs an ESP SA');
    if (sa.natt && sa.spi === 0) throw new Error('SPI 0 cannot be UDP-encapsulated (RFC 3948 §2.2 non-ESP marker)');
    this.crypto = prepareEspCrypto(sa, provider);
    this.seq = new SequenceCounter(sa.esn);
    this.replay = new ReplayWindow(sa.replayWindow, sa.esn);
    this.spiBytes = be32(sa.spi);
    const c = this.crypto;
    this.engine =
      c.kind === 'aead' && c.aead.espBatch && c.ivBytes === 8 && sa.mode === 'tunnel' && sa.padding === 'sequential' && sa.tunnel.mssClamp === 0
        ? c.aead.espBatch(sa.spi, sa.esn)
        : null;
  }

  /** Whether packets of this SA take the whole-packet libcrypto path (diagnostics, benchmarks). */
  get batched(): boolean {
    return this.engine !== null;
  }

  /** Bytes of ESP header + IV, and of ICV, for overhead computations. */
  get headerBytes(): number {
    return ESP_HEADER_BYTES + this.crypto.ivBytes;
  }
  get icvBytes(): number {
    return this.crypto.icvBytes;
  }
  get padAlign(): number {
    return this.crypto.align;
  }

  private countDrop(d: Drop): Drop {
    this.counters.drops[d.reason]++;
    return d;
  }

  // -------------------------------------------------------------------------
  // Output

  /** Protect one IP packet; returns the packet to send (outer IP [+ UDP] + ESP). */
  output(pkt: Buffer, opts: EspOutputOptions = {}): Result<Buffer> {
    if (this.engine && opts.iv === undefined && opts.seq === undefined && opts.padding === undefined && !opts.tfcPadding && opts.outerIdentification === undefined)
      return this.outputEngine([pkt], this.engine)[0]!;
    const sa = this.sa;
    const proto = sa.natt ? IPPROTO.UDP : IPPROTO.ESP;
    if (sa.mode === 'tunnel') {
      const f = ipFacts(pkt);
      if (!f.ok) return this.countDrop(f);
      let inner = pkt.subarray(0, f.value.totalLength);
      if (sa.tunnel.mssClamp > 0) inner = clampMss(Buffer.from(inner), sa.tunnel.mssClamp);
      const outerLen = sa.src.length === 4 ? 20 : 40;
      const udpLen = sa.natt ? UDP_ENCAP_HEADER_BYTES : 0;
      // one allocation: room for the outer header and UDP header in front of ESP
      const esp = this.seal(inner, f.value.family === 4 ? IPPROTO.IPIP : IPPROTO.IPV6, opts, outerLen + udpLen);
      if (!esp.ok) return this.countDrop(esp);
      const out = esp.value;
      const bodyLength = out.length - outerLen;
      const id = opts.outerIdentification ?? nextIpv4Identification();
      writeOuterHeader(out, sa.src, sa.dst, f.value.tos, f.value.df, proto, bodyLength, sa.tunnel, id);
      if (sa.natt) buildUdpEncapHeader(sa.natt.sport, sa.natt.dport, bodyLength - udpLen).copy(out, outerLen);
      return ok(this.finishUdp(out));
    }
    const parsed = parseIp(pkt);
    if (!parsed.ok) return this.countDrop(parsed);
    // RFC 4301 §7: transport-mode SAs carry whole datagrams, never fragments
    if (parsed.value.isFragment) return this.countDrop(drop('unsupported', 'transport-mode ESP over a fragment (RFC 4301 §7)'));
    const split = splitForTransport(pkt, parsed.value);
    const esp = this.seal(split.payload, split.nextHeader, opts);
    if (!esp.ok) return this.countDrop(esp);
    const body = sa.natt ? [buildUdpEncapHeader(sa.natt.sport, sa.natt.dport, esp.value.length), esp.value] : [esp.value];
    return ok(this.finishUdp(joinTransport(split.prefix, split.nextHeaderFieldOffset, proto, body)));
  }

  /** UDP over IPv6 needs its checksum (RFC 8200 §8.1); over IPv4 ESP-in-UDP sends 0 (RFC 3948 §2.1). */
  private finishUdp(pkt: Buffer): Buffer {
    if (this.sa.natt && pkt[0] >> 4 === 6) {
      const p = parseIp(pkt);
      if (p.ok) fillUdpChecksum(pkt, p.value);
    }
    return pkt;
  }

  /**
   * Build the ESP packet SPI..ICV around `payload` (RFC 4303 §3.3), preceded
   * by `front` unwritten bytes for the caller's headers. Counts the payload
   * against the SA's usage.
   */
  seal(payload: Buffer, nextHeader: number, opts: EspOutputOptions = {}, front = 0): Result<Buffer> {
    const jr = this.prepareSeal(payload, nextHeader, opts);
    if (!jr.ok) return jr;
    const j = jr.value;
    const c = this.crypto;
    if (c.kind === 'aead') return ok(this.finishSeal(j, c.aead.seal(j.iv, j.aad, j.pt), null, front)); // ciphertext || ICV
    const body = c.cipher ? c.cipher.encrypt(j.iv, j.pt) : j.pt;
    // RFC 4303 §2.2.1 / §3.3.2.1: with ESN the high 32 bits follow the payload in the ICV input
    const icv = c.mac ? (this.sa.esn ? c.mac.compute(j.head, j.iv, body, be32(j.seq.hi)) : c.mac.compute(j.head, j.iv, body)) : null;
    return ok(this.finishSeal(j, body, icv, front));
  }

  /** Sequence number, ESP header, IV, padded plaintext and AAD of one packet (RFC 4303 §3.3.1-§3.3.3). */
  private prepareSeal(payload: Buffer, nextHeader: number, opts: EspOutputOptions): Result<SealJob> {
    const c = this.crypto;
    let seq: SeqNum;
    if (opts.seq) seq = opts.seq;
    else {
      const n = this.seq.next();
      if (!n.ok) return n;
      seq = n.value;
    }
    const tfc = opts.tfcPadding ?? 0;
    const unpadded = payload.length + tfc + ESP_TRAILER_BYTES;
    const padLen = opts.padding ? opts.padding.length : (c.align - (unpadded % c.align)) % c.align;
    if (padLen > 255) return drop('unsupported', 'padding longer than 255 bytes');
    const ptLen = unpadded + padLen;
    const pt = Buffer.allocUnsafe(ptLen);
    payload.copy(pt, 0);
    let at = payload.length;
    if (tfc > 0) {
      pt.fill(0, at, at + tfc);
      at += tfc;
    }
    if (opts.padding) opts.padding.copy(pt, at);
    else this.fillPadding(pt, at, padLen);
    at += padLen;
    pt[at] = padLen;
    pt[at + 1] = nextHeader;

    const head = Buffer.allocUnsafe(ESP_HEADER_BYTES);
    this.spiBytes.copy(head, 0);
    head.writeUInt32BE(seq.lo, 4);
    let iv: Buffer;
    if (opts.iv) iv = opts.iv;
    else if (c.kind === 'aead') {
      // RFC 4106 §3.1 etc.: the IV must not repeat for a key; the 64-bit sequence number never does
      iv = Buffer.allocUnsafe(8);
      iv.writeUInt32BE(seq.hi, 0);
      iv.writeUInt32BE(seq.lo, 4);
    } else iv = c.ivBytes > 0 ? this.rng(c.ivBytes) : EMPTY;
    // RFC 4106 §5: AAD is SPI || SN, or SPI || ESN high || ESN low
    const aad = this.sa.esn ? Buffer.concat([this.spiBytes, be32(seq.hi), be32(seq.lo)]) : head;
    return ok({ seq, head, iv, pt, aad, payloadLength: payload.length });
  }

  private finishSeal(j: SealJob, body: Buffer, icv: Buffer | null, front: number): Buffer {
    const out = Buffer.allocUnsafe(front + ESP_HEADER_BYTES + j.iv.length + body.length + (icv ? icv.length : 0));
    let at = front;
    j.head.copy(out, at);
    at += ESP_HEADER_BYTES;
    j.iv.copy(out, at);
    at += j.iv.length;
    body.copy(out, at);
    at += body.length;
    if (icv) icv.copy(out, at);
    this.counters.outPackets++;
    this.counters.outBytes += j.payloadLength;
    this.onUsage?.(this.sa.spi, j.payloadLength, 1);
    return out;
  }

  /**
   * Protect many packets. With a tunnel-mode AEAD SA whose AEAD can seal in
   * batches (src/crypto's libcrypto fast path), one native call handles the
   * whole batch; otherwise this is output() per packet. Results are in order.
   */
  outputBatch(pkts: readonly Buffer[]): Result<Buffer>[] {
    if (this.engine) return this.outputEngine(pkts, this.engine);
    const c = this.crypto;
    const sa = this.sa;
    if (c.kind !== 'aead' || !c.aead.sealBatch || sa.mode !== 'tunnel' || sa.tunnel.mssClamp > 0) return pkts.map((p) => this.output(p));
    const sealBatch = c.aead.sealBatch.bind(c.aead);
    const outerLen = sa.src.length === 4 ? 20 : 40;
    const udpLen = sa.natt ? UDP_ENCAP_HEADER_BYTES : 0;
    const proto = sa.natt ? IPPROTO.UDP : IPPROTO.ESP;
    const results: Result<Buffer>[] = new Array<Result<Buffer>>(pkts.length);
    const jobs: { index: number; job: SealJob; tos: number; df: boolean }[] = [];
    pkts.forEach((pkt, index) => {
      const f = ipFacts(pkt);
      if (!f.ok) {
        results[index] = this.countDrop(f);
        return;
      }
      const inner = pkt.subarray(0, f.value.totalLength);
      const j = this.prepareSeal(inner, f.value.family === 4 ? IPPROTO.IPIP : IPPROTO.IPV6, {});
      if (!j.ok) {
        results[index] = this.countDrop(j);
        return;
      }
      jobs.push({ index, job: j.value, tos: f.value.tos, df: f.value.df });
    });
    const bodies = sealBatch(jobs.map(({ job }) => ({ iv: job.iv, aad: job.aad, data: job.pt })));
    jobs.forEach(({ index, job, tos, df }, k) => {
      const out = this.finishSeal(job, bodies[k], null, outerLen + udpLen);
      const bodyLength = out.length - outerLen;
      writeOuterHeader(out, sa.src, sa.dst, tos, df, proto, bodyLength, sa.tunnel, nextIpv4Identification());
      if (sa.natt) buildUdpEncapHeader(sa.natt.sport, sa.natt.dport, bodyLength - udpLen).copy(out, outerLen);
      results[index] = ok(this.finishUdp(out));
    });
    return results;
  }

  /** Tunnel-mode output through the whole-packet engine: one copy in, one native call, one copy out per batch. */
  private outputEngine(pkts: readonly Buffer[], engine: EspAeadBatchCtx): Result<Buffer>[] {
    const sa = this.sa;
    const align = this.crypto.align;
    const outerLen = sa.src.length === 4 ? 20 : 40;
    const udpLen = sa.natt ? UDP_ENCAP_HEADER_BYTES : 0;
    const proto = sa.natt ? IPPROTO.UDP : IPPROTO.ESP;
    const results: Result<Buffer>[] = new Array<Result<Buffer>>(pkts.length);
    const items: { payload: Buffer; padLen: number; nextHeader: number; seqHi: number; seqLo: number }[] = [];
    const meta: { index: number; tos: number; df: boolean }[] = [];
    for (let index = 0; index < pkts.length; index++) {
      const pkt = pkts[index]!;
      const f = ipFacts(pkt);
      if (!f.ok) {
        results[index] = this.countDrop(f);
        continue;
      }
      const n = this.seq.next();
      if (!n.ok) {
        results[index] = this.countDrop(n);
        continue;
      }
      const total = f.value.totalLength;
      // RFC 4303 §2.4: payload || padding || pad length || next header, a multiple of the alignment
      const padLen = (align - ((total + ESP_TRAILER_BYTES) % align)) % align;
      items.push({ payload: total === pkt.length ? pkt : pkt.subarray(0, total), padLen, nextHeader: f.value.family === 4 ? IPPROTO.IPIP : IPPROTO.IPV6, seqHi: n.value.hi, seqLo: n.value.lo });
      meta.push({ index, tos: f.value.tos, df: f.value.df });
    }
    if (items.length === 0) return results;
    const outs = engine.seal(items, outerLen + udpLen);
    for (let k = 0; k < outs.length; k++) {
      const out = outs[k]!;
      const m = meta[k]!;
      const bodyLength = out.length - outerLen;
      writeOuterHeader(out, sa.src, sa.dst, m.tos, m.df, proto, bodyLength, sa.tunnel, nextIpv4Identification());
      if (sa.natt) {
        // RFC 3948 §2.1: UDP header, checksum 0 over IPv4 (finishUdp fills it for IPv6)
        out.writeUInt16BE(sa.natt.sport, outerLen);
        out.writeUInt16BE(sa.natt.dport, outerLen + 2);
        out.writeUInt16BE(bodyLength, outerLen + 4);
        out.writeUInt16BE(0, outerLen + 6);
      }
      const payloadLength = items[k]!.payload.length;
      this.counters.outPackets++;
      this.counters.outBytes += payloadLength;
      this.onUsage?.(sa.spi, payloadLength, 1);
      results[m.index] = ok(sa.natt && outerLen === 40 ? this.finishUdp(out) : out);
    }
    return results;
  }

  private fillPadding(pt: Buffer, at: number, n: number): void {
    switch (this.sa.padding) {
      case 'sequential': // RFC 4303 §2.4 default: 1, 2, 3, ...
        for (let i = 0; i < n; i++) pt[at + i] = i + 1;
        return;
      case 'zero':
        pt.fill(0, at, at + n);
        return;
      case 'random':
        this.rng(n).copy(pt, at);
        return;
    }
  }

  // -------------------------------------------------------------------------
  // Input

  /**
   * Process one received IP packet carrying ESP (or ESP-in-UDP when the SA is
   * UDP-encapsulated). Returns the decapsulated packet: the inner packet in
   * tunnel mode, the rebuilt packet in transport mode.
   */
  input(pkt: Buffer): Result<EspInput> {
    if (this.engine) return this.inputEngine([pkt], this.engine)[0]!;
    const r = this.inputInner(pkt);
    if (!r.ok) this.counters.drops[r.reason]++;
    return r;
  }

  private inputInner(pkt: Buffer): Result<EspInput> {
    const l = this.locate(pkt);
    if (!l.ok) return l;
    return this.decapsulate(l.value.esp, l.value.base, l.value.tos, l.value.prefix, l.value.nhField);
  }

  /** Find the ESP bytes in a received IP packet (after the IPv6 extension headers and the RFC 3948 UDP header). */
  private locate(pkt: Buffer): Result<Located> {
    const fr = ipFacts(pkt);
    if (!fr.ok) return fr;
    const f = fr.value;
    if (f.isFragment) return drop('unsupported', 'fragments must be reassembled before ESP input (see frag.ts)');
    let protocol: number;
    let payloadOffset: number;
    let nhField: number;
    if (f.family === 4) {
      if (internetChecksum(pkt.subarray(0, f.headerLength)) !== 0) return drop('bad-ip-header', 'IPv4 header checksum', 10);
      protocol = pkt[9];
      payloadOffset = f.headerLength;
      nhField = 9;
    } else if (pkt[6] === IPPROTO.ESP || pkt[6] === IPPROTO.UDP) {
      protocol = pkt[6];
      payloadOffset = 40;
      nhField = 6;
    } else {
      const parsedR = parseIp(pkt); // walk the extension headers to ESP
      if (!parsedR.ok) return parsedR;
      if (parsedR.value.isFragment) return drop('unsupported', 'fragments must be reassembled before ESP input (see frag.ts)');
      protocol = parsedR.value.protocol;
      payloadOffset = parsedR.value.payloadOffset;
      nhField = parsedR.value.family === 6 ? parsedR.value.protocolFieldOffset : 9;
    }
    let espOffset = payloadOffset;
    if (protocol === IPPROTO.UDP) {
      if (!this.sa.natt) return drop('wrong-protocol', 'UDP packet for an SA without UDP encapsulation', espOffset);
      espOffset += UDP_ENCAP_HEADER_BYTES;
    } else if (protocol !== IPPROTO.ESP) {
      return drop('wrong-protocol', `protocol ${protocol} is not ESP`, nhField);
    }
    if (espOffset > f.totalLength) return drop('truncated', 'UDP header', payloadOffset);
    // transport mode puts the payload back behind the original headers
    const prefix = this.sa.mode === 'transport' ? Buffer.from(pkt.subarray(0, payloadOffset)) : EMPTY;
    return ok({ esp: pkt.subarray(espOffset, f.totalLength), base: espOffset, tos: f.tos, prefix, nhField });
  }

  /**
   * Input of ESP bytes (SPI..ICV) delivered without their IP header, as a UDP
   * socket on port 4500 delivers them (RFC 3948). `outer` gives what the
   * socket knows: the addresses, and the TOS byte if IP_RECVTOS is on (else 0).
   * In transport mode a plain IP header is rebuilt from the addresses.
   */
  inputEsp(esp: Buffer, outer: { src: Buffer; dst: Buffer; tos?: number; ttl?: number }): Result<EspInput> {
    let prefix: Buffer;
    if (outer.src.length === 4) {
      prefix = encodeIpv4Header({
        dscp: (outer.tos ?? 0) >> 2, ecn: (outer.tos ?? 0) & 3, totalLength: 20, identification: 0, flags: 0,
        fragmentOffset: 0, ttl: outer.ttl ?? 64, protocol: IPPROTO.ESP, src: outer.src, dst: outer.dst, options: Buffer.alloc(0),
      });
    } else {
      prefix = encodeIpv6Header({
        trafficClass: outer.tos ?? 0, flowLabel: 0, payloadLength: 0, nextHeader: IPPROTO.ESP, hopLimit: outer.ttl ?? 64,
        src: outer.src, dst: outer.dst,
      });
    }
    const r = this.decapsulate(esp, 0, outer.tos ?? 0, prefix, outer.src.length === 4 ? 9 : 6);
    if (!r.ok) this.counters.drops[r.reason]++;
    return r;
  }

  private decapsulate(esp: Buffer, base: number, outerTos: number, prefix: Buffer, nhField: number): Result<EspInput> {
    const opened = this.open(esp, base);
    if (!opened.ok) return opened;
    return this.afterOpen(opened.value, outerTos, prefix, nhField);
  }

  private afterOpen(
    opened: { payload: Buffer; nextHeader: number; seq: SeqNum },
    outerTos: number,
    prefix: Buffer,
    nhField: number,
  ): Result<EspInput> {
    const { payload, nextHeader, seq } = opened;
    if (nextHeader === IPPROTO.NONE) return drop('dummy-packet', 'next header 59: TFC dummy packet (RFC 4303 §2.6)');

    if (this.sa.mode === 'tunnel') {
      if (nextHeader !== IPPROTO.IPIP && nextHeader !== IPPROTO.IPV6)
        return drop('bad-inner-packet', `tunnel SA got next header ${nextHeader}`);
      const innerR = ipFacts(payload);
      if (!innerR.ok) return drop('bad-inner-packet', `inner packet: ${innerR.detail}`);
      if ((innerR.value.family === 4) !== (nextHeader === IPPROTO.IPIP))
        return drop('bad-inner-packet', `next header ${nextHeader} does not match inner IP version ${innerR.value.family}`);
      // TFC padding (RFC 4303 §2.7) is whatever follows the inner packet's own length;
      // the plaintext is a fresh buffer, so the inner packet is a view of it
      const inner = payload.subarray(0, innerR.value.totalLength);
      const tos = applyDecapTos(inner, outerTos, this.sa.tunnel);
      if (!tos.ok) return tos;
      if (tos.value.alarm) this.counters.ecnAlarms++;
      this.commit(seq, inner.length);
      return ok({ packet: inner, seq, nextHeader, ecnAlarm: tos.value.alarm });
    }

    const out = joinTransport(prefix, nhField, nextHeader, [payload]);
    if (this.sa.natt) {
      const fixed = this.natTransportFixup(out);
      if (!fixed.ok) return fixed;
    }
    this.commit(seq, payload.length);
    return ok({ packet: out, seq, nextHeader, ecnAlarm: false });
  }

  private natTransportFixup(pkt: Buffer): Result<void> {
    const p = parseIp(pkt);
    if (!p.ok) return drop('bad-inner-packet', p.detail);
    natOaChecksumFixup(pkt, p.value, this.sa.natt?.originalSrc, this.sa.natt?.originalDst);
    return ok(undefined);
  }

  private commit(seq: SeqNum, bytes: number): void {
    this.replay.update(seq);
    this.counters.inPackets++;
    this.counters.inBytes += bytes;
    this.onUsage?.(this.sa.spi, bytes, 1);
  }

  /**
   * Verify and decrypt the ESP bytes SPI..ICV (RFC 4303 §3.4). Does not move
   * the replay window: the caller commits once the packet is accepted.
   * `base` is the offset of `esp` in the received packet, for error offsets.
   */
  open(esp: Buffer, base = 0): Result<{ payload: Buffer; nextHeader: number; seq: SeqNum }> {
    const jr = this.prepareOpen(esp, base);
    if (!jr.ok) return jr;
    const j = jr.value;
    const c = this.crypto;
    let pt: Buffer;
    if (c.kind === 'aead') {
      const r = c.aead.open(j.iv, j.aad, j.data);
      if (r === null) return drop('icv-mismatch', 'AEAD ICV', base + j.icvOffset);
      pt = r;
    } else {
      const ct = j.data.subarray(0, j.data.length - c.icvBytes);
      if (c.mac) {
        // RFC 4303 §3.4.4: ICV first, decryption only if it matches
        const got = j.data.subarray(ct.length);
        const want = this.sa.esn ? c.mac.compute(j.head, j.iv, ct, be32(j.seq.hi)) : c.mac.compute(j.head, j.iv, ct);
        if (want.length !== got.length || !timingSafeEqual(want, got)) return drop('icv-mismatch', 'ICV', base + j.icvOffset);
      }
      if (ct.length % c.align !== 0)
        return drop('bad-payload-length', `ciphertext ${ct.length} bytes is not a multiple of ${c.align}`, base + ESP_HEADER_BYTES + c.ivBytes);
      pt = c.cipher ? c.cipher.decrypt(Buffer.from(j.iv), Buffer.from(ct)) : Buffer.from(ct);
    }
    return this.trailer(pt, j.seq, base + j.icvOffset);
  }

  /** Length, SPI and anti-replay checks, and the pieces for the ICV / AEAD (RFC 4303 §3.4.1-§3.4.3). */
  private prepareOpen(esp: Buffer, base: number): Result<OpenJob> {
    const c = this.crypto;
    const min = ESP_HEADER_BYTES + c.ivBytes + ESP_TRAILER_BYTES + c.icvBytes;
    if (esp.length < min) return drop('truncated', `ESP packet of ${esp.length} bytes < minimum ${min}`, base + esp.length);
    const spi = esp.readUInt32BE(0);
    if (spi !== this.sa.spi) return drop('no-sa', `SPI 0x${spi.toString(16)} is not this SA's 0x${this.sa.spi.toString(16)}`, base);
    const seqR = this.replay.check(esp.readUInt32BE(4));
    if (!seqR.ok) return { ...seqR, offset: base + 4 };
    const seq = seqR.value;
    const head = esp.subarray(0, ESP_HEADER_BYTES);
    const bodyStart = ESP_HEADER_BYTES + c.ivBytes;
    const aad = c.kind === 'aead' && this.sa.esn ? Buffer.concat([this.spiBytes, be32(seq.hi), be32(seq.lo)]) : head;
    return ok({ seq, head, iv: esp.subarray(ESP_HEADER_BYTES, bodyStart), aad, data: esp.subarray(bodyStart), icvOffset: esp.length - c.icvBytes });
  }

  /** RFC 4303 §2.4 / §3.4.4.1: pad length, next header, and (default scheme) the padding bytes. */
  private trailer(pt: Buffer, seq: SeqNum, trailerOffset: number): Result<{ payload: Buffer; nextHeader: number; seq: SeqNum }> {
    const padLen = pt[pt.length - 2];
    const nextHeader = pt[pt.length - 1];
    if (padLen + ESP_TRAILER_BYTES > pt.length)
      return drop('bad-padding', `pad length ${padLen} exceeds payload ${pt.length - 2}`, trailerOffset - 2);
    const padStart = pt.length - ESP_TRAILER_BYTES - padLen;
    if (this.sa.checkPadding && this.sa.padding === 'sequential') {
      for (let i = 0; i < padLen; i++)
        if (pt[padStart + i] !== i + 1) return drop('bad-padding', `padding byte ${i} is ${pt[padStart + i]}, want ${i + 1} (RFC 4303 §2.4)`);
    }
    return ok({ payload: pt.subarray(0, padStart), nextHeader, seq });
  }

  /**
   * Process many received packets. With an AEAD SA whose AEAD can open in
   * batches, one native call verifies and decrypts them all; a packet that
   * repeats an earlier one of the same batch is still a replay. Otherwise
   * this is input() per packet. Results are in order.
   */
  inputBatch(pkts: readonly Buffer[]): Result<EspInput>[] {
    if (this.engine) return this.inputEngine(pkts, this.engine);
    const c = this.crypto;
    if (c.kind !== 'aead' || !c.aead.openBatch) return pkts.map((p) => this.input(p));
    const openBatch = c.aead.openBatch.bind(c.aead);
    const results: Result<EspInput>[] = new Array<Result<EspInput>>(pkts.length);
    const jobs: { index: number; job: OpenJob; loc: Located; base: number }[] = [];
    pkts.forEach((pkt, index) => {
      const loc = this.locate(pkt);
      if (!loc.ok) {
        results[index] = this.countDrop(loc);
        return;
      }
      const j = this.prepareOpen(loc.value.esp, loc.value.base);
      if (!j.ok) {
        results[index] = this.countDrop(j);
        return;
      }
      jobs.push({ index, job: j.value, loc: loc.value, base: loc.value.base });
    });
    const pts = openBatch(jobs.map(({ job }) => ({ iv: job.iv, aad: job.aad, data: job.data })));
    jobs.forEach(({ index, job, loc, base }, k) => {
      const pt = pts[k];
      let r: Result<EspInput>;
      if (pt === null) r = drop('icv-mismatch', 'AEAD ICV', base + job.icvOffset);
      else {
        const again = this.replay.recheck(job.seq); // an earlier packet of this batch may have taken the number
        if (!again.ok) r = again;
        else {
          const t = this.trailer(pt, job.seq, base + job.icvOffset);
          r = t.ok ? this.afterOpen(t.value, loc.tos, loc.prefix, loc.nhField) : t;
        }
      }
      results[index] = r.ok ? r : this.countDrop(r);
    });
    return results;
  }

  /**
   * Many ESP packets (SPI..ICV) as a UDP socket delivers them (RFC 3948), for a
   * tunnel-mode SA: inputEsp() per packet, or one native call per batch through
   * the whole-packet engine. The outer TOS is not known from the socket (0).
   */
  inputEspBatch(esps: readonly Buffer[]): Result<EspInput>[] {
    if (!this.engine) return esps.map((esp) => this.inputEsp(esp, { src: this.sa.src, dst: this.sa.dst }));
    return this.inputEngine(esps.map((esp) => ok({ esp, base: 0, tos: 0, prefix: EMPTY, nhField: 9 })), this.engine);
  }

  /** Input through the whole-packet engine: checks as in input(), one native call per batch. */
  private inputEngine(pkts: readonly Buffer[] | readonly Result<Located>[], engine: EspAeadBatchCtx): Result<EspInput>[] {
    const results: Result<EspInput>[] = new Array<Result<EspInput>>(pkts.length);
    const items: { esp: Buffer; seqHi: number }[] = [];
    const meta: { index: number; loc: Located; seq: SeqNum }[] = [];
    for (let index = 0; index < pkts.length; index++) {
      const p = pkts[index]!;
      const loc = Buffer.isBuffer(p) ? this.locate(p) : p;
      if (!loc.ok) {
        results[index] = this.countDrop(loc);
        continue;
      }
      const seq = this.checkHeader(loc.value.esp, loc.value.base);
      if (!seq.ok) {
        results[index] = this.countDrop(seq);
        continue;
      }
      items.push({ esp: loc.value.esp, seqHi: seq.value.hi });
      meta.push({ index, loc: loc.value, seq: seq.value });
    }
    if (items.length === 0) return results;
    const pts = engine.open(items);
    const icvBytes = this.crypto.icvBytes;
    for (let k = 0; k < pts.length; k++) {
      const pt = pts[k];
      const { index, loc, seq } = meta[k]!;
      const icvOffset = loc.base + loc.esp.length - icvBytes;
      let r: Result<EspInput>;
      if (!pt) r = drop('icv-mismatch', 'AEAD ICV', icvOffset);
      else {
        const again = this.replay.recheck(seq); // an earlier packet of this batch may have taken the number
        if (!again.ok) r = again;
        else {
          const t = this.trailer(pt, seq, icvOffset);
          r = t.ok ? this.afterOpen(t.value, loc.tos, loc.prefix, loc.nhField) : t;
        }
      }
      results[index] = r.ok ? r : this.countDrop(r);
    }
    return results;
  }

  /** RFC 4303 §3.4.1-§3.4.3 before any cryptography: length, SPI, anti-replay. */
  private checkHeader(esp: Buffer, base: number): Result<SeqNum> {
    const c = this.crypto;
    const min = ESP_HEADER_BYTES + c.ivBytes + ESP_TRAILER_BYTES + c.icvBytes;
    if (esp.length < min) return drop('truncated', `ESP packet of ${esp.length} bytes < minimum ${min}`, base + esp.length);
    const spi = esp.readUInt32BE(0);
    if (spi !== this.sa.spi) return drop('no-sa', `SPI 0x${spi.toString(16)} is not this SA's 0x${this.sa.spi.toString(16)}`, base);
    const seqR = this.replay.check(esp.readUInt32BE(4));
    if (!seqR.ok) return { ...seqR, offset: base + 4 };
    return seqR;
  }
}

interface OpenJob {
  seq: SeqNum;
  head: Buffer;
  iv: Buffer;
  aad: Buffer;
  /** Ciphertext || ICV. */
  data: Buffer;
  /** Offset of the ICV in the ESP packet. */
  icvOffset: number;
}

interface Located {
  esp: Buffer;
  base: number;
  tos: number;
  prefix: Buffer;
  nhField: number;
}

/** Recompute a transport-mode TCP/UDP checksum from scratch (used when no NAT-OA is known). */
export function recomputeUpperChecksum(pkt: Buffer, p: ParsedIp): void {
  const off = checksumFieldOffset(p.protocol);
  if (off < 0 || p.protocol === IPPROTO.ICMP) return;
  const seg = pkt.subarray(p.payloadOffset, p.totalLength);
  if (seg.length < off + 2) return;
  const src = p.header.src;
  const dst = p.header.dst;
  seg.writeUInt16BE(upperLayerChecksum(src, dst, p.protocol, seg, off), off);
}
