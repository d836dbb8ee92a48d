/**
 * Per-SA anti-replay state as the SADB keeps it: the window size from
 * sadb_sa_replay and the counters the data plane reports back (RFC 4303
 * §3.3.3 outbound sequence number, §3.4.3 highest authenticated inbound
 * sequence number and replay drops). The window algorithm itself (bitmap,
 * ESN inference) is src/xform/replay.ts's ReplayWindow / SequenceCounter;
 * the SADB only stores what must outlive a packet and be shown in dumps.
 */

export interface ReplayState {
  /** Window size in packets (sadb_sa_replay); 0 = no replay check. */
  readonly window: number;
  /** Highest authenticated inbound sequence number (RFC 4303 §3.4.3 "T"), as a bigint for ESN. */
  lastSeq: bigint;
  /** Last outbound sequence number used (RFC 4303 §3.3.3; the next packet carries lastOutbound + 1). */
  lastOutbound: bigint;
  /** Packets dropped as replays or left of the window. */
  replayDrops: number;
  /** Packets dropped because the ICV did not verify. */
  integrityFailures: number;
}

export function newReplayState(window: number): ReplayState {
  return { window, lastSeq: 0n, lastOutbound: 0n, replayDrops: 0, integrityFailures: 0 };
}
