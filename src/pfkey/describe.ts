/**
 * A JSON-able view of a PF_KEY message for pino logs and `setkey -x`:
 * message, satype and extension names as pfkeyv2.h spells them, enum values
 * by name, SPIs in hex, bigints as decimal strings, blobs in hex. Key
 * material is redacted unless asked for.
 */
import { EXTENSIONS, EXT_KEYS, extensionName, messageTypeName, satypeName } from './codec';
import { IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, NatTType, SadbSaState } from './constants';
import type { PfKeyMessage, SockAddr } from './types';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface DescribeOptions {
  /** Show key bytes in hex (setkey -x does); default: '<redacted N bits>'. */
  showKeys?: boolean;
}

const enumName = (e: Record<number, string>, v: number): string => e[v] ?? String(v);

/** Fields rendered by name: `field` → enum or special formatter. */
const NAMED: Record<string, (v: number) => Json> = {
  state: (v) => enumName(SadbSaState, v),
  mode: (v) => enumName(IpsecMode, v),
  level: (v) => enumName(IpsecLevel, v),
  dir: (v) => enumName(IpsecDir, v),
  spi: (v) => `0x${v.toString(16).padStart(8, '0')}`,
};
const BY_EXT: Record<string, Record<string, (v: number) => Json>> = {
  policy: { type: (v) => enumName(IpsecPolicyType, v) },
  natTType: { type: (v) => enumName(NatTType, v) },
};

function sockaddrText(sa: SockAddr): string {
  const host = sa.family === 10 ? `[${sa.address}]` : sa.address;
  return `${host}:${sa.port}`;
}

function isSockAddr(v: object): v is SockAddr {
  return 'family' in v && 'address' in v && 'port' in v && !('saddr' in v);
}

function toJson(v: unknown, ext: string, field: string, opts: DescribeOptions): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    const f = BY_EXT[ext]?.[field] ?? NAMED[field];
    return f ? f(v) : v;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Buffer.isBuffer(v)) {
    if (field === 'key' && !opts.showKeys) return `<redacted ${v.length * 8} bits>`;
    if (field === 'data' || field === 'ctx') {
      const text = v.toString('latin1');
      if (/^[\x20-\x7e]*$/.test(text)) return text;
    }
    return v.toString('hex');
  }
  if (Array.isArray(v)) return v.map((x) => toJson(x, ext, field, opts));
  if (typeof v === 'object') {
    if (isSockAddr(v)) {
      const out: { [k: string]: Json } = { addr: sockaddrText(v), family: v.family === 2 ? 'inet' : 'inet6' };
      if (v.flowinfo !== undefined) out.flowinfo = v.flowinfo;
      if (v.scopeId !== undefined) out.scopeId = v.scopeId;
      return out;
    }
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJson(x, ext, k, opts);
    return out;
  }
  return String(v);
}

/**
 * { type: 'SADB_ADD', satype: 'ESP', errno, seq, pid, ext: { SADB_EXT_SA: {...}, ... } }.
 * Extension keys follow the message's own order.
 */
export function describeMessage(msg: PfKeyMessage, opts: DescribeOptions = {}): { [k: string]: Json } {
  const ext: { [k: string]: Json } = {};
  for (const key of Object.keys(msg.ext)) {
    const k = EXT_KEYS.find((x) => x === key);
    const value: unknown = k ? msg.ext[k] : undefined;
    if (!k || value === undefined) continue;
    ext[EXTENSIONS[k].name] = toJson(value, k, '', opts);
  }
  const out: { [k: string]: Json } = {
    type: messageTypeName(msg.type),
    satype: satypeName(msg.satype),
    errno: msg.errno,
    seq: msg.seq,
    pid: msg.pid,
    ext,
  };
  if (msg.reserved !== undefined) out.reserved = msg.reserved;
  if (msg.unknown && msg.unknown.length > 0) {
    out.unknown = msg.unknown.map((u) => ({ type: extensionName(u.type), offset: u.offset, length: u.body.length }));
  }
  return out;
}
