/**
 * SA proposals (RFC 7296 §2.7, §3.3): building ours, and choosing one of the
 * peer's as responder (or checking the responder's choice as initiator).
 */
import { EsnId, ProtocolId, TransformAttributeType, TransformType } from './constants';
import type { ChildProposalConfig, EncrChoice, IkeProposalConfig } from './config';
import type { IkeCryptoPort } from './crypto-port';
import type { Proposal, Transform } from './payloads';
import type { SadbAlg } from '../../pfkey/types';

/** One negotiated transform set: what the rest of the engine uses. */
export interface ChosenTransforms {
  proposalNum: number;
  protocolId: ProtocolId;
  spi: Buffer;
  encr: EncrChoice;
  integ: number | null;
  prf: number | null;
  dh: number | null;
  esn: number | null;
}

function encrTransform(e: EncrChoice): Transform {
  return {
    transformType: TransformType.ENCR,
    transformId: e.id,
    attributes: e.keyBits !== undefined ? [{ type: TransformAttributeType.KEY_LENGTH, value: e.keyBits }] : [],
  };
}
const plain = (transformType: TransformType, transformId: number): Transform => ({ transformType, transformId, attributes: [] });

export function ikeProposals(cfgs: IkeProposalConfig[], spi: Buffer = Buffer.alloc(0), firstDh?: number): Proposal[] {
  return cfgs.map((c, i) => ({
    proposalNum: i + 1,
    protocolId: ProtocolId.IKE,
    spi,
    transforms: [
      ...c.encr.map(encrTransform),
      ...c.prf.map((id) => plain(TransformType.PRF, id)),
      ...c.integ.map((id) => plain(TransformType.INTEG, id)),
      // the group we send a KE for goes first (RFC 7296 §1.2 "the first group")
      ...orderFirst(c.dh, firstDh).map((id) => plain(TransformType.DH, id)),
    ],
  }));
}

export function childProposals(cfgs: ChildProposalConfig[], spi: Buffer, withDh: boolean, firstDh?: number): Proposal[] {
  return cfgs.map((c, i) => ({
    proposalNum: i + 1,
    protocolId: ProtocolId.ESP,
    spi,
    transforms: [
      ...c.encr.map(encrTransform),
      ...c.integ.map((id) => plain(TransformType.INTEG, id)),
      ...(withDh ? orderFirst(c.dh, firstDh).map((id) => plain(TransformType.DH, id)) : []),
      ...(c.esn.length ? c.esn : [EsnId.NO_ESN]).map((id) => plain(TransformType.ESN, id)),
    ],
  }));
}

function orderFirst(list: number[], first: number | undefined): number[] {
  if (first === undefined || !list.includes(first)) return list;
  return [first, ...list.filter((x) => x !== first)];
}

function keyBitsOf(t: Transform): number | undefined | 'bad' {
  let bits: number | undefined;
  for (const a of t.attributes) {
    if (a.type !== TransformAttributeType.KEY_LENGTH || typeof a.value !== 'number') return 'bad'; // unknown attribute: reject transform (§3.3.6)
    bits = a.value;
  }
  return bits;
}

interface Wanted {
  encr: EncrChoice[];
  integ: number[];
  prf: number[];
  dh: number[];
  esn: number[];
}

function wantedIke(c: IkeProposalConfig): Wanted {
  return { encr: c.encr, integ: c.integ, prf: c.prf, dh: c.dh, esn: [] };
}
function wantedChild(c: ChildProposalConfig, withDh: boolean): Wanted {
  return { encr: c.encr, integ: c.integ, prf: [], dh: withDh ? c.dh : [], esn: c.esn.length ? c.esn : [EsnId.NO_ESN] };
}

/**
 * Match one peer proposal against one of ours: the first transform of each type
 * in the peer's order that we also accept (and the crypto port supports).
 */
function matchProposal(p: Proposal, w: Wanted, kind: 'ike' | 'esp', crypto: IkeCryptoPort): ChosenTransforms | null {
  const types = new Set(p.transforms.map((t) => t.transformType));
  for (const t of types) if (t < TransformType.ENCR || t > TransformType.ESN) return null; // unknown transform type: skip proposal
  let encr: EncrChoice | null = null;
  let integ: number | null = null;
  let prf: number | null = null;
  let dh: number | null = null;
  let esn: number | null = null;
  let aead = false;
  for (const t of p.transforms) {
    switch (t.transformType) {
      case TransformType.ENCR: {
        if (encr) break;
        const bits = keyBitsOf(t);
        if (bits === 'bad') break;
        const mine = w.encr.find((e) => e.id === t.transformId && e.keyBits === bits);
        if (!mine) break;
        const suite = crypto.encr(t.transformId, bits);
        if (!suite || (kind === 'ike' && suite.ikeAllowed === false)) break;
        if (kind === 'esp' && !crypto.espEncr(t.transformId, bits)) break;
        encr = mine;
        aead = suite.aead;
        break;
      }
      case TransformType.INTEG:
        if (integ === null && w.integ.includes(t.transformId) && crypto.integ(t.transformId) && (kind === 'ike' || crypto.espInteg(t.transformId)))
          integ = t.transformId;
        break;
      case TransformType.PRF:
        if (prf === null && w.prf.includes(t.transformId) && crypto.prf(t.transformId)) prf = t.transformId;
        break;
      case TransformType.DH:
        if (dh === null && w.dh.includes(t.transformId) && crypto.dh(t.transformId)) dh = t.transformId;
        break;
      case TransformType.ESN:
        if (esn === null && w.esn.includes(t.transformId)) esn = t.transformId;
        break;
    }
  }
  if (!encr) return null;
  // RFC 7296 §3.3.3: AEAD → no INTEG (or NONE); otherwise INTEG mandatory
  if (aead) {
    if (p.transforms.some((t) => t.transformType === TransformType.INTEG && t.transformId !== 0)) return null;
    integ = null;
  } else if (integ === null) return null;
  if (kind === 'ike') {
    if (prf === null || dh === null) return null;
  } else {
    if (types.has(TransformType.ESN) && esn === null) return null;
    if (!types.has(TransformType.ESN)) esn = EsnId.NO_ESN;
    if (types.has(TransformType.DH) && w.dh.length > 0 && dh === null) return null;
    if (!types.has(TransformType.DH) && w.dh.length > 0) return null; // we insist on PFS
    if (types.has(TransformType.DH) && w.dh.length === 0) {
      // RFC 7296 §3.3.2: a DH of NONE (0) among the choices means "no PFS" is acceptable
      if (!p.transforms.some((t) => t.transformType === TransformType.DH && t.transformId === 0)) return null;
      dh = null;
    }
  }
  return { proposalNum: p.proposalNum, protocolId: p.protocolId, spi: p.spi, encr, integ, prf, dh, esn };
}

/** Responder: choose from the peer's proposals (peer's order first, RFC 7296 §2.7). */
export function selectIkeProposal(offered: Proposal[], ours: IkeProposalConfig[], crypto: IkeCryptoPort): ChosenTransforms | null {
  for (const p of offered) {
    if (p.protocolId !== ProtocolId.IKE) continue;
    for (const c of ours) {
      const m = matchProposal(p, wantedIke(c), 'ike', crypto);
      if (m) return m;
    }
  }
  return null;
}

/**
 * `withDh`: PFS in CREATE_CHILD_SA. Inside IKE_AUTH (`withDh` false) DH
 * transforms of the peer's proposals are ignored (RFC 7296 §1.2: the SA
 * payload there carries no KE, any DH transform is meaningless).
 */
export function selectChildProposal(offered: Proposal[], ours: ChildProposalConfig[], crypto: IkeCryptoPort, withDh: boolean, inIkeAuth = false): ChosenTransforms | null {
  for (const raw of offered) {
    const p = inIkeAuth ? { ...raw, transforms: raw.transforms.filter((t) => t.transformType !== TransformType.DH) } : raw;
    if (p.protocolId !== ProtocolId.ESP || p.spi.length !== 4) continue;
    for (const c of ours) {
      const m = matchProposal(p, wantedChild(c, withDh), 'esp', crypto);
      if (m) return m;
    }
  }
  return null;
}

/**
 * Initiator: the responder must answer with exactly one proposal holding one
 * transform of each type, taken from what we offered (RFC 7296 §2.7).
 */
export function checkAnswer(
  answer: Proposal[],
  kind: 'ike' | 'esp',
  ours: IkeProposalConfig[] | ChildProposalConfig[],
  crypto: IkeCryptoPort,
  withDh: boolean,
): ChosenTransforms | null {
  if (answer.length !== 1) return null;
  const p = answer[0];
  const perType = new Map<number, number>();
  for (const t of p.transforms) perType.set(t.transformType, (perType.get(t.transformType) ?? 0) + 1);
  for (const n of perType.values()) if (n !== 1) return null;
  if (kind === 'ike') return selectIkeProposal(answer, ours as IkeProposalConfig[], crypto);
  return selectChildProposal(answer, ours as ChildProposalConfig[], crypto, withDh);
}

/** The single-proposal SA payload content a responder returns. */
export function answerProposal(c: ChosenTransforms, spi: Buffer): Proposal {
  const transforms: Transform[] = [encrTransform(c.encr)];
  if (c.prf !== null) transforms.push(plain(TransformType.PRF, c.prf));
  if (c.integ !== null) transforms.push(plain(TransformType.INTEG, c.integ));
  if (c.dh !== null) transforms.push(plain(TransformType.DH, c.dh));
  if (c.esn !== null) transforms.push(plain(TransformType.ESN, c.esn));
  return { proposalNum: c.proposalNum, protocolId: c.protocolId, spi, transforms };
}

/** DH groups the peer offers in its proposals (for INVALID_KE_PAYLOAD decisions). */
export function offeredDhGroups(p: Proposal): number[] {
  return p.transforms.filter((t) => t.transformType === TransformType.DH).map((t) => t.transformId);
}

/** What the kernel behind the PF_KEY socket can install: its SADB_REGISTER lists (RFC 2367 §2.3.3). */
export interface KernelAlgorithms {
  encrypt: readonly SadbAlg[];
  auth: readonly SadbAlg[];
}

/**
 * Our ESP proposals cut down to what the kernel can install (racoon checks its
 * sainfo algorithms against the REGISTER lists the same way, pk_checkalg):
 * an ENCR transform whose SADB number is not listed, or whose key (with salt)
 * is outside the listed range, and an INTEG transform whose SADB number is not
 * listed, are neither offered nor accepted. A proposal left without ENCR (or
 * without the INTEG it needs) is dropped. `refused` names what was removed.
 */
export function installableChildProposals(
  ours: readonly ChildProposalConfig[],
  crypto: IkeCryptoPort,
  kernel: KernelAlgorithms,
): { proposals: ChildProposalConfig[]; refused: string[] } {
  const refused = new Set<string>();
  const proposals: ChildProposalConfig[] = [];
  for (const c of ours) {
    const encr = c.encr.filter((e) => {
      const k = crypto.espEncr(e.id, e.keyBits);
      const bits = k ? k.keyBytes * 8 : 0;
      const ok = !!k && kernel.encrypt.some((a) => a.id === k.sadbEalg && bits >= a.minbits && bits <= a.maxbits);
      if (!ok) refused.add(`${crypto.encr(e.id, e.keyBits)?.name ?? `ENCR ${e.id}`}${e.keyBits ? ` ${e.keyBits}` : ''}`);
      return ok;
    });
    const integ = c.integ.filter((i) => {
      const k = crypto.espInteg(i);
      const ok = !!k && (k.sadbAalg === 0 || kernel.auth.some((a) => a.id === k.sadbAalg));
      if (!ok) refused.add(crypto.integ(i)?.name ?? `INTEG ${i}`);
      return ok;
    });
    if (encr.length === 0 || (c.integ.length > 0 && integ.length === 0)) continue;
    proposals.push({ ...c, encr, integ });
  }
  return { proposals, refused: [...refused] };
}
