/**
 * ESP / AH / IKE integrity transforms: HMAC-MD5-96 (RFC 2403), HMAC-SHA1-96 (RFC 2404),
 * HMAC-SHA2-256-128 / 384-192 / 512-256 (RFC 4868 §2), the untruncated HMAC-MD5-128 /
 * HMAC-SHA1-160 (RFC 4595), AES-XCBC-MAC-96 (RFC 3566), AES-CMAC-96 (RFC 4494), and the
 * zero-length NONE / setkey `null`.
 */
import { createHmac } from 'node:crypto';
import { cbcMac, cmacKeys, xcbcKeys } from './cbcmac';
import { CryptoError, guarded } from './errors';
import type { IntegAlg } from './registry';

export interface Mac {
  readonly icvBytes: number;
  /** The truncated ICV over the concatenation of `parts`. */
  compute(...parts: Buffer[]): Buffer;
}

type FastMacFactory = (alg: IntegAlg, key: Buffer) => Mac | null;
let fastFactory: FastMacFactory | null = null;

/** Install a faster backend for HMAC (openssl-aead.ts, see enableFastAead); it may decline with null. */
export function setFastMacFactory(factory: FastMacFactory | null): void {
  fastFactory = factory;
}

export function createMac(alg: IntegAlg, key: Buffer): Mac {
  const node = createNodeMac(alg, key);
  return (alg.mode === 'hmac' ? fastFactory?.(alg, key) : null) ?? node;
}

/** The node:crypto implementation (one createHmac per ICV). */
export function createNodeMac(alg: IntegAlg, key: Buffer): Mac {
  if (!alg.implemented) throw new CryptoError('unimplemented', `${alg.id} is not implemented`);
  if (key.length !== alg.keyBytes) {
    throw new CryptoError('bad-key-length', `${alg.id}: key is ${key.length} bytes, expected ${alg.keyBytes}`);
  }
  const icvBytes = alg.icvBytes;
  switch (alg.mode) {
    case 'hmac': {
      const digest = alg.digest;
      if (!digest) throw new CryptoError('wrong-algorithm', `${alg.id}: no digest`);
      const k = Buffer.from(key);
      return {
        icvBytes,
        compute: (...parts) =>
          guarded(alg.id, () => {
            const h = createHmac(digest, k);
            for (const p of parts) h.update(p);
            return h.digest().subarray(0, icvBytes);
          }),
      };
    }
    case 'xcbc': {
      const keys = xcbcKeys(key);
      return { icvBytes, compute: (...parts) => cbcMac(keys, parts).subarray(0, icvBytes) };
    }
    case 'cmac': {
      const keys = cmacKeys(key);
      return { icvBytes, compute: (...parts) => cbcMac(keys, parts).subarray(0, icvBytes) };
    }
    case 'none':
      return { icvBytes: 0, compute: () => Buffer.alloc(0) };
    default:
      throw new CryptoError('unimplemented', `${alg.id} has no MAC implementation`);
  }
}
