/**
 * Talking to the racoon under test without spawning a process per question:
 * its embedded userspace kernel's PF_KEY unix socket (policies in, SA dumps
 * out), its admin socket (racoonctl's wire format: establish-sa, delete-sa,
 * show-sa isakmp) and its data plane's control socket (the `--host` pings).
 * All three are filesystem sockets, reachable from the harness's own network
 * namespace while racoon runs in the lab's.
 */
import { AdminCmd, AdminProto, decodePh1Dump, encodeIndexes, encodeRequest, PH1DUMP_LEN } from '../daemon/admin/wire';
import { adminCall } from '../daemon/admin/client';
import { connectUnixPfKey } from '../pfkey/unix';
import type { PfKeySocket } from '../pfkey/socket';
import type { PfKeyMessage, SockAddr } from '../pfkey/types';
import { SadbMsgType, SadbSaType } from '../pfkey/constants';
import { collectDump } from '../pfkey/dump';
import { compileSetkeyScript } from '../config/setkey/compile';
import { parseSetkeyScript } from '../config/setkey/parser';
import { formatSadump } from '../config/setkey/dump';
import { controlRequest } from '../kernel/dataplane/control';
import type { TanukiSa } from './evidence';

export class TanukiControlError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`${step}: ${message}`);
    this.name = 'TanukiControlError';
  }
}

const STATE_NAMES = ['larval', 'mature', 'dying', 'dead'];

/** One SA of a PF_KEY SADB_DUMP, as the verdict needs it (state, SPI, ends, counters). */
export function tanukiSaOf(m: PfKeyMessage): TanukiSa | null {
  const sa = m.ext.sa;
  const src = m.ext.addressSrc;
  const dst = m.ext.addressDst;
  if (!sa || !src || !dst) return null;
  return {
    src: src.addr.address,
    dst: dst.addr.address,
    udpEncap: m.ext.natTType !== undefined,
    mode: m.ext.sa2 ? ['any', 'transport', 'tunnel'][m.ext.sa2.mode] ?? String(m.ext.sa2.mode) : 'any',
    spi: sa.spi >>> 0,
    state: STATE_NAMES[sa.state] ?? String(sa.state),
    encrypt: String(sa.encrypt),
    auth: String(sa.auth),
    bytes: Number(m.ext.lifetimeCurrent?.bytes ?? 0n),
    packets: m.ext.lifetimeCurrent?.allocations ?? 0,
  };
}

/** A row of racoon's `show-sa isakmp` (ph1dump): the IKE SPIs as "cookies". */
export interface Phase1Row {
  readonly cookies: string;
  readonly local: string;
  readonly remote: string;
  readonly established: boolean;
  readonly version: number;
}

export interface PingResult {
  readonly sent: number;
  readonly received: number;
}

export class TanukiControl {
  private seq = 1;
  private constructor(
    private readonly pfkey: PfKeySocket,
    readonly adminSocket: string,
    readonly dataplaneSocket: string,
  ) {}

  static async connect(pfkeySocket: string, adminSocket: string): Promise<TanukiControl> {
    return new TanukiControl(await connectUnixPfKey(pfkeySocket, { timeoutMs: 5000 }), adminSocket, `${pfkeySocket}.dp`);
  }

  /** setkey -c: the same parser and compiler as tanuki's setkey, sent on our PF_KEY socket. */
  async loadPolicies(script: string): Promise<void> {
    const parsed = parseSetkeyScript(script, { file: 'setkey.conf' });
    if (!parsed.ok) throw new TanukiControlError('setkey.conf', parsed.error.message);
    const c = await compileSetkeyScript(parsed.commands, { file: 'setkey.conf', rfcMode: true, pid: this.pfkey.pid });
    if (!c.ok) throw new TanukiControlError('setkey.conf', c.error.message);
    for (const st of c.steps) {
      if (st.kind !== 'send') continue;
      for (const m of st.messages) {
        const reply = await this.pfkey.request({ ...m, pid: this.pfkey.pid, seq: this.seq++ });
        if (reply.errno !== 0) throw new TanukiControlError('setkey.conf', `line ${st.line}: ${SadbMsgType[m.type]} failed with errno ${reply.errno}`);
      }
    }
  }

  /** SADB_DUMP of ESP SAs (setkey -D). */
  async dump(): Promise<PfKeyMessage[]> {
    return collectDump(this.pfkey, { type: SadbMsgType.DUMP, satype: SadbSaType.ESP, errno: 0, seq: this.seq++, pid: this.pfkey.pid, ext: {} });
  }

  async sas(): Promise<TanukiSa[]> {
    return (await this.dump()).map(tanukiSaOf).filter((x): x is TanukiSa => x !== null);
  }

  /** The dump in setkey -D layout, for the results folder. */
  async dumpText(): Promise<string> {
    return (await this.dump()).map((m) => formatSadump(m, { withPorts: true })).join('');
  }

  private async admin(cmd: AdminCmd, proto: number, payload?: Buffer): Promise<{ errno: number; payload: Buffer }> {
    const r = await adminCall(this.adminSocket, encodeRequest(cmd, proto, payload), { timeoutMs: 5000 });
    return { errno: r.errno, payload: r.payload };
  }

  private static ix(src: string, dst: string): Buffer {
    const a = (address: string): SockAddr => ({ family: address.includes(':') ? 10 : 2, address, port: 0 });
    const bits = src.includes(':') ? 128 : 32;
    return encodeIndexes({ prefs: bits, prefd: bits, ulProto: 255, src: a(src), dst: a(dst) });
  }

  /** racoonctl establish-sa isakmp inet SRC DST; returns racoon's errno (0 = started). */
  async establish(src: string, dst: string): Promise<number> {
    return (await this.admin(AdminCmd.ESTABLISH_SA, AdminProto.ISAKMP, TanukiControl.ix(src, dst))).errno;
  }

  /** racoonctl delete-sa isakmp inet SRC DST. */
  async deleteIsakmp(src: string, dst: string): Promise<number> {
    return (await this.admin(AdminCmd.DELETE_SA, AdminProto.ISAKMP, TanukiControl.ix(src, dst))).errno;
  }

  /** racoonctl show-sa isakmp, decoded. */
  async phase1(): Promise<Phase1Row[]> {
    const r = await this.admin(AdminCmd.SHOW_SA, AdminProto.ISAKMP);
    if (r.errno !== 0) throw new TanukiControlError('show-sa isakmp', `errno ${r.errno}`);
    const rows: Phase1Row[] = [];
    for (let off = 0; off + PH1DUMP_LEN <= r.payload.length; off += PH1DUMP_LEN) {
      const d = decodePh1Dump(r.payload, off);
      rows.push({
        cookies: `${d.initiatorCookie.toString('hex')}:${d.responderCookie.toString('hex')}`,
        local: d.local ? `${d.local.address}[${d.local.port}]` : '?',
        remote: d.remote ? `${d.remote.address}[${d.remote.port}]` : '?',
        established: d.status === 9,
        version: d.version,
      });
    }
    return rows;
  }

  /** An echo request from one of racoon's `--host` addresses (docs/dataplane.md control socket). */
  async ping(src: string, dst: string, count: number, timeoutMs: number): Promise<PingResult> {
    const lines = await controlRequest(this.dataplaneSocket, { cmd: 'ping', src, dst, count, timeoutMs });
    const done = lines.find((l) => l.done === true);
    const err = lines.find((l) => typeof l.error === 'string');
    if (!done) throw new TanukiControlError('ping', typeof err?.error === 'string' ? err.error : 'no answer from the data plane');
    return { sent: Number(done.sent ?? 0), received: Number(done.received ?? 0) };
  }

  async close(): Promise<void> {
    await this.pfkey.close();
  }
}

/** `show-sa isakmp` rows as text for evidence. */
export function formatPhase1(rows: readonly Phase1Row[]): string {
  return rows.map((r) => `${r.local} ${r.remote} ${r.cookies} ${r.established ? 'established' : 'negotiating'} v${r.version >> 4}`).join('\n');
}
