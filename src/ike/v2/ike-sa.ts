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

/** `b` is the whole of its backing store (not a slice pinning a larger, shared one). */
function ownsItsMemory(b: Buffer): boolean {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length;
}

/**
 * One frozen copy per distinct negotiated transform set (without the SPI),
 * shared by every SA that chose it; a bounded table (the set of proposals is
 * configured, so it stays small).
 */
const TRANSFORM_SETS = new Map<string, ChosenTransforms>();
const MAX_TRANSFORM_SETS = 1024;
export function sharedTransforms(c: ChosenTransforms): ChosenTransforms {
  const key = `${c.proposalNum}/${c.protocolId}/${c.encr.id}/${c.encr.keyBits ?? ''}/${c.integ}/${c.prf}/${c.dh}/${c.esn}`;
  const hit = TRANSFORM_SETS.get(key);
  if (hit) return hit;
  const frozen: ChosenTransforms = Object.freeze({ ...c, spi: EMPTY, encr: Object.freeze({ ...c.encr }) });
  if (TRANSFORM_SETS.size < MAX_TRANSFORM_SETS) TRANSFORM_SETS.set(key, frozen);
  return frozen;
}

function packSelectors(list: TrafficSelectorWire[], block: Buffer, at: number): { list: TrafficSelectorWire[]; at: number } {
  // map(), not push(): an array grown by push() keeps room for 17 elements
  const out = list.map((ts) => {
    const s = ts.startAddress.copy(block, at);
    const e = ts.endAddress.copy(block, at + s);
    const packed = { tsType: ts.tsType, ipProtocolId: ts.ipProtocolId, startPort: ts.startPort, endPort: ts.endPort, startAddress: block.subarray(at, at + s), endAddress: block.subarray(at + s, at + s + e) };
    at += s + e;
    return packed;
  });
  return { list: out, at };
}

/**
 * An installed CHILD_SA keeps no keys (the kernel has them; new ones come from
 * SK_d), its selectors in one buffer of its own, and the shared transform set.
 */
export function compactChild(c: ChildSa): void {
  if (c.keys.encrIn.length || c.keys.encrOut.length || c.keys.integIn.length || c.keys.integOut.length) c.keys = NO_CHILD_KEYS;
  c.chosen = sharedTransforms(c.chosen);
  const all = [...c.localTs, ...c.remoteTs];
  if (all.length === 0) return;
  const size = all.reduce((n, t) => n + t.startAddress.length + t.endAddress.length, 0);
  const first = all[0].startAddress.buffer;
  if (first.byteLength === size && all.every((t) => t.startAddress.buffer === first && t.endAddress.buffer === first)) return; // packed already
  const block = Buffer.allocUnsafeSlow(size);
  const l = packSelectors(c.localTs, block, 0);
  c.localTs = l.list;
  c.remoteTs = packSelectors(c.remoteTs, block, l.at).list;
}

export type IkeSaState = 'connecting' | 'established' | 'rekeyed' | 'deleting' | 'dead';

/** What an installed CHILD_SA keeps of its KEYMAT: nothing. */
export const NO_CHILD_KEYS: ChildSa['keys'] = Object.freeze({ encrIn: EMPTY, integIn: EMPTY, encrOut: EMPTY, integOut: EMPTY });

export interface ChildSa {
  config: ChildConfig;
  /** SA2 reqid of the outbound SA (SADB_ADD, the out policy) */
  reqid: number;
  /** SA2 reqid of the inbound SA (SADB_GETSPI/SADB_UPDATE, the in and fwd policies): racoon reqid_in */
  inboundReqid: number;
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
  /**
   * RFC 7296 §2.8.2: we answered the peer's IKE_SA rekey while ours was outstanding —
   * the nonces of that exchange and the IKE SA it created, for the nonce rule
   */
  ikeRekeyCollision: { nonces: Buffer[]; created: IkeSa } | null = null;
  /** responder: the key of this SA in the half-open table while it is half-open */
  initKey: string | null = null;
  /** when we last sent anything to the peer (NAT keepalives, RFC 3948 §2.3) */
  lastSentAt = 0;
  /** RFC 4555: both sides sent MOBIKE_SUPPORTED in IKE_AUTH */
  mobike = false;
  /** the addresses of the request being answered (MOBIKE UPDATE_SA_ADDRESSES takes them) */
  requestPath: { from: Endpoint; to: Endpoint } | null = null;
  /** compact() has moved the keys into the SA's own buffer */
  private packed = false;

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
   * Memory layout of an established IKE SA (docs/ikev2.md "Performance"):
   * after IKE_AUTH only SK_d and the SK protection are needed again. Drop the
   * nonces, the DH state, SK_pi/SK_pr, SKEYSEED, the IKE_SA_INIT copies and the
   * responder's candidate list; pack SK_d, SK_e/SK_a of both directions and the
   * peer's ID data into one buffer of the SA's own (small slices of shared
   * buffers would pin whole 8 KiB pool slabs); keep the cached last response in
   * a buffer of its own; pack each CHILD_SA's selectors likewise and share one
   * frozen copy of each distinct negotiated transform set. Idempotent: the
   * engine calls it after every completed exchange of an established IKE SA.
   */
  compact(): void {
    this.dh = null;
    this.ni = EMPTY;
    this.nr = EMPTY;
    this.initRequest = EMPTY;
    this.initResponse = EMPTY;
    this.cookie = null;
    if (this.candidates.length !== 1 || this.candidates[0] !== this.peer) this.candidates = [this.peer];
    if (!this.packed && this.keys && this.skIn && this.skOut) {
      const skD = this.keys.skD;
      const block = Buffer.allocUnsafeSlow(skD.length + this.skIn.keyOctets + this.skOut.keyOctets + this.peerIdData.length);
      let at = skD.copy(block, 0);
      const packedSkD = block.subarray(0, at);
      at = this.skIn.moveKeys(block, at);
      at = this.skOut.moveKeys(block, at);
      this.peerIdData.copy(block, at);
      this.peerIdData = this.peerIdData.length ? block.subarray(at, at + this.peerIdData.length) : EMPTY;
      this.keys = { skeyseed: EMPTY, skD: packedSkD, skAi: EMPTY, skAr: EMPTY, skEi: EMPTY, skEr: EMPTY, skPi: EMPTY, skPr: EMPTY };
      this.packed = true;
    }
    if (this.chosen) this.chosen = sharedTransforms(this.chosen);
    if (this.lastResponse && !this.lastResponse.packets.every(ownsItsMemory)) this.lastResponse = { messageId: this.lastResponse.messageId, packets: this.lastResponse.packets.map(own) };
    for (const c of this.children) compactChild(c);
    // arrays grown by push() keep spare capacity: keep exact-size copies (an empty one has no element store)
    this.children = this.children.slice();
    if (this.queued.length === 0) this.queued = [];
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
