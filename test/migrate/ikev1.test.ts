/**
 * IKEv1 phase 1 under Mobile IPv6 movement (src/ike/v1/migrate.ts through
 * Ikev1Engine.migratePh1), racoon's migrate_ph12 behaviour (racoon-compat.md
 * §6) with the K-bit of RFC 6275 §6.1.7: K set moves the ISAKMP-SA keeping
 * cookies and ports, and later phase 2s use the new addresses; K clear
 * forgets it without a Delete; a Quick Mode in progress is restarted if we
 * initiated it and dropped if we responded; a stale datagram arriving at the
 * old address does not pull the moved ISAKMP-SA back (no NAT: RFC 3947 §4
 * floating does not apply).
 */
import { SadbMsgType } from '../../src/pfkey/constants';
import { ExchangeType } from '../../src/ike/v1/constants';
import { makePair, peerConfig } from '../ike/v1/harness';

const A = '10.0.0.1';
const B = '10.0.0.2';
const A2 = '10.0.0.11';

function established() {
  const p = makePair(peerConfig('b', A, B, { natTraversal: false }), peerConfig('a', B, A, { natTraversal: false }));
  p.a.initiate('b', 0);
  p.run();
  expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
  expect(p.a.ph1Sas()[0].ph2[0].state).toBe('ESTABLISHED');
  return p;
}

describe('IKEv1 phase 1 and MIGRATE (racoon migrate_ph12, RFC 6275 §6.1.7)', () => {
  it('K set: both sides move the ISAKMP-SA (same cookies, ports kept); a new Quick Mode runs from the new address and installs its SAs there; no Main Mode', () => {
    const p = established();
    const before = p.a.ph1Sas()[0];
    expect(p.a.migratePh1(before.serial, { kind: 'move', local: { address: A2, port: 4242 }, remote: { address: B, port: 4242 } }, 10)).toBe(true);
    const bs = p.b.ph1Sas()[0];
    expect(p.b.migratePh1(bs.serial, { kind: 'move', local: { address: B, port: 0 }, remote: { address: A2, port: 0 } }, 10)).toBe(true);
    const moved = p.a.ph1Sas()[0];
    expect([moved.cookieI, moved.cookieR, moved.local, moved.remote]).toEqual([before.cookieI, before.cookieR, { address: A2, port: 500 }, { address: B, port: 500 }]);
    const wire0 = p.wire.length;
    const k0 = p.kernel.a.length;
    p.a.initiate('b', 20); // the ISAKMP-SA exists: phase 2 only
    p.run();
    const sent = p.wire.slice(wire0);
    expect(sent.map((w) => w.data[18])).toEqual([ExchangeType.QUICK, ExchangeType.QUICK, ExchangeType.QUICK]);
    expect(sent[0].src.address).toBe(A2);
    expect(sent[1].dst.address).toBe(A2);
    const add = p.kernel.a.slice(k0).find((m) => m.type === SadbMsgType.ADD)!;
    expect([add.ext.addressSrc!.addr.address, add.ext.addressDst!.addr.address]).toEqual([A2, B]);
    const addB = p.kernel.b.filter((m) => m.type === SadbMsgType.ADD).at(-1)!;
    expect(addB.ext.addressDst!.addr.address).toBe(A2);
    expect(p.a.ph1Sas()).toHaveLength(1);
  });

  it('a stale datagram to the old address (the peer not yet moved) does not pull the moved ISAKMP-SA back', () => {
    const p = established();
    const sa = p.a.ph1Sas()[0];
    p.a.migratePh1(sa.serial, { kind: 'move', local: { address: A2, port: 500 }, remote: { address: B, port: 500 } }, 10);
    const wire0 = p.wire.length;
    p.b.initiate('a', 20); // B still talks to 10.0.0.1
    p.run();
    const sent = p.wire.slice(wire0);
    expect(sent[0].dst.address).toBe(A);
    const fromA = sent.filter((w) => w.from === 'a');
    expect(fromA.length).toBeGreaterThan(0);
    expect(fromA.every((w) => w.src.address === A2)).toBe(true);
    expect(p.a.ph1Sas()[0].local.address).toBe(A2);
  });

  it('K clear: the ISAKMP-SA is forgotten without a Delete, and its IPsec-SAs are not deleted from the kernel', () => {
    const p = established();
    const sa = p.a.ph1Sas()[0];
    const wire0 = p.wire.length;
    const k0 = p.kernel.a.length;
    expect(p.a.migratePh1(sa.serial, { kind: 'abandon', reason: 'K-bit clear' }, 10)).toBe(true);
    p.run();
    expect(p.a.ph1Sas()).toEqual([]);
    expect(p.wire.length).toBe(wire0);
    expect(p.kernel.a.slice(k0).filter((m) => m.type === SadbMsgType.DELETE)).toEqual([]);
    expect(p.a.migratePh1(sa.serial, { kind: 'abandon', reason: 'again' }, 10)).toBe(false);
  });

  it('a Quick Mode we initiated is restarted from the new address; one we answered is dropped', () => {
    const p = established();
    p.drop = (from) => from === 'b'; // B's QR1 is lost: A waits in QI1_SENT, B in QR1_SENT
    p.a.initiate('b', 20);
    p.run();
    const qa = p.a.ph1Sas()[0].ph2.find((x) => x.state !== 'ESTABLISHED');
    const qb = p.b.ph1Sas()[0].ph2.find((x) => x.state !== 'ESTABLISHED');
    expect(qa?.state).toBe('QI1_SENT');
    expect(qb?.state).toBe('QR1_SENT');
    p.drop = () => false;
    const getspi0 = p.kernel.a.filter((m) => m.type === SadbMsgType.GETSPI).length;
    p.b.migratePh1(p.b.ph1Sas()[0].serial, { kind: 'move', local: { address: B, port: 500 }, remote: { address: A2, port: 500 } }, 30);
    expect(p.b.ph1Sas()[0].ph2.filter((x) => x.state !== 'ESTABLISHED')).toEqual([]);
    const wire0 = p.wire.length;
    p.a.migratePh1(p.a.ph1Sas()[0].serial, { kind: 'move', local: { address: A2, port: 500 }, remote: { address: B, port: 500 } }, 30);
    p.run();
    expect(p.kernel.a.filter((m) => m.type === SadbMsgType.GETSPI).length).toBe(getspi0 + 1);
    const sent = p.wire.slice(wire0);
    expect(sent[0].src.address).toBe(A2);
    expect(sent.map((w) => w.data[18])).toEqual([ExchangeType.QUICK, ExchangeType.QUICK, ExchangeType.QUICK]);
    expect(p.a.ph1Sas()[0].ph2.filter((x) => x.state === 'ESTABLISHED')).toHaveLength(2);
    expect(p.logs.a.some((l) => /restarted from the new address/.test(l.msg))).toBe(true);
    expect(p.logs.b.some((l) => /dropped: the initiator restarts it/.test(l.msg))).toBe(true);
  });

  it('a phase 1 still negotiating is dropped (the daemon restarts it if we initiated); moving a dead one fails', () => {
    const p = makePair(peerConfig('b', A, B, { natTraversal: false }), peerConfig('a', B, A, { natTraversal: false }));
    p.drop = () => true;
    p.a.initiate('b', 0);
    p.run();
    const sa = p.a.ph1Sas()[0];
    expect(sa.state).toBe('MM_I1_SENT');
    expect(p.a.migratePh1(sa.serial, { kind: 'move', local: { address: A2, port: 500 }, remote: { address: B, port: 500 } }, 5)).toBe(false);
    expect(p.a.migratePh1(sa.serial, { kind: 'drop' }, 5)).toBe(true);
    expect(p.a.ph1Sas()).toEqual([]);
  });
});
