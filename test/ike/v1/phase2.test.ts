/**
 * Quick Mode policy: racoon's proposal_check on phase-2 lifetimes
 * (racoon.conf(5)), RESPONDER-LIFETIME (RFC 2407 §4.6.3.1), "failed to get
 * sainfo", and racoon's EXPIRE rule (initiator rekeys on soft expiry).
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { checkLifetime } from '../../../src/ike/v1/config';
import { ExchangeType, HeaderFlag } from '../../../src/ike/v1/constants';
import { Ikev1Engine } from '../../../src/ike/v1/engine';
import { Pair, makePair, peerConfig, seededRandom } from './harness';

const A = '10.0.0.1';
const B = '10.0.0.2';
const hard = (m: PfKeyMessage[], t: SadbMsgType) => m.find((x) => x.type === t)!.ext.lifetimeHard!.addtime;

describe('proposal_check (racoon.conf(5))', () => {
  it('checkLifetime: obey takes the offer, strict refuses a longer one, claim cuts it, exact needs equality', () => {
    expect(checkLifetime('obey', 7200, 3600)).toEqual({ ok: true, seconds: 7200, responderLifetime: false });
    expect(checkLifetime('strict', 7200, 3600).ok).toBe(false);
    expect(checkLifetime('strict', 1800, 3600)).toEqual({ ok: true, seconds: 1800, responderLifetime: false });
    expect(checkLifetime('claim', 7200, 3600)).toEqual({ ok: true, seconds: 3600, responderLifetime: true });
    expect(checkLifetime('exact', 1800, 3600).ok).toBe(false);
  });

  it('claim: the responder answers a longer phase-2 lifetime with RESPONDER-LIFETIME and both sides install its shorter one', () => {
    const p = makePair(peerConfig('b', A, B, {}, { lifetimeSeconds: 7200 }), peerConfig('a', B, A, { proposalCheck: 'claim' }, { lifetimeSeconds: 3600 }));
    p.a.initiate('b', 0);
    p.run();
    expect(hard(p.kernel.a, SadbMsgType.UPDATE)).toBe(3600n);
    expect(hard(p.kernel.b, SadbMsgType.ADD)).toBe(3600n);
    expect(p.kernel.a.find((x) => x.type === SadbMsgType.ADD)!.ext.lifetimeSoft!.addtime).toBe(2880n);
  });

  it('strict: a longer phase-2 lifetime is refused with "no suitable policy found" and NO-PROPOSAL-CHOSEN; nothing is installed', () => {
    const p = makePair(peerConfig('b', A, B, {}, { lifetimeSeconds: 7200 }), peerConfig('a', B, A, { proposalCheck: 'strict' }, { lifetimeSeconds: 3600 }));
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.b.some((l) => l.msg.startsWith('no suitable policy found'))).toBe(true);
    expect(p.logs.a.some((l) => l.msg.includes('NO_PROPOSAL_CHOSEN'))).toBe(true);
    expect(p.kernel.a.filter((m) => m.type === SadbMsgType.UPDATE)).toHaveLength(0);
  });

  it('Quick Mode IDs that match no sainfo: "failed to get sainfo"', () => {
    const p = makePair(peerConfig('b', A, B, {}, { remote: { address: '172.16.0.0', prefixlen: 16, protocol: 0, port: 0 } }), peerConfig('a', B, A));
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.b.some((l) => l.msg === 'failed to get sainfo')).toBe(true);
    expect(p.kernel.b.filter((m) => m.type === SadbMsgType.GETSPI)).toHaveLength(0);
  });
});

describe("racoon's SADB_EXPIRE rule", () => {
  it('a soft EXPIRE on an SA we initiated starts a new Quick Mode; a hard one drops the phase 2', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A));
    p.a.initiate('b', 0);
    p.run();
    const up = p.kernel.a.find((m) => m.type === SadbMsgType.UPDATE)!;
    const n = p.kernel.a.length;
    const expire = (soft: boolean): PfKeyMessage => ({
      type: SadbMsgType.EXPIRE,
      satype: up.satype,
      errno: 0,
      seq: 0,
      pid: 0,
      ext: { sa: up.ext.sa!, ...(soft ? { lifetimeSoft: up.ext.lifetimeSoft! } : { lifetimeHard: up.ext.lifetimeHard! }) },
    });
    p.a.receivePfKey(expire(true), 1000);
    p.run();
    expect(p.kernel.a.slice(n).map((m) => SadbMsgType[m.type])).toEqual(['GETSPI', 'UPDATE', 'ADD']);
    expect(p.a.ph1Sas()[0].ph2).toHaveLength(2);
    p.a.receivePfKey(expire(false), 2000);
    expect(p.a.ph1Sas()[0].ph2).toHaveLength(1);
  });
});

describe('commit bit (RFC 2408 §4.8), as racoon honours it', () => {
  it('when the responder sets the commit bit in QR1, the initiator keys its SAs only after HASH(4) + N(CONNECTED)', () => {
    const a = new Ikev1Engine({ peers: [peerConfig('b', A, B)], random: seededRandom('ca'), pid: 100 });
    const b = new Ikev1Engine({ peers: [peerConfig('a', B, A)], random: seededRandom('cb'), pid: 200, responderCommitBit: true });
    const p = new Pair(a, b);
    a.initiate('b', 0);
    p.run();
    const qm = p.wire.filter((w) => w.data[18] === ExchangeType.QUICK);
    expect(qm.map((w) => [w.from, w.data[19] & HeaderFlag.COMMIT])).toEqual([
      ['a', 0],
      ['b', HeaderFlag.COMMIT],
      ['a', 0],
      ['b', 0],
    ]);
    expect(p.logs.a.some((l) => l.msg.startsWith('commit bit set'))).toBe(true);
    const upA = p.kernel.a.find((m) => m.type === SadbMsgType.UPDATE)!;
    const addB = p.kernel.b.find((m) => m.type === SadbMsgType.ADD)!;
    expect(upA.ext.sa!.spi).toBe(addB.ext.sa!.spi);
    expect(upA.ext.keyEncrypt!.key).toEqual(addB.ext.keyEncrypt!.key);
  });

  it('without CONNECTED the initiator installs nothing', () => {
    const a = new Ikev1Engine({ peers: [peerConfig('b', A, B)], random: seededRandom('ca'), pid: 100 });
    const b = new Ikev1Engine({ peers: [peerConfig('a', B, A)], random: seededRandom('cb'), pid: 200, responderCommitBit: true });
    const p = new Pair(a, b);
    let quickFromB = 0;
    p.drop = (from, data) => from === 'b' && data[18] === ExchangeType.QUICK && ++quickFromB === 2;
    a.initiate('b', 0);
    p.run();
    expect(p.kernel.a.filter((m) => m.type === SadbMsgType.UPDATE)).toHaveLength(0);
    expect(a.ph1Sas()[0].ph2[0].state).toBe('WAIT_CONNECTED');
  });
});

describe('phase-1 lifetime (RFC 2409 App. A Life Duration)', () => {
  it('at the negotiated ISAKMP-SA lifetime both sides forget it after an informational Delete; the kernel SAs stay', () => {
    const ph1 = [{ encr: 7, keyBits: 128, hash: 2, authMethod: 1, dhGroup: 14, lifetimeSeconds: 600 }];
    const p = makePair(peerConfig('b', A, B, { ph1Proposals: ph1 }), peerConfig('a', B, A, { ph1Proposals: [{ ...ph1[0], lifetimeSeconds: 28800 }] }));
    p.a.initiate('b', 0);
    p.run();
    expect(p.a.getTimer()).toBe(600_000);
    p.tick();
    expect(p.a.ph1Sas()).toHaveLength(0);
    expect(p.b.ph1Sas()).toHaveLength(0);
    expect(p.kernel.a.filter((m) => m.type === SadbMsgType.DELETE)).toHaveLength(0);
  });
});
