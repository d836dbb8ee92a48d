/**
 * Simultaneous rekeying, RFC 7296 §2.8.1 (CHILD_SA) and §2.8.2 (IKE SA): both
 * ends rekey the same SA at once, both requests are answered, and of the two
 * new SAs the one created by the exchange holding the lowest of the four
 * nonces is deleted by the side that initiated that exchange. Each outcome is
 * forced by giving one side's nonces the lower leading octets. Also the
 * "late" case of §2.25: a rekey request for an SA the receiver already
 * rekeyed is answered with TEMPORARY_FAILURE and no redundant SA is left.
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import { ExchangeType, HeaderFlag } from '../../../src/ike/v2/constants';
import { parseHeader } from '../../../src/ike/v2/payloads';
import type { RandomSource } from '../../../src/ike/v2/crypto-port';
import { NONCE_BYTES } from '../../../src/ike/v2/tasks/ike-init';
import { VirtualNet, type Node, type Wire } from '../helpers/harness';
import { pskPair } from '../helpers/configs';
import { seededRandom } from '../helpers/node-crypto-port';

/** Nonce-sized outputs start with `lead`, then a counter: later nonces of one side compare higher. */
function orderedNonces(name: string, lead: number): RandomSource {
  const base = seededRandom(name);
  let counter = 0;
  return {
    bytes(n: number): Buffer {
      const b = base.bytes(n);
      if (n === NONCE_BYTES) {
        b[0] = lead;
        b[1] = counter++ & 0xff;
      }
      return b;
    },
  };
}

/** A's nonces sort below B's when `low` is 'A'. */
function setup(low: 'A' | 'B') {
  const net = new VirtualNet();
  const { a, b } = pskPair();
  const A = net.add('A', '10.99.0.1', [a], { random: orderedNonces('A', low === 'A' ? 0x10 : 0x20) }, 0xa0000000);
  const B = net.add('B', '10.99.0.2', [b], { random: orderedNonces('B', low === 'A' ? 0x20 : 0x10) }, 0xb0000000);
  A.engine.initiate('v2psk', 0);
  net.pump();
  expect(B.engine.ikeSas()[0]?.state).toBe('established');
  return { net, A, B };
}

function header(w: Wire) {
  const h = parseHeader(w.data.readUInt32BE(0) === 0 ? w.data.subarray(4) : w.data);
  if (!h.ok) throw new Error('bad header');
  return h.value;
}
const isRequest = (w: Wire, exchange: ExchangeType) => header(w).exchangeType === exchange && (header(w).flags & HeaderFlag.RESPONSE) === 0;
const logged = (n: Node, re: RegExp) => n.logs.filter((l) => re.test(l.msg)).length;

function expectOnePair(A: Node, B: Node) {
  expect(A.engine.ikeSas()).toHaveLength(1);
  expect(B.engine.ikeSas()).toHaveLength(1);
  const [a] = A.engine.ikeSas();
  const [b] = B.engine.ikeSas();
  expect([a.spiI, a.spiR]).toEqual([b.spiI, b.spiR]);
  expect(a.children).toHaveLength(1);
  expect(b.children).toHaveLength(1);
  expect(a.children[0].inboundSpi).toBe(b.children[0].outboundSpi);
  expect(a.children[0].outboundSpi).toBe(b.children[0].inboundSpi);
  expect(A.kernel.mature()).toHaveLength(2);
  expect(B.kernel.mature()).toHaveLength(2);
  return { a, b };
}

describe('simultaneous IKE_SA rekey (RFC 7296 §2.8.2)', () => {
  it.each(['A', 'B'] as const)('nonces of %s are lowest: its new IKE_SA is redundant and it deletes it; the other side deletes the old one', (low) => {
    const { net, A, B } = setup(low);
    const before = A.engine.ikeSas()[0];
    const kernelBefore = A.kernel.mature().map((s) => s.spi).sort();
    A.engine.rekeyIkeSa(before.serial, 1000);
    B.engine.rekeyIkeSa(B.engine.ikeSas()[0].serial, 1000);
    net.pump();
    const { a } = expectOnePair(A, B);
    const [loser, winner] = low === 'A' ? [A, B] : [B, A];
    expect(logged(loser, /IKE_SA rekey collision lost/)).toBe(1);
    expect(logged(winner, /IKE_SA rekey collision won/)).toBe(1);
    expect(logged(A, /IKE_SA rekey collision detected/) + logged(B, /IKE_SA rekey collision detected/)).toBe(2);
    // the survivor is the IKE_SA the winner initiated: on A it has A's role as rekey initiator iff A won
    expect(a.role).toBe(winner === A ? 'initiator' : 'responder');
    expect(a.spiI).not.toBe(before.spiI);
    // the CHILD_SAs moved over untouched; nobody answered TEMPORARY_FAILURE any more
    expect(a.children[0].inboundSpi).toBe(before.children[0].inboundSpi);
    expect(A.kernel.mature().map((s) => s.spi).sort()).toEqual(kernelBefore);
    expect([...A.logs, ...B.logs].some((l) => /TEMPORARY_FAILURE/.test(l.msg))).toBe(false);
    // the surviving IKE_SA works: a CHILD_SA rekey over it, then a delete clears everything
    B.engine.rekeyChildSa(B.engine.ikeSas()[0].children[0].inboundSpi, 2000);
    net.pump();
    expectOnePair(A, B);
    A.engine.deleteIkeSa(A.engine.ikeSas()[0].serial, 3000);
    net.pump();
    expect(A.engine.ikeSas().length + B.engine.ikeSas().length).toBe(0);
    expect(A.kernel.sas.size + B.kernel.sas.size).toBe(0);
  });

  it('late request (§2.25.2): the rekey request reaches a side whose own rekey already finished → TEMPORARY_FAILURE, the requester takes the peer\'s new IKE_SA', () => {
    const { net, A, B } = setup('A');
    const held: Wire[] = [];
    let droppedDelete = false;
    net.drop = (w) => {
      if (w.from.address === '10.99.0.2' && isRequest(w, ExchangeType.CREATE_CHILD_SA) && held.length === 0) {
        held.push(w); // B's rekey request is delayed
        return true;
      }
      if (w.from.address === '10.99.0.1' && isRequest(w, ExchangeType.INFORMATIONAL) && !droppedDelete) {
        droppedDelete = true; // A's Delete of the old IKE_SA is lost once
        return true;
      }
      return false;
    };
    B.engine.rekeyIkeSa(B.engine.ikeSas()[0].serial, 1000);
    net.pump();
    A.engine.rekeyIkeSa(A.engine.ikeSas()[0].serial, 1000);
    net.pump();
    expect(held).toHaveLength(1);
    // A's rekey is done (B answered it while its own was outstanding); now B's request arrives at A
    A.engine.receiveDatagram(held[0].data, held[0].from, held[0].to, 1500);
    net.pump();
    expect(logged(A, /CREATE_CHILD_SA refused with TEMPORARY_FAILURE: the IKE_SA is deleting/)).toBe(1);
    expect(logged(B, /only the peer's rekey succeeded/)).toBe(1);
    net.advance(20000); // A retransmits the Delete of the old IKE_SA
    const { a } = expectOnePair(A, B);
    expect(a.role).toBe('initiator');
  });
});

describe('simultaneous CHILD_SA rekey (RFC 7296 §2.8.1)', () => {
  it.each(['A', 'B'] as const)('nonces of %s are lowest: it deletes the CHILD_SA its own exchange made; the other deletes the old one', (low) => {
    const { net, A, B } = setup(low);
    const old = A.engine.ikeSas()[0].children[0];
    A.engine.rekeyChildSa(old.inboundSpi, 1000);
    B.engine.rekeyChildSa(old.outboundSpi, 1000);
    net.pump();
    const { a } = expectOnePair(A, B);
    expect(a.children[0].inboundSpi).not.toBe(old.inboundSpi);
    const [loser, winner] = low === 'A' ? [A, B] : [B, A];
    expect(logged(loser, /CHILD_SA rekey collision lost/)).toBe(1);
    expect(logged(winner, /CHILD_SA rekey collision won/)).toBe(1);
    // the surviving pair is the one the winner's exchange created, the loser's own is gone
    const spiOf = (n: Node, re: RegExp) => parseInt(String(n.logs.find((l) => re.test(l.msg))?.childSpi), 16);
    expect(winner.engine.ikeSas()[0].children[0].inboundSpi).toBe(spiOf(winner, /CHILD_SA rekey collision won/));
    expect(loser.engine.ikeSas()[0].children[0].inboundSpi).not.toBe(spiOf(loser, /CHILD_SA rekey collision lost/));
    // three CHILD_SA pairs existed for a moment (old + two new); two were deleted on both ends
    expect(loser.kernel.log.filter((m) => m.type === SadbMsgType.DELETE)).toHaveLength(4);
  });

  it('late request (§2.25.1): rekeying a CHILD_SA the peer already rekeyed gets TEMPORARY_FAILURE and leaves no redundant pair', () => {
    const { net, A, B } = setup('A');
    const old = A.engine.ikeSas()[0].children[0];
    const held: Wire[] = [];
    let droppedDelete = false;
    net.drop = (w) => {
      if (w.from.address === '10.99.0.2' && isRequest(w, ExchangeType.CREATE_CHILD_SA) && held.length === 0) {
        held.push(w);
        return true;
      }
      if (w.from.address === '10.99.0.1' && isRequest(w, ExchangeType.INFORMATIONAL) && !droppedDelete) {
        droppedDelete = true;
        return true;
      }
      return false;
    };
    B.engine.rekeyChildSa(old.outboundSpi, 1000);
    net.pump();
    A.engine.rekeyChildSa(old.inboundSpi, 1000);
    net.pump();
    A.engine.receiveDatagram(held[0].data, held[0].from, held[0].to, 1500);
    net.pump();
    expect(logged(A, /TEMPORARY_FAILURE: CHILD_SA .* is deleting/)).toBe(1);
    net.advance(20000);
    const { a } = expectOnePair(A, B);
    expect(a.children[0].inboundSpi).not.toBe(old.inboundSpi);
  });
});
