/**
 * The certificate scenarios' PKI, made with the openssl command line the way
 * an operator makes it for racoon and strongSwan: one CA and one end-entity
 * certificate per peer (PEM, PKCS#8 keys), RSA or ECDSA P-256. The subject is
 * C=JP, O=tanuki, CN=<peer id> and the subjectAltName DNS:<peer id>, so both the
 * DN (ID_DER_ASN1_DN) and the FQDN (ID_FQDN) identify the peer.
 *
 * Made once per process and kind (key generation is the slow part) in a private
 * temporary directory, removed when the process exits.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NET } from './scenario';

export type KeyKind = 'rsa' | 'ecdsa';

export interface Pki {
  readonly dir: string;
  readonly ca: string;
  /** `<dir>/<name>.pem` and `<dir>/<name>.key` for name = charon | tanuki. */
  readonly charon: { cert: string; key: string; dn: string };
  readonly tanuki: { cert: string; key: string; dn: string };
}

export class PkiError extends Error {
  override readonly name = 'PkiError';
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.on('error', (e) => reject(new PkiError(`openssl: ${e.message} (apt-get install -y openssl)`)));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new PkiError(`openssl ${args.slice(0, 2).join(' ')} failed: ${err.trim()}`))));
  });
}

/** RSA 3072 makes IKE_AUTH (certificate + signature) clearly larger than the small-MTU link. */
function keyArgs(kind: KeyKind): string[] {
  return kind === 'rsa' ? ['-newkey', 'rsa:3072'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
}

export function subjectDn(id: string): string {
  return `C=JP, O=tanuki, CN=${id}`;
}

async function make(kind: KeyKind): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), `tki-pki-${kind}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  await openssl(
    ['req', '-x509', ...keyArgs(kind), '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', `/C=JP/O=tanuki/CN=tanuki interop ${kind} CA`, '-days', '3650',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  const entity = async (name: 'charon' | 'tanuki', id: string, serial: number) => {
    await openssl(['req', ...keyArgs(kind), '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/C=JP/O=tanuki/CN=${id}`], dir);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=DNS:${id}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n`);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial), '-days', '3650', '-out', `${name}.pem`, '-extfile', `${name}.ext`], dir);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`), dn: subjectDn(id) };
  };
  const [charon, tanuki] = await Promise.all([entity('charon', NET.charonId, 2), entity('tanuki', NET.tanukiId, 3)]);
  return { dir, ca: join(dir, 'ca.pem'), charon, tanuki };
}

const made = new Map<KeyKind, Promise<Pki>>();

export function pki(kind: KeyKind): Promise<Pki> {
  let p = made.get(kind);
  if (!p) {
    p = make(kind);
    made.set(kind, p);
    p.catch(() => made.delete(kind));
  }
  return p;
}

/**
 * swanctl --load-all --file DIR/swanctl.conf loads credentials from DIR/x509ca, DIR/x509 and
 * DIR/private (as it does from /etc/swanctl): charon's key, its certificate and the CA.
 */
export function installCharonCredentials(p: Pki, swanctlDir: string): void {
  for (const [sub, from, name] of [
    ['x509ca', p.ca, 'ca.pem'],
    ['x509', p.charon.cert, 'charon.pem'],
    ['private', p.charon.key, 'charon.key'],
  ] as const) {
    mkdirSync(join(swanctlDir, sub), { recursive: true });
    copyFileSync(from, join(swanctlDir, sub, name));
  }
}
