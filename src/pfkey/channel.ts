/**
 * A PfKeySocket over any duplex message channel: the in-process link to the
 * embedded userspace kernel, and (via unix.ts) a unix stream connection.
 *
 * RFC 2367 §3.1: the sender stamps sadb_msg_pid with its own pid and picks
 * sadb_msg_seq; the kernel answers with the same type, seq and pid. request()
 * matches replies on exactly that triple. Broadcast copies of other sockets'
 * messages carry their pid, so they never resolve our requests.
 */
import type { PfKeySocket } from './socket';
import type { PfKeyMessage } from './types';

/** The message channel a ChannelPfKeySocket is built on. */
export interface PfKeyChannel {
  post(msg: PfKeyMessage): void;
  subscribe(cb: (msg: PfKeyMessage) => void): () => void;
  close(): Promise<void>;
  /** Optional: transport errors (malformed frames, socket errors). */
  subscribeErrors?(cb: (err: Error) => void): () => void;
  /** Optional: the far side went away; pending requests fail at once. */
  subscribeClosed?(cb: (reason?: Error) => void): () => void;
}

export class PfKeyTimeoutError extends Error {
  override readonly name = 'PfKeyTimeoutError';
  constructor(readonly request: { type: number; seq: number; pid: number }, readonly timeoutMs: number) {
    super(`no reply to PF_KEY message type ${request.type} seq ${request.seq} pid ${request.pid} within ${timeoutMs} ms`);
  }
}

export class PfKeyClosedError extends Error {
  override readonly name = 'PfKeyClosedError';
  constructor(message = 'PF_KEY socket is closed', readonly reason?: Error) {
    super(reason ? `${message}: ${reason.message}` : message);
  }
}

export interface ChannelSocketOptions {
  /** sadb_msg_pid stamped on every message sent (default process.pid). */
  pid?: number;
  /** Default request() timeout in ms (default 5000). */
  timeoutMs?: number;
  /** First sequence number handed out for messages sent with seq 0 (default 1). */
  firstSeq?: number;
}

interface Pending {
  resolve(msg: PfKeyMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class ChannelPfKeySocket implements PfKeySocket {
  readonly pid: number;
  private readonly timeoutMs: number;
  private nextSeq: number;
  private readonly pending = new Map<string, Pending[]>();
  private readonly listeners = new Set<(msg: PfKeyMessage) => void>();
  private readonly errorListeners = new Set<(err: Error) => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private closed: PfKeyClosedError | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly channel: PfKeyChannel,
    opts: ChannelSocketOptions = {},
  ) {
    this.pid = opts.pid ?? process.pid;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.nextSeq = opts.firstSeq ?? 1;
    if (!Number.isInteger(this.pid) || this.pid < 0 || this.pid > 0xffffffff) throw new RangeError(`pid ${this.pid} is not a u32`);
    this.unsubscribe.push(channel.subscribe((m) => this.deliver(m)));
    if (channel.subscribeErrors) this.unsubscribe.push(channel.subscribeErrors((e) => this.emitError(e)));
    if (channel.subscribeClosed) this.unsubscribe.push(channel.subscribeClosed((r) => this.peerClosed(r)));
  }

  /** Stamp our pid, and a fresh sequence number when the caller left seq at 0. */
  private stamp(msg: PfKeyMessage): PfKeyMessage {
    let seq = msg.seq;
    if (seq === 0) {
      seq = this.nextSeq;
      this.nextSeq = this.nextSeq >= 0xffffffff ? 1 : this.nextSeq + 1;
    }
    return { ...msg, seq, pid: this.pid };
  }

  send(msg: PfKeyMessage): void {
    if (this.closed) throw this.closed;
    this.channel.post(this.stamp(msg));
  }

  request(msg: PfKeyMessage, timeoutMs: number = this.timeoutMs): Promise<PfKeyMessage> {
    if (this.closed) return Promise.reject(this.closed);
    const out = this.stamp(msg);
    const key = `${out.type}:${out.seq}`;
    return new Promise<PfKeyMessage>((resolve, reject) => {
      const entry: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.dropPending(key, entry);
          reject(new PfKeyTimeoutError({ type: out.type, seq: out.seq, pid: out.pid }, timeoutMs));
        }, timeoutMs),
      };
      // registered before post(): an in-process kernel may answer synchronously
      const list = this.pending.get(key) ?? [];
      list.push(entry);
      this.pending.set(key, list);
      try {
        this.channel.post(out);
      } catch (e) {
        clearTimeout(entry.timer);
        this.dropPending(key, entry);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  onMessage(listener: (msg: PfKeyMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onError(listener: (err: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.shutdown(new PfKeyClosedError());
    this.closing = this.channel.close();
    return this.closing;
  }

  private deliver(msg: PfKeyMessage): void {
    if (this.closed) return;
    for (const l of [...this.listeners]) {
      try {
        l(msg);
      } catch (e) {
        this.emitError(e instanceof Error ? e : new Error(String(e)));
      }
    }
    if (msg.pid !== this.pid) return;
    const key = `${msg.type}:${msg.seq}`;
    const list = this.pending.get(key);
    const first = list?.shift();
    if (!first) return;
    if (list && list.length === 0) this.pending.delete(key);
    clearTimeout(first.timer);
    first.resolve(msg);
  }

  private emitError(err: Error): void {
    for (const l of [...this.errorListeners]) {
      try {
        l(err);
      } catch {
        // an error listener that throws has nowhere further to report to
      }
    }
  }

  private peerClosed(reason?: Error): void {
    if (this.closed) return;
    const err = new PfKeyClosedError('PF_KEY peer closed the connection', reason);
    this.shutdown(err);
    this.emitError(err);
  }

  private shutdown(err: PfKeyClosedError): void {
    if (this.closed) return;
    this.closed = err;
    for (const u of this.unsubscribe.splice(0)) u();
    for (const list of this.pending.values()) {
      for (const p of list) {
        clearTimeout(p.timer);
        p.reject(err);
      }
    }
    this.pending.clear();
  }

  private dropPending(key: string, entry: Pending): void {
    const list = this.pending.get(key);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.pending.delete(key);
  }
}
