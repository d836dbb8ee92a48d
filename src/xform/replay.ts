/**
 * Sequence numbers and the anti-replay window (RFC 4303 §2.2, §3.3.3,
 * §3.4.3 and Appendix A; RFC 4302 §2.5, §3.3.2, §3.4.3).
 *
 * A 64-bit sequence number is held as two unsigned 32-bit halves (hi, lo); on
 * the wire ESP/AH carry only lo, and with ESN the receiver infers hi
 * (RFC 4303 Appendix A2.2). Checking and updating are separate so that the
 * window only moves after the ICV has been verified (RFC 4303 §3.4.3: "the
 * receive window is updated only if the integrity verification succeeds").
 */
import { Result, ok, drop } from './result';

/** RFC 4303 §3.4.3 lets the window be larger than 32; tanuki bounds it at 4096. */
export const MAX_REPLAY_WINDOW = 4096;

const TWO32 = 0x1_0000_0000;

export interface SeqNum {
  hi: number;
  lo: number;
}

export function seqToBigInt(s: SeqNum): bigint {
  return (BigInt(s.hi) << 32n) | BigInt(s.lo);
}

/**
 * Outbound sequence counter (RFC 4303 §3.3.3). Starts at 0, the first packet
 * carries 1. Without ESN the counter must not cycle past 2^32-1, with ESN not
 * past 2^64-1: the SA is then exhausted and output stops.
 */
export class SequenceCounter {
  private hi = 0;
  private lo = 0;

  constructor(
    readonly esn: boolean,
    start: SeqNum = { hi: 0, lo: 0 },
  ) {
    this.hi = start.hi >>> 0;
    this.lo = start.lo >>> 0;
  }

  /** The last sequence number used (0 before the first packet). */
  get current(): SeqNum {
    return { hi: this.hi, lo: this.lo };
  }

  /** Allocate the next number or report overflow (the counter is not changed). */
  next(): Result<SeqNum> {
    if (this.lo === 0xffffffff) {
      if (!this.esn) return drop('sequence-overflow', 'sequence number would cycle past 2^32-1 (RFC 4303 §3.3.3)');
      if (this.hi === 0xffffffff) return drop('sequence-overflow', 'extended sequence number would cycle past 2^64-1');
      this.hi += 1;
      this.lo = 0;
    } else {
      this.lo += 1;
    }
    return ok({ hi: this.hi, lo: this.lo });
  }
}

/**
 * The receiver's sliding window. `size` 0 disables anti-replay (RFC 4303
 * §3.4.3, manually keyed SAs); then the ESN high half is taken as the
 * highest one seen.
 */
export class ReplayWindow {
  /** Highest authenticated sequence number (T in Appendix A). */
  private th = 0;
  private tl = 0;
  private readonly bits: Uint8Array;
  private readonly mask: number;

  constructor(
    readonly size: number,
    readonly esn: boolean,
  ) {
    if (!Number.isInteger(size) || size < 0 || size > MAX_REPLAY_WINDOW)
      throw new RangeError(`replay window ${size} outside 0..${MAX_REPLAY_WINDOW}`);
    let ring = 1;
    while (ring < Math.max(size, 1)) ring *= 2;
    this.bits = new Uint8Array(ring);
    this.mask = ring - 1;
  }

  /** Top of the window. */
  get top(): SeqNum {
    return { hi: this.th, lo: this.tl };
  }

  /**
   * Infer the full sequence number of an arriving packet carrying `seql`
   * (RFC 4303 Appendix A2.2), then check it against the window. Returns the
   * 64-bit number to use in the ICV computation. Does not move the window.
   */
  check(seql: number): Result<SeqNum> {
    seql >>>= 0;
    const w = this.size;
    if (!this.esn) {
      if (seql === 0) return drop('replay-too-old', 'sequence number 0 is never sent (RFC 4303 §3.3.3)');
      if (w === 0) return ok({ hi: 0, lo: seql });
      return this.checkFull({ hi: 0, lo: seql });
    }
    if (w === 0) return ok({ hi: this.th, lo: seql });
    let seqh: number;
    const bottom = (this.tl - w + 1) >>> 0; // Tl - W + 1 modulo 2^32
    if (this.tl >= w - 1) {
      // Case A: window within one sequence number subspace
      seqh = seql >= bottom ? this.th : this.th + 1;
    } else {
      // Case B: window spans two subspaces
      seqh = seql >= bottom ? this.th - 1 : this.th;
    }
    if (seqh < 0) return drop('replay-too-old', `sequence ${seql} precedes the first subspace`);
    if (seqh > 0xffffffff) return drop('replay-too-old', 'sequence space exhausted');
    if (seqh === 0 && seql === 0) return drop('replay-too-old', 'sequence number 0 is never sent');
    return this.checkFull({ hi: seqh, lo: seql });
  }

  /** Check a full sequence number again (e.g. after other packets of a batch moved the window). */
  recheck(s: SeqNum): Result<SeqNum> {
    if (this.size === 0) return ok(s);
    return this.checkFull(s);
  }

  private checkFull(s: SeqNum): Result<SeqNum> {
    const diff = (this.th - s.hi) * TWO32 + (this.tl - s.lo); // T - S, exact in a double
    if (diff < 0) return ok(s); // right of the window: new
    if (diff >= this.size) return drop('replay-too-old', `sequence ${seqToBigInt(s)} left of the window (top ${seqToBigInt(this.top)})`);
    if (this.bits[s.lo & this.mask] !== 0) return drop('replay', `sequence ${seqToBigInt(s)} already received`);
    return ok(s);
  }

  /**
   * Restore the window at a known top with nothing marked below it (an SA
   * imported with replay state, e.g. after MIGRATE or from a peer's ESN
   * position). Numbers at or below `top` are then treated as unseen.
   */
  setTop(top: SeqNum): void {
    this.th = top.hi >>> 0;
    this.tl = top.lo >>> 0;
    this.bits.fill(0);
  }

  /** Mark `s` received and advance the window (call only after ICV verification). */
  update(s: SeqNum): void {
    const diff = (s.hi - this.th) * TWO32 + (s.lo - this.tl); // S - T
    if (this.size === 0) {
      if (diff > 0) {
        this.th = s.hi;
        this.tl = s.lo;
      }
      return;
    }
    if (diff > 0) {
      if (diff >= this.bits.length) this.bits.fill(0);
      else for (let i = 1; i <= diff; i++) this.bits[(this.tl + i) & this.mask] = 0;
      this.th = s.hi;
      this.tl = s.lo;
    }
    this.bits[s.lo & this.mask] = 1;
  }
}
