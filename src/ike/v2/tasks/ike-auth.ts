/**
 * ike_auth: IKE_AUTH (RFC 7296 §1.2, §2.15) with pre-shared keys or RFC 7427
 * digital signatures over X.509 certificates (CERT §3.6, CERTREQ §3.7), ID
 * payloads (§3.5) and INITIAL_CONTACT (§2.4).
 */
import { AuthMethod, CertEncoding, NotifyType, PayloadType } from '../constants';
import type { Ikev2PeerConfig } from '../config';
import { describeIdentity, identityData, identityMatches } from '../identity';
import type { IkeSa } from '../ike-sa';
import { idPayloadBody, pskAuth, signedOctets } from '../keymat';
import { Payload, allPayloads, findNotify, findPayload, notify } from '../payloads';
import type { Services, Task, TaskResult } from './task';

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** The signed octets of the side that sent RealMessage1 (initiator) or RealMessage2 (§2.15). */
function octetsFor(sa: IkeSa, forInitiator: boolean, idType: number, idData: Buffer): Buffer {
  const prf = sa.prfSuite!.prf;
  const keys = sa.keys!;
  const real = forInitiator ? sa.initRequest : sa.initResponse;
  const nonce = forInitiator ? sa.nr : sa.ni;
  const skP = forInitiator ? keys.skPi : keys.skPr;
  return signedOctets(prf, real, nonce, skP, idPayloadBody(idType, idData));
}

/** Our AUTH payload with our config's method; null if we cannot produce one. */
function ourAuth(svc: Services, sa: IkeSa, forInitiator: boolean, idType: number, idData: Buffer): Payload | null {
  const octets = octetsFor(sa, forInitiator, idType, idData);
  const a = sa.peer.auth;
  if (a.method === 'psk') return { type: PayloadType.AUTH, method: AuthMethod.SHARED_KEY_MIC, data: pskAuth(sa.prfSuite!.prf, a.psk, octets) };
  const data = svc.pubkey?.sign(a.privateKeyPem, a.hash ?? 'sha256', octets) ?? null;
  if (!data) {
    svc.log('error', 'cannot sign the AUTH payload with the configured private key', sa);
    return null;
  }
  return { type: PayloadType.AUTH, method: AuthMethod.DIGITAL_SIGNATURE, data };
}

function certPayloads(cfg: Ikev2PeerConfig): Payload[] {
  return cfg.auth.method === 'pubkey' && cfg.auth.sendCert !== false ? cfg.auth.certificates.map((data) => ({ type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data })) : [];
}

/**
 * RFC 7296 §3.7: one CERTREQ (encoding 4, X.509 Certificate - Signature) listing the
 * SHA-1 hashes of the SubjectPublicKeyInfo of the trusted CAs of every config in `cfgs`
 * that uses certificate authentication and does not turn racoon `send_cr` off.
 */
export function certReqFor(svc: Services, cfgs: readonly Ikev2PeerConfig[]): Payload[] {
  const pubkey = svc.pubkey;
  if (!pubkey) return [];
  const ids: Buffer[] = [];
  for (const cfg of cfgs) {
    if (cfg.auth.method !== 'pubkey' || cfg.auth.sendCertReq === false) continue;
    for (const ca of cfg.auth.trustedCas) {
      const id = pubkey.caKeyId(ca);
      if (id && !ids.some((x) => x.equals(id))) ids.push(id);
    }
  }
  return ids.length ? [{ type: PayloadType.CERTREQ, encoding: CertEncoding.X509_SIGNATURE, data: Buffer.concat(ids) }] : [];
}

function certReq(svc: Services, cfg: Ikev2PeerConfig): Payload[] {
  return certReqFor(svc, [cfg]);
}

/** Check the peer's AUTH (and certificates) against config `cfg`; null = authenticated, else why not. */
function verifyPeer(svc: Services, sa: IkeSa, cfg: Ikev2PeerConfig, peerIsInitiator: boolean, payloads: readonly Payload[], idType: number, idData: Buffer): string | null {
  const auth = findPayload(payloads, PayloadType.AUTH);
  if (!auth) return 'no AUTH payload';
  const octets = octetsFor(sa, peerIsInitiator, idType, idData);
  if (cfg.auth.method === 'psk') {
    if (auth.method !== AuthMethod.SHARED_KEY_MIC) return `AUTH method ${AuthMethod[auth.method] ?? auth.method}, configured: pre-shared key`;
    return constantTimeEqual(auth.data, pskAuth(sa.prfSuite!.prf, cfg.auth.psk, octets)) ? null : 'AUTH payload does not verify (pre-shared key mismatch?)';
  }
  if (!svc.pubkey) return 'no certificate support configured in the engine';
  if (auth.method !== AuthMethod.DIGITAL_SIGNATURE) return `AUTH method ${AuthMethod[auth.method] ?? auth.method}, configured: RFC 7427 digital signature`;
  const pinned = cfg.auth.peerCertificate;
  // racoon peers_certfile: the configured certificate stands for the peer, whatever CERT it sends
  const certs = pinned ? [pinned] : allPayloads(payloads, PayloadType.CERT).filter((c) => c.encoding === CertEncoding.X509_SIGNATURE).map((c) => c.data);
  if (certs.length === 0) return 'no X.509 certificate received';
  if (cfg.auth.verifyCert !== false) {
    if (!pinned) {
      const chain = svc.pubkey.validateChain(certs, cfg.auth.trustedCas);
      if (chain) return `certificate not trusted: ${chain}`;
    }
    if (!svc.pubkey.certMatchesId(certs[0], idType, idData)) return `certificate does not name ${describeIdentity(idType, idData)}`;
  }
  return svc.pubkey.verify(certs[0], auth.data, octets) ? null : 'signature in the AUTH payload does not verify';
}

function establish(svc: Services, sa: IkeSa): void {
  sa.state = 'established';
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
    out.push({ type: PayloadType.IDi, idType: id.type, data }, ...certPayloads(sa.peer), ...certReq(svc, sa.peer));
    if (sa.peer.initialContact !== false && svc.otherSasWithPeer(sa).length === 0) out.push(notify(NotifyType.INITIAL_CONTACT));
    if (sa.peer.remote.id) out.push({ type: PayloadType.IDr, idType: sa.peer.remote.id.type, data: identityData(sa.peer.remote.id) });
    const auth = ourAuth(svc, sa, true, id.type, data);
    if (auth) out.push(auth);
  }

  processResponse(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult {
    if (findNotify(payloads, NotifyType.AUTHENTICATION_FAILED)) {
      svc.log('error', 'peer answered AUTHENTICATION_FAILED', sa);
      sa.authFailed = true;
      return 'failed';
    }
    const idr = findPayload(payloads, PayloadType.IDr);
    if (!idr) {
      svc.log('error', 'IKE_AUTH response lacks IDr', sa);
      sa.authFailed = true;
      return 'failed';
    }
    if (!identityMatches(sa.peer.remote.id, idr.idType, idr.data)) {
      svc.log('error', `peer identity ${describeIdentity(idr.idType, idr.data)} does not match the configuration`, sa);
      sa.authFailed = true;
      sa.rejectedPeerAuth = true;
      return 'failed';
    }
    const why = verifyPeer(svc, sa, sa.peer, false, payloads, idr.idType, idr.data);
    if (why) {
      svc.log('error', `authentication of the responder failed: ${why}`, sa);
      sa.authFailed = true;
      sa.rejectedPeerAuth = true;
      return 'failed';
    }
    sa.peerIdType = idr.idType;
    sa.peerIdData = idr.data;
    establish(svc, sa);
    return 'done';
  }

  processRequest(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void {
    const idi = findPayload(payloads, PayloadType.IDi);
    if (!idi || !findPayload(payloads, PayloadType.AUTH)) {
      svc.log('error', 'IKE_AUTH request lacks IDi or AUTH', sa);
      this.failed = true;
      sa.authFailed = true;
      return;
    }
    const idr = findPayload(payloads, PayloadType.IDr);
    // peer config selection by the identities (RFC 7296 §2.15; strongSwan ike_auth.c)
    let why = `no configuration for ${describeIdentity(idi.idType, idi.data)}`;
    const match = sa.candidates.find((c) => {
      if (!identityMatches(c.remote.id, idi.idType, idi.data) || (idr && !identityMatches(c.local.id, idr.idType, idr.data))) return false;
      const r = verifyPeer(svc, sa, c, true, payloads, idi.idType, idi.data);
      if (r) why = r;
      return r === null;
    });
    if (!match) {
      svc.log('error', `authentication of ${describeIdentity(idi.idType, idi.data)} failed: ${why}`, sa);
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
    const id = sa.peer.local.id;
    const data = identityData(id);
    const auth = this.failed ? null : ourAuth(svc, sa, false, id.type, data);
    if (!auth) {
      sa.authFailed = true;
      out.push(notify(NotifyType.AUTHENTICATION_FAILED));
      return 'failed';
    }
    out.push({ type: PayloadType.IDr, idType: id.type, data }, ...certPayloads(sa.peer), auth);
    establish(svc, sa);
    if (this.initialContact)
      for (const old of svc.otherSasWithPeer(sa)) svc.destroyIkeSa(old, 'INITIAL_CONTACT received: deleting the stale IKE_SA');
    return 'done';
  }
}

/** The initiator rejected our authentication after we answered IKE_AUTH (RFC 7296 §2.21.2). */
export class AuthFailedNoticeTask implements Task {
  readonly kind = 'ike_auth' as const;
  buildResponse(svc: Services, sa: IkeSa): TaskResult {
    svc.log('error', 'peer rejected our authentication (AUTHENTICATION_FAILED)', sa);
    return 'destroy';
  }
}
