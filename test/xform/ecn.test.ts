/**
 * Tunnel ECN tables, cell by cell.
 * RFC 6040 §4.1 (encapsulation, normal/compatibility) and §4.2 Figure 4
 * (decapsulation); KAME ip_ecn.c ECN_NOCARE (RFC 2401 copy), ECN_FORBIDDEN
 * (RFC 3168 §9.1.1 limited functionality), ECN_ALLOWED (full functionality).
 */
import { Ecn, EcnMode, ecnDecapsulate, ecnEncapsulate, innerTosAfterDecap, outerDf, outerTos } from '../../src/xform/ecn';

const N = Ecn.NOT_ECT;
const E0 = Ecn.ECT0;
const E1 = Ecn.ECT1;
const CE = Ecn.CE;
const ALL = [N, E0, E1, CE] as const;
const name = (e: number): string => ['Not-ECT', 'ECT(1)', 'ECT(0)', 'CE'][e & 3];

describe('encapsulation: outer ECN for each inner codepoint', () => {
  const table: Record<EcnMode, [number, number, number, number]> = {
    // inner:                 Not-ECT ECT(0) ECT(1) CE
    'rfc6040-normal': /*      */ [N, E0, E1, CE], // §4.1 normal mode: copy
    'rfc6040-compatibility': [N, N, N, N], // §4.1 compatibility mode: Not-ECT
    'kame-nocare': /*         */ [N, E0, E1, CE], // RFC 2401: TOS copied
    'kame-forbidden': /*      */ [N, N, N, N], // RFC 3168 §9.1.1 limited functionality
    'kame-allowed': /*        */ [N, E0, E1, E0], // RFC 3168 §9.1.1 full functionality: CE -> ECT(0)
  };
  for (const [mode, row] of Object.entries(table) as [EcnMode, number[]][]) {
    ALL.forEach((inner, i) => {
      test(`${mode}: inner ${name(inner)} -> outer ${name(row[i])}`, () => {
        expect(ecnEncapsulate(mode, inner)).toBe(row[i]);
      });
    });
  }
});

type Cell = number | 'drop';
/** rows: arriving inner Not-ECT, ECT(0), ECT(1), CE; columns: arriving outer in the same order (Figure 4 order). */
const FIGURE_4: Cell[][] = [
  [N, N, N, 'drop'],
  [E0, E0, E1, CE],
  [E1, E1, E1, CE],
  [CE, CE, CE, CE],
];
const FIGURE_4_ALARM: boolean[][] = [
  [false, true, true, true],
  [false, false, false, false],
  [false, false, false, false],
  [false, false, true, false],
];
const KAME_ALLOWED: Cell[][] = [
  [N, N, N, 'drop'],
  [E0, E0, E0, CE],
  [E1, E1, E1, CE],
  [CE, CE, CE, CE],
];
const KAME_FORBIDDEN: Cell[][] = [
  [N, N, N, 'drop'],
  [E0, E0, E0, 'drop'],
  [E1, E1, E1, 'drop'],
  [CE, CE, CE, 'drop'],
];
const KAME_NOCARE: Cell[][] = [
  [N, N, N, N],
  [E0, E0, E0, E0],
  [E1, E1, E1, E1],
  [CE, CE, CE, CE],
];

const DECAP: Record<EcnMode, Cell[][]> = {
  'rfc6040-normal': FIGURE_4,
  'rfc6040-compatibility': FIGURE_4, // §4.2: one decapsulation behaviour for both modes
  'kame-allowed': KAME_ALLOWED,
  'kame-forbidden': KAME_FORBIDDEN,
  'kame-nocare': KAME_NOCARE,
};

describe('decapsulation: forwarded inner ECN for each (inner, outer) pair', () => {
  for (const [mode, table] of Object.entries(DECAP) as [EcnMode, Cell[][]][]) {
    ALL.forEach((inner, r) =>
      ALL.forEach((outer, c) => {
        const want = table[r][c];
        test(`${mode}: inner ${name(inner)} x outer ${name(outer)} -> ${want === 'drop' ? 'drop' : name(want)}`, () => {
          const got = ecnDecapsulate(mode, inner, outer);
          if (want === 'drop') expect(got.drop).toBe(true);
          else expect(got).toMatchObject({ drop: false, ecn: want });
          if (mode.startsWith('rfc6040')) expect(got.alarm).toBe(FIGURE_4_ALARM[r][c]);
        });
      }),
    );
  }
});

describe('DSCP and DF', () => {
  test('DSCP copy keeps the inner DSCP (uniform model), set overrides it; ECN bits follow the mode', () => {
    const innerTos = (46 << 2) | CE; // EF + CE
    expect(outerTos(innerTos, 'rfc6040-normal', { kind: 'copy' })).toBe((46 << 2) | CE);
    expect(outerTos(innerTos, 'rfc6040-normal', { kind: 'set', dscp: 10 })).toBe((10 << 2) | CE);
    expect(outerTos(innerTos, 'rfc6040-compatibility', { kind: 'copy' })).toBe(46 << 2);
    expect(outerTos(innerTos, 'kame-allowed', { kind: 'copy' })).toBe((46 << 2) | E0);
  });
  test('decapsulation keeps the inner DSCP unless copy-outer is asked (Linux XFRM_STATE_DECAP_DSCP)', () => {
    expect(innerTosAfterDecap((8 << 2) | E0, (46 << 2) | CE, 'rfc6040-normal', 'keep-inner')).toEqual({ tos: (8 << 2) | CE, alarm: false });
    expect(innerTosAfterDecap((8 << 2) | E0, (46 << 2) | CE, 'rfc6040-normal', 'copy-outer')).toEqual({ tos: (46 << 2) | CE, alarm: false });
    expect(innerTosAfterDecap(N, CE, 'rfc6040-normal', 'keep-inner')).toBeNull();
  });
  test('DF: copy / set / clear (RFC 4301 §8.1)', () => {
    expect([outerDf(true, 'copy'), outerDf(false, 'copy')]).toEqual([true, false]);
    expect([outerDf(true, 'set'), outerDf(false, 'set')]).toEqual([true, true]);
    expect([outerDf(true, 'clear'), outerDf(false, 'clear')]).toEqual([false, false]);
  });
});
