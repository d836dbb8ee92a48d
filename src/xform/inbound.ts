/**
 * The inbound side of the data plane for a set of SAs: reassemble outer
 * fragments, find the SA by (protocol, SPI, destination) (RFC 4301 §4.1),
 * and hand the packet to it. Everything that is not delivered is dropped with
 * a typed reason and counted here (before an SA is found) or on the SA.
 */
import { AhSa } from './ah';
import { EspSa, EspInput } from './esp';
import { Reassembler, ReassemblyLimits, DEFAULT_REASSEMBLY_LIMITS } from './frag';
import { IPPROTO, parseIp } from './ip';
import { DropCounters, Result, drop, newDropCounters, ok, Drop } from './result';
import { NAT_T_PORT, classifyUdpPayload } from './udpencap';

export type XformSaHandle = EspSa | AhSa;

export interface InboundDelivery {
  /** The packet after AH/ESP processing (inner packet in tunnel mode). */
  packet: Buffer;
  sa: XformSaHandle;
  seq: EspInput['seq'];
}

/** What arrived, when it is not a packet for the cleartext side. */
export type InboundOther = { kind: 'keepalive' } | { kind: 'ike'; message: Buffer } | { kind: 'fragment-held' } | { kind: 'not-ipsec'; packet: Buffer };

function saKey(proto: number, spi: number, dst: Buffer): string {
  return `${proto}/${spi >>> 0}/${dst.toString('hex')}`;
}

export class InboundDemux {
  private readonly sas = new Map<string, XformSaHandle>();
  readonly reassembler: Reassembler;
  /** Drops that happened before an SA was identified (wrong SPI, malformed, reassembly). */
  readonly drops: DropCounters = newDropCounters();
  received = 0;
  delivered = 0;

  constructor(limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {
    this.reassembler = new Reassembler(limits);
  }

  add(x: XformSaHandle): void {
    this.sas.set(saKey(x.sa.proto === 'esp' ? IPPROTO.ESP : IPPROTO.AH, x.sa.spi, x.sa.dst), x);
  }

  remove(proto: 'esp' | 'ah', spi: number, dst: Buffer): boolean {
    return this.sas.delete(saKey(proto === 'esp' ? IPPROTO.ESP : IPPROTO.AH, spi, dst));
  }

  private fail(d: Drop): Drop {
    this.drops[d.reason]++;
    return d;
  }

  /**
   * One packet from the protected side (a raw IP packet, possibly a fragment,
   * possibly ESP-in-UDP on port 4500). Returns the delivery, or what else it was.
   */
  receive(pkt: Buffer, now: number): Result<InboundDelivery | InboundOther> {
    this.received++;
    const whole = this.reassembler.add(pkt, now);
    if (!whole.ok) return this.fail(whole);
    if (whole.value === null) return ok({ kind: 'fragment-held' });
    const full = whole.value;
    const pr = parseIp(full);
    if (!pr.ok) return this.fail(pr);
    const p = pr.value;
    let proto = p.protocol;
    let spiOffset = p.payloadOffset;
    if (p.family === 6) {
      const ah = p.extHeaders.find((e) => e.type === IPPROTO.AH);
      if (ah) {
        proto = IPPROTO.AH;
        spiOffset = ah.offset + 4;
      }
    } else if (proto === IPPROTO.AH) spiOffset += 4;
    if (proto === IPPROTO.UDP) {
      if (p.totalLength < p.payloadOffset + 8) return this.fail(drop('truncated', 'UDP header', p.payloadOffset));
      const sport = full.readUInt16BE(p.payloadOffset);
      const dport = full.readUInt16BE(p.payloadOffset + 2);
      if (dport !== NAT_T_PORT && sport !== NAT_T_PORT) return ok({ kind: 'not-ipsec', packet: full });
      const c = classifyUdpPayload(full.subarray(p.payloadOffset + 8, p.totalLength), dport, sport);
      if (!c.ok) return this.fail(c);
      if (c.value.kind !== 'esp') return ok(c.value);
      proto = IPPROTO.ESP;
      spiOffset = p.payloadOffset + 8;
    } else if (proto !== IPPROTO.ESP && proto !== IPPROTO.AH) {
      return ok({ kind: 'not-ipsec', packet: full });
    }
    if (spiOffset + 4 > p.totalLength) return this.fail(drop('truncated', 'SPI', spiOffset));
    const spi = full.readUInt32BE(spiOffset);
    const x = this.sas.get(saKey(proto, spi, p.header.dst));
    if (!x) return this.fail(drop('no-sa', `no SA for ${proto === IPPROTO.ESP ? 'ESP' : 'AH'} SPI 0x${spi.toString(16)}`, spiOffset));
    const r = x.input(full);
    if (!r.ok) return r; // counted on the SA
    this.delivered++;
    return ok({ packet: r.value.packet, sa: x, seq: r.value.seq });
  }
}
