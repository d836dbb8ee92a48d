/**
 * Liveness checks (RFC 7296 §2.4) driven by racoon.conf's dpd_delay,
 * dpd_retry and dpd_maxfail: after dpd_delay seconds without a message from
 * the peer an empty INFORMATIONAL goes out, it is retried every dpd_retry
 * seconds (no back-off, racoon's R-U-THERE schedule), and after dpd_maxfail
 * unanswered checks the peer is dead: its IKE_SA and CHILD_SAs are deleted,
 * racoon's "DPD: remote … seems to be dead." is logged and the daemon runs the
 * remote's phase1_dead hook. The daemon test SIGKILLs one of two racoons.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExchangeType, HeaderFlag } from '../../../src/ike/v2/constants';
import { parseHeader } from '../../../src/ike/v2/payloads';
import { VirtualNet, type Wire } from '../helpers/harness';
import { pskPair } from '../helpers/configs';

const isDpdRequest = (w: Wire) => {
  const h = parseHeader(w.data.readUInt32BE(0) === 0 ? w.data.subarray(4) : w.data);
  return h.ok && h.value.exchangeType === ExchangeType.INFORMATIONAL && (h.value.flags & HeaderFlag.RESPONSE) === 0;
};

describe('liveness checks with dpd_retry / dpd_maxfail (engine, virtual clock)', () => {
  function setup() {
    const net = new VirtualNet();
    const { a, b } = pskPair({ dpd: 10 });
    a.dpdRetrySeconds = 2;
    a.dpdMaxFail = 3;
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    return { net, A, B };
  }

  it('a vanished peer is declared dead after dpd_maxfail checks dpd_retry seconds apart; SAs deleted, pollDeadPeers reports it', () => {
    const { net, A, B } = setup();
    net.nodes = net.nodes.filter((n) => n !== B); // B is killed
    const sentAt: number[] = [];
    net.drop = (w) => {
      if (isDpdRequest(w)) sentAt.push(net.now);
      return false;
    };
    net.advance(9_999);
    expect(sentAt).toEqual([]);
    net.advance(30_000);
    // first check at dpd_delay, then every dpd_retry seconds, three in all; dead dpd_retry after the last
    expect(sentAt).toEqual([10_000, 12_000, 14_000]);
    expect(A.engine.ikeSas()).toEqual([]);
    expect(A.kernel.sas.size).toBe(0);
    const dead = A.logs.find((l) => /^DPD: remote \(ISAKMP-SA spi=[0-9a-f]{16}:[0-9a-f]{16}\) seems to be dead\.$/.test(l.msg));
    expect(dead?.dpd).toBe('dead');
    expect(A.engine.pollDeadPeers()).toEqual([expect.objectContaining({ peer: 'v2psk', remote: { address: '10.99.0.2', port: 500 } })]);
    expect(A.engine.pollDeadPeers()).toEqual([]);
  });

  it('a live peer answers every check; nothing is declared dead', () => {
    const { net, A, B } = setup();
    net.advance(100_000);
    expect(A.engine.ikeSas()[0].state).toBe('established');
    expect(B.engine.ikeSas()[0].state).toBe('established');
    expect(A.engine.pollDeadPeers()).toEqual([]);
    expect(A.logs.some((l) => /seems to be dead/.test(l.msg))).toBe(false);
  });
});

// ---------------------------------------------------------------------------

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

describe('two racoons, one SIGKILLed: dpd_delay finds it dead and phase1_dead runs', () => {
  const port = 30000 + (process.pid % 10000) + 70;
  const left: Side = { name: 'left', addr: '127.0.0.1', peer: '127.0.0.2', localNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-dpdl-')) };
  const right: Side = { name: 'right', addr: '127.0.0.2', peer: '127.0.0.1', localNet: '10.2.0.0/24', remoteNet: '10.1.0.0/24', dir: mkdtempSync(join(tmpdir(), 'tanuki-dpdr-')) };
  const dump = (s: Side) => spawnSync(process.execPath, [bin('setkey'), '--socket', join(s.dir, 'pfkey.sock'), '-D'], { encoding: 'utf8' }).stdout;

  beforeAll(async () => {
    for (const s of [left, right]) {
      const other = s.name === 'left' ? 'right' : 'left';
      writeFileSync(
        join(s.dir, 'racoon.conf'),
        `path pre_shared_key "${join(s.dir, 'psk.txt')}";
listen { isakmp ${s.addr} [${port}]; isakmp_natt ${s.addr} [${port + 1}]; adminsock "${join(s.dir, 'racoon.sock')}"; }
remote "${s.peer}" {
  remote_address ${s.peer} [${port}];
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${other}.test";
  dpd_delay 2; dpd_retry 1; dpd_maxfail 3;
  script "${join(s.dir, 'hook.sh')}" phase1_dead;
  script "${join(s.dir, 'hook.sh')}" phase1_down;
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
sainfo anonymous { encryption_algorithm aes_gcm_16 128; authentication_algorithm non_auth; compression_algorithm deflate; }
`,
      );
      writeFileSync(join(s.dir, 'psk.txt'), `${other}.test\tdpd-test-secret\n`);
      chmodSync(join(s.dir, 'psk.txt'), 0o600);
      writeFileSync(join(s.dir, 'hook.sh'), `#!/bin/sh\necho "$1 $REMOTE_ADDR $REMOTE_PORT" >> ${join(s.dir, 'hook.log')}\n`);
      chmodSync(join(s.dir, 'hook.sh'), 0o755);
      s.proc = spawn(process.execPath, [bin('racoon'), '-F', '-d', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', join(s.dir, 'pfkey.sock'), '--pid-file', join(s.dir, 'racoon.pid')], { stdio: 'ignore' });
    }
    await waitFor(() => [left, right].every((s) => existsSync(join(s.dir, 'racoon.sock'))));
    for (const s of [left, right]) {
      const r = spawnSync(process.execPath, [bin('setkey'), '--socket', join(s.dir, 'pfkey.sock'), '-c'], {
        input: `spdadd ${s.localNet} ${s.remoteNet} any -P out ipsec esp/tunnel/${s.addr}-${s.peer}/require;\nspdadd ${s.remoteNet} ${s.localNet} any -P in ipsec esp/tunnel/${s.peer}-${s.addr}/require;\n`,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(r.stderr);
    }
  });

  afterAll(() => {
    for (const s of [left, right]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
    for (const s of [left, right]) rmSync(s.dir, { recursive: true, force: true });
  });

  it('liveness checks pass while both run; after SIGKILL of right, left deletes its SAs and runs phase1_dead then phase1_down', async () => {
    const es = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(left.dir, 'racoon.sock'), 'establish-sa', 'isakmp', 'inet', left.addr, right.addr], { encoding: 'utf8' });
    expect(es.status).toBe(0);
    await waitFor(() => /state=mature[\s\S]*state=mature/.test(dump(left)));
    // a few dpd_delay periods with both alive: still up
    await new Promise((r) => setTimeout(r, 5000));
    expect(dump(left)).toMatch(/state=mature[\s\S]*state=mature/);
    expect(existsSync(join(left.dir, 'hook.log'))).toBe(false);
    right.proc!.kill('SIGKILL');
    await waitFor(() => existsSync(join(left.dir, 'hook.log')) && readFileSync(join(left.dir, 'hook.log'), 'utf8').includes('phase1_down'), 20000);
    const hooks = readFileSync(join(left.dir, 'hook.log'), 'utf8').trim().split('\n');
    expect(hooks).toEqual([`phase1_dead ${right.addr} ${port}`, `phase1_down ${right.addr} ${port}`]);
    expect(dump(left)).toContain('No SAD entries.');
    expect(readFileSync(join(left.dir, 'racoon.log'), 'utf8')).toMatch(/DPD: remote \(ISAKMP-SA spi=[0-9a-f]+:[0-9a-f]+\) seems to be dead\./);
  }, 40000);
});
