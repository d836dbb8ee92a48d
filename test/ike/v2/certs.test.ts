/** IKE_AUTH with RFC 7427 digital signatures and X.509 certificates (RFC 7296 §2.15, §3.6, §3.7). */
import { generateKeyPairSync } from 'node:crypto';
import { AuthMethod, CertEncoding, ExchangeType, PayloadType } from '../../../src/ike/v2/constants';
import { allPayloads, isResponse, parseMessage } from '../../../src/ike/v2/payloads';
import { nodePubkeyPort } from '../../../src/ike/v2/x509-node-port';
import { VirtualNet } from '../helpers/harness';
import { pskPair } from '../helpers/configs';
import { testPki } from '../helpers/certs';

const pki = testPki();

function certPair(bIdentity = pki.b) {
  const { a, b } = pskPair();
  a.auth = { method: 'pubkey', privateKeyPem: pki.a.keyPem, certificates: [pki.a.certDer], trustedCas: [pki.ca] };
  b.auth = { method: 'pubkey', privateKeyPem: bIdentity.keyPem, certificates: [bIdentity.certDer], trustedCas: [pki.ca] };
  return { a, b };
}

describe('RFC 7427 signatures (x509-node-port)', () => {
  it.each(['rsa', 'ec'] as const)('%s: sign() produces length | AlgorithmIdentifier | signature that verify() accepts', (type) => {
    const octets = Buffer.from('InitiatorSignedOctets');
    const data = nodePubkeyPort.sign(pki.a.keyPem, 'sha256', octets)!;
    expect(data[0]).toBe(15); // sha256WithRSAEncryption AlgorithmIdentifier, RFC 7427 A.1.2
    expect(nodePubkeyPort.verify(pki.a.certDer, data, octets)).toBe(true);
    expect(nodePubkeyPort.verify(pki.a.certDer, data, Buffer.from('other'))).toBe(false);
    expect(nodePubkeyPort.verify(pki.b.certDer, data, octets)).toBe(false);
    if (type === 'ec') {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const ec = nodePubkeyPort.sign(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'sha384', octets)!;
      expect(ec.subarray(0, 13).toString('hex')).toBe('0c300a06082a8648ce3d040303'); // ecdsa-with-sha384, A.3.2
    }
  });

  it('chain validation: trusted CA yes, another CA no; identity from subjectAltName', () => {
    expect(nodePubkeyPort.validateChain([pki.a.certDer], [pki.ca])).toBeNull();
    expect(nodePubkeyPort.validateChain([pki.rogueB.certDer], [pki.ca])).toMatch(/no trusted issuer/);
    expect(nodePubkeyPort.validateChain([Buffer.from('junk')], [pki.ca])).toBe('unparsable certificate');
    expect(nodePubkeyPort.certMatchesId(pki.a.certDer, 2, Buffer.from('a.test'))).toBe(true);
    expect(nodePubkeyPort.certMatchesId(pki.a.certDer, 2, Buffer.from('b.test'))).toBe(false);
    expect(nodePubkeyPort.caKeyId(pki.ca)).toHaveLength(20);
  });
});

describe('IKE_AUTH with certificates', () => {
  it('both ends authenticate with RSA certificates; CERT, CERTREQ and AUTH method 14 are on the wire', () => {
    const net = new VirtualNet();
    const { a, b } = certPair();
    const A = net.add('A', '10.99.0.1', [a], { pubkey: nodePubkeyPort });
    const B = net.add('B', '10.99.0.2', [b], { pubkey: nodePubkeyPort });
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()[0]?.state).toBe('established');
    expect(B.engine.ikeSas()[0]?.children).toHaveLength(1);
    const authLog = B.logs.find((l) => l.msg.startsWith('received IKE_AUTH request'))!;
    expect(authLog.msg).toMatch(/IDi CERT CERTREQ N\(INITIAL_CONTACT\) IDr AUTH/);
    const authReq = net.sent.filter((w) => w.data[18] === ExchangeType.IKE_AUTH);
    expect(authReq).toHaveLength(2);
    expect(A.logs.find((l) => l.msg.startsWith('received IKE_AUTH response'))?.msg).toMatch(/IDr CERT AUTH/);
    expect(AuthMethod[14]).toBe('DIGITAL_SIGNATURE');
  });

  it('a responder certificate from an untrusted CA fails the initiator (and no SA stays)', () => {
    const net = new VirtualNet();
    const { a, b } = certPair(pki.rogueB);
    const A = net.add('A', '10.99.0.1', [a], { pubkey: nodePubkeyPort });
    const B = net.add('B', '10.99.0.2', [b], { pubkey: nodePubkeyPort });
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()).toEqual([]);
    expect(A.logs.some((l) => /certificate not trusted: no trusted issuer/.test(l.msg))).toBe(true);
    expect(A.kernel.sas.size).toBe(0);
    // RFC 7296 §2.21.2: the initiator tells the responder in an INFORMATIONAL, which removes its SAs too
    expect(B.engine.ikeSas()).toEqual([]);
    expect(B.kernel.sas.size).toBe(0);
    expect(B.logs.some((l) => l.msg.includes('peer rejected our authentication'))).toBe(true);
  });

  it('a PSK initiator against a certificate responder gets AUTHENTICATION_FAILED', () => {
    const net = new VirtualNet();
    const { a } = pskPair();
    const { b } = certPair();
    const A = net.add('A', '10.99.0.1', [a], { pubkey: nodePubkeyPort });
    const B = net.add('B', '10.99.0.2', [b], { pubkey: nodePubkeyPort });
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas().length + B.engine.ikeSas().length).toBe(0);
    expect(B.logs.some((l) => /AUTH method SHARED_KEY_MIC, configured: RFC 7427 digital signature/.test(l.msg))).toBe(true);
  });

  /** The CERTREQ payloads of the responder's IKE_SA_INIT answer on the wire. */
  function initResponseCertReqs(net: VirtualNet) {
    const wire = net.sent.find((w) => {
      const m = parseMessage(w.data);
      return m.ok && m.value.header.exchangeType === ExchangeType.IKE_SA_INIT && isResponse(m.value.header);
    });
    const m = parseMessage(wire!.data);
    if (!m.ok) throw new Error(m.error.message);
    return allPayloads(m.value.payloads, PayloadType.CERTREQ);
  }

  it('RFC 7296 §3.7: a certificate responder puts CERTREQ (SHA-1 of the CA SubjectPublicKeyInfo) in its IKE_SA_INIT response', () => {
    // strongSwan charon with send_cert = ifasked sends CERT only if the IKE_SA_INIT response had a CERTREQ
    const net = new VirtualNet();
    const { a, b } = certPair();
    const A = net.add('A', '10.99.0.1', [a], { pubkey: nodePubkeyPort });
    net.add('B', '10.99.0.2', [b], { pubkey: nodePubkeyPort });
    A.engine.initiate('v2psk', 0);
    net.pump();
    const crs = initResponseCertReqs(net);
    expect(crs).toHaveLength(1);
    expect(crs[0].encoding).toBe(CertEncoding.X509_SIGNATURE);
    expect(crs[0].data.equals(nodePubkeyPort.caKeyId(pki.ca)!)).toBe(true);
  });

  it('no CERTREQ in the IKE_SA_INIT response with PSK only, or with racoon send_cr off', () => {
    for (const variant of ['psk', 'send_cr off'] as const) {
      const net = new VirtualNet();
      const { a, b } = variant === 'psk' ? pskPair() : certPair();
      if (b.auth.method === 'pubkey') b.auth.sendCertReq = false;
      const A = net.add('A', '10.99.0.1', [a], { pubkey: nodePubkeyPort });
      net.add('B', '10.99.0.2', [b], { pubkey: nodePubkeyPort });
      A.engine.initiate('v2psk', 0);
      net.pump();
      expect(initResponseCertReqs(net)).toEqual([]);
    }
  });
});
