/**
 * racoon's SP cache pairs an outbound policy with its inbound one (getsp of
 * the reversed selector, dir in) so that the SAs of a level `unique` policy
 * get reqid_out from the outbound template and reqid_in from the inbound one
 * (racoon proposal.c set_proposal_from_policy; Linux xfrm_state_ok compares
 * the inbound SA's reqid with the inbound template's).
 */
import { IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, SadbMsgType } from '../../src/pfkey/constants';
import type { PfKeyMessage, SadbAddress } from '../../src/pfkey/types';
import { SpdCache } from '../../src/daemon/spd-cache';

const net = (address: string, prefixlen: number): SadbAddress => ({ proto: 255, prefixlen, addr: { family: 2, address, port: 0 } });

function spdadd(id: number, dir: IpsecDir, src: SadbAddress, dst: SadbAddress, reqid: number, level = IpsecLevel.UNIQUE): PfKeyMessage {
  const ends = dir === IpsecDir.OUTBOUND ? ['127.0.0.1', '127.0.0.2'] : ['127.0.0.2', '127.0.0.1'];
  return {
    type: SadbMsgType.X_SPDADD,
    satype: 0,
    errno: 0,
    seq: 0,
    pid: 0,
    ext: {
      addressSrc: src,
      addressDst: dst,
      policy: {
        type: IpsecPolicyType.IPSEC,
        dir,
        id,
        priority: 0,
        requests: [{ proto: 50, mode: IpsecMode.TUNNEL, level, reqid, src: { family: 2, address: ends[0], port: 0 }, dst: { family: 2, address: ends[1], port: 0 } }],
      },
    },
  };
}

describe('SpdCache reqids for the SAs of an outbound policy', () => {
  it('reqid_out from the outbound policy, reqid_in from the inbound policy of the reversed selector (not another inbound policy)', () => {
    const c = new SpdCache();
    c.observe(spdadd(1, IpsecDir.INBOUND, net('10.3.0.0', 24), net('10.1.0.0', 24), 16390)); // another peer's inbound policy
    c.observe(spdadd(2, IpsecDir.OUTBOUND, net('10.1.0.0', 24), net('10.2.0.0', 24), 16385));
    c.observe(spdadd(3, IpsecDir.INBOUND, net('10.2.0.0', 24), net('10.1.0.0', 24), 16386));
    const out = c.get(2)!;
    expect(c.inboundOf(out)?.id).toBe(3);
    expect(c.reqidsOf(out)).toEqual({ out: 16385, in: 16386 });
  });

  it('no inbound policy, or one of level require (reqid 0): reqid_in 0, the engine then uses reqid_out for both', () => {
    const c = new SpdCache();
    c.observe(spdadd(2, IpsecDir.OUTBOUND, net('10.1.0.0', 24), net('10.2.0.0', 24), 7));
    expect(c.reqidsOf(c.get(2)!)).toEqual({ out: 7, in: 0 });
    c.observe(spdadd(3, IpsecDir.INBOUND, net('10.2.0.0', 24), net('10.1.0.0', 24), 0, IpsecLevel.REQUIRE));
    expect(c.reqidsOf(c.get(2)!)).toEqual({ out: 7, in: 0 });
  });
});
