/**
 * The CryptoProvider ESP and AH use in tanuki: src/crypto's primitives behind
 * the registry rows. (Tests of the framing may inject another provider.)
 *
 * The libcrypto fast path (src/crypto/openssl-aead.ts: one keyed EVP_CIPHER_CTX /
 * HMAC_CTX per SA reused through koffi, and whole ESP packets sealed and opened in
 * batches) is the default: it is switched on the first time this provider builds an
 * SA's contexts. Where it cannot work (no koffi binary, no libcrypto.so.3, no C
 * compiler) or when TANUKI_CRYPTO=node is set, node:crypto is used and the reason
 * is reported once. Both produce identical packets (test/xform/fast-path.test.ts).
 */
import { createAead } from '../crypto/aead';
import { createCipher } from '../crypto/cipher';
import { createMac } from '../crypto/mac';
import { enableFastCrypto, type FastAeadStatus } from '../crypto/openssl-aead';
import type { EncrAlg, IntegAlg } from '../crypto/registry';
import type { CryptoProvider } from './sa';

/** Environment switch: `TANUKI_CRYPTO=node` keeps every SA on node:crypto. */
export const CRYPTO_BACKEND_ENV = 'TANUKI_CRYPTO';

let chosen: FastAeadStatus | null = null;
let report: (status: FastAeadStatus) => void = (status) => {
  process.emitWarning(`ESP/AH crypto runs on node:crypto: ${status.reason}`, { code: 'TANUKI_CRYPTO_FALLBACK' });
};

/**
 * Pick the crypto backend once per process (idempotent): the libcrypto fast path unless
 * TANUKI_CRYPTO=node or it is unavailable. A fallback is reported once through the
 * reporter (setCryptoBackendReporter; by default a process warning).
 */
export function selectCryptoBackend(): FastAeadStatus {
  if (chosen) return chosen;
  const want = process.env[CRYPTO_BACKEND_ENV];
  chosen = want === 'node' ? { enabled: false, reason: `${CRYPTO_BACKEND_ENV}=node` } : enableFastCrypto();
  if (!chosen.enabled) report(chosen);
  return chosen;
}

/** Where the one fallback report goes (the data plane passes its logger). */
export function setCryptoBackendReporter(r: (status: FastAeadStatus) => void): void {
  report = r;
}

export const registryProvider: CryptoProvider<EncrAlg, IntegAlg> = {
  createAead: (alg, key) => {
    selectCryptoBackend();
    return createAead(alg, key);
  },
  createCipher: (alg, key) => {
    selectCryptoBackend();
    return createCipher(alg, key);
  },
  createMac: (alg, key) => {
    selectCryptoBackend();
    return createMac(alg, key);
  },
};
