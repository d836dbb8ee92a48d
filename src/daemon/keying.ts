/**
 * What the IKEv1 and IKEv2 engines share in the racoon process: the sans-I/O
 * loop (feed datagrams, PF_KEY messages and timer ticks; carry out the
 * actions), the SP cache, the PSK look-up and the PHASE1_UP/DOWN events.
 */
import type { RacoonConfig, RemoteConf } from '../config/racoon';
import { getPsk, getPskByAddr } from '../config/psk';
import { SadbMsgType } from '../pfkey/constants';
import type { PfKeyMessage, SadbAddress, SockAddr } from '../pfkey/types';
import { formatIp, maskAddress, parseIp } from '../util/ip';
import { EvtType } from './admin/wire';
import type { Datagram } from './ike-sockets';
import type { DaemonContext, KeyingEngine } from './racoon';
import { SpdCache, type CachedPolicy } from './spd-cache';

/** How long after a burst of datagrams the events and the timer are brought up to date. */
const HOUSEKEEPING_MS = 20;
/** The longest the daemon sleeps before asking the engine for its next deadline again. */
const TIMER_SLICE_MS = 1000;

export interface EngineEndpoint {
  address: string;
  port: number;
}

export interface LogEvent {
  level: string;
  msg: string;
  [field: string]: string | number | boolean | undefined;
}

export type EngineAction =
  | { kind: 'datagram'; from: EngineEndpoint; to: EngineEndpoint; data: Buffer }
  | { kind: 'pfkey'; msg: PfKeyMessage }
  | { kind: 'log'; event: LogEvent };

/** The sans-I/O surface both engines offer. */
export interface SansIoEngine {
  pollActions(): EngineAction[];
  getTimer(): number | null;
  handleTimer(now: number): void;
  receivePfKey(msg: PfKeyMessage, now: number): void;
  receiveDatagram(data: Buffer, from: EngineEndpoint, to: EngineEndpoint, now: number): void;
}

/** An established phase 1 / IKE SA as the events need it. */
export interface Phase1View {
  serial: number;
  established: boolean;
  local: EngineEndpoint;
  remote: EngineEndpoint;
}

export function sockAddr(e: EngineEndpoint): SockAddr {
  return { family: e.address.includes(':') ? 10 : 2, address: e.address, port: e.port };
}

/** An 8-byte IKE SPI / ISAKMP cookie in network order, as ph1dump carries it. */
export function spiBytes(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

/** racoon's choice of peer for an SP's IKE endpoints: exact local+remote match first, else by remote address. */
export function peerForEndpoints<P extends { local: { address: string }; remote: { address: string } }>(peers: readonly P[], ends: { local: string; remote: string }): P | undefined {
  return peers.find((p) => p.remote.address === ends.remote && p.local.address === ends.local) ?? peers.find((p) => p.remote.address === ends.remote);
}

/** A selector prefix as an address range. */
export function prefixRange(a: SadbAddress): { low: string; high: string } {
  const bytes = parseIp(a.addr.address) ?? Buffer.alloc(4);
  const low = maskAddress(bytes, a.prefixlen);
  const high = Buffer.from(low);
  for (let bit = a.prefixlen; bit < high.length * 8; bit++) high[bit >> 3] |= 0x80 >> (bit & 7);
  return { low: formatIp(low), high: formatIp(high) };
}

export abstract class SansIoKeying implements KeyingEngine {
  abstract readonly name: string;
  protected abstract readonly engine: SansIoEngine;
  protected readonly spd = new SpdCache();
  private timer: NodeJS.Timeout | null = null;
  private housekeeping: NodeJS.Timeout | null = null;
  /** This engine's row in the daemon's schedule (show-schedule). */
  private scheduled: number | null = null;
  private up = new Map<number, { local: SockAddr; remote: SockAddr }>();
  /** A DPD failure was reported in the current pump (phase1_dead / EVT_PHASE1_DPD_TIMEOUT). */
  private dpdDead = false;
  /** true when the engine reports its dead peers (pollDeadPeerEnds) instead of racoon's log text. */
  protected readonly reportsDeadPeers: boolean = false;

  /** The peers the engine declared dead since the last call (RFC 7296 §2.4 liveness); engines that track them override this. */
  protected pollDeadPeerEnds(): { local: EngineEndpoint; remote: EngineEndpoint }[] {
    return [];
  }
  /** When the daemon first saw each phase 1 / IKE SA (ph1dump `created`), by engine serial. */
  private readonly created = new Map<number, number>();

  constructor(protected readonly ctx: DaemonContext) {
    this.spd.onChange(() => this.refreshPolicies());
  }

  /** Ask the kernel for its SPD once the subclass is ready (racoon's startup SPDDUMP). */
  protected requestSpdDump(): void {
    this.ctx.pfkey.send({ type: SadbMsgType.X_SPDDUMP, satype: 0, errno: 0, seq: 0, pid: this.ctx.pfkey.pid, ext: {} });
  }

  /** The first byte of the ISAKMP version field this engine speaks (0x10 IKEv1, 0x20 IKEv2). */
  protected abstract readonly versionByte: number;
  protected abstract refreshPolicies(): void;
  protected abstract acquire(sp: CachedPolicy, msg: PfKeyMessage): void;
  protected abstract phase1s(): Phase1View[];
  abstract reconfigure(config: RacoonConfig): void;
  abstract phase1Rows(): Buffer[];
  abstract shutdown(): Promise<void>;

  protected now(): number {
    return Date.now();
  }

  /** The PSK for a remote: by the peer's identifier in psk.txt, else by its address (racoon's order). */
  protected psk(config: RacoonConfig, r: RemoteConf, remoteAddress: string | null): Buffer | null {
    const path = config.path.preSharedKey;
    if (!path) return null;
    for (const id of r.peersIdentifiers) {
      if (id.value === null || id.type === 'address') continue;
      const hit = getPsk(path, Buffer.from(id.value, 'latin1'));
      if (hit.ok && hit.key) return hit.key;
      if (!hit.ok) for (const e of hit.errors) this.ctx.log.error({ peer: remoteAddress }, e);
    }
    if (remoteAddress === null) return null;
    const byAddr = getPskByAddr(path, remoteAddress);
    if (!byAddr.ok) for (const e of byAddr.errors) this.ctx.log.error({ peer: remoteAddress }, e);
    return byAddr.ok ? byAddr.key : null;
  }

  onPfKey(msg: PfKeyMessage): void {
    if (this.spd.observe(msg)) return;
    if (msg.type === SadbMsgType.ACQUIRE && msg.pid !== this.ctx.pfkey.pid) {
      const id = msg.ext.policy?.id;
      const sp = id !== undefined ? this.spd.get(id) : undefined;
      if (sp) this.acquire(sp, msg);
      else this.ctx.log.debug({ spid: id }, 'ACQUIRE for a policy not in the SP cache');
      return;
    }
    this.engine.receivePfKey(msg, this.now());
    this.pump();
  }

  onDatagram(d: Extract<Datagram, { kind: 'ike' }>): boolean {
    if (d.data.length < 28 || (d.data[17] & 0xf0) !== this.versionByte) return false;
    this.engine.receiveDatagram(d.raw, { address: d.remote.address, port: d.remote.port }, { address: d.local.address, port: d.local.port }, this.now());
    this.pump();
    return true;
  }

  /**
   * Carry out the engine's actions. The PHASE1_UP/DOWN bookkeeping and the
   * timer look at every IKE SA, so they do not run per datagram: they run once
   * per HOUSEKEEPING_MS after a burst (with ten thousand SAs, doing them per
   * datagram cost more than the handshakes themselves; docs/ikev2.md "Performance").
   */
  protected pump(): void {
    for (const a of this.engine.pollActions()) this.act(a);
    if (this.housekeeping) return;
    this.housekeeping = setTimeout(() => this.houseKeep(), HOUSEKEEPING_MS);
    this.housekeeping.unref();
  }

  private houseKeep(): void {
    if (this.housekeeping) clearTimeout(this.housekeeping);
    this.housekeeping = null;
    this.trackEvents();
    // An armed timer fires within TIMER_SLICE_MS and recomputes the next deadline then.
    if (!this.timer) this.arm();
  }

  private act(a: EngineAction): void {
    switch (a.kind) {
      case 'datagram': {
        const fam = a.from.address.includes(':') ? 6 : 4;
        try {
          this.ctx.sockets.sendRaw({ address: a.from.address, port: a.from.port, family: fam }, { address: a.to.address, port: a.to.port, family: fam }, a.data);
        } catch (err) {
          this.ctx.log.error({ peer: a.to.address, err: (err as Error).message }, 'failed to send IKE message');
        }
        return;
      }
      case 'pfkey':
        this.ctx.pfkey.send(a.msg);
        return;
      case 'log': {
        const { level, msg, ...fields } = a.event;
        // racoon's "DPD: remote (ISAKMP-SA ...) seems to be dead." — the phase 1 this pump removes died of DPD.
        // (Engines that report dead peers themselves, like IKEv2's pollDeadPeers, set reportsDeadPeers.)
        if (!this.reportsDeadPeers && /seems to be dead/.test(msg)) this.dpdDead = true;
        const lv = level === 'warn' || level === 'error' || level === 'debug' ? level : 'info';
        this.ctx.log[lv]({ ike: this.name, ...fields }, msg);
        return;
      }
    }
  }

  /** PHASE1_UP / PHASE1_DOWN events for racoonctl show-event, establish-sa -w and hook scripts. */
  private trackEvents(): void {
    const now = Math.floor(Date.now() / 1000);
    const current = new Map<number, { local: SockAddr; remote: SockAddr }>();
    const all = this.phase1s();
    for (const s of all) if (!this.created.has(s.serial)) this.created.set(s.serial, now);
    const live = new Set(all.map((s) => s.serial)); // a Set: with 10,000 SAs a some() per entry is 10^8 steps
    for (const serial of this.created.keys()) if (!live.has(serial)) this.created.delete(serial);
    for (const s of all) {
      if (!s.established) continue;
      const ends = { local: sockAddr(s.local), remote: sockAddr(s.remote) };
      current.set(s.serial, ends);
      if (!this.up.has(s.serial)) this.ctx.emit({ type: EvtType.PHASE1_UP, timestamp: now, ph1src: ends.local, ph1dst: ends.remote, ph2msgid: 0 });
    }
    // Dead peers first: racoon announces EVT_PHASE1_DPD_TIMEOUT (phase1_dead) before the phase 1 goes down.
    for (const d of this.pollDeadPeerEnds())
      this.ctx.emit({ type: EvtType.PHASE1_DPD_TIMEOUT, timestamp: now, ph1src: sockAddr(d.local), ph1dst: sockAddr(d.remote), ph2msgid: 0 });
    for (const [serial, ends] of this.up) {
      if (current.has(serial)) continue;
      if (this.dpdDead) this.ctx.emit({ type: EvtType.PHASE1_DPD_TIMEOUT, timestamp: now, ph1src: ends.local, ph1dst: ends.remote, ph2msgid: 0 });
      this.ctx.emit({ type: EvtType.PHASE1_DOWN, timestamp: now, ph1src: ends.local, ph1dst: ends.remote, ph2msgid: 0 });
    }
    this.dpdDead = false;
    this.up = current;
  }

  /** ph1dump `created` (seconds since the epoch): when the SA first appeared, not when it is dumped. */
  protected phase1Created(serial: number): number {
    return this.created.get(serial) ?? Math.floor(Date.now() / 1000);
  }

  /**
   * Wake up at the engine's next deadline, or after TIMER_SLICE_MS if that is
   * sooner (deadlines that new exchanges add meanwhile are seconds away, and are
   * so met within TIMER_SLICE_MS without asking the engine after every datagram).
   */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unschedule();
    const at = this.engine.getTimer();
    if (at === null) return;
    this.scheduled = this.ctx.schedule?.add(`${this.name} next timer`, at) ?? null;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.unschedule();
      this.engine.handleTimer(this.now());
      for (const a of this.engine.pollActions()) this.act(a);
      this.houseKeep();
    }, Math.min(TIMER_SLICE_MS, Math.max(0, at - this.now())));
    this.timer.unref();
  }

  protected stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.housekeeping) clearTimeout(this.housekeeping);
    this.housekeeping = null;
    this.trackEvents();
    this.unschedule();
  }

  private unschedule(): void {
    if (this.scheduled !== null) this.ctx.schedule?.remove(this.scheduled);
    this.scheduled = null;
  }

  /** ADMIN_GET_SA_CERT: the phase 1 / IKE SA between these addresses and the peer certificate it used. */
  peerCertificate(local: string, remote: string): { cert: Buffer | null } | undefined {
    const s = this.phase1s().find((p) => p.local.address === local && p.remote.address === remote);
    return s ? { cert: this.phase1Certificate(s.serial) } : undefined;
  }

  /** The DER certificate the peer of this phase 1 authenticated with; engines that keep it override this. */
  protected phase1Certificate(_serial: number): Buffer | null {
    return null;
  }

  /** The local addresses racoon listens on for IKE (not the NAT-T sockets), of a family. */
  protected ikeLocals(family: 4 | 6 | null): EngineEndpoint[] {
    return this.ctx.sockets
      .locals('isakmp')
      .filter((l) => !l.address.startsWith('0.') && l.address !== '::' && (family === null || l.family === family))
      .map((l) => ({ address: l.address, port: l.port }));
  }
}
