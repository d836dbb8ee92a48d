/**
 * Issue 3 + 6: two racoon daemons in two network namespaces joined by a veth
 * pair negotiate IKEv2 (RFC 7296) from an ACQUIRE, and the CHILD_SA's
 * traffic travels as raw ESP (IP protocol 50, RFC 4303) — not ESP-in-UDP —
 * because racoon opens raw ESP/AH sockets on its listen addresses. A capture
 * process with its own raw sockets in the responder's namespace sees the ESP
 * packets (raw(7): every raw socket of a protocol gets a copy) and no UDP to
 * the NAT-T port.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const bin = (t: string): string => join(root, 'bin', t);
const tag = process.pid % 100000;
const sides = [
  { name: 'left', ns: `tnk-rrl-${tag}`, dev: `trrl${tag}`, addr: '10.98.0.1', peer: '10.98.0.2', host: '10.1.0.1', net: '10.1.0.0/24', peerNet: '10.2.0.0/24' },
  { name: 'right', ns: `tnk-rrr-${tag}`, dev: `trrr${tag}`, addr: '10.98.0.2', peer: '10.98.0.1', host: '10.2.0.1', net: '10.2.0.0/24', peerNet: '10.1.0.0/24' },
] as const;
const [left, right] = sides;

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const CAPTURE = `
const { RawIpSockets } = require(${JSON.stringify(join(root, 'dist/src/util/rawsock.js'))});
const s = RawIpSockets.open([50, 17].map((protocol) => ({ protocol, address: '0.0.0.0' })), (d) => {
  const ihl = (d.data[0] & 15) * 4, proto = d.data[9];
  process.stdout.write(JSON.stringify({ proto, from: d.from, dport: proto === 17 ? d.data.readUInt16BE(ihl + 2) : null }) + '\\n');
}, () => undefined);
process.stdout.write('ready\\n');
process.on('SIGTERM', () => s.close().then(() => process.exit(0)));
`;

describe('two racoon daemons in two namespaces: the negotiated CHILD_SA travels as raw ESP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-rrn-'));
  const procs: ChildProcess[] = [];
  let capture = '';
  const d = (s: (typeof sides)[number], f: string): string => join(dir, `${s.name}-${f}`);

  beforeAll(async () => {
    for (const s of sides) execFileSync('ip', ['netns', 'add', s.ns]);
    execFileSync('ip', ['link', 'add', left.dev, 'netns', left.ns, 'type', 'veth', 'peer', 'name', right.dev, 'netns', right.ns]);
    for (const s of sides) {
      execFileSync('ip', ['-n', s.ns, 'link', 'set', 'lo', 'up']);
      execFileSync('ip', ['-n', s.ns, 'addr', 'add', `${s.addr}/24`, 'dev', s.dev]);
      execFileSync('ip', ['-n', s.ns, 'link', 'set', s.dev, 'up']);
      const other = s.name === 'left' ? 'right' : 'left';
      writeFileSync(d(s, 'psk.txt'), `${other}.test\tsecret-for-the-raw-test\n`);
      chmodSync(d(s, 'psk.txt'), 0o600);
      writeFileSync(
        d(s, 'racoon.conf'),
        `path pre_shared_key "${d(s, 'psk.txt')}";
listen { isakmp ${s.addr} [500]; isakmp_natt ${s.addr} [4500]; adminsock "${d(s, 'racoon.sock')}"; }
remote ${s.peer} {
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${other}.test";
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
sainfo anonymous { encryption_algorithm aes_gcm_16 128; authentication_algorithm non_auth; compression_algorithm deflate; }
`,
      );
      procs.push(
        spawn('ip', ['netns', 'exec', s.ns, process.execPath, bin('racoon'), '-F', '-d', '-f', d(s, 'racoon.conf'), '-l', d(s, 'racoon.log'), '--socket', d(s, 'pfkey.sock'), '--pid-file', d(s, 'racoon.pid'), '--host', s.host], { stdio: 'ignore' }),
      );
    }
    const cap = spawn('ip', ['netns', 'exec', right.ns, process.execPath, '-e', CAPTURE], { stdio: ['ignore', 'pipe', 'ignore'] });
    cap.stdout!.on('data', (b: Buffer) => (capture += b.toString()));
    procs.push(cap);
    await waitFor(() => sides.every((s) => existsSync(d(s, 'racoon.sock')) && existsSync(d(s, 'pfkey.sock.dp'))) && capture.includes('ready'), 20000);
    for (const s of sides) {
      const r = spawnSync(process.execPath, [bin('setkey'), '--socket', d(s, 'pfkey.sock'), '-c'], {
        input: `spdadd ${s.net} ${s.peerNet} any -P out ipsec esp/tunnel/${s.addr}-${s.peer}/require;\nspdadd ${s.peerNet} ${s.net} any -P in ipsec esp/tunnel/${s.peer}-${s.addr}/require;\n`,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`setkey: ${r.stderr}`);
    }
  }, 40000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await waitFor(() => procs.every((p) => p.exitCode !== null), 8000).catch(() => procs.forEach((p) => p.kill('SIGKILL')));
    for (const s of sides) spawnSync('ip', ['netns', 'del', s.ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a ping raises ACQUIRE, IKEv2 negotiates, and the echo and its reply cross the veth as IP protocol 50', async () => {
    const ping = spawnSync(process.execPath, [bin('tanuki-kernel'), 'ping', '--socket', d(left, 'pfkey.sock'), '-c', '3', '-W', '8000', left.host, right.host], { encoding: 'utf8' });
    const lines = ping.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[lines.length - 1]).toEqual({ done: true, sent: 3, received: 3 });
    const got = (): Array<{ proto: number; from: string; dport: number | null }> =>
      capture.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { proto: number; from: string; dport: number | null });
    await waitFor(() => got().filter((c) => c.proto === 50).length >= 3, 3000);
    expect(got().filter((c) => c.proto === 50).every((c) => c.from === left.addr)).toBe(true);
    // IKE went over UDP 500; nothing went to the NAT-T port
    expect(got().some((c) => c.proto === 17 && c.dport === 500)).toBe(true);
    expect(got().filter((c) => c.proto === 17 && c.dport === 4500)).toEqual([]);
  }, 40000);
});
