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
import { IpsecDir, IpsecMode, IpsecPolicyType, SadbMsgType } from '../pfkey/constants';
import type { PfKeyMessage, SadbAddress, SadbXIpsecRequest } from '../pfkey/types';
import type { Endpoint } from '../ike/common/natt';
import { parseIp } from '../util/ip';
import { SpdCache, type CachedPolicy } from './spd-cache';
import type { DaemonLogger } from './log';

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

/** What the handler needs of an IKE engine (Ikev2Engine offers it). */
export interface MigrateIkeView {
  ikeSas(): ReadonlyArray<{ serial: number; role: 'initiator' | 'responder'; state: string; local: Endpoint; remote: Endpoint }>;
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

  constructor(private readonly opts: { kbit: KbitMode; log: DaemonLogger }) {}

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

    const kbit = this.opts.kbit === 'on' || (this.opts.kbit === 'kmaddress' && m.kmaddress !== undefined);
    const old = SpdCache.peerOf(sp);
    const next = this.newIkeAddresses(m);
    const outcome = { kind: 'migrated' as const, spid: sp.id, dir: m.dir, kbit, moved: [] as number[], abandoned: [] as number[], dropped: [] as number[], restart: [] as number[] };

    // Step 4: phase 1 follows on the OUTBOUND message only.
    if (m.dir === IpsecDir.OUTBOUND && next) {
      for (const s of ike.ikeSas()) {
        if (s.state === 'dead' || !same(s.local.address, old.local) || !same(s.remote.address, old.remote)) continue;
        if (same(s.local.address, next.local) && same(s.remote.address, next.remote)) continue;
        if (s.state !== 'established') {
          ike.dropIkeSa(s.serial);
          outcome.dropped.push(s.serial);
          if (s.role === 'initiator') outcome.restart.push(sp.id);
          log.info({ ikeSa: s.serial, role: s.role }, `MIGRATE: IKE_SA negotiation with ${old.remote} ${s.role === 'initiator' ? 'restarted towards' : 'dropped, waiting for the peer at'} ${next.remote}`);
        } else if (kbit) {
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

    // Step 5: the SP hints.
    m.pairs.forEach((pair, i) => {
      const rq = sp.policy.requests[i];
      if ((rq.mode === IpsecMode.TUNNEL || rq.mode === IpsecMode.BEET) && pair.new.src && pair.new.dst) {
        rq.src = { ...pair.new.src };
        rq.dst = { ...pair.new.dst };
      }
    });
    log.info(
      { spid: sp.id, dir: IpsecDir[m.dir], kbit, from: `${old.local}-${old.remote}`, to: next ? `${next.local}-${next.remote}` : undefined, moved: outcome.moved, abandoned: outcome.abandoned, dropped: outcome.dropped },
      'MIGRATE applied',
    );
    return outcome;
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
