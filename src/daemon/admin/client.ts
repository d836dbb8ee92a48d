/**
 * Client side of the admin socket, as racoonctl uses it: one connection per
 * request, read the reply, optionally keep reading pushed events.
 */
import { createConnection } from 'node:net';
import { ADMIN_COM_LEN, AdminCmd, decodeEvtAsync, decodeReplyHeader, type AdminReply, type EvtAsync } from './wire';

export interface AdminResponse extends AdminReply {
  payload: Buffer;
}

export class AdminClientError extends Error {
  override readonly name = 'AdminClientError';
}

export interface AdminCallOptions {
  timeoutMs?: number;
  /** After a successful reply, keep reading events until this returns true. */
  untilEvent?: (e: EvtAsync) => boolean;
}

export function adminCall(path: string, request: Buffer, opts: AdminCallOptions = {}): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = Buffer.alloc(0);
    let reply: AdminResponse | null = null;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new AdminClientError(`no answer from ${path} within ${opts.timeoutMs ?? 10000} ms`));
    }, opts.timeoutMs ?? 10000);
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else if (reply) resolve(reply);
      else reject(new AdminClientError(`${path} closed the connection before replying`));
    };
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `racoon is not running (no admin socket at ${path})` : err.message;
      finish(new AdminClientError(why));
    });
    sock.on('connect', () => sock.write(request));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length < ADMIN_COM_LEN) return;
        const h = decodeReplyHeader(buf);
        if (buf.length < h.totalLen) return;
        const payload = Buffer.from(buf.subarray(ADMIN_COM_LEN, h.totalLen));
        buf = buf.subarray(h.totalLen);
        if (!reply) {
          reply = { ...h, payload };
          if (!opts.untilEvent || h.errno !== 0) return finish(null);
          continue;
        }
        if (h.cmd === AdminCmd.SHOW_EVT && opts.untilEvent?.(decodeEvtAsync(payload))) return finish(null);
      }
    });
    sock.on('end', () => finish(null));
  });
}
