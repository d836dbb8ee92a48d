/**
 * racoon.conf parser (racoon-compat §1; grammar after racoon's cfparse.y).
 *
 * A recursive-descent parser over the start-state lexer. It produces one
 * immutable RacoonConfig or a list of errors, never both, and never throws.
 * Where racoon's code and manual page differ, racoon's code wins; each such
 * choice is listed in docs/config.md.
 *
 * Error handling mirrors racoon: an error that makes racoon `return -1` from the
 * parser stops parsing at once; a yyerror() racoon reports without returning is
 * collected and parsing goes on, but the configuration is still rejected
 * (racoon's "parse error is nothing, but yyerrorcount is N" exit).
 */
import * as nodePath from 'node:path';
import { SadbMsgType, SadbSaType } from '../../pfkey/constants';
import type { PfKeyMessage } from '../../pfkey/types';
import { canonicalIp, ipFamily, parseIp } from '../../util/ip';
import {
  type AlgorithmClass,
  type RacoonAlgorithm,
  dhGroupByNumber,
  keyLengthAllowed,
  lookupRacoonAlgorithm,
} from './algorithms';
import { type FileSystem, parsePlainRsa, parseX509, realFileSystem } from './files';
import {
  ULPROTO_ANY,
  dnToDer,
  nameIdType,
  rangeToId,
  sockaddrBlobId,
  sockaddrToId,
  textId,
} from './ids';
import { RacoonLexer, type Token, type TokenKind } from './lexer';
import { findSaInfo, sainfoDescription, selectRemote } from './select';
import {
  type AdminSock,
  type AlgorithmChoice,
  type CertificateSpec,
  type ConfigError,
  type Endpoint,
  type ExchangeMode,
  type IdType,
  type Identifier,
  IpsecDoiIdType,
  type LdapCfg,
  type LogLevel,
  type ModeCfg,
  type ParseResult,
  type PathInfo,
  type PeersCertSpec,
  type PhaseId,
  type Proposal,
  type RacoonConfig,
  type RadiusServer,
  type RemoteConf,
  type SaInfo,
  type SaInfoId,
  type Scripts,
  type SourcePos,
  type SplitNetwork,
} from './types';

/** Algorithms the kernel announced in its SADB_REGISTER replies, by SADB number. */
export interface KernelAlgorithm {
  readonly id: number;
  readonly minBits: number;
  readonly maxBits: number;
}
export interface KernelAlgorithms {
  /** SADB_EXT_SUPPORTED_ENCRYPT of the ESP registration */
  readonly encrypt: readonly KernelAlgorithm[];
  /** SADB_EXT_SUPPORTED_AUTH of the AH/ESP registrations */
  readonly auth: readonly KernelAlgorithm[];
}

/** The kernel lists from racoon's SADB_REGISTER replies (AH, ESP, IPCOMP). */
export function kernelAlgorithmsFromRegister(replies: readonly PfKeyMessage[]): KernelAlgorithms {
  const encrypt = new Map<number, KernelAlgorithm>();
  const auth = new Map<number, KernelAlgorithm>();
  for (const m of replies) {
    if (m.type !== SadbMsgType.REGISTER || m.satype === SadbSaType.X_IPCOMP) continue;
    for (const a of m.ext.supportedEncrypt?.algs ?? []) encrypt.set(a.id, { id: a.id, minBits: a.minbits, maxBits: a.maxbits });
    for (const a of m.ext.supportedAuth?.algs ?? []) auth.set(a.id, { id: a.id, minBits: a.minbits, maxBits: a.maxbits });
  }
  return { encrypt: [...encrypt.values()], auth: [...auth.values()] };
}

export interface ParseOptions {
  /** file access (tests inject a fake); default: the real file system. */
  readonly fs?: FileSystem;
  /** SADB_REGISTER result; when given, sainfo algorithms are checked like racoon's pk_checkalg(). */
  readonly kernelAlgorithms?: KernelAlgorithms;
  /**
   * Load certificates, plain-RSA keys and keyid files while parsing, as racoon
   * does (default true). `false` only records the file names.
   */
  readonly loadFiles?: boolean;
  /** racoon's default admin socket path (configure's ADMINPORTDIR). */
  readonly defaultAdminSock?: string;
}

/** localconf.h / isakmp_cfg.c / isakmp_xauth.c defaults (racoon's code). */
const DEFAULT_ADMINSOCK = '/var/racoon/racoon.sock';
const MAX_INCLUDE_DEPTH = 10;
const PORT_ISAKMP = 500;
/** OAKLEY_ATTR_SA_LD_SEC_DEFAULT / IPSECDOI_ATTR_SA_LD_SEC_DEFAULT (seconds). */
const DEFAULT_LIFETIME = 28800;
const DEFAULT_NONCE_SIZE = 16;
const IP_MAXPACKET = 65535;
const RADIUS_MAX_SERVERS = 5;
const MAXNS = 3;
const MAXWINS = 4;

/** racoon's IDTYPE_* numbering, used in its "id type forbidden: %d" message. */
const IDTYPE_NUM: Readonly<Record<IdType, number>> = { fqdn: 0, user_fqdn: 1, keyid: 2, address: 3, asn1dn: 4, subnet: 5 };

const TOP_LEVEL = [
  'privsep',
  'path',
  'include',
  'pfkey_buffer',
  'gss_id_enc',
  'log',
  'padding',
  'listen',
  'ldapcfg',
  'radiuscfg',
  'mode_cfg',
  'timer',
  'sainfo',
  'remote',
  'complex_bundle',
];

class Abort {
  constructor(readonly error: ConfigError) {}
}

interface SpSpec {
  enc: AlgorithmChoice | null;
  hash: AlgorithmChoice | null;
  ameth: AlgorithmChoice | null;
  dh: AlgorithmChoice | null;
  lifetime: number;
  gssId: string | null;
  vendorGssapi: boolean;
  owner: RemoteBuilder;
}

/** racoon's struct remoteconf while it is being parsed (shared parts are shared on inherit). */
interface RemoteBuilder {
  name: string | null;
  remote: Endpoint | null;
  anonymousPort: number | null;
  inheritedFrom: RemoteBuilder | null;
  etypes: ExchangeMode[] | null;
  situation: 'identity_only' | 'secrecy' | 'integrity';
  myIdentifier: Identifier | null;
  idvl: Identifier[];
  verifyIdentifier: boolean;
  xauth: { login: string | null } | null;
  mycert: CertificateSpec | null;
  cacert: { type: 'x509'; file: string } | null;
  peerscert: PeersCertSpec | null;
  rsaPrivate: { count: number };
  rsaPublic: { count: number };
  verifyCert: boolean;
  sendCert: boolean;
  sendCr: boolean;
  matchEmptyCr: boolean;
  nonceSize: number;
  passive: boolean;
  initialContact: boolean;
  supportProxy: boolean;
  generatePolicy: 'off' | 'require' | 'unique';
  natTraversal: 'off' | 'on' | 'force';
  proposalCheck: 'obey' | 'strict' | 'claim' | 'exact';
  dpd: boolean;
  dpdDelay: number;
  dpdRetry: number;
  dpdMaxfail: number;
  rekey: 'off' | 'on' | 'force';
  ph1id: number;
  lifetime: number;
  ikeFrag: 'off' | 'on' | 'force';
  espFrag: number;
  scripts: { phase1_up: string | null; phase1_down: string | null; phase1_dead: string | null };
  modeCfg: boolean;
  weakPhase1Check: boolean;
  spspecs: SpSpec[];
  ikeVersion: 1 | 2;
  ikeVersionPos: SourcePos | null;
  mobike: boolean;
  mip6Kbit: 'on' | 'off' | null;
  pos: SourcePos;
  done: RemoteConf | null;
}

function newRemote(pos: SourcePos): RemoteBuilder {
  return {
    name: null,
    remote: null,
    anonymousPort: null,
    inheritedFrom: null,
    etypes: null,
    situation: 'identity_only',
    myIdentifier: null,
    idvl: [],
    verifyIdentifier: false,
    xauth: null,
    mycert: null,
    cacert: null,
    peerscert: null,
    rsaPrivate: { count: 0 },
    rsaPublic: { count: 0 },
    verifyCert: true,
    sendCert: true,
    sendCr: true,
    matchEmptyCr: false,
    nonceSize: DEFAULT_NONCE_SIZE,
    passive: false,
    initialContact: true,
    supportProxy: false,
    generatePolicy: 'off',
    natTraversal: 'off',
    proposalCheck: 'strict',
    dpd: true,
    dpdDelay: 0,
    dpdRetry: 5,
    dpdMaxfail: 5,
    rekey: 'on',
    ph1id: 0,
    lifetime: DEFAULT_LIFETIME,
    ikeFrag: 'off',
    espFrag: IP_MAXPACKET,
    scripts: { phase1_up: null, phase1_down: null, phase1_dead: null },
    modeCfg: false,
    weakPhase1Check: false,
    spspecs: [],
    ikeVersion: 1,
    ikeVersionPos: null,
    mobike: false,
    mip6Kbit: null,
    pos,
    done: null,
  };
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o) && !(o instanceof Uint8Array)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

function endpointText(e: Endpoint | null): string {
  if (!e) return 'anonymous';
  return `${e.address}${e.zone ? '%' + e.zone : ''}[${e.port}]`;
}

export class RacoonParser {
  private readonly lex: RacoonLexer;
  private cur: Token | null = null;
  private prev: Token | null = null;
  private readonly errors: ConfigError[] = [];
  private readonly warnings: ConfigError[] = [];
  private readonly fsys: FileSystem;
  private readonly loadFiles: boolean;
  private readonly files: string[];
  private readonly baseDir: string;

  // localconf
  private privsep: { uid: number; gid: number; chroot: string | null } | null = null;
  private readonly path: { -readonly [K in keyof PathInfo]: PathInfo[K] } = {
    include: null,
    preSharedKey: null,
    certificate: null,
    script: null,
    backupsa: null,
    pidfile: null,
    xauthUsers: null,
  };
  private pfkeyBuffer = 0;
  private gssIdEnc: 'latin1' | 'utf-16le' = 'utf-16le';
  private log: LogLevel = 'info';
  private readonly padding = { randomize: true, randomizeLength: false, maximumLength: 20, strictCheck: false, exclusiveTail: true };
  private readonly listen = {
    present: false,
    isakmp: [] as Endpoint[],
    isakmpNatt: [] as Endpoint[],
    adminsock: { path: DEFAULT_ADMINSOCK as string | null, owner: 0, group: 0, mode: 0o600 } as AdminSock,
    strictAddress: false,
  };
  private readonly timer = { counter: 5, interval: 10, persend: 1, phase1: 30, phase2: 30, nattKeepalive: 20 };
  private ldap: { -readonly [K in keyof LdapCfg]: LdapCfg[K] } | null = null;
  private radius: { auth: RadiusServer[]; acct: RadiusServer[]; timeout: number; retries: number } | null = null;
  private readonly modeCfg: { -readonly [K in keyof ModeCfg]: ModeCfg[K] } & {
    dns4: string[];
    nbns4: string[];
    splitNetwork: SplitNetwork[];
    splitDns: string[];
    authGroups: string[];
  } = {
    network4: '0.0.0.0',
    netmask4: '0.0.0.0',
    poolSize: 255,
    dns4: [],
    nbns4: [],
    splitNetworkType: null,
    splitNetwork: [],
    splitDns: [],
    defaultDomain: null,
    authSource: 'system',
    authGroups: [],
    groupSource: 'system',
    confSource: 'local',
    accounting: 'none',
    banner: '/etc/motd',
    authThrottle: 1,
    pfsGroup: 0,
    savePasswd: false,
  };
  private complexBundle = true;
  private readonly remotes: RemoteConf[] = [];
  private readonly builders = new Map<RemoteConf, RemoteBuilder>();
  private readonly sainfos: SaInfo[] = [];

  constructor(
    file: string,
    text: string,
    private readonly opts: ParseOptions = {},
  ) {
    this.lex = new RacoonLexer(file, text);
    this.fsys = opts.fs ?? realFileSystem;
    this.loadFiles = opts.loadFiles ?? true;
    this.files = [file];
    this.baseDir = nodePath.dirname(file);
    if (opts.defaultAdminSock !== undefined) this.listen.adminsock = { ...this.listen.adminsock, path: opts.defaultAdminSock };
  }

  parse(): ParseResult {
    try {
      while (this.peek().kind !== 'EOF') this.statement();
    } catch (e) {
      if (e instanceof Abort) this.errors.push(e.error);
      else {
        const t = this.cur ?? this.prev;
        this.errors.push(this.errAt(t, `internal error: ${e instanceof Error ? e.message : String(e)}`));
      }
    }
    if (this.errors.length > 0) return { ok: false, errors: this.errors, warnings: this.warnings };
    const config: RacoonConfig = {
      files: this.files,
      privsep: this.privsep,
      path: { ...this.path },
      pfkeyBuffer: this.pfkeyBuffer,
      gssIdEnc: this.gssIdEnc,
      log: this.log,
      padding: { ...this.padding },
      listen: { ...this.listen },
      timer: { ...this.timer },
      ldap: this.ldap,
      radius: this.radius,
      modeCfg: { ...this.modeCfg },
      complexBundle: this.complexBundle,
      remotes: this.remotes.map((r) => this.finalRemote(r)),
      sainfos: this.sainfos,
    };
    return { ok: true, config: deepFreeze(config), warnings: this.warnings };
  }

  // ---------------------------------------------------------------- tokens

  private peek(): Token {
    if (!this.cur) this.cur = this.lex.next();
    return this.cur;
  }

  private advance(): Token {
    const t = this.peek();
    this.prev = t;
    this.cur = null;
    return t;
  }

  private errAt(t: Token | null, message: string, expected: readonly string[] = []): ConfigError {
    const pos = t?.pos ?? { file: this.lex.currentFile, line: 1, column: 1 };
    return { file: pos.file, line: pos.line, column: pos.column, message, token: t?.text ?? '', expected };
  }

  /** racoon `yyerror(...); return -1;`: stop parsing. */
  private fail(t: Token | null, message: string): never {
    throw new Abort(this.errAt(t, message));
  }

  /** racoon `yyerror(...)` without return: reported, parsing continues, config rejected. */
  private soft(t: Token | null, message: string): void {
    this.errors.push(this.errAt(t, message));
  }

  private warn(t: Token | null, message: string): void {
    this.warnings.push(this.errAt(t, message));
  }

  private syntax(expected: readonly string[]): never {
    throw new Abort(this.errAt(this.peek(), 'syntax error', expected));
  }

  /** A syntax error at a token already consumed (a keyword valid in the lexer state but not here). */
  private syntaxAt(t: Token, expected: readonly string[]): never {
    throw new Abort(this.errAt(t, 'syntax error', expected));
  }

  private isKw(word: string): boolean {
    const t = this.peek();
    return t.kind === 'KW' && t.text === word;
  }

  private kw(word: string): Token {
    if (!this.isKw(word)) this.syntax([`'${word}'`]);
    return this.advance();
  }

  private expect(kind: TokenKind, what: string): Token {
    if (this.peek().kind !== kind) this.syntax([what]);
    return this.advance();
  }

  private eos(): Token {
    return this.expect('EOS', "';'");
  }

  private boc(): Token {
    return this.expect('BOC', "'{'");
  }

  private num(): number {
    return this.expect('NUMBER', 'a number').num;
  }

  private quoted(): string {
    return this.expect('QUOTEDSTRING', 'a quoted string').str;
  }

  private sw(): boolean {
    return this.expect('SWITCH', 'on or off').num === 1;
  }

  private unitTime(): number {
    return this.expect('UNIT_TIME', 'a time unit (sec, min, hour)').num;
  }

  /** `{ stmt* }`: calls `stmt` until the closing brace. */
  private block(stmt: () => void): void {
    this.boc();
    while (this.peek().kind !== 'EOC') stmt();
    this.advance();
  }

  /** getpathname(): names not starting with '/' are relative to the `path` directory. */
  private pathname(kind: 'include' | 'certificate', name: string): string {
    if (name.startsWith('/')) return name;
    const dir = kind === 'include' ? this.path.include : this.path.certificate;
    return dir === null ? nodePath.join(this.baseDir, name) : `${dir}/${name}`;
  }

  // ---------------------------------------------------------------- statements

  private statement(): void {
    const t = this.peek();
    if (t.kind !== 'KW') this.syntax(TOP_LEVEL);
    switch (t.text) {
      case 'privsep':
        return this.privsepStatement();
      case 'path':
        return this.pathStatement();
      case 'include':
        return this.includeStatement();
      case 'pfkey_buffer':
        this.advance();
        this.pfkeyBuffer = this.num();
        this.eos();
        return;
      case 'gss_id_enc': {
        this.advance();
        const e = this.peek();
        if (e.kind !== 'KW' || (e.text !== 'latin1' && e.text !== 'utf-16le')) this.syntax(['latin1', 'utf-16le']);
        this.advance();
        this.gssIdEnc = e.text === 'latin1' ? 'latin1' : 'utf-16le';
        this.eos();
        return;
      }
      case 'log': {
        this.advance();
        const l = this.peek();
        const levels = ['error', 'warning', 'notify', 'info', 'debug', 'debug2'];
        if (l.kind !== 'KW' || !levels.includes(l.text)) this.syntax(levels);
        this.advance();
        this.log = l.text as LogLevel;
        this.eos();
        return;
      }
      case 'padding':
        return this.paddingStatement();
      case 'listen':
        return this.listenStatement();
      case 'ldapcfg':
        return this.ldapStatement();
      case 'radiuscfg':
        return this.radiusStatement();
      case 'mode_cfg':
        return this.modeCfgStatement();
      case 'timer':
        return this.timerStatement();
      case 'sainfo':
        return this.sainfoStatement();
      case 'remote':
        return this.remoteStatement();
      case 'complex_bundle':
        this.advance();
        this.complexBundle = this.sw();
        this.eos();
        return;
      default:
        this.syntax(TOP_LEVEL);
    }
  }

  private privsepStatement(): void {
    this.advance();
    const ps = this.privsep ?? { uid: 0, gid: 0, chroot: null };
    this.privsep = ps;
    this.block(() => {
      const t = this.peek();
      if (t.kind !== 'KW') this.syntax(['user', 'group', 'chroot', "'}'"]);
      this.advance();
      if (t.text === 'chroot') {
        ps.chroot = this.quoted();
      } else if (t.text === 'user' || t.text === 'group') {
        const v = this.peek();
        if (v.kind === 'NUMBER') {
          this.advance();
          if (t.text === 'user') ps.uid = v.num;
          else ps.gid = v.num;
        } else if (v.kind === 'QUOTEDSTRING') {
          this.advance();
          const id = t.text === 'user' ? this.fsys.lookupUser(v.str) : this.fsys.lookupGroup(v.str);
          if (id === null) this.fail(v, `unknown ${t.text} "${v.str}"`);
          if (t.text === 'user') ps.uid = id;
          else ps.gid = id;
        } else this.syntax(['a quoted string', 'a number']);
      } else this.syntax(['user', 'group', 'chroot', "'}'"]);
      this.eos();
    });
  }

  private pathStatement(): void {
    this.advance();
    const t = this.peek();
    const types: Record<string, keyof PathInfo> = {
      include: 'include',
      pre_shared_key: 'preSharedKey',
      certificate: 'certificate',
      script: 'script',
      backupsa: 'backupsa',
      pidfile: 'pidfile',
      xauth_users: 'xauthUsers', // tanuki extension (docs/ikev1.md, XAUTH)
    };
    if (t.kind !== 'KW' || !(t.text in types)) this.syntax(Object.keys(types));
    this.advance();
    const v = this.quoted();
    // relative directories/files are taken relative to the main configuration file's
    // directory (racoon: its working directory); the pid file stays relative to /var/run
    this.path[types[t.text]] = t.text === 'pidfile' || v.startsWith('/') ? v : nodePath.resolve(this.baseDir, v);
    this.eos();
  }

  /** `include "glob";` (cftoken.l yycf_switch_buffer): nesting ≤ 10, glob matches read in order. */
  private includeStatement(): void {
    this.advance();
    const nameTok = this.expect('QUOTEDSTRING', 'a quoted file name');
    // the new buffer must be pushed before the token after ';' is read (bison reduces without lookahead)
    this.eos();
    if (this.lex.depth + 1 >= MAX_INCLUDE_DEPTH) this.fail(nameTok, 'Includes nested too deeply');
    const pattern = this.pathname('include', nameTok.str);
    const matches = this.fsys.glob(pattern);
    if (matches.length === 0) this.fail(nameTok, `glob found no matches for path "${pattern}"`);
    // push in reverse so that the first match is read first; unreadable matches are skipped
    const readable: Array<[string, string]> = [];
    for (const m of matches) {
      const data = this.fsys.readFile(m);
      if (data === null) this.warn(nameTok, `failed to open file ${m}`);
      else readable.push([m, data.toString('latin1')]);
    }
    if (readable.length === 0) this.fail(nameTok, `could not read any file matching "${pattern}"`);
    for (let i = readable.length - 1; i >= 0; i--) {
      this.lex.push(readable[i][0], readable[i][1]);
      this.files.push(readable[i][0]);
    }
    // files[] lists them in reading order
    this.files.splice(this.files.length - readable.length, readable.length, ...readable.map((r) => r[0]));
  }

  private paddingStatement(): void {
    this.advance();
    this.block(() => {
      const t = this.peek();
      const keys = ['randomize', 'randomize_length', 'maximum_length', 'strict_check', 'exclusive_tail'];
      if (t.kind !== 'KW' || !keys.includes(t.text)) this.syntax([...keys, "'}'"]);
      this.advance();
      switch (t.text) {
        case 'randomize':
          this.padding.randomize = this.sw();
          break;
        case 'randomize_length':
          this.padding.randomizeLength = this.sw();
          break;
        case 'maximum_length':
          this.padding.maximumLength = this.num();
          break;
        case 'strict_check':
          this.padding.strictCheck = this.sw();
          break;
        case 'exclusive_tail':
          this.padding.exclusiveTail = this.sw();
          break;
      }
      this.eos();
    });
  }

  /** ike_addrinfo_port: ADDRSTRING [PORT] (str2saddr: numeric only). */
  private addrPort(defaultPort = PORT_ISAKMP): Endpoint {
    const a = this.expect('ADDRSTRING', 'a numeric address');
    let port = defaultPort;
    if (this.peek().kind === 'PORT') port = this.advance().num;
    return this.endpoint(a, port);
  }

  private endpoint(a: Token, port: number): Endpoint {
    const text = a.str;
    const pct = text.indexOf('%');
    const bare = pct >= 0 ? text.slice(0, pct) : text;
    const canon = canonicalIp(bare);
    const fam = ipFamily(bare);
    if (canon === null || fam === null) this.fail(a, `invalid address "${text}" (addresses must be numeric)`);
    if (port > 65535) this.fail(a, `invalid port ${port}`);
    return { address: canon, family: fam, zone: pct >= 0 ? text.slice(pct + 1) : '', port };
  }

  private listenStatement(): void {
    this.advance();
    this.listen.present = true;
    this.block(() => {
      const t = this.peek();
      const keys = ['isakmp', 'isakmp_natt', 'adminsock', 'strict_address'];
      if (t.kind !== 'KW' || !keys.includes(t.text)) this.syntax([...keys, "'}'"]);
      this.advance();
      switch (t.text) {
        case 'isakmp':
          this.listen.isakmp.push(this.addrPort());
          break;
        case 'isakmp_natt':
          // ike_port defaults to PORT_ISAKMP (500) here too, as in racoon's grammar
          this.listen.isakmpNatt.push(this.addrPort());
          break;
        case 'strict_address':
          this.listen.strictAddress = true;
          break;
        case 'adminsock':
          this.adminsock();
          break;
      }
      this.eos();
    });
  }

  /** adminsock_conf() with its decimal-mode quirk. */
  private adminsock(): void {
    const t = this.peek();
    if (t.kind === 'KW' && t.text === 'disabled') {
      this.advance();
      this.listen.adminsock = { ...this.listen.adminsock, path: null };
      return;
    }
    const pathTok = this.expect('QUOTEDSTRING', 'a quoted socket path or disabled');
    const sockPath = pathTok.str;
    const base = sockPath.slice(sockPath.lastIndexOf('/') + 1);
    if (!(base === 'racoon.sock' || base.endsWith('.sock') || base.endsWith('.socket')) || sockPath.split('/').includes('..')) {
      this.soft(
        pathTok,
        `admin socket path "${sockPath}" is not allowed: the file name must be "racoon.sock" or end with ".sock"/".socket", and must not contain ".." components`,
      );
    }
    let sock: AdminSock = { ...this.listen.adminsock, path: sockPath };
    if (this.peek().kind === 'QUOTEDSTRING') {
      const ownerTok = this.advance();
      const groupTok = this.expect('QUOTEDSTRING', 'a quoted group');
      const modeTok = this.expect('NUMBER', 'a mode (decimal digits, e.g. 660)');
      // atoi() never sets errno, so racoon's "does not exist" check never fires: unknown names become atoi(name)
      const atoi = (s: string): number => {
        const m = /^\s*[+-]?[0-9]+/.exec(s);
        return m ? Number(m[0]) : 0;
      };
      const owner = this.fsys.lookupUser(ownerTok.str) ?? atoi(ownerTok.str);
      const group = this.fsys.lookupGroup(groupTok.str) ?? atoi(groupTok.str);
      let dec = modeTok.num;
      let mode = 0;
      if (dec > 777) this.soft(modeTok, `Mode 0${dec.toString(8).padStart(3, '0')} is invalid`);
      if (dec >= 400) (mode += 0o400), (dec -= 400);
      if (dec >= 200) (mode += 0o200), (dec -= 200);
      if (dec >= 100) (mode += 0o200), (dec -= 100); // racoon maps x to w
      if (dec > 77) this.soft(modeTok, `Mode 0${dec.toString(8).padStart(3, '0')} is invalid`);
      if (dec >= 40) (mode += 0o40), (dec -= 40);
      if (dec >= 20) (mode += 0o20), (dec -= 20);
      if (dec >= 10) (mode += 0o20), (dec -= 10);
      if (dec > 7) this.soft(modeTok, `Mode 0${dec.toString(8).padStart(3, '0')} is invalid`);
      if (dec >= 4) (mode += 0o4), (dec -= 4);
      if (dec >= 2) (mode += 0o2), (dec -= 2);
      if (dec >= 1) (mode += 0o2), (dec -= 1);
      sock = { path: sockPath, owner, group, mode };
    }
    this.listen.adminsock = sock;
  }

  private timerStatement(): void {
    this.advance();
    this.block(() => {
      const t = this.peek();
      const keys = ['counter', 'interval', 'persend', 'phase1', 'phase2', 'natt_keepalive'];
      if (t.kind !== 'KW' || !keys.includes(t.text)) this.syntax([...keys, "'}'"]);
      this.advance();
      const n = this.num();
      switch (t.text) {
        case 'counter':
          this.timer.counter = n;
          break;
        case 'persend':
          this.timer.persend = n;
          break;
        case 'interval':
          this.timer.interval = n * this.unitTime();
          break;
        case 'phase1':
          this.timer.phase1 = n * this.unitTime();
          break;
        case 'phase2':
          this.timer.phase2 = n * this.unitTime();
          break;
        case 'natt_keepalive':
          this.timer.nattKeepalive = n * this.unitTime();
          break;
      }
      this.eos();
    });
  }

  private ldapStatement(): void {
    this.advance();
    const l = this.ldap ?? {
      version: 3,
      debug: null,
      timeout: null,
      uri: null,
      host: 'localhost',
      port: 389,
      base: null,
      subtree: false,
      bindDn: null,
      bindPw: null,
      attrUser: 'cn',
      attrAddr: 'racoon-address',
      attrMask: 'racoon-netmask',
      attrGroup: 'cn',
      attrMember: 'member',
      attrDevice: null,
    };
    this.ldap = l;
    const strings: Record<string, 'uri' | 'host' | 'base' | 'bindDn' | 'bindPw' | 'attrUser' | 'attrAddr' | 'attrMask' | 'attrGroup' | 'attrMember' | 'attrDevice'> = {
      uri: 'uri',
      host: 'host',
      base: 'base',
      bind_dn: 'bindDn',
      bind_pw: 'bindPw',
      attr_user: 'attrUser',
      attr_addr: 'attrAddr',
      attr_mask: 'attrMask',
      attr_group: 'attrGroup',
      attr_member: 'attrMember',
      attr_device: 'attrDevice',
    };
    const all = ['version', 'debug', 'timeout', 'port', 'subtree', ...Object.keys(strings)];
    this.block(() => {
      const t = this.peek();
      if (t.kind !== 'KW' || !all.includes(t.text)) this.syntax([...all, "'}'"]);
      this.advance();
      if (t.text in strings) {
        l[strings[t.text]] = this.quoted();
      } else if (t.text === 'subtree') {
        l.subtree = this.sw();
      } else {
        const nt = this.expect('NUMBER', 'a number');
        if (t.text === 'version') {
          if (nt.num < 2 || nt.num > 3) this.soft(nt, 'invalid ldap protocol version (2|3)');
          l.version = nt.num;
        } else if (t.text === 'debug') l.debug = nt.num;
        else if (t.text === 'timeout') l.timeout = nt.num;
        else l.port = nt.num;
      }
      this.eos();
    });
  }

  private radiusStatement(): void {
    this.advance();
    const r = this.radius ?? { auth: [], acct: [], timeout: 3, retries: 3 };
    r.timeout = 3;
    r.retries = 3;
    this.radius = r;
    this.block(() => {
      const t = this.peek();
      const keys = ['auth', 'acct', 'timeout', 'retries'];
      if (t.kind !== 'KW' || !keys.includes(t.text)) this.syntax([...keys, "'}'"]);
      this.advance();
      if (t.text === 'auth' || t.text === 'acct') {
        const host = this.quoted();
        let port = 0;
        if (this.peek().kind === 'NUMBER') port = this.advance().num;
        const secret = this.quoted();
        const list = t.text === 'auth' ? r.auth : r.acct;
        if (list.length === RADIUS_MAX_SERVERS)
          this.fail(t, t.text === 'auth' ? 'maximum radius auth servers exceeded' : 'maximum radius account servers exceeded');
        list.push({ host, port, secret });
      } else if (t.text === 'timeout') r.timeout = this.num();
      else r.retries = this.num();
      this.eos();
    });
  }

  private ipv4(t: Token, message: string): string {
    const b = parseIp(t.str);
    if (!b || b.length !== 4 || t.str.includes(':')) {
      this.soft(t, message);
      return t.str;
    }
    return canonicalIp(t.str) ?? t.str;
  }

  private modeCfgStatement(): void {
    this.advance();
    const m = this.modeCfg;
    const keys = [
      'network4',
      'netmask4',
      'dns4',
      'nbns4',
      'wins4',
      'split_network',
      'split_dns',
      'default_domain',
      'auth_source',
      'auth_groups',
      'group_source',
      'conf_source',
      'accounting',
      'pool_size',
      'pfs_group',
      'save_passwd',
      'auth_throttle',
      'banner',
    ];
    const choice = <T extends string>(allowed: readonly T[]): T => {
      const t = this.peek();
      if (t.kind !== 'KW' || !(allowed as readonly string[]).includes(t.text)) this.syntax(allowed);
      this.advance();
      return t.text as T;
    };
    this.block(() => {
      const t = this.peek();
      if (t.kind !== 'KW' || !keys.includes(t.text)) this.syntax([...keys, "'}'"]);
      this.advance();
      switch (t.text) {
        case 'network4':
          m.network4 = this.ipv4(this.expect('ADDRSTRING', 'an IPv4 address'), 'bad IPv4 network address.');
          break;
        case 'netmask4':
          m.netmask4 = this.ipv4(this.expect('ADDRSTRING', 'an IPv4 address'), 'bad IPv4 netmask address.');
          break;
        case 'dns4':
        case 'nbns4':
        case 'wins4': {
          const dns = t.text === 'dns4';
          const list = dns ? m.dns4 : m.nbns4;
          for (;;) {
            const a = this.expect('ADDRSTRING', 'an IPv4 address');
            // racoon checks `index > MAX` before storing (off by one, overflowing its array); tanuki stops at the array size
            if (list.length >= (dns ? MAXNS : MAXWINS)) this.soft(a, dns ? `No more than ${MAXNS} DNS` : `No more than ${MAXWINS} WINS`);
            else list.push(this.ipv4(a, dns ? 'bad IPv4 DNS address.' : 'bad IPv4 WINS address.'));
            if (this.peek().kind !== 'COMMA') break;
            this.advance();
          }
          break;
        }
        case 'split_network': {
          const kind = choice(['include', 'local_lan'] as const);
          for (;;) {
            const a = this.expect('ADDRSTRING', 'an IPv4 network');
            const p = this.expect('PREFIX', 'a /prefix');
            m.splitNetwork.push({ address: this.ipv4(a, 'bad IPv4 SPLIT address.'), prefixlen: p.num });
            if (this.peek().kind !== 'COMMA') break;
            this.advance();
          }
          m.splitNetworkType = kind;
          break;
        }
        case 'split_dns':
        case 'auth_groups': {
          const list = t.text === 'split_dns' ? m.splitDns : m.authGroups;
          for (;;) {
            list.push(this.quoted());
            if (this.peek().kind !== 'COMMA') break;
            this.advance();
          }
          break;
        }
        case 'default_domain':
          m.defaultDomain = this.quoted();
          break;
        case 'banner':
          m.banner = this.quoted();
          break;
        case 'auth_source':
          m.authSource = choice(['system', 'radius', 'pam', 'ldap'] as const);
          break;
        case 'group_source':
          m.groupSource = choice(['system', 'ldap'] as const);
          break;
        case 'conf_source':
          m.confSource = choice(['local', 'radius', 'ldap'] as const);
          break;
        case 'accounting':
          m.accounting = choice(['none', 'system', 'radius', 'pam'] as const);
          break;
        case 'pool_size':
          m.poolSize = this.num();
          break;
        case 'pfs_group':
          m.pfsGroup = this.num();
          break;
        case 'auth_throttle':
          m.authThrottle = this.num();
          break;
        case 'save_passwd':
          m.savePasswd = this.sw();
          break;
      }
      this.eos();
    });
  }

  // ---------------------------------------------------------------- algorithms

  private algorithmChoice(cls: AlgorithmClass, t: Token, keyTok: Token | null, mismatchMsg: string): AlgorithmChoice {
    const alg = lookupRacoonAlgorithm(cls, t.str);
    if (!alg) this.fail(t, mismatchMsg);
    let keyLength = 0;
    if (!alg.keyLength) {
      if (keyTok && keyTok.num !== 0) this.fail(keyTok, 'keylen not allowed');
    } else {
      if (keyTok && keyTok.num !== 0 && !keyLengthAllowed(alg, keyTok.num)) this.fail(keyTok, `invalid keylen ${keyTok.num}`);
      keyLength = keyTok && keyTok.num !== 0 ? keyTok.num : alg.keyLength.defaultBits;
    }
    return { alg, keyLength, pos: t.pos };
  }

  /** dh_group_num: a group name or racoon's num2dhgroup number (1 2 3 4 5 14–18, + 19 20 21 31 32). */
  private dhGroupNum(): AlgorithmChoice {
    const t = this.peek();
    if (t.kind === 'ALGORITHMTYPE') {
      this.advance();
      const alg = lookupRacoonAlgorithm('isakmp_dh', t.str);
      if (!alg) this.fail(t, 'must be DH group');
      return { alg, keyLength: 0, pos: t.pos };
    }
    if (t.kind === 'NUMBER') {
      this.advance();
      const alg = dhGroupByNumber(t.num);
      if (!alg) this.fail(t, 'must be DH group');
      return { alg, keyLength: 0, pos: t.pos };
    }
    this.syntax(['a DH group name', 'a DH group number']);
  }

  private kernelCheck(cls: AlgorithmClass, c: AlgorithmChoice, t: Token): void {
    const k = this.opts.kernelAlgorithms;
    if (!k) return;
    if (cls === 'ipsec_auth' && c.alg.name === 'non_auth') return;
    // pk_checkalg(): "no check of compression algorithm; not supported in sadb message."
    if (cls === 'ipsec_comp') return;
    const list = cls === 'ipsec_enc' ? k.encrypt : k.auth;
    const bits = c.keyLength;
    const found = c.alg.sadb === null ? undefined : list.find((a) => a.id === c.alg.sadb);
    const ok = found !== undefined && (cls !== 'ipsec_enc' || bits === 0 || (bits >= found.minBits && bits <= found.maxBits));
    if (!ok) this.fail(t, `algorithm ${c.alg.name} not supported by the kernel (missing module?)`);
  }

  // ---------------------------------------------------------------- identifiers

  /** set_identifier_qual(): builds the stored identifier; null on racoon's "failed to set identifer." */
  private identifier(type: IdType, qual: 'tag' | 'file' | null, value: Token | null): Identifier | null {
    const v = value === null ? null : value.str;
    if (v === null) {
      if (type === 'fqdn' || type === 'user_fqdn') return null; // "No fqdn"
      return { type, qualifier: qual, value: null, file: null };
    }
    switch (type) {
      case 'fqdn':
      case 'user_fqdn':
        if (v === '') return null; // "Empty fqdn"
        return { type, qualifier: qual, value: v, file: null };
      case 'keyid':
        if (qual === 'tag') return { type, qualifier: qual, value: v, file: null };
        if (!this.loadFiles) return { type, qualifier: qual, value: null, file: v };
        {
          const data = this.fsys.readFile(v);
          if (data === null) return null; // "can not open %s"
          return { type, qualifier: qual, value: data.toString('latin1'), file: v };
        }
      case 'address':
      case 'subnet': {
        if (v === '') return { type, qualifier: qual, value: null, file: null };
        const c = canonicalIp(v);
        if (c === null) return null; // "invalid ip address"
        return { type, qualifier: qual, value: c, file: null };
      }
      case 'asn1dn':
        if (v.startsWith('~')) return /^~[0-9a-fA-F]*$/.test(v) ? { type, qualifier: qual, value: v, file: null } : null;
        return dnToDer(v) ? { type, qualifier: qual, value: v, file: null } : null;
    }
  }

  /** `IDTYPE [IDQUAL] [ADDRSTRING|QUOTEDSTRING]` as in my_identifier / peers_identifier / from. */
  private identifierSpec(allowQual: boolean): { id: Identifier; tok: Token } {
    const typeTok = this.expect('IDENTIFIERTYPE', 'an identifier type (address fqdn user_fqdn keyid asn1dn)');
    let qual: 'tag' | 'file' | null = null;
    if (allowQual && this.peek().kind === 'IDENTIFIERQUAL') qual = this.advance().str as 'tag' | 'file';
    let val: Token | null = null;
    const k = this.peek().kind;
    if (k === 'ADDRSTRING' || k === 'QUOTEDSTRING') val = this.advance();
    const id = this.identifier(typeTok.str as IdType, qual, val);
    if (!id) this.fail(val ?? typeTok, 'failed to set identifer.');
    return { id, tok: typeTok };
  }

  // ---------------------------------------------------------------- remote

  private remoteIndex(): { remote: Endpoint | null; port: number; tok: Token } {
    const t = this.peek();
    if (t.kind === 'KW' && t.text === 'anonymous') {
      this.advance();
      let port = PORT_ISAKMP;
      if (this.peek().kind === 'PORT') port = this.advance().num;
      return { remote: null, port, tok: t };
    }
    if (t.kind === 'ADDRSTRING') {
      const e = this.addrPort();
      return { remote: e, port: e.port, tok: t };
    }
    this.syntax(['a quoted remote name', 'a numeric address', 'anonymous']);
  }

  private remoteByName(name: string): RemoteConf | null {
    return this.remotes.find((r) => r.name === name) ?? null;
  }

  /** duprmconf_shallow(): copy every field; lists and sub-structures stay shared with the parent. */
  private shallowCopy(parent: RemoteBuilder, pos: SourcePos): RemoteBuilder {
    return {
      ...parent,
      name: null,
      inheritedFrom: parent,
      spspecs: parent.spspecs.slice(),
      scripts: { ...parent.scripts },
      pos,
      done: null,
    };
  }

  private remoteStatement(): void {
    const remoteTok = this.advance();
    let rb: RemoteBuilder;
    let inherit = false;
    const t = this.peek();
    if (t.kind === 'QUOTEDSTRING') {
      this.advance();
      if (this.isKw('inherit')) {
        this.advance();
        const parentTok = this.expect('QUOTEDSTRING', 'a quoted parent name');
        if (this.remoteByName(t.str)) this.fail(t, `named remoteconf "${t.str}" already exists.`);
        const parent = this.remoteByName(parentTok.str);
        if (!parent) this.fail(parentTok, `named parent remoteconf "${parentTok.str}" does not exist.`);
        const pb = this.builders.get(parent);
        if (!pb) this.fail(parentTok, `failed to duplicate remoteconf from "${parentTok.str}".`);
        rb = this.shallowCopy(pb, remoteTok.pos);
        inherit = true;
      } else {
        if (this.remoteByName(t.str)) this.fail(t, `Named remoteconf "${t.str}" already exists.`);
        rb = newRemote(remoteTok.pos);
      }
      rb.name = t.str;
    } else {
      const idx = this.remoteIndex();
      if (this.isKw('inherit')) {
        this.advance();
        const pidx = this.remoteIndex();
        const sel = selectRemote(this.remotes, { remote: pidx.remote, noAnonymous: true });
        if (!sel.ok) this.fail(pidx.tok, `failed to get remoteconf for ${endpointText(pidx.remote)}.`);
        const pb = this.builders.get(sel.remote);
        if (!pb) this.fail(pidx.tok, `failed to duplicate remoteconf from ${endpointText(pidx.remote)}.`);
        rb = this.shallowCopy(pb, remoteTok.pos);
        inherit = true;
      } else {
        rb = newRemote(remoteTok.pos);
      }
      rb.remote = idx.remote;
      rb.anonymousPort = idx.remote ? null : idx.port;
    }
    const next = this.peek();
    if (next.kind === 'EOS' && inherit) {
      this.advance();
      this.processRemote(rb, next);
      return;
    }
    if (next.kind !== 'BOC') this.syntax(inherit ? ["'{'", "';'"] : ["'{'", 'inherit']);
    this.advance();
    while (this.peek().kind !== 'EOC') this.remoteSpec(rb);
    const close = this.advance();
    this.processRemote(rb, close);
  }

  private static readonly REMOTE_SPECS = [
    'remote_address',
    'exchange_mode',
    'doi',
    'situation',
    'my_identifier',
    'xauth_login',
    'peers_identifier',
    'verify_identifier',
    'certificate_type',
    'ca_type',
    'peers_certfile',
    'verify_cert',
    'send_cert',
    'send_cr',
    'match_empty_cr',
    'nonce_size',
    'generate_policy',
    'support_proxy',
    'initial_contact',
    'nat_traversal',
    'proposal_check',
    'passive',
    'lifetime',
    'dpd',
    'dpd_delay',
    'dpd_retry',
    'dpd_maxfail',
    'ph1id',
    'ike_frag',
    'esp_frag',
    'script',
    'mode_cfg',
    'weak_phase1_check',
    'rekey',
    'proposal',
    'ike_version',
    'mobike',
    'mip6_kbit',
    "'}'",
  ];

  private switchOrForce(): 'off' | 'on' | 'force' {
    const t = this.peek();
    if (t.kind === 'SWITCH') return this.advance().num === 1 ? 'on' : 'off';
    if (t.kind === 'KW' && t.text === 'force') {
      this.advance();
      return 'force';
    }
    this.syntax(['on', 'off', 'force']);
  }

  private loadCert(t: Token, file: string): void {
    if (!this.loadFiles) return;
    const p = this.pathname('certificate', file);
    const data = this.fsys.readFile(p);
    if (data === null || !parseX509(data).ok) this.fail(t, `failed to load certificate "${file}"`);
  }

  private loadPlainRsa(t: Token, file: string, type: 'private' | 'public'): number {
    if (!this.loadFiles) return 1;
    const data = this.fsys.readFile(this.pathname('certificate', file));
    const r = data === null ? null : parsePlainRsa(data, type);
    if (!r || !r.ok) this.fail(t, "Couldn't parse keyfile.");
    return r.keys;
  }

  private remoteSpec(rb: RemoteBuilder): void {
    const t = this.peek();
    if (t.kind !== 'KW') this.syntax(RacoonParser.REMOTE_SPECS);
    this.advance();
    switch (t.text) {
      case 'remote_address': {
        const e = this.addrPort();
        if (rb.remote !== null) this.fail(this.prev, 'remote_address already specified');
        rb.remote = e;
        break;
      }
      case 'exchange_mode': {
        rb.etypes = null;
        const modes: ExchangeMode[] = [];
        while (this.peek().kind === 'KW' && ['main', 'aggressive', 'base'].includes(this.peek().text)) modes.push(this.advance().text as ExchangeMode);
        rb.etypes = modes.length > 0 ? modes : null;
        if (this.peek().kind !== 'EOS') this.syntax(['main', 'aggressive', 'base', "';'"]);
        break;
      }
      case 'doi':
        this.kw('ipsec_doi');
        break;
      case 'situation': {
        const s = this.peek();
        if (s.kind !== 'KW' || !['identity_only', 'secrecy', 'integrity'].includes(s.text)) this.syntax(['identity_only', 'secrecy', 'integrity']);
        this.advance();
        rb.situation = s.text as RemoteBuilder['situation'];
        break;
      }
      case 'certificate_type': {
        const ct = this.peek();
        if (ct.kind === 'KW' && ct.text === 'x509') {
          this.advance();
          const certTok = this.expect('QUOTEDSTRING', 'a quoted certificate file');
          const keyTok = this.expect('QUOTEDSTRING', 'a quoted private key file');
          if (rb.mycert !== null) this.fail(keyTok, 'certificate_type already defined');
          this.loadCert(certTok, certTok.str);
          rb.mycert = { type: 'x509', certFile: certTok.str, keyFile: keyTok.str };
        } else if (ct.kind === 'KW' && ct.text === 'plain_rsa') {
          this.advance();
          const keyTok = this.expect('QUOTEDSTRING', 'a quoted key file');
          if (rb.mycert !== null) this.fail(keyTok, 'certificate_type already defined');
          rb.mycert = { type: 'plain_rsa', keyFile: keyTok.str };
          rb.sendCr = false;
          rb.sendCert = false;
          rb.verifyCert = false;
          rb.rsaPrivate.count += this.loadPlainRsa(keyTok, keyTok.str, 'private');
        } else this.syntax(['x509', 'plain_rsa']);
        break;
      }
      case 'peers_certfile': {
        const pt = this.peek();
        if (pt.kind === 'QUOTEDSTRING') {
          this.advance();
          this.warn(pt, 'This directive without certtype will be removed!');
          this.warn(pt, `Please use 'peers_certfile x509 "${pt.str}";' instead`);
          if (rb.peerscert !== null) this.fail(pt, 'peers_certfile already defined');
          this.loadCert(pt, pt.str);
          rb.peerscert = { type: 'x509', file: pt.str };
        } else if (pt.kind === 'KW' && (pt.text === 'x509' || pt.text === 'plain_rsa')) {
          this.advance();
          const f = this.expect('QUOTEDSTRING', 'a quoted file');
          if (rb.peerscert !== null) this.fail(f, 'peers_certfile already defined');
          if (pt.text === 'x509') {
            this.loadCert(f, f.str);
            rb.peerscert = { type: 'x509', file: f.str };
          } else {
            rb.peerscert = { type: 'plain_rsa', file: f.str };
            rb.rsaPublic.count += this.loadPlainRsa(f, f.str, 'public');
          }
        } else if (pt.kind === 'KW' && pt.text === 'dnssec') {
          this.advance();
          if (rb.peerscert !== null) this.fail(pt, 'peers_certfile already defined');
          rb.peerscert = { type: 'dnssec' };
        } else this.syntax(['x509', 'plain_rsa', 'dnssec', 'a quoted file']);
        break;
      }
      case 'ca_type': {
        this.kw('x509');
        const f = this.expect('QUOTEDSTRING', 'a quoted CA certificate file');
        if (rb.cacert !== null) this.fail(f, 'ca_type already defined');
        this.loadCert(f, f.str);
        rb.cacert = { type: 'x509', file: f.str };
        break;
      }
      case 'verify_cert':
        rb.verifyCert = this.sw();
        break;
      case 'send_cert':
        rb.sendCert = this.sw();
        break;
      case 'send_cr':
        rb.sendCr = this.sw();
        break;
      case 'match_empty_cr':
        rb.matchEmptyCr = this.sw();
        break;
      case 'my_identifier': {
        const { id } = this.identifierSpec(true);
        rb.myIdentifier = id;
        break;
      }
      case 'xauth_login': {
        const k = this.peek().kind;
        const v = k === 'ADDRSTRING' || k === 'QUOTEDSTRING' ? this.advance().str : null;
        // xauth_rmconf_used(): the xauth state is shared with an inherited parent, so is the login
        if (rb.xauth === null) rb.xauth = { login: null };
        rb.xauth.login = v;
        break;
      }
      case 'peers_identifier': {
        const { id } = this.identifierSpec(true);
        // genlist_append on the (possibly inherited, shared) list
        rb.idvl.push(id);
        break;
      }
      case 'verify_identifier':
        rb.verifyIdentifier = this.sw();
        break;
      case 'nonce_size':
        rb.nonceSize = this.num();
        break;
      case 'dh_group':
        this.fail(t, 'dh_group cannot be defined here.');
        break;
      case 'passive':
        rb.passive = this.sw();
        break;
      case 'ike_frag':
        rb.ikeFrag = this.switchOrForce();
        break;
      case 'esp_frag':
        rb.espFrag = this.num();
        break;
      case 'script': {
        const p = this.quoted();
        const w = this.peek();
        if (w.kind !== 'KW' || !['phase1_up', 'phase1_down', 'phase1_dead'].includes(w.text)) this.syntax(['phase1_up', 'phase1_down', 'phase1_dead']);
        this.advance();
        // script_path_add(): relative to `path script` when one is set
        const full = !p.startsWith('/') && this.path.script !== null ? `${this.path.script}/${p}` : p;
        rb.scripts[w.text as keyof Scripts] = full;
        break;
      }
      case 'mode_cfg':
        rb.modeCfg = this.sw();
        break;
      case 'weak_phase1_check':
        rb.weakPhase1Check = this.sw();
        break;
      case 'generate_policy': {
        const g = this.peek();
        if (g.kind === 'SWITCH') rb.generatePolicy = this.advance().num === 1 ? 'require' : 'off';
        else if (g.kind === 'KW' && (g.text === 'unique' || g.text === 'require')) rb.generatePolicy = this.advance().text as 'unique' | 'require';
        else this.syntax(['on', 'off', 'require', 'unique']);
        break;
      }
      case 'support_proxy':
        rb.supportProxy = this.sw();
        break;
      case 'initial_contact':
        rb.initialContact = this.sw();
        break;
      case 'nat_traversal':
        rb.natTraversal = this.switchOrForce();
        break;
      case 'dpd':
        rb.dpd = this.sw();
        break;
      case 'dpd_delay':
        rb.dpdDelay = this.num();
        break;
      case 'dpd_retry':
        rb.dpdRetry = this.num();
        break;
      case 'dpd_maxfail':
        rb.dpdMaxfail = this.num();
        break;
      case 'rekey':
        rb.rekey = this.switchOrForce();
        break;
      case 'ph1id':
        rb.ph1id = this.num();
        break;
      case 'lifetime': {
        const lt = this.peek();
        if (lt.kind === 'KW' && lt.text === 'byte') {
          this.advance();
          this.num();
          this.expect('UNIT_BYTE', 'a byte unit');
          this.fail(this.prev, 'byte lifetime support is deprecated in Phase1');
        }
        this.kw('time');
        const n = this.num();
        rb.lifetime = n * this.unitTime();
        break;
      }
      case 'proposal_check': {
        const p = this.peek();
        if (p.kind !== 'KW' || !['obey', 'strict', 'claim', 'exact'].includes(p.text)) this.syntax(['obey', 'strict', 'claim', 'exact']);
        this.advance();
        rb.proposalCheck = p.text as RemoteBuilder['proposalCheck'];
        break;
      }
      case 'proposal':
        this.proposalBlock(rb);
        return; // no ';' after a proposal block
      case 'ike_version': {
        const v = this.expect('NUMBER', '1 or 2');
        if (v.num !== 1 && v.num !== 2) this.fail(v, 'ike_version must be 1 or 2');
        rb.ikeVersion = v.num;
        rb.ikeVersionPos = v.pos;
        break;
      }
      case 'mobike':
        rb.mobike = this.sw();
        break;
      case 'mip6_kbit':
        rb.mip6Kbit = this.sw() ? 'on' : 'off';
        break;
      default:
        this.syntaxAt(t, RacoonParser.REMOTE_SPECS);
    }
    this.eos();
  }

  private proposalBlock(rb: RemoteBuilder): void {
    const spec: SpSpec = { enc: null, hash: null, ameth: null, dh: null, lifetime: 0, gssId: null, vendorGssapi: false, owner: rb };
    rb.spspecs.push(spec);
    const keys = ['encryption_algorithm', 'hash_algorithm', 'authentication_method', 'dh_group', 'lifetime', 'gss_id', "'}'"];
    this.block(() => {
      const t = this.peek();
      if (t.kind !== 'KW') this.syntax(keys);
      this.advance();
      switch (t.text) {
        case 'lifetime': {
          const lt = this.peek();
          if (lt.kind === 'KW' && lt.text === 'byte') {
            this.advance();
            this.num();
            this.expect('UNIT_BYTE', 'a byte unit');
            this.fail(this.prev, 'byte lifetime support is deprecated');
          }
          this.kw('time');
          const n = this.num();
          spec.lifetime = n * this.unitTime();
          break;
        }
        case 'dh_group':
          spec.dh = this.dhGroupNum();
          break;
        case 'gss_id':
        case 'gssapi_id': {
          const g = this.expect('QUOTEDSTRING', 'a quoted GSS id');
          if (!spec.vendorGssapi) this.fail(g, 'wrong Vendor ID for gssapi_id');
          spec.gssId = g.str;
          break;
        }
        case 'encryption_algorithm':
        case 'hash_algorithm':
        case 'authentication_method': {
          const a = this.expect('ALGORITHMTYPE', 'an algorithm name');
          const k = this.peek().kind === 'NUMBER' ? this.advance() : null;
          const cls: AlgorithmClass = t.text === 'encryption_algorithm' ? 'isakmp_enc' : t.text === 'hash_algorithm' ? 'isakmp_hash' : 'isakmp_ameth';
          if (cls === 'isakmp_enc') {
            if (a.str === 'rc5' || a.str === 'idea') this.fail(a, `algorithm ${a.str.toUpperCase()} not supported`);
            spec.enc = this.algorithmChoice(cls, a, k, 'algorithm mismatched 1');
          } else {
            const c = this.algorithmChoice(cls, a, null, 'algorithm mismatched 1');
            if (cls === 'isakmp_hash') spec.hash = c;
            else {
              spec.ameth = c;
              if (c.alg.name === 'gssapi_krb') {
                if (spec.vendorGssapi) this.fail(a, 'Vendor ID mismatch for auth method');
                spec.vendorGssapi = true;
              } else if (c.alg.name === 'rsasig' && rb.peerscert?.type === 'plain_rsa') {
                if (rb.rsaPrivate.count === 0) this.fail(a, "Private PlainRSA key not set. Use directive 'certificate_type plainrsa ...'");
                if (rb.rsaPublic.count === 0) this.fail(a, "Public PlainRSA keys not set. Use directive 'peers_certfile plainrsa ...'");
              }
            }
          }
          break;
        }
        default:
          this.syntaxAt(t, keys);
      }
      this.eos();
    });
  }

  /** process_rmconf(): the checks racoon runs when a remote block closes. */
  private processRemote(rb: RemoteBuilder, at: Token): void {
    if (rb.etypes === null && rb.ikeVersion === 1) this.fail(at, 'no exchange mode specified.');
    if (rb.myIdentifier === null) rb.myIdentifier = { type: 'address', qualifier: null, value: null, file: null };
    if (rb.myIdentifier.type === 'asn1dn') {
      if (rb.mycert?.type === 'x509') {
        if (rb.myIdentifier.value !== null) this.warn(at, 'Both CERT and ASN1 ID are set. Hope this is OK.');
      } else if (rb.myIdentifier.value === null) this.fail(at, 'ASN1 ID not specified and no CERT defined!');
    }
    // duprmconf_finish(): the child now owns copies of what it still shares with the parent
    if (rb.inheritedFrom) {
      const p = rb.inheritedFrom;
      if (rb.idvl === p.idvl) rb.idvl = p.idvl.slice();
      if (rb.xauth !== null && rb.xauth === p.xauth) rb.xauth = { ...p.xauth };
      if (rb.rsaPrivate === p.rsaPrivate) rb.rsaPrivate = { ...p.rsaPrivate };
      if (rb.rsaPublic === p.rsaPublic) rb.rsaPublic = { ...p.rsaPublic };
    }
    // set_isakmp_proposal()
    if (rb.spspecs.length === 0) this.fail(at, `no remote specification found: ${endpointText(rb.remote)}.`);
    for (const s of rb.spspecs) {
      if (!s.enc) this.fail(at, 'encryption algorithm required.');
      if (!s.hash) this.fail(at, 'hash algorithm required.');
      if (!s.dh) this.fail(at, 'DH group required.');
      if (!s.ameth) this.fail(at, 'authentication method required.');
    }
    // the IKEv2 extension: IKEv1 remotes may only use what IKEv1 defines, and vice versa
    for (const s of rb.spspecs) {
      for (const c of [s.enc, s.hash, s.ameth, s.dh]) {
        if (!c) continue;
        const num = rb.ikeVersion === 1 ? c.alg.ikev1 : c.alg.ikev2;
        if (num === null) {
          const e = this.errAt(at, `algorithm ${c.alg.name} is not defined for IKEv${rb.ikeVersion}`);
          throw new Abort({ ...e, file: c.pos.file, line: c.pos.line, column: c.pos.column, token: c.alg.name });
        }
      }
    }
    if (rb.mobike && rb.ikeVersion !== 2) this.fail(at, 'mobike requires ike_version 2');
    let dh: RacoonAlgorithm | null = null;
    if (rb.ikeVersion === 1 && rb.etypes?.includes('aggressive')) {
      for (const s of rb.spspecs) {
        const g = s.dh?.alg ?? null;
        if (dh === null || dh === g) {
          dh = g;
          continue;
        }
        this.fail(at, 'DH group must be equal in all proposals when aggressive mode is used.');
      }
    }
    const name = rb.name ?? (rb.remote ? endpointText(rb.remote) : 'anonymous');
    rb.name = name;
    const proposals: Proposal[] = rb.spspecs.map((s, i) => {
      const enc = s.enc as AlgorithmChoice;
      return {
        propNo: 1,
        trnsNo: i + 1,
        encryption: enc,
        hash: s.hash as AlgorithmChoice,
        authMethod: s.ameth as AlgorithmChoice,
        dhGroup: s.dh as AlgorithmChoice,
        lifetime: s.lifetime !== 0 ? s.lifetime : rb.lifetime,
        gssId: s.gssId,
        definedIn: s.owner.name ?? 'anonymous',
      };
    });
    const conf: RemoteConf = {
      name,
      remote: rb.remote,
      inheritedFrom: rb.inheritedFrom?.name ?? null,
      exchangeMode: rb.etypes ?? [],
      doi: 'ipsec_doi',
      situation: rb.situation,
      myIdentifier: rb.myIdentifier,
      peersIdentifiers: rb.idvl,
      verifyIdentifier: rb.verifyIdentifier,
      xauthLogin: rb.xauth?.login ?? null,
      certificate: rb.mycert,
      caType: rb.cacert,
      peersCertfile: rb.peerscert,
      verifyCert: rb.verifyCert,
      sendCert: rb.sendCert,
      sendCr: rb.sendCr,
      matchEmptyCr: rb.matchEmptyCr,
      nonceSize: rb.nonceSize,
      passive: rb.passive,
      initialContact: rb.initialContact,
      supportProxy: rb.supportProxy,
      generatePolicy: rb.generatePolicy,
      natTraversal: rb.natTraversal,
      proposalCheck: rb.proposalCheck,
      dpd: rb.dpd,
      dpdDelay: rb.dpdDelay,
      dpdRetry: rb.dpdRetry,
      dpdMaxfail: rb.dpdMaxfail,
      rekey: rb.rekey,
      ph1id: rb.ph1id,
      lifetime: rb.lifetime,
      ikeFrag: rb.ikeFrag,
      espFrag: rb.espFrag,
      scripts: { ...rb.scripts },
      modeCfg: rb.modeCfg,
      weakPhase1Check: rb.weakPhase1Check,
      proposals,
      dhGroup: dh,
      ikeVersion: rb.ikeVersion,
      mobike: rb.mobike,
      ...(rb.mip6Kbit !== null ? { mip6Kbit: rb.mip6Kbit } : {}),
      pos: rb.pos,
    };
    rb.done = conf;
    this.builders.set(conf, rb);
    this.remotes.push(conf);
  }

  /**
   * The final object for a remote. Lists racoon shares between a parent and a
   * child while the child is parsed (peers_identifier, xauth_login) are read now,
   * so a child's additions show in its parent exactly as they do in racoon.
   */
  private finalRemote(r: RemoteConf): RemoteConf {
    const b = this.builders.get(r);
    if (!b) return r;
    return { ...r, peersIdentifiers: b.idvl.slice(), xauthLogin: b.xauth?.login ?? null };
  }

  // ---------------------------------------------------------------- sainfo

  private sainfoId(): SaInfoId {
    const typeTok = this.expect('IDENTIFIERTYPE', 'an identifier type');
    const type = typeTok.str as IdType;
    const v = this.peek();
    if (v.kind === 'QUOTEDSTRING') {
      this.advance();
      if (type === 'asn1dn') this.fail(v, `id type forbidden: ${IDTYPE_NUM.asn1dn}`);
      const kind = type === 'fqdn' || type === 'user_fqdn' || type === 'keyid' ? type : 'fqdn';
      const idType = type === 'address' || type === 'subnet' ? IpsecDoiIdType.IPV4_ADDR : nameIdType(type);
      return { kind, value: v.str, id: textId(idType, v.str) };
    }
    const a = this.expect('ADDRSTRING', 'a numeric address or a quoted string');
    let range: Token | null = null;
    if (this.peek().kind === 'ADDRRANGE') range = this.advance();
    let prefix: number | null = null;
    if (this.peek().kind === 'PREFIX') prefix = this.advance().num;
    let port = 0;
    const pt = this.peek();
    if (pt.kind === 'PORT') port = this.advance().num;
    else if (pt.kind === 'PORTANY') this.advance();
    const ul = this.peek();
    let ulProto: number;
    if (ul.kind === 'NUMBER' || ul.kind === 'UL_PROTO') ulProto = this.advance().num;
    else if (ul.kind === 'KW' && ul.text === 'any') {
      this.advance();
      ulProto = ULPROTO_ANY;
    } else this.syntax(['an upper-layer protocol (any, tcp, udp, icmp, … or a number)']);
    if ((ulProto === 1 || ulProto === 58) && port !== 0) this.fail(ul, 'port number must be "any".');
    const bytes = parseIp(a.str);
    if (!bytes) this.fail(a, `invalid address "${a.str}" (addresses must be numeric)`);
    const family: 4 | 6 = bytes.length === 4 ? 4 : 6;
    if ((family === 4 && ulProto === 58) || (family === 6 && ulProto === 1)) this.fail(ul, 'upper layer protocol mismatched.');
    if (range) {
      const hi = parseIp(range.str);
      if (!hi || hi.length !== bytes.length) this.fail(range, `invalid address "${range.str}" (addresses must be numeric)`);
      return {
        kind: 'range',
        low: canonicalIp(a.str) ?? a.str,
        high: canonicalIp(range.str) ?? range.str,
        family,
        port,
        ulProto,
        id: rangeToId(bytes, hi, port, ulProto),
      };
    }
    const prefixlen = prefix ?? bytes.length * 8;
    if (prefixlen > bytes.length * 8) this.fail(a, `invalid prefix length ${prefixlen}`);
    return {
      kind: 'address',
      address: canonicalIp(a.str) ?? a.str,
      family,
      prefixlen,
      port,
      ulProto,
      id: sockaddrToId(bytes, prefixlen, port, ulProto),
    };
  }

  private sainfoStatement(): void {
    const saTok = this.advance();
    let local: SaInfoId | null = null;
    let remote: SaInfoId | 'clientaddr' | null = null;
    if (this.isKw('anonymous')) {
      this.advance();
      if (this.isKw('clientaddr')) {
        this.advance();
        remote = 'clientaddr';
      } else if (this.peek().kind === 'IDENTIFIERTYPE') remote = this.sainfoId();
    } else if (this.peek().kind === 'IDENTIFIERTYPE') {
      local = this.sainfoId();
      if (this.isKw('anonymous')) this.advance();
      else if (this.isKw('clientaddr')) {
        this.advance();
        remote = 'clientaddr';
      } else if (this.peek().kind === 'IDENTIFIERTYPE') remote = this.sainfoId();
      else this.syntax(['anonymous', 'clientaddr', 'an identifier type']);
    } else this.syntax(['anonymous', 'an identifier type (address subnet fqdn user_fqdn keyid)']);

    let from: PhaseId | null = null;
    let fromText: string | null = null;
    let group: string | null = null;
    if (this.isKw('from')) {
      this.advance();
      const { id, tok } = this.identifierSpec(false);
      const value = id.value ?? '';
      fromText = `${id.type} ${value}`.trim();
      if (id.type === 'address' || id.type === 'subnet') {
        const b = id.value === null ? null : parseIp(id.value);
        from = b ? sockaddrBlobId(b) : { type: IpsecDoiIdType.IPV4_ADDR, protocol: 0, port: 0, data: new Uint8Array(0) };
      } else if (id.type === 'asn1dn') {
        const der = id.value === null ? null : dnToDer(id.value);
        if (!der) this.fail(tok, 'failed to set identifer.');
        from = { type: IpsecDoiIdType.DER_ASN1_DN, protocol: 0, port: 0, data: der };
      } else from = textId(nameIdType(id.type), value);
    } else if (this.isKw('group')) {
      this.advance();
      group = this.quoted();
    }
    if (this.peek().kind !== 'BOC') this.syntax(["'{'", ...(from || group ? [] : ['from', 'group'])]);
    this.advance();

    let pfsGroup: RacoonAlgorithm | null = null;
    let lifetime = DEFAULT_LIFETIME;
    let remoteid = 0;
    let esn = false;
    const algs: Record<'ipsec_enc' | 'ipsec_auth' | 'ipsec_comp', AlgorithmChoice[]> = { ipsec_enc: [], ipsec_auth: [], ipsec_comp: [] };
    const keys = ['encryption_algorithm', 'authentication_algorithm', 'compression_algorithm', 'pfs_group', 'lifetime', 'remoteid', 'esn', "'}'"];
    while (this.peek().kind !== 'EOC') {
      const t = this.peek();
      if (t.kind !== 'KW') this.syntax(keys);
      this.advance();
      switch (t.text) {
        case 'pfs_group':
          pfsGroup = this.dhGroupNum().alg;
          break;
        case 'remoteid':
          remoteid = this.num();
          break;
        case 'esn':
          esn = this.sw();
          break;
        case 'lifetime': {
          const lt = this.peek();
          if (lt.kind === 'KW' && lt.text === 'byte') {
            this.advance();
            this.num();
            this.expect('UNIT_BYTE', 'a byte unit');
            this.fail(this.prev, 'byte lifetime support is deprecated');
          }
          this.kw('time');
          const n = this.num();
          lifetime = n * this.unitTime();
          break;
        }
        case 'encryption_algorithm':
        case 'authentication_algorithm':
        case 'compression_algorithm': {
          const cls = t.text === 'encryption_algorithm' ? 'ipsec_enc' : t.text === 'authentication_algorithm' ? 'ipsec_auth' : 'ipsec_comp';
          for (;;) {
            const a = this.expect('ALGORITHMTYPE', 'an algorithm name');
            const k = this.peek().kind === 'NUMBER' ? this.advance() : null;
            const c = this.algorithmChoice(cls, a, k, 'algorithm mismatched');
            this.kernelCheck(cls, c, a);
            algs[cls].push(c);
            if (this.peek().kind !== 'COMMA') break;
            this.advance();
          }
          break;
        }
        default:
          this.syntaxAt(t, keys);
      }
      this.eos();
    }
    const close = this.peek();
    const description = sainfoDescription(local, remote, from, remoteid);
    if (algs.ipsec_enc.length === 0) this.fail(close, `no encryption algorithm at ${description}`);
    if (algs.ipsec_auth.length === 0) this.fail(close, `no authentication algorithm at ${description}`);
    if (algs.ipsec_comp.length === 0) this.fail(close, `no compression algorithm at ${description}`);
    const priority = (remoteid !== 0 ? 3 : 0) + (from ? 3 : 0) + (local ? 1 : 0) + (remote ? 1 : 0);
    const si: SaInfo = {
      local,
      remote,
      from,
      fromText,
      group,
      pfsGroup,
      lifetime,
      remoteid,
      encryption: algs.ipsec_enc,
      authentication: algs.ipsec_auth,
      compression: algs.ipsec_comp,
      esn,
      priority,
      description,
      pos: saTok.pos,
    };
    // duplicate check: getsainfo(idsrc, iddst, id_i, NULL, remoteid)
    const check = findSaInfo(this.sainfos, local?.id ?? null, remote === 'clientaddr' ? 'clientaddr' : (remote?.id ?? null), from, null, remoteid);
    if (check && check.local !== null && local !== null) this.fail(close, `duplicated sainfo: ${description}`);
    // inssainfo(): before the first entry of lower priority
    const at = this.sainfos.findIndex((s) => priority > s.priority);
    if (at < 0) this.sainfos.push(si);
    else this.sainfos.splice(at, 0, si);
    this.advance();
  }
}

