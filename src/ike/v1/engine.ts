/**
 * Ikev1Engine: the sans-I/O IKEv1 core (RFC 2408/2409, IPsec DOI RFC 2407,
 * NAT-T RFC 3947, DPD RFC 3706), shaped like Ikev2Engine: it is fed UDP
 * payloads, PF_KEY messages and timer ticks with an explicit `now` (ms) and
 * answers with actions (datagrams, PF_KEY requests, log events). No socket,
 * clock or random source of its own.
 *
 * Implemented: Main Mode with pre-shared keys (6 messages, 5/6 encrypted,
 * NAT-D in 3/4 and the float to 4500), Quick Mode with and without PFS
 * (3 messages), informational Delete/notify with HASH(1), DPD R-U-THERE/ACK,
 * INITIAL-CONTACT, and racoon's retransmission (retry counter × interval).
 * Keying through PF_KEY follows racoon (racoon-compat.md §5): GETSPI before
 * QI1/QR1, then UPDATE of the inbound SA followed by ADD of the outbound SA,
 * hard lifetime = the negotiated one, soft = 80 %.
 */
import { isIP } from 'node:net';
import { IpsecMode, NatTType, SadbMsgType, SadbSaState, SadbSaType, IPSEC_ULPROTO_ANY } from '../../pfkey/constants';
import type { PfKeyMessage, SadbAddress } from '../../pfkey/types';
import { formatIp, parseIp } from '../../util/ip';
import { Endpoint, IKE_PORT, NAT_T_PORT, classifyUdpPayload, frameIkeMessage } from '../common/natt';
import { checkLifetime, Ikev1PeerConfig, SainfoConfig, SelectorConfig } from './config';
import {
  AuthMethod,
  EncapsulationMode,
  ExchangeType,
  HeaderFlag,
  IPSEC_DOI,
  ISAKMP_HEADER_BYTES,
  ISAKMP_MINOR_VERSION,
  IdType,
  KEY_IKE,
  LifeType,
  NotifyType,
  PayloadType,
  Ph1Attr,
  Ph2Attr,
  ProtocolId,
  SIT_IDENTITY_ONLY,
  VENDOR_ID,
  formatCookie,
} from './constants';
import * as km from './keymat';
import {
  IdPayload,
  IsakmpHeader,
  Payload,
  Proposal,
  SaPayload,
  Transform,
  allPayloads,
  describePayloads,
  exchangeName,
  findPayload,
  generateMessage,
  generatePayload,
  generatePayloads,
  parseHeader,
  parsePayloads,
  payloadTypeOf,
  rawPayloads,
} from './payloads';
import { EspSuite, Ph1Suite, RandomSource, attr, dhGroup, espSuite, makeDh, numberAttr, ph1Cipher, ph1Suite } from './suites';
import type { DhExchange } from '../../crypto/dh';
import type { BlockCipher } from '../../crypto/cipher';
import { SadbSaFlags } from '../../pfkey/constants';
import { CfgServer, CfgSession, ModeCfgClientInfo } from './modecfg';
import { FRAGMENT_PAYLOAD, FragmentReassembler, ISAKMP_FRAG_MAXLEN, ReassemblyLimits, fragmentMessage, fragmentationVendorId, isFragmentationVendorId, parseFragment } from './frag';
import { XAUTH_VENDOR_ID, isPskAuthMethod, sameAuthMethod, xauthRole } from './xauth';
import { CERT_X509_SIGNATURE, rsaSignHash, rsaVerifyHash } from './sig';
import { nodePubkeyPort } from '../v2/x509-node-port';
import { certificateSubject, formatName } from '../v2/der';
import { applyPh1Move, type Ph1Move } from './migrate';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export interface Ikev1LogEvent {
  level: LogLevel;
  msg: string;
  peer?: string;
  cookies?: string;
  exchange?: string;
  messageId?: number;
  [field: string]: string | number | boolean | undefined;
}
export type PfKeyRequest = Omit<PfKeyMessage, 'seq' | 'pid'>;
export type Ikev1Action =
  | { kind: 'datagram'; from: Endpoint; to: Endpoint; data: Buffer }
  | { kind: 'pfkey'; msg: PfKeyMessage }
  | { kind: 'log'; event: Ikev1LogEvent };

export interface Ikev1EngineOptions {
  peers: Ikev1PeerConfig[];
  random: RandomSource;
  /** sadb_msg_pid stamped on our PF_KEY messages */
  pid: number;
  firstReqid?: number;
  /** racoon drops a half-open phase 1 after this long (ms) */
  halfOpenTimeoutMs?: number;
  /**
   * As Quick Mode responder, set the commit bit in QR1 and send CONNECTED
   * after QI2 (RFC 2408 §3.1/§4.8, as Cisco and strongSwan peers may do).
   * racoon never sets it as responder; the default is false.
   */
  responderCommitBit?: boolean;
  /** XAUTH server user source and Mode-Config server (racoon `mode_cfg {}`), see modecfg.ts */
  cfgServer?: CfgServer;
  /** IKE fragmentation: largest unfragmented datagram (racoon ISAKMP_FRAG_MAXLEN 552) and reassembly bounds */
  ikeFragSize?: number;
  fragLimits?: ReassemblyLimits;
}

type Ph1State = 'MM_I1_SENT' | 'MM_R1_SENT' | 'MM_I2_SENT' | 'MM_R2_SENT' | 'MM_I3_SENT' | 'AM_I1_SENT' | 'AM_R1_SENT' | 'ESTABLISHED' | 'EXPIRED' | 'DEAD';
type Ph2State = 'GETSPI' | 'QI1_SENT' | 'QR1_SENT' | 'WAIT_CONNECTED' | 'ESTABLISHED' | 'DEAD';

interface Retransmit {
  packet: Buffer;
  tries: number;
  deadline: number;
}

interface Ph2 {
  messageId: number;
  role: 'initiator' | 'responder';
  state: Ph2State;
  sainfo: SainfoConfig;
  iv: Buffer;
  ni: Buffer;
  nr: Buffer;
  dh: DhExchange | null;
  gqmxy: Buffer | null;
  pfsGroup: number | null;
  inboundSpi: number;
  outboundSpi: number;
  /** SA2 reqid of the outbound SA (SADB_ADD) */
  reqid: number;
  /** SA2 reqid of the inbound SA (SADB_GETSPI, SADB_UPDATE): racoon reqid_in */
  inboundReqid: number;
  mode: 'tunnel' | 'transport';
  chosen: { suite: EspSuite; lifetimeSeconds: number; lifetimeKilobytes: number | null } | null;
  /** the initiator's QI1 payloads after HASH(1), kept for the responder's reply */
  idci: IdPayload | null;
  idcr: IdPayload | null;
  /** the peer's SA payload from QI1 (responder) */
  offered: SaPayload | null;
  /** responder: the initiator's proposal and transform we accepted */
  choice: { prop: Proposal; t: Transform; responderLifetime: boolean } | null;
  retransmit: Retransmit | null;
  lastRecv: Buffer | null;
  lastSent: Buffer | null;
  /** a soft EXPIRE already started its renegotiation (the kernel sends one per direction) */
  rekeyStarted: boolean;
}

interface Ph1 {
  serial: number;
  peer: Ikev1PeerConfig;
  role: 'initiator' | 'responder';
  /** Main Mode or Aggressive Mode (RFC 2409 §5) */
  exchange: ExchangeType.IDENTITY_PROTECTION | ExchangeType.AGGRESSIVE;
  state: Ph1State;
  cookieI: bigint;
  cookieR: bigint;
  local: Endpoint;
  remote: Endpoint;
  peerNatt: boolean;
  peerDpd: boolean;
  /** the chosen transform authenticates with RSA signatures (RFC 2409 §5.1), not a pre-shared key */
  sigAuth: boolean;
  natDetected: boolean;
  saiBody: Buffer;
  /** Aggressive Mode: the initiator's ID payload body, for HASH_I */
  idiiBody: Buffer;
  suite: Ph1Suite | null;
  lifetimeSeconds: number;
  dh: DhExchange | null;
  gxi: Buffer;
  gxr: Buffer;
  ni: Buffer;
  nr: Buffer;
  keys: km.Ph1Keys | null;
  cipher: BlockCipher | null;
  iv: Buffer;
  /** the last CBC block of phase 1, seed of phase-2 IVs (RFC 2409 App. B) */
  lastPh1Block: Buffer;
  retransmit: Retransmit | null;
  lastRecv: Buffer | null;
  lastSent: Buffer | null;
  createdAt: number;
  establishedAt: number;
  /** when the phase-1 lifetime ran out and a new phase 1 was started to replace it (state EXPIRED) */
  expiredAt: number;
  /** an EXPIRED ISAKMP-SA whose replacement is up is deleted at this time */
  deleteAt: number;
  lastInboundAt: number;
  ph2s: Map<number, Ph2>;
  /** sainfos waiting for phase 1 */
  pendingPh2: SainfoConfig[];
  dpdSeq: number;
  dpdOutstanding: number;
  dpdNextAt: number;
}

export interface Ph1Info {
  serial: number;
  peer: string;
  role: 'initiator' | 'responder';
  state: string;
  cookieI: bigint;
  cookieR: bigint;
  local: Endpoint;
  remote: Endpoint;
  natDetected: boolean;
  ph2: { sainfo: string; state: string; inboundSpi: number; outboundSpi: number; reqid: number }[];
}

const NONCE_BYTES = 16;
/** racoon's replay window in SADB_UPDATE/ADD (racoon-compat.md §5). */
const RACOON_REPLAY = 4;
/** How long an expired ISAKMP-SA outlives its replacement before its Delete is sent (ms). */
const PH1_REKEY_DELETE_GRACE_MS = 2000;
/** racoon: soft lifetime = 80 % of hard. */
const SOFT_LIFETIME_PERCENT = 80;

export class Ikev1Engine {
  private readonly peers: Ikev1PeerConfig[];
  private readonly random: RandomSource;
  private readonly pid: number;
  private readonly halfOpenTimeoutMs: number;
  private readonly responderCommitBit: boolean;
  private readonly ph1s = new Map<bigint, Ph1>();
  private readonly pendingPfKey = new Map<number, { ph1: Ph1; ph2: Ph2 }>();
  private actions: Ikev1Action[] = [];
  private seq = 1;
  private serial = 1;
  private nextReqid: number;
  private readonly reqidBySainfo = new Map<SainfoConfig, number>();
  // XAUTH / Mode-Config / IKE fragmentation (xauth.ts, modecfg.ts, frag.ts)
  private readonly cfgServer: CfgServer | null;
  private readonly cfgSessions = new Map<Ph1, CfgSession>();
  private readonly fragments: FragmentReassembler;
  private readonly fragPeers = new WeakSet<Ph1>();
  private readonly ikeFragSize: number;
  private fragmentId = 1;

  constructor(opts: Ikev1EngineOptions) {
    this.peers = opts.peers;
    this.random = opts.random;
    this.pid = opts.pid;
    this.nextReqid = opts.firstReqid ?? 1;
    this.halfOpenTimeoutMs = opts.halfOpenTimeoutMs ?? 60000;
    this.responderCommitBit = opts.responderCommitBit ?? false;
    this.cfgServer = opts.cfgServer ?? null;
    this.fragments = new FragmentReassembler(opts.fragLimits);
    this.ikeFragSize = opts.ikeFragSize ?? ISAKMP_FRAG_MAXLEN;
  }

  // =====================================================================
  // outputs

  pollActions(): Ikev1Action[] {
    const a = this.actions;
    this.actions = [];
    return a;
  }

  getTimer(): number | null {
    let t = Infinity;
    for (const sa of this.ph1s.values()) {
      if (sa.retransmit) t = Math.min(t, sa.retransmit.deadline);
      if (sa.state === 'EXPIRED') t = Math.min(t, sa.deleteAt, sa.expiredAt + this.halfOpenTimeoutMs);
      else if (sa.state !== 'ESTABLISHED' && sa.state !== 'DEAD') t = Math.min(t, sa.createdAt + this.halfOpenTimeoutMs);
      for (const p2 of sa.ph2s.values()) if (p2.retransmit) t = Math.min(t, p2.retransmit.deadline);
      if (this.dpdActive(sa)) t = Math.min(t, sa.dpdNextAt);
      if (sa.state === 'ESTABLISHED' && sa.lifetimeSeconds > 0) t = Math.min(t, sa.establishedAt + sa.lifetimeSeconds * 1000);
      t = Math.min(t, this.cfgSessions.get(sa)?.nextTimer() ?? Infinity);
    }
    return t === Infinity ? null : t;
  }

  ph1Sas(): Ph1Info[] {
    return [...this.ph1s.values()].map((sa) => ({
      serial: sa.serial,
      peer: sa.peer.name,
      role: sa.role,
      state: sa.state,
      cookieI: sa.cookieI,
      cookieR: sa.cookieR,
      local: sa.local,
      remote: sa.remote,
      natDetected: sa.natDetected,
      ph2: [...sa.ph2s.values()].map((p) => ({ sainfo: p.sainfo.name, state: p.state, inboundSpi: p.inboundSpi, outboundSpi: p.outboundSpi, reqid: p.reqid })),
    }));
  }

  // =====================================================================
  // commands

  /** Start phase 1 (Main Mode) with a configured peer; Quick Mode for `sainfoName` (default: all) follows. */
  initiate(peerName: string, now: number, sainfoName?: string): number | null {
    const peer = this.peers.find((p) => p.name === peerName);
    if (!peer) {
      this.log('error', `no remote configuration named "${peerName}"`, null);
      return null;
    }
    if (peer.passive || peer.remote.address === 'anonymous') {
      this.log('error', `remote "${peerName}" is passive or anonymous: not initiating`, null);
      return null;
    }
    const sainfos = sainfoName ? peer.sainfos.filter((s) => s.name === sainfoName) : peer.sainfos;
    const existing = [...this.ph1s.values()].find((s) => s.peer === peer && s.state !== 'DEAD' && s.state !== 'EXPIRED');
    if (existing) {
      if (existing.state === 'ESTABLISHED') for (const s of sainfos) this.startQuickMode(existing, s, now);
      else existing.pendingPh2.push(...sainfos);
      return existing.serial;
    }
    return this.beginPh1(peer, sainfos, now);
  }

  /** racoon isakmp_ph1begin_i: a new phase 1 with the peer (Main Mode, or Aggressive when listed first). */
  private beginPh1(peer: Ikev1PeerConfig, sainfos: SainfoConfig[], now: number): number {
    const sa = this.newPh1(peer, 'initiator', this.randomCookie(), 0n, { address: peer.local.address, port: peer.local.port }, { address: peer.remote.address, port: peer.remote.port }, now);
    sa.pendingPh2.push(...sainfos);
    if (peer.exchangeModes[0] === 'aggressive') return this.initiateAggressive(sa, now);
    const sai: SaPayload = { type: PayloadType.SA, doi: IPSEC_DOI, situation: SIT_IDENTITY_ONLY, proposals: [this.ph1Proposal(peer)] };
    sa.saiBody = generatePayload(sai, 0).subarray(4);
    this.log('info', 'initiate new phase 1 negotiation', sa, { exchange: 'Main Mode' });
    this.sendPh1(sa, [sai, ...this.vendorIds(peer)], false, now);
    sa.state = 'MM_I1_SENT';
    return sa.serial;
  }

  /** Delete a phase 2 (informational Delete with our inbound SPI) and its kernel SAs. */
  deletePh2(serial: number, inboundSpi: number, now: number): boolean {
    const sa = [...this.ph1s.values()].find((s) => s.serial === serial);
    const p2 = sa && [...sa.ph2s.values()].find((p) => p.inboundSpi === inboundSpi && p.state === 'ESTABLISHED');
    if (!sa || !p2) return false;
    // held by a phase 1 still being negotiated (handed over from a deleted one): no protected channel yet
    if (isUp(sa)) this.sendInformational(sa, [{ type: PayloadType.D, doi: IPSEC_DOI, protocolId: ProtocolId.IPSEC_ESP, spis: [spiBuffer(p2.inboundSpi)] }], now);
    this.removePh2(sa, p2, true);
    return true;
  }

  /**
   * Mobile IPv6 MIGRATE (src/ike/v1/migrate.ts decides; docs/migrate.md): move a
   * phase 1 to new addresses (K set), abandon it silently (K clear) or drop a
   * phase 1 still negotiating. False if there is no such phase 1.
   */
  migratePh1(serial: number, move: Ph1Move, now: number): boolean {
    const sa = [...this.ph1s.values()].find((s) => s.serial === serial);
    if (!sa) return false;
    return applyPh1Move(sa, move, {
      forget: (reason) => this.killPh1(sa, reason),
      restartPh2: (p2) => {
        this.dropPh2State(sa, p2);
        this.startQuickMode(sa, p2.sainfo, now);
      },
      dropPh2: (p2) => this.dropPh2State(sa, p2),
      log: (msg) => this.log('info', msg, sa),
    });
  }

  private dropPh2State(sa: Ph1, p2: Ph2): void {
    sa.ph2s.delete(p2.messageId);
    p2.state = 'DEAD';
    p2.retransmit = null;
    for (const [seq, p] of this.pendingPfKey) if (p.ph2 === p2) this.pendingPfKey.delete(seq);
  }

  /** Delete a phase 1 (informational Delete with the cookies, RFC 2408 §3.15). */
  deletePh1(serial: number, now: number): boolean {
    const sa = [...this.ph1s.values()].find((s) => s.serial === serial);
    if (!sa || !isUp(sa)) return false;
    this.sendInformational(sa, [{ type: PayloadType.D, doi: IPSEC_DOI, protocolId: ProtocolId.ISAKMP, spis: [Buffer.concat([km.cookieBytes(sa.cookieI), km.cookieBytes(sa.cookieR)])] }], now);
    this.killPh1(sa, 'deleted by request');
    return true;
  }

  /**
   * racoon purge_remote (racoonctl delete-sa isakmp): a Delete (d2) for each IPsec-SA of the
   * phase 1 with SADB_DELETE of both directions, then the Delete of the ISAKMP-SA (d1).
   */
  purgePh1(serial: number, now: number): boolean {
    const sa = [...this.ph1s.values()].find((s) => s.serial === serial);
    if (!sa || !isUp(sa)) return false;
    for (const p2 of [...sa.ph2s.values()]) {
      if (p2.state !== 'ESTABLISHED') continue;
      this.log('info', `purging IPsec-SA spi=${p2.inboundSpi}`, sa, { messageId: p2.messageId });
      this.sendInformational(sa, [{ type: PayloadType.D, doi: IPSEC_DOI, protocolId: ProtocolId.IPSEC_ESP, spis: [spiBuffer(p2.inboundSpi)] }], now);
      this.removePh2(sa, p2, true);
    }
    return this.deletePh1(serial, now);
  }

  // =====================================================================
  // inputs

  receiveDatagram(data: Buffer, from: Endpoint, to: Endpoint, now: number): void {
    const c = classifyUdpPayload(data, to.port, from.port);
    if (c.kind !== 'ike') {
      if (c.kind === 'invalid') this.log('debug', `dropped datagram from ${from.address}[${from.port}]: ${c.reason}`, null);
      return;
    }
    const msg = c.message;
    const h = parseHeader(msg);
    if (!h.ok) {
      this.log('warn', `malformed ISAKMP packet from ${from.address}[${from.port}]: ${h.error.message}`, null, { offset: h.error.offset });
      return;
    }
    const { header, body } = h.value;
    if (header.nextPayload === FRAGMENT_PAYLOAD) return this.receiveFragment(header, body, from, to, now);
    const packet = msg.subarray(0, header.length);
    let sa = this.ph1s.get(header.cookieI);
    if (sa && sa.cookieR !== 0n && header.cookieR !== 0n && sa.cookieR !== header.cookieR) {
      this.log('warn', `unknown responder cookie ${formatCookie(header.cookieR)} from ${from.address}`, null);
      return;
    }
    if (!sa) {
      const ph1Exchange = header.exchangeType === ExchangeType.IDENTITY_PROTECTION || header.exchangeType === ExchangeType.AGGRESSIVE;
      if (!ph1Exchange || header.cookieR !== 0n || header.messageId !== 0) {
        this.log('warn', `unknown cookie ${formatCookie(header.cookieI)}:${formatCookie(header.cookieR)} ${exchangeName(header.exchangeType)} from ${from.address}: dropped`, null);
        return;
      }
      try {
        if (header.exchangeType === ExchangeType.AGGRESSIVE) this.respondAggressive1(header, body, packet, from, to, now);
        else this.respondMainMode1(header, body, packet, from, to, now);
      } catch (e) {
        this.log('warn', `dropped ${exchangeName(header.exchangeType)} message: ${e instanceof Error ? e.message : String(e)}`, null);
      }
      return;
    }
    // RFC 3947 §4: the peer floated to 4500, or (behind a NAT) got a new mapping: follow it once
    // phase 1 authenticated it. Without NAT a datagram from or to another address moves nothing:
    // after a MIGRATE (src/ike/v1/migrate.ts) a stale one must not pull the ISAKMP-SA back.
    if (sa.role === 'responder' || isUp(sa)) {
      if (from.port !== sa.remote.port || from.address !== sa.remote.address) {
        if (to.port === NAT_T_PORT && sa.local.port !== NAT_T_PORT) {
          sa.remote = { ...from };
          sa.local = { ...to };
        } else if (isUp(sa) && sa.natDetected) sa.remote = { ...from };
      }
    }
    sa.lastInboundAt = now;
    try {
      if (header.exchangeType === sa.exchange && header.messageId === 0) this.mainMode(sa, header, body, packet, to, now);
      else if (header.exchangeType === ExchangeType.QUICK) this.quickMode(sa, header, body, packet, now);
      else if (header.exchangeType === ExchangeType.INFORMATIONAL) this.informational(sa, header, body, now);
      else if (header.exchangeType === ExchangeType.TRANSACTION) this.transaction(sa, header, body, packet, now);
      else this.log('warn', `unsupported exchange ${exchangeName(header.exchangeType)}: dropped`, sa);
    } catch (e) {
      // a DH or crypto primitive rejecting peer input: drop the message, keep the daemon
      this.log('warn', `dropped ${exchangeName(header.exchangeType)} message: ${e instanceof Error ? e.message : String(e)}`, sa);
    }
  }

  receivePfKey(msg: PfKeyMessage, now: number): void {
    if (msg.pid === this.pid && msg.seq !== 0) {
      const pending = this.pendingPfKey.get(msg.seq);
      if (!pending) return;
      this.pendingPfKey.delete(msg.seq);
      if (msg.type === SadbMsgType.GETSPI) this.gotSpi(pending.ph1, pending.ph2, msg, now);
      else if (msg.errno !== 0) this.log('error', `pfkey ${SadbMsgType[msg.type]} failed: errno ${msg.errno}`, pending.ph1);
      return;
    }
    if (msg.type === SadbMsgType.EXPIRE && msg.ext.sa) {
      const spi = msg.ext.sa.spi;
      for (const sa of this.ph1s.values())
        for (const p2 of sa.ph2s.values()) {
          if (p2.state !== 'ESTABLISHED' || (p2.inboundSpi !== spi && p2.outboundSpi !== spi)) continue;
          const hard = msg.ext.lifetimeHard !== undefined && msg.ext.lifetimeSoft === undefined;
          // racoon pk_recvexpire: an initiator renegotiates on the soft EXPIRE (once, though the kernel
          // sends one per direction), a responder lets the phase 2 run out; hard → forget it
          if (p2.role === 'initiator' && !hard && !p2.rekeyStarted) {
            p2.rekeyStarted = true;
            this.log('info', `IPsec-SA soft lifetime expired: renegotiating phase 2 (spi=${spi})`, sa, { messageId: p2.messageId });
            this.quickModeFor(sa, p2.sainfo, now);
          }
          if (hard) {
            this.log('info', `IPsec-SA expired: ESP spi=${spi}`, sa, { messageId: p2.messageId });
            this.removePh2(sa, p2, false);
          }
          return;
        }
    }
  }

  handleTimer(now: number): void {
    for (const sa of [...this.ph1s.values()]) {
      if (sa.state === 'EXPIRED') {
        // replaced (after the grace period), or the replacing phase 1 never came up: delete it (racoon isakmp_ph1delete)
        if (now >= sa.deleteAt || now >= sa.expiredAt + this.halfOpenTimeoutMs) this.deletePh1(sa.serial, now);
        else if (this.dpdActive(sa) && now >= sa.dpdNextAt) this.dpdTick(sa, now);
        continue;
      }
      if (sa.state !== 'ESTABLISHED' && sa.state !== 'DEAD' && now >= sa.createdAt + this.halfOpenTimeoutMs) {
        this.killPh1(sa, 'phase1 negotiation failed due to time up');
        continue;
      }
      if (sa.retransmit && now >= sa.retransmit.deadline) {
        if (!this.retransmit(sa, sa.retransmit, now)) {
          this.killPh1(sa, 'phase1 negotiation failed due to time up');
          continue;
        }
      }
      for (const p2 of [...sa.ph2s.values()])
        if (p2.retransmit && now >= p2.retransmit.deadline && !this.retransmit(sa, p2.retransmit, now)) {
          this.log('error', 'phase2 negotiation failed due to time up waiting for phase2', sa, { messageId: p2.messageId });
          this.removePh2(sa, p2, true);
        }
      if (sa.state === 'ESTABLISHED' && sa.lifetimeSeconds > 0 && now >= sa.establishedAt + sa.lifetimeSeconds * 1000) {
        this.ph1Expire(sa, now);
        continue;
      }
      if (this.dpdActive(sa) && now >= sa.dpdNextAt) this.dpdTick(sa, now);
      this.cfgSessions.get(sa)?.tick(now);
    }
  }

  // =====================================================================
  // Main Mode (RFC 2409 §5 with pre-shared keys)

  private respondMainMode1(header: IsakmpHeader, body: Buffer, packet: Buffer, from: Endpoint, to: Endpoint, now: number): void {
    const peer =
      this.peers.find((p) => p.remote.address === from.address && p.exchangeModes.includes('main')) ??
      this.peers.find((p) => p.remote.address === 'anonymous' && p.exchangeModes.includes('main'));
    if (!peer) {
      this.log('error', `couldn't find configuration for ${from.address}`, null);
      return;
    }
    const parsed = parsePayloads(body, header.nextPayload);
    if (!parsed.ok) {
      this.log('warn', `malformed Main Mode message 1 from ${from.address}: ${parsed.error.message}`, null, { offset: parsed.error.offset });
      return;
    }
    const sai = findPayload(parsed.value, PayloadType.SA);
    const raw = rawPayloads(body, header.nextPayload)?.find((r) => r.type === PayloadType.SA);
    if (!sai || !raw) return this.log('warn', 'Main Mode message 1 without SA payload', null);
    const choice = this.choosePh1(peer, sai);
    if (typeof choice === 'string') {
      this.log('error', `no suitable proposal found: ${choice}`, null, { peer: peer.name });
      this.log('error', 'phase1 negotiation failed', null, { peer: peer.name });
      return;
    }
    const sa = this.newPh1(peer, 'responder', header.cookieI, this.randomCookie(), { ...to }, { ...from }, now);
    sa.saiBody = Buffer.from(raw.raw.subarray(4));
    sa.suite = choice.suite;
    sa.lifetimeSeconds = choice.lifetime;
    sa.sigAuth = isRsaSigAuthMethod(attr(choice.transform.attributes, Ph1Attr.AUTHENTICATION_METHOD));
    this.noteVendorIds(sa, parsed.value);
    sa.lastRecv = Buffer.from(packet);
    const reply: SaPayload = { type: PayloadType.SA, doi: IPSEC_DOI, situation: SIT_IDENTITY_ONLY, proposals: [{ proposalNum: choice.proposalNum, protocolId: ProtocolId.ISAKMP, spi: Buffer.alloc(0), transforms: [choice.transform] }] };
    this.log('info', 'respond new phase 1 negotiation', sa, { exchange: 'Main Mode' });
    this.sendPh1(sa, [reply, ...this.vendorIds(peer).filter((v) => !isNattVendorId(v.data) || sa.peerNatt)], false, now);
    sa.state = 'MM_R1_SENT';
  }

  private mainMode(sa: Ph1, header: IsakmpHeader, body: Buffer, packet: Buffer, to: Endpoint, now: number): void {
    if (header.messageId !== 0) return this.log('warn', 'Main Mode message with non-zero message id', sa);
    if (sa.lastRecv && packet.equals(sa.lastRecv)) {
      // a retransmitted request: racoon answers with its last reply (isakmp.c check_recvdpkt)
      if ((sa.role === 'responder' || sa.state === 'ESTABLISHED') && sa.lastSent) this.emit(sa, sa.lastSent);
      return;
    }
    const encrypted = (header.flags & HeaderFlag.ENCRYPTION) !== 0;
    let plain = body;
    let nextIv: Buffer | null = null;
    if (encrypted) {
      const d = this.decrypt(sa, sa.iv, body);
      if (!d) return;
      plain = d.plain;
      nextIv = d.nextIv;
    }
    const parsed = parsePayloads(plain, header.nextPayload, ISAKMP_HEADER_BYTES, encrypted);
    if (!parsed.ok) {
      this.log('warn', `malformed Main Mode message: ${parsed.error.message}`, sa, { offset: parsed.error.offset });
      if (encrypted) this.log('error', 'phase1 negotiation failed: the encrypted message did not decrypt to valid payloads (mismatched pre-shared key?)', sa);
      return;
    }
    const pl = parsed.value;
    switch (sa.state) {
      case 'MM_I1_SENT':
        return this.mmI2(sa, header, pl, packet, now);
      case 'MM_R1_SENT':
        return this.mmR2(sa, pl, packet, to, now);
      case 'MM_I2_SENT':
        return this.mmI3(sa, pl, packet, to, now);
      case 'MM_R2_SENT':
        if (!encrypted || !nextIv) return this.log('warn', 'Main Mode message 5 not encrypted: dropped', sa);
        return this.mmR3(sa, pl, packet, nextIv, now);
      case 'MM_I3_SENT':
        if (!encrypted || !nextIv) return this.log('warn', 'Main Mode message 6 not encrypted: dropped', sa);
        return this.mmEstablishI(sa, pl, nextIv, now);
      case 'AM_I1_SENT':
        return this.amI2(sa, header, pl, packet, to, now);
      case 'AM_R1_SENT':
        return this.amR2(sa, pl, packet, nextIv, to, now);
      default:
        this.log('debug', `Main Mode message in state ${sa.state}: dropped`, sa);
    }
  }

  /** Initiator got MM2 (SA): send MM3 (KE, Ni, NAT-D). */
  private mmI2(sa: Ph1, header: IsakmpHeader, pl: Payload[], packet: Buffer, now: number): void {
    const sar = findPayload(pl, PayloadType.SA);
    const t = sar?.proposals[0]?.transforms[0];
    if (!sar || !t || sar.proposals.length !== 1 || sar.proposals[0].transforms.length !== 1) return this.log('warn', 'Main Mode message 2: the responder must choose one transform', sa);
    // the chosen transform must be one we offered
    const offered = this.ph1Proposal(sa.peer).transforms;
    if (!offered.some((o) => sameAttributes(o.attributes, t.attributes))) return this.log('error', 'phase1 negotiation failed: the responder chose a transform we did not offer', sa);
    const suite = ph1Suite(t.attributes);
    if (typeof suite === 'string') return this.log('error', `phase1 negotiation failed: ${suite}`, sa);
    sa.cookieR = header.cookieR;
    sa.suite = suite;
    sa.lifetimeSeconds = lifetimeOf(t.attributes, Ph1Attr.LIFE_TYPE, Ph1Attr.LIFE_DURATION) ?? 28800;
    sa.sigAuth = isRsaSigAuthMethod(attr(t.attributes, Ph1Attr.AUTHENTICATION_METHOD));
    if (sa.sigAuth && !sa.peer.cert) return this.log('error', 'phase1 negotiation failed: RSA signatures chosen but no certificate is configured', sa);
    this.noteVendorIds(sa, pl);
    sa.lastRecv = Buffer.from(packet);
    sa.dh = makeDh(suite.group, this.random);
    sa.gxi = sa.dh.publicValue;
    sa.ni = this.random.bytes(NONCE_BYTES);
    this.sendPh1(sa, [{ type: PayloadType.KE, keyData: sa.gxi }, { type: PayloadType.NONCE, data: sa.ni }, ...this.certRequests(sa), ...this.natD(sa)], false, now);
    sa.state = 'MM_I2_SENT';
  }

  /** Responder got MM3 (KE, Ni): send MM4 (KE, Nr, NAT-D) and derive the keys. */
  private mmR2(sa: Ph1, pl: Payload[], packet: Buffer, to: Endpoint, now: number): void {
    const ke = findPayload(pl, PayloadType.KE);
    const ni = findPayload(pl, PayloadType.NONCE);
    if (!ke || !ni || !sa.suite) return this.log('warn', 'Main Mode message 3 without KE or Nonce', sa);
    if (ni.data.length < 8 || ni.data.length > 256) return this.log('warn', `bad nonce length ${ni.data.length} (RFC 2409 §5: 8..256)`, sa);
    sa.dh = makeDh(sa.suite.group, this.random);
    const gxy = sa.dh.computeShared(ke.keyData);
    sa.gxi = Buffer.from(ke.keyData);
    sa.gxr = sa.dh.publicValue;
    sa.ni = Buffer.from(ni.data);
    sa.nr = this.random.bytes(NONCE_BYTES);
    this.checkNatD(sa, pl, to);
    sa.lastRecv = Buffer.from(packet);
    this.deriveKeys(sa, gxy);
    this.sendPh1(sa, [{ type: PayloadType.KE, keyData: sa.gxr }, { type: PayloadType.NONCE, data: sa.nr }, ...this.certRequests(sa), ...this.natD(sa)], false, now);
    sa.state = 'MM_R2_SENT';
  }

  /** Initiator got MM4: derive the keys, float to 4500 if a NAT was seen, send MM5 (IDii, HASH_I). */
  private mmI3(sa: Ph1, pl: Payload[], packet: Buffer, to: Endpoint, now: number): void {
    const ke = findPayload(pl, PayloadType.KE);
    const nr = findPayload(pl, PayloadType.NONCE);
    if (!ke || !nr || !sa.dh) return this.log('warn', 'Main Mode message 4 without KE or Nonce', sa);
    if (nr.data.length < 8 || nr.data.length > 256) return this.log('warn', `bad nonce length ${nr.data.length} (RFC 2409 §5: 8..256)`, sa);
    const gxy = sa.dh.computeShared(ke.keyData);
    sa.gxr = Buffer.from(ke.keyData);
    sa.nr = Buffer.from(nr.data);
    this.checkNatD(sa, pl, to);
    sa.lastRecv = Buffer.from(packet);
    this.deriveKeys(sa, gxy);
    if (sa.natDetected && sa.remote.port === IKE_PORT) {
      // RFC 3947 §4: switch to port 4500 from message 5 on, with the non-ESP marker
      sa.local = { ...sa.local, port: sa.local.port === IKE_PORT ? NAT_T_PORT : sa.local.port };
      sa.remote = { ...sa.remote, port: NAT_T_PORT };
      this.log('info', 'NAT detected: floating to port 4500', sa);
    }
    const idii = this.ph1Id(sa.peer);
    const hashI = km.ph1Hash(sa.suite!.hash, sa.keys!.skeyid, 'I', sa.gxi, sa.gxr, sa.cookieI, sa.cookieR, sa.saiBody, generatePayload(idii, 0).subarray(4));
    const proof = this.authPayloads(sa, hashI);
    if (!proof) return;
    const out: Payload[] = [idii, ...proof];
    if (sa.peer.initialContact && !this.hasOtherPh1(sa)) out.push(this.notify(ProtocolId.ISAKMP, NotifyType.INITIAL_CONTACT, Buffer.concat([km.cookieBytes(sa.cookieI), km.cookieBytes(sa.cookieR)])));
    this.sendPh1(sa, out, true, now);
    sa.state = 'MM_I3_SENT';
  }

  /** Responder got MM5: verify HASH_I, send MM6 (IDir, HASH_R); phase 1 is up. */
  private mmR3(sa: Ph1, pl: Payload[], packet: Buffer, nextIv: Buffer, now: number): void {
    const id = findPayload(pl, PayloadType.ID);
    const h = findPayload(pl, PayloadType.HASH);
    if (!id || (!h && !sa.sigAuth) || !sa.keys || !sa.suite) return this.log('warn', `Main Mode message 5 without ID or ${sa.sigAuth ? 'SIG' : 'HASH'}`, sa);
    const expected = km.ph1Hash(sa.suite.hash, sa.keys.skeyid, 'I', sa.gxi, sa.gxr, sa.cookieI, sa.cookieR, sa.saiBody, generatePayload(id, 0).subarray(4));
    const bad = this.verifyPeerAuth(sa, pl, id, expected);
    if (bad) {
      this.log('error', bad, sa);
      this.log('error', 'phase1 negotiation failed', sa);
      return;
    }
    if (!this.idMatches(sa.peer, id)) return this.log('error', 'phase1 negotiation failed: peer identifier does not match', sa);
    sa.iv = nextIv;
    sa.lastRecv = Buffer.from(packet);
    this.handleInitialContact(sa, pl);
    const idir = this.ph1Id(sa.peer);
    const hashR = km.ph1Hash(sa.suite.hash, sa.keys.skeyid, 'R', sa.gxi, sa.gxr, sa.cookieI, sa.cookieR, sa.saiBody, generatePayload(idir, 0).subarray(4));
    const proof = this.authPayloads(sa, hashR);
    if (!proof) return;
    this.sendPh1(sa, [idir, ...proof], true, now, false);
    this.ph1Established(sa, now);
  }

  /** Initiator got MM6: verify HASH_R; phase 1 is up; start the pending Quick Modes. */
  private mmEstablishI(sa: Ph1, pl: Payload[], nextIv: Buffer, now: number): void {
    const id = findPayload(pl, PayloadType.ID);
    const h = findPayload(pl, PayloadType.HASH);
    if (!id || (!h && !sa.sigAuth) || !sa.keys || !sa.suite) return this.log('warn', `Main Mode message 6 without ID or ${sa.sigAuth ? 'SIG' : 'HASH'}`, sa);
    const expected = km.ph1Hash(sa.suite.hash, sa.keys.skeyid, 'R', sa.gxi, sa.gxr, sa.cookieI, sa.cookieR, sa.saiBody, generatePayload(id, 0).subarray(4));
    const bad = this.verifyPeerAuth(sa, pl, id, expected);
    if (bad) {
      this.log('error', bad, sa);
      this.log('error', 'phase1 negotiation failed', sa);
      return;
    }
    if (!this.idMatches(sa.peer, id)) return this.log('error', 'phase1 negotiation failed: peer identifier does not match', sa);
    sa.iv = nextIv;
    sa.retransmit = null;
    this.ph1Established(sa, now);
  }

  // =====================================================================
  // Aggressive Mode (RFC 2409 §5 with pre-shared keys). Weak: HASH_R goes out
  // before the initiator has proved anything, so an eavesdropper or anyone
  // claiming the ID can run an offline dictionary attack on the PSK (ike-scan
  // psk-crack). Accepted as responder only when exchange_mode lists it.

  private initiateAggressive(sa: Ph1, now: number): number {
    const peer = sa.peer;
    sa.exchange = ExchangeType.AGGRESSIVE;
    // the KE goes in message 1, so every offered transform must use the first proposal's group
    const group = peer.ph1Proposals[0].dhGroup;
    const prop = this.ph1Proposal(peer);
    prop.transforms = prop.transforms.filter((t) => attr(t.attributes, Ph1Attr.GROUP_DESCRIPTION) === group);
    const suite = ph1Suite(prop.transforms[0].attributes);
    if (typeof suite === 'string') {
      this.killPh1(sa, `phase1 negotiation failed: ${suite}`);
      return sa.serial;
    }
    const sai: SaPayload = { type: PayloadType.SA, doi: IPSEC_DOI, situation: SIT_IDENTITY_ONLY, proposals: [prop] };
    sa.saiBody = generatePayload(sai, 0).subarray(4);
    sa.dh = makeDh(suite.group, this.random);
    sa.gxi = sa.dh.publicValue;
    sa.ni = this.random.bytes(NONCE_BYTES);
    const idii = this.ph1Id(peer);
    sa.idiiBody = generatePayload(idii, 0).subarray(4);
    this.log('info', 'initiate new phase 1 negotiation', sa, { exchange: 'Aggressive Mode' });
    this.sendPh1(sa, [sai, { type: PayloadType.KE, keyData: sa.gxi }, { type: PayloadType.NONCE, data: sa.ni }, idii, ...this.vendorIds(peer)], false, now);
    sa.state = 'AM_I1_SENT';
    return sa.serial;
  }

  private respondAggressive1(header: IsakmpHeader, body: Buffer, packet: Buffer, from: Endpoint, to: Endpoint, now: number): void {
    const candidates = this.peers.filter((p) => p.remote.address === from.address || p.remote.address === 'anonymous');
    const peer = candidates.find((p) => p.exchangeModes.includes('aggressive'));
    if (!peer) {
      this.log('error', candidates.length ? 'exchange Aggressive not allowed in any applicable rmconf.' : `couldn't find configuration for ${from.address}`, null);
      return;
    }
    const parsed = parsePayloads(body, header.nextPayload);
    const raw = rawPayloads(body, header.nextPayload);
    if (!parsed.ok || !raw) return this.log('warn', `malformed Aggressive Mode message 1 from ${from.address}`, null);
    const pl = parsed.value;
    const sai = findPayload(pl, PayloadType.SA);
    const ke = findPayload(pl, PayloadType.KE);
    const ni = findPayload(pl, PayloadType.NONCE);
    const id = findPayload(pl, PayloadType.ID);
    const rawSa = raw.find((r) => r.type === PayloadType.SA);
    const rawId = raw.find((r) => r.type === PayloadType.ID);
    if (!sai || !ke || !ni || !id || !rawSa || !rawId) return this.log('warn', 'Aggressive Mode message 1 lacks SA, KE, Nonce or ID', null);
    if (ni.data.length < 8 || ni.data.length > 256) return this.log('warn', `bad nonce length ${ni.data.length} (RFC 2409 §5: 8..256)`, null);
    if (!this.idMatches(peer, id)) return this.log('error', 'phase1 negotiation failed: peer identifier does not match', null, { peer: peer.name });
    const choice = this.choosePh1(peer, sai);
    if (typeof choice === 'string') {
      this.log('error', `no suitable proposal found: ${choice}`, null, { peer: peer.name });
      return;
    }
    if (isRsaSigAuthMethod(attr(choice.transform.attributes, Ph1Attr.AUTHENTICATION_METHOD))) {
      this.log('error', 'phase1 negotiation failed: Aggressive Mode with RSA signatures is not supported (use Main Mode)', null, { peer: peer.name });
      return;
    }
    const dh = makeDh(choice.suite.group, this.random);
    const gxy = dh.computeShared(ke.keyData);
    const sa = this.newPh1(peer, 'responder', header.cookieI, this.randomCookie(), { ...to }, { ...from }, now);
    sa.exchange = ExchangeType.AGGRESSIVE;
    sa.saiBody = Buffer.from(rawSa.raw.subarray(4));
    sa.idiiBody = Buffer.from(rawId.raw.subarray(4));
    sa.suite = choice.suite;
    sa.lifetimeSeconds = choice.lifetime;
    sa.dh = dh;
    sa.gxi = Buffer.from(ke.keyData);
    sa.gxr = dh.publicValue;
    sa.ni = Buffer.from(ni.data);
    sa.nr = this.random.bytes(NONCE_BYTES);
    sa.lastRecv = Buffer.from(packet);
    this.noteVendorIds(sa, pl);
    this.deriveKeys(sa, gxy);
    const idir = this.ph1Id(peer);
    const hashR = km.ph1Hash(choice.suite.hash, sa.keys!.skeyid, 'R', sa.gxi, sa.gxr, sa.cookieI, sa.cookieR, sa.saiBody, generatePayload(idir, 0).subarray(4));
    const reply: SaPayload = { type: PayloadType.SA, doi: IPSEC_DOI, situation: SIT_IDENTITY_ONLY, proposals: [{ proposalNum: choice.proposalNum, protocolId: ProtocolId.ISAKMP, spi: Buffer.alloc(0), transforms: [choice.transform] }] };
    this.log('info', 'respond new phase 1 negotiation', sa, { exchange: 'Aggressive Mode' });
    const vids = this.vendorIds(peer).filter((v) => !isNattVendorId(v.data) || sa.peerNatt);
    this.sendPh1(sa, [reply, { type: PayloadType.KE, keyData: sa.gxr }, { type: PayloadType.NONCE, data: sa.nr }, idir, { type: PayloadType.HASH, data: hashR }, ...vids, ...this.natD(sa)], false, now);
    sa.state = 'AM_R1_SENT';
  }

  /** Initiator got AM2: verify HASH_R, send AM3 (HASH_I [, NAT-D]); phase 1 is up. */
  private amI2(sa: Ph1, header: IsakmpHeader, pl: Payload[], packet: Buffer, to: Endpoint, now: number): void {
    const sar = findPayload(pl, PayloadType.SA);
    const t = sar?.proposals[0]?.transforms[0];
    const ke = findPayload(pl, PayloadType.KE);
    const nr = findPayload(pl, PayloadType.NONCE);
    const id = findPayload(pl, PayloadType.ID);
    const h = findPayload(pl, PayloadType.HASH);
    if (!sar || !t || !ke || !nr || !id || !h || !sa.dh) return this.log('warn', 'Aggressive Mode message 2 lacks SA, KE, Nonce, ID or HASH', sa);
    if (!this.ph1Proposal(sa.peer).transforms.some((o) => sameAttributes(o.attributes, t.attributes))) return this.log('error', 'phase1 negotiation failed: the responder chose a transform we did not offer', sa);
    const suite = ph1Suite(t.attributes);
    if (typeof suite === 'string' || suite.group.id !== dhGroup(sa.peer.ph1Proposals[0].dhGroup)?.id) return this.log('error', 'phase1 negotiation failed: unusable transform', sa);
    if (isRsaSigAuthMethod(attr(t.attributes, Ph1Attr.AUTHENTICATION_METHOD))) return this.log('error', 'phase1 negotiation failed: Aggressive Mode with RSA signatures is not supported (use Main Mode)', sa);
    if (nr.data.length < 8 || nr.data.length > 256) return this.log('warn', `bad nonce length ${nr.data.length}`, sa);
    const gxy = sa.dh.computeShared(ke.keyData);
    const cookieR = header.cookieR;
    const skeyid = km.skeyidPsk(suite.hash, sa.peer.psk, sa.ni, nr.data);
    const expected = km.ph1Hash(suite.hash, skeyid, 'R', sa.gxi, ke.keyData, sa.cookieI, cookieR, sa.saiBody, generatePayload(id, 0).subarray(4));
    if (!expected.equals(h.data)) {
      this.log('error', 'HASH mismatched', sa);
      this.log('error', 'phase1 negotiation failed', sa);
      return;
    }
    if (!this.idMatches(sa.peer, id)) return this.log('error', 'phase1 negotiation failed: peer identifier does not match', sa);
    sa.cookieR = cookieR;
    sa.suite = suite;
    sa.lifetimeSeconds = lifetimeOf(t.attributes, Ph1Attr.LIFE_TYPE, Ph1Attr.LIFE_DURATION) ?? 28800;
    sa.gxr = Buffer.from(ke.keyData);
    sa.nr = Buffer.from(nr.data);
    sa.lastRecv = Buffer.from(packet);
    this.noteVendorIds(sa, pl);
    this.deriveKeys(sa, gxy);
    this.checkNatD(sa, pl, to);
    if (sa.natDetected && sa.remote.port === IKE_PORT) {
      // RFC 3947 §4: in Aggressive Mode the initiator floats with message 3
      sa.local = { ...sa.local, port: sa.local.port === IKE_PORT ? NAT_T_PORT : sa.local.port };
      sa.remote = { ...sa.remote, port: NAT_T_PORT };
      this.log('info', 'NAT detected: floating to port 4500', sa);
    }
    const hashI = km.ph1Hash(suite.hash, sa.keys!.skeyid, 'I', sa.gxi, sa.gxr, sa.cookieI, sa.cookieR, sa.saiBody, sa.idiiBody);
    this.sendPh1(sa, [{ type: PayloadType.HASH, data: hashI }, ...this.natD(sa)], false, now, false);
    this.ph1Established(sa, now);
  }

  /** Responder got AM3: verify HASH_I (sent in the clear or encrypted); phase 1 is up. */
  private amR2(sa: Ph1, pl: Payload[], packet: Buffer, nextIv: Buffer | null, to: Endpoint, now: number): void {
    const h = findPayload(pl, PayloadType.HASH);
    if (!h || !sa.keys || !sa.suite) return this.log('warn', 'Aggressive Mode message 3 without HASH', sa);
    const expected = km.ph1Hash(sa.suite.hash, sa.keys.skeyid, 'I', sa.gxi, sa.gxr, sa.cookieI, sa.cookieR, sa.saiBody, sa.idiiBody);
    if (!expected.equals(h.data)) {
      this.log('error', 'HASH mismatched', sa);
      this.log('error', 'phase1 negotiation failed', sa);
      return;
    }
    if (nextIv) sa.iv = nextIv;
    sa.lastRecv = Buffer.from(packet);
    sa.retransmit = null;
    this.checkNatD(sa, pl, to);
    this.handleInitialContact(sa, pl);
    this.ph1Established(sa, now);
  }

  private ph1Established(sa: Ph1, now: number): void {
    sa.state = 'ESTABLISHED';
    sa.establishedAt = now;
    sa.lastInboundAt = now;
    sa.lastPh1Block = sa.iv;
    sa.dpdNextAt = now + sa.peer.dpdDelaySeconds * 1000;
    this.log('info', `ISAKMP-SA established ${sa.local.address}[${sa.local.port}]-${sa.remote.address}[${sa.remote.port}] spi:${formatCookie(sa.cookieI)}:${formatCookie(sa.cookieR)}`, sa);
    // racoon migrate_dying_ph12: the phase 2s of an expired ISAKMP-SA with this peer move to the
    // new one (their Deletes and EXPIREs are handled there), then the old one is deleted — after a
    // grace period: an Aggressive Mode initiator is up before the responder has seen message 3, and
    // a peer that gets the Delete first (strongSwan) would drop the IPsec-SAs with the old ISAKMP-SA
    for (const old of [...this.ph1s.values()]) {
      if (old === sa || old.state !== 'EXPIRED' || old.peer !== sa.peer || old.remote.address !== sa.remote.address) continue;
      this.adoptPh2s(old, sa);
      old.deleteAt = now + PH1_REKEY_DELETE_GRACE_MS;
      this.log('info', `phase 1 rekeyed: the expired ISAKMP-SA ${formatCookie(old.cookieI)}:${formatCookie(old.cookieR)} will be deleted`, sa);
    }
    this.cfgStart(sa, now);
    const pending = sa.pendingPh2;
    sa.pendingPh2 = [];
    for (const s of pending) this.startQuickMode(sa, s, now);
  }

  private adoptPh2s(from: Ph1, to: Ph1): void {
    for (const p2 of [...from.ph2s.values()]) {
      if (p2.state !== 'ESTABLISHED' || to.ph2s.has(p2.messageId)) continue;
      from.ph2s.delete(p2.messageId);
      to.ph2s.set(p2.messageId, p2);
    }
  }

  /**
   * racoon isakmp_ph1expire: with phase 2s still alive and `rekey force` (or `rekey on` with DPD
   * in use), a new phase 1 is negotiated and the expired one deleted once it is up; otherwise the
   * ISAKMP-SA is deleted (the IPsec-SAs live on in the kernel until their own lifetimes).
   */
  private ph1Expire(sa: Ph1, now: number): void {
    const peer = sa.peer;
    const live = [...sa.ph2s.values()].some((p) => p.state === 'ESTABLISHED');
    const mode = peer.ph1Rekey ?? 'on';
    const rekey = live && (mode === 'force' || (mode === 'on' && this.dpdActive(sa))) && !peer.passive && peer.remote.address !== 'anonymous';
    if (!rekey) {
      this.log('info', 'ISAKMP-SA expired', sa);
      this.deletePh1(sa.serial, now);
      return;
    }
    sa.state = 'EXPIRED';
    sa.expiredAt = now;
    this.log('info', 'ISAKMP-SA expired: renegotiating phase 1', sa);
    const fresh = [...this.ph1s.values()].some((s) => s !== sa && s.peer === peer && s.remote.address === sa.remote.address && s.state !== 'DEAD' && s.state !== 'EXPIRED');
    if (!fresh) this.beginPh1(peer, [], now);
  }

  /** A Quick Mode for `sainfo` with the peer of `sa`: on an established phase 1, after one being negotiated, or after a new one. */
  private quickModeFor(sa: Ph1, sainfo: SainfoConfig, now: number): void {
    const same = (s: Ph1) => s.peer === sa.peer && s.remote.address === sa.remote.address;
    const up = sa.state === 'ESTABLISHED' ? sa : [...this.ph1s.values()].find((s) => same(s) && s.state === 'ESTABLISHED');
    if (up) return this.startQuickMode(up, sainfo, now);
    const negotiating = [...this.ph1s.values()].find((s) => same(s) && s.state !== 'DEAD' && s.state !== 'EXPIRED');
    if (negotiating) {
      negotiating.pendingPh2.push(sainfo);
      return;
    }
    if (sa.peer.passive || sa.peer.remote.address === 'anonymous') return this.log('info', 'no ISAKMP-SA to renegotiate the phase 2 on, and this remote does not initiate', sa);
    this.beginPh1(sa.peer, [sainfo], now);
  }

  /** RFC 2409 §5.1: CR payloads (one per trusted CA, by subject DN) in Main Mode messages 3/4 with racoon `send_cr`. */
  private certRequests(sa: Ph1): Payload[] {
    const c = sa.peer.cert;
    if (!sa.sigAuth || !c || !c.sendCr) return [];
    const names = c.cas.map((ca) => certificateSubject(ca)).filter((n): n is Buffer => n !== null);
    if (names.length === 0) return [{ type: PayloadType.CR, encoding: CERT_X509_SIGNATURE, data: Buffer.alloc(0) }];
    return names.map((n) => ({ type: PayloadType.CR, encoding: CERT_X509_SIGNATURE, data: n }));
  }

  /** Our proof in Main Mode 5/6: HASH_I/R, or [CERT...] SIG_I/R (RFC 2409 §5.1). null (logged) if the key cannot sign. */
  private authPayloads(sa: Ph1, hash: Buffer): Payload[] | null {
    if (!sa.sigAuth) return [{ type: PayloadType.HASH, data: hash }];
    const c = sa.peer.cert!;
    const sig = rsaSignHash(c.privateKeyPem, hash);
    if (!sig) {
      this.log('error', 'phase1 negotiation failed: the private key cannot make an RSA signature', sa);
      return null;
    }
    const certs: Payload[] = c.sendCert ? c.certificates.map((d) => ({ type: PayloadType.CERT, encoding: CERT_X509_SIGNATURE, data: d })) : [];
    return [...certs, { type: PayloadType.SIG, data: sig }];
  }

  /**
   * The peer's proof: HASH_I/R equal to ours (PSK), or (signatures) the peer's certificate —
   * its CERT payload, or peers_certfile — chaining to a trusted CA (verify_cert), naming the
   * peer's ID, and its SIG over the HASH. Returns what is wrong, null when it holds.
   */
  private verifyPeerAuth(sa: Ph1, pl: Payload[], id: IdPayload, expected: Buffer): string | null {
    if (!sa.sigAuth) {
      const h = findPayload(pl, PayloadType.HASH);
      return h && expected.equals(h.data) ? null : 'HASH mismatched';
    }
    const c = sa.peer.cert!;
    const sig = findPayload(pl, PayloadType.SIG);
    if (!sig) return 'no SIG payload';
    const sent = allPayloads(pl, PayloadType.CERT).filter((x) => x.encoding === CERT_X509_SIGNATURE).map((x) => x.data);
    const ee = sent[0] ?? c.peerCertificate;
    if (!ee) return 'no certificate from the peer and no peers_certfile configured';
    if (c.peerCertificate && !ee.equals(c.peerCertificate)) return 'the certificate the peer sent is not the one of peers_certfile';
    if (c.verifyCert && !c.peerCertificate) {
      const why = nodePubkeyPort.validateChain([ee, ...sent.slice(1)], c.cas);
      if (why) return `certificate verification failed: ${why}`;
    }
    if (!nodePubkeyPort.certMatchesId(ee, id.idType, id.data)) {
      const subject = certificateSubject(ee);
      return `ID mismatched with the certificate: ${IdType[id.idType] ?? id.idType} is not named by "${(subject && formatName(subject)) ?? '?'}"`;
    }
    if (!rsaVerifyHash(ee, expected, sig.data)) return 'SIG mismatched (RSA signature over the HASH does not verify)';
    return null;
  }

  private deriveKeys(sa: Ph1, gxy: Buffer): void {
    const s = sa.suite!;
    // RFC 2409 §5: SKEYID = prf(Ni_b | Nr_b, g^xy) for signatures, prf(pre-shared-key, Ni_b | Nr_b) for PSK
    const skeyid = sa.sigAuth ? km.skeyidSig(s.hash, sa.ni, sa.nr, gxy) : km.skeyidPsk(s.hash, sa.peer.psk, sa.ni, sa.nr);
    sa.keys = km.deriveSkeyids(s.hash, skeyid, gxy, sa.cookieI, sa.cookieR);
    sa.cipher = ph1Cipher(s, km.encryptionKey(s.hash, sa.keys.skeyidE, s.keyBytes));
    sa.iv = km.ph1Iv(s.hash, sa.gxi, sa.gxr, s.encr.blockBytes);
  }

  // =====================================================================
  // Quick Mode (RFC 2409 §5.5)

  private startQuickMode(sa: Ph1, sainfo: SainfoConfig, now: number): void {
    if (this.cfgSessions.get(sa)?.blocksQuickMode()) {
      sa.pendingPh2.push(sainfo); // XAUTH / Mode-Config first (racoon: phase 2 waits for the client's configuration)
      return;
    }
    const p2 = this.newPh2(sa, this.randomMessageId(sa), 'initiator', sainfo);
    this.log('info', 'initiate new phase 2 negotiation', sa, { sainfo: sainfo.name, messageId: p2.messageId });
    this.requestSpi(sa, p2);
    void now;
  }

  private newPh2(sa: Ph1, messageId: number, role: 'initiator' | 'responder', sainfo: SainfoConfig): Ph2 {
    const p2: Ph2 = {
      messageId,
      role,
      state: 'GETSPI',
      sainfo,
      iv: km.ph2Iv(sa.suite!.hash, sa.lastPh1Block, messageId, sa.suite!.encr.blockBytes),
      ni: Buffer.alloc(0),
      nr: Buffer.alloc(0),
      dh: null,
      gqmxy: null,
      pfsGroup: sainfo.pfsGroup,
      inboundSpi: 0,
      outboundSpi: 0,
      reqid: this.reqidFor(sainfo),
      inboundReqid: sainfo.inboundReqid ?? this.reqidFor(sainfo),
      mode: sainfo.mode,
      chosen: null,
      idci: null,
      idcr: null,
      offered: null,
      choice: null,
      retransmit: null,
      lastRecv: null,
      lastSent: null,
      rekeyStarted: false,
    };
    sa.ph2s.set(messageId, p2);
    return p2;
  }

  /** racoon quick_i1prep / quick_r1prep: SADB_GETSPI {SA2(mode, reqid_in), SRC=peer, DST=self, [NAT-T]}. */
  private requestSpi(sa: Ph1, p2: Ph2): void {
    const req: PfKeyRequest = {
      type: SadbMsgType.GETSPI,
      satype: SadbSaType.ESP,
      errno: 0,
      ext: {
        sa2: { mode: p2.mode === 'tunnel' ? IpsecMode.TUNNEL : IpsecMode.TRANSPORT, sequence: 0, reqid: p2.inboundReqid },
        addressSrc: sadbAddress(sa.remote),
        addressDst: sadbAddress(sa.local),
      },
    };
    if (sa.natDetected) this.addNatT(req, sa.remote, sa.local);
    const seq = this.pfkeySend(req);
    this.pendingPfKey.set(seq, { ph1: sa, ph2: p2 });
  }

  private gotSpi(sa: Ph1, p2: Ph2, msg: PfKeyMessage, now: number): void {
    if (msg.errno !== 0 || !msg.ext.sa) {
      this.log('error', `failed to get SPI (errno ${msg.errno})`, sa);
      sa.ph2s.delete(p2.messageId);
      return;
    }
    p2.inboundSpi = msg.ext.sa.spi;
    if (p2.role === 'initiator') this.sendQi1(sa, p2, now);
    else this.sendQr1(sa, p2, now);
  }

  private ph2Transforms(sa: Ph1, s: SainfoConfig, pfsGroup: number | null): Transform[] {
    const out: Transform[] = [];
    for (const e of s.encr)
      for (const a of s.auth) {
        const attrs = [numberAttr(Ph2Attr.SA_LIFE_TYPE, LifeType.SECONDS), numberAttr(Ph2Attr.SA_LIFE_DURATION, s.lifetimeSeconds)];
        if (s.lifetimeKilobytes) attrs.push(numberAttr(Ph2Attr.SA_LIFE_TYPE, LifeType.KILOBYTES), numberAttr(Ph2Attr.SA_LIFE_DURATION, s.lifetimeKilobytes));
        if (pfsGroup !== null) attrs.push(numberAttr(Ph2Attr.GROUP_DESCRIPTION, pfsGroup));
        attrs.push(numberAttr(Ph2Attr.ENCAPSULATION_MODE, encapMode(s.mode, sa.natDetected)));
        attrs.push(numberAttr(Ph2Attr.AUTHENTICATION_ALGORITHM, a));
        if (e.keyBits !== undefined) attrs.push(numberAttr(Ph2Attr.KEY_LENGTH, e.keyBits));
        if (s.esn) attrs.push(numberAttr(Ph2Attr.EXTENDED_SEQUENCE_NUMBER, 1)); // RFC 4304 §2
        out.push({ transformNum: out.length + 1, transformId: e.id, attributes: attrs });
      }
    return out;
  }

  /** QI1: HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr]. */
  private sendQi1(sa: Ph1, p2: Ph2, now: number): void {
    const s = p2.sainfo;
    p2.ni = this.random.bytes(NONCE_BYTES);
    const body: Payload[] = [
      { type: PayloadType.SA, doi: IPSEC_DOI, situation: SIT_IDENTITY_ONLY, proposals: [{ proposalNum: 1, protocolId: ProtocolId.IPSEC_ESP, spi: spiBuffer(p2.inboundSpi), transforms: this.ph2Transforms(sa, s, s.pfsGroup) }] },
      { type: PayloadType.NONCE, data: p2.ni },
    ];
    if (s.pfsGroup !== null) {
      const g = dhGroup(s.pfsGroup);
      if (!g) return this.log('error', `pfs_group ${s.pfsGroup} is not supported`, sa);
      p2.dh = makeDh(g, this.random);
      body.push({ type: PayloadType.KE, keyData: p2.dh.publicValue });
    }
    p2.idci = selectorId(s.local);
    p2.idcr = selectorId(s.remote);
    body.push(p2.idci, p2.idcr);
    const rest = generatePayloads(body);
    const hash1 = km.qmHash1(sa.suite!.hash, sa.keys!.skeyidA, p2.messageId, rest);
    this.sendPh2(sa, p2, hash1, body, now, true);
    p2.state = 'QI1_SENT';
  }

  private quickMode(sa: Ph1, header: IsakmpHeader, body: Buffer, packet: Buffer, now: number): void {
    if (!isUp(sa)) return this.log('warn', 'Quick Mode before phase 1 is established: dropped', sa);
    if ((header.flags & HeaderFlag.ENCRYPTION) === 0) return this.log('warn', 'Quick Mode message not encrypted: dropped', sa);
    let p2 = sa.ph2s.get(header.messageId);
    if (p2?.lastRecv && packet.equals(p2.lastRecv)) {
      if (p2.lastSent && p2.role === 'responder') this.emit(sa, p2.lastSent);
      return;
    }
    const iv = p2 ? p2.iv : km.ph2Iv(sa.suite!.hash, sa.lastPh1Block, header.messageId, sa.suite!.encr.blockBytes);
    const d = this.decrypt(sa, iv, body);
    if (!d) return;
    const parsed = parsePayloads(d.plain, header.nextPayload, ISAKMP_HEADER_BYTES, true);
    const raw = rawPayloads(d.plain, header.nextPayload);
    if (!parsed.ok || !raw) return this.log('warn', `malformed Quick Mode message: ${parsed.ok ? 'bad chain' : parsed.error.message}`, sa);
    const pl = parsed.value;
    if (pl[0]?.type !== PayloadType.HASH) return this.log('warn', 'Quick Mode message does not start with HASH (RFC 2409 §5.5)', sa);
    const hashData = pl[0].data;
    const rest = Buffer.concat(raw.slice(1).map((r) => r.raw));
    const h = sa.suite!.hash;
    const skeyidA = sa.keys!.skeyidA;
    if (!p2) {
      // QI1 from the peer
      if (!km.qmHash1(h, skeyidA, header.messageId, rest).equals(hashData)) return this.log('error', 'HASH(1) mismatch: dropped', sa);
      return this.respondQuickMode(sa, header.messageId, pl, packet, d.nextIv, now);
    }
    if (p2.role === 'initiator' && p2.state === 'QI1_SENT') {
      if (!km.qmHash2(h, skeyidA, p2.messageId, p2.ni, rest).equals(hashData)) return this.log('error', 'HASH(2) mismatch: dropped', sa);
      p2.iv = d.nextIv;
      p2.lastRecv = Buffer.from(packet);
      return this.quickI2(sa, p2, pl, (header.flags & HeaderFlag.COMMIT) !== 0, now);
    }
    if (p2.role === 'initiator' && p2.state === 'WAIT_CONNECTED') {
      // RFC 2408 §4.8: HDR*, HASH(4), N(CONNECTED) — HASH(4) is prf(SKEYID_a, M-ID | N)
      if (!km.qmHash1(h, skeyidA, p2.messageId, rest).equals(hashData)) return this.log('error', 'HASH(4) mismatch: dropped', sa);
      if (!pl.some((x) => x.type === PayloadType.N && x.notifyType === NotifyType.CONNECTED)) return this.log('warn', 'commit bit set but no CONNECTED notify', sa);
      p2.iv = d.nextIv;
      this.installPh2(sa, p2);
      return;
    }
    if (p2.role === 'responder' && p2.state === 'QR1_SENT') {
      if (!km.qmHash3(h, skeyidA, p2.messageId, p2.ni, p2.nr).equals(hashData)) return this.log('error', 'HASH(3) mismatch: dropped', sa);
      p2.iv = d.nextIv;
      p2.retransmit = null;
      p2.lastRecv = Buffer.from(packet);
      this.installPh2(sa, p2);
      if (this.responderCommitBit) {
        const n = [this.notify(ProtocolId.IPSEC_ESP, NotifyType.CONNECTED, spiBuffer(p2.inboundSpi))];
        this.sendPh2(sa, p2, km.qmHash1(h, skeyidA, p2.messageId, generatePayloads(n)), n, now, false);
      }
      return;
    }
    this.log('debug', `Quick Mode message in state ${p2.state}: dropped`, sa, { messageId: p2.messageId });
  }

  private respondQuickMode(sa: Ph1, messageId: number, pl: Payload[], packet: Buffer, nextIv: Buffer, now: number): void {
    const sai = findPayload(pl, PayloadType.SA);
    const ni = findPayload(pl, PayloadType.NONCE);
    const ids = allPayloads(pl, PayloadType.ID);
    if (this.cfgSessions.get(sa)?.blocksQuickMode()) return this.log('error', 'Attempt to start phase 2 whereas Xauth failed or is not complete: dropped', sa, { messageId });
    if (!sai || !ni) return this.log('warn', 'Quick Mode message 1 without SA or Nonce', sa);
    if (ids.length !== 0 && ids.length !== 2) return this.log('warn', `Quick Mode with ${ids.length} ID payloads (RFC 2409 §5.5: none or two)`, sa);
    // the initiator's IDci is our remote selector, IDcr our local one
    const remoteSel = ids.length === 2 ? idSelector(ids[0]) : hostSelector(sa.remote.address);
    const localSel = ids.length === 2 ? idSelector(ids[1]) : hostSelector(sa.local.address);
    const sainfo = remoteSel && localSel ? sa.peer.sainfos.find((s) => selectorEqual(s.local, localSel) && selectorEqual(s.remote, remoteSel)) : undefined;
    if (!sainfo) {
      this.log('error', 'failed to get sainfo', sa, { messageId });
      this.sendInformational(sa, [this.notify(ProtocolId.IPSEC_ESP, NotifyType.INVALID_ID_INFORMATION, Buffer.alloc(0))], now);
      return;
    }
    const p2 = this.newPh2(sa, messageId, 'responder', sainfo);
    p2.iv = nextIv;
    p2.lastRecv = Buffer.from(packet);
    p2.ni = Buffer.from(ni.data);
    p2.offered = sai;
    if (ids.length === 2) {
      p2.idci = ids[0];
      p2.idcr = ids[1];
    }
    const choice = this.choosePh2(sa, p2, sai, findPayload(pl, PayloadType.KE)?.keyData ?? null);
    if (typeof choice === 'string') {
      sa.ph2s.delete(messageId);
      this.log('error', `no suitable policy found: ${choice}`, sa, { messageId });
      this.sendInformational(sa, [this.notify(ProtocolId.IPSEC_ESP, NotifyType.NO_PROPOSAL_CHOSEN, Buffer.alloc(0))], now);
      return;
    }
    this.requestSpi(sa, p2);
  }

  /** Pick the first acceptable ESP transform of the initiator's SA (racoon: in the initiator's order). */
  private choosePh2(sa: Ph1, p2: Ph2, sai: SaPayload, ke: Buffer | null): string | null {
    const s = p2.sainfo;
    for (const prop of sai.proposals) {
      if (prop.protocolId !== ProtocolId.IPSEC_ESP || prop.spi.length !== 4) continue;
      for (const t of prop.transforms) {
        const suite = espSuite(t.transformId, t.attributes);
        if (typeof suite === 'string') continue;
        if (!s.encr.some((e) => e.id === t.transformId && (e.keyBits ?? null) === suite.keyBits) || !s.auth.includes(suite.authAlg)) continue;
        if (suite.esn && !s.esn) continue; // RFC 4304 §2: ESN only when the sainfo allows it
        const mode = attr(t.attributes, Ph2Attr.ENCAPSULATION_MODE);
        if (mode !== encapMode(s.mode, sa.natDetected) && !(sa.natDetected && mode === encapModeDraft(s.mode))) continue;
        const group = attr(t.attributes, Ph2Attr.GROUP_DESCRIPTION);
        if (group !== s.pfsGroup && !(sa.peer.proposalCheck === 'obey' && group !== null)) continue;
        if ((group === null) !== (ke === null)) continue;
        const life = lifetimeOf(t.attributes, Ph2Attr.SA_LIFE_TYPE, Ph2Attr.SA_LIFE_DURATION) ?? 28800;
        const decision = checkLifetime(sa.peer.proposalCheck, life, s.lifetimeSeconds);
        if (!decision.ok) continue;
        if (group !== null && ke) {
          const g = dhGroup(group);
          if (!g) continue;
          p2.dh = makeDh(g, this.random);
          p2.gqmxy = p2.dh.computeShared(ke);
        }
        p2.pfsGroup = group;
        p2.outboundSpi = prop.spi.readUInt32BE(0);
        p2.chosen = { suite, lifetimeSeconds: decision.seconds, lifetimeKilobytes: null };
        p2.choice = { prop, t, responderLifetime: decision.responderLifetime };
        return null;
      }
    }
    return 'no ESP transform matched the sainfo';
  }

  /** QR1: HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr]. */
  private sendQr1(sa: Ph1, p2: Ph2, now: number): void {
    const chosen = p2.choice;
    if (!chosen || !p2.chosen) return;
    p2.nr = this.random.bytes(NONCE_BYTES);
    const body: Payload[] = [
      { type: PayloadType.SA, doi: IPSEC_DOI, situation: SIT_IDENTITY_ONLY, proposals: [{ proposalNum: chosen.prop.proposalNum, protocolId: ProtocolId.IPSEC_ESP, spi: spiBuffer(p2.inboundSpi), transforms: [chosen.t] }] },
      { type: PayloadType.NONCE, data: p2.nr },
    ];
    if (p2.dh) body.push({ type: PayloadType.KE, keyData: p2.dh.publicValue });
    if (p2.idci && p2.idcr) body.push(p2.idci, p2.idcr);
    if (chosen.responderLifetime) {
      // racoon proposal_check claim: tell the initiator the shorter lifetime (RFC 2407 §4.6.3.1)
      const attrs = generateAttrs([numberAttr(Ph2Attr.SA_LIFE_TYPE, LifeType.SECONDS), numberAttr(Ph2Attr.SA_LIFE_DURATION, p2.chosen.lifetimeSeconds)]);
      body.push({ type: PayloadType.N, doi: IPSEC_DOI, protocolId: ProtocolId.IPSEC_ESP, notifyType: NotifyType.RESPONDER_LIFETIME, spi: spiBuffer(p2.outboundSpi), data: attrs });
    }
    const hash2 = km.qmHash2(sa.suite!.hash, sa.keys!.skeyidA, p2.messageId, p2.ni, generatePayloads(body));
    this.sendPh2(sa, p2, hash2, body, now, true, this.responderCommitBit ? HeaderFlag.COMMIT : 0);
    p2.state = 'QR1_SENT';
  }

  /** Initiator got QR1: check the choice, send QI2 (HASH(3)), then UPDATE + ADD. */
  private quickI2(sa: Ph1, p2: Ph2, pl: Payload[], commit: boolean, now: number): void {
    const sar = findPayload(pl, PayloadType.SA);
    const nr = findPayload(pl, PayloadType.NONCE);
    const prop = sar?.proposals[0];
    const t = prop?.transforms[0];
    if (!sar || !nr || !prop || !t || prop.spi.length !== 4) return this.log('warn', 'Quick Mode message 2 without a chosen SA or Nonce', sa);
    const offered = this.ph2Transforms(sa, p2.sainfo, p2.sainfo.pfsGroup);
    if (!offered.some((o) => o.transformId === t.transformId && sameAttributes(o.attributes, t.attributes))) return this.log('error', 'the responder chose a transform we did not offer', sa);
    const suite = espSuite(t.transformId, t.attributes);
    if (typeof suite === 'string') return this.log('error', suite, sa);
    const ke = findPayload(pl, PayloadType.KE);
    if (p2.dh) {
      if (!ke) return this.log('error', 'PFS was proposed but the responder sent no KE', sa);
      p2.gqmxy = p2.dh.computeShared(ke.keyData);
    }
    p2.nr = Buffer.from(nr.data);
    p2.outboundSpi = prop.spi.readUInt32BE(0);
    let life = lifetimeOf(t.attributes, Ph2Attr.SA_LIFE_TYPE, Ph2Attr.SA_LIFE_DURATION) ?? 28800;
    const rl = allPayloads(pl, PayloadType.N).find((n) => n.notifyType === NotifyType.RESPONDER_LIFETIME);
    if (rl) {
      const attrs = parseAttrs(rl.data);
      const l = attrs && lifetimeOf(attrs, Ph2Attr.SA_LIFE_TYPE, Ph2Attr.SA_LIFE_DURATION);
      if (l) life = Math.min(life, l);
    }
    p2.chosen = { suite, lifetimeSeconds: life, lifetimeKilobytes: null };
    const hash3 = km.qmHash3(sa.suite!.hash, sa.keys!.skeyidA, p2.messageId, p2.ni, p2.nr);
    this.sendPh2(sa, p2, hash3, [], now, false);
    if (commit) {
      // the responder set the commit bit: racoon keys the SAs only after CONNECTED
      p2.state = 'WAIT_CONNECTED';
      this.log('info', 'commit bit set: waiting for CONNECTED before installing the IPsec-SA', sa, { messageId: p2.messageId });
      return;
    }
    this.installPh2(sa, p2);
  }

  /** racoon pk_sendupdate (SA2 reqid_in) then pk_sendadd (SA2 reqid_out) (racoon-compat.md §5). */
  private installPh2(sa: Ph1, p2: Ph2): void {
    const c = p2.chosen!;
    const h = sa.suite!.hash;
    const bytes = c.suite.encrKeyBytes + c.suite.authKeyBytes;
    for (const dir of ['in', 'out'] as const) {
      const spi = dir === 'in' ? p2.inboundSpi : p2.outboundSpi;
      // Ni_b/Nr_b are the initiator's and the responder's nonces whichever side we are
      const keymat = km.qmKeymat(h, sa.keys!.skeyidD, p2.gqmxy, ProtocolId.IPSEC_ESP, spi, p2.ni, p2.nr, bytes);
      const src = dir === 'in' ? sa.remote : sa.local;
      const dst = dir === 'in' ? sa.local : sa.remote;
      const soft = Math.floor((c.lifetimeSeconds * SOFT_LIFETIME_PERCENT) / 100);
      const req: PfKeyRequest = {
        type: dir === 'in' ? SadbMsgType.UPDATE : SadbMsgType.ADD,
        satype: SadbSaType.ESP,
        errno: 0,
        ext: {
          sa: { spi, replay: RACOON_REPLAY, state: SadbSaState.MATURE, auth: c.suite.sadbAalg, encrypt: c.suite.sadbEalg, flags: c.suite.esn ? SadbSaFlags.X_ESN : 0 },
          sa2: { mode: p2.mode === 'tunnel' ? IpsecMode.TUNNEL : IpsecMode.TRANSPORT, sequence: 0, reqid: dir === 'in' ? p2.inboundReqid : p2.reqid },
          addressSrc: sadbAddress(src),
          addressDst: sadbAddress(dst),
          keyEncrypt: { bits: c.suite.encrKeyBytes * 8, key: keymat.subarray(0, c.suite.encrKeyBytes) },
          keyAuth: { bits: c.suite.authKeyBytes * 8, key: keymat.subarray(c.suite.encrKeyBytes) },
          lifetimeHard: { allocations: 0, bytes: 0n, addtime: BigInt(c.lifetimeSeconds), usetime: 0n },
          lifetimeSoft: { allocations: 0, bytes: 0n, addtime: BigInt(soft), usetime: 0n },
        },
      };
      if (sa.natDetected) this.addNatT(req, src, dst);
      this.pfkeySend(req);
    }
    p2.state = 'ESTABLISHED';
    this.log('info', `IPsec-SA established: ESP ${sa.local.address}[${sa.local.port}]->${sa.remote.address}[${sa.remote.port}] spi=${p2.outboundSpi}(0x${p2.outboundSpi.toString(16)})`, sa, { messageId: p2.messageId });
    this.log('info', `IPsec-SA established: ESP ${sa.remote.address}[${sa.remote.port}]->${sa.local.address}[${sa.local.port}] spi=${p2.inboundSpi}(0x${p2.inboundSpi.toString(16)})`, sa, { messageId: p2.messageId });
  }

  /** Forget a phase 2; with `deleteSas`, SADB_DELETE its SAs (only the larval inbound one if it never got keyed). */
  private removePh2(sa: Ph1, p2: Ph2, deleteSas: boolean): void {
    const keyed = p2.state === 'ESTABLISHED';
    sa.ph2s.delete(p2.messageId);
    p2.state = 'DEAD';
    if (!deleteSas) return;
    const doomed: [number, Endpoint, Endpoint][] = [[p2.inboundSpi, sa.remote, sa.local]];
    if (keyed) doomed.push([p2.outboundSpi, sa.local, sa.remote]);
    for (const [spi, src, dst] of doomed) {
      if (spi === 0) continue;
      this.pfkeySend({
        type: SadbMsgType.DELETE,
        satype: SadbSaType.ESP,
        errno: 0,
        ext: { sa: { spi, replay: 0, state: SadbSaState.MATURE, auth: 0, encrypt: 0, flags: 0 }, addressSrc: sadbAddress(src), addressDst: sadbAddress(dst) },
      });
    }
  }

  // =====================================================================
  // Informational (RFC 2409 §5.7, RFC 3706)

  private sendInformational(sa: Ph1, payloads: Payload[], now: number): void {
    if (!isUp(sa) || !sa.keys) {
      // before phase 1 is up, notifications go in the clear (RFC 2408 §4.8)
      const msg = generateMessage(this.header(sa, ExchangeType.INFORMATIONAL, 0, 0), payloadTypeOf(payloads[0]), generatePayloads(payloads));
      this.emit(sa, msg);
      return;
    }
    const mid = this.randomMessageId(sa);
    const rest = generatePayloads(payloads);
    const hash1 = km.qmHash1(sa.suite!.hash, sa.keys.skeyidA, mid, rest);
    const iv = km.ph2Iv(sa.suite!.hash, sa.lastPh1Block, mid, sa.suite!.encr.blockBytes);
    const body = Buffer.concat([generatePayload({ type: PayloadType.HASH, data: hash1 }, payloadTypeOf(payloads[0])), rest]);
    const enc = this.encrypt(sa, iv, body);
    this.emit(sa, generateMessage(this.header(sa, ExchangeType.INFORMATIONAL, HeaderFlag.ENCRYPTION, mid), PayloadType.HASH, enc.cipher));
    void now;
  }

  private informational(sa: Ph1, header: IsakmpHeader, body: Buffer, now: number): void {
    if ((header.flags & HeaderFlag.ENCRYPTION) === 0) {
      // unauthenticated: log only (racoon ignores unencrypted notifies once phase 1 is up)
      const pl = parsePayloads(body, header.nextPayload);
      if (pl.ok) this.log('warn', `unprotected notification: ${describePayloads(pl.value)}`, sa);
      return;
    }
    if (!isUp(sa)) return;
    const iv = km.ph2Iv(sa.suite!.hash, sa.lastPh1Block, header.messageId, sa.suite!.encr.blockBytes);
    const d = this.decrypt(sa, iv, body);
    if (!d) return;
    const parsed = parsePayloads(d.plain, header.nextPayload, ISAKMP_HEADER_BYTES, true);
    const raw = rawPayloads(d.plain, header.nextPayload);
    if (!parsed.ok || !raw || parsed.value[0]?.type !== PayloadType.HASH) return this.log('warn', 'malformed informational message', sa);
    const rest = Buffer.concat(raw.slice(1).map((r) => r.raw));
    if (!km.qmHash1(sa.suite!.hash, sa.keys!.skeyidA, header.messageId, rest).equals(parsed.value[0].data)) return this.log('error', 'informational HASH mismatch: dropped', sa);
    for (const p of parsed.value.slice(1)) {
      if (p.type === PayloadType.D) {
        if (p.protocolId === ProtocolId.ISAKMP) {
          this.log('info', 'purging ISAKMP-SA on peer delete', sa);
          // a peer that re-authenticated (strongSwan's IKEv1 reauth) deletes the old ISAKMP-SA:
          // its IPsec-SAs belong to the new one from now on
          // (or deletes it while our replacement is still being negotiated: that one takes them)
          const others = [...this.ph1s.values()].filter((o) => o !== sa && o.peer === sa.peer && o.remote.address === sa.remote.address && o.state !== 'DEAD' && o.state !== 'EXPIRED');
          const heir = others.find((o) => o.state === 'ESTABLISHED') ?? others[0];
          if (heir) this.adoptPh2s(sa, heir);
          this.killPh1(sa, 'deleted by peer');
          return;
        }
        for (const spiB of p.spis) {
          if (spiB.length !== 4) continue;
          const spi = spiB.readUInt32BE(0);
          const p2 = [...sa.ph2s.values()].find((x) => x.outboundSpi === spi && x.state === 'ESTABLISHED');
          if (p2) {
            this.log('info', `purged IPsec-SA proto_id=ESP spi=${spi}`, sa);
            this.removePh2(sa, p2, true);
          }
        }
      } else if (p.type === PayloadType.N) {
        if (p.notifyType === NotifyType.R_U_THERE) {
          this.sendInformational(sa, [this.notify(ProtocolId.ISAKMP, NotifyType.R_U_THERE_ACK, p.spi, p.data)], now);
        } else if (p.notifyType === NotifyType.R_U_THERE_ACK) {
          if (p.data.length === 4 && p.data.readUInt32BE(0) === sa.dpdSeq) {
            sa.dpdOutstanding = 0;
            sa.dpdNextAt = now + sa.peer.dpdDelaySeconds * 1000;
          }
        } else if (p.notifyType === NotifyType.INITIAL_CONTACT) {
          this.handleInitialContact(sa, [p]);
        } else this.log('info', `notification ${NotifyType[p.notifyType] ?? p.notifyType} received`, sa);
      }
    }
  }

  /** RFC 2407 §4.6.3.3: delete every other SA with this peer (racoon pfkey_send_delete_all per direction). */
  private handleInitialContact(sa: Ph1, pl: Payload[]): void {
    if (!pl.some((p) => p.type === PayloadType.N && p.notifyType === NotifyType.INITIAL_CONTACT)) return;
    this.log('info', 'received INITIAL-CONTACT: deleting the stale SAs of this peer', sa);
    for (const other of [...this.ph1s.values()])
      if (other !== sa && other.remote.address === sa.remote.address) this.killPh1(other, 'INITIAL-CONTACT');
    for (const [src, dst] of [
      [sa.remote, sa.local],
      [sa.local, sa.remote],
    ] as const)
      this.pfkeySend({ type: SadbMsgType.DELETE, satype: SadbSaType.ESP, errno: 0, ext: { addressSrc: sadbAddress(src), addressDst: sadbAddress(dst) } });
  }

  private dpdActive(sa: Ph1): boolean {
    return isUp(sa) && sa.peer.dpdDelaySeconds > 0 && sa.peerDpd;
  }

  /** RFC 3706 §5: R-U-THERE with a sequence number; racoon gives up after dpd_maxfail. */
  private dpdTick(sa: Ph1, now: number): void {
    if (sa.dpdOutstanding >= sa.peer.dpdMaxFail) {
      this.log('error', 'DPD: remote seems to be dead', sa);
      for (const p2 of [...sa.ph2s.values()]) this.removePh2(sa, p2, true);
      this.killPh1(sa, 'DPD');
      // a phase 1 being negotiated with the dead peer (a rekey under way) goes too
      for (const o of [...this.ph1s.values()])
        if (o.peer === sa.peer && o.remote.address === sa.remote.address && !isUp(o)) this.killPh1(o, 'phase1 negotiation abandoned: DPD declared the peer dead');
      return;
    }
    if (sa.dpdOutstanding === 0 && now - sa.lastInboundAt < sa.peer.dpdDelaySeconds * 1000) {
      sa.dpdNextAt = sa.lastInboundAt + sa.peer.dpdDelaySeconds * 1000;
      return;
    }
    sa.dpdSeq = (sa.dpdSeq + 1) >>> 0;
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(sa.dpdSeq);
    this.sendInformational(sa, [this.notify(ProtocolId.ISAKMP, NotifyType.R_U_THERE, Buffer.concat([km.cookieBytes(sa.cookieI), km.cookieBytes(sa.cookieR)]), seq)], now);
    sa.dpdOutstanding++;
    sa.dpdNextAt = now + sa.peer.dpdRetrySeconds * 1000;
  }

  // =====================================================================
  // XAUTH / Mode-Config (modecfg.ts, xauth.ts) and IKE fragmentation (frag.ts)

  /** racoon `racoonctl logout-user`: delete every ISAKMP-SA (and its IPsec-SAs) of an XAUTH login. */
  logoutUser(login: string, now: number): number {
    let n = 0;
    for (const [sa, cfg] of [...this.cfgSessions]) {
      if (cfg.roles.xauth !== 'server' || cfg.login !== login) continue;
      for (const p2 of [...sa.ph2s.values()]) if (p2.state === 'ESTABLISHED') this.deletePh2(sa.serial, p2.inboundSpi, now);
      if (!this.deletePh1(sa.serial, now)) this.killPh1(sa, `logout of ${login}`);
      n++;
    }
    this.log('info', `logout-user ${login}: ${n} ISAKMP-SA(s) deleted`, null);
    return n;
  }

  /** XAUTH / Mode-Config state of an ISAKMP-SA (the login, the pool address, what a client learned). */
  cfgInfo(serial: number): { xauthRole: 'client' | 'server' | null; xauth: string; modeCfg: string; login: string | null; assigned: string | null; client: ModeCfgClientInfo } | null {
    const sa = [...this.ph1s.values()].find((s) => s.serial === serial);
    const c = sa && this.cfgSessions.get(sa);
    return c ? { xauthRole: c.roles.xauth, xauth: c.xauthState, modeCfg: c.modeCfgState, login: c.login, assigned: c.assigned, client: c.client } : null;
  }

  private cfgStart(sa: Ph1, now: number): void {
    const peer = sa.peer;
    const roles = { xauth: xauthRole(peer.ph1Proposals.map((p) => p.authMethod)), modeCfgClient: peer.modeCfg === true, login: peer.xauthLogin ?? null, password: peer.xauthPassword ?? null };
    if (!roles.xauth && !roles.modeCfgClient && !this.cfgServer?.config) return;
    const self = this;
    const session = new CfgSession(
      {
        serial: sa.serial,
        peerName: peer.name,
        get remote() {
          return sa.remote;
        },
        cookieI: sa.cookieI,
        cookieR: sa.cookieR,
        retry: peer.retry,
        newIv: (mid) => km.ph2Iv(sa.suite!.hash, sa.lastPh1Block, mid, sa.suite!.encr.blockBytes),
        encrypt: (iv, plain) => self.encrypt(sa, iv, plain),
        decrypt: (iv, body) => self.decrypt(sa, iv, body),
        hash: (mid, rest) => km.qmHash1(sa.suite!.hash, sa.keys!.skeyidA, mid, rest),
        newMessageId: () => self.randomMessageId(sa),
        emit: (packet) => self.emit(sa, packet),
        log: (level, msg, fields) => self.log(level, msg, sa, fields),
        ready: (t) => {
          const pending = sa.pendingPh2;
          sa.pendingPh2 = [];
          for (const s of pending) self.startQuickMode(sa, s, t);
        },
        fail: (reason, t) => {
          self.log('error', reason, sa);
          if (!self.deletePh1(sa.serial, t)) self.killPh1(sa, reason);
        },
      },
      roles,
      this.cfgServer,
    );
    this.cfgSessions.set(sa, session);
    session.start(now);
  }

  private cfgStop(sa: Ph1): void {
    this.cfgSessions.get(sa)?.dispose();
    this.cfgSessions.delete(sa);
    this.fragments.forget(sa.cookieI);
  }

  private transaction(sa: Ph1, header: IsakmpHeader, body: Buffer, packet: Buffer, now: number): void {
    const cfg = this.cfgSessions.get(sa);
    if (sa.state !== 'ESTABLISHED' || !cfg) return this.log('warn', 'Transaction exchange without XAUTH / Mode-Config configured: dropped', sa);
    cfg.receive(header.messageId, header.flags, header.nextPayload, body, packet, now);
  }

  /** Fragment payload (132): only for a known ISAKMP-SA whose remote has `ike_frag` on (racoon's receiver capability). */
  private receiveFragment(header: IsakmpHeader, body: Buffer, from: Endpoint, to: Endpoint, now: number): void {
    const sa = this.ph1s.get(header.cookieI);
    if (!sa || !sa.peer.ikeFrag || sa.peer.ikeFrag === 'off') {
      this.log('debug', `fragment from ${from.address}[${from.port}] for ${sa ? 'a remote without ike_frag' : 'an unknown ISAKMP-SA'}: dropped`, sa ?? null);
      return;
    }
    const f = parseFragment(body);
    if (!f.ok) return this.log('warn', `malformed fragment from ${from.address}[${from.port}]: ${f.message} at offset ${f.offset}`, sa);
    const r = this.fragments.add(header, f.value, now);
    if (r.kind === 'dropped') return this.log('warn', `fragment dropped: ${r.reason}`, sa);
    if (r.kind === 'complete') {
      this.log('debug', `reassembled a ${r.message.length}-octet message from fragments`, sa);
      this.receiveDatagram(frameIkeMessage(r.message, to.port, from.port), from, to, now);
    }
  }

  /** racoon: phase-1 messages above the fragment size go out in pieces with `ike_frag force`, or `on` once the peer sent the VID. */
  private nextFragmentId(): number {
    this.fragmentId = (this.fragmentId % 0xffff) + 1;
    return this.fragmentId;
  }

  private mustFragment(sa: Ph1, msg: Buffer): boolean {
    const mode = sa.peer.ikeFrag ?? 'off';
    if (mode === 'off' || msg.length <= this.ikeFragSize || msg[18] !== sa.exchange) return false;
    return mode === 'force' || this.fragPeers.has(sa);
  }

  // =====================================================================
  // message plumbing

  private header(sa: Ph1, exchangeType: number, flags: number, messageId: number): Omit<IsakmpHeader, 'length' | 'nextPayload'> {
    return { cookieI: sa.cookieI, cookieR: sa.cookieR, majorVersion: 1, minorVersion: ISAKMP_MINOR_VERSION, exchangeType, flags, messageId };
  }

  private sendPh1(sa: Ph1, payloads: Payload[], encrypt: boolean, now: number, expectReply = true): void {
    let body = generatePayloads(payloads);
    if (encrypt) {
      const enc = this.encrypt(sa, sa.iv, body);
      body = enc.cipher;
      sa.iv = enc.nextIv;
    }
    const msg = generateMessage(this.header(sa, sa.exchange, encrypt ? HeaderFlag.ENCRYPTION : 0, 0), payloadTypeOf(payloads[0]), body);
    sa.lastSent = msg;
    sa.retransmit = expectReply ? { packet: msg, tries: 0, deadline: now + sa.peer.retry.intervalSeconds * 1000 } : null;
    this.emit(sa, msg);
  }

  private sendPh2(sa: Ph1, p2: Ph2, hash: Buffer, payloads: Payload[], now: number, expectReply: boolean, extraFlags = 0): void {
    const rest = generatePayloads(payloads);
    const body = Buffer.concat([generatePayload({ type: PayloadType.HASH, data: hash }, payloads.length ? payloadTypeOf(payloads[0]) : PayloadType.NONE), rest]);
    const enc = this.encrypt(sa, p2.iv, body);
    p2.iv = enc.nextIv;
    const msg = generateMessage(this.header(sa, ExchangeType.QUICK, HeaderFlag.ENCRYPTION | extraFlags, p2.messageId), PayloadType.HASH, enc.cipher);
    p2.lastSent = msg;
    p2.retransmit = expectReply ? { packet: msg, tries: 0, deadline: now + sa.peer.retry.intervalSeconds * 1000 } : null;
    this.emit(sa, msg);
  }

  private retransmit(sa: Ph1, r: Retransmit, now: number): boolean {
    if (r.tries >= sa.peer.retry.counter) return false;
    r.tries++;
    r.deadline = now + sa.peer.retry.intervalSeconds * 1000;
    this.log('debug', `resend phase ${r === sa.retransmit ? 1 : 2} packet (${r.tries}/${sa.peer.retry.counter})`, sa);
    this.emit(sa, r.packet);
    return true;
  }

  private emit(sa: Ph1, msg: Buffer): void {
    if (this.mustFragment(sa, msg)) {
      for (const f of fragmentMessage(msg, this.nextFragmentId(), this.ikeFragSize)) this.actions.push({ kind: 'datagram', from: { ...sa.local }, to: { ...sa.remote }, data: frameIkeMessage(f, sa.local.port, sa.remote.port) });
      return;
    }
    this.actions.push({ kind: 'datagram', from: { ...sa.local }, to: { ...sa.remote }, data: frameIkeMessage(msg, sa.local.port, sa.remote.port) });
  }

  /** RFC 2409 App. B: CBC over the payloads padded to the block size; the next IV is the last ciphertext block. */
  private encrypt(sa: Ph1, iv: Buffer, plain: Buffer): { cipher: Buffer; nextIv: Buffer } {
    const bs = sa.suite!.encr.blockBytes;
    const padLen = (bs - (plain.length % bs)) % bs;
    const padded = Buffer.concat([plain, Buffer.alloc(padLen)]);
    const cipher = sa.cipher!.encrypt(iv, padded);
    return { cipher, nextIv: Buffer.from(cipher.subarray(cipher.length - bs)) };
  }

  private decrypt(sa: Ph1, iv: Buffer, body: Buffer): { plain: Buffer; nextIv: Buffer } | null {
    if (!sa.cipher || !sa.suite) {
      this.log('warn', 'encrypted message before keys exist: dropped', sa);
      return null;
    }
    const bs = sa.suite.encr.blockBytes;
    if (body.length === 0 || body.length % bs !== 0) {
      this.log('warn', `encrypted body of ${body.length} octets is not a multiple of ${bs}: dropped`, sa);
      return null;
    }
    return { plain: sa.cipher.decrypt(iv, body), nextIv: Buffer.from(body.subarray(body.length - bs)) };
  }

  private pfkeySend(req: PfKeyRequest): number {
    const seq = this.seq++;
    this.actions.push({ kind: 'pfkey', msg: { ...req, seq, pid: this.pid } });
    return seq;
  }

  private addNatT(req: PfKeyRequest, src: Endpoint, dst: Endpoint): void {
    req.ext.natTType = { type: NatTType.ESPINUDP };
    req.ext.natTSport = { port: src.port };
    req.ext.natTDport = { port: dst.port };
  }

  // =====================================================================
  // helpers

  private newPh1(peer: Ikev1PeerConfig, role: 'initiator' | 'responder', cookieI: bigint, cookieR: bigint, local: Endpoint, remote: Endpoint, now: number): Ph1 {
    const sa: Ph1 = {
      serial: this.serial++,
      peer,
      role,
      state: 'MM_I1_SENT',
      cookieI,
      cookieR,
      local,
      remote,
      peerNatt: false,
      peerDpd: false,
      sigAuth: false,
      natDetected: false,
      saiBody: Buffer.alloc(0),
      idiiBody: Buffer.alloc(0),
      exchange: ExchangeType.IDENTITY_PROTECTION,
      suite: null,
      lifetimeSeconds: 0,
      dh: null,
      gxi: Buffer.alloc(0),
      gxr: Buffer.alloc(0),
      ni: Buffer.alloc(0),
      nr: Buffer.alloc(0),
      keys: null,
      cipher: null,
      iv: Buffer.alloc(0),
      lastPh1Block: Buffer.alloc(0),
      retransmit: null,
      lastRecv: null,
      lastSent: null,
      createdAt: now,
      establishedAt: -1,
      expiredAt: -1,
      deleteAt: Infinity,
      lastInboundAt: now,
      ph2s: new Map(),
      pendingPh2: [],
      dpdSeq: this.random.bytes(4).readUInt32BE(0) & 0x7fffffff,
      dpdOutstanding: 0,
      dpdNextAt: Infinity,
    };
    this.ph1s.set(cookieI, sa);
    return sa;
  }

  private killPh1(sa: Ph1, reason: string): void {
    if (!isUp(sa)) this.log('error', reason, sa);
    else this.log('info', `ISAKMP-SA expired or deleted (${reason})`, sa);
    sa.state = 'DEAD';
    sa.retransmit = null;
    this.ph1s.delete(sa.cookieI);
    // a Quick Mode cut short leaves the larval SA of its GETSPI: delete it (the established ones stay in the kernel)
    for (const p2 of [...sa.ph2s.values()]) if (p2.state !== 'ESTABLISHED') this.removePh2(sa, p2, true);
    this.cfgStop(sa);
    for (const [seq, p] of this.pendingPfKey) if (p.ph1 === sa) this.pendingPfKey.delete(seq);
  }

  private hasOtherPh1(sa: Ph1): boolean {
    return [...this.ph1s.values()].some((o) => o !== sa && o.peer === sa.peer && isUp(o));
  }

  private ph1Proposal(peer: Ikev1PeerConfig): Proposal {
    const transforms: Transform[] = peer.ph1Proposals.map((p, i) => {
      const a = [
        numberAttr(Ph1Attr.ENCRYPTION_ALGORITHM, p.encr),
        numberAttr(Ph1Attr.HASH_ALGORITHM, p.hash),
        numberAttr(Ph1Attr.AUTHENTICATION_METHOD, p.authMethod),
        numberAttr(Ph1Attr.GROUP_DESCRIPTION, p.dhGroup),
        numberAttr(Ph1Attr.LIFE_TYPE, LifeType.SECONDS),
        numberAttr(Ph1Attr.LIFE_DURATION, p.lifetimeSeconds),
      ];
      if (p.keyBits !== undefined) a.push(numberAttr(Ph1Attr.KEY_LENGTH, p.keyBits));
      return { transformNum: i + 1, transformId: KEY_IKE, attributes: a };
    });
    return { proposalNum: 1, protocolId: ProtocolId.ISAKMP, spi: Buffer.alloc(0), transforms };
  }

  /** Responder: the first of the initiator's transforms that matches one of our proposals (racoon get_ph1approval). */
  private choosePh1(peer: Ikev1PeerConfig, sai: SaPayload): { proposalNum: number; transform: Transform; suite: Ph1Suite; lifetime: number } | string {
    if (sai.doi !== IPSEC_DOI) return `DOI ${sai.doi} not supported`;
    let why = 'no transform offered';
    for (const prop of sai.proposals) {
      if (prop.protocolId !== ProtocolId.ISAKMP) continue;
      for (const t of prop.transforms) {
        if (t.transformId !== KEY_IKE) continue;
        const method = attr(t.attributes, Ph1Attr.AUTHENTICATION_METHOD);
        if (!isPskAuthMethod(method) && !(isRsaSigAuthMethod(method) && peer.cert)) {
          why = isRsaSigAuthMethod(method) ? `authentication method ${method} (RSA signatures) without a certificate configured` : `authentication method ${method} not supported`;
          continue;
        }
        const suite = ph1Suite(t.attributes);
        if (typeof suite === 'string') {
          why = suite;
          continue;
        }
        const life = lifetimeOf(t.attributes, Ph1Attr.LIFE_TYPE, Ph1Attr.LIFE_DURATION) ?? 28800;
        for (const ours of peer.ph1Proposals) {
          if (ours.encr !== attr(t.attributes, Ph1Attr.ENCRYPTION_ALGORITHM) || ours.hash !== attr(t.attributes, Ph1Attr.HASH_ALGORITHM)) continue;
          if (ours.dhGroup !== attr(t.attributes, Ph1Attr.GROUP_DESCRIPTION) || !sameAuthMethod(ours.authMethod, method!)) continue;
          if ((ours.keyBits ?? null) !== attr(t.attributes, Ph1Attr.KEY_LENGTH)) continue;
          const d = checkLifetime(peer.proposalCheck, life, ours.lifetimeSeconds);
          if (!d.ok) {
            why = d.reason;
            continue;
          }
          return { proposalNum: prop.proposalNum, transform: t, suite, lifetime: d.seconds };
        }
        if (why === 'no transform offered') why = 'no transform matched the configured proposals';
      }
    }
    return why;
  }

  private vendorIds(peer: Ikev1PeerConfig): { type: PayloadType.VID; data: Buffer }[] {
    const v: { type: PayloadType.VID; data: Buffer }[] = [];
    if (peer.natTraversal) v.push({ type: PayloadType.VID, data: VENDOR_ID.NATT_RFC3947 }, { type: PayloadType.VID, data: VENDOR_ID.NATT_DRAFT_02N });
    if (peer.dpdDelaySeconds > 0) v.push({ type: PayloadType.VID, data: VENDOR_ID.DPD });
    if (peer.ikeFrag && peer.ikeFrag !== 'off') v.push({ type: PayloadType.VID, data: fragmentationVendorId() });
    if (xauthRole(peer.ph1Proposals.map((p) => p.authMethod))) v.push({ type: PayloadType.VID, data: XAUTH_VENDOR_ID });
    return v;
  }

  private noteVendorIds(sa: Ph1, pl: Payload[]): void {
    for (const p of allPayloads(pl, PayloadType.VID)) {
      if (p.data.equals(VENDOR_ID.NATT_RFC3947)) sa.peerNatt = sa.peer.natTraversal;
      if (p.data.equals(VENDOR_ID.DPD)) sa.peerDpd = true;
      if (isFragmentationVendorId(p.data)) this.fragPeers.add(sa);
    }
  }

  /** RFC 3947 §3.2: NAT-D of the destination first, then of the source. */
  private natD(sa: Ph1): Payload[] {
    if (!sa.peerNatt) return [];
    const h = sa.suite!.hash;
    const d = (ep: Endpoint) => km.natdHash(h, sa.cookieI, sa.cookieR, parseIp(ep.address) ?? Buffer.alloc(0), ep.port);
    return [
      { type: PayloadType.NAT_D, data: d(sa.remote) },
      { type: PayloadType.NAT_D, data: d(sa.local) },
    ];
  }

  private checkNatD(sa: Ph1, pl: Payload[], to: Endpoint): void {
    if (!sa.peerNatt) return;
    const natd = allPayloads(pl, PayloadType.NAT_D);
    if (natd.length < 2) return;
    const h = sa.suite!.hash;
    const d = (ep: Endpoint) => km.natdHash(h, sa.cookieI, sa.cookieR, parseIp(ep.address) ?? Buffer.alloc(0), ep.port);
    // the first NAT-D is the peer's view of us, the others of itself
    const usBehindNat = !natd[0].data.equals(d(to));
    const peerBehindNat = !natd.slice(1).some((n) => n.data.equals(d(sa.remote)));
    sa.natDetected = usBehindNat || peerBehindNat;
    if (sa.natDetected) this.log('info', `NAT detected: ${usBehindNat ? 'we are' : 'the peer is'} behind a NAT`, sa);
  }

  private ph1Id(peer: Ikev1PeerConfig): IdPayload {
    return { type: PayloadType.ID, idType: peer.local.id.type, protocolId: 0, port: 0, data: identityData(peer.local.id.type, peer.local.id.value) };
  }

  private idMatches(peer: Ikev1PeerConfig, id: IdPayload): boolean {
    const want = peer.remote.id;
    if (!want) return true;
    return id.idType === want.type && id.data.equals(identityData(want.type, want.value));
  }

  private notify(protocolId: number, type: NotifyType, spi: Buffer, data: Buffer = Buffer.alloc(0)): Payload {
    return { type: PayloadType.N, doi: IPSEC_DOI, protocolId, notifyType: type, spi, data };
  }

  private reqidFor(s: SainfoConfig): number {
    if (s.reqid !== undefined) return s.reqid;
    let r = this.reqidBySainfo.get(s);
    if (r === undefined) {
      r = this.nextReqid++;
      this.reqidBySainfo.set(s, r);
    }
    return r;
  }

  private randomCookie(): bigint {
    let c = 0n;
    while (c === 0n || this.ph1s.has(c)) c = this.random.bytes(8).readBigUInt64BE(0);
    return c;
  }

  private randomMessageId(sa: Ph1): number {
    let m = 0;
    while (m === 0 || sa.ph2s.has(m)) m = this.random.bytes(4).readUInt32BE(0);
    return m;
  }

  private log(level: LogLevel, msg: string, sa: Ph1 | null, fields: Record<string, string | number | boolean | undefined> = {}): void {
    const event: Ikev1LogEvent = { level, msg, ...fields };
    if (sa) {
      event.peer = sa.peer.name;
      event.cookies = `${formatCookie(sa.cookieI)}:${formatCookie(sa.cookieR)}`;
    }
    this.actions.push({ kind: 'log', event });
  }
}

// -------------------------------------------------------------------------
// free helpers

/** RFC 2409 App. A: RSA signatures, and XAUTH over them (racoon xauth_rsa_client/server). */
function isRsaSigAuthMethod(m: number | null): boolean {
  return m === AuthMethod.RSA_SIGNATURES || m === AuthMethod.XAUTH_INIT_RSA || m === AuthMethod.XAUTH_RESP_RSA;
}

/** An ISAKMP-SA that protects messages: established, or expired while its replacement is negotiated. */
function isUp(sa: Ph1): boolean {
  return sa.state === 'ESTABLISHED' || sa.state === 'EXPIRED';
}

function isNattVendorId(v: Buffer): boolean {
  return v.equals(VENDOR_ID.NATT_RFC3947) || v.equals(VENDOR_ID.NATT_DRAFT_02N) || v.equals(VENDOR_ID.NATT_DRAFT_02) || v.equals(VENDOR_ID.NATT_DRAFT_03);
}

function spiBuffer(spi: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(spi >>> 0);
  return b;
}

function sadbAddress(ep: Endpoint): SadbAddress {
  const v6 = isIP(ep.address) === 6;
  return { proto: IPSEC_ULPROTO_ANY, prefixlen: v6 ? 128 : 32, addr: { family: v6 ? 10 : 2, address: ep.address, port: 0 } };
}

function sameAttributes(a: Transform['attributes'], b: Transform['attributes']): boolean {
  if (a.length !== b.length) return false;
  return a.every((x) => b.some((y) => y.type === x.type && attrEq(x.value, y.value)));
}
function attrEq(x: number | Buffer, y: number | Buffer): boolean {
  const n = (v: number | Buffer) => (typeof v === 'number' ? v : v.length > 0 && v.length <= 6 ? v.readUIntBE(0, v.length) : -1);
  return n(x) === n(y);
}

/** The seconds lifetime of a transform (the LIFE_DURATION following LIFE_TYPE seconds). */
function lifetimeOf(attrs: Transform['attributes'], typeAttr: number, durAttr: number): number | null {
  let current: number | null = null;
  for (const a of attrs) {
    if (a.type === typeAttr) current = typeof a.value === 'number' ? a.value : null;
    else if (a.type === durAttr && current === LifeType.SECONDS) {
      const v = typeof a.value === 'number' ? a.value : a.value.length > 0 && a.value.length <= 6 ? a.value.readUIntBE(0, a.value.length) : null;
      if (v !== null) return v;
    }
  }
  return null;
}

function encapMode(mode: 'tunnel' | 'transport', nat: boolean): number {
  if (nat) return mode === 'tunnel' ? EncapsulationMode.UDP_TUNNEL : EncapsulationMode.UDP_TRANSPORT;
  return mode === 'tunnel' ? EncapsulationMode.TUNNEL : EncapsulationMode.TRANSPORT;
}
function encapModeDraft(mode: 'tunnel' | 'transport'): number {
  return mode === 'tunnel' ? EncapsulationMode.UDP_TUNNEL_DRAFT : EncapsulationMode.UDP_TRANSPORT_DRAFT;
}

function generateAttrs(attrs: Transform['attributes']): Buffer {
  // the data attributes of a RESPONDER-LIFETIME notify use the SA attribute format (RFC 2407 §4.6.3.1)
  const t: Transform = { transformNum: 0, transformId: 0, attributes: attrs };
  const sa: SaPayload = { type: PayloadType.SA, doi: 0, situation: 0, proposals: [{ proposalNum: 0, protocolId: 0, spi: Buffer.alloc(0), transforms: [t] }] };
  return generatePayload(sa, 0).subarray(4 + 8 + 8 + 8);
}
function parseAttrs(data: Buffer): Transform['attributes'] | null {
  const t = Buffer.alloc(8);
  t.writeUInt16BE(8 + data.length, 2);
  const p = Buffer.alloc(8);
  p.writeUInt16BE(8 + 8 + data.length, 2);
  p[7] = 1;
  const sa = Buffer.concat([Buffer.alloc(4), Buffer.alloc(8), p, t, data]);
  sa.writeUInt16BE(sa.length, 2);
  const r = parsePayloads(sa, PayloadType.SA);
  if (!r.ok || r.value[0].type !== PayloadType.SA) return null;
  return r.value[0].proposals[0]?.transforms[0]?.attributes ?? null;
}

/** RFC 2407 §4.6.2: an address for a host, addr+mask for a subnet. */
function selectorId(s: SelectorConfig): IdPayload {
  const addr = parseIp(s.address) ?? Buffer.alloc(4);
  const v6 = addr.length === 16;
  const bits = v6 ? 128 : 32;
  if (s.prefixlen === bits) return { type: PayloadType.ID, idType: v6 ? IdType.IPV6_ADDR : IdType.IPV4_ADDR, protocolId: s.protocol, port: s.port, data: addr };
  const mask = Buffer.alloc(addr.length);
  for (let i = 0; i < s.prefixlen; i++) mask[i >> 3] |= 0x80 >> (i & 7);
  return { type: PayloadType.ID, idType: v6 ? IdType.IPV6_ADDR_SUBNET : IdType.IPV4_ADDR_SUBNET, protocolId: s.protocol, port: s.port, data: Buffer.concat([addr, mask]) };
}

function idSelector(id: IdPayload): SelectorConfig | null {
  const half = id.data.length / 2;
  switch (id.idType) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      if (id.data.length !== (id.idType === IdType.IPV4_ADDR ? 4 : 16)) return null;
      return { address: formatIp(id.data), prefixlen: id.data.length * 8, protocol: id.protocolId, port: id.port };
    case IdType.IPV4_ADDR_SUBNET:
    case IdType.IPV6_ADDR_SUBNET: {
      if (id.data.length !== (id.idType === IdType.IPV4_ADDR_SUBNET ? 8 : 32)) return null;
      let len = 0;
      for (const b of id.data.subarray(half)) len += popcount(b);
      return { address: formatIp(id.data.subarray(0, half)), prefixlen: len, protocol: id.protocolId, port: id.port };
    }
    default:
      return null;
  }
}
function popcount(b: number): number {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  return n;
}
function hostSelector(address: string): SelectorConfig {
  return { address, prefixlen: isIP(address) === 6 ? 128 : 32, protocol: 0, port: 0 };
}
function selectorEqual(a: SelectorConfig, b: SelectorConfig): boolean {
  const pa = parseIp(a.address);
  const pb = parseIp(b.address);
  return !!pa && !!pb && pa.equals(pb) && a.prefixlen === b.prefixlen && a.protocol === b.protocol && a.port === b.port;
}

/** Phase-1 identity octets (RFC 2407 §4.6.2.1). */
export function identityData(type: IdType, value: string): Buffer {
  switch (type) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      return parseIp(value) ?? Buffer.alloc(0);
    case IdType.KEY_ID:
    case IdType.DER_ASN1_DN:
      return Buffer.from(value, 'hex');
    default:
      return Buffer.from(value, 'utf8');
  }
}
