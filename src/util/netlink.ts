/**
 * A raw netlink socket (RFC 3549; Linux include/uapi/linux/netlink.h) driven
 * from Node through koffi (libc socket/bind/sendto/recvfrom/setsockopt).
 *
 * Why koffi and not a native addon: koffi is already a dependency of tanuki,
 * ships prebuilt binaries for every Node ABI (no compiler, no node-gyp at
 * install time), and the handful of libc calls a netlink socket needs are
 * plain C functions taking ints and byte buffers, which koffi calls directly.
 * A maintained Node netlink binding for NETLINK_XFRM does not exist.
 *
 * Receiving without blocking the event loop: a worker thread owns the receive
 * side. It sleeps in poll(2) on the netlink socket and on a wake-up pipe,
 * reads each datagram with recvfrom(2) and posts it (with the sender's
 * multicast group mask) to the main thread. No busy loop, no timer polling,
 * and the libuv thread pool (used by fs, dns, crypto) is never occupied.
 * close() writes one byte to the pipe, which ends the worker's poll.
 * Sending happens on the main thread: a netlink sendto(2) to the kernel never
 * blocks for long (the kernel processes the request inside the call).
 *
 * A socket may be created inside a named network namespace: the calling
 * thread enters it with setns(2) just for socket(2), then returns to its own
 * namespace; the socket stays bound to the namespace it was created in.
 */
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';

/* ---- netlink.h numbers ---------------------------------------------------- */
export const AF_NETLINK = 16;
export const NETLINK_XFRM = 6;
export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_CAPPED = 0x100; // in NLMSG_ERROR: payload is only the header
export const NLM_F_ACK_TLVS = 0x200; // in NLMSG_ERROR: extended ACK TLVs follow

export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

export const NLMSG_HDRLEN = 16; // struct nlmsghdr
export const NLA_HDRLEN = 4; // struct nlattr
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;

/** NLMSG_ALIGN / NLA_ALIGN: 4-byte alignment. */
export function nlAlign(n: number): number {
  return (n + 3) & ~3;
}

/** struct nlmsghdr plus its payload. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

/** A datagram's message as received, with the multicast group mask it came on (0 = unicast). */
export interface ReceivedNetlinkMessage extends NetlinkMessage {
  /** sockaddr_nl.nl_groups of the sender: 1 << (group - 1) for a multicast, 0 for unicast. */
  groups: number;
}

/** One netlink attribute (struct nlattr + value). */
export interface NetlinkAttribute {
  type: number; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
  value: Buffer;
  offset: number; // byte offset of the nlattr header within the buffer parsed
}

/** A netlink wire decoding failure, with the byte offset of the bad field. */
export class NetlinkDecodeError extends Error {
  constructor(
    readonly offset: number,
    readonly rule: string,
    message: string,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'NetlinkDecodeError';
  }
}

/** The kernel refused a request: NLMSG_ERROR with a negative errno. */
export class NetlinkKernelError extends Error {
  constructor(
    readonly errno: number,
    readonly requestType: number,
    /** The kernel's extended ACK text (NLMSGERR_ATTR_MSG), if it gave one. */
    readonly extack: string | undefined,
  ) {
    super(`netlink request type ${requestType} failed: ${errnoName(errno)} (${errno})${extack ? `: ${extack}` : ''}`);
    this.name = 'NetlinkKernelError';
  }
}

/** A socket-level failure (socket/bind/setsockopt/sendto), with the C errno. */
export class NetlinkSystemError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: ${errnoName(errno)} (${errno})`);
    this.name = 'NetlinkSystemError';
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  4: 'EINTR',
  9: 'EBADF',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  17: 'EEXIST',
  19: 'ENODEV',
  22: 'EINVAL',
  28: 'ENOSPC',
  34: 'ERANGE',
  38: 'ENOSYS',
  90: 'EMSGSIZE',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  99: 'EADDRNOTAVAIL',
  105: 'ENOBUFS',
  110: 'ETIMEDOUT',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/* ---- wire helpers --------------------------------------------------------- */

/** Encode one nlmsghdr + payload (payload padded to 4). */
export function encodeNetlinkMessage(m: NetlinkMessage): Buffer {
  const len = NLMSG_HDRLEN + m.payload.length;
  const out = Buffer.alloc(nlAlign(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(m.type, 4);
  out.writeUInt16LE(m.flags, 6);
  out.writeUInt32LE(m.seq >>> 0, 8);
  out.writeUInt32LE(m.pid >>> 0, 12);
  m.payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/** Split a datagram into its netlink messages. */
export function decodeNetlinkMessages(buf: Buffer): NetlinkMessage[] | NetlinkDecodeError {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN) return new NetlinkDecodeError(off, 'nlmsg-len-short', `nlmsg_len ${len} is shorter than the 16-byte header`);
    if (off + len > buf.length)
      return new NetlinkDecodeError(off, 'nlmsg-len-overrun', `nlmsg_len ${len} runs past the end of the ${buf.length}-byte datagram`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += nlAlign(len);
  }
  if (off < buf.length && buf.length - off >= 4 && buf.subarray(off).some((b) => b !== 0))
    return new NetlinkDecodeError(off, 'nlmsg-trailing', `${buf.length - off} trailing bytes after the last netlink message`);
  return out;
}

/** Encode one attribute (header + value, padded to 4). */
export function encodeAttribute(type: number, value: Buffer): Buffer {
  const len = NLA_HDRLEN + value.length;
  const out = Buffer.alloc(nlAlign(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  value.copy(out, NLA_HDRLEN);
  return out;
}

/** Parse a run of attributes; `base` is added to offsets in errors and results. */
export function decodeAttributes(buf: Buffer, base = 0): NetlinkAttribute[] | NetlinkDecodeError {
  const out: NetlinkAttribute[] = [];
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < NLA_HDRLEN) return new NetlinkDecodeError(base + off, 'nla-len-short', `nla_len ${len} of attribute type ${type} is shorter than its header`);
    if (off + len > buf.length)
      return new NetlinkDecodeError(base + off, 'nla-len-overrun', `attribute type ${type} (nla_len ${len}) runs past the end of the message`);
    out.push({ type, value: buf.subarray(off + NLA_HDRLEN, off + len), offset: base + off });
    off += nlAlign(len);
  }
  return out;
}

/** Parse the body of an NLMSG_ERROR: errno (0 = ACK) and the extended ACK message. */
export function decodeNetlinkError(m: NetlinkMessage): { errno: number; origSeq: number; extack?: string } | NetlinkDecodeError {
  const p = m.payload;
  if (p.length < 4 + NLMSG_HDRLEN) return new NetlinkDecodeError(NLMSG_HDRLEN, 'nlmsgerr-short', `NLMSG_ERROR body of ${p.length} bytes is shorter than struct nlmsgerr (20)`);
  const errno = -p.readInt32LE(0);
  const origSeq = p.readUInt32LE(4 + 8);
  let extack: string | undefined;
  if (m.flags & NLM_F_ACK_TLVS) {
    const origLen = p.readUInt32LE(4);
    const tlvStart = 4 + (m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : nlAlign(origLen));
    const attrs = decodeAttributes(p.subarray(tlvStart), NLMSG_HDRLEN + tlvStart);
    if (!(attrs instanceof NetlinkDecodeError)) {
      const msg = attrs.find((a) => a.type === NLMSGERR_ATTR_MSG);
      if (msg) extack = msg.value.toString('utf8').replace(/\0+$/, '');
    }
  }
  return extack === undefined ? { errno, origSeq } : { errno, origSeq, extack };
}

/* ---- libc through koffi --------------------------------------------------- */

type IntFn0 = () => number;
interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  getsockname: (fd: number, addr: Buffer, len: Buffer) => number;
  setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
  sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, alen: number) => number;
  close: (fd: number) => number;
  open: (path: string, flags: number) => number;
  setns: (fd: number, nstype: number) => number;
  pipe2: (fds: Buffer, flags: number) => number;
  write: (fd: number, buf: Buffer, len: number) => number;
  errno: IntFn0;
}

let libcCache: Libc | undefined;
function libc(): Libc {
  if (libcCache) return libcCache;
  const lib = koffi.load('libc.so.6');
  libcCache = {
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    bind: lib.func('int bind(int, void *, uint32_t)') as Libc['bind'],
    getsockname: lib.func('int getsockname(int, void *, void *)') as Libc['getsockname'],
    setsockopt: lib.func('int setsockopt(int, int, int, void *, uint32_t)') as Libc['setsockopt'],
    sendto: lib.func('intptr_t sendto(int, void *, size_t, int, void *, uint32_t)') as Libc['sendto'],
    close: lib.func('int close(int)') as Libc['close'],
    open: lib.func('int open(const char *, int)') as Libc['open'],
    setns: lib.func('int setns(int, int)') as Libc['setns'],
    pipe2: lib.func('int pipe2(void *, int)') as Libc['pipe2'],
    write: lib.func('intptr_t write(int, void *, size_t)') as Libc['write'],
    errno: () => koffi.errno(),
  };
  return libcCache;
}

function check(call: string, rc: number): number {
  if (rc < 0) throw new NetlinkSystemError(call, libc().errno());
  return rc;
}

function sockaddrNl(pid: number, groups: number): Buffer {
  const sa = Buffer.alloc(12);
  sa.writeUInt16LE(AF_NETLINK, 0);
  sa.writeUInt32LE(pid >>> 0, 4);
  sa.writeUInt32LE(groups >>> 0, 8);
  return sa;
}

function setIntOpt(fd: number, level: number, name: number, value: number): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value, 0);
  check(`setsockopt(${level}, ${name})`, libc().setsockopt(fd, level, name, v, 4));
}

/** Run `fn` with the calling thread inside the named network namespace. */
function inNetns<T>(netns: string, fn: () => T): T {
  const c = libc();
  const path = netns.includes('/') ? netns : `/run/netns/${netns}`;
  const self = check('open(/proc/thread-self/ns/net)', c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC));
  try {
    const target = c.open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) throw new NetlinkSystemError(`open(${path})`, c.errno());
    try {
      check(`setns(${path})`, c.setns(target, CLONE_NEWNET));
      try {
        return fn();
      } finally {
        // Going back must not fail silently: the thread would stay in the namespace.
        if (c.setns(self, CLONE_NEWNET) < 0) throw new NetlinkSystemError('setns(back to own namespace)', c.errno());
      }
    } finally {
      c.close(target);
    }
  } finally {
    c.close(self);
  }
}

/* ---- receive worker -------------------------------------------------------- */

// Plain JavaScript run with `eval: true`, so it works the same from ts-jest and from dist/.
const RECEIVE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const poll = lib.func('int poll(void *, unsigned long, int)');
const recvfrom = lib.func('intptr_t recvfrom(int, void *, size_t, int, void *, void *)');
const read = lib.func('intptr_t read(int, void *, size_t)');
const fds = Buffer.alloc(16);
fds.writeInt32LE(workerData.fd, 0); fds.writeInt16LE(1, 4);
fds.writeInt32LE(workerData.wakeFd, 8); fds.writeInt16LE(1, 12);
const addr = Buffer.alloc(12);
const alen = Buffer.alloc(4);
const buf = Buffer.alloc(262144); // larger than any netlink dump skb (NLMSG_GOODSIZE is a page)
const EINTR = 4, EAGAIN = 11, ENOBUFS = 105;
for (;;) {
  fds.writeInt16LE(0, 6); fds.writeInt16LE(0, 14);
  const n = poll(fds, 2, -1);
  if (n < 0) { const e = koffi.errno(); if (e === EINTR) continue; parentPort.postMessage({ kind: 'error', call: 'poll', errno: e }); break; }
  if (fds.readInt16LE(14) !== 0) { const b = Buffer.alloc(1); read(workerData.wakeFd, b, 1); break; }
  if (fds.readInt16LE(6) === 0) continue;
  alen.writeUInt32LE(12, 0);
  const r = recvfrom(workerData.fd, buf, buf.length, 0x40 /* MSG_DONTWAIT */, addr, alen);
  if (r < 0) {
    const e = koffi.errno();
    if (e === EINTR || e === EAGAIN) continue;
    parentPort.postMessage({ kind: 'error', call: 'recvfrom', errno: e });
    if (e === ENOBUFS) continue;
    break;
  }
  const data = new Uint8Array(r);
  data.set(buf.subarray(0, r));
  parentPort.postMessage({ kind: 'datagram', data, groups: addr.readUInt32LE(8), from: addr.readUInt32LE(4) }, [data.buffer]);
}
`;

interface WorkerDatagram {
  kind: 'datagram';
  data: Uint8Array;
  groups: number;
  from: number;
}
interface WorkerError {
  kind: 'error';
  call: string;
  errno: number;
}
type WorkerReport = WorkerDatagram | WorkerError;

function isWorkerReport(v: unknown): v is WorkerReport {
  if (typeof v !== 'object' || v === null || !('kind' in v)) return false;
  return v.kind === 'datagram' || v.kind === 'error';
}

/* ---- the socket ------------------------------------------------------------ */

export interface NetlinkOpenOptions {
  protocol: number;
  /** Multicast groups to join (NETLINK_ADD_MEMBERSHIP, group numbers not masks). */
  groups?: number[];
  /** Create the socket inside this network namespace (name under /run/netns or a path). */
  netns?: string;
  /** SO_RCVBUF in bytes (SO_RCVBUFFORCE when root); default 1 MiB. */
  rcvbuf?: number;
}

interface Pending {
  requestType: number;
  dump: boolean;
  /** false: no NLM_F_ACK was asked for; the first reply completes the request. */
  ack: boolean;
  replies: ReceivedNetlinkMessage[];
  resolve: (msgs: ReceivedNetlinkMessage[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export type NetlinkEventListener = (msg: ReceivedNetlinkMessage) => void;

/**
 * A netlink socket with request/ACK matching by sequence number, multipart
 * dumps (NLM_F_MULTI ... NLMSG_DONE), NLMSG_ERROR → NetlinkKernelError, and
 * multicast events.
 */
export class NetlinkSocket {
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<NetlinkEventListener>();
  private readonly errorListeners = new Set<(err: Error) => void>();
  private closed = false;
  private readonly workerDone: Promise<void>;

  private constructor(
    readonly fd: number,
    /** The port id the kernel bound this socket to (nl_pid). */
    readonly portid: number,
    private readonly wakeFd: number,
    private readonly worker: Worker,
  ) {
    this.seq = (Date.now() & 0x7fffffff) >>> 0;
    worker.on('message', (m: unknown) => this.onWorker(m));
    worker.on('error', (e: Error) => this.emitError(e));
    this.workerDone = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  static open(opts: NetlinkOpenOptions): NetlinkSocket {
    const c = libc();
    const create = (): number => check('socket(AF_NETLINK)', c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, opts.protocol));
    const fd = opts.netns ? inNetns(opts.netns, create) : create();
    let wakeR = -1;
    let wakeW = -1;
    try {
      const rcvbuf = opts.rcvbuf ?? 1 << 20;
      // SO_RCVBUFFORCE (33) needs CAP_NET_ADMIN; fall back to SO_RCVBUF (8).
      const v = Buffer.alloc(4);
      v.writeInt32LE(rcvbuf, 0);
      if (c.setsockopt(fd, 1, 33, v, 4) < 0) check('setsockopt(SO_RCVBUF)', c.setsockopt(fd, 1, 8, v, 4));
      setIntOpt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      setIntOpt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      check('bind(AF_NETLINK)', c.bind(fd, sockaddrNl(0, 0), 12));
      for (const g of opts.groups ?? []) setIntOpt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
      const sa = Buffer.alloc(12);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(12, 0);
      check('getsockname', c.getsockname(fd, sa, len));
      const portid = sa.readUInt32LE(4);
      const pipe = Buffer.alloc(8);
      check('pipe2', c.pipe2(pipe, O_CLOEXEC));
      wakeR = pipe.readInt32LE(0);
      wakeW = pipe.readInt32LE(4);
      const worker = new Worker(RECEIVE_WORKER, {
        eval: true,
        workerData: { fd, wakeFd: wakeR, koffiPath: require.resolve('koffi') },
      });
      const sock = new NetlinkSocket(fd, portid, wakeW, worker);
      sock.wakeReadFd = wakeR;
      return sock;
    } catch (err) {
      c.close(fd);
      if (wakeR >= 0) c.close(wakeR);
      if (wakeW >= 0) c.close(wakeW);
      throw err;
    }
  }

  private wakeReadFd = -1;

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  /** Send a raw message (header fields other than len are taken from `m`). */
  sendRaw(m: NetlinkMessage): void {
    if (this.closed) throw new NetlinkSystemError('sendto', 9);
    const bytes = encodeNetlinkMessage(m);
    const rc = libc().sendto(this.fd, bytes, bytes.length, 0, sockaddrNl(0, 0), 12);
    if (rc < 0) throw new NetlinkSystemError('sendto', libc().errno());
  }

  /**
   * Send a request with NLM_F_REQUEST|NLM_F_ACK (or NLM_F_DUMP) and resolve with
   * every unicast reply carrying its sequence number (the ACK itself excluded).
   * With `ack: false` (a GET-style request answered by one message, as
   * iproute2 sends ALLOCSPI/GETSA/GETPOLICY) no ACK is asked for and the first
   * reply completes it. Rejects with NetlinkKernelError when the kernel
   * answers with an errno.
   */
  request(
    type: number,
    payload: Buffer,
    opts: { flags?: number; dump?: boolean; ack?: boolean; timeoutMs?: number; onSeq?: (seq: number) => void } = {},
  ): Promise<ReceivedNetlinkMessage[]> {
    const seq = this.nextSeq();
    // Told before sending, so that a caller can recognise multicast echoes of this request.
    opts.onSeq?.(seq);
    const dump = opts.dump ?? false;
    const ack = !dump && (opts.ack ?? true);
    const flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : ack ? NLM_F_ACK : 0) | (opts.flags ?? 0);
    return new Promise<ReceivedNetlinkMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new NetlinkSystemError(`netlink request type ${type} (seq ${seq}) timed out after ${opts.timeoutMs ?? 5000} ms; recv`, 110));
      }, opts.timeoutMs ?? 5000);
      this.pending.set(seq, { requestType: type, dump, ack, replies: [], resolve, reject, timer });
      try {
        this.sendRaw({ type, flags, seq, pid: this.portid, payload });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(seq);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Multicast messages and unsolicited unicast messages. */
  onEvent(listener: NetlinkEventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onError(listener: (err: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private emitError(err: Error): void {
    for (const l of this.errorListeners) l(err);
  }

  private onWorker(raw: unknown): void {
    if (!isWorkerReport(raw)) return;
    if (raw.kind === 'error') {
      this.emitError(new NetlinkSystemError(raw.call, raw.errno));
      return;
    }
    const buf = Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
    const msgs = decodeNetlinkMessages(buf);
    if (msgs instanceof NetlinkDecodeError) {
      this.emitError(msgs);
      return;
    }
    for (const m of msgs) this.dispatch({ ...m, groups: raw.groups });
  }

  private dispatch(m: ReceivedNetlinkMessage): void {
    const p = m.groups === 0 && m.pid === this.portid ? this.pending.get(m.seq) : undefined;
    if (!p) {
      for (const l of this.eventListeners) l(m);
      return;
    }
    if (m.type === NLMSG_ERROR) {
      const e = decodeNetlinkError(m);
      if (e instanceof NetlinkDecodeError) return this.finish(m.seq, p, e);
      if (e.errno === 0) return this.finish(m.seq, p, null);
      return this.finish(m.seq, p, new NetlinkKernelError(e.errno, p.requestType, e.extack));
    }
    if (m.type === NLMSG_DONE) {
      // A dump may end with a negative errno in the DONE body.
      if (m.payload.length >= 4 && m.payload.readInt32LE(0) < 0) {
        return this.finish(m.seq, p, new NetlinkKernelError(-m.payload.readInt32LE(0), p.requestType, undefined));
      }
      return this.finish(m.seq, p, null);
    }
    if (m.type === NLMSG_NOOP) return;
    if (m.type === NLMSG_OVERRUN) return this.finish(m.seq, p, new NetlinkSystemError('recv (NLMSG_OVERRUN)', 105));
    p.replies.push(m);
    if (!p.dump && !p.ack) this.finish(m.seq, p, null);
  }

  private finish(seq: number, p: Pending, err: Error | null): void {
    clearTimeout(p.timer);
    this.pending.delete(seq);
    if (err) p.reject(err);
    else p.resolve(p.replies);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = libc();
    c.write(this.wakeFd, Buffer.from([1]), 1);
    await Promise.race([this.workerDone, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
    await this.worker.terminate();
    c.close(this.fd);
    c.close(this.wakeFd);
    if (this.wakeReadFd >= 0) c.close(this.wakeReadFd);
    for (const [seq, p] of this.pending) this.finish(seq, p, new NetlinkSystemError('recv (socket closed)', 9));
  }
}
