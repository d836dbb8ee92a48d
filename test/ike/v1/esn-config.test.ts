/**
 * racoon.conf `sainfo { esn on; }` (tanuki extension) reaches the IKEv1
 * engine through the daemon's sainfo → SainfoConfig mapping, so Quick Mode
 * proposes the RFC 4304 Extended Sequence Number attribute (type 11); with
 * `esn off;` or no keyword (racoon's behaviour) it does not.
 */
import { IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, SadbMsgType, SadbSaFlags } from '../../../src/pfkey/constants';
import { sainfoConfig } from '../../../src/daemon/ikev1';
import type { CachedPolicy } from '../../../src/daemon/spd-cache';
import type { SainfoConfig } from '../../../src/ike/v1/config';
import { makePair, peerConfig } from './harness';
import { SAINFO_ALGS, parseOk } from '../../config/helpers';

const A = '10.0.0.1';
const B = '10.0.0.2';

const sp: CachedPolicy = {
  id: 1,
  dir: IpsecDir.OUTBOUND,
  src: { proto: 255, prefixlen: 24, addr: { family: 2, address: '192.168.1.0', port: 0 } },
  dst: { proto: 255, prefixlen: 24, addr: { family: 2, address: '192.168.2.0', port: 0 } },
  policy: { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id: 1, priority: 0, requests: [{ proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.REQUIRE, reqid: 0 }] },
};

function fromConf(line: string): SainfoConfig {
  const c = parseOk(`sainfo anonymous { ${SAINFO_ALGS} ${line} }`);
  return sainfoConfig('spid-1', c.sainfos[0], sp, { out: 0, in: 0 });
}

describe('racoon.conf esn on|off → IKEv1 Quick Mode (RFC 4304)', () => {
  test('esn on; sets SainfoConfig.esn; esn off; and the default leave it unset', () => {
    expect(fromConf('esn on;').esn).toBe(true);
    expect(fromConf('esn off;').esn).toBeUndefined();
    expect(fromConf('').esn).toBeUndefined();
  });

  test('esn on; on both ends: the proposal carries ESN and both sides install SADB_X_SAFLAGS_ESN', () => {
    const esn = fromConf('esn on;').esn;
    const p = makePair(peerConfig('b', A, B, {}, { esn }), peerConfig('a', B, A, {}, { esn }), 'esnconf');
    p.a.initiate('b', 0);
    p.run();
    for (const k of [p.kernel.a, p.kernel.b]) {
      const installs = k.filter((m) => m.type === SadbMsgType.UPDATE || m.type === SadbMsgType.ADD);
      expect(installs).toHaveLength(2);
      expect(installs.every((m) => (m.ext.sa!.flags & SadbSaFlags.X_ESN) !== 0)).toBe(true);
    }
  });

  test('esn on; only at the initiator: the responder (default off) refuses the ESN proposal, so the attribute was sent', () => {
    const p = makePair(peerConfig('b', A, B, {}, { esn: fromConf('esn on;').esn }), peerConfig('a', B, A, {}, { esn: fromConf('').esn }), 'esnone');
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.b.some((l) => l.msg.startsWith('no suitable policy found'))).toBe(true);
    expect(p.kernel.b.some((m) => m.type === SadbMsgType.UPDATE)).toBe(false);
  });

  test('esn off; on both ends: no ESN flag on any installed SA', () => {
    const esn = fromConf('esn off;').esn;
    const p = makePair(peerConfig('b', A, B, {}, { esn }), peerConfig('a', B, A, {}, { esn }), 'esnoff');
    p.a.initiate('b', 0);
    p.run();
    const installs = p.kernel.a.filter((m) => m.type === SadbMsgType.UPDATE || m.type === SadbMsgType.ADD);
    expect(installs).toHaveLength(2);
    expect(installs.every((m) => (m.ext.sa!.flags & SadbSaFlags.X_ESN) === 0)).toBe(true);
  });
});
