/**
 * The daemon's side of Mobile IPv6 movement: a SADB_X_MIGRATE broadcast
 * (draft-sugimoto-mip6-pfkey-migrate, KMADDRESS from
 * draft-ebalard-mext-pfkey-enhanced-migrate) after the kernel moved its
 * tunnel SAs. Follows racoon's pk_recvmigrate (racoon-compat.md §6):
 *
 *   1. SRC, DST and an IPSEC X_POLICY with (old, new) request pairs must be
 *      present, else "invalid MIGRATE message".
 *   2. The policy is found in the SP cache by selector and direction, else
 *      "Passed policy does not exist"; the pairs must match its requests in
 *      count, protocol, mode and reqid (reqids compared as reqids — racoon
 *      compared the reqid with IPSEC_LEVEL_UNIQUE) and tunnel pairs must name
 *      its current endpoints.
 *   3. Old IKE addresses = the policy's tunnel endpoints (the SP hints).
 *   4. OUTBOUND message only (the kernel sends one per direction): each IKE SA
 *      between the old addresses is
 *        - moved to the new addresses, keeping its ports, when the K-bit is on
 *          (RFC 6275 §6.1.7: the key management connection survives);
 *        - abandoned when it is off: nothing more is sent to the old address,
 *          its CHILD_SAs (already migrated by the kernel) keep carrying
 *          traffic, and their next EXPIRE starts a new negotiation from the
 *          new address (renegotiationFor);
 *        - a negotiation still in progress is restarted towards the new
 *          addresses if we initiated it, dropped if we responded.
 *   5. The SP hints (the cached policy's tunnel endpoints) get the new
 *      addresses, so later ACQUIREs and establish-sa go to the new path.
 *
 * K-bit: the KMADDRESS extension carries the addresses IKE should use, and
 * the Mobile IPv6 daemon sends it when Key Management Mobility Capability was
 * negotiated; so by default (`kbit: 'kmaddress'`) KMADDRESS present = K set,
 * absent = K clear (the new IKE addresses are then the first tunnel pair's
 * new endpoints). 'on' / 'off' force it.
 */
import { IpsecDir, IpsecMode, IpsecPolicyType, SadbMsgType, SadbSaType } from '../pfkey/constants';
import type { PfKeyMessage, SadbAddress, SadbXIpsecRequest } from '../pfkey/types';
import type { Endpoint } from '../ike/common/natt';
import { parseIp } from '../util/ip';
import { SpdCache, type CachedPolicy } from './spd-cache';
import type { DaemonLogger } from './log';
import type { DaemonContext } from './racoon';

export type KbitMode = 'kmaddress' | 'on' | 'off';

export interface MigratePair {
  old: SadbXIpsecRequest;
  new: SadbXIpsecRequest;
}

export interface ParsedMigrate {
  dir: IpsecDir;
  src: SadbAddress;
  dst: SadbAddress;
  pairs: MigratePair[];
  kmaddress?: { local: string; remote: string };
}

/** Step 1: the shape racoon requires (SRC, DST, IPSEC policy with pairs). */
export function parseMigrate(msg: PfKeyMessage): { ok: true; value: ParsedMigrate } | { ok: false; reason: string } {
  const { addressSrc, addressDst, policy, kmaddress } = msg.ext;
  if (msg.type !== SadbMsgType.X_MIGRATE || msg.errno !== 0) return { ok: false, reason: 'not a MIGRATE broadcast' };
  if (!addressSrc || !addressDst || !policy) return { ok: false, reason: 'invalid MIGRATE message: SRC, DST and X_POLICY are required' };
  if (policy.type !== IpsecPolicyType.IPSEC) return { ok: false, reason: `invalid MIGRATE message: policy type ${policy.type} is not ipsec` };
  if (policy.requests.length === 0 || policy.requests.length % 2 !== 0)
    return { ok: false, reason: `invalid MIGRATE message: ${policy.requests.length} requests are not (old, new) pairs` };
  if (kmaddress && kmaddress.local.family !== kmaddress.remote.family)
    return { ok: false, reason: 'invalid MIGRATE message: KMADDRESS local and remote differ in address family' };
  const pairs: MigratePair[] = [];
  for (let i = 0; i < policy.requests.length; i += 2) pairs.push({ old: policy.requests[i], new: policy.requests[i + 1] });
  return {
    ok: true,
    value: {
      dir: policy.dir,
      src: addressSrc,
      dst: addressDst,
      pairs,
      ...(kmaddress ? { kmaddress: { local: kmaddress.local.address, remote: kmaddress.remote.address } } : {}),
    },
  };
}

/** One IKE SA / phase 1 as the handler sees it; `kbit` is its remote's racoon.conf `mip6_kbit`. */
export interface MigrateIkeSa {
  serial: number;
  role: 'initiator' | 'responder';
  state: string;
  local: Endpoint;
  remote: Endpoint;
  kbit?: 'on' | 'off';
}

/** What the handler needs of an IKE engine (Ikev2Engine and the IKEv1 engine offer it). */
export interface MigrateIkeView {
  ikeSas(): ReadonlyArray<MigrateIkeSa>;
  /** K set: move (keeping ports); an IKEv2 SA with MOBIKE also sends UPDATE_SA_ADDRESSES. */
  moveIkeSa(serial: number, local: Endpoint, remote: Endpoint): boolean;
  abandonIkeSa(serial: number, reason: string): ReadonlyArray<{ name: string; inboundSpi: number; outboundSpi: number }> | null;
  /** Drop an IKE SA that is not established (no message goes to the old address). */
  dropIkeSa(serial: number): void;
}

export type MigrateOutcome =
  | { kind: 'invalid' | 'no-policy' | 'mismatch'; reason: string }
  | {
      kind: 'migrated';
      spid: number;
      dir: IpsecDir;
      kbit: boolean;
      /** IKE SAs moved (K set), abandoned (K clear), dropped (negotiating) */
      moved: number[];
      abandoned: number[];
      dropped: number[];
      /** policies to negotiate again now (we were initiating when the MIGRATE came) */
      restart: number[];
    };

function same(a: string, b: string): boolean {
  if (a === b) return true; // the common case, without parsing (followPeerMoves runs over every IKE SA)
  const x = parseIp(a);
  const y = parseIp(b);
  return !!x && !!y && x.equals(y);
}

function sameSelector(p: CachedPolicy, m: ParsedMigrate): boolean {
  const eq = (a: SadbAddress, b: SadbAddress) => same(a.addr.address, b.addr.address) && a.prefixlen === b.prefixlen && a.addr.port === b.addr.port;
  const proto = (x: number) => (x === 0 ? 255 : x);
  return p.dir === m.dir && eq(p.src, m.src) && eq(p.dst, m.dst) && proto(p.src.proto) === proto(m.src.proto);
}

const normalMode = (m: IpsecMode) => (m === IpsecMode.ANY ? IpsecMode.TRANSPORT : m);

export class MigrateHandler {
  /** CHILD_SA SPI → policy id, for CHILD_SAs of IKE SAs abandoned with the K-bit clear. */
  private readonly stale = new Map<number, number>();

  /** Established IKE SAs' addresses as last seen (followPeerMoves). */
  private readonly seen = new Map<number, { local: string; remote: string }>();

  /**
   * kbit: the default K-bit reading; a remote's `mip6_kbit` overrides it per IKE SA.
   * selfPid: MIGRATEs we sent ourselves (followPeerMoves) only update the SP hints.
   */
  constructor(private readonly opts: { kbit: KbitMode; log: DaemonLogger; selfPid?: number }) {}

  handle(msg: PfKeyMessage, spd: SpdCache, ike: MigrateIkeView): MigrateOutcome {
    const log = this.opts.log;
    const parsed = parseMigrate(msg);
    if (!parsed.ok) {
      log.error({ seq: msg.seq }, parsed.reason);
      return { kind: 'invalid', reason: parsed.reason };
    }
    const m = parsed.value;
    const sp = spd.all().find((p) => sameSelector(p, m));
    if (!sp) {
      log.error({ dir: IpsecDir[m.dir], src: m.src.addr.address, dst: m.dst.addr.address }, 'Passed policy does not exist');
      return { kind: 'no-policy', reason: 'Passed policy does not exist' };
    }
    const bad = this.checkPairs(sp, m.pairs);
    if (bad) {
      log.error({ spid: sp.id }, `MIGRATE does not match the policy: ${bad}`);
      return { kind: 'mismatch', reason: bad };
    }

    const kbitOf = (mode: KbitMode) => mode === 'on' || (mode === 'kmaddress' && m.kmaddress !== undefined);
    const kbit = kbitOf(this.opts.kbit);
    const own = this.opts.selfPid !== undefined && msg.pid === this.opts.selfPid;
    const old = SpdCache.peerOf(sp);
    const next = this.newIkeAddresses(m);
    const outcome = { kind: 'migrated' as const, spid: sp.id, dir: m.dir, kbit, moved: [] as number[], abandoned: [] as number[], dropped: [] as number[], restart: [] as number[] };

    // Step 4: phase 1 follows on the OUTBOUND message only.
    if (m.dir === IpsecDir.OUTBOUND && next && !own) {
      for (const s of ike.ikeSas()) {
        if (s.state === 'dead' || !same(s.local.address, old.local) || !same(s.remote.address, old.remote)) continue;
        if (same(s.local.address, next.local) && same(s.remote.address, next.remote)) continue;
        if (s.state !== 'established') {
          ike.dropIkeSa(s.serial);
          outcome.dropped.push(s.serial);
          if (s.role === 'initiator') outcome.restart.push(sp.id);
          log.info({ ikeSa: s.serial, role: s.role }, `MIGRATE: IKE_SA negotiation with ${old.remote} ${s.role === 'initiator' ? 'restarted towards' : 'dropped, waiting for the peer at'} ${next.remote}`);
        } else if (kbitOf(s.kbit ?? this.opts.kbit)) {
          if (ike.moveIkeSa(s.serial, { address: next.local, port: s.local.port }, { address: next.remote, port: s.remote.port })) outcome.moved.push(s.serial);
        } else {
          const children = ike.abandonIkeSa(s.serial, `MIGRATE with the K-bit clear: ${old.local}-${old.remote} is stale, renegotiating from ${next.local} on the next need`);
          if (!children) continue;
          outcome.abandoned.push(s.serial);
          for (const c of children) {
            const byName = /^spid-(\d+)$/.exec(c.name);
            const spid = byName ? Number(byName[1]) : sp.id;
            this.stale.set(c.inboundSpi, spid);
            this.stale.set(c.outboundSpi, spid);
          }
        }
      }
    }

    // Step 5: the SP hints. A new request list: the cached one may be shared with the other keying engine's cache.
    sp.policy = {
      ...sp.policy,
      requests: sp.policy.requests.map((rq, i) => {
        const nw = m.pairs[i]?.new;
        return (rq.mode === IpsecMode.TUNNEL || rq.mode === IpsecMode.BEET) && nw?.src && nw.dst ? { ...rq, src: { ...nw.src }, dst: { ...nw.dst } } : rq;
      }),
    };
    log.info(
      { spid: sp.id, dir: IpsecDir[m.dir], kbit, from: `${old.local}-${old.remote}`, to: next ? `${next.local}-${next.remote}` : undefined, moved: outcome.moved, abandoned: outcome.abandoned, dropped: outcome.dropped },
      'MIGRATE applied',
    );
    return outcome;
  }

  /**
   * The IKE layer moved an established IKE SA by itself (the peer's MOBIKE
   * UPDATE_SA_ADDRESSES, RFC 4555 §3.5; a NAT-mapping change, RFC 7296
   * §2.23): the kernel's tunnel SAs and templates must follow, as a Mobile
   * IPv6 daemon would make them. Returns one SADB_X_MIGRATE per cached
   * policy whose tunnel endpoints are the old IKE addresses (out: local→remote;
   * in, fwd: remote→local), each with a KMADDRESS of the new (local, remote).
   * Call after every engine step; moves made by handle() must be absorbed
   * first with `absorb`.
   */
  followPeerMoves(sas: ReadonlyArray<MigrateIkeSa>, spd: SpdCache, header: { pid: number; seq: () => number }): PfKeyMessage[] {
    const out: PfKeyMessage[] = [];
    const live = new Set<number>();
    for (const s of sas) {
      if (s.state !== 'established') continue;
      live.add(s.serial);
      const before = this.seen.get(s.serial);
      this.seen.set(s.serial, { local: s.local.address, remote: s.remote.address });
      if (!before || (same(before.local, s.local.address) && same(before.remote, s.remote.address))) continue;
      const msgs = migrateMessagesFor(spd, before, { local: s.local.address, remote: s.remote.address }, header);
      this.opts.log.info(
        { ikeSa: s.serial, from: `${before.local}-${before.remote}`, to: `${s.local.address}-${s.remote.address}`, policies: msgs.length },
        'IKE SA moved by the peer: migrating its tunnel SAs and policies',
      );
      out.push(...msgs);
    }
    for (const k of [...this.seen.keys()]) if (!live.has(k)) this.seen.delete(k);
    return out;
  }

  /** Record the IKE SAs' current addresses without reacting (after handle() moved them itself). */
  absorb(sas: ReadonlyArray<MigrateIkeSa>): void {
    for (const s of sas) if (s.state === 'established') this.seen.set(s.serial, { local: s.local.address, remote: s.remote.address });
  }

  /** A soft or hard EXPIRE of a CHILD_SA whose IKE SA was abandoned: the policy to negotiate again, once. */
  renegotiationFor(msg: PfKeyMessage): number | null {
    if (msg.type !== SadbMsgType.EXPIRE) return null;
    const spi = msg.ext.sa?.spi;
    const spid = spi === undefined ? undefined : this.stale.get(spi);
    if (spid === undefined) return null;
    for (const [k, v] of [...this.stale]) if (v === spid) this.stale.delete(k);
    return spid;
  }

  /** Step 2's pair checks against the cached policy (racoon migrate_sp_isr_list, with the reqid compared correctly). */
  private checkPairs(sp: CachedPolicy, pairs: readonly MigratePair[]): string | null {
    if (pairs.length !== sp.policy.requests.length) return `${pairs.length} request pairs for ${sp.policy.requests.length} requests`;
    for (const [i, { old, new: nw }] of pairs.entries()) {
      const rq = sp.policy.requests[i];
      if (old.proto !== rq.proto || nw.proto !== rq.proto) return `pair ${i + 1}: protocol ${old.proto} is not ${rq.proto}`;
      if (normalMode(old.mode) !== normalMode(rq.mode) || normalMode(nw.mode) !== normalMode(rq.mode)) return `pair ${i + 1}: mode ${old.mode} is not ${rq.mode}`;
      if (rq.reqid !== 0 && old.reqid !== 0 && old.reqid !== rq.reqid) return `pair ${i + 1}: reqid ${old.reqid} is not ${rq.reqid}`;
      if (rq.mode === IpsecMode.TUNNEL && rq.src && rq.dst) {
        if (!old.src || !old.dst || !same(old.src.address, rq.src.address) || !same(old.dst.address, rq.dst.address))
          return `pair ${i + 1}: old endpoints are not ${rq.src.address}-${rq.dst.address}`;
        if (!nw.src || !nw.dst) return `pair ${i + 1}: no new endpoints`;
      }
    }
    return null;
  }

  /** KMADDRESS (local first), else the first tunnel pair's new endpoints seen from this side of the policy. */
  private newIkeAddresses(m: ParsedMigrate): { local: string; remote: string } | null {
    if (m.kmaddress) return m.kmaddress;
    const t = m.pairs.find((p) => p.new.mode === IpsecMode.TUNNEL && p.new.src && p.new.dst);
    if (!t?.new.src || !t.new.dst) return null;
    return m.dir === IpsecDir.OUTBOUND ? { local: t.new.src.address, remote: t.new.dst.address } : { local: t.new.dst.address, remote: t.new.src.address };
  }
}

/**
 * SADB_X_MIGRATE messages (the Mobile IPv6 daemon's form, docs/migrate.md)
 * moving every cached policy whose tunnel template joins `old` to `next`.
 * Transport templates are paired with themselves (they are checked, not moved).
 */
export function migrateMessagesFor(spd: SpdCache, old: { local: string; remote: string }, next: { local: string; remote: string }, header: { pid: number; seq: () => number }): PfKeyMessage[] {
  const out: PfKeyMessage[] = [];
  const family = (a: string) => (a.includes(':') ? 10 : 2);
  for (const p of spd.all()) {
    if (p.policy.type !== IpsecPolicyType.IPSEC || p.dir === IpsecDir.ANY || p.dir === IpsecDir.INVALID) continue;
    const outbound = p.dir === IpsecDir.OUTBOUND;
    const [os, od, ns, nd] = outbound ? [old.local, old.remote, next.local, next.remote] : [old.remote, old.local, next.remote, next.local];
    let moves = false;
    const requests: SadbXIpsecRequest[] = [];
    for (const rq of p.policy.requests) {
      const tunnel = (rq.mode === IpsecMode.TUNNEL || rq.mode === IpsecMode.BEET) && rq.src && rq.dst;
      if (tunnel && rq.src && rq.dst && same(rq.src.address, os) && same(rq.dst.address, od)) {
        moves = true;
        requests.push({ ...rq }, { ...rq, src: { family: family(ns), address: ns, port: 0 }, dst: { family: family(nd), address: nd, port: 0 } });
      } else requests.push({ ...rq }, { ...rq });
    }
    if (!moves) continue;
    out.push({
      type: SadbMsgType.X_MIGRATE,
      satype: SadbSaType.UNSPEC,
      errno: 0,
      seq: header.seq(),
      pid: header.pid,
      ext: {
        addressSrc: p.src,
        addressDst: p.dst,
        policy: { type: IpsecPolicyType.IPSEC, dir: p.dir, id: 0, priority: p.policy.priority, requests },
        kmaddress: { local: { family: family(next.local), address: next.local, port: 0 }, remote: { family: family(next.remote), address: next.remote, port: 0 } },
      },
    });
  }
  return out;
}

/** The local IKE address a MIGRATE moves us to: KMADDRESS local, else the first tunnel pair's new endpoint on our side. */
export function migrateLocalAddress(msg: PfKeyMessage): string | null {
  const p = parseMigrate(msg);
  if (!p.ok) return null;
  if (p.value.kmaddress) return p.value.kmaddress.local;
  const t = p.value.pairs.find((x) => x.new.mode === IpsecMode.TUNNEL && x.new.src && x.new.dst);
  if (!t?.new.src || !t.new.dst) return null;
  return p.value.dir === IpsecDir.OUTBOUND ? t.new.src.address : t.new.dst.address;
}

/**
 * IKE (and NAT-T) sockets on a new local address (true when some were bound), with the ports of the
 * existing ones, unless a socket (or a wildcard one) already covers it. A
 * failure (the address is not configured) is logged; the move goes on.
 */
export function ensureIkeSockets(ctx: Pick<DaemonContext, 'sockets' | 'log'>, address: string | null): Promise<boolean> {
  if (address === null) return Promise.resolve(false);
  // Both keying engines hear the MIGRATE: one bind per address, the other waits for it.
  let pending = binding.get(ctx.sockets);
  if (!pending) binding.set(ctx.sockets, (pending = new Map()));
  const inFlight = pending.get(address);
  if (inFlight) return inFlight;
  const p = bindIkeSockets(ctx, address).finally(() => pending.delete(address));
  pending.set(address, p);
  return p;
}

const binding = new WeakMap<object, Map<string, Promise<boolean>>>();

async function bindIkeSockets(ctx: Pick<DaemonContext, 'sockets' | 'log'>, address: string): Promise<boolean> {
  const family = address.includes(':') ? 6 : 4;
  const locals = ctx.sockets.locals().filter((l) => l.family === family);
  const isakmp = ctx.sockets.locals('isakmp').filter((l) => l.family === family);
  const covered = (port: number) => locals.some((l) => l.port === port && (same(l.address, address) || l.address === '0.0.0.0' || l.address === '::'));
  const ports = new Map<number, boolean>();
  for (const l of locals) ports.set(l.port, !isakmp.some((i) => i.port === l.port && i.address === l.address));
  const specs = [...ports].filter(([port]) => !covered(port)).map(([port, natt]) => ({ address, port, natt }));
  if (specs.length === 0) return false;
  try {
    await ctx.sockets.listen(specs);
    for (const s of specs) ctx.log.info({ address, port: s.port }, `${address}[${s.port}] used for IKE (MIGRATE)`);
    return true;
  } catch (err) {
    ctx.log.error({ address, err: (err as Error).message }, 'cannot listen on the address a MIGRATE moved us to');
    return false;
  }
}

/** What a keying engine (IKEv1, IKEv2) hands to onMigrate. */
export interface MigrateGlue {
  ctx: Pick<DaemonContext, 'sockets' | 'log'>;
  handler: MigrateHandler;
  spd: SpdCache;
  view(): MigrateIkeView;
  /** negotiate a policy again (a negotiation we initiated was under way) */
  acquireById(spid: number): void;
  /** rebuild the peer configurations (a new local address has IKE sockets) */
  reconfigure(): void;
  /** carry out what the engine wants done */
  pump(): void;
}

/** A MIGRATE broadcast in a keying engine: sockets on the new local address, then racoon's pk_recvmigrate. */
export function onMigrate(g: MigrateGlue, msg: PfKeyMessage): Promise<void> {
  return ensureIkeSockets(g.ctx, migrateLocalAddress(msg)).then((bound) => {
    if (bound) g.reconfigure();
    const view = g.view();
    const out = g.handler.handle(msg, g.spd, view);
    g.handler.absorb(view.ikeSas());
    if (out.kind === 'migrated') for (const spid of out.restart) g.acquireById(spid);
    g.pump();
  });
}
