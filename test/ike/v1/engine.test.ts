/**
 * Two Ikev1Engines against each other on a virtual clock: Main Mode PSK +
 * Quick Mode (RFC 2409 §5, §5.5) and racoon's PF_KEY keying (racoon-compat.md
 * §5: GETSPI, then UPDATE inbound before ADD outbound, soft lifetime 80 %).
 */
import { SadbMsgType, NatTType } from '../../../src/pfkey/constants';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { ExchangeType, HeaderFlag } from '../../../src/ike/v1/constants';
import { makePair, peerConfig } from './harness';

const A = '10.0.0.1';
const B = '10.0.0.2';
const types = (m: PfKeyMessage[]) => m.map((x) => SadbMsgType[x.type]);

function expectMatchingSas(ka: PfKeyMessage[], kb: PfKeyMessage[]) {
  const upA = ka.find((m) => m.type === SadbMsgType.UPDATE)!;
  const addA = ka.find((m) => m.type === SadbMsgType.ADD)!;
  const upB = kb.find((m) => m.type === SadbMsgType.UPDATE)!;
  const addB = kb.find((m) => m.type === SadbMsgType.ADD)!;
  // inbound SPI of one side = outbound SPI of the other, with identical keys
  expect(upA.ext.sa!.spi).toBe(addB.ext.sa!.spi);
  expect(upB.ext.sa!.spi).toBe(addA.ext.sa!.spi);
  expect(upA.ext.keyEncrypt!.key).toEqual(addB.ext.keyEncrypt!.key);
  expect(upA.ext.keyAuth!.key).toEqual(addB.ext.keyAuth!.key);
  expect(upB.ext.keyEncrypt!.key).toEqual(addA.ext.keyEncrypt!.key);
  expect(upB.ext.keyAuth!.key).toEqual(addA.ext.keyAuth!.key);
  // the two directions use different keys (KEYMAT includes the SPI)
  expect(upA.ext.keyEncrypt!.key.equals(addA.ext.keyEncrypt!.key)).toBe(false);
  return { upA, addA, upB, addB };
}

describe('IKEv1 Main Mode PSK + Quick Mode between two engines', () => {
  it('establishes ISAKMP-SA and IPsec-SA; both sides GETSPI, then UPDATE inbound before ADD outbound with matching SPIs and keys', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A));
    p.a.initiate('b', 0);
    p.run();
    expect(types(p.kernel.a)).toEqual(['GETSPI', 'UPDATE', 'ADD']);
    // the responder got INITIAL-CONTACT in message 5: racoon's pfkey_send_delete_all, one SADB_DELETE per direction
    expect(types(p.kernel.b)).toEqual(['DELETE', 'DELETE', 'GETSPI', 'UPDATE', 'ADD']);
    expect(p.kernel.b[0].ext.sa).toBeUndefined();
    expect([p.kernel.b[0].ext.addressSrc!.addr.address, p.kernel.b[1].ext.addressSrc!.addr.address]).toEqual([A, B]);
    const { upA, addA } = expectMatchingSas(p.kernel.a, p.kernel.b);
    // racoon: AES-128 key 16 octets, HMAC-SHA1 key 20 octets, SA2 tunnel + reqid, soft = 80 % of 3600 s
    expect(upA.ext.keyEncrypt!.bits).toBe(128);
    expect(upA.ext.keyAuth!.bits).toBe(160);
    expect(upA.ext.sa2).toEqual({ mode: 2, sequence: 0, reqid: 1 });
    expect(upA.ext.lifetimeHard!.addtime).toBe(3600n);
    expect(upA.ext.lifetimeSoft!.addtime).toBe(2880n);
    expect(upA.ext.sa!.replay).toBe(4);
    expect(upA.ext.addressSrc!.addr.address).toBe(B);
    expect(addA.ext.addressDst!.addr.address).toBe(B);
    expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
    expect(p.b.ph1Sas()[0].state).toBe('ESTABLISHED');
    // six Main Mode messages, 5 and 6 encrypted; three Quick Mode messages
    const mm = p.wire.filter((w) => w.data[18] === ExchangeType.IDENTITY_PROTECTION);
    expect(mm.map((w) => w.data[19] & HeaderFlag.ENCRYPTION)).toEqual([0, 0, 0, 0, 1, 1]);
    expect(p.wire.filter((w) => w.data[18] === ExchangeType.QUICK)).toHaveLength(3);
    expect(p.logs.b.some((l) => l.msg.startsWith('IPsec-SA established'))).toBe(true);
  });

  it.each([14, 19])('with PFS (group %i in Quick Mode) and 3DES/HMAC-MD5 the keys match on both sides', (pfsGroup) => {
    const sa = { pfsGroup, encr: [{ id: 3 }], auth: [1] };
    const p = makePair(peerConfig('b', A, B, {}, sa), peerConfig('a', B, A, {}, sa));
    p.a.initiate('b', 0);
    p.run();
    const { upA } = expectMatchingSas(p.kernel.a, p.kernel.b);
    expect(upA.ext.keyEncrypt!.bits).toBe(192);
    expect(upA.ext.keyAuth!.bits).toBe(128);
  });

  it('AES-256 phase 1 with SHA2-256 and ecp256 (App. B key expansion path) completes', () => {
    const ph1 = [{ encr: 7, keyBits: 256, hash: 4, authMethod: 1, dhGroup: 19, lifetimeSeconds: 28800 }];
    const p = makePair(peerConfig('b', A, B, { ph1Proposals: ph1 }), peerConfig('a', B, A, { ph1Proposals: ph1 }));
    p.a.initiate('b', 0);
    p.run();
    expectMatchingSas(p.kernel.a, p.kernel.b);
  });

  it('a wrong pre-shared key: message 5 does not decrypt to valid payloads, phase 1 fails, no SA is keyed', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A, { psk: Buffer.from('other') }));
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.b.some((l) => l.msg.includes('pre-shared key'))).toBe(true);
    expect(types(p.kernel.a)).toEqual([]);
    expect(types(p.kernel.b)).toEqual([]);
  });

  it('no common proposal: "no suitable proposal found" and phase 1 fails', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A, { ph1Proposals: [{ encr: 5, hash: 1, authMethod: 1, dhGroup: 2, lifetimeSeconds: 28800 }] }));
    p.a.initiate('b', 0);
    p.run();
    expect(p.logs.b.some((l) => l.msg.startsWith('no suitable proposal found'))).toBe(true);
    expect(p.b.ph1Sas()).toHaveLength(0);
  });

  it('racoon retransmission: a lost message 6 is recovered by resending message 5 after 10 s; the responder answers the duplicate from its cache', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A));
    let dropped = 0;
    p.drop = (from, data) => from === 'b' && data[18] === ExchangeType.IDENTITY_PROTECTION && (data[19] & 1) === 1 && dropped++ === 0;
    p.a.initiate('b', 0);
    p.run();
    expect(p.a.ph1Sas()[0].state).toBe('MM_I3_SENT');
    expect(p.a.getTimer()).toBe(10000);
    p.tick();
    expect(p.a.ph1Sas()[0].state).toBe('ESTABLISHED');
    expectMatchingSas(p.kernel.a, p.kernel.b);
  });

  it('racoon retry counter 5: an unanswered initiator sends message 1 six times and gives up with "phase1 negotiation failed due to time up"', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A));
    p.drop = () => true;
    p.a.initiate('b', 0);
    p.run();
    for (let i = 0; i < 6; i++) p.tick();
    expect(p.wire.filter((w) => w.from === 'a')).toHaveLength(6);
    expect(p.logs.a.some((l) => l.msg === 'phase1 negotiation failed due to time up')).toBe(true);
    expect(p.a.ph1Sas()).toHaveLength(0);
  });

  it('RFC 3947: behind a NAT both sides detect it, the initiator floats to 4500 with the non-ESP marker, Quick Mode uses UDP-Tunnel and the SAs carry NAT-T ports', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A, { remote: { address: '198.51.100.7', port: 500, id: { type: 1, value: A } } }));
    p.nat = (ep) => ({ address: '198.51.100.7', port: ep.port === 500 ? 1500 : 1501 });
    p.a.initiate('b', 0);
    p.run();
    const mm5 = p.wire.filter((w) => w.from === 'a')[2];
    expect(mm5.dst.port).toBe(4500);
    expect(mm5.src.port).toBe(4500);
    expect(mm5.data.subarray(0, 4)).toEqual(Buffer.alloc(4));
    const { upB, addB } = expectMatchingSas(p.kernel.a, p.kernel.b);
    expect(upB.ext.natTType).toEqual({ type: NatTType.ESPINUDP });
    expect(upB.ext.natTSport).toEqual({ port: 1501 });
    expect(addB.ext.natTDport).toEqual({ port: 1501 });
    expect(p.b.ph1Sas()[0].natDetected).toBe(true);
    expect(p.a.ph1Sas()[0].natDetected).toBe(true);
  });

  it('informational Delete: deleting the phase 2 on one side removes both SAs on the other (RFC 2408 §3.15)', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A));
    p.a.initiate('b', 0);
    p.run();
    const info = p.a.ph1Sas()[0];
    const inbound = info.ph2[0].inboundSpi;
    expect(p.a.deletePh2(info.serial, inbound, p.now)).toBe(true);
    p.run();
    const delB = p.kernel.b.filter((m) => m.type === SadbMsgType.DELETE && m.ext.sa).map((m) => m.ext.sa!.spi);
    expect(delB).toContain(inbound);
    expect(p.b.ph1Sas()[0].ph2).toHaveLength(0);
    expect(p.a.ph1Sas()[0].ph2).toHaveLength(0);
  });

  it('DPD (RFC 3706): an idle peer is probed with R-U-THERE and the ACK keeps the SA; a dead peer is declared after dpd_maxfail', () => {
    const p = makePair(peerConfig('b', A, B, { dpdDelaySeconds: 30 }), peerConfig('a', B, A, { dpdDelaySeconds: 30 }));
    p.a.initiate('b', 0);
    p.run();
    p.tick();
    expect(p.now).toBe(30000);
    expect(p.a.ph1Sas()).toHaveLength(1);
    p.drop = () => true;
    for (let i = 0; i < 12 && p.a.ph1Sas().length > 0; i++) p.tick();
    expect(p.logs.a.some((l) => l.msg === 'DPD: remote seems to be dead')).toBe(true);
    expect(p.a.ph1Sas()).toHaveLength(0);
  });
});

describe('IKEv1 over IPv6', () => {
  it('Main Mode + Quick Mode between fd00::1 and fd00::2 with IPV6_ADDR_SUBNET selectors (RFC 2407 §4.6.2.1)', () => {
    const mk = (name: string, local: string, remote: string, ln: string, rn: string) =>
      peerConfig(name, local, remote, { local: { address: local, port: 500, id: { type: 5, value: local } }, remote: { address: remote, port: 500, id: { type: 5, value: remote } } }, {
        local: { address: ln, prefixlen: 64, protocol: 0, port: 0 },
        remote: { address: rn, prefixlen: 64, protocol: 0, port: 0 },
      });
    const p = makePair(mk('b', 'fd00::1', 'fd00::2', 'fd01::', 'fd02::'), mk('a', 'fd00::2', 'fd00::1', 'fd02::', 'fd01::'));
    p.a.initiate('b', 0);
    p.run();
    const { upA } = expectMatchingSas(p.kernel.a, p.kernel.b);
    expect(upA.ext.addressSrc!.addr.family).toBe(10);
    expect(upA.ext.addressSrc!.prefixlen).toBe(128);
  });
});

describe('IKEv1 SA2 reqids of level unique policies (racoon set_proposal_from_policy)', () => {
  it('GETSPI and UPDATE carry reqid_in (the inbound policy\'s), ADD reqid_out (the outbound policy\'s), on both ends', () => {
    const p = makePair(peerConfig('b', A, B, {}, { reqid: 16385, inboundReqid: 16386 }), peerConfig('a', B, A, {}, { reqid: 21, inboundReqid: 22 }));
    p.a.initiate('b', 0);
    p.run();
    const reqids = (k: PfKeyMessage[], t: SadbMsgType) => k.filter((m) => m.type === t).map((m) => m.ext.sa2!.reqid);
    expect(reqids(p.kernel.a, SadbMsgType.GETSPI)).toEqual([16386]);
    expect(reqids(p.kernel.a, SadbMsgType.UPDATE)).toEqual([16386]);
    expect(reqids(p.kernel.a, SadbMsgType.ADD)).toEqual([16385]);
    expect(reqids(p.kernel.b, SadbMsgType.GETSPI)).toEqual([22]);
    expect(reqids(p.kernel.b, SadbMsgType.UPDATE)).toEqual([22]);
    expect(reqids(p.kernel.b, SadbMsgType.ADD)).toEqual([21]);
    expect(p.a.ph1Sas()[0].ph2[0]).toMatchObject({ state: 'ESTABLISHED', reqid: 16385 });
  });
});
