/**
 * Request retransmission with exponential back-off (RFC 7296 §2.1). Defaults
 * are strongSwan's: 4 s × 1.8^n, 5 retransmissions, then give up.
 */
export interface RetransmitPolicy {
  timeoutMs: number;
  base: number;
  tries: number;
}

export const DEFAULT_RETRANSMIT: RetransmitPolicy = { timeoutMs: 4000, base: 1.8, tries: 5 };

/** Delay before retransmission number `n` (0 = the wait after the first send). */
export function retransmitDelay(p: RetransmitPolicy, n: number): number {
  return Math.round(p.timeoutMs * Math.pow(p.base, n));
}
