/**
 * The userspace kernel served on a unix socket (issue 2: "Served to other
 * processes on a unix socket"), openPfKey()'s backends, and tanuki-kernel as
 * a real child process shared by two clients.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Errno } from '../../src/pfkey/constants';
import type { PfKeySocket } from '../../src/pfkey/socket';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { connectUnixPfKey, PfKeyNoKernelError } from '../../src/pfkey/unix';
import { embeddedKernel, KernelBackendUnavailableError, loadXfrm, openPfKey } from '../../src/kernel/index';
import { KernelAlreadyRunningError, PfKeyServer } from '../../src/kernel/server';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { collect, espSa, IpsecDir, IpsecPolicyType, msg, policyExt, SadbMsgType, SadbSaType, settle } from './helpers';

const dirs: string[] = [];
function tmpSocket(): string {
  const d = mkdtempSync(join(tmpdir(), `tanuki-kernel-${process.pid}-`));
  dirs.push(d);
  return join(d, 'run', 'pfkey.sock');
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('PfKeyServer', () => {
  let server: PfKeyServer;
  let kernel: UserspaceKernel;
  let path: string;
  const clients: PfKeySocket[] = [];
  beforeEach(async () => {
    path = tmpSocket();
    kernel = new UserspaceKernel();
    server = await PfKeyServer.listen({ socketPath: path, kernel });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await server.close();
    kernel.shutdown();
  });

  it('creates its directory and a mode 0600 socket, and removes it on close', async () => {
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('two connections are two PF_KEY sockets: replies to the sender, ADD broadcast to both', async () => {
    const a = await connectUnixPfKey(path, { pid: 501 });
    const b = await connectUnixPfKey(path, { pid: 502 });
    clients.push(a, b);
    const seenB = collect(b);
    const spi = await a.request(msg(SadbMsgType.GETSPI, SadbSaType.ESP, 1, { addressSrc: espSa('10.0.0.2', '10.0.0.1', 0).addressSrc!, addressDst: espSa('10.0.0.2', '10.0.0.1', 0).addressDst! }, 501));
    expect(spi.errno).toBe(0);
    const add = await a.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 2, espSa('10.0.0.1', '10.0.0.2', 0x2222), 501));
    expect(add.errno).toBe(0);
    await until(() => seenB.length >= 1);
    expect(seenB.map((m) => [m.type, m.seq, m.pid])).toEqual([[SadbMsgType.ADD, 2, 501]]);
    expect(kernel.sadb.size).toBe(2);
  });

  it('a well-framed message that does not decode gets EINVAL on that connection and changes nothing', async () => {
    const raw = createConnection({ path });
    const replies: Buffer[] = [];
    raw.on('data', (d: Buffer) => replies.push(d));
    await new Promise<void>((r) => raw.once('connect', () => r()));
    // an ADD missing its 8-byte SA body: sadb_ext_len says 2 words, only the header is there
    const truncated = Buffer.alloc(16 + 8);
    truncated.writeUInt8(2, 0);
    truncated.writeUInt8(SadbMsgType.ADD, 1);
    truncated.writeUInt8(SadbSaType.ESP, 3);
    truncated.writeUInt16LE(3, 4);
    truncated.writeUInt32LE(4242, 8);
    truncated.writeUInt32LE(77, 12);
    truncated.writeUInt16LE(5, 16); // ext len 5 words: overruns the message
    truncated.writeUInt16LE(1, 18); // SA
    raw.write(truncated);
    await until(() => Buffer.concat(replies).length >= 16);
    const reply = Buffer.concat(replies);
    expect(reply[1]).toBe(SadbMsgType.ADD);
    expect(reply[2]).toBe(Errno.EINVAL);
    expect(reply.readUInt32LE(8)).toBe(4242);
    expect(reply.readUInt16LE(4)).toBe(2); // header only
    expect(kernel.sadb.size).toBe(0);
    raw.destroy();
  });

  it('a message type beyond SADB_MAX is answered with its own header and EINVAL; other sockets see nothing', async () => {
    const other = await connectUnixPfKey(path, { pid: 900 });
    clients.push(other);
    const seen = collect(other);
    const raw = createConnection({ path });
    const replies: Buffer[] = [];
    raw.on('data', (d: Buffer) => replies.push(d));
    await new Promise<void>((r) => raw.once('connect', () => r()));
    const hdr = Buffer.alloc(16);
    hdr.writeUInt8(2, 0); // PF_KEY_V2
    hdr.writeUInt8(99, 1); // no such message type
    hdr.writeUInt16LE(2, 4);
    hdr.writeUInt32LE(31337, 8);
    hdr.writeUInt32LE(55, 12);
    raw.write(hdr);
    await until(() => Buffer.concat(replies).length >= 16);
    const reply = Buffer.concat(replies);
    expect([reply[1], reply[2], reply.readUInt16LE(4), reply.readUInt32LE(8), reply.readUInt32LE(12)]).toEqual([99, Errno.EINVAL, 2, 31337, 55]);
    await settle();
    expect(seen).toEqual([]);
    raw.destroy();
  });

  it('garbage that breaks the framing closes only that connection', async () => {
    const a = await connectUnixPfKey(path, { pid: 601 });
    clients.push(a);
    const raw = createConnection({ path });
    await new Promise<void>((r) => raw.once('connect', () => r()));
    const closed = new Promise<void>((r) => raw.once('close', () => r()));
    raw.write(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    await closed;
    const r = await a.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 1, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE), 601));
    expect(r.errno).toBe(0);
  });

  it('refuses to start where a kernel already answers; replaces a stale socket file', async () => {
    await expect(PfKeyServer.listen({ socketPath: path, kernel: new UserspaceKernel() })).rejects.toBeInstanceOf(KernelAlreadyRunningError);
    const stale = tmpSocket();
    const k2 = new UserspaceKernel();
    const s2 = await PfKeyServer.listen({ socketPath: stale, kernel: k2 });
    // simulate a crashed kernel: a socket file nobody listens on
    await s2.close();
    writeFileSync(stale, '');
    const s3 = await PfKeyServer.listen({ socketPath: stale, kernel: k2 });
    const c = await connectUnixPfKey(stale);
    clients.push(c);
    expect((await c.request(msg(SadbMsgType.X_SPDFLUSH, SadbSaType.UNSPEC, 1, {}, c.pid))).errno).toBe(0);
    await s3.close();
    k2.shutdown();
  });
});

describe('openPfKey backends', () => {
  it('af_key says clearly that this kernel has no AF_KEY', async () => {
    const err = await openPfKey({ backend: 'af_key' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelBackendUnavailableError);
    if (!existsSync('/proc/net/pfkey')) expect((err as Error).message).toMatch(/^AF_KEY is not available on this kernel \(no \/proc\/net\/pfkey/);
    else expect((err as Error).message).toMatch(/AF_KEY sockets cannot be opened from Node\.js/);
  });

  it('a build without the XFRM backend says so', () => {
    expect(() => loadXfrm('./no-such-backend')).toThrow(/XFRM kernel backend is not available in this build/);
  });

  it('userspace without a running kernel and without embed fails with PfKeyNoKernelError', async () => {
    await expect(openPfKey({ socketPath: tmpSocket() })).rejects.toBeInstanceOf(PfKeyNoKernelError);
  });

  it('two racing openPfKey({ embed }) calls share one embedded kernel', async () => {
    const path = tmpSocket();
    const [x, y] = await Promise.all([openPfKey({ socketPath: path, embed: true, pid: 710 }), openPfKey({ socketPath: path, embed: true, pid: 711 })]);
    const emb = embeddedKernel()!;
    expect(emb.kernel.socketCount).toBe(2);
    await Promise.all([x.close(), y.close()]);
    await emb.stop();
  });

  it('userspace with embed starts a kernel in this process and serves it to other clients', async () => {
    const path = tmpSocket();
    const local = await openPfKey({ socketPath: path, embed: true, pid: 700 });
    const emb = embeddedKernel();
    expect(emb?.server?.socketPath).toBe(path);
    const remote = await connectUnixPfKey(path, { pid: 701 });
    const seen = collect(remote);
    const r = await local.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 3, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD), 700));
    expect(r.errno).toBe(0);
    await until(() => seen.length > 0);
    expect(seen[0]).toMatchObject({ type: SadbMsgType.X_SPDADD, pid: 700, seq: 3 });
    // a second openPfKey in the same process shares the embedded kernel
    const again = await openPfKey({ socketPath: path, embed: true, pid: 702 });
    const dump = collect(again);
    again.send(msg(SadbMsgType.X_SPDDUMP, SadbSaType.UNSPEC, 4, {}, 702));
    await until(() => dump.some((m) => m.type === SadbMsgType.X_SPDDUMP));
    await Promise.all([local.close(), remote.close(), again.close()]);
    await emb!.stop();
    expect(existsSync(path)).toBe(false);
  });
});

describe('tanuki-kernel as a child process', () => {
  const root = resolve(__dirname, '..', '..');
  const entry = join(root, 'dist', 'src', 'cli', 'tanuki-kernel.js');
  let child: ChildProcess | undefined;

  beforeAll(() => {
    // The child runs the compiled CLI; `npm test` compiles first, a bare `npx jest` may not have.
    const newest = (dir: string): number => Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
    if (!existsSync(entry) || statSync(entry).mtimeMs < newest(join(root, 'src'))) {
      const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
      if (r.status !== 0) throw new Error('tsc failed');
    }
  });
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('serves two clients that see each other, and removes its socket on SIGTERM', async () => {
    const path = tmpSocket();
    child = spawn(process.execPath, [join(root, 'bin', 'tanuki-kernel'), '--socket', path, '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('listening on'), 15000);
    const a = await connectUnixPfKey(path, { pid: 801 });
    const b = await connectUnixPfKey(path, { pid: 802 });
    const seenB: PfKeyMessage[] = collect(b);
    await b.request(msg(SadbMsgType.REGISTER, SadbSaType.ESP, 1, {}, 802));
    expect((await a.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 2, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE), 801))).errno).toBe(0);
    expect((await a.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 3, espSa('10.0.0.1', '10.0.0.2', 0x3333), 801))).errno).toBe(0);
    await until(() => seenB.filter((m) => m.pid === 801).length === 2);
    expect(seenB.filter((m) => m.pid === 801).map((m) => m.type)).toEqual([SadbMsgType.X_SPDADD, SadbMsgType.ADD]);
    const dump: PfKeyMessage[] = [];
    b.onMessage((m) => m.type === SadbMsgType.DUMP && dump.push(m));
    b.send(msg(SadbMsgType.DUMP, SadbSaType.UNSPEC, 4, {}, 802));
    await until(() => dump.length === 1);
    expect(dump[0].ext.sa!.spi).toBe(0x3333);
    await Promise.all([a.close(), b.close()]);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(path)).toBe(false);
    await settle();
  });

  it('exits with status 2 and the usage on a bad argument', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'tanuki-kernel'), '--bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument "--bogus"/);
    expect(r.stderr).toMatch(/usage: tanuki-kernel/);
  });
});
