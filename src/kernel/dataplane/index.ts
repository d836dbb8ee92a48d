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
import { TunPort } from './tun';
import { UdpEspTransport } from './udp-transport';

export { DataPlane, InProcessHost, UdpEspTransport, DataPlaneControl };

export interface DataPlaneConfig {
  hosts: readonly string[];
  tun?: string;
  /** Bind our own ESP-in-UDP socket (standalone kernel); omitted when a daemon supplies the transport. */
  natt?: { address: string; port: number };
  /** UDP port of the peers for ESP SAs without NAT-T extensions (default: the natt port). */
  peerPort?: number;
  /** Serve the control socket here. */
  controlPath?: string;
}

export interface RunningDataPlane {
  plane: DataPlane;
  hosts: InProcessHost[];
  transport: UdpEspTransport | null;
  tun: TunPort | null;
  control: DataPlaneControl | null;
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
    setTransport: (t) => plane.setTransport(t),
    close: async () => {
      for (const c of cleanups.reverse()) await c();
    },
  };
  try {
    if (cfg.natt) {
      const t = await UdpEspTransport.bind(plane, cfg.natt.address, cfg.natt.port);
      running.transport = t;
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
