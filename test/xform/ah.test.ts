/**
 * AH (RFC 4302): round trips, mutable fields excluded from the ICV
 * (§3.3.3.1.1.1 IPv4, §3.3.3.1.2 IPv6), immutable fields protected, Mobile
 * IPv6 type 2 routing header and Home Address option computed as the
 * receiver sees them (RFC 6275 §6.3/§6.4), ESN, typed drops.
 */
import fc from 'fast-check';
import { AhSa, ahIcvView } from '../../src/xform/ah';
import { IPPROTO, internetChecksum, parseIp } from '../../src/xform/ip';
import { DEFAULT_TUNNEL_OPTIONS, XformSa } from '../../src/xform/sa';
import { INTEG, nodeProvider } from './provider';
import { addr, haoDestOpts, hopByHop, rh2, udp4, udp6 } from './helpers';

function ahSa(over: Partial<XformSa> = {}): XformSa {
  return {
    spi: 0x1000,
    proto: 'ah',
    mode: 'transport',
    src: addr('10.0.0.1'),
    dst: addr('10.0.1.1'),
    integ: INTEG.sha256,
    integKey: Buffer.alloc(32, 9),
    esn: false,
    replayWindow: 64,
    padding: 'sequential',
    checkPadding: true,
    tunnel: { ...DEFAULT_TUNNEL_OPTIONS },
    ...over,
  };
}

function fixV4Checksum(p: Buffer): void {
  const ihl = (p[0] & 15) * 4;
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(internetChecksum(p.subarray(0, ihl)), 10);
}

describe('AH round trips', () => {
  const v4 = udp4('10.0.0.1', '10.0.1.1', Buffer.from('ah4'));
  const v6 = udp6('2001:db8::1', '2001:db8:1::1', Buffer.from('ah6'));
  for (const integ of [INTEG.sha256, INTEG.sha1]) {
    for (const mode of ['transport', 'tunnel'] as const) {
      for (const [fam, pkt, src, dst] of [
        ['IPv4', v4, '10.0.0.1', '10.0.1.1'],
        ['IPv6', v6, '2001:db8::1', '2001:db8:1::1'],
      ] as const) {
        test(`${integ.id} ${mode} ${fam}`, () => {
          const s = ahSa({ integ, mode, src: addr(src), dst: addr(dst) });
          const tx = new AhSa(s, nodeProvider);
          const rx = new AhSa(s, nodeProvider);
          const out = tx.output(pkt);
          if (!out.ok) throw new Error(out.detail);
          const q = parseIp(out.value);
          if (!q.ok) throw new Error(q.detail);
          // RFC 4302 §2.2: AH length is a multiple of 32 bits (IPv4) / 64 bits (IPv6)
          const ahLen = tx.headerBytes(fam === 'IPv4' ? 4 : 6);
          expect(ahLen % (fam === 'IPv4' ? 4 : 8)).toBe(0);
          expect(out.value.length).toBe(pkt.length + ahLen + (mode === 'tunnel' ? (fam === 'IPv4' ? 20 : 40) : 0));
          const back = rx.input(out.value);
          expect(back.ok && back.value.packet.toString('hex')).toBe(pkt.toString('hex'));
        });
      }
    }
  }
});

describe('AH ICV: IPv4 mutable fields (RFC 4302 §3.3.3.1.1.1)', () => {
  const s = ahSa();
  const tx = new AhSa(s, nodeProvider);
  const out = tx.output(udp4('10.0.0.1', '10.0.1.1', Buffer.from('payload')));
  if (!out.ok) throw new Error('setup');
  const cases: [string, (p: Buffer) => void, boolean][] = [
    ['TOS/DSCP+ECN', (p) => (p[1] = 0xb8 | 3), true],
    ['flags (DF)', (p) => (p[6] |= 0x40), true],
    ['TTL', (p) => (p[8] = 3), true],
    ['identification', (p) => (p[5] ^= 1), false],
    ['source address', (p) => (p[15] ^= 1), false],
    ['payload byte', (p) => (p[p.length - 1] ^= 1), false],
  ];
  for (const [what, change, stillValid] of cases) {
    test(`changing ${what} ${stillValid ? 'still verifies' : 'fails the ICV'}`, () => {
      const rx = new AhSa(s, nodeProvider);
      const p = Buffer.from(out.value);
      change(p);
      fixV4Checksum(p);
      const r = rx.input(p);
      if (stillValid) expect(r.ok).toBe(true);
      else expect(r.ok || r.reason).toBe('icv-mismatch');
    });
  }
  test('a Record Route option (mutable) may change, a Router Alert option (immutable) may not', () => {
    // IPv4 header with options: Router Alert (148, 4 bytes) + Record Route (7, 7 bytes) + EOL
    const base = udp4('10.0.0.1', '10.0.1.1', Buffer.from('opts'));
    const opts = Buffer.from([148, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0]);
    const hdr = Buffer.concat([base.subarray(0, 20), opts]);
    hdr[0] = 0x45 + 3;
    const pkt = Buffer.concat([hdr, base.subarray(20)]);
    pkt.writeUInt16BE(pkt.length, 2);
    fixV4Checksum(pkt);
    const o = new AhSa(s, nodeProvider).output(pkt);
    if (!o.ok) throw new Error(o.detail);
    const rr = Buffer.from(o.value);
    rr[26] = 8;
    rr.fill(0xaa, 27, 31); // a router records its address
    fixV4Checksum(rr);
    expect(new AhSa(s, nodeProvider).input(rr).ok).toBe(true);
    const ra = Buffer.from(o.value);
    ra[23] = 1;
    fixV4Checksum(ra);
    const r = new AhSa(s, nodeProvider).input(ra);
    expect(r.ok || r.reason).toBe('icv-mismatch');
  });
});

describe('AH ICV: IPv6 (RFC 4302 §3.3.3.1.2)', () => {
  const s = ahSa({ src: addr('2001:db8::1'), dst: addr('2001:db8:1::1') });
  const pkt = udp6('2001:db8::1', '2001:db8:1::1', Buffer.from('v6'), [hopByHop(0x3e /* may change: 0x20 bit set */)]);
  const out = new AhSa(s, nodeProvider).output(pkt);
  if (!out.ok) throw new Error('setup');
  const cases: [string, (p: Buffer) => void, boolean][] = [
    ['traffic class', (p) => (p[1] |= 0xf0), true],
    ['flow label', (p) => (p[3] ^= 0xff), true],
    ['hop limit', (p) => (p[7] = 1), true],
    ['data of an option with the may-change bit', (p) => (p[44] ^= 0xff), true],
    ['source address', (p) => (p[23] ^= 1), false],
    ['the option type byte', (p) => (p[42] ^= 0x01), false],
    ['payload', (p) => (p[p.length - 1] ^= 1), false],
  ];
  for (const [what, change, stillValid] of cases) {
    test(`changing ${what} ${stillValid ? 'still verifies' : 'fails the ICV'}`, () => {
      const p = Buffer.from(out.value);
      change(p);
      const r = new AhSa(s, nodeProvider).input(p);
      if (stillValid) expect(r.ok).toBe(true);
      else expect(r.ok).toBe(false);
    });
  }
  test('an option without the may-change bit is protected', () => {
    const q = udp6('2001:db8::1', '2001:db8:1::1', Buffer.from('v6'), [hopByHop(0x1e)]);
    const o = new AhSa(s, nodeProvider).output(q);
    if (!o.ok) throw new Error(o.detail);
    o.value[44] ^= 0xff;
    const r = new AhSa(s, nodeProvider).input(o.value);
    expect(r.ok || r.reason).toBe('icv-mismatch');
  });
});

describe('AH with Mobile IPv6 headers (RFC 6275 §6.3, §6.4)', () => {
  const CN = '2001:db8:cafe::1';
  const HOA = '2001:db8:0:1::100';
  const COA = '2001:db8:beef::100';

  test('type 2 routing header: ICV over the packet as the mobile node sees it after processing', () => {
    // correspondent -> mobile node: destination = care-of, RH2 carries the home address, segments left 1
    const s = ahSa({ src: addr(CN), dst: addr(HOA) });
    const sent = udp6(CN, COA, Buffer.from('to mn'), [rh2(HOA)]);
    const out = new AhSa(s, nodeProvider).output(sent);
    if (!out.ok) throw new Error(out.detail);
    const q = parseIp(out.value);
    if (!q.ok || q.value.family !== 6) throw new Error('parse');
    expect(q.value.extHeaders.map((e) => e.type)).toEqual([IPPROTO.ROUTING, IPPROTO.AH]);
    // the view equals the view of the packet after RH processing: dst = HoA, RH address = CoA, segments left 0
    const processed = Buffer.from(out.value);
    addr(HOA).copy(processed, 24);
    addr(COA).copy(processed, 48);
    processed[43] = 0;
    const ahOff = q.value.extHeaders[1].offset;
    const a = ahIcvView(out.value, q.value, ahOff, 20);
    const pp = parseIp(processed);
    if (!pp.ok) throw new Error('parse');
    const b = ahIcvView(processed, pp.value, ahOff, 20);
    expect(a.ok && b.ok && a.value.equals(b.value)).toBe(true);
    // both forms verify at the receiver
    expect(new AhSa(s, nodeProvider).input(out.value).ok).toBe(true);
    expect(new AhSa(s, nodeProvider).input(processed).ok).toBe(true);
    // a forged home address does not
    const forged = Buffer.from(out.value);
    forged[63] ^= 1;
    expect(new AhSa(s, nodeProvider).input(forged).ok).toBe(false);
  });

  test('Home Address option: ICV computed with the home address as source (swapped as the receiver does)', () => {
    // mobile node -> correspondent: source = care-of, HAO carries the home address
    const s = ahSa({ src: addr(HOA), dst: addr(CN) });
    const sent = udp6(COA, CN, Buffer.from('from mn'), [haoDestOpts(HOA)]);
    const out = new AhSa(s, nodeProvider).output(sent);
    if (!out.ok) throw new Error(out.detail);
    const q = parseIp(out.value);
    if (!q.ok || q.value.family !== 6) throw new Error('parse');
    expect(q.value.extHeaders.map((e) => e.type)).toEqual([IPPROTO.DSTOPTS, IPPROTO.AH]);
    const view = ahIcvView(out.value, q.value, q.value.extHeaders[1].offset, 20);
    if (!view.ok) throw new Error(view.detail);
    expect(view.value.subarray(8, 24)).toEqual(addr(HOA));
    expect(view.value.subarray(48, 64)).toEqual(addr(COA));
    expect(new AhSa(s, nodeProvider).input(out.value).ok).toBe(true);
    const forged = Buffer.from(out.value);
    forged[63] ^= 1; // last byte of the home address in the option
    expect(new AhSa(s, nodeProvider).input(forged).ok).toBe(false);
  });
});

describe('AH ESN, replay and bad input', () => {
  test('ESN high bits in the ICV (RFC 4302 §2.5.1)', () => {
    const s = ahSa({ esn: true });
    const out = new AhSa(s, nodeProvider).output(udp4('10.0.0.1', '10.0.1.1', Buffer.from('e')), { seq: { hi: 2, lo: 9 } });
    if (!out.ok) throw new Error(out.detail);
    const rx = new AhSa(s, nodeProvider);
    rx.replay.setTop({ hi: 2, lo: 1 });
    expect(rx.input(out.value).ok).toBe(true);
    const wrong = new AhSa(s, nodeProvider);
    expect(wrong.input(out.value).ok).toBe(false);
  });
  test('replay, wrong SPI, truncation and fuzz never throw', () => {
    const s = ahSa();
    const out = new AhSa(s, nodeProvider).output(udp4('10.0.0.1', '10.0.1.1', Buffer.from('x')));
    if (!out.ok) throw new Error(out.detail);
    const rx = new AhSa(s, nodeProvider);
    expect(rx.input(out.value).ok).toBe(true);
    const rep = rx.input(out.value);
    expect(rep.ok || rep.reason).toBe('replay');
    const other = new AhSa(ahSa({ spi: 0x2000 }), nodeProvider).input(out.value);
    expect(other.ok || other.reason).toBe('no-sa');
    for (let n = 0; n < out.value.length; n++) expect(new AhSa(s, nodeProvider).input(out.value.subarray(0, n)).ok).toBe(false);
    fc.assert(
      fc.property(fc.nat(out.value.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const m = Buffer.from(out.value);
        m[i] ^= x;
        const r = new AhSa(s, nodeProvider).input(m);
        if (!r.ok) expect(typeof r.reason).toBe('string');
      }),
      { numRuns: 300 },
    );
  });
});
