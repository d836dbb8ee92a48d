/**
 * The node:crypto (OpenSSL) path against independent implementations on random inputs:
 * @noble/ciphers (AES-GCM, ChaCha20-Poly1305, AES-CBC, AES-CTR), @noble/hashes (HMAC-MD5/SHA1/SHA2),
 * @noble/curves (X25519, X448, P-256/384/521 ECDH) and node-forge (single DES-CBC).
 */
import fc from 'fast-check';
import forge from 'node-forge';
import { cbc, ctr, gcm } from '@noble/ciphers/aes';
import { chacha20poly1305 } from '@noble/ciphers/chacha';
import { hmac } from '@noble/hashes/hmac';
import { md5, sha1 } from '@noble/hashes/legacy';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2';
import { x25519 } from '@noble/curves/ed25519';
import { x448 } from '@noble/curves/ed448';
import { p256 } from '@noble/curves/p256';
import { p384 } from '@noble/curves/p384';
import { p521 } from '@noble/curves/p521';
import { createAead } from '../../src/crypto/aead';
import { createCipher } from '../../src/crypto/cipher';
import { createDh } from '../../src/crypto/dh';
import { createMac } from '../../src/crypto/mac';
import { createPrf } from '../../src/crypto/prf';
import { algorithmById } from '../../src/crypto/registry';

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const B = (u: Uint8Array): Buffer => Buffer.from(u);
const RUNS = { numRuns: 60 };

describe('AES-GCM-16 (RFC 4106) vs @noble/ciphers gcm', () => {
  it('seal = noble encrypt(salt||iv), open inverts it', () => {
    fc.assert(
      fc.property(fc.constantFrom(16, 24, 32), bytes(36, 36), bytes(8, 8), bytes(8, 12), bytes(0, 1500), (kl, km, iv, aad, pt) => {
        const key = B(km.subarray(0, kl + 4));
        const ours = createAead(algorithmById('encr', 'aes-gcm-16'), key).seal(B(iv), B(aad), B(pt));
        const nonce = Buffer.concat([key.subarray(kl), B(iv)]);
        const theirs = gcm(key.subarray(0, kl), nonce, aad).encrypt(pt);
        expect(ours.toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
      }),
      RUNS,
    );
  });
});

describe('ChaCha20-Poly1305 (RFC 7634) vs @noble/ciphers chacha20poly1305', () => {
  it('seal = noble encrypt(salt||iv)', () => {
    fc.assert(
      fc.property(bytes(36, 36), bytes(8, 8), bytes(8, 12), bytes(0, 1500), (key, iv, aad, pt) => {
        const ours = createAead(algorithmById('encr', 'chacha20-poly1305'), B(key)).seal(B(iv), B(aad), B(pt));
        const theirs = chacha20poly1305(key.subarray(0, 32), Buffer.concat([B(key.subarray(32)), B(iv)]), aad).encrypt(pt);
        expect(ours.toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
      }),
      RUNS,
    );
  });
});

describe('AES-CBC (RFC 3602) and AES-CTR (RFC 3686) vs @noble/ciphers', () => {
  it('CBC without padding', () => {
    fc.assert(
      fc.property(fc.constantFrom(16, 24, 32), bytes(32, 32), bytes(16, 16), fc.integer({ min: 0, max: 90 }), bytes(1440, 1440), (kl, km, iv, blocks, data) => {
        const key = B(km.subarray(0, kl));
        const pt = B(data.subarray(0, blocks * 16));
        const c = createCipher(algorithmById('encr', 'aes-cbc'), key);
        const theirs = cbc(key, iv, { disablePadding: true }).encrypt(pt);
        expect(c.encrypt(B(iv), pt).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
        expect(c.decrypt(B(iv), B(theirs))).toEqual(pt);
      }),
      RUNS,
    );
  });
  it('CTR with counter block nonce || iv || 1', () => {
    fc.assert(
      fc.property(fc.constantFrom(16, 24, 32), bytes(36, 36), bytes(8, 8), bytes(0, 1500), (kl, km, iv, pt) => {
        const key = B(km.subarray(0, kl + 4));
        const ours = createCipher(algorithmById('encr', 'aes-ctr'), key).encrypt(B(iv), B(pt));
        const block = Buffer.concat([key.subarray(kl), B(iv), Buffer.from([0, 0, 0, 1])]);
        const theirs = ctr(key.subarray(0, kl), block).encrypt(pt);
        expect(ours.toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
      }),
      RUNS,
    );
  });
});

describe('DES-CBC (EDE with K1=K2=K3 on OpenSSL 3) vs node-forge DES-CBC', () => {
  it('same ciphertext, and 3DES-CBC also agrees with forge', () => {
    fc.assert(
      fc.property(bytes(24, 24), bytes(8, 8), fc.integer({ min: 0, max: 40 }), bytes(320, 320), (km, iv, blocks, data) => {
        const pt = B(data.subarray(0, blocks * 8));
        for (const [id, forgeName, key] of [
          ['des-cbc', 'DES-CBC', B(km.subarray(0, 8))],
          ['3des-cbc', '3DES-CBC', B(km)],
        ] as const) {
          const ours = createCipher(algorithmById('encr', id), key).encrypt(B(iv), pt);
          const f = forge.cipher.createCipher(forgeName, forge.util.createBuffer(key.toString('binary')));
          f.start({ iv: forge.util.createBuffer(B(iv).toString('binary')) });
          f.update(forge.util.createBuffer(pt.toString('binary')));
          // node-forge's finish(pad) takes a padding callback; returning true means "no padding"
          (f.finish as unknown as (pad: () => boolean) => boolean)(() => true);
          expect(ours.toString('hex')).toBe(Buffer.from(f.output.getBytes(), 'binary').toString('hex'));
          expect(createCipher(algorithmById('encr', id), key).decrypt(B(iv), ours)).toEqual(pt);
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('HMAC integrity and PRFs vs @noble/hashes hmac', () => {
  const cases = [
    ['hmac-md5-96', 'prf-hmac-md5', md5],
    ['hmac-sha1-96', 'prf-hmac-sha1', sha1],
    ['hmac-sha2-256-128', 'prf-hmac-sha2-256', sha256],
    ['hmac-sha2-384-192', 'prf-hmac-sha2-384', sha384],
    ['hmac-sha2-512-256', 'prf-hmac-sha2-512', sha512],
  ] as const;
  it.each(cases)('%s / %s', (integId, prfId, hash) => {
    const integ = algorithmById('integ', integId);
    const prf = createPrf(algorithmById('prf', prfId));
    fc.assert(
      fc.property(bytes(64, 64), bytes(0, 300), bytes(0, 300), bytes(0, 200), (km, a, b, prfKey) => {
        const key = B(km.subarray(0, integ.keyBytes));
        const full = Buffer.from(hmac(hash, key, Buffer.concat([B(a), B(b)])));
        expect(createMac(integ, key).compute(B(a), B(b)).toString('hex')).toBe(full.subarray(0, integ.icvBytes).toString('hex'));
        expect(prf.compute(B(prfKey), B(a)).toString('hex')).toBe(Buffer.from(hmac(hash, prfKey, a)).toString('hex'));
      }),
      { numRuns: 30 },
    );
  });
});

describe('DH vs @noble/curves (both sides agree; KE formats of RFC 5903 §7 / RFC 8031 §3.1)', () => {
  it('Curve25519 and Curve448', () => {
    for (const [id, lib] of [['curve25519', x25519], ['curve448', x448]] as const) {
      const ours = createDh(algorithmById('dh', id));
      const peerPriv = lib.utils.randomPrivateKey();
      const peerPub = lib.getPublicKey(peerPriv);
      const shared = ours.computeShared(B(peerPub));
      expect(shared.toString('hex')).toBe(Buffer.from(lib.getSharedSecret(peerPriv, ours.publicValue)).toString('hex'));
    }
  });
  it('ECP 256/384/521: peer KE x||y, shared secret x only', () => {
    for (const [id, lib] of [['ecp256', p256], ['ecp384', p384], ['ecp521', p521]] as const) {
      const ours = createDh(algorithmById('dh', id));
      const peerPriv = lib.utils.randomPrivateKey();
      const peerPub = Buffer.from(lib.getPublicKey(peerPriv, false)).subarray(1);
      const shared = ours.computeShared(peerPub);
      const theirs = Buffer.from(lib.getSharedSecret(peerPriv, Buffer.concat([Buffer.from([4]), ours.publicValue]), true)).subarray(1);
      expect(shared.toString('hex')).toBe(theirs.toString('hex'));
    }
  });
});
