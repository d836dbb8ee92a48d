/**
 * Issue 3 data plane end to end: two tanuki racoon processes on loopback,
 * each embedding its userspace kernel with an in-process host (--host). A
 * ping from the left host matches the tunnel policy with no SA: the kernel
 * raises ACQUIRE (RFC 2367 §3.1.6), racoon negotiates IKEv2 (RFC 7296), the
 * CHILD_SAs are installed, the held packet leaves ESP-in-UDP on the daemon's
 * NAT-T socket (RFC 3948), and echo replies come back both ways.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { until } from './helpers';

const root = resolve(__dirname, '../..');
const bin = (t: string): string => join(root, 'bin', t);
const port = 21000 + (process.pid % 9000);

interface Side {
  name: string;
  addr: string;
  peer: string;
  host: string;
  localNet: string;
  remoteNet: string;
  dir: string;
  proc?: ChildProcess;
}

function config(s: Side): string {
  return `path pre_shared_key "${join(s.dir, 'psk.txt')}";
listen { isakmp ${s.addr} [${port}]; isakmp_natt ${s.addr} [${port + 1}]; adminsock "${join(s.dir, 'racoon.sock')}"; }
remote "${s.peer}" {
  remote_address ${s.peer} [${port}];
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${s.name === 'left' ? 'right' : 'left'}.test";
  lifetime time 1 hour;
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

function ping(s: Side, dst: string, timeoutMs: number): Array<Record<string, unknown>> {
  const r = spawnSync(process.execPath, [bin('tanuki-kernel'), 'ping', '--socket', join(s.dir, 'pfkey.sock'), '-c', '1', '-W', String(timeoutMs), s.host, dst], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('two racoon daemons pass traffic between their in-process hosts through the negotiated tunnel', () => {
  const left: Side = { name: 'left', addr: '127.0.0.1', peer: '127.0.0.2', host: '10.1.0.1', localNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-dpl-')) };
  const right: Side = { name: 'right', addr: '127.0.0.2', peer: '127.0.0.1', host: '10.2.0.1', localNet: '10.2.0.0/24', remoteNet: '10.1.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-dpr-')) };

  beforeAll(async () => {
    for (const s of [left, right]) {
      writeFileSync(join(s.dir, 'racoon.conf'), config(s));
      writeFileSync(join(s.dir, 'psk.txt'), `${s.name === 'left' ? 'right' : 'left'}.test\tshared-secret-for-the-test\n`);
      chmodSync(join(s.dir, 'psk.txt'), 0o600);
      s.proc = spawn(
        process.execPath,
        [bin('racoon'), '-F', '-d', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', join(s.dir, 'pfkey.sock'), '--pid-file', join(s.dir, 'racoon.pid'), '--host', s.host],
        { stdio: 'ignore' },
      );
    }
    await until(() => [left, right].every((s) => existsSync(join(s.dir, 'racoon.sock')) && existsSync(join(s.dir, 'pfkey.sock.dp'))), 15000);
    for (const s of [left, right]) {
      const r = spawnSync(process.execPath, [bin('setkey'), '--socket', join(s.dir, 'pfkey.sock'), '-c'], {
        input:
          `spdadd ${s.localNet} ${s.remoteNet} any -P out ipsec esp/tunnel/${s.addr}-${s.peer}/require;\n` +
          `spdadd ${s.remoteNet} ${s.localNet} any -P in ipsec esp/tunnel/${s.peer}-${s.addr}/require;\n`,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`setkey failed: ${r.stderr}`);
    }
  }, 30000);

  afterAll(() => {
    for (const s of [left, right]) {
      if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it('the first ping raises ACQUIRE, waits for the negotiated CHILD_SA, and is answered; then both ways', () => {
    const first = ping(left, right.host, 8000);
    expect(first[0]).toMatchObject({ seq: 1, outcome: { ok: true, action: 'queued' }, reply: true });
    const again = ping(left, right.host, 2000);
    expect(again[0]).toMatchObject({ outcome: { ok: true, action: 'protected' }, reply: true });
    const back = ping(right, left.host, 2000);
    expect(back[0]).toMatchObject({ outcome: { ok: true, action: 'protected' }, reply: true });
    const stats = spawnSync(process.execPath, [bin('tanuki-kernel'), 'stats', '--socket', join(right.dir, 'pfkey.sock')], { encoding: 'utf8' });
    const s = JSON.parse(stats.stdout.split('\n')[0]) as { counters: { inDelivered: number; outProtected: number }; hosts: Record<string, { echoRequestsAnswered: number }> };
    expect(s.hosts[right.host].echoRequestsAnswered).toBe(2);
    expect(s.counters.inDelivered).toBe(3);
    expect(s.counters.outProtected).toBe(3);
  }, 30000);
});
