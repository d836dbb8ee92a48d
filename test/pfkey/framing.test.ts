/**
 * Stream framing by sadb_msg_len (RFC 2367 §2.3.1, length in 64-bit words),
 * with the size guard and the no-resync policy documented in framing.ts.
 */
import fc from 'fast-check';
import { encodeMessage } from '../../src/pfkey/codec';
import { PfKeyFramer, PfKeyFramingError } from '../../src/pfkey/framing';
import { smallPfKeyMessage } from './arbitraries';

describe('PfKeyFramer', () => {
  it('reassembles any sequence of messages from any chunking', () => {
    fc.assert(
      fc.property(fc.array(smallPfKeyMessage, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }), (msgs, cuts) => {
        const wires = msgs.map((m) => encodeMessage(m));
        const stream = Buffer.concat(wires);
        const f = new PfKeyFramer();
        const got: Buffer[] = [];
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length];
          const r = f.push(stream.subarray(at, at + n));
          expect(r.error).toBeUndefined();
          got.push(...r.messages);
          at += n;
        }
        expect(got.map((b) => b.toString('hex'))).toEqual(wires.map((b) => b.toString('hex')));
        expect(f.buffered).toBe(0);
        expect(f.end()).toBeNull();
      }),
      { numRuns: 100 },
    );
  });

  it('delivers the messages before garbage, reports the garbage once with its stream offset, then discards everything', () => {
    const good = encodeMessage({ type: 7, satype: 3, errno: 0, seq: 1, pid: 2, ext: {} });
    const f = new PfKeyFramer();
    const r = f.push(Buffer.concat([good, Buffer.from('GET / HTTP/1.0\r\n\r\n'), good]));
    expect(r.messages).toHaveLength(1);
    expect(r.error).toBeInstanceOf(PfKeyFramingError);
    expect(r.error).toMatchObject({ rule: 'frame-version', offset: 16 });
    expect(f.push(good)).toEqual({ messages: [] });
    expect(f.error?.rule).toBe('frame-version');
  });

  it('rejects a length below the header', () => {
    const r = new PfKeyFramer().push(Buffer.from('0201000301000000', 'hex'));
    expect(r.error).toMatchObject({ rule: 'frame-len-short', offset: 4 });
  });

  it('enforces the maximum message size before buffering the body', () => {
    const f = new PfKeyFramer({ maxMessageSize: 1024 });
    const head = Buffer.from('0201000381000000', 'hex'); // 0x81 words = 1032 bytes
    expect(f.push(head).error).toMatchObject({ rule: 'frame-too-large', offset: 4 });
  });

  it('reports a stream that ends inside a message', () => {
    const f = new PfKeyFramer();
    const wire = encodeMessage({ type: 7, satype: 3, errno: 0, seq: 1, pid: 2, ext: {} });
    expect(f.push(wire.subarray(0, 10)).messages).toEqual([]);
    expect(f.end()).toMatchObject({ rule: 'frame-truncated', offset: 0 });
  });
});
