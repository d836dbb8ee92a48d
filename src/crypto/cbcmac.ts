/**
 * The two AES CBC-MAC constructions IPsec uses, both with a 128-bit key:
 *   AES-XCBC-MAC (RFC 3566 §4): K1 = E(K, 0x01^16), K2 = E(K, 0x02^16), K3 = E(K, 0x03^16);
 *     CBC-MAC under K1, the last block XORed with K2 (complete) or padded 10* and XORed with K3.
 *   AES-CMAC (RFC 4493 §2.3-2.4): L = E(K, 0^128), K1 = dbl(L), K2 = dbl(K1);
 *     CBC-MAC under K, the last block XORed with K1 (complete) or padded 10* and XORed with K2.
 * Both return the full 16-byte tag; callers truncate (RFC 3566 §2.1 / RFC 4494 §2: 96 bits).
 */
import { createCipheriv } from 'node:crypto';
import { CryptoError, guarded } from './errors';

const BLOCK = 16;

function aesEcb(key: Buffer, block: Buffer): Buffer {
  return guarded('aes-128-ecb', () => {
    const c = createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    return c.update(block);
  });
}

/** dbl() of RFC 4493 §2.3 (GF(2^128) multiplication by x, Rb = 0x87). */
function dbl(b: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((b[i]! << 1) | (i + 1 < BLOCK ? b[i + 1]! >> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

export interface CbcMacKeys {
  /** Key of the CBC chain. */
  readonly chainKey: Buffer;
  /** XORed into a complete last block. */
  readonly completeMask: Buffer;
  /** XORed into a padded last block. */
  readonly paddedMask: Buffer;
}

function check128(what: string, key: Buffer): void {
  if (key.length !== BLOCK) throw new CryptoError('bad-key-length', `${what}: key is ${key.length} bytes, expected 16`);
}

export function xcbcKeys(key: Buffer): CbcMacKeys {
  check128('aes-xcbc', key);
  return {
    chainKey: aesEcb(key, Buffer.alloc(BLOCK, 0x01)),
    completeMask: aesEcb(key, Buffer.alloc(BLOCK, 0x02)),
    paddedMask: aesEcb(key, Buffer.alloc(BLOCK, 0x03)),
  };
}

export function cmacKeys(key: Buffer): CbcMacKeys {
  check128('aes-cmac', key);
  const l = aesEcb(key, Buffer.alloc(BLOCK));
  const k1 = dbl(l);
  return { chainKey: Buffer.from(key), completeMask: k1, paddedMask: dbl(k1) };
}

/** Full 16-byte CBC-MAC tag of the concatenation of `parts`. */
export function cbcMac(keys: CbcMacKeys, parts: readonly Buffer[]): Buffer {
  const msg = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  const complete = msg.length > 0 && msg.length % BLOCK === 0;
  const lastStart = complete ? msg.length - BLOCK : msg.length - (msg.length % BLOCK);
  const last = Buffer.alloc(BLOCK);
  msg.copy(last, 0, lastStart);
  if (!complete) last[msg.length - lastStart] = 0x80;
  const mask = complete ? keys.completeMask : keys.paddedMask;
  let chain: Buffer = Buffer.alloc(BLOCK);
  if (lastStart > 0) {
    // E over all but the last block in one CBC pass (IV 0); the chaining value is its last block.
    const head = msg.subarray(0, lastStart);
    const out = guarded('aes-128-cbc', () => {
      const c = createCipheriv('aes-128-cbc', keys.chainKey, Buffer.alloc(BLOCK));
      c.setAutoPadding(false);
      return c.update(head);
    });
    chain = out.subarray(out.length - BLOCK);
  }
  for (let i = 0; i < BLOCK; i++) last[i]! ^= chain[i]! ^ mask[i]!;
  return aesEcb(keys.chainKey, last);
}
