/**
 * IKE pseudo-random functions and prf+ (RFC 7296 §2.13):
 *   PRF_HMAC_MD5 / SHA1 (RFC 2104), PRF_HMAC_SHA2_256/384/512 (RFC 4868 §2.2),
 *   PRF_AES128_XCBC (RFC 4434 — key normalisation of §2) and PRF_AES128_CMAC (RFC 4615 §3).
 */
import { createHmac } from 'node:crypto';
import { cbcMac, cmacKeys, xcbcKeys } from './cbcmac';
import { CryptoError, guarded } from './errors';
import type { PrfAlg } from './registry';

export interface Prf {
  readonly outBytes: number;
  compute(key: Buffer, data: Buffer): Buffer;
}

const ZERO_KEY = Buffer.alloc(16);

export function createPrf(alg: PrfAlg): Prf {
  if (!alg.implemented) throw new CryptoError('unimplemented', `${alg.id} is not implemented`);
  switch (alg.mode) {
    case 'hmac': {
      const digest = alg.digest;
      if (!digest) throw new CryptoError('wrong-algorithm', `${alg.id}: no digest`);
      return {
        outBytes: alg.outBytes,
        compute: (key, data) => guarded(alg.id, () => createHmac(digest, key).update(data).digest()),
      };
    }
    case 'xcbc':
      return {
        outBytes: 16,
        compute(key, data) {
          // RFC 4434 §2: a 16-byte key is used as is; a shorter one is padded with zeros; a longer
          // one is replaced by AES-XCBC-PRF-128 of it under the all-zero key.
          let k = key;
          if (key.length < 16) k = Buffer.concat([key, Buffer.alloc(16 - key.length)]);
          else if (key.length > 16) k = cbcMac(xcbcKeys(ZERO_KEY), [key]);
          return cbcMac(xcbcKeys(k), [data]);
        },
      };
    case 'cmac':
      return {
        outBytes: 16,
        compute(key, data) {
          // RFC 4615 §3: a key length other than 16 becomes AES-CMAC(0^128, key).
          const k = key.length === 16 ? key : cbcMac(cmacKeys(ZERO_KEY), [key]);
          return cbcMac(cmacKeys(k), [data]);
        },
      };
    default:
      throw new CryptoError('unimplemented', `${alg.id} has no PRF implementation`);
  }
}

/**
 * prf+ (RFC 7296 §2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), output T1 | T2 | ...
 * truncated to `length`. At most 255 blocks may be produced.
 */
export function prfPlus(prf: Prf, key: Buffer, seed: Buffer, length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > 255 * prf.outBytes) {
    throw new CryptoError('output-too-long', `prf+ can produce at most ${255 * prf.outBytes} bytes, asked for ${length}`);
  }
  const blocks: Buffer[] = [];
  let produced = 0;
  let prev: Buffer = Buffer.alloc(0);
  for (let n = 1; produced < length; n++) {
    prev = prf.compute(key, Buffer.concat([prev, seed, Buffer.from([n])]));
    blocks.push(prev);
    produced += prev.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}
