/**
 * A test PKI made with the openssl command line, as an operator would make it
 * for racoon: a CA and end-entity certificates (PEM files) with a subject DN
 * and a subjectAltName, RSA or ECDSA P-256.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type KeyKind = 'rsa' | 'ec';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

function keyArgs(kind: KeyKind): string[] {
  return kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
}

/** `<prefix>ca.pem`/`<prefix>ca.key` in `dir`; the CA's DN is C=JP, O=tanuki, CN=tanuki <kind> CA. */
export function makeCa(dir: string, kind: KeyKind, prefix = ''): { cert: string; key: string; dn: string } {
  const dn = `C=JP, O=tanuki, CN=tanuki ${kind} CA`;
  openssl(
    ['req', '-x509', ...keyArgs(kind), '-nodes', '-keyout', `${prefix}ca.key`, '-out', `${prefix}ca.pem`, '-subj', `/C=JP/O=tanuki/CN=tanuki ${kind} CA`, '-days', '3650',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { cert: join(dir, `${prefix}ca.pem`), key: join(dir, `${prefix}ca.key`), dn };
}

/** `<name>.pem`/`<name>.key` signed by `<caPrefix>ca`; DN C=JP, O=tanuki, CN=<name>.test; SAN DNS:<name>.test. */
export function makeEntity(dir: string, kind: KeyKind, name: string, caPrefix = '', serial = 2): { cert: string; key: string; dn: string; fqdn: string } {
  const fqdn = `${name}.test`;
  openssl(['req', ...keyArgs(kind), '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/C=JP/O=tanuki/CN=${fqdn}`], dir);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=DNS:${fqdn}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${caPrefix}ca.pem`, '-CAkey', `${caPrefix}ca.key`, '-set_serial', String(serial), '-days', '3650', '-out', `${name}.pem`, '-extfile', `${name}.ext`], dir);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`), dn: `C=JP, O=tanuki, CN=${fqdn}`, fqdn };
}
