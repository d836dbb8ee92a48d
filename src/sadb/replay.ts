/**
 * Per-SA anti-replay state (RFC 4303 §3.4.3, RFC 4302 §3.4.3): the window
 * size negotiated in sadb_sa_replay, the highest sequence number seen and a
 * bitmap of the window below it, plus the outbound sequence counter
 * (RFC 4303 §3.3.3). The SADB stores it; the data plane drives it.
 */

export interface ReplayState {
  /** Window size in packets (sadb_sa_replay); 0 disables the check. */
  readonly window: number;
  /** Highest sequence number accepted so far (0 = none yet). */
  lastSeq: number;
  /** Bit i set = lastSeq - i was received. */
  bitmap: bigint;
  /** Last outbound sequence number used (the next packet carries lastOutbound + 1). */
  lastOutbound: number;
  /** Packets dropped as replays or outside the window. */
  replayDrops: number;
}

export function newReplayState(window: number): ReplayState {
  return { window, lastSeq: 0, bitmap: 0n, lastOutbound: 0, replayDrops: 0 };
}

/** RFC 4303 §3.4.3: may a packet with this sequence number be processed (before ICV check)? */
export function replayCheck(state: ReplayState, seq: number): boolean {
  if (state.window === 0) return true;
  if (seq === 0) return false;
  if (seq > state.lastSeq) return true;
  const offset = state.lastSeq - seq;
  if (offset >= state.window) return false;
  return ((state.bitmap >> BigInt(offset)) & 1n) === 0n;
}

/** RFC 4303 §3.4.3: record an authenticated packet's sequence number. Returns false for a replay. */
export function replayAccept(state: ReplayState, seq: number): boolean {
  if (!replayCheck(state, seq)) {
    state.replayDrops++;
    return false;
  }
  if (state.window === 0) {
    state.lastSeq = Math.max(state.lastSeq, seq);
    return true;
  }
  const mask = (1n << BigInt(state.window)) - 1n;
  if (seq > state.lastSeq) {
    const shift = seq - state.lastSeq;
    state.bitmap = shift >= state.window ? 1n : ((state.bitmap << BigInt(shift)) | 1n) & mask;
    state.lastSeq = seq;
  } else {
    state.bitmap |= 1n << BigInt(state.lastSeq - seq);
  }
  return true;
}

/** RFC 4303 §3.3.3: next outbound sequence number, or null when the 32-bit counter would cycle. */
export function nextOutboundSeq(state: ReplayState): number | null {
  if (state.lastOutbound >= 0xffffffff) return null;
  state.lastOutbound++;
  return state.lastOutbound;
}
