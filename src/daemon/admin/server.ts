/**
 * The admin socket: racoon's ADMIN_* protocol on an AF_UNIX stream socket
 * (one request per connection; ADMIN_SHOW_EVT and a successful versioned
 * ESTABLISH_SA keep the connection open and stream events).
 */
import { chmodSync, chownSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  ADMIN_COM_LEN,
  AdminCmd,
  AdminProto,
  AdminWireError,
  decodeAdminCom,
  decodeIndexes,
  decodePsk,
  decodeRequest,
  encodeEventFrame,
  encodeReply,
  type AdminIndexes,
  type AdminPsk,
  type AdminRequest,
  type EvtAsync,
} from './wire';

/** errno values racoon puts in ac_errno. */
export const AdminErrno = { OK: 0, ENOENT: 2, EEXIST: 17, EINVAL: 22, ENOTSUP: 95, ENOMEM: 12, FAILURE: -1 } as const;

/** What the daemon does for each admin command. Each returns an errno (0 = success). */
export interface AdminHandler {
  reloadConfig(): Promise<number>;
  /** ISAKMP: concatenated ph1dump rows; IPSEC/AH/ESP: concatenated SADB_DUMP PF_KEY messages. */
  showSa(proto: number): Promise<{ errno: number; payload?: Buffer }>;
  flushSa(proto: number): Promise<number>;
  deleteSa(proto: number, ix: AdminIndexes): Promise<number>;
  /** `established` tells whether the handle already existed (EEXIST) or was started (0). */
  establishSa(proto: number, ix: AdminIndexes, opts: { remoteName?: string; psk?: AdminPsk }): Promise<number>;
  deleteAllSaDst(ix: AdminIndexes): Promise<number>;
  logoutUser(login: string): Promise<number>;
  getSaCert(ix: AdminIndexes): Promise<{ errno: number; payload?: Buffer }>;
  /** scheddump rows; racoon answers an empty schedule with ac_errno -1. */
  showSchedule(): Promise<{ errno: number; payload?: Buffer }>;
  status(verbose: boolean, json: boolean): Promise<string>;
  /** Subscribe to daemon events (phase 1/2 up/down...). */
  onEvent(listener: (e: EvtAsync) => void): () => void;
}

export interface AdminSocketOptions {
  path: string;
  /** Owner uid / gid and mode as `adminsock "path" "owner" "group" MODE`; default root, 0600. */
  uid?: number;
  gid?: number;
  mode?: number;
  maxRequestBytes?: number;
}

export interface AdminSocketLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

/** Serve the admin protocol; resolves once listening. */
export async function startAdminSocket(
  opts: AdminSocketOptions,
  handler: AdminHandler,
  log: AdminSocketLog,
): Promise<{ server: Server; close(): Promise<void> }> {
  mkdirSync(dirname(opts.path), { recursive: true });
  if (existsSync(opts.path)) unlinkSync(opts.path);
  const streams = new Set<Socket>();
  const server = createServer((conn) => serveConnection(conn, handler, log, opts.maxRequestBytes ?? 0xffff, streams));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(opts.path, opts.mode ?? 0o600);
  if (opts.uid !== undefined || opts.gid !== undefined) chownSync(opts.path, opts.uid ?? 0, opts.gid ?? 0);
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.close(() => {
          try {
            if (existsSync(opts.path)) unlinkSync(opts.path);
          } catch {
            // after privsep the socket's directory may not be writable by us any more
          }
          resolve();
        });
      }),
  };
}

function serveConnection(
  conn: Socket,
  handler: AdminHandler,
  log: AdminSocketLog,
  maxRequestBytes: number,
  streams: Set<Socket>,
): void {
  let buf = Buffer.alloc(0);
  let done = false;
  conn.on('error', () => conn.destroy());
  conn.on('data', (chunk: Buffer) => {
    if (done) return;
    buf = Buffer.concat([buf, chunk]);
    if (buf.length < ADMIN_COM_LEN) return;
    const need = decodeAdminCom(buf).len;
    if (need < ADMIN_COM_LEN || need > maxRequestBytes) {
      done = true;
      log.warn({ ac_len: need }, 'admin: invalid request length');
      conn.end(encodeReply(decodeAdminCom(buf).cmd & 0x7fff, 0, AdminErrno.EINVAL));
      return;
    }
    if (buf.length < need) return;
    done = true;
    let req: AdminRequest;
    try {
      req = decodeRequest(buf.subarray(0, need));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'admin: malformed request');
      conn.end(encodeReply(0, 0, AdminErrno.EINVAL));
      return;
    }
    dispatch(req, handler).then(
      (reply) => {
        conn.write(reply.frame);
        if (reply.stream && req.version >= 1) {
          streams.add(conn);
          const off = handler.onEvent((e) => conn.write(encodeEventFrame(e)));
          conn.on('close', () => {
            off();
            streams.delete(conn);
          });
        } else {
          conn.end();
        }
      },
      (err: unknown) => {
        log.warn({ cmd: req.cmd, err: (err as Error).message }, 'admin: command failed');
        conn.end(encodeReply(req.cmd, req.proto, AdminErrno.FAILURE));
      },
    );
  });
}

interface DispatchResult {
  frame: Buffer;
  stream: boolean;
}

function indexes(req: AdminRequest): AdminIndexes {
  return decodeIndexes(req.payload);
}

async function dispatch(req: AdminRequest, h: AdminHandler): Promise<DispatchResult> {
  const reply = (errno: number, payload?: Buffer, stream = false): DispatchResult => ({
    frame: encodeReply(req.cmd, req.proto, errno, payload),
    stream,
  });
  try {
    switch (req.cmd) {
      case AdminCmd.RELOAD_CONF:
        return reply(await h.reloadConfig());
      case AdminCmd.SHOW_SCHED: {
        const r = await h.showSchedule();
        return reply(r.errno, r.payload);
      }
      case AdminCmd.SHOW_EVT:
        return reply(0, undefined, true);
      case AdminCmd.SHOW_SA: {
        if (req.proto === AdminProto.INTERNAL) return reply(AdminErrno.ENOTSUP);
        const r = await h.showSa(req.proto);
        return reply(r.errno, r.payload);
      }
      case AdminCmd.FLUSH_SA:
        return reply(await h.flushSa(req.proto));
      case AdminCmd.STATUS:
      case AdminCmd.STATUS_VERBOSE: {
        const text = await h.status(req.cmd === AdminCmd.STATUS_VERBOSE, req.proto === 1);
        return reply(0, Buffer.from(text, 'utf8'));
      }
      case AdminCmd.DELETE_SA:
        return reply(await h.deleteSa(req.proto, indexes(req)));
      case AdminCmd.ESTABLISH_SA: {
        const ix = indexes(req);
        const tail = req.payload.subarray(264);
        const nul = tail.indexOf(0);
        const remoteName = tail.length > 0 ? tail.subarray(0, nul < 0 ? tail.length : nul).toString('utf8') : undefined;
        const errno = await h.establishSa(req.proto, ix, remoteName ? { remoteName } : {});
        return reply(errno, undefined, errno === 0 || errno === AdminErrno.EEXIST);
      }
      case AdminCmd.ESTABLISH_SA_PSK: {
        const ix = indexes(req);
        const psk = decodePsk(req.payload, 264);
        const errno = await h.establishSa(req.proto, ix, { psk });
        return reply(errno, undefined, errno === 0 || errno === AdminErrno.EEXIST);
      }
      case AdminCmd.DELETE_ALL_SA_DST:
        return reply(await h.deleteAllSaDst(indexes(req)));
      case AdminCmd.LOGOUT_USER: {
        const nul = req.payload.indexOf(0);
        return reply(await h.logoutUser(req.payload.subarray(0, nul < 0 ? req.payload.length : nul).toString('utf8')));
      }
      case AdminCmd.GET_SA_CERT: {
        const r = await h.getSaCert(indexes(req));
        return reply(r.errno, r.payload);
      }
      default:
        return reply(AdminErrno.ENOTSUP);
    }
  } catch (err) {
    if (err instanceof AdminWireError) return reply(AdminErrno.EINVAL);
    throw err;
  }
}
