/**
 * src/daemon/certs.ts: racoon.conf certificate directives (certificate_type
 * x509, ca_type x509, peers_certfile x509, verify_cert, send_cert, send_cr,
 * path certificate, authentication_method rsasig|ecdsa_sig) become the
 * material for RFC 7427 authentication, and every bad file is named with
 * what is wrong with it. Also the ID_DER_ASN1_DN / ID_KEY_ID certificate
 * matching of RFC 7296 §3.5 / RFC 4945 §3.1.5 used with `my_identifier asn1dn`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRacoonConfigText, type RacoonConfig } from '../../../src/config/racoon';
import { dnToDer } from '../../../src/config/racoon/ids';
import { formatCertError, loadRemoteCertificates } from '../../../src/daemon/certs';
import { certificatePublicKeyBits, certificateSubject, formatName, sameName } from '../../../src/ike/v2/der';
import { nodePubkeyPort } from '../../../src/ike/v2/x509-node-port';
import { IdType } from '../../../src/ike/v2/constants';
import { makeCa, makeEntity } from '../helpers/openssl-pki';

const dir = mkdtempSync(join(tmpdir(), 'tanuki-certs-'));
const rsaCa = makeCa(dir, 'rsa');
const rsa = makeEntity(dir, 'rsa', 'left');
const ecCa = makeCa(dir, 'ec', 'ec');
const ec = makeEntity(dir, 'ec', 'eleft', 'ec', 3);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conf(body: string, method = 'rsasig', top = `path certificate "${dir}";`): RacoonConfig {
  const text = `${top}
remote "peer" {
  remote_address 192.0.2.2;
  ike_version 2;
  my_identifier asn1dn;
  ${body}
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method ${method}; dh_group curve25519; }
}
`;
  const r = parseRacoonConfigText(text, join(dir, 'racoon.conf'));
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
  return r.config;
}

describe('loadRemoteCertificates', () => {
  it('RSA: certificate, key and CA load; the subject DN is the certificate\'s', () => {
    const c = conf(`certificate_type x509 "left.pem" "left.key"; ca_type x509 "ca.pem";`);
    const r = loadRemoteCertificates(c, c.remotes[0]);
    if (!r.ok) throw new Error(r.errors.map(formatCertError).join('\n'));
    const v = r.value!;
    expect(v.method).toBe('rsasig');
    expect(v.keyType).toBe('rsa');
    expect(v.certificates).toHaveLength(1);
    expect(v.cas).toHaveLength(1);
    expect(new X509Certificate(v.certificates[0]).subject).toContain('CN=left.test');
    expect(new X509Certificate(v.cas[0]).subject).toBe(new X509Certificate(readFileSync(rsaCa.cert)).subject);
    expect(sameName(v.subject, Buffer.from(dnToDer(rsa.dn)!))).toBe(true);
    expect(v.verifyCert && v.sendCert && v.sendCr).toBe(true);
    expect(v.privateKeyPem).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('ECDSA P-256 with ecdsa_sig signs with SHA-256; CAs from the path certificate directory without ca_type', () => {
    const sub = mkdtempSync(join(dir, 'ecdir-'));
    for (const f of ['eleft.pem', 'eleft.key', 'ecca.pem']) copyFileSync(join(dir, f), join(sub, f));
    const c = conf(`certificate_type x509 "eleft.pem" "eleft.key";`, 'ecdsa_sig', `path certificate "${sub}";`);
    const r = loadRemoteCertificates(c, c.remotes[0]);
    if (!r.ok) throw new Error(r.errors.map(formatCertError).join('\n'));
    expect(r.value!.keyType).toBe('ec');
    expect(formatName(r.value!.subject)).toBe(ec.dn);
    expect(r.value!.signatureHash).toBe('sha256');
    // ecca.pem is a CA; eleft.pem is not and is not trusted as an anchor
    expect(r.value!.cas.map((d) => new X509Certificate(d).subject)).toEqual([new X509Certificate(readFileSync(ecCa.cert)).subject]);
  });

  it('a pre-shared-key remote has no certificate material', () => {
    const c = conf('my_identifier fqdn "left.test";', 'pre_shared_key');
    expect(loadRemoteCertificates(c, c.remotes[0])).toEqual({ ok: true, value: null });
  });

  it('clear errors: unreadable key, garbage key, key of another certificate, wrong key type for the method, no CA', () => {
    writeFileSync(join(dir, 'garbage.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    writeFileSync(join(dir, 'unreadable.key'), 'x');
    chmodSync(join(dir, 'unreadable.key'), 0o000);
    const cases: [string, string, RegExp][] = [
      [`certificate_type x509 "left.pem" "missing.key"; ca_type x509 "ca.pem";`, 'rsasig', /missing\.key: private key cannot be read \(ENOENT\)/],
      [`certificate_type x509 "left.pem" "garbage.key"; ca_type x509 "ca.pem";`, 'rsasig', /garbage\.key: private key file is not a private key/],
      [`certificate_type x509 "left.pem" "eleft.key"; ca_type x509 "ca.pem";`, 'rsasig', /eleft\.key: authentication_method rsasig, but the private key is an EC key \(use ecdsa_sig\)/],
      [`certificate_type x509 "eleft.pem" "left.key"; ca_type x509 "ca.pem";`, 'ecdsa_sig', /left\.key: authentication_method ecdsa_sig, but the private key is an RSA key/],
      [`certificate_type x509 "left.pem" "ca.key"; ca_type x509 "ca.pem";`, 'rsasig', /ca\.key: private key does not belong to the certificate .*left\.pem/],
      [`certificate_type x509 "left.pem" "left.key";`, 'rsasig', /verify_cert is on but no CA certificate is configured/],
    ];
    for (const [body, method, want] of cases) {
      const top = body.includes('ca_type') ? `path certificate "${dir}";` : `path certificate "${mkdtempSync(join(dir, 'empty-'))}";`;
      const text = body.replace(/"([a-z.]+\.(?:pem|key))"/g, (_m, f: string) => `"${join(dir, f)}"`);
      const c = conf(text, method, top);
      const r = loadRemoteCertificates(c, c.remotes[0]);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.map(formatCertError).join('\n')).toMatch(want);
    }
    if (process.getuid?.() !== 0) {
      const c = conf(`certificate_type x509 "left.pem" "unreadable.key"; ca_type x509 "ca.pem";`);
      const r = loadRemoteCertificates(c, c.remotes[0]);
      expect(r.ok).toBe(false);
    }
  });

  it('verify_cert off needs no CA; peers_certfile x509 pins the peer certificate', () => {
    const c = conf(`certificate_type x509 "left.pem" "left.key"; verify_cert off; peers_certfile x509 "${join(dir, 'ca.pem')}"; send_cr off;`);
    const r = loadRemoteCertificates(c, c.remotes[0]);
    if (!r.ok) throw new Error(r.errors.map(formatCertError).join('\n'));
    expect(r.value!.verifyCert).toBe(false);
    expect(r.value!.sendCr).toBe(false);
    expect(r.value!.peerCertificate).not.toBeNull();
  });
});

describe('certificate identities (RFC 7296 §3.5, RFC 4945 §3.1.5)', () => {
  const der = new X509Certificate(readFileSync(rsa.cert)).raw;
  it('ID_DER_ASN1_DN matches the subject DN, also when typed in racoon.conf syntax', () => {
    const subject = certificateSubject(der)!;
    expect(nodePubkeyPort.certMatchesId(der, IdType.ID_DER_ASN1_DN, subject)).toBe(true);
    expect(nodePubkeyPort.certMatchesId(der, IdType.ID_DER_ASN1_DN, Buffer.from(dnToDer(rsa.dn)!))).toBe(true);
    expect(nodePubkeyPort.certMatchesId(der, IdType.ID_DER_ASN1_DN, Buffer.from(dnToDer('C=JP, O=tanuki, CN=right.test')!))).toBe(false);
    expect(nodePubkeyPort.certMatchesId(der, IdType.ID_DER_ASN1_DN, Buffer.from('3000', 'hex'))).toBe(false);
  });
  it('ID_KEY_ID matches the SHA-1 key identifier of the subjectPublicKey (RFC 5280 §4.2.1.2 method 1)', () => {
    const kid = createHash('sha1').update(certificatePublicKeyBits(der)!).digest();
    expect(nodePubkeyPort.certMatchesId(der, IdType.ID_KEY_ID, kid)).toBe(true);
    expect(nodePubkeyPort.certMatchesId(der, IdType.ID_KEY_ID, Buffer.alloc(20))).toBe(false);
  });
  it('malformed DER gives null, never an exception', () => {
    for (let i = 0; i < der.length; i += 7) expect(() => certificateSubject(der.subarray(0, i))).not.toThrow();
    expect(certificateSubject(Buffer.from('30820000', 'hex'))).toBeNull();
  });
});
