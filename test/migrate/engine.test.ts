/**
 * The IKEv2 engine's movement API used by MIGRATE handling: moveIkeSa (K-bit
 * set, RFC 6275 §6.1.7 — the IKE SA survives the move, racoon
 * migrate_ph1_ike_addresses) and abandonIkeSa (K-bit clear — the IKE SA does
 * not survive, but nothing is sent to the old address and the migrated
 * CHILD_SAs stay in the kernel). Two engines on the virtual network.
 */
import { SadbMsgType } from '../../src/pfkey/constants';
import { ExchangeType } from '../../src/ike/v2/constants';
import { parseHeader } from '../../src/ike/v2/payloads';
import type { Ikev2PeerConfig } from '../../src/ike/v2/config';
import { VirtualNet } from '../ike/helpers/harness';
import { pskPair } from '../ike/helpers/configs';

function header(w: { data: Buffer }) {
  const h = parseHeader(w.data.readUInt32BE(0) === 0 ? w.data.subarray(4) : w.data);
  if (!h.ok) throw new Error('bad header');
  return h.value;
}

function established(mobike: { a?: boolean; b?: boolean } = {}) {
  const net = new VirtualNet();
  const { a, b } = pskPair({});
  const withMobike = (c: Ikev2PeerConfig, on: boolean | undefined): Ikev2PeerConfig => (on ? { ...c, mobike: true } : c);
  return up(net, withMobike(a, mobike.a), withMobike(b, mobike.b));
}

function up(net: VirtualNet, a: Ikev2PeerConfig, b: Ikev2PeerConfig) {
  const A = net.add('A', '10.99.0.1', [a], {}, 0xa0000000);
  const B = net.add('B', '10.99.0.2', [b], {}, 0xb0000000);
  A.engine.initiate('v2psk', 0);
  net.pump();
  expect(A.engine.ikeSas()[0].state).toBe('established');
  return { net, A, B };
}

/** The notify types inside an SK payload, read from an engine's debug log line `[ N(...) ... ]`. */
function notifiesLogged(logs: { msg: string }[], what: RegExp): string[] {
  return logs.filter((l) => what.test(l.msg)).map((l) => l.msg);
}

describe('IKEv2 engine movement (Mobile IPv6 K-bit, RFC 6275 §6.1.7)', () => {
  it('moveIkeSa without MOBIKE: the same IKE SA rekeys its CHILD_SA from the new address once both ends moved (each on its own MIGRATE); no IKE_SA_INIT', () => {
    const { net, A, B } = established();
    const before = A.engine.ikeSas()[0];
    const bSa = B.engine.ikeSas()[0];
    A.address = '10.99.0.11';
    const sent0 = net.sent.length;
    expect(A.engine.moveIkeSa(before.serial, { address: '10.99.0.11', port: before.local.port }, before.remote, 500)).toBe(true);
    net.pump();
    expect(net.sent.length).toBe(sent0); // no MOBIKE: nothing is sent on the move itself
    // The home agent's own MIGRATE moves its side (RFC 3776/4877: both kernels get one).
    expect(B.engine.moveIkeSa(bSa.serial, bSa.local, { address: '10.99.0.11', port: bSa.remote.port })).toBe(true);
    const sent = net.sent.length;
    expect(A.engine.rekeyChildSa(before.children[0].inboundSpi, 1000)).toBe(true);
    net.pump();
    const exchanged = net.sent.slice(sent);
    // CREATE_CHILD_SA request/response, then the INFORMATIONAL Delete of the old CHILD_SA; no IKE_SA_INIT
    expect(exchanged.map((w) => header(w).exchangeType)).toEqual([ExchangeType.CREATE_CHILD_SA, ExchangeType.CREATE_CHILD_SA, ExchangeType.INFORMATIONAL, ExchangeType.INFORMATIONAL]);
    expect(exchanged.every((w) => w.from.address === '10.99.0.11' || w.to.address === '10.99.0.11')).toBe(true);
    expect(exchanged[0].from).toEqual({ address: '10.99.0.11', port: before.local.port });
    expect(exchanged[1].to.address).toBe('10.99.0.11');
    const after = A.engine.ikeSas()[0];
    expect([after.serial, after.spiI, after.spiR]).toEqual([before.serial, before.spiI, before.spiR]);
    expect(after.local.address).toBe('10.99.0.11');
    expect(B.engine.ikeSas()[0].remote.address).toBe('10.99.0.11');
    // the new CHILD_SA is installed between the new addresses on both sides
    const addB = B.kernel.log.filter((m) => m.type === SadbMsgType.ADD).at(-1)!;
    expect(addB.ext.addressDst!.addr.address).toBe('10.99.0.11');
    const updA = A.kernel.log.filter((m) => m.type === SadbMsgType.UPDATE).at(-1)!;
    expect(updA.ext.addressDst!.addr.address).toBe('10.99.0.11');
  });

  it('the §2.23 race: a request the peer sent to the old address before its own MIGRATE does not pull the moved IKE SA back (RFC 4555 §3.5, RFC 7296 §2.23 without NAT)', () => {
    const { net, A, B } = established();
    const aSa = A.engine.ikeSas()[0];
    const bSa = B.engine.ikeSas()[0];
    // B (home agent) rekeys towards A's old address; the request is in flight when A moves.
    let stale: { data: Buffer; from: { address: string; port: number }; to: { address: string; port: number } } | null = null;
    net.drop = (w) => {
      if (!stale && w.from.address === '10.99.0.2') {
        stale = w;
        return true;
      }
      return false;
    };
    expect(B.engine.rekeyChildSa(bSa.children[0].inboundSpi, 100)).toBe(true);
    net.pump();
    net.drop = () => false;
    expect(stale).not.toBeNull();
    A.address = '10.99.0.11';
    A.engine.moveIkeSa(aSa.serial, { address: '10.99.0.11', port: 500 }, aSa.remote, 200);
    const sent = net.sent.length;
    // The stale request arrives on A's old address.
    const w = stale!;
    A.engine.receiveDatagram(w.data, w.from, w.to, 300);
    net.pump();
    const moved = A.engine.ikeSas()[0];
    expect(moved.local).toEqual({ address: '10.99.0.11', port: 500 });
    expect(moved.remote).toEqual({ address: '10.99.0.2', port: 500 });
    // A answered it from its new address (B matches the response by SPIs and message ID).
    const answer = net.sent.slice(sent).find((x) => x.to.address === '10.99.0.2');
    expect(answer?.from.address).toBe('10.99.0.11');
    expect(header(answer!).exchangeType).toBe(ExchangeType.CREATE_CHILD_SA);
    expect(A.logs.some((l) => /does not move the IKE_SA/.test(l.msg))).toBe(true);
  });

  it('MOBIKE (RFC 4555 §3.1/§3.5): MOBIKE_SUPPORTED both ways; a move sends UPDATE_SA_ADDRESSES with NAT_DETECTION_* and COOKIE2 from the new address; the responder follows; same SPIs', () => {
    const { net, A, B } = established({ a: true, b: true });
    const before = A.engine.ikeSas()[0];
    expect([before.mobike, B.engine.ikeSas()[0].mobike]).toEqual([true, true]);
    A.address = '10.99.0.11';
    const sent = net.sent.length;
    expect(A.engine.moveIkeSa(before.serial, { address: '10.99.0.11', port: 500 }, before.remote, 500)).toBe(true);
    net.pump();
    const exchanged = net.sent.slice(sent);
    expect(exchanged.map((w) => header(w).exchangeType)).toEqual([ExchangeType.INFORMATIONAL, ExchangeType.INFORMATIONAL]);
    expect(exchanged[0].from).toEqual({ address: '10.99.0.11', port: 500 });
    expect(exchanged[1].to).toEqual({ address: '10.99.0.11', port: 500 });
    const req = notifiesLogged(A.logs, /^sending INFORMATIONAL request/)[0] ?? '';
    for (const n of ['UPDATE_SA_ADDRESSES', 'NAT_DETECTION_SOURCE_IP', 'NAT_DETECTION_DESTINATION_IP', 'COOKIE2']) expect(req).toContain(n);
    const resp = notifiesLogged(B.logs, /^sending INFORMATIONAL response/).at(-1) ?? '';
    for (const n of ['NAT_DETECTION_SOURCE_IP', 'NAT_DETECTION_DESTINATION_IP', 'COOKIE2']) expect(resp).toContain(n);
    const b = B.engine.ikeSas()[0];
    expect(b.remote).toEqual({ address: '10.99.0.11', port: 500 });
    expect([b.spiI, b.spiR]).toEqual([before.spiI, before.spiR]);
    expect(A.logs.some((l) => /MOBIKE: peer confirmed/.test(l.msg))).toBe(true);
    // no NAT on the new path
    expect([A.engine.ikeSas()[0].udpEncap, b.udpEncap]).toEqual([false, false]);
    // B's next request goes to the new address
    const s2 = net.sent.length;
    B.engine.rekeyChildSa(b.children[0].inboundSpi, 900);
    net.pump();
    expect(net.sent[s2].to.address).toBe('10.99.0.11');
    expect(A.engine.ikeSas()[0].children.length).toBe(1);
  });

  it('MOBIKE: NAT detection is repeated on the new path (RFC 4555 §3.5): behind a NAT both sides see it and float to 4500', () => {
    const { net, A, B } = established({ a: true, b: true });
    const sa = A.engine.ikeSas()[0];
    A.address = '192.168.7.2';
    // A NAT in front of A's new address: 192.168.7.2[p] ⇄ 10.99.0.50[p + 1000]
    net.rewrite = (w) =>
      w.from.address === '192.168.7.2'
        ? { ...w, from: { address: '10.99.0.50', port: w.from.port + 1000 } }
        : w.to.address === '10.99.0.50'
          ? { ...w, to: { address: '192.168.7.2', port: w.to.port - 1000 } }
          : w;
    A.engine.moveIkeSa(sa.serial, { address: '192.168.7.2', port: 500 }, sa.remote, 500);
    net.pump();
    const a = A.engine.ikeSas()[0];
    const b = B.engine.ikeSas()[0];
    expect(b.remote).toEqual({ address: '10.99.0.50', port: 1500 });
    expect(b.udpEncap).toBe(true);
    expect(a.udpEncap).toBe(true);
    expect(a.local.port).toBe(4500);
    expect(a.remote.port).toBe(4500);
  });

  it('MOBIKE offered by one side only: not negotiated, and a move sends nothing', () => {
    const { net, A, B } = established({ a: true, b: false });
    const sa = A.engine.ikeSas()[0];
    expect([sa.mobike, B.engine.ikeSas()[0].mobike]).toEqual([false, false]);
    const sent = net.sent.length;
    A.engine.moveIkeSa(sa.serial, { address: '10.99.0.11', port: 500 }, sa.remote, 500);
    net.pump();
    expect(net.sent.length).toBe(sent);
  });

  it('MOBIKE: the original responder moving sends no UPDATE_SA_ADDRESSES (RFC 4555 §3.5: the initiator decides)', () => {
    const { net, B } = established({ a: true, b: true });
    const sa = B.engine.ikeSas()[0];
    const sent = net.sent.length;
    expect(B.engine.moveIkeSa(sa.serial, { address: '10.99.0.12', port: 500 }, sa.remote, 500)).toBe(true);
    net.pump();
    expect(net.sent.length).toBe(sent);
  });

  it('abandonIkeSa: the IKE SA is gone, nothing is sent and no SA is deleted from the kernel', () => {
    const { net, A } = established();
    const sa = A.engine.ikeSas()[0];
    const sent = net.sent.length;
    const deletes = A.kernel.log.filter((m) => m.type === SadbMsgType.DELETE).length;
    const children = A.engine.abandonIkeSa(sa.serial, 'K-bit clear: renegotiate from the new care-of address');
    net.pump();
    expect(children?.map((c) => c.inboundSpi)).toEqual([sa.children[0].inboundSpi]);
    expect(A.engine.ikeSas()).toEqual([]);
    expect(net.sent.length).toBe(sent);
    expect(A.kernel.log.filter((m) => m.type === SadbMsgType.DELETE).length).toBe(deletes);
    expect(A.engine.abandonIkeSa(sa.serial, 'again')).toBeNull();
    expect(A.engine.moveIkeSa(sa.serial, sa.local, sa.remote)).toBe(false);
  });
});
