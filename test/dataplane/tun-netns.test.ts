/**
 * The TUN cleartext side, for real, inside a network namespace this test
 * creates and deletes: tanuki-kernel --tun creates the device (Linux
 * tuntap.rst TUNSETIFF) and routes the remote side of a tunnel policy into
 * it; the namespace's own `ping` reaches an in-process host of a second
 * tanuki-kernel through manually keyed ESP-in-UDP (RFC 3948) tunnel SAs, and
 * the echo reply comes back out of the TUN device.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { until } from './helpers';

const root = resolve(__dirname, '../..');
const bin = (t: string): string => join(root, 'bin', t);
const ns = `tnk-dp-${process.pid}`;
const natt = 14500;

function setkey(sock: string, script: string): void {
  const r = spawnSync(process.execPath, [bin('setkey'), '--socket', sock, '-c'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`setkey failed: ${r.stderr}`);
}

describe('--tun: the host stack of a network namespace talks through tanuki IPsec', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-tun-'));
  const procs: ChildProcess[] = [];
  const outs: string[] = [];

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const start = (args: string[]): void => {
      const p = spawn('ip', ['netns', 'exec', ns, process.execPath, bin('tanuki-kernel'), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      const i = outs.push('') - 1;
      p.stdout!.on('data', (d: Buffer) => (outs[i] += d.toString()));
      procs.push(p);
    };
    start(['--socket', join(dir, 'a.sock'), '--tun', 'tnk0', '--natt-port', String(natt), '--natt-addr', '127.0.0.1']);
    start(['--socket', join(dir, 'b.sock'), '--host', '10.2.0.1', '--natt-port', String(natt), '--natt-addr', '127.0.0.2']);
    await until(() => outs.length === 2 && outs.every((o) => o.includes('ESP-in-UDP')), 15000);
  }, 30000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await until(() => procs.every((p) => p.exitCode !== null), 5000).catch(() => procs.forEach((p) => p.kill('SIGKILL')));
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the device, routes the tunnel policy remote into it, and carries ping both ways', async () => {
    expect(execFileSync('ip', ['-n', ns, 'link', 'show', 'tnk0'], { encoding: 'utf8' })).toMatch(/tnk0: <[^>]*UP/);
    const keys = `add 127.0.0.1[${natt}] 127.0.0.2[${natt}] esp-udp 0x3001 -m tunnel -r 32 -E aes-gcm-16 0x${'33'.repeat(20)};
add 127.0.0.2[${natt}] 127.0.0.1[${natt}] esp-udp 0x3002 -m tunnel -r 32 -E aes-gcm-16 0x${'44'.repeat(20)};
`;
    setkey(join(dir, 'a.sock'), `spdadd 10.9.0.1/32 10.2.0.0/24 any -P out ipsec esp/tunnel/127.0.0.1-127.0.0.2/require;
spdadd 10.2.0.0/24 10.9.0.1/32 any -P in ipsec esp/tunnel/127.0.0.2-127.0.0.1/require;
${keys}`);
    setkey(join(dir, 'b.sock'), `spdadd 10.2.0.0/24 10.9.0.1/32 any -P out ipsec esp/tunnel/127.0.0.2-127.0.0.1/require;
spdadd 10.9.0.1/32 10.2.0.0/24 any -P in ipsec esp/tunnel/127.0.0.1-127.0.0.2/require;
${keys}`);
    await until(() => execFileSync('ip', ['-n', ns, 'route'], { encoding: 'utf8' }).includes('10.2.0.0/24 dev tnk0'), 3000);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.9.0.1/32', 'dev', 'tnk0']);
    const p = spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '-I', '10.9.0.1', '10.2.0.1'], { encoding: 'utf8' });
    expect(p.stdout).toMatch(/2 packets transmitted, 2 received/);
    const stats = spawnSync(process.execPath, [bin('tanuki-kernel'), 'stats', '--socket', join(dir, 'b.sock')], { encoding: 'utf8' });
    const s = JSON.parse(stats.stdout.split('\n')[0]) as { hosts: Record<string, { echoRequestsAnswered: number }> };
    expect(s.hosts['10.2.0.1'].echoRequestsAnswered).toBe(2);
    // the route goes with the policy (SPDFLUSH)
    setkey(join(dir, 'a.sock'), 'spdflush;\n');
    await until(() => !execFileSync('ip', ['-n', ns, 'route'], { encoding: 'utf8' }).includes('10.2.0.0/24'), 3000);
  }, 30000);
});
