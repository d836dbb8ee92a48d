/** IPv4/IPv6 header tables, extension header walking (RFC 8200 §4) and checksums (RFC 1071). */
import fc from 'fast-check';
import {
  IPPROTO, decodeIpv4Header, encodeIpv4Header, internetChecksum, ipv6IpsecInsertionPoint, parseIp, parseIpv6, setTos, getTos,
} from '../../src/xform/ip';
import { addr, haoDestOpts, hopByHop, rh2, udp4, udp6 } from './helpers';

describe('IPv4 header table', () => {
  test('encode/decode round trip with checksum (RFC 791 §3.1, RFC 1071)', () => {
    fc.assert(
      fc.property(fc.nat(63), fc.nat(3), fc.nat(0xffff), fc.nat(7), fc.nat(0x1fff), fc.nat(255), fc.nat(255), (dscp, ecn, id, flags, off, ttl, proto) => {
        const h = { dscp, ecn, totalLength: 20, identification: id, flags, fragmentOffset: off, ttl, protocol: proto, src: addr('1.2.3.4'), dst: addr('5.6.7.8'), options: Buffer.alloc(0) };
        const b = encodeIpv4Header(h);
        expect(internetChecksum(b)).toBe(0);
        const d = decodeIpv4Header(b);
        expect(d.ok && { ...d.value, checksum: 0 }).toEqual({ ...h, version: 4, ihl: 5, checksum: 0 });
      }),
    );
  });
  test('typed errors with offsets', () => {
    const p = udp4('10.0.0.1', '10.0.0.2', Buffer.alloc(8));
    expect(parseIp(p.subarray(0, 10))).toMatchObject({ ok: false, reason: 'truncated' });
    const badLen = Buffer.from(p);
    badLen.writeUInt16BE(500, 2);
    expect(parseIp(badLen)).toMatchObject({ ok: false, reason: 'truncated', offset: 2 });
    const badSum = Buffer.from(p);
    badSum[8] ^= 1;
    expect(parseIp(badSum)).toMatchObject({ ok: false, reason: 'bad-ip-header', offset: 10 });
    const ihl = Buffer.from(p);
    ihl[0] = 0x44;
    expect(parseIp(ihl)).toMatchObject({ ok: false, reason: 'bad-ip-header', offset: 0 });
    expect(parseIp(Buffer.from([0x75]))).toMatchObject({ ok: false, reason: 'bad-ip-header' });
    expect(parseIp(Buffer.alloc(0))).toMatchObject({ ok: false, reason: 'truncated' });
  });
  test('setTos keeps the checksum valid', () => {
    const p = udp4('10.0.0.1', '10.0.0.2', Buffer.alloc(8));
    setTos(p, 0xb9);
    expect(getTos(p)).toBe(0xb9);
    expect(internetChecksum(p.subarray(0, 20))).toBe(0);
  });
});

describe('IPv6 extension header chain (RFC 8200 §4)', () => {
  test('walks hop-by-hop, destination options, routing, fragment up to the upper layer', () => {
    const p = udp6('2001:db8::1', '2001:db8::2', Buffer.alloc(4), [hopByHop(0x05), haoDestOpts('2001:db8::99'), rh2('2001:db8::98')]);
    const r = parseIpv6(p);
    if (!r.ok) throw new Error(r.detail);
    expect(r.value.extHeaders.map((e) => [e.type, e.offset, e.length])).toEqual([[0, 40, 8], [60, 48, 24], [43, 72, 24]]);
    expect(r.value.protocol).toBe(IPPROTO.UDP);
    expect(r.value.payloadOffset).toBe(96);
  });
  test('hop-by-hop not first is an error; a header running past the packet is truncated', () => {
    const p = udp6('2001:db8::1', '2001:db8::2', Buffer.alloc(4), [rh2('2001:db8::98'), hopByHop(0x05)]);
    expect(parseIpv6(p)).toMatchObject({ ok: false, reason: 'bad-ext-header', offset: 64 });
    const q = udp6('2001:db8::1', '2001:db8::2', Buffer.alloc(0), [rh2('2001:db8::98')]);
    q[41] = 9;
    expect(parseIpv6(q)).toMatchObject({ ok: false, reason: 'truncated', offset: 40 });
  });
  test('AH/ESP insertion point: a destination options header without HAO and with no routing header after it is protected', () => {
    const plainDst = { type: IPPROTO.DSTOPTS, body: Buffer.from([0, 0, 1, 4, 0, 0, 0, 0]) };
    const p = udp6('2001:db8::1', '2001:db8::2', Buffer.alloc(4), [hopByHop(0x05), rh2('2001:db8::98'), plainDst]);
    const r = parseIpv6(p);
    if (!r.ok) throw new Error(r.detail);
    expect(ipv6IpsecInsertionPoint(p, r.value)).toEqual({ offset: 72, nextHeaderFieldOffset: 48, nextHeader: IPPROTO.DSTOPTS });
    const q = udp6('2001:db8::1', '2001:db8::2', Buffer.alloc(4), [plainDst, rh2('2001:db8::98')]);
    const s = parseIpv6(q);
    if (!s.ok) throw new Error(s.detail);
    expect(ipv6IpsecInsertionPoint(q, s.value).offset).toBe(72);
  });
  test('fuzz: arbitrary bytes never throw from parseIp', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0x45, 0x60), (bytes, first) => {
        const b = Buffer.from(bytes);
        if (b.length) b[0] = first;
        const r = parseIp(b);
        if (!r.ok) expect(typeof r.reason).toBe('string');
      }),
      { numRuns: 1000 },
    );
  });
});
