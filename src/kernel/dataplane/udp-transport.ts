/**
 * The protected side over UDP (RFC 3948): ESP-in-UDP datagrams on a socket
 * of our own (standalone tanuki-kernel `--natt-port`), or on a socket the
 * racoon daemon owns (its NAT-T socket: see DataPlane.receiveEspInUdp and
 * the sender the daemon hands to DataPlane.setTransport).
 *
 * Raw ESP (IP protocol 50) and AH (51) need raw IP sockets, which Node does
 * not offer: this transport has no sendRaw, and the data plane carries ESP
 * SAs without a NAT-T extension UDP-encapsulated instead (DataPlane
 * udpFallback). AH cannot be UDP-encapsulated and is dropped as
 * 'no-transport'.
 *
 * Datagrams are not processed one 'message' event at a time: everything that
 * arrives in one event-loop turn (libuv reads up to 32 datagrams per wake-up)
 * is collected and handed over as one burst from setImmediate
 * (DataPlane.receiveEspInUdpBatch), so ESP of one SA is opened with one native call.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { DataPlane, EspInUdpDatagram, ProtectedTransport } from './dataplane';

export class UdpEspTransport implements ProtectedTransport {
  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    readonly port: number,
  ) {}

  /** Bind address:port (port 0 = a free port) and feed what arrives into the plane. */
  static async bind(plane: DataPlane, address: string, port: number): Promise<UdpEspTransport> {
    const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    const a = socket.address();
    const t = new UdpEspTransport(socket, a.address, a.port);
    const local = { address: t.address, port: t.port };
    let burst: EspInUdpDatagram[] = [];
    const flush = (): void => {
      const b = burst;
      burst = [];
      plane.receiveEspInUdpBatch(b);
    };
    socket.on('message', (msg, rinfo) => {
      if (burst.length === 0) setImmediate(flush);
      burst.push({ payload: msg, remote: { address: rinfo.address, port: rinfo.port }, local });
    });
    plane.setTransport(t);
    return t;
  }

  sendUdp(payload: Buffer, dst: string, dport: number): void {
    this.socket.send(payload, dport, dst);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
