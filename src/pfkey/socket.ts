/**
 * PfKeySocket: the one seam between key management and "the kernel".
 * The IKE engines, setkey, racoonctl and the tests all speak PF_KEYv2 through
 * it; which kernel is behind it (tanuki's userspace kernel over a unix socket
 * or in-process, Linux XFRM, AF_KEY) is chosen by the transport.
 *
 * Semantics follow RFC 2367 §1.2/§3: a request is answered on the sending
 * socket (errors as sadb_msg_errno); some messages are also broadcast
 * (ALL / REGISTERED / ONE) to other sockets; a promiscuous socket sees every
 * message any socket sends.
 */
import type { PfKeyMessage } from './types';

export type KernelBackendName = 'userspace' | 'xfrm' | 'af_key';

export interface PfKeySocket {
  /** The pid this socket stamps on its messages (sadb_msg_pid). */
  readonly pid: number;
  /** Send a message without waiting for a reply. */
  send(msg: PfKeyMessage): void;
  /**
   * Send a message and resolve with the kernel's reply to it (same type, seq
   * and pid). A reply carrying a non-zero errno resolves too: callers look at
   * msg.errno. Rejects only on transport failure or timeout.
   */
  request(msg: PfKeyMessage, timeoutMs?: number): Promise<PfKeyMessage>;
  /**
   * Every message that arrives on this socket: replies, broadcasts, ACQUIRE,
   * EXPIRE, MIGRATE... (replies to request() are delivered here too).
   */
  onMessage(listener: (msg: PfKeyMessage) => void): () => void;
  /** Transport errors and malformed messages from the kernel side. */
  onError(listener: (err: Error) => void): () => void;
  close(): Promise<void>;
}

/** Default place of the userspace kernel's socket. */
export const DEFAULT_PFKEY_SOCKET = '/run/tanuki/pfkey.sock';
export const PFKEY_SOCKET_ENV = 'TANUKI_PFKEY_SOCKET';
