/**
 * The in-process link to an embedded UserspaceKernel as a PfKeyChannel, so
 * that ChannelPfKeySocket (pfkey/channel.ts) is the one PfKeySocket
 * implementation for both the unix socket and the embedded kernel.
 * Deliveries are asynchronous (a microtask later) and every message crossing
 * the link is copied, as if it had gone through a socket.
 */
import type { PfKeyChannel } from '../../pfkey/channel';
import type { PfKeyMessage } from '../../pfkey/types';
import { deepCopy } from '../../sadb/sadb';
import type { KernelEndpoint, UserspaceKernel } from './kernel';

export interface KernelChannel extends PfKeyChannel {
  /** The kernel-side socket (registration and promiscuous state, for tests and diagnostics). */
  readonly endpoint: KernelEndpoint;
}

export function kernelChannel(kernel: UserspaceKernel): KernelChannel {
  const listeners = new Set<(msg: PfKeyMessage) => void>();
  const closeListeners = new Set<(reason?: Error) => void>();
  let closed = false;
  const endpoint = kernel.attach((msg) => {
    const copy = deepCopy(msg);
    queueMicrotask(() => {
      if (closed) return;
      for (const l of [...listeners]) l(copy);
    });
  });
  return {
    endpoint,
    post(msg) {
      if (closed) throw new Error('PF_KEY channel to the embedded kernel is closed');
      endpoint.send(deepCopy(msg));
    },
    subscribe(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    subscribeClosed(cb) {
      closeListeners.add(cb);
      return () => closeListeners.delete(cb);
    },
    async close() {
      closed = true;
      endpoint.close();
    },
  };
}
