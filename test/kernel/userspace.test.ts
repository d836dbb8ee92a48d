/**
 * The userspace kernel's socket semantics: RFC 2367 §1.2/§3 (who gets
 * replies and broadcasts), Linux af_key pfkey_broadcast (ALL / REGISTERED /
 * ONE, promiscuous copies), pfkey_error (errno replies that change
 * nothing), and the ACQUIRE / EXPIRE / SPDEXPIRE messages the kernel raises.
 */
import { Errno, SadbAalg, SadbEalg } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { VirtualClock } from '../../src/sadb/clock';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { LocalPfKeySocket } from '../../src/kernel/userspace/local-socket';
import {
  address,
  collect,
  espSa,
  espTransport,
  espTunnel,
  IPPROTO,
  IpsecDir,
  IpsecLevel,
  IpsecPolicyType,
  lifetime,
  msg,
  packet,
  policyExt,
  SadbMsgType,
  SadbSaType,
  settle,
} from './helpers';

function setup() {
  const clock = new VirtualClock();
  const kernel = new UserspaceKernel({ clock });
  const open = (pid: number) => {
    const sock = new LocalPfKeySocket(kernel, pid);
    return { sock, seen: collect(sock) };
  };
  return { clock, kernel, open };
}

const types = (seen: PfKeyMessage[]) => seen.map((m) => SadbMsgType[m.type]);

describe('REGISTER (RFC 2367 §3.1.7)', () => {
  it('answers with SUPPORTED_AUTH/ENCRYPT to the sender and to every registered socket, not to others', async () => {
    const { open } = setup();
    const a = open(1);
    const b = open(2);
    const c = open(3);
    await b.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.AH, 1, {}, 2));
    const reply = await a.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.ESP, 7, {}, 1));
    await settle();
    expect(reply.errno).toBe(0);
    expect(reply.ext.supportedEncrypt!.algs.map((x) => x.id)).toContain(SadbEalg.AESCBC);
    const aes = reply.ext.supportedEncrypt!.algs.find((x) => x.id === SadbEalg.AESCBC)!;
    expect([aes.minbits, aes.maxbits]).toEqual([128, 256]);
    expect(reply.ext.supportedAuth!.algs.map((x) => x.id)).toContain(SadbAalg.SHA2_256HMAC);
    // from the crypto registry: AES-GCM-16 with its 4-byte salt, HMAC-SHA2-512 with a 512-bit key
    expect(reply.ext.supportedEncrypt!.algs.find((x) => x.id === SadbEalg.AES_GCM_ICV16)).toEqual({ id: SadbEalg.AES_GCM_ICV16, ivlen: 8, minbits: 160, maxbits: 288 });
    expect(reply.ext.supportedAuth!.algs.find((x) => x.id === SadbAalg.SHA2_512HMAC)).toMatchObject({ minbits: 512, maxbits: 512 });
    // a cipher the registry lists without an implementation is not offered
    expect(reply.ext.supportedEncrypt!.algs.map((x) => x.id)).not.toContain(SadbEalg.CASTCBC);
    expect(b.seen.filter((m) => m.type === SadbMsgType.REGISTER).map((m) => m.pid)).toEqual([2, 1]);
    expect(c.seen).toEqual([]);
    expect([...a.sock.kernelEndpoint.registered]).toEqual([SadbSaType.ESP]);
  });

  it('a second REGISTER for the same satype is EEXIST (af_key pfkey_register)', async () => {
    const { open } = setup();
    const a = open(1);
    await a.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.ESP, 1, {}, 1));
    expect((await a.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.ESP, 2, {}, 1))).errno).toBe(Errno.EEXIST);
  });
});

describe('replies and broadcasts', () => {
  it('GETSPI and GET answer the sender only; ADD goes to every socket with the sender seq/pid and no keys', async () => {
    const { open } = setup();
    const a = open(10);
    const b = open(20);
    const spi = await a.sock.request(msg(SadbMsgType.GETSPI, SadbSaType.ESP, 5, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') }, 10));
    expect(spi.ext.sa!.spi).toBeGreaterThan(255);
    const add = await a.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 6, espSa('10.0.0.1', '10.0.0.2', 0x1234), 10));
    expect(add.errno).toBe(0);
    expect(add.ext.keyEncrypt).toBeUndefined();
    const get = await a.sock.request(msg(SadbMsgType.GET, SadbSaType.ESP, 7, { sa: add.ext.sa!, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') }, 10));
    expect(get.ext.keyEncrypt!.key).toEqual(Buffer.alloc(16, 0x11));
    await settle();
    expect(types(a.seen)).toEqual(['GETSPI', 'ADD', 'GET']);
    expect(types(b.seen)).toEqual(['ADD']);
    expect(b.seen[0]).toMatchObject({ seq: 6, pid: 10, errno: 0 });
  });

  it('UPDATE, DELETE and FLUSH go to every socket', async () => {
    const { open } = setup();
    const a = open(10);
    const b = open(20);
    const larval = await a.sock.request(msg(SadbMsgType.GETSPI, SadbSaType.ESP, 1, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') }, 10));
    const spi = larval.ext.sa!.spi;
    expect((await a.sock.request(msg(SadbMsgType.UPDATE, SadbSaType.ESP, 2, espSa('10.0.0.2', '10.0.0.1', spi), 10))).ext.sa!.state).toBe(1);
    await a.sock.request(msg(SadbMsgType.DELETE, SadbSaType.ESP, 3, { sa: espSa('', '', spi).sa, addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') }, 10));
    await a.sock.request(msg(SadbMsgType.FLUSH, SadbSaType.UNSPEC, 4, {}, 10));
    await settle();
    expect(types(b.seen)).toEqual(['UPDATE', 'DELETE', 'FLUSH']);
    expect(b.seen[1].ext.sa!.spi).toBe(spi);
  });

  it('DELETE without an SA extension deletes the pair and echoes the request to all (KAME)', async () => {
    const { open, kernel } = setup();
    const a = open(10);
    const b = open(20);
    a.sock.send(msg(SadbMsgType.ADD, SadbSaType.ESP, 1, espSa('10.0.0.1', '10.0.0.2', 0x1001), 10));
    a.sock.send(msg(SadbMsgType.ADD, SadbSaType.ESP, 2, espSa('10.0.0.1', '10.0.0.2', 0x1002), 10));
    const r = await a.sock.request(msg(SadbMsgType.DELETE, SadbSaType.ESP, 3, { addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') }, 10));
    await settle();
    expect(r.errno).toBe(0);
    expect(r.ext.sa).toBeUndefined();
    expect(kernel.sadb.size).toBe(0);
    expect(types(b.seen)).toEqual(['ADD', 'ADD', 'DELETE']);
  });

  it('DUMP sends one message per SA to the sender, numbered 1.. and the last 0; an empty SAD is ENOENT', async () => {
    const { open } = setup();
    const a = open(10);
    const b = open(20);
    expect((await a.sock.request(msg(SadbMsgType.DUMP, SadbSaType.UNSPEC, 1, {}, 10))).errno).toBe(Errno.ENOENT);
    for (const spi of [0x1001, 0x1002, 0x1003]) a.sock.send(msg(SadbMsgType.ADD, SadbSaType.ESP, spi, espSa('10.0.0.1', '10.0.0.2', spi), 10));
    a.sock.send(msg(SadbMsgType.DUMP, SadbSaType.ESP, 50, {}, 10));
    await settle();
    const dumps = a.seen.filter((m) => m.type === SadbMsgType.DUMP && m.errno === 0);
    expect(dumps.map((m) => [m.ext.sa!.spi, m.seq, m.pid])).toEqual([[0x1001, 1, 10], [0x1002, 2, 10], [0x1003, 0, 10]]);
    expect(dumps[0].ext.keyAuth).toBeDefined();
    expect(dumps[0].ext.lifetimeCurrent).toBeDefined();
    expect(b.seen.filter((m) => m.type === SadbMsgType.DUMP)).toEqual([]);
  });

  it('an error is answered to the sender alone: its header, sadb_msg_errno, no extensions (af_key pfkey_error)', async () => {
    const { open } = setup();
    const a = open(10);
    const b = open(20);
    const r = await a.sock.request(msg(SadbMsgType.DELETE, SadbSaType.ESP, 9, { sa: espSa('', '', 0x999).sa, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') }, 10));
    await settle();
    expect(r).toEqual({ type: SadbMsgType.DELETE, satype: SadbSaType.ESP, errno: Errno.ESRCH, seq: 9, pid: 10, ext: {} });
    expect(b.seen).toEqual([]);
  });

  it('a promiscuous socket sees every request sent and every message the kernel sends, once each', async () => {
    const { open } = setup();
    const a = open(10);
    const p = open(30);
    const on = await p.sock.request(msg(SadbMsgType.X_PROMISC, 1 as SadbSaType, 1, {}, 30));
    expect(on.errno).toBe(0);
    expect(p.sock.kernelEndpoint.promiscuous).toBe(true);
    p.seen.length = 0;
    await a.sock.request(msg(SadbMsgType.GETSPI, SadbSaType.ESP, 2, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') }, 10));
    await a.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 3, espSa('10.0.0.1', '10.0.0.2', 0x500), 10));
    await a.sock.request(msg(SadbMsgType.GET, SadbSaType.ESP, 4, { sa: espSa('', '', 0x501).sa, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') }, 10));
    await settle();
    // each request (pid 10, errno 0 as sent) followed by the kernel's answer
    expect(p.seen.map((m) => [SadbMsgType[m.type], m.errno])).toEqual([
      ['GETSPI', 0], ['GETSPI', 0],
      ['ADD', 0], ['ADD', 0],
      ['GET', 0], ['GET', Errno.ESRCH],
    ]);
    expect(p.seen[1].ext.sa).toBeDefined(); // the reply, not the request
    await p.sock.request(msg(SadbMsgType.X_PROMISC, 0 as SadbSaType, 5, {}, 30));
    expect(p.sock.kernelEndpoint.promiscuous).toBe(false);
    expect((await p.sock.request(msg(SadbMsgType.X_PROMISC, 2 as SadbSaType, 6, {}, 30))).errno).toBe(Errno.EINVAL);
  });
});

describe('malformed and refused messages change nothing', () => {
  async function loaded() {
    const env = setup();
    const a = env.open(10);
    await a.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 1, espSa('10.0.0.1', '10.0.0.2', 0x1001), 10));
    await a.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 2, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE), 10));
    const snapshot = () => JSON.stringify({ sas: env.kernel.sadb.list(SadbSaType.UNSPEC)!.map((s) => [s.spi, s.state, s.dst]), sps: env.kernel.spd.list().map((p) => [p.id, p.type]) });
    return { ...env, a, snapshot, before: snapshot() };
  }

  it.each<[string, PfKeyMessage, number]>([
    ['a non-zero sadb_msg_reserved', { ...msg(SadbMsgType.FLUSH, SadbSaType.UNSPEC, 3, {}, 10), reserved: 1 }, Errno.EINVAL],
    ['an unknown message type', msg(99 as SadbMsgType, SadbSaType.UNSPEC, 3, {}, 10), Errno.EINVAL],
    ['satype 12', msg(SadbMsgType.FLUSH, 12 as SadbSaType, 3, {}, 10), Errno.EINVAL],
    ['ADD without addresses', msg(SadbMsgType.ADD, SadbSaType.ESP, 3, { sa: espSa('', '', 0x2000).sa }, 10), Errno.EINVAL],
    ['ADD of an existing SPI', msg(SadbMsgType.ADD, SadbSaType.ESP, 3, espSa('10.0.0.1', '10.0.0.2', 0x1001), 10), Errno.EEXIST],
    ['SPDADD of an existing selector', msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 3, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD), 10), Errno.EEXIST],
    ['SPDADD with tunnel mode and no endpoints', msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 3, policyExt('10.9.0.1', '10.9.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.IPSEC, { requests: [{ ...espTunnel('1.1.1.1', '2.2.2.2'), src: undefined, dst: undefined }] }), 10), Errno.EINVAL],
    ['FLUSH of satype RSVP', msg(SadbMsgType.FLUSH, SadbSaType.RSVP, 3, {}, 10), Errno.EINVAL],
    ['X_MIGRATE without addresses or policy', msg(SadbMsgType.X_MIGRATE, SadbSaType.ESP, 3, {}, 10), Errno.EINVAL],
  ])('%s', async (_what, bad, errno) => {
    const env = await loaded();
    const r = await env.a.sock.request(bad);
    expect(r.errno).toBe(errno);
    expect(r.ext).toEqual({});
    expect(env.snapshot()).toBe(env.before);
  });
});

describe('ACQUIRE (RFC 2367 §3.1.6)', () => {
  async function withPolicy(level: IpsecLevel, requests = [espTransport(level)]) {
    const env = setup();
    const km = env.open(100); // registered key manager
    const ah = env.open(101); // registered for AH only
    const other = env.open(102); // not registered
    await km.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.ESP, 1, {}, 100));
    await ah.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.AH, 1, {}, 101));
    const add = await other.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 2, policyExt('10.0.0.0', '10.0.1.0', IpsecDir.OUTBOUND, IpsecPolicyType.IPSEC, { splen: 24, dplen: 24, requests }), 102));
    await settle();
    for (const s of [km, ah, other]) s.seen.length = 0;
    return { ...env, km, ah, other, spid: add.ext.policy!.id };
  }

  it('packets matching a require policy without SA raise exactly one ACQUIRE to the ESP-registered socket', async () => {
    const env = await withPolicy(IpsecLevel.REQUIRE);
    for (let i = 0; i < 5; i++) expect(env.kernel.outbound(packet('10.0.0.5', '10.0.1.7')).action).toBe('acquire');
    await settle();
    expect(types(env.km.seen)).toEqual(['ACQUIRE']);
    expect(env.ah.seen).toEqual([]);
    expect(env.other.seen).toEqual([]);
    const acq = env.km.seen[0];
    expect(acq).toMatchObject({ satype: SadbSaType.ESP, pid: 0, errno: 0 });
    expect(acq.seq).toBeGreaterThan(0);
    expect(acq.ext.addressSrc!.addr.address).toBe('10.0.0.5');
    expect(acq.ext.addressDst!.addr.address).toBe('10.0.1.7');
    expect(acq.ext.policy).toMatchObject({ id: env.spid, dir: IpsecDir.OUTBOUND, type: IpsecPolicyType.IPSEC });
    const combs = acq.ext.proposal!.combs;
    expect(combs.some((c) => c.encrypt === SadbEalg.AESCBC && c.auth === SadbAalg.SHA1HMAC && c.encryptMinbits === 128 && c.encryptMaxbits === 256)).toBe(true);
    expect(combs.every((c) => c.auth !== SadbAalg.X_NULL)).toBe(true);
    expect(combs.filter((c) => c.encrypt === SadbEalg.AES_GCM_ICV16).map((c) => c.auth)).toEqual([0]); // AEAD: once, no auth
  });

  it('another host under the same policy gets its own ACQUIRE; after acq_expires (30 s) the same flow may ask again', async () => {
    const env = await withPolicy(IpsecLevel.REQUIRE);
    env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    env.kernel.outbound(packet('10.0.0.5', '10.0.1.8'));
    env.clock.advance(29_000);
    env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    await settle();
    expect(env.km.seen).toHaveLength(2);
    env.clock.advance(1_000);
    env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    await settle();
    expect(env.km.seen).toHaveLength(3);
  });

  it('once the SA is added the packet is protected with it and the ACQUIRE stands no more', async () => {
    const env = await withPolicy(IpsecLevel.REQUIRE);
    env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    expect(env.kernel.pendingAcquireCount).toBe(1);
    await env.km.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 9, espSa('10.0.0.5', '10.0.1.7', 0x4000), 100));
    expect(env.kernel.pendingAcquireCount).toBe(0);
    const d = env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    expect(d.action).toBe('protect');
    expect(d.action === 'protect' && d.sas.map((s) => s.spi)).toEqual([0x4000]);
  });

  it('level use: the packet proceeds without SA, and the key manager is still asked once', async () => {
    const env = await withPolicy(IpsecLevel.USE);
    const d = env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    await settle();
    expect(d).toMatchObject({ action: 'protect', sas: [] });
    expect(types(env.km.seen)).toEqual(['ACQUIRE']);
  });

  it('tunnel mode: the ACQUIRE names the tunnel endpoints, not the packet addresses', async () => {
    const env = await withPolicy(IpsecLevel.REQUIRE, [espTunnel('192.0.2.1', '192.0.2.2')]);
    env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    env.kernel.outbound(packet('10.0.0.6', '10.0.1.9'));
    await settle();
    expect(env.km.seen).toHaveLength(1);
    expect([env.km.seen[0].ext.addressSrc!.addr.address, env.km.seen[0].ext.addressDst!.addr.address]).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  it('a key manager answering the ACQUIRE with an errno makes the flow drop until it expires (af_key pfkey_acquire)', async () => {
    const env = await withPolicy(IpsecLevel.REQUIRE);
    const first = env.kernel.outbound(packet('10.0.0.5', '10.0.1.7'));
    expect(first.action).toBe('acquire');
    const seq = first.action === 'acquire' ? first.acquireSeq : -1;
    env.km.sock.send({ ...msg(SadbMsgType.ACQUIRE, SadbSaType.ESP, seq, {}, 100), errno: Errno.ENOENT });
    expect(env.kernel.outbound(packet('10.0.0.5', '10.0.1.7')).action).toBe('discard');
    env.clock.advance(30_000);
    expect(env.kernel.outbound(packet('10.0.0.5', '10.0.1.7')).action).toBe('acquire');
  });

  it('DISCARD, NONE and no policy decide without asking anyone; inbound demands the SAs an IPSEC policy requires', async () => {
    const env = setup();
    const a = env.open(1);
    await a.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 1, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD), 1));
    await a.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 2, policyExt('10.0.0.1', '10.0.0.3', IpsecDir.OUTBOUND, IpsecPolicyType.NONE), 1));
    await a.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 3, policyExt('10.0.0.2', '10.0.0.1', IpsecDir.INBOUND, IpsecPolicyType.IPSEC, { requests: [espTransport()] }), 1));
    expect(env.kernel.outbound(packet('10.0.0.1', '10.0.0.2')).action).toBe('discard');
    expect(env.kernel.outbound(packet('10.0.0.1', '10.0.0.3')).action).toBe('bypass');
    expect(env.kernel.outbound(packet('10.0.0.1', '10.0.0.4')).action).toBe('bypass');
    expect(env.kernel.inbound(packet('10.0.0.2', '10.0.0.1'), []).action).toBe('discard');
    await a.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 4, espSa('10.0.0.2', '10.0.0.1', 0x777), 1));
    const sa = env.kernel.sadb.lookupInbound('10.0.0.1', IPPROTO.ESP, 0x777)!;
    expect(env.kernel.inbound(packet('10.0.0.2', '10.0.0.1'), [sa]).action).toBe('accept');
    expect(env.kernel.pendingAcquireCount).toBe(0);
  });
});

describe('EXPIRE (RFC 2367 §3.1.8) and SPDEXPIRE', () => {
  it('soft then hard EXPIRE go to the sockets registered for the satype only', async () => {
    const env = setup();
    const km = env.open(100);
    const ah = env.open(101);
    const other = env.open(102);
    await km.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.ESP, 1, {}, 100));
    await ah.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.AH, 1, {}, 101));
    await other.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 2, espSa('10.0.0.1', '10.0.0.2', 0x900, { lifetimeSoft: lifetime({ addtime: 8n }), lifetimeHard: lifetime({ addtime: 10n }) }), 102));
    await settle();
    for (const s of [km, ah, other]) s.seen.length = 0;
    env.clock.advance(8_000);
    env.clock.advance(2_000);
    await settle();
    expect(types(km.seen)).toEqual(['EXPIRE', 'EXPIRE']);
    const [soft, hard] = km.seen;
    expect(soft.ext.lifetimeSoft).toBeDefined();
    expect(soft.ext.lifetimeHard).toBeUndefined();
    expect(soft.ext.sa!.state).toBe(2); // DYING
    expect(hard.ext.lifetimeHard!.addtime).toBe(10n);
    expect(hard.ext.lifetimeSoft).toBeUndefined();
    expect(hard.ext.sa!.state).toBe(3); // DEAD
    expect(hard.ext.keyEncrypt).toBeUndefined();
    expect(ah.seen).toEqual([]);
    expect(other.seen).toEqual([]);
    expect(env.kernel.sadb.size).toBe(0);
  });

  it('a policy reaching its hard lifetime is removed and SPDEXPIRE goes to registered sockets', async () => {
    const env = setup();
    const km = env.open(100);
    const other = env.open(102);
    await km.sock.request(msg(SadbMsgType.REGISTER, SadbSaType.ESP, 1, {}, 100));
    await other.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 2, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { hard: lifetime({ addtime: 5n }) }), 102));
    await settle();
    for (const s of [km, other]) s.seen.length = 0;
    env.clock.advance(5_000);
    await settle();
    expect(types(km.seen)).toEqual(['X_SPDEXPIRE']);
    expect(other.seen).toEqual([]);
    expect(env.kernel.spd.size).toBe(0);
  });
});

describe('SPD messages', () => {
  it('X_SPDSETIDX installs a policy like SPDADD and its answer keeps the SETIDX type, so the request resolves', async () => {
    const env = setup();
    const a = env.open(10);
    const b = env.open(20);
    const r = await a.sock.request(msg(SadbMsgType.X_SPDSETIDX, SadbSaType.UNSPEC, 1, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.INBOUND, IpsecPolicyType.NONE), 10));
    expect(r.errno).toBe(0);
    expect(r.ext.policy!.id % 8).toBe(0);
    expect(env.kernel.spd.size).toBe(1);
    await settle();
    expect(types(b.seen)).toEqual(['X_SPDSETIDX']);
  });

  it('SPDADD / SPDUPDATE / SPDDELETE / SPDDELETE2 / SPDFLUSH go to all; SPDGET / SPDDUMP to the sender', async () => {
    const env = setup();
    const a = env.open(10);
    const b = env.open(20);
    const added = await a.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 1, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.IPSEC, { requests: [espTransport(IpsecLevel.UNIQUE)] }), 10));
    const id = added.ext.policy!.id;
    expect(id % 8).toBe(1);
    expect(added.ext.policy!.requests[0].reqid).toBeGreaterThan(0x3fff);
    expect(added.ext.lifetimeCurrent!.addtime).toBe(BigInt(Math.floor(env.clock.now() / 1000)));
    const upd = await a.sock.request(msg(SadbMsgType.X_SPDUPDATE, SadbSaType.UNSPEC, 2, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD), 10));
    expect(upd.ext.policy!.id).toBe(id);
    await a.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 3, policyExt('10.0.0.2', '10.0.0.1', IpsecDir.INBOUND, IpsecPolicyType.NONE), 10));
    const got = await a.sock.request(msg(SadbMsgType.X_SPDGET, SadbSaType.UNSPEC, 4, { policy: { type: 0, dir: 0, id, priority: 0, requests: [] } }, 10));
    expect(got.ext.policy!.type).toBe(IpsecPolicyType.DISCARD);
    expect(got.reserved).toBe(1); // refcnt, printed by setkey -DP
    a.sock.send(msg(SadbMsgType.X_SPDDUMP, SadbSaType.UNSPEC, 5, {}, 10));
    await settle();
    expect(a.seen.filter((m) => m.type === SadbMsgType.X_SPDDUMP).map((m) => m.seq)).toEqual([1, 0]);
    const del = await a.sock.request(msg(SadbMsgType.X_SPDDELETE, SadbSaType.UNSPEC, 6, policyExt('10.0.0.2', '10.0.0.1', IpsecDir.INBOUND, IpsecPolicyType.NONE), 10));
    expect(del.errno).toBe(0);
    const del2 = await a.sock.request(msg(SadbMsgType.X_SPDDELETE2, SadbSaType.UNSPEC, 7, { policy: { type: 0, dir: 0, id, priority: 0, requests: [] } }, 10));
    expect(del2.ext.policy!.id).toBe(id);
    expect((await a.sock.request(msg(SadbMsgType.X_SPDDUMP, SadbSaType.UNSPEC, 8, {}, 10))).errno).toBe(Errno.ENOENT);
    await a.sock.request(msg(SadbMsgType.X_SPDFLUSH, SadbSaType.UNSPEC, 9, {}, 10));
    await settle();
    expect(types(b.seen)).toEqual(['X_SPDADD', 'X_SPDUPDATE', 'X_SPDADD', 'X_SPDDELETE', 'X_SPDDELETE2', 'X_SPDFLUSH']);
  });
});

describe('data-plane events', () => {
  it('onSa / onPolicy report every change the databases go through, with the SA or policy', async () => {
    const env = setup();
    const a = env.open(1);
    const sas: string[] = [];
    const pols: string[] = [];
    env.kernel.onSa((e) => sas.push(`${e.kind}:${e.sa.spi.toString(16)}`));
    env.kernel.onPolicy((e) => pols.push(`${e.kind}:${e.policy.type}`));
    await a.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 1, espSa('10.0.0.1', '10.0.0.2', 0x501, { lifetimeSoft: lifetime({ addtime: 5n }), lifetimeHard: lifetime({ addtime: 9n }) }), 1));
    await a.sock.request(msg(SadbMsgType.ADD, SadbSaType.ESP, 2, espSa('10.0.0.1', '10.0.0.2', 0x502), 1));
    await a.sock.request(msg(SadbMsgType.DELETE, SadbSaType.ESP, 3, { sa: espSa('', '', 0x502).sa, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') }, 1));
    env.clock.advance(9_000);
    await a.sock.request(msg(SadbMsgType.X_SPDADD, SadbSaType.UNSPEC, 4, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE), 1));
    await a.sock.request(msg(SadbMsgType.X_SPDUPDATE, SadbSaType.UNSPEC, 5, policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD), 1));
    await a.sock.request(msg(SadbMsgType.X_SPDFLUSH, SadbSaType.UNSPEC, 6, {}, 1));
    expect(sas).toEqual(['add:501', 'add:502', 'delete:502', 'dying:501', 'delete:501']);
    expect(pols).toEqual([`add:${IpsecPolicyType.NONE}`, `delete:${IpsecPolicyType.NONE}`, `add:${IpsecPolicyType.DISCARD}`, `delete:${IpsecPolicyType.DISCARD}`]);
  });
});
