/**
 * The TUN device on the cleartext side (`--tun NAME`): the host's own IP
 * stack sends packets for the remote side of every tunnel policy into
 * tanuki's data plane, and gets the decrypted packets back.
 *
 * Linux Documentation/networking/tuntap.rst: open /dev/net/tun, ioctl
 * TUNSETIFF with struct ifreq { char ifr_name[IFNAMSIZ]; short ifr_flags; }
 * and IFF_TUN | IFF_NO_PI, then every read() is one IP packet and every
 * write() injects one. libc's ioctl is called through koffi. The fd is
 * non-blocking: libc's poll() waits for it on a koffi worker thread (with a
 * timeout, so that close is never stuck behind it), and each wake-up drains
 * a burst of packets into the data plane at once (DataPlane.sendCleartextBatch).
 *
 * Routes: for each OUTBOUND IPSEC policy with a tunnel-mode template, the
 * policy's destination prefix is routed into the device (`ip route replace
 * PREFIX dev NAME`), and the route is removed with the policy.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';
import koffi from 'koffi';
import type { Logger } from 'pino';
import { IpsecDir, IpsecMode, IpsecPolicyType } from '../../pfkey/constants';
import type { SecurityPolicy } from '../../spd/spd';
import type { UserspaceKernel } from '../userspace/kernel';
import type { CleartextPort, DataPlane } from './dataplane';

/** linux/if_tun.h */
const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
/** linux/if.h IFNAMSIZ; sizeof(struct ifreq) on 64-bit Linux. */
const IFNAMSIZ = 16;
const IFREQ_BYTES = 40;
const MAX_PACKET = 65535;
/**
 * MTU of the device (as strongSwan's kernel-libipsec sets on ipsec0): a full-size inner packet
 * plus ESP-in-UDP overhead (outer IPv4 20 + UDP 8 + ESP 8 + IV 8-16 + trailer 2-17 + ICV 12-16,
 * RFC 3948 / RFC 4303) still fits a 1500-byte path, so the outer datagram is never fragmented.
 */
export const TUN_MTU = 1400;
/** poll() timeout (ms): the longest a close waits for the pending poll to return. */
const POLL_TIMEOUT_MS = 100;
/** Packets per burst handed to the data plane; after a full burst the event loop gets a turn. */
const BURST = 64;
/** sys/poll.h */
const POLLIN = 0x001;

export class TunUnavailableError extends Error {
  override readonly name = 'TunUnavailableError';
}

type IoctlFn = (fd: number, request: number, arg: Buffer) => number;
let ioctlFn: IoctlFn | null = null;
function ioctl(): IoctlFn {
  if (!ioctlFn) ioctlFn = koffi.load('libc.so.6').func('int ioctl(int, unsigned long, void *)') as IoctlFn;
  return ioctlFn;
}

/** libc poll(struct pollfd *, nfds_t, int), called asynchronously on a koffi worker thread. */
interface PollFn {
  async(fds: Buffer, nfds: number, timeoutMs: number, cb: (err: unknown, rc: number) => void): void;
}
let pollFn: PollFn | null = null;
function poll(): PollFn {
  if (!pollFn) pollFn = koffi.load('libc.so.6').func('int poll(void *fds, unsigned long nfds, int timeout)') as unknown as PollFn;
  return pollFn;
}

/** libc read(): -1 with errno EAGAIN on an empty device, without the exception fs.readSync throws. */
type ReadFn = (fd: number, buf: Buffer, len: number) => number;
let readFn: ReadFn | null = null;
function read(): ReadFn {
  if (!readFn) readFn = koffi.load('libc.so.6').func('long read(int fd, void *buf, unsigned long count)') as ReadFn;
  return readFn;
}
/** asm-generic/errno-base.h */
const EAGAIN = 11;

/** The destination prefix of an outbound tunnel policy, as `ip route` text; null if the policy needs no route. */
export function tunnelRoute(p: SecurityPolicy): string | null {
  if (p.dir !== IpsecDir.OUTBOUND || p.type !== IpsecPolicyType.IPSEC) return null;
  if (!p.templates.some((t) => t.mode === IpsecMode.TUNNEL)) return null;
  const dst = p.ext.addressDst;
  if (!dst) return null;
  return `${dst.addr.address}/${dst.prefixlen}`;
}

export class TunPort implements CleartextPort {
  readonly name: string;
  private closed = false;
  private timer: NodeJS.Immediate | null = null;
  /** struct pollfd { int fd; short events; short revents; } */
  private readonly pollfd = Buffer.alloc(8);
  private readonly scratch = Buffer.allocUnsafe(MAX_PACKET);
  private readonly routes = new Map<number, string>();
  private readonly detach: () => void;
  private readonly unsubscribe: () => void;
  readonly counters = { read: 0, written: 0, writeErrors: 0, wakeups: 0 };

  private constructor(
    readonly ifname: string,
    private readonly fd: number,
    private readonly plane: DataPlane,
    private readonly log: Logger,
    kernel: UserspaceKernel,
  ) {
    this.name = `tun ${ifname}`;
    this.detach = plane.attach(this);
    this.unsubscribe = kernel.onPolicy((e) => (e.kind === 'add' ? this.addRoute(e.policy) : this.removeRoute(e.policy)));
    for (const p of kernel.spd.list()) this.addRoute(p);
    this.poll();
  }

  /** Create (or attach to) the TUN device NAME, bring it up, and route existing tunnel policies into it. */
  static open(ifname: string, plane: DataPlane, kernel: UserspaceKernel, log: Logger): TunPort {
    if (ifname.length === 0 || ifname.length >= IFNAMSIZ || !/^[A-Za-z0-9_.-]+$/.test(ifname)) throw new TunUnavailableError(`--tun ${ifname}: not a valid interface name (1..15 of [A-Za-z0-9_.-])`);
    let fd: number;
    try {
      fd = openSync('/dev/net/tun', fsc.O_RDWR | fsc.O_NONBLOCK);
    } catch (err) {
      throw new TunUnavailableError(`--tun ${ifname}: cannot open /dev/net/tun: ${err instanceof Error ? err.message : String(err)}`);
    }
    const ifr = Buffer.alloc(IFREQ_BYTES);
    ifr.write(ifname, 0, 'ascii');
    ifr.writeInt16LE(IFF_TUN | IFF_NO_PI, IFNAMSIZ);
    const rc = ioctl()(fd, TUNSETIFF, ifr);
    if (rc < 0) {
      const errno = koffi.errno();
      closeSync(fd);
      throw new TunUnavailableError(`--tun ${ifname}: ioctl(TUNSETIFF) failed, errno ${errno}${errno === 1 ? ' (EPERM: needs CAP_NET_ADMIN)' : ''}`);
    }
    try {
      execFileSync('ip', ['link', 'set', 'dev', ifname, 'mtu', String(TUN_MTU), 'up'], { stdio: 'pipe' });
    } catch (err) {
      closeSync(fd);
      throw new TunUnavailableError(`--tun ${ifname}: ip link set up failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    log.info({ tun: ifname }, 'TUN device up');
    return new TunPort(ifname, fd, plane, log, kernel);
  }

  /** The TUN device is the route to everything the in-process hosts do not own. */
  accepts(): boolean {
    return !this.closed;
  }

  deliver(pkt: Buffer): void {
    if (this.closed) return;
    try {
      writeSync(this.fd, pkt);
      this.counters.written++;
    } catch (err) {
      this.counters.writeErrors++;
      this.log.debug({ tun: this.ifname, err: err instanceof Error ? err.message : String(err) }, 'TUN write failed');
    }
  }

  /** Wait (off the event loop) until the device has a packet, then drain it. */
  private poll(): void {
    if (this.closed) return;
    this.pollfd.writeInt32LE(this.fd, 0);
    this.pollfd.writeInt16LE(POLLIN, 4);
    this.pollfd.writeInt16LE(0, 6);
    poll().async(this.pollfd, 1, POLL_TIMEOUT_MS, () => {
      if (this.closed) return;
      this.counters.wakeups++;
      this.drain();
    });
  }

  /**
   * Read up to BURST packets and hand them to the plane as one burst. While packets keep
   * coming the device is checked again on the next event-loop turn (after UDP input and
   * timers); only when it is found empty does the slower poll() on a worker thread take over.
   */
  private drain(): void {
    this.timer = null;
    if (this.closed) return;
    const burst: Buffer[] = [];
    const rd = read();
    while (burst.length < BURST) {
      const len = rd(this.fd, this.scratch, MAX_PACKET);
      if (len <= 0) {
        const errno = len < 0 ? koffi.errno() : 0;
        if (len === 0 || errno !== EAGAIN) this.log.warn({ tun: this.ifname, errno }, 'TUN read failed');
        break;
      }
      burst.push(Buffer.from(this.scratch.subarray(0, len)));
    }
    this.counters.read += burst.length;
    if (burst.length > 0) {
      this.plane.sendCleartextBatch(burst, this);
      // more may have arrived meanwhile: look again on the next event-loop turn (after UDP input)
      this.timer = setImmediate(() => this.drain());
    } else this.poll();
  }

  private addRoute(p: SecurityPolicy): void {
    const prefix = tunnelRoute(p);
    if (!prefix || this.closed) return;
    try {
      execFileSync('ip', ['route', 'replace', prefix, 'dev', this.ifname], { stdio: 'pipe' });
      this.routes.set(p.id, prefix);
      this.log.info({ tun: this.ifname, route: prefix, spid: p.id }, 'route into TUN');
    } catch (err) {
      this.log.warn({ tun: this.ifname, route: prefix, err: err instanceof Error ? err.message : String(err) }, 'cannot route into TUN');
    }
  }

  private removeRoute(p: SecurityPolicy): void {
    const prefix = this.routes.get(p.id);
    if (!prefix) return;
    this.routes.delete(p.id);
    if ([...this.routes.values()].includes(prefix)) return;
    try {
      execFileSync('ip', ['route', 'del', prefix, 'dev', this.ifname], { stdio: 'pipe' });
    } catch {
      // the route may be gone with the device already
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearImmediate(this.timer);
    this.unsubscribe();
    this.detach();
    closeSync(this.fd); // a non-persistent TUN device disappears with its last fd, and its routes with it
  }
}
