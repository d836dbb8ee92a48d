/** Port 4500 demultiplexing (RFC 3948 §2.2/§2.3), SA lookup by SPI (RFC 4301 §4.1), and the socket-delivered ESP path. */
import { InboundDemux } from '../../src/xform/inbound';
import { EspSa } from '../../src/xform/esp';
import { AhSa } from '../../src/xform/ah';
import { fragmentIpv4 } from '../../src/xform/frag';
import { NAT_KEEPALIVE, classifyUdpPayload, frameIke, usesNonEspMarker } from '../../src/xform/udpencap';
import { parseIp } from '../../src/xform/ip';
import { ENCR, INTEG, nodeProvider } from './provider';
import { addr, espSa, udp4 } from './helpers';

describe('RFC 3948 port 4500 framing', () => {
  test('keepalive is one 0xFF byte', () => {
    expect(classifyUdpPayload(NAT_KEEPALIVE, 4500, 4500)).toEqual({ ok: true, value: { kind: 'keepalive' } });
  });
  test('non-ESP marker: four zero bytes precede IKE; added and stripped iff neither port is 500 (strongSwan socket rule)', () => {
    const ike = Buffer.from('0102030405060708', 'hex');
    expect(usesNonEspMarker(4500, 4500)).toBe(true);
    expect(usesNonEspMarker(500, 4500)).toBe(false);
    expect(usesNonEspMarker(4500, 500)).toBe(false);
    expect(frameIke(ike, 4500, 4500).toString('hex')).toBe('00000000' + ike.toString('hex'));
    expect(frameIke(ike, 500, 500)).toEqual(ike);
    expect(classifyUdpPayload(frameIke(ike, 4500, 34567), 4500, 34567)).toEqual({ ok: true, value: { kind: 'ike', message: ike } });
    expect(classifyUdpPayload(ike, 500, 500)).toEqual({ ok: true, value: { kind: 'ike', message: ike } });
  });
  test('a non-zero first word on 4500 is ESP; short garbage is a typed drop', () => {
    const esp = Buffer.from('0000100000000001aabbccdd', 'hex');
    expect(classifyUdpPayload(esp, 4500, 4500)).toMatchObject({ ok: true, value: { kind: 'esp', spi: 0x1000 } });
    expect(classifyUdpPayload(Buffer.from([1, 2]), 4500, 4500)).toMatchObject({ ok: false, reason: 'bad-udp-encap' });
    expect(classifyUdpPayload(Buffer.from([0, 0, 1, 2, 3]), 4500, 4500)).toMatchObject({ ok: false, reason: 'bad-udp-encap' });
    expect(classifyUdpPayload(Buffer.from([0, 0, 0, 0, 3]), 4500, 4500)).toEqual({ ok: true, value: { kind: 'ike', message: Buffer.from([3]) } });
  });
});

describe('InboundDemux', () => {
  const gw = addr('192.0.2.2');
  const esp = espSa({ spi: 0x1111, dst: gw, encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20, 1) });
  const espNatt = espSa({ spi: 0x2222, dst: gw, encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20, 2), natt: { sport: 4500, dport: 4500 } });
  const ah = { ...espSa({ spi: 0x3333, dst: gw, encr: ENCR.null, encrKey: Buffer.alloc(0) }), proto: 'ah' as const, integ: INTEG.sha1, integKey: Buffer.alloc(20, 3) };
  const inner = udp4('10.0.0.1', '10.0.1.1', Buffer.alloc(1800, 9));

  function setup(): InboundDemux {
    const d = new InboundDemux();
    d.add(new EspSa(esp, nodeProvider));
    d.add(new EspSa(espNatt, nodeProvider));
    d.add(new AhSa(ah, nodeProvider));
    return d;
  }

  test('ESP, ESP-in-UDP and AH reach their SA by SPI; outer fragments are reassembled first', () => {
    const d = setup();
    for (const [x, i] of [[new EspSa(esp, nodeProvider), 0], [new EspSa(espNatt, nodeProvider), 1], [new AhSa(ah, nodeProvider), 2]] as const) {
      const out = x.output(inner);
      if (!out.ok) throw new Error(out.detail);
      const frags = fragmentIpv4(out.value, 1000);
      if (!frags.ok) throw new Error(frags.detail);
      let got: Buffer | null = null;
      for (const f of frags.value) {
        const r = d.receive(f, i);
        if (!r.ok) throw new Error(r.detail);
        if ('packet' in r.value && 'sa' in r.value) got = r.value.packet;
      }
      expect(got?.toString('hex')).toBe(inner.toString('hex'));
    }
    expect(d.delivered).toBe(3);
  });

  test('an unknown SPI is dropped as no-sa and counted', () => {
    const d = setup();
    const other = new EspSa(espSa({ spi: 0x9999, dst: gw, encr: ENCR.aesGcm128, encrKey: Buffer.alloc(20, 1) }), nodeProvider);
    const out = other.output(inner);
    if (!out.ok) throw new Error(out.detail);
    const r = d.receive(out.value, 0);
    expect(r.ok || r.reason).toBe('no-sa');
    expect(d.drops['no-sa']).toBe(1);
  });

  test('keepalives and IKE on 4500 are recognised, plain traffic passes as not-ipsec', () => {
    const d = setup();
    const ka = udp4('198.51.100.1', '192.0.2.2', NAT_KEEPALIVE, { sport: 4500, dport: 4500 });
    expect(d.receive(ka, 0)).toEqual({ ok: true, value: { kind: 'keepalive' } });
    const ike = udp4('198.51.100.1', '192.0.2.2', frameIke(Buffer.alloc(28, 1), 4500, 4500), { sport: 4500, dport: 4500 });
    expect(d.receive(ike, 0)).toMatchObject({ ok: true, value: { kind: 'ike' } });
    expect(d.receive(inner, 0)).toMatchObject({ ok: true, value: { kind: 'not-ipsec' } });
  });

  test('socket path: ESP bytes without their IP header (UDP 4500 socket), tunnel mode', () => {
    const tx = new EspSa(espNatt, nodeProvider);
    const rx = new EspSa(espNatt, nodeProvider);
    const out = tx.output(inner);
    if (!out.ok) throw new Error(out.detail);
    const espBytes = out.value.subarray(28);
    const r = rx.inputEsp(espBytes, { src: addr('192.0.2.1'), dst: gw });
    expect(r.ok && r.value.packet.toString('hex')).toBe(inner.toString('hex'));
  });

  test('socket path, transport mode: an IP header is rebuilt from the socket addresses', () => {
    const s = { ...espNatt, mode: 'transport' as const, src: addr('10.0.0.1'), dst: addr('10.0.1.1') };
    const tx = new EspSa(s, nodeProvider);
    const rx = new EspSa(s, nodeProvider);
    const out = tx.output(inner);
    if (!out.ok) throw new Error(out.detail);
    const r = rx.inputEsp(out.value.subarray(28), { src: addr('10.0.0.1'), dst: addr('10.0.1.1') });
    if (!r.ok) throw new Error(r.detail);
    const q = parseIp(r.value.packet);
    expect(q.ok && q.value.protocol).toBe(17);
    expect(r.value.packet.subarray(20).toString('hex')).toBe(inner.subarray(20).toString('hex'));
  });
});
