/**
 * The protected side over raw IP sockets: ESP (IP protocol 50, RFC 4303) and
 * AH (51, RFC 4302) packets as they are on the wire, without UDP
 * encapsulation — what racoon's peers (a KAME or Linux kernel, strongSwan
 * with the kernel backend) expect for SAs that have no NAT-T ports.
 *
 * For each local address (racoon's listen addresses, or the wildcard) one ESP
 * and one AH socket (src/util/rawsock.ts) is bound: a socket bound to an
 * address only receives packets for that address, so two daemons on one host
 * (on 127.0.0.1 and 127.0.0.2) each get their own. Outbound packets are whole
 * IP packets built by the transforms (HDRINCL), sent on a socket of their
 * family.
 *
 * Opening needs CAP_NET_RAW. Without it `RawIpTransport.open` logs why, once,
 * and returns null: the data plane then keeps its UDP-only behaviour (ESP SAs
 * without NAT-T carried UDP-encapsulated, AH dropped as `no-transport`).
 */
import type { Logger } from 'pino';
import { parseIp as parseIpText } from '../../util/ip';
import { IPPROTO_AH, IPPROTO_ESP, RawIpSockets, RawSocketError, type RawDatagram, type RawSocketSpec } from '../../util/rawsock';
import { parseIp } from '../../xform/ip';
import type { DataPlane } from './dataplane';
import { ipPacket } from './packet';
import { formatIp } from '../../util/ip';

export interface RawTransportCounters {
  /** Packets handed to sendto(2). */
  sent: number;
  /** sendto(2) failures (EAGAIN on a full send buffer, EMSGSIZE over the MTU, no route...). */
  sendErrors: number;
  /** Packets received, per IP protocol. */
  receivedEsp: number;
  receivedAh: number;
  /** Packets received from a raw socket that the data plane did not deliver (its own drop counters say why). */
  notDelivered: number;
}

export class RawIpTransport {
  readonly counters: RawTransportCounters = { sent: 0, sendErrors: 0, receivedEsp: 0, receivedAh: 0, notDelivered: 0 };
  /** One set of sockets per open(): the addresses given at start, then one per addAddress(). */
  private readonly sets: { specs: readonly RawSocketSpec[]; sockets: RawIpSockets }[] = [];

  private constructor(
    private readonly plane: DataPlane,
    private readonly log: Logger,
  ) {}

  private static specsFor(addresses: readonly string[]): RawSocketSpec[] {
    return addresses.flatMap((address) => [
      { protocol: IPPROTO_ESP, address },
      { protocol: IPPROTO_AH, address },
    ]);
  }

  private openSet(specs: readonly RawSocketSpec[]): void {
    const sockets = RawIpSockets.open(
      specs,
      (d) => this.receive(specs, d),
      (err) => this.log.warn({ err: err.message }, 'raw IP socket error'),
    );
    this.sets.push({ specs, sockets });
  }

  /**
   * Raw ESP and AH sockets on each address ('0.0.0.0' / '::' for all of a
   * family). Returns null — after logging why — when the process may not
   * open raw sockets; other failures (an address that is not local, a kernel
   * without IPV6_HDRINCL) throw, or with `optional` (racoon opens them on its
   * own initiative) are logged and return null too.
   */
  static open(plane: DataPlane, addresses: readonly string[], log: Logger, opts: { optional?: boolean } = {}): RawIpTransport | null {
    const t = new RawIpTransport(plane, log);
    try {
      t.openSet(RawIpTransport.specsFor(addresses));
    } catch (err) {
      if (err instanceof RawSocketError && err.permission) {
        log.warn(
          { err: err.message },
          'raw ESP/AH sockets are not available (needs CAP_NET_RAW): ESP SAs without NAT-T are carried UDP-encapsulated, AH packets are dropped (no-transport)',
        );
        return null;
      }
      if (opts.optional && err instanceof RawSocketError) {
        log.warn({ err: err.message }, 'raw ESP/AH sockets could not be opened: ESP SAs without NAT-T are carried UDP-encapsulated, AH packets are dropped (no-transport)');
        return null;
      }
      throw err;
    }
    log.info({ addresses: [...addresses], protocols: ['esp', 'ah'] }, 'raw ESP/AH sockets open (IP protocols 50 and 51)');
    return t;
  }

  /**
   * Raw sockets on one more local address (a MIGRATE moved us to a care-of
   * address racoon did not listen on at start): true when they were opened,
   * false when a socket (or a wildcard one) of that family already receives
   * for it or the address cannot be bound (logged).
   */
  addAddress(address: string): boolean {
    const family = address.includes(':') ? 6 : 4;
    const covered = this.sets.some((set) =>
      set.specs.some((sp) => (sp.address.includes(':') ? 6 : 4) === family && (sp.address === address || sp.address === '0.0.0.0' || sp.address === '::')),
    );
    if (covered) return false;
    try {
      this.openSet(RawIpTransport.specsFor([address]));
    } catch (err) {
      this.log.warn({ address, err: err instanceof Error ? err.message : String(err) }, 'raw ESP/AH sockets could not be opened on a new local address');
      return false;
    }
    this.log.info({ address, protocols: ['esp', 'ah'] }, 'raw ESP/AH sockets open on a new local address');
    return true;
  }

  /** Send a whole outer IP packet (ESP or AH as the outermost header). */
  sendRaw(packet: Buffer): void {
    const ip = parseIp(packet);
    if (!ip.ok) {
      this.counters.sendErrors++;
      return;
    }
    const family = ip.value.family;
    // HDRINCL: the packet carries its own source address, so any socket of the family sends it.
    let set: (typeof this.sets)[number] | undefined;
    let index = -1;
    for (const candidate of this.sets) {
      index = candidate.specs.findIndex((sp) => (sp.address.includes(':') ? 6 : 4) === family);
      if (index >= 0) {
        set = candidate;
        break;
      }
    }
    if (!set || index < 0) {
      this.counters.sendErrors++;
      this.log.debug({ family }, 'no raw socket of this family');
      return;
    }
    const dst = formatIp(ip.value.header.dst);
    try {
      set.sockets.send(index, packet.subarray(0, ip.value.totalLength), dst);
      this.counters.sent++;
    } catch (err) {
      this.counters.sendErrors++;
      this.log.debug({ dst, err: err instanceof Error ? err.message : String(err) }, 'raw send failed');
    }
  }

  private receive(specs: readonly RawSocketSpec[], d: RawDatagram): void {
    const spec = specs[d.index];
    if (!spec) return;
    if (spec.protocol === IPPROTO_ESP) this.counters.receivedEsp++;
    else this.counters.receivedAh++;
    let pkt = d.data;
    if (spec.address.includes(':')) {
      // raw6(7) strips the IPv6 header: rebuild it from the sender and the bound address.
      const src = parseIpText(d.from);
      const dst = parseIpText(spec.address);
      if (!src || !dst) return;
      pkt = ipPacket(src, dst, spec.protocol, d.data);
    }
    const r = this.plane.receiveProtected(pkt);
    if (!r.ok) this.counters.notDelivered++;
  }

  async close(): Promise<void> {
    await Promise.all(this.sets.splice(0).map((set) => set.sockets.close()));
  }
}
