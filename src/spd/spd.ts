/**
 * The security policy database of the userspace kernel (the KAME/Linux
 * SADB_X_SPD* messages): ordered policies with selectors, direction, type,
 * priority and templates, and the per-packet lookup.
 *
 * Ordering is Linux's: the lowest sadb_x_policy_priority wins, ties go to
 * the policy inserted first. Policy ids are allocated like Linux
 * xfrm_gen_index(): a generator stepping by 8 OR'd with the XFRM direction,
 * so id % 8 tells the direction (0 in, 1 out, 2 fwd).
 *
 * Lookup is indexed, not a linear scan: policies are grouped by "shape"
 * (address family, source and destination prefix length); within a shape a
 * hash on the masked destination and source addresses finds the candidates,
 * kept sorted by (priority, insertion). A lookup costs one hash probe per
 * shape present in the direction, whatever the number of policies.
 */
import { Errno, IPPROTO, IPSEC_MANUAL_REQID_MAX, IPSEC_ULPROTO_ANY, IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType } from '../pfkey/constants';
import type { PfKeyExtensions, SadbAddress, SadbLifetime, SadbXIpsecRequest, SockAddr } from '../pfkey/types';
import { maskAddress, parseIp } from '../util/ip';

export type PolicyId = number & { readonly __brand: 'PolicyId' };

export type SpdResult<T> = { ok: true; value: T } | { ok: false; errno: number; reason: string };

function fail<T>(errno: number, reason: string): SpdResult<T> {
  return { ok: false, errno, reason };
}

/** The clock the SPD runs policy lifetimes on (same shape as the SADB's KernelClock). */
export interface SpdClock {
  now(): number;
  at(atMs: number, fire: () => void): () => void;
}

/** A policy selector with addresses masked to their prefix (what matching uses). */
export interface PolicySelector {
  family: 2 | 10;
  src: Buffer;
  dst: Buffer;
  splen: number;
  dplen: number;
  /** Upper-layer protocol, 0 = any (IPSEC_ULPROTO_ANY 255 in messages). */
  proto: number;
  /** 0 = any. For ICMP/ICMPv6 the ICMP type (sport) and code (dport), as Linux. */
  sport: number;
  dport: number;
}

/** One ipsecrequest of an IPSEC policy (an xfrm template). */
export interface PolicyTemplate {
  proto: number;
  mode: IpsecMode;
  level: IpsecLevel;
  reqid: number;
  /** Tunnel endpoints (tunnel and BEET mode). */
  src?: SockAddr;
  dst?: SockAddr;
  /** Level USE: a missing SA does not stop the packet. */
  optional: boolean;
}

export interface SecurityPolicy {
  readonly id: PolicyId;
  readonly dir: IpsecDir;
  readonly type: IpsecPolicyType;
  readonly priority: number;
  readonly selector: PolicySelector;
  readonly templates: readonly PolicyTemplate[];
  /** ADDRESS_SRC/DST, X_POLICY (requests with the reqids in force), lifetimes, SEC_CTX as given. */
  readonly ext: Pick<PfKeyExtensions, 'addressSrc' | 'addressDst' | 'policy' | 'lifetimeHard' | 'lifetimeSoft' | 'secCtx'>;
  /** Seconds since the epoch; lastused 0 = never. */
  readonly created: bigint;
  lastused: bigint;
  /** sadb_msg_seq / pid of the message that installed it. */
  readonly seq: number;
  readonly pid: number;
  /** Insertion position: breaks priority ties (earlier wins). */
  readonly pos: number;
  timers: Array<() => void>;
}

/** What a packet looks like to the SPD. Addresses are 4 or 16 bytes. */
export interface PacketSelector {
  src: Uint8Array;
  dst: Uint8Array;
  /** Upper-layer protocol number. */
  proto: number;
  /** Ports, or ICMP type (sport) and code (dport). */
  sport: number;
  dport: number;
}

export interface SpdRequest {
  seq: number;
  pid: number;
  ext: PfKeyExtensions;
}

export interface SpdOptions {
  clock: SpdClock;
  /** Hard lifetime reached: the policy is already removed (KAME key_spdexpire). */
  onExpire?: (policy: SecurityPolicy) => void;
}

interface Shape {
  family: 2 | 10;
  splen: number;
  dplen: number;
  /** masked dst → masked src → policies sorted by (priority, pos). */
  buckets: Map<number | string, Map<number | string, SecurityPolicy[]>>;
  count: number;
}

const V4_MASKS: number[] = Array.from({ length: 33 }, (_, l) => (l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0));

function addrKey(a: Uint8Array, plen: number): number | string {
  if (a.length === 4) return (((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) & V4_MASKS[plen]) >>> 0;
  return maskAddress(a, plen).toString('hex');
}

/** Linux dir numbering: XFRM_POLICY_IN/OUT/FWD = sadb_x_policy_dir - 1. */
function xfrmDir(dir: IpsecDir): number {
  return dir - 1;
}

export function policyIdToDir(id: number): IpsecDir {
  return ((id & 7) + 1) as IpsecDir;
}

function before(a: SecurityPolicy, b: SecurityPolicy): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.pos < b.pos);
}

function selectorIdentity(dir: IpsecDir, s: PolicySelector): string {
  return `${dir}|${s.family}|${s.src.toString('hex')}/${s.splen}|${s.dst.toString('hex')}/${s.dplen}|${s.proto}|${s.sport}|${s.dport}`;
}

/** Selector from ADDRESS_SRC/DST (RFC 2367 §2.3.3 sadb_address: prefixlen, proto; ports in the sockaddr). */
export function selectorFromExtensions(ext: PfKeyExtensions): SpdResult<PolicySelector> {
  const src = ext.addressSrc;
  const dst = ext.addressDst;
  if (!src || !dst) return fail(Errno.EINVAL, 'ADDRESS_SRC and ADDRESS_DST are required');
  if (src.addr.family !== dst.addr.family) return fail(Errno.EINVAL, 'ADDRESS_SRC and ADDRESS_DST differ in address family');
  if (src.proto !== dst.proto) return fail(Errno.EINVAL, `upper-layer protocol differs: ${src.proto} vs ${dst.proto}`);
  const family = src.addr.family;
  if (family !== 2 && family !== 10) return fail(Errno.EINVAL, `address family ${String(family)} is not AF_INET or AF_INET6`);
  const max = family === 2 ? 32 : 128;
  const bytes = (a: SadbAddress, name: string): SpdResult<Buffer> => {
    if (a.prefixlen > max) return fail(Errno.EINVAL, `${name}: prefixlen ${a.prefixlen} exceeds ${max}`);
    const b = parseIp(a.addr.address);
    if (!b || b.length !== max / 8) return fail(Errno.EINVAL, `${name}: "${a.addr.address}" is not an address of family ${family}`);
    return { ok: true, value: maskAddress(b, a.prefixlen) };
  };
  const s = bytes(src, 'ADDRESS_SRC');
  if (!s.ok) return s;
  const d = bytes(dst, 'ADDRESS_DST');
  if (!d.ok) return d;
  return {
    ok: true,
    value: {
      family,
      src: s.value,
      dst: d.value,
      splen: src.prefixlen,
      dplen: dst.prefixlen,
      proto: src.proto === IPSEC_ULPROTO_ANY ? 0 : src.proto,
      sport: src.addr.port,
      dport: dst.addr.port,
    },
  };
}

function selectorMatches(s: PolicySelector, p: PacketSelector): boolean {
  if (s.proto !== 0 && s.proto !== p.proto) return false;
  if (s.sport !== 0 && s.sport !== p.sport) return false;
  if (s.dport !== 0 && s.dport !== p.dport) return false;
  return true;
}

const TEMPLATE_PROTOS: ReadonlySet<number> = new Set([IPPROTO.AH, IPPROTO.ESP, IPPROTO.COMP]);

export class Spd {
  private readonly clock: SpdClock;
  private readonly onExpire: (policy: SecurityPolicy) => void;
  private readonly byId = new Map<number, SecurityPolicy>();
  private readonly bySelector = new Map<string, SecurityPolicy>();
  /** Per sadb dir (1 in, 2 out, 3 fwd): shapes keyed "family/splen/dplen". */
  private readonly shapes = new Map<IpsecDir, Map<string, Shape>>();
  /** The same shapes as arrays, for the lookup loop. */
  private readonly shapeLists = new Map<IpsecDir, Shape[]>();
  /** reqid → number of templates using it (for gen_reqid's "unused" test). */
  private readonly reqidUse = new Map<number, number>();
  private idxGenerator = 0;
  private reqidGenerator = IPSEC_MANUAL_REQID_MAX;
  private pos = 0;

  constructor(opts: SpdOptions) {
    this.clock = opts.clock;
    this.onExpire = opts.onExpire ?? (() => undefined);
  }

  get size(): number {
    return this.byId.size;
  }

  private nowSec(): bigint {
    return BigInt(Math.floor(this.clock.now() / 1000));
  }

  /** Linux xfrm_gen_index(). */
  private genIndex(dir: IpsecDir): PolicyId {
    for (;;) {
      let idx = (this.idxGenerator | xfrmDir(dir)) >>> 0;
      this.idxGenerator = (this.idxGenerator + 8) >>> 0;
      if (idx === 0) idx = 8;
      if (!this.byId.has(idx)) return idx as PolicyId;
    }
  }

  /** Linux af_key gen_reqid(): automatic reqids for level unique start above IPSEC_MANUAL_REQID_MAX. */
  private genReqid(taken: ReadonlySet<number>): number {
    for (;;) {
      this.reqidGenerator = (this.reqidGenerator + 1) >>> 0;
      if (this.reqidGenerator === 0) this.reqidGenerator = IPSEC_MANUAL_REQID_MAX + 1;
      if (!this.reqidUse.has(this.reqidGenerator) && !taken.has(this.reqidGenerator)) return this.reqidGenerator;
    }
  }

  private parseTemplates(type: IpsecPolicyType, requests: readonly SadbXIpsecRequest[], family: 2 | 10): SpdResult<PolicyTemplate[]> {
    if (type !== IpsecPolicyType.IPSEC) return { ok: true, value: [] };
    const out: PolicyTemplate[] = [];
    for (const [i, rq] of requests.entries()) {
      const where = `ipsecrequest ${i + 1}`;
      if (!TEMPLATE_PROTOS.has(rq.proto)) return fail(Errno.EINVAL, `${where}: protocol ${rq.proto} is not AH, ESP or IPCOMP`);
      let mode = rq.mode;
      // Linux pfkey_mode_to_xfrm: IPSEC_MODE_ANY is transport.
      if (mode === IpsecMode.ANY) mode = IpsecMode.TRANSPORT;
      if (mode !== IpsecMode.TRANSPORT && mode !== IpsecMode.TUNNEL && mode !== IpsecMode.BEET)
        return fail(Errno.EINVAL, `${where}: mode ${String(rq.mode)} is not transport, tunnel or beet`);
      const level = rq.level;
      if (level !== IpsecLevel.DEFAULT && level !== IpsecLevel.USE && level !== IpsecLevel.REQUIRE && level !== IpsecLevel.UNIQUE)
        return fail(Errno.EINVAL, `${where}: level ${String(rq.level)} is not default, use, require or unique`);
      const t: PolicyTemplate = { proto: rq.proto, mode, level, reqid: 0, optional: level === IpsecLevel.USE };
      if (level === IpsecLevel.UNIQUE) {
        // Linux parse_ipsecrequest: a unique reqid above the manual range is replaced by an automatic one.
        t.reqid = rq.reqid > IPSEC_MANUAL_REQID_MAX || rq.reqid === 0 ? 0 : rq.reqid;
      }
      if (mode === IpsecMode.TUNNEL || mode === IpsecMode.BEET) {
        if (!rq.src || !rq.dst) return fail(Errno.EINVAL, `${where}: ${mode === IpsecMode.TUNNEL ? 'tunnel' : 'beet'} mode needs both tunnel endpoints`);
        if (rq.src.family !== rq.dst.family) return fail(Errno.EINVAL, `${where}: tunnel endpoints differ in address family`);
        t.src = { ...rq.src };
        t.dst = { ...rq.dst };
      } else if (rq.src && rq.dst && rq.src.family !== family) {
        return fail(Errno.EINVAL, `${where}: transport endpoints are not of the selector's family`);
      }
      out.push(t);
    }
    return { ok: true, value: out };
  }

  /**
   * SADB_X_SPDADD / SPDUPDATE / SPDSETIDX. ADD fails with EEXIST when a policy
   * with the same selector and direction exists; UPDATE replaces it (keeping
   * its id, as xfrm_policy_insert does) or adds.
   */
  add(req: SpdRequest, update: boolean): SpdResult<{ policy: SecurityPolicy; replaced?: SecurityPolicy }> {
    const pol = req.ext.policy;
    if (!pol) return fail(Errno.EINVAL, 'X_POLICY extension is required');
    if (pol.dir !== IpsecDir.INBOUND && pol.dir !== IpsecDir.OUTBOUND && pol.dir !== IpsecDir.FWD)
      return fail(Errno.EINVAL, `policy direction ${String(pol.dir)} is not in, out or fwd`);
    if (pol.type < IpsecPolicyType.DISCARD || pol.type > IpsecPolicyType.BYPASS)
      return fail(Errno.EINVAL, `policy type ${String(pol.type)} is not discard, none, ipsec, entrust or bypass`);
    const sel = selectorFromExtensions(req.ext);
    if (!sel.ok) return sel;
    const templates = this.parseTemplates(pol.type, pol.requests, sel.value.family);
    if (!templates.ok) return templates;
    const identity = selectorIdentity(pol.dir, sel.value);
    const existing = this.bySelector.get(identity);
    if (existing && !update) return fail(Errno.EEXIST, `a policy for this selector and direction exists (spid=${existing.id})`);

    // Nothing can fail from here on.
    const taken = new Set<number>();
    for (const t of templates.value) {
      if (t.level === IpsecLevel.UNIQUE && t.reqid === 0) t.reqid = this.genReqid(taken);
      taken.add(t.reqid);
    }
    if (existing) this.unlink(existing);
    const id = existing ? existing.id : this.genIndex(pol.dir);
    const requests: SadbXIpsecRequest[] = pol.type === IpsecPolicyType.IPSEC
      ? pol.requests.map((rq, i) => ({ ...rq, reqid: templates.value[i].reqid, ...(rq.src ? { src: { ...rq.src } } : {}), ...(rq.dst ? { dst: { ...rq.dst } } : {}) }))
      : [];
    const policy: SecurityPolicy = {
      id,
      dir: pol.dir,
      type: pol.type,
      priority: pol.priority,
      selector: sel.value,
      templates: templates.value,
      ext: {
        addressSrc: structuredCloneAddress(req.ext.addressSrc!),
        addressDst: structuredCloneAddress(req.ext.addressDst!),
        policy: { type: pol.type, dir: pol.dir, id, priority: pol.priority, requests },
        ...(req.ext.lifetimeHard ? { lifetimeHard: { ...req.ext.lifetimeHard } } : {}),
        ...(req.ext.lifetimeSoft ? { lifetimeSoft: { ...req.ext.lifetimeSoft } } : {}),
        ...(req.ext.secCtx ? { secCtx: { ...req.ext.secCtx, ctx: Buffer.from(req.ext.secCtx.ctx) } } : {}),
      },
      created: this.nowSec(),
      lastused: 0n,
      seq: req.seq,
      pid: req.pid,
      pos: this.pos++,
      timers: [],
    };
    this.link(policy, identity);
    this.armTimers(policy);
    return { ok: true, value: existing ? { policy, replaced: existing } : { policy } };
  }

  /** SADB_X_SPDDELETE: by selector and direction (ENOENT if none). */
  deleteBySelector(req: SpdRequest): SpdResult<SecurityPolicy> {
    const pol = req.ext.policy;
    if (!pol) return fail(Errno.EINVAL, 'X_POLICY extension is required');
    if (pol.dir !== IpsecDir.INBOUND && pol.dir !== IpsecDir.OUTBOUND && pol.dir !== IpsecDir.FWD)
      return fail(Errno.EINVAL, `policy direction ${String(pol.dir)} is not in, out or fwd`);
    const sel = selectorFromExtensions(req.ext);
    if (!sel.ok) return sel;
    const found = this.bySelector.get(selectorIdentity(pol.dir, sel.value));
    if (!found) return fail(Errno.ENOENT, 'no policy for this selector and direction');
    this.unlink(found);
    return { ok: true, value: found };
  }

  /** The policy with this selector and direction, unchanged (SADB_X_MIGRATE's xfrm_migrate_policy_find); ENOENT if none. */
  findBySelector(ext: PfKeyExtensions, dir: IpsecDir): SpdResult<SecurityPolicy> {
    if (dir !== IpsecDir.INBOUND && dir !== IpsecDir.OUTBOUND && dir !== IpsecDir.FWD)
      return fail(Errno.EINVAL, `policy direction ${String(dir)} is not in, out or fwd`);
    const sel = selectorFromExtensions(ext);
    if (!sel.ok) return sel;
    const found = this.bySelector.get(selectorIdentity(dir, sel.value));
    if (!found) return fail(Errno.ENOENT, 'no policy for this selector and direction');
    return { ok: true, value: found };
  }

  /**
   * SADB_X_MIGRATE (Linux xfrm_policy_migrate): give the tunnel/BEET template
   * at `index` new endpoints, in the template and in the X_POLICY request the
   * dumps show. The policy keeps its id, selector, reqids and place. The
   * caller validated the move (the template exists and is tunnel or BEET).
   */
  moveTemplate(policy: SecurityPolicy, index: number, src: SockAddr, dst: SockAddr): void {
    const t = policy.templates[index];
    t.src = { ...src };
    t.dst = { ...dst };
    const rq = policy.ext.policy?.requests[index];
    if (rq) {
      rq.src = { ...src };
      rq.dst = { ...dst };
    }
  }

  /** SADB_X_SPDGET / SPDDELETE2 key: X_POLICY id; its low 3 bits must name in/out/fwd (Linux xfrm_policy_id2dir). */
  private byIdChecked(req: SpdRequest): SpdResult<SecurityPolicy> {
    const pol = req.ext.policy;
    if (!pol) return fail(Errno.EINVAL, 'X_POLICY extension is required');
    if ((pol.id & 7) >= 3) return fail(Errno.EINVAL, `policy id ${pol.id} names no in/out/fwd direction`);
    const found = this.byId.get(pol.id);
    if (!found) return fail(Errno.ENOENT, `no policy with id ${pol.id}`);
    return { ok: true, value: found };
  }

  get(req: SpdRequest): SpdResult<SecurityPolicy> {
    return this.byIdChecked(req);
  }

  deleteById(req: SpdRequest): SpdResult<SecurityPolicy> {
    const found = this.byIdChecked(req);
    if (found.ok) this.unlink(found.value);
    return found;
  }

  getById(id: number): SecurityPolicy | undefined {
    return this.byId.get(id);
  }

  /** Every policy in insertion order (SADB_X_SPDDUMP order). */
  list(): SecurityPolicy[] {
    return [...this.byId.values()].sort((a, b) => a.pos - b.pos);
  }

  flush(): SecurityPolicy[] {
    const all = this.list();
    for (const p of all) this.unlink(p);
    return all;
  }

  /**
   * The policy that applies to a packet in a direction: the matching policy
   * with the lowest priority value, earliest inserted on ties. ENTRUST
   * policies defer to the next match ("consult the system policy"). Marks the
   * winner used (lastused) unless `touch` is false.
   */
  lookup(pkt: PacketSelector, dir: IpsecDir, touch = true): SecurityPolicy | undefined {
    const shapes = this.shapeLists.get(dir);
    if (!shapes) return undefined;
    const family = pkt.dst.length === 4 ? 2 : 10;
    let best: SecurityPolicy | undefined;
    for (let i = 0; i < shapes.length; i++) {
      const shape = shapes[i];
      if (shape.family !== family) continue;
      const inner = shape.buckets.get(addrKey(pkt.dst, shape.dplen));
      if (!inner) continue;
      const list = inner.get(addrKey(pkt.src, shape.splen));
      if (!list) continue;
      for (const p of list) {
        if (best && !before(p, best)) break;
        if (p.type === IpsecPolicyType.ENTRUST) continue;
        if (selectorMatches(p.selector, pkt)) {
          best = p;
          break;
        }
      }
    }
    if (best && touch) best.lastused = this.nowSec();
    return best;
  }

  // ---- lifetimes (KAME: hard addtime since creation, hard usetime since last use) ----

  private armTimers(p: SecurityPolicy): void {
    const hard = p.ext.lifetimeHard;
    if (!hard) return;
    if (hard.addtime > 0n) p.timers.push(this.clock.at(Number(p.created + hard.addtime) * 1000, () => this.expire(p)));
    if (hard.usetime > 0n) this.armIdle(p, hard);
  }

  private armIdle(p: SecurityPolicy, hard: SadbLifetime): void {
    const from = p.lastused !== 0n ? p.lastused : p.created;
    p.timers.push(
      this.clock.at(Number(from + hard.usetime) * 1000, () => {
        const last = p.lastused !== 0n ? p.lastused : p.created;
        if (last + hard.usetime > this.nowSec()) this.armIdle(p, hard);
        else this.expire(p);
      }),
    );
  }

  private expire(p: SecurityPolicy): void {
    if (this.byId.get(p.id) !== p) return;
    this.unlink(p);
    this.onExpire(p);
  }

  // ---- index --------------------------------------------------------------------

  private link(p: SecurityPolicy, identity: string): void {
    for (const t of p.templates) if (t.reqid !== 0) this.reqidUse.set(t.reqid, (this.reqidUse.get(t.reqid) ?? 0) + 1);
    this.byId.set(p.id, p);
    this.bySelector.set(identity, p);
    let shapes = this.shapes.get(p.dir);
    if (!shapes) this.shapes.set(p.dir, (shapes = new Map()));
    const s = p.selector;
    const shapeKey = `${s.family}/${s.splen}/${s.dplen}`;
    let shape = shapes.get(shapeKey);
    if (!shape) {
      shapes.set(shapeKey, (shape = { family: s.family, splen: s.splen, dplen: s.dplen, buckets: new Map(), count: 0 }));
      let list = this.shapeLists.get(p.dir);
      if (!list) this.shapeLists.set(p.dir, (list = []));
      list.push(shape);
    }
    const dk = addrKey(s.dst, s.dplen);
    let inner = shape.buckets.get(dk);
    if (!inner) shape.buckets.set(dk, (inner = new Map()));
    const sk = addrKey(s.src, s.splen);
    let list = inner.get(sk);
    if (!list) inner.set(sk, (list = []));
    let i = list.length;
    while (i > 0 && before(p, list[i - 1])) i--;
    list.splice(i, 0, p);
    shape.count++;
  }

  private unlink(p: SecurityPolicy): void {
    for (const cancel of p.timers) cancel();
    p.timers = [];
    for (const t of p.templates) {
      if (t.reqid === 0) continue;
      const n = (this.reqidUse.get(t.reqid) ?? 1) - 1;
      if (n === 0) this.reqidUse.delete(t.reqid);
      else this.reqidUse.set(t.reqid, n);
    }
    this.byId.delete(p.id);
    this.bySelector.delete(selectorIdentity(p.dir, p.selector));
    const shapes = this.shapes.get(p.dir);
    const s = p.selector;
    const shapeKey = `${s.family}/${s.splen}/${s.dplen}`;
    const shape = shapes?.get(shapeKey);
    if (!shapes || !shape) return;
    const dk = addrKey(s.dst, s.dplen);
    const inner = shape.buckets.get(dk);
    const sk = addrKey(s.src, s.splen);
    const list = inner?.get(sk);
    if (!inner || !list) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) inner.delete(sk);
    if (inner.size === 0) shape.buckets.delete(dk);
    shape.count--;
    if (shape.count === 0) {
      shapes.delete(shapeKey);
      const list = this.shapeLists.get(p.dir);
      if (list) list.splice(list.indexOf(shape), 1);
    }
  }
}

function structuredCloneAddress(a: SadbAddress): SadbAddress {
  return { proto: a.proto, prefixlen: a.prefixlen, addr: { ...a.addr } };
}
