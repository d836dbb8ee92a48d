/**
 * What the IKEv2 engine needs from cryptography, as interfaces shaped like
 * src/crypto's primitives (createAead/createCipher/createMac/createPrf/createDh).
 * The engine is handed an IkeCryptoPort; crypto-registry-port.ts builds one
 * from src/crypto's registry, tests may build an independent one. Randomness is
 * a separate injected port so that tests are deterministic.
 */

export interface AeadLike {
  readonly icvBytes: number;
  /** returns ciphertext || ICV */
  seal(iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer;
  /** null when the ICV does not verify */
  open(iv: Buffer, aad: Buffer, ciphertextAndIcv: Buffer): Buffer | null;
}
export interface CipherLike {
  readonly blockBytes: number;
  readonly ivBytes: number;
  encrypt(iv: Buffer, data: Buffer): Buffer;
  decrypt(iv: Buffer, data: Buffer): Buffer;
}
export interface MacLike {
  readonly icvBytes: number;
  /** the (truncated) ICV over the concatenation of parts */
  compute(...parts: Buffer[]): Buffer;
}
export interface PrfLike {
  readonly outBytes: number;
  compute(key: Buffer, data: Buffer): Buffer;
}
export interface DhLike {
  readonly publicValue: Buffer;
  /** throws on an invalid peer value (RFC 6989 / RFC 8031 checks) */
  computeShared(peer: Buffer): Buffer;
}

/** An ENCR transform (RFC 7296 §3.3.2) with the key length attribute applied. */
export type EncrSuite =
  | {
      aead: true;
      name: string;
      /** key octets without the salt */
      keyBytes: number;
      saltBytes: number;
      /** explicit IV octets carried in the SK payload (8 for RFC 5282 / RFC 7634) */
      ivBytes: number;
      icvBytes: number;
      /** padding granularity of the SK plaintext */
      blockBytes: number;
      /** false for transforms that must not protect an IKE SA (RFC 4543 §5) */
      ikeAllowed?: boolean;
      /** key = keyBytes || salt */
      create(key: Buffer): AeadLike;
    }
  | {
      aead: false;
      name: string;
      keyBytes: number;
      ivBytes: number;
      blockBytes: number;
      /** false for ENCR_NULL (RFC 7296 §3.3.2: not for IKE) */
      ikeAllowed?: boolean;
      create(key: Buffer): CipherLike;
    };

export interface IntegSuite {
  name: string;
  keyBytes: number;
  icvBytes: number;
  create(key: Buffer): MacLike;
}

export interface PrfSuite {
  name: string;
  prf: PrfLike;
  /** set for PRFs with a fixed key size (AES-XCBC/CMAC): RFC 7296 §2.14 nonce split */
  fixedKeyBytes?: number;
}

export interface DhSuite {
  name: string;
  /** octets of random private key material createDh expects */
  privateKeyBytes: number;
  create(privateKey: Buffer): DhLike;
}

/** PF_KEY numbers of an ESP/AH transform, for SADB_UPDATE/ADD. */
export interface KernelEncr {
  sadbEalg: number;
  /** key octets sent in SADB_EXT_KEY_ENCRYPT (including the AEAD salt) */
  keyBytes: number;
}
export interface KernelInteg {
  sadbAalg: number;
  keyBytes: number;
}

export interface IkeCryptoPort {
  encr(transformId: number, keyBits: number | undefined): EncrSuite | null;
  integ(transformId: number): IntegSuite | null;
  prf(transformId: number): PrfSuite | null;
  dh(group: number): DhSuite | null;
  /** ESP encryption transform as the kernel knows it; null = the kernel cannot do it */
  espEncr(transformId: number, keyBits: number | undefined): KernelEncr | null;
  espInteg(transformId: number): KernelInteg | null;
  /** SHA-1, for NAT_DETECTION_*_IP (RFC 7296 §2.23 fixes the hash) */
  sha1(data: Buffer): Buffer;
}

/** Injected randomness: SPIs, nonces, IVs, DH private keys. */
export interface RandomSource {
  bytes(n: number): Buffer;
}
