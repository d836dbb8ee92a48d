/**
 * The IPsec policy string of ipsec_set_policy(3) (libipsec policy_token.l /
 * policy_parse.y) <-> SadbXPolicy, and its printed form (ipsec_dump_policy).
 *
 *   DIR [PRIORITY] ACTION [REQUEST ...]      e.g.  out prio def + 10 ipsec esp/tunnel/a-b/require
 *   DIR                                      (spddelete: type discard, priority 0)
 *
 *   PRIORITY := (priority|prio) ( N | -N | (low|def|high) [(+|-) N] )
 *   REQUEST  := PROTO/MODE[/[ENDPOINTS][/[LEVEL]]]
 *   PROTO esp|ah|ipcomp   MODE transport|tunnel
 *   ENDPOINTS := addr-addr | addr[port]-addr[port] | me-any (out only) | any-me (in only)
 *   LEVEL := default|use|require|unique|unique:N
 *
 * Shared by setkey (spdadd/spdupdate/spddelete/migrate) and racoon's config.
 */
import {
  IPPROTO,
  IPSEC_MANUAL_REQID_MAX,
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
} from '../../pfkey/constants';
import type { SadbXIpsecRequest, SadbXPolicy, SockAddr } from '../../pfkey/types';
import { formatIp, parseIp } from '../../util/ip';

/** libipsec libpfkey.h priority bases. */
export const PRIORITY_LOW = 0xc0000000;
export const PRIORITY_DEFAULT = 0x80000000;
export const PRIORITY_HIGH = 0x40000000;
const PRIORITY_OFFSET_POSITIVE_MAX = 0x3fffffff;
const PRIORITY_OFFSET_NEGATIVE_MAX = 0x40000000;

export interface PolicyParseError {
  /** Character offset into the policy text. */
  offset: number;
  message: string;
  near: string;
}

export type PolicyParseResult = { ok: true; policy: SadbXPolicy } | { ok: false; error: PolicyParseError };

type PTokKind =
  | 'DIR'
  | 'PRIORITY'
  | 'PRIO_BASE'
  | 'PLUS'
  | 'HYPHEN'
  | 'NUM'
  | 'ACTION'
  | 'PROTOCOL'
  | 'MODE'
  | 'ME'
  | 'ANY'
  | 'LEVEL'
  | 'LEVEL_SPECIFY'
  | 'SLASH'
  | 'IPADDRESS'
  | 'PORT'
  | 'EOF';

interface PTok {
  kind: PTokKind;
  text: string;
  offset: number;
  value: number;
}

const KEYWORDS: ReadonlyMap<string, { kind: PTokKind; value: number }> = new Map([
  ['in', { kind: 'DIR', value: IpsecDir.INBOUND }],
  ['out', { kind: 'DIR', value: IpsecDir.OUTBOUND }],
  ['fwd', { kind: 'DIR', value: IpsecDir.FWD }],
  ['priority', { kind: 'PRIORITY', value: 0 }],
  ['prio', { kind: 'PRIORITY', value: 0 }],
  ['low', { kind: 'PRIO_BASE', value: PRIORITY_LOW }],
  ['def', { kind: 'PRIO_BASE', value: PRIORITY_DEFAULT }],
  ['high', { kind: 'PRIO_BASE', value: PRIORITY_HIGH }],
  ['discard', { kind: 'ACTION', value: IpsecPolicyType.DISCARD }],
  ['none', { kind: 'ACTION', value: IpsecPolicyType.NONE }],
  ['ipsec', { kind: 'ACTION', value: IpsecPolicyType.IPSEC }],
  ['bypass', { kind: 'ACTION', value: IpsecPolicyType.BYPASS }],
  ['entrust', { kind: 'ACTION', value: IpsecPolicyType.ENTRUST }],
  ['esp', { kind: 'PROTOCOL', value: IPPROTO.ESP }],
  ['ah', { kind: 'PROTOCOL', value: IPPROTO.AH }],
  ['ipcomp', { kind: 'PROTOCOL', value: IPPROTO.COMP }],
  ['transport', { kind: 'MODE', value: IpsecMode.TRANSPORT }],
  ['tunnel', { kind: 'MODE', value: IpsecMode.TUNNEL }],
  ['me', { kind: 'ME', value: 0 }],
  ['any', { kind: 'ANY', value: 0 }],
  ['default', { kind: 'LEVEL', value: IpsecLevel.DEFAULT }],
  ['use', { kind: 'LEVEL', value: IpsecLevel.USE }],
  ['require', { kind: 'LEVEL', value: IpsecLevel.REQUIRE }],
  ['unique', { kind: 'LEVEL', value: IpsecLevel.UNIQUE }],
]);

class PolicyError extends Error {
  constructor(
    readonly offset: number,
    message: string,
    readonly near: string,
  ) {
    super(message);
  }
}

function tokenize(text: string): PTok[] {
  const out: PTok[] = [];
  let i = 0;
  const word = /[A-Za-z0-9:._]/;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === '/') {
      out.push({ kind: 'SLASH', text: c, offset: i++, value: 0 });
    } else if (c === '-') {
      out.push({ kind: 'HYPHEN', text: c, offset: i++, value: 0 });
    } else if (c === '+') {
      out.push({ kind: 'PLUS', text: c, offset: i++, value: 0 });
    } else if (c === '[') {
      const m = /^\[(\d+)\]/.exec(text.slice(i));
      if (!m) throw new PolicyError(i, 'a port must be written [decimal]', text.slice(i, i + 8));
      const port = Number(m[1]);
      if (port > 65535) throw new PolicyError(i, 'port out of range (0..65535)', m[0]);
      out.push({ kind: 'PORT', text: m[0], offset: i, value: port });
      i += m[0].length;
    } else if (word.test(c)) {
      while (i < text.length && word.test(text[i])) i++;
      if (text[i] === '%') {
        i++;
        while (i < text.length && /[A-Za-z0-9]/.test(text[i])) i++;
      }
      const w = text.slice(start, i);
      const kw = KEYWORDS.get(w);
      const spec = /^unique:(\d+)$/.exec(w);
      if (kw) out.push({ kind: kw.kind, text: w, offset: start, value: kw.value });
      else if (spec) out.push({ kind: 'LEVEL_SPECIFY', text: w, offset: start, value: Number(spec[1]) });
      else if (/^\d+$/.test(w)) out.push({ kind: 'NUM', text: w, offset: start, value: Number(w) });
      else out.push({ kind: 'IPADDRESS', text: w, offset: start, value: 0 });
    } else {
      throw new PolicyError(i, `unexpected character '${c}' in policy`, c);
    }
  }
  out.push({ kind: 'EOF', text: '', offset: text.length, value: 0 });
  return out;
}

/** Parse an address literal of a tunnel endpoint (AI_NUMERICHOST, like libipsec). */
export function parseEndpoint(text: string, port: number): SockAddr | null {
  let scopeId = 0;
  let bare = text;
  const pct = text.indexOf('%');
  if (pct >= 0) {
    const zone = text.slice(pct + 1);
    if (!/^\d+$/.test(zone)) return null;
    scopeId = Number(zone);
    bare = text.slice(0, pct);
  }
  const bytes = parseIp(bare);
  if (!bytes) return null;
  if (bytes.length === 4 && pct >= 0) return null;
  const sa: SockAddr = { family: bytes.length === 4 ? 2 : 10, address: formatIp(bytes), port };
  if (scopeId !== 0) sa.scopeId = scopeId;
  return sa;
}

class PolicyParser {
  private pos = 0;
  constructor(private readonly toks: PTok[]) {}

  peek(): PTok {
    return this.toks[this.pos];
  }
  next(): PTok {
    const t = this.toks[this.pos];
    if (t.kind !== 'EOF') this.pos++;
    return t;
  }
  fail(t: PTok, message: string): never {
    throw new PolicyError(t.offset, message, t.text);
  }
  expect(kind: PTokKind, what: string): PTok {
    const t = this.peek();
    if (t.kind !== kind) this.fail(t, `expected ${what}`);
    return this.next();
  }

  /** Priority after `prio`/`priority` (policy_parse.y policy_spec alternatives). */
  priority(): number {
    const t = this.next();
    if (t.kind === 'NUM') {
      if (t.value > 0x80000000) this.fail(t, 'priority offset out of range');
      return (PRIORITY_DEFAULT - t.value) >>> 0;
    }
    if (t.kind === 'HYPHEN') {
      const n = this.expect('NUM', 'a priority offset after "-"');
      if (n.value > 0x7fffffff) this.fail(n, 'priority offset out of range');
      return (PRIORITY_DEFAULT + n.value) >>> 0;
    }
    if (t.kind === 'PRIO_BASE') {
      const op = this.peek();
      if (op.kind === 'PLUS') {
        this.next();
        const n = this.expect('NUM', 'a priority offset after "+"');
        if (n.value > PRIORITY_OFFSET_NEGATIVE_MAX) this.fail(n, 'priority offset out of range (max 0x40000000)');
        return (t.value - n.value) >>> 0;
      }
      if (op.kind === 'HYPHEN') {
        this.next();
        const n = this.expect('NUM', 'a priority offset after "-"');
        if (n.value > PRIORITY_OFFSET_POSITIVE_MAX) this.fail(n, 'priority offset out of range (max 0x3fffffff)');
        return (t.value + n.value) >>> 0;
      }
      return t.value;
    }
    return this.fail(t, 'expected a priority: N, -N, low, def or high');
  }

  /** One PROTO/MODE/[SRC-DST]/[LEVEL] request (policy_parse.y rule + rule_check). */
  request(dir: IpsecDir, type: IpsecPolicyType): SadbXIpsecRequest {
    const protoTok = this.expect('PROTOCOL', 'a protocol (esp, ah or ipcomp)');
    if (this.peek().kind !== 'SLASH') this.fail(this.peek(), `too few arguments: "${protoTok.text}" needs /transport or /tunnel`);
    this.next();
    const modeTok = this.peek();
    if (modeTok.kind !== 'MODE') this.fail(modeTok, `too few arguments: expected transport or tunnel after "${protoTok.text}/"`);
    this.next();
    const req: SadbXIpsecRequest = {
      proto: protoTok.value,
      mode: modeTok.value as IpsecMode,
      level: IpsecLevel.DEFAULT,
      reqid: 0,
    };
    let endpointsTok: PTok | undefined;
    if (this.peek().kind === 'SLASH') {
      this.next();
      const a = this.peek();
      if (a.kind === 'IPADDRESS' || a.kind === 'NUM') {
        endpointsTok = a;
        this.next();
        const sport = this.peek().kind === 'PORT' ? this.next() : undefined;
        this.expect('HYPHEN', '"-" between the tunnel endpoints');
        const b = this.peek();
        if (b.kind !== 'IPADDRESS' && b.kind !== 'NUM') this.fail(b, 'expected the second tunnel endpoint');
        this.next();
        const dport = this.peek().kind === 'PORT' ? this.next() : undefined;
        if ((sport === undefined) !== (dport === undefined)) this.fail(dport ?? b, 'give a [port] on both endpoints or on neither');
        const src = parseEndpoint(a.text, sport?.value ?? 0);
        if (!src) this.fail(a, `invalid IP address "${a.text}"`);
        const dst = parseEndpoint(b.text, dport?.value ?? 0);
        if (!dst) this.fail(b, `invalid IP address "${b.text}"`);
        if (src.family !== dst.family) this.fail(b, 'tunnel endpoints of different address families');
        req.src = src;
        req.dst = dst;
      } else if (a.kind === 'ME') {
        this.next();
        this.expect('HYPHEN', '"-"');
        this.expect('ANY', '"any" after "me-"');
        if (dir !== IpsecDir.OUTBOUND) this.fail(a, '"me-any" is only valid in an outbound policy');
      } else if (a.kind === 'ANY') {
        this.next();
        this.expect('HYPHEN', '"-"');
        this.expect('ME', '"me" after "any-"');
        if (dir !== IpsecDir.INBOUND) this.fail(a, '"any-me" is only valid in an inbound policy');
      }
      if (this.peek().kind === 'SLASH') {
        this.next();
        const l = this.peek();
        if (l.kind === 'LEVEL') {
          this.next();
          req.level = l.value as IpsecLevel;
        } else if (l.kind === 'LEVEL_SPECIFY') {
          this.next();
          if (l.value > IPSEC_MANUAL_REQID_MAX)
            this.fail(l, `manual reqid out of range (0..${IPSEC_MANUAL_REQID_MAX}, IPSEC_MANUAL_REQID_MAX)`);
          req.level = IpsecLevel.UNIQUE;
          req.reqid = l.value;
        } else if (l.kind !== 'EOF' && l.kind !== 'PROTOCOL') {
          this.fail(l, 'expected a level: default, use, require, unique or unique:N');
        }
      }
    }
    if (type === IpsecPolicyType.IPSEC && req.mode === IpsecMode.TUNNEL && !req.src) {
      this.fail(endpointsTok ?? modeTok, 'tunnel mode needs the tunnel endpoints (src-dst)');
    }
    return req;
  }

  requests(dir: IpsecDir, type: IpsecPolicyType): SadbXIpsecRequest[] {
    const out: SadbXIpsecRequest[] = [];
    while (this.peek().kind !== 'EOF') out.push(this.request(dir, type));
    return out;
  }

  policy(): SadbXPolicy {
    const d = this.expect('DIR', 'a direction (in, out or fwd)');
    const dir = d.value as IpsecDir;
    if (this.peek().kind === 'EOF') {
      // "DIR" alone: spddelete form, type ignored by the kernel, priority 0.
      return { type: IpsecPolicyType.DISCARD, dir, id: 0, priority: 0, requests: [] };
    }
    let priority = PRIORITY_DEFAULT;
    if (this.peek().kind === 'PRIORITY') {
      this.next();
      priority = this.priority();
    }
    const a = this.expect('ACTION', 'an action (discard, none, ipsec, entrust or bypass)');
    const type = a.value as IpsecPolicyType;
    const requests = this.requests(dir, type);
    return { type, dir, id: 0, priority, requests };
  }
}

function run<T>(text: string, f: (p: PolicyParser) => T): { ok: true; value: T } | { ok: false; error: PolicyParseError } {
  try {
    return { ok: true, value: f(new PolicyParser(tokenize(text))) };
  } catch (e) {
    if (e instanceof PolicyError) return { ok: false, error: { offset: e.offset, message: e.message, near: e.near } };
    throw e;
  }
}

/** ipsec_set_policy(): parse a policy string. */
export function parsePolicy(text: string): PolicyParseResult {
  const r = run(text, (p) => p.policy());
  return r.ok ? { ok: true, policy: r.value } : r;
}

/** `DIR REQ REQ ...` (no action): the -P argument of setkey's migrate command. */
export function parseDirAndRequests(
  text: string,
): { ok: true; dir: IpsecDir; requests: SadbXIpsecRequest[] } | { ok: false; error: PolicyParseError } {
  const r = run(text, (p) => {
    const d = p.expect('DIR', 'a direction (in, out or fwd)');
    const dir = d.value as IpsecDir;
    return { dir, requests: p.requests(dir, IpsecPolicyType.IPSEC) };
  });
  return r.ok ? { ok: true, dir: r.value.dir, requests: r.value.requests } : r;
}

// ---------------------------------------------------------------------------
// ipsec_dump_policy (libipsec ipsec_dump_policy.c)

const DIR_NAMES = ['any', 'in', 'out', 'fwd', 'in(socket)', 'out(socket)'];
const TYPE_NAMES = ['discard', 'none', 'ipsec', 'entrust', 'bypass'];
const MODE_NAMES = ['any', 'transport', 'tunnel'];
const LEVEL_NAMES = ['default', 'use', 'require', 'unique'];

function protoName(p: number): string | undefined {
  if (p === IPPROTO.ESP) return 'esp';
  if (p === IPPROTO.AH) return 'ah';
  if (p === IPPROTO.COMP) return 'ipcomp';
  return undefined;
}

function formatEndpoint(sa: SockAddr, withPorts: boolean): string {
  const host = sa.scopeId ? `${sa.address}%${sa.scopeId}` : sa.address;
  return withPorts ? `${host}[${sa.port}]` : host;
}

/** One request as `proto/mode/src-dst/level[:reqid|#reqid]`; null when a field has no name. */
export function formatRequest(r: SadbXIpsecRequest, withPorts = false): string | null {
  const proto = protoName(r.proto);
  const mode = MODE_NAMES[r.mode];
  const level = LEVEL_NAMES[r.level];
  if (proto === undefined || mode === undefined || level === undefined) return null;
  const addrs = r.src && r.dst ? `${formatEndpoint(r.src, withPorts)}-${formatEndpoint(r.dst, withPorts)}` : '';
  const base = `${proto}/${mode}/${addrs}/${level}`;
  if (r.reqid === 0) return base;
  return `${base}${r.reqid > IPSEC_MANUAL_REQID_MAX ? '#' : ':'}${r.reqid}`;
}

/** The "prio ..." words ipsec_dump_policy prints for a priority value ('' for 0). */
export function formatPriority(priority: number): string {
  if (priority === 0) return '';
  let base: number;
  let name: string;
  if (priority < (PRIORITY_DEFAULT / 4) * 3) {
    base = PRIORITY_HIGH;
    name = 'prio high';
  } else if (priority < (PRIORITY_DEFAULT / 4) * 5) {
    base = PRIORITY_DEFAULT;
    name = 'prio def';
  } else {
    base = PRIORITY_LOW;
    name = 'prio low';
  }
  const offset = base - priority; // sign as written in the input
  if (offset === 0) return name;
  return `${name} ${offset < 0 ? '-' : '+'} ${Math.abs(offset)}`;
}

/**
 * ipsec_dump_policy(): `DIR [prio ...] ACTION` then, for ipsec policies,
 * each request preceded by `delimiter`. Returns null for a direction, type
 * or request field it has no name for (libipsec returns NULL there too).
 */
export function formatPolicy(p: SadbXPolicy, delimiter = ' ', withPorts = false): string | null {
  const dir = DIR_NAMES[p.dir];
  const type = TYPE_NAMES[p.type];
  if (dir === undefined || type === undefined) return null;
  const prio = formatPriority(p.priority);
  let out = prio === '' ? `${dir} ${type}` : `${dir} ${prio} ${type}`;
  if (p.type !== IpsecPolicyType.IPSEC) return out;
  for (const r of p.requests) {
    const s = formatRequest(r, withPorts);
    if (s === null) return null;
    out += delimiter + s;
  }
  return out;
}
