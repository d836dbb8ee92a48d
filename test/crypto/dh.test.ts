import { checkPrimeSync, randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { p384 } from '@noble/curves/p384';
import { p521 } from '@noble/curves/p521';
import { createDh, DhError, dhPrivateKeyBytes, modpPrime } from '../../src/crypto/dh';
import { algorithmById, algorithmsOf } from '../../src/crypto/registry';

/** pi * 2^bits, floor, by Machin's formula (pi = 16 atan(1/5) - 4 atan(1/239)) in fixed point. */
function piScaled(bits: number): bigint {
  const guard = 64n;
  const one = 1n << (BigInt(bits) + guard);
  const atanInv = (x: bigint): bigint => {
    let sum = 0n;
    let term = one / x;
    const x2 = x * x;
    for (let k = 0n; term !== 0n; k++) {
      const t = term / (2n * k + 1n);
      sum += k % 2n === 0n ? t : -t;
      term /= x2;
    }
    return sum;
  };
  return (16n * atanInv(5n) - 4n * atanInv(239n)) >> guard;
}

describe('MODP primes (RFC 2409 §6.1/6.2, RFC 3526 §2-§7): p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k)', () => {
  const pi = piScaled(8192 - 130);
  // n and the k printed next to each prime in the RFCs
  const groups: [string, number, bigint][] = [
    ['modp768', 768, 149686n],
    ['modp1024', 1024, 129093n],
    ['modp1536', 1536, 741804n],
    ['modp2048', 2048, 124476n],
    ['modp3072', 3072, 1690314n],
    ['modp4096', 4096, 240904n],
    ['modp6144', 6144, 929484n],
    ['modp8192', 8192, 4743158n],
  ];
  it.each(groups)('%s (n = %d, k = %d)', (id, n, k) => {
    const group = algorithmById('dh', id);
    const p = BigInt(`0x${modpPrime(group).toString('hex')}`);
    const N = BigInt(n);
    const piPart = pi >> (8192n - N); // floor(2^(n-130) pi)
    const expected = (1n << N) - (1n << (N - 64n)) - 1n + (1n << 64n) * (piPart + k);
    expect(p).toBe(expected);
    expect(modpPrime(group).length).toBe(group.keBytes);
  });
  it.each(groups.slice(0, 3))('%s is a safe prime (p and (p-1)/2 prime)', (id) => {
    const p = BigInt(`0x${modpPrime(algorithmById('dh', id)).toString('hex')}`);
    expect(checkPrimeSync(p, { checks: 2 })).toBe(true);
    expect(checkPrimeSync((p - 1n) / 2n, { checks: 2 })).toBe(true);
  });
});

describe('every implemented group: two parties agree, KE data has the registry length', () => {
  const groups = algorithmsOf('dh').filter((g) => g.implemented && g.bits <= 2048);
  it.each(groups.map((g) => [g.id, g] as const))('%s', (_id, g) => {
    const a = createDh(g);
    const b = createDh(g);
    expect(a.publicValue.length).toBe(g.keBytes);
    const s1 = a.computeShared(b.publicValue);
    expect(s1.length).toBe(g.sharedBytes);
    expect(s1).toEqual(b.computeShared(a.publicValue));
  });
  it('MODP public value is zero-padded to the prime length (RFC 7296 §3.4)', () => {
    // x = 2 gives y = g^2 = 4: one significant byte, padded to 256
    const dh = createDh(algorithmById('dh', 'modp2048'), Buffer.from([2]));
    expect(dh.publicValue.length).toBe(256);
    expect(dh.publicValue[255]).toBe(4);
    expect(dh.publicValue.subarray(0, 255).every((b) => b === 0)).toBe(true);
  });
});

function dhError(fn: () => unknown): DhError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DhError) return err;
    throw new Error(`expected DhError, got ${String(err)}`);
  }
  throw new Error('expected DhError, nothing thrown');
}

describe('RFC 6989 §2.1: MODP peer values 0, 1, p-1, p and above are rejected', () => {
  const g = algorithmById('dh', 'modp2048');
  const p = BigInt(`0x${modpPrime(g).toString('hex')}`);
  const enc = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(512, '0'), 'hex');
  it.each([
    ['0', 0n],
    ['1', 1n],
    ['p-1', p - 1n],
    ['p', p],
    ['2^2048-1', (1n << 2048n) - 1n],
  ])('y = %s', (_n, y) => {
    const dh = createDh(g);
    expect(dhError(() => dh.computeShared(enc(y))).code).toBe('invalid-public-value');
  });
  it('y = 2 and y = p-2 are accepted', () => {
    const dh = createDh(g);
    expect(dh.computeShared(enc(2n)).length).toBe(256);
    expect(dh.computeShared(enc(p - 2n)).length).toBe(256);
  });
});

describe('RFC 6989 §2.3 / RFC 5903 §7: ECP peer value must be a curve point of exactly x||y length', () => {
  it.each(['ecp256', 'ecp384', 'ecp521'])('%s', (id) => {
    const g = algorithmById('dh', id);
    const dh = createDh(g);
    const peer = createDh(g).publicValue;
    const off = Buffer.from(peer);
    off[off.length - 1]! ^= 1; // y changed: not on the curve
    expect(dhError(() => dh.computeShared(off)).code).toBe('invalid-public-value');
    expect(dhError(() => dh.computeShared(Buffer.alloc(g.keBytes))).code).toBe('invalid-public-value');
    // the SEC 1 form (0x04 || x || y) is one byte too long for IKE
    expect(dhError(() => dh.computeShared(Buffer.concat([Buffer.from([4]), peer]))).code).toBe('bad-length');
    expect(dhError(() => dh.computeShared(peer.subarray(1))).code).toBe('bad-length');
  });
});

describe('RFC 8031 §2 / RFC 7748 §6: all-zero Curve25519/Curve448 shared secrets are rejected', () => {
  // u = 0 and u = 1 are small-order points: X25519/X448 output is all zero
  it.each([
    ['curve25519', 'u = 0', Buffer.alloc(32)],
    ['curve25519', 'u = 1', Buffer.concat([Buffer.from([1]), Buffer.alloc(31)])],
    ['curve448', 'u = 0', Buffer.alloc(56)],
    ['curve448', 'u = 1', Buffer.concat([Buffer.from([1]), Buffer.alloc(55)])],
  ])('%s %s', (id, _n, u) => {
    const dh = createDh(algorithmById('dh', id));
    expect(dhError(() => dh.computeShared(u)).code).toBe('all-zero-shared');
  });
  it('wrong KE length is bad-length', () => {
    const dh = createDh(algorithmById('dh', 'curve25519'));
    expect(dhError(() => dh.computeShared(Buffer.alloc(31, 9))).code).toBe('bad-length');
    expect(dhError(() => createDh(algorithmById('dh', 'curve448'), Buffer.alloc(32, 1))).code).toBe('bad-length');
  });
});

describe('unimplemented groups fail with a typed error', () => {
  it.each(algorithmsOf('dh').filter((g) => !g.implemented).map((g) => [g.id, g] as const))('%s', (_id, g) => {
    expect(dhError(() => createDh(g)).code).toBe('unsupported-group');
  });
});

describe('dhPrivateKeyBytes: engines that inject randomness hand createDh exactly that many bytes', () => {
  it.each(algorithmsOf('dh').filter((g) => g.implemented && g.bits <= 2048).map((g) => [g.id, g] as const))('%s', (_id, g) => {
    const n = dhPrivateKeyBytes(g);
    for (const fill of [0x00, 0xff, 0x5a]) {
      const a = createDh(g, Buffer.alloc(n, fill));
      const b = createDh(g, randomBytes(n));
      expect(a.computeShared(b.publicValue)).toEqual(b.computeShared(a.publicValue));
      // deterministic: the same bytes give the same public value
      expect(createDh(g, Buffer.alloc(n, fill)).publicValue).toEqual(a.publicValue);
    }
  });
  it('ECP group orders agree with @noble/curves', () => {
    // field size + 8 bytes of 0xff reduce to a valid scalar; all-zero bytes give d = 1 (the generator)
    const g = algorithmById('dh', 'ecp256');
    const one = createDh(g, Buffer.alloc(dhPrivateKeyBytes(g), 0));
    expect(one.publicValue.toString('hex')).toBe(Buffer.from(p256.ProjectivePoint.BASE.toRawBytes(false)).subarray(1).toString('hex'));
    expect(p256.CURVE.n).toBe(0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n);
    expect(p384.CURVE.n.toString(16)).toBe('ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973');
    expect(p521.CURVE.n.toString(16)).toBe(
      '1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409',
    );
  });
  it('other ECP private key lengths are bad-length', () => {
    expect(dhError(() => createDh(algorithmById('dh', 'ecp384'), Buffer.alloc(50, 1))).code).toBe('bad-length');
  });
});
