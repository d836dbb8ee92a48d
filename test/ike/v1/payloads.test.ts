/**
 * ISAKMP payload tables (RFC 2408 §3, RFC 2407 §4.6, RFC 3947): round trips,
 * the SA payload of ike-scan's captured Checkpoint exchange parsed from its
 * wire bytes, typed errors with offsets, and a fuzz run.
 */
import fc from 'fast-check';
import { IdType, PayloadType, ProtocolId } from '../../../src/ike/v1/constants';
import { Payload, generateMessage, generatePayloads, parseHeader, parsePayloads } from '../../../src/ike/v1/payloads';

const sample: Payload[] = [
  {
    type: PayloadType.SA,
    doi: 1,
    situation: 1,
    proposals: [
      {
        proposalNum: 1,
        protocolId: ProtocolId.IPSEC_ESP,
        spi: Buffer.from('0a0b0c0d', 'hex'),
        transforms: [
          { transformNum: 1, transformId: 12, attributes: [{ type: 4, value: 1 }, { type: 6, value: 256 }, { type: 2, value: Buffer.from('00015180', 'hex') }] },
          { transformNum: 2, transformId: 3, attributes: [{ type: 5, value: 2 }] },
        ],
      },
    ],
  },
  { type: PayloadType.KE, keyData: Buffer.alloc(128, 3) },
  { type: PayloadType.NONCE, data: Buffer.alloc(16, 4) },
  { type: PayloadType.ID, idType: IdType.IPV4_ADDR_SUBNET, protocolId: 17, port: 500, data: Buffer.from('0a000000ffffff00', 'hex') },
  { type: PayloadType.ID, idType: IdType.FQDN, protocolId: 0, port: 0, data: Buffer.from('vpn.example.org') },
  { type: PayloadType.ID, idType: IdType.DER_ASN1_DN, protocolId: 0, port: 0, data: Buffer.from('3000', 'hex') },
  { type: PayloadType.CERT, encoding: 4, data: Buffer.from('308201', 'hex') },
  { type: PayloadType.CR, encoding: 4, data: Buffer.alloc(0) },
  { type: PayloadType.HASH, data: Buffer.alloc(20, 5) },
  { type: PayloadType.SIG, data: Buffer.alloc(64, 6) },
  { type: PayloadType.N, doi: 1, protocolId: 1, notifyType: 36136, spi: Buffer.alloc(16, 7), data: Buffer.from('00000001', 'hex') },
  { type: PayloadType.D, doi: 1, protocolId: 3, spis: [Buffer.from('11223344', 'hex'), Buffer.from('55667788', 'hex')] },
  { type: PayloadType.VID, data: Buffer.from('afcad71368a1f1c96b8696fc77570100', 'hex') },
  { type: PayloadType.NAT_D, data: Buffer.alloc(20, 8) },
  { type: PayloadType.NAT_D_DRAFT, data: Buffer.alloc(20, 9) },
  { type: PayloadType.NAT_OA, idType: IdType.IPV4_ADDR, address: Buffer.from([192, 168, 1, 2]) },
  { type: PayloadType.ATTR, cfgType: 1, identifier: 7, attributes: [{ type: 1, value: Buffer.alloc(0) }, { type: 16521, value: 3 }] },
];

describe('ISAKMP payload tables', () => {
  it('every payload type round-trips through one chain (RFC 2408 §3.2 generic header chaining)', () => {
    const wire = generatePayloads(sample);
    const r = parsePayloads(wire, PayloadType.SA);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value).toEqual(sample);
  });

  it('parses the SA payload body ike-scan captured from a Checkpoint responder (DES, MD5, PSK, modp1024, 28800 s)', () => {
    // SAi_b from check-psk-crack-2: DOI 1, SIT_IDENTITY_ONLY, P#1 ISAKMP, T#1 KEY_IKE
    const body = Buffer.from('00000001000000010000002c01010001000000240101000080010001800200018003000180040002800b0001000c000400007080', 'hex');
    const chain = Buffer.concat([Buffer.from([0, 0, 0, body.length + 4]), body]);
    const r = parsePayloads(chain, PayloadType.SA);
    expect(r.ok).toBe(true);
    if (!r.ok || r.value[0].type !== PayloadType.SA) return;
    const t = r.value[0].proposals[0].transforms[0];
    expect(r.value[0].proposals[0].protocolId).toBe(ProtocolId.ISAKMP);
    expect(t.transformId).toBe(1);
    expect(t.attributes).toEqual([
      { type: 1, value: 1 },
      { type: 2, value: 1 },
      { type: 3, value: 1 },
      { type: 4, value: 2 },
      { type: 11, value: 1 },
      { type: 12, value: Buffer.from('00007080', 'hex') },
    ]);
    expect(generatePayloads(r.value)).toEqual(chain);
  });

  it('a truncated payload length is a typed error with the offset in the datagram', () => {
    const wire = generatePayloads(sample.slice(0, 3));
    wire.writeUInt16BE(0xffff, 2);
    const r = parsePayloads(wire, PayloadType.SA);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('bad-length');
      expect(r.error.offset).toBe(28 + 2);
    }
  });

  it('a transform whose Next Payload is neither T nor NONE is rejected (RFC 2408 §3.6)', () => {
    const wire = generatePayloads(sample.slice(0, 1));
    // SA generic header 4 + DOI/SIT 8 + proposal header 8 + SPI 4 → first transform
    wire[4 + 8 + 8 + 4] = 9;
    const r = parsePayloads(wire, PayloadType.SA);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('bad-last-substruc');
  });

  it('header: bad major version and a length beyond the datagram are typed errors (RFC 2408 §5.2)', () => {
    const msg = generateMessage({ cookieI: 1n, cookieR: 0n, majorVersion: 1, minorVersion: 0, exchangeType: 2, flags: 0, messageId: 0 }, PayloadType.SA, generatePayloads(sample.slice(0, 1)));
    expect(parseHeader(msg).ok).toBe(true);
    const v2 = Buffer.from(msg);
    v2[17] = 0x20;
    const a = parseHeader(v2);
    expect(!a.ok && a.error.code).toBe('bad-version');
    const b = parseHeader(msg.subarray(0, msg.length - 1));
    expect(!b.ok && b.error.offset).toBe(24);
  });

  it('fuzz: 5,000 mutated chains never throw and either parse or give a typed error', () => {
    const base = generatePayloads(sample);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(base.length), (muts, cut) => {
        const m = Buffer.from(base.subarray(0, Math.max(cut, 4)));
        for (const [i, v] of muts) if (i < m.length) m[i] = v;
        const r = parsePayloads(m, PayloadType.SA);
        if (r.ok) return Array.isArray(r.value);
        return typeof r.error.code === 'string' && r.error.offset >= 28 && r.error.offset <= 28 + m.length;
      }),
      { numRuns: 5000, seed: 2409 },
    );
  });
});
