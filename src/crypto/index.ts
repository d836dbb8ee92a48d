/**
 * src/crypto in one import: the algorithm registry and the primitives behind it.
 * (The libcrypto fast path lives in ./openssl-aead and is opted into with enableFastAead().)
 */
export * from './registry';
export * from './errors';
export { type Aead, createAead, createNodeAead } from './aead';
export { type BlockCipher, createCipher } from './cipher';
export { type Mac, createMac } from './mac';
export { type Prf, createPrf, prfPlus } from './prf';
export { type DhExchange, type DhErrorCode, DhError, createDh, dhPrivateKeyBytes, modpPrime } from './dh';
