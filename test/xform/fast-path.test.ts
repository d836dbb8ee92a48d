/**
 * The default ESP path (src/xform/crypto-provider.ts): libcrypto contexts reused per SA and
 * whole ESP packets sealed/opened in place in batches (src/crypto/openssl-aead.ts
 * EspAeadBatch). It must be indistinguishable on the wire from the node:crypto path:
 * RFC 4303 §2 layout, IV = 64-bit sequence number (RFC 4106 §3.1, RFC 7634 §2), AAD =
 * SPI || SN or SPI || ESN-high || SN (RFC 4106 §5), default padding 1, 2, 3... (RFC 4303 §2.4),
 * UDP encapsulation (RFC 3948 §2.1), and the same drops (ICV, replay, truncation).
 */
import { createNodeAead } from '../../src/crypto/aead';
import { createNodeCipher } from '../../src/crypto/cipher';
import { createNodeMac } from '../../src/crypto/mac';
import { algorithmById, type EncrAlg, type IntegAlg } from '../../src/crypto/registry';
import { registryProvider, selectCryptoBackend } from '../../src/xform/crypto-provider';
import { EspSa } from '../../src/xform/esp';
import type { CryptoProvider, XformSa } from '../../src/xform/sa';
import { addr, espSa, udp4, udp6 } from './helpers';

const nodeProvider: CryptoProvider<EncrAlg, IntegAlg> = { createAead: createNodeAead, createCipher: createNodeCipher, createMac: createNodeMac };

/** The outer IPv4 header's Identification (a process-wide counter) and checksum differ between two SAs; everything else must not. */
function masked(pkt: Buffer): string {
  const b = Buffer.from(pkt);
  if (b[0] >> 4 === 4) b.fill(0, 4, 6).fill(0, 10, 12);
  return b.toString('hex');
}

const inner4 = Array.from({ length: 70 }, (_, i) => udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(i * 21, i), { tos: i % 4, df: i % 2 === 0 }));
const inner6 = Array.from({ length: 20 }, (_, i) => udp6('2001:db8::1', '2001:db8:1::1', Buffer.alloc(i * 67, i)));

interface Shape {
  name: string;
  sa: Partial<XformSa>;
}
const shapes: Shape[] = [
  { name: 'IPv4 outer, ESP-in-UDP', sa: { natt: { sport: 4500, dport: 4500 } } },
  { name: 'IPv4 outer, raw ESP, ESN', sa: { esn: true } },
  { name: 'IPv6 outer, ESP-in-UDP', sa: { src: addr('2001:db8:ff::1'), dst: addr('2001:db8:ff::2'), natt: { sport: 4500, dport: 4501 } } },
];

beforeAll(() => {
  expect(selectCryptoBackend()).toEqual({ enabled: true, reason: expect.stringContaining('libcrypto') });
});

describe.each(['aes-gcm-16', 'aes-gcm-8', 'aes-gcm-12', 'chacha20-poly1305'])('%s: whole-packet engine vs node:crypto', (id) => {
  const alg = algorithmById('encr', id);
  const key = Buffer.alloc(alg.defaultKeyBits / 8 + alg.saltBytes, 0x5a);
  for (const shape of shapes) {
    const sa = (): XformSa => espSa({ encr: alg, encrKey: key, replayWindow: 128, ...shape.sa });
    test(`${shape.name}: identical packets per packet and in a batch, and each side opens the other's`, () => {
      const fast = new EspSa(sa(), registryProvider);
      expect(fast.batched).toBe(true);
      const slow = new EspSa(sa(), nodeProvider);
      expect(slow.batched).toBe(false);
      const fastBatch = new EspSa(sa(), registryProvider);
      const pkts = [...inner4, ...inner6];
      const viaSlow = pkts.map((p) => slow.output(p));
      const viaFast = pkts.map((p) => fast.output(p));
      const viaBatch = fastBatch.outputBatch(pkts);
      for (let i = 0; i < pkts.length; i++) {
        const s = viaSlow[i]!;
        const f = viaFast[i]!;
        const b = viaBatch[i]!;
        if (!s.ok || !f.ok || !b.ok) throw new Error(`packet ${i} not sealed`);
        expect(masked(f.value)).toBe(masked(s.value));
        expect(masked(b.value)).toBe(masked(s.value));
      }
      expect(fastBatch.counters.outPackets).toBe(pkts.length);
      expect(fastBatch.counters.outBytes).toBe(slow.counters.outBytes);
      // node:crypto opens the engine's packets, the engine (batched) opens node:crypto's
      const rxSlow = new EspSa(sa(), nodeProvider);
      viaBatch.forEach((r, i) => {
        const got = r.ok ? rxSlow.input(r.value) : null;
        expect(got?.ok && got.value.packet.equals(pkts[i]!)).toBe(true);
      });
      const rxFast = new EspSa(sa(), registryProvider);
      const opened = rxFast.inputBatch(viaSlow.map((r) => (r.ok ? r.value : Buffer.alloc(0))));
      opened.forEach((r, i) => expect(r.ok && r.value.packet.equals(pkts[i]!)).toBe(true));
      expect(rxFast.counters.inPackets).toBe(pkts.length);
    });
  }

  test('drops inside a batch are the same as per packet: ICV, replay, truncated, wrong SPI', () => {
    const s = (): XformSa => espSa({ encr: alg, encrKey: key, replayWindow: 64, natt: { sport: 4500, dport: 4500 } });
    const tx = new EspSa(s(), registryProvider);
    const wire = tx.outputBatch(inner4.slice(0, 10)).map((r) => (r.ok ? r.value : Buffer.alloc(0)));
    const flipped = Buffer.from(wire[2]!);
    flipped[flipped.length - 1] ^= 0x80; // ICV
    const flippedCt = Buffer.from(wire[3]!);
    flippedCt[20 + 8 + 16 + 3] ^= 1; // ciphertext
    const short = wire[4]!.subarray(0, 20 + 8 + 16);
    const otherSpi = Buffer.from(wire[5]!);
    otherSpi.writeUInt32BE(0x9999, 28);
    const batch = [wire[0]!, wire[1]!, flipped, flippedCt, short, otherSpi, wire[6]!, wire[0]!];
    const expectDrops = (results: ReturnType<EspSa['inputBatch']>) =>
      results.map((r) => (r.ok ? 'ok' : r.reason));
    const fastRx = new EspSa(s(), registryProvider);
    const slowRx = new EspSa(s(), nodeProvider);
    const fastGot = expectDrops(fastRx.inputBatch(batch));
    const slowGot = expectDrops(batch.map((p) => slowRx.input(p)));
    expect(fastGot).toEqual(['ok', 'ok', 'icv-mismatch', 'icv-mismatch', 'truncated', 'no-sa', 'ok', 'replay']);
    expect(slowGot).toEqual(fastGot);
    expect(fastRx.counters.drops).toEqual(slowRx.counters.drops);
    // the ICV-failed sequence numbers were not taken: the intact packets still go through
    expect(fastRx.input(wire[2]!).ok).toBe(true);
    expect(fastRx.input(wire[3]!).ok).toBe(true);
  });
});

describe('packets the engine does not take stay on the general path', () => {
  const gcm = algorithmById('encr', 'aes-gcm-16');
  const key = Buffer.alloc(20, 7);
  test('transport mode, random padding, MSS clamping and explicit vector options use the per-packet path with the same results', () => {
    expect(new EspSa(espSa({ encr: gcm, encrKey: key, mode: 'transport' }), registryProvider).batched).toBe(false);
    expect(new EspSa(espSa({ encr: gcm, encrKey: key, padding: 'random' }), registryProvider).batched).toBe(false);
    expect(new EspSa(espSa({ encr: gcm, encrKey: key, tunnel: { ...espSa({ encr: gcm, encrKey: key }).tunnel, mssClamp: 1360 } }), registryProvider).batched).toBe(false);
    // TFC padding (RFC 4303 §2.7) on an engine SA: built by the general path, opened by the engine
    const tx = new EspSa(espSa({ encr: gcm, encrKey: key }), registryProvider);
    const r = tx.output(inner4[3]!, { tfcPadding: 33 });
    const rx = new EspSa(espSa({ encr: gcm, encrKey: key }), registryProvider);
    const back = r.ok ? rx.input(r.value) : null;
    expect(back?.ok && back.value.packet.equals(inner4[3]!)).toBe(true);
  });
  test('AES-CBC + HMAC-SHA2-256 through reused libcrypto contexts equals node:crypto (IV injected)', () => {
    const iv = Buffer.alloc(16, 0x33);
    const s = (): XformSa => espSa({ encr: algorithmById('encr', 'aes-cbc'), encrKey: Buffer.alloc(16, 2), integ: algorithmById('integ', 'hmac-sha2-256-128'), integKey: Buffer.alloc(32, 3) });
    const a = new EspSa(s(), registryProvider, undefined, () => iv);
    const b = new EspSa(s(), nodeProvider, undefined, () => iv);
    for (const p of inner4.slice(0, 20)) {
      const x = a.output(p);
      const y = b.output(p);
      expect(x.ok && y.ok && masked(x.value) === masked(y.value)).toBe(true);
    }
  });
});
