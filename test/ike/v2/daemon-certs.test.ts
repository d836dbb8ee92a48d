/**
 * Issue 4, IKE_AUTH with certificates between two tanuki daemons: racoon.conf
 * `certificate_type x509`, `ca_type x509`, `path certificate`,
 * `authentication_method rsasig|ecdsa_sig` drive RFC 7427 digital signatures
 * (AUTH method 14) with CERT/CERTREQ (RFC 7296 §2.15, §3.6, §3.7); the CHILD_SAs
 * land in both userspace kernels. RSA uses `my_identifier asn1dn` (the
 * certificate's subject, ID_DER_ASN1_DN) against a `peers_identifier asn1dn
 * "C=JP, O=tanuki, CN=…"`; ECDSA P-256 uses FQDN identities found in the
 * certificates' subjectAltName, and ChaCha20-Poly1305 (RFC 7634) for IKE and
 * ESP. A daemon whose key file is garbage says so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeCa, makeEntity, type KeyKind } from '../helpers/openssl-pki';

const root = resolve(__dirname, '../../..');
const bin = (t: string) => join(root, 'bin', t);

function waitFor(pred: () => boolean, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error('timed out')) : setTimeout(tick, 100));
    tick();
  });
}

interface Side {
  name: 'left' | 'right';
  addr: string;
  peer: string;
  localNet: string;
  remoteNet: string;
  dir: string;
  proc?: ChildProcess;
}

function config(s: Side, kind: KeyKind, port: number, pkiDir: string, keyFile = `${s.name}.key`): string {
  const other = s.name === 'left' ? 'right' : 'left';
  const ids =
    kind === 'rsa'
      ? `my_identifier asn1dn;\n  peers_identifier asn1dn "C=JP, O=tanuki, CN=${other}.test";`
      : `my_identifier fqdn "${s.name}.test";\n  peers_identifier fqdn "${other}.test";`;
  // the ECDSA pair also runs ChaCha20-Poly1305 for IKE and ESP (tanuki's SADB number 251)
  const enc = kind === 'rsa' ? 'aes_gcm_16 128' : 'chacha20_poly1305';
  return `path certificate "${pkiDir}";
listen { isakmp ${s.addr} [${port}]; isakmp_natt ${s.addr} [${port + 1}]; adminsock "${join(s.dir, 'racoon.sock')}"; }
remote "${s.peer}" {
  remote_address ${s.peer} [${port}];
  ike_version 2;
  ${ids}
  certificate_type x509 "${s.name}.pem" "${keyFile}";
  ca_type x509 "ca.pem";
  lifetime time 1 hour;
  proposal { encryption_algorithm ${enc}; hash_algorithm sha256; authentication_method ${kind === 'rsa' ? 'rsasig' : 'ecdsa_sig'}; dh_group ecp256; }
}
sainfo anonymous {
  lifetime time 30 min;
  encryption_algorithm ${enc};
  authentication_algorithm non_auth;
  compression_algorithm deflate;
}
`;
}

function setkey(s: Side, script: string): void {
  const r = spawnSync(process.execPath, [bin('setkey'), '--socket', join(s.dir, 'pfkey.sock'), '-c'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`setkey failed: ${r.stderr}`);
}

function dump(s: Side): string {
  return spawnSync(process.execPath, [bin('setkey'), '--socket', join(s.dir, 'pfkey.sock'), '-D'], { encoding: 'utf8' }).stdout;
}

function start(s: Side): void {
  s.proc = spawn(process.execPath, [bin('racoon'), '-F', '-d', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', join(s.dir, 'pfkey.sock'), '--pid-file', join(s.dir, 'racoon.pid')], { stdio: 'ignore' });
}

describe.each(['rsa', 'ec'] as const)('two tanuki daemons, IKEv2 with %s certificates (ec: ChaCha20-Poly1305)', (kind) => {
  const port = 30000 + (process.pid % 10000) + (kind === 'rsa' ? 40 : 50);
  const pki = mkdtempSync(join(tmpdir(), `tanuki-pki-${kind}-`));
  const left: Side = { name: 'left', addr: '127.0.0.1', peer: '127.0.0.2', localNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-cl-')) };
  const right: Side = { name: 'right', addr: '127.0.0.2', peer: '127.0.0.1', localNet: '10.2.0.0/24', remoteNet: '10.1.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-cr-')) };

  beforeAll(async () => {
    makeCa(pki, kind);
    makeEntity(pki, kind, 'left', '', 2);
    makeEntity(pki, kind, 'right', '', 3);
    for (const s of [left, right]) {
      writeFileSync(join(s.dir, 'racoon.conf'), config(s, kind, port, pki));
      start(s);
    }
    await waitFor(() => [left, right].every((s) => existsSync(join(s.dir, 'racoon.sock'))));
    for (const s of [left, right])
      setkey(s, `spdadd ${s.localNet} ${s.remoteNet} any -P out ipsec esp/tunnel/${s.addr}-${s.peer}/require;\nspdadd ${s.remoteNet} ${s.localNet} any -P in ipsec esp/tunnel/${s.peer}-${s.addr}/require;\n`);
  });

  afterAll(() => {
    for (const s of [left, right]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
    for (const d of [pki, left.dir, right.dir]) rmSync(d, { recursive: true, force: true });
  });

  it('authenticates with RFC 7427 signatures and installs matching CHILD_SAs in both kernels', async () => {
    const es = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(left.dir, 'racoon.sock'), 'establish-sa', 'isakmp', 'inet', left.addr, right.addr], { encoding: 'utf8' });
    expect(es.status).toBe(0);
    await waitFor(() => /state=mature[\s\S]*state=mature/.test(dump(left)) && /state=mature[\s\S]*state=mature/.test(dump(right)));
    const spi = (text: string, src: string, dst: string) => new RegExp(`${src.replace(/\./g, '\\.')}\\S* ${dst.replace(/\./g, '\\.')}\\S*\\s*\\n\\s*esp mode=tunnel spi=(\\d+)`).exec(text)?.[1];
    expect(spi(dump(left), left.addr, right.addr)).toBe(spi(dump(right), left.addr, right.addr));
    expect(spi(dump(right), right.addr, left.addr)).toBe(spi(dump(left), right.addr, left.addr));
    expect(dump(left)).toMatch(kind === 'rsa' ? /E: 20  / : /E: chacha20-poly1305  /);
    // both daemons allow ESN (RFC 7296 §3.3.2): installed with SADB_X_SAFLAGS_ESN
    expect(dump(right)).toMatch(/flags=0x00000400/);
    const rlog = readFileSync(join(right.dir, 'racoon.log'), 'utf8');
    // the responder saw our certificate and CA hint, and chose the configuration by the certificate identity
    expect(rlog).toMatch(/received IKE_AUTH request 1 \[ IDi CERT CERTREQ N\(INITIAL_CONTACT\) IDr AUTH/);
    expect(rlog).toContain(kind === 'rsa' ? '"remoteId":"C=JP, O=tanuki, CN=left.test"' : '"remoteId":"left.test"');
    expect(rlog).toContain(`loaded ${kind === 'rsa' ? 'RSA' : 'ECDSA'} certificate for IKEv2 remote`);
  });
});

describe('a daemon whose certificate material is unusable', () => {
  it('logs which file is wrong and why, and does not use the remote', async () => {
    const pki = mkdtempSync(join(tmpdir(), 'tanuki-pki-bad-'));
    const s: Side = { name: 'left', addr: '127.0.0.1', peer: '127.0.0.2', localNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-cb-')) };
    try {
      makeCa(pki, 'rsa');
      makeEntity(pki, 'rsa', 'left');
      writeFileSync(join(pki, 'broken.key'), 'not a key\n');
      writeFileSync(join(s.dir, 'racoon.conf'), config(s, 'rsa', 30000 + (process.pid % 10000) + 60, pki, 'broken.key'));
      start(s);
      await waitFor(() => existsSync(join(s.dir, 'racoon.log')) && readFileSync(join(s.dir, 'racoon.log'), 'utf8').includes('is not usable'));
      const log = readFileSync(join(s.dir, 'racoon.log'), 'utf8');
      expect(log).toContain(`remote \\"127.0.0.2\\": ${join(pki, 'broken.key')}: private key file is not a private key`);
    } finally {
      if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
      rmSync(pki, { recursive: true, force: true });
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
});
