/**
 * ike_rekey: rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 §1.3.2,
 * §2.18). The new IKE SA gets new SPIs, keys from SKEYSEED = prf(SK_d (old),
 * g^ir (new) | Ni | Nr), message IDs from 0, and inherits the CHILD_SAs; the
 * initiator of the rekey then deletes the old IKE SA.
 *
 * Simultaneous rekeying (RFC 7296 §2.8.2): when the peer's rekey request
 * arrives while ours is outstanding, both are answered and two new IKE SAs
 * exist; the one created by the exchange holding the lowest of the four nonces
 * is redundant and its creator (the initiator of that exchange) deletes it.
 * The winner moves the CHILD_SAs to its new IKE SA and deletes the old one;
 * the loser moves them to the peer's new IKE SA and deletes only its own.
 */
import { ExchangeType, NotifyType, PayloadType, ProtocolId, isErrorNotify } from '../constants';
import type { DhLike } from '../crypto-port';
import { EMPTY, IkeSa, own } from '../ike-sa';
import { deriveRekeyedIkeSaKeys } from '../keymat';
import { Payload, findPayload, notify } from '../payloads';
import { ChosenTransforms, answerProposal, checkAnswer, ikeProposals, selectIkeProposal } from '../proposal';
import { SkProtector } from '../sk';
import { NONCE_BYTES } from './ike-init';
import { IkeDeleteTask } from './informational';
import type { Services, Task, TaskResult } from './task';

function spi64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

/**
 * Build the IKE SA that a rekey exchange created (RFC 7296 §2.18) and register
 * it, without taking anything over from `old` yet (see moveToRekeyed).
 */
function createRekeyedSa(
  svc: Services,
  old: IkeSa,
  role: 'initiator' | 'responder',
  spiI: bigint,
  spiR: bigint,
  ni: Buffer,
  nr: Buffer,
  chosen: ChosenTransforms,
  shared: Buffer,
): IkeSa | null {
  const prf = chosen.prf !== null ? svc.crypto.prf(chosen.prf) : null;
  const encr = svc.crypto.encr(chosen.encr.id, chosen.encr.keyBits);
  const integ = chosen.integ !== null ? svc.crypto.integ(chosen.integ) : null;
  if (!prf || !encr || (chosen.integ !== null && !integ) || !old.prfSuite || !old.keys) return null;
  const sa = new IkeSa(svc.newSerial(), role, spiI, { ...old.local }, { ...old.remote }, old.peer, [old.peer], svc.now());
  sa.spiR = spiR;
  sa.chosen = { ...chosen, spi: EMPTY };
  sa.prfSuite = prf;
  sa.dhGroup = chosen.dh ?? old.dhGroup;
  const keys = deriveRekeyedIkeSaKeys(old.prfSuite, old.keys.skD, prf, ni, nr, shared, spiI, spiR, {
    integKeyBytes: integ?.keyBytes ?? 0,
    encrKeyBytes: encr.keyBytes + (encr.aead ? encr.saltBytes : 0),
  });
  const i = new SkProtector(encr, integ, keys.skEi, keys.skAi);
  const r = new SkProtector(encr, integ, keys.skEr, keys.skAr);
  sa.skOut = role === 'initiator' ? i : r;
  sa.skIn = role === 'initiator' ? r : i;
  // only SK_d derives anything again (RFC 7296 §2.17, §2.18)
  sa.keys = { skeyseed: EMPTY, skD: own(keys.skD), skAi: EMPTY, skAr: EMPTY, skEi: EMPTY, skEr: EMPTY, skPi: EMPTY, skPr: EMPTY };
  sa.natHere = old.natHere;
  sa.natThere = old.natThere;
  sa.peerSupportsFragmentation = old.peerSupportsFragmentation;
  sa.mobike = old.mobike;
  sa.peerIdType = old.peerIdType;
  sa.peerIdData = old.peerIdData;
  sa.state = 'established';
  sa.establishedAt = svc.now();
  svc.adoptIkeSa(sa);
  return sa;
}

/**
 * `next` takes over from `old`: its CHILD_SAs and the exchanges still queued
 * on it (other than IKE_SA rekeys and deletes, which concerned `old` itself).
 */
export function moveToRekeyed(svc: Services, old: IkeSa, next: IkeSa): void {
  next.children = old.children;
  old.children = [];
  old.state = 'rekeyed';
  const keep = old.queued.filter((q) => !q.tasks.some((t) => t.kind === 'ike_rekey' || t.kind === 'ike_delete' || t.kind === 'ike_dpd'));
  old.queued = [];
  for (const q of keep) svc.queueExchange(next, q.exchangeType, q.tasks);
  svc.log('info', `IKE_SA ${old.peer.name}[${old.serial}] rekeyed to [${next.serial}]`, next);
}

/** The smallest of the four nonces of two colliding rekey exchanges is in `ours` (RFC 7296 §2.8.2). */
function lowestNonceIn(ours: Buffer[], theirs: Buffer[]): boolean {
  const all = [...ours, ...theirs];
  const lowest = all.reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
  return ours.includes(lowest);
}

export class IkeRekeyTask implements Task {
  readonly kind = 'ike_rekey' as const;
  private newSpi = 0n;
  private dh: DhLike | null = null;
  private dhGroup = 0;
  private nonceI: Buffer = Buffer.alloc(0);
  private peerKe: Buffer = Buffer.alloc(0);
  private peerSpi = 0n;
  private chosen: ChosenTransforms | null = null;
  private error: { type: NotifyType; data?: Buffer } | null = null;
  /** the IKE SA that replaced the old one */
  created: IkeSa | null = null;

  buildRequest(svc: Services, sa: IkeSa, out: Payload[]): void {
    this.newSpi = svc.newIkeSpi();
    this.dhGroup = sa.dhGroup;
    const suite = svc.crypto.dh(this.dhGroup)!;
    this.dh = suite.create(svc.random.bytes(suite.privateKeyBytes));
    this.nonceI = svc.random.bytes(NONCE_BYTES);
    out.push(
      { type: PayloadType.SA, proposals: ikeProposals(sa.peer.ikeProposals, spi64(this.newSpi), this.dhGroup) },
      { type: PayloadType.NONCE, nonce: this.nonceI },
      { type: PayloadType.KE, dhGroup: this.dhGroup, keyData: this.dh.publicValue },
    );
  }

  processResponse(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult {
    const collision = sa.ikeRekeyCollision;
    sa.ikeRekeyCollision = null;
    const err = payloads.find((p) => p.type === PayloadType.NOTIFY && isErrorNotify(p.notifyType));
    if (err && err.type === PayloadType.NOTIFY) {
      svc.log('warn', `IKE_SA rekey refused: ${NotifyType[err.notifyType] ?? err.notifyType}; keeping the current IKE_SA`, sa);
      return this.peerRekeyOnly(svc, sa, collision);
    }
    const saP = findPayload(payloads, PayloadType.SA);
    const nonce = findPayload(payloads, PayloadType.NONCE);
    const ke = findPayload(payloads, PayloadType.KE);
    const chosen = saP ? checkAnswer(saP.proposals, 'ike', sa.peer.ikeProposals, svc.crypto, true) : null;
    if (!chosen || chosen.spi.length !== 8 || !nonce || !ke || ke.dhGroup !== this.dhGroup || chosen.dh !== this.dhGroup) {
      svc.log('warn', 'invalid IKE_SA rekey response; keeping the current IKE_SA', sa);
      return this.peerRekeyOnly(svc, sa, collision);
    }
    let shared: Buffer;
    try {
      shared = this.dh!.computeShared(ke.keyData);
    } catch (e) {
      svc.log('warn', `IKE_SA rekey KE failed: ${(e as Error).message}`, sa);
      return this.peerRekeyOnly(svc, sa, collision);
    }
    const created = createRekeyedSa(svc, sa, 'initiator', this.newSpi, chosen.spi.readBigUInt64BE(0), this.nonceI, nonce.nonce, chosen, shared);
    this.created = created;
    if (!created) return this.peerRekeyOnly(svc, sa, collision);
    if (collision && collision.created.state !== 'dead') {
      if (lowestNonceIn([this.nonceI, nonce.nonce], collision.nonces)) {
        // our exchange holds the lowest nonce: our new IKE SA is redundant; the peer deletes the old one
        svc.log('info', `IKE_SA rekey collision lost (lowest nonce in our exchange): deleting our redundant IKE_SA [${created.serial}], keeping [${collision.created.serial}]`, sa);
        moveToRekeyed(svc, sa, collision.created);
        svc.queueExchange(created, ExchangeType.INFORMATIONAL, [new IkeDeleteTask()]);
        return 'done';
      }
      svc.log('info', `IKE_SA rekey collision won: the peer deletes its redundant IKE_SA [${collision.created.serial}]`, sa);
    }
    moveToRekeyed(svc, sa, created);
    // RFC 7296 §2.18: the initiator of the rekey deletes the old IKE SA
    svc.queueExchange(sa, ExchangeType.INFORMATIONAL, [new IkeDeleteTask()]);
    return 'done';
  }

  /**
   * Our rekey failed, but we answered the peer's colliding one: its new IKE SA
   * is the only one, so it takes over (the peer, its initiator, deletes the old).
   */
  private peerRekeyOnly(svc: Services, sa: IkeSa, collision: IkeSa['ikeRekeyCollision']): TaskResult {
    if (collision && collision.created.state !== 'dead' && sa.state !== 'dead') {
      svc.log('info', `IKE_SA rekey collision: only the peer's rekey succeeded, moving to [${collision.created.serial}]`, sa);
      moveToRekeyed(svc, sa, collision.created);
    }
    return 'done';
  }

  processRequest(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void {
    const saP = findPayload(payloads, PayloadType.SA);
    const nonce = findPayload(payloads, PayloadType.NONCE);
    const ke = findPayload(payloads, PayloadType.KE);
    if (!saP || !nonce || !ke || saP.proposals.some((p) => p.protocolId !== ProtocolId.IKE)) {
      this.error = { type: NotifyType.INVALID_SYNTAX };
      return;
    }
    const chosen = selectIkeProposal(saP.proposals, sa.peer.ikeProposals, svc.crypto);
    if (!chosen || chosen.spi.length !== 8) {
      svc.log('warn', 'no proposal chosen for the IKE_SA rekey', sa);
      this.error = { type: NotifyType.NO_PROPOSAL_CHOSEN };
      return;
    }
    if (chosen.dh !== ke.dhGroup) {
      const data = Buffer.alloc(2);
      data.writeUInt16BE(chosen.dh ?? 0);
      this.error = { type: NotifyType.INVALID_KE_PAYLOAD, data };
      return;
    }
    this.chosen = chosen;
    this.nonceI = nonce.nonce;
    this.peerKe = ke.keyData;
    this.peerSpi = chosen.spi.readBigUInt64BE(0);
    this.dhGroup = ke.dhGroup;
  }

  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    if (this.error || !this.chosen) {
      const e = this.error ?? { type: NotifyType.NO_PROPOSAL_CHOSEN };
      out.push(notify(e.type, e.data ?? Buffer.alloc(0)));
      return 'done';
    }
    const suite = svc.crypto.dh(this.dhGroup)!;
    this.dh = suite.create(svc.random.bytes(suite.privateKeyBytes));
    let shared: Buffer;
    try {
      shared = this.dh.computeShared(this.peerKe);
    } catch {
      out.push(notify(NotifyType.INVALID_SYNTAX));
      return 'done';
    }
    this.newSpi = svc.newIkeSpi();
    const nonceR = svc.random.bytes(NONCE_BYTES);
    out.push(
      { type: PayloadType.SA, proposals: [answerProposal(this.chosen, spi64(this.newSpi))] },
      { type: PayloadType.NONCE, nonce: nonceR },
      { type: PayloadType.KE, dhGroup: this.dhGroup, keyData: this.dh.publicValue },
    );
    const created = createRekeyedSa(svc, sa, 'responder', this.peerSpi, this.newSpi, this.nonceI, nonceR, this.chosen, shared);
    this.created = created;
    if (!created) return 'done';
    if (sa.active?.tasks.some((t) => t.kind === 'ike_rekey') && sa.active.packets) {
      // RFC 7296 §2.8.2: our own rekey request is outstanding; its response decides which new IKE SA stays
      sa.ikeRekeyCollision = { nonces: [this.nonceI, nonceR], created };
      svc.log('info', `IKE_SA rekey collision detected: answered the peer's rekey ([${created.serial}]) while ours is outstanding`, sa);
      return 'done';
    }
    moveToRekeyed(svc, sa, created);
    return 'done';
  }
}
