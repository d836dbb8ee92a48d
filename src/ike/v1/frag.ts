/**
 * IKE fragmentation for IKEv1 as racoon's `ike_frag on|off|force` does it:
 * the Cisco-style FRAGMENTATION vendor ID (MD5 of "FRAGMENTATION" plus a
 * 4-octet capability word) and the fragment payload, type 132. A phase-1
 * message larger than ISAKMP_FRAG_MAXLEN is cut into pieces; each piece
 * travels in its own datagram as an ISAKMP header (same cookies, exchange
 * type and message id, Next Payload 132) followed by one fragment payload
 * carrying a slice of the *whole* original message, header included.
 *
 * Fragment payload (one table for both directions):
 *   Next Payload (1) | RESERVED (1) | Payload Length (2)
 *   Fragment ID (2) | Fragment Number (1, from 1) | Flags (1, LAST = 1) | data
 *
 * Reassembly is bounded (the CVE-2016-10396 class: racoon's unbounded
 * fragment chain could be grown or wedged by a flood): at most
 * `maxFragments` pieces and `maxBytes` octets per message, `maxSets`
 * messages in reassembly at once (the oldest is evicted), `timeoutMs` for a
 * message to complete. Duplicates, number 0, numbers beyond the LAST one,
 * a second LAST and a reassembled message that is itself a fragment are
 * dropped with a reason.
 */
import { createHash } from 'node:crypto';
import { ISAKMP_HEADER_BYTES } from './constants';
import { IsakmpHeader, generatePayload, parseHeader, parsePayloads } from './payloads';
import { StructDef, WireParseError, WireRecord, generateStruct, parseStruct } from '../v2/wire';

/** The fragment payload type (racoon ISAKMP_NPTYPE_FRAG, strongSwan PLV1_FRAGMENT). */
export const FRAGMENT_PAYLOAD = 132;
/** racoon isakmp_frag.h ISAKMP_FRAG_MAXLEN: the largest datagram racoon sends unfragmented. */
export const ISAKMP_FRAG_MAXLEN = 552;
/** Fragment Flags: this is the last fragment. */
export const FRAG_LAST = 0x01;
/** MD5("FRAGMENTATION") — the Cisco IKE fragmentation vendor ID. */
export const FRAGMENTATION_VID = createHash('md5').update('FRAGMENTATION').digest();
/**
 * racoon isakmp_frag.h capability word after the MD5: 0x80000000 = fragments
 * of Main and Aggressive Mode messages (VENDORID_FRAG_IDENT / _AGG), 0x40000000
 * = base mode (Cisco sends both). strongSwan recognises the VID with the
 * 0x80000000 bit (or without a word).
 */
export const VENDORID_FRAG_BASE = 0x40000000;
export const VENDORID_FRAG_IDENT = 0x80000000;

/** racoon `ike_frag` (racoon.conf(5)); `force` sends fragments before the peer's vendor ID is seen. */
export type IkeFragMode = 'off' | 'on' | 'force';

export interface FragmentPayload {
  fragmentId: number;
  fragmentNumber: number;
  flags: number;
  data: Buffer;
}

const FRAGMENT: StructDef<keyof FragmentPayload & string> = {
  name: 'fragment',
  rules: [
    { op: 'u16', field: 'fragmentId' },
    { op: 'u8', field: 'fragmentNumber' },
    { op: 'u8', field: 'flags' },
    { op: 'rest', field: 'data' },
  ],
};

/** The FRAGMENTATION vendor ID with racoon's capability word (Main and Aggressive Mode fragments). */
export function fragmentationVendorId(): Buffer {
  const cap = Buffer.alloc(4);
  cap.writeUInt32BE(VENDORID_FRAG_IDENT);
  return Buffer.concat([FRAGMENTATION_VID, cap]);
}

/** A vendor ID announcing fragmentation (strongSwan and Cisco send it with or without the capability word). */
export function isFragmentationVendorId(data: Buffer): boolean {
  return data.length >= FRAGMENTATION_VID.length && data.subarray(0, FRAGMENTATION_VID.length).equals(FRAGMENTATION_VID);
}

/**
 * Cut a whole ISAKMP message into fragment datagrams of at most `maxDatagram`
 * octets (racoon isakmp_sendfrags: header + 8-octet fragment header + data).
 */
export function fragmentMessage(message: Buffer, fragmentId: number, maxDatagram = ISAKMP_FRAG_MAXLEN): Buffer[] {
  const room = maxDatagram - ISAKMP_HEADER_BYTES - 8;
  if (room < 1) throw new RangeError(`fragment size ${maxDatagram} leaves no room for data`);
  const pieces = Math.ceil(message.length / room);
  if (pieces > 255) throw new RangeError(`message of ${message.length} octets needs ${pieces} fragments (at most 255)`);
  const out: Buffer[] = [];
  for (let i = 0; i < pieces; i++) {
    const data = message.subarray(i * room, Math.min(message.length, (i + 1) * room));
    const body = generateStruct(FRAGMENT, { fragmentId, fragmentNumber: i + 1, flags: i === pieces - 1 ? FRAG_LAST : 0, data } as unknown as WireRecord);
    const payload = generatePayload({ type: 'unknown', payloadType: FRAGMENT_PAYLOAD, body }, 0);
    const header = Buffer.from(message.subarray(0, ISAKMP_HEADER_BYTES));
    header[16] = FRAGMENT_PAYLOAD;
    header[19] = 0; // flags: the fragment itself is not encrypted; the carried slice may be
    header.writeUInt32BE(ISAKMP_HEADER_BYTES + payload.length, 24);
    out.push(Buffer.concat([header, payload]));
  }
  return out;
}

export type FragmentParse = { ok: true; value: FragmentPayload } | { ok: false; offset: number; message: string };

/** Parse the payload chain of a message whose header says Next Payload = 132. */
export function parseFragment(body: Buffer): FragmentParse {
  const chain = parsePayloads(body, FRAGMENT_PAYLOAD);
  if (!chain.ok) return { ok: false, offset: chain.error.offset, message: chain.error.message };
  const p = chain.value[0];
  if (chain.value.length !== 1 || p.type !== 'unknown') return { ok: false, offset: ISAKMP_HEADER_BYTES, message: 'a fragment message carries exactly one fragment payload' };
  try {
    const rec = parseStruct(FRAGMENT, p.body, 0, p.body.length) as unknown as FragmentPayload;
    if (rec.data.length === 0) return { ok: false, offset: ISAKMP_HEADER_BYTES + 8, message: 'empty fragment' };
    return { ok: true, value: rec };
  } catch (e) {
    if (e instanceof WireParseError) return { ok: false, offset: ISAKMP_HEADER_BYTES + 4 + e.wire.offset, message: e.wire.message };
    return { ok: false, offset: ISAKMP_HEADER_BYTES, message: String(e) };
  }
}

export interface ReassemblyLimits {
  /** pieces per message (racoon's numbers are one octet; real messages need a handful) */
  maxFragments: number;
  /** octets of fragment data per message */
  maxBytes: number;
  /** messages in reassembly at once, all peers together; the oldest is evicted */
  maxSets: number;
  /** a message not complete after this long is discarded */
  timeoutMs: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { maxFragments: 16, maxBytes: 64 * 1024, maxSets: 64, timeoutMs: 30000 };

interface FragmentSet {
  key: string;
  startedAt: number;
  pieces: Map<number, Buffer>;
  bytes: number;
  last: number;
}

export type ReassemblyResult =
  | { kind: 'incomplete' }
  | { kind: 'complete'; message: Buffer; header: IsakmpHeader }
  | { kind: 'dropped'; reason: string };

/** Bounded reassembly of fragment payloads, keyed by the sender's cookies and the Fragment ID. */
export class FragmentReassembler {
  private readonly sets = new Map<string, FragmentSet>();

  constructor(readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /** Messages in reassembly and the fragment octets they hold (for tests and `show`). */
  usage(): { sets: number; bytes: number } {
    let bytes = 0;
    for (const s of this.sets.values()) bytes += s.bytes;
    return { sets: this.sets.size, bytes };
  }

  /** Forget the pieces collected for an ISAKMP-SA (it died or was deleted). */
  forget(cookieI: bigint): void {
    const prefix = `${cookieI.toString(16)}:`;
    for (const k of [...this.sets.keys()]) if (k.startsWith(prefix)) this.sets.delete(k);
  }

  add(header: IsakmpHeader, frag: FragmentPayload, now: number): ReassemblyResult {
    this.expire(now);
    const l = this.limits;
    if (frag.fragmentNumber === 0 || frag.fragmentNumber > l.maxFragments)
      return { kind: 'dropped', reason: `fragment number ${frag.fragmentNumber} outside 1..${l.maxFragments}` };
    const key = `${header.cookieI.toString(16)}:${header.cookieR.toString(16)}:${frag.fragmentId}`;
    let set = this.sets.get(key);
    if (!set) {
      while (this.sets.size >= l.maxSets) {
        const oldest = this.sets.keys().next().value as string;
        this.sets.delete(oldest);
      }
      set = { key, startedAt: now, pieces: new Map(), bytes: 0, last: 0 };
      this.sets.set(key, set);
    }
    if (set.pieces.has(frag.fragmentNumber)) return { kind: 'dropped', reason: `duplicate fragment ${frag.fragmentNumber}` };
    const isLast = (frag.flags & FRAG_LAST) !== 0;
    if (isLast && set.last !== 0) return this.abandon(set, `a second LAST fragment (${frag.fragmentNumber}, first was ${set.last})`);
    if (isLast && [...set.pieces.keys()].some((n) => n > frag.fragmentNumber)) return this.abandon(set, `LAST fragment ${frag.fragmentNumber} below a fragment already received`);
    if (set.last !== 0 && frag.fragmentNumber > set.last) return this.abandon(set, `fragment ${frag.fragmentNumber} after the LAST one (${set.last})`);
    if (set.bytes + frag.data.length > l.maxBytes) return this.abandon(set, `reassembled message would exceed ${l.maxBytes} octets`);
    set.pieces.set(frag.fragmentNumber, Buffer.from(frag.data));
    set.bytes += frag.data.length;
    if (isLast) set.last = frag.fragmentNumber;
    if (set.last === 0 || set.pieces.size !== set.last) return { kind: 'incomplete' };
    this.sets.delete(key);
    const parts: Buffer[] = [];
    for (let i = 1; i <= set.last; i++) parts.push(set.pieces.get(i)!);
    const message = Buffer.concat(parts);
    const h = parseHeader(message);
    if (!h.ok) return { kind: 'dropped', reason: `reassembled message is malformed: ${h.error.message} at offset ${h.error.offset}` };
    const inner = h.value.header;
    if (inner.nextPayload === FRAGMENT_PAYLOAD) return { kind: 'dropped', reason: 'reassembled message is itself a fragment' };
    if (inner.cookieI !== header.cookieI || inner.cookieR !== header.cookieR) return { kind: 'dropped', reason: 'reassembled message carries other cookies than its fragments' };
    return { kind: 'complete', message: message.subarray(0, inner.length), header: inner };
  }

  private abandon(set: FragmentSet, reason: string): ReassemblyResult {
    this.sets.delete(set.key);
    return { kind: 'dropped', reason };
  }

  private expire(now: number): void {
    for (const s of [...this.sets.values()]) if (now - s.startedAt > this.limits.timeoutMs) this.sets.delete(s.key);
  }
}
