/**
 * Test PKI for IKEv1 RSA signatures: a root CA, an intermediate CA and leaf
 * certificates carrying the subjectAltNames the IKEv1 ID types need (iPAddress
 * for IPV4_ADDR, dNSName for FQDN, rfc822Name for USER_FQDN); RSA keys from
 * node:crypto, certificates signed with node-forge.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface Leaf {
  keyPem: string;
  certDer: Buffer;
  /** DER of the subject Name (for DER_ASN1_DN) */
  subjectDer: Buffer;
  /** SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 (1), for KEY_ID) */
  keyId: Buffer;
}

interface Key {
  pem: string;
  priv: forge.pki.rsa.PrivateKey;
  pub: forge.pki.rsa.PublicKey;
}

function rsaKey(): Key {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem);
  return { pem, priv, pub: forge.pki.setRsaPublicKey(priv.n, priv.e) };
}

let serial = 0x20;
function cert(cn: string, key: Key, issuer: { cn: string; key: Key }, opts: { ca?: boolean; alt?: { type: number; value?: string; ip?: string }[] }): Buffer {
  const c = forge.pki.createCertificate();
  c.publicKey = key.pub;
  c.serialNumber = (serial++).toString(16).padStart(2, '0');
  c.validity.notBefore = new Date('2024-01-01T00:00:00Z');
  c.validity.notAfter = new Date('2034-01-01T00:00:00Z');
  c.setSubject([{ name: 'organizationName', value: 'tanuki' }, { name: 'commonName', value: cn }]);
  c.setIssuer([{ name: 'organizationName', value: 'tanuki' }, { name: 'commonName', value: issuer.cn }]);
  const ext: object[] = [{ name: 'basicConstraints', cA: !!opts.ca }];
  if (opts.ca) ext.push({ name: 'keyUsage', keyCertSign: true, digitalSignature: true });
  if (opts.alt) ext.push({ name: 'subjectAltName', altNames: opts.alt });
  c.setExtensions(ext);
  c.sign(issuer.key.priv, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(c)).getBytes(), 'binary');
}

function subjectDer(certDer: Buffer): Buffer {
  const c = forge.pki.certificateFromAsn1(forge.asn1.fromDer(certDer.toString('binary')));
  return Buffer.from(forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(c.subject)).getBytes(), 'binary');
}

function keyId(key: Key): Buffer {
  // subjectPublicKey BIT STRING contents = the PKCS#1 RSAPublicKey DER
  const rsaPub = forge.asn1.toDer(forge.pki.publicKeyToRSAPublicKey(key.pub)).getBytes();
  return createHash('sha1').update(Buffer.from(rsaPub, 'binary')).digest();
}

export interface V1Pki {
  root: Buffer;
  intermediate: Buffer;
  otherRoot: Buffer;
  /** issued by the intermediate: 10.0.0.1, gw-a.test, a@tanuki.test */
  a: Leaf;
  /** issued by the intermediate: 10.0.0.2, gw-b.test, b@tanuki.test */
  b: Leaf;
  /** b's key, issued by an untrusted root */
  rogueB: Leaf;
}

export function v1Pki(): V1Pki {
  const rootKey = rsaKey();
  const interKey = rsaKey();
  const otherKey = rsaKey();
  const root = cert('tanuki root CA', rootKey, { cn: 'tanuki root CA', key: rootKey }, { ca: true });
  const intermediate = cert('tanuki intermediate CA', interKey, { cn: 'tanuki root CA', key: rootKey }, { ca: true });
  const otherRoot = cert('rogue CA', otherKey, { cn: 'rogue CA', key: otherKey }, { ca: true });
  const leaf = (name: string, ip: string, issuer: { cn: string; key: Key }, key = rsaKey()): Leaf => {
    const der = cert(name, key, issuer, { alt: [{ type: 7, ip }, { type: 2, value: `gw-${name}.test` }, { type: 1, value: `${name}@tanuki.test` }] });
    return { keyPem: key.pem, certDer: der, subjectDer: subjectDer(der), keyId: keyId(key) };
  };
  const bKey = rsaKey();
  return {
    root,
    intermediate,
    otherRoot,
    a: leaf('a', '10.0.0.1', { cn: 'tanuki intermediate CA', key: interKey }),
    b: leaf('b', '10.0.0.2', { cn: 'tanuki intermediate CA', key: interKey }, bKey),
    rogueB: leaf('b', '10.0.0.2', { cn: 'rogue CA', key: otherKey }, bKey),
  };
}
