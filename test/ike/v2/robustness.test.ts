import { ExchangeType, NotifyType, PayloadType } from '../../../src/ike/v2/constants';
import { generateMessage, notify, parseHeader, parseMessage } from '../../../src/ike/v2/payloads';
import type { IkeSa } from '../../../src/ike/v2/ike-sa';
import { VirtualNet } from '../helpers/harness';
import { pskPair } from '../helpers/configs';

function hdr(data: Buffer) {
  const h = parseHeader(data.readUInt32BE(0) === 0 ? data.subarray(4) : data);
  if (!h.ok) throw new Error('bad header');
  return h.value;
}

/** xorshift32: a fast deterministic PRNG for the mutation fuzzer */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

describe('IKEv2 responder robustness', () => {
  it('answers an unknown critical payload in IKE_SA_INIT with UNSUPPORTED_CRITICAL_PAYLOAD naming the type (RFC 7296 §2.5)', () => {
    const net = new VirtualNet();
    const { b } = pskPair();
    const B = net.add('B', '10.99.0.2', [b]);
    const m = generateMessage({ spiI: 0x1234n, spiR: 0n, majorVersion: 2, minorVersion: 0, exchangeType: 34, flags: 8, messageId: 0 }, [
      { type: 'unknown', payloadType: 200, body: Buffer.from('x'), critical: true },
    ]);
    B.engine.receiveDatagram(m, { address: '10.99.0.1', port: 500 }, { address: '10.99.0.2', port: 500 }, 0);
    const out = B.engine.pollActions().filter((a) => a.kind === 'datagram');
    expect(out).toHaveLength(1);
    const r = out[0].kind === 'datagram' ? parseMessage(out[0].data) : null;
    expect(r?.ok && r.value.payloads).toEqual([expect.objectContaining({ type: PayloadType.NOTIFY, notifyType: NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, data: Buffer.from([200]) })]);
    expect(B.engine.ikeSas()).toEqual([]);
  });

  it('a flood of IKE_SA_INIT from spoofed ports turns cookies on and keeps half-open state bounded (RFC 7296 §2.6)', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair({ dh: [19] });
    b.remote.address = '%any';
    const B = net.add('B', '10.99.0.2', [b], { cookieThreshold: 10, maxHalfOpen: 50 });
    // a template request from a real initiator
    const A = net.add('A', '10.99.0.1', [a]);
    A.engine.initiate('v2psk', 0);
    const req = A.engine.pollActions().find((x) => x.kind === 'datagram');
    if (!req || req.kind !== 'datagram') throw new Error('no request');
    let cookies = 0;
    for (let i = 0; i < 500; i++) {
      const m = Buffer.from(req.data);
      m.writeUInt32BE(i + 1, 0); // a new SPIi per spoofed initiator
      B.engine.receiveDatagram(m, { address: `198.51.100.${i % 250}`, port: 1000 + i }, { address: '10.99.0.2', port: 500 }, 0);
      for (const x of B.engine.pollActions()) {
        if (x.kind !== 'datagram') continue;
        const p = parseMessage(x.data);
        if (p.ok && p.value.payloads[0]?.type === PayloadType.NOTIFY && p.value.payloads[0].notifyType === NotifyType.COOKIE) cookies++;
      }
    }
    expect(B.engine.ikeSas().length).toBe(10);
    expect(cookies).toBe(490);
    // half-open SAs time out (30 s)
    B.engine.handleTimer(31_000);
    expect(B.engine.ikeSas()).toEqual([]);
  });

  it('initiators that do return the COOKIE (real addresses, 1,000 of them) are capped at maxHalfOpen, then time out; a legitimate initiator gets through afterwards', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair({ dh: [19] });
    b.remote.address = '%any';
    const B = net.add('B', '10.99.0.2', [b], { cookieThreshold: 10, maxHalfOpen: 200 });
    const A = net.add('A', '10.99.0.1', [a]);
    A.engine.initiate('v2psk', 0);
    const req = A.engine.pollActions().find((x) => x.kind === 'datagram');
    if (!req || req.kind !== 'datagram') throw new Error('no request');
    A.engine.deleteIkeSa(A.engine.ikeSas()[0].serial, 0);
    A.engine.pollActions();
    const template = parseMessage(req.data);
    if (!template.ok) throw new Error('template');
    let maxSeen = 0;
    let dropped = 0;
    for (let i = 0; i < 1000; i++) {
      const from = { address: `203.0.${(i >> 8) & 0xff}.${i & 0xff}`, port: 500 };
      const h = { ...template.value.header, spiI: BigInt(i + 1) };
      B.engine.receiveDatagram(generateMessage(h, template.value.payloads), from, { address: '10.99.0.2', port: 500 }, 1000);
      const reply = B.engine.pollActions().find((x) => x.kind === 'datagram');
      if (!reply) dropped++; // over the cap: dropped before any work (no COOKIE computed, no state)
      const p = reply && reply.kind === 'datagram' ? parseMessage(reply.data) : null;
      const first = p?.ok ? p.value.payloads[0] : undefined;
      if (first?.type === PayloadType.NOTIFY && first.notifyType === NotifyType.COOKIE) {
        // RFC 7296 §2.6: the initiator repeats its request with the COOKIE first
        B.engine.receiveDatagram(generateMessage(h, [notify(NotifyType.COOKIE, first.data), ...template.value.payloads]), from, { address: '10.99.0.2', port: 500 }, 1000);
        B.engine.pollActions();
      }
      maxSeen = Math.max(maxSeen, B.engine.ikeSas().length);
    }
    expect(maxSeen).toBe(200);
    expect(dropped).toBe(1000 - 200);
    // charon's 30 s half-open timeout frees them all; then a real initiator completes
    B.engine.handleTimer(32_000);
    expect(B.engine.ikeSas()).toEqual([]);
    const net2 = new VirtualNet();
    net2.nodes.push(B);
    const { a: a2 } = pskPair({ dh: [19] });
    const A2 = net2.add('A2', '10.99.0.1', [a2]);
    net2.now = 33_000;
    A2.engine.initiate('v2psk', 33_000);
    net2.pump();
    expect(A2.engine.ikeSas()[0]?.state).toBe('established');
  });

  it('an initiator completes the COOKIE round trip when the responder demands it', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b], { cookieThreshold: 0 });
    A.engine.initiate('v2psk', 0);
    net.pump();
    const inits = net.sent.filter((w) => hdr(w.data).exchangeType === ExchangeType.IKE_SA_INIT);
    expect(inits).toHaveLength(4);
    const retry = parseMessage(inits[2].data);
    expect(retry.ok && retry.value.payloads[0]).toMatchObject({ type: PayloadType.NOTIFY, notifyType: NotifyType.COOKIE });
    expect(B.engine.ikeSas()[0].state).toBe('established');
  });

  it('RFC 7383: a small fragment size splits IKE_AUTH into SKF fragments that the peer reassembles', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair({ fragmentSize: 200, forceEncap: true });
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    const auth = net.sent.filter((w) => hdr(w.data).exchangeType === ExchangeType.IKE_AUTH);
    const request = auth.filter((w) => (hdr(w.data).flags & 0x20) === 0);
    expect(request.length).toBeGreaterThan(1);
    expect(auth.every((w) => w.data.length <= 200 + 4)).toBe(true); // + the non-ESP marker
    expect(request.every((w) => hdr(w.data).nextPayload === PayloadType.SKF)).toBe(true);
    expect(A.engine.ikeSas()[0].children).toHaveLength(1);
    expect(B.engine.ikeSas()[0].children).toHaveLength(1);
  });

  it('fuzz: 100,000 mutated messages against a responder that keeps serving', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair({ dh: [19], dpd: 30 });
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b], { cookieThreshold: 20, maxHalfOpen: 100 });
    A.engine.initiate('v2psk', 0);
    net.pump();
    net.advance(31_000); // one liveness check, so that an INFORMATIONAL request is captured
    const bases = net.sent.filter((w) => w.from.address === '10.99.0.1' && (hdr(w.data).flags & 0x20) === 0).map((w) => w.data);
    expect(bases.map((d) => hdr(d).exchangeType)).toEqual([34, 35, 37]);
    const rand = rng(0x5eed);
    const from = { address: '10.99.0.1', port: 500 };
    const to = { address: '10.99.0.2', port: 500 };
    let n = 0;
    let answers = 0;
    for (; n < 100_000; n++) {
      const base = bases[rand(bases.length)];
      let m = Buffer.from(base);
      const edits = 1 + rand(4);
      for (let e = 0; e < edits; e++) {
        const op = rand(10);
        if (op < 6) m[rand(m.length)] = rand(256);
        else if (op < 7) m = m.subarray(0, rand(m.length + 1));
        else if (op < 8) m = Buffer.concat([m, Buffer.from([rand(256), rand(256)])]);
        else if (op < 9) {
          if (m.length >= 28) m.writeUInt32BE(m.length, 24); // fix up the IKE header length field
        }
        else m[16 + rand(12)] = rand(256); // header fields
      }
      B.engine.receiveDatagram(m, from, to, 40_000);
      if (n % 500 === 0) {
        for (const x of B.engine.pollActions()) {
          if (x.kind === 'pfkey') B.engine.receivePfKey(B.kernel.handle(x.msg), 40_000);
          if (x.kind === 'datagram') answers++;
        }
      }
    }
    B.engine.pollActions();
    // the mutations reached the protocol logic, not only the header check
    expect(answers).toBeGreaterThan(100);
    expect(n).toBe(100_000);
    expect(B.engine.ikeSas().length).toBeLessThanOrEqual(101);
    // the established IKE_SA with A survived every mutation of its messages
    expect(B.engine.ikeSas().find((s) => s.state === 'established')).toBeDefined();
    // and the responder still serves: a new initiator gets through (with a cookie if asked)
    const net2 = new VirtualNet();
    net2.nodes.push(B);
    const { a: a2 } = pskPair({ dh: [19] });
    a2.local.port = 501;
    const A2 = net2.add('A2', '10.99.0.1', [a2]);
    net2.now = 40_000;
    A2.engine.initiate('v2psk', 40_000);
    net2.pump();
    expect(A2.engine.ikeSas()[0]?.state).toBe('established');
  });
});

describe('malformed protected requests (RFC 7296 §2.21.1)', () => {
  it('an INFORMATIONAL whose decrypted payloads do not parse is answered INVALID_SYNTAX and consumes the message ID', () => {
    const net = new VirtualNet();
    const { a, b } = pskPair();
    const A = net.add('A', '10.99.0.1', [a]);
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    // A's own IKE SA state: use its SK_ei/SK_ai protector to build a request with a broken inner chain
    const sa = [...(A.engine as unknown as { sas: Map<bigint, IkeSa> }).sas.values()][0];
    const bad = sa.skOut!.sealRaw(
      { spiI: sa.spiI, spiR: sa.spiR, majorVersion: 2, minorVersion: 0, exchangeType: ExchangeType.INFORMATIONAL, flags: 0x08, messageId: 2 },
      PayloadType.SK,
      PayloadType.NOTIFY,
      Buffer.from([0, 0, 0, 40, 0]), // a Notify header claiming 40 octets, 5 present
      Buffer.alloc(sa.skOut!.ivBytes, 9),
      null,
    );
    B.engine.receiveDatagram(bad, { address: '10.99.0.1', port: 500 }, { address: '10.99.0.2', port: 500 }, 10);
    const answers = B.engine.pollActions().filter((x) => x.kind === 'datagram');
    expect(answers).toHaveLength(1);
    const ans = answers[0].kind === 'datagram' ? answers[0].data : Buffer.alloc(0);
    const parsed = parseMessage(ans);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const inner = sa.skIn!.open(ans, parsed.value);
    expect(inner).toEqual({ ok: true, value: [expect.objectContaining({ type: PayloadType.NOTIFY, notifyType: NotifyType.INVALID_SYNTAX })] });
    expect(hdr(ans).messageId).toBe(2);
    expect(B.engine.ikeSas()[0].state).toBe('established');
  });
});
