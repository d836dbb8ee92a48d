/**
 * Public-key authentication (RFC 7296 §2.15 with RFC 7427 digital signatures,
 * CERT/CERTREQ §3.6/§3.7): what the engine needs, as an injected port.
 * x509-node-port.ts implements it with node:crypto's X509Certificate.
 */

export type SignatureHash = 'sha256' | 'sha384' | 'sha512';

export interface PubkeyPort {
  /** RFC 7427 §3 AUTH data (length | AlgorithmIdentifier | signature) over `octets`; null if the key cannot sign */
  sign(privateKeyPem: string, hash: SignatureHash, octets: Buffer): Buffer | null;
  /** verify RFC 7427 AUTH data with the public key of the end-entity certificate */
  verify(certDer: Buffer, authData: Buffer, octets: Buffer): boolean;
  /** `chain`: end-entity first, then intermediates; null when it chains to one of `trusted`, else why not */
  validateChain(chain: Buffer[], trusted: Buffer[]): string | null;
  /** the certificate names this IKE identity (subjectAltName dNSName / rfc822Name / iPAddress, subject DN, SHA-1 key identifier) */
  certMatchesId(certDer: Buffer, idType: number, idData: Buffer): boolean;
  /** SHA-1 of the CA's SubjectPublicKeyInfo: the CERTREQ Certification Authority value (RFC 7296 §3.7) */
  caKeyId(caDer: Buffer): Buffer | null;
}
