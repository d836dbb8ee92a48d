/**
 * Issue 4 proof, first half: two tanuki racoon processes on loopback negotiate
 * IKEv2 (IKE_SA_INIT + IKE_AUTH with PSK and the first CHILD_SA, RFC 7296 §1.2)
 * from racoon.conf `ike_version 2` remotes and setkey policies, and each
 * installs the CHILD_SA in its own userspace kernel: GETSPI → UPDATE (inbound)
 * and ADD (outbound), the outbound SPI of one being the inbound SPI of the other.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const bin = (t: string) => join(root, 'bin', t);

function waitFor(pred: () => boolean, ms = 15000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error('timed out')) : setTimeout(tick, 100));
    tick();
  });
}

interface Side {
  name: string;
  addr: string;
  peer: string;
  localNet: string;
  remoteNet: string;
  dir: string;
  proc?: ChildProcess;
}

const port = 30000 + (process.pid % 10000);

function config(s: Side): string {
  return `path pre_shared_key "${join(s.dir, 'psk.txt')}";
listen { isakmp ${s.addr} [${port}]; isakmp_natt ${s.addr} [${port + 1}]; adminsock "${join(s.dir, 'racoon.sock')}"; }
remote "${s.peer}" {
  remote_address ${s.peer} [${port}];
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${s.name === 'left' ? 'right' : 'left'}.test";
  lifetime time 1 hour;
  script "${join(s.dir, 'hook.sh')}" phase1_up;
  script "${join(s.dir, 'hook.sh')}" phase1_down;
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
sainfo anonymous {
  lifetime time 30 min;
  encryption_algorithm aes_gcm_16 128;
  authentication_algorithm non_auth;
  compression_algorithm deflate;
}
`;
}

function setkey(s: Side, script: string): string {
  const r = spawnSync(process.execPath, [bin('setkey'), '--socket', join(s.dir, 'pfkey.sock'), '-c'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`setkey failed: ${r.stderr}`);
  return r.stdout;
}

function dump(s: Side): string {
  return spawnSync(process.execPath, [bin('setkey'), '--socket', join(s.dir, 'pfkey.sock'), '-D'], { encoding: 'utf8' }).stdout;
}

describe('two tanuki daemons, IKEv2 with PSK', () => {
  const left: Side = { name: 'left', addr: '127.0.0.1', peer: '127.0.0.2', localNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-left-')) };
  const right: Side = { name: 'right', addr: '127.0.0.2', peer: '127.0.0.1', localNet: '10.2.0.0/24', remoteNet: '10.1.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-right-')) };

  beforeAll(async () => {
    for (const s of [left, right]) {
      writeFileSync(join(s.dir, 'racoon.conf'), config(s));
      writeFileSync(join(s.dir, 'psk.txt'), `${s.name === 'left' ? 'right' : 'left'}.test\tshared-secret-for-the-test\n`);
      chmodSync(join(s.dir, 'psk.txt'), 0o600);
      writeFileSync(join(s.dir, 'hook.sh'), `#!/bin/sh\necho "$1 $LOCAL_ADDR $LOCAL_PORT $REMOTE_ADDR $REMOTE_PORT $REMOTE_ID" >> ${join(s.dir, 'hook.log')}\n`);
      chmodSync(join(s.dir, 'hook.sh'), 0o755);
      s.proc = spawn(process.execPath, [bin('racoon'), '-F', '-d', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', join(s.dir, 'pfkey.sock'), '--pid-file', join(s.dir, 'racoon.pid')], { stdio: 'ignore' });
    }
    await waitFor(() => [left, right].every((s) => existsSync(join(s.dir, 'racoon.sock'))));
    for (const s of [left, right]) {
      setkey(
        s,
        `spdadd ${s.localNet} ${s.remoteNet} any -P out ipsec esp/tunnel/${s.addr}-${s.peer}/require;\n` +
          `spdadd ${s.remoteNet} ${s.localNet} any -P in ipsec esp/tunnel/${s.peer}-${s.addr}/require;\n`,
      );
    }
  });

  afterAll(async () => {
    for (const s of [left, right]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
  });

  it('establishes the IKE_SA and installs matching CHILD_SAs in both kernels', async () => {
    const es = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(left.dir, 'racoon.sock'), 'establish-sa', 'isakmp', 'inet', left.addr, right.addr], { encoding: 'utf8' });
    expect(es.status).toBe(0);
    await waitFor(() => /state=mature[\s\S]*state=mature/.test(dump(left)) && /state=mature[\s\S]*state=mature/.test(dump(right)));
    const spis = (text: string, src: string, dst: string): string[] =>
      [...text.matchAll(new RegExp(`${src.replace(/\./g, '\\.')}\\S* ${dst.replace(/\./g, '\\.')}\\S*\\s*\\n\\s*esp mode=tunnel spi=(\\d+)`, 'g'))].map((m) => m[1]);
    const lOut = spis(dump(left), left.addr, right.addr);
    const rIn = spis(dump(right), left.addr, right.addr);
    const rOut = spis(dump(right), right.addr, left.addr);
    const lIn = spis(dump(left), right.addr, left.addr);
    expect(lOut).toHaveLength(1);
    expect(rOut).toHaveLength(1);
    expect(lOut).toEqual(rIn);
    expect(rOut).toEqual(lIn);
    expect(dump(left)).toMatch(/E: 20  /); // SADB_X_EALG_AES_GCM_ICV16 (Linux pfkeyv2.h), printed by number as ipsec-tools does
    const ss = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(left.dir, 'racoon.sock'), 'show-sa', 'isakmp'], { encoding: 'utf8' });
    expect(ss.stdout).toContain(`${right.addr}.${port}`);
    // racoon's hook script: `script phase1_up` with LOCAL_*/REMOTE_* in the environment
    await waitFor(() => existsSync(join(left.dir, 'hook.log')));
    expect(readFileSync(join(left.dir, 'hook.log'), 'utf8')).toContain(`phase1_up ${left.addr} ${port} ${right.addr} ${port} right.test`);
  });

  it('a delete from one side removes the SAs on both', async () => {
    const ds = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(right.dir, 'racoon.sock'), 'delete-sa', 'isakmp', 'inet', right.addr, left.addr], { encoding: 'utf8' });
    expect(ds.status).toBe(0);
    await waitFor(() => dump(left).includes('No SAD entries.') && dump(right).includes('No SAD entries.'));
    await waitFor(() => readFileSync(join(left.dir, 'hook.log'), 'utf8').includes('phase1_down'));
  });

  it('SIGTERM shuts both down cleanly', async () => {
    for (const s of [left, right]) s.proc!.kill('SIGTERM');
    await waitFor(() => [left, right].every((s) => s.proc!.exitCode !== null));
    expect(left.proc!.exitCode).toBe(0);
    expect(right.proc!.exitCode).toBe(0);
  });
});
