/**
 * child_create: a CHILD_SA negotiated inside IKE_AUTH (RFC 7296 §1.2) or by
 * CREATE_CHILD_SA (§1.3.1), optionally rekeying an existing one (§1.3.3,
 * REKEY_SA): SPI allocation by SADB_GETSPI, proposal choice, traffic-selector
 * narrowing (§2.9), USE_TRANSPORT_MODE (§1.3.1), optional PFS, keys (§2.17),
 * and installation by SADB_UPDATE (inbound) + SADB_ADD (outbound).
 */
import { SadbMsgType } from '../../../pfkey/constants';
import type { PfKeyMessage } from '../../../pfkey/types';
import { ExchangeType, NotifyType, PayloadType, ProtocolId, isErrorNotify } from '../constants';
import { ChildDeleteTask } from './informational';
import type { ChildConfig, ChildProposalConfig } from '../config';
import type { DhLike } from '../crypto-port';
import { EMPTY, type ChildSa, type IkeSa } from '../ike-sa';
import { deriveChildSaKeys } from '../keymat';
import { Payload, TrafficSelectorWire, findNotify, findPayload, notify } from '../payloads';
import { ChosenTransforms, answerProposal, checkAnswer, childProposals, selectChildProposal } from '../proposal';
import { describeTs, narrow, tsSubset, tsToWire } from '../ts';
import { deleteRequest, getSpiRequest, installRequest, policyRequests, spiBuffer } from '../child-sa';
import { NONCE_BYTES } from './ike-init';
import type { Services, Task, TaskResult } from './task';

/** Errors that fail only the CHILD_SA, not the IKE SA (RFC 7296 §2.21.3). */
const CHILD_ERRORS = [
  NotifyType.NO_PROPOSAL_CHOSEN,
  NotifyType.TS_UNACCEPTABLE,
  NotifyType.SINGLE_PAIR_REQUIRED,
  NotifyType.NO_ADDITIONAL_SAS,
  NotifyType.INTERNAL_ADDRESS_FAILURE,
  NotifyType.FAILED_CP_REQUIRED,
  NotifyType.INVALID_SELECTORS,
  NotifyType.TEMPORARY_FAILURE,
  NotifyType.CHILD_SA_NOT_FOUND,
  NotifyType.INVALID_KE_PAYLOAD,
];

export interface ChildCreateOptions {
  /** true inside IKE_AUTH: no Nonce/KE, keys from the IKE SA's nonces */
  inIkeAuth: boolean;
  /** the CHILD_SA this one replaces (REKEY_SA) */
  rekeyOf?: ChildSa;
}

export class ChildCreateTask implements Task {
  readonly kind: 'child_create' | 'child_rekey';
  private config: ChildConfig | null;
  private reqid = 0;
  private inboundReqid = 0;
  private inboundSpi: number | null = null;
  private waiting = false;
  private chosen: ChosenTransforms | null = null;
  private tsI: TrafficSelectorWire[] = [];
  private tsR: TrafficSelectorWire[] = [];
  private mode: 'tunnel' | 'transport' = 'tunnel';
  private nonceI: Buffer = Buffer.alloc(0);
  private nonceR: Buffer = Buffer.alloc(0);
  private dh: DhLike | null = null;
  private dhGroup = 0;
  private peerKe: Buffer | null = null;
  private error: { type: NotifyType; data?: Buffer } | null = null;
  private peerRequested = false;
  /** our proposals that the kernel can install (RFC 2367 REGISTER lists), set when first needed */
  private offered: ChildProposalConfig[] | null = null;
  /** the CHILD_SA created, once installed */
  created: ChildSa | null = null;

  constructor(config: ChildConfig | null, readonly opts: ChildCreateOptions) {
    this.config = config;
    this.kind = opts.rekeyOf ? 'child_rekey' : 'child_create';
    if (config) this.mode = config.mode;
  }

  /** the nonce this side contributed (for the rekey collision rule, RFC 7296 §2.8.1) */
  get ourNonce(): Buffer {
    return this.peerRequested ? this.nonceR : this.nonceI;
  }

  private proposals(svc: Services, sa: IkeSa, cfg: ChildConfig): ChildProposalConfig[] {
    this.offered ??= svc.childProposalsFor(sa, cfg);
    return this.offered;
  }

  prepare(svc: Services, sa: IkeSa): void {
    if (this.error || sa.authFailed || !this.config) return;
    if (this.peerRequested && !this.chosen) return;
    if (!this.peerRequested && this.proposals(svc, sa, this.config).length === 0) {
      svc.log('error', `CHILD_SA ${this.config.name}: no ESP proposal the kernel can install: not negotiated`, sa);
      return; // no GETSPI: the request goes without this CHILD_SA
    }
    this.reqid = this.opts.rekeyOf?.reqid ?? this.config.reqid ?? svc.allocateReqid(this.config);
    this.inboundReqid = this.opts.rekeyOf?.inboundReqid ?? this.config.inboundReqid ?? this.reqid;
    this.waiting = true;
    svc.pfkeyRequest(sa, this, getSpiRequest(sa, this.inboundReqid, this.mode));
  }

  pending(): boolean {
    return this.waiting;
  }

  onPfKeyReply(svc: Services, sa: IkeSa, msg: PfKeyMessage): void {
    if (msg.type !== SadbMsgType.GETSPI) return;
    this.waiting = false;
    if (msg.errno !== 0 || !msg.ext.sa) {
      svc.log('error', `SADB_GETSPI failed (errno ${msg.errno}): cannot allocate an inbound SPI`, sa);
      this.error = { type: NotifyType.NO_PROPOSAL_CHOSEN };
      return;
    }
    this.inboundSpi = msg.ext.sa.spi >>> 0;
  }

  abort(svc: Services, sa: IkeSa): void {
    if (this.opts.rekeyOf && this.opts.rekeyOf.state === 'rekeying' && !this.peerRequested)
      // our rekey failed; if we answered the peer's rekey of it (§2.8.1), the peer deletes it
      this.opts.rekeyOf.state = this.opts.rekeyOf.peerRekey ? 'rekeyed' : 'installed';
    if (this.inboundSpi !== null && !this.created) svc.pfkeySend(sa, deleteRequest(this.inboundSpi, sa.remote, sa.local));
    this.inboundSpi = null;
  }

  // ---- initiator
  buildRequest(svc: Services, sa: IkeSa, out: Payload[]): void {
    const cfg = this.config!;
    if (this.inboundSpi === null) return; // GETSPI failed: logged; the exchange goes without a CHILD_SA
    const offered = this.proposals(svc, sa, cfg);
    const pfsGroup = !this.opts.inIkeAuth ? (offered[0]?.dh[0] ?? 0) : 0;
    if (this.opts.rekeyOf)
      out.push(notify(NotifyType.REKEY_SA, Buffer.alloc(0), ProtocolId.ESP, spiBuffer(this.opts.rekeyOf.inboundSpi)));
    if (this.mode === 'transport') out.push(notify(NotifyType.USE_TRANSPORT_MODE));
    out.push({ type: PayloadType.SA, proposals: childProposals(offered, spiBuffer(this.inboundSpi), !this.opts.inIkeAuth, pfsGroup || undefined) });
    if (!this.opts.inIkeAuth) {
      this.nonceI = svc.random.bytes(NONCE_BYTES);
      out.push({ type: PayloadType.NONCE, nonce: this.nonceI });
      if (pfsGroup) {
        const suite = svc.crypto.dh(pfsGroup);
        if (suite) {
          this.dhGroup = pfsGroup;
          this.dh = suite.create(svc.random.bytes(suite.privateKeyBytes));
          out.push({ type: PayloadType.KE, dhGroup: pfsGroup, keyData: this.dh.publicValue });
        }
      }
    }
    out.push({ type: PayloadType.TSi, selectors: cfg.localTs.map(tsToWire) }, { type: PayloadType.TSr, selectors: cfg.remoteTs.map(tsToWire) });
  }

  processResponse(svc: Services, sa: IkeSa, payloads: readonly Payload[]): TaskResult {
    const cfg = this.config!;
    if (sa.authFailed || this.inboundSpi === null) {
      this.abort(svc, sa);
      return this.inboundSpi === null && !sa.authFailed ? 'child-failed' : 'done';
    }
    const err = payloads.find((p) => p.type === PayloadType.NOTIFY && isErrorNotify(p.notifyType) && CHILD_ERRORS.includes(p.notifyType));
    if (err && err.type === PayloadType.NOTIFY) {
      const name = NotifyType[err.notifyType] ?? String(err.notifyType);
      svc.log('error', err.notifyType === NotifyType.NO_PROPOSAL_CHOSEN ? 'no proposal chosen' : `CHILD_SA ${cfg.name} not created: ${name}`, sa, { notify: name });
      this.abort(svc, sa);
      return 'child-failed';
    }
    const saP = findPayload(payloads, PayloadType.SA);
    const tsi = findPayload(payloads, PayloadType.TSi);
    const tsr = findPayload(payloads, PayloadType.TSr);
    if (!saP || !tsi || !tsr) {
      svc.log('error', `CHILD_SA ${cfg.name} not created: response lacks SA, TSi or TSr`, sa);
      this.abort(svc, sa);
      return 'child-failed';
    }
    const chosen = checkAnswer(saP.proposals, 'esp', this.proposals(svc, sa, cfg), svc.crypto, !this.opts.inIkeAuth && this.dh !== null);
    if (!chosen || chosen.spi.length !== 4 || (this.dh !== null && chosen.dh !== this.dhGroup)) {
      svc.log('error', 'no proposal chosen: the responder answered with an ESP proposal we did not offer', sa);
      this.abort(svc, sa);
      return 'child-failed';
    }
    if (!tsSubset(tsi.selectors, cfg.localTs.map(tsToWire)) || !tsSubset(tsr.selectors, cfg.remoteTs.map(tsToWire))) {
      svc.log('error', 'the responder returned traffic selectors outside ours (RFC 7296 §2.9)', sa);
      this.abort(svc, sa);
      return 'child-failed';
    }
    if (this.mode === 'transport' && !findNotify(payloads, NotifyType.USE_TRANSPORT_MODE)) {
      svc.log('error', 'transport mode requested but the responder did not accept it', sa);
      this.abort(svc, sa);
      return 'child-failed';
    }
    let shared: Buffer | null = null;
    if (!this.opts.inIkeAuth) {
      const nonce = findPayload(payloads, PayloadType.NONCE);
      if (!nonce) {
        this.abort(svc, sa);
        return 'child-failed';
      }
      this.nonceR = nonce.nonce;
      if (this.dh) {
        const ke = findPayload(payloads, PayloadType.KE);
        try {
          if (!ke || ke.dhGroup !== this.dhGroup) throw new Error('missing or mismatched KE');
          shared = this.dh.computeShared(ke.keyData);
        } catch (e) {
          svc.log('error', `CREATE_CHILD_SA KE failed: ${(e as Error).message}`, sa);
          this.abort(svc, sa);
          return 'child-failed';
        }
      }
    }
    this.chosen = chosen;
    this.tsI = tsi.selectors;
    this.tsR = tsr.selectors;
    if (!this.install(svc, sa, chosen.spi.readUInt32BE(0), shared, true)) {
      if (this.opts.rekeyOf) this.opts.rekeyOf.state = 'installed';
      return 'child-failed';
    }
    const old = this.opts.rekeyOf;
    if (old && old.state !== 'deleted') {
      if (old.peerRekey && this.created) {
        // RFC 7296 §2.8.1 simultaneous rekey: the SA made by the exchange holding the lowest
        // of the four nonces is redundant and is deleted by the side that created it
        const ours = [this.nonceI, this.nonceR];
        const lowest = [...ours, ...old.peerRekey.nonces].reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
        if (ours.includes(lowest)) {
          svc.log('info', 'CHILD_SA rekey collision lost (lowest nonce in our exchange): deleting our redundant CHILD_SA', sa, { childSpi: this.created.inboundSpi });
          old.state = 'rekeyed';
          svc.queueExchange(sa, ExchangeType.INFORMATIONAL, [new ChildDeleteTask([this.created])]);
          return 'done';
        }
        svc.log('info', 'CHILD_SA rekey collision won: the peer deletes its redundant CHILD_SA', sa, { childSpi: this.created.inboundSpi });
      }
      // RFC 7296 §1.3.3: the initiator of the rekey deletes the old CHILD_SA
      old.state = 'rekeyed';
      svc.queueExchange(sa, ExchangeType.INFORMATIONAL, [new ChildDeleteTask([old])]);
    }
    return 'done';
  }

  // ---- responder
  processRequest(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void {
    this.peerRequested = true;
    if (sa.authFailed) return;
    const saP = findPayload(payloads, PayloadType.SA);
    const tsi = findPayload(payloads, PayloadType.TSi);
    const tsr = findPayload(payloads, PayloadType.TSr);
    if (!saP || !tsi || !tsr) {
      if (!this.opts.inIkeAuth) this.error = { type: NotifyType.INVALID_SYNTAX };
      return; // IKE_AUTH without a CHILD_SA
    }
    // choose the child config: the old one on rekey, else the first whose selectors overlap
    const configs = this.opts.rekeyOf ? [this.opts.rekeyOf.config] : sa.peer.children;
    let narrowedI: TrafficSelectorWire[] = [];
    let narrowedR: TrafficSelectorWire[] = [];
    const cfg = configs.find((c) => {
      narrowedI = narrow(tsi.selectors, c.remoteTs);
      narrowedR = narrow(tsr.selectors, c.localTs);
      return narrowedI.length > 0 && narrowedR.length > 0;
    });
    if (!cfg) {
      svc.log('error', `traffic selectors ${tsi.selectors.map(describeTs).join(',')} === ${tsr.selectors.map(describeTs).join(',')} unacceptable: failed to get sainfo`, sa);
      this.error = { type: NotifyType.TS_UNACCEPTABLE };
      return;
    }
    this.config = cfg;
    this.tsI = narrowedI;
    this.tsR = narrowedR;
    const wantTransport = !!findNotify(payloads, NotifyType.USE_TRANSPORT_MODE);
    if (cfg.mode === 'transport' && !wantTransport) {
      svc.log('error', `CHILD_SA ${cfg.name} is configured for transport mode but the peer asks for tunnel`, sa);
      this.error = { type: NotifyType.NO_PROPOSAL_CHOSEN };
      return;
    }
    this.mode = wantTransport && cfg.mode === 'transport' ? 'transport' : 'tunnel';
    const ke = findPayload(payloads, PayloadType.KE);
    const ours = this.proposals(svc, sa, cfg);
    const chosen = selectChildProposal(saP.proposals, ours, svc.crypto, !this.opts.inIkeAuth && cfg.proposals.some((p) => p.dh.length > 0), this.opts.inIkeAuth);
    if (!chosen) {
      svc.log('error', 'no proposal chosen', sa, { child: cfg.name });
      this.error = { type: NotifyType.NO_PROPOSAL_CHOSEN };
      return;
    }
    if (!this.opts.inIkeAuth) {
      const nonce = findPayload(payloads, PayloadType.NONCE);
      if (!nonce) {
        this.error = { type: NotifyType.INVALID_SYNTAX };
        return;
      }
      this.nonceI = nonce.nonce;
      if (chosen.dh !== null) {
        if (!ke || ke.dhGroup !== chosen.dh) {
          const data = Buffer.alloc(2);
          data.writeUInt16BE(chosen.dh);
          this.error = { type: NotifyType.INVALID_KE_PAYLOAD, data };
          return;
        }
        this.peerKe = ke.keyData;
        this.dhGroup = chosen.dh;
      }
    }
    this.chosen = chosen;
  }

  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    if (sa.authFailed) return 'done';
    if (!this.chosen && !this.error) return 'done'; // childless IKE_AUTH
    if (this.error || this.inboundSpi === null) {
      const e = this.error ?? { type: NotifyType.NO_PROPOSAL_CHOSEN };
      out.push(notify(e.type, e.data ?? Buffer.alloc(0)));
      this.abort(svc, sa);
      return 'child-failed';
    }
    const chosen = this.chosen!;
    let shared: Buffer | null = null;
    if (!this.opts.inIkeAuth) {
      this.nonceR = svc.random.bytes(NONCE_BYTES);
      if (this.peerKe) {
        const suite = svc.crypto.dh(this.dhGroup)!;
        this.dh = suite.create(svc.random.bytes(suite.privateKeyBytes));
        try {
          shared = this.dh.computeShared(this.peerKe);
        } catch (e) {
          svc.log('error', `invalid KE payload: ${(e as Error).message}`, sa);
          out.push(notify(NotifyType.INVALID_SYNTAX));
          this.abort(svc, sa);
          return 'child-failed';
        }
      }
    }
    if (this.mode === 'transport') out.push(notify(NotifyType.USE_TRANSPORT_MODE));
    out.push({ type: PayloadType.SA, proposals: [answerProposal(chosen, spiBuffer(this.inboundSpi))] });
    if (!this.opts.inIkeAuth) {
      out.push({ type: PayloadType.NONCE, nonce: this.nonceR });
      if (this.dh) out.push({ type: PayloadType.KE, dhGroup: this.dhGroup, keyData: this.dh.publicValue });
    }
    out.push({ type: PayloadType.TSi, selectors: this.tsI }, { type: PayloadType.TSr, selectors: this.tsR });
    if (!this.install(svc, sa, chosen.spi.readUInt32BE(0), shared, false)) return 'child-failed';
    const old = this.opts.rekeyOf;
    if (old && old.state === 'rekeying' && this.created) {
      // we are rekeying the same CHILD_SA: remember the peer's exchange for the nonce rule
      old.peerRekey = { nonces: [this.nonceI, this.nonceR], created: this.created };
      svc.log('info', 'CHILD_SA rekey collision detected', sa, { childSpi: old.inboundSpi });
    }
    return 'done';
  }

  /** Derive KEYMAT (§2.17) and install both SAs. `weInitiated` = we sent this exchange's request. */
  private install(svc: Services, sa: IkeSa, outboundSpi: number, shared: Buffer | null, weInitiated: boolean): boolean {
    const cfg = this.config!;
    const chosen = this.chosen!;
    const encr = svc.crypto.espEncr(chosen.encr.id, chosen.encr.keyBits);
    const integ = chosen.integ !== null ? svc.crypto.espInteg(chosen.integ) : null;
    if (!encr || (chosen.integ !== null && !integ) || !sa.keys || !sa.prfSuite) {
      svc.log('error', 'the negotiated ESP algorithms cannot be installed in the kernel', sa);
      return false;
    }
    const ni = this.opts.inIkeAuth ? sa.ni : this.nonceI;
    const nr = this.opts.inIkeAuth ? sa.nr : this.nonceR;
    const km = deriveChildSaKeys(sa.prfSuite, sa.keys.skD, ni, nr, shared, encr.keyBytes, integ?.keyBytes ?? 0);
    const child: ChildSa = {
      config: cfg,
      reqid: this.reqid,
      inboundReqid: this.inboundReqid,
      mode: this.mode,
      inboundSpi: this.inboundSpi!,
      outboundSpi: outboundSpi >>> 0,
      chosen,
      localTs: weInitiated ? this.tsI : this.tsR,
      remoteTs: weInitiated ? this.tsR : this.tsI,
      keys: weInitiated
        ? { encrOut: km.encrI, integOut: km.integI, encrIn: km.encrR, integIn: km.integR }
        : { encrOut: km.encrR, integOut: km.integR, encrIn: km.encrI, integIn: km.integI },
      state: 'installed',
      installedAt: svc.now(),
    };
    const jitter = Math.floor((svc.random.bytes(1)[0] / 256) * Math.max(0, (cfg.lifetime.hardSeconds - cfg.lifetime.softSeconds) / 2));
    const upd = installRequest(sa, child, 'in', svc.crypto, 0);
    const add = installRequest(sa, child, 'out', svc.crypto, jitter);
    if (!upd || !add) return false;
    svc.pfkeySend(sa, upd);
    svc.pfkeySend(sa, add);
    // the kernel holds the keys now; new ones come from SK_d (RFC 7296 §2.17)
    child.keys = { encrIn: EMPTY, integIn: EMPTY, encrOut: EMPTY, integOut: EMPTY };
    child.chosen = { ...chosen, spi: EMPTY };
    if (!weInitiated && sa.peer.generatePolicy && !this.opts.rekeyOf) {
      for (const m of policyRequests(sa, child, 'update')) svc.pfkeySend(sa, m);
      child.policiesInstalled = true;
    } else if (this.opts.rekeyOf?.policiesInstalled) {
      // the policies belong to the reqid, which the new CHILD_SA keeps
      child.policiesInstalled = true;
      this.opts.rekeyOf.policiesInstalled = false;
    }
    sa.children.push(child);
    this.created = child;
    svc.log('info', `CHILD_SA ${cfg.name} established`, sa, {
      childSpi: child.inboundSpi,
      outboundSpi: child.outboundSpi.toString(16).padStart(8, '0'),
      mode: child.mode,
      localTs: child.localTs.map(describeTs).join(','),
      remoteTs: child.remoteTs.map(describeTs).join(','),
    });
    return true;
  }
}
