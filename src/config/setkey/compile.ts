/**
 * Parsed setkey commands -> the PF_KEY requests setkey sends (parse.y
 * setkeymsg_add / setkeymsg_addr / setkeymsg_spdaddr, plus MIGRATE).
 *
 * Names are resolved first, for the whole script; an unresolvable name is
 * an error at its position and, like a parse error, nothing is applied.
 */
import { lookup } from 'node:dns/promises';
import {
  IPSEC_ULPROTO_ANY,
  IpsecDir,
  IpsecLevel,
  IpsecPolicyType,
  NatTType,
  SadbMsgType,
  SadbSaState,
  SadbSaType,
} from '../../pfkey/constants';
import type { PfKeyMessage, SadbAddress, SadbXPolicy, SockAddr } from '../../pfkey/types';
import type { AddrOptions, HostSpec, MigrateCommand, RangeSpec, SaCommand, SecCtxSpec, SetkeyCommand, SpdCommand } from './ast';
import type { SetkeyParseError } from './errors';
import { parseEndpoint } from './policy';

/** Name -> address literals (getaddrinfo). */
export type Resolver = (host: string, family: 4 | 6 | undefined) => Promise<string[]>;

export const dnsResolver: Resolver = async (host, family) => {
  const res = await lookup(host, { all: true, family: family ?? 0, verbatim: true });
  return res.map((r) => r.address);
};

export interface CompileOptions {
  file?: string;
  /** RFC mode (setkey -r, the Linux default): an inbound policy is also installed as fwd. */
  rfcMode: boolean;
  pid: number;
  resolve?: Resolver;
  /** First sadb_msg_seq to use; each request gets its own. */
  firstSeq?: number;
}

/** What the CLI does for one script line. */
export type SetkeyStep =
  | { kind: 'send'; line: number; command: SetkeyCommand['kind']; messages: PfKeyMessage[] }
  /** Linux deleteall: DUMP, then one DELETE per matching SA (parse.y, __linux__). */
  | { kind: 'deleteall'; line: number; satype: SadbSaType; src: SockAddr[]; dst: SockAddr[] };

export type CompileResult = { ok: true; steps: SetkeyStep[] } | { ok: false; error: SetkeyParseError };

class CompileError extends Error {
  constructor(
    readonly spec: { line: number; column: number },
    message: string,
    readonly near: string,
  ) {
    super(message);
  }
}

const fullPrefix = (a: SockAddr) => (a.family === 2 ? 32 : 128);

function address(addr: SockAddr, proto: number, prefixlen: number): SadbAddress {
  return { proto, prefixlen, addr };
}

class Compiler {
  private seq: number;
  constructor(private readonly opts: CompileOptions) {
    this.seq = opts.firstSeq ?? 1;
  }

  header(type: SadbMsgType, satype: SadbSaType): Omit<PfKeyMessage, 'ext'> {
    return { type, satype, errno: 0, seq: this.seq++, pid: this.opts.pid };
  }

  async resolve(h: HostSpec, options: AddrOptions): Promise<SockAddr[]> {
    const lit = parseEndpoint(h.host, h.port);
    if (lit) {
      const fam = lit.family === 2 ? 4 : 6;
      if (options.family && options.family !== fam)
        throw new CompileError(h.pos, `address family for "${h.host}" not allowed by -${options.family}`, h.host);
      return [lit];
    }
    if (options.numericOnly) throw new CompileError(h.pos, `"${h.host}" is not a numeric address (-n)`, h.host);
    let names: string[];
    try {
      names = await (this.opts.resolve ?? dnsResolver)(h.host, options.family);
    } catch {
      names = [];
    }
    const out: SockAddr[] = [];
    for (const n of names) {
      const sa = parseEndpoint(n, h.port);
      if (sa) out.push(sa);
    }
    if (out.length === 0) throw new CompileError(h.pos, `cannot resolve "${h.host}": Name or service not known`, h.host);
    return out;
  }

  async single(h: HostSpec, options: AddrOptions): Promise<SockAddr> {
    const all = await this.resolve(h, options);
    if (all.length > 1) throw new CompileError(h.pos, `multiple address specified ("${h.host}" resolves to ${all.length})`, h.host);
    return all[0];
  }

  prefix(r: RangeSpec, a: SockAddr): number {
    if (r.prefixlen === undefined) return fullPrefix(a);
    if (r.prefixlen > fullPrefix(a))
      throw new CompileError(r.prefixPos ?? r.pos, `prefix length ${r.prefixlen} too long for ${a.address}`, String(r.prefixlen));
    return r.prefixlen;
  }

  secCtx(c: SecCtxSpec) {
    return { alg: c.alg, doi: c.doi, ctx: Buffer.concat([Buffer.from(c.text, 'utf8'), Buffer.alloc(1)]) };
  }

  async sa(c: SaCommand): Promise<SetkeyStep> {
    const srcs = c.kind === 'get' || c.kind === 'delete' ? [await this.single(c.src, c.options)] : await this.resolve(c.src, c.options);
    const dsts = c.kind === 'get' || c.kind === 'delete' ? [await this.single(c.dst, c.options)] : await this.resolve(c.dst, c.options);
    const natOa = c.proto.natOa ? await this.single(c.proto.natOa, c.options) : undefined;
    const type = { add: SadbMsgType.ADD, getspi: SadbMsgType.GETSPI, get: SadbMsgType.GET, delete: SadbMsgType.DELETE }[c.kind];
    const messages: PfKeyMessage[] = [];
    for (const s of srcs) {
      for (const d of dsts) {
        if (s.family !== d.family) continue;
        const msg: PfKeyMessage = { ...this.header(type, c.proto.satype), ext: {} };
        const ext = msg.ext;
        ext.sa = {
          spi: c.spi,
          replay: c.ext.replay,
          state: SadbSaState.LARVAL,
          auth: c.alg.auth,
          encrypt: c.alg.encrypt,
          flags: c.ext.flags,
        };
        ext.sa2 = { mode: c.ext.mode, sequence: 0, reqid: c.ext.reqid };
        ext.addressSrc = address(s, IPSEC_ULPROTO_ANY, fullPrefix(s));
        ext.addressDst = address(d, IPSEC_ULPROTO_ANY, fullPrefix(d));
        if (c.kind === 'add' || c.kind === 'getspi') {
          if (c.proto.satype !== SadbSaType.X_IPCOMP && c.alg.keyEncrypt && c.alg.keyEncrypt.length > 0)
            ext.keyEncrypt = { bits: c.alg.keyEncrypt.length * 8, key: c.alg.keyEncrypt };
          if (c.alg.keyAuth) ext.keyAuth = { bits: c.alg.keyAuth.length * 8, key: c.alg.keyAuth };
          const lh = c.ext.lifetimeHard;
          const ls = c.ext.lifetimeSoft;
          if (lh.addtime !== 0n || lh.bytes !== 0n)
            ext.lifetimeHard = { allocations: 0, bytes: lh.bytes, addtime: lh.addtime, usetime: 0n };
          if (ls.addtime !== 0n || ls.bytes !== 0n)
            ext.lifetimeSoft = { allocations: 0, bytes: ls.bytes, addtime: ls.addtime, usetime: 0n };
          if (c.ext.secCtx) ext.secCtx = this.secCtx(c.ext.secCtx);
          if (c.kind === 'getspi' && c.spi !== 0) ext.spirange = { min: c.spi, max: c.spi };
          if (c.proto.espInUdp) {
            ext.natTType = { type: NatTType.ESPINUDP };
            // parse.y get_port(): the [port] of SRC/DST, 4500 when none
            ext.natTSport = { port: s.port === 0 ? 4500 : s.port };
            ext.natTDport = { port: d.port === 0 ? 4500 : d.port };
            if (natOa) ext.natTOa = address(natOa, IPSEC_ULPROTO_ANY, fullPrefix(natOa));
          }
        }
        messages.push(msg);
      }
    }
    if (messages.length === 0) throw new CompileError(c.src.pos, 'source and destination have no address family in common', c.src.host);
    return { kind: 'send', line: c.line, command: c.kind, messages };
  }

  async spd(c: SpdCommand): Promise<SetkeyStep> {
    const s = await this.single(c.src, c.options);
    const d = await this.single(c.dst, c.options);
    if (s.family !== d.family) throw new CompileError(c.dst.pos, 'source and destination are of different address families', c.dst.host);
    const type = { spdadd: SadbMsgType.X_SPDADD, spdupdate: SadbMsgType.X_SPDUPDATE, spddelete: SadbMsgType.X_SPDDELETE }[c.kind];
    const build = (policy: SadbXPolicy): PfKeyMessage => {
      const msg: PfKeyMessage = { ...this.header(type, SadbSaType.UNSPEC), ext: {} };
      msg.ext.policy = policy;
      msg.ext.addressSrc = address(s, c.upper, this.prefix(c.src, s));
      msg.ext.addressDst = address(d, c.upper, this.prefix(c.dst, d));
      if (c.secCtx) msg.ext.secCtx = this.secCtx(c.secCtx);
      return msg;
    };
    const messages = [build(c.policy)];
    if (this.opts.rfcMode && c.policy.dir === IpsecDir.INBOUND) messages.push(build(fwdCopy(c.policy)));
    return { kind: 'send', line: c.line, command: c.kind, messages };
  }

  async migrate(c: MigrateCommand): Promise<SetkeyStep> {
    const s = await this.single(c.src, c.options);
    const d = await this.single(c.dst, c.options);
    if (s.family !== d.family) throw new CompileError(c.dst.pos, 'source and destination are of different address families', c.dst.host);
    const msg: PfKeyMessage = { ...this.header(SadbMsgType.X_MIGRATE, SadbSaType.UNSPEC), ext: {} };
    msg.ext.addressSrc = address(s, c.upper, this.prefix(c.src, s));
    msg.ext.addressDst = address(d, c.upper, this.prefix(c.dst, d));
    msg.ext.policy = { type: IpsecPolicyType.IPSEC, dir: c.dir, id: 0, priority: 0, requests: c.requests };
    if (c.kmaddress) msg.ext.kmaddress = c.kmaddress;
    return { kind: 'send', line: c.line, command: 'migrate', messages: [msg] };
  }

  async step(c: SetkeyCommand): Promise<SetkeyStep> {
    switch (c.kind) {
      case 'add':
      case 'getspi':
      case 'get':
      case 'delete':
        return this.sa(c);
      case 'deleteall': {
        const src = await this.resolve(c.src, c.options);
        const dst = await this.resolve(c.dst, c.options);
        return { kind: 'deleteall', line: c.line, satype: c.proto.satype, src, dst };
      }
      case 'flush':
        return { kind: 'send', line: c.line, command: c.kind, messages: [{ ...this.header(SadbMsgType.FLUSH, c.satype), ext: {} }] };
      case 'dump':
        return { kind: 'send', line: c.line, command: c.kind, messages: [{ ...this.header(SadbMsgType.DUMP, c.satype), ext: {} }] };
      case 'spdflush':
        return {
          kind: 'send',
          line: c.line,
          command: c.kind,
          messages: [{ ...this.header(SadbMsgType.X_SPDFLUSH, SadbSaType.UNSPEC), ext: {} }],
        };
      case 'spddump':
        return {
          kind: 'send',
          line: c.line,
          command: c.kind,
          messages: [{ ...this.header(SadbMsgType.X_SPDDUMP, SadbSaType.UNSPEC), ext: {} }],
        };
      case 'spdadd':
      case 'spdupdate':
      case 'spddelete':
        return this.spd(c);
      case 'migrate':
        return this.migrate(c);
    }
  }
}

/**
 * The fwd copy of an inbound policy in RFC mode (parse.y setkeymsg_spdaddr,
 * HAVE_POLICY_FWD): same policy with dir fwd; if the first request's level is
 * unique it becomes require with reqid 0 (only the first, as setkey does).
 */
export function fwdCopy(p: SadbXPolicy): SadbXPolicy {
  const requests = p.requests.map((r, i) =>
    i === 0 && r.level === IpsecLevel.UNIQUE ? { ...r, level: IpsecLevel.REQUIRE, reqid: 0 } : { ...r },
  );
  return { ...p, dir: IpsecDir.FWD, requests };
}

/** Resolve names and build the PF_KEY requests of a parsed script. */
export async function compileSetkeyScript(commands: SetkeyCommand[], opts: CompileOptions): Promise<CompileResult> {
  const compiler = new Compiler(opts);
  const steps: SetkeyStep[] = [];
  try {
    for (const c of commands) steps.push(await compiler.step(c));
  } catch (e) {
    if (e instanceof CompileError)
      return {
        ok: false,
        error: { file: opts.file ?? '<stdin>', line: e.spec.line, column: e.spec.column, message: e.message, near: e.near },
      };
    throw e;
  }
  return { ok: true, steps };
}
