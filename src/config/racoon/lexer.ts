/**
 * racoon.conf lexer (racoon-compat §1 "Lexical rules", after cftoken.l).
 *
 * Keywords depend on the enclosing block: like racoon's flex scanner, the lexer
 * carries a start state that its own keyword rules switch (`remote` enters
 * S_RMT, `{` then S_RMTS, `proposal` S_RMTP, ...). Words valid everywhere
 * (on/off, yes/no, upper-layer protocols, algorithm names, ID types, units) are
 * recognised in every state; a state's own keyword wins over a global word.
 *
 * Tokens are pulled one at a time by the parser; `include` pushes further
 * sources onto the lexer (flex's include stack).
 */
import { ALGORITHM_WORDS } from './algorithms';
import type { IdType, SourcePos } from './types';

export type LexState =
  | 'S_INI'
  | 'S_PRIV'
  | 'S_PTH'
  | 'S_LOG'
  | 'S_PAD'
  | 'S_LST'
  | 'S_RTRY'
  | 'S_CFG'
  | 'S_LDAP'
  | 'S_RAD'
  | 'S_SAINF'
  | 'S_SAINFS'
  | 'S_RMT'
  | 'S_RMTS'
  | 'S_RMTP'
  | 'S_GSSENC';

export type TokenKind =
  | 'KW' // a block keyword; `text` is the keyword
  | 'SWITCH'
  | 'BOOLEAN'
  | 'NUMBER'
  | 'HEXSTRING'
  | 'QUOTEDSTRING'
  | 'ADDRSTRING'
  | 'ADDRRANGE'
  | 'PREFIX'
  | 'PORT'
  | 'PORTANY'
  | 'UL_PROTO'
  | 'ALGORITHMTYPE'
  | 'IDENTIFIERTYPE'
  | 'IDENTIFIERQUAL'
  | 'UNIT_TIME'
  | 'UNIT_BYTE'
  | 'EOS'
  | 'BOC'
  | 'EOC'
  | 'COMMA'
  | 'WORD' // anything the scanner does not know (always a syntax error)
  | 'EOF';

export interface Token {
  readonly kind: TokenKind;
  /** the source text (for QUOTEDSTRING: with the quotes). */
  readonly text: string;
  /** numbers, multipliers, switch/boolean as 1/0, UL protocol numbers. */
  readonly num: number;
  /** strings without quotes, address text, keyword, algorithm name, id type. */
  readonly str: string;
  readonly pos: SourcePos;
}

/** Keyword → the state it enters (undefined: stay). */
type KeywordTable = ReadonlyMap<string, LexState | undefined>;

function kw(entries: Array<string | [string, LexState]>): KeywordTable {
  return new Map(entries.map((e) => (typeof e === 'string' ? [e, undefined] : [e[0], e[1]])));
}

const STATE_KEYWORDS: Readonly<Record<LexState, KeywordTable>> = {
  S_INI: kw([
    ['privsep', 'S_PRIV'],
    ['path', 'S_PTH'],
    'include',
    'pfkey_buffer',
    'complex_bundle',
    ['log', 'S_LOG'],
    ['padding', 'S_PAD'],
    ['listen', 'S_LST'],
    ['radiuscfg', 'S_RAD'],
    ['ldapcfg', 'S_LDAP'],
    ['mode_cfg', 'S_CFG'],
    ['timer', 'S_RTRY'],
    ['sainfo', 'S_SAINF'],
    ['remote', 'S_RMT'],
    ['gss_id_enc', 'S_GSSENC'],
  ]),
  S_PRIV: kw(['user', 'group', 'chroot']),
  S_PTH: kw(['include', 'pre_shared_key', 'certificate', 'script', 'backupsa', 'pidfile', 'xauth_users']),
  S_LOG: kw(['error', 'warning', 'notify', 'info', 'debug', 'debug2']),
  S_PAD: kw(['randomize', 'randomize_length', 'maximum_length', 'strict_check', 'exclusive_tail']),
  S_LST: kw(['isakmp', 'isakmp_natt', 'admin', 'adminsock', 'disabled', 'strict_address']),
  S_RAD: kw(['auth', 'acct', 'timeout', 'retries']),
  S_LDAP: kw([
    'version',
    'debug',
    'timeout',
    'uri',
    'host',
    'port',
    'base',
    'subtree',
    'bind_dn',
    'bind_pw',
    'attr_user',
    'attr_addr',
    'attr_mask',
    'attr_group',
    'attr_member',
    'attr_device',
  ]),
  S_CFG: kw([
    'network4',
    'netmask4',
    'dns4',
    'nbns4',
    'wins4',
    'default_domain',
    'auth_source',
    'auth_groups',
    'group_source',
    'conf_source',
    'accounting',
    'system',
    'local',
    'none',
    'radius',
    'pam',
    'ldap',
    'pool_size',
    'banner',
    'auth_throttle',
    'split_network',
    'local_lan',
    'include',
    'split_dns',
    'pfs_group',
    'save_passwd',
  ]),
  S_RTRY: kw(['counter', 'interval', 'persend', 'phase1', 'phase2', 'natt_keepalive']),
  S_SAINF: kw(['anonymous', 'clientaddr', 'any', 'from', 'group']),
  S_SAINFS: kw([
    'pfs_group',
    'remoteid',
    'my_identifier',
    'lifetime',
    'time',
    'byte',
    'encryption_algorithm',
    'authentication_algorithm',
    'compression_algorithm',
    // tanuki RFC 4304 extension (docs/ikev1.md)
    'esn',
  ]),
  S_RMT: kw(['anonymous', 'inherit']),
  S_RMTS: kw([
    'remote_address',
    'exchange_mode',
    'base',
    'main',
    'aggressive',
    'doi',
    'ipsec_doi',
    'situation',
    'identity_only',
    'secrecy',
    'integrity',
    'my_identifier',
    'xauth_login',
    'peers_identifier',
    'verify_identifier',
    'certificate_type',
    'ca_type',
    'x509',
    'plain_rsa',
    'peers_certfile',
    'dnssec',
    'verify_cert',
    'send_cert',
    'send_cr',
    'match_empty_cr',
    'dh_group',
    'nonce_size',
    'generate_policy',
    'unique',
    'require',
    'support_proxy',
    'initial_contact',
    'nat_traversal',
    'force',
    'proposal_check',
    'obey',
    'strict',
    'exact',
    'claim',
    'keepalive',
    'passive',
    'lifetime',
    'time',
    'byte',
    'dpd',
    'dpd_delay',
    'dpd_retry',
    'dpd_maxfail',
    'ph1id',
    'ike_frag',
    'esp_frag',
    'script',
    'phase1_up',
    'phase1_down',
    'phase1_dead',
    'mode_cfg',
    'weak_phase1_check',
    'rekey',
    ['proposal', 'S_RMTP'],
    // tanuki IKEv2 extension
    'ike_version',
    'mobike',
    // tanuki Mobile IPv6 extension (docs/migrate.md)
    'mip6_kbit',
  ]),
  S_RMTP: kw([
    'lifetime',
    'time',
    'byte',
    'encryption_algorithm',
    'authentication_method',
    'hash_algorithm',
    'dh_group',
    'gss_id',
    'gssapi_id',
  ]),
  S_GSSENC: kw(['latin1', 'utf-16le']),
};

/** `{` and `}` transitions (cftoken.l {bcl}/{ecl} rules). */
const BOC_ENTERS: Partial<Record<LexState, LexState>> = { S_SAINF: 'S_SAINFS', S_RMT: 'S_RMTS' };
const EOC_LEAVES: Partial<Record<LexState, LexState>> = {
  S_PRIV: 'S_INI',
  S_PAD: 'S_INI',
  S_LST: 'S_INI',
  S_RAD: 'S_INI',
  S_LDAP: 'S_INI',
  S_CFG: 'S_INI',
  S_RTRY: 'S_INI',
  S_SAINFS: 'S_INI',
  S_RMTS: 'S_INI',
  S_RMTP: 'S_RMTS',
};
const EOS_LEAVES: Partial<Record<LexState, LexState>> = {
  S_PTH: 'S_INI',
  S_LOG: 'S_INI',
  S_SAINF: 'S_INI',
  S_RMT: 'S_INI',
  S_GSSENC: 'S_INI',
};
/** States where `,` is a token; in S_RMTS it is silently ignored. */
const COMMA_STATES: ReadonlySet<LexState> = new Set(['S_CFG', 'S_SAINFS']);

/** IPPROTO numbers (RFC 790/IANA protocol numbers). */
const UL_PROTOS: ReadonlyMap<string, number> = new Map([
  ['esp', 50],
  ['ah', 51],
  ['ipcomp', 108],
  ['icmp', 1],
  ['icmp6', 58],
  ['tcp', 6],
  ['udp', 17],
  ['gre', 47],
]);
const ID_TYPES: ReadonlyMap<string, IdType> = new Map([
  ['user_fqdn', 'user_fqdn'],
  ['fqdn', 'fqdn'],
  ['keyid', 'keyid'],
  ['address', 'address'],
  ['subnet', 'subnet'],
  ['asn1dn', 'asn1dn'],
]);
const TIME_UNITS: ReadonlyMap<string, number> = new Map([
  ['sec', 1],
  ['secs', 1],
  ['second', 1],
  ['seconds', 1],
  ['min', 60],
  ['mins', 60],
  ['minute', 60],
  ['minutes', 60],
  ['hour', 3600],
  ['hours', 3600],
]);
/** cfparse.y unittype_byte (TB is 1024^3 in racoon: kept). */
const BYTE_UNITS: ReadonlyMap<string, number> = new Map([
  ['B', 1],
  ['byte', 1],
  ['bytes', 1],
  ['KB', 1024],
  ['MB', 1024 * 1024],
  ['TB', 1024 * 1024 * 1024],
]);

interface Source {
  readonly file: string;
  readonly text: string;
  offset: number;
  line: number;
  lineStart: number;
}

const ADDR_RE = /[a-fA-F0-9:](?:[a-fA-F0-9:.]*%[a-zA-Z0-9]*|[a-fA-F0-9:.]*)/y;
const IDENT_RE = /[A-Za-z0-9_]+/y;
const DEC_RE = /[0-9]+/y;
const HEX_RE = /0x[0-9A-Fa-f]+/y;

export class RacoonLexer {
  private readonly stack: Source[] = [];
  state: LexState = 'S_INI';

  constructor(file: string, text: string) {
    this.stack.push({ file, text, offset: 0, line: 1, lineStart: 0 });
  }

  /** Nesting depth of the current source (0 = the main file). */
  get depth(): number {
    return this.stack.length - 1;
  }

  get currentFile(): string {
    return this.stack[this.stack.length - 1].file;
  }

  /** Start reading `text` (an included file) before continuing with the current source. */
  push(file: string, text: string): void {
    this.stack.push({ file, text, offset: 0, line: 1, lineStart: 0 });
    this.state = 'S_INI';
  }

  next(): Token {
    for (;;) {
      const src = this.stack[this.stack.length - 1];
      const tok = this.scan(src);
      if (tok.kind === 'EOF' && this.stack.length > 1) {
        this.stack.pop();
        continue;
      }
      return tok;
    }
  }

  private pos(src: Source, at: number): SourcePos {
    return { file: src.file, line: src.line, column: at - src.lineStart + 1 };
  }

  private make(src: Source, kind: TokenKind, start: number, end: number, num = 0, str = ''): Token {
    const text = src.text.slice(start, end);
    const tok: Token = { kind, text, num, str: str === '' ? text : str, pos: this.pos(src, start) };
    src.offset = end;
    return tok;
  }

  private scan(src: Source): Token {
    const t = src.text;
    for (;;) {
      const i = src.offset;
      if (i >= t.length) return { kind: 'EOF', text: '', num: 0, str: '', pos: this.pos(src, i) };
      const c = t[i];
      if (c === '\n') {
        src.offset = i + 1;
        src.line++;
        src.lineStart = i + 1;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r') {
        src.offset = i + 1;
        continue;
      }
      if (c === '#') {
        const nl = t.indexOf('\n', i);
        src.offset = nl < 0 ? t.length : nl;
        continue;
      }
      if (c === ';') {
        const to = EOS_LEAVES[this.state];
        if (to) this.state = to;
        return this.make(src, 'EOS', i, i + 1);
      }
      if (c === '{') {
        const to = BOC_ENTERS[this.state];
        if (to) this.state = to;
        return this.make(src, 'BOC', i, i + 1);
      }
      if (c === '}') {
        const to = EOC_LEAVES[this.state];
        if (to) this.state = to;
        return this.make(src, 'EOC', i, i + 1);
      }
      if (c === ',') {
        if (this.state === 'S_RMTS') {
          src.offset = i + 1; // "XXX ignored, but to be handled." (cftoken.l)
          continue;
        }
        if (COMMA_STATES.has(this.state)) return this.make(src, 'COMMA', i, i + 1);
        return this.make(src, 'WORD', i, i + 1);
      }
      if (c === '"') {
        const close = t.indexOf('"', i + 1);
        if (close < 0) return this.make(src, 'WORD', i, t.length);
        const body = t.slice(i + 1, close);
        const tok = this.make(src, 'QUOTEDSTRING', i, close + 1, 0, body);
        // a quoted string may span lines
        for (let k = i + 1; k < close; k++) {
          if (t[k] === '\n') {
            src.line++;
            src.lineStart = k + 1;
          }
        }
        return tok;
      }
      if (c === '[') {
        const m = /\[([0-9]+)\]/y;
        m.lastIndex = i;
        const pm = m.exec(t);
        if (pm) return this.make(src, 'PORT', i, i + pm[0].length, Number(pm[1]));
        if (this.state === 'S_SAINF' && t.startsWith('[any]', i)) return this.make(src, 'PORTANY', i, i + 5, 0);
        return this.word(src, i);
      }
      if (c === '/') {
        const m = /\/([0-9]{1,3})/y;
        m.lastIndex = i;
        const pm = m.exec(t);
        if (pm) return this.make(src, 'PREFIX', i, i + pm[0].length, Number(pm[1]));
        return this.word(src, i);
      }
      if (c === '-') {
        ADDR_RE.lastIndex = i + 1;
        const am = ADDR_RE.exec(t);
        if (am) return this.make(src, 'ADDRRANGE', i, i + 1 + am[0].length, 0, am[0]);
        return this.word(src, i);
      }
      return this.wordOrValue(src, i);
    }
  }

  private wordOrValue(src: Source, i: number): Token {
    const t = src.text;
    IDENT_RE.lastIndex = i;
    const im = IDENT_RE.exec(t);
    let ident = im ? im[0] : '';
    if (this.state === 'S_GSSENC' && t.startsWith('utf-16le', i)) ident = 'utf-16le';
    ADDR_RE.lastIndex = i;
    const am = ADDR_RE.exec(t);
    const addr = am ? am[0] : '';

    if (ident !== '' && ident.length >= addr.length) {
      const k = this.keyword(src, i, ident);
      if (k) return k;
    }
    // flex picks the longest match; on a tie the earlier rule (decstring, hexstring, addrstring)
    HEX_RE.lastIndex = i;
    const hm = HEX_RE.exec(t);
    DEC_RE.lastIndex = i;
    const dm = DEC_RE.exec(t);
    const hex = hm ? hm[0] : '';
    const dec = dm ? dm[0] : '';
    const best = Math.max(hex.length, dec.length, addr.length);
    if (best > 0 && (best >= ident.length || /^[0-9]/.test(ident))) {
      if (dec.length === best) return this.make(src, 'NUMBER', i, i + best, Number(dec));
      if (hex.length === best) return this.make(src, 'HEXSTRING', i, i + best, 0, hex);
      return this.make(src, 'ADDRSTRING', i, i + best);
    }
    return this.word(src, i);
  }

  private keyword(src: Source, i: number, w: string): Token | null {
    const end = i + w.length;
    const table = STATE_KEYWORDS[this.state];
    if (table.has(w)) {
      const to = table.get(w);
      const tok = this.make(src, 'KW', i, end);
      if (to) this.state = to;
      return tok;
    }
    if (w === 'on' || w === 'off') return this.make(src, 'SWITCH', i, end, w === 'on' ? 1 : 0);
    if (w === 'yes' || w === 'no') return this.make(src, 'BOOLEAN', i, end, w === 'yes' ? 1 : 0);
    const ul = UL_PROTOS.get(w);
    if (ul !== undefined) return this.make(src, 'UL_PROTO', i, end, ul);
    if (ALGORITHM_WORDS.has(w)) return this.make(src, 'ALGORITHMTYPE', i, end);
    const idt = ID_TYPES.get(w);
    if (idt) return this.make(src, 'IDENTIFIERTYPE', i, end, 0, idt);
    if (w === 'tag' || w === 'file') return this.make(src, 'IDENTIFIERQUAL', i, end);
    const tu = TIME_UNITS.get(w);
    if (tu !== undefined) return this.make(src, 'UNIT_TIME', i, end, tu);
    const bu = BYTE_UNITS.get(w);
    if (bu !== undefined) return this.make(src, 'UNIT_BYTE', i, end, bu);
    return null;
  }

  /** An unknown run of characters (flex's `.` + yymore): up to whitespace or a delimiter. */
  private word(src: Source, i: number): Token {
    const t = src.text;
    let j = i + 1;
    while (j < t.length && !/[\s;{}"#,]/.test(t[j])) j++;
    return this.make(src, 'WORD', i, j);
  }
}
