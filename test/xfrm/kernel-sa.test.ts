/**
 * SAs and kernel events through the xfrm backend, real kernel in a netns:
 * GETSPI ↔ ALLOCSPI (racoon's phase-2 first step), ADD/UPDATE ↔ NEWSA/UPDSA
 * with the clear "no ESP support" error where the kernel has no esp4/esp6,
 * and a packet hitting a policy without SA → XFRM ACQUIRE → SADB_ACQUIRE
 * (RFC 2367 §3.1.6), delivered to REGISTERed sockets only.
 */
import { Errno, IpsecDir, IpsecMode, SadbAalg, SadbEalg, SadbMsgType, SadbSaState, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { openXfrmPfKey, explainReply, XfrmKernelError, XfrmPfKeySocket } from '../../src/kernel/xfrm';
import { TestNetns } from './netns';
import { addr, espAdd, header, nextSeq, spdadd, transportReq, waitFor } from './pfkey-helpers';

// Live netlink against the real kernel: an event or ACK lost under load is retried, and each retry logs the error
// (see the session note on the intermittent netlink time-outs).
jest.retryTimes(2, { logErrorsBeforeRetry: true });

let ns: TestNetns;
let sock: XfrmPfKeySocket;
let unregistered: XfrmPfKeySocket;

beforeAll(async () => {
  ns = TestNetns.create();
  sock = await openXfrmPfKey({ netns: ns.name });
  unregistered = await openXfrmPfKey({ netns: ns.name });
});

afterAll(async () => {
  await sock?.close();
  await unregistered?.close();
  ns?.destroy();
});

beforeEach(() => {
  ns.ip('xfrm', 'policy', 'flush');
  ns.ip('xfrm', 'state', 'flush');
});

function getspi(src: string, dst: string, range?: { min: number; max: number }, seq = nextSeq()): PfKeyMessage {
  const m = header(SadbMsgType.GETSPI, SadbSaType.ESP, seq);
  m.ext.addressSrc = addr(src, undefined, 0, 0);
  m.ext.addressDst = addr(dst, undefined, 0, 0);
  m.ext.sa2 = { mode: IpsecMode.TUNNEL, sequence: 0, reqid: 3 };
  if (range) m.ext.spirange = range;
  return m;
}

describe('GETSPI ↔ XFRM_MSG_ALLOCSPI', () => {
  test('the allocated SPI is in range and the larval SA shows in `ip xfrm state`', async () => {
    const r = await sock.request(getspi('192.0.2.2', '192.0.2.1'));
    expect(r.errno).toBe(0);
    expect(r.type).toBe(SadbMsgType.GETSPI);
    const spi = r.ext.sa?.spi ?? 0;
    // af_key pfkey_getspi default range 0x100..0x0fffffff
    expect(spi).toBeGreaterThanOrEqual(0x100);
    expect(spi).toBeLessThanOrEqual(0x0fffffff);
    expect(r.ext.sa?.state).toBe(SadbSaState.LARVAL);
    expect(r.ext.sa2?.reqid).toBe(3);
    const hex = `0x${spi.toString(16).padStart(8, '0')}`;
    expect(ns.ip('xfrm', 'state')).toContain(`proto esp spi ${hex} reqid 3 mode tunnel`);
  });

  test('SPIRANGE min = max pins the SPI; a second request for the taken SPI fails with a readable error', async () => {
    const r = await sock.request(getspi('192.0.2.2', '192.0.2.1', { min: 0x4242, max: 0x4242 }));
    expect(r.ext.sa?.spi).toBe(0x4242);
    const again = await sock.request(getspi('192.0.2.2', '192.0.2.1', { min: 0x4242, max: 0x4242 }));
    expect(again.errno).not.toBe(0);
    expect(explainReply(again)).toMatch(/XFRM_MSG_ALLOCSPI failed with E[A-Z]+/);
  });

  test('SPIRANGE with min above max is refused before reaching the kernel', async () => {
    const r = await sock.request(getspi('192.0.2.2', '192.0.2.1', { min: 0x500, max: 0x400 }));
    expect(r.errno).toBe(Errno.EINVAL);
    expect(explainReply(r)).toMatch(/SPIRANGE min 0x500 is above max 0x400/);
    expect(ns.ip('xfrm', 'state').trim()).toBe('');
  });
});

describe('ADD / UPDATE ↔ XFRM_MSG_NEWSA / UPDSA', () => {
  // This kernel may or may not have esp4: both branches are asserted exactly.
  test('CBC + HMAC-SHA-256: installed with a 128-bit ICV (RFC 4868 §2.3), or EPROTONOSUPPORT saying the kernel has no ESP support', async () => {
    const r = await sock.request(espAdd('192.0.2.1', '192.0.2.2', 0x1001, { reqid: 5 }));
    if (r.errno === 0) {
      const state = ns.ip('xfrm', 'state');
      expect(state).toContain('spi 0x00001001');
      expect(state).toMatch(/auth-trunc hmac\(sha256\) 0x(11){32} 128/);
      expect(state).toMatch(/enc cbc\(aes\) 0x(22){16}/);
      expect(r.ext.sa?.auth).toBe(SadbAalg.SHA2_256HMAC);
    } else {
      expect(r.errno).toBe(Errno.EPROTONOSUPPORT);
      expect(explainReply(r)).toMatch(/^the kernel has no ESP support \(esp4\/esp6 modules missing\)/);
      expect(explainReply(r)).toContain('XFRM_MSG_NEWSA failed with EPROTONOSUPPORT');
      expect(ns.ip('xfrm', 'state').trim()).toBe('');
    }
  });

  test('AES-GCM-16 (RFC 4106) goes as XFRMA_ALG_AEAD rfc4106(gcm(aes)) ICV 128: installed, or ENOSYS/EPROTONOSUPPORT with the clear error', async () => {
    const key = Buffer.alloc(20, 0x33); // 128-bit key + 4-byte salt (RFC 4106 §8.1)
    const r = await sock.request(espAdd('192.0.2.1', '192.0.2.2', 0x1002, { auth: 0, enc: SadbEalg.AES_GCM_ICV16, encKey: key }));
    if (r.errno === 0) {
      expect(ns.ip('xfrm', 'state')).toMatch(/aead rfc4106\(gcm\(aes\)\) 0x(33){20} 128/);
    } else {
      expect([Errno.ENOSYS, Errno.EPROTONOSUPPORT]).toContain(r.errno);
      expect(explainReply(r)).toMatch(/^the kernel has no ESP support \(esp4\/esp6 modules missing\)/);
      if (r.errno === Errno.ENOSYS) expect(explainReply(r)).toContain('rfc4106(gcm(aes))');
      expect(ns.ip('xfrm', 'state').trim()).toBe('');
    }
  });

  test('requestOrThrow turns the refusal into an XfrmKernelError with the same explanation', async () => {
    const m = espAdd('192.0.2.1', '192.0.2.2', 0x1003);
    const r = await sock.request(espAdd('192.0.2.1', '192.0.2.2', 0x1003, { seq: m.seq }));
    if (r.errno === 0) {
      // Supported kernel: a duplicate ADD is the refusal to prove.
      await expect(sock.requestOrThrow(m)).rejects.toThrow(/already exists/);
    } else {
      await expect(sock.requestOrThrow(m)).rejects.toThrow(XfrmKernelError);
      await expect(sock.requestOrThrow(m)).rejects.toThrow(/the kernel has no ESP support \(esp4\/esp6 modules missing\)/);
    }
  });

  test('UPDATE of the larval SA from GETSPI (racoon: GETSPI then UPDATE inbound)', async () => {
    const g = await sock.request(getspi('192.0.2.2', '192.0.2.1'));
    const spi = g.ext.sa?.spi ?? 0;
    const u = await sock.request(espAdd('192.0.2.2', '192.0.2.1', spi, { type: SadbMsgType.UPDATE, reqid: 3 }));
    if (u.errno === 0) {
      expect(u.ext.sa?.state).toBe(SadbSaState.MATURE);
      expect(ns.ip('xfrm', 'state')).toMatch(/auth-trunc hmac\(sha256\)/);
    } else {
      expect(u.errno).toBe(Errno.EPROTONOSUPPORT);
      expect(explainReply(u)).toMatch(/^the kernel has no ESP support/);
      // The larval SA is left as it was.
      expect(ns.ip('xfrm', 'state')).toContain(`spi 0x${spi.toString(16).padStart(8, '0')}`);
    }
  });

  test('bad keys and unknown algorithms are refused with the reason, nothing reaches the kernel', async () => {
    const shortKey = await sock.request(espAdd('192.0.2.1', '192.0.2.2', 0x1004, { authKey: Buffer.alloc(20, 1) }));
    expect(shortKey.errno).toBe(Errno.EINVAL);
    expect(explainReply(shortKey)).toMatch(/hmac\(sha256\) needs a 256-bit key, KEY_AUTH has 160 bits/);
    const unknown = await sock.request(espAdd('192.0.2.1', '192.0.2.2', 0x1005, { enc: 99 }));
    expect(unknown.errno).toBe(Errno.EINVAL);
    expect(explainReply(unknown)).toMatch(/encryption algorithm 99 has no Linux kernel name/);
    expect(ns.ip('xfrm', 'state').trim()).toBe('');
  });

  test('GET / DELETE of a missing SA: ESRCH "no such SA" (as af_key pfkey_get); DUMP of an empty SAD: ENOENT', async () => {
    const get = header(SadbMsgType.GET, SadbSaType.ESP);
    get.ext.sa = { spi: 0x7777, replay: 0, state: SadbSaState.MATURE, auth: 0, encrypt: 0, flags: 0 };
    get.ext.addressDst = addr('192.0.2.2', undefined, 0, 0);
    const r = await sock.request(get);
    expect(r.errno).toBe(Errno.ESRCH);
    expect(explainReply(r)).toMatch(/no such SA/);
    const del = await sock.request({ ...get, type: SadbMsgType.DELETE, seq: nextSeq() });
    expect(del.errno).toBe(Errno.ESRCH);
    expect(explainReply(del)).toMatch(/no such SA/);
    const dump = await sock.dump(header(SadbMsgType.DUMP, SadbSaType.ESP));
    expect(dump).toHaveLength(1);
    expect(dump[0].errno).toBe(Errno.ENOENT);
  });

  test('DUMP lists the larval SAs `ip xfrm state` shows; FLUSH empties them', async () => {
    const a = await sock.request(getspi('192.0.2.2', '192.0.2.1'));
    ns.ip('xfrm', 'state', 'allocspi', 'src', '192.0.2.3', 'dst', '192.0.2.1', 'proto', 'esp');
    const recs = await sock.dump(header(SadbMsgType.DUMP, SadbSaType.ESP));
    expect(recs).toHaveLength(2);
    expect(recs.map((x) => x.ext.addressSrc?.addr.address).sort()).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(recs.some((x) => x.ext.sa?.spi === a.ext.sa?.spi)).toBe(true);
    expect(recs[recs.length - 1].seq).toBe(0);
    const f = await sock.request(header(SadbMsgType.FLUSH, SadbSaType.UNSPEC));
    expect(f.errno).toBe(0);
    expect(ns.ip('xfrm', 'state').trim()).toBe('');
  });
});

describe('REGISTER and ACQUIRE', () => {
  test('REGISTER answers with the algorithms this kernel has (hmac(sha256), cbc(aes) are in /proc/crypto here)', async () => {
    const r = await sock.request(header(SadbMsgType.REGISTER, SadbSaType.ESP));
    expect(r.errno).toBe(0);
    expect(r.ext.supportedAuth?.algs.map((a) => a.id)).toContain(SadbAalg.SHA2_256HMAC);
    expect(r.ext.supportedEncrypt?.algs).toContainEqual({ id: SadbEalg.AESCBC, ivlen: 8, minbits: 128, maxbits: 256 });
  });

  test('a datagram matching an out policy without SA → XFRM ACQUIRE → SADB_ACQUIRE with the policy id; GETSPI on its seq fills the larval SA', async () => {
    await sock.request(header(SadbMsgType.REGISTER, SadbSaType.ESP));
    const sp = await sock.request(spdadd(addr('10.0.0.1'), addr('10.0.0.2'), IpsecDir.OUTBOUND, [transportReq()]));
    expect(sp.errno).toBe(0);
    const seenByUnregistered: PfKeyMessage[] = [];
    const off = unregistered.onMessage((m) => seenByUnregistered.push(m));
    const acquire = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (m) => m.type === SadbMsgType.ACQUIRE);
    ns.sendUdp('10.0.0.2', 9);
    const acq = await acquire;
    expect(acq.satype).toBe(SadbSaType.ESP);
    expect(acq.pid).toBe(0);
    expect(acq.seq).toBeGreaterThan(0);
    expect(acq.ext.addressSrc?.addr.address).toBe('10.0.0.1');
    expect(acq.ext.addressDst?.addr.address).toBe('10.0.0.2');
    expect(acq.ext.policy?.id).toBe(sp.ext.policy?.id);
    expect(acq.ext.policy?.dir).toBe(IpsecDir.OUTBOUND);
    expect(acq.ext.proposal?.combs).toContainEqual(
      expect.objectContaining({ auth: SadbAalg.SHA2_256HMAC, encrypt: SadbEalg.AESCBC, authMinbits: 256, encryptMinbits: 128, encryptMaxbits: 256 }),
    );
    // racoon's next step: GETSPI with msg seq = ACQUIRE seq (af_key: xfrm_find_acq_byseq).
    const g = header(SadbMsgType.GETSPI, SadbSaType.ESP, acq.seq);
    g.ext.addressSrc = addr('10.0.0.2', undefined, 0, 0);
    g.ext.addressDst = addr('10.0.0.1', undefined, 0, 0);
    g.ext.sa2 = { mode: IpsecMode.TRANSPORT, sequence: 0, reqid: 0 };
    const spi = await sock.request(g);
    expect(spi.errno).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    off();
    // RFC 2367 §3.1.6 / af_key BROADCAST_REGISTERED: only registered sockets hear ACQUIRE.
    expect(seenByUnregistered.filter((m) => m.type === SadbMsgType.ACQUIRE)).toEqual([]);
  });

  test('a promiscuous socket (X_PROMISC, as setkey -x sends) hears ACQUIRE without registering', async () => {
    const promisc = header(SadbMsgType.X_PROMISC, 1 as SadbSaType);
    expect((await unregistered.request(promisc)).errno).toBe(0);
    try {
      await sock.request(spdadd(addr('10.0.0.1'), addr('10.0.0.3'), IpsecDir.OUTBOUND, [transportReq()]));
      const acquire = waitFor<PfKeyMessage>((l) => unregistered.onMessage(l), (m) => m.type === SadbMsgType.ACQUIRE);
      ns.sendUdp('10.0.0.3', 9);
      expect((await acquire).ext.addressDst?.addr.address).toBe('10.0.0.3');
    } finally {
      await unregistered.request(header(SadbMsgType.X_PROMISC, SadbSaType.UNSPEC));
    }
  });
});

describe('kernel lifetimes → EXPIRE / X_SPDEXPIRE', () => {
  test('a larval SA outliving net.core.xfrm_acq_expires raises a hard SADB_EXPIRE (racoon stops the negotiation on it)', async () => {
    ns.exec('sysctl', '-q', '-w', 'net.core.xfrm_acq_expires=1');
    try {
      await sock.request(header(SadbMsgType.REGISTER, SadbSaType.ESP));
      const expired = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (m) => m.type === SadbMsgType.EXPIRE, 5000);
      const g = await sock.request(getspi('192.0.2.2', '192.0.2.1'));
      const e = await expired;
      expect(e.satype).toBe(SadbSaType.ESP);
      expect(e.ext.sa?.spi).toBe(g.ext.sa?.spi);
      expect(e.ext.lifetimeHard?.addtime).toBe(1n);
      expect(e.ext.lifetimeSoft).toBeUndefined();
      expect(e.ext.lifetimeCurrent).toBeDefined();
      expect(e.ext.addressDst?.addr.address).toBe('192.0.2.1');
      expect(e.ext.keyAuth).toBeUndefined();
    } finally {
      ns.exec('sysctl', '-q', '-w', 'net.core.xfrm_acq_expires=30');
    }
  });

  test('policy soft then hard add-time lifetimes raise X_SPDEXPIRE (soft, then hard) and the kernel removes the policy', async () => {
    const m = spdadd(addr('10.20.0.1'), addr('10.20.0.2'), IpsecDir.OUTBOUND, [transportReq()]);
    m.ext.lifetimeSoft = { allocations: 0, bytes: 0n, addtime: 1n, usetime: 0n };
    m.ext.lifetimeHard = { allocations: 0, bytes: 0n, addtime: 2n, usetime: 0n };
    const soft = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (x) => x.type === SadbMsgType.X_SPDEXPIRE && !!x.ext.lifetimeSoft, 20000);
    const hard = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (x) => x.type === SadbMsgType.X_SPDEXPIRE && !!x.ext.lifetimeHard, 21000);
    const r = await sock.request(m);
    expect(r.ext.lifetimeHard?.addtime).toBe(2n);
    const s = await soft;
    expect(s.ext.policy?.id).toBe(r.ext.policy?.id);
    expect(s.ext.lifetimeHard).toBeUndefined();
    const h = await hard;
    expect(h.ext.addressDst?.addr.address).toBe('10.20.0.2');
    expect(ns.ip('xfrm', 'policy')).not.toContain('10.20.0.2');
  });
});

describe('SA broadcasts (RFC 2367 §3.1: DELETE and FLUSH reach every socket)', () => {
  test('`ip xfrm state delete` and `ip xfrm state flush` by another process arrive as SADB_DELETE and SADB_FLUSH', async () => {
    const g = await unregistered.request(getspi('192.0.2.7', '192.0.2.1'));
    const spi = g.ext.sa?.spi ?? 0;
    const deleted = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (m) => m.type === SadbMsgType.DELETE);
    ns.ip('xfrm', 'state', 'delete', 'src', '192.0.2.7', 'dst', '192.0.2.1', 'proto', 'esp', 'spi', String(spi));
    const d = await deleted;
    expect(d.satype).toBe(SadbSaType.ESP);
    expect(d.ext.sa?.spi).toBe(spi);
    expect(d.ext.addressSrc?.addr.address).toBe('192.0.2.7');
    await unregistered.request(getspi('192.0.2.8', '192.0.2.1'));
    const flushed = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (m) => m.type === SadbMsgType.FLUSH);
    ns.ip('xfrm', 'state', 'flush');
    expect((await flushed).satype).toBe(SadbSaType.UNSPEC);
  });
});

describe('bad input is refused before it reaches the kernel', () => {
  test('an invalid address literal, an out-of-range reqid: EINVAL naming the field, nothing installed', async () => {
    const g = getspi('192.0.2.300', '192.0.2.1');
    const r = await sock.request(g);
    expect(r.errno).toBe(Errno.EINVAL);
    expect(explainReply(r)).toBe('ADDRESS_SRC: "192.0.2.300" is not a valid IPv4 address');
    const big = getspi('192.0.2.2', '192.0.2.1');
    big.ext.sa2 = { mode: IpsecMode.TUNNEL, sequence: 0, reqid: 2 ** 33 };
    const r2 = await sock.request(big);
    expect(r2.errno).toBe(Errno.EINVAL);
    expect(explainReply(r2)).toMatch(/xfrm_userspi_info\.info\.reqid = 8589934592 does not fit u32/);
    expect(ns.ip('xfrm', 'state').trim()).toBe('');
  });
});
