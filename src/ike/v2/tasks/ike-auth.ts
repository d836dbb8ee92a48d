/**
 * ike_auth: IKE_AUTH with pre-shared keys (RFC 7296 §1.2, §2.15), ID
 * payloads (§3.5) and INITIAL_CONTACT (§2.4).
 */
import { AuthMethod, NotifyType, PayloadType } from '../constants';
import { describeIdentity, identityData, identityMatches } from '../identity';
import type { IkeSa } from '../ike-sa';
import { idPayloadBody, pskAuth, signedOctets } from '../keymat';
import { Payload, findNotify, findPayload, notify } from '../payloads';
import type { Services, Task, TaskResult } from './task';

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** AUTH value for the side that sends `realMessage` (§2.15). */
function authValue(sa: IkeSa, psk: Buffer, forInitiator: boolean, idType: number, idData: Buffer): Buffer {
  const prf = sa.prfSuite!.prf;
  const keys = sa.keys!;
  const real = forInitiator ? sa.initRequest : sa.initResponse;
  const nonce = forInitiator ? sa.nr : sa.ni;
  const skP = forInitiator ? keys.skPi : keys.skPr;
  return pskAuth(prf, psk, signedOctets(prf, real, nonce, skP, idPayloadBody(idType, idData)));
}

function establish(svc: Services, sa: IkeSa): void {
  sa.state = 'established';
  // RealMessage1/2 are only needed for AUTH (§2.15)
  sa.initRequest = Buffer.alloc(0);
  sa.initResponse = Buffer.alloc(0);
  sa.establishedAt = svc.now();
  svc.log('info', `IKE_SA ${sa.peer.name} established`, sa, { remoteId: describeIdentity(sa.peerIdType, sa.peerIdData) });
}

export class IkeAuthTask implements Task {
  readonly kind = 'ike_auth' as const;
  private failed = false;
  private initialContact = false;

  buildRequest(svc: Services, sa: IkeSa, out: Payload[]): void {
    const id = sa.peer.local.id;
    const data = identityData(id);
    out.push({ type: PayloadType.IDi, idType: id.type, data });
    if (sa.peer.initialContact !== false && svc.otherSasWithPeer(sa).length === 0) out.push(notify(NotifyType.INITIAL_CONTACT));
    if (sa.peer.remote.id) out.push({ type: PayloadType.IDr, idType: sa.peer.remote.id.type, data: identityData(sa.peer.remote.id) });
    out.push({ type: PayloadType.AUTH, method: AuthMethod.SHARED_KEY_MIC, data: authValue(sa, sa.peer.auth.psk, true, id.type, data) });
  }

  processResponse(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult {
    if (findNotify(payloads, NotifyType.AUTHENTICATION_FAILED)) {
      svc.log('error', 'peer answered AUTHENTICATION_FAILED', sa);
      sa.authFailed = true;
      return 'failed';
    }
    const idr = findPayload(payloads, PayloadType.IDr);
    const auth = findPayload(payloads, PayloadType.AUTH);
    if (!idr || !auth) {
      svc.log('error', 'IKE_AUTH response lacks IDr or AUTH', sa);
      sa.authFailed = true;
      return 'failed';
    }
    if (!identityMatches(sa.peer.remote.id, idr.idType, idr.data)) {
      svc.log('error', `peer identity ${describeIdentity(idr.idType, idr.data)} does not match the configuration`, sa);
      sa.authFailed = true;
      return 'failed';
    }
    if (auth.method !== AuthMethod.SHARED_KEY_MIC || !constantTimeEqual(auth.data, authValue(sa, sa.peer.auth.psk, false, idr.idType, idr.data))) {
      svc.log('error', 'authentication of the responder failed (AUTH payload does not verify)', sa);
      sa.authFailed = true;
      return 'failed';
    }
    sa.peerIdType = idr.idType;
    sa.peerIdData = idr.data;
    establish(svc, sa);
    return 'done';
  }

  processRequest(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void {
    const idi = findPayload(payloads, PayloadType.IDi);
    const auth = findPayload(payloads, PayloadType.AUTH);
    if (!idi || !auth) {
      svc.log('error', 'IKE_AUTH request lacks IDi or AUTH', sa);
      this.failed = true;
      sa.authFailed = true;
      return;
    }
    const idr = findPayload(payloads, PayloadType.IDr);
    // peer config selection by the identities (RFC 7296 §2.15; strongSwan ike_auth.c)
    const match = sa.candidates.find(
      (c) =>
        identityMatches(c.remote.id, idi.idType, idi.data) &&
        (!idr || identityMatches(c.local.id, idr.idType, idr.data)) &&
        auth.method === AuthMethod.SHARED_KEY_MIC &&
        constantTimeEqual(auth.data, authValue(sa, c.auth.psk, true, idi.idType, idi.data)),
    );
    if (!match) {
      svc.log('error', `authentication of ${describeIdentity(idi.idType, idi.data)} failed`, sa);
      this.failed = true;
      sa.authFailed = true;
      return;
    }
    sa.peer = match;
    sa.peerIdType = idi.idType;
    sa.peerIdData = idi.data;
    this.initialContact = !!findNotify(payloads, NotifyType.INITIAL_CONTACT);
  }

  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    if (this.failed) {
      out.push(notify(NotifyType.AUTHENTICATION_FAILED));
      return 'failed';
    }
    const id = sa.peer.local.id;
    const data = identityData(id);
    out.push({ type: PayloadType.IDr, idType: id.type, data });
    out.push({ type: PayloadType.AUTH, method: AuthMethod.SHARED_KEY_MIC, data: authValue(sa, sa.peer.auth.psk, false, id.type, data) });
    establish(svc, sa);
    if (this.initialContact)
      for (const old of svc.otherSasWithPeer(sa)) svc.destroyIkeSa(old, 'INITIAL_CONTACT received: deleting the stale IKE_SA');
    return 'done';
  }
}
