/**
 * Ikev2Engine: the sans-I/O IKEv2 protocol core (RFC 7296). It is fed UDP
 * payloads, PF_KEY messages and timer ticks, each with an explicit `now`
 * (milliseconds), and returns actions: datagrams to send, PF_KEY messages to
 * send, and structured log events. It never touches a socket, a clock or a
 * random source of its own (aioquic's QuicConnection shape: receiveDatagram,
 * pollActions ~ datagrams_to_send, getTimer, handleTimer).
 *
 * Per IKE SA a task manager with a window of 1 (RFC 7296 §2.3) runs the
 * exchanges as tasks (tasks/*.ts), retransmits requests with back-off (§2.1)
 * and replays the cached response to a retransmitted request.
 */
import { SadbMsgType, SadbSaType } from '../../pfkey/constants';
import type { PfKeyMessage } from '../../pfkey/types';
import { Endpoint, NAT_KEEPALIVE, classifyUdpPayload, floatPorts, frameIkeMessage } from '../common/natt';
import { DEFAULT_RETRANSMIT, RetransmitPolicy, retransmitDelay } from '../common/retransmit';
import {
  EsnId,
  ExchangeType,
  HeaderFlag,
  IKE_HEADER_BYTES,
  IKEV2_MAJOR_VERSION,
  NotifyType,
  PayloadType,
  ProtocolId,
  formatChildSpi,
  formatIkeSpi,
} from './constants';
import type { ChildConfig, ChildProposalConfig, Ikev2PeerConfig } from './config';
import { installableChildProposals, type KernelAlgorithms } from './proposal';
import type { IkeCryptoPort, RandomSource } from './crypto-port';
import type { PubkeyPort } from './pubkey';
import { IkeSa, QueuedExchange } from './ike-sa';
import {
  InnerPayload,
  Payload,
  describePayloads,
  exchangeName,
  findNotify,
  findPayload,
  generateChain,
  generateMessage,
  isResponse,
  notify,
  parseHeader,
  parseInnerPayloads,
  parseMessage,
  payloadTypeOf,
} from './payloads';
import { ChildCreateTask } from './tasks/child-create';
import { AuthFailedNoticeTask, IkeAuthTask } from './tasks/ike-auth';
import { IkeRekeyTask, moveToRekeyed } from './tasks/ike-rekey';
import { IkeInitTask, evaluateIkeSaInit } from './tasks/ike-init';
import { ChildDeleteTask, IkeDeleteTask, IkeDpdTask, removeChild } from './tasks/informational';
import { MobikeSupportTask, MobikeUpdateTask, followsRequestAddresses, mobikeResponder } from './mobike';
import type { LogFields, LogLevel, PfKeyRequest, Services, Task, TaskResult } from './tasks/task';
import type { WireError } from './wire';

export interface Ikev2EngineOptions {
  peers: Ikev2PeerConfig[];
  crypto: IkeCryptoPort;
  random: RandomSource;
  /** X.509 / RFC 7427 support (x509-node-port.ts); without it only PSK authentication works */
  pubkey?: PubkeyPort;
  /** sadb_msg_pid stamped on our PF_KEY messages */
  pid: number;
  retransmit?: RetransmitPolicy;
  /** RFC 7296 §2.6: answer with COOKIE once this many IKE SAs are half-open (charon: 30) */
  cookieThreshold?: number;
  /** hard cap on half-open IKE SAs; further IKE_SA_INIT requests are dropped */
  maxHalfOpen?: number;
  /** half-open IKE SAs are forgotten after this many ms (charon: 30 s) */
  halfOpenTimeoutMs?: number;
  /** first SA2 reqid handed out to children without a configured one */
  firstReqid?: number;
  /**
   * Whether debug events are wanted at all (asked per event; default: yes). The
   * per-message ones describe every payload, which costs more than it is worth
   * when the daemon's log level would drop them anyway.
   */
  debugLogs?: () => boolean;
  /**
   * what the kernel can install (its SADB_REGISTER lists); the engine also learns
   * them from any REGISTER message it is fed. Unknown = every algorithm is offered.
   */
  kernelAlgorithms?: KernelAlgorithms;
  /**
   * why the kernel behind the PF_KEY socket cannot install Extended Sequence
   * Numbers (RFC 4303 §2.2.1), if it cannot; the ESN transform is then neither
   * offered nor accepted. null/absent: ESN SAs can be installed (SADB_X_SAFLAGS_ESN).
   */
  esnUnsupported?: string | null;
}

export interface Ikev2LogEvent {
  level: LogLevel;
  msg: string;
  peer?: string;
  ikeSpi?: string;
  childSpi?: string;
  exchange?: string;
  messageId?: number;
  [field: string]: string | number | boolean | undefined;
}

export type Ikev2Action =
  | { kind: 'datagram'; from: Endpoint; to: Endpoint; data: Buffer }
  | { kind: 'pfkey'; msg: PfKeyMessage }
  | { kind: 'log'; event: Ikev2LogEvent };

export interface ChildSaInfo {
  name: string;
  reqid: number;
  mode: 'tunnel' | 'transport';
  inboundSpi: number;
  outboundSpi: number;
  state: string;
}
/** A peer whose IKE SA was deleted because it stopped answering (pollDeadPeers). */
export interface DeadPeer {
  serial: number;
  peer: string;
  local: Endpoint;
  remote: Endpoint;
}

export interface IkeSaInfo {
  serial: number;
  peer: string;
  role: 'initiator' | 'responder';
  state: string;
  spiI: bigint;
  spiR: bigint;
  local: Endpoint;
  remote: Endpoint;
  udpEncap: boolean;
  /** RFC 4555 MOBIKE negotiated in IKE_AUTH */
  mobike: boolean;
  children: ChildSaInfo[];
}

const FRAGMENT_SIZE_DEFAULT = 1280;
/** RFC 3948 §2.3 / strongSwan keep_alive default */
const NAT_KEEPALIVE_DEFAULT_S = 20;

function keepaliveMs(sa: IkeSa): number {
  if (sa.state !== 'established' || !(sa.natHere || sa.peer.forceEncap)) return Infinity;
  const s = sa.peer.natKeepaliveSeconds ?? NAT_KEEPALIVE_DEFAULT_S;
  return s > 0 ? sa.lastSentAt + s * 1000 : Infinity;
}

export class Ikev2Engine implements Services {
  readonly crypto: IkeCryptoPort;
  readonly random: RandomSource;
  readonly pubkey: PubkeyPort | null;
  private readonly peers: Ikev2PeerConfig[];
  private readonly pid: number;
  private readonly retransmitPolicy: RetransmitPolicy;
  private readonly cookieThreshold: number;
  private readonly maxHalfOpen: number;
  private readonly halfOpenTimeoutMs: number;
  private readonly sas = new Map<bigint, IkeSa>();
  private readonly halfOpenByInit = new Map<string, IkeSa>();
  private readonly pendingPfKey = new Map<number, { sa: IkeSa; task: Task }>();
  private readonly firedPfKey = new Map<number, IkeSa | null>();
  private actions: Ikev2Action[] = [];
  private clock = 0;
  private seq = 1;
  private serial = 1;
  private nextReqid: number;
  private readonly reqidByChild = new Map<ChildConfig, number>();
  private readonly cookieSecret: Buffer;
  private readonly debugLogs: () => boolean;
  private kernelAlgorithms: KernelAlgorithms | null;
  private deadPeers: DeadPeer[] = [];
  private readonly esnUnsupported: string | null;
  /** "child name|algorithm" pairs already reported as not installable */
  private readonly reportedUninstallable = new Set<string>();

  constructor(opts: Ikev2EngineOptions) {
    this.peers = opts.peers;
    this.crypto = opts.crypto;
    this.random = opts.random;
    this.pubkey = opts.pubkey ?? null;
    this.pid = opts.pid;
    this.retransmitPolicy = opts.retransmit ?? DEFAULT_RETRANSMIT;
    this.cookieThreshold = opts.cookieThreshold ?? 30;
    this.maxHalfOpen = opts.maxHalfOpen ?? 10000;
    this.halfOpenTimeoutMs = opts.halfOpenTimeoutMs ?? 30000;
    this.nextReqid = opts.firstReqid ?? 1;
    this.cookieSecret = this.random.bytes(32);
    this.debugLogs = opts.debugLogs ?? (() => true);
    this.kernelAlgorithms = opts.kernelAlgorithms ?? null;
    this.esnUnsupported = opts.esnUnsupported ?? null;
  }

  // =====================================================================
  // outputs

  /** Everything the engine wants done since the last call, in order. */
  pollActions(): Ikev2Action[] {
    const a = this.actions;
    this.actions = [];
    return a;
  }

  /** The earliest time (ms) handleTimer wants to be called, or null. */
  getTimer(): number | null {
    let t = Infinity;
    for (const sa of this.sas.values()) {
      if (sa.active?.packets) t = Math.min(t, sa.active.deadline);
      if (sa.role === 'responder' && sa.state === 'connecting') t = Math.min(t, sa.halfOpenDeadline);
      const dpd = sa.peer.dpdDelaySeconds;
      if (sa.state === 'established' && dpd > 0 && !sa.active && sa.queued.length === 0) t = Math.min(t, sa.lastInboundAt + dpd * 1000);
      t = Math.min(t, keepaliveMs(sa));
      const life = sa.peer.ikeLifetime;
      if (life && sa.establishedAt >= 0 && sa.state !== 'dead') {
        if (sa.state === 'established' && !sa.rekeyQueued) t = Math.min(t, sa.establishedAt + life.softSeconds * 1000);
        t = Math.min(t, sa.establishedAt + life.hardSeconds * 1000);
      }
    }
    return t === Infinity ? null : t;
  }

  ikeSas(): IkeSaInfo[] {
    return [...this.sas.values()].map((sa) => ({
      serial: sa.serial,
      peer: sa.peer.name,
      role: sa.role,
      state: sa.state,
      spiI: sa.spiI,
      spiR: sa.spiR,
      local: sa.local,
      remote: sa.remote,
      udpEncap: sa.udpEncap,
      mobike: sa.mobike,
      children: sa.children.map((c) => ({ name: c.config.name, reqid: c.reqid, mode: c.mode, inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi, state: c.state })),
    }));
  }

  // =====================================================================
  // inputs: commands

  /** Start an IKE SA (IKE_SA_INIT + IKE_AUTH with the first CHILD_SA) to a configured peer. */
  initiate(peerName: string, now: number, childName?: string): number | null {
    this.clock = now;
    const peer = this.peers.find((p) => p.name === peerName);
    if (!peer) {
      this.log('error', `no peer configuration named "${peerName}"`, null);
      return null;
    }
    const child = childName ? peer.children.find((c) => c.name === childName) : peer.children[0];
    const existing = [...this.sas.values()].find((s) => s.peer === peer && s.role === 'initiator' && s.state !== 'dead' && s.state !== 'deleting');
    if (existing && existing.state === 'established' && child) {
      this.queueExchange(existing, ExchangeType.CREATE_CHILD_SA, [new ChildCreateTask(child, { inIkeAuth: false })]);
      return existing.serial;
    }
    if (existing) return existing.serial;
    const sa = new IkeSa(this.serial++, 'initiator', this.newIkeSpi(), { address: peer.local.address, port: peer.local.port }, { address: peer.remote.address, port: peer.remote.port }, peer, [peer], now);
    this.sas.set(sa.spiI, sa);
    this.log('info', `initiating IKE_SA ${peer.name} to ${peer.remote.address}`, sa);
    sa.queued.push({ exchangeType: ExchangeType.IKE_SA_INIT, tasks: [new IkeInitTask()] });
    const authTasks: Task[] = [new IkeAuthTask(), new MobikeSupportTask()];
    if (child) authTasks.push(new ChildCreateTask(child, { inIkeAuth: true }));
    sa.queued.push({ exchangeType: ExchangeType.IKE_AUTH, tasks: authTasks });
    this.startNext(sa);
    return sa.serial;
  }

  /**
   * Ask the kernel what it can install: SADB_REGISTER for ESP (RFC 2367 §3.1.2).
   * The reply's SUPPORTED lists, fed back through receivePfKey, make the engine
   * offer and accept only installable ESP algorithms.
   */
  registerWithKernel(now: number): void {
    this.clock = now;
    this.pfkeySend(null, { type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, ext: {} });
  }

  /** Delete an IKE SA with an INFORMATIONAL Delete (RFC 7296 §1.4.1). */
  deleteIkeSa(serial: number, now: number): boolean {
    this.clock = now;
    const sa = this.bySerial(serial);
    if (!sa) return false;
    if (sa.state !== 'established') {
      this.destroyIkeSa(sa, 'deleted before it was established');
      return true;
    }
    this.queueExchange(sa, ExchangeType.INFORMATIONAL, [new IkeDeleteTask()]);
    return true;
  }

  /**
   * Mobile IPv6 movement with the K-bit set (RFC 6275 §6.1.7, driven by a PF_KEY
   * MIGRATE with KMADDRESS, racoon migrate_ph1_ike_addresses): the IKE SA keeps
   * its keys, SPIs and CHILD_SAs and from now on talks from `local` to
   * `remote`. Its CHILD_SAs' kernel messages (DELETE, rekey ADD/UPDATE) use
   * the new addresses, which is where the kernel's MIGRATE moved their SAs.
   * With MOBIKE negotiated and us the original initiator, an INFORMATIONAL
   * UPDATE_SA_ADDRESSES tells the peer (RFC 4555 §3.5); otherwise nothing is
   * sent. False if there is no such live IKE SA.
   */
  moveIkeSa(serial: number, local: Endpoint, remote: Endpoint, now?: number): boolean {
    if (now !== undefined) this.clock = now;
    const sa = this.bySerial(serial);
    if (!sa || sa.state === 'dead') return false;
    this.log('info', `IKE_SA ${sa.peer.name}[${sa.serial}] moved from ${sa.local.address}[${sa.local.port}]-${sa.remote.address}[${sa.remote.port}] to ${local.address}[${local.port}]-${remote.address}[${remote.port}]`, sa);
    sa.local = { ...local };
    sa.remote = { ...remote };
    if (sa.mobike && sa.isInitiator && sa.state === 'established') this.queueExchange(sa, ExchangeType.INFORMATIONAL, [new MobikeUpdateTask()]);
    return true;
  }

  /**
   * Mobile IPv6 movement with the K-bit clear (RFC 6275 §6.1.7: the key
   * management connection does not survive): forget the IKE SA without
   * sending anything to its old address and without deleting its CHILD_SAs
   * from the kernel (the MIGRATE moved them; they carry traffic until they
   * expire). Returns the CHILD_SAs it had, or null if there is no such IKE SA.
   */
  abandonIkeSa(serial: number, reason: string): ChildSaInfo[] | null {
    const sa = this.bySerial(serial);
    if (!sa || sa.state === 'dead') return null;
    const children = this.ikeSas().find((i) => i.serial === serial)?.children ?? [];
    for (const [seq, p] of this.pendingPfKey) if (p.sa === sa) this.pendingPfKey.delete(seq);
    sa.active = null;
    sa.passive = null;
    sa.queued = [];
    sa.children = [];
    sa.state = 'dead';
    this.sas.delete(sa.localSpi);
    for (const [k, v] of this.halfOpenByInit) if (v === sa) this.halfOpenByInit.delete(k);
    this.log('info', `IKE_SA ${sa.peer.name}[${sa.serial}] abandoned: ${reason}`, sa);
    return children;
  }

  /** Delete one CHILD_SA, named by its inbound SPI. */
  deleteChildSa(inboundSpi: number, now: number): boolean {
    this.clock = now;
    for (const sa of this.sas.values()) {
      const child = sa.children.find((c) => c.inboundSpi === inboundSpi);
      if (child) {
        this.queueExchange(sa, ExchangeType.INFORMATIONAL, [new ChildDeleteTask([child])]);
        return true;
      }
    }
    return false;
  }

  /** Rekey one CHILD_SA (RFC 7296 §1.3.3), named by its inbound SPI. */
  rekeyChildSa(inboundSpi: number, now: number): boolean {
    this.clock = now;
    for (const sa of this.sas.values()) {
      const child = sa.children.find((c) => c.inboundSpi === inboundSpi && c.state === 'installed');
      if (child && sa.state === 'established') {
        child.state = 'rekeying';
        this.queueExchange(sa, ExchangeType.CREATE_CHILD_SA, [new ChildCreateTask(child.config, { inIkeAuth: false, rekeyOf: child })]);
        return true;
      }
    }
    return false;
  }

  /** Rekey an IKE SA (RFC 7296 §1.3.2). */
  rekeyIkeSa(serial: number, now: number): boolean {
    this.clock = now;
    const sa = this.bySerial(serial);
    if (!sa || sa.state !== 'established') return false;
    sa.rekeyQueued = true;
    this.queueExchange(sa, ExchangeType.CREATE_CHILD_SA, [new IkeRekeyTask()]);
    return true;
  }

  // =====================================================================
  // inputs: timers

  handleTimer(now: number): void {
    this.clock = now;
    for (const sa of [...this.sas.values()]) {
      const a = sa.active;
      if (a?.packets && now >= a.deadline) {
        const policy = this.policyFor(sa, a.tasks);
        if (a.retransmits >= policy.tries) {
          this.log('error', `giving up after ${a.retransmits} retransmissions of ${exchangeName(a.exchangeType)} request`, sa, { messageId: a.messageId });
          if (sa.state === 'connecting' && sa.role === 'initiator') this.log('error', 'phase1 negotiation failed due to time up', sa);
          if (sa.state === 'established') {
            // RFC 7296 §2.4: an exchange that is never answered means the peer is dead (racoon's words)
            this.log('error', `DPD: remote (ISAKMP-SA spi=${formatIkeSpi(sa.spiI)}:${formatIkeSpi(sa.spiR)}) seems to be dead.`, sa, { dpd: 'dead' });
            this.deadPeers.push({ serial: sa.serial, peer: sa.peer.name, local: { ...sa.local }, remote: { ...sa.remote } });
          }
          this.destroyIkeSa(sa, 'peer did not answer');
          continue;
        }
        a.retransmits++;
        this.log('info', `retransmit ${a.retransmits} of request with message ID ${a.messageId}`, sa, { exchange: exchangeName(a.exchangeType), messageId: a.messageId });
        this.send(sa, a.packets);
        a.deadline = now + retransmitDelay(policy, a.retransmits);
      }
      if (sa.role === 'responder' && sa.state === 'connecting' && now >= sa.halfOpenDeadline) {
        this.destroyIkeSa(sa, 'half-open IKE_SA timed out');
        continue;
      }
      if (now >= keepaliveMs(sa)) {
        sa.lastSentAt = now;
        this.actions.push({ kind: 'datagram', from: { ...sa.local }, to: { ...sa.remote }, data: Buffer.from(NAT_KEEPALIVE) });
      }
      const life = sa.peer.ikeLifetime;
      if (life && sa.state === 'established' && !sa.rekeyQueued && now >= sa.establishedAt + life.softSeconds * 1000) {
        this.log('info', 'IKE_SA soft lifetime reached: rekeying', sa);
        this.rekeyIkeSa(sa.serial, now);
      }
      if (life && sa.state !== 'dead' && sa.establishedAt >= 0 && now >= sa.establishedAt + life.hardSeconds * 1000) {
        this.destroyIkeSa(sa, 'IKE_SA hard lifetime reached');
        continue;
      }
      const dpd = sa.peer.dpdDelaySeconds;
      if (sa.state === 'established' && dpd > 0 && !sa.active && sa.queued.length === 0 && now >= sa.lastInboundAt + dpd * 1000) {
        this.queueExchange(sa, ExchangeType.INFORMATIONAL, [new IkeDpdTask()]);
      }
    }
  }

  // =====================================================================
  // inputs: PF_KEY

  receivePfKey(msg: PfKeyMessage, now: number): void {
    this.clock = now;
    if (msg.type === SadbMsgType.REGISTER && msg.errno === 0 && msg.ext.supportedEncrypt) {
      // RFC 2367 §3.1.2: the REGISTER reply (ours, or broadcast for another registration) lists what the kernel supports
      this.kernelAlgorithms = { encrypt: msg.ext.supportedEncrypt.algs, auth: msg.ext.supportedAuth?.algs ?? [] };
      this.reportedUninstallable.clear();
      this.log('debug', `kernel ESP algorithms: encrypt ${msg.ext.supportedEncrypt.algs.map((a) => a.id).join(',')}; auth ${(msg.ext.supportedAuth?.algs ?? []).map((a) => a.id).join(',')}`, null);
      this.firedPfKey.delete(msg.seq);
      return;
    }
    if (msg.pid === this.pid) {
      const p = this.pendingPfKey.get(msg.seq);
      if (p && p.task.onPfKeyReply) {
        this.pendingPfKey.delete(msg.seq);
        p.task.onPfKeyReply(this, p.sa, msg);
        if (p.sa.active?.tasks.includes(p.task)) this.tryBuildRequest(p.sa);
        else if (p.sa.passive?.tasks.includes(p.task)) this.tryBuildResponse(p.sa);
        return;
      }
      if (this.firedPfKey.has(msg.seq)) {
        const sa = this.firedPfKey.get(msg.seq) ?? null;
        this.firedPfKey.delete(msg.seq);
        if (msg.errno !== 0)
          this.log('error', `PF_KEY ${SadbMsgType[msg.type]} failed with errno ${msg.errno}`, sa, {
            childSpi: msg.ext.sa?.spi,
          });
        return;
      }
    }
    if (msg.type === SadbMsgType.ACQUIRE) this.acquire(msg);
    else if (msg.type === SadbMsgType.EXPIRE) this.expire(msg);
  }

  private acquire(msg: PfKeyMessage): void {
    const dst = msg.ext.addressDst?.addr.address;
    const reqid = msg.ext.policy?.requests[0]?.reqid;
    const peer = this.peers.find((p) => p.remote.address === dst);
    if (!peer) {
      this.log('warn', `ACQUIRE for ${dst ?? '?'}: no configuration found`, null);
      return;
    }
    const child = peer.children.find((c) => reqid !== undefined && reqid !== 0 && (c.reqid ?? this.reqidByChild.get(c)) === reqid) ?? peer.children[0];
    const live = [...this.sas.values()].find((s) => s.peer === peer && (s.state === 'established' || s.state === 'connecting'));
    if (live?.state === 'connecting') return; // negotiation already under way
    if (live && child?.name && live.children.some((c) => c.config === child)) return;
    this.log('info', `ACQUIRE for ${dst}: starting negotiation`, live ?? null);
    this.initiate(peer.name, this.clock, child?.name);
  }

  private expire(msg: PfKeyMessage): void {
    const spi = msg.ext.sa?.spi;
    if (spi === undefined) return;
    const hard = msg.ext.lifetimeHard !== undefined && msg.ext.lifetimeSoft === undefined;
    for (const sa of this.sas.values()) {
      const child = sa.children.find((c) => c.inboundSpi === spi || c.outboundSpi === spi);
      if (!child) continue;
      if (hard) {
        this.log('info', 'hard lifetime expired: deleting CHILD_SA', sa, { childSpi: child.inboundSpi });
        if (sa.state === 'established') this.queueExchange(sa, ExchangeType.INFORMATIONAL, [new ChildDeleteTask([child])]);
        else removeChild(this, sa, child, 'hard lifetime expired');
      } else if (child.state === 'installed' && sa.state === 'established') {
        this.log('info', 'soft lifetime expired: rekeying CHILD_SA', sa, { childSpi: child.inboundSpi });
        this.rekeyChildSa(child.inboundSpi, this.clock);
      }
      return;
    }
  }

  // =====================================================================
  // inputs: datagrams

  /** A UDP payload arrived from `from` on our socket `to`. */
  receiveDatagram(data: Buffer, from: Endpoint, to: Endpoint, now: number): void {
    this.clock = now;
    const cls = classifyUdpPayload(data, to.port, from.port);
    if (cls.kind !== 'ike') return;
    const raw = cls.message;
    const h = parseHeader(raw);
    if (!h.ok) {
      this.log('debug', `dropping malformed datagram from ${from.address}[${from.port}]: ${h.error.message}`, null);
      return;
    }
    const hdr = h.value;
    if (hdr.majorVersion !== IKEV2_MAJOR_VERSION) {
      this.log('debug', `dropping IKE major version ${hdr.majorVersion} message from ${from.address}`, null);
      return;
    }
    const response = isResponse(hdr);
    let sa: IkeSa | undefined;
    if (hdr.flags & HeaderFlag.INITIATOR) {
      if (hdr.exchangeType === ExchangeType.IKE_SA_INIT && !response && hdr.spiR === 0n) {
        this.ikeSaInitRequest(raw, hdr.spiI, from, to);
        return;
      }
      sa = this.sas.get(hdr.spiR);
      if (sa && (sa.role !== 'responder' || sa.spiI !== hdr.spiI)) sa = undefined;
    } else {
      sa = this.sas.get(hdr.spiI);
      if (sa && sa.role !== 'initiator') sa = undefined;
    }
    if (!sa || sa.state === 'dead') {
      this.log('debug', `no IKE_SA found for message from ${from.address}[${from.port}] (SPIs ${formatIkeSpi(hdr.spiI)}_i ${formatIkeSpi(hdr.spiR)}_r)`, null);
      return;
    }
    if (response) this.handleResponse(sa, raw, hdr.messageId, hdr.exchangeType, hdr.spiR);
    else this.handleRequest(sa, raw, hdr.messageId, hdr.exchangeType, from, to);
  }

  /** Decrypt (and reassemble, RFC 7383) an SK-protected message. 'partial' = waiting for fragments. */
  private openProtected(sa: IkeSa, raw: Buffer, messageId: number): { ok: true; payloads: InnerPayload[] } | { ok: false; error: WireError | null } | 'partial' {
    const parsed = parseMessage(raw);
    if (!parsed.ok) return { ok: false, error: parsed.error };
    const last = parsed.value.payloads[parsed.value.payloads.length - 1];
    if (!sa.skIn || !last || (last.type !== PayloadType.SK && last.type !== PayloadType.SKF)) return { ok: false, error: null };
    const plain = sa.skIn.openRaw(raw, parsed.value);
    if (!plain) {
      this.log('warn', 'integrity check of the SK payload failed: message dropped', sa, { messageId });
      return { ok: false, error: null };
    }
    if (last.type === PayloadType.SK) {
      const inner = parseInnerPayloads(plain, last.firstInner);
      return inner.ok ? { ok: true, payloads: inner.value } : { ok: false, error: inner.error };
    }
    // RFC 7383 §2.6 reassembly
    if (last.totalFragments === 0 || last.fragmentNumber === 0 || last.fragmentNumber > last.totalFragments) return { ok: false, error: null };
    let r = sa.reassembly;
    if (!r || r.messageId !== messageId || r.total !== last.totalFragments) {
      r = { messageId, total: last.totalFragments, firstInner: 0, parts: new Map() };
      sa.reassembly = r;
    }
    if (last.fragmentNumber === 1) r.firstInner = last.firstInner;
    r.parts.set(last.fragmentNumber, Buffer.from(plain));
    if (r.parts.size < r.total) return 'partial';
    const all: Buffer[] = [];
    for (let i = 1; i <= r.total; i++) all.push(r.parts.get(i)!);
    sa.reassembly = null;
    const inner = parseInnerPayloads(Buffer.concat(all), r.firstInner);
    return inner.ok ? { ok: true, payloads: inner.value } : { ok: false, error: inner.error };
  }

  private handleResponse(sa: IkeSa, raw: Buffer, messageId: number, exchangeType: number, spiR: bigint): void {
    const a = sa.active;
    if (!a || !a.packets || a.messageId !== messageId || a.exchangeType !== exchangeType) {
      this.log('debug', `unexpected response with message ID ${messageId}`, sa, { messageId });
      return;
    }
    let payloads: readonly Payload[];
    if (exchangeType === ExchangeType.IKE_SA_INIT) {
      const parsed = parseMessage(raw);
      if (!parsed.ok) {
        this.log('warn', `malformed IKE_SA_INIT response: ${parsed.error.message} at offset ${parsed.error.offset}`, sa);
        return;
      }
      payloads = parsed.value.payloads;
      if (findPayload(payloads, PayloadType.SA)) {
        sa.spiR = spiR;
        sa.initResponse = Buffer.from(raw);
      }
    } else {
      const opened = this.openProtected(sa, raw, messageId);
      if (opened === 'partial') return;
      if (!opened.ok) {
        if (opened.error) {
          // RFC 7296 §2.21.1/2: a response we cannot parse ends the IKE SA
          this.log('error', `malformed ${exchangeName(exchangeType)} response: ${opened.error.message}`, sa, { messageId });
          this.destroyIkeSa(sa, 'invalid syntax in response');
        }
        return;
      }
      payloads = opened.payloads;
    }
    sa.lastInboundAt = this.clock;
    if (this.debugLogs()) this.log('debug', `received ${exchangeName(exchangeType)} response ${messageId} [ ${describePayloads(payloads)} ]`, sa, { messageId, exchange: exchangeName(exchangeType) });
    const results: TaskResult[] = a.tasks.map((t) => (t.processResponse ? t.processResponse(this, sa, payloads) : 'done'));
    if (results.includes('failed')) {
      if (exchangeType === ExchangeType.IKE_SA_INIT || exchangeType === ExchangeType.IKE_AUTH) this.log('error', 'phase1 negotiation failed', sa);
      if (exchangeType === ExchangeType.IKE_AUTH && sa.rejectedPeerAuth && sa.skOut) {
        // RFC 7296 §2.21.2: the initiator reports it in a separate INFORMATIONAL exchange (sent once)
        this.send(sa, this.encode(sa, ExchangeType.INFORMATIONAL, messageId + 1, false, [notify(NotifyType.AUTHENTICATION_FAILED)]));
      }
      this.destroyIkeSa(sa, `${exchangeName(exchangeType)} failed`);
      return;
    }
    if (results.includes('retry')) {
      a.packets = null;
      a.retransmits = 0;
      sa.spiR = 0n;
      this.tryBuildRequest(sa);
      return;
    }
    if (results.includes('destroy')) {
      this.destroyIkeSa(sa, 'deleted');
      return;
    }
    sa.active = null;
    sa.nextMidOut = messageId + 1;
    if (sa.state === 'established') sa.compact(); // memory layout of an established SA (ike-sa.ts)
    if (exchangeType === ExchangeType.IKE_SA_INIT && sa.udpEncap) {
      const f = floatPorts(sa.local, sa.remote);
      sa.local = f.local;
      sa.remote = f.remote;
      this.log('info', `NAT detected (here: ${sa.natHere}, there: ${sa.natThere}${sa.peer.forceEncap ? ', forced' : ''}): switching to port ${sa.remote.port}`, sa);
    }
    this.startNext(sa);
  }

  private handleRequest(sa: IkeSa, raw: Buffer, messageId: number, exchangeType: number, from: Endpoint, to: Endpoint): void {
    if (sa.lastResponse && messageId === sa.lastResponse.messageId && messageId === sa.expectedMidIn - 1) {
      this.log('info', `received retransmit of request with ID ${messageId}, retransmitting response`, sa, { messageId });
      this.send(sa, sa.lastResponse.packets);
      return;
    }
    if (messageId !== sa.expectedMidIn || sa.passive) {
      this.log('debug', `dropping request with message ID ${messageId}, expected ${sa.expectedMidIn}`, sa, { messageId });
      return;
    }
    const opened = this.openProtected(sa, raw, messageId);
    if (opened === 'partial') return;
    if (!opened.ok) {
      if (opened.error) {
        const e = opened.error;
        const answer =
          e.code === 'unsupported-critical-payload'
            ? notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, Buffer.from([e.payloadType ?? 0]))
            : notify(NotifyType.INVALID_SYNTAX);
        this.log('warn', `malformed ${exchangeName(exchangeType)} request: ${e.message} (offset ${e.offset} in the ${e.where === 'sk' ? 'SK plaintext' : 'message'})`, sa, { messageId });
        this.sendResponse(sa, exchangeType, messageId, [answer]);
        if (exchangeType === ExchangeType.IKE_AUTH && sa.state === 'connecting') this.destroyIkeSa(sa, 'invalid IKE_AUTH request');
      }
      return;
    }
    const payloads = opened.payloads;
    sa.lastInboundAt = this.clock;
    // RFC 7296 §2.23 / RFC 4555 §3.5: only IKE_AUTH (port float), a NAT-mapping change or
    // MOBIKE UPDATE_SA_ADDRESSES (its task) move the IKE SA; a stale request does not.
    sa.requestPath = { from: { ...from }, to: { ...to } };
    const follow = followsRequestAddresses(sa, exchangeType, payloads);
    if (follow !== 'none') sa.remote = { ...from };
    if (follow === 'both') sa.local = { ...to };
    if (follow !== 'both' && (sa.remote.address !== from.address || sa.local.address !== to.address))
      this.log('debug', `request from ${from.address}[${from.port}] to ${to.address}[${to.port}] does not move the IKE_SA (RFC 4555 §3.5, RFC 7296 §2.23)`, sa, { messageId });
    if (this.debugLogs()) this.log('debug', `received ${exchangeName(exchangeType)} request ${messageId} [ ${describePayloads(payloads)} ]`, sa, { messageId, exchange: exchangeName(exchangeType) });
    const tasks = this.passiveTasks(sa, exchangeType, payloads);
    if (!tasks) {
      this.sendResponse(sa, exchangeType, messageId, [notify(NotifyType.INVALID_SYNTAX)]);
      return;
    }
    sa.passive = { exchangeType, tasks, messageId };
    for (const t of tasks) t.processRequest?.(this, sa, payloads);
    for (const t of tasks) t.prepare?.(this, sa);
    this.tryBuildResponse(sa);
  }

  /** strongSwan task_manager_v2 process_request: which tasks answer this request. */
  private passiveTasks(sa: IkeSa, exchangeType: number, payloads: readonly Payload[]): Task[] | null {
    switch (exchangeType) {
      case ExchangeType.IKE_AUTH:
        if (sa.state !== 'connecting' || sa.role !== 'responder') return null;
        return [new IkeAuthTask(), new MobikeSupportTask(), new ChildCreateTask(null, { inIkeAuth: true })];
      case ExchangeType.CREATE_CHILD_SA: {
        // RFC 7296 §2.25.2: an IKE SA we have rekeyed (or are deleting) takes no new work
        if (sa.state === 'rekeyed' || sa.state === 'deleting') return [new TemporaryFailureTask(`the IKE_SA is ${sa.state}`)];
        if (sa.state !== 'established') return null;
        const rekey = findNotify(payloads, NotifyType.REKEY_SA);
        if (rekey) {
          const spi = rekey.spi.length === 4 ? rekey.spi.readUInt32BE(0) : -1;
          const old = sa.children.find((c) => c.outboundSpi === spi);
          if (!old) return [new ChildNotFoundTask()];
          // RFC 7296 §2.25.1: a CHILD_SA we have already rekeyed or are deleting
          if (old.state === 'rekeyed' || old.state === 'deleting') return [new TemporaryFailureTask(`CHILD_SA ${old.config.name} is ${old.state}`)];
          return [new ChildCreateTask(old.config, { inIkeAuth: false, rekeyOf: old })];
        }
        if (findPayload(payloads, PayloadType.TSi)) return [new ChildCreateTask(null, { inIkeAuth: false })];
        return [new IkeRekeyTask()];
      }
      case ExchangeType.INFORMATIONAL: {
        if (findNotify(payloads, NotifyType.AUTHENTICATION_FAILED)) return [new AuthFailedNoticeTask()];
        const dels = payloads.filter((p) => p.type === PayloadType.DELETE);
        if (dels.some((d) => d.type === PayloadType.DELETE && d.protocolId === ProtocolId.IKE)) return [new IkeDeleteTask()];
        if (dels.length) return [new ChildDeleteTask()];
        const mobike = sa.requestPath ? mobikeResponder(payloads, sa.requestPath) : null;
        return [mobike ?? new IkeDpdTask()];
      }
      default:
        return null;
    }
  }

  // ---- IKE_SA_INIT as responder (RFC 7296 §1.2, §2.6)

  private ikeSaInitRequest(raw: Buffer, spiI: bigint, from: Endpoint, to: Endpoint): void {
    const key = `${from.address}|${from.port}|${spiI.toString(16)}`;
    const existing = this.halfOpenByInit.get(key);
    if (existing) {
      if (existing.lastResponse && existing.initRequest.equals(raw)) {
        this.log('info', 'received retransmit of IKE_SA_INIT request, retransmitting response', existing);
        this.send(existing, existing.lastResponse.packets);
      }
      return;
    }
    const parsed = parseMessage(raw);
    if (!parsed.ok) {
      const e = parsed.error;
      this.log('warn', `malformed IKE_SA_INIT request from ${from.address}[${from.port}]: ${e.message} (offset ${e.offset})`, null);
      if (e.code === 'unsupported-critical-payload')
        this.statelessReply(spiI, from, to, [notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, Buffer.from([e.payloadType ?? 0]))]);
      else if (e.code !== 'bad-length' && e.code !== 'truncated' && raw.length >= IKE_HEADER_BYTES) this.statelessReply(spiI, from, to, [notify(NotifyType.INVALID_SYNTAX)]);
      return;
    }
    const payloads = parsed.value.payloads;
    const candidates = this.peers.filter((p) => (p.remote.address === from.address || p.remote.address === '%any') && p.local.address === to.address);
    if (candidates.length === 0) {
      this.log('warn', `couldn't find configuration for ${from.address}[${from.port}]`, null);
      return;
    }
    const halfOpen = this.halfOpenCount();
    if (halfOpen >= this.maxHalfOpen) {
      this.log('warn', `dropping IKE_SA_INIT from ${from.address}: ${halfOpen} half-open IKE_SAs`, null);
      return;
    }
    const nonce = findPayload(payloads, PayloadType.NONCE);
    if (halfOpen >= this.cookieThreshold && nonce) {
      const want = this.cookieFor(nonce.nonce, from, spiI);
      const got = findNotify(payloads, NotifyType.COOKIE);
      if (!got || !got.data.equals(want)) {
        this.statelessReply(spiI, from, to, [notify(NotifyType.COOKIE, want)]);
        return;
      }
    }
    const verdict = evaluateIkeSaInit(this, payloads, candidates);
    if (verdict.kind === 'reply') {
      this.log('warn', `IKE_SA_INIT from ${from.address}[${from.port}]: ${verdict.reason}`, null);
      this.statelessReply(spiI, from, to, verdict.payloads);
      return;
    }
    if (verdict.kind === 'drop') return;
    const sa = new IkeSa(this.serial++, 'responder', spiI, { ...to }, { ...from }, verdict.peer, candidates, this.clock);
    sa.spiR = this.newIkeSpi();
    sa.initRequest = Buffer.from(raw);
    sa.halfOpenDeadline = this.clock + this.halfOpenTimeoutMs;
    this.sas.set(sa.spiR, sa);
    this.halfOpenByInit.set(key, sa);
    sa.initKey = key;
    this.log('info', `${from.address}[${from.port}] is initiating an IKE_SA`, sa);
    const task = new IkeInitTask(verdict.chosen);
    sa.passive = { exchangeType: ExchangeType.IKE_SA_INIT, tasks: [task], messageId: 0 };
    task.processRequest(this, sa, payloads);
    this.tryBuildResponse(sa);
  }

  /** RFC 7296 §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>). */
  private cookieFor(ni: Buffer, from: Endpoint, spiI: bigint): Buffer {
    const prf = (this.crypto.prf(5) ?? this.crypto.prf(2))!.prf;
    const spi = Buffer.alloc(8);
    spi.writeBigUInt64BE(spiI);
    return Buffer.concat([Buffer.from([1]), prf.compute(this.cookieSecret, Buffer.concat([ni, Buffer.from(from.address), spi]))]);
  }

  private halfOpenCount(): number {
    let n = 0;
    for (const sa of this.halfOpenByInit.values()) if (sa.state === 'connecting') n++;
    return n;
  }

  private statelessReply(spiI: bigint, from: Endpoint, to: Endpoint, payloads: Payload[]): void {
    const m = generateMessage(
      { spiI, spiR: 0n, majorVersion: 2, minorVersion: 0, exchangeType: ExchangeType.IKE_SA_INIT, flags: HeaderFlag.RESPONSE, messageId: 0 },
      payloads,
    );
    this.actions.push({ kind: 'datagram', from: to, to: from, data: frameIkeMessage(m, to.port, from.port) });
  }

  // =====================================================================
  // the task manager (window of 1)

  queueExchange(sa: IkeSa, exchangeType: number, tasks: Task[]): void {
    sa.queued.push({ exchangeType, tasks } satisfies QueuedExchange);
    this.startNext(sa);
  }

  private startNext(sa: IkeSa): void {
    if (sa.active || sa.state === 'dead') return;
    const next = sa.queued.shift();
    if (!next) return;
    sa.active = { exchangeType: next.exchangeType, tasks: next.tasks, messageId: sa.nextMidOut, packets: null, retransmits: 0, deadline: Infinity };
    for (const t of next.tasks) t.prepare?.(this, sa);
    this.tryBuildRequest(sa);
  }

  /**
   * The retransmission schedule of a request: a liveness check uses racoon's
   * dpd_retry (seconds between tries, not backed off) and dpd_maxfail (tries in
   * all) when configured; everything else the engine's policy (RFC 7296 §2.1).
   */
  private policyFor(sa: IkeSa, tasks: Task[]): RetransmitPolicy {
    const retry = sa.peer.dpdRetrySeconds;
    const maxfail = sa.peer.dpdMaxFail;
    if (tasks.some((t) => t.kind === 'ike_dpd') && retry !== undefined && maxfail !== undefined && retry > 0 && maxfail > 0)
      return { timeoutMs: retry * 1000, base: 1, tries: maxfail - 1 };
    return this.retransmitPolicy;
  }

  /**
   * Peers found dead since the last call (an exchange on an established IKE SA
   * went unanswered, RFC 7296 §2.4), whose IKE SA and CHILD_SAs are deleted:
   * the daemon fires racoon's phase1_dead hook for them.
   */
  pollDeadPeers(): DeadPeer[] {
    const d = this.deadPeers;
    this.deadPeers = [];
    return d;
  }

  private tryBuildRequest(sa: IkeSa): void {
    const a = sa.active;
    if (!a || a.packets || a.tasks.some((t) => t.pending?.())) return;
    const out: Payload[] = [];
    for (const t of a.tasks) t.buildRequest?.(this, sa, out);
    const packets = this.encode(sa, a.exchangeType, a.messageId, false, out);
    if (a.exchangeType === ExchangeType.IKE_SA_INIT) sa.initRequest = packets[0];
    a.packets = packets;
    a.deadline = this.clock + retransmitDelay(this.policyFor(sa, a.tasks), 0);
    if (this.debugLogs()) this.log('debug', `sending ${exchangeName(a.exchangeType)} request ${a.messageId} [ ${describePayloads(out)} ]`, sa, { messageId: a.messageId, exchange: exchangeName(a.exchangeType) });
    this.send(sa, packets);
  }

  private tryBuildResponse(sa: IkeSa): void {
    const p = sa.passive;
    if (!p || p.tasks.some((t) => t.pending?.())) return;
    const out: Payload[] = [];
    const results = p.tasks.map((t) => (t.buildResponse ? t.buildResponse(this, sa, out) : 'done'));
    sa.passive = null;
    const packets = this.sendResponse(sa, p.exchangeType, p.messageId, out);
    if (p.exchangeType === ExchangeType.IKE_SA_INIT) sa.initResponse = packets[0];
    if (sa.state === 'established') sa.compact(); // memory layout of an established SA (ike-sa.ts)
    if (sa.state === 'established' && sa.initKey) {
      this.halfOpenByInit.delete(sa.initKey);
      sa.initKey = null;
    }
    if (results.includes('failed') || results.includes('destroy')) this.destroyIkeSa(sa, results.includes('destroy') ? 'deleted by the peer' : `${exchangeName(p.exchangeType)} failed`);
  }

  private sendResponse(sa: IkeSa, exchangeType: number, messageId: number, out: Payload[]): Buffer[] {
    const packets = this.encode(sa, exchangeType, messageId, true, out);
    sa.lastResponse = { messageId, packets };
    sa.expectedMidIn = messageId + 1;
    if (this.debugLogs()) this.log('debug', `sending ${exchangeName(exchangeType)} response ${messageId} [ ${describePayloads(out)} ]`, sa, { messageId, exchange: exchangeName(exchangeType) });
    this.send(sa, packets);
    return packets;
  }

  /** Generate (and protect, and fragment) one message. */
  private encode(sa: IkeSa, exchangeType: number, messageId: number, response: boolean, payloads: Payload[]): Buffer[] {
    const header = {
      spiI: sa.spiI,
      spiR: sa.spiR,
      majorVersion: 2,
      minorVersion: 0,
      exchangeType,
      flags: (sa.isInitiator ? HeaderFlag.INITIATOR : 0) | (response ? HeaderFlag.RESPONSE : 0),
      messageId,
    };
    if (exchangeType === ExchangeType.IKE_SA_INIT) return [generateMessage(header, payloads)];
    const sk = sa.skOut!;
    const inner = payloads as InnerPayload[];
    const plain = generateChain(inner);
    const first = inner.length ? payloadTypeOf(inner[0]) : PayloadType.NONE;
    const limit = sa.peer.fragmentSize ?? FRAGMENT_SIZE_DEFAULT;
    const whole = IKE_HEADER_BYTES + sk.overhead(plain.length) + plain.length;
    if (!(sa.peer.fragmentation && sa.peerSupportsFragmentation && whole > limit)) {
      return [sk.sealRaw(header, PayloadType.SK, first, plain, this.random.bytes(sk.ivBytes), null)];
    }
    // RFC 7383 §2.5.1: every fragment, with its headers, fits the limit
    const room = limit - IKE_HEADER_BYTES - 8 - sk.ivBytes - sk.icvBytes - sk.blockBytes;
    const chunk = Math.max(1, room);
    const total = Math.ceil(plain.length / chunk);
    const out: Buffer[] = [];
    for (let i = 0; i < total; i++) {
      const part = plain.subarray(i * chunk, (i + 1) * chunk);
      out.push(sk.sealRaw(header, PayloadType.SKF, first, part, this.random.bytes(sk.ivBytes), { fragmentNumber: i + 1, totalFragments: total }));
    }
    this.log('debug', `splitting ${exchangeName(exchangeType)} message of ${whole} octets into ${total} fragments`, sa, { messageId });
    return out;
  }

  private send(sa: IkeSa, packets: Buffer[]): void {
    sa.lastSentAt = this.clock;
    for (const p of packets) this.actions.push({ kind: 'datagram', from: { ...sa.local }, to: { ...sa.remote }, data: frameIkeMessage(p, sa.local.port, sa.remote.port) });
  }

  // =====================================================================
  // Services for the tasks

  now(): number {
    return this.clock;
  }

  log(level: LogLevel, msg: string, sa: IkeSa | null, fields: LogFields = {}): void {
    if (level === 'debug' && !this.debugLogs()) return;
    const event: Ikev2LogEvent = { level, msg };
    if (sa) {
      event.peer = `${sa.remote.address}[${sa.remote.port}]`;
      event.ikeSpi = `${formatIkeSpi(sa.spiI)}_i ${formatIkeSpi(sa.spiR)}_r`;
      event.ikeSa = `${sa.peer.name}[${sa.serial}]`;
    }
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      if (k === 'childSpi' && typeof v === 'number') event.childSpi = formatChildSpi(v);
      else event[k] = v;
    }
    this.actions.push({ kind: 'log', event });
  }

  pfkeyRequest(sa: IkeSa, task: Task, msg: PfKeyRequest): void {
    const seq = this.seq++;
    this.pendingPfKey.set(seq, { sa, task });
    this.actions.push({ kind: 'pfkey', msg: { ...msg, seq, pid: this.pid } });
  }

  pfkeySend(sa: IkeSa | null, msg: PfKeyRequest): void {
    const seq = this.seq++;
    this.firedPfKey.set(seq, sa);
    if (this.firedPfKey.size > 4096) this.firedPfKey.delete(this.firedPfKey.keys().next().value as number);
    this.actions.push({ kind: 'pfkey', msg: { ...msg, seq, pid: this.pid } });
  }

  allocateReqid(child: ChildConfig): number {
    let r = this.reqidByChild.get(child);
    if (r === undefined) {
      r = this.nextReqid++;
      this.reqidByChild.set(child, r);
    }
    return r;
  }

  childProposalsFor(sa: IkeSa, child: ChildConfig): ChildProposalConfig[] {
    let list = child.proposals;
    if (this.esnUnsupported !== null && list.some((p) => p.esn.includes(EsnId.ESN))) {
      // RFC 7296 §3.3.2: offer (and accept) only NO_ESN; a proposal allowing nothing else goes
      list = list.filter((p) => p.esn.length === 0 || p.esn.includes(EsnId.NO_ESN)).map((p) => ({ ...p, esn: [EsnId.NO_ESN] }));
      this.reportOnce(sa, child, 'ESN', `CHILD_SA ${child.name}: Extended Sequence Numbers are neither offered nor accepted: ${this.esnUnsupported}`);
    }
    if (!this.kernelAlgorithms) return list;
    const { proposals, refused } = installableChildProposals(list, this.crypto, this.kernelAlgorithms);
    for (const r of refused)
      this.reportOnce(sa, child, r, `CHILD_SA ${child.name}: ESP algorithm ${r} is not supported by the kernel (not in its SADB_REGISTER list): neither offered nor accepted`);
    return proposals;
  }

  private reportOnce(sa: IkeSa, child: ChildConfig, what: string, msg: string): void {
    const key = `${child.name}|${what}`;
    if (this.reportedUninstallable.has(key)) return;
    if (this.reportedUninstallable.size > 1024) this.reportedUninstallable.clear();
    this.reportedUninstallable.add(key);
    this.log('warn', msg, sa);
  }

  peerConfigs(): readonly Ikev2PeerConfig[] {
    return this.peers;
  }

  otherSasWithPeer(sa: IkeSa): IkeSa[] {
    return [...this.sas.values()].filter(
      (o) => o !== sa && o.state === 'established' && o.peer === sa.peer && o.peerIdType === sa.peerIdType && o.peerIdData.equals(sa.peerIdData),
    );
  }

  destroyIkeSa(sa: IkeSa, reason: string): void {
    if (sa.state === 'dead') return;
    for (const ex of [sa.active, sa.passive, ...sa.queued]) for (const t of ex?.tasks ?? []) t.abort?.(this, sa);
    for (const [seq, p] of this.pendingPfKey) if (p.sa === sa) this.pendingPfKey.delete(seq);
    const successor = sa.ikeRekeyCollision?.created;
    sa.ikeRekeyCollision = null;
    // RFC 7296 §2.8.2: we answered the peer's rekey of this IKE SA; its new IKE SA keeps the CHILD_SAs
    if (successor && successor.state === 'established' && sa.children.length > 0) {
      sa.queued = []; // aborted above
      moveToRekeyed(this, sa, successor);
    }
    for (const c of [...sa.children]) removeChild(this, sa, c, 'IKE_SA deleted');
    sa.active = null;
    sa.passive = null;
    sa.queued = [];
    sa.state = 'dead';
    this.sas.delete(sa.localSpi);
    if (sa.initKey) this.halfOpenByInit.delete(sa.initKey);
    this.log('info', `IKE_SA ${sa.peer.name}[${sa.serial}] deleted: ${reason}`, sa);
  }

  adoptIkeSa(sa: IkeSa): void {
    if (sa.state === 'established') sa.compact(); // a rekeyed IKE SA (ike-rekey.ts) is complete when adopted
    this.sas.set(sa.localSpi, sa);
  }

  private bySerial(serial: number): IkeSa | undefined {
    return [...this.sas.values()].find((s) => s.serial === serial);
  }

  newSerial(): number {
    return this.serial++;
  }

  newIkeSpi(): bigint {
    for (;;) {
      const v = this.random.bytes(8).readBigUInt64BE(0);
      if (v !== 0n && !this.sas.has(v)) return v;
    }
  }
}

/** Answers a REKEY_SA for a CHILD_SA we do not have (RFC 7296 §1.3.3: CHILD_SA_NOT_FOUND). */
class ChildNotFoundTask implements Task {
  readonly kind = 'child_rekey' as const;
  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    svc.log('info', 'peer rekeys a CHILD_SA we do not have: CHILD_SA_NOT_FOUND', sa);
    out.push(notify(NotifyType.CHILD_SA_NOT_FOUND));
    return 'done';
  }
}


/** RFC 7296 §2.25: the request collides with a rekey or delete we already completed: TEMPORARY_FAILURE, the peer sorts it out. */
class TemporaryFailureTask implements Task {
  readonly kind = 'child_rekey' as const;
  constructor(private readonly why: string) {}
  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    svc.log('info', `CREATE_CHILD_SA refused with TEMPORARY_FAILURE: ${this.why}`, sa);
    out.push(notify(NotifyType.TEMPORARY_FAILURE));
    return 'done';
  }
}
