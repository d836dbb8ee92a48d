/**
 * Fragments (RFC 791 §3.2, RFC 8200 §4.5, RFC 5722) in both output styles,
 * bounded reassembly, exact per-SA overhead and largest inner packet, MSS clamping.
 */
import fc from 'fast-check';
import { EspSa } from '../../src/xform/esp';
import { AhSa } from '../../src/xform/ah';
import { Reassembler, fragmentIpv4, fragmentIpv6 } from '../../src/xform/frag';
import { fitFor, protectForPath, saSizes } from '../../src/xform/path';
import { clampMss, maxInnerLength, mssFor, protectedSize } from '../../src/xform/mtu';
import { IPPROTO, encodeIpv4Header, internetChecksum, parseIp, pseudoHeaderSum } from '../../src/xform/ip';
import { DEFAULT_TUNNEL_OPTIONS } from '../../src/xform/sa';
import { ENCR, INTEG, nodeProvider } from './provider';
import { addr, espSa, rh2, udp4, udp6 } from './helpers';

const big4 = (n: number, df = false) => udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(n, 0x5a), { df });
const big6 = (n: number) => udp6('2001:db8::1', '2001:db8:1::1', Buffer.alloc(n, 0x6b));

function reassembleAll(r: Reassembler, pieces: Buffer[], now = 0): Buffer[] {
  const out: Buffer[] = [];
  for (const f of pieces) {
    const x = r.add(f, now);
    if (!x.ok) throw new Error(`${x.reason}: ${x.detail}`);
    if (x.value) out.push(x.value);
  }
  return out;
}

describe('fragmentation and reassembly', () => {
  test('IPv4: fragments fit, carry offsets in 8-byte units, and reassemble in any order', () => {
    const p = big4(3000);
    const f = fragmentIpv4(p, 1280);
    if (!f.ok) throw new Error(f.detail);
    expect(f.value.length).toBe(3);
    for (const x of f.value) expect(x.length).toBeLessThanOrEqual(1280);
    fc.assert(
      fc.property(fc.shuffledSubarray(f.value, { minLength: 3, maxLength: 3 }), (order) => {
        const got = reassembleAll(new Reassembler(), order);
        expect(got.length).toBe(1);
        expect(got[0].toString('hex')).toBe(p.toString('hex'));
      }),
    );
  });
  test('IPv4 with DF is not fragmented', () => {
    const r = fragmentIpv4(big4(3000, true), 1280);
    expect(r.ok || r.reason).toBe('mtu-exceeded');
  });
  test('IPv6: Fragment header after the routing header (unfragmentable part), reassembles', () => {
    const p = udp6('2001:db8::1', '2001:db8:1::1', Buffer.alloc(2500, 1), [rh2('2001:db8::99', 0)]);
    const f = fragmentIpv6(p, 1280, 77);
    if (!f.ok) throw new Error(f.detail);
    for (const x of f.value) {
      expect(x.length).toBeLessThanOrEqual(1280);
      const q = parseIp(x);
      expect(q.ok && q.value.family === 6 && q.value.extHeaders.map((e) => e.type).slice(0, 2)).toEqual([IPPROTO.ROUTING, IPPROTO.FRAGMENT]);
    }
    const got = reassembleAll(new Reassembler(), [...f.value].reverse());
    expect(got[0].toString('hex')).toBe(p.toString('hex'));
  });
  test('overlapping fragments drop the datagram (RFC 5722)', () => {
    const p = big4(2000);
    const f = fragmentIpv4(p, 1000);
    if (!f.ok) throw new Error('frag');
    const r = new Reassembler();
    expect(r.add(f.value[0], 0).ok).toBe(true);
    const evil = Buffer.from(f.value[1]);
    evil.writeUInt16BE((evil.readUInt16BE(6) & 0xe000) | 1, 6); // offset 8: overlaps the first fragment
    evil.writeUInt16BE(0, 10);
    evil.writeUInt16BE(internetChecksum(evil.subarray(0, 20)), 10);
    const x = r.add(evil, 0);
    expect(x.ok || x.reason).toBe('fragment-overlap');
    expect(r.heldBytes).toBe(0);
  });
  test('reassembly is bounded in time and memory, with typed drops', () => {
    const f = fragmentIpv4(big4(2000), 1000);
    if (!f.ok) throw new Error('frag');
    const r = new Reassembler({ maxBytes: 1500, timeoutMs: 1000, maxDatagrams: 2 });
    expect(r.add(f.value[0], 0).ok).toBe(true);
    expect(r.expire(999)).toBe(0);
    expect(r.expire(1000)).toBe(1);
    expect(r.drops['fragment-timeout']).toBe(1);
    expect(r.heldBytes).toBe(0);
    // memory: 2 first-fragments of different datagrams exceed 1500 bytes
    const g = fragmentIpv4(udp4('10.0.0.2', '10.0.1.1', Buffer.alloc(2000)), 1000);
    if (!g.ok) throw new Error('frag');
    expect(r.add(f.value[0], 2000).ok).toBe(true);
    const x = r.add(g.value[0], 2000);
    expect(x.ok || x.reason).toBe('fragment-memory');
  });
  test('a datagram reassembling beyond 65535 bytes is dropped', () => {
    const last = encodeIpv4Header({ dscp: 0, ecn: 0, totalLength: 20 + 16, identification: 9, flags: 0, fragmentOffset: 8190, ttl: 9, protocol: 17, src: addr('1.1.1.1'), dst: addr('2.2.2.2'), options: Buffer.alloc(0) });
    const r = new Reassembler();
    const x = r.add(Buffer.concat([last, Buffer.alloc(16)]), 0);
    expect(x.ok || x.reason).toBe('fragment-too-large');
  });
  test('fuzz: random fragment garbage never throws', () => {
    const r = new Reassembler({ maxBytes: 100_000, timeoutMs: 10, maxDatagrams: 8 });
    const f = fragmentIpv4(big4(3000), 600);
    if (!f.ok) throw new Error('frag');
    fc.assert(
      fc.property(fc.nat(f.value.length - 1), fc.nat(59), fc.integer({ min: 1, max: 255 }), fc.nat(100), (i, at, x, t) => {
        const m = Buffer.from(f.value[i]);
        m[at] ^= x;
        const out = r.add(m, t);
        if (!out.ok) expect(typeof out.reason).toBe('string');
      }),
      { numRuns: 500 },
    );
  });
});

describe('exact overhead and largest inner packet', () => {
  const mk = () => [
    new EspSa(espSa({ encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20) }), nodeProvider),
    new EspSa(espSa({ encr: ENCR.aesCbc128, encrKey: Buffer.alloc(16), integ: INTEG.sha256, integKey: Buffer.alloc(32) }), nodeProvider),
    new EspSa(espSa({ encr: ENCR.aesCbc128, encrKey: Buffer.alloc(16), integ: INTEG.sha1, integKey: Buffer.alloc(20), natt: { sport: 4500, dport: 4500 } }), nodeProvider),
    new EspSa(espSa({ mode: 'transport', src: addr('10.0.0.1'), dst: addr('10.0.1.1'), encr: ENCR.chacha, encrKey: Buffer.alloc(36) }), nodeProvider),
    new AhSa({ ...espSa({ encr: ENCR.null, encrKey: Buffer.alloc(0) }), proto: 'ah', integ: INTEG.sha256, integKey: Buffer.alloc(32) }, nodeProvider),
  ];
  test('protectedSize equals the length actually produced, for every length', () => {
    for (const x of mk()) {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1472 }), (n) => {
          const p = big4(n);
          const o = x.output(p);
          if (!o.ok) throw new Error(o.detail);
          expect(fitFor(x, p, 1500).protectedBytes).toBe(o.value.length);
        }),
        { numRuns: 60 },
      );
    }
  });
  test('the largest inner packet fits the path MTU and one byte more does not', () => {
    for (const x of mk()) {
      for (const pmtu of [576, 1280, 1400, 1492, 1500]) {
        const s = saSizes(x, 4);
        const m = maxInnerLength(s, pmtu);
        expect(protectedSize(s, m)).toBeLessThanOrEqual(pmtu);
        expect(protectedSize(s, m + 1)).toBeGreaterThan(pmtu);
      }
    }
  });
  test('AES-CBC+HMAC-SHA1-96 in UDP over IPv4 at 1500: known figure', () => {
    // 20 outer + 8 UDP + 8 ESP + 16 IV + pad(16) + 12 ICV; payload+2 rounded down to 16: 1500-64=1436 -> 1424-2 = 1422
    const x = mk()[2];
    expect(maxInnerLength(saSizes(x, 4), 1500)).toBe(1422);
    expect(mssFor(1422, 4)).toBe(1382);
  });
});

describe('pre- and post-fragmentation round trips', () => {
  for (const style of ['pre', 'post'] as const) {
    for (const [fam, pkt] of [['IPv4', big4(3000)], ['IPv6', big6(3000)]] as const) {
      const family6 = fam === 'IPv6';
      test(`${style}-fragmentation, ${fam} inner over IPv4 tunnel, PMTU 1400`, () => {
        // an IPv6 inner packet counts as DF for the 'copy' policy: post-fragmenting it needs DF 'clear'
        const sa = espSa({ encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20, 3), tunnel: { ...DEFAULT_TUNNEL_OPTIONS, df: family6 ? 'clear' : 'copy' } });
        const tx = new EspSa(sa, nodeProvider);
        const rx = new EspSa(sa, nodeProvider);
        const sent = protectForPath(tx, pkt, 1400, style);
        if (style === 'pre' && family6) {
          expect(sent.ok || sent.reason).toBe('mtu-exceeded');
          return;
        }
        if (!sent.ok) throw new Error(sent.detail);
        for (const s of sent.value) expect(s.length).toBeLessThanOrEqual(1400);
        const outer = new Reassembler();
        const inner = new Reassembler();
        const delivered: Buffer[] = [];
        for (const s of sent.value) {
          const whole = outer.add(s, 0);
          if (!whole.ok) throw new Error(whole.detail);
          if (!whole.value) continue;
          const d = rx.input(whole.value);
          if (!d.ok) throw new Error(d.detail);
          const done = inner.add(d.value.packet, 0);
          if (!done.ok) throw new Error(done.detail);
          if (done.value) delivered.push(done.value);
        }
        expect(delivered.map((b) => b.toString('hex'))).toEqual([pkt.toString('hex')]);
      });
    }
  }
  test('post-fragmentation respects an outer DF set by the SA (DF policy "set")', () => {
    const sa = espSa({ encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20), tunnel: { ...DEFAULT_TUNNEL_OPTIONS, df: 'set' } });
    const r = protectForPath(new EspSa(sa, nodeProvider), big4(3000), 1400, 'post');
    expect(r.ok || r.reason).toBe('mtu-exceeded');
  });
});

describe('TCP MSS clamping on tunnel SAs', () => {
  function syn(mss: number): Buffer {
    const tcp = Buffer.alloc(24);
    tcp.writeUInt16BE(40000, 0);
    tcp.writeUInt16BE(80, 2);
    tcp[12] = 6 << 4;
    tcp[13] = 0x02;
    tcp.writeUInt16BE(65535, 14);
    tcp.set([2, 4, mss >> 8, mss & 0xff], 20);
    const src = addr('10.0.0.1');
    const dst = addr('10.0.1.1');
    tcp.writeUInt16BE(internetChecksum(tcp, pseudoHeaderSum(src, dst, 6, tcp.length)), 16);
    const h = encodeIpv4Header({ dscp: 0, ecn: 0, totalLength: 44, identification: 1, flags: 2, fragmentOffset: 0, ttl: 64, protocol: 6, src, dst, options: Buffer.alloc(0) });
    return Buffer.concat([h, tcp]);
  }
  test('a larger MSS is lowered and the checksum stays valid; a smaller one is kept', () => {
    const p = clampMss(syn(1460), 1360);
    expect(p.readUInt16BE(42)).toBe(1360);
    expect(internetChecksum(p.subarray(20), pseudoHeaderSum(p.subarray(12, 16), p.subarray(16, 20), 6, 24))).toBe(0);
    expect(clampMss(syn(1200), 1360).readUInt16BE(42)).toBe(1200);
  });
  test('the tunnel SA clamps SYNs it encapsulates', () => {
    const sa = espSa({ encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20), tunnel: { ...DEFAULT_TUNNEL_OPTIONS, mssClamp: 1300 } });
    const o = new EspSa(sa, nodeProvider).output(syn(1460));
    if (!o.ok) throw new Error(o.detail);
    const d = new EspSa(sa, nodeProvider).input(o.value);
    expect(d.ok && d.value.packet.readUInt16BE(42)).toBe(1300);
  });
});

describe('transport mode and fragments (RFC 4301 §7)', () => {
  test('a transport-mode SA refuses a fragment; a tunnel-mode SA carries it', () => {
    const f = fragmentIpv4(big4(3000), 1000);
    if (!f.ok) throw new Error('frag');
    const t = new EspSa(espSa({ mode: 'transport', src: addr('10.0.0.1'), dst: addr('10.0.1.1'), encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20) }), nodeProvider);
    const r = t.output(f.value[1]);
    expect(r.ok || r.reason).toBe('unsupported');
    const ah = new AhSa({ ...espSa({ mode: 'transport', encr: ENCR.null, encrKey: Buffer.alloc(0) }), proto: 'ah', integ: INTEG.sha1, integKey: Buffer.alloc(20) }, nodeProvider);
    const a = ah.output(f.value[0]);
    expect(a.ok || a.reason).toBe('unsupported');
    const tun = new EspSa(espSa({ encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20) }), nodeProvider);
    expect(tun.output(f.value[1]).ok).toBe(true);
  });
});

describe('IPv6 outer post-fragmentation (RFC 8200 §4.5 at the source)', () => {
  test('fragments carry a Fragment header, are refused unreassembled, and reassemble to a packet ESP accepts', () => {
    const sa = espSa({ src: addr('2001:db8::a'), dst: addr('2001:db8::b'), encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20, 4) });
    const sent = protectForPath(new EspSa(sa, nodeProvider), big6(2500), 1280, 'post');
    if (!sent.ok) throw new Error(sent.detail);
    expect(sent.value.length).toBe(3);
    const rx = new EspSa(sa, nodeProvider);
    const direct = rx.input(sent.value[0]);
    expect(direct.ok || direct.reason).toBe('unsupported');
    const r = new Reassembler();
    const whole = reassembleAll(r, sent.value);
    const d = rx.input(whole[0]);
    expect(d.ok && d.value.packet.toString('hex')).toBe(big6(2500).toString('hex'));
  });
});
