/**
 * Issues 4 and 5, "two tanuki daemons negotiate": two racoon processes on
 * loopback negotiate from racoon.conf remotes and setkey policies — IKEv2
 * (IKE_SA_INIT + IKE_AUTH with PSK and the first CHILD_SA, RFC 7296 §1.2) and
 * IKEv1 (Main Mode PSK + Quick Mode, RFC 2409) — and each installs the SAs in
 * its own userspace kernel: GETSPI → UPDATE (inbound) and ADD (outbound), the
 * outbound SPI of one being the inbound SPI of the other.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { adminCall } from '../../src/daemon/admin/client';
import { AdminCmd, EvtType, encodeRequest, type EvtAsync } from '../../src/daemon/admin/wire';

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

function config(s: Side, version: 1 | 2, port: number): string {
  const v2 = version === 2;
  return `path pre_shared_key "${join(s.dir, 'psk.txt')}";
listen { isakmp ${s.addr} [${port}]; isakmp_natt ${s.addr} [${port + 1}]; adminsock "${join(s.dir, 'racoon.sock')}"; }
remote "${s.peer}" {
  remote_address ${s.peer} [${port}];
  ${v2 ? 'ike_version 2;' : 'exchange_mode main;'}
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${s.name === 'left' ? 'right' : 'left'}.test";
  lifetime time 1 hour;
  script "${join(s.dir, 'hook.sh')}" phase1_up;
  script "${join(s.dir, 'hook.sh')}" phase1_down;
  proposal { encryption_algorithm ${v2 ? 'aes_gcm_16 128' : 'aes 128'}; hash_algorithm sha256; authentication_method pre_shared_key; dh_group ${v2 ? 'curve25519' : 'modp2048'}; }
}
sainfo anonymous {
  lifetime time 30 min;
  encryption_algorithm ${v2 ? 'aes_gcm_16 128' : 'aes 128'};
  authentication_algorithm ${v2 ? 'non_auth' : 'hmac_sha256'};
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

describe.each([2, 1] as const)('two tanuki daemons, IKEv%d with PSK', (version) => {
  const port = 30000 + (process.pid % 10000) + version * 10;
  const left: Side = { name: 'left', addr: '127.0.0.1', peer: '127.0.0.2', localNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-left-')) };
  const right: Side = { name: 'right', addr: '127.0.0.2', peer: '127.0.0.1', localNet: '10.2.0.0/24', remoteNet: '10.1.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-right-')) };

  beforeAll(async () => {
    for (const s of [left, right]) {
      writeFileSync(join(s.dir, 'racoon.conf'), config(s, version, port));
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
    if (version === 2) expect(dump(left)).toMatch(/E: 20  /); // SADB_X_EALG_AES_GCM_ICV16 (Linux pfkeyv2.h), printed by number as ipsec-tools does
    else expect(dump(left)).toMatch(/E: aes-cbc  [\s\S]*A: hmac-sha256  /);
    const ss = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(left.dir, 'racoon.sock'), 'show-sa', 'isakmp'], { encoding: 'utf8' });
    expect(ss.stdout).toContain(`${right.addr}.${port}`);
    // racoon's hook script: `script phase1_up` with LOCAL_*/REMOTE_* in the environment
    await waitFor(() => existsSync(join(left.dir, 'hook.log')));
    expect(readFileSync(join(left.dir, 'hook.log'), 'utf8')).toContain(`phase1_up ${left.addr} ${port} ${right.addr} ${port} right.test`);
  });

  it('a delete from one side tears the IKE SA down on both (and its SAs, as each protocol does)', async () => {
    // racoonctl show-event on the right: the IPsec SAs it installed go (EVT_PHASE2_DOWN), then the IKE SA (EVT_PHASE1_DOWN)
    const events: EvtAsync[] = [];
    const subscription = adminCall(join(right.dir, 'racoon.sock'), encodeRequest(AdminCmd.SHOW_EVT, 0), {
      timeoutMs: 20000,
      untilEvent: (e) => (events.push(e), events.some((x) => x.type === EvtType.PHASE2_DOWN) && events.some((x) => x.type === EvtType.PHASE1_DOWN)),
    });
    await new Promise((r) => setTimeout(r, 100));
    const ds = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(right.dir, 'racoon.sock'), 'delete-sa', 'isakmp', 'inet', right.addr, left.addr], { encoding: 'utf8' });
    expect(ds.status).toBe(0);
    if (version === 2) {
      // RFC 7296 §1.4.1: deleting the IKE SA deletes its CHILD_SAs on both ends
      await waitFor(() => dump(left).includes('No SAD entries.') && dump(right).includes('No SAD entries.'));
    } else {
      // racoon's purge_remote: the ISAKMP-SA goes on both ends, the IPsec SAs from the deleting side's kernel
      await waitFor(() => dump(right).includes('No SAD entries.'));
      const ss = (s: Side) => spawnSync(process.execPath, [bin('racoonctl'), '-s', join(s.dir, 'racoon.sock'), 'show-sa', 'isakmp'], { encoding: 'utf8' }).stdout;
      await waitFor(() => !ss(left).includes(`${right.addr}.`) && !ss(right).includes(`${left.addr}.`));
    }
    await waitFor(() => readFileSync(join(left.dir, 'hook.log'), 'utf8').includes('phase1_down'));
    await subscription;
    expect(events.find((e) => e.type === EvtType.PHASE2_DOWN)).toMatchObject({ ph1src: { address: right.addr }, ph1dst: { address: left.addr } });
  });

  it('SIGTERM shuts both down cleanly', async () => {
    for (const s of [left, right]) s.proc!.kill('SIGTERM');
    await waitFor(() => [left, right].every((s) => s.proc!.exitCode !== null));
    expect(left.proc!.exitCode).toBe(0);
    expect(right.proc!.exitCode).toBe(0);
  });
});
