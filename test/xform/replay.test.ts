/** RFC 4303 §3.3.3 sequence generation and §3.4.3 / Appendix A anti-replay with ESN inference. */
import fc from 'fast-check';
import { MAX_REPLAY_WINDOW, ReplayWindow, SequenceCounter } from '../../src/xform/replay';

describe('SequenceCounter (RFC 4303 §3.3.3)', () => {
  test('starts at 1 and counts up', () => {
    const s = new SequenceCounter(false);
    expect(s.next()).toEqual({ ok: true, value: { hi: 0, lo: 1 } });
    expect(s.next()).toEqual({ ok: true, value: { hi: 0, lo: 2 } });
  });
  test('32-bit: 2^32-1 is the last number; the next call reports overflow and leaves the counter', () => {
    const s = new SequenceCounter(false, { hi: 0, lo: 0xfffffffe });
    expect(s.next()).toEqual({ ok: true, value: { hi: 0, lo: 0xffffffff } });
    const r = s.next();
    expect(r.ok || r.reason).toBe('sequence-overflow');
    expect(s.current).toEqual({ hi: 0, lo: 0xffffffff });
  });
  test('ESN: carries into the high half and stops at 2^64-1', () => {
    const s = new SequenceCounter(true, { hi: 0, lo: 0xffffffff });
    expect(s.next()).toEqual({ ok: true, value: { hi: 1, lo: 0 } });
    const t = new SequenceCounter(true, { hi: 0xffffffff, lo: 0xffffffff });
    const r = t.next();
    expect(r.ok || r.reason).toBe('sequence-overflow');
  });
});

describe('ReplayWindow (RFC 4303 §3.4.3)', () => {
  test('new, duplicate, in-window out-of-order, too old', () => {
    const w = new ReplayWindow(32, false);
    const acc = (n: number): string => {
      const r = w.check(n);
      if (!r.ok) return r.reason;
      w.update(r.value);
      return 'ok';
    };
    expect(acc(1)).toBe('ok');
    expect(acc(1)).toBe('replay');
    expect(acc(100)).toBe('ok');
    expect(acc(69)).toBe('ok'); // 100-31
    expect(acc(68)).toBe('replay-too-old');
    expect(acc(69)).toBe('replay');
    expect(acc(0)).toBe('replay-too-old');
  });
  test('check does not move the window: only update does (window moves after ICV, §3.4.3)', () => {
    const w = new ReplayWindow(64, false);
    expect(w.check(1000).ok).toBe(true);
    expect(w.check(5).ok).toBe(true);
    expect(w.top).toEqual({ hi: 0, lo: 0 });
  });
  test('window sizes up to 4096 are accepted, beyond are refused', () => {
    expect(() => new ReplayWindow(MAX_REPLAY_WINDOW, true)).not.toThrow();
    expect(() => new ReplayWindow(MAX_REPLAY_WINDOW + 1, true)).toThrow(RangeError);
    const w = new ReplayWindow(4096, false);
    const r = w.check(5000);
    if (r.ok) w.update(r.value);
    expect(w.check(5000 - 4095).ok).toBe(true);
    expect(w.check(5000 - 4096).ok).toBe(false);
  });
  test('zero window disables replay checks', () => {
    const w = new ReplayWindow(0, false);
    const r = w.check(7);
    if (r.ok) w.update(r.value);
    expect(w.check(7).ok).toBe(true);
  });

  test('ESN Appendix A2.2 case A: window inside one subspace; a low number just after 2^32 wrap is in the next subspace', () => {
    const w = new ReplayWindow(64, true);
    w.setTop({ hi: 3, lo: 0xfffffff0 });
    expect(w.check(0xffffffe0)).toEqual({ ok: true, value: { hi: 3, lo: 0xffffffe0 } });
    expect(w.check(5)).toEqual({ ok: true, value: { hi: 4, lo: 5 } });
  });
  test('ESN Appendix A2.2 case B: window spans two subspaces', () => {
    const w = new ReplayWindow(64, true);
    w.setTop({ hi: 4, lo: 10 });
    expect(w.check(0xfffffff0)).toEqual({ ok: true, value: { hi: 3, lo: 0xfffffff0 } });
    expect(w.check(20)).toEqual({ ok: true, value: { hi: 4, lo: 20 } });
    // below Tl - W + 1 (mod 2^32) means the current subspace, i.e. far ahead: the ICV decides (Appendix A3)
    expect(w.check(0xffff0000)).toEqual({ ok: true, value: { hi: 4, lo: 0xffff0000 } });
  });

  test('property: a sequence of distinct numbers within the window is accepted once each, never twice', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 4096 }), (seqs, size) => {
        const w = new ReplayWindow(size, false);
        const seen = new Set<number>();
        let top = 0;
        for (const s of seqs) {
          const r = w.check(s);
          const expectOk = !seen.has(s) && s > top - size;
          expect(r.ok).toBe(expectOk);
          if (r.ok) {
            w.update(r.value);
            seen.add(s);
            top = Math.max(top, s);
          }
        }
      }),
    );
  });

  test('property: an ESN sender across 2^32 boundaries is tracked by the receiver (in-order with gaps < window)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 40n) }), fc.array(fc.integer({ min: 1, max: 63 }), { maxLength: 100 }), (start, gaps) => {
        const w = new ReplayWindow(64, true);
        let s = start;
        w.setTop({ hi: Number((s - 1n) >> 32n), lo: Number((s - 1n) & 0xffffffffn) });
        for (const g of [0, ...gaps]) {
          s += BigInt(g);
          const r = w.check(Number(s & 0xffffffffn));
          expect(r.ok && (BigInt(r.value.hi) << 32n) + BigInt(r.value.lo)).toBe(s);
          if (r.ok) w.update(r.value);
        }
      }),
      { numRuns: 200 },
    );
  });
});
