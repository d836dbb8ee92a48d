import { SadbMsgType, NatTType, IpsecMode, SadbEalg, SadbAalg, IpsecPolicyType, IpsecDir, IpsecLevel } from '../../../src/pfkey/constants';
import { rangeToPrefixes } from '../../../src/ike/v2/child-sa';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { ExchangeType, NotifyType, PayloadType } from '../../../src/ike/v2/constants';
import { parseHeader, parseMessage } from '../../../src/ike/v2/payloads';
import { VirtualNet, Node } from '../helpers/harness';
import { pskPair } from '../helpers/configs';

function setup(opts: Parameters<typeof pskPair>[0] = {}) {
  const net = new VirtualNet();
  const { a, b } = pskPair(opts);
  const A = net.add('A', '10.99.0.1', [a], {}, 0xa0000000);
  const B = net.add('B', '10.99.0.2', [b], {}, 0xb0000000);
  return { net, A, B };
}

const installs = (n: Node, t: SadbMsgType) => n.kernel.log.filter((m) => m.type === t);

function header(w: { data: Buffer }) {
  const h = parseHeader(w.data.readUInt32BE(0) === 0 ? w.data.subarray(4) : w.data);
  if (!h.ok) throw new Error('bad header');
  return h.value;
}

function expectMatchingSas(A: Node, B: Node) {
  const [updA, addA] = [installs(A, SadbMsgType.UPDATE).at(-1)!, installs(A, SadbMsgType.ADD).at(-1)!];
  const [updB, addB] = [installs(B, SadbMsgType.UPDATE).at(-1)!, installs(B, SadbMsgType.ADD).at(-1)!];
  // inbound SPI of one = outbound SPI of the other, identical keys
  expect(updA.ext.sa!.spi).toBe(addB.ext.sa!.spi);
  expect(updB.ext.sa!.spi).toBe(addA.ext.sa!.spi);
  expect(updA.ext.keyEncrypt!.key).toEqual(addB.ext.keyEncrypt!.key);
  expect(updB.ext.keyEncrypt!.key).toEqual(addA.ext.keyEncrypt!.key);
  expect(updA.ext.keyEncrypt!.key).not.toEqual(updB.ext.keyEncrypt!.key);
  expect(updA.ext.addressSrc!.addr.address).toBe('10.99.0.2');
  expect(updA.ext.addressDst!.addr.address).toBe('10.99.0.1');
  expect(addA.ext.addressDst!.addr.address).toBe('10.99.0.2');
  return { updA, addA, updB, addB };
}

describe('IKEv2 engine: two engines, virtual clock (RFC 7296 §1.2)', () => {
  it('IKE_SA_INIT + IKE_AUTH + first CHILD_SA (AES-GCM-16, x25519, PSK): both install matching UPDATE/ADD', () => {
    const { net, A, B } = setup();
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()).toEqual([expect.objectContaining({ state: 'established', role: 'initiator' })]);
    expect(B.engine.ikeSas()).toEqual([expect.objectContaining({ state: 'established', role: 'responder' })]);
    const { updA, addA } = expectMatchingSas(A, B);
    expect(updA.ext.sa!.encrypt).toBe(SadbEalg.AES_GCM_ICV16);
    expect(updA.ext.sa!.auth).toBe(SadbAalg.NONE);
    expect(updA.ext.keyEncrypt!.bits).toBe(160); // 128-bit key + 32-bit salt (RFC 4106)
    expect(updA.ext.sa2).toMatchObject({ mode: IpsecMode.TUNNEL, reqid: 1 });
    expect(updA.ext.lifetimeHard!.addtime).toBe(3600n);
    expect(addA.ext.natTType).toBeUndefined(); // no NAT between them
    // GETSPI preceded UPDATE for the same SPI (RFC 2367 §3.1.1)
    const getspi = installs(A, SadbMsgType.GETSPI);
    expect(getspi).toHaveLength(1);
    expect(A.kernel.mature()).toHaveLength(2);
    expect(B.kernel.mature()).toHaveLength(2);
    // four messages: IKE_SA_INIT and IKE_AUTH request/response
    expect(net.sent.map((w) => header(w).exchangeType)).toEqual([34, 34, 35, 35]);
    const A_sa = A.engine.ikeSas()[0];
    const B_sa = B.engine.ikeSas()[0];
    expect(A_sa.spiI).toBe(B_sa.spiI);
    expect(A_sa.spiR).toBe(B_sa.spiR);
    expect(A_sa.children[0].inboundSpi).toBe(B_sa.children[0].outboundSpi);
  });

  it.each([
    ['AES-CBC-256 + HMAC-SHA2-256-128, ecp256', { encr: { id: 12, keyBits: 256 }, integ: [12], dh: [19], esp: { id: 12, keyBits: 128 }, espInteg: [12] }],
    ['ChaCha20-Poly1305, modp2048', { encr: { id: 28 }, dh: [14] }],
  ] as [string, Parameters<typeof pskPair>[0]][])('negotiates %s', (_n, opts) => {
    const { net, A, B } = setup(opts);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(B.engine.ikeSas()[0]?.state).toBe('established');
    const { updA } = expectMatchingSas(A, B);
    if (opts?.espInteg) {
      expect(updA.ext.sa!.auth).toBe(SadbAalg.SHA2_256HMAC);
      expect(updA.ext.keyAuth!.bits).toBe(256);
    }
  });

  it('lost packets are retransmitted with back-off and a retransmitted request gets the cached response (§2.1)', () => {
    const { net, A, B } = setup();
    // drop the first IKE_SA_INIT request, and the first IKE_AUTH response
    net.drop = (w, i) => i === 0 || (header(w).exchangeType === 35 && (header(w).flags & 0x20) !== 0 && net.sent.filter((x) => header(x).exchangeType === 35 && (header(x).flags & 0x20) !== 0).length === 1);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.getTimer()).toBe(4000);
    net.advance(4000);
    // IKE_SA_INIT done, IKE_AUTH request sent, response lost
    expect(B.engine.ikeSas()[0].state).toBe('established');
    expect(A.engine.ikeSas()[0].state).toBe('connecting');
    expect(A.engine.getTimer()).toBe(8000);
    net.advance(8000);
    expect(A.engine.ikeSas()[0].state).toBe('established');
    expect(B.logs.some((l) => /retransmit of request with ID 1/.test(l.msg))).toBe(true);
    // the responder installed its SAs once only
    expect(installs(B, SadbMsgType.UPDATE)).toHaveLength(1);
    expectMatchingSas(A, B);
  });

  it('gives up after 5 retransmissions (4 s × 1.8^n, strongSwan defaults) and logs phase1 failure', () => {
    const { net, A } = setup();
    net.drop = () => true;
    A.engine.initiate('v2psk', 0);
    net.advance(1_000_000);
    const times = net.sent.map(() => 0).length;
    expect(times).toBe(6);
    expect(A.engine.ikeSas()).toEqual([]);
    expect(A.logs.some((l) => l.msg.includes('giving up after 5 retransmissions'))).toBe(true);
  });

  it('INFORMATIONAL Delete of the IKE_SA tears down both sides and all SAs (§1.4.1)', () => {
    const { net, A, B } = setup();
    A.engine.initiate('v2psk', 0);
    net.pump();
    A.engine.deleteIkeSa(A.engine.ikeSas()[0].serial, 1000);
    net.pump();
    expect(A.engine.ikeSas()).toEqual([]);
    expect(B.engine.ikeSas()).toEqual([]);
    expect(A.kernel.sas.size).toBe(0);
    expect(B.kernel.sas.size).toBe(0);
    expect(header(net.sent.at(-2)!).exchangeType).toBe(ExchangeType.INFORMATIONAL);
  });

  it('a CHILD_SA Delete removes exactly that pair on both sides, the IKE_SA stays (§1.4.1)', () => {
    const { net, A, B } = setup();
    A.engine.initiate('v2psk', 0);
    net.pump();
    const spi = A.engine.ikeSas()[0].children[0].inboundSpi;
    B.engine.deleteChildSa(B.engine.ikeSas()[0].children[0].inboundSpi, 10);
    net.pump();
    expect(A.engine.ikeSas()[0].children).toEqual([]);
    expect(B.engine.ikeSas()[0].children).toEqual([]);
    expect(A.kernel.sas.size + B.kernel.sas.size).toBe(0);
    expect(A.logs.some((l) => l.childSpi === spi.toString(16).padStart(8, '0'))).toBe(true);
    expect(A.engine.ikeSas()[0].state).toBe('established');
  });

  it('wrong PSK: AUTHENTICATION_FAILED, no SA installed anywhere (§2.21.2)', () => {
    const { net, A, B } = setup({ pskB: 'other' });
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()).toEqual([]);
    expect(B.engine.ikeSas()).toEqual([]);
    expect(A.kernel.mature().length + B.kernel.mature().length).toBe(0);
    expect(A.kernel.sas.size + B.kernel.sas.size).toBe(0); // larval GETSPI SAs were released
    expect(A.logs.some((l) => l.msg.includes('AUTHENTICATION_FAILED'))).toBe(true);
  });

  it('INVALID_KE_PAYLOAD: the initiator retries with the group the responder asks for (§1.2)', () => {
    const { net, A, B } = setup({ dh: [31, 19], dhB: [19] });
    A.engine.initiate('v2psk', 0);
    net.pump();
    const inits = net.sent.filter((w) => header(w).exchangeType === 34);
    expect(inits).toHaveLength(4);
    const firstAnswer = parseMessage(inits[1].data);
    if (!firstAnswer.ok) throw new Error('parse');
    expect(firstAnswer.value.payloads).toEqual([expect.objectContaining({ type: PayloadType.NOTIFY, notifyType: NotifyType.INVALID_KE_PAYLOAD, data: Buffer.from([0, 19]) })]);
    expect(B.engine.ikeSas()[0].state).toBe('established');
    expect(header(inits[2]).messageId).toBe(0);
  });

  it('NAT-T: with forceEncap both float to 4500, use the non-ESP marker and install ESPINUDP SAs (RFC 3948, §2.23)', () => {
    const { net, A, B } = setup({ forceEncap: true });
    A.engine.initiate('v2psk', 0);
    net.pump();
    const auth = net.sent.filter((w) => header(w).exchangeType === 35);
    expect(auth.every((w) => w.from.port === 4500 && w.to.port === 4500 && w.data.readUInt32BE(0) === 0)).toBe(true);
    const { updA, addB } = expectMatchingSas(A, B);
    expect(updA.ext.natTType).toEqual({ type: NatTType.ESPINUDP });
    expect(updA.ext.natTSport).toEqual({ port: 4500 });
    expect(addB.ext.natTDport).toEqual({ port: 4500 });
    expect(B.engine.ikeSas()[0].udpEncap).toBe(true);
    // RFC 3948 §2.3: the side that believes it is behind a NAT sends 0xFF keepalives to 4500
    const before = net.sent.length;
    net.advance(21_000);
    const ka = net.sent.slice(before).filter((w) => w.data.length === 1);
    expect(ka).toEqual([{ from: { address: '10.99.0.1', port: 4500 }, to: { address: '10.99.0.2', port: 4500 }, data: Buffer.from([0xff]) }, expect.objectContaining({ from: { address: '10.99.0.2', port: 4500 } })]);
    expect(B.engine.ikeSas()[0].state).toBe('established');
  });

  it('transport mode via USE_TRANSPORT_MODE (§1.3.1)', () => {
    const { net, A, B } = setup({ mode: 'transport' });
    A.engine.initiate('v2psk', 0);
    net.pump();
    const { updB } = expectMatchingSas(A, B);
    expect(updB.ext.sa2!.mode).toBe(IpsecMode.TRANSPORT);
  });

  it('traffic selector narrowing: the responder answers with the intersection (§2.9)', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    a.children[0].localTs = [{ protocol: 0, startPort: 0, endPort: 65535, startAddress: '10.1.0.0', endAddress: '10.1.255.255' }];
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(B.engine.ikeSas()[0].children).toHaveLength(1);
    expect(A.engine.ikeSas()[0].children).toHaveLength(1);
    expect(A.logs.find((l) => l.msg.startsWith('CHILD_SA c1 established'))?.localTs).toBe('10.1.0.0-10.1.0.255');
  });

  it('TS_UNACCEPTABLE keeps the IKE_SA but creates no CHILD_SA (§2.21.3)', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    a.children[0].remoteTs = [{ protocol: 0, startPort: 0, endPort: 65535, startAddress: '192.0.2.0', endAddress: '192.0.2.255' }];
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()[0]).toMatchObject({ state: 'established', children: [] });
    expect(B.engine.ikeSas()[0]).toMatchObject({ state: 'established', children: [] });
    expect(A.logs.some((l) => l.msg.includes('TS_UNACCEPTABLE'))).toBe(true);
    expect(A.kernel.sas.size + B.kernel.sas.size).toBe(0);
  });

  it('liveness check: a dead peer is detected and the IKE_SA removed with its SAs (§2.4)', () => {
    const { net, A, B } = setup({ dpd: 30 });
    A.engine.initiate('v2psk', 0);
    net.pump();
    net.advance(29_000);
    expect(A.engine.ikeSas()).toHaveLength(1);
    net.nodes = net.nodes.filter((n) => n !== B); // B vanishes
    net.advance(400_000);
    expect(A.engine.ikeSas()).toEqual([]);
    expect(A.kernel.sas.size).toBe(0);
  });

  it('liveness checks between live peers keep both IKE_SAs', () => {
    const { net, A, B } = setup({ dpd: 30 });
    A.engine.initiate('v2psk', 0);
    net.pump();
    net.advance(200_000);
    expect(A.engine.ikeSas()[0].state).toBe('established');
    expect(B.engine.ikeSas()[0].state).toBe('established');
    expect(net.sent.filter((w) => header(w).exchangeType === ExchangeType.INFORMATIONAL).length).toBeGreaterThanOrEqual(6);
  });

  it('ACQUIRE starts a negotiation for the policy (PF_KEY SADB_ACQUIRE)', () => {
    const { net, A, B } = setup();
    const acquire: PfKeyMessage = {
      type: SadbMsgType.ACQUIRE,
      satype: 3,
      errno: 0,
      seq: 7,
      pid: 0,
      ext: {
        addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '10.99.0.1', port: 0 } },
        addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: '10.99.0.2', port: 0 } },
      },
    };
    A.engine.receivePfKey(acquire, 0);
    net.pump();
    expect(B.engine.ikeSas()[0]?.children).toHaveLength(1);
  });

  it('soft EXPIRE rekeys the CHILD_SA with CREATE_CHILD_SA and deletes the old pair (§1.3.3)', () => {
    const { net, A, B } = setup({ pfs: [31] });
    A.engine.initiate('v2psk', 0);
    net.pump();
    const old = A.engine.ikeSas()[0].children[0];
    A.engine.receivePfKey(
      { type: SadbMsgType.EXPIRE, satype: 3, errno: 0, seq: 0, pid: 0, ext: { sa: { spi: old.inboundSpi, replay: 0, state: 1, auth: 0, encrypt: 0, flags: 0 }, lifetimeSoft: { allocations: 0, bytes: 0n, addtime: 2700n, usetime: 0n } } },
      2700_000,
    );
    net.pump();
    const ca = A.engine.ikeSas()[0].children;
    const cb = B.engine.ikeSas()[0].children;
    expect(ca).toHaveLength(1);
    expect(cb).toHaveLength(1);
    expect(ca[0].inboundSpi).not.toBe(old.inboundSpi);
    expect(ca[0].inboundSpi).toBe(cb[0].outboundSpi);
    expect(A.kernel.mature()).toHaveLength(2);
    expect(B.kernel.mature()).toHaveLength(2);
    expectMatchingSas(A, B);
    // PFS: the CREATE_CHILD_SA carried a KE payload
    expect(net.sent.filter((w) => header(w).exchangeType === ExchangeType.CREATE_CHILD_SA)).toHaveLength(2);
  });
});

describe('IKEv2 SA2 reqids of level unique policies (racoon reqid_in / reqid_out)', () => {
  it('GETSPI and UPDATE carry the inbound policy\'s reqid, ADD the outbound policy\'s; the ACQUIRE\'s reqid picks the child; a rekey keeps both', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    a.children[0] = { ...a.children[0], reqid: 16385, inboundReqid: 16386 };
    b.children[0] = { ...b.children[0], reqid: 21, inboundReqid: 22 };
    // a second child towards the same peer: the ACQUIRE's reqid (not the first child) decides
    a.children.unshift({ ...a.children[0], name: 'other', localTs: [a.children[0].remoteTs[0]], remoteTs: [a.children[0].localTs[0]], reqid: 16387, inboundReqid: 16388 });
    const A = net.add('A', '10.99.0.1', [a], {}, 0xa0000000);
    const B = net.add('B', '10.99.0.2', [b], {}, 0xb0000000);
    const acquire: PfKeyMessage = {
      type: SadbMsgType.ACQUIRE,
      satype: 3,
      errno: 0,
      seq: 7,
      pid: 0,
      ext: {
        addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '10.99.0.1', port: 0 } },
        addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: '10.99.0.2', port: 0 } },
        policy: { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id: 9, priority: 0, requests: [{ proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 16385 }] },
      },
    };
    A.engine.receivePfKey(acquire, 0);
    net.pump();
    expect(A.engine.ikeSas()[0].children.map((c) => c.name)).toEqual(['c1']);
    expect(installs(A, SadbMsgType.GETSPI).map((m) => m.ext.sa2!.reqid)).toEqual([16386]);
    expect(installs(A, SadbMsgType.UPDATE).map((m) => m.ext.sa2!.reqid)).toEqual([16386]);
    expect(installs(A, SadbMsgType.ADD).map((m) => m.ext.sa2!.reqid)).toEqual([16385]);
    expect(installs(B, SadbMsgType.GETSPI).map((m) => m.ext.sa2!.reqid)).toEqual([22]);
    expect(installs(B, SadbMsgType.UPDATE).map((m) => m.ext.sa2!.reqid)).toEqual([22]);
    expect(installs(B, SadbMsgType.ADD).map((m) => m.ext.sa2!.reqid)).toEqual([21]);
    const old = A.engine.ikeSas()[0].children[0];
    A.engine.receivePfKey(
      { type: SadbMsgType.EXPIRE, satype: 3, errno: 0, seq: 0, pid: 0, ext: { sa: { spi: old.inboundSpi, replay: 0, state: 1, auth: 0, encrypt: 0, flags: 0 }, lifetimeSoft: { allocations: 0, bytes: 0n, addtime: 2700n, usetime: 0n } } },
      2700_000,
    );
    net.pump();
    expect(installs(A, SadbMsgType.UPDATE).map((m) => m.ext.sa2!.reqid)).toEqual([16386, 16386]);
    expect(installs(A, SadbMsgType.ADD).map((m) => m.ext.sa2!.reqid)).toEqual([16385, 16385]);
    expect(installs(B, SadbMsgType.UPDATE).map((m) => m.ext.sa2!.reqid)).toEqual([22, 22]);
    expect(installs(B, SadbMsgType.ADD).map((m) => m.ext.sa2!.reqid)).toEqual([21, 21]);
  });
});

describe('IKEv2 CHILD_SA rekey collisions (RFC 7296 §2.8.1)', () => {
  const softExpire = (spi: number) => ({
    type: SadbMsgType.EXPIRE,
    satype: 3,
    errno: 0,
    seq: 0,
    pid: 0,
    ext: { sa: { spi, replay: 0, state: 1, auth: 0, encrypt: 0, flags: 0 }, lifetimeSoft: { allocations: 0, bytes: 0n, addtime: 2700n, usetime: 0n } },
  });

  it.each(['A', 'B'])('both ends rekey at once; one CHILD_SA pair survives on both sides (seed for %s first)', (first) => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    const A = net.add(first === 'A' ? 'A' : 'A2', '10.99.0.1', [a], {}, 0xa0000000);
    const B = net.add(first === 'A' ? 'B' : 'B2', '10.99.0.2', [b], {}, 0xb0000000);
    A.engine.initiate('v2psk', 0);
    net.pump();
    const old = A.engine.ikeSas()[0].children[0];
    A.engine.receivePfKey(softExpire(old.inboundSpi), 1000);
    B.engine.receivePfKey(softExpire(old.outboundSpi), 1000);
    net.pump();
    const ca = A.engine.ikeSas()[0].children;
    const cb = B.engine.ikeSas()[0].children;
    expect(ca).toHaveLength(1);
    expect(cb).toHaveLength(1);
    expect(ca[0].inboundSpi).toBe(cb[0].outboundSpi);
    expect(ca[0].outboundSpi).toBe(cb[0].inboundSpi);
    expect(ca[0].inboundSpi).not.toBe(old.inboundSpi);
    expect(A.kernel.mature()).toHaveLength(2);
    expect(B.kernel.mature()).toHaveLength(2);
    expect(A.logs.some((l) => l.msg.includes('rekey collision detected'))).toBe(true);
    const lost = [...A.logs, ...B.logs].filter((l) => l.msg.includes('collision lost'));
    const won = [...A.logs, ...B.logs].filter((l) => l.msg.includes('collision won'));
    expect([lost.length, won.length]).toEqual([1, 1]);
  });
});

describe('IKEv2 IKE_SA rekey (RFC 7296 §1.3.2, §2.18)', () => {
  it.each(['A', 'B'])('%s rekeys the IKE_SA: new SPIs, CHILD_SAs move over untouched, the old IKE_SA is deleted', (who) => {
    const { net, A, B } = setup();
    A.engine.initiate('v2psk', 0);
    net.pump();
    const before = A.engine.ikeSas()[0];
    const kernelBefore = A.kernel.mature().map((s) => s.spi).sort();
    const R = who === 'A' ? A : B;
    R.engine.rekeyIkeSa(R.engine.ikeSas()[0].serial, 1000);
    net.pump();
    const [a] = A.engine.ikeSas();
    const [b] = B.engine.ikeSas();
    expect(A.engine.ikeSas()).toHaveLength(1);
    expect(B.engine.ikeSas()).toHaveLength(1);
    expect(a.spiI).toBe(b.spiI);
    expect(a.spiR).toBe(b.spiR);
    expect(a.spiI).not.toBe(before.spiI);
    expect(a.role).toBe(who === 'A' ? 'initiator' : 'responder');
    expect(a.children.map((c) => c.inboundSpi)).toEqual(before.children.map((c) => c.inboundSpi));
    expect(A.kernel.mature().map((s) => s.spi).sort()).toEqual(kernelBefore);
    // the new IKE_SA works: a CHILD_SA rekey over it, then a delete tears everything down
    B.engine.rekeyChildSa(b.children[0].inboundSpi, 2000);
    net.pump();
    expect(A.engine.ikeSas()[0].children).toHaveLength(1);
    expect(A.engine.ikeSas()[0].children[0].inboundSpi).not.toBe(before.children[0].inboundSpi);
    A.engine.deleteIkeSa(A.engine.ikeSas()[0].serial, 3000);
    net.pump();
    expect(A.engine.ikeSas().length + B.engine.ikeSas().length).toBe(0);
    expect(A.kernel.sas.size + B.kernel.sas.size).toBe(0);
  });

  it('the IKE lifetime triggers the rekey by itself', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    a.ikeLifetime = { softSeconds: 3000, hardSeconds: 3600 };
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    const spi = A.engine.ikeSas()[0].spiI;
    net.advance(3_001_000);
    expect(A.engine.ikeSas()).toHaveLength(1);
    expect(A.engine.ikeSas()[0].spiI).not.toBe(spi);
    expect(B.engine.ikeSas()[0].state).toBe('established');
  });
});

describe('racoon generate_policy for IKEv2 responders', () => {
  it('range → prefixes is minimal and exact', () => {

    const ip = (s: string) => Buffer.from(s.split('.').map(Number));
    const show = (r: { addr: Buffer; prefixlen: number }[]) => r.map((p) => `${[...p.addr].join('.')}/${p.prefixlen}`);
    expect(show(rangeToPrefixes(ip('10.2.0.0'), ip('10.2.0.255')))).toEqual(['10.2.0.0/24']);
    expect(show(rangeToPrefixes(ip('10.0.0.1'), ip('10.0.0.6')))).toEqual(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']);
    expect(show(rangeToPrefixes(ip('0.0.0.0'), ip('255.255.255.255')))).toEqual(['0.0.0.0/0']);
  });

  it('installs out/in/fwd policies for the narrowed selectors and removes them with the CHILD_SA; a rekey keeps them', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    b.generatePolicy = true;
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    const pol = [...B.kernel.policies.values()];
    expect(pol.map((m) => m.ext.policy!.dir).sort()).toEqual([1, 2, 3]);
    const out = pol.find((m) => m.ext.policy!.dir === 2)!;
    expect(out.ext.addressSrc).toMatchObject({ prefixlen: 24, addr: { address: '10.2.0.0' } });
    expect(out.ext.addressDst).toMatchObject({ prefixlen: 24, addr: { address: '10.1.0.0' } });
    expect(out.ext.policy!.requests[0]).toMatchObject({ mode: IpsecMode.TUNNEL, reqid: 1, src: { address: '10.99.0.2' }, dst: { address: '10.99.0.1' } });
    expect(A.kernel.policies.size).toBe(0);
    A.engine.rekeyChildSa(A.engine.ikeSas()[0].children[0].inboundSpi, 10);
    net.pump();
    expect(B.kernel.policies.size).toBe(3);
    A.engine.deleteChildSa(A.engine.ikeSas()[0].children[0].inboundSpi, 20);
    net.pump();
    expect(B.kernel.policies.size).toBe(0);
    expect(B.logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('INITIAL_CONTACT (RFC 7296 §2.4)', () => {
  it('a restarted initiator makes the responder drop the stale IKE_SA and its CHILD_SAs', () => {
    const { net, A, B } = setup();
    A.engine.initiate('v2psk', 0);
    net.pump();
    const stale = B.engine.ikeSas()[0];
    // A "restarts": a fresh engine with the same config and address
    const { a } = pskPair();
    net.nodes = net.nodes.filter((n) => n !== A);
    const A2 = net.add('A-restarted', '10.99.0.1', [a], {}, 0xa1000000);
    A2.engine.initiate('v2psk', 1000);
    net.pump();
    expect(B.engine.ikeSas()).toHaveLength(1);
    expect(B.engine.ikeSas()[0].spiI).not.toBe(stale.spiI);
    expect(B.kernel.mature()).toHaveLength(2);
    expect(B.logs.some((l) => l.msg.includes('INITIAL_CONTACT'))).toBe(true);
  });
});
