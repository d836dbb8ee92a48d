/**
 * `setkey`: ipsec-tools' setkey(8) on tanuki's PfKeySocket.
 *
 *   setkey [-vrk] file ...            setkey [-nvrk] -c
 *   setkey [-nvrk] -f filename        setkey [-Palpvrk] -D
 *   setkey [-Pv] -F                   setkey [-H] -x
 *   setkey [-V] [-h]
 * plus --socket PATH (or $TANUKI_PFKEY_SOCKET) and --kernel userspace|xfrm|af_key.
 *
 * Everything the command touches comes through SetkeyIo so that tests can
 * drive it with an in-process PfKeySocket, a fixed clock and a time zone.
 */
import { explainReply } from '../pfkey/explain';
import { readFile } from 'node:fs/promises';
import { Errno, SadbMsgType, SadbSaState, SadbSaType } from '../pfkey/constants';
import { DEFAULT_PFKEY_SOCKET, PFKEY_SOCKET_ENV, type KernelBackendName, type PfKeySocket } from '../pfkey/socket';
import type { PfKeyMessage, SockAddr } from '../pfkey/types';
import { PfKeyClosedError } from '../pfkey/channel';
import { encodeMessage } from '../pfkey/codec';
import { openPfKey } from '../kernel';
import { compileSetkeyScript, type Resolver, type SetkeyStep } from '../config/setkey/compile';
import { formatKdebug, formatMonitorRecord, formatSadump, formatSpdump } from '../config/setkey/dump';
import { formatParseError } from '../config/setkey/errors';
import { strerror } from '../config/setkey/errno';
import { parseSetkeyScript } from '../config/setkey/parser';
import type { ProtocolDb } from '../config/setkey/protocols';

export const SETKEY_VERSION = 'setkey @(#) tanuki 0.1.0 (ipsec-tools 0.8 compatible)';

export interface OpenPfKeyOptions {
  backend: KernelBackendName;
  socketPath: string;
}

export interface SetkeyIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  /** Standard input as it arrives (setkey -c runs each statement when its ';' comes). */
  stdinChunks?(): AsyncIterable<string>;
  readFile(path: string): Promise<string>;
  openSocket(opts: OpenPfKeyOptions): Promise<PfKeySocket>;
  env: Record<string, string | undefined>;
  /** Milliseconds since the epoch. */
  now(): number;
  /** IANA zone for printed times; undefined = the process's. */
  timeZone?: string;
  resolve?: Resolver;
  protocols?: ProtocolDb;
  /** Ends -x and -l (the CLI wires SIGINT/SIGTERM to it). */
  stop?: AbortSignal;
  /** How long to wait for each kernel reply. */
  replyTimeoutMs?: number;
}

/** The kernel behind the socket: openPfKey (src/kernel) for every backend. */
async function defaultOpenSocket(opts: OpenPfKeyOptions): Promise<PfKeySocket> {
  return openPfKey({ backend: opts.backend, socketPath: opts.socketPath });
}

function defaultIo(): SetkeyIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
    stdinChunks: async function* () {
      for await (const c of process.stdin) yield typeof c === 'string' ? c : (c as Buffer).toString('utf8');
    },
    readFile: (p) => readFile(p, 'utf8'),
    openSocket: defaultOpenSocket,
    env: process.env,
    now: () => Date.now(),
  };
}

type Mode = 'none' | 'script' | 'stdin' | 'dump' | 'flush' | 'promisc';

interface Flags {
  mode: Mode;
  file?: string;
  all: boolean;
  forever: boolean;
  notReally: boolean;
  hexdump: boolean;
  promiscLevel: number;
  policy: boolean;
  withPorts: boolean;
  verbose: boolean;
  rfcMode: boolean;
  socketPath?: string;
  backend: KernelBackendName;
  files: string[];
}

class UsageError extends Error {}

const USAGE =
  'usage: setkey [-vrk] file ...\n' +
  '       setkey [-nvrk] -c\n' +
  '       setkey [-nvrk] -f filename\n' +
  '       setkey [-Palpvrk] -D\n' +
  '       setkey [-Pv] -F\n' +
  '       setkey [-H] -x\n' +
  '       setkey [-V] [-h]\n' +
  '       options: --socket PATH (or $TANUKI_PFKEY_SOCKET), --kernel userspace|xfrm|af_key\n';

/** getopt("acdf:HlnvxDFPphVrk?") plus the tanuki long options. */
function parseArgs(argv: string[]): Flags | 'usage' | 'version' {
  const f: Flags = {
    mode: 'none',
    all: false,
    forever: false,
    notReally: false,
    hexdump: false,
    promiscLevel: 0,
    policy: false,
    withPorts: false,
    verbose: false,
    rfcMode: true,
    backend: 'userspace',
    files: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const value = () => {
        if (eq >= 0) return a.slice(eq + 1);
        if (i + 1 >= argv.length) throw new UsageError(`option --${name} requires an argument`);
        return argv[++i];
      };
      if (name === 'socket') f.socketPath = value();
      else if (name === 'kernel') {
        const b = value();
        if (b !== 'userspace' && b !== 'xfrm' && b !== 'af_key') throw new UsageError(`unknown kernel backend "${b}" (userspace, xfrm or af_key)`);
        f.backend = b;
      } else if (name === 'help') return 'usage';
      else if (name === 'version') return 'version';
      else throw new UsageError(`unknown option --${name}`);
      continue;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      switch (c) {
        case 'c':
          f.mode = 'stdin';
          break;
        case 'f': {
          const rest = a.slice(j + 1);
          let arg: string;
          if (rest !== '') arg = rest;
          else if (i + 1 < argv.length) arg = argv[++i];
          else throw new UsageError('option requires an argument -- \'f\'');
          f.mode = 'script';
          f.file = arg;
          j = a.length;
          break;
        }
        case 'D':
          f.mode = 'dump';
          break;
        case 'F':
          f.mode = 'flush';
          break;
        case 'a':
          f.all = true;
          break;
        case 'l':
          f.forever = true;
          break;
        case 'n':
          f.notReally = true;
          break;
        case 'H':
          f.hexdump = true;
          break;
        case 'x':
          f.mode = 'promisc';
          f.promiscLevel++;
          break;
        case 'P':
          f.policy = true;
          break;
        case 'p':
          f.withPorts = true;
          break;
        case 'v':
          f.verbose = true;
          break;
        case 'r':
          f.rfcMode = true;
          break;
        case 'k':
          f.rfcMode = false;
          break;
        case 'd':
          break; // accepted and ignored, as in setkey
        case 'V':
          return 'version';
        case 'h':
        case '?':
          return 'usage';
        default:
          throw new UsageError(`invalid option -- '${c}'`);
      }
    }
  }
  f.files = argv.slice(i);
  return f;
}

/** ENOENT texts of setkey's postproc(). */
function errorText(m: PfKeyMessage): string {
  if (m.errno === Errno.ENOENT) {
    if (m.type === SadbMsgType.DELETE || m.type === SadbMsgType.GET || m.type === SadbMsgType.X_SPDDELETE) return 'No entry';
    if (m.type === SadbMsgType.DUMP) return 'No SAD entries';
    if (m.type === SadbMsgType.X_SPDDUMP) return 'No SPD entries';
  }
  return strerror(m.errno);
}

class Session {
  failed = false;
  constructor(
    readonly io: SetkeyIo,
    readonly flags: Flags,
    readonly sock: PfKeySocket,
  ) {}

  get dumpOpts() {
    return { withPorts: this.flags.withPorts, now: () => this.io.now() / 1000, timeZone: this.io.timeZone, protocols: this.io.protocols };
  }

  verbose(m: PfKeyMessage, sent = false): void {
    if (sent && this.flags.hexdump) this.io.stdout(rawHexdump(encodeMessage(m)));
    if (this.flags.verbose) this.io.stdout(`${formatKdebug(m)}\n`);
  }

  /** Send a dump request and collect the replies until the one with seq 0 (or an error). */
  async dump(req: PfKeyMessage): Promise<PfKeyMessage[]> {
    const replies: PfKeyMessage[] = [];
    const timeout = this.io.replyTimeoutMs ?? 5000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no complete reply to ${SadbMsgType[req.type]} within ${timeout} ms`));
      }, timeout);
      const off = this.sock.onMessage((m) => {
        if (m.type !== req.type || m.pid !== this.sock.pid) return;
        replies.push(m);
        if (m.errno !== 0 || m.seq === 0) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
      this.verbose(req, true);
      this.sock.send(req);
    });
    return replies;
  }

  report(m: PfKeyMessage, line: number | undefined): void {
    const text = errorText(m);
    if (line !== undefined) this.io.stdout(`The result of line ${line}: ${text}.\n`);
    else this.io.stdout(`${text}.\n`);
    const why = explainReply(m);
    if (why) this.io.stderr(`setkey: ${why}\n`);
  }

  /** setkey postproc() for the replies of one request. */
  postproc(replies: PfKeyMessage[], line: number | undefined): void {
    for (const m of replies) {
      this.verbose(m);
      if (m.errno !== 0) {
        this.report(m, line);
        // an empty dump is not a failure of setkey -D
        if (!(m.errno === Errno.ENOENT && (m.type === SadbMsgType.DUMP || m.type === SadbMsgType.X_SPDDUMP))) this.failed = true;
        return;
      }
      switch (m.type) {
        case SadbMsgType.GET:
          this.io.stdout(formatSadump(m, this.dumpOpts));
          break;
        case SadbMsgType.DUMP:
          if (!this.flags.all && m.ext.sa?.state === SadbSaState.DEAD) break;
          this.io.stdout(formatSadump(m, this.dumpOpts));
          break;
        case SadbMsgType.X_SPDGET:
        case SadbMsgType.X_SPDDUMP:
          this.io.stdout(formatSpdump(m, this.dumpOpts));
          break;
        default:
          break;
      }
    }
  }

  async request(req: PfKeyMessage, line: number | undefined): Promise<void> {
    if (req.type === SadbMsgType.DUMP || req.type === SadbMsgType.X_SPDDUMP) {
      const replies = await this.dump(req);
      if (replies.length === 0) {
        // Linux answers an empty dump with ENOENT; a kernel that sends nothing gets the same text
        this.report({ ...req, errno: Errno.ENOENT }, line);
        return;
      }
      this.postproc(replies, line);
      return;
    }
    this.verbose(req, true);
    const reply = await this.sock.request(req, this.io.replyTimeoutMs ?? 5000);
    this.postproc([reply], line);
  }

  /** Linux deleteall: dump the SAs of that type and delete those between the two addresses. */
  async deleteAll(step: Extract<SetkeyStep, { kind: 'deleteall' }>): Promise<void> {
    const replies = await this.dump({ type: SadbMsgType.DUMP, satype: step.satype, errno: 0, seq: 0, pid: this.sock.pid, ext: {} });
    const same = (a: SockAddr, list: SockAddr[]) => list.some((b) => b.family === a.family && b.address === a.address);
    for (const m of replies) {
      if (m.errno !== 0 || m.satype !== step.satype) continue;
      const s = m.ext.addressSrc?.addr;
      const d = m.ext.addressDst?.addr;
      if (!s || !d || !m.ext.sa || !same(s, step.src) || !same(d, step.dst)) continue;
      const del: PfKeyMessage = {
        type: SadbMsgType.DELETE,
        satype: step.satype,
        errno: 0,
        seq: 0,
        pid: this.sock.pid,
        ext: {
          sa: { ...m.ext.sa },
          addressSrc: { proto: 255, prefixlen: s.family === 2 ? 32 : 128, addr: { ...s, port: 0 } },
          addressDst: { proto: 255, prefixlen: d.family === 2 ? 32 : 128, addr: { ...d, port: 0 } },
        },
      };
      await this.request(del, step.line);
    }
  }

  async run(steps: SetkeyStep[], scriptMode: boolean): Promise<void> {
    for (const step of steps) {
      if (step.kind === 'deleteall') await this.deleteAll(step);
      else for (const m of step.messages) await this.request(m, scriptMode ? step.line : undefined);
    }
  }
}

function waitStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) {
      // the command line: SIGINT/SIGTERM end -x and -l cleanly (socket closed, exit 0)
      const h = (): void => {
        process.off('SIGINT', h);
        process.off('SIGTERM', h);
        resolve();
      };
      process.once('SIGINT', h);
      process.once('SIGTERM', h);
      return;
    }
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function tzOffsetSeconds(timeZone: string | undefined, nowMs: number): number {
  const d = new Date(nowMs);
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    hourCycle: 'h23',
  });
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(d)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const local = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((local - Math.floor(nowMs / 1000) * 1000) / 1000);
}

/** setkey's -H dump of message bytes: "%08x: " every 16 bytes, "%02x " per byte. */
export function rawHexdump(buf: Uint8Array): string {
  let out = '';
  for (let i = 0; i < buf.length; i++) {
    if (i % 16 === 0) out += `${i.toString(16).padStart(8, '0')}: `;
    out += `${buf[i].toString(16).padStart(2, '0')} `;
    if (i % 16 === 15) out += '\n';
  }
  if (buf.length % 16) out += '\n';
  return out;
}

/** setkey.c's ipproto[] names for shortdump; other numbers print as #N. */
const SHORT_IPPROTO: Record<number, string> = {
  0: 'ip', 1: 'icmp', 2: 'igmp', 3: 'ggp', 4: 'ip4', 6: 'tcp', 8: 'egp', 17: 'udp', 22: 'idp', 29: 'tp',
  41: 'ip6', 43: 'rt6', 44: 'frag6', 46: 'rsvp', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'icmp6', 59: 'none', 60: 'dst6',
};

/** setkey shortdump() (-l): one short line per SA. */
export function shortdump(m: PfKeyMessage, nowSec: number): string {
  const satype = m.satype === SadbSaType.AH ? 'ah' : m.satype === SadbSaType.ESP ? 'esp' : `#${m.satype}`;
  const p2 = (n: number) => String(n).padStart(2, '0');
  let out = `${p2(Math.floor((nowSec % 3600) / 60))}${p2(nowSec % 60)}`;
  out += ` ${satype.padEnd(3)}`;
  if (m.ext.sa) out += ` ${['L', 'M', 'D', 'd'][m.ext.sa.state] ?? `#${m.ext.sa.state}`} ${(m.ext.sa.spi >>> 0).toString(16).padStart(8, '0')}`;
  else out += '? ?       ';
  const c = m.ext.lifetimeCurrent;
  const h = m.ext.lifetimeHard;
  if (m.ext.lifetimeSoft && h && c) {
    const t = c.addtime === 0n ? 0 : nowSec - Number(c.addtime);
    out += t >= 1000 ? ' big/' : ` ${String(t).padStart(3)}/`;
    out += h.addtime >= 1000n ? 'big' : String(h.addtime).padEnd(3);
  } else out += ' ???/???';
  const addr = (a: PfKeyMessage['ext']['addressSrc']) =>
    a ? `${a.proto ? `${SHORT_IPPROTO[a.proto] ?? `#${a.proto}`} ` : ''}${a.addr.port ? `${a.addr.address}[${a.addr.port}]` : a.addr.address}` : '?';
  return `${out} ${addr(m.ext.addressSrc)} -> ${addr(m.ext.addressDst)}\n`;
}

export async function main(argv: string[], ioOverrides: Partial<SetkeyIo> = {}): Promise<number> {
  const io: SetkeyIo = { ...defaultIo(), ...ioOverrides };
  // a caller that supplies standard input as a whole gets it used for -c too
  if (ioOverrides.readStdin && !ioOverrides.stdinChunks) delete io.stdinChunks;
  if (argv.length === 0) {
    io.stdout(`${SETKEY_VERSION}\n${USAGE}`);
    return 1;
  }
  let parsed: Flags | 'usage' | 'version';
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    io.stderr(`setkey: ${(e as Error).message}\n`);
    io.stdout(`${SETKEY_VERSION}\n${USAGE}`);
    return 1;
  }
  if (parsed === 'version') {
    io.stdout(`${SETKEY_VERSION}\n`);
    return 1; // setkey's usage(1) exits 1 for -V too
  }
  if (parsed === 'usage') {
    io.stdout(`${SETKEY_VERSION}\n${USAGE}`);
    return 1;
  }
  const flags = parsed;
  if (flags.files.length > 0) {
    if (flags.mode !== 'none' && flags.mode !== 'script') {
      io.stderr('setkey: file arguments cannot be combined with -c, -D, -F or -x\n');
      return 1;
    }
  } else if (flags.mode === 'none') {
    io.stdout(`${SETKEY_VERSION}\n${USAGE}`);
    return 1;
  }
  // Scripts: parse and resolve everything before touching the kernel.
  const scripts: { name: string; text: string }[] = [];
  try {
    if (flags.mode === 'script' && flags.file !== undefined) {
      scripts.push(
        flags.file === '-' ? { name: '<stdin>', text: await io.readStdin() } : { name: flags.file, text: await io.readFile(flags.file) },
      );
    }
    for (const f of flags.files) {
      scripts.push(f === '-' ? { name: '<stdin>', text: await io.readStdin() } : { name: f, text: await io.readFile(f) });
    }
  } catch (e) {
    io.stderr(`setkey: Can't open \`${flags.file ?? flags.files[0]}': ${(e as NodeJS.ErrnoException).message}\n`);
    return 1;
  }
  const socketPath = flags.socketPath ?? io.env[PFKEY_SOCKET_ENV] ?? DEFAULT_PFKEY_SOCKET;
  const openSocket = async (): Promise<PfKeySocket> => io.openSocket({ backend: flags.backend, socketPath });

  if (scripts.length > 0) {
    const stepsPerScript: SetkeyStep[][] = [];
    for (const s of scripts) {
      const r = parseSetkeyScript(s.text, { file: s.name, protocols: io.protocols });
      for (const w of r.warnings) io.stderr(`${s.name}:${w.line}:${w.column}: ${w.message}\n`);
      if (!r.ok) {
        io.stderr(`${formatParseError(r.error)}\n`);
        return 1;
      }
      const c = await compileSetkeyScript(r.commands, { file: s.name, rfcMode: flags.rfcMode, pid: 0, resolve: io.resolve });
      if (!c.ok) {
        io.stderr(`${formatParseError(c.error)}\n`);
        return 1;
      }
      stepsPerScript.push(c.steps);
    }
    if (flags.notReally) {
      if (flags.verbose) for (const steps of stepsPerScript) for (const st of steps) if (st.kind === 'send') for (const m of st.messages) io.stdout(`${formatKdebug(m)}\n`);
      return 0;
    }
    return withSocket(io, openSocket, async (sock) => {
      const session = new Session(io, flags, sock);
      for (const steps of stepsPerScript) {
        for (const st of steps) if (st.kind === 'send') for (const m of st.messages) m.pid = sock.pid;
        await session.run(steps, true);
      }
      return session.failed ? 1 : 0;
    });
  }

  if (flags.mode === 'stdin') return stdinLoop(io, flags, openSocket);

  return withSocket(io, openSocket, async (sock) => {
    const session = new Session(io, flags, sock);
    const short = (type: SadbMsgType): PfKeyMessage => ({ type, satype: SadbSaType.UNSPEC, errno: 0, seq: 0, pid: sock.pid, ext: {} });
    switch (flags.mode) {
      case 'dump':
        if (flags.forever) {
          // setkey -l: the header once, then a dump every second (short lines for the SAD, full records for -P)
          io.stdout(`${'time'.padEnd(4)} ${'p'.padEnd(3)} s ${'spi'.padEnd(8)} ${'ltime'.padEnd(7)} src -> dst\n`);
          const stop = waitStop(io.stop);
          let stopped = false;
          void stop.then(() => (stopped = true));
          while (!stopped) {
            const replies = await session.dump(short(flags.policy ? SadbMsgType.X_SPDDUMP : SadbMsgType.DUMP));
            for (const m of replies) {
              if (m.errno !== 0) session.report(m, undefined);
              else if (flags.policy) io.stdout(formatSpdump(m, session.dumpOpts));
              else if (flags.all || m.ext.sa?.state !== SadbSaState.DEAD) io.stdout(shortdump(m, Math.floor(io.now() / 1000)));
            }
            await Promise.race([stop, new Promise((r) => setTimeout(r, 1000))]);
          }
          return 0;
        }
        await session.request(short(flags.policy ? SadbMsgType.X_SPDDUMP : SadbMsgType.DUMP), undefined);
        return session.failed ? 1 : 0;
      case 'flush':
        await session.request(short(flags.policy ? SadbMsgType.X_SPDFLUSH : SadbMsgType.FLUSH), undefined);
        return session.failed ? 1 : 0;
      case 'promisc': {
        const raw = flags.promiscLevel > 1;
        const off = sock.onMessage((m) => {
          const now = io.now();
          const record = formatMonitorRecord(m, now, raw, tzOffsetSeconds(io.timeZone, now));
          if (!flags.hexdump) {
            io.stdout(record);
            return;
          }
          // printdate(), then the raw bytes (re-encoded by the codec), then kdebug_sadb
          const nl = record.indexOf('\n') + 1;
          io.stdout(record.slice(0, nl) + rawHexdump(encodeMessage(m)) + record.slice(nl));
        });
        const promisc = await sock.request({ type: SadbMsgType.X_PROMISC, satype: 1 as SadbSaType, errno: 0, seq: 0, pid: sock.pid, ext: {} });
        if (promisc.errno !== 0) {
          // e.g. the xfrm backend: no promiscuous mode, but kernel events reach registered sockets
          io.stderr(`setkey: promiscuous mode refused (${strerror(promisc.errno)}); showing the kernel's messages for ah, esp and ipcomp instead\n`);
          for (const satype of [SadbSaType.AH, SadbSaType.ESP, SadbSaType.X_IPCOMP])
            await sock.request({ type: SadbMsgType.REGISTER, satype, errno: 0, seq: 0, pid: sock.pid, ext: {} });
        }
        // runs until stopped, or until the kernel goes away (the transport reports PfKeyClosedError)
        let lost = false;
        const closed = new Promise<void>((resolve) => {
          sock.onError((e) => {
            if (e instanceof PfKeyClosedError) {
              lost = true;
              resolve();
            }
          });
        });
        await Promise.race([waitStop(io.stop), closed]);
        off();
        return lost ? 1 : 0;
      }
      default:
        io.stdout(`${SETKEY_VERSION}\n${USAGE}`);
        return 1;
    }
  });
}

async function withSocket(io: SetkeyIo, open: () => Promise<PfKeySocket>, f: (s: PfKeySocket) => Promise<number>): Promise<number> {
  let sock: PfKeySocket;
  try {
    sock = await open();
  } catch (e) {
    io.stderr(`setkey: pfkey_open: ${(e as Error).message}\n`);
    return 1;
  }
  const offErr = sock.onError((e) => io.stderr(`setkey: ${e.message}\n`));
  try {
    return await f(sock);
  } catch (e) {
    io.stderr(`setkey: ${(e as Error).message}\n`);
    return 1;
  } finally {
    offErr();
    await sock.close();
  }
}

/** -c: statements from standard input, each applied as soon as it is complete; errors do not stop the loop. */
async function stdinLoop(io: SetkeyIo, flags: Flags, open: () => Promise<PfKeySocket>): Promise<number> {
  const chunks: AsyncIterable<string> = io.stdinChunks
    ? io.stdinChunks()
    : (async function* () {
        yield await io.readStdin();
      })();
  return withSocketMaybe(io, flags, open, async (sock) => {
    let failed = false;
    const session = sock ? new Session(io, flags, sock) : undefined;
    /** One statement; returns true when it was exit/quit/bye. */
    const statement = async (st: { text: string; line: number }): Promise<boolean> => {
      const r = parseSetkeyScript(st.text, { file: '<stdin>', protocols: io.protocols });
      for (const w of r.warnings) io.stderr(`<stdin>:${w.line + st.line - 1}:${w.column}: ${w.message}\n`);
      if (!r.ok) {
        io.stderr(`${formatParseError({ ...r.error, line: r.error.line + st.line - 1 })}\n`);
        failed = true;
        return false;
      }
      const c = await compileSetkeyScript(r.commands, { file: '<stdin>', rfcMode: flags.rfcMode, pid: sock?.pid ?? 0, resolve: io.resolve });
      if (!c.ok) {
        io.stderr(`${formatParseError({ ...c.error, line: c.error.line + st.line - 1 })}\n`);
        failed = true;
        return false;
      }
      if (session) {
        await session.run(c.steps, false);
        if (session.failed) failed = true;
      }
      return r.exited;
    };
    // statements run as soon as their ';' arrives (setkey's stdin_loop)
    let buffer = '';
    let baseLine = 1;
    for await (const chunk of chunks) {
      buffer += chunk;
      let consumed = 0;
      for (const st of splitStatements(buffer)) {
        if (!st.text.endsWith(';')) break;
        consumed += st.text.length;
        if (await statement({ text: st.text, line: baseLine + st.line - 1 })) return failed ? 1 : 0;
      }
      for (const ch of buffer.slice(0, consumed)) if (ch === '\n') baseLine++;
      buffer = buffer.slice(consumed);
    }
    const rest = splitStatements(buffer);
    for (const st of rest) if (await statement({ text: st.text, line: baseLine + st.line - 1 })) break;
    return failed ? 1 : 0;
  });
}

async function withSocketMaybe(
  io: SetkeyIo,
  flags: Flags,
  open: () => Promise<PfKeySocket>,
  f: (s: PfKeySocket | undefined) => Promise<number>,
): Promise<number> {
  if (flags.notReally) return f(undefined);
  return withSocket(io, open, (s) => f(s));
}

/** Split standard input at each ';' outside quotes and comments, remembering each statement's first line. */
export function splitStatements(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let start = 0;
  let line = 1;
  let startLine = 1;
  let inQuote = false;
  let inComment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      inComment = false;
      continue;
    }
    if (inComment) continue;
    if (c === '"') inQuote = !inQuote;
    else if (!inQuote && c === '#') inComment = true;
    else if (!inQuote && c === ';') {
      out.push({ text: text.slice(start, i + 1), line: startLine });
      start = i + 1;
      startLine = line;
    }
  }
  const rest = text.slice(start);
  if (/\S/.test(rest.replace(/#.*$/gm, ''))) out.push({ text: rest, line: startLine });
  return out;
}
