/**
 * decode(encode(m)) deep-equals m for every extension and every message type
 * (RFC 2367 §2.3 messages 0..24 with the Linux/KAME extension numbering).
 */
import fc from 'fast-check';
import { decodeMessage, decodeSockAddr, encodeMessage, encodeSockAddr, EXTENSIONS, EXT_KEYS, PFKEY_MAX_MESSAGE } from '../../src/pfkey/codec';
import { SADB_MAX } from '../../src/pfkey/constants';
import type { PfKeyExtensions, PfKeyMessage } from '../../src/pfkey/types';
import { extensionArbs, extensions, pfKeyMessage, pfKeyMessageWith, sockAddr } from './arbitraries';

function roundTrip(m: PfKeyMessage): void {
  const wire = encodeMessage(m);
  expect(wire.length % 8).toBe(0); // RFC 2367 §2.3.4: 64-bit aligned
  expect(wire.length).toBeLessThanOrEqual(PFKEY_MAX_MESSAGE);
  expect(wire.readUInt16LE(4) * 8).toBe(wire.length);
  const r = decodeMessage(wire);
  if (!r.ok) throw new Error(`decode failed: ${JSON.stringify(r.error)}`);
  expect(r.warnings).toEqual([]);
  expect(r.msg).toEqual(m);
  // byte-stable: re-encoding the decoded message gives the same bytes (same extension order)
  expect(encodeMessage(r.msg).equals(wire)).toBe(true);
}

describe('PF_KEY codec round trip', () => {
  it('covers every extension type 1..26 in the one table', () => {
    const types = EXT_KEYS.map((k) => EXTENSIONS[k].type).sort((a, b) => a - b);
    expect(types).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
  });

  for (const key of EXT_KEYS) {
    it(`round-trips ${EXTENSIONS[key].name} alone`, () => {
      const arb = extensionArbs[key] as fc.Arbitrary<unknown>;
      const single = arb.map((v) => ({ [key]: v }) as PfKeyExtensions);
      fc.assert(fc.property(pfKeyMessageWith(fc.integer({ min: 0, max: SADB_MAX }), single), roundTrip), { numRuns: 60 });
    });
  }

  it.each(Array.from({ length: SADB_MAX + 1 }, (_, t) => t))('round-trips message type %i with random extensions', (t) => {
    fc.assert(fc.property(pfKeyMessageWith(fc.constant(t), extensions), roundTrip), {
      numRuns: 15,
    });
  });

  it('round-trips arbitrary messages with any subset of extensions', () => {
    fc.assert(fc.property(pfKeyMessage, roundTrip), { numRuns: 150 });
  });

  it('decodes from a plain Uint8Array view at a non-zero byteOffset', () => {
    fc.assert(
      fc.property(pfKeyMessage, (m) => {
        const wire = encodeMessage(m);
        const backing = new Uint8Array(wire.length + 5);
        backing.set(wire, 5);
        const r = decodeMessage(new Uint8Array(backing.buffer, 5, wire.length));
        expect(r.ok && r.msg).toEqual(m);
      }),
      { numRuns: 30 },
    );
  });

  it('encodeSockAddr/decodeSockAddr round-trip Linux sockaddr_in (16 B) / sockaddr_in6 (28 B)', () => {
    fc.assert(
      fc.property(sockAddr, (sa) => {
        const b = encodeSockAddr(sa);
        expect(b.length).toBe(sa.family === 2 ? 16 : 28);
        expect(decodeSockAddr(new Uint8Array(b))).toEqual({ ok: true, addr: sa, length: b.length });
      }),
      { numRuns: 200 },
    );
  });

  it('RFC 2367 §2.3 unknown extensions anywhere are skipped, reported, and re-encoded in place', () => {
    const unknownExt = fc
      .record({ type: fc.integer({ min: 27, max: 0xffff }), words: fc.integer({ min: 1, max: 4 }), fill: fc.integer({ min: 0, max: 255 }) })
      .map(({ type, words, fill }) => {
        const b = Buffer.alloc(words * 8, fill);
        b.writeUInt16LE(words, 0);
        b.writeUInt16LE(type, 2);
        return b;
      });
    fc.assert(
      fc.property(pfKeyMessage, fc.array(fc.tuple(fc.nat(), unknownExt), { maxLength: 3 }), (m, inserts) => {
        const wire = encodeMessage(m);
        const bounds: number[] = [];
        for (let o = 16; o <= wire.length; o += o < wire.length ? wire.readUInt16LE(o) * 8 : 1) bounds.push(o);
        const types = new Set<number>();
        const chosen = inserts.filter(([, b]) => !types.has(b.readUInt16LE(2)) && types.add(b.readUInt16LE(2)));
        const at = new Map<number, Buffer[]>();
        for (const [n, b] of chosen) {
          const pos = bounds[n % bounds.length];
          at.set(pos, [...(at.get(pos) ?? []), b]);
        }
        const pieces: Buffer[] = [];
        for (let i = 0; i < bounds.length; i++) {
          pieces.push(...(at.get(bounds[i]) ?? []));
          if (i + 1 < bounds.length) pieces.push(wire.subarray(bounds[i], bounds[i + 1]));
        }
        const mixed = Buffer.concat([wire.subarray(0, 16), ...pieces]);
        mixed.writeUInt16LE(mixed.length / 8, 4);
        const r = decodeMessage(mixed);
        if (!r.ok) throw new Error(JSON.stringify(r.error));
        expect(r.msg.ext).toEqual(m.ext);
        expect((r.msg.unknown ?? []).map((u) => u.body.toString('hex')).sort()).toEqual(chosen.map(([, b]) => b.toString('hex')).sort());
        expect(r.warnings).toHaveLength(chosen.length);
        expect(encodeMessage(r.msg).equals(mixed)).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it('writes extensions in msg.ext key order (libipsec order for GETSPI: SA2, SRC, DST)', () => {
    const m: PfKeyMessage = {
      type: 1,
      satype: 3,
      errno: 0,
      seq: 1,
      pid: 1,
      ext: {
        sa2: { mode: 1, sequence: 0, reqid: 0 },
        addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.1', port: 0 } },
        addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.2', port: 0 } },
      },
    };
    const wire = encodeMessage(m);
    expect([wire.readUInt16LE(18), wire.readUInt16LE(34), wire.readUInt16LE(58)]).toEqual([19, 6, 5]);
    const r = decodeMessage(wire);
    expect(r.ok && Object.keys(r.msg.ext)).toEqual(['sa2', 'addressDst', 'addressSrc']);
  });
});
