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
import { VirtualNet } from '../ike/helpers/harness';
import { pskPair } from '../ike/helpers/configs';

function header(w: { data: Buffer }) {
  const h = parseHeader(w.data.readUInt32BE(0) === 0 ? w.data.subarray(4) : w.data);
  if (!h.ok) throw new Error('bad header');
  return h.value;
}

function established() {
  const net = new VirtualNet();
  const { a, b } = pskPair({});
  const A = net.add('A', '10.99.0.1', [a], {}, 0xa0000000);
  const B = net.add('B', '10.99.0.2', [b], {}, 0xb0000000);
  A.engine.initiate('v2psk', 0);
  net.pump();
  expect(A.engine.ikeSas()[0].state).toBe('established');
  return { net, A, B };
}

describe('IKEv2 engine movement (Mobile IPv6 K-bit, RFC 6275 §6.1.7)', () => {
  it('moveIkeSa: the same IKE SA rekeys its CHILD_SA from the new address; the responder follows it (RFC 7296 §2.23); no IKE_SA_INIT', () => {
    const { net, A, B } = established();
    const before = A.engine.ikeSas()[0];
    A.address = '10.99.0.11';
    expect(A.engine.moveIkeSa(before.serial, { address: '10.99.0.11', port: before.local.port }, before.remote)).toBe(true);
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
