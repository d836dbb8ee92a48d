/**
 * Certificate authentication material of a racoon.conf `remote`, for both IKE
 * engines: racoon's `certificate_type x509 "cert" "key";`, `ca_type x509
 * "ca";`, `peers_certfile x509 "cert";`, `verify_cert`, `send_cert`,
 * `send_cr`, `path certificate`, and `authentication_method rsasig|ecdsa_sig`.
 *
 * Relative file names are taken under `path certificate` (racoon's
 * getpathname(LC_PATHTYPE_CERT)). Without `ca_type`, racoon trusts the CA
 * certificates found in the `path certificate` directory (its OpenSSL hash
 * directory); tanuki reads every certificate file there that is a CA.
 *
 * Nothing throws: every problem comes back as a CertError naming the remote,
 * the file and what is wrong with it.
 */
import { KeyObject, X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { certificatePath, type RacoonConfig, type RemoteConf } from '../config/racoon';
import { certificateSubject } from '../ike/v2/der';

export type CertAuthMethod = 'rsasig' | 'ecdsa_sig';

export interface CertError {
  remote: string;
  /** the file concerned, null for a configuration problem */
  file: string | null;
  message: string;
}

export function formatCertError(e: CertError): string {
  return `remote "${e.remote}": ${e.file ? `${e.file}: ` : ''}${e.message}`;
}

export interface RemoteCertificates {
  remote: string;
  method: CertAuthMethod;
  /** our certificate (DER) first, then any further certificates of the same file (intermediates) */
  certificates: Buffer[];
  /** DER of our certificate's subject Name (`my_identifier asn1dn;` without a value) */
  subject: Buffer;
  /** our private key, PKCS#8 PEM, unencrypted */
  privateKeyPem: string;
  keyType: 'rsa' | 'ec';
  /** for ECDSA: the RFC 7427 hash that matches the curve (sha256/384/512 for P-256/384/521) */
  signatureHash: 'sha256' | 'sha384' | 'sha512';
  /** DER CA certificates the peer's chain must end in */
  cas: Buffer[];
  /** `peers_certfile x509`: the peer's own certificate (DER) */
  peerCertificate: Buffer | null;
  verifyCert: boolean;
  sendCert: boolean;
  sendCr: boolean;
  files: { certificate: string; privateKey: string; ca: string | null; peersCertfile: string | null };
}

export type RemoteCertificatesResult =
  | { ok: true; value: RemoteCertificates | null }
  | { ok: false; errors: CertError[] };

/**
 * The authentication method a remote uses: IKEv2 negotiates none, so the
 * first proposal's `authentication_method` decides (racoon's remote has one
 * per proposal; tanuki's IKEv2 engine uses one per remote).
 */
export function remoteAuthMethod(r: RemoteConf): string {
  return r.proposals[0]?.authMethod.alg.name ?? 'pre_shared_key';
}

export function isCertMethod(method: string): method is CertAuthMethod {
  return method === 'rsasig' || method === 'ecdsa_sig';
}

type Read = { ok: true; data: Buffer } | { ok: false; message: string };

function readFile(path: string): Read {
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) return { ok: false, message: 'is not a regular file' };
    return { ok: true, data: fs.readFileSync(path) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, message: `cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})` };
  }
}

/** All certificates in a PEM file (in order) or the one certificate of a DER file. */
export function parseCertificates(data: Buffer): { ok: true; certs: X509Certificate[] } | { ok: false; message: string } {
  const text = data.toString('latin1');
  const blocks = text.match(/-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----[\s\S]*?-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g);
  const raws: Buffer[] = [];
  if (blocks) {
    for (const b of blocks) raws.push(Buffer.from(b.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
  } else if (text.includes('-----BEGIN')) {
    return { ok: false, message: 'holds no PEM "CERTIFICATE" block' };
  } else raws.push(data);
  const certs: X509Certificate[] = [];
  for (const [i, raw] of raws.entries()) {
    try {
      certs.push(new X509Certificate(raw));
    } catch (e) {
      const which = raws.length > 1 ? `certificate ${i + 1}: ` : '';
      return { ok: false, message: `${which}not a valid X.509 certificate (${e instanceof Error ? e.message : String(e)})` };
    }
  }
  return { ok: true, certs };
}

function parseKey(data: Buffer): { ok: true; key: KeyObject } | { ok: false; message: string } {
  const text = data.toString('latin1');
  if (/ENCRYPTED/.test(text)) return { ok: false, message: 'is an encrypted private key; racoon reads unencrypted keys only' };
  try {
    const key = text.includes('-----BEGIN') ? createPrivateKey(text) : createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
    return { ok: true, key };
  } catch (e) {
    return { ok: false, message: `is not a private key (${e instanceof Error ? e.message : String(e)})` };
  }
}

function hashForCurve(key: KeyObject): 'sha256' | 'sha384' | 'sha512' {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
}

/** The CA certificates of the `path certificate` directory (racoon's hashed CA directory). */
function casInDirectory(dir: string): Buffer[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
  const out: Buffer[] = [];
  for (const n of names) {
    const r = readFile(nodePath.join(dir, n));
    if (!r.ok) continue;
    const p = parseCertificates(r.data);
    if (p.ok) for (const c of p.certs) if (c.ca) out.push(Buffer.from(c.raw));
  }
  return out;
}

/**
 * Load and check the certificate material of `remote`. `{ ok: true, value: null }`
 * when the remote does not authenticate with certificates.
 */
export function loadRemoteCertificates(config: RacoonConfig, remote: RemoteConf): RemoteCertificatesResult {
  const method = remoteAuthMethod(remote);
  if (!isCertMethod(method)) return { ok: true, value: null };
  const errors: CertError[] = [];
  const fail = (file: string | null, message: string) => errors.push({ remote: remote.name, file, message });

  const spec = remote.certificate;
  if (spec === null || spec.type !== 'x509') {
    fail(null, `authentication_method ${method} needs 'certificate_type x509 "cert" "key";'${spec?.type === 'plain_rsa' ? ' (plain_rsa keys are not supported for IKEv2 signatures)' : ''}`);
    return { ok: false, errors };
  }
  const certFile = certificatePath(config, spec.certFile);
  const keyFile = certificatePath(config, spec.keyFile);

  let ours: X509Certificate[] = [];
  const cr = readFile(certFile);
  if (!cr.ok) fail(certFile, `certificate ${cr.message}`);
  else {
    const p = parseCertificates(cr.data);
    if (!p.ok) fail(certFile, `certificate file ${p.message}`);
    else ours = p.certs;
  }
  let key: KeyObject | null = null;
  const kr = readFile(keyFile);
  if (!kr.ok) fail(keyFile, `private key ${kr.message}`);
  else {
    const k = parseKey(kr.data);
    if (!k.ok) fail(keyFile, `private key file ${k.message}`);
    else key = k.key;
  }
  const keyType = key?.asymmetricKeyType;
  if (key && keyType !== 'rsa' && keyType !== 'ec') fail(keyFile, `private key is of type ${keyType ?? 'unknown'}; IKE signatures here use RSA or ECDSA keys`);
  if (key && method === 'rsasig' && keyType === 'ec') fail(keyFile, 'authentication_method rsasig, but the private key is an EC key (use ecdsa_sig)');
  if (key && method === 'ecdsa_sig' && keyType === 'rsa') fail(keyFile, 'authentication_method ecdsa_sig, but the private key is an RSA key (use rsasig)');
  if (key && ours[0] && !ours[0].checkPrivateKey(key)) fail(keyFile, `private key does not belong to the certificate ${certFile} ("${ours[0].subject.replace(/\n/g, ', ')}")`);

  let cas: Buffer[] = [];
  let caFile: string | null = null;
  if (remote.caType) {
    caFile = certificatePath(config, remote.caType.file);
    const r = readFile(caFile);
    if (!r.ok) fail(caFile, `CA certificate ${r.message}`);
    else {
      const p = parseCertificates(r.data);
      if (!p.ok) fail(caFile, `CA certificate file ${p.message}`);
      else cas = p.certs.map((c) => Buffer.from(c.raw));
    }
  } else if (config.path.certificate !== null) cas = casInDirectory(config.path.certificate);

  let peerCertificate: Buffer | null = null;
  let peersFile: string | null = null;
  if (remote.peersCertfile) {
    if (remote.peersCertfile.type !== 'x509') fail(null, `peers_certfile ${remote.peersCertfile.type} is not supported with ${method}; use peers_certfile x509 "file"`);
    else {
      peersFile = certificatePath(config, remote.peersCertfile.file);
      const r = readFile(peersFile);
      if (!r.ok) fail(peersFile, `peer certificate ${r.message}`);
      else {
        const p = parseCertificates(r.data);
        if (!p.ok) fail(peersFile, `peer certificate file ${p.message}`);
        else peerCertificate = Buffer.from(p.certs[0].raw);
      }
    }
  }
  if (errors.length === 0 && remote.verifyCert && cas.length === 0 && peerCertificate === null)
    fail(null, `verify_cert is on but no CA certificate is configured: add 'ca_type x509 "ca.pem";', a CA certificate under 'path certificate', or 'peers_certfile x509 "peer.pem";'`);
  if (errors.length > 0 || !key || ours.length === 0) return { ok: false, errors };

  const certificates = ours.map((c) => Buffer.from(c.raw));
  const subject = certificateSubject(certificates[0]);
  if (!subject) {
    fail(certFile, 'certificate has no readable subject name');
    return { ok: false, errors };
  }
  return {
    ok: true,
    value: {
      remote: remote.name,
      method,
      certificates,
      subject,
      privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      keyType: keyType === 'ec' ? 'ec' : 'rsa',
      signatureHash: keyType === 'ec' ? hashForCurve(key) : 'sha256',
      cas,
      peerCertificate,
      verifyCert: remote.verifyCert,
      sendCert: remote.sendCert,
      sendCr: remote.sendCr,
      files: { certificate: certFile, privateKey: keyFile, ca: caFile, peersCertfile: peersFile },
    },
  };
}
