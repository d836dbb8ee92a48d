/**
 * Starting the data plane of a userspace kernel from command-line options
 * (tanuki-kernel and racoon): in-process hosts, the ESP-in-UDP transport,
 * the TUN device, the control socket.
 */
import type { Logger } from 'pino';
import type { UserspaceKernel } from '../userspace/kernel';
import { DataPlaneControl } from './control';
import { DataPlane, type ProtectedTransport } from './dataplane';
import { InProcessHost } from './host';
import { RawIpTransport } from './raw-transport';
import { TunPort } from './tun';
import { UdpEspTransport } from './udp-transport';

export { DataPlane, InProcessHost, UdpEspTransport, DataPlaneControl, RawIpTransport };

export interface DataPlaneConfig {
  hosts: readonly string[];
  tun?: string;
  /** Bind our own ESP-in-UDP socket (standalone kernel); omitted when a daemon supplies the transport. */
  natt?: { address: string; port: number };
  /** UDP port of the peers for ESP SAs without NAT-T extensions (default: the natt port). */
  peerPort?: number;
  /** Serve the control socket here. */
  controlPath?: string;
  /**
   * Open raw ESP/AH sockets on these local addresses ('0.0.0.0' / '::' = all)
   * for SAs without NAT-T; without CAP_NET_RAW this is logged and skipped.
   */
  raw?: readonly string[];
  /** A failure to open them (other than permission) is logged instead of failing the start. */
  rawOptional?: boolean;
}

export interface RunningDataPlane {
  plane: DataPlane;
  hosts: InProcessHost[];
  transport: UdpEspTransport | null;
  tun: TunPort | null;
  control: DataPlaneControl | null;
  /** Raw ESP/AH sockets, when asked for and permitted. */
  raw: RawIpTransport | null;
  /** Give the plane a sender (racoon's NAT-T socket). */
  setTransport(t: ProtectedTransport): void;
  close(): Promise<void>;
}

export async function startDataPlane(kernel: UserspaceKernel, cfg: DataPlaneConfig, log: Logger): Promise<RunningDataPlane> {
  const localPort = cfg.natt?.port ?? 4500;
  const plane = new DataPlane(kernel, { log, udpFallback: { sport: localPort, dport: cfg.peerPort ?? localPort } });
  const hosts = cfg.hosts.map((a) => new InProcessHost(a, plane));
  for (const h of hosts) plane.attach(h);
  const cleanups: Array<() => Promise<void> | void> = [() => plane.close()];
  const running: RunningDataPlane = {
    plane,
    hosts,
    transport: null,
    tun: null,
    control: null,
    raw: null,
    // With raw sockets, every transport also sends whole ESP/AH packets through them.
    setTransport: (t) => {
      const raw = running.raw;
      plane.setTransport(raw ? { sendUdp: (p, dst, dport, src, sport) => t.sendUdp(p, dst, dport, src, sport), sendRaw: (p) => raw.sendRaw(p) } : t);
    },
    close: async () => {
      for (const c of cleanups.reverse()) await c();
    },
  };
  try {
    if (cfg.raw && cfg.raw.length > 0) {
      const raw = RawIpTransport.open(plane, cfg.raw, log, { optional: cfg.rawOptional ?? false });
      if (raw) {
        running.raw = raw;
        cleanups.push(() => raw.close());
        // Until a UDP transport is given, ESP-in-UDP has nowhere to go: counted as a send error.
        plane.setTransport({ sendUdp: () => raw.counters.sendErrors++, sendRaw: (p) => raw.sendRaw(p) });
      }
    }
    if (cfg.natt) {
      const t = await UdpEspTransport.bind(plane, cfg.natt.address, cfg.natt.port);
      running.transport = t;
      running.setTransport(t);
      cleanups.push(() => t.close());
      log.info({ address: t.address, port: t.port }, 'ESP-in-UDP transport bound');
    }
    if (cfg.tun) {
      const tun = TunPort.open(cfg.tun, plane, kernel, log);
      running.tun = tun;
      cleanups.push(() => tun.close());
    }
    if (cfg.controlPath) {
      const c = await DataPlaneControl.listen(cfg.controlPath, plane, hosts);
      running.control = c;
      cleanups.push(() => c.close());
    }
  } catch (err) {
    await running.close();
    throw err;
  }
  for (const h of hosts) log.info({ host: h.address }, 'in-process host up');
  return running;
}
