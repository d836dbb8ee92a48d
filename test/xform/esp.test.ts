/** ESP round trips (RFC 4303) in every mode/family, NAT-T framing (RFC 3948), TFC padding, ESN ICV, and typed drops. */
import fc from 'fast-check';
import { EspSa } from '../../src/xform/esp';
import { IPPROTO, getTos, internetChecksum, parseIp, pseudoHeaderSum } from '../../src/xform/ip';
import { ENCR, INTEG, nodeProvider } from './provider';
import { addr, espSa, haoDestOpts, hopByHop, rh2, udp4, udp6 } from './helpers';
import type { EncrAlgRow, XformSa } from '../../src/xform/sa';

const KEY16 = Buffer.alloc(16, 0x11);
const GCMKEY = Buffer.alloc(20, 0x22);
const HKEY = Buffer.alloc(32, 0x33);

const suites = {
  'aes-gcm-128': { encr: ENCR.aesGcm128, encrKey: GCMKEY },
  'aes-cbc-128+hmac-sha256': { encr: ENCR.aesCbc128, encrKey: KEY16, integ: INTEG.sha256, integKey: HKEY },
  'chacha20-poly1305': { encr: ENCR.chacha, encrKey: Buffer.alloc(36, 0x44) },
  'null+hmac-sha1': { encr: ENCR.null, encrKey: Buffer.alloc(0), integ: INTEG.sha1, integKey: Buffer.alloc(20, 5) },
};

function pair(over: Partial<XformSa> & { encr: EncrAlgRow; encrKey: Buffer }): [EspSa, EspSa] {
  return [new EspSa(espSa(over), nodeProvider), new EspSa(espSa(over), nodeProvider)];
}

describe('ESP round trips (RFC 4303 §3.1 transport / tunnel, IPv4 / IPv6)', () => {
  const v4 = udp4('10.0.0.1', '10.0.1.1', Buffer.from('hello over esp'), { tos: (10 << 2) | 2, df: true });
  const v6 = udp6('2001:db8::1', '2001:db8:1::1', Buffer.from('hello over esp6'));
  for (const [name, s] of Object.entries(suites)) {
    for (const mode of ['transport', 'tunnel'] as const) {
      for (const [fam, pkt, src, dst] of [
        ['IPv4', v4, '10.0.0.1', '10.0.1.1'],
        ['IPv6', v6, '2001:db8::1', '2001:db8:1::1'],
      ] as const) {
        test(`${name} ${mode} ${fam}: decrypts to the original packet`, () => {
          const [tx, rx] = pair({ ...s, mode, src: addr(src), dst: addr(dst) });
          const out = tx.output(pkt);
          expect(out.ok).toBe(true);
          if (!out.ok) return;
          const outer = parseIp(out.value);
          expect(outer.ok && outer.value.protocol).toBe(IPPROTO.ESP);
          if (fam === 'IPv4') expect(internetChecksum(out.value.subarray(0, 20))).toBe(0);
          const back = rx.input(out.value);
          expect(back.ok && back.value.packet.toString('hex')).toBe(pkt.toString('hex'));
          expect(tx.counters.outPackets).toBe(1);
          expect(rx.counters.inPackets).toBe(1);
        });
      }
    }
  }

  test('tunnel: outer header takes the SA endpoints, DSCP/ECN per SA, DF copied', () => {
    const [tx] = pair({ ...suites['aes-gcm-128'], src: addr('192.0.2.1'), dst: addr('192.0.2.2') });
    const out = tx.output(v4);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    const o = parseIp(out.value);
    if (!o.ok || o.value.family !== 4) throw new Error('outer');
    expect(o.value.header.src).toEqual(addr('192.0.2.1'));
    expect(getTos(out.value)).toBe((10 << 2) | 2);
    expect(o.value.header.flags & 2).toBe(2);
  });

  test('IPv6 transport: ESP goes after hop-by-hop, routing and the Home Address destination options (RFC 4303 §3.1.1, RFC 6275 §6.3)', () => {
    const p = udp6('2001:db8::1', '2001:db8:1::1', Buffer.from('x'), [hopByHop(0x05), haoDestOpts('2001:db8:99::1'), rh2('2001:db8:1::99')]);
    const [tx, rx] = pair({ ...suites['aes-gcm-128'], mode: 'transport', src: addr('2001:db8::1'), dst: addr('2001:db8:1::1') });
    const out = tx.output(p);
    if (!out.ok) throw new Error(out.detail);
    const q = parseIp(out.value);
    if (!q.ok || q.value.family !== 6) throw new Error('parse');
    expect(q.value.extHeaders.map((e) => e.type)).toEqual([IPPROTO.HOPOPTS, IPPROTO.DSTOPTS, IPPROTO.ROUTING]);
    expect(q.value.protocol).toBe(IPPROTO.ESP);
    const back = rx.input(out.value);
    expect(back.ok && back.value.packet.toString('hex')).toBe(p.toString('hex'));
  });

  test('ESN with HMAC: the high 32 bits are in the ICV but not on the wire (RFC 4303 §2.2.1)', () => {
    const s = { ...suites['aes-cbc-128+hmac-sha256'], esn: true };
    const tx = new EspSa(espSa(s), nodeProvider);
    const rx = new EspSa(espSa(s), nodeProvider);
    const seq = { hi: 7, lo: 3 };
    const out = tx.output(v4, { seq });
    if (!out.ok) throw new Error(out.detail);
    expect(out.value.readUInt32BE(24)).toBe(3);
    rx.replay.setTop({ hi: 7, lo: 1 });
    expect(rx.input(out.value).ok).toBe(true);
    // a receiver that infers another high half computes another ICV
    const other = new EspSa(espSa(s), nodeProvider);
    other.replay.setTop({ hi: 6, lo: 1 });
    const r = other.input(out.value);
    expect(r.ok || r.reason).toBe('icv-mismatch');
  });

  test('TFC padding (RFC 4303 §2.7) is added on output and removed by the inner length on input', () => {
    const [tx, rx] = pair(suites['aes-gcm-128']);
    const plain = tx.output(v4);
    const padded = tx.output(v4, { tfcPadding: 300 });
    if (!plain.ok || !padded.ok) throw new Error('output');
    expect(padded.value.length - plain.value.length).toBe(300);
    const back = rx.input(padded.value);
    expect(back.ok && back.value.packet.toString('hex')).toBe(v4.toString('hex'));
  });

  test('padding modes: zero and random padding are not rejected when the SA does not check', () => {
    for (const padding of ['zero', 'random'] as const) {
      const s = { ...suites['aes-cbc-128+hmac-sha256'], padding, checkPadding: false };
      const [tx, rx] = pair(s);
      const out = tx.output(v4);
      if (!out.ok) throw new Error(out.detail);
      expect(rx.input(out.value).ok).toBe(true);
    }
  });

  test('dummy packets (next header 59, RFC 4303 §2.6) are dropped and counted', () => {
    const [tx, rx] = pair(suites['aes-gcm-128']);
    const esp = tx.seal(Buffer.alloc(40), IPPROTO.NONE);
    if (!esp.ok) throw new Error('seal');
    const outer = udp4('192.0.2.1', '192.0.2.2', Buffer.alloc(0));
    const pkt = Buffer.concat([outer.subarray(0, 20), esp.value]);
    pkt.writeUInt16BE(pkt.length, 2);
    pkt[9] = IPPROTO.ESP;
    pkt.writeUInt16BE(0, 10);
    pkt.writeUInt16BE(internetChecksum(pkt.subarray(0, 20)), 10);
    const r = rx.input(pkt);
    expect(r.ok || r.reason).toBe('dummy-packet');
    expect(rx.counters.drops['dummy-packet']).toBe(1);
  });

  test('tunnel decapsulation drops outer CE over inner Not-ECT (RFC 6040 §4.2) and marks CE into ECT inner', () => {
    const [tx, rx] = pair(suites['aes-gcm-128']);
    for (const [innerEcn, expectDrop] of [[0, true], [2, false]] as const) {
      const p = udp4('10.0.0.1', '10.0.1.1', Buffer.from('e'), { tos: innerEcn });
      const out = tx.output(p);
      if (!out.ok) throw new Error(out.detail);
      out.value[1] |= 3; // a router marks CE on the outer header
      out.value.writeUInt16BE(0, 10);
      out.value.writeUInt16BE(internetChecksum(out.value.subarray(0, 20)), 10);
      const r = rx.input(out.value);
      if (expectDrop) expect(r.ok || r.reason).toBe('ecn-drop');
      else expect(r.ok && getTos(r.value.packet) & 3).toBe(3);
    }
  });
});

describe('ESP in UDP (RFC 3948)', () => {
  test('output is UDP 4500 with a zero checksum over IPv4; input strips it', () => {
    const natt = { sport: 4500, dport: 4500 };
    const s = { ...suites['aes-gcm-128'], natt };
    const [tx, rx] = pair(s);
    const p = udp4('10.0.0.1', '10.0.1.1', Buffer.from('nat'));
    const out = tx.output(p);
    if (!out.ok) throw new Error(out.detail);
    const q = parseIp(out.value);
    if (!q.ok) throw new Error('parse');
    expect(q.value.protocol).toBe(IPPROTO.UDP);
    expect(out.value.readUInt16BE(20)).toBe(4500);
    expect(out.value.readUInt16BE(26)).toBe(0);
    const back = rx.input(out.value);
    expect(back.ok && back.value.packet.toString('hex')).toBe(p.toString('hex'));
  });

  test('transport mode: the TCP/UDP checksum is fixed up from the NAT-OA addresses (RFC 3948 §3.1.2)', () => {
    // the sender (behind a NAT at 10.0.0.1) computed its UDP checksum with its own address
    const sent = udp4('10.0.0.1', '198.51.100.7', Buffer.from('checksum me'));
    const s = { ...suites['aes-gcm-128'], mode: 'transport' as const, natt: { sport: 4500, dport: 4500, originalSrc: addr('10.0.0.1') } };
    const tx = new EspSa(espSa(s), nodeProvider);
    const rx = new EspSa(espSa(s), nodeProvider);
    const out = tx.output(sent);
    if (!out.ok) throw new Error(out.detail);
    // the NAT rewrites the outer source address to its public one
    addr('203.0.113.9').copy(out.value, 12);
    out.value.writeUInt16BE(0, 10);
    out.value.writeUInt16BE(internetChecksum(out.value.subarray(0, 20)), 10);
    const back = rx.input(out.value);
    if (!back.ok) throw new Error(back.detail);
    const q = parseIp(back.value.packet);
    if (!q.ok) throw new Error('parse');
    expect(q.value.header.src).toEqual(addr('203.0.113.9'));
    // the checksum now verifies against the header the receiver has
    const seg = back.value.packet.subarray(20);
    expect(internetChecksum(seg, pseudoHeaderSum(q.value.header.src, q.value.header.dst, 17, seg.length))).toBe(0);
  });
});

describe('bad packets are dropped with a typed reason, counted, never thrown', () => {
  const s = suites['aes-cbc-128+hmac-sha256'];
  const tx = new EspSa(espSa(s), nodeProvider);
  const good = tx.output(udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(64, 7)));
  if (!good.ok) throw new Error('setup');
  const pkt = good.value;

  test('wrong SPI', () => {
    const rx = new EspSa(espSa({ ...s, spi: 0x2000 }), nodeProvider);
    const r = rx.input(pkt);
    expect(r.ok || r.reason).toBe('no-sa');
    expect(rx.counters.drops['no-sa']).toBe(1);
  });
  test('truncated at every length', () => {
    const rx = new EspSa(espSa(s), nodeProvider);
    for (let n = 0; n < pkt.length; n++) {
      const cut = Buffer.from(pkt.subarray(0, n));
      const r = rx.input(cut);
      expect(r.ok).toBe(false);
    }
    expect(rx.counters.inPackets).toBe(0);
  });
  test('a corrupted byte anywhere after the outer header fails (ICV before decryption)', () => {
    const rx = new EspSa(espSa(s), nodeProvider);
    for (let i = 20; i < pkt.length; i++) {
      const bad = Buffer.from(pkt);
      bad[i] ^= 0x80;
      const r = rx.input(bad);
      expect(r.ok).toBe(false);
    }
    expect(rx.counters.drops['icv-mismatch'] + rx.counters.drops['no-sa'] + rx.counters.drops['replay-too-old'] + rx.counters.drops.replay).toBe(pkt.length - 20);
    expect(rx.input(pkt).ok).toBe(true); // the window was not moved by the failures
  });
  test('replayed', () => {
    const rx = new EspSa(espSa(s), nodeProvider);
    expect(rx.input(pkt).ok).toBe(true);
    const r = rx.input(pkt);
    expect(r.ok || r.reason).toBe('replay');
  });
  test('fuzz: arbitrary mutations and garbage never throw (fast-check)', () => {
    for (const suite of Object.values(suites)) {
      const t = new EspSa(espSa(suite), nodeProvider);
      const rx = new EspSa(espSa(suite), nodeProvider);
      const o = t.output(udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(30, 1)));
      if (!o.ok) throw new Error('setup');
      const base = o.value;
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), fc.nat(base.length), (flips, cut) => {
          const m = Buffer.from(base.subarray(0, Math.max(cut, 1)));
          for (const [i, x] of flips) if (i < m.length) m[i] ^= x;
          const r = rx.input(m);
          if (!r.ok) expect(typeof r.reason).toBe('string');
        }),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const r = rx.input(Buffer.from(bytes));
          expect(r.ok).toBe(false);
        }),
        { numRuns: 300 },
      );
    }
  });
});
