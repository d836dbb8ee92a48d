/**
 * A PfKeySocket attached directly to an in-process UserspaceKernel: no
 * codec, no unix socket. Used when the kernel is embedded (racoon, tests).
 * Messages are delivered asynchronously (a microtask later), as a real
 * socket would, and each listener gets its own copy.
 */
import { deepCopy } from '../../sadb/sadb';
import type { PfKeySocket } from '../../pfkey/socket';
import type { PfKeyMessage } from '../../pfkey/types';
import type { KernelEndpoint, UserspaceKernel } from './kernel';

export class PfKeyTimeoutError extends Error {
  constructor(readonly msg: { type: number; seq: number }, timeoutMs: number) {
    super(`no reply to PF_KEY message type ${msg.type} seq ${msg.seq} within ${timeoutMs} ms`);
    this.name = 'PfKeyTimeoutError';
  }
}

interface Waiter {
  type: number;
  seq: number;
  pid: number;
  resolve: (m: PfKeyMessage) => void;
}

export class LocalPfKeySocket implements PfKeySocket {
  private readonly endpoint: KernelEndpoint;
  private readonly listeners = new Set<(msg: PfKeyMessage) => void>();
  private readonly errorListeners = new Set<(err: Error) => void>();
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  constructor(
    kernel: UserspaceKernel,
    readonly pid: number = process.pid,
  ) {
    this.endpoint = kernel.attach((msg) => {
      const copy = deepCopy(msg);
      queueMicrotask(() => this.dispatch(copy));
    });
  }

  /** The kernel-side endpoint (tests look at registration and promiscuous state). */
  get kernelEndpoint(): KernelEndpoint {
    return this.endpoint;
  }

  private dispatch(msg: PfKeyMessage): void {
    if (this.closed) return;
    for (const w of [...this.waiters]) {
      if (w.type === msg.type && w.seq === msg.seq && w.pid === msg.pid) {
        this.waiters.delete(w);
        w.resolve(msg);
        break;
      }
    }
    for (const l of [...this.listeners]) l(msg);
  }

  send(msg: PfKeyMessage): void {
    if (this.closed) throw new Error('PF_KEY socket is closed');
    this.endpoint.send(deepCopy(msg));
  }

  request(msg: PfKeyMessage, timeoutMs = 5000): Promise<PfKeyMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new PfKeyTimeoutError(msg, timeoutMs));
      }, timeoutMs);
      const waiter: Waiter = {
        type: msg.type,
        seq: msg.seq,
        pid: msg.pid,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.add(waiter);
      try {
        this.send(msg);
      } catch (err) {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        reject(err instanceof Error ? err : new Error(String(err)));
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.endpoint.close();
  }
}
