/**
 * Typed errors of the crypto layer. Primitives never let a raw OpenSSL exception escape:
 * every failure is one of these, with a code a caller can switch on.
 */

export type CryptoErrorCode =
  | 'bad-key-length' // key (incl. salt) does not match the algorithm
  | 'bad-iv-length' // IV length differs from the algorithm's ivBytes
  | 'bad-data-length' // block cipher input is not a multiple of the block size
  | 'output-too-long' // prf+ asked for more than 255 blocks (RFC 7296 §2.13)
  | 'unimplemented' // the registry row exists but tanuki has no primitive for it
  | 'wrong-algorithm' // e.g. createAead on a non-AEAD row
  | 'backend'; // the OpenSSL / FFI backend failed unexpectedly

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Run an OpenSSL-backed call and turn any exception into a CryptoError('backend'). */
export function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new CryptoError('backend', `${what}: ${msg}`);
  }
}
