/**
 * Parser of setkey scripts: the whole ipsec-tools setkey grammar (parse.y)
 * plus tanuki's `migrate`. The result is a list of typed commands, or the
 * first error as file:line:column with the offending token; a script whose
 * parse fails yields no commands at all, so nothing of it is applied.
 */
import { IPPROTO, IPSEC_ULPROTO_ANY, IpsecDir, IpsecMode, SadbSaType } from '../../pfkey/constants';
import type { SockAddr } from '../../pfkey/types';
import { findSetkeyAlgorithm, SadbXSaFlag } from './algorithms';
import type {
  AddrOptions,
  AlgorithmSpec,
  HostSpec,
  ProtoSpec,
  RangeSpec,
  SaCommand,
  SaExtensions,
  SecCtxSpec,
  SetkeyCommand,
  SetkeyWarning,
  SpdCommand,
} from './ast';
import { SetkeySyntaxError, type SetkeyParseError, type SourcePos } from './errors';
import { SetkeyLexer, type Token } from './lexer';
import { parseDirAndRequests, parseEndpoint, parsePolicy, type PolicyParseError } from './policy';
import { systemProtocols, type ProtocolDb } from './protocols';

export interface ParseOptions {
  /** Name used in error messages ("<stdin>" for standard input). */
  file?: string;
  protocols?: ProtocolDb;
}

export type ParseResult =
  | { ok: true; commands: SetkeyCommand[]; warnings: SetkeyWarning[]; exited: boolean }
  | { ok: false; error: SetkeyParseError; warnings: SetkeyWarning[] };

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

function isDecimal(s: string): boolean {
  return /^\d+$/.test(s);
}

class Parser {
  readonly warnings: SetkeyWarning[] = [];
  exited = false;

  constructor(
    private readonly lex: SetkeyLexer,
    private readonly protocols: ProtocolDb,
  ) {}

  fail(t: SourcePos & { raw?: string }, message: string, near?: string): never {
    throw new SetkeySyntaxError({ line: t.line, column: t.column }, message, near ?? t.raw ?? '');
  }

  warn(t: SourcePos, message: string): void {
    this.warnings.push({ line: t.line, column: t.column, message });
  }

  expectSemi(): void {
    const t = this.lex.next();
    if (t.kind !== 'SEMI') this.fail(t, t.kind === 'EOF' ? 'missing ";" at end of command' : 'syntax error: expected ";"');
  }

  word(what: string): Token {
    const t = this.lex.next();
    if (t.kind !== 'WORD') this.fail(t, `expected ${what}`);
    return t;
  }

  decimal(what: string, max: bigint): bigint {
    const t = this.lex.next();
    if (t.kind !== 'WORD' || !isDecimal(t.text)) this.fail(t, `expected ${what} (a decimal number)`);
    const v = BigInt(t.text);
    if (v > max) this.fail(t, `${what} out of range (0..${max})`);
    return v;
  }

  // -------------------------------------------------------------------------
  commands(): SetkeyCommand[] {
    const out: SetkeyCommand[] = [];
    for (;;) {
      const t = this.lex.next();
      if (t.kind === 'EOF') return out;
      if (t.kind !== 'WORD') this.fail(t, 'syntax error: expected a command');
      const cmd = this.command(t);
      if (cmd === 'exit') {
        this.exited = true;
        return out;
      }
      out.push(cmd);
    }
  }

  command(t: Token): SetkeyCommand | 'exit' {
    const base = { line: t.line, pos: { line: t.line, column: t.column } };
    switch (t.text) {
      case 'add':
      case 'getspi':
      case 'get':
      case 'delete':
        return this.saCommand(t.text, base);
      case 'deleteall': {
        const options = this.addrOptions();
        const src = this.host(false);
        const dst = this.host(false);
        const proto = this.protoSpec(true, false);
        this.expectSemi();
        return { kind: 'deleteall', ...base, options, src, dst, proto };
      }
      case 'flush':
      case 'dump': {
        let satype = SadbSaType.UNSPEC;
        if (this.lex.peek().kind === 'WORD') satype = this.protoSpec(true, false).satype;
        this.expectSemi();
        return { kind: t.text, ...base, satype };
      }
      case 'spdadd':
      case 'spdupdate':
      case 'spddelete':
        return this.spdCommand(t.text, base);
      case 'spdflush':
      case 'spddump':
        this.expectSemi();
        return { kind: t.text, ...base };
      case 'migrate':
        return this.migrate(base);
      case 'exit':
      case 'quit':
      case 'bye':
        this.expectSemi();
        return 'exit';
      case 'update':
        return this.fail(t, '"update" is in the setkey man page but not in its grammar; use delete and add');
      default:
        return this.fail(t, `unknown command "${t.text}"`);
    }
  }

  addrOptions(): AddrOptions {
    const o: AddrOptions = { numericOnly: false };
    while (this.lex.peek().kind === 'FLAG' && /^[n46]+$/.test(this.lex.peek().text)) {
      const f = this.lex.next();
      for (const ch of f.text) {
        if (ch === '4') o.family = 4;
        else if (ch === '6') o.family = 6;
        else o.numericOnly = true;
      }
    }
    return o;
  }

  /** [port] | [any] after an address (parse.y portstr). */
  portSpec(): number {
    if (this.lex.peek().kind !== 'LBRACK') return 0;
    this.lex.next();
    const p = this.lex.next();
    if (p.kind !== 'WORD') this.fail(p, 'expected a port number or "any" in [ ]');
    let port = 0;
    if (p.text === 'any') port = 0;
    else if (isDecimal(p.text)) {
      port = Number(p.text);
      if (port > 65535) this.fail(p, 'port out of range (0..65535)');
    } else this.fail(p, `invalid port "${p.text}" (a decimal number or "any")`);
    const close = this.lex.next();
    if (close.kind !== 'RBRACK') this.fail(close, 'expected "]"');
    return port;
  }

  host(withPort: boolean): HostSpec {
    const t = this.word('an address');
    const port = withPort ? this.portSpec() : 0;
    return { host: t.text, pos: { line: t.line, column: t.column }, port };
  }

  range(): RangeSpec {
    const t = this.word('an address range');
    const r: RangeSpec = { host: t.text, pos: { line: t.line, column: t.column }, port: 0 };
    if (this.lex.peek().kind === 'SLASH') {
      this.lex.next();
      const p = this.lex.next();
      if (p.kind !== 'WORD' || !isDecimal(p.text)) this.fail(p, 'expected a prefix length after "/"');
      const n = Number(p.text);
      if (n > 128) this.fail(p, 'prefix length out of range');
      r.prefixlen = n;
      r.prefixPos = { line: p.line, column: p.column };
    }
    r.port = this.portSpec();
    return r;
  }

  /** parse.y protocol_spec. */
  protoSpec(required: boolean, allowNatOa: boolean): ProtoSpec {
    const t = this.lex.peek();
    const pos = { line: t.line, column: t.column };
    if (t.kind !== 'WORD') {
      if (required) this.fail(t, 'expected a security protocol (esp, esp-old, ah, ah-old, ipcomp, esp-udp)');
      return { satype: SadbSaType.UNSPEC, old: false, espInUdp: false, pos };
    }
    const table: Record<string, Omit<ProtoSpec, 'pos'>> = {
      esp: { satype: SadbSaType.ESP, old: false, espInUdp: false },
      'esp-old': { satype: SadbSaType.ESP, old: true, espInUdp: false },
      ah: { satype: SadbSaType.AH, old: false, espInUdp: false },
      'ah-old': { satype: SadbSaType.AH, old: true, espInUdp: false },
      ipcomp: { satype: SadbSaType.X_IPCOMP, old: false, espInUdp: false },
      'esp-udp': { satype: SadbSaType.ESP, old: false, espInUdp: true },
    };
    if (t.text === 'tcp') this.fail(t, 'tcp (TCP-MD5, SADB_X_SATYPE_TCPSIGNATURE) SAs exist only on BSD kernels');
    const row = table[t.text];
    if (!row) {
      if (required) this.fail(t, `unknown security protocol "${t.text}"`);
      return { satype: SadbSaType.UNSPEC, old: false, espInUdp: false, pos };
    }
    this.lex.next();
    const spec: ProtoSpec = { ...row, pos };
    if (row.espInUdp && allowNatOa) {
      const n = this.lex.peek();
      if (n.kind === 'WORD' && !isDecimal(n.text) && !/^0[xX][0-9A-Fa-f]+$/.test(n.text)) spec.natOa = this.host(false);
    }
    return spec;
  }

  spi(): number {
    const t = this.lex.next();
    if (t.kind !== 'WORD') this.fail(t, 'expected an SPI');
    let v: bigint;
    if (isDecimal(t.text)) v = BigInt(t.text);
    else if (/^0[xX][0-9A-Fa-f]+$/.test(t.text)) v = BigInt(t.text.toLowerCase());
    else return this.fail(t, 'invalid SPI (decimal or 0x hexadecimal)');
    if (v > BigInt(U32_MAX)) this.fail(t, 'SPI too big (max 0xffffffff)');
    return Number(v);
  }

  secCtx(): SecCtxSpec {
    const doi = Number(this.decimal('the security context DOI', 255n));
    const alg = Number(this.decimal('the security context algorithm', 255n));
    const s = this.lex.next();
    if (s.kind !== 'QUOTED') this.fail(s, 'expected the security context as a "quoted string"');
    if (doi === 0) this.fail(s, 'security context DOI 0 means "no context"; use a non-zero DOI');
    return { doi, alg, text: s.text };
  }

  /** parse.y extension_spec. */
  extensions(proto: ProtoSpec): { ext: SaExtensions; modePos?: Token } {
    const ext: SaExtensions = {
      mode: IpsecMode.ANY,
      reqid: 0,
      replay: 0,
      flags: SadbXSaFlag.CYCSEQ | (proto.old ? SadbXSaFlag.OLD : 0),
      lifetimeHard: { addtime: 0n, bytes: 0n },
      lifetimeSoft: { addtime: 0n, bytes: 0n },
    };
    let modePos: Token | undefined;
    for (;;) {
      const f = this.lex.peek();
      if (f.kind !== 'FLAG') break;
      switch (f.text) {
        case 'm': {
          this.lex.next();
          const m = this.word('transport, tunnel or any after -m');
          if (m.text === 'transport') ext.mode = IpsecMode.TRANSPORT;
          else if (m.text === 'tunnel') ext.mode = IpsecMode.TUNNEL;
          else if (m.text === 'any') ext.mode = IpsecMode.ANY;
          else this.fail(m, `invalid mode "${m.text}" (transport, tunnel or any)`);
          modePos = f;
          break;
        }
        case 'r': {
          this.lex.next();
          if (proto.old) this.fail(f, 'replay prevention cannot be used with ah/esp-old');
          ext.replay = Number(this.decimal('the replay window size', 255n));
          break;
        }
        case 'u':
          this.lex.next();
          ext.reqid = Number(this.decimal('the reqid', BigInt(U32_MAX)));
          break;
        case 'f': {
          this.lex.next();
          const x = this.word('zero-pad, random-pad, seq-pad or nocyclic-seq after -f');
          if (x.text === 'random-pad') ext.flags |= SadbXSaFlag.PRAND;
          else if (x.text === 'zero-pad') ext.flags |= SadbXSaFlag.PZERO;
          else if (x.text === 'seq-pad') ext.flags |= SadbXSaFlag.PSEQ;
          else if (x.text === 'nocyclic-seq') ext.flags &= ~SadbXSaFlag.CYCSEQ;
          else this.fail(x, `unknown -f extension "${x.text}"`);
          break;
        }
        case 'lh':
          this.lex.next();
          ext.lifetimeHard.addtime = this.decimal('the hard lifetime (seconds)', U64_MAX);
          break;
        case 'ls':
          this.lex.next();
          ext.lifetimeSoft.addtime = this.decimal('the soft lifetime (seconds)', U64_MAX);
          break;
        case 'bh':
          this.lex.next();
          ext.lifetimeHard.bytes = this.decimal('the hard lifetime (bytes)', U64_MAX);
          break;
        case 'bs':
          this.lex.next();
          ext.lifetimeSoft.bytes = this.decimal('the soft lifetime (bytes)', U64_MAX);
          break;
        case 'ctx':
          this.lex.next();
          ext.secCtx = this.secCtx();
          break;
        default:
          return { ext, modePos };
      }
    }
    return { ext, modePos };
  }

  /** KEY: "string" or 0xHEX (parse.y key_string; an odd digit count gets a leading 0 nibble). */
  key(algName: string): Buffer {
    const t = this.lex.next();
    if (t.kind === 'QUOTED') return Buffer.from(t.text, 'utf8'); // the script's bytes, as setkey reads them
    if (t.kind === 'WORD' && /^0[xX][0-9A-Fa-f]+$/.test(t.text)) {
      const hex = t.text.slice(2);
      return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    }
    if (t.kind === 'WORD' && /^0[xX]/.test(t.text)) this.fail(t, 'invalid hexadecimal key');
    return this.fail(t, `expected a key for ${algName}: "string" or 0xHEX`);
  }

  checkKeyLength(t: Token, name: string, key: Buffer, bits: { min: number; max: number; step: number }): void {
    const have = key.length * 8;
    const ok = have >= bits.min && have <= bits.max && (have - bits.min) % bits.step === 0;
    if (ok) return;
    const want =
      bits.min === bits.max
        ? `${bits.min} bits`
        : `${bits.min}..${bits.max} bits${bits.step !== 8 ? ` in steps of ${bits.step}` : ''}`;
    this.fail(t, `invalid key length for ${name}: ${have} bits given, ${want} required`);
  }

  /** -E alg KEY [-A alg KEY] | -A alg KEY | -C alg [-R] (parse.y algorithm_spec). */
  algorithm(proto: ProtoSpec, ext: SaExtensions): AlgorithmSpec {
    const spec: AlgorithmSpec = { encrypt: 0, auth: 0 };
    const f = this.lex.next();
    if (f.kind !== 'FLAG' || !['E', 'A', 'C'].includes(f.text))
      this.fail(f, 'expected an algorithm: -E, -A or -C');
    if (f.text === 'C') {
      if (proto.satype !== SadbSaType.X_IPCOMP) this.fail(f, '-C (compression) is only for ipcomp SAs');
      const n = this.word('a compression algorithm (deflate, lzs, oui)');
      const alg = findSetkeyAlgorithm('comp', n.text);
      if (!alg) this.fail(n, `unknown compression algorithm "${n.text}"`);
      spec.encrypt = alg.sadb;
      if (this.lex.peek().kind === 'FLAG' && this.lex.peek().text === 'R') {
        this.lex.next();
        ext.flags |= SadbXSaFlag.RAWCPI;
      }
      return spec;
    }
    if (proto.satype === SadbSaType.X_IPCOMP) this.fail(f, 'an ipcomp SA takes -C, not -E/-A');
    if (f.text === 'E') {
      if (proto.satype !== SadbSaType.ESP) this.fail(f, '-E (encryption) is only for esp SAs');
      const n = this.word('an encryption algorithm');
      const alg = findSetkeyAlgorithm('encrypt', n.text);
      if (!alg) this.fail(n, `unknown encryption algorithm "${n.text}"`);
      if (alg.unsupportedReason) this.fail(n, alg.unsupportedReason);
      if (alg.obsolete) this.warn(n, 'WARNING: obsolete algorithm');
      if (alg.requiresOld && !proto.old) this.fail(n, `algorithm mismatched: ${alg.name} needs esp-old`);
      if (alg.forbidsOld && proto.old) this.fail(n, `algorithm mismatched: ${alg.name} cannot be used with esp-old`);
      ext.flags |= alg.flags ?? 0;
      spec.encrypt = alg.sadb;
      if (alg.keyBits) {
        const kt = this.lex.peek();
        const key = this.key(alg.name);
        this.checkKeyLength(kt, alg.name, key, alg.keyBits);
        spec.keyEncrypt = key;
      } else spec.keyEncrypt = Buffer.alloc(0);
      const a = this.lex.peek();
      if (a.kind !== 'FLAG' || a.text !== 'A') return spec;
      this.lex.next();
    } else if (proto.satype !== SadbSaType.AH) {
      this.fail(f, 'an esp SA needs -E (optionally followed by -A)');
    }
    const n = this.word('an authentication algorithm');
    const alg = findSetkeyAlgorithm('auth', n.text);
    if (!alg) this.fail(n, `unknown authentication algorithm "${n.text}"`);
    if (alg.unsupportedReason) this.fail(n, alg.unsupportedReason);
    spec.auth = alg.sadb;
    if (alg.keyBits) {
      const kt = this.lex.peek();
      const key = this.key(alg.name);
      this.checkKeyLength(kt, alg.name, key, alg.keyBits);
      spec.keyAuth = key;
    }
    return spec;
  }

  saCommand(kind: SaCommand['kind'], base: { line: number; pos: SourcePos }): SaCommand {
    const options = this.addrOptions();
    const src = this.host(true);
    const dst = this.host(true);
    const proto = this.protoSpec(true, kind === 'add' || kind === 'getspi');
    const spi = this.spi();
    const { ext, modePos } = this.extensions(proto);
    let alg: AlgorithmSpec = { encrypt: 0, auth: 0 };
    if (kind === 'add') alg = this.algorithm(proto, ext);
    if ((kind === 'get' || kind === 'delete') && ext.mode !== IpsecMode.ANY && modePos)
      this.warn(modePos, 'WARNING: mode is obsolete');
    const t = this.lex.peek();
    if (t.kind === 'FLAG' && kind !== 'add') this.fail(t, `${kind} takes no algorithm or unknown option "${t.raw}"`);
    if (t.kind === 'FLAG') this.fail(t, `unknown or misplaced option "${t.raw}"`);
    this.expectSemi();
    return { kind, ...base, options, src, dst, proto, spi, ext, alg };
  }

  /** parse.y upper_spec. */
  upper(): number {
    const t = this.word('an upper-layer protocol (a number, a name from /etc/protocols, icmp6, ip4 or any)');
    if (t.text === 'any') return IPSEC_ULPROTO_ANY;
    if (isDecimal(t.text)) {
      const n = Number(t.text);
      if (n > 255) this.fail(t, 'upper-layer protocol out of range (0..255)');
      return n;
    }
    const n = this.protocols.byName(t.text);
    if (n !== undefined) return n;
    if (t.text === 'icmp6') return IPPROTO.ICMPV6;
    if (t.text === 'ip4') return IPPROTO.IPIP;
    return this.fail(t, `invalid upper layer protocol "${t.text}"`);
  }

  /** parse.y fix_portstr: ICMP type,code / MH type / GRE key replace the ports. */
  upperMisc(upper: number, src: RangeSpec, dst: RangeSpec): void {
    const t = this.lex.peek();
    if (t.kind !== 'WORD') return;
    this.lex.next();
    if (upper === IPPROTO.ICMP || upper === IPPROTO.ICMPV6 || upper === IPPROTO.MH) {
      const m = /^(\d+)(?:,(\d+))?$/.exec(t.text);
      if (!m) this.fail(t, 'invalid an upper layer protocol spec: expected type[,code]');
      const type = Number(m[1]);
      const code = m[2] === undefined ? 0 : Number(m[2]);
      if (type > 255 || code > 255) this.fail(t, 'ICMP type and code must be 0..255');
      src.port = type;
      dst.port = code;
      return;
    }
    if (upper === IPPROTO.GRE) {
      let key: number;
      const dotted = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t.text);
      if (dotted) {
        const b = dotted.slice(1).map(Number);
        if (b.some((x) => x > 255)) this.fail(t, 'invalid GRE key');
        key = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      } else if (isDecimal(t.text) && BigInt(t.text) <= BigInt(U32_MAX)) key = Number(t.text);
      else return this.fail(t, 'invalid an upper layer protocol spec: expected a GRE key (number or a.b.c.d)');
      src.port = key >>> 16;
      dst.port = key & 0xffff;
      return;
    }
    if (t.text === 'in' || t.text === 'out' || t.text === 'fwd') this.fail(t, 'expected -P before the policy');
    this.fail(t, 'an upper-layer argument (type,code or key) is only accepted for icmp, icmp6, mh and gre');
  }

  policyText(): { text: string; offset: number } {
    const f = this.lex.next();
    if (f.kind !== 'FLAG' || f.text !== 'P') this.fail(f, 'expected -P and a policy');
    return this.lex.readPolicyText();
  }

  policyError(offset: number, e: PolicyParseError): never {
    const pos = this.lex.positionOf(offset + e.offset);
    return this.fail(pos, e.message, e.near);
  }

  spdCommand(kind: SpdCommand['kind'], base: { line: number; pos: SourcePos }): SpdCommand {
    const first = this.lex.peek();
    if (first.kind === 'WORD' && first.text === 'tagged') {
      this.fail(first, 'tagged policies (SADB_X_EXT_TAG) are a NetBSD/FreeBSD PF_KEY extension with no Linux number');
    }
    const options = this.addrOptions();
    const src = this.range();
    const dst = this.range();
    const upper = this.upper();
    this.upperMisc(upper, src, dst);
    let secCtx: SecCtxSpec | undefined;
    if (this.lex.peek().kind === 'FLAG' && this.lex.peek().text === 'ctx') {
      this.lex.next();
      secCtx = this.secCtx();
    }
    const { text, offset } = this.policyText();
    const r = parsePolicy(text);
    if (!r.ok) this.policyError(offset, r.error);
    this.expectSemi();
    const cmd: SpdCommand = { kind, ...base, options, src, dst, upper, policy: r.policy };
    if (secCtx) cmd.secCtx = secCtx;
    return cmd;
  }

  migrate(base: { line: number; pos: SourcePos }): SetkeyCommand {
    const options = this.addrOptions();
    const src = this.range();
    const dst = this.range();
    const upper = this.upper();
    this.upperMisc(upper, src, dst);
    const { text, offset } = this.policyText();
    const km = /(^|\s)-k(\s|$)/.exec(text);
    const reqText = km ? text.slice(0, km.index) : text;
    const r = parseDirAndRequests(reqText);
    if (!r.ok) this.policyError(offset, r.error);
    if (r.requests.length === 0 || r.requests.length % 2 !== 0) {
      this.policyError(offset, {
        offset: reqText.length,
        message: 'migrate needs (old, new) request pairs after the direction',
        near: reqText.trim(),
      });
    }
    let kmaddress: { local: SockAddr; remote: SockAddr } | undefined;
    if (km) {
      const kStart = km.index + km[1].length;
      const argStart = kStart + 2;
      const arg = text.slice(argStart);
      const lead = arg.length - arg.trimStart().length;
      const body = arg.trim();
      const m = /^([^\s[\]-]+)(?:\[(\d+)\])?-([^\s[\]-]+)(?:\[(\d+)\])?$/.exec(body);
      const at = argStart + lead;
      if (!m) this.policyError(offset, { offset: at, message: 'expected -k LOCAL-REMOTE (the new IKE endpoints)', near: body });
      const local = parseEndpoint(m[1], m[2] ? Number(m[2]) : 0);
      const remote = parseEndpoint(m[3], m[4] ? Number(m[4]) : 0);
      if (!local) this.policyError(offset, { offset: at, message: `invalid IP address "${m[1]}"`, near: m[1] });
      if (!remote) this.policyError(offset, { offset: at + body.indexOf('-') + 1, message: `invalid IP address "${m[3]}"`, near: m[3] });
      if (local.family !== remote.family || local.port > 65535 || remote.port > 65535)
        this.policyError(offset, { offset: at, message: 'KMADDRESS endpoints must be of one address family', near: body });
      kmaddress = { local, remote };
    }
    this.expectSemi();
    const cmd: SetkeyCommand = {
      kind: 'migrate',
      ...base,
      options,
      src,
      dst,
      upper,
      dir: r.dir as IpsecDir,
      requests: r.requests,
    };
    if (kmaddress) cmd.kmaddress = kmaddress;
    return cmd;
  }
}

/** Parse a whole setkey script. Nothing is resolved or sent. */
export function parseSetkeyScript(text: string, options: ParseOptions = {}): ParseResult {
  const file = options.file ?? '<stdin>';
  const parser = new Parser(new SetkeyLexer(text), options.protocols ?? systemProtocols());
  try {
    const commands = parser.commands();
    return { ok: true, commands, warnings: parser.warnings, exited: parser.exited };
  } catch (e) {
    if (e instanceof SetkeySyntaxError) {
      return {
        ok: false,
        error: { file, line: e.pos.line, column: e.pos.column, message: e.message, near: e.near },
        warnings: parser.warnings,
      };
    }
    throw e;
  }
}
