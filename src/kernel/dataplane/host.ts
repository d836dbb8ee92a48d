/**
 * In-process hosts on the cleartext side (`--host ADDR`): a host owns one
 * address, answers ICMP/ICMPv6 echo (RFC 792, RFC 4443 §4) and the UDP Echo
 * Protocol (RFC 862, port 7), and can send an echo request or a UDP datagram
 * of its own through the data plane. Used by tests and the demo.
 */
import { formatIp, parseIp as parseIpText } from '../../util/ip';
import { IPPROTO, parseIp } from '../../xform/ip';
import type { CleartextPort, DataPlane, PacketOutcome } from './dataplane';
import { ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, UDP_ECHO_PORT, icmpEcho, udpPacket } from './packet';

export interface HostCounters {
  received: number;
  echoRequestsAnswered: number;
  echoRepliesReceived: number;
  udpReceived: number;
  sent: number;
}

export interface EchoReply {
  from: string;
  id: number;
  seq: number;
}

export interface UdpReceived {
  from: string;
  sport: number;
  dport: number;
  data: Buffer;
}

export class InvalidHostAddressError extends Error {
  override readonly name = 'InvalidHostAddressError';
}

export class InProcessHost implements CleartextPort {
  readonly name: string;
  readonly addressBytes: Buffer;
  readonly counters: HostCounters = { received: 0, echoRequestsAnswered: 0, echoRepliesReceived: 0, udpReceived: 0, sent: 0 };
  private readonly echoWaiters = new Map<string, (r: EchoReply) => void>();
  private readonly udpListeners = new Set<(u: UdpReceived) => void>();
  private nextSeq = 1;
  private readonly echoId: number;

  constructor(
    readonly address: string,
    private readonly plane: DataPlane,
  ) {
    const bytes = parseIpText(address);
    if (!bytes) throw new InvalidHostAddressError(`--host ${address}: not an IPv4 or IPv6 address`);
    this.addressBytes = bytes;
    this.address = formatIp(bytes);
    this.name = `host ${this.address}`;
    this.echoId = (process.pid ^ bytes[bytes.length - 1]) & 0xffff;
  }

  accepts(dst: Uint8Array): boolean {
    return Buffer.compare(Buffer.from(dst), this.addressBytes) === 0;
  }

  /** A packet the data plane delivers to this host. */
  deliver(pkt: Buffer): void {
    const r = parseIp(pkt);
    if (!r.ok) return;
    const ip = r.value;
    this.counters.received++;
    const at = ip.payloadOffset;
    const body = pkt.subarray(at, ip.totalLength);
    const src = ip.header.src;
    if ((ip.protocol === IPPROTO.ICMP || ip.protocol === IPPROTO.ICMPV6) && body.length >= 8) {
      const type = body[0];
      const id = body.readUInt16BE(4);
      const seq = body.readUInt16BE(6);
      if (type === ICMP_ECHO_REQUEST || type === ICMPV6_ECHO_REQUEST) {
        this.counters.echoRequestsAnswered++;
        this.emit(icmpEcho(this.addressBytes, Buffer.from(src), true, id, seq, Buffer.from(body.subarray(8))));
      } else if (type === ICMP_ECHO_REPLY || type === ICMPV6_ECHO_REPLY) {
        this.counters.echoRepliesReceived++;
        const key = `${formatIp(src)}/${id}/${seq}`;
        const w = this.echoWaiters.get(key);
        if (w) {
          this.echoWaiters.delete(key);
          w({ from: formatIp(src), id, seq });
        }
      }
      return;
    }
    if (ip.protocol === IPPROTO.UDP && body.length >= 8) {
      const sport = body.readUInt16BE(0);
      const dport = body.readUInt16BE(2);
      const data = Buffer.from(body.subarray(8));
      this.counters.udpReceived++;
      if (dport === UDP_ECHO_PORT) this.emit(udpPacket(this.addressBytes, Buffer.from(src), UDP_ECHO_PORT, sport, data));
      for (const l of this.udpListeners) l({ from: formatIp(src), sport, dport, data });
    }
  }

  private emit(pkt: Buffer): PacketOutcome {
    this.counters.sent++;
    return this.plane.sendCleartext(pkt, this);
  }

  /** Send one echo request; the outcome of sending it (queued while an ACQUIRE stands, protected, dropped). */
  sendEchoRequest(dst: string, data: Buffer = Buffer.from('tanuki'), seq = this.nextSeq++): { outcome: PacketOutcome; id: number; seq: number } {
    const d = parseIpText(dst);
    if (!d || d.length !== this.addressBytes.length) throw new InvalidHostAddressError(`ping ${dst}: not an address of the family of ${this.address}`);
    return { outcome: this.emit(icmpEcho(this.addressBytes, d, false, this.echoId, seq, data)), id: this.echoId, seq };
  }

  /** Ping: send an echo request and wait for its reply (null after timeoutMs). */
  ping(dst: string, timeoutMs = 1000, data?: Buffer): Promise<{ outcome: PacketOutcome; reply: EchoReply | null }> {
    const d = parseIpText(dst);
    if (!d) return Promise.reject(new InvalidHostAddressError(`ping ${dst}: not an IP address`));
    const seq = this.nextSeq++;
    const key = `${formatIp(d)}/${this.echoId}/${seq & 0xffff}`;
    return new Promise((resolve) => {
      let outcome: PacketOutcome = { ok: false, reason: 'internal', detail: 'not sent' };
      const timer = setTimeout(() => {
        this.echoWaiters.delete(key);
        resolve({ outcome, reply: null });
      }, timeoutMs);
      this.echoWaiters.set(key, (reply) => {
        clearTimeout(timer);
        resolve({ outcome, reply });
      });
      outcome = this.sendEchoRequest(dst, data, seq).outcome;
    });
  }

  /** Send one UDP datagram from this host. */
  sendUdp(dst: string, dport: number, data: Buffer, sport = 40000 + (this.nextSeq++ % 20000)): PacketOutcome {
    const d = parseIpText(dst);
    if (!d || d.length !== this.addressBytes.length) throw new InvalidHostAddressError(`udp ${dst}: not an address of the family of ${this.address}`);
    return this.emit(udpPacket(this.addressBytes, d, sport, dport, data));
  }

  onUdp(l: (u: UdpReceived) => void): () => void {
    this.udpListeners.add(l);
    return () => this.udpListeners.delete(l);
  }
}
