/**
 * The engine on tanuki's own crypto layer (src/crypto via crypto-registry-port.ts),
 * cross-checked against the independent node:crypto test port: an IKE SA between an
 * engine on each must work, which pins both to the same RFC 7296 / RFC 5282 / RFC 7634 bytes.
 */
import { ExchangeType, NotifyType } from '../../../src/ike/v2/constants';
import { registryCryptoPort, deterministicRegistryCryptoPort } from '../../../src/ike/v2/crypto-registry-port';
import { notify, parseMessage } from '../../../src/ike/v2/payloads';
import { SkProtector } from '../../../src/ike/v2/sk';
import { SadbMsgType } from '../../../src/pfkey/constants';
import { VirtualNet } from '../helpers/harness';
import { pskPair } from '../helpers/configs';
import { nodeCryptoPort } from '../helpers/node-crypto-port';

describe('IkeCryptoPort over src/crypto', () => {
  it('reproduces the RFC 7634 Appendix B message with ChaCha20-Poly1305', () => {
    const encr = registryCryptoPort.encr(28, undefined)!;
    expect(encr).toMatchObject({ aead: true, keyBytes: 32, saltBytes: 4, ivBytes: 8, icvBytes: 16 });
    const key = Buffer.concat([Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i)), Buffer.from('a0a1a2a3', 'hex')]);
    const sk = new SkProtector(encr, null, key, Buffer.alloc(0));
    const m = sk.seal(
      { spiI: 0xc0c1c2c3c4c5c6c7n, spiR: 0xd0d1d2d3d4d5d6d7n, majorVersion: 2, minorVersion: 0, exchangeType: ExchangeType.INFORMATIONAL, flags: 0, messageId: 9 },
      [notify(NotifyType.SET_WINDOW_SIZE, Buffer.from('0000000a', 'hex'))],
      Buffer.from('1011121314151617', 'hex'),
    );
    expect(m.subarray(40).toString('hex')).toBe('610394701f8d017f7c129248896b71bfe25236efd7cdc67066906315b2');
  });

  it.each([
    [12, 256, 12],
    [20, 128, 0],
    [20, 256, 0],
    [28, undefined, 0],
  ])('SK payloads of ENCR %i/%s INTEG %i interoperate with the node:crypto port', (encrId, bits, integId) => {
    const a = registryCryptoPort.encr(encrId, bits)!;
    const b = nodeCryptoPort.encr(encrId, bits ?? 256)!;
    const ia = integId ? registryCryptoPort.integ(integId) : null;
    const ib = integId ? nodeCryptoPort.integ(integId) : null;
    const ek = Buffer.alloc(a.keyBytes + (a.aead ? a.saltBytes : 0), 0x5a);
    const ik = Buffer.alloc(ia?.keyBytes ?? 0, 0x33);
    const sa = new SkProtector(a, ia, ek, ik);
    const sb = new SkProtector(b, ib, ek, ik);
    const inner = [notify(NotifyType.INITIAL_CONTACT)];
    const h = { spiI: 1n, spiR: 2n, majorVersion: 2, minorVersion: 0, exchangeType: 37, flags: 8, messageId: 3 };
    for (const [x, y] of [[sa, sb], [sb, sa]]) {
      const m = x.seal(h, inner, Buffer.alloc(x.ivBytes, 1));
      const p = parseMessage(m);
      if (!p.ok) throw new Error(p.error.message);
      expect(y.open(m, p.value)).toEqual({ ok: true, value: inner });
    }
  });

  it.each([
    ['AES-GCM-16 / x25519', { dh: [31] }],
    ['AES-CBC + HMAC-SHA2-256 / ecp256', { encr: { id: 12, keyBits: 128 }, integ: [12], dh: [19], esp: { id: 12, keyBits: 128 }, espInteg: [12] }],
    ['ChaCha20-Poly1305 / modp2048', { encr: { id: 28 }, dh: [14] }],
  ] as [string, Parameters<typeof pskPair>[0]][])('a full IKE_SA (%s) between an engine on src/crypto and one on node:crypto', (_n, opts) => {
    const net = new VirtualNet();
    const { a, b } = pskPair(opts);
    const A = net.add('A', '10.99.0.1', [a], { crypto: deterministicRegistryCryptoPort });
    const B = net.add('B', '10.99.0.2', [b]);
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()[0]?.state).toBe('established');
    expect(B.engine.ikeSas()[0]?.state).toBe('established');
    const updA = A.kernel.log.find((m) => m.type === SadbMsgType.UPDATE)!;
    const addB = B.kernel.log.find((m) => m.type === SadbMsgType.ADD)!;
    expect(updA.ext.sa!.spi).toBe(addB.ext.sa!.spi);
    expect(updA.ext.keyEncrypt).toEqual(addB.ext.keyEncrypt);
    expect(updA.ext.sa!.encrypt).toBe(addB.ext.sa!.encrypt);
    A.engine.deleteIkeSa(A.engine.ikeSas()[0].serial, 10);
    net.pump();
    expect(A.kernel.sas.size + B.kernel.sas.size).toBe(0);
  });

  it('refuses ENCR_NULL for an IKE SA (RFC 7296 §3.3.2) but knows it for ESP', () => {
    expect(registryCryptoPort.encr(11, undefined)?.ikeAllowed).toBe(false);
    expect(registryCryptoPort.espEncr(11, undefined)).not.toBeNull();
    // Linux has no PF_KEY number for ChaCha20-Poly1305: tanuki's private SADB_X_EALG 251, key 256 bits + 4-byte salt (RFC 7634 §2)
    expect(registryCryptoPort.espEncr(28, undefined)).toEqual({ sadbEalg: 251, keyBytes: 36 });
  });
});
