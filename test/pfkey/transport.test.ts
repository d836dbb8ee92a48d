/**
 * PfKeySocket transports. RFC 2367 §3.1: a reply carries the request's type,
 * seq and pid; broadcasts carry the originator's pid. Tested over an
 * in-memory channel and over a unix stream socket to a tiny echo "kernel".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelPfKeySocket, PfKeyClosedError, PfKeyTimeoutError, type PfKeyChannel } from '../../src/pfkey/channel';
import { decodeMessage, encodeMessage, PfKeyEncodeError } from '../../src/pfkey/codec';
import { PfKeyFramer, PfKeyFramingError } from '../../src/pfkey/framing';
import type { PfKeySocket } from '../../src/pfkey/socket';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { connectUnixPfKey, PfKeyMalformedMessageError, PfKeyNoKernelError } from '../../src/pfkey/unix';
import { collectDump, PfKeyDumpError } from '../../src/pfkey/dump';

const REGISTER: PfKeyMessage = { type: 7, satype: 3, errno: 0, seq: 0, pid: 0, ext: {} };

/** An in-memory channel whose far end is a function (the "kernel"). */
function memoryChannel(kernel: (msg: PfKeyMessage, reply: (m: PfKeyMessage) => void) => void): PfKeyChannel & { inject(m: PfKeyMessage): void; posted: PfKeyMessage[] } {
  const subs = new Set<(m: PfKeyMessage) => void>();
  const posted: PfKeyMessage[] = [];
  const inject = (m: PfKeyMessage): void => subs.forEach((s) => s(m));
  return {
    posted,
    inject,
    post(m) {
      posted.push(m);
      kernel(m, inject);
    },
    subscribe(cb) {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    close: async () => undefined,
  };
}

describe('ChannelPfKeySocket', () => {
  it('stamps its pid, allocates seq for seq 0, keeps an explicit seq (racoon uses the ph2 seq)', async () => {
    const ch = memoryChannel((m, reply) => reply({ ...m, errno: 0 }));
    const s = new ChannelPfKeySocket(ch, { pid: 4242, firstSeq: 10 });
    await s.request(REGISTER);
    await s.request({ ...REGISTER, seq: 777 });
    s.send(REGISTER);
    expect(ch.posted.map((m) => [m.pid, m.seq])).toEqual([
      [4242, 10],
      [4242, 777],
      [4242, 11],
    ]);
  });

  it('answers a synchronous in-process kernel reply, and resolves with non-zero errno replies', async () => {
    const ch = memoryChannel((m, reply) => reply({ ...m, errno: 17 }));
    const s = new ChannelPfKeySocket(ch, { pid: 1 });
    await expect(s.request(REGISTER)).resolves.toMatchObject({ type: 7, errno: 17, pid: 1 });
  });

  it('matches replies by type+seq+pid: broadcasts of other pids and other types do not resolve it', async () => {
    const ch = memoryChannel(() => undefined);
    const s = new ChannelPfKeySocket(ch, { pid: 5 });
    const seen: number[] = [];
    s.onMessage((m) => seen.push(m.pid));
    const p = s.request({ ...REGISTER, seq: 3 });
    let settled = false;
    void p.then(() => (settled = true));
    ch.inject({ ...REGISTER, seq: 3, pid: 6 }); // another socket's REGISTER, broadcast
    ch.inject({ ...REGISTER, type: 8, seq: 3, pid: 5 }); // an EXPIRE, not our reply
    await Promise.resolve();
    expect(settled).toBe(false);
    ch.inject({ ...REGISTER, seq: 3, pid: 5, ext: { supportedAuth: { algs: [] } } });
    await expect(p).resolves.toMatchObject({ seq: 3, pid: 5, ext: { supportedAuth: { algs: [] } } });
    expect(seen).toEqual([6, 5, 5]); // every message reaches onMessage, replies included
  });

  it('times out with PfKeyTimeoutError and forgets the request', async () => {
    const ch = memoryChannel(() => undefined);
    const s = new ChannelPfKeySocket(ch, { pid: 5 });
    await expect(s.request({ ...REGISTER, seq: 9 }, 20)).rejects.toBeInstanceOf(PfKeyTimeoutError);
    // a late reply is just a message now
    const late: PfKeyMessage[] = [];
    s.onMessage((m) => late.push(m));
    ch.inject({ ...REGISTER, seq: 9, pid: 5 });
    expect(late).toHaveLength(1);
  });

  it('close() rejects pending requests and later sends', async () => {
    const ch = memoryChannel(() => undefined);
    const s = new ChannelPfKeySocket(ch, { pid: 5 });
    const p = s.request(REGISTER);
    await s.close();
    await expect(p).rejects.toBeInstanceOf(PfKeyClosedError);
    expect(() => s.send(REGISTER)).toThrow(PfKeyClosedError);
    await expect(s.request(REGISTER)).rejects.toBeInstanceOf(PfKeyClosedError);
  });

  it('a throwing listener is reported on onError and does not stop delivery', async () => {
    const ch = memoryChannel((m, reply) => reply(m));
    const s = new ChannelPfKeySocket(ch, { pid: 5 });
    const errors: Error[] = [];
    s.onError((e) => errors.push(e));
    s.onMessage(() => {
      throw new Error('listener bug');
    });
    await expect(s.request(REGISTER)).resolves.toMatchObject({ type: 7 });
    expect(errors.map((e) => e.message)).toEqual(['listener bug']);
  });
});

/** A tiny "kernel": echoes each message back (errno 0), byte by byte to exercise framing, and can broadcast. */
function startEchoServer(path: string): Promise<{ server: Server; clients: Socket[] }> {
  const clients: Socket[] = [];
  const server = createServer((c) => {
    clients.push(c);
    const framer = new PfKeyFramer();
    c.on('data', (chunk) => {
      for (const bytes of framer.push(chunk).messages) {
        const r = decodeMessage(bytes);
        if (!r.ok) continue;
        if (r.msg.type === 4) continue; // DELETE: never answered (timeout test)
        const reply = encodeMessage({ ...r.msg, errno: r.msg.type === 5 ? 2 : 0 });
        for (const b of reply) c.write(Buffer.from([b]));
      }
    });
    c.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ server, clients })));
}

describe('unix stream transport', () => {
  let dir: string;
  let path: string;
  let server: Server;
  let clients: Socket[];
  const sockets: PfKeySocket[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `tanuki-pfkey-${process.pid}-`));
    path = join(dir, 'pfkey.sock');
    ({ server, clients } = await startEchoServer(path));
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    clients.forEach((c) => c.destroy());
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const connect = async (pid: number): Promise<PfKeySocket> => {
    const s = await connectUnixPfKey(path, { pid, timeoutMs: 2000 });
    sockets.push(s);
    return s;
  };

  it('request/reply through encode → framing → decode, reply written one byte at a time', async () => {
    const s = await connect(321);
    const reply = await s.request({
      type: 14,
      satype: 0,
      errno: 0,
      seq: 0,
      pid: 0,
      ext: {
        addressSrc: { proto: 255, prefixlen: 24, addr: { family: 2, address: '10.0.1.0', port: 0 } },
        policy: { type: 2, dir: 2, id: 0, priority: 0, requests: [{ proto: 50, mode: 1, level: 2, reqid: 0 }] },
      },
    });
    expect(reply).toMatchObject({ type: 14, pid: 321, seq: 1, ext: { policy: { requests: [{ proto: 50 }] } } });
    await expect(s.request({ ...REGISTER, type: 5 })).resolves.toMatchObject({ errno: 2 });
  });

  it('two sockets do not see each other’s replies as their own', async () => {
    const [a, b] = await Promise.all([connect(1001), connect(1002)]);
    const [ra, rb] = await Promise.all([a.request({ ...REGISTER, seq: 5 }), b.request({ ...REGISTER, seq: 5 })]);
    expect([ra.pid, rb.pid]).toEqual([1001, 1002]);
  });

  it('times out when the kernel does not answer', async () => {
    const s = await connect(55);
    await expect(s.request({ ...REGISTER, type: 4 }, 50)).rejects.toBeInstanceOf(PfKeyTimeoutError);
  });

  it('an invalid model throws PfKeyEncodeError before anything is written', async () => {
    const s = await connect(56);
    await expect(s.request({ ...REGISTER, ext: { keyAuth: { bits: 8, key: Buffer.alloc(2) } } })).rejects.toBeInstanceOf(PfKeyEncodeError);
    await expect(s.request(REGISTER)).resolves.toMatchObject({ type: 7 });
  });

  it('reports a malformed message from the kernel and keeps the stream', async () => {
    const s = await connect(57);
    const errors: Error[] = [];
    s.onError((e) => errors.push(e));
    const bad = Buffer.from('0207000302000000000000000000000000000100' + '00000000', 'hex'); // ext len 0
    bad.writeUInt16LE(3, 4);
    const c = clients[clients.length - 1];
    c.write(Buffer.concat([bad.subarray(0, 24)]));
    await expect(s.request(REGISTER)).resolves.toMatchObject({ type: 7 });
    expect(errors[0]).toBeInstanceOf(PfKeyMalformedMessageError);
    expect(errors[0].message).toContain('ext-len-zero');
  });

  it('garbage on the stream is a framing error: the connection is dropped and pending requests fail', async () => {
    const s = await connect(58);
    const errors: Error[] = [];
    s.onError((e) => errors.push(e));
    const p = s.request({ ...REGISTER, type: 4 }, 2000); // never answered
    clients[clients.length - 1].write('HTTP/1.1 400 Bad Request\r\n\r\n');
    await expect(p).rejects.toBeInstanceOf(PfKeyClosedError);
    expect(errors[0]).toBeInstanceOf(PfKeyFramingError);
  });

  it('says clearly when nothing listens at the path', async () => {
    const missing = join(dir, 'nobody.sock');
    await expect(connectUnixPfKey(missing)).rejects.toThrow(`no tanuki kernel at ${missing}: start \`tanuki-kernel\` or racoon`);
    await expect(connectUnixPfKey(missing)).rejects.toBeInstanceOf(PfKeyNoKernelError);
  });
});

describe('collectDump (RFC 2367 §3.1.11: dump replies count sadb_msg_seq down to 0)', () => {
  const DUMP: PfKeyMessage = { type: 10, satype: 3, errno: 0, seq: 0, pid: 0, ext: {} };
  const entry = (seq: number, pid: number, spi: number): PfKeyMessage => ({
    ...DUMP,
    seq,
    pid,
    ext: { sa: { spi, replay: 0, state: 1, auth: 0, encrypt: 0, flags: 0 } },
  });

  it('collects every entry until seq 0, ignoring other sockets’ dumps', async () => {
    const ch = memoryChannel((m, reply) => {
      reply(entry(1, 999, 0xdead)); // another socket's dump on a promiscuous view
      [2, 1, 0].forEach((seq, i) => reply(entry(seq, m.pid, 0x100 + i)));
    });
    const s = new ChannelPfKeySocket(ch, { pid: 31 });
    const got = await collectDump(s, DUMP);
    expect(got.map((m) => m.ext.sa?.spi)).toEqual([0x100, 0x101, 0x102]);
  });

  it('an empty database (ENOENT) is an empty dump; another errno rejects', async () => {
    const empty = new ChannelPfKeySocket(memoryChannel((m, reply) => reply({ ...m, errno: 2 })), { pid: 1 });
    await expect(collectDump(empty, DUMP)).resolves.toEqual([]);
    const busy = new ChannelPfKeySocket(memoryChannel((m, reply) => reply({ ...m, errno: 16 })), { pid: 1 });
    await expect(collectDump(busy, { ...DUMP, type: 18 })).rejects.toMatchObject({ name: 'PfKeyDumpError', errno: 16 });
  });

  it('rejects when the dump stalls', async () => {
    const s = new ChannelPfKeySocket(memoryChannel((m, reply) => reply(entry(5, m.pid, 1))), { pid: 1 });
    await expect(collectDump(s, DUMP, { idleTimeoutMs: 30 })).rejects.toBeInstanceOf(PfKeyDumpError);
  });
});
