import fc from 'fast-check';
import { NotifyType, PayloadType, ExchangeType, HeaderFlag } from '../../../src/ike/v2/constants';
import {
  InnerPayload,
  Payload,
  generateChain,
  generateMessage,
  parseInnerPayloads,
  parseMessage,
} from '../../../src/ike/v2/payloads';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('IKEv2 payloads: fixed byte fixtures (RFC 7296 §3)', () => {
  // IKE_SA_INIT request: SA(1 proposal: ENCR_AES_CBC keylen 128, PRF_HMAC_SHA2_256,
  // AUTH_HMAC_SHA2_256_128, DH 19) KE(19, 64 octets) Ni(16 octets) N(NAT_DETECTION_SOURCE_IP)
  const sa =
    '22 00 0030' + // next KE, len 48
    '00 00 002c 01 01 00 04' + // last proposal, len 44, #1, IKE, spi size 0, 4 transforms
    '03 00 000c 01 00 000c 800e0080' + // ENCR 12 keylen 128
    '03 00 0008 02 00 0005' + // PRF 5
    '03 00 0008 03 00 000c' + // INTEG 12
    '00 00 0008 04 00 0013'; // DH 19
  const ke = '28 00 0048 0013 0000' + 'ab'.repeat(64);
  const ni = '29 00 0014' + '11'.repeat(16);
  const natd = '00 00 001c 00 00 4004' + '22'.repeat(20);
  const body = sa + ke + ni + natd;
  const len = 28 + hex(body).length;
  const header = '0102030405060708 0000000000000000 21 20 22 08 00000000' + len.toString(16).padStart(8, '0');
  const datagram = hex(header + body);

  it('parses every field of an IKE_SA_INIT request', () => {
    const r = parseMessage(datagram);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { header: h, payloads } = r.value;
    expect(h.spiI).toBe(0x0102030405060708n);
    expect(h.spiR).toBe(0n);
    expect(h.exchangeType).toBe(ExchangeType.IKE_SA_INIT);
    expect(h.flags).toBe(HeaderFlag.INITIATOR);
    expect(h.majorVersion).toBe(2);
    expect(payloads.map((p) => p.type)).toEqual([PayloadType.SA, PayloadType.KE, PayloadType.NONCE, PayloadType.NOTIFY]);
    const s = payloads[0];
    if (s.type !== PayloadType.SA) throw new Error('not SA');
    expect(s.proposals).toHaveLength(1);
    expect(s.proposals[0].transforms).toEqual([
      { transformType: 1, transformId: 12, attributes: [{ type: 14, value: 128 }] },
      { transformType: 2, transformId: 5, attributes: [] },
      { transformType: 3, transformId: 12, attributes: [] },
      { transformType: 4, transformId: 19, attributes: [] },
    ]);
    const k = payloads[1];
    if (k.type !== PayloadType.KE) throw new Error('not KE');
    expect(k.dhGroup).toBe(19);
    expect(k.keyData.length).toBe(64);
    const n = payloads[3];
    if (n.type !== PayloadType.NOTIFY) throw new Error('not N');
    expect(n.notifyType).toBe(NotifyType.NAT_DETECTION_SOURCE_IP);
  });

  it('generates the identical octets back', () => {
    const r = parseMessage(datagram);
    if (!r.ok) throw new Error(r.error.message);
    const h = r.value.header;
    expect(generateMessage(h, r.value.payloads).equals(datagram)).toBe(true);
  });

  it('rejects a proposal whose Last Substruc says "last" while another follows', () => {
    const bad = hex(header + body);
    // second proposal appended is not present; instead flip the transform marker of the last transform to 3 (more)
    const idx = 28 + 4 + 8 + 12 + 8 + 8; // last transform's first octet
    bad[idx] = 3;
    const r = parseMessage(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('bad-last-substruc');
  });

  it('rejects a length field that disagrees with the datagram (RFC 7296 §3.1)', () => {
    const r = parseMessage(Buffer.concat([datagram, Buffer.from([0])]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'bad-length', offset: 24 });
  });

  it('names the offset of a truncated payload', () => {
    const cut = Buffer.from(datagram.subarray(0, 28 + 48 + 10));
    cut.writeUInt32BE(cut.length, 24);
    const r = parseMessage(cut);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'bad-length', offset: 28 + 48 + 2 });
  });

  it('rejects an unknown critical payload with its type (UNSUPPORTED_CRITICAL_PAYLOAD, §2.5)', () => {
    const m = hex('0102030405060708 0000000000000000 31 20 22 08 00000000 00000024 00 80 0008 deadbeef');
    const r = parseMessage(m);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'unsupported-critical-payload', payloadType: 0x31, offset: 28 });
  });

  it('skips an unknown non-critical payload and keeps it (§2.5)', () => {
    const m = hex('0102030405060708 0000000000000000 31 20 22 08 00000000 00000024 00 00 0008 deadbeef');
    const r = parseMessage(m);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.payloads).toEqual([{ type: 'unknown', payloadType: 0x31, body: hex('deadbeef') }]);
  });

  it('rejects major version 3 (INVALID_MAJOR_VERSION, §2.5)', () => {
    const m = Buffer.from(datagram);
    m[17] = 0x30;
    const r = parseMessage(m);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('bad-version');
  });

  it('keeps the SK payload opaque and records its offset; it must be last (§3.14)', () => {
    const m = hex('0102030405060708 1111111111111111 2e 20 23 08 00000001 00000028 23 00 000c 0102030405060708');
    const r = parseMessage(m);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.skOffset).toBe(28);
    expect(r.value.payloads[0]).toEqual({ type: PayloadType.SK, firstInner: PayloadType.IDi, body: hex('0102030405060708') });
  });

  it('parses an SKF payload (RFC 7383 §2.5)', () => {
    const m = hex('0102030405060708 1111111111111111 35 20 23 08 00000001 00000028 23 00 000c 0001 0003 aabbccdd');
    const r = parseMessage(m);
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(r.value.payloads[0]).toEqual({
        type: PayloadType.SKF,
        firstInner: PayloadType.IDi,
        fragmentNumber: 1,
        totalFragments: 3,
        body: hex('aabbccdd'),
      });
  });

  it('parses a Delete payload with two ESP SPIs and a TS payload (§3.11, §3.13)', () => {
    const del = '2c 00 0010 03 04 0002 11111111 22222222';
    const ts = '00 00 0018 01 000000 07 00 0010 0000 ffff c0000200 c00002ff';
    const r = parseInnerPayloads(hex(del + ts), PayloadType.DELETE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value[0]).toEqual({ type: PayloadType.DELETE, protocolId: 3, spis: [hex('11111111'), hex('22222222')] });
    expect(r.value[1]).toEqual({
      type: PayloadType.TSi,
      selectors: [{ tsType: 7, ipProtocolId: 0, startPort: 0, endPort: 65535, startAddress: hex('c0000200'), endAddress: hex('c00002ff') }],
    });
  });

  it('rejects a TS payload whose count exceeds its selectors', () => {
    const ts = '00 00 0018 02 000000 07 00 0010 0000 ffff c0000200 c00002ff';
    const r = parseInnerPayloads(hex(ts), PayloadType.TSi);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'bad-count', where: 'sk' });
  });
});

// ---------------------------------------------------------------------------
// property tests

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const critical = fc.option(fc.constant(true as const), { nil: undefined });

function withCritical<T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.tuple(arb, critical).map(([p, c]) => (c ? { ...p, critical: c } : p));
}

const attribute = fc.oneof(
  fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: u16 }),
  fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: bytes(0, 8) }),
);
const transform = fc.record({ transformType: u8, transformId: u16, attributes: fc.array(attribute, { maxLength: 3 }) });
const proposal = fc.record({
  proposalNum: u8,
  protocolId: u8,
  spi: fc.oneof(bytes(0, 0), bytes(4, 4), bytes(8, 8)),
  transforms: fc.array(transform, { maxLength: 5 }),
});
const tsel = fc.oneof(bytes(4, 4), bytes(16, 16)).chain((a) =>
  fc.record({
    tsType: u8,
    ipProtocolId: u8,
    startPort: u16,
    endPort: u16,
    startAddress: fc.constant(a),
    endAddress: bytes(a.length, a.length),
  }),
);

const innerPayload: fc.Arbitrary<InnerPayload> = fc.oneof(
  withCritical(fc.record({ type: fc.constant(PayloadType.SA as const), proposals: fc.array(proposal, { maxLength: 3 }) })),
  withCritical(fc.record({ type: fc.constant(PayloadType.KE as const), dhGroup: u16, keyData: bytes(0, 64) })),
  withCritical(fc.record({ type: fc.constantFrom(PayloadType.IDi as const, PayloadType.IDr as const), idType: u8, data: bytes(0, 20) })),
  withCritical(fc.record({ type: fc.constantFrom(PayloadType.CERT as const, PayloadType.CERTREQ as const), encoding: u8, data: bytes(0, 20) })),
  withCritical(fc.record({ type: fc.constant(PayloadType.AUTH as const), method: u8, data: bytes(0, 32) })),
  withCritical(fc.record({ type: fc.constant(PayloadType.NONCE as const), nonce: bytes(0, 64) })),
  withCritical(
    fc.record({
      type: fc.constant(PayloadType.NOTIFY as const),
      protocolId: u8,
      notifyType: u16,
      spi: fc.oneof(bytes(0, 0), bytes(4, 4), bytes(8, 8)),
      data: bytes(0, 16),
    }),
  ),
  withCritical(
    fc.oneof(bytes(0, 0), bytes(4, 4)).chain((s) =>
      fc.record({
        type: fc.constant(PayloadType.DELETE as const),
        protocolId: u8,
        spis: s.length === 0 ? fc.constant([]) : fc.array(bytes(4, 4), { minLength: 1, maxLength: 4 }),
      }),
    ),
  ),
  withCritical(fc.record({ type: fc.constant(PayloadType.VENDOR_ID as const), vendorId: bytes(0, 20) })),
  withCritical(fc.record({ type: fc.constantFrom(PayloadType.TSi as const, PayloadType.TSr as const), selectors: fc.array(tsel, { maxLength: 3 }) })),
  withCritical(
    fc.record({
      type: fc.constant(PayloadType.CP as const),
      cfgType: u8,
      attributes: fc.array(fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: bytes(0, 16) }), { maxLength: 3 }),
    }),
  ),
  withCritical(fc.record({ type: fc.constant(PayloadType.EAP as const), message: bytes(0, 20) })),
);

describe('IKEv2 payloads: properties', () => {
  it('parse(generate(payloads)) == payloads for every payload type (one table per payload)', () => {
    fc.assert(
      fc.property(fc.array(innerPayload, { maxLength: 6 }), (payloads) => {
        const first = payloads.length ? (payloads[0].type as number) : PayloadType.NONE;
        const r = parseInnerPayloads(generateChain(payloads), first);
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value).toEqual(payloads);
      }),
      { numRuns: 500 },
    );
  });

  it('whole messages round-trip with the header', () => {
    fc.assert(
      fc.property(fc.bigUintN(64), fc.bigUintN(64), u8, u8, fc.integer({ min: 0, max: 0xffffffff }), fc.array(innerPayload, { maxLength: 4 }), (spiI, spiR, ex, flags, mid, payloads) => {
        const h = { spiI, spiR, majorVersion: 2, minorVersion: 0, exchangeType: ex, flags, messageId: mid };
        const m = generateMessage(h, payloads as Payload[]);
        const r = parseMessage(m);
        expect(r.ok).toBe(true);
        if (r.ok) {
          expect(r.value.header).toMatchObject(h);
          expect(r.value.payloads).toEqual(payloads);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('fuzz: parseMessage never throws on mutated or random input, and reports an offset inside the input', () => {
    fc.assert(
      fc.property(
        fc.array(innerPayload, { maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), u8), { maxLength: 6 }),
        fc.nat(),
        (payloads, flips, cut) => {
          const m = generateMessage({ spiI: 1n, spiR: 2n, majorVersion: 2, minorVersion: 0, exchangeType: 34, flags: 8, messageId: 0 }, payloads as Payload[]);
          for (const [at, v] of flips) m[at % m.length] = v;
          const data = cut % 3 === 0 ? m.subarray(0, cut % (m.length + 1)) : m;
          const r = parseMessage(Buffer.from(data));
          if (!r.ok) {
            expect(r.error.offset).toBeGreaterThanOrEqual(0);
            expect(r.error.offset).toBeLessThanOrEqual(data.length);
            expect(r.error.message).not.toMatch(/internal parser error/);
          }
        },
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(bytes(0, 200), (raw) => {
        const r = parseMessage(raw);
        if (!r.ok) expect(r.error.message).not.toMatch(/internal parser error/);
      }),
      { numRuns: 2000 },
    );
  });
});
