/**
 * Diffie-Hellman for IKE: MODP groups 1, 2 (RFC 2409 §6) and 5, 14-18 (RFC 3526), ECP groups
 * 19-21 (RFC 5903), Curve25519 / Curve448 (RFC 8031).
 *
 * KE data formats: MODP g^x zero-padded to the prime length (RFC 7296 §3.4); ECP x || y, each
 * padded to the field size, no 0x04 prefix (RFC 5903 §7); Curve25519/448 the raw u-coordinate
 * (RFC 8031 §3.1). Shared secrets: MODP g^xy padded to the prime length; ECP the x-coordinate
 * only (RFC 5903 §7, §9); X25519/X448 the raw output.
 *
 * Peer-value checks: RFC 6989 §2.1 for MODP (1 < y < p-1), §2.3 for ECP (the point is on the
 * curve, which node:crypto checks), RFC 8031 §2 / RFC 7748 §6 for Curve25519/448 (an all-zero
 * shared secret is rejected).
 */
import {
  createDiffieHellman,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  getDiffieHellman,
  type DiffieHellman,
  type ECDH,
  type KeyObject,
} from 'node:crypto';
import type { DhGroup } from './registry';

export type DhErrorCode = 'invalid-public-value' | 'all-zero-shared' | 'bad-length' | 'unsupported-group';

export class DhError extends Error {
  override readonly name = 'DhError';
  constructor(
    readonly code: DhErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface DhExchange {
  readonly group: DhGroup;
  /** Our public value in IKE KE data format. */
  readonly publicValue: Buffer;
  /** The shared secret g^ir (throws DhError on an unacceptable peer value). */
  computeShared(peerPublic: Buffer): Buffer;
}

/**
 * node:crypto's built-in copies of the RFC 2409 / RFC 3526 primes (generator 2). The test
 * test/crypto/dh.test.ts recomputes each from the formula printed in the RFC.
 */
const MODP_NODE_NAME: Readonly<Record<number, string>> = {
  1: 'modp1',
  2: 'modp2',
  5: 'modp5',
  14: 'modp14',
  15: 'modp15',
  16: 'modp16',
  17: 'modp17',
  18: 'modp18',
};

/** The prime of a MODP group, big-endian (keBytes long). */
export function modpPrime(group: DhGroup): Buffer {
  const name = group.ikev2 === null ? undefined : MODP_NODE_NAME[group.ikev2];
  if (group.type !== 'modp' || name === undefined) {
    throw new DhError('unsupported-group', `${group.id} is not a MODP group tanuki implements`);
  }
  return getDiffieHellman(name).getPrime();
}

/** Group orders n (SEC 2 §2.4.2, §2.5.1, §2.6.1; FIPS 186-4 App. D.1.2). */
const ECP_ORDER: Readonly<Record<string, bigint>> = {
  prime256v1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  secp384r1: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  secp521r1:
    0x1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};

/** Extra random bytes for an unbiased reduction mod n (FIPS 186-4 App. B.4.1: 64 more bits). */
const ECP_EXTRA_BYTES = 8;

/**
 * How many random bytes to hand createDh() as `privateKey` when the caller injects its own
 * randomness (sans-I/O engines): MODP 64 bytes (a 512-bit exponent, at least twice the
 * strength of every MODP group, RFC 3526 §8); ECP the field size + 8 bytes, reduced to
 * 1 <= d < n as in FIPS 186-4 App. B.4.1; Curve25519/448 the raw 32/56-byte scalar.
 */
export function dhPrivateKeyBytes(group: DhGroup): number {
  switch (group.type) {
    case 'modp':
      return Math.min(group.keBytes, 64);
    case 'ecp':
      return group.sharedBytes + ECP_EXTRA_BYTES;
    default:
      return group.keBytes;
  }
}

/**
 * ECP private scalar from caller bytes: exactly the field size is used as is (published
 * vectors); field size + 8 bytes is reduced to d = (c mod (n-1)) + 1 (FIPS 186-4 App. B.4.1).
 */
function ecpScalar(group: DhGroup, curve: string, privateKey: Buffer): Buffer {
  if (privateKey.length === group.sharedBytes) return privateKey;
  const n = ECP_ORDER[curve];
  if (n === undefined || privateKey.length !== group.sharedBytes + ECP_EXTRA_BYTES) {
    throw new DhError(
      'bad-length',
      `${group.id}: private key is ${privateKey.length} bytes, expected ${group.sharedBytes} or ${group.sharedBytes + ECP_EXTRA_BYTES}`,
    );
  }
  const d = (toBigInt(privateKey) % (n - 1n)) + 1n;
  return Buffer.from(d.toString(16).padStart(group.sharedBytes * 2, '0'), 'hex');
}

/**
 * Create our half of an exchange. Without `privateKey` a fresh random key is generated;
 * with it (deterministic tests, or engines that inject randomness — see dhPrivateKeyBytes)
 * the key is derived from those bytes.
 */
export function createDh(group: DhGroup, privateKey?: Buffer): DhExchange {
  if (!group.implemented) throw new DhError('unsupported-group', `${group.id} is not implemented`);
  switch (group.type) {
    case 'modp':
      return modpExchange(group, privateKey);
    case 'ecp':
      return ecpExchange(group, privateKey);
    case 'curve25519':
    case 'curve448':
      return montgomeryExchange(group, privateKey);
    default:
      throw new DhError('unsupported-group', `${group.id} is not implemented`);
  }
}

function leftPad(b: Buffer, len: number): Buffer {
  if (b.length === len) return b;
  if (b.length > len) throw new DhError('bad-length', `value is ${b.length} bytes, longer than ${len}`);
  return Buffer.concat([Buffer.alloc(len - b.length), b]);
}

function checkLength(group: DhGroup, peer: Buffer): void {
  if (peer.length !== group.keBytes) {
    throw new DhError('bad-length', `${group.id}: KE data is ${peer.length} bytes, expected ${group.keBytes}`);
  }
}

function toBigInt(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`);
}

function modpExchange(group: DhGroup, privateKey?: Buffer): DhExchange {
  const prime = modpPrime(group);
  const p = toBigInt(prime);
  let dh: DiffieHellman;
  try {
    dh = createDiffieHellman(prime, Buffer.from([2]));
    // x = 0 or 1 would make g^x trivial (and OpenSSL refuses x = 0): such bytes map to x = 2
    if (privateKey) dh.setPrivateKey(toBigInt(privateKey) < 2n ? Buffer.from([2]) : privateKey);
    dh.generateKeys();
  } catch (err) {
    throw new DhError('invalid-public-value', `${group.id}: cannot create key: ${(err as Error).message}`);
  }
  const publicValue = leftPad(dh.getPublicKey(), group.keBytes);
  return {
    group,
    publicValue,
    computeShared(peer) {
      checkLength(group, peer);
      const y = toBigInt(peer);
      // RFC 6989 §2.1: reject 0, 1, p-1 and anything >= p.
      if (y <= 1n || y >= p - 1n) {
        throw new DhError('invalid-public-value', `${group.id}: peer public value is not in 1 < y < p-1 (RFC 6989 §2.1)`);
      }
      let shared: Buffer;
      try {
        shared = dh.computeSecret(peer);
      } catch (err) {
        throw new DhError('invalid-public-value', `${group.id}: ${(err as Error).message}`);
      }
      return leftPad(shared, group.keBytes);
    },
  };
}

function ecpExchange(group: DhGroup, privateKey?: Buffer): DhExchange {
  const curve = group.curve;
  if (!curve) throw new DhError('unsupported-group', `${group.id}: no curve`);
  let ecdh: ECDH;
  try {
    ecdh = createECDH(curve);
    if (privateKey) ecdh.setPrivateKey(ecpScalar(group, curve, privateKey));
    else ecdh.generateKeys();
  } catch (err) {
    if (err instanceof DhError) throw err;
    throw new DhError('invalid-public-value', `${group.id}: invalid private key: ${(err as Error).message}`);
  }
  // getPublicKey() is 0x04 || x || y (SEC 1 uncompressed); IKE drops the 0x04 (RFC 5903 §7).
  const publicValue = ecdh.getPublicKey().subarray(1);
  return {
    group,
    publicValue,
    computeShared(peer) {
      checkLength(group, peer);
      let shared: Buffer;
      try {
        shared = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), peer]));
      } catch {
        // RFC 6989 §2.3: the point must be on the curve (node:crypto validates it).
        throw new DhError('invalid-public-value', `${group.id}: peer public value is not a point on ${curve}`);
      }
      return leftPad(shared, group.sharedBytes);
    },
  };
}

/** DER prefixes for raw X25519 / X448 keys (RFC 8410 §7, §10.3): PKCS#8 private, SPKI public. */
const MONTGOMERY = {
  curve25519: {
    type: 'x25519' as const,
    pkcs8: Buffer.from('302e020100300506032b656e04220420', 'hex'),
    spki: Buffer.from('302a300506032b656e032100', 'hex'),
  },
  curve448: {
    type: 'x448' as const,
    pkcs8: Buffer.from('3046020100300506032b656f043a0438', 'hex'),
    spki: Buffer.from('3042300506032b656f033900', 'hex'),
  },
};

function montgomeryExchange(group: DhGroup, privateKey?: Buffer): DhExchange {
  const m = group.type === 'curve25519' ? MONTGOMERY.curve25519 : MONTGOMERY.curve448;
  const crv = m.type === 'x25519' ? 'X25519' : 'X448';
  let priv: KeyObject;
  let publicValue: Buffer;
  if (privateKey) {
    if (privateKey.length !== group.keBytes) {
      throw new DhError('bad-length', `${group.id}: private key is ${privateKey.length} bytes, expected ${group.keBytes}`);
    }
    priv = createPrivateKey({ key: Buffer.concat([m.pkcs8, privateKey]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
    publicValue = Buffer.from(spki.subarray(spki.length - group.keBytes));
  } else {
    // Raw keys through JWK (RFC 8037): node imports and exports them several times faster than DER.
    const pair = m.type === 'x25519' ? generateKeyPairSync('x25519') : generateKeyPairSync('x448');
    priv = pair.privateKey;
    publicValue = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  }
  return {
    group,
    publicValue,
    computeShared(peer) {
      checkLength(group, peer);
      let shared: Buffer;
      try {
        const pub = createPublicKey({ key: { kty: 'OKP', crv, x: peer.toString('base64url') }, format: 'jwk' });
        shared = diffieHellman({ privateKey: priv, publicKey: pub });
      } catch {
        // OpenSSL refuses to return an all-zero X25519/X448 output (a low-order peer point).
        throw new DhError('all-zero-shared', `${group.id}: shared secret is all zero (RFC 8031 §2)`);
      }
      if (shared.every((b) => b === 0)) {
        throw new DhError('all-zero-shared', `${group.id}: shared secret is all zero (RFC 8031 §2)`);
      }
      return shared;
    },
  };
}
