/**
 * Shapes and typed failures of the primitives: every implemented registry row can be
 * instantiated and round-trips; wrong key/IV/data lengths and unimplemented rows give a
 * CryptoError with a code, never a raw OpenSSL exception; prf+ follows RFC 7296 §2.13.
 */
import { randomBytes } from 'node:crypto';
import { createAead } from '../../src/crypto/aead';
import { createCipher } from '../../src/crypto/cipher';
import { CryptoError, type CryptoErrorCode } from '../../src/crypto/errors';
import { createMac } from '../../src/crypto/mac';
import { createPrf, prfPlus } from '../../src/crypto/prf';
import { algorithmById, algorithmsOf, keymatBytes } from '../../src/crypto/registry';

function code(fn: () => unknown): CryptoErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof CryptoError) return err.code;
    throw new Error(`expected CryptoError, got ${String(err)}`);
  }
  throw new Error('expected CryptoError, nothing thrown');
}

describe('every implemented encr row round-trips at every allowed key length', () => {
  const rows = algorithmsOf('encr').filter((r) => r.implemented);
  it.each(rows.map((r) => [r.id, r] as const))('%s', (_id, alg) => {
    for (const bits of alg.keyBits) {
      const key = randomBytes(keymatBytes(alg, bits));
      const iv = randomBytes(alg.ivBytes);
      const pt = randomBytes(Math.max(alg.blockBytes, 4) * 7);
      if (alg.aead) {
        const aead = createAead(alg, key);
        const sealed = aead.seal(iv, Buffer.alloc(8, 1), pt);
        expect(sealed.length).toBe(pt.length + alg.icvBytes);
        expect(aead.open(iv, Buffer.alloc(8, 1), sealed)).toEqual(pt);
        expect(aead.open(iv, Buffer.alloc(8, 2), sealed)).toBeNull();
        expect(aead.open(iv, Buffer.alloc(8, 1), sealed.subarray(0, alg.icvBytes - 1))).toBeNull();
      } else {
        const c = createCipher(alg, key);
        const ct = c.encrypt(iv, pt);
        expect(ct.length).toBe(pt.length);
        expect(c.decrypt(iv, ct)).toEqual(pt);
      }
    }
  });
});

describe('every implemented integ / prf row', () => {
  it.each(algorithmsOf('integ').filter((r) => r.implemented).map((r) => [r.id, r] as const))('%s: ICV length', (_id, alg) => {
    const mac = createMac(alg, randomBytes(alg.keyBytes));
    expect(mac.icvBytes).toBe(alg.icvBytes);
    expect(mac.compute(Buffer.from('a'), Buffer.from('b')).length).toBe(alg.icvBytes);
  });
  it.each(algorithmsOf('prf').filter((r) => r.implemented).map((r) => [r.id, r] as const))('%s: output length, any key length', (_id, alg) => {
    const prf = createPrf(alg);
    for (const kl of [1, 16, 33, 200]) expect(prf.compute(randomBytes(kl), Buffer.from('seed')).length).toBe(alg.outBytes);
  });
});

describe('typed errors', () => {
  it('bad key lengths', () => {
    expect(code(() => createCipher(algorithmById('encr', 'aes-cbc'), Buffer.alloc(15)))).toBe('bad-key-length');
    expect(code(() => createCipher(algorithmById('encr', 'aes-ctr'), Buffer.alloc(16)))).toBe('bad-key-length'); // nonce missing
    expect(code(() => createCipher(algorithmById('encr', 'null'), Buffer.alloc(1)))).toBe('bad-key-length');
    expect(code(() => createAead(algorithmById('encr', 'aes-gcm-16'), Buffer.alloc(16)))).toBe('bad-key-length'); // salt missing
    expect(code(() => createAead(algorithmById('encr', 'aes-ccm-8'), Buffer.alloc(20)))).toBe('bad-key-length'); // CCM salt is 3
    expect(code(() => createMac(algorithmById('integ', 'hmac-sha2-256-128'), Buffer.alloc(16)))).toBe('bad-key-length');
    expect(code(() => createMac(algorithmById('integ', 'aes-xcbc-mac-96'), Buffer.alloc(32)))).toBe('bad-key-length');
  });
  it('bad IV and data lengths', () => {
    const cbc = createCipher(algorithmById('encr', 'aes-cbc'), Buffer.alloc(16));
    expect(code(() => cbc.encrypt(Buffer.alloc(8), Buffer.alloc(16)))).toBe('bad-iv-length');
    expect(code(() => cbc.decrypt(Buffer.alloc(16), Buffer.alloc(17)))).toBe('bad-data-length');
    const gcm = createAead(algorithmById('encr', 'aes-gcm-16'), Buffer.alloc(20));
    expect(code(() => gcm.seal(Buffer.alloc(12), Buffer.alloc(8), Buffer.alloc(4)))).toBe('bad-iv-length');
    expect(code(() => gcm.open(Buffer.alloc(7), Buffer.alloc(8), Buffer.alloc(40)))).toBe('bad-iv-length');
  });
  it('wrong kind of row and unimplemented rows', () => {
    expect(code(() => createCipher(algorithmById('encr', 'aes-gcm-16'), Buffer.alloc(20)))).toBe('wrong-algorithm');
    expect(code(() => createAead(algorithmById('encr', 'aes-cbc'), Buffer.alloc(16)))).toBe('wrong-algorithm');
    for (const alg of algorithmsOf('encr').filter((r) => !r.implemented)) {
      expect(code(() => createCipher(alg, Buffer.alloc(alg.defaultKeyBits / 8)))).toBe('unimplemented');
    }
    for (const alg of algorithmsOf('integ').filter((r) => !r.implemented)) {
      expect(code(() => createMac(alg, Buffer.alloc(alg.keyBytes)))).toBe('unimplemented');
    }
    expect(code(() => createPrf(algorithmById('prf', 'prf-hmac-tiger')))).toBe('unimplemented');
  });
});

describe('prf+ (RFC 7296 §2.13)', () => {
  const prf = createPrf(algorithmById('prf', 'prf-hmac-sha2-256'));
  const key = Buffer.from('key');
  const seed = Buffer.from('Ni | Nr | SPIi | SPIr');
  it('T1 = prf(K, S | 0x01), T2 = prf(K, T1 | S | 0x02), output truncated', () => {
    const t1 = prf.compute(key, Buffer.concat([seed, Buffer.from([1])]));
    const t2 = prf.compute(key, Buffer.concat([t1, seed, Buffer.from([2])]));
    expect(prfPlus(prf, key, seed, 50)).toEqual(Buffer.concat([t1, t2]).subarray(0, 50));
    expect(prfPlus(prf, key, seed, 0).length).toBe(0);
    expect(prfPlus(prf, key, seed, 200).subarray(0, 50)).toEqual(prfPlus(prf, key, seed, 50));
  });
  it('at most 255 blocks', () => {
    expect(prfPlus(prf, key, seed, 255 * 32).length).toBe(255 * 32);
    expect(code(() => prfPlus(prf, key, seed, 255 * 32 + 1))).toBe('output-too-long');
    expect(code(() => prfPlus(prf, key, seed, -1))).toBe('output-too-long');
  });
  it('works with the AES-XCBC PRF (RFC 4434: 16-byte output blocks)', () => {
    const x = createPrf(algorithmById('prf', 'prf-aes128-xcbc'));
    expect(prfPlus(x, Buffer.alloc(32, 7), seed, 40).length).toBe(40);
  });
});

describe('hostile input: open() of random bytes never throws, it returns null (RFC 4303 §3.4.4.1: drop)', () => {
  const aeads = algorithmsOf('encr').filter((r) => r.implemented && r.aead);
  it.each(aeads.map((r) => [r.id, r] as const))('%s', (_id, alg) => {
    const aead = createAead(alg, randomBytes(keymatBytes(alg, alg.defaultKeyBits)));
    for (let i = 0; i < 200; i++) {
      const len = i % 7 === 0 ? i % alg.icvBytes : i * 3;
      expect(aead.open(randomBytes(alg.ivBytes), randomBytes(i % 13), randomBytes(len))).toBeNull();
    }
  });
  it('block-cipher decrypt of random whole blocks returns bytes, never throws', () => {
    for (const alg of algorithmsOf('encr').filter((r) => r.implemented && !r.aead)) {
      const c = createCipher(alg, randomBytes(keymatBytes(alg, alg.defaultKeyBits)));
      for (let i = 0; i < 20; i++) expect(c.decrypt(randomBytes(alg.ivBytes), randomBytes(i * Math.max(alg.blockBytes, 1))).length).toBe(i * Math.max(alg.blockBytes, 1));
    }
  });
});
