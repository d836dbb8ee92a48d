/**
 * Typed outcomes of the data plane. Every packet that is not delivered is
 * dropped with one DropReason, which the SA (or the xform context) counts.
 */

/** Why a packet was dropped. The names are the RFC's words where it has them. */
export type DropReason =
  | 'truncated' // shorter than the headers it claims
  | 'bad-ip-header' // version / IHL / length fields inconsistent
  | 'bad-ext-header' // IPv6 extension header chain malformed
  | 'no-sa' // SPI unknown (wrong SPI) — RFC 4303 §3.4.2 "auditable event"
  | 'wrong-protocol' // packet is not ESP/AH where the SA expects it
  | 'replay' // RFC 4303 §3.4.3 duplicate
  | 'replay-too-old' // RFC 4303 §3.4.3 left of the window
  | 'icv-mismatch' // RFC 4303 §3.4.4 / RFC 4302 §3.4.4
  | 'bad-padding' // RFC 4303 §2.4 padding bytes or pad length inconsistent
  | 'bad-payload-length' // ciphertext not a multiple of the block size, etc.
  | 'dummy-packet' // RFC 4303 §2.6 next header 59 (TFC dummy) — discarded
  | 'bad-inner-packet' // tunnel mode: decrypted payload is not an IP packet
  | 'sequence-overflow' // RFC 4303 §3.3.3 sender must not cycle
  | 'ecn-drop' // RFC 6040 §4.2 outer CE with inner Not-ECT (or KAME forbidden mode)
  | 'fragment-timeout' // reassembly timer expired (RFC 791 / RFC 8200 §4.5)
  | 'fragment-memory' // reassembly memory bound exceeded
  | 'fragment-overlap' // RFC 5722 overlapping fragments
  | 'fragment-too-large' // reassembled datagram > 65535
  | 'mtu-exceeded' // DF set / IPv6 and the packet does not fit
  | 'bad-udp-encap' // RFC 3948 framing error
  | 'unsupported'; // algorithm / mode combination this SA cannot do

export const DROP_REASONS: readonly DropReason[] = [
  'truncated',
  'bad-ip-header',
  'bad-ext-header',
  'no-sa',
  'wrong-protocol',
  'replay',
  'replay-too-old',
  'icv-mismatch',
  'bad-padding',
  'bad-payload-length',
  'dummy-packet',
  'bad-inner-packet',
  'sequence-overflow',
  'ecn-drop',
  'fragment-timeout',
  'fragment-memory',
  'fragment-overlap',
  'fragment-too-large',
  'mtu-exceeded',
  'bad-udp-encap',
  'unsupported',
];

export interface Drop {
  ok: false;
  reason: DropReason;
  /** Byte offset in the input where the problem was seen, when it is a wire problem. */
  offset?: number;
  detail: string;
}

export interface Ok<T> {
  ok: true;
  value: T;
}

export type Result<T> = Ok<T> | Drop;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function drop(reason: DropReason, detail: string, offset?: number): Drop {
  return offset === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, offset };
}

/** Per-reason drop counters. */
export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  const c = {} as DropCounters;
  for (const r of DROP_REASONS) c[r] = 0;
  return c;
}
