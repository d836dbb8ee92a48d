/**
 * The data plane of the userspace kernel: packets between a cleartext side
 * (in-process hosts, a TUN device) and a protected side (ESP-in-UDP through
 * a UDP socket, raw ESP/AH where a raw transport exists), decided by the
 * kernel's SPD and processed with the SADB's SAs.
 *
 *   cleartext → selector → UserspaceKernel.outbound → bypass | discard |
 *               acquire (packet queued, one ACQUIRE per flow) | protect: the
 *               SAs applied in template order (RFC 4301 §5.1) → transport
 *   protected → SA by (dst, proto, SPI) (RFC 4301 §4.1) → AH/ESP input,
 *               repeated for nested SAs → UserspaceKernel.inbound (RFC 4301
 *               §5.2 step 4: the packet must have come through the SAs its
 *               policy requires) → cleartext side
 *
 * Every packet not delivered is dropped with one DataPlaneDrop reason and
 * counted; no input makes it throw.
 */
import pino, { type Logger } from 'pino';
import { IpsecDir, SadbSaState, SadbSaType } from '../../pfkey/constants';
import type { SecurityAssociation } from '../../sadb/sadb';
import { formatIp } from '../../util/ip';
import type { AhSa } from '../../xform/ah';
import { EspSa } from '../../xform/esp';
import { IPPROTO, parseIp } from '../../xform/ip';
import { DROP_REASONS, type DropReason } from '../../xform/result';
import { buildUdpEncapHeader, NAT_KEEPALIVE } from '../../xform/udpencap';
import { selectCryptoBackend, setCryptoBackendReporter } from '../../xform/crypto-provider';
import type { UserspaceKernel } from '../userspace/kernel';
import { ipPacket, selectorOf } from './packet';

type PacketSelector = Extract<ReturnType<typeof selectorOf>, { ok: true }>['value']['selector'];

/** A datagram that arrived on a NAT-T socket (DataPlane.receiveEspInUdpBatch). */
export interface EspInUdpDatagram {
  payload: Buffer;
  remote: { address: string; port: number };
  local: { address: string; port: number };
}
import { adaptSa, type UdpFallback } from './sa-adapter';

/** Why the data plane dropped a packet: the transforms' reasons plus the SPD's and the plane's own. */
export type DataPlaneDrop =
  | DropReason
  /** The SPD said DISCARD (outbound), or a DISCARD policy matched inbound. */
  | 'policy-discard'
  /** RFC 4301 §5.2: a packet did not come through the SAs its inbound policy requires (e.g. cleartext where ESP is required). */
  | 'policy-violation'
  /** No SA yet: ACQUIRE raised (once per flow) and the packet queue for the flow is full. */
  | 'acquire-queue-full'
  /** The key manager failed the ACQUIRE (sadb_msg_errno on ACQUIRE): packets are dropped until it expires. */
  | 'acquire-failed'
  /** The SADB refused to count the packet (SA dying of a hard limit, larval, gone). */
  | 'sa-unusable'
  /** The SADB entry cannot be turned into a transform (algorithm not implemented, bad key length, BEET). */
  | 'sa-unsupported'
  /** No cleartext port has the destination, and there is nowhere to forward it. */
  | 'no-route'
  /** The protected packet needs a transport the plane does not have (raw ESP/AH without raw sockets). */
  | 'no-transport'
  /** An exception inside the plane (logged); the packet is dropped. */
  | 'internal';

export const DATA_PLANE_DROPS: readonly DataPlaneDrop[] = [
  ...DROP_REASONS,
  'policy-discard',
  'policy-violation',
  'acquire-queue-full',
  'acquire-failed',
  'sa-unusable',
  'sa-unsupported',
  'no-route',
  'no-transport',
  'internal',
];

export type PacketOutcome =
  | { ok: true; action: 'protected'; spis: number[] }
  | { ok: true; action: 'bypassed' | 'delivered' | 'queued' | 'keepalive' | 'fragment-held' }
  | { ok: false; reason: DataPlaneDrop; detail: string };

/** Somewhere cleartext packets can be delivered: an in-process host, a TUN device. */
export interface CleartextPort {
  readonly name: string;
  /** Does this port own (host) or route (TUN) this destination address? */
  accepts(dst: Uint8Array): boolean;
  deliver(pkt: Buffer): void;
}

/** How protected packets leave. */
export interface ProtectedTransport {
  /** Send an ESP-in-UDP payload (RFC 3948 §2.1: the ESP header follows the UDP header). */
  sendUdp(payload: Buffer, dst: string, dport: number, src: string, sport: number): void;
  /** Send a whole outer IP packet (raw ESP/AH); absent when there are no raw sockets. */
  sendRaw?(packet: Buffer): void;
}

export interface DataPlaneCounters {
  outPackets: number;
  outProtected: number;
  outBypassed: number;
  outQueued: number;
  inPackets: number;
  inDelivered: number;
  inKeepalives: number;
  drops: Record<DataPlaneDrop, number>;
}

export interface DataPlaneOptions {
  log?: Logger;
  /**
   * Without raw sockets, ESP SAs that have no NAT-T extension are still
   * carried UDP-encapsulated (RFC 3948 framing) with these ports. null: such
   * SAs need the raw transport.
   */
  udpFallback?: UdpFallback | null;
  /** Packets held per flow while an ACQUIRE stands (Linux xfrm "larval queue"; default 8). */
  queuePerFlow?: number;
}

function newCounters(): DataPlaneCounters {
  const drops = {} as Record<DataPlaneDrop, number>;
  for (const r of DATA_PLANE_DROPS) drops[r] = 0;
  return { outPackets: 0, outProtected: 0, outBypassed: 0, outQueued: 0, inPackets: 0, inDelivered: 0, inKeepalives: 0, drops };
}

/** Nested SAs deeper than this are refused (AH over ESP is 2; Linux XFRM_MAX_DEPTH is 6). */
const MAX_DEPTH = 6;

export class DataPlane {
  readonly counters: DataPlaneCounters = newCounters();
  private readonly log: Logger;
  private readonly xforms = new Map<SecurityAssociation, EspSa | AhSa>();
  private readonly ports: CleartextPort[] = [];
  private transport: ProtectedTransport | null = null;
  private readonly queued = new Map<string, Buffer[]>();
  private readonly queuePerFlow: number;
  private udpFallback: UdpFallback | null;
  private readonly unsubscribe: Array<() => void> = [];
  /** Tunnel endpoints of an ESP transform as text, for the UDP socket. */
  private readonly endpointText = new WeakMap<EspSa, { src: string; dst: string }>();

  constructor(
    readonly kernel: UserspaceKernel,
    opts: DataPlaneOptions = {},
  ) {
    this.log = opts.log ?? pino({ level: 'silent' });
    this.queuePerFlow = opts.queuePerFlow ?? 8;
    this.udpFallback = opts.udpFallback === undefined ? { sport: 4500, dport: 4500 } : opts.udpFallback;
    // The libcrypto fast path is chosen (and its shim compiled) now rather than at the first packet.
    setCryptoBackendReporter((st) => this.log.warn({ reason: st.reason }, 'ESP/AH crypto falls back to node:crypto'));
    const crypto = selectCryptoBackend();
    this.log.debug({ backend: crypto.enabled ? 'libcrypto' : 'node:crypto', reason: crypto.reason }, 'ESP/AH crypto backend');
    this.unsubscribe.push(
      kernel.onSa((e) => {
        // Contexts are rebuilt lazily from the SA as it is now.
        this.xforms.delete(e.sa);
        if ((e.kind === 'add' || e.kind === 'update') && e.sa.state === SadbSaState.MATURE) this.flushQueues();
      }),
    );
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
    this.xforms.clear();
    this.queued.clear();
  }

  /** Add a cleartext port; returns its removal. */
  attach(port: CleartextPort): () => void {
    this.ports.push(port);
    return () => {
      const i = this.ports.indexOf(port);
      if (i >= 0) this.ports.splice(i, 1);
    };
  }

  setTransport(t: ProtectedTransport | null): void {
    this.transport = t;
    this.xforms.clear(); // the UDP fallback depends on whether the transport has raw sockets
  }

  /** Our UDP port for ESP SAs carried UDP-encapsulated without NAT-T ports of their own. */
  setUdpFallbackSport(sport: number): void {
    if (this.udpFallback) this.udpFallback = { ...this.udpFallback, sport };
    this.xforms.clear();
  }

  /** Transform contexts currently built (tests, diagnostics). */
  get xformCount(): number {
    return this.xforms.size;
  }

  /** The transform of an SA, for its counters (tests, diagnostics). */
  xformOf(sa: SecurityAssociation): EspSa | AhSa | undefined {
    return this.xforms.get(sa);
  }

  private fail(reason: DataPlaneDrop, detail: string): PacketOutcome {
    this.counters.drops[reason]++;
    this.log.debug({ reason, detail }, 'packet dropped');
    return { ok: false, reason, detail };
  }

  private guarded(what: string, f: () => PacketOutcome): PacketOutcome {
    try {
      return f();
    } catch (err) {
      this.log.error({ err, what }, 'data plane failure');
      return this.fail('internal', `${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private xformFor(sa: SecurityAssociation): { ok: true; x: EspSa | AhSa } | { ok: false; reason: string } {
    const have = this.xforms.get(sa);
    if (have) return { ok: true, x: have };
    const r = adaptSa(sa, this.transport?.sendRaw ? null : this.udpFallback);
    if (!r.ok) return r;
    this.xforms.set(sa, r.xform);
    return { ok: true, x: r.xform };
  }

  // ---- outbound ----------------------------------------------------------------

  /** A packet from the cleartext side (`from`: the port it came from, never delivered back to it). */
  sendCleartext(pkt: Buffer, from?: CleartextPort): PacketOutcome {
    return this.guarded('outbound', () => this.outbound(pkt, from));
  }

  private outbound(pkt: Buffer, from: CleartextPort | undefined): PacketOutcome {
    this.counters.outPackets++;
    const p = selectorOf(pkt);
    if (!p.ok) return this.fail(p.reason, p.detail);
    const packet = Buffer.from(pkt.subarray(0, p.value.ip.totalLength));
    return this.act(this.kernel.outbound(p.value.selector, IpsecDir.OUTBOUND), packet, p.value.selector, from);
  }

  /** What the SPD decided for an outbound packet, carried out. */
  private act(d: ReturnType<UserspaceKernel['outbound']>, packet: Buffer, selector: PacketSelector, from: CleartextPort | undefined): PacketOutcome {
    switch (d.action) {
      case 'bypass': {
        const port = this.ports.find((q) => q !== from && q.accepts(selector.dst));
        if (!port) return this.fail('no-route', `no cleartext port for ${formatIp(selector.dst)} and no IP forwarding`);
        this.counters.outBypassed++;
        port.deliver(packet);
        return { ok: true, action: 'bypassed' };
      }
      case 'discard':
        return this.fail('policy-discard', `policy ${d.policy.id} discards the packet`);
      case 'acquire': {
        const key = `${formatIp(selector.src)}>${formatIp(selector.dst)}/${selector.proto}`;
        const q = this.queued.get(key) ?? [];
        if (q.length >= this.queuePerFlow) return this.fail('acquire-queue-full', `ACQUIRE ${d.acquireSeq} pending, ${q.length} packets already held for ${key}`);
        q.push(packet);
        this.queued.set(key, q);
        this.counters.outQueued++;
        return { ok: true, action: 'queued' };
      }
      case 'protect':
        return this.protect(packet, d.sas);
    }
  }

  private protect(packet: Buffer, sas: readonly SecurityAssociation[]): PacketOutcome {
    let out = packet;
    const spis: number[] = [];
    for (const sa of sas) {
      const x = this.xformFor(sa);
      if (!x.ok) return this.fail('sa-unsupported', `SA 0x${(sa.spi >>> 0).toString(16)}: ${x.reason}`);
      if (!this.kernel.sadb.account(sa, out.length)) return this.fail('sa-unusable', `SA 0x${(sa.spi >>> 0).toString(16)} may not be used`);
      const r = x.x.output(out);
      if (!r.ok) return this.fail(r.reason, r.detail);
      out = r.value;
      spis.push(sa.spi >>> 0);
    }
    const sent = this.transmit(out);
    if (!sent.ok) return sent;
    this.counters.outProtected++;
    return { ok: true, action: 'protected', spis };
  }

  private transmit(outer: Buffer): PacketOutcome {
    const pr = parseIp(outer);
    if (!pr.ok) return this.fail(pr.reason, `outer packet: ${pr.detail}`);
    const ip = pr.value;
    if (!this.transport) return this.fail('no-transport', 'no protected-side transport');
    if (ip.protocol === IPPROTO.UDP) {
      const at = ip.payloadOffset;
      const sport = outer.readUInt16BE(at);
      const dport = outer.readUInt16BE(at + 2);
      this.transport.sendUdp(Buffer.from(outer.subarray(at + 8, ip.totalLength)), formatIp(ip.header.dst), dport, formatIp(ip.header.src), sport);
      return { ok: true, action: 'bypassed' };
    }
    if (!this.transport.sendRaw) return this.fail('no-transport', `protocol ${ip.protocol} needs a raw IP socket, which this data plane does not have`);
    this.transport.sendRaw(outer);
    return { ok: true, action: 'bypassed' };
  }

  // ---- bursts (TUN reads, NAT-T socket reads) -------------------------------------

  /**
   * A burst of packets from the cleartext side (one TUN wake-up). The plane takes ownership of
   * the buffers. Packets whose policy names exactly one ESP SA that the whole-packet engine
   * serves are sealed together (EspSa.outputBatch: one native call per 64 packets); every other
   * packet is handled as by sendCleartext. Order is kept per SA, hence per flow.
   */
  sendCleartextBatch(pkts: readonly Buffer[], from?: CleartextPort): void {
    const groups = new Map<SecurityAssociation, Buffer[]>();
    for (const pkt of pkts) {
      this.guarded('outbound', () => {
        this.counters.outPackets++;
        const p = selectorOf(pkt);
        if (!p.ok) return this.fail(p.reason, p.detail);
        const packet = p.value.ip.totalLength === pkt.length ? pkt : pkt.subarray(0, p.value.ip.totalLength);
        const d = this.kernel.outbound(p.value.selector, IpsecDir.OUTBOUND);
        if (d.action === 'protect' && d.sas.length === 1) {
          const sa = d.sas[0]!;
          const x = this.xformFor(sa);
          if (x.ok && x.x instanceof EspSa && x.x.batched) {
            const g = groups.get(sa);
            if (g) g.push(packet);
            else groups.set(sa, [packet]);
            return { ok: true, action: 'protected', spis: [sa.spi >>> 0] };
          }
        }
        return this.act(d, packet, p.value.selector, from);
      });
    }
    for (const [sa, group] of groups) this.protectBatch(sa, group);
  }

  private protectBatch(sa: SecurityAssociation, pkts: Buffer[]): void {
    const x = this.xformFor(sa);
    if (!x.ok || !(x.x instanceof EspSa)) {
      for (const pkt of pkts) this.guarded('outbound', () => this.protect(pkt, [sa]));
      return;
    }
    const esp = x.x;
    const usable: Buffer[] = [];
    for (const pkt of pkts) {
      if (this.kernel.sadb.account(sa, pkt.length)) usable.push(pkt);
      else this.fail('sa-unusable', `SA 0x${(sa.spi >>> 0).toString(16)} may not be used`);
    }
    let results: ReturnType<EspSa['outputBatch']>;
    try {
      results = esp.outputBatch(usable);
    } catch (err) {
      this.log.error({ err }, 'data plane failure');
      for (let i = 0; i < usable.length; i++) this.fail('internal', `outbound batch: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    for (const r of results) {
      if (!r.ok) {
        this.fail(r.reason, r.detail);
        continue;
      }
      const sent = this.transmitEsp(esp, r.value);
      if (sent.ok) this.counters.outProtected++;
    }
  }

  /** An ESP-in-UDP packet of a known SA: the UDP payload goes straight to the socket (no re-parse, no copy). */
  private transmitEsp(esp: EspSa, outer: Buffer): PacketOutcome {
    const natt = esp.sa.natt;
    if (!natt || !this.transport) return this.transmit(outer);
    let ends = this.endpointText.get(esp);
    if (!ends) {
      ends = { src: formatIp(esp.sa.src), dst: formatIp(esp.sa.dst) };
      this.endpointText.set(esp, ends);
    }
    const at = esp.sa.src.length === 4 ? 20 : 40;
    this.transport.sendUdp(outer.subarray(at + 8), ends.dst, natt.dport, ends.src, natt.sport);
    return { ok: true, action: 'bypassed' };
  }

  /**
   * A burst of datagrams from a NAT-T socket (everything that arrived in one event-loop turn).
   * ESP for tunnel-mode SAs the whole-packet engine serves is opened together per SA
   * (EspSa.inputEspBatch); keepalives, IKE, and everything else go through receiveEspInUdp.
   */
  receiveEspInUdpBatch(dgrams: readonly EspInUdpDatagram[]): void {
    const groups = new Map<SecurityAssociation, { x: EspSa; esps: Buffer[] }>();
    for (const d of dgrams) {
      const pl = d.payload;
      const spi = pl.length >= 8 ? pl.readUInt32BE(0) : 0;
      const sa = spi === 0 ? undefined : this.findInbound(d.local.address, IPPROTO.ESP, spi);
      const x = sa ? this.xformFor(sa) : null;
      if (!sa || !x || !x.ok || !(x.x instanceof EspSa) || !x.x.batched || !x.x.sa.natt) {
        this.receiveEspInUdp(pl, d.remote, d.local);
        continue;
      }
      this.counters.inPackets++;
      const g = groups.get(sa);
      if (g) g.esps.push(pl);
      else groups.set(sa, { x: x.x, esps: [pl] });
    }
    for (const [sa, { x, esps }] of groups) {
      let results: ReturnType<EspSa['inputEspBatch']>;
      try {
        results = x.inputEspBatch(esps);
      } catch (err) {
        this.log.error({ err }, 'data plane failure');
        for (let i = 0; i < esps.length; i++) this.fail('internal', `inbound batch: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      for (const r of results) {
        this.guarded('inbound-udp', () => {
          if (!r.ok) return this.fail(r.reason, `SA 0x${(sa.spi >>> 0).toString(16)}: ${r.detail}`);
          if (!this.kernel.sadb.account(sa, r.value.packet.length)) return this.fail('sa-unusable', `SA 0x${(sa.spi >>> 0).toString(16)} may not be used`);
          return this.inbound(r.value.packet, [sa]);
        });
      }
    }
  }

  /** An SA appeared: packets held for ACQUIREs go out again (those still without an SA are held again). */
  private flushQueues(): void {
    if (this.queued.size === 0) return;
    const all = [...this.queued.values()].flat();
    this.queued.clear();
    for (const pkt of all) {
      this.counters.outPackets--; // counted when it first arrived
      this.counters.outQueued--;
      this.sendCleartext(pkt);
    }
  }

  /** Packets held for standing ACQUIREs. */
  get queuedCount(): number {
    let n = 0;
    for (const q of this.queued.values()) n += q.length;
    return n;
  }

  // ---- inbound -----------------------------------------------------------------

  /** A whole IP packet from the protected side: ESP, AH, ESP-in-UDP, or cleartext (policy-checked). */
  receiveProtected(pkt: Buffer): PacketOutcome {
    return this.guarded('inbound', () => {
      this.counters.inPackets++;
      return this.inbound(pkt, []);
    });
  }

  /**
   * The payload of a UDP datagram that arrived on a NAT-T socket (RFC 3948
   * §2.2: a keepalive, an IKE message behind the non-ESP marker, or ESP).
   * `local`: the address it arrived on ('0.0.0.0' / '::' when unknown).
   */
  receiveEspInUdp(payload: Buffer, remote: { address: string; port: number }, local: { address: string; port: number }): PacketOutcome {
    return this.guarded('inbound-udp', () => {
      this.counters.inPackets++;
      if (payload.length === 1 && payload[0] === NAT_KEEPALIVE[0]) {
        this.counters.inKeepalives++;
        return { ok: true, action: 'keepalive' };
      }
      if (payload.length < 8) return this.fail('truncated', `ESP-in-UDP payload of ${payload.length} bytes is shorter than the ESP header`);
      const spi = payload.readUInt32BE(0);
      if (spi === 0) return this.fail('bad-udp-encap', 'non-ESP marker: an IKE message, not for the data plane');
      const sa = this.findInbound(local.address, IPPROTO.ESP, spi);
      if (!sa) return this.fail('no-sa', `no SA for ESP SPI 0x${spi.toString(16)} to ${local.address} (from ${remote.address}[${remote.port}])`);
      const x = this.xformFor(sa);
      if (!x.ok) return this.fail('sa-unsupported', x.reason);
      const natt = x.x.sa.natt;
      // Rebuild the outer packet as the kernel would have received it (addresses from the SA: a NAT may have changed them on the way).
      const seg = natt ? Buffer.concat([buildUdpEncapHeader(remote.port, local.port, payload.length), payload]) : payload;
      const outer = ipPacket(x.x.sa.src, x.x.sa.dst, natt ? IPPROTO.UDP : IPPROTO.ESP, seg);
      return this.decapsulate(outer, sa, []);
    });
  }

  private findInbound(dst: string, proto: number, spi: number): SecurityAssociation | undefined {
    if (dst !== '0.0.0.0' && dst !== '::' && dst !== '') {
      const sa = this.kernel.sadb.lookupInbound(dst, proto, spi);
      if (sa) return sa;
    }
    // A wildcard-bound socket does not tell which local address the datagram was for: the SPI decides.
    const satype = proto === IPPROTO.AH ? SadbSaType.AH : SadbSaType.ESP;
    return (this.kernel.sadb.list(satype) ?? []).find((sa) => sa.spi >>> 0 === spi && this.kernel.sadb.lookupInbound(sa.dst, proto, spi) === sa);
  }

  private inbound(pkt: Buffer, applied: SecurityAssociation[]): PacketOutcome {
    if (applied.length > MAX_DEPTH) return this.fail('unsupported', `more than ${MAX_DEPTH} nested SAs`);
    const pr = parseIp(pkt);
    if (!pr.ok) return this.fail(pr.reason, pr.detail);
    const ip = pr.value;
    let proto = ip.protocol;
    let spiAt = ip.payloadOffset;
    if (ip.family === 6) {
      const ah = ip.extHeaders.find((e) => e.type === IPPROTO.AH);
      if (ah) {
        proto = IPPROTO.AH;
        spiAt = ah.offset + 4;
      }
    } else if (proto === IPPROTO.AH) spiAt += 4;
    if (proto === IPPROTO.ESP || proto === IPPROTO.AH) {
      if (ip.isFragment) return this.fail('unsupported', 'outer fragments are reassembled by the transport, not here');
      if (spiAt + 4 > ip.totalLength) return this.fail('truncated', `SPI at offset ${spiAt}`);
      const spi = pkt.readUInt32BE(spiAt);
      const sa = this.findInbound(formatIp(ip.header.dst), proto, spi);
      if (!sa) return this.fail('no-sa', `no SA for ${proto === IPPROTO.ESP ? 'ESP' : 'AH'} SPI 0x${spi.toString(16)} to ${formatIp(ip.header.dst)}`);
      return this.decapsulate(pkt, sa, applied);
    }
    if (proto === IPPROTO.UDP && applied.length === 0 && ip.payloadOffset + 8 <= ip.totalLength) {
      const sport = pkt.readUInt16BE(ip.payloadOffset);
      const dport = pkt.readUInt16BE(ip.payloadOffset + 2);
      const payload = pkt.subarray(ip.payloadOffset + 8, ip.totalLength);
      if ((dport === 4500 || sport === 4500) && payload.length >= 4 && payload.readUInt32BE(0) !== 0) {
        const spi = payload.length >= 8 ? payload.readUInt32BE(0) : 0;
        const sa = this.findInbound(formatIp(ip.header.dst), IPPROTO.ESP, spi);
        if (!sa) return this.fail('no-sa', `no SA for ESP-in-UDP SPI 0x${spi.toString(16)}`);
        return this.decapsulate(pkt, sa, applied);
      }
    }
    return this.deliver(pkt, applied);
  }

  private decapsulate(pkt: Buffer, sa: SecurityAssociation, applied: SecurityAssociation[]): PacketOutcome {
    const x = this.xformFor(sa);
    if (!x.ok) return this.fail('sa-unsupported', `SA 0x${(sa.spi >>> 0).toString(16)}: ${x.reason}`);
    const r = x.x.input(pkt);
    if (!r.ok) return this.fail(r.reason, `SA 0x${(sa.spi >>> 0).toString(16)}: ${r.detail}`);
    if (!this.kernel.sadb.account(sa, r.value.packet.length)) return this.fail('sa-unusable', `SA 0x${(sa.spi >>> 0).toString(16)} may not be used`);
    return this.inbound(r.value.packet, [...applied, sa]);
  }

  /** RFC 4301 §5.2 step 4: the SPD check of what came out, then the cleartext side. */
  private deliver(pkt: Buffer, applied: SecurityAssociation[]): PacketOutcome {
    const p = selectorOf(pkt);
    if (!p.ok) return this.fail(p.reason, p.detail);
    const d = this.kernel.inbound(p.value.selector, applied, IpsecDir.INBOUND);
    if (d.action === 'discard') return this.fail(d.policy && applied.length === 0 ? 'policy-violation' : d.reason === 'discard policy' ? 'policy-discard' : 'policy-violation', d.reason);
    const port = this.ports.find((q) => q.accepts(p.value.selector.dst));
    if (!port) return this.fail('no-route', `no cleartext port for ${formatIp(p.value.selector.dst)}`);
    this.counters.inDelivered++;
    port.deliver(Buffer.from(pkt.subarray(0, p.value.ip.totalLength)));
    return { ok: true, action: 'delivered' };
  }
}
