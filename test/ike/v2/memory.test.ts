/**
 * The memory layout of an established IKE SA (docs/ikev2.md "Performance",
 * IkeSa.compact): what an established IKE_SA + CHILD_SA no longer holds, that
 * what it keeps sits in buffers of its own (no slice pinning a shared 8 KiB
 * pool slab), and that the compacted SA still answers a retransmitted request
 * (RFC 7296 §2.1), rekeys (§1.3.2, §1.3.3) and deletes (§1.4.1).
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import { ExchangeType, HeaderFlag, PayloadType } from '../../../src/ike/v2/constants';
import type { IkeSa } from '../../../src/ike/v2/ike-sa';
import { parseHeader, parseMessage } from '../../../src/ike/v2/payloads';
import { SkProtector } from '../../../src/ike/v2/sk';
import { nodeCryptoPort } from '../helpers/node-crypto-port';
import { VirtualNet, type Node, type Wire } from '../helpers/harness';
import { pskPair } from '../helpers/configs';

/** The engine's IKE SA objects (private state; read here to pin what they hold). */
function ikeSaObjects(n: Node): IkeSa[] {
  return [...(n.engine as unknown as { sas: Map<bigint, IkeSa> }).sas.values()];
}

function setup(opts: Parameters<typeof pskPair>[0] = {}) {
  const net = new VirtualNet();
  const { a, b } = pskPair(opts);
  const A = net.add('A', '10.99.0.1', [a], {}, 0xa0000000);
  const B = net.add('B', '10.99.0.2', [b], {}, 0xb0000000);
  A.engine.initiate('v2psk', 0);
  net.pump();
  return { net, A, B };
}

function ownsItsMemory(b: Buffer): boolean {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length;
}

function exchangeOf(w: Wire): { exchangeType: number; response: boolean } {
  const h = parseHeader(w.data.readUInt32BE(0) === 0 ? w.data.subarray(4) : w.data);
  if (!h.ok) throw new Error('bad header');
  return { exchangeType: h.value.exchangeType, response: (h.value.flags & HeaderFlag.RESPONSE) !== 0 };
}

describe('established IKE_SA + CHILD_SA: what is dropped (IkeSa.compact)', () => {
  it.each([
    ['AES-GCM-16, x25519', {}],
    ['AES-CBC + HMAC-SHA2-256, ecp256', { encr: { id: 12, keyBits: 128 }, integ: [12], dh: [19], esp: { id: 12, keyBits: 128 }, espInteg: [12] }],
  ] as [string, Parameters<typeof pskPair>[0]][])('%s: no nonces, DH state, SKEYSEED, SK_p*, IKE_SA_INIT copies or CHILD_SA keys remain', (_n, opts) => {
    const { A, B } = setup(opts);
    for (const n of [A, B]) {
      const [sa] = ikeSaObjects(n);
      expect(sa.state).toBe('established');
      expect(sa.ni.length + sa.nr.length).toBe(0);
      expect(sa.dh).toBeNull();
      expect(sa.cookie).toBeNull();
      expect(sa.initRequest.length + sa.initResponse.length).toBe(0);
      const k = sa.keys!;
      expect([k.skeyseed, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr].map((b) => b.length)).toEqual([0, 0, 0, 0, 0, 0, 0]);
      expect(k.skD.length).toBe(32); // PRF_HMAC_SHA2_256: SK_d stays for CHILD_SA and IKE_SA rekeys (§2.17, §2.18)
      // SK_d, SK_e/SK_a and the peer's ID share one buffer of the SA's own, exactly as large as they are
      expect(sa.peerIdData.buffer).toBe(k.skD.buffer);
      expect(k.skD.buffer.byteLength).toBe(32 + sa.skIn!.keyOctets + sa.skOut!.keyOctets + sa.peerIdData.length);
      expect(sa.candidates).toEqual([sa.peer]);
      expect(sa.active).toBeNull();
      expect(sa.passive).toBeNull();
      const [child] = sa.children;
      expect(Object.values(child.keys).map((b) => b.length)).toEqual([0, 0, 0, 0]);
      expect(child.chosen.spi.length).toBe(0);
      expect(Object.isFrozen(child.chosen)).toBe(true);
      const addrs = [...child.localTs, ...child.remoteTs].flatMap((t) => [t.startAddress, t.endAddress]);
      expect(new Set(addrs.map((b) => b.buffer)).size).toBe(1);
      expect(addrs[0].buffer.byteLength).toBe(addrs.reduce((s, b) => s + b.length, 0));
    }
    // the responder keeps its last response (for a retransmitted request) in a buffer of its own
    const [r] = ikeSaObjects(B);
    expect(r.lastResponse!.packets.every(ownsItsMemory)).toBe(true);
  });

  it('two IKE SAs with the same proposal share one frozen transform set', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair({});
    // same identity from two hosts: no INITIAL_CONTACT, or the second would replace the first (§2.4)
    const A = net.add('A', '10.99.0.1', [{ ...a, initialContact: false }], {}, 0xa0000000);
    const C = net.add('C', '10.99.0.3', [{ ...a, initialContact: false, local: { ...a.local, address: '10.99.0.3' } }], {}, 0xc0000000);
    const B = net.add('B', '10.99.0.2', [{ ...b, remote: { ...b.remote, address: '%any' } }], {}, 0xb0000000);
    A.engine.initiate('v2psk', 0);
    C.engine.initiate('v2psk', 0);
    net.pump();
    const sas = ikeSaObjects(B);
    expect(sas.map((s) => s.state)).toEqual(['established', 'established']);
    expect(sas[0].chosen).toBe(sas[1].chosen);
    expect(sas[0].children[0].chosen).toBe(sas[1].children[0].chosen);
  });

  it('a retransmitted IKE_AUTH request is answered with the same (compacted) response bytes (§2.1)', () => {
    const { net, B } = setup();
    const request = net.sent.find((w) => exchangeOf(w).exchangeType === ExchangeType.IKE_AUTH && !exchangeOf(w).response)!;
    const response = net.sent.find((w) => exchangeOf(w).exchangeType === ExchangeType.IKE_AUTH && exchangeOf(w).response)!;
    B.engine.receiveDatagram(request.data, request.from, request.to, 5);
    const again = B.engine.pollActions().filter((x) => x.kind === 'datagram');
    expect(again).toHaveLength(1);
    expect(again[0].kind === 'datagram' && again[0].data.equals(response.data)).toBe(true);
  });

  it('the compacted SAs still rekey a CHILD_SA with PFS, rekey the IKE_SA and delete everything', () => {
    const { net, A, B } = setup({ pfs: [31] });
    const child = A.engine.ikeSas()[0].children[0];
    expect(A.engine.rekeyChildSa(child.inboundSpi, 1000)).toBe(true);
    net.pump();
    const updA = A.kernel.log.filter((m) => m.type === SadbMsgType.UPDATE);
    const addB = B.kernel.log.filter((m) => m.type === SadbMsgType.ADD);
    expect(updA).toHaveLength(2);
    expect(updA[1].ext.keyEncrypt!.key).toEqual(addB[1].ext.keyEncrypt!.key);
    expect(A.engine.ikeSas()[0].children.map((c) => c.inboundSpi)).not.toContain(child.inboundSpi);
    // the rekeyed CHILD_SA is compacted too
    const [sa] = ikeSaObjects(A);
    expect(Object.values(sa.children[0].keys).map((b) => b.length)).toEqual([0, 0, 0, 0]);
    expect(B.engine.rekeyIkeSa(B.engine.ikeSas()[0].serial, 2000)).toBe(true);
    net.pump();
    const [a2] = A.engine.ikeSas();
    expect(a2.state).toBe('established');
    expect(ikeSaObjects(A)[0].keys!.skPi.length).toBe(0);
    expect(A.engine.deleteIkeSa(a2.serial, 3000)).toBe(true);
    net.pump();
    expect(A.engine.ikeSas().length + B.engine.ikeSas().length).toBe(0);
    expect(A.kernel.sas.size + B.kernel.sas.size).toBe(0);
  });
});

describe('SkProtector.moveKeys', () => {
  it('protection keeps working after the keys moved into another buffer (RFC 5282 AES-GCM, CBC + HMAC)', () => {
    for (const [encrId, keyBits, integId] of [
      [20, 128, null],
      [12, 256, 12],
    ] as const) {
      const encr = nodeCryptoPort.encr(encrId, keyBits)!;
      const integ = integId === null ? null : nodeCryptoPort.integ(integId)!;
      const ek = Buffer.alloc(encr.keyBytes + (encr.aead ? encr.saltBytes : 0), 7);
      const ak = Buffer.alloc(integ?.keyBytes ?? 0, 9);
      const receiver = new SkProtector(encr, integ, ek, ak);
      const block = Buffer.alloc(3 + receiver.keyOctets);
      expect(receiver.moveKeys(block, 3)).toBe(block.length);
      ek.fill(0); // the receiver uses its moved copy, not the buffer it was given
      const sender2 = new SkProtector(encr, integ, Buffer.alloc(ek.length, 7), Buffer.alloc(ak.length, 9));
      const header = { spiI: 1n, spiR: 2n, majorVersion: 2, minorVersion: 0, exchangeType: ExchangeType.INFORMATIONAL, flags: 0, messageId: 1 };
      const msg = sender2.seal(header, [{ type: PayloadType.NONCE, nonce: Buffer.alloc(16, 1) }], Buffer.alloc(sender2.ivBytes, 2));
      const parsed = parseMessage(msg);
      if (!parsed.ok) throw new Error(parsed.error.message);
      const opened = receiver.open(msg, parsed.value);
      expect(opened?.ok && opened.value[0]).toMatchObject({ type: PayloadType.NONCE, nonce: Buffer.alloc(16, 1) });
      expect(receiver.keyOctets).toBe(ek.length + ak.length);
    }
  });
});
