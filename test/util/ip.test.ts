import { canonicalIp, formatIp, parseIp, prefixMatch, maskAddress } from '../../src/util/ip';

describe('IP text (RFC 5952 canonical IPv6 text)', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first longest run (§4.2.3)
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single 0 group is not shortened (§4.2.2)
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ])('%s -> %s', (input, out) => {
    expect(canonicalIp(input)).toBe(out);
  });
  it('rejects non-addresses', () => {
    expect(parseIp('host.example')).toBeNull();
    expect(parseIp('256.1.1.1')).toBeNull();
    expect(parseIp('1::2::3')).toBeNull();
  });
  it('round-trips bytes', () => {
    const b = parseIp('2001:db8::abcd')!;
    expect(b.length).toBe(16);
    expect(formatIp(b)).toBe('2001:db8::abcd');
  });
  it('matches prefixes bit by bit', () => {
    expect(prefixMatch(parseIp('10.1.0.0')!, parseIp('10.1.0.77')!, 24)).toBe(true);
    expect(prefixMatch(parseIp('10.1.0.0')!, parseIp('10.1.1.77')!, 24)).toBe(false);
    expect(prefixMatch(parseIp('10.1.0.0')!, parseIp('10.1.1.77')!, 23)).toBe(true);
    expect(formatIp(maskAddress(parseIp('10.1.2.3')!, 20))).toBe('10.1.0.0');
  });
});
