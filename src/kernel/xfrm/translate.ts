/**
 * PF_KEYv2 ↔ NETLINK_XFRM translation, following what Linux's own PF_KEY
 * implementation (net/key/af_key.c) does with the same xfrm objects, so that
 * a PF_KEY user sees the kernel the way it would through AF_KEY:
 *   - policy: pfkey_spdadd / pfkey_xfrm_policy2msg
 *   - SA: pfkey_msg2xfrm_state / __pfkey_xfrm_state2msg
 *   - events: pfkey_send_acquire, key_notify_sa_expire,
 *     key_notify_policy_expire, pfkey_send_migrate, pfkey_send_new_mapping.
 * Pure functions: no socket here.
 */
import { protoToSatype as protoToSatypeOrNull, satypeToProto } from '../../pfkey/satype';
import {
  AF_INET,
  AF_INET6,
  Errno,
  IPPROTO,
  IPSEC_MANUAL_REQID_MAX,
  IPSEC_ULPROTO_ANY,
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  NatTType,
  SadbMsgType,
  SadbSaFlags,
  SadbSaState,
  SadbSaType,
} from '../../pfkey/constants';
import type {
  PfKeyMessage,
  SadbAddress,
  SadbComb,
  SadbLifetime,
  SadbSa,
  SadbXIpsecRequest,
  SadbXPolicy,
  SadbXSecCtx,
  SockAddr,
} from '../../pfkey/types';
import { formatIp, parseIp } from '../../util/ip';
import {
  AEAD_ALGORITHMS,
  AUTH_ALGORITHMS,
  CIPHER_ALGORITHMS,
  aeadByName,
  aeadBySadb,
  authByName,
  authBySadb,
  cipherByName,
  cipherBySadb,
  compByName,
  compBySadb,
  cryptoAvailable,
} from './algorithms';
import {
  IPSEC_PROTO_ANY,
  XFRM_INF,
  XFRM_STATE_DECAP_DSCP,
  XFRM_STATE_ESN,
  XFRM_STATE_NOECN,
  XFRM_STATE_NOPMTUDISC,
  XFRM_STATE_ALIGN4,
  XfrmAttr,
  XfrmMode,
  XfrmMsgType,
  XfrmPolicyAction,
  XfrmPolicyType,
} from './constants';
import type { XfrmMessage, XfrmMessageOf } from './messages';
import type {
  XfrmAttrs,
  XfrmLifetimeCfg,
  XfrmLifetimeCur,
  XfrmSelector,
  XfrmUserAcquire,
  XfrmUserExpire,
  XfrmUserMapping,
  XfrmUserMigrate,
  XfrmUserPolexpire,
  XfrmUserTmpl,
  XfrmUserpolicyId,
  XfrmUserpolicyInfo,
  XfrmUsersaInfo,
} from './structs';

/** A PF_KEY request that cannot be expressed to the kernel: the errno to reply with and why. */
export interface TranslateFailure {
  ok: false;
  errno: number;
  reason: string;
}
export type Translated<T> = { ok: true; value: T } | TranslateFailure;

const fail = (errno: number, reason: string): TranslateFailure => ({ ok: false, errno, reason });
const ok = <T>(value: T): Translated<T> => ({ ok: true, value });

/* ---- small maps ---------------------------------------------------------- */

/** The satype of an XFRM protocol; UNSPEC for anything but AH/ESP/IPComp. */
export function protoToSatype(proto: number): SadbSaType {
  return protoToSatypeOrNull(proto) ?? SadbSaType.UNSPEC;
}

/** IPSEC_MODE_* (ipsec.h) → XFRM_MODE_*; ANY is transport as in af_key's pfkey_mode_to_xfrm. */
export function ipsecModeToXfrm(mode: IpsecMode): number | undefined {
  switch (mode) {
    case IpsecMode.ANY:
    case IpsecMode.TRANSPORT:
      return XfrmMode.TRANSPORT;
    case IpsecMode.TUNNEL:
      return XfrmMode.TUNNEL;
    case IpsecMode.BEET:
      return XfrmMode.BEET;
    default:
      return undefined;
  }
}

export function xfrmModeToIpsec(mode: number): IpsecMode {
  switch (mode) {
    case XfrmMode.TRANSPORT:
      return IpsecMode.TRANSPORT;
    case XfrmMode.TUNNEL:
      return IpsecMode.TUNNEL;
    case XfrmMode.BEET:
      return IpsecMode.BEET;
    default:
      return IpsecMode.ANY;
  }
}

/** XFRM index → direction (xfrm_policy_id2dir: the low 3 bits). */
export const policyIdToXfrmDir = (index: number): number => index & 7;

/* ---- addresses ----------------------------------------------------------- */

function addrBytes(a: SockAddr): Buffer | undefined {
  const b = parseIp(a.address);
  if (!b) return undefined;
  if ((a.family === AF_INET && b.length !== 4) || (a.family === AF_INET6 && b.length !== 16)) return undefined;
  return b;
}

/**
 * Every address a PF_KEY request carries must be a valid literal of its family
 * (AF_INET 2 or AF_INET6 10) before anything is translated: xfrmAddr() below
 * would otherwise encode garbage as zeros, i.e. as the wildcard address.
 */
export function checkMessageAddresses(msg: PfKeyMessage): TranslateFailure | undefined {
  const e = msg.ext;
  const all: [string, SockAddr | undefined][] = [
    ['ADDRESS_SRC', e.addressSrc?.addr],
    ['ADDRESS_DST', e.addressDst?.addr],
    ['ADDRESS_PROXY', e.addressProxy?.addr],
    ['NAT_T_OA', e.natTOa?.addr],
    ['KMADDRESS local', e.kmaddress?.local],
    ['KMADDRESS remote', e.kmaddress?.remote],
  ];
  for (const [i, rq] of (e.policy?.requests ?? []).entries()) {
    all.push([`ipsecrequest ${i} src`, rq.src], [`ipsecrequest ${i} dst`, rq.dst]);
  }
  for (const [what, a] of all) {
    if (!a) continue;
    if (a.family !== AF_INET && a.family !== AF_INET6) return fail(Errno.EINVAL, `${what}: address family ${String(a.family)} is not AF_INET (2) or AF_INET6 (10)`);
    if (!addrBytes(a)) return fail(Errno.EINVAL, `${what}: "${a.address}" is not a valid ${a.family === AF_INET ? 'IPv4' : 'IPv6'} address`);
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) return fail(Errno.EINVAL, `${what}: port ${a.port} is out of range`);
  }
  return undefined;
}

export function xfrmAddr(a: SockAddr): Buffer {
  const out = Buffer.alloc(16);
  const b = addrBytes(a);
  if (b) b.copy(out);
  return out;
}

export function sockAddr(family: number, addr: Buffer, port = 0): SockAddr {
  const fam: 2 | 10 = family === AF_INET6 ? AF_INET6 : AF_INET;
  return { family: fam, address: formatIp(addr.subarray(0, fam === AF_INET ? 4 : 16)), port };
}

const fullPrefix = (family: number): number => (family === AF_INET6 ? 128 : 32);

function hostAddress(family: number, addr: Buffer, port = 0): SadbAddress {
  return { proto: 0, prefixlen: fullPrefix(family), addr: sockAddr(family, addr, port) };
}

const isZero = (b: Buffer): boolean => b.every((x) => x === 0);

/* ---- lifetimes (af_key _KEY2X / _X2KEY: 0 ↔ XFRM_INF for the counters) ---- */

const key2x = (v: bigint): bigint => (v === 0n ? XFRM_INF : v);
const x2key = (v: bigint): bigint => (v === XFRM_INF ? 0n : v);

export function defaultLifetimeCfg(): XfrmLifetimeCfg {
  return {
    softByteLimit: XFRM_INF,
    hardByteLimit: XFRM_INF,
    softPacketLimit: XFRM_INF,
    hardPacketLimit: XFRM_INF,
    softAddExpiresSeconds: 0n,
    hardAddExpiresSeconds: 0n,
    softUseExpiresSeconds: 0n,
    hardUseExpiresSeconds: 0n,
  };
}

const zeroLifetimeCfg = (): XfrmLifetimeCfg => ({
  softByteLimit: 0n,
  hardByteLimit: 0n,
  softPacketLimit: 0n,
  hardPacketLimit: 0n,
  softAddExpiresSeconds: 0n,
  hardAddExpiresSeconds: 0n,
  softUseExpiresSeconds: 0n,
  hardUseExpiresSeconds: 0n,
});

export const zeroLifetimeCur = (): XfrmLifetimeCur => ({ bytes: 0n, packets: 0n, addTime: 0n, useTime: 0n });

function lifetimesToCfg(hard: SadbLifetime | undefined, soft: SadbLifetime | undefined): XfrmLifetimeCfg {
  const lft = defaultLifetimeCfg();
  if (hard) {
    lft.hardPacketLimit = key2x(BigInt(hard.allocations));
    lft.hardByteLimit = key2x(hard.bytes);
    lft.hardAddExpiresSeconds = hard.addtime;
    lft.hardUseExpiresSeconds = hard.usetime;
  }
  if (soft) {
    lft.softPacketLimit = key2x(BigInt(soft.allocations));
    lft.softByteLimit = key2x(soft.bytes);
    lft.softAddExpiresSeconds = soft.addtime;
    lft.softUseExpiresSeconds = soft.usetime;
  }
  return lft;
}

function cfgToLifetimes(lft: XfrmLifetimeCfg, cur: XfrmLifetimeCur): { hard: SadbLifetime; soft: SadbLifetime; current: SadbLifetime } {
  const clampAlloc = (v: bigint): number => Number(v > 0xffffffffn ? 0xffffffffn : v);
  return {
    hard: {
      allocations: clampAlloc(x2key(lft.hardPacketLimit)),
      bytes: x2key(lft.hardByteLimit),
      addtime: lft.hardAddExpiresSeconds,
      usetime: lft.hardUseExpiresSeconds,
    },
    soft: {
      allocations: clampAlloc(x2key(lft.softPacketLimit)),
      bytes: x2key(lft.softByteLimit),
      addtime: lft.softAddExpiresSeconds,
      usetime: lft.softUseExpiresSeconds,
    },
    current: { allocations: clampAlloc(cur.packets), bytes: cur.bytes, addtime: cur.addTime, usetime: cur.useTime },
  };
}

/* ---- security contexts ----------------------------------------------------- */

/** SADB_X_EXT_SEC_CTX → XFRMA_SEC_CTX (struct xfrm_user_sec_ctx, "same format as sadb_x_sec_ctx"; len = 8 + ctx_len bytes). */
export function secCtxToAttr(ctx: SadbXSecCtx): Buffer {
  const out = Buffer.alloc(8 + ctx.ctx.length);
  out.writeUInt16LE(out.length, 0);
  out.writeUInt16LE(XfrmAttr.SEC_CTX, 2);
  out[4] = ctx.alg;
  out[5] = ctx.doi;
  out.writeUInt16LE(ctx.ctx.length, 6);
  ctx.ctx.copy(out, 8);
  return out;
}

export function secCtxFromAttr(b: Buffer | undefined): SadbXSecCtx | undefined {
  if (!b || b.length < 8) return undefined;
  const len = Math.min(b.readUInt16LE(6), b.length - 8);
  return { alg: b[4], doi: b[5], ctx: Buffer.from(b.subarray(8, 8 + len)) };
}

/* ---- selectors ----------------------------------------------------------- */

function emptySelector(family = 0): XfrmSelector {
  return {
    daddr: Buffer.alloc(16),
    saddr: Buffer.alloc(16),
    dport: 0,
    dportMask: 0,
    sport: 0,
    sportMask: 0,
    family,
    prefixlenD: 0,
    prefixlenS: 0,
    proto: 0,
    ifindex: 0,
    user: 0,
  };
}

/** ADDRESS_SRC/DST → xfrm_selector (af_key pfkey_spdadd). */
export function selectorFromAddresses(src: SadbAddress, dst: SadbAddress): Translated<XfrmSelector> {
  if (src.addr.family !== dst.addr.family) return fail(Errno.EINVAL, 'ADDRESS_SRC and ADDRESS_DST have different address families');
  if (!addrBytes(src.addr)) return fail(Errno.EINVAL, `ADDRESS_SRC "${src.addr.address}" is not a valid address of family ${src.addr.family}`);
  if (!addrBytes(dst.addr)) return fail(Errno.EINVAL, `ADDRESS_DST "${dst.addr.address}" is not a valid address of family ${dst.addr.family}`);
  const max = fullPrefix(src.addr.family);
  if (src.prefixlen > max || dst.prefixlen > max) return fail(Errno.EINVAL, `prefix length above ${max}`);
  if (src.proto !== dst.proto) return fail(Errno.EINVAL, `ADDRESS_SRC proto ${src.proto} differs from ADDRESS_DST proto ${dst.proto}`);
  return ok({
    daddr: xfrmAddr(dst.addr),
    saddr: xfrmAddr(src.addr),
    dport: dst.addr.port,
    dportMask: dst.addr.port ? 0xffff : 0,
    sport: src.addr.port,
    sportMask: src.addr.port ? 0xffff : 0,
    family: src.addr.family,
    prefixlenD: dst.prefixlen,
    prefixlenS: src.prefixlen,
    proto: src.proto === IPSEC_ULPROTO_ANY ? 0 : src.proto,
    ifindex: 0,
    user: 0,
  });
}

export function addressesFromSelector(sel: XfrmSelector): { src: SadbAddress; dst: SadbAddress } {
  const proto = sel.proto === 0 ? IPSEC_ULPROTO_ANY : sel.proto;
  return {
    src: { proto, prefixlen: sel.prefixlenS, addr: sockAddr(sel.family, sel.saddr, sel.sport) },
    dst: { proto, prefixlen: sel.prefixlenD, addr: sockAddr(sel.family, sel.daddr, sel.dport) },
  };
}

/* ---- policies ------------------------------------------------------------ */

/** A reqid source for `unique` requests without a manual reqid (af_key gen_reqid). */
export type ReqidAllocator = () => number;

function requestToTmpl(rq: SadbXIpsecRequest, selFamily: number, allocReqid: ReqidAllocator, i: number): Translated<XfrmUserTmpl> {
  if (rq.proto !== IPPROTO.ESP && rq.proto !== IPPROTO.AH && rq.proto !== IPPROTO.COMP)
    return fail(Errno.EINVAL, `ipsecrequest ${i}: proto ${rq.proto} is not esp (50), ah (51) or ipcomp (108)`);
  const mode = ipsecModeToXfrm(rq.mode);
  if (mode === undefined) return fail(Errno.EINVAL, `ipsecrequest ${i}: mode ${rq.mode} is unknown`);
  let reqid = 0;
  if (rq.level === IpsecLevel.UNIQUE) {
    reqid = rq.reqid > IPSEC_MANUAL_REQID_MAX ? 0 : rq.reqid;
    if (reqid === 0) reqid = allocReqid();
  } else if (rq.level !== IpsecLevel.DEFAULT && rq.level !== IpsecLevel.USE && rq.level !== IpsecLevel.REQUIRE) {
    return fail(Errno.EINVAL, `ipsecrequest ${i}: level ${rq.level} is unknown`);
  }
  let family = selFamily;
  let daddr: Buffer = Buffer.alloc(16);
  let saddr: Buffer = Buffer.alloc(16);
  if (rq.src && rq.dst) {
    if (rq.src.family !== rq.dst.family) return fail(Errno.EINVAL, `ipsecrequest ${i}: tunnel endpoints of different families`);
    if (!addrBytes(rq.src) || !addrBytes(rq.dst)) return fail(Errno.EINVAL, `ipsecrequest ${i}: tunnel endpoint is not a valid address`);
    family = rq.src.family;
    saddr = xfrmAddr(rq.src);
    daddr = xfrmAddr(rq.dst);
  } else if (mode === XfrmMode.TUNNEL) {
    return fail(Errno.EINVAL, `ipsecrequest ${i}: tunnel mode needs both tunnel endpoints`);
  }
  return ok({
    id: { daddr, spi: 0, proto: rq.proto },
    family,
    saddr,
    reqid,
    mode,
    share: 0,
    optional: rq.level === IpsecLevel.USE ? 1 : 0,
    aalgos: 0xffffffff,
    ealgos: 0xffffffff,
    calgos: 0xffffffff,
  });
}

export function tmplToRequest(t: XfrmUserTmpl): SadbXIpsecRequest {
  const level = t.optional ? IpsecLevel.USE : t.reqid ? IpsecLevel.UNIQUE : IpsecLevel.REQUIRE;
  const rq: SadbXIpsecRequest = { proto: t.id.proto, mode: xfrmModeToIpsec(t.mode), level, reqid: t.reqid };
  if (t.mode === XfrmMode.TUNNEL || t.mode === XfrmMode.BEET || !isZero(t.saddr) || !isZero(t.id.daddr)) {
    rq.src = sockAddr(t.family, t.saddr);
    rq.dst = sockAddr(t.family, t.id.daddr);
  }
  return rq;
}

/** X_SPDADD / X_SPDUPDATE → XFRM_MSG_NEWPOLICY / UPDPOLICY (af_key pfkey_spdadd). */
export function spdAddToXfrm(msg: PfKeyMessage, allocReqid: ReqidAllocator): Translated<XfrmMessageOf<XfrmMsgType.NEWPOLICY | XfrmMsgType.UPDPOLICY>> {
  const { addressSrc, addressDst, policy } = msg.ext;
  if (!addressSrc || !addressDst || !policy) return fail(Errno.EINVAL, 'SPDADD/SPDUPDATE needs ADDRESS_SRC, ADDRESS_DST and X_POLICY');
  if (policy.type > IpsecPolicyType.IPSEC)
    return fail(Errno.EINVAL, `policy type ${IpsecPolicyType[policy.type] ?? policy.type} cannot be installed in the kernel (Linux takes discard, none and ipsec)`);
  if (policy.dir !== IpsecDir.INBOUND && policy.dir !== IpsecDir.OUTBOUND && policy.dir !== IpsecDir.FWD)
    return fail(Errno.EINVAL, `policy direction ${policy.dir} is not in (1), out (2) or fwd (3)`);
  const sel = selectorFromAddresses(addressSrc, addressDst);
  if (!sel.ok) return sel;
  const tmpls: XfrmUserTmpl[] = [];
  if (policy.type === IpsecPolicyType.IPSEC) {
    if (policy.requests.length === 0) return fail(Errno.EINVAL, 'an ipsec policy needs at least one ipsecrequest');
    for (const [i, rq] of policy.requests.entries()) {
      const t = requestToTmpl(rq, sel.value.family, allocReqid, i);
      if (!t.ok) return t;
      tmpls.push(t.value);
    }
  }
  const info: XfrmUserpolicyInfo = {
    sel: sel.value,
    lft: lifetimesToCfg(msg.ext.lifetimeHard, msg.ext.lifetimeSoft),
    curlft: zeroLifetimeCur(),
    priority: policy.priority,
    index: 0,
    dir: policy.dir - 1,
    action: policy.type === IpsecPolicyType.DISCARD ? XfrmPolicyAction.BLOCK : XfrmPolicyAction.ALLOW,
    flags: 0,
    share: 0,
  };
  const attrs: XfrmAttrs = tmpls.length ? { tmpl: tmpls } : {};
  if (msg.ext.secCtx) attrs.secCtx = secCtxToAttr(msg.ext.secCtx);
  return ok({ type: msg.type === SadbMsgType.X_SPDUPDATE ? XfrmMsgType.UPDPOLICY : XfrmMsgType.NEWPOLICY, body: info, attrs });
}

/** xfrm_userpolicy_info + templates → a PF_KEY policy message (af_key pfkey_xfrm_policy2msg). */
export function policyToPfKey(type: SadbMsgType, info: XfrmUserpolicyInfo, attrs: XfrmAttrs, seq: number, pid: number): PfKeyMessage {
  const { src, dst } = addressesFromSelector(info.sel);
  const tmpls = attrs.tmpl ?? [];
  const ptype =
    info.action === XfrmPolicyAction.BLOCK ? IpsecPolicyType.DISCARD : tmpls.length ? IpsecPolicyType.IPSEC : IpsecPolicyType.NONE;
  const policy: SadbXPolicy = {
    type: ptype,
    dir: (info.dir + 1) as IpsecDir,
    id: info.index,
    priority: info.priority,
    requests: ptype === IpsecPolicyType.IPSEC ? tmpls.map(tmplToRequest) : [],
  };
  const lt = cfgToLifetimes(info.lft, info.curlft);
  const msg: PfKeyMessage = {
    type,
    satype: SadbSaType.UNSPEC,
    errno: 0,
    seq,
    pid,
    ext: {
      addressSrc: src,
      addressDst: dst,
      lifetimeHard: lt.hard,
      lifetimeSoft: lt.soft,
      lifetimeCurrent: lt.current,
      policy,
    },
  };
  const ctx = secCtxFromAttr(attrs.secCtx);
  if (ctx) msg.ext.secCtx = ctx;
  return msg;
}

/** X_SPDDELETE (by selector + dir) / X_SPDDELETE2 and X_SPDGET (by id) → DELPOLICY / GETPOLICY. */
export function spdIdToXfrm(msg: PfKeyMessage): Translated<XfrmMessageOf<XfrmMsgType.DELPOLICY | XfrmMsgType.GETPOLICY>> {
  const policy = msg.ext.policy;
  if (!policy) return fail(Errno.EINVAL, 'the request needs an X_POLICY extension');
  const xtype = msg.type === SadbMsgType.X_SPDGET ? XfrmMsgType.GETPOLICY : XfrmMsgType.DELPOLICY;
  if (msg.type === SadbMsgType.X_SPDDELETE) {
    const { addressSrc, addressDst } = msg.ext;
    if (!addressSrc || !addressDst) return fail(Errno.EINVAL, 'SPDDELETE needs ADDRESS_SRC and ADDRESS_DST');
    if (policy.dir < IpsecDir.INBOUND || policy.dir > IpsecDir.FWD) return fail(Errno.EINVAL, `policy direction ${policy.dir} is not in, out or fwd`);
    const sel = selectorFromAddresses(addressSrc, addressDst);
    if (!sel.ok) return sel;
    return ok({ type: xtype, body: { sel: sel.value, index: 0, dir: policy.dir - 1 }, attrs: {} });
  }
  if (policy.id === 0) return fail(Errno.EINVAL, 'X_POLICY id is 0; SPDGET/SPDDELETE2 look policies up by id');
  return ok({ type: xtype, body: { sel: emptySelector(), index: policy.id, dir: policyIdToXfrmDir(policy.id) }, attrs: {} });
}

/* ---- SAs ----------------------------------------------------------------- */

/** include/uapi/linux/xfrm.h XFRMA_REPLAY_ESN_MAX: the largest ESN replay window (bits) XFRM accepts. */
const ESN_MAX_REPLAY_WINDOW = 4096;

function saFlagsToXfrm(flags: number): number {
  let f = 0;
  if (flags & SadbSaFlags.X_NOECN) f |= XFRM_STATE_NOECN;
  if (flags & SadbSaFlags.X_DECAP_DSCP) f |= XFRM_STATE_DECAP_DSCP;
  if (flags & SadbSaFlags.X_NOPMTUDISC) f |= XFRM_STATE_NOPMTUDISC;
  if (flags & SadbSaFlags.X_ALIGN4) f |= XFRM_STATE_ALIGN4;
  if (flags & SadbSaFlags.X_ESN) f |= XFRM_STATE_ESN;
  return f;
}

function xfrmFlagsToSa(f: number): number {
  let flags = 0;
  if (f & XFRM_STATE_NOECN) flags |= SadbSaFlags.X_NOECN;
  if (f & XFRM_STATE_DECAP_DSCP) flags |= SadbSaFlags.X_DECAP_DSCP;
  if (f & XFRM_STATE_NOPMTUDISC) flags |= SadbSaFlags.X_NOPMTUDISC;
  if (f & XFRM_STATE_ALIGN4) flags |= SadbSaFlags.X_ALIGN4;
  if (f & XFRM_STATE_ESN) flags |= SadbSaFlags.X_ESN;
  return flags;
}

function keyOf(k: { bits: number; key: Buffer } | undefined, what: string): Translated<Buffer> {
  if (!k) return ok(Buffer.alloc(0));
  const bytes = Math.ceil(k.bits / 8);
  if (k.key.length < bytes) return fail(Errno.EINVAL, `${what}: ${k.bits}-bit key but only ${k.key.length} bytes`);
  return ok(k.key.subarray(0, bytes));
}

/** The algorithm attributes of an SA (af_key pfkey_msg2xfrm_state, plus AEAD via XFRMA_ALG_AEAD). */
function algorithmAttrs(msg: PfKeyMessage, proto: number): Translated<XfrmAttrs> {
  const sa = msg.ext.sa;
  const attrs: XfrmAttrs = {};
  if (!sa) return ok(attrs);
  if (proto === IPPROTO.COMP) {
    if (sa.encrypt === 0) return ok(attrs);
    const c = compBySadb(sa.encrypt);
    if (!c) return fail(Errno.EINVAL, `IPComp algorithm ${sa.encrypt} is unknown`);
    attrs.algComp = { algName: c.kernelName, algKeyLen: 0, key: Buffer.alloc(0) };
    return ok(attrs);
  }
  if (sa.auth !== 0) {
    const a = authBySadb(sa.auth);
    if (!a) return fail(Errno.EINVAL, `authentication algorithm ${sa.auth} has no Linux kernel name`);
    const key = keyOf(msg.ext.keyAuth, 'KEY_AUTH');
    if (!key.ok) return key;
    if (a.keyBits !== 0 && key.value.length * 8 !== a.keyBits)
      return fail(Errno.EINVAL, `${a.kernelName} needs a ${a.keyBits}-bit key, KEY_AUTH has ${msg.ext.keyAuth?.bits ?? 0} bits`);
    attrs.algAuthTrunc = { algName: a.kernelName, algKeyLen: key.value.length * 8, algTruncLen: a.truncBits, key: Buffer.from(key.value) };
  }
  if (proto === IPPROTO.ESP) {
    const aead = aeadBySadb(sa.encrypt);
    const key = keyOf(msg.ext.keyEncrypt, 'KEY_ENCRYPT');
    if (!key.ok) return key;
    const bits = key.value.length * 8;
    if (aead) {
      if (sa.auth !== 0) return fail(Errno.EINVAL, `${aead.kernelName} is an AEAD: the SA must not also carry an authentication algorithm`);
      if (bits < aead.minBits || bits > aead.maxBits)
        return fail(Errno.EINVAL, `${aead.kernelName} needs a key of ${aead.minBits}..${aead.maxBits} bits (key + salt), KEY_ENCRYPT has ${bits}`);
      attrs.algAead = { algName: aead.kernelName, algKeyLen: bits, algIcvLen: aead.icvBits, key: Buffer.from(key.value) };
    } else {
      const c = cipherBySadb(sa.encrypt);
      if (!c) return fail(Errno.EINVAL, `encryption algorithm ${sa.encrypt} has no Linux kernel name`);
      if (bits < c.minBits || bits > c.maxBits) return fail(Errno.EINVAL, `${c.kernelName} needs a key of ${c.minBits}..${c.maxBits} bits, KEY_ENCRYPT has ${bits}`);
      attrs.algCrypt = { algName: c.kernelName, algKeyLen: bits, key: Buffer.from(key.value) };
    }
  } else if (sa.encrypt !== 0) {
    return fail(Errno.EINVAL, 'an AH SA carries no encryption algorithm');
  } else if (sa.auth === 0) {
    return fail(Errno.EINVAL, 'an AH SA needs an authentication algorithm');
  }
  return ok(attrs);
}

/** SADB_ADD / SADB_UPDATE → XFRM_MSG_NEWSA / UPDSA (af_key pfkey_msg2xfrm_state). */
export function saAddToXfrm(msg: PfKeyMessage): Translated<XfrmMessageOf<XfrmMsgType.NEWSA | XfrmMsgType.UPDSA>> {
  const { sa, addressSrc, addressDst, sa2 } = msg.ext;
  const proto = satypeToProto(msg.satype);
  if (proto === null) return fail(Errno.EINVAL, `satype ${msg.satype} is not AH, ESP or IPCOMP`);
  if (!sa || !addressSrc || !addressDst) return fail(Errno.EINVAL, 'ADD/UPDATE needs SA, ADDRESS_SRC and ADDRESS_DST');
  if (sa.spi === 0) return fail(Errno.EINVAL, 'SPI 0 is reserved (RFC 4303 §2.1)');
  if (addressSrc.addr.family !== addressDst.addr.family) return fail(Errno.EINVAL, 'ADDRESS_SRC and ADDRESS_DST have different address families');
  if (!addrBytes(addressSrc.addr) || !addrBytes(addressDst.addr)) return fail(Errno.EINVAL, 'ADDRESS_SRC/DST is not a valid address');
  const family = addressSrc.addr.family;
  const mode = ipsecModeToXfrm(sa2?.mode ?? IpsecMode.ANY);
  if (mode === undefined) return fail(Errno.EINVAL, `SA2 mode ${sa2?.mode} is unknown`);
  const algs = algorithmAttrs(msg, proto);
  if (!algs.ok) return algs;
  const attrs = algs.value;
  const sel = emptySelector(family);
  if (msg.ext.addressProxy) {
    // af_key: "Nobody uses this, but we try."
    sel.family = msg.ext.addressProxy.addr.family;
    sel.saddr = xfrmAddr(msg.ext.addressProxy.addr);
    sel.prefixlenS = msg.ext.addressProxy.prefixlen;
  }
  const natt = msg.ext.natTType;
  if (natt && natt.type !== NatTType.NONE) {
    attrs.encap = {
      encapType: natt.type,
      encapSport: msg.ext.natTSport?.port ?? 0,
      encapDport: msg.ext.natTDport?.port ?? 0,
      encapOa: msg.ext.natTOa ? xfrmAddr(msg.ext.natTOa.addr) : Buffer.alloc(16),
    };
  }
  if (msg.ext.secCtx) attrs.secCtx = secCtxToAttr(msg.ext.secCtx);
  const info: XfrmUsersaInfo = {
    sel,
    id: { daddr: xfrmAddr(addressDst.addr), spi: sa.spi, proto },
    saddr: xfrmAddr(addressSrc.addr),
    lft: lifetimesToCfg(msg.ext.lifetimeHard, msg.ext.lifetimeSoft),
    curlft: zeroLifetimeCur(),
    stats: { replayWindow: 0, replay: 0, integrityFailed: 0 },
    seq: msg.seq,
    reqid: sa2?.reqid ?? 0,
    family,
    mode,
    replayWindow: Math.min(sa.replay, 32),
    flags: saFlagsToXfrm(sa.flags),
  };
  if (sa.flags & SadbSaFlags.X_ESN) {
    // SADB_X_SAFLAGS_ESN (RFC 4303 §2.2.1): XFRM keeps 64-bit sequence state in XFRMA_REPLAY_ESN_VAL;
    // the kernel needs a non-zero window there (xfrm_user.c verify_replay / xfrm_init_replay)
    const window = Math.min(sa.replay > 0 ? sa.replay : 32, ESN_MAX_REPLAY_WINDOW);
    const bmpLen = Math.ceil(window / 32);
    attrs.replayEsnVal = { bmpLen, oseq: 0, seq: 0, oseqHi: 0, seqHi: 0, replayWindow: window, bmp: new Array<number>(bmpLen).fill(0) };
    info.replayWindow = 0;
  }
  return ok({ type: msg.type === SadbMsgType.UPDATE ? XfrmMsgType.UPDSA : XfrmMsgType.NEWSA, body: info, attrs });
}

/** SADB_DELETE / SADB_GET → XFRM_MSG_DELSA / GETSA (looked up by daddr, spi, proto). */
export function saIdToXfrm(msg: PfKeyMessage): Translated<XfrmMessageOf<XfrmMsgType.DELSA | XfrmMsgType.GETSA>> {
  const proto = satypeToProto(msg.satype);
  if (proto === null) return fail(Errno.EINVAL, `satype ${msg.satype} is not AH, ESP or IPCOMP`);
  const { sa, addressDst, addressSrc } = msg.ext;
  if (!sa || !addressDst) return fail(Errno.EINVAL, 'DELETE/GET needs SA and ADDRESS_DST');
  const attrs: XfrmAttrs = addressSrc ? { srcaddr: xfrmAddr(addressSrc.addr) } : {};
  return ok({
    type: msg.type === SadbMsgType.GET ? XfrmMsgType.GETSA : XfrmMsgType.DELSA,
    body: { daddr: xfrmAddr(addressDst.addr), spi: sa.spi, family: addressDst.addr.family, proto },
    attrs,
  });
}

/** SADB_GETSPI → XFRM_MSG_ALLOCSPI (af_key pfkey_getspi: range 0x100..0x0fffffff by default). */
export function getSpiToXfrm(msg: PfKeyMessage): Translated<XfrmMessageOf<XfrmMsgType.ALLOCSPI>> {
  const proto = satypeToProto(msg.satype);
  if (proto === null) return fail(Errno.EINVAL, `satype ${msg.satype} is not AH, ESP or IPCOMP`);
  const { addressSrc, addressDst, sa2, spirange } = msg.ext;
  if (!addressSrc || !addressDst) return fail(Errno.EINVAL, 'GETSPI needs ADDRESS_SRC and ADDRESS_DST');
  if (addressSrc.addr.family !== addressDst.addr.family) return fail(Errno.EINVAL, 'ADDRESS_SRC and ADDRESS_DST have different address families');
  const mode = ipsecModeToXfrm(sa2?.mode ?? IpsecMode.ANY);
  if (mode === undefined) return fail(Errno.EINVAL, `SA2 mode ${sa2?.mode} is unknown`);
  let min = 0x100;
  let max = 0x0fffffff;
  if (proto === IPPROTO.COMP) {
    min = 0x100;
    max = 0xffff; // RFC 3173 §2.2: CPIs are 16 bits
  }
  if (spirange) {
    if (spirange.min > spirange.max) return fail(Errno.EINVAL, `SPIRANGE min 0x${spirange.min.toString(16)} is above max 0x${spirange.max.toString(16)}`);
    min = spirange.min;
    max = spirange.max;
  }
  const family = addressSrc.addr.family;
  // Selector and lifetimes are not read by xfrm_alloc_userspi (xfrm_find_acq
  // builds the larval state); left zero as iproute2 leaves them.
  return ok({
    type: XfrmMsgType.ALLOCSPI,
    body: {
      info: {
        sel: emptySelector(),
        id: { daddr: xfrmAddr(addressDst.addr), spi: 0, proto },
        saddr: xfrmAddr(addressSrc.addr),
        lft: zeroLifetimeCfg(),
        curlft: zeroLifetimeCur(),
        stats: { replayWindow: 0, replay: 0, integrityFailed: 0 },
        seq: msg.seq,
        reqid: sa2?.reqid ?? 0,
        family,
        mode,
        replayWindow: 0,
        flags: 0,
      },
      min,
      max,
    },
    attrs: {},
  });
}

/** xfrm_usersa_info + attributes → the PF_KEY SA extensions (af_key __pfkey_xfrm_state2msg). */
export function saToPfKey(
  type: SadbMsgType,
  info: XfrmUsersaInfo,
  attrs: XfrmAttrs,
  seq: number,
  pid: number,
  opts: { keys?: boolean; lifetimes?: 'all' | 'hard' | 'soft' } = {},
): PfKeyMessage {
  const keys = opts.keys ?? true;
  const which = opts.lifetimes ?? 'all';
  let auth = 0;
  let encrypt = 0;
  const ext: PfKeyMessage['ext'] = {};
  if (attrs.algAuthTrunc) auth = authByName(attrs.algAuthTrunc.algName)?.sadb ?? 0;
  else if (attrs.algAuth) auth = authByName(attrs.algAuth.algName)?.sadb ?? 0;
  if (attrs.algAead) encrypt = aeadByName(attrs.algAead.algName, attrs.algAead.algIcvLen)?.sadb ?? 0;
  else if (attrs.algCrypt) encrypt = cipherByName(attrs.algCrypt.algName)?.sadb ?? 0;
  else if (attrs.algComp) encrypt = compByName(attrs.algComp.algName)?.sadb ?? 0;
  const hasAlg = !!(attrs.algAuthTrunc || attrs.algAuth || attrs.algAead || attrs.algCrypt || attrs.algComp);
  const sa: SadbSa = {
    spi: info.id.spi,
    replay: attrs.replayEsnVal?.replayWindow ?? info.replayWindow,
    state: hasAlg ? SadbSaState.MATURE : SadbSaState.LARVAL,
    auth,
    encrypt,
    flags: xfrmFlagsToSa(info.flags),
  };
  ext.sa = sa;
  const lt = cfgToLifetimes(info.lft, info.curlft);
  ext.lifetimeCurrent = lt.current;
  if (which === 'all' || which === 'hard') ext.lifetimeHard = lt.hard;
  if (which === 'all' || which === 'soft') ext.lifetimeSoft = lt.soft;
  ext.addressSrc = hostAddress(info.family, info.saddr);
  ext.addressDst = hostAddress(info.family, info.id.daddr);
  if (info.sel.family && !isZero(info.sel.saddr)) {
    ext.addressProxy = { proto: 0, prefixlen: info.sel.prefixlenS, addr: sockAddr(info.sel.family, info.sel.saddr) };
  }
  if (keys) {
    const authAlg = attrs.algAuthTrunc ?? attrs.algAuth;
    if (authAlg && authAlg.algKeyLen > 0) ext.keyAuth = { bits: authAlg.algKeyLen, key: Buffer.from(authAlg.key) };
    const encAlg = attrs.algAead ?? attrs.algCrypt;
    if (encAlg && encAlg.algKeyLen > 0) ext.keyEncrypt = { bits: encAlg.algKeyLen, key: Buffer.from(encAlg.key) };
  }
  ext.sa2 = { mode: xfrmModeToIpsec(info.mode), sequence: 0, reqid: info.reqid };
  if (attrs.encap) {
    ext.natTType = { type: attrs.encap.encapType as NatTType };
    ext.natTSport = { port: attrs.encap.encapSport };
    ext.natTDport = { port: attrs.encap.encapDport };
    if (!isZero(attrs.encap.encapOa)) ext.natTOa = hostAddress(info.family, attrs.encap.encapOa);
  }
  const ctx = secCtxFromAttr(attrs.secCtx);
  if (ctx) ext.secCtx = ctx;
  return { type, satype: protoToSatype(info.id.proto), errno: 0, seq, pid, ext };
}

/** SADB_FLUSH / SADB_DUMP satype → the XFRM proto (UNSPEC = every IPsec protocol). */
export function satypeToFlushProto(satype: SadbSaType): Translated<number> {
  if (satype === SadbSaType.UNSPEC) return ok(IPSEC_PROTO_ANY);
  const p = satypeToProto(satype);
  return p === null ? fail(Errno.EINVAL, `satype ${satype} is not AH, ESP or IPCOMP`) : ok(p);
}

/* ---- kernel events ------------------------------------------------------- */

/** af_key dump_ah_combs / dump_esp_combs lifetimes. */
const COMB_LIFETIMES = { hardAddtime: 24n * 60n * 60n, softAddtime: 20n * 60n * 60n, hardUsetime: 8n * 60n * 60n, softUsetime: 7n * 60n * 60n };

function comb(auth: number, encrypt: number, aMin: number, aMax: number, eMin: number, eMax: number): SadbComb {
  return {
    auth,
    encrypt,
    flags: 0,
    authMinbits: aMin,
    authMaxbits: aMax,
    encryptMinbits: eMin,
    encryptMaxbits: eMax,
    softAllocations: 0,
    hardAllocations: 0,
    softBytes: 0n,
    hardBytes: 0n,
    softAddtime: COMB_LIFETIMES.softAddtime,
    hardAddtime: COMB_LIFETIMES.hardAddtime,
    softUsetime: COMB_LIFETIMES.softUsetime,
    hardUsetime: COMB_LIFETIMES.hardUsetime,
  };
}

const algAllowed = (mask: number, sadb: number): boolean => sadb >= 32 || ((mask >>> sadb) & 1) === 1;

/** The SADB_EXT_PROPOSAL of an ACQUIRE, from the template's algorithm masks and what the kernel has. */
export function acquireProposal(tmpl: XfrmUserTmpl | undefined, proto: number, names: Set<string>): SadbComb[] {
  const aalgos = tmpl?.aalgos ?? 0xffffffff;
  const ealgos = tmpl?.ealgos ?? 0xffffffff;
  const auths = AUTH_ALGORITHMS.filter((a) => a.keyBits > 0 && algAllowed(aalgos, a.sadb) && cryptoAvailable(a.kernelName, names));
  if (proto === IPPROTO.AH) return auths.map((a) => comb(a.sadb, 0, a.keyBits, a.keyBits, 0, 0));
  if (proto !== IPPROTO.ESP) return [];
  const combs: SadbComb[] = [];
  for (const e of CIPHER_ALGORITHMS) {
    if (e.maxBits === 0 || !algAllowed(ealgos, e.sadb) || !cryptoAvailable(e.kernelName, names)) continue;
    for (const a of auths) combs.push(comb(a.sadb, e.sadb, a.keyBits, a.keyBits, e.minBits, e.maxBits));
  }
  for (const e of AEAD_ALGORITHMS) {
    if (!algAllowed(ealgos, e.sadb) || !cryptoAvailable(e.kernelName, names)) continue;
    combs.push(comb(0, e.sadb, 0, 0, e.minBits, e.maxBits));
  }
  return combs;
}

/** XFRM_MSG_ACQUIRE → SADB_ACQUIRE (af_key pfkey_send_acquire). */
export function acquireToPfKey(acq: XfrmUserAcquire, attrs: XfrmAttrs, names: Set<string>): PfKeyMessage {
  const tmpl = attrs.tmpl?.[0];
  const family = tmpl?.family || acq.policy.sel.family || acq.sel.family;
  const proto = acq.id.proto;
  const msg: PfKeyMessage = {
    type: SadbMsgType.ACQUIRE,
    satype: protoToSatype(proto),
    errno: 0,
    seq: acq.seq,
    pid: 0,
    ext: {
      addressSrc: hostAddress(family, acq.saddr),
      addressDst: hostAddress(family, acq.id.daddr),
      policy: {
        type: IpsecPolicyType.IPSEC,
        dir: (acq.policy.dir + 1) as IpsecDir,
        id: acq.policy.index,
        priority: acq.policy.priority,
        requests: [],
      },
      proposal: { replay: 32, combs: acquireProposal(tmpl, proto, names) },
    },
  };
  const ctx = secCtxFromAttr(attrs.secCtx);
  if (ctx) msg.ext.secCtx = ctx;
  return msg;
}

/** XFRM_MSG_EXPIRE → SADB_EXPIRE with the lifetime that ran out (af_key key_notify_sa_expire). */
export function expireToPfKey(e: XfrmUserExpire, attrs: XfrmAttrs): PfKeyMessage {
  return saToPfKey(SadbMsgType.EXPIRE, e.state, attrs, 0, 0, { keys: false, lifetimes: e.hard ? 'hard' : 'soft' });
}

/** XFRM_MSG_POLEXPIRE → SADB_X_SPDEXPIRE (af_key key_notify_policy_expire). */
export function polexpireToPfKey(e: XfrmUserPolexpire, attrs: XfrmAttrs): PfKeyMessage {
  const m = policyToPfKey(SadbMsgType.X_SPDEXPIRE, e.pol, attrs, 0, 0);
  if (e.hard) delete m.ext.lifetimeSoft;
  else delete m.ext.lifetimeHard;
  return m;
}

/**
 * XFRM_MSG_MIGRATE → SADB_X_MIGRATE (af_key pfkey_send_migrate): KMADDRESS
 * (local first), the selector as ADDRESS_SRC/DST, and X_POLICY with one
 * (old, new) pair of ipsecrequests per migrated bundle. The kernel raises one
 * event per direction, so one PF_KEY message per direction follows.
 */
export function migrateToPfKey(id: XfrmUserpolicyId, attrs: XfrmAttrs): PfKeyMessage {
  const bundles = attrs.migrate ?? [];
  const { src, dst } = addressesFromSelector(id.sel);
  const requests: SadbXIpsecRequest[] = [];
  for (const m of bundles) {
    const mode = xfrmModeToIpsec(m.mode);
    const level = m.reqid ? IpsecLevel.UNIQUE : IpsecLevel.REQUIRE;
    requests.push({ proto: m.proto, mode, level, reqid: m.reqid, src: sockAddr(m.oldFamily, m.oldSaddr), dst: sockAddr(m.oldFamily, m.oldDaddr) });
    requests.push({ proto: m.proto, mode, level, reqid: m.reqid, src: sockAddr(m.newFamily, m.newSaddr), dst: sockAddr(m.newFamily, m.newDaddr) });
  }
  const msg: PfKeyMessage = {
    type: SadbMsgType.X_MIGRATE,
    satype: protoToSatype(bundles[0]?.proto ?? 0),
    errno: 0,
    seq: 0,
    pid: 0,
    ext: {},
  };
  if (attrs.kmaddress) {
    msg.ext.kmaddress = {
      local: sockAddr(attrs.kmaddress.family, attrs.kmaddress.local),
      remote: sockAddr(attrs.kmaddress.family, attrs.kmaddress.remote),
    };
  }
  msg.ext.addressSrc = src;
  msg.ext.addressDst = dst;
  msg.ext.policy = { type: IpsecPolicyType.IPSEC, dir: (id.dir + 1) as IpsecDir, id: 0, priority: 0, requests };
  return msg;
}

/** SADB_X_MIGRATE from a key manager → XFRM_MSG_MIGRATE (af_key pfkey_migrate). */
export function migrateFromPfKey(msg: PfKeyMessage): Translated<XfrmMessageOf<XfrmMsgType.MIGRATE>> {
  const { addressSrc, addressDst, policy, kmaddress } = msg.ext;
  if (!addressSrc || !addressDst || !policy) return fail(Errno.EINVAL, 'X_MIGRATE needs ADDRESS_SRC, ADDRESS_DST and X_POLICY');
  if (policy.dir < IpsecDir.INBOUND || policy.dir > IpsecDir.FWD) return fail(Errno.EINVAL, `policy direction ${policy.dir} is not in, out or fwd`);
  if (policy.requests.length === 0 || policy.requests.length % 2 !== 0)
    return fail(Errno.EINVAL, `X_POLICY carries ${policy.requests.length} ipsecrequests; X_MIGRATE needs (old, new) pairs`);
  const sel = selectorFromAddresses(addressSrc, addressDst);
  if (!sel.ok) return sel;
  const migrate: XfrmUserMigrate[] = [];
  for (let i = 0; i < policy.requests.length; i += 2) {
    const o = policy.requests[i];
    const n = policy.requests[i + 1];
    if (!o.src || !o.dst || !n.src || !n.dst) return fail(Errno.EINVAL, `ipsecrequest pair ${i / 2}: both old and new need their endpoint addresses`);
    if (o.proto !== n.proto || o.mode !== n.mode) return fail(Errno.EINVAL, `ipsecrequest pair ${i / 2}: proto/mode of old and new differ`);
    const mode = ipsecModeToXfrm(o.mode);
    if (mode === undefined) return fail(Errno.EINVAL, `ipsecrequest pair ${i / 2}: mode ${o.mode} is unknown`);
    migrate.push({
      oldDaddr: xfrmAddr(o.dst),
      oldSaddr: xfrmAddr(o.src),
      newDaddr: xfrmAddr(n.dst),
      newSaddr: xfrmAddr(n.src),
      proto: o.proto,
      mode,
      reserved: 0,
      reqid: o.reqid,
      oldFamily: o.src.family,
      newFamily: n.src.family,
    });
  }
  const attrs: XfrmAttrs = { migrate };
  if (kmaddress) {
    if (kmaddress.local.family !== kmaddress.remote.family) return fail(Errno.EINVAL, 'KMADDRESS local and remote have different families');
    attrs.kmaddress = { local: xfrmAddr(kmaddress.local), remote: xfrmAddr(kmaddress.remote), reserved: 0, family: kmaddress.local.family };
  }
  return ok({ type: XfrmMsgType.MIGRATE, body: { sel: sel.value, index: 0, dir: policy.dir - 1 }, attrs });
}

/** XFRM_MSG_MAPPING → SADB_X_NAT_T_NEW_MAPPING (af_key pfkey_send_new_mapping). */
export function mappingToPfKey(m: XfrmUserMapping): PfKeyMessage {
  return {
    type: SadbMsgType.X_NAT_T_NEW_MAPPING,
    satype: protoToSatype(m.id.proto),
    errno: 0,
    seq: 0,
    pid: 0,
    ext: {
      sa: { spi: m.id.spi, replay: 0, state: SadbSaState.MATURE, auth: 0, encrypt: 0, flags: 0 },
      addressSrc: hostAddress(m.id.family, m.newSaddr),
      natTSport: { port: m.newSport },
      addressDst: hostAddress(m.id.family, m.id.daddr),
      natTDport: { port: 0 },
    },
  };
}

/** Policy type attribute value used on every policy request (main policy table). */
export const MAIN_POLICY_TYPE = { type: XfrmPolicyType.MAIN, reserved1: 0, reserved2: 0 };

/** For XfrmMessage users that need a readable name. */
export function xfrmTypeName(t: number): string {
  return `XFRM_MSG_${XfrmMsgType[t] ?? t}`;
}

export type { XfrmMessage };
