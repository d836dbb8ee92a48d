/**
 * IKEv1 Main Mode with RSA signatures (RFC 2409 §5.1) between two engines:
 * SKEYID = prf(Ni_b | Nr_b, g^xy); CR payloads in messages 3/4 (racoon
 * send_cr); [CERT] SIG_I / SIG_R in 5/6 with SIG = PKCS#1 v1.5 type-1 over the
 * raw HASH (racoon eay_get_x509sign, strongSwan SIGN_RSA_EMSA_PKCS1_NULL);
 * chain validation to the configured CA through an intermediate sent in CERT;
 * the peer's ID (IPV4_ADDR, FQDN, USER_FQDN, DER_ASN1_DN, KEY_ID) must be named
 * by its certificate.
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import { AuthMethod, ExchangeType, IdType, PayloadType } from '../../../src/ike/v1/constants';
import type { Ikev1CertConfig, Ikev1Identity, Ikev1PeerConfig } from '../../../src/ike/v1/config';
import { parseHeader, parsePayloads } from '../../../src/ike/v1/payloads';
import { makePair, peerConfig } from './harness';
import { v1Pki, type Leaf } from './pki';

const A = '10.0.0.1';
const B = '10.0.0.2';
const pki = v1Pki();

function certCfg(leaf: Leaf, over: Partial<Ikev1CertConfig> = {}): Ikev1CertConfig {
  return { certificates: [leaf.certDer, pki.intermediate], privateKeyPem: leaf.keyPem, cas: [pki.root], peerCertificate: null, verifyCert: true, sendCert: true, sendCr: true, ...over };
}

function rsaPeer(name: string, local: string, remote: string, ids: { local: Ikev1Identity; remote: Ikev1Identity | null }, cert: Ikev1CertConfig): Ikev1PeerConfig {
  const base = peerConfig(name, local, remote, {
    psk: Buffer.alloc(0),
    cert,
    ph1Proposals: [{ encr: 7, keyBits: 128, hash: 4, authMethod: AuthMethod.RSA_SIGNATURES, dhGroup: 14, lifetimeSeconds: 28800 }],
  });
  return { ...base, local: { ...base.local, id: ids.local }, remote: { ...base.remote, id: ids.remote } };
}

function idsFor(type: 'addr' | 'fqdn' | 'user_fqdn' | 'asn1dn' | 'keyid', me: 'a' | 'b'): Ikev1Identity {
  const leaf = pki[me];
  switch (type) {
    case 'addr':
      return { type: IdType.IPV4_ADDR, value: me === 'a' ? A : B };
    case 'fqdn':
      return { type: IdType.FQDN, value: `gw-${me}.test` };
    case 'user_fqdn':
      return { type: IdType.USER_FQDN, value: `${me}@tanuki.test` };
    case 'asn1dn':
      return { type: IdType.DER_ASN1_DN, value: leaf.subjectDer.toString('hex') };
    case 'keyid':
      return { type: IdType.KEY_ID, value: leaf.keyId.toString('hex') };
  }
}

function run(cfgA: Ikev1PeerConfig, cfgB: Ikev1PeerConfig) {
  const p = makePair(cfgA, cfgB, 'rsa');
  p.a.initiate('b', 0);
  p.run();
  return p;
}

describe('IKEv1 Main Mode with RSA signatures and X.509 certificates', () => {
  for (const t of ['addr', 'fqdn', 'user_fqdn', 'asn1dn', 'keyid'] as const) {
    it(`ID type ${t}: both sides verify the chain (leaf + intermediate → root), the ID against the certificate and the SIG; Quick Mode keys match`, () => {
      const p = run(
        rsaPeer('b', A, B, { local: idsFor(t, 'a'), remote: idsFor(t, 'b') }, certCfg(pki.a)),
        rsaPeer('a', B, A, { local: idsFor(t, 'b'), remote: idsFor(t, 'a') }, certCfg(pki.b)),
      );
      const errors = [...p.logs.a, ...p.logs.b].filter((l) => l.level === 'error').map((l) => l.msg);
      expect(errors).toEqual([]);
      expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
      expect(p.b.ph1Sas()[0].state).toBe('ESTABLISHED');
      const upA = p.kernel.a.find((m) => m.type === SadbMsgType.UPDATE)!;
      const addB = p.kernel.b.find((m) => m.type === SadbMsgType.ADD)!;
      expect(upA.ext.sa!.spi).toBe(addB.ext.sa!.spi);
      expect(upA.ext.keyEncrypt!.key).toEqual(addB.ext.keyEncrypt!.key);
    });
  }

  it('messages 3 and 4 carry a CR naming the trusted root by its subject DN (RFC 2408 §3.10)', () => {
    const p = run(rsaPeer('b', A, B, { local: idsFor('fqdn', 'a'), remote: null }, certCfg(pki.a)), rsaPeer('a', B, A, { local: idsFor('fqdn', 'b'), remote: null }, certCfg(pki.b)));
    const mm = p.wire.filter((w) => w.data[18] === ExchangeType.IDENTITY_PROTECTION);
    for (const w of [mm[2], mm[3]]) {
      const h = parseHeader(w.data);
      if (!h.ok) throw new Error(h.error.message);
      const pl = parsePayloads(h.value.body, h.value.header.nextPayload);
      if (!pl.ok) throw new Error(pl.error.message);
      const cr = pl.value.filter((x) => x.type === PayloadType.CR);
      expect(cr).toHaveLength(1);
      expect(cr[0].type === PayloadType.CR && cr[0].encoding).toBe(4);
    }
  });

  it('a certificate from an untrusted CA is refused ("certificate verification failed"), no SA is keyed', () => {
    const p = run(
      rsaPeer('b', A, B, { local: idsFor('fqdn', 'a'), remote: idsFor('fqdn', 'b') }, certCfg(pki.a)),
      rsaPeer('a', B, A, { local: idsFor('fqdn', 'b'), remote: idsFor('fqdn', 'a') }, certCfg(pki.rogueB, { certificates: [pki.rogueB.certDer] })),
    );
    expect(p.logs.a.some((l) => l.msg.startsWith('certificate verification failed'))).toBe(true);
    expect(p.a.ph1Sas()[0]?.state).not.toBe('ESTABLISHED');
    expect(p.kernel.a.filter((m) => m.type === SadbMsgType.UPDATE)).toEqual([]);
  });

  it('an ID the certificate does not name is refused ("ID mismatched with the certificate")', () => {
    const p = run(
      rsaPeer('b', A, B, { local: { type: IdType.FQDN, value: 'gw-b.test' }, remote: null }, certCfg(pki.a)),
      rsaPeer('a', B, A, { local: idsFor('fqdn', 'b'), remote: null }, certCfg(pki.b)),
    );
    expect(p.logs.b.some((l) => l.msg.startsWith('ID mismatched with the certificate'))).toBe(true);
    expect(p.b.ph1Sas()[0].state).not.toBe('ESTABLISHED');
  });

  it("a signature made with another key than the certificate's is refused (SIG mismatched)", () => {
    const p = run(
      rsaPeer('b', A, B, { local: idsFor('fqdn', 'a'), remote: null }, certCfg(pki.a, { privateKeyPem: pki.b.keyPem })),
      rsaPeer('a', B, A, { local: idsFor('fqdn', 'b'), remote: null }, certCfg(pki.b)),
    );
    expect(p.logs.b.some((l) => l.msg.startsWith('SIG mismatched'))).toBe(true);
    expect(p.b.ph1Sas()[0].state).not.toBe('ESTABLISHED');
  });

  it('peers_certfile: with send_cert off on the peer, the configured peer certificate authenticates it', () => {
    const p = run(
      rsaPeer('b', A, B, { local: idsFor('fqdn', 'a'), remote: null }, certCfg(pki.a, { peerCertificate: pki.b.certDer })),
      rsaPeer('a', B, A, { local: idsFor('fqdn', 'b'), remote: null }, certCfg(pki.b, { sendCert: false, peerCertificate: pki.a.certDer })),
    );
    expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
    expect(p.b.ph1Sas()[0].state).toBe('ESTABLISHED');
  });

  it('Aggressive Mode with RSA signatures is refused as not supported', () => {
    const a = rsaPeer('b', A, B, { local: idsFor('fqdn', 'a'), remote: null }, certCfg(pki.a));
    const b = rsaPeer('a', B, A, { local: idsFor('fqdn', 'b'), remote: null }, certCfg(pki.b));
    const p = run({ ...a, exchangeModes: ['aggressive'] }, { ...b, exchangeModes: ['aggressive'] });
    expect(p.logs.b.some((l) => l.msg.includes('Aggressive Mode with RSA signatures is not supported'))).toBe(true);
  });
});
