/**
 * An IkeCryptoPort over node:crypto (+ @noble/curves for X25519), independent
 * of src/crypto, used by the IKEv2 tests. Supports the algorithm set the
 * issue's interop matrix uses: AES-CBC, AES-GCM-16, ChaCha20-Poly1305,
 * HMAC-SHA1/SHA2, PRF HMAC-SHA1/SHA2, MODP 2048, ECP 256, Curve25519.
 */
import * as nc from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519';
import type { IkeCryptoPort, EncrSuite, IntegSuite, PrfSuite, DhSuite, RandomSource } from '../../../src/ike/v2/crypto-port';
import { SadbAalg, SadbEalg } from '../../../src/pfkey/constants';

const HASH: Record<number, { name: string; bytes: number; icv: number }> = {
  2: { name: 'sha1', bytes: 20, icv: 12 }, // AUTH_HMAC_SHA1_96
  12: { name: 'sha256', bytes: 32, icv: 16 }, // AUTH_HMAC_SHA2_256_128
  13: { name: 'sha384', bytes: 48, icv: 24 },
  14: { name: 'sha512', bytes: 64, icv: 32 },
};
const PRF_HASH: Record<number, string> = { 2: 'sha1', 5: 'sha256', 6: 'sha384', 7: 'sha512' };

function gcmLike(cipherName: (keyBytes: number) => string, keyBytes: number): EncrSuite {
  return {
    aead: true,
    name: cipherName(keyBytes),
    keyBytes,
    saltBytes: 4,
    ivBytes: 8,
    icvBytes: 16,
    blockBytes: 1,
    create(key) {
      const k = key.subarray(0, keyBytes);
      const salt = key.subarray(keyBytes);
      const alg = cipherName(keyBytes) as nc.CipherGCMTypes;
      return {
        icvBytes: 16,
        seal(iv, aad, pt) {
          const c = nc.createCipheriv(alg, k, Buffer.concat([salt, iv]), { authTagLength: 16 });
          c.setAAD(aad);
          return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
        },
        open(iv, aad, ct) {
          if (ct.length < 16) return null;
          try {
            const d = nc.createDecipheriv(alg, k, Buffer.concat([salt, iv]), { authTagLength: 16 });
            d.setAAD(aad);
            d.setAuthTag(ct.subarray(ct.length - 16));
            return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
          } catch {
            return null;
          }
        },
      };
    },
  };
}

export const nodeCryptoPort: IkeCryptoPort = {
  encr(id, keyBits) {
    if (id === 12) {
      const kb = (keyBits ?? 0) / 8;
      if (![16, 24, 32].includes(kb)) return null;
      const alg = `aes-${kb * 8}-cbc`;
      return {
        aead: false,
        name: alg,
        keyBytes: kb,
        ivBytes: 16,
        blockBytes: 16,
        create(key) {
          return {
            blockBytes: 16,
            ivBytes: 16,
            encrypt(iv, data) {
              const c = nc.createCipheriv(alg, key, iv).setAutoPadding(false);
              return Buffer.concat([c.update(data), c.final()]);
            },
            decrypt(iv, data) {
              const d = nc.createDecipheriv(alg, key, iv).setAutoPadding(false);
              return Buffer.concat([d.update(data), d.final()]);
            },
          };
        },
      };
    }
    if (id === 20) {
      const kb = (keyBits ?? 0) / 8;
      if (![16, 24, 32].includes(kb)) return null;
      return gcmLike((n) => `aes-${n * 8}-gcm`, kb);
    }
    if (id === 28) {
      if (keyBits !== undefined && keyBits !== 256) return null;
      return gcmLike(() => 'chacha20-poly1305', 32);
    }
    return null;
  },
  integ(id): IntegSuite | null {
    const h = HASH[id];
    if (!h) return null;
    return {
      name: `hmac-${h.name}`,
      keyBytes: h.bytes,
      icvBytes: h.icv,
      create: (key) => ({
        icvBytes: h.icv,
        compute: (...parts) => {
          const m = nc.createHmac(h.name, key);
          for (const p of parts) m.update(p);
          return m.digest().subarray(0, h.icv);
        },
      }),
    };
  },
  prf(id): PrfSuite | null {
    const name = PRF_HASH[id];
    if (!name) return null;
    const out = nc.createHash(name).digest().length;
    return { name: `prfhmac-${name}`, prf: { outBytes: out, compute: (k, d) => nc.createHmac(name, k).update(d).digest() } };
  },
  dh(group): DhSuite | null {
    if (group === 31)
      return {
        name: 'curve25519',
        privateKeyBytes: 32,
        create(priv) {
          const pub = Buffer.from(x25519.getPublicKey(priv));
          return {
            publicValue: pub,
            computeShared(peer) {
              if (peer.length !== 32) throw new RangeError('x25519 public value must be 32 octets');
              const s = Buffer.from(x25519.getSharedSecret(priv, peer));
              if (s.every((b) => b === 0)) throw new RangeError('all-zero x25519 shared secret (RFC 8031 §2)');
              return s;
            },
          };
        },
      };
    if (group === 19)
      return {
        name: 'ecp256',
        privateKeyBytes: 32,
        create(priv) {
          const e = nc.createECDH('prime256v1');
          e.setPrivateKey(priv);
          const pub = e.getPublicKey().subarray(1);
          return {
            publicValue: Buffer.from(pub),
            computeShared(peer) {
              if (peer.length !== 64) throw new RangeError('ecp256 public value must be 64 octets (RFC 5903)');
              return e.computeSecret(Buffer.concat([Buffer.from([4]), peer]));
            },
          };
        },
      };
    if (group === 14) {
      const ref = nc.getDiffieHellman('modp14');
      const p = BigInt('0x' + ref.getPrime('hex'));
      return {
        name: 'modp2048',
        privateKeyBytes: 32,
        create(priv) {
          const x = BigInt('0x' + priv.toString('hex'));
          const pub = modPow(2n, x, p);
          const toBuf = (v: bigint) => Buffer.from(v.toString(16).padStart(512, '0'), 'hex');
          return {
            publicValue: toBuf(pub),
            computeShared(peer) {
              const y = BigInt('0x' + (peer.toString('hex') || '0'));
              if (peer.length !== 256 || y <= 1n || y >= p - 1n) throw new RangeError('MODP public value out of range (RFC 6989 §2.1)');
              return toBuf(modPow(y, x, p));
            },
          };
        },
      };
    }
    return null;
  },
  espEncr(id, keyBits) {
    if (id === 12 && keyBits) return { sadbEalg: SadbEalg.AESCBC, keyBytes: keyBits / 8 };
    if (id === 20 && keyBits) return { sadbEalg: SadbEalg.AES_GCM_ICV16, keyBytes: keyBits / 8 + 4 };
    return null;
  },
  sha1: (d) => nc.createHash('sha1').update(d).digest(),
  espInteg(id) {
    if (id === 12) return { sadbAalg: SadbAalg.SHA2_256HMAC, keyBytes: 32 };
    if (id === 2) return { sadbAalg: SadbAalg.SHA1HMAC, keyBytes: 20 };
    return null;
  },
};

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** Deterministic randomness for tests: a SHA-256 counter stream from a seed. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return {
    bytes(n) {
      const out: Buffer[] = [];
      let have = 0;
      while (have < n) {
        const b = nc.createHash('sha256').update(`${seed}/${counter++}`).digest();
        out.push(b);
        have += b.length;
      }
      return Buffer.concat(out).subarray(0, n);
    },
  };
}
