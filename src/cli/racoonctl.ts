/**
 * `racoonctl` — racoon's admin client, speaking the binary admin_com protocol
 * (so it also drives an ipsec-tools racoon, and ipsec-tools' racoonctl drives tanuki).
 *
 *   racoonctl [-d] [-l|-ll] [-s socket] VERB [ARGS]
 */
import { formatSadump } from '../config/setkey/dump';
import { decodeMessage } from '../pfkey/codec';
import { PFKEY_UNIT64 } from '../pfkey/constants';
import type { SockAddr } from '../pfkey/types';
import { adminCall, type AdminResponse } from '../daemon/admin/client';
import {
  decodeSchedDumps,
  AdminCmd,
  AdminProto,
  EvtType,
  IDTYPE_USERFQDN,
  PH1DUMP_LEN,
  decodePh1Dump,
  encodeIndexes,
  encodePsk,
  encodeRequest,
  type AdminIndexes,
  type EvtAsync,
} from '../daemon/admin/wire';
import { canonicalIp, ipFamily } from '../util/ip';

export const DEFAULT_ADMIN_SOCKET = '/var/run/racoon/racoon.sock';
export const ADMIN_SOCKET_ENV = 'TANUKI_ADMIN_SOCKET';

const USAGE = `usage: racoonctl [-d] [-l|-ll] [-s socket] command
  reload-config | rc
  show-schedule | sc
  show-sa | ss [isakmp|esp|ah|ipsec]
  flush-sa | fs [isakmp|esp|ah|ipsec]
  delete-sa | ds <saopts>
  establish-sa | es [-u user] [-n remote] [-w] <saopts>
  vpn-connect | vc [-u user] <gateway>
  vpn-disconnect | vd <gateway>
  show-event | se
  logout-user | lu <login>
  get-cert | gc isakmp inet|inet6 <src> <dst>
  status | st
<saopts>: isakmp inet|inet6 <src> <dst>
          esp|ah inet|inet6 <src>[/pfx][[port]] <dst>[/pfx][[port]] [icmp|tcp|udp|gre|any]`;

export class RacoonctlUsageError extends Error {
  override readonly name = 'RacoonctlUsageError';
}

const VERBS: Record<string, string> = {
  'reload-config': 'reload-config', rc: 'reload-config',
  'show-schedule': 'show-schedule', sc: 'show-schedule',
  'show-sa': 'show-sa', ss: 'show-sa',
  'flush-sa': 'flush-sa', fs: 'flush-sa',
  'delete-sa': 'delete-sa', ds: 'delete-sa',
  'establish-sa': 'establish-sa', es: 'establish-sa',
  'vpn-connect': 'vpn-connect', vc: 'vpn-connect',
  'vpn-disconnect': 'vpn-disconnect', vd: 'vpn-disconnect',
  'show-event': 'show-event', se: 'show-event',
  'logout-user': 'logout-user', lu: 'logout-user',
  'get-cert': 'get-cert', gc: 'get-cert',
  status: 'status', st: 'status',
};

const PROTOS: Record<string, AdminProto> = {
  isakmp: AdminProto.ISAKMP,
  ipsec: AdminProto.IPSEC,
  esp: AdminProto.ESP,
  ah: AdminProto.AH,
  internal: AdminProto.INTERNAL,
};

const UL_PROTOS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, gre: 47, any: 255 };

/** One command turned into request bytes plus how to treat the answer. */
export interface RacoonctlCommand {
  verb: string;
  request: Buffer;
  proto: number;
  /** Wait for this event after a successful reply (-w, vpn-connect, vpn-disconnect, show-event). */
  waitFor?: (e: EvtAsync) => boolean;
}

/** Parse `HOST[/pfx][[port]]` as racoonctl does (pfx defaults to 32, even for inet6). */
function parseHost(text: string, family: 'inet' | 'inet6', withPrefix: boolean): { addr: SockAddr; prefix: number } {
  const m = /^([^/[\]]+)(?:\/(\d+))?(?:\[(\d+|any)\])?$/.exec(text);
  if (!m) throw new RacoonctlUsageError(`bad address '${text}'`);
  if (!withPrefix && m[2] !== undefined) throw new RacoonctlUsageError(`no prefix allowed in '${text}'`);
  const canon = canonicalIp(m[1]);
  const fam = ipFamily(m[1]);
  if (!canon || (family === 'inet') !== (fam === 4)) throw new RacoonctlUsageError(`'${m[1]}' is not an ${family} address`);
  const port = m[3] === undefined || m[3] === 'any' ? 0 : Number(m[3]);
  if (port > 65535) throw new RacoonctlUsageError(`bad port in '${text}'`);
  return { addr: { family: fam === 4 ? 2 : 10, address: canon, port }, prefix: m[2] === undefined ? 32 : Number(m[2]) };
}

/** `<saopts>` → (proto, indexes). */
export function parseSaOpts(args: string[]): { proto: AdminProto; ix: AdminIndexes } {
  const [protoName, fam, src, dst, ul] = args;
  const proto = PROTOS[protoName ?? ''];
  if (proto === undefined || proto === AdminProto.IPSEC || proto === AdminProto.INTERNAL) {
    throw new RacoonctlUsageError(`expected isakmp, esp or ah, got '${protoName ?? ''}'`);
  }
  if (fam !== 'inet' && fam !== 'inet6') throw new RacoonctlUsageError(`expected inet or inet6, got '${fam ?? ''}'`);
  if (!src || !dst) throw new RacoonctlUsageError('missing source or destination address');
  const isakmp = proto === AdminProto.ISAKMP;
  if (isakmp && ul !== undefined) throw new RacoonctlUsageError(`unexpected '${ul}' after isakmp addresses`);
  const s = parseHost(src, fam, !isakmp);
  const d = parseHost(dst, fam, !isakmp);
  const ulProto = ul === undefined ? 255 : UL_PROTOS[ul];
  if (ulProto === undefined) throw new RacoonctlUsageError(`unknown upper-layer protocol '${ul}'`);
  return { proto, ix: { prefs: s.prefix, prefd: d.prefix, ulProto, src: s.addr, dst: d.addr } };
}

/** Build the request for argv (after the global options). Pure, so tests pin the bytes. */
export function buildCommand(argv: string[], readPassword?: () => string): RacoonctlCommand {
  const verb = VERBS[argv[0] ?? ''];
  if (!verb) throw new RacoonctlUsageError(argv[0] ? `unknown command '${argv[0]}'` : 'no command given');
  const rest = argv.slice(1);
  const simple = (cmd: AdminCmd, proto = 0): RacoonctlCommand => ({ verb, request: encodeRequest(cmd, proto), proto });
  switch (verb) {
    case 'reload-config':
      return simple(AdminCmd.RELOAD_CONF);
    case 'show-schedule':
      return simple(AdminCmd.SHOW_SCHED);
    case 'status':
      return simple(AdminCmd.STATUS);
    case 'show-event':
      return { ...simple(AdminCmd.SHOW_EVT), waitFor: () => false };
    case 'show-sa':
    case 'flush-sa': {
      const proto = PROTOS[rest[0] ?? 'isakmp'];
      if (proto === undefined) throw new RacoonctlUsageError(`unknown protocol '${rest[0]}'`);
      return simple(verb === 'show-sa' ? AdminCmd.SHOW_SA : AdminCmd.FLUSH_SA, proto);
    }
    case 'logout-user': {
      if (!rest[0]) throw new RacoonctlUsageError('logout-user needs a login');
      return { verb, request: encodeRequest(AdminCmd.LOGOUT_USER, 0, Buffer.from(rest[0], 'utf8')), proto: 0 };
    }
    case 'delete-sa': {
      const { proto, ix } = parseSaOpts(rest);
      return { verb, request: encodeRequest(AdminCmd.DELETE_SA, proto, encodeIndexes(ix)), proto };
    }
    case 'get-cert': {
      const { proto, ix } = parseSaOpts(rest);
      return { verb, request: encodeRequest(AdminCmd.GET_SA_CERT, proto, encodeIndexes(ix)), proto };
    }
    case 'establish-sa': {
      let user: string | undefined;
      let remote: string | undefined;
      let wait = false;
      let i = 0;
      for (; i < rest.length && rest[i].startsWith('-'); i++) {
        if (rest[i] === '-u') user = rest[++i];
        else if (rest[i] === '-n') remote = rest[++i];
        else if (rest[i] === '-w') wait = true;
        else throw new RacoonctlUsageError(`unknown option '${rest[i]}'`);
      }
      const { proto, ix } = parseSaOpts(rest.slice(i));
      let payload = encodeIndexes(ix);
      let cmd = AdminCmd.ESTABLISH_SA;
      if (user !== undefined) {
        if (proto !== AdminProto.ISAKMP) throw new RacoonctlUsageError('-u is only valid with isakmp');
        const password = readPassword ? readPassword() : '';
        payload = Buffer.concat([payload, encodePsk({ idType: IDTYPE_USERFQDN, id: user, key: password })]);
        cmd = AdminCmd.ESTABLISH_SA_PSK;
      } else if (remote !== undefined) {
        if (proto !== AdminProto.ISAKMP) throw new RacoonctlUsageError('-n is only valid with isakmp');
        payload = Buffer.concat([payload, Buffer.from(`${remote}\0`, 'utf8')]);
      }
      const waitType = proto === AdminProto.ISAKMP ? EvtType.PHASE1_MODE_CFG : EvtType.PHASE2_UP;
      return {
        verb,
        request: encodeRequest(cmd, proto, payload),
        proto,
        ...(wait ? { waitFor: (e: EvtAsync) => e.type === waitType || isFailure(e.type) } : {}),
      };
    }
    case 'vpn-connect':
    case 'vpn-disconnect': {
      const args = rest.filter((a, k) => a !== '-u' && rest[k - 1] !== '-u');
      const gw = args[0];
      const fam = gw ? ipFamily(gw) : null;
      if (!gw || !fam) throw new RacoonctlUsageError(`${verb} needs a gateway address`);
      const famName = fam === 4 ? 'inet' : 'inet6';
      const any = fam === 4 ? '0.0.0.0' : '::';
      if (verb === 'vpn-disconnect') {
        const { ix } = parseSaOpts(['isakmp', famName, any, gw]);
        return {
          verb,
          request: encodeRequest(AdminCmd.DELETE_ALL_SA_DST, AdminProto.ISAKMP, encodeIndexes(ix)),
          proto: AdminProto.ISAKMP,
          waitFor: (e) => e.type === EvtType.PHASE1_DOWN,
        };
      }
      const u = rest.indexOf('-u');
      const esArgs = [...(u >= 0 ? ['-u', rest[u + 1]] : []), 'isakmp', famName, any, gw];
      const c = buildCommand(['establish-sa', ...esArgs], readPassword);
      return { ...c, verb, waitFor: (e) => e.type === EvtType.PHASE1_MODE_CFG || isFailure(e.type) };
    }
  }
  throw new RacoonctlUsageError(`unhandled command '${verb}'`);
}

function isFailure(t: EvtType): boolean {
  return [
    EvtType.PHASE1_NO_RESPONSE,
    EvtType.PHASE1_NO_PROPOSAL,
    EvtType.PHASE1_AUTH_FAILED,
    EvtType.PHASE1_DPD_TIMEOUT,
    EvtType.PHASE1_XAUTH_FAILED,
    EvtType.PHASE2_NO_PHASE1,
    EvtType.PHASE2_NO_RESPONSE,
  ].includes(t);
}

const EVT_TEXT: Record<number, string> = {
  [EvtType.RACOON_QUIT]: 'Racoon terminated',
  [EvtType.PHASE1_UP]: 'Phase 1 established',
  [EvtType.PHASE1_DOWN]: 'Phase 1 deleted',
  [EvtType.PHASE1_NO_RESPONSE]: 'Phase 1 error: peer not responding',
  [EvtType.PHASE1_NO_PROPOSAL]: 'Phase 1 error: no proposal chosen',
  [EvtType.PHASE1_AUTH_FAILED]: 'Phase 1 error: authentication failed (bad certificate?)',
  [EvtType.PHASE1_DPD_TIMEOUT]: 'Phase 1 error: dead peer detected',
  [EvtType.PHASE1_PEER_DELETED]: 'Phase 1 deleted by peer',
  [EvtType.PHASE1_MODE_CFG]: 'Phase 1 mode configuration done',
  [EvtType.PHASE1_XAUTH_SUCCESS]: 'Phase 1 Xauth succeeded',
  [EvtType.PHASE1_XAUTH_FAILED]: 'Phase 1 Xauth failed',
  [EvtType.PHASE2_NO_PHASE1]: 'Phase 2 error: no suitable phase 1',
  [EvtType.PHASE2_UP]: 'Phase 2 established',
  [EvtType.PHASE2_DOWN]: 'Phase 2 deleted',
  [EvtType.PHASE2_NO_RESPONSE]: 'Phase 2 error: no response',
};

function sockText(sa: SockAddr | null, withPort = true): string {
  if (!sa) return '(none)';
  return withPort ? `${sa.address}.${sa.port}` : sa.address;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** strftime("%Y-%m-%d %T") in local time, as racoonctl prints times. */
export function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function formatEvent(e: EvtAsync): string {
  const text = EVT_TEXT[e.type] ?? `Event ${e.type}`;
  return `${formatTime(e.timestamp)} [${sockText(e.ph1src, false)}]-[${sockText(e.ph1dst, false)}] ${text}`;
}

/** show-sa isakmp: racoonctl's table (address column 22 wide, 45 with -ll). */
export function formatPh1Table(payload: Buffer, long: number): string {
  const width = long >= 2 ? 45 : 22;
  const lines = [`${'Destination'.padEnd(width + 1)}Cookies                           Created`];
  for (let off = 0; off + PH1DUMP_LEN <= payload.length; off += PH1DUMP_LEN) {
    const d = decodePh1Dump(payload, off);
    const cookies = `${d.initiatorCookie.toString('hex')}:${d.responderCookie.toString('hex')}`;
    lines.push(`${sockText(d.remote).padEnd(width)} ${cookies}  ${formatTime(d.created)}`);
  }
  return lines.join('\n') + '\n';
}

/** show-sa esp|ah|ipsec: the payload is raw SADB_DUMP messages, printed as setkey -D does. */
export function formatSadbPayload(payload: Buffer): string {
  let out = '';
  for (let off = 0; off + 8 <= payload.length; ) {
    const len = payload.readUInt16LE(off + 4) * PFKEY_UNIT64;
    if (len === 0 || off + len > payload.length) break;
    const r = decodeMessage(payload.subarray(off, off + len));
    if (r.ok) out += formatSadump(r.msg);
    off += len;
  }
  return out === '' ? 'No SAD entries.\n' : out;
}

function errnoText(errno: number): string {
  const names: Record<number, string> = { 2: 'No such file or directory', 17: 'File exists', 22: 'Invalid argument', 95: 'Operation not supported', 12: 'Cannot allocate memory', [-1]: 'Operation failed' };
  return names[errno] ?? `error ${errno}`;
}

export async function main(argv: string[]): Promise<number> {
  let socketPath = process.env[ADMIN_SOCKET_ENV] ?? DEFAULT_ADMIN_SOCKET;
  let hexdump = false;
  let long = 0;
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    const a = argv[i];
    if (a === '-s') socketPath = argv[++i] ?? socketPath;
    else if (a === '-d') hexdump = true;
    else if (/^-l+$/.test(a)) long += a.length - 1;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    } else {
      process.stderr.write(`racoonctl: unknown option '${a}'\n${USAGE}\n`);
      return 1;
    }
  }
  let cmd: RacoonctlCommand;
  try {
    cmd = buildCommand(argv.slice(i), () => process.env.TANUKI_XAUTH_PASSWORD ?? '');
  } catch (err) {
    process.stderr.write(`racoonctl: ${(err as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (hexdump) process.stderr.write(cmd.request.toString('hex').replace(/(.{32})/g, '$1\n') + '\n');
  const streaming = cmd.verb === 'show-event';
  let res: AdminResponse;
  try {
    res = await adminCall(socketPath, cmd.request, {
      timeoutMs: streaming ? 2 ** 31 - 1 : 60000,
      ...(cmd.waitFor
        ? {
            untilEvent: (e: EvtAsync) => {
              process.stdout.write(formatEvent(e) + '\n');
              return cmd.waitFor!(e);
            },
          }
        : {}),
    });
  } catch (err) {
    process.stderr.write(`racoonctl: ${(err as Error).message}\n`);
    return 1;
  }
  if (res.errno !== 0) {
    if (res.errno === 17) return 0; // EEXIST: already up, racoonctl exits 0
    process.stderr.write(`racoonctl: ${cmd.verb}: ${errnoText(res.errno)}\n`);
    return 1;
  }
  if (cmd.verb === 'show-sa') {
    process.stdout.write(cmd.proto === AdminProto.ISAKMP ? formatPh1Table(res.payload, long) : formatSadbPayload(res.payload));
  } else if (cmd.verb === 'status' || cmd.verb === 'get-cert') {
    process.stdout.write(res.payload.toString(cmd.verb === 'status' ? 'utf8' : 'latin1'));
  } else if (cmd.verb === 'show-schedule') {
    process.stdout.write(formatSchedule(res.payload));
  }
  return 0;
}

/** racoonctl's print_schedule: one line per scheddump row (index, tick, xtime, created). */
export function formatSchedule(payload: Buffer): string {
  let rows: ReturnType<typeof decodeSchedDumps>;
  try {
    rows = decodeSchedDumps(payload);
  } catch (err) {
    return `invalid schedule: ${(err as Error).message}\n`;
  }
  const lines = ['index    tick     xtime      created'];
  for (const r of rows) lines.push(`${String(r.id).padEnd(8)} ${String(r.tick).padEnd(8)} ${String(r.xtime).padEnd(10)} ${new Date(r.created * 1000).toISOString().replace('T', ' ').slice(0, 19)}`);
  return lines.join('\n') + '\n';
}
