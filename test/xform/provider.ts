/**
 * Test-only CryptoProvider built straight on node:crypto, with registry-shaped
 * rows. It exists so the ESP/AH framing can be tested against published
 * vectors independently of src/crypto; test/xform/registry.test.ts runs the
 * same vectors through the real src/crypto registry.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import type { AeadCtx, CipherCtx, CryptoProvider, EncrAlgRow, IntegAlgRow, MacCtx } from '../../src/xform/sa';

export interface TestEncr extends EncrAlgRow {
  id: string;
  ossl: string;
  keyBits: number;
}
export interface TestInteg extends IntegAlgRow {
  id: string;
  hash: string;
}

export const ENCR = {
  aesCbc128: { id: 'aes-cbc-128', mode: 'cbc', ossl: 'aes-128-cbc', keyBits: 128, saltBytes: 0, blockBytes: 16, ivBytes: 16, icvBytes: 0, aead: false },
  aesCbc256: { id: 'aes-cbc-256', mode: 'cbc', ossl: 'aes-256-cbc', keyBits: 256, saltBytes: 0, blockBytes: 16, ivBytes: 16, icvBytes: 0, aead: false },
  aesGcm128: { id: 'aes-gcm-16-128', mode: 'gcm', ossl: 'aes-128-gcm', keyBits: 128, saltBytes: 4, blockBytes: 1, ivBytes: 8, icvBytes: 16, aead: true },
  aesGcm192: { id: 'aes-gcm-16-192', mode: 'gcm', ossl: 'aes-192-gcm', keyBits: 192, saltBytes: 4, blockBytes: 1, ivBytes: 8, icvBytes: 16, aead: true },
  aesGcm256: { id: 'aes-gcm-16-256', mode: 'gcm', ossl: 'aes-256-gcm', keyBits: 256, saltBytes: 4, blockBytes: 1, ivBytes: 8, icvBytes: 16, aead: true },
  chacha: { id: 'chacha20-poly1305', mode: 'chacha20-poly1305', ossl: 'chacha20-poly1305', keyBits: 256, saltBytes: 4, blockBytes: 1, ivBytes: 8, icvBytes: 16, aead: true },
  des3Cbc: { id: '3des-cbc', mode: 'cbc', ossl: 'des-ede3-cbc', keyBits: 192, saltBytes: 0, blockBytes: 8, ivBytes: 8, icvBytes: 0, aead: false },
  aesCtr128: { id: 'aes-ctr-128', mode: 'ctr', ossl: 'aes-128-ctr', keyBits: 128, saltBytes: 4, blockBytes: 1, ivBytes: 8, icvBytes: 0, aead: false },
  null: { id: 'null', mode: 'null', ossl: '', keyBits: 0, saltBytes: 0, blockBytes: 1, ivBytes: 0, icvBytes: 0, aead: false },
} satisfies Record<string, TestEncr>;

export const INTEG = {
  sha256: { id: 'hmac-sha2-256-128', hash: 'sha256', icvBytes: 16 },
  sha1: { id: 'hmac-sha1-96', hash: 'sha1', icvBytes: 12 },
} satisfies Record<string, TestInteg>;

type AuthCipher = ReturnType<typeof createCipheriv> & { setAAD(b: Buffer, o?: object): void; getAuthTag(): Buffer };
type AuthDecipher = ReturnType<typeof createDecipheriv> & { setAAD(b: Buffer, o?: object): void; setAuthTag(b: Buffer): void };

export const nodeProvider: CryptoProvider<TestEncr, TestInteg> = {
  createAead(alg, key): AeadCtx {
    const k = key.subarray(0, alg.keyBits / 8);
    const salt = key.subarray(alg.keyBits / 8);
    const opts = { authTagLength: alg.icvBytes } as object;
    return {
      icvBytes: alg.icvBytes,
      seal(iv, aad, pt) {
        const c = createCipheriv(alg.ossl, k, Buffer.concat([salt, iv]), opts) as AuthCipher;
        c.setAAD(aad, { plaintextLength: pt.length });
        return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      },
      open(iv, aad, ct) {
        if (ct.length < alg.icvBytes) return null;
        const d = createDecipheriv(alg.ossl, k, Buffer.concat([salt, iv]), opts) as AuthDecipher;
        d.setAAD(aad, { plaintextLength: ct.length - alg.icvBytes });
        d.setAuthTag(ct.subarray(ct.length - alg.icvBytes));
        try {
          return Buffer.concat([d.update(ct.subarray(0, ct.length - alg.icvBytes)), d.final()]);
        } catch {
          return null;
        }
      },
    };
  },
  createCipher(alg, key): CipherCtx {
    if (alg.mode === 'ctr') {
      // RFC 3686 §4: counter block = nonce(4) || IV(8) || block counter starting at 1
      const k = key.subarray(0, alg.keyBits / 8);
      const nonce = key.subarray(alg.keyBits / 8);
      const run = (iv: Buffer, data: Buffer): Buffer => {
        const c = createCipheriv(alg.ossl, k, Buffer.concat([nonce, iv, Buffer.from([0, 0, 0, 1])]));
        return Buffer.concat([c.update(data), c.final()]);
      };
      return { blockBytes: 1, ivBytes: alg.ivBytes, encrypt: run, decrypt: run };
    }
    return {
      blockBytes: alg.blockBytes,
      ivBytes: alg.ivBytes,
      encrypt(iv, data) {
        const c = createCipheriv(alg.ossl, key, iv).setAutoPadding(false);
        return Buffer.concat([c.update(data), c.final()]);
      },
      decrypt(iv, data) {
        const d = createDecipheriv(alg.ossl, key, iv).setAutoPadding(false);
        return Buffer.concat([d.update(data), d.final()]);
      },
    };
  },
  createMac(alg, key): MacCtx {
    return {
      icvBytes: alg.icvBytes,
      compute(...parts) {
        const h = createHmac(alg.hash, key);
        for (const p of parts) h.update(p);
        return h.digest().subarray(0, alg.icvBytes);
      },
    };
  },
};

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
