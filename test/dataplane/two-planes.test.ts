/**
 * Two userspace kernels, each with its data plane, joined over loopback UDP
 * (RFC 3948 ESP-in-UDP) with manually keyed tunnel SAs loaded by the setkey
 * compiler: ICMP echo between in-process hosts both ways, counters, and the
 * drops RFC 4303 §3.4 / RFC 4301 §5.2 require (tampered ICV, replay, wrong
 * SPI, cleartext where policy requires ESP, garbage).
 */
import { SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { DataPlane } from '../../src/kernel/dataplane/dataplane';
import { InProcessHost } from '../../src/kernel/dataplane/host';
import { icmpEcho } from '../../src/kernel/dataplane/packet';
import { UdpEspTransport } from '../../src/kernel/dataplane/udp-transport';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { parseIp } from '../../src/util/ip';
import { loadSetkey, until } from './helpers';

interface Side {
  kernel: UserspaceKernel;
  plane: DataPlane;
  host: InProcessHost;
  transport: UdpEspTransport;
  sent: Buffer[];
}

async function side(gw: string, hostAddr: string): Promise<Side> {
  const kernel = new UserspaceKernel();
  const plane = new DataPlane(kernel);
  const host = new InProcessHost(hostAddr, plane);
  plane.attach(host);
  const transport = await UdpEspTransport.bind(plane, gw, 0);
  const sent: Buffer[] = [];
  const send = transport.sendUdp.bind(transport);
  plane.setTransport({ sendUdp: (p, d, dp) => (sent.push(p), send(p, d, dp)) });
  return { kernel, plane, host, transport, sent };
}

const KEY_AB = '0x' + '11'.repeat(20); // AES-128-GCM key + 4-byte salt (RFC 4106 §8.1)
const KEY_BA = '0x' + '22'.repeat(20);

function policies(local: string, remote: string, lgw: string, rgw: string): string {
  return `spdadd ${local} ${remote} any -P out ipsec esp/tunnel/${lgw}-${rgw}/require;
spdadd ${remote} ${local} any -P in ipsec esp/tunnel/${rgw}-${lgw}/require;
`;
}

function sas(a: Side, b: Side): string {
  const A = `127.0.0.1[${a.transport.port}]`;
  const B = `127.0.0.2[${b.transport.port}]`;
  return `add ${A} ${B} esp-udp 0x1001 -m tunnel -r 32 -E aes-gcm-16 ${KEY_AB};
add ${B} ${A} esp-udp 0x2002 -m tunnel -r 32 -E aes-gcm-16 ${KEY_BA};
`;
}

describe('two data planes over loopback ESP-in-UDP (RFC 3948, RFC 4303 tunnel mode)', () => {
  let a: Side;
  let b: Side;
  beforeEach(async () => {
    a = await side('127.0.0.1', '10.1.0.1');
    b = await side('127.0.0.2', '10.2.0.1');
    await loadSetkey(a.kernel, policies('10.1.0.0/24', '10.2.0.0/24', '127.0.0.1', '127.0.0.2') + sas(a, b));
    await loadSetkey(b.kernel, policies('10.2.0.0/24', '10.1.0.0/24', '127.0.0.2', '127.0.0.1') + sas(a, b));
  });
  afterEach(async () => {
    for (const s of [a, b]) {
      await s.transport.close();
      s.plane.close();
      s.kernel.shutdown();
    }
  });

  it('passes ICMP echo both ways through the tunnel and moves the counters and SA lifetimes', async () => {
    const r1 = await a.host.ping('10.2.0.1');
    expect(r1.outcome).toEqual({ ok: true, action: 'protected', spis: [0x1001] });
    expect(r1.reply).toMatchObject({ from: '10.2.0.1' });
    const r2 = await b.host.ping('10.1.0.1');
    expect(r2.reply).toMatchObject({ from: '10.1.0.1' });
    expect(a.plane.counters.outProtected).toBe(2); // request + reply to b's request
    expect(b.plane.counters.inDelivered).toBe(2);
    expect(b.host.counters.echoRequestsAnswered).toBe(1);
    expect(a.host.counters.echoRequestsAnswered).toBe(1);
    // RFC 2367 LIFETIME_CURRENT: the SADB counted the packets on both SAs in both kernels
    const saAB = a.kernel.sadb.lookupInbound('127.0.0.2', 50, 0x1001)!;
    expect(saAB.current.allocations).toBe(2);
    expect(b.kernel.sadb.lookupInbound('127.0.0.2', 50, 0x1001)!.current.allocations).toBe(2);
    // what went on the wire is ESP (SPI first, RFC 3948 §2.1), not the cleartext
    expect(a.sent[0].readUInt32BE(0)).toBe(0x1001);
    expect(a.sent[0].includes(Buffer.from('tanuki'))).toBe(false);
  });

  it('passes UDP echo (RFC 862) through the tunnel', async () => {
    const got: Buffer[] = [];
    a.host.onUdp((u) => got.push(u.data));
    expect(a.host.sendUdp('10.2.0.1', 7, Buffer.from('hello')).ok).toBe(true);
    await until(() => got.length === 1);
    expect(got[0].toString()).toBe('hello');
  });

  it('drops a tampered packet (ICV, RFC 4303 §3.4.4), a replay (§3.4.3) and a wrong SPI, counting each', async () => {
    await a.host.ping('10.2.0.1');
    const good = a.sent[0];
    const replay = b.plane.receiveEspInUdp(good, { address: '127.0.0.1', port: a.transport.port }, { address: '127.0.0.2', port: b.transport.port });
    expect(replay).toMatchObject({ ok: false, reason: 'replay' });
    const tampered = Buffer.from(good);
    tampered[tampered.length - 20] ^= 0x01;
    tampered.writeUInt32BE(5, 4); // a fresh sequence number so only the ICV is wrong
    const t = b.plane.receiveEspInUdp(tampered, { address: '127.0.0.1', port: a.transport.port }, { address: '127.0.0.2', port: b.transport.port });
    expect(t).toMatchObject({ ok: false, reason: 'icv-mismatch' });
    const wrong = Buffer.from(good);
    wrong.writeUInt32BE(0xdead, 0);
    expect(b.plane.receiveEspInUdp(wrong, { address: '127.0.0.1', port: 1 }, { address: '127.0.0.2', port: 2 })).toMatchObject({ ok: false, reason: 'no-sa' });
    expect(b.plane.counters.drops).toMatchObject({ replay: 1, 'icv-mismatch': 1, 'no-sa': 1 });
    expect(b.host.counters.echoRequestsAnswered).toBe(1);
  });

  it('drops a cleartext packet arriving where the inbound policy requires ESP (RFC 4301 §5.2)', () => {
    const clear = icmpEcho(parseIp('10.1.0.1')!, parseIp('10.2.0.1')!, false, 1, 1, Buffer.from('x'));
    expect(b.plane.receiveProtected(clear)).toMatchObject({ ok: false, reason: 'policy-violation' });
    expect(b.plane.counters.drops['policy-violation']).toBe(1);
    expect(b.host.counters.received).toBe(0);
  });

  it('never throws on garbage from either side and counts every drop', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    let drops = 0;
    for (let i = 0; i < 300; i++) {
      const buf = Buffer.alloc(rnd() % 120);
      for (let j = 0; j < buf.length; j++) buf[j] = rnd() & 0xff;
      if (i % 3 === 0 && buf.length > 0) buf[0] = 0x45;
      const outs = [
        b.plane.receiveEspInUdp(buf, { address: '127.0.0.1', port: 1 }, { address: '127.0.0.2', port: 2 }),
        b.plane.receiveProtected(buf),
        b.plane.sendCleartext(buf),
      ];
      for (const o of outs) if (!o.ok) drops++;
    }
    const counted = Object.values(b.plane.counters.drops).reduce((x, y) => x + y, 0);
    expect(counted).toBe(drops);
    expect(b.plane.counters.drops.internal).toBe(0);
  });
});

describe('outbound packets without an SA (RFC 2367 §3.1.6 ACQUIRE)', () => {
  it('raise one ACQUIRE per flow, are held, and leave once the SAs are installed', async () => {
    const a = await side('127.0.0.1', '10.1.0.1');
    const b = await side('127.0.0.2', '10.2.0.1');
    try {
      await loadSetkey(a.kernel, policies('10.1.0.0/24', '10.2.0.0/24', '127.0.0.1', '127.0.0.2'));
      await loadSetkey(b.kernel, policies('10.2.0.0/24', '10.1.0.0/24', '127.0.0.2', '127.0.0.1') + sas(a, b));
      const acquires: PfKeyMessage[] = [];
      const ep = a.kernel.attach((m) => m.type === SadbMsgType.ACQUIRE && acquires.push(m));
      ep.send({ type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, seq: 1, pid: 99, ext: {} });
      for (let i = 0; i < 3; i++) {
        const s = a.host.sendEchoRequest('10.2.0.1');
        expect(s.outcome).toEqual({ ok: true, action: 'queued' });
      }
      expect(acquires).toHaveLength(1);
      expect(acquires[0].ext.addressDst?.addr.address).toBe('127.0.0.2');
      expect(a.plane.queuedCount).toBe(3);
      await loadSetkey(a.kernel, sas(a, b));
      expect(a.plane.queuedCount).toBe(0);
      await until(() => a.host.counters.echoRepliesReceived === 3);
      expect(a.plane.counters.outProtected).toBe(3);
      ep.close();
    } finally {
      for (const s of [a, b]) {
        await s.transport.close();
        s.plane.close();
        s.kernel.shutdown();
      }
    }
  });
});
