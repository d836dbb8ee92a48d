/**
 * The burst paths of the data plane (what a TUN wake-up and a NAT-T socket read hand over):
 * DataPlane.sendCleartextBatch seals the packets of one ESP SA together, and
 * DataPlane.receiveEspInUdpBatch opens them together. They must put exactly the same
 * ESP-in-UDP payloads on the wire (RFC 3948 §2.1, RFC 4303 §2) as the per-packet paths, keep
 * the order of a flow, count SA usage (RFC 2367 lifetimes), and drop + count what the
 * per-packet path drops (ICV, replay) — also inside one burst. Packets that are not for an
 * engine SA (no SA yet → ACQUIRE, keepalives) take the ordinary path.
 */
import { DataPlane, type CleartextPort, type EspInUdpDatagram } from '../../src/kernel/dataplane/dataplane';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { IPPROTO, encodeIpv4Header } from '../../src/xform/ip';
import { SadbSaType } from '../../src/pfkey/constants';
import { loadSetkey } from './helpers';

interface Side {
  kernel: UserspaceKernel;
  plane: DataPlane;
  wire: EspInUdpDatagram[];
  delivered: Buffer[];
}

const SAS = `add 192.0.2.1[4500] 192.0.2.2[4500] esp-udp 0x7001 -m tunnel -r 64 -E aes-gcm-16 0x${'71'.repeat(20)};
add 192.0.2.2[4500] 192.0.2.1[4500] esp-udp 0x7002 -m tunnel -r 64 -E aes-gcm-16 0x${'72'.repeat(20)};
`;

async function side(me: string, peer: string, myNet: string, peerNet: string): Promise<Side> {
  const kernel = new UserspaceKernel();
  const plane = new DataPlane(kernel);
  const s: Side = { kernel, plane, wire: [], delivered: [] };
  const port: CleartextPort = { name: 'sink', accepts: () => true, deliver: (p) => s.delivered.push(p) };
  plane.attach(port);
  plane.setTransport({
    sendUdp: (payload, _dst, dport, _src, sport) => s.wire.push({ payload: Buffer.from(payload), remote: { address: me, port: sport }, local: { address: peer, port: dport } }),
  });
  await loadSetkey(kernel, `spdadd ${myNet} ${peerNet} any -P out ipsec esp/tunnel/${me}-${peer}/require;
spdadd ${peerNet} ${myNet} any -P in ipsec esp/tunnel/${peer}-${me}/require;
spdadd ${myNet} 10.99.0.0/24 any -P out ipsec esp/tunnel/${me}-192.0.2.99/require;
${SAS}`);
  return s;
}

function udp(i: number, dst = `10.2.0.${1 + (i % 3)}`): Buffer {
  const body = Buffer.alloc(8 + ((i * 37) % 1300), i & 0xff);
  body.writeUInt16BE(1000 + (i % 3), 0);
  body.writeUInt16BE(9, 2);
  body.writeUInt16BE(body.length, 4);
  const h = encodeIpv4Header({
    dscp: 0, ecn: i % 4, totalLength: 20 + body.length, identification: i, flags: 2, fragmentOffset: 0, ttl: 64,
    protocol: IPPROTO.UDP, src: Buffer.from([10, 1, 0, 1]), dst: Buffer.from(dst.split('.').map(Number)), options: Buffer.alloc(0),
  });
  return Buffer.concat([h, body]);
}

function close(...s: Side[]): void {
  for (const x of s) {
    x.plane.close();
    x.kernel.shutdown();
  }
}

describe('data-plane bursts (TUN read → one native seal per SA; NAT-T read → one native open per SA)', () => {
  it('a burst puts the same ESP-in-UDP payloads on the wire as packet-by-packet sending, and the peer delivers them in order', async () => {
    const batchA = await side('192.0.2.1', '192.0.2.2', '10.1.0.0/24', '10.2.0.0/24');
    const singleA = await side('192.0.2.1', '192.0.2.2', '10.1.0.0/24', '10.2.0.0/24');
    const b = await side('192.0.2.2', '192.0.2.1', '10.2.0.0/24', '10.1.0.0/24');
    const pkts = Array.from({ length: 150 }, (_, i) => udp(i));
    // one packet of the burst has an IPsec policy without an SA: held for ACQUIRE (RFC 4301 §5.1 / RFC 2367 §3.1.6)
    const burst = [...pkts.slice(0, 70), udp(999, '10.99.0.5'), ...pkts.slice(70)];
    batchA.plane.sendCleartextBatch(burst.map((p) => Buffer.from(p)));
    for (const p of burst) singleA.plane.sendCleartext(p);
    expect(batchA.wire.map((d) => d.payload.toString('hex'))).toEqual(singleA.wire.map((d) => d.payload.toString('hex')));
    expect(batchA.wire).toHaveLength(150);
    expect(batchA.wire[0]!.local).toEqual({ address: '192.0.2.2', port: 4500 });
    expect(batchA.plane.counters).toEqual(singleA.plane.counters);
    expect(batchA.plane.counters.outProtected).toBe(150);
    expect(batchA.plane.queuedCount).toBe(1);
    const saA = batchA.kernel.sadb.list(SadbSaType.ESP)?.find((s) => s.spi >>> 0 === 0x7001);
    expect(saA?.current.allocations).toBe(150);

    // the peer: the whole wire as one burst, with a keepalive (RFC 3948 §2.3), a corrupted and a replayed packet inside
    const bad = Buffer.from(batchA.wire[120]!.payload);
    bad[bad.length - 1] ^= 1;
    const inbound: EspInUdpDatagram[] = [
      ...batchA.wire.slice(0, 120),
      { ...batchA.wire[120]!, payload: bad },
      { ...batchA.wire[0]!, payload: Buffer.from([0xff]) },
      ...batchA.wire.slice(121),
      batchA.wire[140]!, // within the 64-packet window: a replay (RFC 4303 §3.4.3)
    ];
    b.plane.receiveEspInUdpBatch(inbound);
    const want = pkts.filter((_, i) => i !== 120);
    expect(b.delivered.map((p) => p.toString('hex'))).toEqual(want.map((p) => p.toString('hex')));
    expect(b.plane.counters.inDelivered).toBe(149);
    expect(b.plane.counters.inKeepalives).toBe(1);
    expect(b.plane.counters.drops['icv-mismatch']).toBe(1);
    expect(b.plane.counters.drops.replay).toBe(1);
    const saB = b.kernel.sadb.list(SadbSaType.ESP)?.find((s) => s.spi >>> 0 === 0x7001);
    expect(saB?.current.allocations).toBe(149);
    // the corrupted packet's sequence number was not consumed: the intact original still goes through
    b.plane.receiveEspInUdpBatch([batchA.wire[120]!]);
    expect(b.delivered[b.delivered.length - 1]!.equals(pkts[120]!)).toBe(true);
    close(batchA, singleA, b);
  });

  it('per-packet and burst input agree on every drop reason for random garbage (never throws)', async () => {
    const b = await side('192.0.2.2', '192.0.2.1', '10.2.0.0/24', '10.1.0.0/24');
    const single = await side('192.0.2.2', '192.0.2.1', '10.2.0.0/24', '10.1.0.0/24');
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const junk: EspInUdpDatagram[] = Array.from({ length: 300 }, (_, i) => {
      const len = rnd() % 200;
      const payload = Buffer.alloc(len);
      for (let k = 0; k < len; k++) payload[k] = rnd() & 0xff;
      if (len >= 4 && i % 2 === 0) payload.writeUInt32BE(0x7001, 0); // our SPI: reaches ESP input
      return { payload, remote: { address: '192.0.2.1', port: 4500 }, local: { address: '192.0.2.2', port: 4500 } };
    });
    expect(() => b.plane.receiveEspInUdpBatch(junk)).not.toThrow();
    for (const d of junk) single.plane.receiveEspInUdp(d.payload, d.remote, d.local);
    expect(b.plane.counters).toEqual(single.plane.counters);
    expect(b.delivered).toHaveLength(0);
    close(b, single);
  });
});
