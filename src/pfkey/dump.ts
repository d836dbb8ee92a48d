/**
 * Collecting a SADB_DUMP / SADB_X_SPDDUMP answer over any PfKeySocket.
 *
 * RFC 2367 §3.1.11 (SADB_DUMP): the kernel answers with one message per entry,
 * all carrying the requester's pid, and sadb_msg_seq counting down to 0 on
 * the last one (KAME key_dump and Linux af_key do the same for SPDDUMP). An
 * empty database is answered by a single message with sadb_msg_errno ENOENT.
 * Since dump replies do not carry the request's seq, only one dump of a given
 * type may be outstanding per socket (Linux returns EBUSY for a second one).
 */
import { Errno, SadbMsgType } from './constants';
import type { PfKeySocket } from './socket';
import type { PfKeyMessage } from './types';

export class PfKeyDumpError extends Error {
  override readonly name = 'PfKeyDumpError';
  constructor(
    message: string,
    /** sadb_msg_errno of the kernel's reply, 0 for a timeout. */
    readonly errno: number,
  ) {
    super(message);
  }
}

export interface DumpOptions {
  /** Longest wait for the next message of the dump, in ms (default 5000). */
  idleTimeoutMs?: number;
}

/**
 * Send a DUMP-style request (SADB_DUMP, SADB_X_SPDDUMP) and resolve with every
 * entry message, in arrival order. ENOENT resolves with [] (nothing to dump);
 * another errno rejects with PfKeyDumpError.
 */
export function collectDump(sock: PfKeySocket, request: PfKeyMessage, opts: DumpOptions = {}): Promise<PfKeyMessage[]> {
  const idle = opts.idleTimeoutMs ?? 5000;
  if (request.type !== SadbMsgType.DUMP && request.type !== SadbMsgType.X_SPDDUMP) {
    return Promise.reject(new RangeError(`collectDump needs SADB_DUMP or SADB_X_SPDDUMP, got type ${request.type}`));
  }
  return new Promise<PfKeyMessage[]>((resolve, reject) => {
    const entries: PfKeyMessage[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null): void => {
      if (timer) clearTimeout(timer);
      off();
      offErr();
      if (err) reject(err);
      else resolve(entries);
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(
        () => finish(new PfKeyDumpError(`dump type ${request.type}: no message for ${idle} ms after ${entries.length} entries`, 0)),
        idle,
      );
    };
    const off = sock.onMessage((m) => {
      if (m.type !== request.type || m.pid !== sock.pid) return;
      if (m.errno === Errno.ENOENT && entries.length === 0) return finish(null);
      if (m.errno !== 0) return finish(new PfKeyDumpError(`dump type ${request.type} failed with errno ${m.errno}`, m.errno));
      entries.push(m);
      if (m.seq === 0) finish(null);
      else arm();
    });
    const offErr = sock.onError((e) => {
      if (e.name === 'PfKeyClosedError') finish(e);
    });
    arm();
    try {
      sock.send(request);
    } catch (e) {
      finish(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
