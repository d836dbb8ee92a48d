/**
 * Issue 8 proof: with `racoon --kernel xfrm` in a network namespace, a packet
 * matching a kernel policy without an SA makes the real kernel raise
 * XFRM_MSG_ACQUIRE; it reaches the daemon as SADB_ACQUIRE (racoon pfkey.c
 * pk_recvacquire) and starts a negotiation: IKE_SA_INIT goes out to the peer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestNetns } from './netns';

// Live netlink against the real kernel: an event or ACK lost under load is retried, and each retry logs the error
// (see the session note on the intermittent netlink time-outs).
jest.retryTimes(2, { logErrorsBeforeRetry: true });

const root = resolve(__dirname, '../..');

function waitFor(pred: () => boolean, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error('timed out')) : setTimeout(tick, 100));
    tick();
  });
}

describe('racoon --kernel xfrm', () => {
  let ns: TestNetns;
  let racoon: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-racoon-xfrm-'));
  const log = join(dir, 'racoon.log');

  beforeAll(async () => {
    ns = TestNetns.create();
    writeFileSync(join(dir, 'psk.txt'), 'gw.test\tsecret-for-the-acquire-test\n');
    chmodSync(join(dir, 'psk.txt'), 0o600);
    writeFileSync(
      join(dir, 'racoon.conf'),
      `path pre_shared_key "${join(dir, 'psk.txt')}";
listen { isakmp 10.0.0.1 [500]; isakmp_natt 10.0.0.1 [4500]; adminsock "${join(dir, 'racoon.sock')}"; }
remote "gw" {
  remote_address 10.0.0.2;
  ike_version 2;
  my_identifier fqdn "me.test";
  peers_identifier fqdn "gw.test";
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
sainfo anonymous { encryption_algorithm aes_gcm_16 128; authentication_algorithm non_auth; compression_algorithm deflate; }
`,
    );
    racoon = spawn('ip', ['netns', 'exec', ns.name, process.execPath, join(root, 'bin/racoon'), '-F', '-d', '--kernel', 'xfrm', '-f', join(dir, 'racoon.conf'), '-l', log, '--pid-file', join(dir, 'racoon.pid')], { stdio: 'ignore' });
    await waitFor(() => existsSync(join(dir, 'racoon.sock')));
  });

  afterAll(() => {
    racoon?.kill('SIGKILL');
    ns?.destroy();
  });

  it('a packet without SA raises a kernel ACQUIRE that starts IKE_SA_INIT to the peer', async () => {
    // only UDP to port 9999 is protected, so IKE itself (UDP 500) is not caught by the policy
    ns.ip('xfrm', 'policy', 'add', 'src', '10.0.0.1/32', 'dst', '10.0.0.2/32', 'proto', 'udp', 'dport', '9999', 'dir', 'out', 'tmpl', 'src', '10.0.0.1', 'dst', '10.0.0.2', 'proto', 'esp', 'mode', 'tunnel');
    await new Promise((r) => setTimeout(r, 500)); // the daemon's SP cache hears the policy broadcast
    ns.sendUdp('10.0.0.2', 9999);
    await waitFor(() => /initiating IKE_SA/.test(readFileSync(log, 'utf8')));
    const text = readFileSync(log, 'utf8');
    expect(text).toMatch(/IPsec-SA request for 10\.0\.0\.2 queued/);
    expect(text).toMatch(/initiating IKE_SA gw@10\.0\.0\.1 to 10\.0\.0\.2/);
  });
});
