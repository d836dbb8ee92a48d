/**
 * The libcrypto fast path (EVP_CIPHER_CTX reuse + batch shim) must be indistinguishable from
 * the node:crypto path: same bytes out for RFC 4106 GCM 8/12/16 and RFC 7634 ChaCha20-Poly1305,
 * same null on a bad ICV, and a clean fallback when it cannot be set up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createAead, createNodeAead } from '../../src/crypto/aead';
import { createCipher, createNodeCipher } from '../../src/crypto/cipher';
import { createMac, createNodeMac } from '../../src/crypto/mac';
import { createBatchAead, disableFastAead, enableFastAead, fastAeadStatus } from '../../src/crypto/openssl-aead';
import { algorithmById, algorithmsOf, keymatBytes } from '../../src/crypto/registry';

const B = (u: Uint8Array): Buffer => Buffer.from(u);
const ids = ['aes-gcm-8', 'aes-gcm-12', 'aes-gcm-16', 'chacha20-poly1305'];

describe('fast AEAD enabled (cc + libcrypto.so.3 present on this machine)', () => {
  beforeAll(() => {
    expect(enableFastAead()).toEqual({ enabled: true, reason: expect.stringContaining('libcrypto') });
  });
  afterAll(() => disableFastAead());

  it.each(ids)('%s: createAead uses it and matches node:crypto on random packets', (id) => {
    const alg = algorithmById('encr', id);
    fc.assert(
      fc.property(
        fc.constantFrom(...alg.keyBits),
        fc.uint8Array({ minLength: 36, maxLength: 36 }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.uint8Array({ minLength: 0, maxLength: 60 }),
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        (bits, km, iv, aad, pt) => {
          const key = B(km.subarray(0, keymatBytes(alg, bits)));
          const fast = createBatchAead(alg, key);
          expect(fast.backend).toBe('openssl-ffi');
          const slow = createNodeAead(alg, key);
          const sealed = fast.seal(B(iv), B(aad), B(pt));
          expect(sealed.toString('hex')).toBe(slow.seal(B(iv), B(aad), B(pt)).toString('hex'));
          expect(fast.open(B(iv), B(aad), sealed)).toEqual(B(pt));
          const bad = Buffer.from(sealed);
          bad[bad.length - 1]! ^= 1;
          expect(fast.open(B(iv), B(aad), bad)).toBeNull();
          expect(createAead(alg, key).seal(B(iv), B(aad), B(pt))).toEqual(sealed);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('batches: mixed sizes, one tampered packet, one too large for the arena, one shorter than the ICV', () => {
    const alg = algorithmById('encr', 'aes-gcm-16');
    const key = Buffer.alloc(20, 3);
    const fast = createBatchAead(alg, key);
    const slow = createNodeAead(alg, key);
    const sizes = [0, 1, 15, 16, 17, 64, 512, 1400, 9000, 200000, ...Array.from({ length: 100 }, (_, i) => (i * 37) % 1500)];
    const items = sizes.map((n, i) => ({ iv: Buffer.alloc(8, i), aad: Buffer.alloc(8, 0x40 + (i % 7)), data: Buffer.alloc(n, i) }));
    const sealed = fast.sealBatch(items);
    sealed.forEach((s, i) => expect(s.equals(slow.seal(items[i]!.iv, items[i]!.aad, items[i]!.data))).toBe(true));
    const openItems = sealed.map((s, i) => ({ iv: items[i]!.iv, aad: items[i]!.aad, data: Buffer.from(s) }));
    openItems[3]!.data[0]! ^= 0x80;
    openItems.push({ iv: Buffer.alloc(8), aad: Buffer.alloc(8), data: Buffer.alloc(10) });
    const opened = fast.openBatch(openItems);
    expect(opened).toHaveLength(openItems.length);
    opened.forEach((o, i) => {
      if (i === 3 || i === openItems.length - 1) expect(o).toBeNull();
      else expect(o !== null && o.equals(items[i]!.data)).toBe(true);
    });
  });

  it('AAD longer than the arena slot (IKEv2 header + SK header is 32 B; 100 B here) falls back transparently', () => {
    const alg = algorithmById('encr', 'chacha20-poly1305');
    const key = Buffer.alloc(36, 9);
    const aad = Buffer.alloc(100, 1);
    const sealed = createAead(alg, key).seal(Buffer.alloc(8), aad, Buffer.from('payload'));
    expect(sealed).toEqual(createNodeAead(alg, key).seal(Buffer.alloc(8), aad, Buffer.from('payload')));
  });

  it.each(['aes-cbc', 'aes-ctr', 'camellia-cbc', '3des-cbc', 'des-cbc'])('%s: createCipher (reused EVP context) matches node:crypto', (id) => {
    const alg = algorithmById('encr', id);
    fc.assert(
      fc.property(fc.constantFrom(...alg.keyBits), fc.uint8Array({ minLength: 36, maxLength: 36 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 100 }), (bits, km, ivm, blocks) => {
        const key = B(km.subarray(0, keymatBytes(alg, bits)));
        const iv = B(ivm.subarray(0, alg.ivBytes));
        const data = Buffer.alloc(alg.mode === 'ctr' ? blocks * 7 : blocks * alg.blockBytes, blocks);
        const fast = createCipher(alg, key);
        const slow = createNodeCipher(alg, key);
        const ct = fast.encrypt(iv, data);
        expect(ct.toString('hex')).toBe(slow.encrypt(iv, data).toString('hex'));
        expect(fast.decrypt(iv, ct)).toEqual(data);
      }),
      { numRuns: 15 },
    );
  });

  it('createMac (reused HMAC context) matches node:crypto for every HMAC row, over several parts', () => {
    for (const alg of algorithmsOf('integ').filter((r) => r.implemented && r.mode === 'hmac')) {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 4 }), (km, parts) => {
          const key = B(km.subarray(0, alg.keyBytes));
          const bufs = parts.map(B);
          expect(createMac(alg, key).compute(...bufs).toString('hex')).toBe(createNodeMac(alg, key).compute(...bufs).toString('hex'));
        }),
        { numRuns: 15 },
      );
    }
  });

  it('inputs larger than the arena fall back to node:crypto with the same result', () => {
    const big = Buffer.alloc(300000, 7);
    const cbc = algorithmById('encr', 'aes-cbc');
    const fastCt = createCipher(cbc, Buffer.alloc(16, 1)).encrypt(Buffer.alloc(16), big);
    expect(fastCt.equals(createNodeCipher(cbc, Buffer.alloc(16, 1)).encrypt(Buffer.alloc(16), big))).toBe(true);
    const sha = algorithmById('integ', 'hmac-sha2-256-128');
    expect(createMac(sha, Buffer.alloc(32, 2)).compute(big, big).equals(createNodeMac(sha, Buffer.alloc(32, 2)).compute(big, big))).toBe(true);
  });

  it('CCM and GMAC are not taken by the fast path', () => {
    for (const id of ['aes-ccm-16', 'null-aes-gmac']) {
      const alg = algorithmById('encr', id);
      expect(createBatchAead(alg, Buffer.alloc(keymatBytes(alg, 128))).backend).toBe('node');
    }
  });
});

describe('fast AEAD unavailable', () => {
  const saved = { cc: process.env['CC'], dir: process.env['TANUKI_NATIVE_DIR'] };
  let dir = '';
  beforeAll(() => {
    disableFastAead();
    dir = mkdtempSync(join(tmpdir(), 'tanuki-native-test-'));
    process.env['TANUKI_NATIVE_DIR'] = dir;
    process.env['CC'] = join(dir, 'no-such-compiler');
  });
  afterAll(() => {
    if (saved.cc === undefined) delete process.env['CC'];
    else process.env['CC'] = saved.cc;
    if (saved.dir === undefined) delete process.env['TANUKI_NATIVE_DIR'];
    else process.env['TANUKI_NATIVE_DIR'] = saved.dir;
    rmSync(dir, { recursive: true, force: true });
    disableFastAead();
  });
  it('enableFastAead reports why and createAead keeps working on node:crypto', () => {
    const st = enableFastAead();
    expect(st.enabled).toBe(false);
    expect(st.reason).toMatch(/fast AEAD unavailable/);
    expect(fastAeadStatus()).toEqual(st);
    const alg = algorithmById('encr', 'aes-gcm-16');
    expect(createBatchAead(alg, Buffer.alloc(20)).backend).toBe('node');
    const a = createAead(alg, Buffer.alloc(20));
    expect(a.open(Buffer.alloc(8), Buffer.alloc(8), a.seal(Buffer.alloc(8), Buffer.alloc(8), Buffer.from('x')))).toEqual(Buffer.from('x'));
  });
});
