/**
 * Two Ikev1Engines on a virtual clock: what happens to SAs after they are up.
 *  - phase-2 rekey on the kernel's soft EXPIRE, by the initiator only (racoon
 *    pk_recvexpire), once although the kernel sends one EXPIRE per direction;
 *  - phase-1 rekey (racoon isakmp_ph1expire with `rekey force` / `rekey on` +
 *    DPD; migrate_dying_ph12 moves the phase 2s to the new ISAKMP-SA);
 *  - purge_remote (racoonctl delete-sa isakmp): Delete per IPsec-SA (d2), then
 *    of the ISAKMP-SA (d1), leaving no SA on either side;
 *  - DPD (RFC 3706) declaring a peer that stopped answering dead.
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { ExchangeType } from '../../../src/ike/v1/constants';
import type { Ikev1PeerConfig } from '../../../src/ike/v1/config';
import { makePair, peerConfig, Pair } from './harness';

const A = '10.0.0.1';
const B = '10.0.0.2';

/** The kernel each side would hold after its PF_KEY requests: SPIs added/updated minus deleted. */
function kernelSpis(msgs: PfKeyMessage[]): Set<number> {
  const s = new Set<number>();
  for (const m of msgs) {
    if ((m.type === SadbMsgType.UPDATE || m.type === SadbMsgType.ADD) && m.ext.sa) s.add(m.ext.sa.spi);
    if (m.type === SadbMsgType.DELETE && m.ext.sa) s.delete(m.ext.sa.spi);
  }
  return s;
}

function expire(spi: number, soft: boolean): PfKeyMessage {
  return {
    type: SadbMsgType.EXPIRE,
    satype: 3,
    errno: 0,
    seq: 0,
    pid: 0,
    ext: {
      sa: { spi, replay: 4, state: soft ? 2 : 3, auth: 2, encrypt: 12, flags: 0 },
      ...(soft ? { lifetimeSoft: { allocations: 0, bytes: 0n, addtime: 2880n, usetime: 0n } } : { lifetimeHard: { allocations: 0, bytes: 0n, addtime: 3600n, usetime: 0n } }),
      lifetimeCurrent: { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n },
    },
  };
}

function up(over: Partial<Ikev1PeerConfig> = {}, overB: Partial<Ikev1PeerConfig> = {}): Pair {
  const p = makePair(peerConfig('b', A, B, over), peerConfig('a', B, A, { ...over, ...overB }));
  p.a.initiate('b', 0);
  p.run();
  expect(p.a.ph1Sas()[0].ph2[0].state).toBe('ESTABLISHED');
  return p;
}

const quickModes = (p: Pair) => p.wire.filter((w) => w.data[18] === ExchangeType.QUICK).length / 3;

describe('IKEv1 phase-2 rekey (racoon: the initiator renegotiates on the soft EXPIRE)', () => {
  it('the soft EXPIRE of both directions starts exactly one new Quick Mode; the old SAs stay until their hard EXPIRE', () => {
    const p = up();
    const [ph2] = p.a.ph1Sas()[0].ph2;
    p.a.receivePfKey(expire(ph2.inboundSpi, true), p.now);
    p.a.receivePfKey(expire(ph2.outboundSpi, true), p.now);
    p.run();
    expect(quickModes(p)).toBe(2);
    const sas = p.a.ph1Sas()[0].ph2;
    expect(sas).toHaveLength(2);
    expect(sas.every((x) => x.state === 'ESTABLISHED')).toBe(true);
    expect(kernelSpis(p.kernel.a).size).toBe(4);
    // hard EXPIRE: the kernel removed the old SA itself; the engine forgets the phase 2 and sends no DELETE
    const before = p.kernel.a.length;
    p.a.receivePfKey(expire(ph2.inboundSpi, false), p.now);
    p.run();
    expect(p.kernel.a.slice(before)).toEqual([]);
    expect(p.a.ph1Sas()[0].ph2.map((x) => x.inboundSpi)).not.toContain(ph2.inboundSpi);
  });

  it('the responder does not renegotiate on a soft EXPIRE (racoon leaves it to the initiator)', () => {
    const p = up();
    const [ph2] = p.b.ph1Sas()[0].ph2;
    p.b.receivePfKey(expire(ph2.inboundSpi, true), p.now);
    p.run();
    expect(quickModes(p)).toBe(1);
  });
});

describe('IKEv1 phase-1 rekey (racoon isakmp_ph1expire, migrate_dying_ph12)', () => {
  const shortLife = { ph1Proposals: [{ encr: 7, keyBits: 128, hash: 2, authMethod: 1, dhGroup: 14, lifetimeSeconds: 60 }] };

  it('rekey force: at the lifetime a new Main Mode runs without INITIAL-CONTACT, the IPsec-SAs move to it, the old ISAKMP-SA is deleted 2 s later on both sides', () => {
    const p = up({ ...shortLife, ph1Rekey: 'force' });
    const old = p.a.ph1Sas()[0];
    const [ph2] = old.ph2;
    const kernelB = p.kernel.b.length;
    // only a's timer fires at 60 s (b's lifetime ends a moment later in a real exchange: it established first)
    p.now = 60000;
    p.a.handleTimer(p.now);
    p.run();
    expect(p.a.ph1Sas().map((s) => s.state).sort()).toEqual(['ESTABLISHED', 'EXPIRED']);
    expect(p.b.ph1Sas().map((s) => s.state)).toEqual(['ESTABLISHED', 'ESTABLISHED']);
    // no INITIAL-CONTACT in the new message 5: the responder deleted nothing
    expect(p.kernel.b.slice(kernelB).filter((m) => m.type === SadbMsgType.DELETE)).toEqual([]);
    p.now += 2000; // the grace period, then the Delete of the old ISAKMP-SA
    p.a.handleTimer(p.now);
    p.run();
    const a = p.a.ph1Sas();
    const b = p.b.ph1Sas();
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(a[0].cookieI).not.toBe(old.cookieI);
    expect(b[0].cookieI).toBe(a[0].cookieI);
    // the phase 2 lives on under the new ISAKMP-SA, on both sides (b adopted it when a deleted the old one)
    expect(a[0].ph2.map((x) => x.inboundSpi)).toEqual([ph2.inboundSpi]);
    expect(b[0].ph2.map((x) => x.outboundSpi)).toEqual([ph2.inboundSpi]);
    // and it is still reachable: a Delete for it through the new ISAKMP-SA removes it on the peer
    expect(p.a.deletePh2(a[0].serial, ph2.inboundSpi, p.now)).toBe(true);
    p.run();
    expect(kernelSpis(p.kernel.b).size).toBe(0);
  });

  it('the peer deletes the expired ISAKMP-SA before our replacement is up: the replacement takes over the IPsec-SAs', () => {
    const p = up({ ...shortLife, ph1Rekey: 'force' }, { ph1Rekey: 'off' });
    const [ph2] = p.a.ph1Sas()[0].ph2;
    p.tick(); // both lifetimes end: a starts a new Main Mode, b (rekey off) deletes the ISAKMP-SA
    const a = p.a.ph1Sas();
    expect(a.map((s) => s.state)).toEqual(['ESTABLISHED']);
    expect(a[0].ph2.map((x) => x.inboundSpi)).toEqual([ph2.inboundSpi]);
    expect(p.b.ph1Sas().map((s) => s.state)).toEqual(['ESTABLISHED']);
  });

  it('rekey on without DPD, or no phase 2 left: the expired ISAKMP-SA is deleted and not renegotiated', () => {
    const p = up({ ph1Rekey: 'on', ph1Proposals: [{ encr: 7, keyBits: 128, hash: 2, authMethod: 1, dhGroup: 14, lifetimeSeconds: 60 }] });
    p.tick();
    expect(p.a.ph1Sas()).toEqual([]);
    expect(p.b.ph1Sas()).toEqual([]);
    expect(p.wire.filter((w) => w.data[18] === ExchangeType.IDENTITY_PROTECTION)).toHaveLength(6);
    // the IPsec-SAs stay in the kernel until their own lifetime (racoon)
    expect(kernelSpis(p.kernel.a).size).toBe(2);
  });

  it('the replacing phase 1 never comes up: the expired ISAKMP-SA is deleted after the half-open timeout', () => {
    const p = up({ ph1Rekey: 'force', ph1Proposals: [{ encr: 7, keyBits: 128, hash: 2, authMethod: 1, dhGroup: 14, lifetimeSeconds: 60 }] });
    p.drop = () => true;
    for (let i = 0; i < 20 && p.a.ph1Sas().length > 0; i++) p.tick();
    expect(p.a.ph1Sas()).toEqual([]);
    expect(p.logs.a.some((l) => l.msg === 'phase1 negotiation failed due to time up')).toBe(true);
  });
});

describe('racoon purge_remote and DPD', () => {
  it('purgePh1: a Delete per IPsec-SA, then of the ISAKMP-SA; neither side keeps an SA or an ISAKMP-SA', () => {
    const p = up();
    p.a.initiate('b', p.now); // a second phase 2 on the same ISAKMP-SA
    p.run();
    expect(kernelSpis(p.kernel.a).size).toBe(4);
    expect(p.a.purgePh1(p.a.ph1Sas()[0].serial, p.now)).toBe(true);
    p.run();
    expect(kernelSpis(p.kernel.a).size).toBe(0);
    expect(kernelSpis(p.kernel.b).size).toBe(0);
    expect(p.a.ph1Sas()).toEqual([]);
    expect(p.b.ph1Sas()).toEqual([]);
    expect(p.logs.b.filter((l) => l.msg.startsWith('purged IPsec-SA'))).toHaveLength(2);
    expect(p.logs.b.some((l) => l.msg === 'purging ISAKMP-SA on peer delete')).toBe(true);
  });

  it('DPD: the peer stops answering; after dpd_delay + dpd_maxfail × dpd_retry it is declared dead and every SA is deleted', () => {
    const p = up({ dpdDelaySeconds: 5, dpdRetrySeconds: 2, dpdMaxFail: 3 });
    p.drop = (from) => from === 'b';
    for (let i = 0; i < 10 && p.a.ph1Sas().length > 0; i++) p.tick();
    expect(p.logs.a.some((l) => l.msg === 'DPD: remote seems to be dead')).toBe(true);
    // 5 s idle, then 3 probes 2 s apart, dead at the 4th tick: 5 + 3 × 2 = 11 s
    expect(p.now).toBe(11000);
    expect(p.a.ph1Sas()).toEqual([]);
    expect(kernelSpis(p.kernel.a).size).toBe(0);
  });

  it('a Quick Mode cut short by the loss of its ISAKMP-SA deletes the larval SA of its GETSPI', () => {
    const p = up();
    p.drop = () => true;
    p.a.initiate('b', p.now);
    p.run();
    const getspi = p.kernel.a.filter((m) => m.type === SadbMsgType.GETSPI);
    expect(getspi).toHaveLength(2);
    const larval = p.kernel.a.find((m) => m.type === SadbMsgType.GETSPI && m === getspi[1]);
    expect(larval).toBeDefined();
    expect(p.a.deletePh1(p.a.ph1Sas()[0].serial, p.now)).toBe(true);
    p.run();
    const deletes = p.kernel.a.filter((m) => m.type === SadbMsgType.DELETE && m.ext.sa);
    // the stub kernel answers GETSPI with 0xa0000100, 0xa0000101, ...: the second one was larval
    expect(deletes.map((m) => m.ext.sa!.spi)).toEqual([0xa0000101]);
  });
});
