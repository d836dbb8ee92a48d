/**
 * The clock and timers the SADB runs on, injected so that lifetimes can be
 * tested with a virtual clock (STYLE.md: sans-I/O; time comes from the edge).
 * Times are milliseconds since the epoch; PF_KEY lifetimes are seconds.
 */

export interface KernelClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Call `fire` once when now() >= atMs. Returns a function cancelling it. */
  at(atMs: number, fire: () => void): () => void;
}

/** Longest delay setTimeout accepts (2^31-1 ms, ~24.8 days); longer waits re-arm. */
const MAX_TIMEOUT_MS = 0x7fffffff;

/** The real clock: Date.now() and unref'd setTimeout (timers never keep a process alive). */
export function systemClock(): KernelClock {
  return {
    now: () => Date.now(),
    at(atMs, fire) {
      let handle: NodeJS.Timeout | undefined;
      let cancelled = false;
      const arm = (): void => {
        const delay = Math.max(0, atMs - Date.now());
        handle = setTimeout(() => {
          if (cancelled) return;
          if (Date.now() < atMs) arm();
          else fire();
        }, Math.min(delay, MAX_TIMEOUT_MS));
        handle.unref();
      };
      arm();
      return () => {
        cancelled = true;
        if (handle) clearTimeout(handle);
      };
    },
  };
}

interface VirtualTimer {
  atMs: number;
  order: number;
  fire: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to: advance(ms) fires due timers in time order. */
export class VirtualClock implements KernelClock {
  private current: number;
  private timers: VirtualTimer[] = [];
  private order = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  at(atMs: number, fire: () => void): () => void {
    const t: VirtualTimer = { atMs, order: this.order++, fire, cancelled: false };
    this.timers.push(t);
    return () => {
      t.cancelled = true;
    };
  }

  /** Move time forward by ms, firing every timer that becomes due, earliest first. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: VirtualTimer | undefined;
      for (const t of this.timers) {
        if (t.atMs > target) continue;
        if (!next || t.atMs < next.atMs || (t.atMs === next.atMs && t.order < next.order)) next = t;
      }
      if (!next) break;
      this.current = Math.max(this.current, next.atMs);
      next.cancelled = true;
      next.fire();
    }
    this.current = target;
  }

  /** Timers still armed (for tests asserting nothing is left behind). */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
