/**
 * PF_KEYv2 over a unix SOCK_STREAM connection: the wire format of codec.ts,
 * cut into messages by framing.ts. connectUnixPfKey is the client side every
 * tool uses to reach `tanuki-kernel` (or a racoon hosting the kernel);
 * createStreamChannel is the same channel over any connected stream, so the
 * kernel's server can wrap each accepted connection with it.
 */
import { createConnection, type Socket } from 'node:net';
import { ChannelPfKeySocket, PfKeyClosedError, type PfKeyChannel } from './channel';
import { decodeMessage, encodeMessage } from './codec';
import { PfKeyFramer } from './framing';
import type { PfKeySocket } from './socket';
import type { PfKeyDecodeError, PfKeyMessage } from './types';

/** Nothing listens at the socket path. */
export class PfKeyNoKernelError extends Error {
  override readonly name = 'PfKeyNoKernelError';
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`no tanuki kernel at ${path}: start \`tanuki-kernel\` or racoon`);
  }
}

/** A well-framed message that did not decode; the stream carries on. */
export class PfKeyMalformedMessageError extends Error {
  override readonly name = 'PfKeyMalformedMessageError';
  constructor(
    readonly decodeError: PfKeyDecodeError,
    readonly bytes: Buffer,
  ) {
    super(`malformed PF_KEY message (${decodeError.rule} at offset ${decodeError.offset}): ${decodeError.message}`);
  }
}

export interface StreamChannelOptions {
  maxMessageSize?: number;
  /** Decode warnings (unknown extensions, trailing bytes), e.g. to pino. */
  onWarning?: (warning: string, msg: PfKeyMessage) => void;
}

/**
 * A PfKeyChannel over a connected stream socket. Malformed messages are
 * reported as errors and skipped; a framing error (garbage) destroys the
 * connection, as framing.ts documents.
 */
export function createStreamChannel(sock: Socket, opts: StreamChannelOptions = {}): PfKeyChannel {
  const framer = new PfKeyFramer({ maxMessageSize: opts.maxMessageSize });
  const msgListeners = new Set<(msg: PfKeyMessage) => void>();
  const errListeners = new Set<(err: Error) => void>();
  const closeListeners = new Set<(reason?: Error) => void>();
  let closedByUs = false;
  let lastError: Error | undefined;
  const emitError = (e: Error): void => {
    lastError = e;
    for (const l of [...errListeners]) l(e);
  };

  sock.on('data', (chunk: Buffer) => {
    const { messages, error } = framer.push(chunk);
    for (const bytes of messages) {
      const r = decodeMessage(bytes);
      if (!r.ok) {
        emitError(new PfKeyMalformedMessageError(r.error, bytes));
        continue;
      }
      for (const w of r.warnings) opts.onWarning?.(w, r.msg);
      for (const l of [...msgListeners]) l(r.msg);
    }
    if (error) {
      emitError(error);
      sock.destroy();
    }
  });
  sock.on('end', () => {
    const e = framer.end();
    if (e) emitError(e);
  });
  sock.on('error', (e) => emitError(e));
  sock.on('close', () => {
    if (closedByUs) return;
    for (const l of [...closeListeners]) l(lastError);
  });

  return {
    post(msg) {
      if (sock.destroyed || !sock.writable) throw new PfKeyClosedError('PF_KEY connection is closed');
      sock.write(encodeMessage(msg)); // PfKeyEncodeError propagates to the caller before anything is written
    },
    subscribe(cb) {
      msgListeners.add(cb);
      return () => msgListeners.delete(cb);
    },
    subscribeErrors(cb) {
      errListeners.add(cb);
      return () => errListeners.delete(cb);
    },
    subscribeClosed(cb) {
      closeListeners.add(cb);
      return () => closeListeners.delete(cb);
    },
    close() {
      closedByUs = true;
      if (sock.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        sock.once('close', () => resolve());
        sock.end();
        // a peer that never closes its side must not hold us up
        setTimeout(() => sock.destroy(), 1000).unref();
      });
    },
  };
}

export interface UnixPfKeyOptions {
  /** sadb_msg_pid for this socket (default process.pid). */
  pid?: number;
  /** Default request() timeout in ms (default 5000). */
  timeoutMs?: number;
  maxMessageSize?: number;
  onWarning?: (warning: string, msg: PfKeyMessage) => void;
}

/** Connect to a userspace kernel's unix socket. Rejects with PfKeyNoKernelError when nothing listens there. */
export function connectUnixPfKey(path: string, opts: UnixPfKeyOptions = {}): Promise<PfKeySocket> {
  return new Promise<PfKeySocket>((resolve, reject) => {
    const sock = createConnection({ path });
    const onError = (e: NodeJS.ErrnoException): void => {
      const code = e.code ?? 'EUNKNOWN';
      sock.destroy();
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK') reject(new PfKeyNoKernelError(path, code));
      else reject(new Error(`cannot connect to the tanuki kernel at ${path}: ${e.message}`));
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      const channel = createStreamChannel(sock, { maxMessageSize: opts.maxMessageSize, onWarning: opts.onWarning });
      resolve(new ChannelPfKeySocket(channel, { pid: opts.pid, timeoutMs: opts.timeoutMs }));
    });
  });
}
