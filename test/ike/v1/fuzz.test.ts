/**
 * Robustness (issue 5, racoon's CVE-2016-10396 class): 100,000 mutated ISAKMP
 * messages fed to a responder never throw, never wedge it, and leave the
 * established ISAKMP-SA able to run a Quick Mode afterwards.
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import { Ikev1Engine } from '../../../src/ike/v1/engine';
import { makePair, peerConfig, seededRandom } from './harness';

const A = '10.0.0.1';
const B = '10.0.0.2';

/** xorshift32: reproducible mutations */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function mutate(base: Buffer, r: () => number): Buffer {
  const m = Buffer.from(base);
  const kind = r() % 4;
  const n = 1 + (r() % 4);
  for (let i = 0; i < n; i++) {
    const at = r() % m.length;
    if (kind === 0) m[at] = r() & 0xff;
    else if (kind === 1) m[at] ^= 1 << (r() % 8);
    else if (kind === 2 && at >= 28) m.writeUInt16BE(r() & 0xffff, Math.min(at, m.length - 2));
  }
  return kind === 3 ? m.subarray(0, r() % m.length) : m;
}

describe('IKEv1 responder fuzz', () => {
  it('100,000 mutated messages (Main Mode 1/3/5, Quick Mode, informational) are dropped without throwing; the SA still works', () => {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A));
    p.a.initiate('b', 0);
    p.run();
    const corpus = p.wire.filter((w) => w.from === 'a').map((w) => w);
    expect(corpus.length).toBeGreaterThanOrEqual(5);
    const r = prng(2409);
    let dropped = 0;
    const bugs: string[] = [];
    // Main Mode message 1 mutations go to a fresh responder, re-created every 2,000 messages to bound its state
    let fresh = new Ikev1Engine({ peers: [peerConfig('a', B, A)], random: seededRandom('f'), pid: 3 });
    for (let i = 0; i < 100_000; i++) {
      const w = corpus[i % corpus.length];
      const m = mutate(w.data, r);
      const target = w === corpus[0] ? fresh : p.b;
      target.receiveDatagram(m, w.src, w.dst, p.now);
      const logs = target.pollActions().flatMap((a) => (a.kind === 'log' ? [a.event.msg] : []));
      dropped += logs.length > 0 ? 1 : 0;
      // the engine's last-resort catch must only ever see crypto rejections of peer values, never a bug
      for (const l of logs) if (/TypeError|RangeError|of undefined|is not a function/.test(l)) bugs.push(l);
      if (i % 2000 === 1999) fresh = new Ikev1Engine({ peers: [peerConfig('a', B, A)], random: seededRandom(`f${i}`), pid: 3 });
    }
    expect(bugs.slice(0, 3)).toEqual([]);
    expect(dropped).toBeGreaterThan(50_000);
    // the established phase 1 is intact: a new Quick Mode completes and keys match
    const before = p.kernel.b.length;
    p.a.initiate('b', p.now);
    p.run();
    const after = p.kernel.b.slice(before).map((m) => SadbMsgType[m.type]);
    expect(after).toEqual(['GETSPI', 'UPDATE', 'ADD']);
  });
});

describe('IKEv1 responder: the specific attacks, each dropped with a log line', () => {
  function established() {
    const p = makePair(peerConfig('b', A, B), peerConfig('a', B, A));
    p.a.initiate('b', 0);
    p.run();
    return p;
  }
  const quick = (p: ReturnType<typeof established>) => p.wire.filter((w) => w.from === 'a' && w.data[18] === 32);

  it('replayed Quick Mode messages (QI1, QI2) key nothing twice: QI1 is answered from the cache (racoon check_recvdpkt), QI2 is ignored', () => {
    const p = established();
    const before = p.kernel.b.length;
    const [qi1, qi2] = quick(p);
    p.b.receiveDatagram(qi1.data, qi1.src, qi1.dst, p.now);
    p.b.receiveDatagram(qi2.data, qi2.src, qi2.dst, p.now);
    const acts = p.b.pollActions();
    expect(acts.filter((a) => a.kind === 'pfkey')).toEqual([]);
    expect(acts.filter((a) => a.kind === 'datagram')).toHaveLength(1); // the cached QR1
    expect(p.kernel.b.length).toBe(before);
  });

  it('a Quick Mode message whose HASH(1) does not verify is dropped: "HASH(1) mismatch"', () => {
    const p = established();
    const [qi1] = quick(p);
    // a fresh message id: the responder decrypts with the IV of that id, the payloads come out garbled or the HASH fails
    const forged = Buffer.from(qi1.data);
    forged.writeUInt32BE((forged.readUInt32BE(20) + 1) >>> 0, 20);
    p.b.receiveDatagram(forged, qi1.src, qi1.dst, p.now);
    const logs = p.b.pollActions().flatMap((a) => (a.kind === 'log' ? [a.event.msg] : []));
    expect(logs.some((l) => /HASH\(1\) mismatch|malformed Quick Mode message/.test(l))).toBe(true);
    expect(p.b.ph1Sas()[0].ph2).toHaveLength(1);
  });

  it('wrong cookies: an unknown initiator cookie or a wrong responder cookie is dropped with "unknown ... cookie"', () => {
    const p = established();
    const [qi1] = quick(p);
    const badI = Buffer.from(qi1.data);
    badI[0] ^= 0xff;
    const badR = Buffer.from(qi1.data);
    badR[8] ^= 0xff;
    p.b.receiveDatagram(badI, qi1.src, qi1.dst, p.now);
    p.b.receiveDatagram(badR, qi1.src, qi1.dst, p.now);
    const logs = p.b.pollActions().flatMap((a) => (a.kind === 'log' ? [a.event.msg] : []));
    expect(logs.filter((l) => /unknown (responder )?cookie/.test(l))).toHaveLength(2);
  });
});
