/**
 * A minimal in-process PF_KEY kernel for the setkey CLI tests, answering the
 * way Linux af_key does for what setkey sends: replies to the sender,
 * ADD/DELETE/FLUSH/SPD* broadcast to all, DUMP replies numbered with the last
 * one seq 0 (ENOENT when empty), promiscuous sockets see every request.
 * Delivery is asynchronous (a microtask later), like a socket.
 * The real userspace kernel is src/kernel; this double only serves setkey's tests.
 */
import { Errno, IpsecDir, SadbMsgType, SadbSaState } from '../../src/pfkey/constants';
import type { PfKeySocket } from '../../src/pfkey/socket';
import type { PfKeyMessage } from '../../src/pfkey/types';

const clone = (m: PfKeyMessage): PfKeyMessage => structuredClone(m);

export class FakeKernel {
  readonly sockets = new Set<FakeSocket>();
  /** Every request any socket sent, in order. */
  readonly received: PfKeyMessage[] = [];
  sas: PfKeyMessage[] = [];
  sps: PfKeyMessage[] = [];
  private nextSpid = 1;
  now = 1_700_000_000;
  /** Answer X_PROMISC with EOPNOTSUPP, as a backend without promiscuous mode would. */
  refusePromisc = false;

  open(pid: number): FakeSocket {
    const s = new FakeSocket(this, pid);
    this.sockets.add(s);
    return s;
  }

  private deliver(to: FakeSocket, m: PfKeyMessage): void {
    const copy = clone(m);
    queueMicrotask(() => to.dispatch(copy));
  }
  private all(m: PfKeyMessage): void {
    for (const s of this.sockets) this.deliver(s, m);
  }
  private error(from: FakeSocket, m: PfKeyMessage, errno: number): void {
    this.deliver(from, { type: m.type, satype: m.satype, errno, seq: m.seq, pid: m.pid, ext: {} });
  }

  private saKey(m: PfKeyMessage): string {
    return `${m.satype}/${m.ext.addressDst?.addr.address}/${m.ext.sa?.spi}`;
  }
  private spKey(m: PfKeyMessage): string {
    const s = m.ext.addressSrc;
    const d = m.ext.addressDst;
    return `${m.ext.policy?.dir}/${s?.addr.address}/${s?.prefixlen}/${s?.addr.port}/${d?.addr.address}/${d?.prefixlen}/${d?.addr.port}/${s?.proto}`;
  }

  handle(from: FakeSocket, m: PfKeyMessage): void {
    this.received.push(clone(m));
    for (const s of this.sockets) if (s.promisc && s !== from) this.deliver(s, m);
    const reply = (x: PfKeyMessage) => this.deliver(from, x);
    switch (m.type) {
      case SadbMsgType.ADD: {
        if (this.sas.some((x) => this.saKey(x) === this.saKey(m))) return this.error(from, m, Errno.EEXIST);
        const stored = clone(m);
        stored.ext.sa = { ...m.ext.sa!, state: SadbSaState.MATURE };
        stored.ext.lifetimeCurrent = { allocations: 0, bytes: 0n, addtime: BigInt(this.now), usetime: 0n };
        this.sas.push(stored);
        const { keyAuth: _a, keyEncrypt: _e, ...ext } = m.ext;
        return this.all({ ...m, ext });
      }
      case SadbMsgType.GET: {
        const sa = this.sas.find((x) => this.saKey(x) === this.saKey(m));
        if (!sa) return this.error(from, m, Errno.ENOENT);
        return reply({ ...sa, type: SadbMsgType.GET, seq: m.seq, pid: m.pid });
      }
      case SadbMsgType.DELETE: {
        const i = this.sas.findIndex((x) => this.saKey(x) === this.saKey(m));
        if (i < 0) return this.error(from, m, Errno.ENOENT);
        this.sas.splice(i, 1);
        return this.all(m);
      }
      case SadbMsgType.DUMP: {
        const list = this.sas.filter((x) => m.satype === 0 || x.satype === m.satype);
        if (list.length === 0) return this.error(from, m, Errno.ENOENT);
        list.forEach((x, i) => reply({ ...x, type: SadbMsgType.DUMP, seq: i === list.length - 1 ? 0 : i + 1, pid: m.pid }));
        return;
      }
      case SadbMsgType.FLUSH:
        this.sas = this.sas.filter((x) => m.satype !== 0 && x.satype !== m.satype);
        return this.all(m);
      case SadbMsgType.GETSPI:
        return reply({ ...m, ext: { sa: { spi: 0xc0ffee, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 } } });
      case SadbMsgType.X_SPDADD:
      case SadbMsgType.X_SPDUPDATE: {
        const i = this.sps.findIndex((x) => this.spKey(x) === this.spKey(m));
        if (i >= 0 && m.type === SadbMsgType.X_SPDADD) return this.error(from, m, Errno.EEXIST);
        if (i < 0 && m.type === SadbMsgType.X_SPDUPDATE) return this.error(from, m, Errno.ENOENT);
        const dir = m.ext.policy!.dir;
        const id = (this.nextSpid++ << 3) | (dir === IpsecDir.INBOUND ? 0 : dir === IpsecDir.OUTBOUND ? 1 : 2);
        const stored = clone(m);
        stored.ext.policy = { ...m.ext.policy!, id };
        stored.ext.lifetimeCurrent = { allocations: 0, bytes: 0n, addtime: BigInt(this.now), usetime: 0n };
        stored.ext.lifetimeHard = { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n };
        if (i >= 0) this.sps[i] = stored;
        else this.sps.push(stored);
        return this.all({ ...stored, seq: m.seq, pid: m.pid });
      }
      case SadbMsgType.X_SPDDELETE: {
        const i = this.sps.findIndex((x) => this.spKey(x) === this.spKey(m));
        if (i < 0) return this.error(from, m, Errno.ENOENT);
        this.sps.splice(i, 1);
        return this.all(m);
      }
      case SadbMsgType.X_SPDDUMP: {
        if (this.sps.length === 0) return this.error(from, m, Errno.ENOENT);
        this.sps.forEach((x, i) => reply({ ...x, type: SadbMsgType.X_SPDDUMP, seq: i === this.sps.length - 1 ? 0 : i + 1, pid: m.pid, reserved: 1 }));
        return;
      }
      case SadbMsgType.X_SPDFLUSH:
        this.sps = [];
        return this.all(m);
      case SadbMsgType.X_PROMISC:
        if (this.refusePromisc) return this.error(from, m, Errno.EOPNOTSUPP);
        from.promisc = (m.satype as number) === 1;
        return this.all(m);
      case SadbMsgType.X_MIGRATE:
        return this.all(m);
      case SadbMsgType.REGISTER:
        return reply({ ...m, ext: {} });
      default:
        return this.error(from, m, Errno.EOPNOTSUPP);
    }
  }

  /** What the kernel itself raises (ACQUIRE, EXPIRE): to every socket. */
  broadcast(m: PfKeyMessage): void {
    this.all(m);
  }
}

export class FakeSocket implements PfKeySocket {
  promisc = false;
  closed = false;
  private seq = 1;
  private readonly listeners = new Set<(m: PfKeyMessage) => void>();
  private readonly waiters: { type: number; seq: number; resolve: (m: PfKeyMessage) => void }[] = [];

  constructor(
    private readonly kernel: FakeKernel,
    readonly pid: number,
  ) {}

  private stamp(m: PfKeyMessage): PfKeyMessage {
    return { ...m, pid: this.pid, seq: m.seq === 0 ? this.seq++ : m.seq };
  }

  send(msg: PfKeyMessage): void {
    this.kernel.handle(this, this.stamp(msg));
  }

  request(msg: PfKeyMessage, timeoutMs = 1000): Promise<PfKeyMessage> {
    const m = this.stamp(msg);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout waiting for ${m.type}`)), timeoutMs);
      this.waiters.push({
        type: m.type,
        seq: m.seq,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      this.kernel.handle(this, m);
    });
  }

  dispatch(m: PfKeyMessage): void {
    if (this.closed) return;
    for (const l of [...this.listeners]) l(m);
    if (m.pid !== this.pid) return;
    const i = this.waiters.findIndex((w) => w.type === m.type && w.seq === m.seq);
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
  }

  onMessage(listener: (m: PfKeyMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onError(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.kernel.sockets.delete(this);
  }
}
