/**
 * Robustness of the racoon process itself (issue 5; racoon's CVE-2016-10396
 * class): a running `racoon` with an IKEv1 remote on loopback is sent 5,000
 * hostile datagrams — mutated Main Mode / Quick Mode / informational messages,
 * messages with unknown cookies, replays of a whole exchange, truncated headers,
 * random bytes — and must log the drops, stay alive, answer racoonctl, and then
 * still negotiate Main Mode + Quick Mode with a well-behaved peer (an in-process
 * Ikev1Engine on 127.0.0.2), installing the SAs in its kernel.
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
import { makePair, peerConfig, seededRandom } from './harness';

const root = resolve(__dirname, '../../..');
const bin = (t: string) => join(root, 'bin', t);
const DAEMON = '127.0.0.1';
const PEER = '127.0.0.2';
const port = 40000 + (process.pid % 10000);
const dir = mkdtempSync(join(tmpdir(), 'tanuki-v1-robust-'));
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
  const base = peerConfig('daemon', PEER, DAEMON, { natTraversal: false, proposalCheck: 'obey', ph1Proposals: [{ encr: 7, keyBits: 128, hash: 4, authMethod: 1, dhGroup: 14, lifetimeSeconds: 3600 }] }, {
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

/** xorshift32 */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
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

describe('racoon keeps serving IKEv1 under hostile input', () => {
  it('5,000 malformed, mutated, replayed and unknown-cookie datagrams: drops logged, process alive, racoonctl answers, a real peer then negotiates', async () => {
    // a corpus of genuine messages (Main Mode 1/3/5, Quick Mode, informational) between two engines
    const mirror: Ikev1PeerConfig = {
      ...peer(),
      name: 'x',
      local: { ...peer().remote, id: peer().remote.id! },
      remote: { ...peer().local, id: peer().local.id },
      sainfos: peer().sainfos.map((x) => ({ ...x, local: x.remote, remote: x.local })),
    };
    const pair = makePair(peer(), mirror, 'robust');
    pair.a.initiate('daemon', 0);
    pair.run();
    pair.a.deletePh2(pair.a.ph1Sas()[0].serial, pair.a.ph1Sas()[0].ph2[0].inboundSpi, pair.now);
    pair.run();
    const corpus = pair.wire.filter((w) => w.from === 'a').map((w) => w.data);
    expect(corpus.length).toBeGreaterThanOrEqual(6);
    const r = prng(3706);
    let sent = 0;
    const send = (b: Buffer) =>
      new Promise<void>((res) => {
        sent++;
        sock!.send(b, port, DAEMON, () => res());
      });
    for (let i = 0; i < 5000; i++) {
      const kind = i % 5;
      let m: Buffer;
      if (kind === 0) m = Buffer.from(Array.from({ length: r() % 200 }, () => r() & 0xff)); // random bytes
      else if (kind === 1) m = corpus[r() % corpus.length].subarray(0, r() % 28); // truncated header
      else if (kind === 2) m = corpus[r() % corpus.length]; // replay of a whole exchange (unknown to the daemon)
      else {
        m = Buffer.from(corpus[r() % corpus.length]);
        for (let n = 0; n < 1 + (r() % 4); n++) m[r() % m.length] = r() & 0xff; // mutated (cookies, lengths, payloads)
      }
      await send(m);
      if (i % 500 === 499) await new Promise((res) => setTimeout(res, 20)); // let the daemon breathe, as a real flood would not
    }
    expect(sent).toBe(5000);
    // alive and answering
    await new Promise((res) => setTimeout(res, 500));
    expect(racoon!.exitCode).toBeNull();
    const ss = tool('racoonctl', ['show-sa', 'isakmp']);
    expect(ss.status).toBe(0);
    const log = readFileSync(join(dir, 'racoon.log'), 'utf8');
    expect(log).toMatch(/malformed ISAKMP packet|unknown cookie|dropped/);
    expect(log).not.toMatch(/TypeError|RangeError|uncaught/i);

    // a well-behaved peer still gets Main Mode + Quick Mode through, and the daemon keys its kernel
    const eng = new Ikev1Engine({ peers: [peer()], random: seededRandom('real-peer'), pid: 4242 });
    let spi = 0xc0de0001;
    const pump = (): void => {
      const acts = eng.pollActions();
      if (acts.length === 0) return;
      for (const a of acts) {
        if (a.kind === 'datagram') sock!.send(a.data, a.to.port, a.to.address);
        else if (a.kind === 'pfkey') {
          const reply: PfKeyMessage = { ...a.msg, ext: { ...a.msg.ext } };
          if (a.msg.type === SadbMsgType.GETSPI) reply.ext.sa = { spi: spi++, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 };
          eng.receivePfKey(reply, Date.now());
        }
      }
      pump(); // what the PF_KEY replies produced (QI1 after GETSPI)
    };
    sock!.on('message', (msg, rinfo) => {
      eng.receiveDatagram(msg, { address: rinfo.address, port: rinfo.port }, { address: PEER, port }, Date.now());
      pump();
    });
    eng.initiate('daemon', Date.now());
    pump();
    await waitFor(() => eng.ph1Sas().some((s) => s.state === 'ESTABLISHED' && s.ph2.some((p) => p.state === 'ESTABLISHED')), 20000);
    await waitFor(() => (tool('setkey', ['-D']).stdout.match(/state=mature/g) ?? []).length >= 2, 10000);
    const ph2 = eng.ph1Sas().flatMap((s) => s.ph2).find((p) => p.state === 'ESTABLISHED')!;
    const dump = tool('setkey', ['-D']).stdout;
    expect(dump).toContain(`spi=${ph2.outboundSpi}(`);
    expect(dump).toContain(`spi=${ph2.inboundSpi}(`);
    expect(racoon!.exitCode).toBeNull();
  }, 90000);
});
