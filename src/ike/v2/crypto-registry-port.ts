/**
 * The IkeCryptoPort over tanuki's own crypto layer: algorithm numbers, sizes
 * and PF_KEY numbers from src/crypto/registry.ts, primitives from
 * src/crypto/{aead,cipher,mac,prf,dh}.ts. This is the port the daemon hands to
 * the engine.
 */
import { createHash } from 'node:crypto';
import { createAead } from '../../crypto/aead';
import { createCipher } from '../../crypto/cipher';
import { createDh } from '../../crypto/dh';
import { createMac } from '../../crypto/mac';
import { createPrf } from '../../crypto/prf';
import { DhGroup, findAlgorithm, keymatBytes } from '../../crypto/registry';
import type { DhLike, DhSuite, EncrSuite, IkeCryptoPort, IntegSuite, PrfSuite } from './crypto-port';

/** RFC 7296 §2.14 / strongSwan keymat_v2: AES-XCBC/CMAC PRFs take 64 bits of each nonce as SKEYSEED key. */
const FIXED_KEY_PRF_BYTES = 16;

/** Private key octets we draw for a group (RFC 3526 §8: exponents of twice the security strength). */
function privateKeyBytes(g: DhGroup): number {
  switch (g.type) {
    case 'modp':
    case 'modp-subgroup':
      return 64;
    case 'ecp':
    case 'ecp-brainpool':
      return Math.ceil(g.bits / 8);
    default:
      return g.keBytes; // Curve25519 / Curve448 (RFC 7748 §6 clamps inside)
  }
}

function dhCreate(g: DhGroup, priv: Buffer): DhLike {
  let key = priv;
  if ((g.type === 'ecp' || g.type === 'ecp-brainpool') && g.bits % 8 !== 0) {
    key = Buffer.from(priv);
    key[0] &= (1 << g.bits % 8) - 1; // P-521: 521 bits in 66 octets
  }
  try {
    return createDh(g, key);
  } catch {
    // a scalar >= the group order (probability ~2^-32 for P-256): let the library draw one
    return createDh(g);
  }
}

/**
 * `injectDhKeys`: use the engine's injected private key material (deterministic
 * tests) instead of letting src/crypto generate the key pair, which is several
 * times faster for Curve25519/448 (no PKCS#8 import).
 */
export function createRegistryCryptoPort(opts: { injectDhKeys: boolean }): IkeCryptoPort {
  // suites are stateless descriptors: one per algorithm, shared by every SA
  const cache = new Map<string, unknown>();
  const memo = <T>(key: string, make: () => T): T => {
    if (!cache.has(key)) cache.set(key, make());
    return cache.get(key) as T;
  };
  return {
    ...basePort,
    encr: (id, bits) => memo(`e${id}/${bits}`, () => basePort.encr(id, bits)),
    integ: (id) => memo(`i${id}`, () => basePort.integ(id)),
    prf: (id) => memo(`p${id}`, () => basePort.prf(id)),
    dh: (group) => memo(`d${group}`, () => dhSuite(group, opts.injectDhKeys)),
  };
}

function dhSuite(group: number, inject: boolean): DhSuite | null {
  const g = findAlgorithm('dh', 'ikev2', group);
  if (!g || !g.implemented) return null;
  return { name: g.id, privateKeyBytes: inject ? privateKeyBytes(g) : 0, create: (priv) => (inject ? dhCreate(g, priv) : createDh(g)) };
}

const basePort: IkeCryptoPort = {
  encr(id, keyBits): EncrSuite | null {
    const alg = findAlgorithm('encr', 'ikev2', id);
    if (!alg || !alg.implemented) return null;
    const bits = keyBits ?? (alg.keyLengthAttribute ? undefined : alg.defaultKeyBits);
    if (bits === undefined || !alg.keyBits.includes(bits)) return null;
    if (alg.aead)
      return {
        aead: true,
        name: alg.id,
        keyBytes: bits / 8,
        saltBytes: alg.saltBytes,
        ivBytes: alg.ivBytes,
        icvBytes: alg.icvBytes,
        blockBytes: alg.blockBytes,
        ikeAllowed: alg.ike,
        create: (key) => createAead(alg, key),
      };
    return {
      aead: false,
      name: alg.id,
      keyBytes: keymatBytes(alg, bits),
      ivBytes: alg.ivBytes,
      blockBytes: alg.blockBytes,
      ikeAllowed: alg.ike,
      create: (key) => createCipher(alg, key),
    };
  },
  integ(id): IntegSuite | null {
    const alg = findAlgorithm('integ', 'ikev2', id);
    if (!alg || !alg.implemented || alg.mode === 'none') return null;
    return { name: alg.id, keyBytes: alg.keyBytes, icvBytes: alg.icvBytes, create: (key) => createMac(alg, key) };
  },
  prf(id): PrfSuite | null {
    const alg = findAlgorithm('prf', 'ikev2', id);
    if (!alg || !alg.implemented) return null;
    const prf = createPrf(alg);
    return alg.mode === 'xcbc' || alg.mode === 'cmac' ? { name: alg.id, prf, fixedKeyBytes: FIXED_KEY_PRF_BYTES } : { name: alg.id, prf };
  },
  dh: (group) => dhSuite(group, true),
  espEncr(id, keyBits) {
    const alg = findAlgorithm('encr', 'ikev2', id);
    if (!alg || !alg.implemented || alg.sadb === null) return null;
    const bits = keyBits ?? (alg.keyLengthAttribute ? undefined : alg.defaultKeyBits);
    if (bits === undefined || !alg.keyBits.includes(bits)) return null;
    return { sadbEalg: alg.sadb, keyBytes: keymatBytes(alg, bits) };
  },
  espInteg(id) {
    const alg = findAlgorithm('integ', 'ikev2', id);
    if (!alg || !alg.implemented || alg.sadb === null) return null;
    return { sadbAalg: alg.sadb, keyBytes: alg.keyBytes };
  },
  // RFC 7296 §2.23 fixes SHA-1 for NAT detection; src/crypto has no plain hash primitive yet
  sha1: (data) => createHash('sha1').update(data).digest(),
};

/** The port the daemon uses: DH key pairs generated by src/crypto. */
export const registryCryptoPort: IkeCryptoPort = createRegistryCryptoPort({ injectDhKeys: false });
/** The same with the engine's injected DH private keys, for deterministic tests. */
export const deterministicRegistryCryptoPort: IkeCryptoPort = createRegistryCryptoPort({ injectDhKeys: true });
