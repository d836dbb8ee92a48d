/**
 * IKE fragmentation as racoon's `ike_frag` (isakmp_frag.c: the Cisco-style
 * fragment payload 132 carrying slices of the whole message, the
 * FRAGMENTATION vendor ID) and the bounded reassembly that closes the
 * CVE-2016-10396 class (a fragment flood must neither crash the daemon nor
 * grow its memory without bound).
 */
import fc from 'fast-check';
import { ExchangeType } from '../../../src/ike/v1/constants';
import {
  DEFAULT_REASSEMBLY_LIMITS,
  FRAGMENTATION_VID,
  FRAGMENT_PAYLOAD,
  FRAG_LAST,
  FragmentReassembler,
  fragmentMessage,
  fragmentationVendorId,
  isFragmentationVendorId,
  parseFragment,
} from '../../../src/ike/v1/frag';
import { Ikev1Engine } from '../../../src/ike/v1/engine';
import { parseHeader, generateMessage, generatePayloads } from '../../../src/ike/v1/payloads';
import { Pair, makePair, peerConfig, seededRandom } from './harness';

const A = '10.0.0.1';
const B = '10.0.0.2';

/** a 1500-octet ISAKMP message: header + one VID payload */
function bigMessage(len = 1500): Buffer {
  const body = generatePayloads([{ type: 13, data: Buffer.alloc(len - 28 - 4, 0xab) }]);
  return generateMessage({ cookieI: 0x1122334455667788n, cookieR: 0x99aabbccddeeff00n, majorVersion: 1, minorVersion: 0, exchangeType: ExchangeType.IDENTITY_PROTECTION, flags: 0, messageId: 0 }, 13, body);
}
function split(msg: Buffer, id = 7, size = 552) {
  return fragmentMessage(msg, id, size).map((d) => {
    const h = parseHeader(d);
    if (!h.ok) throw new Error(h.error.message);
    const f = parseFragment(h.value.body);
    if (!f.ok) throw new Error(f.message);
    return { d, header: h.value.header, frag: f.value };
  });
}

describe('fragment payload (racoon isakmp_sendfrags / isakmp_frag_extract)', () => {
  it('cuts a 1500-octet message into ≤552-octet datagrams numbered from 1, LAST on the last; any arrival order reassembles it', () => {
    const msg = bigMessage();
    const parts = split(msg);
    expect(parts).toHaveLength(3);
    expect(parts.every((p) => p.d.length <= 552 && p.header.nextPayload === FRAGMENT_PAYLOAD && p.header.exchangeType === ExchangeType.IDENTITY_PROTECTION)).toBe(true);
    expect(parts.map((p) => [p.frag.fragmentNumber, p.frag.flags & FRAG_LAST])).toEqual([[1, 0], [2, 0], [3, 1]]);
    for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
      const r = new FragmentReassembler();
      const results = order.map((i) => r.add(parts[i].header, parts[i].frag, 0));
      expect(results.slice(0, 2).map((x) => x.kind)).toEqual(['incomplete', 'incomplete']);
      const last = results[2];
      expect(last.kind === 'complete' && last.message.equals(msg)).toBe(true);
      expect(r.usage()).toEqual({ sets: 0, bytes: 0 });
    }
  });

  it('the vendor ID is MD5("FRAGMENTATION") + racoon\'s capability word; strongSwan\'s bare 16-octet form is recognised', () => {
    expect(FRAGMENTATION_VID.toString('hex')).toBe('4048b7d56ebce88525e7de7f00d6c2d3');
    // 0x80000000: Main/Aggressive Mode fragments, what racoon sends and strongSwan's is_known_vid() requires
    expect(fragmentationVendorId().toString('hex')).toBe('4048b7d56ebce88525e7de7f00d6c2d380000000');
    expect(isFragmentationVendorId(FRAGMENTATION_VID)).toBe(true);
    expect(isFragmentationVendorId(FRAGMENTATION_VID.subarray(0, 15))).toBe(false);
  });

  it('drops duplicates, number 0, numbers past the limit, fragments after LAST, a second LAST, and oversize messages', () => {
    const parts = split(bigMessage());
    const r = new FragmentReassembler({ ...DEFAULT_REASSEMBLY_LIMITS, maxBytes: 2000 });
    const h = parts[0].header;
    expect(r.add(h, parts[0].frag, 0).kind).toBe('incomplete');
    expect(r.add(h, parts[0].frag, 0)).toEqual({ kind: 'dropped', reason: 'duplicate fragment 1' });
    expect(r.add(h, { ...parts[0].frag, fragmentNumber: 0 }, 0)).toMatchObject({ kind: 'dropped' });
    expect(r.add(h, { ...parts[0].frag, fragmentNumber: 17 }, 0)).toMatchObject({ kind: 'dropped', reason: 'fragment number 17 outside 1..16' });
    const other = { fragmentId: 8 };
    expect(r.add(h, { ...parts[1].frag, ...other, flags: FRAG_LAST }, 0).kind).toBe('incomplete');
    expect(r.add(h, { ...parts[2].frag, ...other, flags: 0 }, 0)).toMatchObject({ kind: 'dropped', reason: 'fragment 3 after the LAST one (2)' });
    // fragments 1+2 with LAST on 2 complete a set, but the 1048 octets are not the 1500-octet message its header announces
    expect(r.add(h, { ...parts[1].frag, flags: FRAG_LAST }, 0)).toMatchObject({ kind: 'dropped', reason: expect.stringContaining('reassembled message is malformed') });
    // the whole set was abandoned: nothing is held
    expect(r.usage()).toEqual({ sets: 0, bytes: 0 });
    r.add(h, { ...parts[2].frag, fragmentNumber: 3, flags: FRAG_LAST }, 0);
    expect(r.add(h, { ...parts[1].frag, fragmentNumber: 4, flags: FRAG_LAST }, 0)).toMatchObject({ kind: 'dropped', reason: expect.stringContaining('second LAST') });
    const big = { ...parts[0].frag, data: Buffer.alloc(1500) };
    r.add(h, big, 0);
    expect(r.add(h, { ...big, fragmentNumber: 2 }, 0)).toMatchObject({ kind: 'dropped', reason: 'reassembled message would exceed 2000 octets' });
  });

  it('a reassembled message that is itself a fragment, or carries other cookies, is refused', () => {
    const inner = split(bigMessage())[0].d; // a fragment datagram as the "message"
    const parts = split(Buffer.concat([inner, Buffer.alloc(600)]).subarray(0, inner.length), 9, 200);
    const r = new FragmentReassembler();
    let last = null;
    for (const p of parts) last = r.add(p.header, p.frag, 0);
    expect(last).toEqual({ kind: 'dropped', reason: 'reassembled message is itself a fragment' });
    const other = split(bigMessage());
    const r2 = new FragmentReassembler();
    const forged = { ...other[0].header, cookieR: 1n };
    for (const p of other) last = r2.add(forged, p.frag, 0);
    expect(last).toEqual({ kind: 'dropped', reason: 'reassembled message carries other cookies than its fragments' });
  });

  it('incomplete sets expire after timeoutMs and the oldest is evicted beyond maxSets', () => {
    const parts = split(bigMessage());
    const r = new FragmentReassembler({ ...DEFAULT_REASSEMBLY_LIMITS, maxSets: 3, timeoutMs: 1000 });
    for (let id = 1; id <= 5; id++) r.add(parts[0].header, { ...parts[0].frag, fragmentId: id }, 0);
    expect(r.usage().sets).toBe(3);
    r.add(parts[0].header, { ...parts[1].frag, fragmentId: 99 }, 1500);
    expect(r.usage().sets).toBe(1);
  });

  it('parseFragment never throws on arbitrary input (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        return typeof parseFragment(Buffer.from(b)).ok === 'boolean';
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ike_frag between two engines', () => {
  const frag = (mode: 'on' | 'force' | 'off') => ({ ikeFrag: mode });
  function pair(ma: 'on' | 'force' | 'off', mb: 'on' | 'force' | 'off', size = 256, seed = 'f') {
    return new Pair(
      new Ikev1Engine({ peers: [peerConfig('b', A, B, frag(ma))], random: seededRandom(`${seed}a`), pid: 100, ikeFragSize: size }),
      new Ikev1Engine({ peers: [peerConfig('a', B, A, frag(mb))], random: seededRandom(`${seed}b`), pid: 200, ikeFragSize: size }),
    );
  }
  const fragments = (p: Pair) => p.wire.filter((w) => w.data[16] === FRAGMENT_PAYLOAD);

  it('ike_frag on both sides: messages 3-6 above the fragment size travel as fragments and phase 1 + Quick Mode complete', () => {
    const p = pair('on', 'on');
    p.a.initiate('b', 0);
    p.run();
    expect(fragments(p).length).toBeGreaterThanOrEqual(4);
    expect(fragments(p).every((w) => w.data.length <= 256)).toBe(true);
    expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
    expect(p.b.ph1Sas()[0].ph2[0].state).toBe('ESTABLISHED');
  });

  it('ike_frag on without the peer\'s vendor ID sends whole messages; off never sends the vendor ID', () => {
    const p = pair('on', 'off');
    p.a.initiate('b', 0);
    p.run();
    expect(fragments(p)).toHaveLength(0);
    expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
    expect(p.wire.filter((w) => w.from === 'b').some((w) => w.data.includes(FRAGMENTATION_VID))).toBe(false);
  });

  it('ike_frag force toward a receiver with ike_frag off: the receiver drops the fragments (receiver capability) and phase 1 does not complete', () => {
    const p = pair('force', 'off');
    p.a.initiate('b', 0);
    p.run();
    expect(fragments(p).length).toBeGreaterThan(0);
    expect(p.b.ph1Sas()[0].state).not.toBe('ESTABLISHED');
    expect(p.logs.b.some((l) => l.msg.includes('a remote without ike_frag'))).toBe(true);
  });

  it('a flood of 30,000 hostile fragments for a live ISAKMP-SA keeps reassembly within its bounds, and the SA still negotiates Quick Mode', () => {
    const p = makePair(peerConfig('b', A, B, frag('on')), peerConfig('a', B, A, frag('on')), 'flood');
    p.a.initiate('b', 0);
    p.run();
    const sa = p.b.ph1Sas()[0];
    const base = bigMessage(200);
    base.writeBigUInt64BE(sa.cookieI, 0);
    base.writeBigUInt64BE(sa.cookieR, 8);
    const rnd = seededRandom('flood');
    let maxSets = 0;
    let maxBytes = 0;
    const limits = DEFAULT_REASSEMBLY_LIMITS;
    for (let i = 0; i < 30000; i++) {
      const r = rnd.bytes(4);
      const [f] = fragmentMessage(base, r.readUInt16BE(0), 552);
      f[ISAKMP_FRAGMENT_NUMBER] = r[2] % 20; // numbers 0..19: some out of range
      f[ISAKMP_FRAGMENT_NUMBER + 1] = r[3] & 1; // LAST at random
      p.b.receiveDatagram(f, { address: A, port: 500 }, { address: B, port: 500 }, i);
      if (i % 1000 === 0) {
        p.b.pollActions();
        const u = (p.b as unknown as { fragments: FragmentReassembler }).fragments.usage();
        maxSets = Math.max(maxSets, u.sets);
        maxBytes = Math.max(maxBytes, u.bytes);
      }
    }
    p.b.pollActions();
    expect(maxSets).toBeLessThanOrEqual(limits.maxSets);
    expect(maxBytes).toBeLessThanOrEqual(limits.maxSets * limits.maxBytes);
    // unknown cookies never create reassembly state
    const stranger = Buffer.from(base);
    stranger.writeBigUInt64BE(0xdeadn, 0);
    const before = (p.b as unknown as { fragments: FragmentReassembler }).fragments.usage().sets;
    for (const f of fragmentMessage(stranger, 1, 100)) p.b.receiveDatagram(f, { address: A, port: 500 }, { address: B, port: 500 }, 0);
    expect((p.b as unknown as { fragments: FragmentReassembler }).fragments.usage().sets).toBe(before);
    // the daemon is not wedged: a new Quick Mode on the same ISAKMP-SA completes
    p.now = 30000;
    p.b.pollActions();
    p.a.initiate('b', p.now);
    p.run();
    expect(p.a.ph1Sas()[0].ph2.filter((x) => x.state === 'ESTABLISHED')).toHaveLength(2);
  });
});

/** offset of the Fragment Number octet in a fragment datagram: header 28 + generic 4 + Fragment ID 2 */
const ISAKMP_FRAGMENT_NUMBER = 34;
