/**
 * Tunnel ECN, DSCP and DF handling, chosen per SA (KAME chose per node with
 * the net.inet.ipsec.ecn sysctl; RFC 4301 §5.1.2.1 lets it be per SA).
 *
 * ECN codepoints (RFC 3168 §5): Not-ECT 00, ECT(1) 01, ECT(0) 10, CE 11.
 *
 * Modes:
 * - 'rfc6040-normal'        RFC 6040 §4.1 normal mode: copy the inner ECN field to the outer.
 * - 'rfc6040-compatibility' RFC 6040 §4.1 compatibility mode: outer Not-ECT.
 *   Both RFC 6040 modes decapsulate with Figure 4 of RFC 6040 §4.2.
 * - 'kame-nocare'     RFC 2401 §5.1.2.1 behaviour (KAME ECN_NOCARE): the whole TOS
 *                     byte is copied out, the outer ECN field is discarded on the way in.
 * - 'kame-forbidden'  RFC 3168 §9.1.1 limited functionality (KAME ECN_FORBIDDEN):
 *                     outer Not-ECT; an outer CE drops the packet.
 * - 'kame-allowed'    RFC 3168 §9.1.1 full functionality (KAME ECN_ALLOWED): outer
 *                     copies the inner, except inner CE goes out as ECT(0); on the way
 *                     in an outer CE is copied into the inner, and dropped if the inner
 *                     is Not-ECT.
 */

export type EcnMode = 'rfc6040-normal' | 'rfc6040-compatibility' | 'kame-nocare' | 'kame-forbidden' | 'kame-allowed';

export const ECN_MODES: readonly EcnMode[] = [
  'rfc6040-normal',
  'rfc6040-compatibility',
  'kame-nocare',
  'kame-forbidden',
  'kame-allowed',
];

/** RFC 3168 §5 codepoints. */
export enum Ecn {
  NOT_ECT = 0b00,
  ECT1 = 0b01,
  ECT0 = 0b10,
  CE = 0b11,
}

export const ECN_MASK = 0b11;

/** Result of decapsulation: the ECN field to write into the inner header, or a drop. */
export type EcnDecap =
  | { drop: false; ecn: number; /** RFC 6040 Figure 4 "(!!!)": a currently-unused combination that should be logged. */ alarm: boolean }
  | { drop: true; alarm: boolean };

type Cell = number | 'drop';

/**
 * RFC 6040 §4.2 Figure 4, rows = arriving inner, columns = arriving outer,
 * both in codepoint order [Not-ECT, ECT(1), ECT(0), CE].
 * (Figure 4 orders the columns Not-ECT, ECT(0), ECT(1), CE; this table is by value.)
 */
const RFC6040_DECAP: readonly (readonly Cell[])[] = [
  /* inner Not-ECT */ [Ecn.NOT_ECT, Ecn.NOT_ECT, Ecn.NOT_ECT, 'drop'],
  /* inner ECT(1)  */ [Ecn.ECT1, Ecn.ECT1, Ecn.ECT1, Ecn.CE],
  /* inner ECT(0)  */ [Ecn.ECT0, Ecn.ECT1, Ecn.ECT0, Ecn.CE],
  /* inner CE      */ [Ecn.CE, Ecn.CE, Ecn.CE, Ecn.CE],
];

/** The "(!!!)" cells of Figure 4 (and "(!)" is not an alarm): [inner][outer]. */
const RFC6040_ALARM: readonly (readonly boolean[])[] = [
  [false, true, true, true],
  [false, false, false, false],
  [false, false, false, false],
  [false, true, false, false],
];

/**
 * Encapsulation: the ECN field of the outer header given the inner one.
 */
export function ecnEncapsulate(mode: EcnMode, inner: number): number {
  const e = inner & ECN_MASK;
  switch (mode) {
    case 'rfc6040-normal':
    case 'kame-nocare':
      return e; // copy (RFC 6040 §4.1 normal mode; RFC 2401 copies the whole TOS)
    case 'rfc6040-compatibility':
    case 'kame-forbidden':
      return Ecn.NOT_ECT;
    case 'kame-allowed':
      return e === Ecn.CE ? Ecn.ECT0 : e; // RFC 3168 §9.1.1 full functionality
  }
}

/**
 * Decapsulation: the ECN field of the forwarded inner header given the arriving
 * inner and outer ones, or a drop.
 */
export function ecnDecapsulate(mode: EcnMode, inner: number, outer: number): EcnDecap {
  const i = inner & ECN_MASK;
  const o = outer & ECN_MASK;
  switch (mode) {
    case 'rfc6040-normal':
    case 'rfc6040-compatibility': {
      const cell = RFC6040_DECAP[i][o];
      const alarm = RFC6040_ALARM[i][o];
      return cell === 'drop' ? { drop: true, alarm } : { drop: false, ecn: cell, alarm };
    }
    case 'kame-nocare':
      return { drop: false, ecn: i, alarm: false };
    case 'kame-forbidden':
      return o === Ecn.CE ? { drop: true, alarm: false } : { drop: false, ecn: i, alarm: false };
    case 'kame-allowed':
      if (o !== Ecn.CE) return { drop: false, ecn: i, alarm: false };
      return i === Ecn.NOT_ECT ? { drop: true, alarm: false } : { drop: false, ecn: Ecn.CE, alarm: false };
  }
}

/** DSCP on encapsulation: copy the inner (RFC 2983 uniform model) or set a fixed value. */
export type DscpPolicy = { kind: 'copy' } | { kind: 'set'; dscp: number };
/** DSCP on decapsulation: keep the inner (RFC 2983 pipe model, the default) or copy the outer into it (Linux XFRM_STATE_DECAP_DSCP). */
export type DscpDecapPolicy = 'keep-inner' | 'copy-outer';
/** IPv4 outer DF bit (RFC 4301 §8.1: copy, set or clear per SA). */
export type DfPolicy = 'copy' | 'set' | 'clear';

/** Compose the outer TOS / Traffic Class for a tunnel-mode packet. */
export function outerTos(innerTos: number, ecnMode: EcnMode, dscp: DscpPolicy): number {
  if (ecnMode === 'kame-nocare' && dscp.kind === 'copy') return innerTos & 0xff; // RFC 2401: copy the whole byte
  const d = dscp.kind === 'copy' ? innerTos >> 2 : dscp.dscp & 0x3f;
  return (d << 2) | ecnEncapsulate(ecnMode, innerTos);
}

/** Compose the inner TOS after decapsulation, or null when the packet must be dropped. */
export function innerTosAfterDecap(
  innerTos: number,
  outerTosValue: number,
  ecnMode: EcnMode,
  dscp: DscpDecapPolicy,
): { tos: number; alarm: boolean } | null {
  const r = ecnDecapsulate(ecnMode, innerTos, outerTosValue);
  if (r.drop) return null;
  const d = dscp === 'copy-outer' ? outerTosValue >> 2 : innerTos >> 2;
  return { tos: (d << 2) | r.ecn, alarm: r.alarm };
}

/** The outer DF bit for an IPv4 outer header (IPv6 outer headers have none). */
export function outerDf(innerDf: boolean, policy: DfPolicy): boolean {
  return policy === 'copy' ? innerDf : policy === 'set';
}
