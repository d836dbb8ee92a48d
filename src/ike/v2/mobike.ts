/**
 * ike_mobike: IKEv2 Mobility and Multihoming (RFC 4555), the part tanuki
 * speaks — the shape of strongSwan's sa/ikev2/tasks/ike_mobike.c:
 *
 *   - MOBIKE_SUPPORTED in the IKE_AUTH request and response (§3.1, §4.2.1);
 *     both sides sent it = the IKE SA has `mobike` set;
 *   - the original initiator, after its addresses changed (a MIGRATE, a local
 *     address change), sends an INFORMATIONAL request with UPDATE_SA_ADDRESSES,
 *     NAT_DETECTION_SOURCE_IP / _DESTINATION_IP computed for the new path and
 *     COOKIE2 (§3.5, §3.7, §4.2.4, §4.2.5); the response must echo COOKIE2;
 *   - the responder moves the IKE SA to the addresses of that request's IP
 *     header, repeats NAT detection on the new path and answers with its own
 *     NAT_DETECTION_* and the COOKIE2 copy (§3.5);
 *   - any other INFORMATIONAL request with COOKIE2 (a return routability check,
 *     §3.7) gets COOKIE2 echoed, and NAT_DETECTION_* answered for the current path.
 *
 * Which requests may move an IKE SA's addresses (RFC 4555 §3.5 + RFC 7296
 * §2.23) is decided by `followsRequestAddresses`: while IKE_AUTH runs (the
 * initiator floats to 4500), and afterwards only a MOBIKE UPDATE_SA_ADDRESSES
 * or — without MOBIKE — a NAT-mapping change of a peer behind a NAT. A stale
 * request arriving at an address we moved away from therefore can no longer
 * pull the IKE SA back.
 *
 * Not implemented: ADDITIONAL_IP4/6_ADDRESS lists (§3.6) are ignored when
 * received and never sent; the responder does not run its own return
 * routability check before updating (§3.7 makes it optional).
 */
import type { Endpoint } from '../common/natt';
import { floatPorts } from '../common/natt';
import { NotifyType, PayloadType } from './constants';
import type { IkeSa } from './ike-sa';
import { type Payload, findNotify, notify } from './payloads';
import { natdHash } from './tasks/ike-init';
import type { Services, Task, TaskResult } from './tasks/task';

/** RFC 4555 §4.2.5: COOKIE2 is 8 to 64 octets; we send 16. */
const COOKIE2_BYTES = 16;
const COOKIE2_MIN = 8;
const COOKIE2_MAX = 64;

function natdFor(svc: Services, sa: IkeSa, local: Endpoint, remote: Endpoint): Payload[] {
  const src = sa.peer.forceEncap ? svc.random.bytes(20) : natdHash(svc, sa.spiI, sa.spiR, local);
  return [notify(NotifyType.NAT_DETECTION_SOURCE_IP, src), notify(NotifyType.NAT_DETECTION_DESTINATION_IP, natdHash(svc, sa.spiI, sa.spiR, remote))];
}

/**
 * RFC 7296 §2.23 NAT detection repeated on the path of one message: the
 * peer's NAT_DETECTION_* against the addresses that message really used.
 * Returns false when the message carried no NAT_DETECTION notifies.
 */
function detectNatOnPath(svc: Services, sa: IkeSa, payloads: readonly Payload[], local: Endpoint, remote: Endpoint): boolean {
  const srcs = payloads.filter((p) => p.type === PayloadType.NOTIFY && p.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
  const dst = findNotify(payloads, NotifyType.NAT_DETECTION_DESTINATION_IP);
  if (srcs.length === 0 || !dst) return false;
  const there = natdHash(svc, sa.spiI, sa.spiR, remote);
  sa.natThere = !srcs.some((p) => p.type === PayloadType.NOTIFY && p.data.equals(there));
  sa.natHere = !dst.data.equals(natdHash(svc, sa.spiI, sa.spiR, local));
  return true;
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}

/**
 * May this request (already authenticated) move the IKE SA to the addresses
 * it came from / arrived on? RFC 7296 §2.23 and RFC 4555 §3.5.
 */
export function followsRequestAddresses(sa: IkeSa, exchangeType: number, payloads: readonly Payload[]): 'both' | 'remote' | 'none' {
  // IKE_AUTH: the initiator switches to port 4500 after NAT detection (§2.23).
  if (sa.state === 'connecting') return 'both';
  // MOBIKE: only UPDATE_SA_ADDRESSES moves the IKE SA (RFC 4555 §3.5); its task does it.
  if (sa.mobike) return 'none';
  // Without MOBIKE, a peer behind a NAT may have a new mapping (§2.23); our own address never follows.
  if (sa.natThere) return 'remote';
  void exchangeType;
  void payloads;
  return 'none';
}

/** MOBIKE_SUPPORTED in IKE_AUTH (RFC 4555 §3.1): in both directions when `peer.mobike` is on. */
export class MobikeSupportTask implements Task {
  readonly kind = 'ike_mobike' as const;
  private peerSupports = false;

  buildRequest(_svc: Services, sa: IkeSa, out: Payload[]): void {
    if (sa.peer.mobike) out.push(notify(NotifyType.MOBIKE_SUPPORTED));
  }
  processResponse(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult {
    if (sa.peer.mobike && findNotify(payloads, NotifyType.MOBIKE_SUPPORTED)) {
      sa.mobike = true;
      svc.log('info', 'MOBIKE negotiated (RFC 4555)', sa);
    }
    return 'done';
  }
  processRequest(_svc: Services, _sa: IkeSa, payloads: readonly Payload[]): void {
    this.peerSupports = !!findNotify(payloads, NotifyType.MOBIKE_SUPPORTED);
  }
  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    // sa.peer is the configuration IKE_AUTH chose (its task runs first).
    if (sa.peer.mobike && sa.state === 'established') {
      out.push(notify(NotifyType.MOBIKE_SUPPORTED));
      if (this.peerSupports) {
        sa.mobike = true;
        svc.log('info', 'MOBIKE negotiated (RFC 4555)', sa);
      }
    }
    return 'done';
  }
}

/** The original initiator announces its new addresses (RFC 4555 §3.5). */
export class MobikeUpdateTask implements Task {
  readonly kind = 'ike_mobike' as const;
  private cookie2: Buffer = Buffer.alloc(0);

  buildRequest(svc: Services, sa: IkeSa, out: Payload[]): void {
    this.cookie2 = svc.random.bytes(COOKIE2_BYTES);
    out.push(notify(NotifyType.UPDATE_SA_ADDRESSES), ...natdFor(svc, sa, sa.local, sa.remote), notify(NotifyType.COOKIE2, this.cookie2));
    svc.log('info', `MOBIKE: sending UPDATE_SA_ADDRESSES from ${sa.local.address}[${sa.local.port}] to ${sa.remote.address}[${sa.remote.port}]`, sa);
  }

  processResponse(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult {
    const echo = findNotify(payloads, NotifyType.COOKIE2);
    if (!echo || !echo.data.equals(this.cookie2)) {
      // §3.7: a response without our COOKIE2 is not an answer to this request
      svc.log('warn', 'MOBIKE: UPDATE_SA_ADDRESSES response without our COOKIE2: ignored', sa);
      return 'done';
    }
    const wasEncap = sa.udpEncap;
    if (detectNatOnPath(svc, sa, payloads, sa.local, sa.remote) && sa.udpEncap && !wasEncap) {
      const f = floatPorts(sa.local, sa.remote);
      sa.local = f.local;
      sa.remote = f.remote;
    }
    svc.log('info', `MOBIKE: peer confirmed ${sa.local.address}[${sa.local.port}]-${sa.remote.address}[${sa.remote.port}] (NAT here: ${sa.natHere}, there: ${sa.natThere})`, sa);
    return 'done';
  }
}

/**
 * The responder side of MOBIKE INFORMATIONALs: UPDATE_SA_ADDRESSES (move the
 * IKE SA to the request's addresses), COOKIE2 echo and NAT detection for the
 * path the request took (RFC 4555 §3.5, §3.7).
 */
export class MobikeResponderTask implements Task {
  readonly kind = 'ike_mobike' as const;
  private cookie2: Buffer | null = null;
  private natd = false;

  constructor(private readonly path: { from: Endpoint; to: Endpoint }) {}

  processRequest(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void {
    const c2 = findNotify(payloads, NotifyType.COOKIE2);
    if (c2 && c2.data.length >= COOKIE2_MIN && c2.data.length <= COOKIE2_MAX) this.cookie2 = c2.data;
    const update = !!findNotify(payloads, NotifyType.UPDATE_SA_ADDRESSES);
    if (update && !sa.mobike) {
      svc.log('warn', 'UPDATE_SA_ADDRESSES on an IKE SA without MOBIKE: addresses not changed', sa);
      return;
    }
    if (update && sa.isInitiator) {
      svc.log('warn', 'UPDATE_SA_ADDRESSES from the original responder (RFC 4555 §3.5 allows it to the initiator only): addresses not changed', sa);
      return;
    }
    const { from, to } = this.path;
    if (update && (!sameEndpoint(sa.remote, from) || !sameEndpoint(sa.local, to))) {
      svc.log('info', `MOBIKE: peer moved, IKE SA ${sa.local.address}[${sa.local.port}]-${sa.remote.address}[${sa.remote.port}] now ${to.address}[${to.port}]-${from.address}[${from.port}]`, sa);
      sa.local = { ...to };
      sa.remote = { ...from };
    }
    this.natd = detectNatOnPath(svc, sa, payloads, to, from);
  }

  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    if (this.natd) out.push(...natdFor(svc, sa, sa.local, sa.remote));
    if (this.cookie2) out.push(notify(NotifyType.COOKIE2, this.cookie2));
    return 'done';
  }
}

/** An INFORMATIONAL request MOBIKE answers (UPDATE_SA_ADDRESSES, COOKIE2 or NAT_DETECTION_*), else null. */
export function mobikeResponder(payloads: readonly Payload[], path: { from: Endpoint; to: Endpoint }): MobikeResponderTask | null {
  const wanted = [NotifyType.UPDATE_SA_ADDRESSES, NotifyType.COOKIE2, NotifyType.NAT_DETECTION_SOURCE_IP];
  return wanted.some((t) => findNotify(payloads, t)) ? new MobikeResponderTask(path) : null;
}
