/**
 * Raw IP sockets (socket(AF_INET|AF_INET6, SOCK_RAW, protocol), Linux raw(7)
 * and raw6(7)) driven from Node through koffi, for the data plane's raw ESP
 * (IP protocol 50) and AH (51) — Node itself has no raw sockets.
 *
 * Sending happens on the main thread with sendto(2) on a non-blocking socket.
 * The caller hands over a whole IP packet: IPv4 sockets have IP_HDRINCL set
 * (raw(7): the kernel fills in the header checksum and total length, and the
 * identification when it is 0; it does not fragment such a packet — a packet
 * over the path MTU fails with EMSGSIZE), IPv6 sockets IPV6_HDRINCL (Linux
 * 4.5+), so AH's ICV over the outer header stays exactly as computed.
 *
 * Receiving: a worker thread sleeps in poll(2) on every socket and a wake-up
 * pipe, and on each wake-up *drains* every readable socket with
 * recvfrom(MSG_DONTWAIT) until EAGAIN, posting each datagram to the main
 * thread. Draining (rather than one recvfrom per poll, as the netlink reader
 * does) keeps a burst from waiting on another poll round trip; a socket that
 * reports POLLERR/POLLNVAL without data is reported once and dropped from the
 * poll set, so it can never make the worker spin. close() writes one byte to
 * the pipe, which ends the worker's poll.
 *
 * What arrives: an IPv4 raw socket delivers the whole packet, header
 * included; an IPv6 raw socket delivers only what follows the IPv6 header
 * (raw6(7)), so the receiver gets the sender's address and the socket's own
 * bound address to rebuild it.
 *
 * Opening needs CAP_NET_RAW (root): without it socket(2) fails with EPERM,
 * which RawSocketError.permission tells apart so that callers can fall back.
 */
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import { formatIp, parseIp } from './ip';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_ESP = 50; // RFC 4303 §2 (IANA protocol number)
export const IPPROTO_AH = 51; // RFC 4302 §2
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const O_CLOEXEC = 0o2000000;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3; // linux/in.h
const IPPROTO_IPV6 = 41;
const IPV6_HDRINCL = 36; // linux/in6.h
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const EPERM = 1;
const EACCES = 13;
const EAGAIN = 11;

const ERRNO: Record<number, string> = { 1: 'EPERM', 9: 'EBADF', 11: 'EAGAIN', 13: 'EACCES', 22: 'EINVAL', 90: 'EMSGSIZE', 93: 'EPROTONOSUPPORT', 97: 'EAFNOSUPPORT', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 105: 'ENOBUFS', 113: 'EHOSTUNREACH' };

/** A failed system call on a raw socket, with the C errno. */
export class RawSocketError extends Error {
  override readonly name = 'RawSocketError';
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: ${ERRNO[errno] ?? `errno ${errno}`} (${errno})${errno === EPERM || errno === EACCES ? ': raw IP sockets need CAP_NET_RAW (root)' : ''}`);
  }

  /** The process may not open raw sockets (no CAP_NET_RAW). */
  get permission(): boolean {
    return this.errno === EPERM || this.errno === EACCES;
  }
}

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
  sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, alen: number) => number;
  close: (fd: number) => number;
  pipe2: (fds: Buffer, flags: number) => number;
  write: (fd: number, buf: Buffer, len: number) => number;
}

let libcCache: Libc | undefined;
function libc(): Libc {
  if (libcCache) return libcCache;
  const lib = koffi.load('libc.so.6');
  libcCache = {
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    bind: lib.func('int bind(int, void *, uint32_t)') as Libc['bind'],
    setsockopt: lib.func('int setsockopt(int, int, int, void *, uint32_t)') as Libc['setsockopt'],
    sendto: lib.func('intptr_t sendto(int, void *, size_t, int, void *, uint32_t)') as Libc['sendto'],
    close: lib.func('int close(int)') as Libc['close'],
    pipe2: lib.func('int pipe2(void *, int)') as Libc['pipe2'],
    write: lib.func('intptr_t write(int, void *, size_t)') as Libc['write'],
  };
  return libcCache;
}

function check(call: string, rc: number): number {
  if (rc < 0) throw new RawSocketError(call, koffi.errno());
  return rc;
}

/** struct sockaddr_in (16 bytes) / sockaddr_in6 (28 bytes) for an address, port 0. */
export function encodeSockaddr(address: string): Buffer {
  const bytes = parseIp(address);
  if (!bytes) throw new RawSocketError(`address '${address}'`, 22);
  if (bytes.length === 4) {
    const sa = Buffer.alloc(16);
    sa.writeUInt16LE(AF_INET, 0);
    Buffer.from(bytes).copy(sa, 4);
    return sa;
  }
  const sa = Buffer.alloc(28);
  sa.writeUInt16LE(AF_INET6, 0);
  Buffer.from(bytes).copy(sa, 8);
  return sa;
}

/** The address in a sockaddr_in / sockaddr_in6 as text; null for another family or a short buffer. */
export function decodeSockaddr(sa: Uint8Array): string | null {
  if (sa.length < 2) return null;
  const family = sa[0] | (sa[1] << 8);
  if (family === AF_INET && sa.length >= 8) return formatIp(sa.subarray(4, 8));
  if (family === AF_INET6 && sa.length >= 24) return formatIp(sa.subarray(8, 24));
  return null;
}

export interface RawSocketSpec {
  /** IP protocol: IPPROTO_ESP, IPPROTO_AH. */
  protocol: number;
  /** Local address to bind ('0.0.0.0' / '::' for every address of the family). */
  address: string;
}

export interface RawDatagram {
  /** Index of the socket in the specs given to open(). */
  index: number;
  /** IPv4: the whole packet; IPv6: what follows the IPv6 header. */
  data: Buffer;
  /** The sender's address. */
  from: string;
}

// Plain JavaScript run with `eval: true`, so it works the same from ts-jest and from dist/.
const RECEIVE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const poll = lib.func('int poll(void *, unsigned long, int)');
const recvfrom = lib.func('intptr_t recvfrom(int, void *, size_t, int, void *, void *)');
const read = lib.func('intptr_t read(int, void *, size_t)');
const fds = workerData.fds;
const n = fds.length + 1;
const pfd = Buffer.alloc(8 * n);
for (let i = 0; i < fds.length; i++) { pfd.writeInt32LE(fds[i], 8 * i); pfd.writeInt16LE(1, 8 * i + 4); }
pfd.writeInt32LE(workerData.wakeFd, 8 * fds.length); pfd.writeInt16LE(1, 8 * fds.length + 4);
const addr = Buffer.alloc(28);
const alen = Buffer.alloc(4);
const buf = Buffer.alloc(65536);
const EINTR = 4, EAGAIN = 11, POLLIN = 1, POLLERR = 8, POLLHUP = 16, POLLNVAL = 32, MSG_DONTWAIT = 0x40, BURST = 256;
outer: for (;;) {
  for (let i = 0; i < n; i++) pfd.writeInt16LE(0, 8 * i + 6);
  const r = poll(pfd, n, -1);
  if (r < 0) { const e = koffi.errno(); if (e === EINTR) continue; parentPort.postMessage({ kind: 'error', call: 'poll', errno: e }); break; }
  if (pfd.readInt16LE(8 * fds.length + 6) !== 0) { read(workerData.wakeFd, Buffer.alloc(1), 1); break; }
  for (let i = 0; i < fds.length; i++) {
    const rev = pfd.readInt16LE(8 * i + 6);
    if (rev === 0) continue;
    let got = 0;
    for (; got < BURST; got++) {
      alen.writeUInt32LE(28, 0);
      const len = recvfrom(fds[i], buf, buf.length, MSG_DONTWAIT, addr, alen);
      if (len < 0) {
        const e = koffi.errno();
        if (e === EINTR) { got--; continue; }
        if (e !== EAGAIN) parentPort.postMessage({ kind: 'error', call: 'recvfrom', errno: e, index: i });
        break;
      }
      const data = new Uint8Array(len);
      data.set(buf.subarray(0, len));
      const from = new Uint8Array(28);
      from.set(addr);
      parentPort.postMessage({ kind: 'datagram', index: i, data, from }, [data.buffer, from.buffer]);
    }
    if (got === 0 && (rev & (POLLERR | POLLHUP | POLLNVAL)) !== 0 && (rev & POLLIN) === 0) {
      parentPort.postMessage({ kind: 'error', call: 'poll (socket ' + i + ' revents ' + rev + ')', errno: 0, index: i });
      pfd.writeInt32LE(-1, 8 * i); // poll(2) ignores negative fds: never spin on a dead socket
    }
  }
}
`;

interface WorkerDatagram {
  kind: 'datagram';
  index: number;
  data: Uint8Array;
  from: Uint8Array;
}
interface WorkerError {
  kind: 'error';
  call: string;
  errno: number;
}
type WorkerReport = WorkerDatagram | WorkerError;

function isWorkerReport(v: unknown): v is WorkerReport {
  return typeof v === 'object' && v !== null && 'kind' in v && (v.kind === 'datagram' || v.kind === 'error');
}

/** A set of raw IP sockets with one receive worker. */
export class RawIpSockets {
  private closed = false;
  private readonly workerDone: Promise<void>;

  private constructor(
    readonly specs: readonly RawSocketSpec[],
    private readonly fds: number[],
    private readonly wakeR: number,
    private readonly wakeW: number,
    private readonly worker: Worker,
    onDatagram: (d: RawDatagram) => void,
    onError: (err: RawSocketError) => void,
  ) {
    worker.on('message', (m: unknown) => {
      if (!isWorkerReport(m) || this.closed) return;
      if (m.kind === 'error') {
        onError(new RawSocketError(m.call, m.errno));
        return;
      }
      const from = decodeSockaddr(m.from);
      if (from === null) return;
      onDatagram({ index: m.index, data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), from });
    });
    worker.on('error', (e: Error) => onError(new RawSocketError(`receive worker: ${e.message}`, 0)));
    this.workerDone = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  /**
   * Open, configure (HDRINCL, a 1 MiB receive buffer) and bind one raw socket
   * per spec, and start receiving. Throws RawSocketError (`permission` for
   * EPERM/EACCES); on failure nothing stays open.
   */
  static open(specs: readonly RawSocketSpec[], onDatagram: (d: RawDatagram) => void, onError: (err: RawSocketError) => void): RawIpSockets {
    const c = libc();
    const fds: number[] = [];
    let wakeR = -1;
    let wakeW = -1;
    try {
      for (const s of specs) {
        const v6 = s.address.includes(':');
        const fd = check(`socket(${v6 ? 'AF_INET6' : 'AF_INET'}, SOCK_RAW, ${s.protocol})`, c.socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, s.protocol));
        fds.push(fd);
        const one = Buffer.alloc(4);
        one.writeInt32LE(1, 0);
        if (v6) check('setsockopt(IPV6_HDRINCL)', c.setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, one, 4));
        else check('setsockopt(IP_HDRINCL)', c.setsockopt(fd, IPPROTO_IP, IP_HDRINCL, one, 4));
        const rcvbuf = Buffer.alloc(4);
        rcvbuf.writeInt32LE(1 << 20, 0);
        c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, 4); // best effort
        const sa = encodeSockaddr(s.address);
        check(`bind(${s.address})`, c.bind(fd, sa, sa.length));
      }
      const pipe = Buffer.alloc(8);
      check('pipe2', c.pipe2(pipe, O_CLOEXEC));
      wakeR = pipe.readInt32LE(0);
      wakeW = pipe.readInt32LE(4);
      const worker = new Worker(RECEIVE_WORKER, { eval: true, workerData: { fds, wakeFd: wakeR, koffiPath: require.resolve('koffi') } });
      worker.unref();
      return new RawIpSockets(specs, fds, wakeR, wakeW, worker, onDatagram, onError);
    } catch (err) {
      for (const fd of fds) c.close(fd);
      if (wakeR >= 0) c.close(wakeR);
      if (wakeW >= 0) c.close(wakeW);
      throw err;
    }
  }

  /** Send a whole IP packet (header included) on socket `index` to `dst`. Throws RawSocketError (EAGAIN when the send buffer is full). */
  send(index: number, packet: Buffer, dst: string): void {
    if (this.closed) throw new RawSocketError('sendto (socket closed)', 9);
    const fd = this.fds[index];
    if (fd === undefined) throw new RawSocketError(`sendto (no socket ${index})`, 9);
    const sa = encodeSockaddr(dst);
    const rc = libc().sendto(fd, packet, packet.length, 0, sa, sa.length);
    if (rc < 0) throw new RawSocketError(`sendto(${dst})`, koffi.errno());
  }

  static isEagain(err: RawSocketError): boolean {
    return err.errno === EAGAIN;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = libc();
    c.write(this.wakeW, Buffer.from([1]), 1);
    await Promise.race([this.workerDone, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
    await this.worker.terminate();
    for (const fd of this.fds) c.close(fd);
    c.close(this.wakeR);
    c.close(this.wakeW);
  }
}
