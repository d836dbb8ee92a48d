/**
 * ike_init: IKE_SA_INIT (RFC 7296 §1.2, §2.6 cookies, §2.23 NAT detection,
 * RFC 7383 §2.3 fragmentation support, RFC 7427 §4 SIGNATURE_HASH_ALGORITHMS).
 */
import { isIP } from 'node:net';
import { parseIp } from '../../../util/ip';
import type { Endpoint } from '../../common/natt';
import { HashAlgorithm, NotifyType, PayloadType, isErrorNotify } from '../constants';
import type { Ikev2PeerConfig } from '../config';
import { deriveIkeSaKeys } from '../keymat';
import type { IkeSa } from '../ike-sa';
import { Payload, findNotify, findPayload, notify } from '../payloads';
import { ChosenTransforms, answerProposal, checkAnswer, ikeProposals, offeredDhGroups, selectIkeProposal } from '../proposal';
import { SkProtector } from '../sk';
import { certReqFor } from './ike-auth';
import type { Services, Task, TaskResult } from './task';

/** RFC 7296 §2.10: nonces are at least 16 and at most 256 octets; we send 32. */
export const NONCE_BYTES = 32;
const NONCE_MIN = 16;
const NONCE_MAX = 256;

/** RFC 7296 §2.23: HASH = SHA-1(SPIi | SPIr | IP | Port). */
export function natdHash(svc: Services, spiI: bigint, spiR: bigint, ep: Endpoint): Buffer {
  const spis = Buffer.alloc(16);
  spis.writeBigUInt64BE(spiI, 0);
  spis.writeBigUInt64BE(spiR, 8);
  const ip = parseIp(ep.address) ?? Buffer.alloc(isIP(ep.address) === 6 ? 16 : 4);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(ep.port);
  return svc.crypto.sha1(Buffer.concat([spis, ip, port]));
}

function natdPayloads(svc: Services, sa: IkeSa, spiR: bigint): Payload[] {
  const src = sa.peer.forceEncap ? svc.random.bytes(20) : natdHash(svc, sa.spiI, spiR, sa.local);
  return [notify(NotifyType.NAT_DETECTION_SOURCE_IP, src), notify(NotifyType.NAT_DETECTION_DESTINATION_IP, natdHash(svc, sa.spiI, spiR, sa.remote))];
}

/** Compare the peer's NAT_DETECTION_* notifies with the addresses the message really used. */
function detectNat(svc: Services, sa: IkeSa, payloads: readonly Payload[], spiR: bigint): void {
  const srcs = payloads.filter((p) => p.type === PayloadType.NOTIFY && p.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
  const dst = findNotify(payloads, NotifyType.NAT_DETECTION_DESTINATION_IP);
  if (srcs.length === 0 || !dst) return; // peer does not do NAT-T
  const there = natdHash(svc, sa.spiI, spiR, sa.remote);
  sa.natThere = !srcs.some((p) => p.type === PayloadType.NOTIFY && p.data.equals(there));
  sa.natHere = !dst.data.equals(natdHash(svc, sa.spiI, spiR, sa.local));
}

const SIGNATURE_HASHES = [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512];
function signatureHashNotify(): Payload {
  const b = Buffer.alloc(SIGNATURE_HASHES.length * 2);
  SIGNATURE_HASHES.forEach((h, i) => b.writeUInt16BE(h, i * 2));
  return notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, b);
}

/** Derive SKEYSEED and SK_* and set up SK protection in both directions (§2.14). */
export function establishKeys(svc: Services, sa: IkeSa, chosen: ChosenTransforms, shared: Buffer): boolean {
  const prf = chosen.prf !== null ? svc.crypto.prf(chosen.prf) : null;
  const encr = svc.crypto.encr(chosen.encr.id, chosen.encr.keyBits);
  const integ = chosen.integ !== null ? svc.crypto.integ(chosen.integ) : null;
  if (!prf || !encr || (chosen.integ !== null && !integ)) return false;
  const encrKeyBytes = encr.keyBytes + (encr.aead ? encr.saltBytes : 0);
  const keys = deriveIkeSaKeys(prf, sa.ni, sa.nr, shared, sa.spiI, sa.spiR, { integKeyBytes: integ?.keyBytes ?? 0, encrKeyBytes });
  sa.prfSuite = prf;
  sa.keys = keys;
  sa.dh = null;
  sa.chosen = chosen;
  const i = new SkProtector(encr, integ, keys.skEi, keys.skAi);
  const r = new SkProtector(encr, integ, keys.skEr, keys.skAr);
  sa.skOut = sa.isInitiator ? i : r;
  sa.skIn = sa.isInitiator ? r : i;
  return true;
}

function firstDhGroup(peer: Ikev2PeerConfig): number {
  return peer.ikeProposals[0]?.dh[0] ?? 0;
}

export class IkeInitTask implements Task {
  readonly kind = 'ike_init' as const;
  private chosen: ChosenTransforms | null;
  private peerKe: Buffer = Buffer.alloc(0);

  constructor(chosen: ChosenTransforms | null = null) {
    this.chosen = chosen;
  }

  // ---- initiator
  buildRequest(svc: Services, sa: IkeSa, out: Payload[]): void {
    if (!sa.dh) {
      const group = sa.dhGroup || firstDhGroup(sa.peer);
      const suite = svc.crypto.dh(group);
      if (!suite) throw new RangeError(`DH group ${group} is not available`);
      sa.dh = suite.create(svc.random.bytes(suite.privateKeyBytes));
      sa.dhGroup = group;
      if (sa.ni.length === 0) sa.ni = svc.random.bytes(NONCE_BYTES);
    }
    if (sa.cookie) out.push(notify(NotifyType.COOKIE, sa.cookie));
    out.push(
      { type: PayloadType.SA, proposals: ikeProposals(sa.peer.ikeProposals, Buffer.alloc(0), sa.dhGroup) },
      { type: PayloadType.KE, dhGroup: sa.dhGroup, keyData: sa.dh.publicValue },
      { type: PayloadType.NONCE, nonce: sa.ni },
      ...natdPayloads(svc, sa, 0n),
    );
    if (sa.peer.fragmentation) out.push(notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED));
    out.push(signatureHashNotify());
  }

  processResponse(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult {
    const cookie = findNotify(payloads, NotifyType.COOKIE);
    if (cookie) {
      if (sa.cookie && sa.cookie.equals(cookie.data)) return 'failed';
      sa.cookie = cookie.data;
      svc.log('info', 'received COOKIE, retrying IKE_SA_INIT', sa);
      return 'retry';
    }
    const invalidKe = findNotify(payloads, NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      const group = invalidKe.data.length >= 2 ? invalidKe.data.readUInt16BE(0) : 0;
      const acceptable = sa.peer.ikeProposals.some((p) => p.dh.includes(group));
      if (!acceptable || group === sa.dhGroup) {
        svc.log('error', `peer requested DH group ${group} which we do not accept`, sa);
        return 'failed';
      }
      svc.log('info', `peer requested DH group ${group} (INVALID_KE_PAYLOAD), retrying`, sa);
      sa.dh = null;
      sa.dhGroup = group;
      return 'retry';
    }
    const err = payloads.find((p) => p.type === PayloadType.NOTIFY && isErrorNotify(p.notifyType));
    if (err && err.type === PayloadType.NOTIFY) {
      const name = NotifyType[err.notifyType] ?? String(err.notifyType);
      svc.log('error', err.notifyType === NotifyType.NO_PROPOSAL_CHOSEN ? 'no proposal chosen' : `IKE_SA_INIT failed: ${name}`, sa, { notify: name });
      return 'failed';
    }
    const saP = findPayload(payloads, PayloadType.SA);
    const ke = findPayload(payloads, PayloadType.KE);
    const nonce = findPayload(payloads, PayloadType.NONCE);
    if (!saP || !ke || !nonce || nonce.nonce.length < NONCE_MIN || nonce.nonce.length > NONCE_MAX) {
      svc.log('error', 'IKE_SA_INIT response lacks SA, KE or Nonce', sa);
      return 'failed';
    }
    const chosen = checkAnswer(saP.proposals, 'ike', sa.peer.ikeProposals, svc.crypto, true);
    if (!chosen || chosen.dh !== sa.dhGroup || ke.dhGroup !== sa.dhGroup) {
      svc.log('error', 'no proposal chosen: the responder answered with a proposal we did not offer', sa);
      return 'failed';
    }
    sa.nr = nonce.nonce;
    sa.peerSupportsFragmentation = !!findNotify(payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED);
    detectNat(svc, sa, payloads, sa.spiR);
    let shared: Buffer;
    try {
      shared = sa.dh!.computeShared(ke.keyData);
    } catch (e) {
      svc.log('error', `invalid KE payload: ${(e as Error).message}`, sa);
      return 'failed';
    }
    if (!establishKeys(svc, sa, chosen, shared)) return 'failed';
    return 'done';
  }

  // ---- responder (the engine has already selected the proposal and checked KE and COOKIE)
  processRequest(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void {
    const ke = findPayload(payloads, PayloadType.KE)!;
    const nonce = findPayload(payloads, PayloadType.NONCE)!;
    sa.ni = nonce.nonce;
    this.peerKe = ke.keyData;
    sa.dhGroup = ke.dhGroup;
    sa.peerSupportsFragmentation = !!findNotify(payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED);
    detectNat(svc, sa, payloads, 0n);
  }

  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    const chosen = this.chosen!;
    const suite = svc.crypto.dh(sa.dhGroup)!;
    const dh = suite.create(svc.random.bytes(suite.privateKeyBytes));
    sa.dh = dh;
    sa.nr = svc.random.bytes(NONCE_BYTES);
    let shared: Buffer;
    try {
      shared = dh.computeShared(this.peerKe);
    } catch (e) {
      svc.log('error', `invalid KE payload: ${(e as Error).message}`, sa);
      out.push(notify(NotifyType.INVALID_SYNTAX));
      return 'failed';
    }
    if (!establishKeys(svc, sa, chosen, shared)) {
      out.push(notify(NotifyType.NO_PROPOSAL_CHOSEN));
      return 'failed';
    }
    out.push(
      { type: PayloadType.SA, proposals: [answerProposal(chosen, Buffer.alloc(0))] },
      { type: PayloadType.KE, dhGroup: sa.dhGroup, keyData: dh.publicValue },
      { type: PayloadType.NONCE, nonce: sa.nr },
      ...natdPayloads(svc, sa, sa.spiR),
    );
    // RFC 7296 §3.7: a responder that wants certificates asks for them here; the config that
    // will authenticate the peer is chosen only in IKE_AUTH, so ask for the CAs of every candidate.
    out.push(...certReqFor(svc, [sa.peer, ...sa.candidates]));
    if (sa.peer.fragmentation) out.push(notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED));
    out.push(signatureHashNotify());
    return 'done';
  }
}

/** What a responder does with an IKE_SA_INIT request before it creates any state. */
export type IkeSaInitVerdict =
  | { kind: 'accept'; peer: Ikev2PeerConfig; chosen: ChosenTransforms }
  | { kind: 'reply'; payloads: Payload[]; reason: string }
  | { kind: 'drop'; reason: string };

/** RFC 7296 §1.2/§2.7: choose a proposal and check the KE group, statelessly. */
export function evaluateIkeSaInit(svc: Services, payloads: readonly Payload[], candidates: Ikev2PeerConfig[]): IkeSaInitVerdict {
  const saP = findPayload(payloads, PayloadType.SA);
  const ke = findPayload(payloads, PayloadType.KE);
  const nonce = findPayload(payloads, PayloadType.NONCE);
  if (!saP || !ke || !nonce) return { kind: 'reply', payloads: [notify(NotifyType.INVALID_SYNTAX)], reason: 'IKE_SA_INIT request lacks SA, KE or Nonce' };
  if (nonce.nonce.length < NONCE_MIN || nonce.nonce.length > NONCE_MAX)
    return { kind: 'reply', payloads: [notify(NotifyType.INVALID_SYNTAX)], reason: `nonce of ${nonce.nonce.length} octets` };
  for (const peer of candidates) {
    const chosen = selectIkeProposal(saP.proposals, peer.ikeProposals, svc.crypto);
    if (!chosen) continue;
    if (chosen.dh !== ke.dhGroup) {
      // the KE group is acceptable if it is in the chosen proposal and in our config (RFC 7296 §1.2)
      const offered = offeredDhGroups(saP.proposals.find((p) => p.proposalNum === chosen.proposalNum) ?? saP.proposals[0]);
      const ours = peer.ikeProposals.some((c) => c.dh.includes(ke.dhGroup));
      if (offered.includes(ke.dhGroup) && ours && svc.crypto.dh(ke.dhGroup)) chosen.dh = ke.dhGroup;
      else {
        const data = Buffer.alloc(2);
        data.writeUInt16BE(chosen.dh ?? 0);
        return { kind: 'reply', payloads: [notify(NotifyType.INVALID_KE_PAYLOAD, data)], reason: `KE group ${ke.dhGroup}, requesting ${chosen.dh}` };
      }
    }
    return { kind: 'accept', peer, chosen };
  }
  return { kind: 'reply', payloads: [notify(NotifyType.NO_PROPOSAL_CHOSEN)], reason: 'no proposal chosen' };
}
