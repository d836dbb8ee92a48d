/**
 * PubkeyPort over node:crypto (OpenSSL): X.509 parsing and chain checks with
 * X509Certificate, RFC 7427 signatures with sign/verify. RSA PKCS#1 v1.5 and
 * ECDSA (DER ECDSA-Sig-Value) with SHA-2 are produced; those and RSASSA-PSS
 * with SHA-256 (the RFC 7427 Appendix A.4.1 AlgorithmIdentifier) are verified.
 * (Candidate for src/crypto once it has a signature primitive.)
 */
import { X509Certificate, constants, createHash, createPrivateKey, sign, verify } from 'node:crypto';
import { formatIp } from '../../util/ip';
import { IdType } from './constants';
import { certificatePublicKeyBits, certificateSubject, sameName } from './der';
import type { PubkeyPort, SignatureHash } from './pubkey';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** RFC 7427 Appendix A AlgorithmIdentifier DER encodings. */
const ALGORITHM_IDS: { der: Buffer; key: 'rsa' | 'ec' | 'rsa-pss'; hash: SignatureHash }[] = [
  { der: hex('300d06092a864886f70d01010b0500'), key: 'rsa', hash: 'sha256' }, // A.1.2 sha256WithRSAEncryption
  { der: hex('300d06092a864886f70d01010c0500'), key: 'rsa', hash: 'sha384' }, // A.1.3
  { der: hex('300d06092a864886f70d01010d0500'), key: 'rsa', hash: 'sha512' }, // A.1.4
  { der: hex('300a06082a8648ce3d040302'), key: 'ec', hash: 'sha256' }, // A.3.1 ecdsa-with-sha256
  { der: hex('300a06082a8648ce3d040303'), key: 'ec', hash: 'sha384' }, // A.3.2
  { der: hex('300a06082a8648ce3d040304'), key: 'ec', hash: 'sha512' }, // A.3.3
  {
    // A.4.1 RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32
    der: hex(
      '3046 06092a864886f70d01010a 3039 a00f300d0609608648016503040201 0500 a11c301a06092a864886f70d010108300d0609608648016503040201 0500 a203020120',
    ),
    key: 'rsa-pss',
    hash: 'sha256',
  },
];

function cert(der: Buffer): X509Certificate | null {
  try {
    return new X509Certificate(der);
  } catch {
    return null;
  }
}

export const nodePubkeyPort: PubkeyPort = {
  sign(pem, hash, octets) {
    try {
      const key = createPrivateKey(pem);
      const type = key.asymmetricKeyType === 'ec' ? 'ec' : key.asymmetricKeyType === 'rsa' ? 'rsa' : null;
      const alg = ALGORITHM_IDS.find((a) => a.key === type && a.hash === hash);
      if (!type || !alg) return null;
      const sig = sign(hash, octets, { key, dsaEncoding: 'der' });
      return Buffer.concat([Buffer.from([alg.der.length]), alg.der, sig]);
    } catch {
      return null;
    }
  },
  verify(certDer, authData, octets) {
    const c = cert(certDer);
    if (!c || authData.length < 1) return false;
    const len = authData[0];
    const algDer = authData.subarray(1, 1 + len);
    const sig = authData.subarray(1 + len);
    const alg = ALGORITHM_IDS.find((a) => a.der.equals(algDer));
    if (!alg || sig.length === 0) return false;
    const keyType = c.publicKey.asymmetricKeyType;
    try {
      if (alg.key === 'ec' && keyType === 'ec') return verify(alg.hash, octets, { key: c.publicKey, dsaEncoding: 'der' }, sig);
      if (alg.key === 'rsa' && keyType === 'rsa') return verify(alg.hash, octets, c.publicKey, sig);
      if (alg.key === 'rsa-pss' && (keyType === 'rsa' || keyType === 'rsa-pss'))
        return verify(alg.hash, octets, { key: c.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
    } catch {
      return false;
    }
    return false;
  },
  validateChain(chain, trusted) {
    const certs = chain.map(cert);
    if (certs.length === 0 || certs.some((c) => c === null)) return 'unparsable certificate';
    const anchors = trusted.map(cert).filter((c): c is X509Certificate => c !== null);
    let current = certs[0]!;
    const pool = certs.slice(1) as X509Certificate[];
    for (let depth = 0; depth < 8; depth++) {
      const anchor = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
      if (anchor) return null;
      const next = pool.find((p) => current.checkIssued(p) && current.verify(p.publicKey) && p.ca);
      if (!next) return `no trusted issuer for "${current.subject.replace(/\n/g, ', ')}"`;
      current = next;
    }
    return 'certificate chain too long';
  },
  certMatchesId(certDer, idType, idData) {
    const c = cert(certDer);
    if (!c) return false;
    switch (idType) {
      case IdType.ID_FQDN:
        return c.checkHost(idData.toString('utf8'), { subject: 'never', wildcards: false }) !== undefined;
      case IdType.ID_RFC822_ADDR:
        return c.checkEmail(idData.toString('utf8'), { subject: 'never' }) !== undefined;
      case IdType.ID_IPV4_ADDR:
      case IdType.ID_IPV6_ADDR:
        return (idData.length === 4 || idData.length === 16) && c.checkIP(formatIp(idData)) !== undefined;
      case IdType.ID_DER_ASN1_DN: {
        // RFC 7296 §3.5 / RFC 4945 §3.1.5: the ID is the certificate's subject DN
        const subject = certificateSubject(certDer);
        return subject !== null && sameName(subject, idData);
      }
      case IdType.ID_KEY_ID: {
        // an opaque ID; a certificate names it when it is the RFC 5280 §4.2.1.2 (1) key identifier
        const bits = certificatePublicKeyBits(certDer);
        return bits !== null && createHash('sha1').update(bits).digest().equals(idData);
      }
      default:
        return false;
    }
  },
  caKeyId(caDer) {
    const c = cert(caDer);
    if (!c) return null;
    return createHash('sha1').update(c.publicKey.export({ type: 'spki', format: 'der' })).digest();
  },
};
