import * as nc from 'node:crypto';
import { NotifyType, PayloadType, ExchangeType } from '../../../src/ike/v2/constants';
import { deriveChildSaKeys, deriveIkeSaKeys, idPayloadBody, prfPlus, pskAuth, signedOctets } from '../../../src/ike/v2/keymat';
import { notify, parseMessage } from '../../../src/ike/v2/payloads';
import { SkProtector } from '../../../src/ike/v2/sk';
import { nodeCryptoPort } from '../helpers/node-crypto-port';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const hmac = (k: Buffer, d: Buffer) => nc.createHmac('sha256', k).update(d).digest();
const prf256 = nodeCryptoPort.prf(5)!;

describe('prf+ and key derivation (RFC 7296 §2.13, §2.14, §2.17)', () => {
  it('prf+ is T1 | T2 | ... with Tn = prf(K, Tn-1 | S | n)', () => {
    const k = Buffer.from('key');
    const s = Buffer.from('seed');
    const t1 = hmac(k, Buffer.concat([s, Buffer.from([1])]));
    const t2 = hmac(k, Buffer.concat([t1, s, Buffer.from([2])]));
    const t3 = hmac(k, Buffer.concat([t2, s, Buffer.from([3])]));
    expect(prfPlus(prf256.prf, k, s, 80)).toEqual(Buffer.concat([t1, t2, t3]).subarray(0, 80));
  });

  it('prf+ refuses more than 255 blocks', () => {
    expect(() => prfPlus(prf256.prf, Buffer.alloc(1), Buffer.alloc(1), 256 * 32)).toThrow(RangeError);
  });

  it('SKEYSEED = prf(Ni | Nr, g^ir) and SK_* are consecutive slices of prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)', () => {
    const ni = Buffer.alloc(32, 1);
    const nr = Buffer.alloc(32, 2);
    const gir = Buffer.alloc(32, 3);
    const k = deriveIkeSaKeys(prf256, ni, nr, gir, 0x1122334455667788n, 0x99aabbccddeeff00n, { integKeyBytes: 32, encrKeyBytes: 20 });
    const skeyseed = hmac(Buffer.concat([ni, nr]), gir);
    expect(k.skeyseed).toEqual(skeyseed);
    const stream = prfPlus(prf256.prf, skeyseed, Buffer.concat([ni, nr, hex('1122334455667788'), hex('99aabbccddeeff00')]), 32 * 3 + 32 * 2 + 20 * 2);
    expect(Buffer.concat([k.skD, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr])).toEqual(stream);
    expect([k.skD.length, k.skAi.length, k.skEi.length, k.skPr.length]).toEqual([32, 32, 20, 32]);
  });

  it('CHILD_SA KEYMAT: encr i→r, integ i→r, encr r→i, integ r→i; PFS puts g^ir first (§2.17)', () => {
    const skD = Buffer.alloc(32, 9);
    const ni = Buffer.alloc(16, 1);
    const nr = Buffer.alloc(16, 2);
    const c = deriveChildSaKeys(prf256, skD, ni, nr, null, 20, 32);
    const km = prfPlus(prf256.prf, skD, Buffer.concat([ni, nr]), 104);
    expect(Buffer.concat([c.encrI, c.integI, c.encrR, c.integR])).toEqual(km);
    const gir = Buffer.alloc(32, 7);
    const p = deriveChildSaKeys(prf256, skD, ni, nr, gir, 20, 0);
    expect(Buffer.concat([p.encrI, p.encrR])).toEqual(prfPlus(prf256.prf, skD, Buffer.concat([gir, ni, nr]), 40));
    expect(p.integI.length).toBe(0);
  });

  it('PSK AUTH = prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, IDbody)) (§2.15)', () => {
    const psk = Buffer.from('interop-test-psk');
    const msg1 = Buffer.from('message one');
    const nr = Buffer.alloc(32, 5);
    const skPi = Buffer.alloc(32, 6);
    const id = idPayloadBody(2, Buffer.from('a.test'));
    expect(id).toEqual(Buffer.concat([hex('02000000'), Buffer.from('a.test')]));
    const octets = signedOctets(prf256.prf, msg1, nr, skPi, id);
    const expected = hmac(hmac(psk, Buffer.from('Key Pad for IKEv2')), Buffer.concat([msg1, nr, hmac(skPi, id)]));
    expect(pskAuth(prf256.prf, psk, octets)).toEqual(expected);
  });
});

describe('SK payload protection (RFC 7296 §3.14, RFC 5282, RFC 7634)', () => {
  it('ChaCha20-Poly1305 reproduces the RFC 7634 Appendix B IKEv2 message', () => {
    const encr = nodeCryptoPort.encr(28, 256)!;
    const key = Buffer.concat([Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i)), hex('a0a1a2a3')]);
    const sk = new SkProtector(encr, null, key, Buffer.alloc(0));
    const m = sk.seal(
      { spiI: 0xc0c1c2c3c4c5c6c7n, spiR: 0xd0d1d2d3d4d5d6d7n, majorVersion: 2, minorVersion: 0, exchangeType: ExchangeType.INFORMATIONAL, flags: 0, messageId: 9 },
      [notify(NotifyType.SET_WINDOW_SIZE, hex('0000000a'))],
      hex('1011121314151617'),
    );
    expect(m.toString('hex')).toBe(
      'c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d7' +
        '2e202500000000090000004529000029' +
        '1011121314151617' +
        '610394701f8d017f7c129248896b71bfe25236efd7cdc670669063' +
        '15b2',
    );
    const parsed = parseMessage(m);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const inner = sk.open(m, parsed.value);
    expect(inner).toEqual({ ok: true, value: [notify(NotifyType.SET_WINDOW_SIZE, hex('0000000a'))] });
  });

  const header = { spiI: 1n, spiR: 2n, majorVersion: 2, minorVersion: 0, exchangeType: ExchangeType.IKE_AUTH, flags: 8, messageId: 1 };
  const inner = [
    { type: PayloadType.IDi as const, idType: 2, data: Buffer.from('a.test') },
    { type: PayloadType.AUTH as const, method: 2, data: Buffer.alloc(32, 0xaa) },
  ];

  it.each([
    ['AES-CBC-128 + HMAC-SHA2-256-128', 12, 128, 12],
    ['AES-CBC-256 + HMAC-SHA1-96', 12, 256, 2],
    ['AES-GCM-16-128', 20, 128, 0],
    ['AES-GCM-16-256', 20, 256, 0],
    ['ChaCha20-Poly1305', 28, 256, 0],
  ])('%s: open(seal(x)) == x, and one flipped bit anywhere is rejected', (_name, encrId, bits, integId) => {
    const encr = nodeCryptoPort.encr(encrId, bits)!;
    const integ = integId ? nodeCryptoPort.integ(integId) : null;
    const ek = Buffer.alloc(encr.keyBytes + (encr.aead ? encr.saltBytes : 0), 0x42);
    const ik = Buffer.alloc(integ?.keyBytes ?? 0, 0x24);
    const sk = new SkProtector(encr, integ, ek, ik);
    const m = sk.seal(header, inner, Buffer.alloc(sk.ivBytes, 7));
    const parsed = parseMessage(m);
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(sk.open(m, parsed.value)).toEqual({ ok: true, value: inner });
    if (!encr.aead) expect((m.length - 28 - 4 - 16 - sk.icvBytes) % 16).toBe(0);
    for (const at of [0, 20, 30, 40, m.length - 1]) {
      const bad = Buffer.from(m);
      bad[at] ^= 1;
      const p = parseMessage(bad);
      if (p.ok) expect(sk.open(bad, p.value)).toBeNull();
    }
  });
});
