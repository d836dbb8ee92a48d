/**
 * Non-AEAD ESP / IKE ciphers: AES-CBC (RFC 3602), AES-CTR (RFC 3686), Camellia-CBC (RFC 4312 /
 * RFC 5529), 3DES-CBC (RFC 2451), DES-CBC (RFC 2405) and NULL (RFC 2410). No padding is applied: the caller pads to blockBytes
 * (RFC 4303 §2.4). Backed by node:crypto (OpenSSL).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CryptoError, guarded } from './errors';
import type { EncrAlg } from './registry';

export interface BlockCipher {
  readonly blockBytes: number;
  readonly ivBytes: number;
  encrypt(iv: Buffer, data: Buffer): Buffer;
  decrypt(iv: Buffer, data: Buffer): Buffer;
}

type FastCipherFactory = (alg: EncrAlg, key: Buffer, fallback: BlockCipher) => BlockCipher | null;
let fastFactory: FastCipherFactory | null = null;

/** Install a faster backend (openssl-aead.ts, see enableFastAead); it may decline with null. */
export function setFastCipherFactory(factory: FastCipherFactory | null): void {
  fastFactory = factory;
}

/**
 * Create a cipher for one SA direction. `key` is the KEYMAT slice for the transform: for
 * AES-CTR it is key || 4-byte nonce (RFC 3686 §5.1).
 */
export function createCipher(alg: EncrAlg, key: Buffer): BlockCipher {
  const node = createNodeCipher(alg, key);
  return fastFactory?.(alg, key, node) ?? node;
}

/** The node:crypto implementation (one createCipheriv per call). */
export function createNodeCipher(alg: EncrAlg, key: Buffer): BlockCipher {
  if (!alg.implemented) throw new CryptoError('unimplemented', `${alg.id} is not implemented`);
  if (alg.aead) throw new CryptoError('wrong-algorithm', `${alg.id} is an AEAD: use createAead`);
  switch (alg.mode) {
    case 'cbc':
      return cbcCipher(alg, key);
    case 'ctr':
      return ctrCipher(alg, key);
    case 'null':
      return nullCipher(key);
    default:
      throw new CryptoError('wrong-algorithm', `${alg.id} has no block-cipher implementation`);
  }
}

export function checkKey(alg: EncrAlg, key: Buffer): number {
  const keyBits = (key.length - alg.saltBytes) * 8;
  if (!alg.keyBits.includes(keyBits)) {
    const allowed = alg.keyBits.map((b) => b / 8 + alg.saltBytes).join('/');
    throw new CryptoError('bad-key-length', `${alg.id}: key is ${key.length} bytes, expected ${allowed}`);
  }
  return keyBits;
}

export function checkIv(alg: { id: string; ivBytes: number }, iv: Buffer): void {
  if (iv.length !== alg.ivBytes) {
    throw new CryptoError('bad-iv-length', `${alg.id}: IV is ${iv.length} bytes, expected ${alg.ivBytes}`);
  }
}

export function checkBlocks(id: string, blockBytes: number, data: Buffer): void {
  if (data.length % blockBytes !== 0) {
    throw new CryptoError('bad-data-length', `${id}: ${data.length} bytes is not a multiple of the ${blockBytes}-byte block`);
  }
}

function run(name: string, decrypt: boolean, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  return guarded(name, () => {
    const c = decrypt ? createDecipheriv(name, key, iv) : createCipheriv(name, key, iv);
    c.setAutoPadding(false);
    const out = c.update(data);
    const tail = c.final();
    return tail.length === 0 ? out : Buffer.concat([out, tail]);
  });
}

function cbcCipher(alg: EncrAlg, key: Buffer): BlockCipher {
  const keyBits = checkKey(alg, key);
  let name: string;
  let opensslKey = key;
  if (alg.id === 'aes-cbc') name = `aes-${keyBits}-cbc`;
  else if (alg.id === 'camellia-cbc') name = `camellia-${keyBits}-cbc`;
  else if (alg.id === '3des-cbc') name = 'des-ede3-cbc';
  else if (alg.id === 'des-cbc') {
    // Single DES is in OpenSSL 3's legacy provider only. EDE with K1 = K2 = K3 is exactly
    // single DES (E_K(D_K(E_K(x))) = E_K(x)), so the default provider's 3DES computes it.
    // test/crypto/cipher.test.ts cross-checks this against node-forge's DES.
    name = 'des-ede3-cbc';
    opensslKey = Buffer.concat([key, key, key]);
  } else throw new CryptoError('wrong-algorithm', `${alg.id} has no CBC implementation`);
  const blockBytes = alg.blockBytes;
  return {
    blockBytes,
    ivBytes: alg.ivBytes,
    encrypt(iv, data) {
      checkIv(alg, iv);
      checkBlocks(alg.id, blockBytes, data);
      return run(name, false, opensslKey, iv, data);
    },
    decrypt(iv, data) {
      checkIv(alg, iv);
      checkBlocks(alg.id, blockBytes, data);
      return run(name, true, opensslKey, iv, data);
    },
  };
}

/** RFC 3686 §4: counter block = nonce(4) || IV(8) || block counter(4), starting at 1. */
function ctrCipher(alg: EncrAlg, key: Buffer): BlockCipher {
  const keyBits = checkKey(alg, key);
  const aesKey = key.subarray(0, keyBits / 8);
  const nonce = key.subarray(keyBits / 8);
  const name = `aes-${keyBits}-ctr`;
  const counterBlock = (iv: Buffer): Buffer => {
    checkIv(alg, iv);
    const block = Buffer.alloc(16);
    nonce.copy(block, 0);
    iv.copy(block, 4);
    block.writeUInt32BE(1, 12);
    return block;
  };
  return {
    blockBytes: alg.blockBytes,
    ivBytes: alg.ivBytes,
    encrypt: (iv, data) => run(name, false, aesKey, counterBlock(iv), data),
    decrypt: (iv, data) => run(name, true, aesKey, counterBlock(iv), data),
  };
}

function nullCipher(key: Buffer): BlockCipher {
  if (key.length !== 0) throw new CryptoError('bad-key-length', `null: key is ${key.length} bytes, expected 0`);
  return {
    blockBytes: 1,
    ivBytes: 0,
    encrypt: (_iv, data) => Buffer.from(data),
    decrypt: (_iv, data) => Buffer.from(data),
  };
}
