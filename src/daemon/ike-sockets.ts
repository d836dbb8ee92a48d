/**
 * The daemon's IKE sockets: UDP 500 (isakmp) and 4500 (isakmp_natt) on each
 * listen address, or on the wildcard addresses when racoon.conf has no
 * `listen` block. On the NAT-T port the RFC 3948 §2.2 rules sort datagrams:
 * a single 0xFF byte is a NAT keepalive, four zero bytes (the non-ESP marker)
 * precede an IKE message, anything else is ESP-in-UDP for the data plane.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';

export const ISAKMP_PORT = 500; // RFC 2408 / RFC 7296 §2
export const NATT_PORT = 4500; // RFC 3948 §2
export const NON_ESP_MARKER = Buffer.alloc(4); // RFC 3948 §2.2
export const NATT_KEEPALIVE = Buffer.from([0xff]); // RFC 3948 §2.3

export interface Endpoint {
  address: string;
  port: number;
  family: 4 | 6;
}

export type Datagram =
  /** data: the IKE message (marker stripped); raw: the whole UDP payload as received. */
  | { kind: 'ike'; data: Buffer; raw: Buffer; local: Endpoint; remote: Endpoint; natt: boolean }
  | { kind: 'esp'; data: Buffer; local: Endpoint; remote: Endpoint }
  | { kind: 'keepalive'; local: Endpoint; remote: Endpoint };

/** Classify one datagram by the port it arrived on (RFC 3948 §2.2 / strongSwan receiver.c). */
export function classifyDatagram(data: Buffer, natt: boolean): 'ike' | 'esp' | 'keepalive' | 'runt' {
  if (!natt) return data.length >= 28 ? 'ike' : 'runt'; // 28 = IKE header (RFC 7296 §3.1)
  if (data.length === 1 && data[0] === 0xff) return 'keepalive';
  if (data.length < 4) return 'runt';
  if (data.readUInt32BE(0) === 0) return data.length >= 4 + 28 ? 'ike' : 'runt';
  return 'esp';
}

/** Whether an IKE message between these ports carries the non-ESP marker (charon's sender.c rule). */
export function needsMarker(localPort: number, remotePort: number): boolean {
  return localPort !== ISAKMP_PORT && remotePort !== ISAKMP_PORT;
}

export interface ListenSpec {
  address: string;
  port: number;
  natt: boolean;
}

interface Bound {
  spec: ListenSpec;
  socket: Socket;
  local: Endpoint;
}

export class IkeSockets {
  private readonly bound: Bound[] = [];
  private listener: ((d: Datagram) => void) | null = null;

  constructor(private readonly onDrop: (why: string, remote: Endpoint) => void = () => undefined) {}

  onDatagram(listener: (d: Datagram) => void): void {
    this.listener = listener;
  }

  private readonly boundListeners: ((locals: Endpoint[]) => void)[] = [];

  /** Told the endpoints of every later listen() (a MIGRATE binding a new care-of address, say). */
  onBound(listener: (locals: Endpoint[]) => void): void {
    this.boundListeners.push(listener);
  }

  async listen(specs: ListenSpec[]): Promise<Endpoint[]> {
    const added: Endpoint[] = [];
    for (const spec of specs) {
      const family = spec.address.includes(':') ? 6 : 4;
      const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: false, ...(family === 6 ? { ipv6Only: true } : {}) });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(spec.port, spec.address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const a = socket.address();
      const local: Endpoint = { address: a.address, port: a.port, family };
      socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.deliver(spec, local, msg, rinfo));
      socket.on('error', () => undefined);
      this.bound.push({ spec, socket, local });
      added.push(local);
    }
    for (const l of this.boundListeners) l(added);
    return this.bound.map((b) => b.local);
  }

  private deliver(spec: ListenSpec, local: Endpoint, msg: Buffer, rinfo: RemoteInfo): void {
    const remote: Endpoint = { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 6 : 4 };
    // The marker rule follows the ports (charon's receiver.c), not the socket: with
    // neither port 500, every IKE message carries the non-ESP marker.
    const marked = needsMarker(local.port, remote.port);
    const kind = classifyDatagram(msg, marked);
    if (!this.listener) return;
    switch (kind) {
      case 'runt':
        this.onDrop(`runt datagram of ${msg.length} bytes`, remote);
        return;
      case 'keepalive':
        this.listener({ kind, local, remote });
        return;
      case 'esp':
        this.listener({ kind, data: msg, local, remote });
        return;
      case 'ike':
        this.listener({ kind, data: marked ? msg.subarray(4) : msg, raw: msg, local, remote, natt: spec.natt });
        return;
    }
  }

  /** Send an IKE message from the socket bound to `from` (marker added on NAT-T ports). */
  sendIke(from: Endpoint, to: Endpoint, message: Buffer): void {
    const b = this.find(from);
    const data = needsMarker(b.local.port, to.port) ? Buffer.concat([NON_ESP_MARKER, message]) : message;
    b.socket.send(data, to.port, to.address);
  }

  /** Send ESP-in-UDP or a keepalive from a NAT-T socket. */
  sendRaw(from: Endpoint, to: Endpoint, data: Buffer): void {
    this.find(from).socket.send(data, to.port, to.address);
  }

  /** The bound endpoints; `isakmp` only the IKE (non-NAT-T) ones. */
  locals(which: 'all' | 'isakmp' = 'all'): Endpoint[] {
    return this.bound.filter((b) => which === 'all' || !b.spec.natt).map((b) => b.local);
  }

  private find(from: Endpoint): Bound {
    const exact = this.bound.find((b) => b.local.port === from.port && (b.local.address === from.address || isWildcard(b.local.address)) && b.local.family === from.family);
    if (!exact) throw new Error(`no IKE socket bound to ${from.address}[${from.port}]`);
    return exact;
  }

  async close(): Promise<void> {
    await Promise.all(this.bound.map((b) => new Promise<void>((resolve) => b.socket.close(() => resolve()))));
    this.bound.length = 0;
  }
}

function isWildcard(a: string): boolean {
  return a === '0.0.0.0' || a === '::';
}

/** The addresses racoon binds when there is no listen block (every interface address, link-local excepted). */
export function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.address.startsWith('fe80')) out.push(a.address);
  return out;
}
