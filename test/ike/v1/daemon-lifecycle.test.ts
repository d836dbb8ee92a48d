/**
 * The racoon process against another tanuki (an in-process Ikev1Engine on
 * 127.0.0.2 with its own stub kernel): racoonctl delete-sa isakmp is racoon's
 * purge_remote — a Delete per IPsec-SA (d2), then of the ISAKMP-SA (d1) — and
 * leaves no SA on either side; DPD (RFC 3706, dpd_delay 1 / dpd_retry 1 /
 * dpd_maxfail 2) declares the peer dead once it stops answering and empties
 * the daemon's kernel.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SadbMsgType } from '../../../src/pfkey/constants';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { IdType } from '../../../src/ike/v1/constants';
import { Ikev1Engine } from '../../../src/ike/v1/engine';
import type { Ikev1PeerConfig } from '../../../src/ike/v1/config';
import { peerConfig, seededRandom } from './harness';

const root = resolve(__dirname, '../../..');
const bin = (t: string) => join(root, 'bin', t);
const DAEMON = '127.0.0.1';
const PEER = '127.0.0.2';
const port = 41000 + (process.pid % 10000);
const dir = mkdtempSync(join(tmpdir(), 'tanuki-v1-life-'));
let racoon: ChildProcess | null = null;
let sock: Socket | null = null;

function waitFor(pred: () => boolean, ms = 15000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error('timed out')) : setTimeout(tick, 50));
    tick();
  });
}

const tool = (name: string, args: string[], input?: string) =>
  spawnSync(process.execPath, [bin(name), ...(name === 'setkey' ? ['--socket', join(dir, 'pfkey.sock')] : ['-s', join(dir, 'racoon.sock')]), ...args], { encoding: 'utf8', input });

/** The well-behaved peer: tanuki's own engine, speaking from 127.0.0.2 to the daemon's port. */
function peer(): Ikev1PeerConfig {
  const base = peerConfig('daemon', PEER, DAEMON, { natTraversal: false, proposalCheck: 'obey', dpdDelaySeconds: 30, ph1Proposals: [{ encr: 7, keyBits: 128, hash: 4, authMethod: 1, dhGroup: 14, lifetimeSeconds: 3600 }] }, {
    local: { address: '10.2.0.0', prefixlen: 24, protocol: 0, port: 0 },
    remote: { address: '10.1.0.0', prefixlen: 24, protocol: 0, port: 0 },
    encr: [{ id: 12, keyBits: 128 }],
    auth: [5],
    lifetimeSeconds: 1800,
  });
  return {
    ...base,
    psk: Buffer.from('robust-shared-secret'),
    local: { address: PEER, port, id: { type: IdType.FQDN, value: 'peer.test' } },
    remote: { address: DAEMON, port, id: { type: IdType.FQDN, value: 'daemon.test' } },
  };
}

beforeAll(async () => {
  writeFileSync(
    join(dir, 'racoon.conf'),
    `path pre_shared_key "${join(dir, 'psk.txt')}";
listen { isakmp ${DAEMON} [${port}]; adminsock "${join(dir, 'racoon.sock')}"; }
remote "peer" {
  remote_address ${PEER} [${port}];
  exchange_mode main;
  dpd_delay 1;
  dpd_retry 1;
  dpd_maxfail 2;
  my_identifier fqdn "daemon.test";
  peers_identifier fqdn "peer.test";
  lifetime time 1 hour;
  proposal { encryption_algorithm aes 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group modp2048; }
}
sainfo anonymous {
  lifetime time 30 min;
  encryption_algorithm aes 128;
  authentication_algorithm hmac_sha256;
  compression_algorithm deflate;
}
`,
  );
  writeFileSync(join(dir, 'psk.txt'), 'peer.test\trobust-shared-secret\n');
  chmodSync(join(dir, 'psk.txt'), 0o600);
  racoon = spawn(process.execPath, [bin('racoon'), '-F', '-d', '-f', join(dir, 'racoon.conf'), '-l', join(dir, 'racoon.log'), '--socket', join(dir, 'pfkey.sock'), '--pid-file', join(dir, 'racoon.pid')], { stdio: 'ignore' });
  await waitFor(() => existsSync(join(dir, 'racoon.sock')) && existsSync(join(dir, 'pfkey.sock')));
  const pol = tool('setkey', ['-c'], `spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/${DAEMON}-${PEER}/require;\nspdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/${PEER}-${DAEMON}/require;\n`);
  expect(pol.status).toBe(0);
  sock = createSocket('udp4');
  await new Promise<void>((res) => sock!.bind(port, PEER, () => res()));
}, 30000);

afterAll(async () => {
  sock?.close();
  if (racoon && racoon.exitCode === null) {
    racoon.kill('SIGTERM');
    await waitFor(() => racoon!.exitCode !== null, 5000).catch(() => racoon!.kill('SIGKILL'));
  }
});

/** The peer's engine, wired to the UDP socket; `silent` stops it answering (a killed peer). */
function startPeer(seed: string) {
  const eng = new Ikev1Engine({ peers: [peer()], random: seededRandom(seed), pid: 4242 });
  const kernel: PfKeyMessage[] = [];
  let spi = 0xc0de0001;
  const state = { silent: false };
  const pump = (): void => {
    const acts = eng.pollActions();
    if (acts.length === 0) return;
    for (const a of acts) {
      if (a.kind === 'datagram' && !state.silent) sock!.send(a.data, a.to.port, a.to.address);
      else if (a.kind === 'pfkey') {
        kernel.push(a.msg);
        const reply: PfKeyMessage = { ...a.msg, ext: { ...a.msg.ext } };
        if (a.msg.type === SadbMsgType.GETSPI) reply.ext.sa = { spi: spi++, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 };
        eng.receivePfKey(reply, Date.now());
      }
    }
    pump();
  };
  sock!.removeAllListeners('message');
  sock!.on('message', (msg, rinfo) => {
    if (state.silent) return;
    eng.receiveDatagram(msg, { address: rinfo.address, port: rinfo.port }, { address: PEER, port }, Date.now());
    pump();
  });
  eng.initiate('daemon', Date.now());
  pump();
  return { eng, kernel, state };
}

const matureCount = () => (tool('setkey', ['-D']).stdout.match(/state=mature/g) ?? []).length;

describe('racoon (IKEv1) against another tanuki: purge_remote and DPD', () => {
  it('racoonctl delete-sa isakmp sends a Delete per IPsec-SA and for the ISAKMP-SA: neither side keeps an SA', async () => {
    const p = startPeer('purge');
    await waitFor(() => p.eng.ph1Sas().some((s) => s.ph2.some((x) => x.state === 'ESTABLISHED')) && matureCount() >= 2, 20000);
    const ds = tool('racoonctl', ['delete-sa', 'isakmp', 'inet', DAEMON, PEER]);
    expect(ds.status).toBe(0);
    await waitFor(() => p.eng.ph1Sas().length === 0 && tool('setkey', ['-D']).stdout.includes('No SAD entries'), 10000);
    // the peer deleted both of its SAs on the d2 (RFC 2408 §3.15), then forgot the ISAKMP-SA on the d1
    const deleted = p.kernel.filter((m) => m.type === SadbMsgType.DELETE && m.ext.sa).map((m) => m.ext.sa!.spi);
    expect(deleted).toHaveLength(2);
  }, 40000);

  it('DPD: the peer stops answering; racoon logs "DPD: remote seems to be dead" and its kernel holds no SA', async () => {
    const p = startPeer('dpd');
    await waitFor(() => p.eng.ph1Sas().some((s) => s.ph2.some((x) => x.state === 'ESTABLISHED')) && matureCount() >= 2, 20000);
    p.state.silent = true;
    const log = () => readFileSync(join(dir, 'racoon.log'), 'utf8');
    await waitFor(() => log().includes('DPD: remote seems to be dead'), 15000);
    await waitFor(() => tool('setkey', ['-D']).stdout.includes('No SAD entries'), 5000);
    expect(tool('racoonctl', ['show-sa', 'isakmp']).stdout).not.toMatch(/[0-9a-f]{16}/);
  }, 40000);
});
