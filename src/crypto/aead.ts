/**
 * Combined-mode ESP / IKE ciphers:
 *   AES-GCM with 8/12/16-byte ICV (RFC 4106), AES-CCM 8/12/16 (RFC 4309),
 *   ENCR_NULL_AUTH_AES_GMAC (RFC 4543), ChaCha20-Poly1305 (RFC 7634).
 *
 * `key` is the KEYMAT slice including the salt (GCM/GMAC 4 B, CCM 3 B, ChaCha20-Poly1305 4 B);
 * the nonce is salt || iv (RFC 4106 §4, RFC 4309 §4, RFC 4543 §3.2, RFC 7634 §2).
 * `aad` is what the caller authenticates besides the payload: SPI || SN (8 B) or
 * SPI || ESN-64 (12 B) for ESP (RFC 4106 §5), the IKE header + SK header for IKEv2 (RFC 5282 §5).
 * For GMAC nothing is encrypted: the payload travels in clear and the GCM AAD is
 * aad || iv || payload (RFC 4543 §3.3), so `seal` returns payload || icv.
 */
import { createCipheriv, createDecipheriv, timingSafeEqual, type CipherGCMTypes, type CipherCCMTypes } from 'node:crypto';
import { CryptoError, guarded } from './errors';
import type { EncrAlg } from './registry';

export interface Aead {
  readonly icvBytes: number;
  /** Returns ciphertext || icv. */
  seal(iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer;
  /** Returns the plaintext, or null when the ICV does not verify (or the input is shorter than the ICV). */
  open(iv: Buffer, aad: Buffer, ciphertextAndIcv: Buffer): Buffer | null;
}

export type AeadBackend = 'node' | 'openssl-ffi';

/** Shape checks shared by every backend; returns the key length in bits (without the salt). */
export function checkAeadKey(alg: EncrAlg, key: Buffer): number {
  if (!alg.aead) throw new CryptoError('wrong-algorithm', `${alg.id} is not an AEAD: use createCipher`);
  if (!alg.implemented) throw new CryptoError('unimplemented', `${alg.id} is not implemented`);
  const keyBits = (key.length - alg.saltBytes) * 8;
  if (!alg.keyBits.includes(keyBits)) {
    const allowed = alg.keyBits.map((b) => b / 8 + alg.saltBytes).join('/');
    throw new CryptoError('bad-key-length', `${alg.id}: key is ${key.length} bytes (incl. salt), expected ${allowed}`);
  }
  return keyBits;
}

export function checkAeadIv(alg: EncrAlg, iv: Buffer): void {
  if (iv.length !== alg.ivBytes) {
    throw new CryptoError('bad-iv-length', `${alg.id}: IV is ${iv.length} bytes, expected ${alg.ivBytes}`);
  }
}

type FastAeadFactory = (alg: EncrAlg, key: Buffer) => Aead | null;
let fastFactory: FastAeadFactory | null = null;

/**
 * Install a faster backend (src/crypto/openssl-aead.ts registers itself here when loaded and
 * libcrypto is usable). It may decline an algorithm by returning null.
 */
export function setFastAeadFactory(factory: FastAeadFactory | null): void {
  fastFactory = factory;
}

/** Create an AEAD for one SA direction, using the fastest available backend. */
export function createAead(alg: EncrAlg, key: Buffer): Aead {
  checkAeadKey(alg, key);
  const fast = fastFactory?.(alg, key);
  return fast ?? createNodeAead(alg, key);
}

/** The node:crypto implementation (one createCipheriv per packet). */
export function createNodeAead(alg: EncrAlg, key: Buffer): Aead {
  const keyBits = checkAeadKey(alg, key);
  const cipherKey = Buffer.from(key.subarray(0, keyBits / 8));
  const salt = Buffer.from(key.subarray(keyBits / 8));
  const icvBytes = alg.icvBytes;
  const nonceOf = (iv: Buffer): Buffer => {
    checkAeadIv(alg, iv);
    return Buffer.concat([salt, iv]);
  };
  switch (alg.mode) {
    case 'gcm':
      return gcmAead(`aes-${keyBits}-gcm` as CipherGCMTypes, cipherKey, icvBytes, nonceOf);
    case 'gmac':
      return gmacAead(`aes-${keyBits}-gcm` as CipherGCMTypes, cipherKey, icvBytes, nonceOf);
    case 'ccm':
      return ccmAead(`aes-${keyBits}-ccm` as CipherCCMTypes, cipherKey, icvBytes, nonceOf);
    case 'chacha20-poly1305':
      return gcmAead('chacha20-poly1305', cipherKey, icvBytes, nonceOf);
    default:
      throw new CryptoError('wrong-algorithm', `${alg.id} has no AEAD implementation`);
  }
}

type GcmLike = CipherGCMTypes | 'chacha20-poly1305';

function gcmAead(name: GcmLike, key: Buffer, icvBytes: number, nonceOf: (iv: Buffer) => Buffer): Aead {
  return {
    icvBytes,
    seal(iv, aad, plaintext) {
      const nonce = nonceOf(iv);
      return guarded(name, () => {
        const c = createCipheriv(name as CipherGCMTypes, key, nonce, { authTagLength: icvBytes });
        c.setAAD(aad);
        const body = c.update(plaintext);
        c.final();
        return Buffer.concat([body, c.getAuthTag()]);
      });
    },
    open(iv, aad, input) {
      const nonce = nonceOf(iv);
      if (input.length < icvBytes) return null;
      const ct = input.subarray(0, input.length - icvBytes);
      const tag = input.subarray(input.length - icvBytes);
      const d = guarded(name, () => {
        const dc = createDecipheriv(name as CipherGCMTypes, key, nonce, { authTagLength: icvBytes });
        dc.setAAD(aad);
        dc.setAuthTag(tag);
        return dc;
      });
      const body = guarded(name, () => d.update(ct));
      try {
        d.final();
      } catch {
        return null; // ICV mismatch (OpenSSL "unable to authenticate data")
      }
      return body;
    },
  };
}

function gmacAead(name: CipherGCMTypes, key: Buffer, icvBytes: number, nonceOf: (iv: Buffer) => Buffer): Aead {
  const tagOf = (nonce: Buffer, aad: Buffer, iv: Buffer, payload: Buffer): Buffer =>
    guarded(name, () => {
      const c = createCipheriv(name, key, nonce, { authTagLength: icvBytes });
      c.setAAD(Buffer.concat([aad, iv, payload]));
      c.final();
      return c.getAuthTag();
    });
  return {
    icvBytes,
    seal(iv, aad, plaintext) {
      const nonce = nonceOf(iv);
      return Buffer.concat([plaintext, tagOf(nonce, aad, iv, plaintext)]);
    },
    open(iv, aad, input) {
      const nonce = nonceOf(iv);
      if (input.length < icvBytes) return null;
      const payload = input.subarray(0, input.length - icvBytes);
      const tag = input.subarray(input.length - icvBytes);
      const expect = tagOf(nonce, aad, iv, payload);
      return timingSafeEqual(expect, tag) ? Buffer.from(payload) : null;
    },
  };
}

function ccmAead(name: CipherCCMTypes, key: Buffer, icvBytes: number, nonceOf: (iv: Buffer) => Buffer): Aead {
  return {
    icvBytes,
    seal(iv, aad, plaintext) {
      const nonce = nonceOf(iv);
      return guarded(name, () => {
        const c = createCipheriv(name, key, nonce, { authTagLength: icvBytes });
        c.setAAD(aad, { plaintextLength: plaintext.length });
        const body = c.update(plaintext);
        c.final();
        return Buffer.concat([body, c.getAuthTag()]);
      });
    },
    open(iv, aad, input) {
      const nonce = nonceOf(iv);
      if (input.length < icvBytes) return null;
      const ct = input.subarray(0, input.length - icvBytes);
      const tag = input.subarray(input.length - icvBytes);
      try {
        const d = createDecipheriv(name, key, nonce, { authTagLength: icvBytes });
        d.setAuthTag(tag);
        d.setAAD(aad, { plaintextLength: ct.length });
        const body = d.update(ct);
        d.final();
        return body;
      } catch {
        return null; // CCM reports a tag mismatch from update()/final()
      }
    },
  };
}
