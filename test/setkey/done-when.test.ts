/**
 * Issue 2 "Done when", with separate processes:
 *  - `tanuki-kernel` runs as a child process on a temp socket; `setkey -f` in
 *    one process loads policies and SAs, `setkey -DP` / `setkey -D` in others
 *    show them (ipsec-tools format).
 *  - a kernel hosted by this process (as racoon hosts it; the host owns the
 *    data plane, so it can ask the SPD about a packet) serves the socket;
 *    `setkey -f` loads from a child process, a client registered for ESP gets
 *    the ACQUIRE an outbound packet raises, and `setkey -x` in another child
 *    process shows it.
 * The children run the compiled CLI (bin/setkey, bin/tanuki-kernel).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { IPPROTO, SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { connectUnixPfKey } from '../../src/pfkey/unix';
import { PfKeyServer } from '../../src/kernel/server';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { parseIp } from '../../src/util/ip';

const root = resolve(__dirname, '..', '..');
const children: ChildProcess[] = [];
let dir: string;

const SCRIPT = `# two gateways, tunnel mode
spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;
spdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/192.0.2.2-192.0.2.1/require;
add 192.0.2.2 192.0.2.1 esp 0x2001 -m tunnel -E aes-cbc 0x000102030405060708090a0b0c0d0e0f -A hmac-sha256 0x${'22'.repeat(32)};
`;

function newest(d: string): number {
  return Math.max(0, ...readdirSync(d, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(d, e.name)) : statSync(join(d, e.name)).mtimeMs)));
}

beforeAll(() => {
  // `npm test` compiles first; a bare `npx jest` may not have.
  const entries = ['setkey', 'tanuki-kernel'].map((n) => join(root, 'dist', 'src', 'cli', `${n}.js`));
  if (entries.some((e) => !existsSync(e) || statSync(e).mtimeMs < newest(join(root, 'src')))) {
    spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  }
  for (const e of entries) if (!existsSync(e)) throw new Error(`${e} was not built`);
  dir = mkdtempSync(join(tmpdir(), `tanuki-setkey-${process.pid}-`));
  writeFileSync(join(dir, 'ipsec.conf'), SCRIPT);
}, 120000);

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setkey(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [join(root, 'bin', 'setkey'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
    children.push(c);
    let out = '';
    let err = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => done({ code, out, err }));
  });
}

async function until(cond: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('issue 2 "Done when" across processes', () => {
  it('tanuki-kernel child: setkey -f loads, setkey -DP and -D in other processes show it', async () => {
    const sock = join(dir, 'k1', 'pfkey.sock');
    const kernel = spawn(process.execPath, [join(root, 'bin', 'tanuki-kernel'), '--socket', sock, '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(kernel);
    let kout = '';
    kernel.stdout!.on('data', (d: Buffer) => (kout += d.toString()));
    await until(() => kout.includes('listening on'), 20000);

    const load = await setkey(['--socket', sock, '-f', join(dir, 'ipsec.conf')]);
    expect(load).toEqual({ code: 0, out: '', err: '' });

    const dp = await setkey(['--socket', sock, '-DP']);
    expect(dp.code).toBe(0);
    expect(dp.out).toContain('10.1.0.0/24[any] 10.2.0.0/24[any] 255\n\tout prio def ipsec\n\tesp/tunnel/192.0.2.1-192.0.2.2/require\n\tcreated: ');
    expect(dp.out).toContain('10.2.0.0/24[any] 10.1.0.0/24[any] 255\n\tin prio def ipsec\n');
    expect(dp.out).toContain('10.2.0.0/24[any] 10.1.0.0/24[any] 255\n\tfwd prio def ipsec\n');

    const d = await setkey(['-D'].concat(['--socket', sock]));
    expect(d.code).toBe(0);
    expect(d.out).toContain('192.0.2.2 192.0.2.1 \n\tesp mode=tunnel spi=8193(0x00002001) reqid=0(0x00000000)\n\tE: aes-cbc  00010203 04050607 08090a0b 0c0d0e0f\n');

    const env = await new Promise<{ code: number | null; out: string }>((done) => {
      const c = spawn(process.execPath, [join(root, 'bin', 'setkey'), '-D', '-P'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TANUKI_PFKEY_SOCKET: sock } });
      children.push(c);
      let out = '';
      c.stdout!.on('data', (x: Buffer) => (out += x.toString()));
      c.on('exit', (code) => done({ code, out }));
    });
    expect(env.code).toBe(0);
    const noPid = (t: string) => t.replace(/ pid=\d+/g, ' pid=N');
    expect(noPid(env.out)).toBe(noPid(dp.out)); // the same policies, found via $TANUKI_PFKEY_SOCKET
    // setkey -x ends (exit 1, after saying why) when the kernel goes away
    const monitor = spawn(process.execPath, [join(root, 'bin', 'setkey'), '--socket', sock, '-x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(monitor);
    let mon = '';
    let monErr = '';
    monitor.stdout!.on('data', (x: Buffer) => (mon += x.toString()));
    monitor.stderr!.on('data', (x: Buffer) => (monErr += x.toString()));
    await until(() => mon.includes('type=11 '), 20000);
    kernel.kill('SIGTERM');
    await until(() => kernel.exitCode !== null);
    await until(() => monitor.exitCode !== null);
    expect(monitor.exitCode).toBe(1);
    expect(monErr).toContain('PF_KEY peer closed the connection');
  }, 60000);

  it('hosted kernel: a client registered for ESP gets the ACQUIRE and setkey -x in another process shows it', async () => {
    const sock = join(dir, 'k2', 'pfkey.sock');
    const kernel = new UserspaceKernel();
    const server = await PfKeyServer.listen({ socketPath: sock, kernel });
    try {
      expect((await setkey(['--socket', sock, '-f', join(dir, 'ipsec.conf')])).code).toBe(0);

      const km = await connectUnixPfKey(sock, { pid: 4242 });
      const seen: PfKeyMessage[] = [];
      km.onMessage((m) => seen.push(m));
      expect((await km.request({ type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, seq: 0, pid: 4242, ext: {} })).errno).toBe(0);

      const monitor = spawn(process.execPath, [join(root, 'bin', 'setkey'), '--socket', sock, '-x'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
      children.push(monitor);
      let mon = '';
      monitor.stdout!.on('data', (d: Buffer) => (mon += d.toString()));
      await until(() => mon.includes('type=11 '), 20000); // its own X_PROMISC, echoed

      const decision = kernel.outbound({ src: parseIp('10.1.0.7')!, dst: parseIp('10.2.0.8')!, proto: IPPROTO.UDP, sport: 5000, dport: 53 });
      expect(decision.action).toBe('acquire');
      await until(() => seen.some((m) => m.type === SadbMsgType.ACQUIRE) && mon.includes('type=6 '));

      const acq = seen.find((m) => m.type === SadbMsgType.ACQUIRE)!;
      expect(acq.satype).toBe(SadbSaType.ESP);
      expect([acq.ext.addressSrc?.addr.address, acq.ext.addressDst?.addr.address]).toEqual(['192.0.2.1', '192.0.2.2']);
      expect(acq.ext.proposal?.combs.length).toBeGreaterThan(0);
      const record = mon.split('\n\n').find((r) => r.includes('sadb_msg{ version=2 type=6 '))!;
      expect(record).toMatch(/^\d\d:\d\d:\d\d\.\d{6} \nsadb_msg\{ version=2 type=6 errno=0 satype=3\n/);
      expect(record).toContain('sadb_x_policy{ type=2 dir=2 ');
      expect(record).toContain('sadb_prop{ replay=');
      monitor.kill('SIGINT');
      await until(() => monitor.exitCode !== null);
      expect(monitor.exitCode).toBe(0);
      await km.close();
    } finally {
      await server.close();
      kernel.shutdown();
    }
  }, 60000);
});
