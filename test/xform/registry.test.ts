/**
 * Every implemented ESP/AH algorithm of the crypto registry through ESP/AH
 * with src/crypto's primitives (registryProvider), and the published ESP
 * vectors once more through them: RFC 3602 #5-#8, draft-mcgrew-gcm-test-01,
 * RFC 7634 App. A, and the Linux-made scapy packets.
 */
import rfc3602 from './vectors/esp-rfc3602.json';
import gcmDraft from './vectors/esp-gcm-draft-mcgrew.json';
import rfc7634 from './vectors/esp-rfc7634.json';
import scapy from './vectors/esp-scapy-linux.json';
import { EspSa } from '../../src/xform/esp';
import { AhSa } from '../../src/xform/ah';
import { registryProvider } from '../../src/xform/crypto-provider';
import { algorithmById, algorithmsOf, EncrAlg } from '../../src/crypto/registry';
import { enableFastAead, disableFastAead } from '../../src/crypto/openssl-aead';
import { hex } from './provider';
import { addr, espSa, udp4, udp6 } from './helpers';

const esp = (o: Parameters<typeof espSa>[0]) => new EspSa(espSa(o), registryProvider);
const row = (id: string): EncrAlg => algorithmById('encr', id);

describe('published ESP vectors through src/crypto', () => {
  test('RFC 3602 #5-#8 (aes-cbc)', () => {
    for (const v of rfc3602.cases) {
      const mode = v.mode as 'transport' | 'tunnel';
      const s = { spi: v.spi, mode, encr: row('aes-cbc'), encrKey: hex(v.key), src: addr('192.168.123.3'), dst: addr(mode === 'tunnel' ? '192.168.123.200' : '192.168.123.100') };
      const enc = hex(v.encrypted);
      const out = esp(s).output(hex(v.original), { iv: hex(v.iv), seq: { hi: 0, lo: v.seq }, outerIdentification: mode === 'tunnel' ? enc.readUInt16BE(4) : undefined });
      expect(out.ok && out.value.toString('hex')).toBe(v.encrypted);
      const back = esp(s).input(enc);
      expect(back.ok && back.value.packet.toString('hex')).toBe(v.original);
    }
  });
  for (const backend of ['node', 'openssl-ffi'] as const) {
    test(`draft-mcgrew-gcm-test-01 and RFC 7634 A (${backend} AEAD backend)`, () => {
      if (backend === 'openssl-ffi') enableFastAead();
      try {
        for (const v of gcmDraft.cases) {
          const aad = hex(v.aad);
          const esn = aad.length === 12;
          const seq = esn ? { hi: aad.readUInt32BE(4), lo: aad.readUInt32BE(8) } : { hi: 0, lo: aad.readUInt32BE(4) };
          const spiB = aad.subarray(0, 4);
          const lo = Buffer.alloc(4);
          lo.writeUInt32BE(seq.lo);
          const wire = Buffer.concat([spiB, lo, hex(v.iv), hex(v.ciphertext), hex(v.icv)]);
          const x = esp({ spi: spiB.readUInt32BE(0), encr: row('aes-gcm-16'), encrKey: Buffer.concat([hex(v.key), hex(v.salt)]), esn });
          x.replay.setTop(seq);
          const r = x.open(wire);
          if (!r.ok) throw new Error(`case ${v.index}: ${r.detail}`);
          const pt = hex(v.plaintext);
          const padLen = pt[pt.length - 2];
          const again = x.seal(r.value.payload, r.value.nextHeader, { iv: hex(v.iv), seq, padding: pt.subarray(pt.length - 2 - padLen, pt.length - 2) });
          expect(again.ok && again.value.toString('hex')).toBe(wire.toString('hex'));
        }
        const c = esp({ spi: rfc7634.spi, encr: row('chacha20-poly1305'), encrKey: Buffer.concat([hex(rfc7634.key), hex(rfc7634.salt)]) });
        const sealed = c.seal(hex(rfc7634.inner), 4, { iv: hex(rfc7634.iv), seq: { hi: 0, lo: rfc7634.seq } });
        expect(sealed.ok && sealed.value.subarray(16).toString('hex')).toBe(rfc7634.ciphertext);
      } finally {
        disableFastAead();
      }
    });
  }
  test('Linux-made packets from scapy ipsec.uts (3des-cbc, aes-cbc, aes-ctr)', () => {
    for (const v of scapy.cases) {
      const x = esp({ spi: 0x222, encr: row(v.alg), encrKey: hex(v.key), src: addr('10.125.0.2'), dst: addr('10.125.0.1') });
      const r = x.open(hex(v.esp));
      if (!r.ok) throw new Error(`${v.name}: ${r.detail}`);
      expect(r.value.nextHeader).toBe(4);
      const again = x.seal(r.value.payload, 4, { iv: hex(v.esp).subarray(8, 8 + v.ivBytes), seq: { hi: 0, lo: 1 } });
      expect(again.ok && again.value.toString('hex')).toBe(v.esp);
    }
  });
});

describe('every implemented registry algorithm through ESP and AH', () => {
  const v4 = udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(77, 3));
  const v6 = udp6('2001:db8::1', '2001:db8:1::1', Buffer.alloc(77, 3));
  const hmac = algorithmById('integ', 'hmac-sha2-256-128');
  const encrs = algorithmsOf('encr').filter((a) => a.implemented);
  for (const a of encrs) {
    for (const bits of a.keyBits) {
      test(`ESP ${a.id}/${bits}${a.aead ? '' : ' + hmac-sha2-256-128'}: tunnel and transport, IPv4 and IPv6, tamper detected`, () => {
        const key = Buffer.alloc(bits / 8 + a.saltBytes, 0x5c);
        for (const mode of ['tunnel', 'transport'] as const) {
          for (const [pkt, src, dst] of [[v4, '10.0.0.1', '10.0.1.1'], [v6, '2001:db8::1', '2001:db8:1::1']] as const) {
            const s = { mode, encr: a, encrKey: key, src: addr(src), dst: addr(dst), ...(a.aead ? {} : { integ: hmac, integKey: Buffer.alloc(32, 1) }) };
            const out = esp(s).output(pkt);
            if (!out.ok) throw new Error(out.detail);
            const rx = esp(s);
            const back = rx.input(out.value);
            expect(back.ok && back.value.packet.toString('hex')).toBe(pkt.toString('hex'));
            const bad = Buffer.from(out.value);
            bad[bad.length - 1] ^= 1;
            expect(esp(s).input(bad).ok).toBe(false);
          }
        }
      });
    }
  }
  const integs = algorithmsOf('integ').filter((a) => a.implemented && a.icvBytes > 0 && a.ahTransformId !== null);
  for (const i of integs) {
    test(`AH and ESP(aes-cbc) with ${i.id}`, () => {
      const ik = Buffer.alloc(i.keyBytes, 0x42);
      const ah = { ...espSa({ encr: row('null'), encrKey: Buffer.alloc(0) }), proto: 'ah' as const, integ: i, integKey: ik };
      const o = new AhSa(ah, registryProvider).output(v4);
      if (!o.ok) throw new Error(o.detail);
      expect(new AhSa(ah, registryProvider).input(o.value).ok).toBe(true);
      const s = { encr: row('aes-cbc'), encrKey: Buffer.alloc(16, 7), integ: i, integKey: ik };
      const e = esp(s).output(v4);
      if (!e.ok) throw new Error(e.detail);
      expect(esp(s).input(e.value).ok).toBe(true);
    });
  }
});

describe('batched ESP (libcrypto fast path: one native call per batch)', () => {
  const pkts = Array.from({ length: 40 }, (_, i) => udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(20 + i * 30, i)));
  for (const id of ['aes-gcm-16', 'chacha20-poly1305', 'aes-cbc'] as const) {
    test(`${id}: outputBatch/inputBatch agree with output/input; duplicates and corruption inside a batch are dropped`, () => {
      enableFastAead();
      try {
        const a = row(id);
        const s = { encr: a, encrKey: Buffer.alloc(a.defaultKeyBits / 8 + a.saltBytes, 9), ...(a.aead ? {} : { integ: algorithmById('integ', 'hmac-sha2-256-128'), integKey: Buffer.alloc(32, 1) }) };
        const tx = esp(s);
        const sent = tx.outputBatch(pkts);
        const wire = sent.map((r) => {
          if (!r.ok) throw new Error(r.detail);
          return r.value;
        });
        // single-packet input decrypts what the batch produced
        const one = esp(s);
        wire.forEach((w, i) => expect(one.input(w).ok && (one.counters.inPackets === i + 1)).toBe(true));
        // batch input, with a duplicate and a corrupted packet in the same batch
        const bad = Buffer.from(wire[5]);
        bad[bad.length - 3] ^= 1;
        const batch = [...wire.slice(0, 5), bad, ...wire.slice(6), wire[7]];
        const rx = esp(s);
        const got = rx.inputBatch(batch);
        got.slice(0, 5).forEach((r, i) => expect(r.ok && r.value.packet.equals(pkts[i])).toBe(true));
        const g5 = got[5];
        expect(g5.ok || g5.reason).toBe('icv-mismatch');
        got.slice(6, -1).forEach((r, i) => expect(r.ok && r.value.packet.equals(pkts[i + 6])).toBe(true));
        const last = got[got.length - 1];
        expect(last.ok || last.reason).toBe('replay');
        expect(rx.counters.inPackets).toBe(39);
        expect(rx.counters.drops.replay + rx.counters.drops['icv-mismatch']).toBe(2);
      } finally {
        disableFastAead();
      }
    });
  }
});
