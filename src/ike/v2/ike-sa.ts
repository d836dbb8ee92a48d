/**
 * The state of one IKE SA and its CHILD_SAs (RFC 7296 §2), plus the
 * per-SA task manager state (window of 1, RFC 7296 §2.3).
 */
import type { Endpoint } from '../common/natt';
import type { ChildConfig, Ikev2PeerConfig } from './config';
import type { DhLike, PrfSuite } from './crypto-port';
import type { IkeSaKeys } from './keymat';
import type { TrafficSelectorWire } from './payloads';
import type { ChosenTransforms } from './proposal';
import type { SkProtector } from './sk';
import type { Task } from './tasks/task';

/**
 * A copy of `b` in its own backing store. Long-lived state (keys, nonces, IDs)
 * would otherwise pin the 8 KiB pool slab of Buffer.from() for as long as the SA lives.
 */
export function own(b: Buffer): Buffer {
  const c = Buffer.allocUnsafeSlow(b.length);
  b.copy(c);
  return c;
}

export const EMPTY = Buffer.alloc(0);

export type IkeSaState = 'connecting' | 'established' | 'rekeyed' | 'deleting' | 'dead';

export interface ChildSa {
  config: ChildConfig;
  reqid: number;
  mode: 'tunnel' | 'transport';
  inboundSpi: number;
  outboundSpi: number;
  chosen: ChosenTransforms;
  localTs: TrafficSelectorWire[];
  remoteTs: TrafficSelectorWire[];
  /** the KEYMAT slices; emptied once the kernel has them (only SK_d derives new keys) */
  keys: { encrIn: Buffer; integIn: Buffer; encrOut: Buffer; integOut: Buffer };
  state: 'installed' | 'rekeying' | 'rekeyed' | 'deleting' | 'deleted';
  installedAt: number;
  /** racoon generate_policy: we installed its in/out/fwd policies */
  policiesInstalled?: boolean;
  /** set when the peer rekeyed this CHILD_SA while we were rekeying it too (RFC 7296 §2.8.1) */
  peerRekey?: { nonces: Buffer[]; created: ChildSa };
}

/** An exchange this side initiated and has not yet seen answered. */
export interface ActiveExchange {
  exchangeType: number;
  tasks: Task[];
  messageId: number;
  /** the datagrams of the request (several when fragmented, RFC 7383) */
  packets: Buffer[] | null;
  retransmits: number;
  deadline: number;
}

/** A request of the peer being answered (waiting for PF_KEY replies before the response is built). */
export interface PassiveExchange {
  exchangeType: number;
  tasks: Task[];
  messageId: number;
}

export interface QueuedExchange {
  exchangeType: number;
  tasks: Task[];
}

/** RFC 7383 reassembly state for one message ID. */
export interface Reassembly {
  messageId: number;
  total: number;
  firstInner: number;
  parts: Map<number, Buffer>;
}

export class IkeSa {
  state: IkeSaState = 'connecting';
  spiR = 0n;
  /** the peer config; for a responder the candidates until IKE_AUTH picks one */
  peer: Ikev2PeerConfig;
  candidates: Ikev2PeerConfig[];
  natHere = false;
  natThere = false;
  chosen: ChosenTransforms | null = null;
  ni: Buffer = Buffer.alloc(0);
  nr: Buffer = Buffer.alloc(0);
  dh: DhLike | null = null;
  dhGroup = 0;
  cookie: Buffer | null = null;
  prfSuite: PrfSuite | null = null;
  keys: IkeSaKeys | null = null;
  skIn: SkProtector | null = null;
  skOut: SkProtector | null = null;
  /** RealMessage1 / RealMessage2 of RFC 7296 §2.15 */
  initRequest: Buffer = Buffer.alloc(0);
  initResponse: Buffer = Buffer.alloc(0);
  peerSupportsFragmentation = false;
  peerIdType = 0;
  peerIdData: Buffer = Buffer.alloc(0);
  authFailed = false;
  /** we rejected the responder's AUTH: tell it in an INFORMATIONAL (RFC 7296 §2.21.2) */
  rejectedPeerAuth = false;
  children: ChildSa[] = [];
  // task manager (RFC 7296 §2.3 window of 1)
  nextMidOut = 0;
  expectedMidIn = 0;
  active: ActiveExchange | null = null;
  passive: PassiveExchange | null = null;
  queued: QueuedExchange[] = [];
  lastResponse: { messageId: number; packets: Buffer[] } | null = null;
  reassembly: Reassembly | null = null;
  lastInboundAt: number;
  /** -1 until established */
  establishedAt = -1;
  halfOpenDeadline = 0;
  rekeyQueued = false;
  /** responder: the key of this SA in the half-open table while it is half-open */
  initKey: string | null = null;
  /** when we last sent anything to the peer (NAT keepalives, RFC 3948 §2.3) */
  lastSentAt = 0;
  /** RFC 4555: both sides sent MOBIKE_SUPPORTED in IKE_AUTH */
  mobike = false;
  /** the addresses of the request being answered (MOBIKE UPDATE_SA_ADDRESSES takes them) */
  requestPath: { from: Endpoint; to: Endpoint } | null = null;

  constructor(
    readonly serial: number,
    readonly role: 'initiator' | 'responder',
    readonly spiI: bigint,
    public local: Endpoint,
    public remote: Endpoint,
    peer: Ikev2PeerConfig,
    candidates: Ikev2PeerConfig[],
    now: number,
  ) {
    this.peer = peer;
    this.candidates = candidates;
    this.lastInboundAt = now;
  }

  /**
   * After IKE_AUTH only SK_d (and the SK protection) is needed again: drop the
   * nonces, the DH state, SK_pi/SK_pr and the IKE_SA_INIT copies (memory per SA).
   */
  compact(): void {
    this.dh = null;
    this.ni = EMPTY;
    this.nr = EMPTY;
    this.initRequest = EMPTY;
    this.initResponse = EMPTY;
    this.candidates = [this.peer];
    this.peerIdData = own(this.peerIdData);
    if (this.keys) this.keys = { skeyseed: EMPTY, skD: own(this.keys.skD), skAi: EMPTY, skAr: EMPTY, skEi: EMPTY, skEr: EMPTY, skPi: EMPTY, skPr: EMPTY };
    if (this.chosen) this.chosen = { ...this.chosen, spi: EMPTY };
  }

  get isInitiator(): boolean {
    return this.role === 'initiator';
  }
  get localSpi(): bigint {
    return this.isInitiator ? this.spiI : this.spiR;
  }
  get udpEncap(): boolean {
    return this.natHere || this.natThere || this.peer.forceEncap === true;
  }
  /** Nonce of the side that sent the request of the IKE_SA_INIT: Ni; the other: Nr. */
  get ourNonce(): Buffer {
    return this.isInitiator ? this.ni : this.nr;
  }
  get peerNonce(): Buffer {
    return this.isInitiator ? this.nr : this.ni;
  }
}
