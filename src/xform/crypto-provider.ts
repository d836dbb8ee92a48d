/**
 * The CryptoProvider ESP and AH use in tanuki: src/crypto's primitives behind
 * the registry rows. (Tests of the framing may inject another provider.)
 */
import { createAead } from '../crypto/aead';
import { createCipher } from '../crypto/cipher';
import { createMac } from '../crypto/mac';
import type { EncrAlg, IntegAlg } from '../crypto/registry';
import type { CryptoProvider } from './sa';

export const registryProvider: CryptoProvider<EncrAlg, IntegAlg> = {
  createAead: (alg, key) => createAead(alg, key),
  createCipher: (alg, key) => createCipher(alg, key),
  createMac: (alg, key) => createMac(alg, key),
};
