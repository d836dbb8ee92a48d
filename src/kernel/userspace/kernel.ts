/**
 * tanuki's userspace PF_KEYv2 kernel: the SADB and the SPD behind RFC 2367
 * socket semantics.
 *
 * Every PF_KEY socket is an endpoint attached to the kernel. A message sent
 * on it is handled by the table below; the answer goes where RFC 2367 §1.2
 * and Linux net/key/af_key.c pfkey_broadcast() send it:
 *   ONE        only the sender (GETSPI, GET, DUMP, SPDGET, SPDDUMP, errors)
 *   ALL        every socket (ADD, UPDATE, DELETE, FLUSH, SPDADD/UPDATE/DELETE/
 *              DELETE2/SETIDX, SPDFLUSH, X_PROMISC, X_MIGRATE)
 *   REGISTERED the sender plus every registered socket (REGISTER), or the
 *              sockets registered for the satype (ACQUIRE, EXPIRE), or any
 *              registered socket (SPDEXPIRE)
 * and a promiscuous socket (X_PROMISC) also receives a copy of every
 * message any socket sends and of every message the kernel sends (once).
 *
 * A request the kernel refuses is answered to the sender alone with its own
 * header, sadb_msg_errno set and no extensions (af_key pfkey_error()); it
 * changes nothing.
 */
import pino, { type Logger } from 'pino';
import {
  Errno,
  IpsecDir,
  IpsecLevel,
  IpsecPolicyType,
  IPSEC_ULPROTO_ANY,
  SadbMsgType,
  SadbSaState,
  SadbSaType,
} from '../../pfkey/constants';
import type { PfKeyExtensions, PfKeyMessage, SadbComb, SadbLifetime } from '../../pfkey/types';
import { isAead, supportedAlgorithms, supportedLists } from '../../sadb/algorithms';
import { systemClock, type KernelClock } from '../../sadb/clock';
import { protoToSatype, Sadb, type SadbRequest, type SaExpiryKind, type SecurityAssociation } from '../../sadb/sadb';
import { Spd, type PacketSelector, type PolicyTemplate, type SecurityPolicy } from '../../spd/spd';
import { formatIp } from '../../util/ip';
import { buildMigrateBroadcast, planMigrate } from './migrate';

/** Linux af_key pfkey_get_base_msg(): message types above this are refused. */
const SADB_SATYPE_MAX = 9;
/** net.core.xfrm_acq_expires: how long one ACQUIRE stands before a packet may raise another. */
const ACQUIRE_EXPIRES_SEC = 30;
/** RFC 2367 §2.3.3 sadb_prop_replay in ACQUIRE proposals (Linux dump_esp_combs: 32). */
const PROPOSAL_REPLAY = 32;
/** Lifetimes Linux puts in every sadb_comb of an ACQUIRE proposal (af_key dump_ah_combs/dump_esp_combs). */
const COMB_LIFETIMES = {
  softAllocations: 0,
  hardAllocations: 0,
  softBytes: 0n,
  hardBytes: 0n,
  hardAddtime: 24n * 60n * 60n,
  softAddtime: 20n * 60n * 60n,
  hardUsetime: 8n * 60n * 60n,
  softUsetime: 7n * 60n * 60n,
} as const;

export interface KernelEndpoint {
  /** Stable socket number inside this kernel (logs and tests). */
  readonly id: number;
  /**
   * Hand a message this socket sent to the kernel. The kernel takes ownership
   * of the message's objects (it may keep them in the SADB): pass a fresh
   * message (the codec's decode, or a copy) and do not touch it afterwards.
   */
  send(msg: PfKeyMessage): void;
  readonly registered: ReadonlySet<number>;
  readonly promiscuous: boolean;
  close(): void;
}

interface Endpoint extends KernelEndpoint {
  registered: Set<number>;
  promiscuous: boolean;
  deliver: (msg: PfKeyMessage) => void;
  closed: boolean;
}

/** What the SPD decides for an outbound (or forwarded) packet. */
export type OutboundDecision =
  | { action: 'bypass'; policy?: SecurityPolicy }
  | { action: 'discard'; policy: SecurityPolicy }
  /** Apply these SAs in order (templates of level `use` without an SA are skipped). */
  | { action: 'protect'; policy: SecurityPolicy; sas: SecurityAssociation[] }
  /** A required SA is missing: the key manager was asked (one ACQUIRE); the packet must wait or be dropped. */
  | { action: 'acquire'; policy: SecurityPolicy; template: PolicyTemplate; acquireSeq: number };

export type InboundDecision = { action: 'accept'; policy?: SecurityPolicy } | { action: 'discard'; policy?: SecurityPolicy; reason: string };

/**
 * What changed in the databases, for the data plane (crypto contexts per SA,
 * TUN routes per tunnel policy). `update` replaces a larval SA or changes a
 * mature one; `delete` covers DELETE, FLUSH and hard expiry; `dying` is a
 * soft expiry.
 */
export type SaEvent = { kind: 'add' | 'update' | 'dying' | 'delete'; sa: SecurityAssociation };
export type PolicyEvent = { kind: 'add' | 'delete'; policy: SecurityPolicy };

interface PendingAcquire {
  seq: number;
  src: string;
  dst: string;
  proto: number;
  failed: boolean;
  cancel: () => void;
}

export interface UserspaceKernelOptions {
  clock?: KernelClock;
  random?: () => number;
  log?: Logger;
  acquireExpiresSec?: number;
}

type Handler = (ep: Endpoint, msg: PfKeyMessage) => void;

/** Refusal raised inside a handler: becomes an errno reply, nothing was changed. */
class Refusal {
  constructor(
    readonly errno: number,
    readonly reason: string,
  ) {}
}

function refuse(errno: number, reason: string): never {
  throw new Refusal(errno, reason);
}

function family(address: string): 2 | 10 {
  return address.includes(':') ? 10 : 2;
}

export class UserspaceKernel {
  readonly sadb: Sadb;
  readonly spd: Spd;
  private readonly clock: KernelClock;
  private readonly log: Logger;
  private readonly acquireExpiresSec: number;
  private readonly endpoints = new Map<number, Endpoint>();
  private readonly pendingAcquires = new Map<string, PendingAcquire>();
  private nextEndpointId = 1;
  private acquireSeq = 0;
  private readonly handlers: Partial<Record<SadbMsgType, Handler>>;
  private readonly saListeners = new Set<(e: SaEvent) => void>();
  private readonly policyListeners = new Set<(e: PolicyEvent) => void>();

  constructor(opts: UserspaceKernelOptions = {}) {
    this.clock = opts.clock ?? systemClock();
    this.log = opts.log ?? pino({ level: 'silent' });
    this.acquireExpiresSec = opts.acquireExpiresSec ?? ACQUIRE_EXPIRES_SEC;
    this.sadb = new Sadb({
      clock: this.clock,
      ...(opts.random ? { random: opts.random } : {}),
      onExpire: (sa, kind) => this.sendExpire(sa, kind),
    });
    this.spd = new Spd({ clock: this.clock, onExpire: (p) => this.sendSpdExpire(p) });
    this.handlers = {
      [SadbMsgType.GETSPI]: (ep, m) => this.getspi(ep, m),
      [SadbMsgType.UPDATE]: (ep, m) => this.addOrUpdate(ep, m),
      [SadbMsgType.ADD]: (ep, m) => this.addOrUpdate(ep, m),
      [SadbMsgType.DELETE]: (ep, m) => this.deleteSa(ep, m),
      [SadbMsgType.GET]: (ep, m) => this.getSa(ep, m),
      [SadbMsgType.ACQUIRE]: (ep, m) => this.acquireFromUser(ep, m),
      [SadbMsgType.REGISTER]: (ep, m) => this.register(ep, m),
      [SadbMsgType.FLUSH]: (ep, m) => this.flush(ep, m),
      [SadbMsgType.DUMP]: (ep, m) => this.dump(ep, m),
      [SadbMsgType.X_PROMISC]: (ep, m) => this.promisc(ep, m),
      [SadbMsgType.X_SPDUPDATE]: (ep, m) => this.spdAdd(ep, m, true),
      [SadbMsgType.X_SPDADD]: (ep, m) => this.spdAdd(ep, m, false),
      [SadbMsgType.X_SPDSETIDX]: (ep, m) => this.spdAdd(ep, m, false),
      [SadbMsgType.X_SPDDELETE]: (ep, m) => this.spdDelete(ep, m),
      [SadbMsgType.X_SPDDELETE2]: (ep, m) => this.spdDelete2(ep, m),
      [SadbMsgType.X_SPDGET]: (ep, m) => this.spdGet(ep, m),
      [SadbMsgType.X_SPDDUMP]: (ep, m) => this.spdDump(ep, m),
      [SadbMsgType.X_SPDFLUSH]: (ep, m) => this.spdFlush(ep, m),
      [SadbMsgType.X_MIGRATE]: (ep, m) => this.migrate(ep, m),
    };
  }

  /** Open a PF_KEY socket on this kernel; `deliver` receives every message for it. */
  attach(deliver: (msg: PfKeyMessage) => void): KernelEndpoint {
    const id = this.nextEndpointId++;
    const ep: Endpoint = {
      id,
      registered: new Set(),
      promiscuous: false,
      deliver,
      closed: false,
      send: (msg) => {
        if (!ep.closed) this.process(ep, msg);
      },
      close: () => {
        ep.closed = true;
        this.endpoints.delete(id);
      },
    };
    this.endpoints.set(id, ep);
    return ep;
  }

  /** Follow SA changes (data plane). Returns the unsubscribe function. */
  onSa(listener: (e: SaEvent) => void): () => void {
    this.saListeners.add(listener);
    return () => this.saListeners.delete(listener);
  }

  /** Follow policy changes (an SPDUPDATE is a delete of the old policy and an add). */
  onPolicy(listener: (e: PolicyEvent) => void): () => void {
    this.policyListeners.add(listener);
    return () => this.policyListeners.delete(listener);
  }

  private emitSa(kind: SaEvent['kind'], sa: SecurityAssociation): void {
    for (const l of [...this.saListeners]) {
      try {
        l({ kind, sa });
      } catch (err) {
        this.log.warn({ err, spi: sa.spi }, 'SA listener failed');
      }
    }
  }

  private emitPolicy(kind: PolicyEvent['kind'], policy: SecurityPolicy): void {
    for (const l of [...this.policyListeners]) {
      try {
        l({ kind, policy });
      } catch (err) {
        this.log.warn({ err, spid: policy.id }, 'policy listener failed');
      }
    }
  }

  get socketCount(): number {
    return this.endpoints.size;
  }

  /** Stop every timer (SA and policy lifetimes, pending ACQUIREs) and forget all state without broadcasts. */
  shutdown(): void {
    for (const ep of [...this.endpoints.values()]) ep.close();
    this.sadb.flush(SadbSaType.UNSPEC);
    this.spd.flush();
    for (const p of this.pendingAcquires.values()) p.cancel();
    this.pendingAcquires.clear();
  }

  // ---- delivery -----------------------------------------------------------------

  private deliverTo(ep: Endpoint, msg: PfKeyMessage): void {
    if (ep.closed) return;
    try {
      ep.deliver(msg);
    } catch (err) {
      this.log.warn({ socket: ep.id, err }, 'PF_KEY socket delivery failed');
    }
  }

  /** Send to the chosen sockets, and once to every promiscuous socket not already chosen. */
  private broadcast(msg: PfKeyMessage, chosen: (ep: Endpoint) => boolean): void {
    for (const ep of [...this.endpoints.values()]) if (chosen(ep) || ep.promiscuous) this.deliverTo(ep, msg);
  }

  private replyOne(ep: Endpoint, msg: PfKeyMessage): void {
    this.broadcast(msg, (e) => e === ep);
  }

  private replyAll(msg: PfKeyMessage): void {
    this.broadcast(msg, () => true);
  }

  private replyRegistered(msg: PfKeyMessage, satype: number | 'any'): void {
    this.broadcast(msg, (e) => (satype === 'any' ? e.registered.size > 0 : e.registered.has(satype)));
  }

  private errorReply(ep: Endpoint, req: PfKeyMessage, errno: number, reason: string): void {
    this.log.debug({ socket: ep.id, type: SadbMsgType[req.type] ?? req.type, seq: req.seq, errno, reason }, 'PF_KEY request refused');
    this.replyOne(ep, { type: req.type, satype: req.satype, errno, seq: req.seq, pid: req.pid, ext: {} });
  }

  // ---- request processing -------------------------------------------------------

  private process(ep: Endpoint, msg: PfKeyMessage): void {
    // Linux pfkey_sendmsg: every message sent is first copied to the promiscuous sockets.
    for (const other of [...this.endpoints.values()]) if (other.promiscuous) this.deliverTo(other, msg);
    // Linux pfkey_get_base_msg(): reserved must be zero, the type known.
    if (msg.reserved !== undefined && msg.reserved !== 0) return this.errorReply(ep, msg, Errno.EINVAL, 'sadb_msg_reserved is not zero');
    if (msg.satype < 0 || msg.satype > SADB_SATYPE_MAX) return this.errorReply(ep, msg, Errno.EINVAL, `satype ${msg.satype} out of range`);
    const handler = this.handlers[msg.type];
    if (!handler) {
      const known = msg.type > SadbMsgType.RESERVED && msg.type <= SadbMsgType.X_MIGRATE;
      return this.errorReply(ep, msg, known ? Errno.EOPNOTSUPP : Errno.EINVAL, known ? `${SadbMsgType[msg.type]} is not handled by the userspace kernel` : `message type ${msg.type} is unknown`);
    }
    try {
      handler(ep, msg);
    } catch (err) {
      if (err instanceof Refusal) return this.errorReply(ep, msg, err.errno, err.reason);
      this.log.error({ socket: ep.id, err }, 'PF_KEY handler failed');
      return this.errorReply(ep, msg, Errno.EINVAL, 'internal error');
    }
  }

  private static request(msg: PfKeyMessage): SadbRequest {
    return { satype: msg.satype, seq: msg.seq, pid: msg.pid, ext: msg.ext };
  }

  private saMessage(type: SadbMsgType, sa: SecurityAssociation, req: { seq: number; pid: number }, keys: boolean): PfKeyMessage {
    return { type, satype: sa.satype, errno: 0, seq: req.seq, pid: req.pid, ext: this.sadb.toExtensions(sa, { keys, hard: true, soft: true }) };
  }

  // RFC 2367 §3.1.1: the reply (ONE) carries the larval SA and its SPI.
  private getspi(ep: Endpoint, msg: PfKeyMessage): void {
    const r = this.sadb.getspi(UserspaceKernel.request(msg));
    if (!r.ok) refuse(r.errno, r.reason);
    this.replyOne(ep, this.saMessage(SadbMsgType.GETSPI, r.value, msg, false));
  }

  // RFC 2367 §3.1.2/§3.1.3: the reply goes to all sockets; key material is left out (RFC; Linux includes it).
  private addOrUpdate(_ep: Endpoint, msg: PfKeyMessage): void {
    const req = UserspaceKernel.request(msg);
    const r = msg.type === SadbMsgType.ADD ? this.sadb.add(req) : this.sadb.update(req);
    if (!r.ok) refuse(r.errno, r.reason);
    this.satisfyAcquires(r.value);
    this.emitSa(msg.type === SadbMsgType.ADD ? 'add' : 'update', r.value);
    this.log.info({ spi: r.value.spi, satype: SadbSaType[r.value.satype], src: r.value.src, dst: r.value.dst }, msg.type === SadbMsgType.ADD ? 'SA added' : 'SA updated');
    this.replyAll(this.saMessage(msg.type, r.value, msg, false));
  }

  // RFC 2367 §3.1.4: to all sockets. Without an SA extension every SA of the pair goes and the request is echoed (KAME).
  private deleteSa(_ep: Endpoint, msg: PfKeyMessage): void {
    const r = this.sadb.delete(UserspaceKernel.request(msg));
    if (!r.ok) refuse(r.errno, r.reason);
    for (const sa of r.value) this.emitSa('delete', sa);
    if (msg.ext.sa) {
      const sa = r.value[0];
      this.replyAll({ type: SadbMsgType.DELETE, satype: sa.satype, errno: 0, seq: msg.seq, pid: msg.pid, ext: this.sadb.toExtensions(sa, { keys: false, hard: true, soft: true }) });
      return;
    }
    this.replyAll({ type: SadbMsgType.DELETE, satype: msg.satype, errno: 0, seq: msg.seq, pid: msg.pid, ext: { addressSrc: msg.ext.addressSrc!, addressDst: msg.ext.addressDst! } });
  }

  // RFC 2367 §3.1.5: ONE, with keys.
  private getSa(ep: Endpoint, msg: PfKeyMessage): void {
    const r = this.sadb.get(UserspaceKernel.request(msg));
    if (!r.ok) refuse(r.errno, r.reason);
    this.replyOne(ep, this.saMessage(SadbMsgType.GET, r.value, msg, true));
  }

  // RFC 2367 §3.1.6 (key manager → kernel): an ACQUIRE with an errno tells the kernel negotiation failed (af_key pfkey_acquire). No reply.
  private acquireFromUser(_ep: Endpoint, msg: PfKeyMessage): void {
    if (msg.errno === 0) return;
    for (const p of this.pendingAcquires.values()) if (p.seq === msg.seq) p.failed = true;
  }

  // RFC 2367 §3.1.7: register the socket for the satype; the reply with the supported algorithms goes to every registered socket.
  private register(ep: Endpoint, msg: PfKeyMessage): void {
    if (msg.satype !== SadbSaType.UNSPEC) {
      if (ep.registered.has(msg.satype)) refuse(Errno.EEXIST, `socket already registered for satype ${msg.satype}`);
      ep.registered.add(msg.satype);
    }
    const lists = supportedLists();
    const ext: PfKeyExtensions = {};
    if (lists.auth.length > 0) ext.supportedAuth = { algs: lists.auth };
    if (lists.encrypt.length > 0) ext.supportedEncrypt = { algs: lists.encrypt };
    this.broadcast({ type: SadbMsgType.REGISTER, satype: msg.satype, errno: 0, seq: msg.seq, pid: msg.pid, ext }, (e) => e === ep || e.registered.size > 0);
  }

  // RFC 2367 §3.1.9: to all sockets.
  private flush(_ep: Endpoint, msg: PfKeyMessage): void {
    const r = this.sadb.flush(msg.satype);
    if (!r.ok) refuse(r.errno, r.reason);
    for (const sa of r.value) this.emitSa('delete', sa);
    this.log.info({ satype: msg.satype, count: r.value.length }, 'SAD flushed');
    this.replyAll({ type: SadbMsgType.FLUSH, satype: msg.satype, errno: 0, seq: msg.seq, pid: msg.pid, ext: {} });
  }

  /** Linux dump_sa/dump_sp: replies numbered 1, 2, … and the last one 0; ENOENT when there is nothing. */
  private static dumpSeq(i: number, n: number): number {
    return i === n - 1 ? 0 : i + 1;
  }

  // RFC 2367 §3.1.10: one DUMP per SA to the sender, with keys.
  private dump(ep: Endpoint, msg: PfKeyMessage): void {
    const all = this.sadb.list(msg.satype);
    if (all === null) refuse(Errno.EINVAL, `satype ${msg.satype} cannot be keyed`);
    if (all.length === 0) refuse(Errno.ENOENT, 'no SAD entries');
    all.forEach((sa, i) => this.replyOne(ep, this.saMessage(SadbMsgType.DUMP, sa, { seq: UserspaceKernel.dumpSeq(i, all.length), pid: msg.pid }, true)));
  }

  // KAME/Linux X_PROMISC: satype 1 turns promiscuous mode on, 0 off; the message is echoed to all.
  private promisc(ep: Endpoint, msg: PfKeyMessage): void {
    const flag: number = msg.satype;
    if (flag !== 0 && flag !== 1) refuse(Errno.EINVAL, `X_PROMISC satype must be 0 or 1, got ${flag}`);
    ep.promiscuous = flag === 1;
    this.replyAll({ type: SadbMsgType.X_PROMISC, satype: msg.satype, errno: 0, seq: msg.seq, pid: msg.pid, ext: {} });
  }

  // ---- SPD messages -------------------------------------------------------------

  /** Linux pfkey_xfrm_policy2msg: addresses, hard/soft/current lifetimes, X_POLICY with requests, SEC_CTX. */
  policyExtensions(p: SecurityPolicy): PfKeyExtensions {
    const zero: SadbLifetime = { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n };
    const addr = (a: NonNullable<PfKeyExtensions['addressSrc']>) => ({ proto: a.proto === 0 ? IPSEC_ULPROTO_ANY : a.proto, prefixlen: a.prefixlen, addr: { ...a.addr } });
    const pol = p.ext.policy!;
    return {
      addressSrc: addr(p.ext.addressSrc!),
      addressDst: addr(p.ext.addressDst!),
      lifetimeHard: { ...(p.ext.lifetimeHard ?? zero) },
      lifetimeSoft: { ...(p.ext.lifetimeSoft ?? zero) },
      lifetimeCurrent: { allocations: 0, bytes: 0n, addtime: p.created, usetime: p.lastused },
      policy: { ...pol, requests: pol.requests.map((r) => ({ ...r, ...(r.src ? { src: { ...r.src } } : {}), ...(r.dst ? { dst: { ...r.dst } } : {}) })) },
      ...(p.ext.secCtx ? { secCtx: { ...p.ext.secCtx, ctx: Buffer.from(p.ext.secCtx.ctx) } } : {}),
    };
  }

  private policyMessage(type: SadbMsgType, p: SecurityPolicy, req: { seq: number; pid: number }, refcnt = 0): PfKeyMessage {
    return { type, satype: SadbSaType.UNSPEC, errno: 0, seq: req.seq, pid: req.pid, ...(refcnt ? { reserved: refcnt } : {}), ext: this.policyExtensions(p) };
  }

  private spdAdd(_ep: Endpoint, msg: PfKeyMessage, update: boolean): void {
    const r = this.spd.add({ seq: msg.seq, pid: msg.pid, ext: msg.ext }, update);
    if (!r.ok) refuse(r.errno, r.reason);
    if (r.value.replaced) {
      this.dropAcquiresOf(r.value.replaced);
      this.emitPolicy('delete', r.value.replaced);
    }
    this.emitPolicy('add', r.value.policy);
    this.log.info({ spid: r.value.policy.id, dir: IpsecDir[r.value.policy.dir] }, update ? 'policy updated' : 'policy added');
    this.replyAll(this.policyMessage(msg.type, r.value.policy, msg));
  }

  private spdDelete(_ep: Endpoint, msg: PfKeyMessage): void {
    const r = this.spd.deleteBySelector({ seq: msg.seq, pid: msg.pid, ext: msg.ext });
    if (!r.ok) refuse(r.errno, r.reason);
    this.dropAcquiresOf(r.value);
    this.emitPolicy('delete', r.value);
    this.replyAll(this.policyMessage(SadbMsgType.X_SPDDELETE, r.value, msg));
  }

  private spdDelete2(_ep: Endpoint, msg: PfKeyMessage): void {
    const r = this.spd.deleteById({ seq: msg.seq, pid: msg.pid, ext: msg.ext });
    if (!r.ok) refuse(r.errno, r.reason);
    this.dropAcquiresOf(r.value);
    this.emitPolicy('delete', r.value);
    this.replyAll(this.policyMessage(SadbMsgType.X_SPDDELETE2, r.value, msg));
  }

  private spdGet(ep: Endpoint, msg: PfKeyMessage): void {
    const r = this.spd.get({ seq: msg.seq, pid: msg.pid, ext: msg.ext });
    if (!r.ok) refuse(r.errno, r.reason);
    this.replyOne(ep, this.policyMessage(SadbMsgType.X_SPDGET, r.value, msg, 1));
  }

  private spdDump(ep: Endpoint, msg: PfKeyMessage): void {
    const all = this.spd.list();
    if (all.length === 0) refuse(Errno.ENOENT, 'no SPD entries');
    all.forEach((p, i) => this.replyOne(ep, this.policyMessage(SadbMsgType.X_SPDDUMP, p, { seq: UserspaceKernel.dumpSeq(i, all.length), pid: msg.pid }, 1)));
  }

  private spdFlush(_ep: Endpoint, msg: PfKeyMessage): void {
    const gone = this.spd.flush();
    for (const p of gone) {
      this.dropAcquiresOf(p);
      this.emitPolicy('delete', p);
    }
    this.log.info({ count: gone.length }, 'SPD flushed');
    this.replyAll({ type: SadbMsgType.X_SPDFLUSH, satype: SadbSaType.UNSPEC, errno: 0, seq: msg.seq, pid: msg.pid, ext: {} });
  }

  /**
   * SADB_X_MIGRATE from any socket (the Mobile IPv6 daemon's role; see
   * migrate.ts): validate everything, then move the policy's tunnel templates
   * and their SAs, and broadcast the MIGRATE with KMADDRESS to every socket.
   * SA listeners see the old SA deleted and the moved one added; policy
   * listeners see the policy replaced by itself with its new endpoints.
   */
  private migrate(_ep: Endpoint, msg: PfKeyMessage): void {
    const r = planMigrate(msg, this.spd, this.sadb);
    if (!r.ok) refuse(r.errno, r.reason);
    const { plan } = r;
    // Nothing can fail from here on.
    this.dropAcquiresOf(plan.policy);
    for (const move of plan.moves) {
      this.spd.moveTemplate(plan.policy, move.index, move.new.src, move.new.dst);
      for (const sa of move.sas) {
        const moved = this.sadb.migrate(sa, move.new.src.address, move.new.dst.address);
        this.emitSa('delete', sa);
        this.emitSa('add', moved);
      }
    }
    this.emitPolicy('delete', plan.policy);
    this.emitPolicy('add', plan.policy);
    this.log.info(
      {
        spid: plan.policy.id,
        dir: IpsecDir[plan.policy.dir],
        moves: plan.moves.map((m) => `${m.old.src.address}-${m.old.dst.address} -> ${m.new.src.address}-${m.new.dst.address}`),
        sas: plan.moves.reduce((n, m) => n + m.sas.length, 0),
        kmaddress: plan.kmaddress ? `${plan.kmaddress.local.address}-${plan.kmaddress.remote.address}` : undefined,
      },
      'MIGRATE',
    );
    const sel = this.policyExtensions(plan.policy);
    this.replyAll(buildMigrateBroadcast(plan, msg, sel.addressSrc!, sel.addressDst!));
  }

  // ---- kernel-originated messages --------------------------------------------------

  /** RFC 2367 §3.1.8 SADB_EXPIRE to the sockets registered for the satype: SA, CURRENT, the HARD or SOFT lifetime reached, addresses. */
  private sendExpire(sa: SecurityAssociation, kind: SaExpiryKind): void {
    this.log.info({ spi: sa.spi, satype: SadbSaType[sa.satype], kind }, 'SA expired');
    const ext = this.sadb.toExtensions(sa, { keys: false, hard: kind === 'hard', soft: kind === 'soft' });
    this.replyRegistered({ type: SadbMsgType.EXPIRE, satype: sa.satype, errno: 0, seq: 0, pid: 0, ext }, sa.satype);
    this.emitSa(kind === 'soft' ? 'dying' : 'delete', sa);
  }

  /** KAME key_spdexpire: SPDEXPIRE to registered sockets when a policy's hard lifetime ends. */
  private sendSpdExpire(p: SecurityPolicy): void {
    this.dropAcquiresOf(p);
    this.emitPolicy('delete', p);
    this.log.info({ spid: p.id }, 'policy expired');
    this.replyRegistered(this.policyMessage(SadbMsgType.X_SPDEXPIRE, p, { seq: 0, pid: 0 }), 'any');
  }

  /** RFC 2367 §3.1.6 SADB_ACQUIRE (Linux pfkey_send_acquire layout). */
  private sendAcquire(policy: SecurityPolicy, template: PolicyTemplate, src: string, dst: string, seq: number): void {
    const satype = protoToSatype(template.proto)!;
    const addr = (a: string) => ({ proto: 0, prefixlen: family(a) === 2 ? 32 : 128, addr: { family: family(a), address: a, port: 0 } });
    const msg: PfKeyMessage = {
      type: SadbMsgType.ACQUIRE,
      satype,
      errno: 0,
      seq,
      pid: 0,
      ext: {
        addressSrc: addr(src),
        addressDst: addr(dst),
        policy: { type: IpsecPolicyType.IPSEC, dir: policy.dir, id: policy.id, priority: policy.priority, requests: [] },
        proposal: { replay: PROPOSAL_REPLAY, combs: proposalCombs(satype) },
        ...(policy.ext.secCtx ? { secCtx: { ...policy.ext.secCtx, ctx: Buffer.from(policy.ext.secCtx.ctx) } } : {}),
      },
    };
    this.log.info({ spid: policy.id, satype: SadbSaType[satype], src, dst, seq }, 'ACQUIRE');
    this.replyRegistered(msg, satype);
  }

  // ---- data plane ---------------------------------------------------------------

  /**
   * The SPD decision for a packet leaving (dir OUTBOUND) or forwarded (FWD):
   * no policy, NONE or BYPASS → bypass; DISCARD → discard; IPSEC → the SA of
   * each template, in order. The first missing SA of a required template
   * raises one ACQUIRE per (policy, template, SA endpoints) until an SA
   * appears or acquireExpiresSec pass; a missing `use` SA raises the ACQUIRE
   * too but the packet goes on with the SAs that exist.
   */
  outbound(pkt: PacketSelector, dir: IpsecDir = IpsecDir.OUTBOUND): OutboundDecision {
    const policy = this.spd.lookup(pkt, dir);
    if (!policy || policy.type === IpsecPolicyType.NONE || policy.type === IpsecPolicyType.BYPASS) return policy ? { action: 'bypass', policy } : { action: 'bypass' };
    if (policy.type === IpsecPolicyType.DISCARD) return { action: 'discard', policy };
    const sas: SecurityAssociation[] = [];
    let src = formatIp(pkt.src);
    let dst = formatIp(pkt.dst);
    for (const [i, t] of policy.templates.entries()) {
      if (t.src && t.dst) {
        src = t.src.address;
        dst = t.dst.address;
      }
      const sa = this.sadb.lookupOutbound(src, dst, t.proto, t.reqid, t.mode);
      if (sa) {
        sas.push(sa);
        continue;
      }
      const pending = this.requestAcquire(policy, i, t, src, dst);
      if (t.optional) continue;
      // The key manager answered this ACQUIRE with an error (af_key pfkey_acquire): drop until it expires.
      if (pending.failed) return { action: 'discard', policy };
      return { action: 'acquire', policy, template: t, acquireSeq: pending.seq };
    }
    return { action: 'protect', policy, sas };
  }

  /**
   * The SPD check of a packet that arrived (after its SAs were processed): an
   * IPSEC policy for dir IN/FWD demands, for every non-optional template, one
   * of the applied SAs with the template's protocol, mode and (non-zero) reqid.
   */
  inbound(pkt: PacketSelector, applied: readonly SecurityAssociation[], dir: IpsecDir = IpsecDir.INBOUND): InboundDecision {
    const policy = this.spd.lookup(pkt, dir);
    if (!policy) return { action: 'accept' };
    if (policy.type === IpsecPolicyType.DISCARD) return { action: 'discard', policy, reason: 'discard policy' };
    if (policy.type !== IpsecPolicyType.IPSEC) return { action: 'accept', policy };
    for (const t of policy.templates) {
      if (t.optional) continue;
      const ok = applied.some((sa) => sa.proto === t.proto && (t.reqid === 0 || sa.reqid === t.reqid) && (sa.mode === 0 || sa.mode === t.mode));
      if (!ok) return { action: 'discard', policy, reason: `policy ${policy.id} requires protocol ${t.proto} (${IpsecLevel[t.level]})` };
    }
    return { action: 'accept', policy };
  }

  private requestAcquire(policy: SecurityPolicy, index: number, t: PolicyTemplate, src: string, dst: string): PendingAcquire {
    const key = `${policy.id}:${index}:${src}:${dst}`;
    const pending = this.pendingAcquires.get(key);
    if (pending) return pending;
    const seq = (this.acquireSeq = (this.acquireSeq + 1) >>> 0 || 1);
    const cancel = this.clock.at(this.clock.now() + this.acquireExpiresSec * 1000, () => {
      if (this.pendingAcquires.get(key)?.seq === seq) this.pendingAcquires.delete(key);
    });
    const entry: PendingAcquire = { seq, src, dst, proto: t.proto, failed: false, cancel };
    this.pendingAcquires.set(key, entry);
    this.sendAcquire(policy, t, src, dst, seq);
    return entry;
  }

  /** An SA for the endpoints exists now: the ACQUIREs waiting for it are answered. */
  private satisfyAcquires(sa: SecurityAssociation): void {
    if (sa.state !== SadbSaState.MATURE) return;
    for (const [key, p] of this.pendingAcquires) {
      if (p.src === sa.src && p.dst === sa.dst && p.proto === sa.proto) {
        p.cancel();
        this.pendingAcquires.delete(key);
      }
    }
  }

  private dropAcquiresOf(policy: SecurityPolicy): void {
    const prefix = `${policy.id}:`;
    for (const [key, p] of this.pendingAcquires) {
      if (key.startsWith(prefix)) {
        p.cancel();
        this.pendingAcquires.delete(key);
      }
    }
  }

  /** ACQUIREs currently standing (tests, diagnostics). */
  get pendingAcquireCount(): number {
    return this.pendingAcquires.size;
  }
}

/**
 * Linux dump_ah_combs / dump_esp_combs: AH one comb per auth algorithm; ESP
 * every cipher × every non-null auth, and each AEAD once without auth.
 */
function proposalCombs(satype: SadbSaType): SadbComb[] {
  const algs = supportedAlgorithms();
  const auths = algs.auth.filter((a) => a.id !== 251);
  const comb = (auth: { id: number; minbits: number; maxbits: number } | null, enc: { id: number; minbits: number; maxbits: number } | null): SadbComb => ({
    auth: auth?.id ?? 0,
    encrypt: enc?.id ?? 0,
    flags: 0,
    authMinbits: auth?.minbits ?? 0,
    authMaxbits: auth?.maxbits ?? 0,
    encryptMinbits: enc?.minbits ?? 0,
    encryptMaxbits: enc?.maxbits ?? 0,
    ...COMB_LIFETIMES,
  });
  if (satype === SadbSaType.AH) return auths.map((a) => comb(a, null));
  if (satype === SadbSaType.ESP) return algs.encrypt.flatMap((e) => (isAead(e.id) ? [comb(null, e)] : auths.map((a) => comb(a, e))));
  return [];
}
