/**
 * The xfrm backend against the real kernel, in a private network namespace:
 * the SPD as PF_KEY (RFC 2367 + the KAME/Linux X_SPD* messages) and as
 * `ip xfrm policy` must be the same table (issue 8: "setkey -DP against the
 * kernel lists the same policies as ip xfrm policy").
 */
import { IpsecDir, IpsecLevel, IpsecPolicyType, Errno, SadbMsgType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { openXfrmPfKey, explainReply, XfrmPfKeySocket } from '../../src/kernel/xfrm';
import { TestNetns } from './netns';
import { addr, header, spdadd, transportReq, tunnelReq, waitFor } from './pfkey-helpers';

// Live netlink against the real kernel: an event or ACK lost under load is retried, and each retry logs the error
// (see the session note on the intermittent netlink time-outs).
jest.retryTimes(2, { logErrorsBeforeRetry: true });

let ns: TestNetns;
let sock: XfrmPfKeySocket;
let other: XfrmPfKeySocket;

beforeAll(async () => {
  ns = TestNetns.create();
  sock = await openXfrmPfKey({ netns: ns.name });
  other = await openXfrmPfKey({ netns: ns.name });
});

afterAll(async () => {
  await sock?.close();
  await other?.close();
  ns?.destroy();
});

beforeEach(() => {
  ns.ip('xfrm', 'policy', 'flush');
});

describe('SPD through PF_KEY equals ip xfrm policy', () => {
  test('X_SPDADD (tunnel, unique:7) shows in `ip xfrm policy` with the same selector, dir, priority and template', async () => {
    const reply = await sock.request(
      spdadd(addr('10.1.0.0', 16), addr('10.2.0.0', 16), IpsecDir.OUTBOUND, [tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 7)]),
    );
    expect(reply.errno).toBe(0);
    expect(reply.type).toBe(SadbMsgType.X_SPDADD);
    // The kernel assigned an index; its low 3 bits are the direction (xfrm_policy_id2dir): out = 1.
    expect(reply.ext.policy?.id).toBeGreaterThan(0);
    expect((reply.ext.policy?.id ?? 0) & 7).toBe(1);
    const text = ns.ip('xfrm', 'policy');
    expect(text).toContain('src 10.1.0.0/16 dst 10.2.0.0/16');
    expect(text).toContain('dir out priority 2147483648');
    expect(text).toContain('tmpl src 192.0.2.1 dst 192.0.2.2');
    expect(text).toMatch(/proto esp reqid 7 mode tunnel/);
  });

  test('a policy added by `ip xfrm policy add` appears in X_SPDDUMP with its fields, and the last record has seq 0', async () => {
    await sock.request(spdadd(addr('10.3.0.0', 24), addr('10.4.0.0', 24), IpsecDir.OUTBOUND, [transportReq()]));
    ns.ip('xfrm', 'policy', 'add', 'src', '10.4.0.0/24', 'dst', '10.3.0.0/24', 'proto', 'udp', 'dport', '500', 'dir', 'in', 'priority', '100',
      'tmpl', 'src', '192.0.2.2', 'dst', '192.0.2.1', 'proto', 'esp', 'reqid', '9', 'mode', 'tunnel', 'level', 'use');
    const records = await sock.dump(header(SadbMsgType.X_SPDDUMP));
    expect(records).toHaveLength(2);
    expect(records[records.length - 1].seq).toBe(0);
    const fromIp = records.find((r) => r.ext.policy?.dir === IpsecDir.INBOUND);
    expect(fromIp?.ext.addressSrc).toEqual({ proto: 17, prefixlen: 24, addr: { family: 2, address: '10.4.0.0', port: 0 } });
    expect(fromIp?.ext.addressDst).toEqual({ proto: 17, prefixlen: 24, addr: { family: 2, address: '10.3.0.0', port: 500 } });
    expect(fromIp?.ext.policy).toMatchObject({
      type: IpsecPolicyType.IPSEC,
      priority: 100,
      requests: [{ proto: 50, mode: 2, level: IpsecLevel.USE, reqid: 9, src: { address: '192.0.2.2' }, dst: { address: '192.0.2.1' } }],
    });
    const ours = records.find((r) => r.ext.policy?.dir === IpsecDir.OUTBOUND);
    expect(ours?.ext.policy?.requests).toEqual([{ proto: 50, mode: 1, level: IpsecLevel.REQUIRE, reqid: 0 }]);
  });

  test('discard and none policies round-trip as IPSEC_POLICY_DISCARD / NONE (XFRM_POLICY_BLOCK / ALLOW without templates)', async () => {
    await sock.request(spdadd(addr('10.5.0.1'), addr('10.5.0.2'), IpsecDir.OUTBOUND, [], { policyType: IpsecPolicyType.DISCARD }));
    await sock.request(spdadd(addr('10.5.0.1'), addr('10.5.0.3'), IpsecDir.OUTBOUND, [], { policyType: IpsecPolicyType.NONE }));
    expect(ns.ip('xfrm', 'policy')).toMatch(/dst 10\.5\.0\.2\/32[^]*?action block/);
    const records = await sock.dump(header(SadbMsgType.X_SPDDUMP));
    const types = records.map((r) => [r.ext.addressDst?.addr.address, r.ext.policy?.type]).sort();
    expect(types).toEqual([
      ['10.5.0.2', IpsecPolicyType.DISCARD],
      ['10.5.0.3', IpsecPolicyType.NONE],
    ]);
  });

  test('IPv6 selectors and tunnel endpoints', async () => {
    const r = await sock.request(spdadd(addr('fd00:1::', 64), addr('fd00:2::', 64), IpsecDir.FWD, [tunnelReq('2001:db8::1', '2001:db8::2')]));
    expect(r.errno).toBe(0);
    expect(ns.ip('xfrm', 'policy')).toContain('src fd00:1::/64 dst fd00:2::/64');
    expect(ns.ip('xfrm', 'policy')).toContain('tmpl src 2001:db8::1 dst 2001:db8::2');
    const [rec] = await sock.dump(header(SadbMsgType.X_SPDDUMP));
    expect(rec.ext.policy?.dir).toBe(IpsecDir.FWD);
    expect(rec.ext.policy?.requests[0].src?.address).toBe('2001:db8::1');
  });

  test('SPDADD of an existing selector fails with EEXIST and a readable reason; SPDUPDATE replaces it', async () => {
    const m = (): PfKeyMessage => spdadd(addr('10.6.0.1'), addr('10.6.0.2'), IpsecDir.OUTBOUND, [transportReq()]);
    expect((await sock.request(m())).errno).toBe(0);
    const dup = await sock.request(m());
    expect(dup.errno).toBe(Errno.EEXIST);
    expect(explainReply(dup)).toMatch(/already exists/);
    const upd = await sock.request(spdadd(addr('10.6.0.1'), addr('10.6.0.2'), IpsecDir.OUTBOUND, [transportReq()], { type: SadbMsgType.X_SPDUPDATE, priority: 5 }));
    expect(upd.errno).toBe(0);
    expect(ns.ip('xfrm', 'policy')).toContain('priority 5');
  });

  test('X_SPDGET and X_SPDDELETE2 by id; X_SPDDELETE by selector; deleted policies are gone from ip xfrm', async () => {
    const a = await sock.request(spdadd(addr('10.7.0.1'), addr('10.7.0.2'), IpsecDir.OUTBOUND, [transportReq()]));
    const b = await sock.request(spdadd(addr('10.7.0.2'), addr('10.7.0.1'), IpsecDir.INBOUND, [transportReq()]));
    const id = a.ext.policy?.id ?? 0;
    const get = header(SadbMsgType.X_SPDGET);
    get.ext.policy = { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id, priority: 0, requests: [] };
    const got = await sock.request(get);
    expect(got.errno).toBe(0);
    expect(got.ext.addressDst?.addr.address).toBe('10.7.0.2');
    const del2 = header(SadbMsgType.X_SPDDELETE2);
    del2.ext.policy = { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id, priority: 0, requests: [] };
    expect((await sock.request(del2)).errno).toBe(0);
    expect(ns.ip('xfrm', 'policy')).not.toContain('dst 10.7.0.2/32');
    const del = spdadd(addr('10.7.0.2'), addr('10.7.0.1'), IpsecDir.INBOUND, [], { type: SadbMsgType.X_SPDDELETE });
    const d = await sock.request(del);
    expect(d.errno).toBe(0);
    expect(d.ext.policy?.id).toBe(b.ext.policy?.id);
    expect(ns.ip('xfrm', 'policy').trim()).toBe('');
    const again = await sock.request(spdadd(addr('10.7.0.2'), addr('10.7.0.1'), IpsecDir.INBOUND, [], { type: SadbMsgType.X_SPDDELETE }));
    expect(again.errno).toBe(Errno.ENOENT);
    expect(explainReply(again)).toMatch(/no such policy/);
  });

  test('flushes agree: ip flush empties SPDDUMP (ENOENT), X_SPDFLUSH empties ip xfrm policy', async () => {
    await sock.request(spdadd(addr('10.8.0.1'), addr('10.8.0.2'), IpsecDir.OUTBOUND, [transportReq()]));
    ns.ip('xfrm', 'policy', 'flush');
    const empty = await sock.dump(header(SadbMsgType.X_SPDDUMP));
    expect(empty).toHaveLength(1);
    expect(empty[0].errno).toBe(Errno.ENOENT);
    await sock.request(spdadd(addr('10.8.0.1'), addr('10.8.0.2'), IpsecDir.OUTBOUND, [transportReq()]));
    ns.ip('xfrm', 'policy', 'add', 'src', '10.8.0.3/32', 'dst', '10.8.0.4/32', 'dir', 'out');
    const fl = await sock.request(header(SadbMsgType.X_SPDFLUSH));
    expect(fl.errno).toBe(0);
    expect(ns.ip('xfrm', 'policy').trim()).toBe('');
  });

  test('bad input gets a clear error and changes nothing: entrust policy, tunnel without endpoints', async () => {
    const entrust = await sock.request(spdadd(addr('10.9.0.1'), addr('10.9.0.2'), IpsecDir.OUTBOUND, [], { policyType: IpsecPolicyType.ENTRUST }));
    expect(entrust.errno).toBe(Errno.EINVAL);
    expect(explainReply(entrust)).toMatch(/ENTRUST cannot be installed/);
    const noEnds = await sock.request(
      spdadd(addr('10.9.0.1'), addr('10.9.0.2'), IpsecDir.OUTBOUND, [{ proto: 50, mode: 2, level: IpsecLevel.REQUIRE, reqid: 0 }]),
    );
    expect(noEnds.errno).toBe(Errno.EINVAL);
    expect(explainReply(noEnds)).toMatch(/tunnel mode needs both tunnel endpoints/);
    expect(ns.ip('xfrm', 'policy').trim()).toBe('');
  });
});

describe('SPD broadcasts (RFC 2367 §3.1: every PF_KEY socket hears SPD changes)', () => {
  test('a change made by `ip xfrm` reaches the socket as X_SPDADD / X_SPDDELETE / X_SPDFLUSH', async () => {
    const added = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (m) => m.type === SadbMsgType.X_SPDADD && m.ext.addressDst?.addr.address === '10.10.0.2');
    ns.ip('xfrm', 'policy', 'add', 'src', '10.10.0.1/32', 'dst', '10.10.0.2/32', 'dir', 'out', 'tmpl', 'proto', 'esp', 'mode', 'transport');
    const a = await added;
    expect(a.pid).not.toBe(sock.portid); // iproute2 stamps nlmsg_pid 0; the kernel echoes what the sender stamped
    expect(a.ext.policy?.requests).toHaveLength(1);
    const deleted = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (m) => m.type === SadbMsgType.X_SPDDELETE);
    ns.ip('xfrm', 'policy', 'delete', 'src', '10.10.0.1/32', 'dst', '10.10.0.2/32', 'dir', 'out');
    expect((await deleted).ext.addressDst?.addr.address).toBe('10.10.0.2');
    // The kernel announces a flush only when it removed something (xfrm_flush_policy: ESRCH = empty, no event).
    ns.ip('xfrm', 'policy', 'add', 'src', '10.10.0.3/32', 'dst', '10.10.0.4/32', 'dir', 'in');
    const flushed = waitFor<PfKeyMessage>((l) => sock.onMessage(l), (m) => m.type === SadbMsgType.X_SPDFLUSH);
    ns.ip('xfrm', 'policy', 'flush');
    expect((await flushed).errno).toBe(0);
  });

  test('the sender sees its SPDADD once (the reply); another socket sees it as a broadcast with the sender portid', async () => {
    const seenBySender: PfKeyMessage[] = [];
    const off = sock.onMessage((m) => seenBySender.push(m));
    const atOther = waitFor<PfKeyMessage>((l) => other.onMessage(l), (m) => m.type === SadbMsgType.X_SPDADD && m.ext.addressDst?.addr.address === '10.11.0.2');
    const reply = await sock.request(spdadd(addr('10.11.0.1'), addr('10.11.0.2'), IpsecDir.OUTBOUND, [transportReq()]));
    const b = await atOther;
    // Give a duplicate every chance to arrive before counting.
    await new Promise((r) => setTimeout(r, 100));
    off();
    expect(seenBySender.filter((m) => m.type === SadbMsgType.X_SPDADD)).toEqual([reply]);
    expect(b.pid).toBe(sock.portid);
    expect(b.ext.policy?.id).toBe(reply.ext.policy?.id);
  });
});

test('opening inside a namespace that does not exist fails with a clear error naming it', async () => {
  await expect(openXfrmPfKey({ netns: `tanuki-xfrm-${process.pid}-missing` })).rejects.toThrow(
    new RegExp(`open\\(/run/netns/tanuki-xfrm-${process.pid}-missing\\) failed: ENOENT`),
  );
});
