/**
 * ike_rekey: rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 §1.3.2,
 * §2.18). The new IKE SA gets new SPIs, keys from SKEYSEED = prf(SK_d (old),
 * g^ir (new) | Ni | Nr), message IDs from 0, and inherits the CHILD_SAs; the
 * initiator of the rekey then deletes the old IKE SA.
 */
import { ExchangeType, NotifyType, PayloadType, ProtocolId, isErrorNotify } from '../constants';
import type { DhLike } from '../crypto-port';
import { IkeSa } from '../ike-sa';
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

/** Build the IKE SA that replaces `old` and move the CHILD_SAs over. */
function takeOver(
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
  sa.ni = ni;
  sa.nr = nr;
  sa.chosen = chosen;
  sa.prfSuite = prf;
  sa.dhGroup = chosen.dh ?? old.dhGroup;
  sa.keys = deriveRekeyedIkeSaKeys(old.prfSuite, old.keys.skD, prf, ni, nr, shared, spiI, spiR, {
    integKeyBytes: integ?.keyBytes ?? 0,
    encrKeyBytes: encr.keyBytes + (encr.aead ? encr.saltBytes : 0),
  });
  const i = new SkProtector(encr, integ, sa.keys.skEi, sa.keys.skAi);
  const r = new SkProtector(encr, integ, sa.keys.skEr, sa.keys.skAr);
  sa.skOut = role === 'initiator' ? i : r;
  sa.skIn = role === 'initiator' ? r : i;
  sa.natHere = old.natHere;
  sa.natThere = old.natThere;
  sa.peerSupportsFragmentation = old.peerSupportsFragmentation;
  sa.peerIdType = old.peerIdType;
  sa.peerIdData = old.peerIdData;
  sa.state = 'established';
  sa.establishedAt = svc.now();
  sa.children = old.children;
  old.children = [];
  old.state = 'rekeyed';
  svc.adoptIkeSa(sa);
  svc.log('info', `IKE_SA ${old.peer.name}[${old.serial}] rekeyed to [${sa.serial}]`, sa);
  return sa;
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
    const err = payloads.find((p) => p.type === PayloadType.NOTIFY && isErrorNotify(p.notifyType));
    if (err && err.type === PayloadType.NOTIFY) {
      svc.log('warn', `IKE_SA rekey refused: ${NotifyType[err.notifyType] ?? err.notifyType}; keeping the current IKE_SA`, sa);
      return 'done';
    }
    const saP = findPayload(payloads, PayloadType.SA);
    const nonce = findPayload(payloads, PayloadType.NONCE);
    const ke = findPayload(payloads, PayloadType.KE);
    const chosen = saP ? checkAnswer(saP.proposals, 'ike', sa.peer.ikeProposals, svc.crypto, true) : null;
    if (!chosen || chosen.spi.length !== 8 || !nonce || !ke || ke.dhGroup !== this.dhGroup || chosen.dh !== this.dhGroup) {
      svc.log('warn', 'invalid IKE_SA rekey response; keeping the current IKE_SA', sa);
      return 'done';
    }
    let shared: Buffer;
    try {
      shared = this.dh!.computeShared(ke.keyData);
    } catch (e) {
      svc.log('warn', `IKE_SA rekey KE failed: ${(e as Error).message}`, sa);
      return 'done';
    }
    this.created = takeOver(svc, sa, 'initiator', this.newSpi, chosen.spi.readBigUInt64BE(0), this.nonceI, nonce.nonce, chosen, shared);
    if (this.created) svc.queueExchange(sa, ExchangeType.INFORMATIONAL, [new IkeDeleteTask()]);
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
    if (sa.active?.tasks.some((t) => t.kind === 'ike_rekey')) {
      // simultaneous IKE_SA rekeying is not arbitrated here: refuse, the peer retries later (RFC 7296 §2.25)
      this.error = { type: NotifyType.TEMPORARY_FAILURE };
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
    this.created = takeOver(svc, sa, 'responder', this.peerSpi, this.newSpi, this.nonceI, nonceR, this.chosen, shared);
    return 'done';
  }
}
