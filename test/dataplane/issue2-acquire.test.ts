/**
 * Issue 2 "Done when", the ACQUIRE part, with real processes: a tanuki-kernel
 * child with an in-process host (--host), policies loaded by `setkey -c` in
 * another process, a third process (this test) registered for ESP
 * (RFC 2367 §3.1.7 REGISTER), and `setkey -x` (X_PROMISC) watching. Packets
 * sent by the host that match the IPsec policy with no SA raise a single
 * SADB_ACQUIRE (RFC 2367 §3.1.6; one per flow while it stands, as Linux
 * xfrm_state_find's larval state does), which both the registered socket and
 * `setkey -x` see.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import type { PfKeySocket } from '../../src/pfkey/socket';
import { connectUnixPfKey } from '../../src/pfkey/unix';
import { until } from './helpers';

const root = resolve(__dirname, '../..');
const bin = (t: string): string => join(root, 'bin', t);

describe('issue 2: a packet from an in-process host raises one ACQUIRE, seen by a registered ESP socket and setkey -x', () => {
  let dir: string;
  let kernel: ChildProcess | undefined;
  let monitor: ChildProcess | undefined;
  let pfkey: PfKeySocket | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tanuki-dp-'));
  });
  afterAll(async () => {
    await pfkey?.close();
    monitor?.kill('SIGTERM');
    kernel?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('one ACQUIRE for three packets of the flow; ping reports them held', async () => {
    const sock = join(dir, 'pfkey.sock');
    kernel = spawn(process.execPath, [bin('tanuki-kernel'), '--socket', sock, '--host', '10.1.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let kout = '';
    kernel.stdout!.on('data', (d: Buffer) => (kout += d.toString()));
    await until(() => kout.includes('listening'), 10000);

    const sk = spawnSync(process.execPath, [bin('setkey'), '--socket', sock, '-c'], {
      input: 'spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;\n',
      encoding: 'utf8',
    });
    expect(sk.status).toBe(0);

    pfkey = await connectUnixPfKey(sock);
    const acquires: PfKeyMessage[] = [];
    pfkey.onMessage((m) => {
      if (m.type === SadbMsgType.ACQUIRE) acquires.push(m);
    });
    const reg = await pfkey.request({ type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, seq: 1, pid: pfkey.pid, ext: {} });
    expect(reg.errno).toBe(0);

    monitor = spawn(process.execPath, [bin('setkey'), '--socket', sock, '-x'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let xout = '';
    monitor.stdout!.on('data', (d: Buffer) => (xout += d.toString()));
    await new Promise((r) => setTimeout(r, 500)); // setkey -x has sent X_PROMISC

    const ping = spawnSync(process.execPath, [bin('tanuki-kernel'), 'ping', '--socket', sock, '-c', '3', '-W', '100', '10.1.0.1', '10.2.0.1'], { encoding: 'utf8' });
    expect(ping.status).toBe(0);
    const lines = ping.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 3).map((l) => l.outcome)).toEqual([
      { ok: true, action: 'queued' },
      { ok: true, action: 'queued' },
      { ok: true, action: 'queued' },
    ]);
    expect(lines[3]).toEqual({ done: true, sent: 3, received: 0 });

    await until(() => acquires.length >= 1 && /sadb_msg\{ version=2 type=6 /.test(xout), 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(acquires).toHaveLength(1);
    expect(acquires[0].ext.addressSrc?.addr.address).toBe('192.0.2.1');
    expect(acquires[0].ext.addressDst?.addr.address).toBe('192.0.2.2');
    // setkey -x prints every message the kernel sends; exactly one of them is the ACQUIRE
    const acquireRecords = xout.split('\n').filter((l) => /^sadb_msg\{ version=2 type=6 /.test(l));
    expect(acquireRecords).toHaveLength(1);

    const stats = spawnSync(process.execPath, [bin('tanuki-kernel'), 'stats', '--socket', sock], { encoding: 'utf8' });
    const s = JSON.parse(stats.stdout.split('\n')[0]) as { counters: { outQueued: number }; queued: number; hosts: Record<string, { sent: number }> };
    expect(s.queued).toBe(3);
    expect(s.hosts['10.1.0.1'].sent).toBe(3);
  }, 30000);

  it('ping from an address that is not a --host is refused with a clear error', () => {
    const r = spawnSync(process.execPath, [bin('tanuki-kernel'), 'ping', '--socket', join(dir, 'pfkey.sock'), '10.9.9.9', '10.2.0.1'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('no --host 10.9.9.9');
  });
});
