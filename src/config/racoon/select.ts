/**
 * Remote and sainfo selection exactly as racoon scores them
 * (racoon-compat §1 "Remote matching", "Sainfo lookup"; remoteconf.c
 * rmconf_match_type/rmconf_find/getrmconf, sainfo.c getsainfo).
 * Pure functions over a parsed configuration.
 */
import { parseIp } from '../../util/ip';
import { chkcmpids, cmpAsn1Dn, dnToDer, idToString } from './ids';
import {
  type ExchangeMode,
  IpsecDoiIdType,
  type PhaseId,
  type Proposal,
  type RacoonConfig,
  type RemoteConf,
  type SaInfo,
  type SaInfoId,
} from './types';

/** rmconf_match_t */
export enum RemoteMatch {
  NONE = 0,
  BASIC = 0x1,
  ADDRESS = 0x2,
  SA = 0x4,
  IDENTITY = 0x8,
  AUTH_IDENTITY = 0x10,
}

/** A phase-1 SA as proposed by the peer, in IKEv1 attribute numbers (RFC 2409 App. A). */
export interface ProposedSa {
  readonly encryption: number;
  readonly keyLength: number;
  readonly hash: number;
  readonly authMethod: number;
  readonly dhGroup: number;
  readonly lifetime: number;
}

/** A CERT_REQUEST payload: certificate type (RFC 2408 §3.9) and DER issuer, if any. */
export interface CertificateRequest {
  readonly type: number;
  readonly issuer: Uint8Array | null;
}

/** rmconfselector */
export interface RemoteSelector {
  /** the peer's address; undefined/null = no address check. */
  readonly remote?: { readonly address: string; readonly zone?: string } | null;
  /** GETRMCONF_F_NO_ANONYMOUS */
  readonly noAnonymous?: boolean;
  /** GETRMCONF_F_NO_PASSIVE (ACQUIRE and admin initiation) */
  readonly noPassive?: boolean;
  readonly etype?: ExchangeMode;
  readonly approval?: ProposedSa | null;
  /** the peer's phase-1 ID payload body */
  readonly identity?: PhaseId | null;
  readonly certificateRequest?: CertificateRequest | null;
  /** DER issuer of a remote's own certificate (racoon: eay_get_x509asn1issuername(mycert)). */
  readonly myCertIssuer?: (r: RemoteConf) => Uint8Array | null;
}

export type RemoteSelection =
  | { readonly ok: true; readonly remote: RemoteConf; readonly match: number }
  | { readonly ok: false; readonly reason: 'no remote configuration found' | 'multiple non-exact configurations found' };

/** ISAKMP certificate types (RFC 2408 §3.9): X.509 signature 4, plain RSA (racoon) 11. */
const ISAKMP_CERT_NONE = 0;
const ISAKMP_CERT_X509SIGN = 4;
const ISAKMP_CERT_PLAINRSA = 11;
const ISAKMP_CERT_DNS = 3;

function certType(r: RemoteConf): number {
  if (!r.certificate) return ISAKMP_CERT_NONE;
  return r.certificate.type === 'x509' ? ISAKMP_CERT_X509SIGN : ISAKMP_CERT_PLAINRSA;
}
void ISAKMP_CERT_DNS;

/** isakmpsa_switch_authmethod(): responder-side hybrid/xauth methods compare as the initiator's. */
function switchAuthMethod(m: number): number {
  switch (m) {
    case 64222:
      return 64221;
    case 64224:
      return 64223;
    case 65002:
      return 65001;
    case 65004:
      return 65003;
    case 65006:
      return 65005;
    case 65008:
      return 65007;
    case 65010:
      return 65009;
    default:
      return m;
  }
}

/** checkisakmpsa(): the first configured proposal acceptable under proposal_check, or null. */
export function checkIsakmpSa(level: RemoteConf['proposalCheck'], p: ProposedSa, acceptable: readonly Proposal[]): Proposal | null {
  for (const a of acceptable) {
    if (
      switchAuthMethod(p.authMethod) !== switchAuthMethod(a.authMethod.alg.ikev1 ?? -1) ||
      p.encryption !== a.encryption.alg.ikev1 ||
      p.dhGroup !== a.dhGroup.alg.ikev1 ||
      p.hash !== a.hash.alg.ikev1
    )
      continue;
    switch (level) {
      case 'obey':
        break;
      case 'claim':
      case 'strict':
        if (p.keyLength < a.encryption.keyLength || p.lifetime > a.lifetime) continue;
        break;
      case 'exact':
        if (p.keyLength !== a.encryption.keyLength || p.lifetime !== a.lifetime) continue;
        break;
    }
    return a;
  }
  return null;
}

/** doi2idtype() */
function doiToIdType(t: IpsecDoiIdType): string {
  switch (t) {
    case IpsecDoiIdType.IPV4_ADDR:
    case IpsecDoiIdType.IPV6_ADDR:
      return 'address';
    case IpsecDoiIdType.FQDN:
      return 'fqdn';
    case IpsecDoiIdType.USER_FQDN:
      return 'user_fqdn';
    case IpsecDoiIdType.KEY_ID:
      return 'keyid';
    case IpsecDoiIdType.DER_ASN1_DN:
      return 'asn1dn';
    case IpsecDoiIdType.IPV4_ADDR_SUBNET:
    case IpsecDoiIdType.IPV6_ADDR_SUBNET:
      return 'subnet';
    default:
      return 'other';
  }
}

/** rmconf_match_identity(): 0 when one of peers_identifier accepts the peer's ID. */
export function matchPeersIdentifier(r: RemoteConf, id: PhaseId): number {
  if (r.peersIdentifiers.length === 0) return 0;
  for (const p of r.peersIdentifiers) {
    if (p.value === null) return 0;
    if (p.type !== doiToIdType(id.type)) continue;
    switch (p.type) {
      case 'asn1dn': {
        const der = dnToDer(p.value);
        if (der && cmpAsn1Dn(der, id.data) === 0) return 0;
        break;
      }
      case 'address': {
        const b = parseIp(p.value);
        if (b && b.length === id.data.length && Buffer.compare(b, Buffer.from(id.data)) === 0) return 0;
        break;
      }
      default: {
        const v = Buffer.from(p.value, 'latin1');
        if (id.data.length >= v.length && Buffer.compare(v, Buffer.from(id.data.subarray(0, v.length))) === 0) return 0;
      }
    }
  }
  // "No ID match."
  return r.verifyIdentifier ? 18 /* INVALID-ID-INFORMATION */ : 0;
}

/** cmpsaddr() != CMPSADDR_MISMATCH: same family, address and scope; ports never make a mismatch. */
function sameAddress(sel: { address: string; zone?: string }, r: RemoteConf): boolean {
  if (!r.remote) return false;
  const a = parseIp(sel.address);
  const b = parseIp(r.remote.address);
  if (!a || !b || a.length !== b.length || Buffer.compare(a, b) !== 0) return false;
  return (sel.zone ?? '') === r.remote.zone;
}

/** rmconf_match_type(): the match bitmask of one remote, 0 = not a match. */
export function rmconfMatchType(sel: RemoteSelector, r: RemoteConf): number {
  if (sel.noAnonymous && r.remote === null) return RemoteMatch.NONE;
  if (sel.noPassive && r.passive) return RemoteMatch.NONE;
  let ret = RemoteMatch.BASIC;
  if (sel.remote) {
    if (r.remote !== null) {
      if (!sameAddress(sel.remote, r)) return RemoteMatch.NONE;
      ret |= RemoteMatch.ADDRESS;
    }
  }
  if (sel.etype !== undefined) {
    if (!r.exchangeMode.includes(sel.etype)) return RemoteMatch.NONE;
    if (sel.approval) {
      if (sel.etype === 'aggressive' && sel.approval.dhGroup !== (r.dhGroup?.ikev1 ?? 0)) return RemoteMatch.NONE;
      if (checkIsakmpSa(r.proposalCheck, sel.approval, r.proposals) === null) return RemoteMatch.NONE;
    }
    ret |= RemoteMatch.SA;
  }
  if (sel.identity && r.verifyIdentifier) {
    if (matchPeersIdentifier(r, sel.identity) !== 0) return RemoteMatch.NONE;
    ret |= RemoteMatch.IDENTITY;
  }
  if (sel.certificateRequest) {
    const cr = sel.certificateRequest;
    if (cr.type !== certType(r)) return RemoteMatch.NONE;
    if (cr.issuer !== null && cr.issuer.length > 0) {
      const issuer = sel.myCertIssuer ? sel.myCertIssuer(r) : null;
      if (!issuer || Buffer.compare(Buffer.from(issuer), Buffer.from(cr.issuer)) !== 0) return RemoteMatch.NONE;
    } else if (!r.matchEmptyCr) return RemoteMatch.NONE;
    ret |= RemoteMatch.AUTH_IDENTITY;
  }
  return ret;
}

/**
 * getrmconf()/getrmconf_by_ph1(): the remote with the highest match bitmask, in
 * configuration order; a tie for the highest → no configuration
 * ("multiple non-exact configurations found").
 */
export function selectRemote(remotes: readonly RemoteConf[], sel: RemoteSelector): RemoteSelection {
  let best: RemoteConf | null = null;
  let bestType = 0;
  let found = 0;
  for (const r of remotes) {
    const m = rmconfMatchType(sel, r);
    if (m === RemoteMatch.NONE) continue;
    if (best !== null) {
      if (m < bestType) continue;
      if (m === bestType) {
        found++;
        continue;
      }
    }
    best = r;
    bestType = m;
    found = 1;
  }
  if (best === null) return { ok: false, reason: 'no remote configuration found' };
  if (found !== 1) return { ok: false, reason: 'multiple non-exact configurations found' };
  return { ok: true, remote: best, match: bestType };
}

/** The remote racoon uses to initiate towards `dst` after an ACQUIRE (passive remotes skipped). */
export function remoteForAcquire(config: RacoonConfig, dst: { address: string; zone?: string }): RemoteSelection {
  return selectRemote(config.remotes, { remote: dst, noPassive: true });
}

/** getrmconf_by_name() */
export function remoteByName(config: RacoonConfig, name: string): RemoteConf | null {
  return config.remotes.find((r) => r.name === name) ?? null;
}

/** sainfo2str() */
export function sainfoDescription(local: SaInfoId | null, remote: SaInfoId | 'clientaddr' | null, from: PhaseId | null, remoteid: number): string {
  const loc = local ? idToString(local.id) : 'ANONYMOUS';
  const rmt = remote === 'clientaddr' ? 'CLIENTADDR' : remote ? idToString(remote.id) : 'ANONYMOUS';
  const peer = from ? idToString(from) : 'ANY';
  return `loc='${loc}', rmt='${rmt}', peer='${peer}', id=${remoteid}`;
}

/**
 * getsainfo(loc, rmt, peer, client, remoteid): the first entry in priority order
 * whose remoteid is equal, whose `from` equals the peer's phase-1 ID and whose
 * local/remote IDs match (anonymous matches anything). A `clientaddr` entry
 * needs `client` (the peer's mode-cfg or tunnel address) and rmt == client.
 * `rmt === 'clientaddr'` is racoon's duplicate-check mode.
 */
export function findSaInfo(
  list: readonly SaInfo[],
  loc: PhaseId | null,
  rmt: PhaseId | 'clientaddr' | null,
  peer: PhaseId | null,
  client: PhaseId | null,
  remoteid: number,
): SaInfo | null {
  for (const s of list) {
    if (s.remoteid !== remoteid) continue;
    if (s.from !== null && chkcmpids(peer, s.from, false) !== 0) continue;
    const sLocal = s.local?.id ?? null;
    if (s.remote === 'clientaddr') {
      if (client === null) continue;
      if (rmt === 'clientaddr') {
        if (chkcmpids(loc, sLocal, false) === 0) return s;
      } else if (chkcmpids(loc, sLocal, false) === 0 && chkcmpids(rmt, client, false) === 0) return s;
      continue;
    }
    const sRemote = s.remote?.id ?? null;
    // racoon passes its CLIENTADDR marker pointer here; it can only equal an anonymous entry
    const rmtMatch = rmt === 'clientaddr' ? sRemote === null : chkcmpids(rmt, sRemote, false) === 0;
    if (chkcmpids(loc, sLocal, false) === 0 && rmtMatch) return s;
  }
  return null;
}

export interface SaInfoQuery {
  /** the local (source) phase-2 ID, null = anonymous */
  readonly local: PhaseId | null;
  /** the remote (destination) phase-2 ID, null = anonymous */
  readonly remote: PhaseId | null;
  /** the peer's phase-1 ID */
  readonly peer?: PhaseId | null;
  /** the peer's mode-cfg (or tunnel) client address as an ID */
  readonly client?: PhaseId | null;
  /** the remote's ph1id */
  readonly remoteid?: number;
}

/** getsainfo() over a configuration; null = "failed to get sainfo". */
export function selectSaInfo(config: RacoonConfig, q: SaInfoQuery): SaInfo | null {
  return findSaInfo(config.sainfos, q.local, q.remote, q.peer ?? null, q.client ?? null, q.remoteid ?? 0);
}
