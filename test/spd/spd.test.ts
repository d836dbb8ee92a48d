/**
 * SPD semantics: the KAME/Linux SADB_X_SPD* operations on the database,
 * Linux ordering (priority, then insertion), Linux policy ids (id % 8 = dir),
 * selectors with ports and ICMP type/code, and the indexed lookup checked
 * against a linear reference on random policy sets.
 */
import fc from 'fast-check';
import { Errno, IPPROTO, IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, IPSEC_MANUAL_REQID_MAX } from '../../src/pfkey/constants';
import { VirtualClock } from '../../src/sadb/clock';
import { Spd, policyIdToDir, type PacketSelector, type SecurityPolicy } from '../../src/spd/spd';
import { prefixMatch } from '../../src/util/ip';
import { espTransport, espTunnel, lifetime, packet, policyExt } from '../kernel/helpers';

function setup() {
  const clock = new VirtualClock();
  const expired: SecurityPolicy[] = [];
  const spd = new Spd({ clock, onExpire: (p) => expired.push(p) });
  return { clock, spd, expired };
}

function ok<T>(r: { ok: true; value: T } | { ok: false; errno: number; reason: string }): T {
  if (!r.ok) throw new Error(`expected success, got errno ${r.errno}: ${r.reason}`);
  return r.value;
}

const req = (ext: ReturnType<typeof policyExt>, seq = 1) => ({ seq, pid: 99, ext });

describe('SPDADD / SPDUPDATE / SPDDELETE / SPDDELETE2 / SPDGET / SPDFLUSH', () => {
  it('allocates ids like Linux xfrm_gen_index: id % 8 is the XFRM direction (0 in, 1 out, 2 fwd)', () => {
    const { spd } = setup();
    const dirs = [IpsecDir.INBOUND, IpsecDir.OUTBOUND, IpsecDir.FWD, IpsecDir.OUTBOUND];
    const ids = dirs.map((dir, i) => ok(spd.add(req(policyExt(`10.0.${i}.0`, '10.1.0.0', dir, IpsecPolicyType.NONE, { splen: 24, dplen: 16 })), false)).policy.id);
    expect(ids.map((id) => id % 8)).toEqual([0, 1, 2, 1]);
    expect(new Set(ids).size).toBe(4);
    expect(ids.every((id) => id !== 0)).toBe(true);
    expect(ids.map(policyIdToDir)).toEqual(dirs);
  });

  it('SPDADD of the same selector and direction is EEXIST; another direction is fine', () => {
    const { spd } = setup();
    ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD)), false));
    expect(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE)), false)).toMatchObject({ ok: false, errno: Errno.EEXIST });
    ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.INBOUND, IpsecPolicyType.NONE)), false));
    expect(spd.size).toBe(2);
  });

  it('SPDUPDATE replaces the policy in place, keeping its id (xfrm_policy_insert)', () => {
    const { spd } = setup();
    const first = ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD)), false)).policy;
    const r = ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.IPSEC, { requests: [espTransport()] })), true));
    expect(r.replaced).toBe(first);
    expect(r.policy.id).toBe(first.id);
    expect(r.policy.type).toBe(IpsecPolicyType.IPSEC);
    expect(spd.size).toBe(1);
    // SPDUPDATE of a new selector simply adds
    expect(ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.3', IpsecDir.OUTBOUND, IpsecPolicyType.NONE)), true)).replaced).toBeUndefined();
  });

  it('SPDDELETE finds by selector + dir (ENOENT otherwise); SPDDELETE2 and SPDGET by id', () => {
    const { spd } = setup();
    const a = ok(spd.add(req(policyExt('10.0.0.0', '10.0.1.0', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { splen: 24, dplen: 24 })), false)).policy;
    const b = ok(spd.add(req(policyExt('10.0.1.0', '10.0.0.0', IpsecDir.INBOUND, IpsecPolicyType.NONE, { splen: 24, dplen: 24 })), false)).policy;
    expect(spd.deleteBySelector(req(policyExt('10.0.0.0', '10.0.1.0', IpsecDir.INBOUND, IpsecPolicyType.NONE, { splen: 24, dplen: 24 })))).toMatchObject({ ok: false, errno: Errno.ENOENT });
    expect(ok(spd.deleteBySelector(req(policyExt('10.0.0.0', '10.0.1.0', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { splen: 24, dplen: 24 })))).id).toBe(a.id);
    const byId = (id: number) => req({ policy: { type: IpsecPolicyType.NONE, dir: IpsecDir.ANY, id, priority: 0, requests: [] } });
    expect(ok(spd.get(byId(b.id)))).toBe(b);
    expect(spd.get(byId(b.id + 8))).toMatchObject({ ok: false, errno: Errno.ENOENT });
    expect(spd.get(byId(b.id + 3))).toMatchObject({ ok: false, errno: Errno.EINVAL }); // id % 8 = 3: no direction
    expect(ok(spd.deleteById(byId(b.id)))).toBe(b);
    expect(spd.size).toBe(0);
  });

  it('SPDFLUSH removes everything and lookups find nothing after', () => {
    const { spd } = setup();
    ok(spd.add(req(policyExt('0.0.0.0', '0.0.0.0', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD, { splen: 0, dplen: 0 })), false));
    expect(spd.lookup(packet('1.2.3.4', '5.6.7.8'), IpsecDir.OUTBOUND)).toBeDefined();
    expect(spd.flush()).toHaveLength(1);
    expect(spd.lookup(packet('1.2.3.4', '5.6.7.8'), IpsecDir.OUTBOUND)).toBeUndefined();
  });

  it.each([
    ['no X_POLICY', { policy: undefined }, Errno.EINVAL],
    ['direction any', { policy: { type: IpsecPolicyType.NONE, dir: IpsecDir.ANY, id: 0, priority: 0, requests: [] } }, Errno.EINVAL],
    ['type 7', { policy: { type: 7 as IpsecPolicyType, dir: IpsecDir.OUTBOUND, id: 0, priority: 0, requests: [] } }, Errno.EINVAL],
    ['a request for TCP', { policy: { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id: 0, priority: 0, requests: [{ proto: 6, mode: IpsecMode.TRANSPORT, level: IpsecLevel.REQUIRE, reqid: 0 }] } }, Errno.EINVAL],
    ['tunnel without endpoints', { policy: { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id: 0, priority: 0, requests: [{ proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.REQUIRE, reqid: 0 }] } }, Errno.EINVAL],
    ['level 9', { policy: { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id: 0, priority: 0, requests: [{ proto: 50, mode: IpsecMode.TRANSPORT, level: 9 as IpsecLevel, reqid: 0 }] } }, Errno.EINVAL],
    ['prefixlen 40 on IPv4', { addressSrc: { proto: 255, prefixlen: 40, addr: { family: 2 as const, address: '10.0.0.1', port: 0 } } }, Errno.EINVAL],
    ['IPv4 source, IPv6 destination', { addressDst: { proto: 255, prefixlen: 128, addr: { family: 10 as const, address: '::1', port: 0 } } }, Errno.EINVAL],
  ])('SPDADD with %s is refused with the errno Linux gives and installs nothing', (_what, patch, errno) => {
    const { spd } = setup();
    const ext = { ...policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE), ...patch };
    if (ext.policy === undefined) delete ext.policy;
    expect(spd.add(req(ext), false)).toMatchObject({ ok: false, errno });
    expect(spd.size).toBe(0);
  });

  it('level unique without a manual reqid gets an automatic one above 0x3fff (af_key gen_reqid)', () => {
    const { spd } = setup();
    const p = ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.IPSEC, { requests: [espTransport(IpsecLevel.UNIQUE, 0), espTransport(IpsecLevel.UNIQUE, 77), espTransport(IpsecLevel.REQUIRE, 5)] })), false)).policy;
    expect(p.templates[0].reqid).toBeGreaterThan(IPSEC_MANUAL_REQID_MAX);
    expect(p.templates[1].reqid).toBe(77);
    expect(p.templates[2].reqid).toBe(0); // Linux keeps a reqid only for level unique
    expect(p.ext.policy!.requests.map((r) => r.reqid)).toEqual(p.templates.map((t) => t.reqid));
  });

  it('automatic reqids differ between templates and policies', () => {
    const { spd } = setup();
    const reqids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const p = ok(spd.add(req(policyExt(`10.0.0.${i + 1}`, '10.0.0.100', IpsecDir.OUTBOUND, IpsecPolicyType.IPSEC, { requests: [espTransport(IpsecLevel.UNIQUE), { ...espTransport(IpsecLevel.UNIQUE), proto: IPPROTO.AH }] })), false)).policy;
      reqids.push(...p.templates.map((t) => t.reqid));
    }
    expect(new Set(reqids).size).toBe(6);
  });
});

describe('lookup', () => {
  it('lowest priority value wins; ties go to the policy inserted first (Linux xfrm_policy_insert)', () => {
    const { spd } = setup();
    const wide = ok(spd.add(req(policyExt('0.0.0.0', '10.0.0.0', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD, { splen: 0, dplen: 8, priority: 100 })), false)).policy;
    const narrow = ok(spd.add(req(policyExt('0.0.0.0', '10.1.0.0', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { splen: 0, dplen: 16, priority: 100 })), false)).policy;
    expect(spd.lookup(packet('1.1.1.1', '10.1.2.3'), IpsecDir.OUTBOUND)).toBe(wide); // same priority, inserted first
    const better = ok(spd.add(req(policyExt('1.1.1.0', '10.1.2.0', IpsecDir.OUTBOUND, IpsecPolicyType.BYPASS, { splen: 24, dplen: 24, priority: 50 })), false)).policy;
    expect(spd.lookup(packet('1.1.1.1', '10.1.2.3'), IpsecDir.OUTBOUND)).toBe(better);
    expect(spd.lookup(packet('1.1.1.1', '10.2.0.1'), IpsecDir.OUTBOUND)).toBe(wide);
    expect(spd.lookup(packet('1.1.1.1', '11.0.0.1'), IpsecDir.OUTBOUND)).toBeUndefined();
    expect(spd.lookup(packet('1.1.1.1', '10.1.2.3'), IpsecDir.INBOUND)).toBeUndefined();
    expect(narrow.pos).toBeGreaterThan(wide.pos);
  });

  it('ports and upper-layer protocol narrow the match; ICMP type/code sit in the port fields as in Linux', () => {
    const { spd } = setup();
    const ssh = ok(spd.add(req(policyExt('10.0.0.0', '10.0.1.0', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { splen: 24, dplen: 24, proto: IPPROTO.TCP, dport: 22, priority: 10 })), false)).policy;
    const echo = ok(spd.add(req(policyExt('10.0.0.0', '10.0.1.0', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { splen: 24, dplen: 24, proto: IPPROTO.ICMP, sport: 8, dport: 0, priority: 10 })), false)).policy;
    const rest = ok(spd.add(req(policyExt('10.0.0.0', '10.0.1.0', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD, { splen: 24, dplen: 24, priority: 20 })), false)).policy;
    expect(spd.lookup(packet('10.0.0.5', '10.0.1.5', IPPROTO.TCP, 5555, 22), IpsecDir.OUTBOUND)).toBe(ssh);
    expect(spd.lookup(packet('10.0.0.5', '10.0.1.5', IPPROTO.UDP, 5555, 22), IpsecDir.OUTBOUND)).toBe(rest);
    expect(spd.lookup(packet('10.0.0.5', '10.0.1.5', IPPROTO.ICMP, 8, 0), IpsecDir.OUTBOUND)).toBe(echo);
    expect(spd.lookup(packet('10.0.0.5', '10.0.1.5', IPPROTO.ICMP, 3, 1), IpsecDir.OUTBOUND)).toBe(rest);
  });

  it('an ENTRUST policy defers to the next matching policy', () => {
    const { spd } = setup();
    ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.ENTRUST, { priority: 1 })), false));
    const below = ok(spd.add(req(policyExt('10.0.0.0', '10.0.0.0', IpsecDir.OUTBOUND, IpsecPolicyType.DISCARD, { splen: 24, dplen: 24, priority: 2 })), false)).policy;
    expect(spd.lookup(packet('10.0.0.1', '10.0.0.2'), IpsecDir.OUTBOUND)).toBe(below);
  });

  it('IPv6 selectors match by prefix', () => {
    const { spd } = setup();
    const p = ok(spd.add(req(policyExt('2001:db8:1::', '2001:db8:2::', IpsecDir.OUTBOUND, IpsecPolicyType.IPSEC, { splen: 48, dplen: 48, requests: [espTunnel('2001:db8::1', '2001:db8::2')] })), false)).policy;
    expect(spd.lookup(packet('2001:db8:1::5', '2001:db8:2:ffff::1'), IpsecDir.OUTBOUND)).toBe(p);
    expect(spd.lookup(packet('2001:db8:1::5', '2001:db8:3::1'), IpsecDir.OUTBOUND)).toBeUndefined();
    expect(spd.lookup(packet('10.0.0.1', '10.0.0.2'), IpsecDir.OUTBOUND)).toBeUndefined();
  });

  it('the indexed lookup agrees with a linear scan of the Linux ordering on random policy sets', () => {
    const addr4 = fc.tuple(fc.constantFrom(10, 192), fc.nat(3), fc.nat(3), fc.nat(3)).map((b) => b.join('.'));
    const pol = fc.record({ src: addr4, dst: addr4, splen: fc.constantFrom(0, 8, 16, 24, 30, 32), dplen: fc.constantFrom(0, 8, 16, 24, 30, 32), prio: fc.nat(3), proto: fc.constantFrom(255, 6, 17), dport: fc.constantFrom(0, 22, 53), dir: fc.constantFrom(IpsecDir.INBOUND, IpsecDir.OUTBOUND) });
    const pkt = fc.record({ src: addr4, dst: addr4, proto: fc.constantFrom(6, 17, 1), dport: fc.constantFrom(22, 53, 80), dir: fc.constantFrom(IpsecDir.INBOUND, IpsecDir.OUTBOUND) });
    fc.assert(
      fc.property(fc.array(pol, { maxLength: 40 }), fc.array(pkt, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(39), { maxLength: 10 }), (pols, pkts, deletions) => {
        const { spd } = setup();
        const installed: SecurityPolicy[] = [];
        for (const p of pols) {
          const r = spd.add(req(policyExt(p.src, p.dst, p.dir, IpsecPolicyType.NONE, { splen: p.splen, dplen: p.dplen, priority: p.prio, proto: p.proto, dport: p.dport })), false);
          if (r.ok) installed.push(r.value.policy);
        }
        for (const d of deletions) {
          const victim = installed[d];
          if (victim && spd.getById(victim.id)) spd.deleteById(req({ policy: { type: IpsecPolicyType.NONE, dir: victim.dir, id: victim.id, priority: 0, requests: [] } }));
        }
        const live = installed.filter((p) => spd.getById(p.id) === p);
        for (const k of pkts) {
          const sel: PacketSelector = packet(k.src, k.dst, k.proto, 1000, k.dport);
          const reference = live
            .filter((p) => p.dir === k.dir && prefixMatch(p.selector.src, sel.src, p.selector.splen) && prefixMatch(p.selector.dst, sel.dst, p.selector.dplen) && (p.selector.proto === 0 || p.selector.proto === k.proto) && (p.selector.dport === 0 || p.selector.dport === k.dport))
            .sort((a, b) => a.priority - b.priority || a.pos - b.pos)[0];
          expect(spd.lookup(sel, k.dir, false)).toBe(reference);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('policy lifetimes (KAME key_spdexpire: hard only)', () => {
  it('hard addtime removes the policy and reports it once', () => {
    const { spd, clock, expired } = setup();
    const p = ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { hard: lifetime({ addtime: 60n }) })), false)).policy;
    clock.advance(59_999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual([p]);
    expect(spd.size).toBe(0);
  });

  it('hard usetime is an idle timeout: each use pushes it back', () => {
    const { spd, clock, expired } = setup();
    ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { hard: lifetime({ usetime: 10n }) })), false));
    clock.advance(8_000);
    expect(spd.lookup(packet('10.0.0.1', '10.0.0.2'), IpsecDir.OUTBOUND)).toBeDefined();
    clock.advance(8_000);
    expect(expired).toEqual([]);
    clock.advance(2_000);
    expect(expired).toHaveLength(1);
  });

  it('a deleted policy leaves no timer behind', () => {
    const { spd, clock } = setup();
    const p = ok(spd.add(req(policyExt('10.0.0.1', '10.0.0.2', IpsecDir.OUTBOUND, IpsecPolicyType.NONE, { hard: lifetime({ addtime: 60n }) })), false)).policy;
    spd.deleteById(req({ policy: { type: IpsecPolicyType.NONE, dir: p.dir, id: p.id, priority: 0, requests: [] } }));
    clock.advance(1);
    expect(clock.pending()).toBe(0);
  });
});
