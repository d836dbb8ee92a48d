/**
 * Printing PF_KEY messages the way ipsec-tools does, byte for byte:
 *  - formatSadump: libipsec pfkey_dump.c pfkey_sadump1 (setkey -D, -p ports)
 *  - formatSpdump: libipsec pfkey_dump.c pfkey_spdump1 (setkey -DP)
 *  - formatKdebug: libipsec key_debug.c kdebug_sadb (setkey -x / -v)
 * Times come from an injected clock and time zone so output is reproducible.
 */
import { encodeMessage } from '../../pfkey/codec';
import { IPPROTO, IpsecPolicyType, SadbSaType } from '../../pfkey/constants';
import type { PfKeyMessage, SadbAddress, SadbLifetime, SadbXSecCtx, SockAddr } from '../../pfkey/types';
import { parseIp } from '../../util/ip';
import { dumpAlgorithmName } from './algorithms';
import { formatPolicy } from './policy';
import { systemProtocols, type ProtocolDb } from './protocols';

export interface DumpOptions {
  /** setkey -p: print ports. */
  withPorts?: boolean;
  /** Current time, seconds since the epoch ("current:" and "diff:"). */
  now?: () => number;
  /** IANA time zone for ctime()-style times; default: the process's. */
  timeZone?: string;
  protocols?: ProtocolDb;
}

const SATYPE_NAMES = ['unspec', 'unknown', 'ah', 'esp', 'unknown', 'rsvp', 'ospfv2', 'ripv2', 'mip', 'ipcomp', 'policy', 'tcp'];
const MODE_NAMES = ['any', 'transport', 'tunnel'];
const STATE_NAMES = ['larval', 'mature', 'dying', 'dead'];

/** GETMSGSTR: the name and a space, or the number and a space. */
function nameOr(table: readonly string[], n: number): string {
  const s = table[n];
  return s === undefined || s === '' ? `${n} ` : `${s} `;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** str_time(): ctime()+4, 20 characters ("Nov 21 06:15:17 2017"), 20 spaces for 0. */
export function ctime20(seconds: bigint | number, timeZone?: string): string {
  const t = Number(seconds);
  if (t === 0) return ' '.repeat(20);
  const key = timeZone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      year: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(key, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(t * 1000))) parts[p.type] = p.value;
  const day = parts.day.padStart(2, ' ');
  return `${parts.month} ${day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.year}`;
}

function hostText(a: SockAddr): string {
  return a.scopeId ? `${a.address}%${a.scopeId}` : a.address;
}

/** ipsec_hexdump(): a space before every 4-byte group, "\n" every 32 bytes. */
export function ipsecHexdump(buf: Uint8Array): string {
  let out = '';
  for (let i = 0; i < buf.length; i++) {
    if (i !== 0 && i % 32 === 0) out += '\n';
    if (i % 4 === 0) out += ' ';
    out += buf[i].toString(16).padStart(2, '0');
  }
  return out;
}

function lifetimeBytes(l: SadbLifetime | undefined, label: string): string {
  return `\t${label}: ${l ? l.bytes.toString() : '0'}(bytes)`;
}

function secCtxLines(c: SadbXSecCtx): string {
  const nul = c.ctx.indexOf(0);
  const text = c.ctx.subarray(0, nul < 0 ? c.ctx.length : nul).toString('utf8');
  return (
    `\tsecurity context doi: ${c.doi}\n` +
    `\tsecurity context algorithm: ${c.alg}\n` +
    `\tsecurity context length: ${c.ctx.length}\n` +
    `\tsecurity context: ${text}\n`
  );
}

/** pfkey_sadump1(): one SA record (a SADB_DUMP or SADB_GET reply). */
export function formatSadump(m: PfKeyMessage, opts: DumpOptions = {}): string {
  const e = m.ext;
  const useNatt = e.natTType !== undefined && e.natTType.type !== 0;
  let out = '';
  if (!e.addressSrc) return 'no ADDRESS_SRC extension.\n';
  const src = e.addressSrc.addr;
  out += opts.withPorts ? `${hostText(src)}[${src.port}]` : hostText(src);
  if (useNatt && e.natTSport) out += `[${e.natTSport.port}]`;
  out += ' ';
  if (!e.addressDst) return `${out} no ADDRESS_DST extension.\n`;
  const dst = e.addressDst.addr;
  out += opts.withPorts ? `${hostText(dst)}[${dst.port}]` : hostText(dst);
  if (useNatt && e.natTDport) out += `[${e.natTDport.port}]`;
  out += ' ';
  if (!e.sa) return `${out}no SA extension.\n`;
  if (!e.sa2) return `${out}no SA2 extension.\n`;
  const sa = e.sa;
  const sa2 = e.sa2;
  out += '\n\t';
  if (useNatt && m.satype === SadbSaType.ESP) out += 'esp-udp ';
  else if (useNatt) out += 'natt+';
  if (!useNatt || m.satype !== SadbSaType.ESP) out += nameOr(SATYPE_NAMES, m.satype);
  out += `mode=${nameOr(MODE_NAMES, sa2.mode)}`;
  const spi = sa.spi >>> 0;
  const reqid = sa2.reqid >>> 0;
  out += `spi=${spi}(0x${hex8(spi)}) reqid=${reqid}(0x${hex8(reqid)})\n`;
  if (useNatt && e.natTOa) out += `\tNAT OA=${hostText(e.natTOa.addr)}\n`;
  if (m.satype === SadbSaType.X_IPCOMP) {
    out += `\tC: ${dumpAlgorithmName('comp', sa.encrypt)} `; // no newline: pfkey_dump quirk
  } else if (m.satype === SadbSaType.ESP && e.keyEncrypt) {
    out += `\tE: ${dumpAlgorithmName('encrypt', sa.encrypt)} ${ipsecHexdump(e.keyEncrypt.key.subarray(0, e.keyEncrypt.bits >> 3))}\n`;
  }
  if (e.keyAuth) {
    out += `\tA: ${dumpAlgorithmName('auth', sa.auth)} ${ipsecHexdump(e.keyAuth.key.subarray(0, e.keyAuth.bits >> 3))}\n`;
  }
  out += `\tseq=0x${hex8(sa2.sequence)} replay=${sa.replay} flags=0x${hex8(sa.flags)} `;
  out += `state=${nameOr(STATE_NAMES, sa.state)}\n`;
  const c = e.lifetimeCurrent;
  if (c) {
    const h = e.lifetimeHard;
    const s = e.lifetimeSoft;
    const now = BigInt(Math.floor((opts.now ?? (() => Date.now() / 1000))()));
    out += `\tcreated: ${ctime20(c.addtime, opts.timeZone)}`;
    out += `\tcurrent: ${ctime20(now, opts.timeZone)}\n`;
    out += `\tdiff: ${c.addtime === 0n ? 0n : now - c.addtime}(s)`;
    out += `\thard: ${h ? h.addtime : 0n}(s)`;
    out += `\tsoft: ${s ? s.addtime : 0n}(s)\n`;
    out += `\tlast: ${ctime20(c.usetime, opts.timeZone)}`;
    out += `\thard: ${h ? h.usetime : 0n}(s)`;
    out += `\tsoft: ${s ? s.usetime : 0n}(s)\n`;
    out += lifetimeBytes(c, 'current') + lifetimeBytes(h, 'hard') + lifetimeBytes(s, 'soft') + '\n';
    out += `\tallocated: ${c.allocations}`;
    out += `\thard: ${h ? h.allocations : 0}`;
    out += `\tsoft: ${s ? s.allocations : 0}\n`;
  }
  if (e.secCtx) out += secCtxLines(e.secCtx);
  out += `\tsadb_seq=${m.seq >>> 0} pid=${m.pid >>> 0} refcnt=${m.reserved ?? 0}\n`;
  return out;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** str_prefport(): "/pfx" unless full length, then "[any]"/"[port]" except for icmp/icmp6/mh/gre. */
function prefPort(a: SockAddr, prefixlen: number, port: number, ulp: number): string {
  const full = a.family === 2 ? 32 : 128;
  const pref = prefixlen === full ? '' : `/${prefixlen}`;
  if (ulp === IPPROTO.ICMP || ulp === IPPROTO.ICMPV6 || ulp === IPPROTO.MH || ulp === IPPROTO.GRE) return pref;
  return `${pref}${port === 0 ? '[any]' : `[${port}]`}`;
}

/** str_upperspec(). */
function upperSpec(ulp: number, p1: number, p2: number, db: ProtocolDb): string {
  let out = db.byNumber(ulp) ?? String(ulp);
  if (p1 === 0 && p2 === 0) return out;
  if (ulp === IPPROTO.ICMP || ulp === IPPROTO.ICMPV6 || ulp === IPPROTO.MH) out += ` ${p1},${p2}`;
  else if (ulp === IPPROTO.GRE) out += ` ${(p1 * 65536 + p2) >>> 0}`;
  return out;
}

function selector(a: SadbAddress, proto: number): string {
  return `${hostText(a.addr)}${prefPort(a.addr, a.prefixlen, a.addr.port, proto)} `;
}

/** pfkey_spdump1(): one policy record (a SADB_X_SPDDUMP or SPDGET reply). */
export function formatSpdump(m: PfKeyMessage, opts: DumpOptions = {}): string {
  const e = m.ext;
  const xpl = e.policy;
  let out = '';
  if (xpl && xpl.id % 8 >= 3) {
    // Linux: socket policies have index % 8 = XFRM_POLICY_MAX + dir
    out += '(per-socket policy) ';
  } else if (e.addressSrc && e.addressDst) {
    const s = e.addressSrc;
    const d = e.addressDst;
    out += selector(s, s.proto);
    out += selector(d, s.proto); // pfkey_dump passes the source's proto for both
    if (s.proto !== d.proto) return `${out}upper layer protocol mismatched.\n`;
    out += upperSpec(s.proto, s.addr.port, d.addr.port, opts.protocols ?? systemProtocols());
  } else {
    out += '(no selector, probably per-socket policy) ';
  }
  if (!xpl) return `${out}no X_POLICY extension.\n`;
  const text = formatPolicy(xpl, '\n\t', opts.withPorts ?? false);
  out += text === null ? '\n\tPolicy:[Invalid policy]\n' : `\n\t${text}\n`;
  if (e.lifetimeCurrent) {
    out += `\tcreated: ${ctime20(e.lifetimeCurrent.addtime, opts.timeZone)}  `;
    out += `lastused: ${ctime20(e.lifetimeCurrent.usetime, opts.timeZone)}\n`;
  }
  if (e.lifetimeHard) {
    out += `\tlifetime: ${e.lifetimeHard.addtime}(s) `;
    out += `validtime: ${e.lifetimeHard.usetime}(s)\n`;
  }
  if (e.secCtx) out += secCtxLines(e.secCtx);
  out += `\tspid=${xpl.id >>> 0} seq=${m.seq >>> 0} pid=${m.pid >>> 0}\n`;
  out += `\trefcnt=${m.reserved ?? 0}\n`;
  return out;
}

// ---------------------------------------------------------------------------
// kdebug_sadb (setkey -x, -v)

/** Linux sockaddr sizes (no sa_len): sockaddr_in 16, sockaddr_in6 28. */
const saLen = (a: SockAddr) => (a.family === 2 ? 16 : 28);
const align8 = (n: number) => Math.ceil(n / 8) * 8;

function kdebugSockaddr(a: SockAddr): string {
  const bytes = parseIp(a.address) ?? Buffer.alloc(a.family === 2 ? 4 : 16);
  let out = `sockaddr{ len=${saLen(a)} family=${a.family} port=${a.port}\n`;
  if (a.family === 10) out += `  flowinfo=0x${hex8(a.flowinfo ?? 0)}, scope_id=0x${hex8(a.scopeId ?? 0)}\n`;
  return `${out}${ipsecHexdump(bytes)}  }\n`;
}

function kdebugAddress(a: SadbAddress): string {
  return `sadb_address{ proto=${a.proto} prefixlen=${a.prefixlen} reserved=0x0000 }\n${kdebugSockaddr(a.addr)}`;
}

function kdebugLifetime(l: SadbLifetime): string {
  const u32 = (v: bigint) => Number(v & 0xffffffffn);
  return `sadb_lifetime{ alloc=${l.allocations}, bytes=${u32(l.bytes)}\n  addtime=${u32(l.addtime)}, usetime=${u32(l.usetime)} }\n`;
}

interface KdebugExt {
  type: number;
  len64: number;
  body: string;
}

/** The extensions of a message in type order, with their sadb_ext_len (64-bit words). */
function kdebugExtensions(m: PfKeyMessage): KdebugExt[] {
  const e = m.ext;
  const out: KdebugExt[] = [];
  const push = (type: number, bytes: number, body: string) => out.push({ type, len64: bytes / 8, body });
  const addrBytes = (a: SadbAddress) => 8 + align8(saLen(a.addr));
  if (e.sa)
    push(
      1,
      16,
      `sadb_sa{ spi=${e.sa.spi >>> 0} replay=${e.sa.replay} state=${e.sa.state}\n  auth=${e.sa.auth} encrypt=${e.sa.encrypt} flags=0x${hex8(e.sa.flags)} }\n`,
    );
  if (e.lifetimeCurrent) push(2, 32, kdebugLifetime(e.lifetimeCurrent));
  if (e.lifetimeHard) push(3, 32, kdebugLifetime(e.lifetimeHard));
  if (e.lifetimeSoft) push(4, 32, kdebugLifetime(e.lifetimeSoft));
  if (e.addressSrc) push(5, addrBytes(e.addressSrc), kdebugAddress(e.addressSrc));
  if (e.addressDst) push(6, addrBytes(e.addressDst), kdebugAddress(e.addressDst));
  if (e.addressProxy) push(7, addrBytes(e.addressProxy), kdebugAddress(e.addressProxy));
  for (const [type, key] of [
    [8, e.keyAuth],
    [9, e.keyEncrypt],
  ] as const) {
    if (key)
      push(type, 8 + align8(key.key.length), `sadb_key{ bits=${key.bits} reserved=0\n  key=${ipsecHexdump(key.key.subarray(0, key.bits >> 3))} }\n`);
  }
  for (const [type, id, name] of [
    [10, e.identitySrc, 'src'],
    [11, e.identityDst, 'dst'],
  ] as const) {
    if (!id) continue;
    let body = `sadb_ident_${name}{ type=${id.type} id=${id.id}`;
    if (id.data.length) {
      let s = '';
      for (const b of id.data) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
      body += `\n  str="${s}"`;
    }
    push(type, 16 + align8(id.data.length + 1), `${body} }\n`);
  }
  if (e.sensitivity) {
    const s = e.sensitivity;
    push(12, 16 + 8 * (s.sensBitmap.length + s.integBitmap.length), '');
  }
  if (e.proposal) {
    let body = `sadb_prop{ replay=${e.proposal.replay}\n`;
    for (const c of e.proposal.combs) {
      body += `sadb_comb{ auth=${c.auth} encrypt=${c.encrypt} flags=0x${c.flags.toString(16).padStart(4, '0')} reserved=0x00000000\n`;
      body += `  auth_minbits=${c.authMinbits} auth_maxbits=${c.authMaxbits} encrypt_minbits=${c.encryptMinbits} encrypt_maxbits=${c.encryptMaxbits}\n`;
      body += `  soft_alloc=${c.softAllocations} hard_alloc=${c.hardAllocations} soft_bytes=${c.softBytes} hard_bytes=${c.hardBytes}\n`;
      body += `  soft_alloc=${c.softAddtime} hard_alloc=${c.hardAddtime} soft_bytes=${c.softUsetime} hard_bytes=${c.hardUsetime} }\n`;
    }
    push(13, 8 + 72 * e.proposal.combs.length, `${body}}\n`);
  }
  for (const [type, sup] of [
    [14, e.supportedAuth],
    [15, e.supportedEncrypt],
  ] as const) {
    if (!sup) continue;
    let body = 'sadb_sup{\n';
    for (const a of sup.algs) body += `  { id=${a.id} ivlen=${a.ivlen} min=${a.minbits} max=${a.maxbits} }\n`;
    push(type, 8 + 8 * sup.algs.length, `${body}}\n`);
  }
  if (e.spirange) push(16, 16, '');
  if (e.kmprivate) push(17, 8, '');
  if (e.policy) {
    const p = e.policy;
    let body = `sadb_x_policy{ type=${p.type} dir=${p.dir} id=${(p.id >>> 0).toString(16)} priority=${p.priority >>> 0} }\n`;
    let bytes = 16;
    if (p.type === IpsecPolicyType.IPSEC) {
      for (const r of p.requests) {
        const len = 16 + (r.src && r.dst ? align8(saLen(r.src)) + align8(saLen(r.dst)) : 0);
        bytes += len;
        body += ` { len=${len} proto=${r.proto} mode=${r.mode} level=${r.level} reqid=${r.reqid >>> 0}\n`;
        if (r.src && r.dst) body += kdebugSockaddr(r.src) + kdebugSockaddr(r.dst);
        body += ' }\n';
      }
    }
    push(18, align8(bytes), body);
  }
  if (e.sa2)
    push(19, 16, `sadb_x_sa2{ mode=${e.sa2.mode} reqid=${e.sa2.reqid >>> 0}\n  reserved1=0 reserved2=0 sequence=${e.sa2.sequence >>> 0} }\n`);
  if (e.natTType) push(20, 8, `sadb_x_nat_t_type{ type=${e.natTType.type} }\n`);
  if (e.natTSport) push(21, 8, `sadb_x_nat_t_port{ port=${e.natTSport.port} }\n`);
  if (e.natTDport) push(22, 8, `sadb_x_nat_t_port{ port=${e.natTDport.port} }\n`);
  if (e.natTOa) push(23, addrBytes(e.natTOa), kdebugAddress(e.natTOa));
  // kdebug_sadb stops at SEC_CTX and FILTER ("invalid ext_type"); tanuki prints them.
  if (e.secCtx)
    push(24, 8 + align8(e.secCtx.ctx.length), `sadb_x_sec_ctx{ alg=${e.secCtx.alg} doi=${e.secCtx.doi} len=${e.secCtx.ctx.length} }\n`);
  if (e.kmaddress) {
    const k = e.kmaddress;
    push(25, 8 + align8(saLen(k.local) * 2), `sadb_x_kmaddress{ reserved=0x00000000 }\n${kdebugSockaddr(k.local)}${kdebugSockaddr(k.remote)}`);
  }
  if (e.filter) {
    const f = e.filter;
    push(26, 40, `sadb_x_filter{ family=${f.family} saddr=${f.saddr}/${f.splen} daddr=${f.daddr}/${f.dplen} }\n`);
  }
  return out;
}

/**
 * The (type, sadb_ext_len) of each extension in wire order, from the codec's
 * encoding of the message; null when the message cannot be encoded.
 */
function wireExtensions(m: PfKeyMessage): { type: number; len64: number }[] | null {
  let bytes: Buffer;
  try {
    bytes = encodeMessage(m);
  } catch {
    return null;
  }
  const out: { type: number; len64: number }[] = [];
  for (let off = 16; off + 4 <= bytes.length; ) {
    const len64 = bytes.readUInt16LE(off);
    if (len64 === 0) break;
    out.push({ type: bytes.readUInt16LE(off + 2), len64 });
    off += len64 * 8;
  }
  return out;
}

/** kdebug_sadb(): the multi-line debug form of any PF_KEY message, extensions in wire order. */
export function formatKdebug(m: PfKeyMessage): string {
  const mine = kdebugExtensions(m);
  const wire = wireExtensions(m);
  const invalid = (type: number) => `kdebug_sadb: invalid ext_type ${type} was passed.\n`;
  // unknown extensions (kept by the decoder) are encoded back after the known ones
  let exts = [...mine, ...(m.unknown ?? []).map((u) => ({ type: u.type, len64: u.body.length / 8, body: invalid(u.type) }))];
  if (wire) {
    const byType = new Map(mine.map((x) => [x.type, x]));
    exts = wire.map((w) => ({ type: w.type, len64: w.len64, body: byType.get(w.type)?.body ?? invalid(w.type) }));
  }
  const len = 2 + exts.reduce((n, x) => n + x.len64, 0);
  let out = `sadb_msg{ version=2 type=${m.type} errno=${m.errno} satype=${m.satype}\n`;
  out += `  len=${len} reserved=${m.reserved ?? 0} seq=${m.seq >>> 0} pid=${m.pid >>> 0}\n`;
  for (const x of exts) out += `sadb_ext{ len=${x.len64} type=${x.type} }\n${x.body}`;
  return out;
}

/** setkey printdate(): "HH:MM:SS.uuuuuu " (-x) or "sec.usec " (-xx), then a newline. */
export function formatMonitorDate(nowMs: number, raw: boolean, tzOffsetSeconds: number): string {
  const sec = Math.floor(nowMs / 1000);
  const usec = Math.floor((nowMs - sec * 1000) * 1000);
  const u = String(usec).padStart(6, '0');
  if (raw) return `${sec}.${u} \n`;
  const s = (((sec + tzOffsetSeconds) % 86400) + 86400) % 86400;
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${p2(Math.floor(s / 3600))}:${p2(Math.floor((s % 3600) / 60))}:${p2(s % 60)}.${u} \n`;
}

/** One `setkey -x` record: the date line, kdebug_sadb, then an empty line. */
export function formatMonitorRecord(m: PfKeyMessage, nowMs: number, raw: boolean, tzOffsetSeconds: number): string {
  return `${formatMonitorDate(nowMs, raw, tzOffsetSeconds)}${formatKdebug(m)}\n`;
}
