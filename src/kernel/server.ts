/**
 * Serving the userspace kernel to other processes: one unix SOCK_STREAM
 * connection is one PF_KEY socket (RFC 2367 §3 semantics come from
 * UserspaceKernel). Bytes are cut into messages by sadb_msg_len
 * (pfkey/framing.ts) and decoded by the one codec (pfkey/codec.ts).
 *
 * - A well-framed message that does not decode is answered with EINVAL on
 *   that connection (header taken as sent, as af_key pfkey_error does) and
 *   changes nothing.
 * - Garbage that breaks the framing closes that connection (the stream has
 *   no boundaries left to trust); other connections are not affected.
 * - The socket file is created mode 0600 in a directory created if missing;
 *   a stale socket file (nothing listening) is replaced, a live one is an
 *   error ("already running").
 */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import { Errno, SADB_MSG_LEN } from '../pfkey/constants';
import { decodeMessage, encodeMessage, peekHeader } from '../pfkey/codec';
import { PfKeyFramer } from '../pfkey/framing';
import type { PfKeyMessage } from '../pfkey/types';
import type { UserspaceKernel } from './userspace/kernel';

export class KernelAlreadyRunningError extends Error {
  override readonly name = 'KernelAlreadyRunningError';
  constructor(readonly path: string) {
    super(`a tanuki kernel is already running at ${path}`);
  }
}

export interface PfKeyServerOptions {
  socketPath: string;
  kernel: UserspaceKernel;
  log?: Logger;
}

/** Is something accepting connections at this unix socket path? */
export function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) {
      resolve(false);
      return;
    }
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      probe.destroy();
      resolve(false);
    });
  });
}

/**
 * The answer to a message that does not decode, as af_key pfkey_error()
 * builds it: the sender's own 16-byte sadb_msg header (whatever its type or
 * satype, which the codec may refuse to encode), sadb_msg_errno = EINVAL,
 * sadb_msg_len = 2 (the header alone). Offsets are RFC 2367 §2.3.1's.
 */
export function malformedReply(bytes: Uint8Array): Buffer {
  const reply = Buffer.from(bytes.subarray(0, SADB_MSG_LEN));
  reply.writeUInt8(Errno.EINVAL, 2); // sadb_msg_errno
  reply.writeUInt16LE(SADB_MSG_LEN / 8, 4); // sadb_msg_len in 64-bit words
  return reply;
}

export class PfKeyServer {
  private readonly connections = new Set<Socket>();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly socketPath: string,
    private readonly server: Server,
    private readonly kernel: UserspaceKernel,
    private readonly log: Logger,
  ) {}

  /** Listen on socketPath. Rejects with KernelAlreadyRunningError if a kernel answers there. */
  static async listen(opts: PfKeyServerOptions): Promise<PfKeyServer> {
    const log = opts.log ?? pino({ level: 'silent' });
    const path = opts.socketPath;
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    if (await socketIsLive(path)) throw new KernelAlreadyRunningError(path);
    if (existsSync(path)) {
      log.info({ socket: path }, 'removing stale PF_KEY socket');
      unlinkSync(path);
    }
    const server = createServer();
    const self = new PfKeyServer(path, server, opts.kernel, log);
    server.on('connection', (sock) => self.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    server.on('error', (err) => log.error({ err }, 'PF_KEY server error'));
    log.info({ socket: path }, 'PF_KEY kernel listening');
    return self;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(sock: Socket): void {
    this.connections.add(sock);
    const framer = new PfKeyFramer();
    const endpoint = this.kernel.attach((msg: PfKeyMessage) => {
      if (sock.destroyed || !sock.writable) return;
      let bytes: Buffer;
      try {
        bytes = encodeMessage(msg);
      } catch (err) {
        this.log.error({ socket: endpoint.id, err, type: msg.type }, 'cannot encode a kernel message');
        return;
      }
      sock.write(bytes);
    });
    const log = this.log.child({ socket: endpoint.id });
    log.debug('PF_KEY client connected');
    sock.on('data', (chunk: Buffer) => {
      const { messages, error } = framer.push(chunk);
      for (const bytes of messages) {
        const r = decodeMessage(bytes);
        if (r.ok) {
          for (const w of r.warnings) log.debug({ warning: w, type: r.msg.type, seq: r.msg.seq }, 'PF_KEY decode warning');
          endpoint.send(r.msg);
          continue;
        }
        log.warn({ rule: r.error.rule, offset: r.error.offset, reason: r.error.message }, 'malformed PF_KEY message');
        if (peekHeader(bytes)) sock.write(malformedReply(bytes));
      }
      if (error) {
        log.warn({ rule: error.rule, offset: error.offset, reason: error.message }, 'PF_KEY stream broken, closing the connection');
        sock.destroy();
      }
    });
    sock.on('error', (err) => log.debug({ err }, 'PF_KEY connection error'));
    sock.on('close', () => {
      endpoint.close();
      this.connections.delete(sock);
      log.debug('PF_KEY client disconnected');
    });
  }

  /** Stop listening, drop every connection and remove the socket file. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      for (const sock of this.connections) sock.destroy();
      this.server.close(() => {
        try {
          if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
        } catch (err) {
          this.log.warn({ err, socket: this.socketPath }, 'cannot remove PF_KEY socket');
        }
        resolve();
      });
    });
    return this.closing;
  }
}
