/**
 * RSA signatures of IKEv1 phase 1 (RFC 2409 §5.1): SIG_I / SIG_R are the raw
 * HASH_I / HASH_R under the signer's private key with PKCS#1 v1.5 block type 1
 * padding and *no* DigestInfo — what racoon (eay_get_x509sign, RSA_private_encrypt)
 * and strongSwan (SIGN_RSA_EMSA_PKCS1_NULL) do. Certificates travel as CERT
 * payloads of encoding 4 (X.509 Certificate - Signature, RFC 2408 §3.9); a CR
 * names a CA by its subject DN (RFC 2408 §3.10).
 */
import { X509Certificate, constants, createPrivateKey, privateEncrypt, publicDecrypt } from 'node:crypto';

/** RFC 2408 §3.9 Certificate Encoding: X.509 Certificate - Signature. */
export const CERT_X509_SIGNATURE = 4;

export function rsaSignHash(privateKeyPem: string, hash: Buffer): Buffer | null {
  try {
    const key = createPrivateKey(privateKeyPem);
    if (key.asymmetricKeyType !== 'rsa') return null;
    return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, hash);
  } catch {
    return null;
  }
}

export function rsaVerifyHash(certDer: Buffer, hash: Buffer, signature: Buffer): boolean {
  try {
    const cert = new X509Certificate(certDer);
    if (cert.publicKey.asymmetricKeyType !== 'rsa') return false;
    const recovered = publicDecrypt({ key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    return recovered.equals(hash);
  } catch {
    return false;
  }
}
