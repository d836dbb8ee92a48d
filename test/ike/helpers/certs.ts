/** Test PKI: RSA keys from node:crypto, certificates built and signed with node-forge. */
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface TestIdentity {
  keyPem: string;
  certDer: Buffer;
}

function rsaKey(): { pem: string; forgeKey: forge.pki.rsa.PrivateKey; forgePub: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  return { pem, forgeKey, forgePub: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function certificate(
  subjectCn: string,
  pub: forge.pki.rsa.PublicKey,
  issuer: { cn: string; key: forge.pki.rsa.PrivateKey },
  serial: string,
  opts: { ca?: boolean; dns?: string },
): Buffer {
  const c = forge.pki.createCertificate();
  c.publicKey = pub;
  c.serialNumber = serial;
  c.validity.notBefore = new Date('2024-01-01T00:00:00Z');
  c.validity.notAfter = new Date('2034-01-01T00:00:00Z');
  c.setSubject([{ name: 'commonName', value: subjectCn }]);
  c.setIssuer([{ name: 'commonName', value: issuer.cn }]);
  const ext: object[] = [{ name: 'basicConstraints', cA: !!opts.ca }];
  if (opts.ca) ext.push({ name: 'keyUsage', keyCertSign: true, digitalSignature: true });
  if (opts.dns) ext.push({ name: 'subjectAltName', altNames: [{ type: 2, value: opts.dns }] });
  c.setExtensions(ext);
  c.sign(issuer.key, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(c)).getBytes(), 'binary');
}

export function testPki(): { ca: Buffer; otherCa: Buffer; a: TestIdentity; b: TestIdentity; rogueB: TestIdentity } {
  const caKey = rsaKey();
  const otherKey = rsaKey();
  const aKey = rsaKey();
  const bKey = rsaKey();
  const ca = certificate('tanuki test CA', caKey.forgePub, { cn: 'tanuki test CA', key: caKey.forgeKey }, '01', { ca: true });
  const otherCa = certificate('rogue CA', otherKey.forgePub, { cn: 'rogue CA', key: otherKey.forgeKey }, '02', { ca: true });
  return {
    ca,
    otherCa,
    a: { keyPem: aKey.pem, certDer: certificate('a.test', aKey.forgePub, { cn: 'tanuki test CA', key: caKey.forgeKey }, '10', { dns: 'a.test' }) },
    b: { keyPem: bKey.pem, certDer: certificate('b.test', bKey.forgePub, { cn: 'tanuki test CA', key: caKey.forgeKey }, '11', { dns: 'b.test' }) },
    rogueB: { keyPem: bKey.pem, certDer: certificate('b.test', bKey.forgePub, { cn: 'rogue CA', key: otherKey.forgeKey }, '12', { dns: 'b.test' }) },
  };
}
