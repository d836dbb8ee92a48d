/**
 * The policy string of ipsec_set_policy(3) (libipsec policy_parse.y) and its
 * printed form (ipsec_dump_policy.c), which setkey -DP and racoon share.
 */
import { IPPROTO, IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType } from '../../src/pfkey/constants';
import {
  formatPolicy,
  formatPriority,
  parseDirAndRequests,
  parsePolicy,
  PRIORITY_DEFAULT,
  PRIORITY_HIGH,
  PRIORITY_LOW,
} from '../../src/config/setkey/policy';

function ok(text: string) {
  const r = parsePolicy(text);
  if (!r.ok) throw new Error(`${text}: ${r.error.message} at ${r.error.offset}`);
  return r.policy;
}

function err(text: string) {
  const r = parsePolicy(text);
  if (r.ok) throw new Error(`${text} parsed`);
  return r.error;
}

describe('policy string grammar (policy_parse.y)', () => {
  it('DIR ACTION without priority gets PRIORITY_DEFAULT (HAVE_PFKEY_POLICY_PRIORITY)', () => {
    expect(ok('out discard')).toEqual({ type: IpsecPolicyType.DISCARD, dir: IpsecDir.OUTBOUND, id: 0, priority: 0x80000000, requests: [] });
    expect(ok('in none').type).toBe(IpsecPolicyType.NONE);
    expect(ok('fwd bypass').dir).toBe(IpsecDir.FWD);
    expect(ok('out entrust').type).toBe(IpsecPolicyType.ENTRUST);
  });

  it('DIR alone is the spddelete form: discard, priority 0', () => {
    expect(ok('in')).toEqual({ type: IpsecPolicyType.DISCARD, dir: IpsecDir.INBOUND, id: 0, priority: 0, requests: [] });
  });

  it('priorities: prio N is an offset above default, prio -N below; bases low/def/high with +/-', () => {
    expect(ok('out prio 10 none').priority).toBe(PRIORITY_DEFAULT - 10);
    expect(ok('out priority -10 none').priority).toBe(PRIORITY_DEFAULT + 10);
    expect(ok('out prio high none').priority).toBe(PRIORITY_HIGH);
    expect(ok('out prio low none').priority).toBe(PRIORITY_LOW);
    expect(ok('out prio def + 5 none').priority).toBe(PRIORITY_DEFAULT - 5);
    expect(ok('out prio def - 5 none').priority).toBe(PRIORITY_DEFAULT + 5);
    expect(ok('out prio high - 1 none').priority).toBe(PRIORITY_HIGH + 1);
    expect(ok('out prio 2147483648 none').priority).toBe(0);
  });

  it('priority offsets beyond libipsec limits are errors', () => {
    expect(err('out prio def + 1073741825 none').message).toMatch(/out of range/);
    expect(err('out prio def - 1073741824 none').message).toMatch(/out of range/);
    expect(err('out prio 2147483649 none').message).toMatch(/out of range/);
  });

  it('requests: proto/mode/src-dst/level with every form the grammar allows', () => {
    const p = ok('out ipsec esp/tunnel/192.168.0.1-192.168.1.2/require ah/transport//use ipcomp/transport esp/transport/ esp/transport/10.0.0.1-10.0.0.2');
    expect(p.requests).toEqual([
      {
        proto: IPPROTO.ESP,
        mode: IpsecMode.TUNNEL,
        level: IpsecLevel.REQUIRE,
        reqid: 0,
        src: { family: 2, address: '192.168.0.1', port: 0 },
        dst: { family: 2, address: '192.168.1.2', port: 0 },
      },
      { proto: IPPROTO.AH, mode: IpsecMode.TRANSPORT, level: IpsecLevel.USE, reqid: 0 },
      { proto: IPPROTO.COMP, mode: IpsecMode.TRANSPORT, level: IpsecLevel.DEFAULT, reqid: 0 },
      { proto: IPPROTO.ESP, mode: IpsecMode.TRANSPORT, level: IpsecLevel.DEFAULT, reqid: 0 },
      {
        proto: IPPROTO.ESP,
        mode: IpsecMode.TRANSPORT,
        level: IpsecLevel.DEFAULT,
        reqid: 0,
        src: { family: 2, address: '10.0.0.1', port: 0 },
        dst: { family: 2, address: '10.0.0.2', port: 0 },
      },
    ]);
  });

  it('unique:N sets level unique with a manual reqid; IPv6 endpoints are canonicalised; ports for ESP-in-UDP', () => {
    const p = ok('in ipsec esp/tunnel/2001:DB8::1[4500]-2001:db8:0::2[4500]/unique:42');
    expect(p.requests[0]).toMatchObject({ level: IpsecLevel.UNIQUE, reqid: 42 });
    expect(p.requests[0].src).toEqual({ family: 10, address: '2001:db8::1', port: 4500 });
    expect(p.requests[0].dst).toEqual({ family: 10, address: '2001:db8::2', port: 4500 });
  });

  it('me-any only outbound, any-me only inbound', () => {
    expect(ok('out ipsec esp/transport/me-any/require').requests[0].src).toBeUndefined();
    expect(ok('in ipsec esp/transport/any-me/require').requests).toHaveLength(1);
    expect(err('in ipsec esp/transport/me-any/require')).toMatchObject({ offset: 23, near: 'me' });
    expect(err('out ipsec esp/transport/any-me/require').message).toMatch(/only valid in an inbound/);
  });

  it('errors name the offending token and its offset', () => {
    expect(err('sideways ipsec')).toEqual({ offset: 0, message: 'expected a direction (in, out or fwd)', near: 'sideways' });
    expect(err('out ipsec esp')).toMatchObject({ offset: 13, message: expect.stringMatching(/too few arguments/) });
    expect(err('out ipsec esp/')).toMatchObject({ offset: 14 });
    expect(err('out ipsec esp/tunnel//require')).toMatchObject({ message: 'tunnel mode needs the tunnel endpoints (src-dst)', near: 'tunnel' });
    expect(err('out ipsec esp/tunnel/10.0.0.1-2001:db8::1/require').message).toMatch(/different address families/);
    expect(err('out ipsec esp/tunnel/10.0.0.300-10.0.0.1/require')).toMatchObject({ offset: 21, near: '10.0.0.300' });
    expect(err('out ipsec esp/transport//sometimes')).toMatchObject({ offset: 25, near: 'sometimes' });
    expect(err('out ipsec esp/transport//unique:16384').message).toMatch(/reqid out of range/);
    expect(err('out maybe')).toMatchObject({ offset: 4, near: 'maybe' });
    expect(err('out ipsec esp/tunnel/10.0.0.1[500]-10.0.0.2/require').message).toMatch(/both endpoints/);
    expect(err('out ipsec esp/tunnel/10.0.0.1[70000]-10.0.0.2[1]/require').message).toMatch(/port out of range/);
    expect(err('out ipsec esp/transport//require;')).toMatchObject({ near: ';' });
  });

  it('migrate form: DIR then requests, no action', () => {
    const r = parseDirAndRequests('out esp/tunnel/192.0.2.10-192.0.2.20/require esp/tunnel/198.51.100.10-192.0.2.20/require');
    expect(r.ok && r.dir).toBe(IpsecDir.OUTBOUND);
    expect(r.ok && r.requests.map((q) => q.src?.address)).toEqual(['192.0.2.10', '198.51.100.10']);
  });
});

describe('ipsec_dump_policy', () => {
  it('prints "prio def" for the default priority and nothing for 0 (pfkey_spdump real output)', () => {
    expect(formatPolicy(ok('out ipsec esp/transport//require ah/transport//require'), '\n\t')).toBe(
      'out prio def ipsec\n\tesp/transport//require\n\tah/transport//require',
    );
    expect(formatPolicy(ok('in'))).toBe('in discard');
  });

  it('round-trips priorities to the words they were written with', () => {
    for (const s of ['prio def + 10', 'prio def - 10', 'prio high', 'prio low - 3', 'prio high + 7']) {
      expect(formatPriority(ok(`out ${s} none`).priority)).toBe(s);
    }
    expect(formatPriority(ok('out prio 10 none').priority)).toBe('prio def + 10');
  });

  it('prints reqid with ":" up to IPSEC_MANUAL_REQID_MAX and "#" above it; ports with -p', () => {
    const p = ok('out ipsec esp/tunnel/10.0.0.1[4500]-10.0.0.2[4500]/unique:7');
    expect(formatPolicy(p)).toBe('out prio def ipsec esp/tunnel/10.0.0.1-10.0.0.2/unique:7');
    expect(formatPolicy(p, ' ', true)).toBe('out prio def ipsec esp/tunnel/10.0.0.1[4500]-10.0.0.2[4500]/unique:7');
    p.requests[0].reqid = 0x4000;
    expect(formatPolicy(p)).toBe('out prio def ipsec esp/tunnel/10.0.0.1-10.0.0.2/unique#16384');
  });

  it('returns null for a direction or request it has no name for', () => {
    expect(formatPolicy({ type: IpsecPolicyType.IPSEC, dir: 9 as IpsecDir, id: 0, priority: 0, requests: [] })).toBeNull();
    expect(
      formatPolicy({
        type: IpsecPolicyType.IPSEC,
        dir: IpsecDir.OUTBOUND,
        id: 0,
        priority: 0,
        requests: [{ proto: 6, mode: IpsecMode.TRANSPORT, level: IpsecLevel.REQUIRE, reqid: 0 }],
      }),
    ).toBeNull();
  });
});
