/**
 * ESP against published full-packet vectors: decrypt to the right packet and
 * re-encrypt to the same bytes.
 * - RFC 3602 §4 cases #5–#8 (AES-CBC, transport and tunnel, full IPv4 packets)
 * - draft-mcgrew-gcm-test-01 (AES-GCM per RFC 4106, incl. ESN AAD of 12 bytes)
 * - RFC 7634 Appendix A (ChaCha20-Poly1305, tunnel mode)
 */
import rfc3602 from './vectors/esp-rfc3602.json';
import gcmDraft from './vectors/esp-gcm-draft-mcgrew.json';
import rfc7634 from './vectors/esp-rfc7634.json';
import { EspSa } from '../../src/xform/esp';
import { ENCR, TestEncr, hex, nodeProvider } from './provider';
import { addr, espSa } from './helpers';
import { encodeIpv4Header } from '../../src/xform/ip';

describe('RFC 3602 §4 AES-CBC ESP packets #5-#8', () => {
  for (const v of rfc3602.cases) {
    const mode = v.mode as 'transport' | 'tunnel';
    const sa = () =>
      espSa({
        spi: v.spi,
        mode,
        encr: ENCR.aesCbc128,
        encrKey: hex(v.key),
        src: addr('192.168.123.3'),
        dst: addr(mode === 'tunnel' ? '192.168.123.200' : '192.168.123.100'),
        replayWindow: 32,
      });
    const original = hex(v.original);
    const encrypted = hex(v.encrypted);

    test(`${v.name}: output reproduces the published packet`, () => {
      const esp = new EspSa(sa(), nodeProvider);
      const out = esp.output(original, {
        iv: hex(v.iv),
        seq: { hi: 0, lo: v.seq },
        outerIdentification: mode === 'tunnel' ? encrypted.readUInt16BE(4) : undefined,
      });
      expect(out.ok && out.value.toString('hex')).toBe(encrypted.toString('hex'));
      // the default RFC 4303 §2.4 padding is what the RFC shows
      expect(hex(v.padding)).toEqual(Buffer.from(Array.from({ length: hex(v.padding).length }, (_, i) => i + 1)));
    });

    test(`${v.name}: input returns the original packet`, () => {
      const esp = new EspSa(sa(), nodeProvider);
      const r = esp.input(encrypted);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      // transport mode: RFC 3602's original header carries the same TTL/ID; only protocol/length/checksum were rewritten
      expect(r.value.packet.toString('hex')).toBe(original.toString('hex'));
      expect(r.value.seq).toEqual({ hi: 0, lo: v.seq });
      expect(esp.counters.inPackets).toBe(1);
      // the same packet again is a replay (RFC 4303 §3.4.3)
      const again = esp.input(encrypted);
      expect(again.ok || again.reason).toBe('replay');
      expect(esp.counters.drops.replay).toBe(1);
    });
  }
});

const gcmRow = (keyHex: string): TestEncr =>
  keyHex.length === 32 ? ENCR.aesGcm128 : keyHex.length === 48 ? ENCR.aesGcm192 : ENCR.aesGcm256;

describe('draft-mcgrew-gcm-test-01 AES-GCM ESP (RFC 4106 §5 AAD incl. ESN)', () => {
  for (const v of gcmDraft.cases) {
    const aad = hex(v.aad);
    const esn = aad.length === 12;
    const spi = aad.readUInt32BE(0);
    const seq = esn ? { hi: aad.readUInt32BE(4), lo: aad.readUInt32BE(8) } : { hi: 0, lo: aad.readUInt32BE(4) };
    const wire = Buffer.concat([aad.subarray(0, 4), be32(seq.lo), hex(v.iv), hex(v.ciphertext), hex(v.icv)]);
    const pt = hex(v.plaintext);
    const mk = () => {
      const esp = new EspSa(
        espSa({ spi, encr: gcmRow(v.key), encrKey: Buffer.concat([hex(v.key), hex(v.salt)]), esn, replayWindow: 64 }),
        nodeProvider,
      );
      // place the receiver where the sender's ESN is, so the high half is inferred as in the vector
      esp.replay.setTop(seq);
      return esp;
    };
    test(`case ${v.index} (${esn ? 'ESN' : '32-bit SN'}): open gives payload and trailer, seal gives the same bytes`, () => {
      const esp = mk();
      const r = esp.open(wire);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const padLen = pt[pt.length - 2];
      expect(r.value.nextHeader).toBe(pt[pt.length - 1]);
      expect(r.value.payload.toString('hex')).toBe(pt.subarray(0, pt.length - 2 - padLen).toString('hex'));
      expect(r.value.seq).toEqual(seq);
      const again = esp.seal(r.value.payload, r.value.nextHeader, { iv: hex(v.iv), seq, padding: pt.subarray(pt.length - 2 - padLen, pt.length - 2) });
      expect(again.ok && again.value.toString('hex')).toBe(wire.toString('hex'));
    });
    test(`case ${v.index}: a flipped ciphertext bit is an ICV failure, not a crash`, () => {
      const bad = Buffer.from(wire);
      bad[12] ^= 1;
      const r = mk().open(bad);
      expect(r.ok || r.reason).toBe('icv-mismatch');
    });
  }
});

describe('RFC 7634 Appendix A ChaCha20-Poly1305 ESP (tunnel mode)', () => {
  const v = rfc7634;
  const src = addr('203.0.113.5');
  const dst = addr('203.0.113.6');
  const sa = () => espSa({ spi: v.spi, encr: ENCR.chacha, encrKey: Buffer.concat([hex(v.key), hex(v.salt)]), src, dst });
  const espBytes = Buffer.concat([be32(v.spi), be32(v.seq), hex(v.iv), hex(v.ciphertext)]);

  test('the inner packet is sealed to the published ciphertext and tag', () => {
    const r = new EspSa(sa(), nodeProvider).seal(hex(v.inner), v.nextHeader, { iv: hex(v.iv), seq: { hi: 0, lo: v.seq } });
    expect(r.ok && r.value.toString('hex')).toBe(espBytes.toString('hex'));
  });

  test('a full outer IPv4 + ESP packet decapsulates to the 84-byte ICMP packet', () => {
    const outer = encodeIpv4Header({
      dscp: 0, ecn: 0, totalLength: 20 + espBytes.length, identification: 1, flags: 0, fragmentOffset: 0,
      ttl: 64, protocol: 50, src, dst, options: Buffer.alloc(0),
    });
    const esp = new EspSa(sa(), nodeProvider);
    const r = esp.input(Buffer.concat([outer, espBytes]));
    expect(r.ok && r.value.packet.toString('hex')).toBe(v.inner);
    expect(esp.counters.inBytes).toBe(84);
  });
});

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
