/**
 * MIGRATE as a Mobile IPv6 daemon drives it (UMIP ipsec.c xfrm_sendmigrate:
 * XFRM_MSG_MIGRATE = xfrm_userpolicy_id{sel, dir} + XFRMA_MIGRATE +
 * XFRMA_KMADDRESS, one message per direction; KMADDRESS local/remote = new
 * src/dst for OUT and swapped for IN), checked against the real kernel: the
 * policy's template moves, and the PF_KEY socket receives one SADB_X_MIGRATE
 * per direction as af_key's pfkey_send_migrate would send it
 * (draft-ebalard-mext-pfkey-enhanced-migrate: KMADDRESS local first).
 */
import { Errno, IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { explainReply, openXfrmPfKey, XfrmPfKeySocket } from '../../src/kernel/xfrm';
import { XfrmMsgType, XfrmMode } from '../../src/kernel/xfrm/constants';
import { encodeXfrm } from '../../src/kernel/xfrm/messages';
import type { XfrmSelector } from '../../src/kernel/xfrm/structs';
import { NETLINK_XFRM, NetlinkSocket } from '../../src/util/netlink';
import { parseIp } from '../../src/util/ip';
import { TestNetns } from './netns';
import { addr, header, sock as sa, spdadd, tunnelReq, waitFor } from './pfkey-helpers';

// Live netlink against the real kernel: an event or ACK lost under load is retried, and each retry logs the error
// (see the session note on the intermittent netlink time-outs).
jest.retryTimes(2, { logErrorsBeforeRetry: true });

let ns: TestNetns;
let sock: XfrmPfKeySocket;
let umip: NetlinkSocket;

beforeAll(async () => {
  ns = TestNetns.create();
  sock = await openXfrmPfKey({ netns: ns.name });
  umip = NetlinkSocket.open({ protocol: NETLINK_XFRM, netns: ns.name });
});

afterAll(async () => {
  await sock?.close();
  await umip?.close();
  ns?.destroy();
});

const a16 = (text: string): Buffer => {
  const out = Buffer.alloc(16);
  (parseIp(text) ?? Buffer.alloc(4)).copy(out);
  return out;
};

function sel(src: string, splen: number, dst: string, dplen: number, proto = 0): XfrmSelector {
  const family = src.includes(':') ? 10 : 2;
  return { daddr: a16(dst), saddr: a16(src), dport: 0, dportMask: 0, sport: 0, sportMask: 0, family, prefixlenD: dplen, prefixlenS: splen, proto, ifindex: 0, user: 0 };
}

/** UMIP's xfrm_sendmigrate for one direction. */
async function umipMigrate(
  dir: number,
  s: XfrmSelector,
  old: { src: string; dst: string },
  now: { src: string; dst: string },
  reqid: number,
): Promise<void> {
  // KMADDRESS: for OUT local = new src, remote = new dst; for IN/FWD swapped.
  const km = dir === 1 ? { local: now.src, remote: now.dst } : { local: now.dst, remote: now.src };
  const family = now.src.includes(':') ? 10 : 2;
  const payload = encodeXfrm({
    type: XfrmMsgType.MIGRATE,
    body: { sel: s, index: 0, dir },
    attrs: {
      migrate: [
        {
          oldDaddr: a16(old.dst),
          oldSaddr: a16(old.src),
          newDaddr: a16(now.dst),
          newSaddr: a16(now.src),
          proto: 50,
          mode: XfrmMode.TUNNEL,
          reserved: 0,
          reqid,
          oldFamily: family,
          newFamily: family,
        },
      ],
      kmaddress: { local: a16(km.local), remote: a16(km.remote), reserved: 0, family },
    },
  });
  await umip.request(XfrmMsgType.MIGRATE, payload);
}

test('UMIP-style XFRM_MSG_MIGRATE for OUT and IN moves the kernel policies and arrives as two SADB_X_MIGRATE with KMADDRESS local = our new address', async () => {
  ns.ip('xfrm', 'policy', 'flush');
  // Mobile node: HoA 10.0.0.1, CN prefix 10.9.0.0/16, tunnel CoA 192.0.2.1 <-> HA 192.0.2.2.
  expect((await sock.request(spdadd(addr('10.0.0.1'), addr('10.9.0.0', 16), IpsecDir.OUTBOUND, [tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 11)]))).errno).toBe(0);
  expect((await sock.request(spdadd(addr('10.9.0.0', 16), addr('10.0.0.1'), IpsecDir.INBOUND, [tunnelReq('192.0.2.2', '192.0.2.1', IpsecLevel.UNIQUE, 12)]))).errno).toBe(0);

  const got: PfKeyMessage[] = [];
  const off = sock.onMessage((m) => {
    if (m.type === SadbMsgType.X_MIGRATE) got.push(m);
  });
  const second = waitFor<PfKeyMessage>((l) => sock.onMessage(l), () => got.length >= 2);
  // New CoA 198.51.100.1.
  await umipMigrate(1, sel('10.0.0.1', 32, '10.9.0.0', 16), { src: '192.0.2.1', dst: '192.0.2.2' }, { src: '198.51.100.1', dst: '192.0.2.2' }, 11);
  await umipMigrate(0, sel('10.9.0.0', 16, '10.0.0.1', 32), { src: '192.0.2.2', dst: '192.0.2.1' }, { src: '192.0.2.2', dst: '198.51.100.1' }, 12);
  await second;
  off();

  // The kernel really moved the templates.
  const text = ns.ip('xfrm', 'policy');
  expect(text).toContain('tmpl src 198.51.100.1 dst 192.0.2.2');
  expect(text).toContain('tmpl src 192.0.2.2 dst 198.51.100.1');
  expect(text).not.toContain('192.0.2.1');

  const out = got.find((m) => m.ext.policy?.dir === IpsecDir.OUTBOUND);
  const inn = got.find((m) => m.ext.policy?.dir === IpsecDir.INBOUND);
  expect(out && inn).toBeTruthy();
  for (const m of [out, inn]) {
    expect(m?.satype).toBe(SadbSaType.ESP);
    expect(m?.seq).toBe(0);
    expect(m?.pid).toBe(0);
    // Both directions: local = the mobile node's new CoA, remote = the HA (racoon pk_recvmigrate reads it so).
    expect(m?.ext.kmaddress).toEqual({ local: sa('198.51.100.1'), remote: sa('192.0.2.2') });
    expect(m?.ext.policy?.type).toBe(IpsecPolicyType.IPSEC);
  }
  expect(out?.ext.addressSrc).toEqual(addr('10.0.0.1'));
  expect(out?.ext.addressDst).toEqual(addr('10.9.0.0', 16));
  expect(out?.ext.policy?.requests).toEqual([
    { proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 11, src: sa('192.0.2.1'), dst: sa('192.0.2.2') },
    { proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 11, src: sa('198.51.100.1'), dst: sa('192.0.2.2') },
  ]);
  expect(inn?.ext.policy?.requests).toEqual([
    { proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 12, src: sa('192.0.2.2'), dst: sa('192.0.2.1') },
    { proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 12, src: sa('192.0.2.2'), dst: sa('198.51.100.1') },
  ]);
});

test('SADB_X_MIGRATE sent through the backend (af_key pfkey_migrate) migrates the kernel policy back', async () => {
  ns.ip('xfrm', 'policy', 'flush');
  await sock.request(spdadd(addr('10.0.0.1'), addr('10.9.0.0', 16), IpsecDir.OUTBOUND, [tunnelReq('198.51.100.1', '192.0.2.2', IpsecLevel.UNIQUE, 11)]));
  const m = spdadd(addr('10.0.0.1'), addr('10.9.0.0', 16), IpsecDir.OUTBOUND, [
    tunnelReq('198.51.100.1', '192.0.2.2', IpsecLevel.UNIQUE, 11),
    tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 11),
  ], { type: SadbMsgType.X_MIGRATE });
  m.satype = SadbSaType.ESP;
  m.ext.kmaddress = { local: sa('192.0.2.1'), remote: sa('192.0.2.2') };
  const broadcast = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (x) => x.type === SadbMsgType.X_MIGRATE && x.pid === 0);
  const reply = await sock.request(m);
  expect(reply.errno).toBe(0);
  expect(ns.ip('xfrm', 'policy')).toContain('tmpl src 192.0.2.1 dst 192.0.2.2');
  // The kernel's own MIGRATE event follows (af_key broadcasts it to all sockets).
  expect((await broadcast).ext.kmaddress).toEqual({ local: sa('192.0.2.1'), remote: sa('192.0.2.2') });
});

test('MIGRATE of a policy the kernel does not have: the reply says no such policy', async () => {
  ns.ip('xfrm', 'policy', 'flush');
  const m = spdadd(addr('10.0.0.1'), addr('10.9.0.0', 16), IpsecDir.OUTBOUND, [
    tunnelReq('198.51.100.1', '192.0.2.2', IpsecLevel.UNIQUE, 11),
    tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 11),
  ], { type: SadbMsgType.X_MIGRATE });
  const r = await sock.request(m);
  // net/xfrm/xfrm_policy.c xfrm_migrate: "Target policy not found" → ENOENT.
  expect(r.errno).toBe(Errno.ENOENT);
  expect(explainReply(r)).toMatch(/no such policy in the kernel; XFRM_MSG_MIGRATE failed with ENOENT/);
  const dump = await sock.dump(header(SadbMsgType.X_SPDDUMP));
  expect(dump[0].errno).toBe(Errno.ENOENT); // nothing was created on the way
});

test('IPv6 as UMIP runs it: HoA tunnel policies (proto any) move from the old CoA to the new one, for OUT, IN and FWD', async () => {
  ns.ip('xfrm', 'policy', 'flush');
  const hoa = '2001:db8:1::100';
  const ha = '2001:db8:3::1';
  const oldCoa = '2001:db8:2::1';
  const newCoa = '2001:db8:4::1';
  await sock.request(spdadd(addr(hoa), addr('::', 0), IpsecDir.OUTBOUND, [tunnelReq(oldCoa, ha, IpsecLevel.UNIQUE, 21)]));
  await sock.request(spdadd(addr('::', 0), addr(hoa), IpsecDir.INBOUND, [tunnelReq(ha, oldCoa, IpsecLevel.UNIQUE, 22)]));
  await sock.request(spdadd(addr('::', 0), addr(hoa), IpsecDir.FWD, [tunnelReq(ha, oldCoa, IpsecLevel.UNIQUE, 22)]));
  const got: PfKeyMessage[] = [];
  const off = sock.onMessage((m) => {
    if (m.type === SadbMsgType.X_MIGRATE) got.push(m);
  });
  const all = waitFor<PfKeyMessage>((l) => sock.onMessage(l), () => got.length >= 3);
  await umipMigrate(1, sel(hoa, 128, '::', 0), { src: oldCoa, dst: ha }, { src: newCoa, dst: ha }, 21);
  await umipMigrate(0, sel('::', 0, hoa, 128), { src: ha, dst: oldCoa }, { src: ha, dst: newCoa }, 22);
  await umipMigrate(2, sel('::', 0, hoa, 128), { src: ha, dst: oldCoa }, { src: ha, dst: newCoa }, 22);
  await all;
  off();
  expect(ns.ip('xfrm', 'policy')).not.toContain(oldCoa);
  expect(got.map((m) => m.ext.policy?.dir).sort()).toEqual([IpsecDir.INBOUND, IpsecDir.OUTBOUND, IpsecDir.FWD]);
  for (const m of got) {
    expect(m.ext.kmaddress).toEqual({ local: sa(newCoa), remote: sa(ha) });
    const [oldReq, newReq] = m.ext.policy?.requests ?? [];
    expect([oldReq.src?.address, oldReq.dst?.address].sort()).toEqual([oldCoa, ha].sort());
    expect([newReq.src?.address, newReq.dst?.address].sort()).toEqual([newCoa, ha].sort());
  }
  const fwd = got.find((m) => m.ext.policy?.dir === IpsecDir.FWD);
  expect(fwd?.ext.addressDst).toEqual(addr(hoa));
  expect(fwd?.ext.addressSrc).toEqual(addr('::', 0));
});
