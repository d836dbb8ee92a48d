/**
 * Held-out vectors from an independent implementation: ESP packets made by the
 * Linux 4.4 kernel (`ip xfrm state ... mode tunnel ... flag align4`), published
 * in scapy's test/scapy/layers/ipsec.uts. tanuki must decrypt them to an ICMP
 * packet and, given the same IV, produce the kernel's bytes (same padding
 * rule: RFC 4303 §2.4 monotonic padding to the cipher block).
 */
import vectors from './vectors/esp-scapy-linux.json';
import { EspSa } from '../../src/xform/esp';
import { IPPROTO, encodeIpv4Header, internetChecksum, parseIp } from '../../src/xform/ip';
import { ENCR, TestEncr, hex, nodeProvider } from './provider';
import { addr, espSa } from './helpers';

const ROWS: Record<string, TestEncr> = { '3des-cbc': ENCR.des3Cbc, 'aes-cbc': ENCR.aesCbc128, 'aes-ctr': ENCR.aesCtr128 };

describe('Linux-made ESP reference packets (scapy ipsec.uts)', () => {
  for (const v of vectors.cases) {
    test(`${v.name}: decrypts to the kernel's inner ICMP packet and re-encrypts to the same bytes`, () => {
      const sa = espSa({ spi: 0x222, encr: ROWS[v.alg], encrKey: hex(v.key), src: addr('10.125.0.2'), dst: addr('10.125.0.1'), replayWindow: 32 });
      const esp = hex(v.esp);
      const outer = encodeIpv4Header({
        dscp: 0, ecn: 0, totalLength: 20 + esp.length, identification: 7, flags: 0, fragmentOffset: 0,
        ttl: 64, protocol: IPPROTO.ESP, src: addr('10.125.0.2'), dst: addr('10.125.0.1'), options: Buffer.alloc(0),
      });
      const rx = new EspSa(sa, nodeProvider);
      const r = rx.input(Buffer.concat([outer, esp]));
      if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
      expect(r.value.nextHeader).toBe(IPPROTO.IPIP);
      const inner = parseIp(r.value.packet);
      if (!inner.ok || inner.value.family !== 4) throw new Error('inner');
      expect(inner.value.protocol).toBe(IPPROTO.ICMP);
      expect(internetChecksum(r.value.packet.subarray(inner.value.payloadOffset, inner.value.totalLength))).toBe(0);
      // same IV, same sequence number: our padding and framing give the kernel's ciphertext
      const tx = new EspSa(sa, nodeProvider);
      const again = tx.seal(r.value.packet, IPPROTO.IPIP, { iv: esp.subarray(8, 8 + v.ivBytes), seq: { hi: 0, lo: 1 } });
      expect(again.ok && again.value.toString('hex')).toBe(v.esp);
    });
  }
});
