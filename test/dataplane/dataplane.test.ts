/**
 * The DataPlane against in-process kernels joined by an in-memory link:
 * SA lifecycle (contexts follow DELETE), SADB accounting driving byte
 * lifetimes to EXPIRE (RFC 2367 §3.1.8), IPv6 and transport mode, AH without
 * a raw transport, unsupported SAs, DISCARD/BYPASS policies, and the CLI's
 * option parsing.
 */
import pino from 'pino';
import { parseArgs } from '../../src/cli/tanuki-kernel';
import { DataPlane, type ProtectedTransport } from '../../src/kernel/dataplane/dataplane';
import { InProcessHost, InvalidHostAddressError } from '../../src/kernel/dataplane/host';
import { TunPort, TunUnavailableError, tunnelRoute } from '../../src/kernel/dataplane/tun';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { loadSetkey } from './helpers';

interface Node {
  kernel: UserspaceKernel;
  plane: DataPlane;
  hosts: InProcessHost[];
  wire: Buffer[];
}

/** Two planes whose transports hand datagrams straight to each other (addresses as the SA endpoints). */
function pair(gwA: string, gwB: string, hostsA: string[], hostsB: string[], raw = false): [Node, Node] {
  const mk = (hosts: string[]): Node => {
    const kernel = new UserspaceKernel();
    const plane = new DataPlane(kernel);
    const n: Node = { kernel, plane, hosts: hosts.map((h) => new InProcessHost(h, plane)), wire: [] };
    for (const h of n.hosts) plane.attach(h);
    return n;
  };
  const a = mk(hostsA);
  const b = mk(hostsB);
  const link = (from: Node, to: Node, fromGw: string, toGw: string): ProtectedTransport => ({
    sendUdp: (payload, _dst, dport, _src, sport) => {
      from.wire.push(payload);
      setImmediate(() => to.plane.receiveEspInUdp(payload, { address: fromGw, port: sport }, { address: toGw, port: dport }));
    },
    ...(raw
      ? {
          sendRaw: (pkt: Buffer) => {
            from.wire.push(pkt);
            setImmediate(() => to.plane.receiveProtected(pkt));
          },
        }
      : {}),
  });
  a.plane.setTransport(link(a, b, gwA, gwB));
  b.plane.setTransport(link(b, a, gwB, gwA));
  return [a, b];
}

function teardown(...nodes: Node[]): void {
  for (const n of nodes) {
    n.plane.close();
    n.kernel.shutdown();
  }
}

const K1 = '0x' + '5a'.repeat(16);
const K2 = '0x' + 'a5'.repeat(32);

describe('DataPlane', () => {
  it('carries IPv6 ICMPv6 echo (RFC 4443) in tunnel mode with AES-CBC + HMAC-SHA2-256 (setkey -E/-A names)', async () => {
    const [a, b] = pair('2001:db8::1', '2001:db8::2', ['2001:db8:a::1'], ['2001:db8:b::1']);
    const sas = `add 2001:db8::1 2001:db8::2 esp 0x100 -m tunnel -r 32 -E aes-cbc ${K1} -A hmac-sha256 ${K2};
add 2001:db8::2 2001:db8::1 esp 0x200 -m tunnel -r 32 -E aes-cbc ${K1} -A hmac-sha256 ${K2};
`;
    await loadSetkey(a.kernel, `spdadd 2001:db8:a::/48 2001:db8:b::/48 any -P out ipsec esp/tunnel/2001:db8::1-2001:db8::2/require;
spdadd 2001:db8:b::/48 2001:db8:a::/48 any -P in ipsec esp/tunnel/2001:db8::2-2001:db8::1/require;
${sas}`);
    await loadSetkey(b.kernel, `spdadd 2001:db8:b::/48 2001:db8:a::/48 any -P out ipsec esp/tunnel/2001:db8::2-2001:db8::1/require;
spdadd 2001:db8:a::/48 2001:db8:b::/48 any -P in ipsec esp/tunnel/2001:db8::1-2001:db8::2/require;
${sas}`);
    const r = await a.hosts[0].ping('2001:db8:b::1');
    expect(r.reply).toMatchObject({ from: '2001:db8:b::1' });
    teardown(a, b);
  });

  it('carries transport-mode ESP between the hosts themselves, and raw ESP when the transport has raw sockets', async () => {
    const [a, b] = pair('10.0.0.1', '10.0.0.2', ['10.0.0.1'], ['10.0.0.2'], true);
    const sas = `add 10.0.0.1 10.0.0.2 esp 0x301 -m transport -E aes-gcm-16 0x${'01'.repeat(20)};
add 10.0.0.2 10.0.0.1 esp 0x302 -m transport -E aes-gcm-16 0x${'02'.repeat(20)};
`;
    await loadSetkey(a.kernel, `spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require;
spdadd 10.0.0.2 10.0.0.1 any -P in ipsec esp/transport//require;
${sas}`);
    await loadSetkey(b.kernel, `spdadd 10.0.0.2 10.0.0.1 any -P out ipsec esp/transport//require;
spdadd 10.0.0.1 10.0.0.2 any -P in ipsec esp/transport//require;
${sas}`);
    const r = await a.hosts[0].ping('10.0.0.2');
    expect(r.reply).not.toBeNull();
    expect(a.wire[0][9]).toBe(50); // a whole IPv4 packet, protocol ESP (RFC 4303 §2)
    teardown(a, b);
  });

  it('drops AH when only UDP is available ("no-transport": AH cannot be UDP-encapsulated, RFC 3948 is ESP only)', async () => {
    const [a, b] = pair('10.0.0.1', '10.0.0.2', ['10.1.0.1'], []);
    await loadSetkey(a.kernel, `spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec ah/tunnel/10.0.0.1-10.0.0.2/require;
add 10.0.0.1 10.0.0.2 ah 0x401 -m tunnel -A hmac-sha1 0x${'11'.repeat(20)};
`);
    expect(a.hosts[0].sendEchoRequest('10.2.0.1').outcome).toMatchObject({ ok: false, reason: 'no-transport' });
    expect(a.plane.counters.drops['no-transport']).toBe(1);
    teardown(a, b);
  });

  it('follows the SADB: a deleted SA loses its context and its packets raise ACQUIRE again; byte lifetimes expire (RFC 2367 §3.1.8)', async () => {
    const [a, b] = pair('10.0.0.1', '10.0.0.2', ['10.1.0.1'], ['10.2.0.1']);
    await loadSetkey(a.kernel, `spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;
add 10.0.0.1 10.0.0.2 esp 0x501 -m tunnel -bh 200 -bs 100 -E aes-gcm-16 0x${'11'.repeat(20)};
`);
    const msgs: PfKeyMessage[] = [];
    const ep = a.kernel.attach((m) => msgs.push(m));
    ep.send({ type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, seq: 1, pid: 7, ext: {} });
    expect(a.hosts[0].sendEchoRequest('10.2.0.1', Buffer.alloc(64)).outcome).toMatchObject({ ok: true, action: 'protected' });
    expect(a.plane.xformCount).toBe(1);
    expect(msgs.filter((m) => m.type === SadbMsgType.EXPIRE)).toHaveLength(0);
    a.hosts[0].sendEchoRequest('10.2.0.1', Buffer.alloc(64)); // 2 × 92 bytes ≥ soft 100
    expect(msgs.filter((m) => m.type === SadbMsgType.EXPIRE && m.ext.lifetimeSoft)).toHaveLength(1);
    a.hosts[0].sendEchoRequest('10.2.0.1', Buffer.alloc(64)); // ≥ hard 200: EXPIRE hard and the SA is gone
    expect(msgs.filter((m) => m.type === SadbMsgType.EXPIRE && m.ext.lifetimeHard)).toHaveLength(1);
    expect(a.plane.xformCount).toBe(0);
    expect(a.hosts[0].sendEchoRequest('10.2.0.1').outcome).toEqual({ ok: true, action: 'queued' });
    expect(msgs.filter((m) => m.type === SadbMsgType.ACQUIRE)).toHaveLength(1);
    ep.close();
    teardown(a, b);
  });

  it('applies DISCARD and BYPASS policies (RFC 4301 §4.4.1) and routes bypassed packets between local hosts', async () => {
    const kernel = new UserspaceKernel();
    const plane = new DataPlane(kernel);
    const h1 = new InProcessHost('10.5.0.1', plane);
    const h2 = new InProcessHost('10.5.0.2', plane);
    plane.attach(h1);
    plane.attach(h2);
    await loadSetkey(kernel, 'spdadd 10.5.0.1 10.5.0.3 any -P out discard;\n');
    expect((await h1.ping('10.5.0.2', 200)).reply).not.toBeNull();
    expect(h1.sendEchoRequest('10.5.0.3').outcome).toMatchObject({ ok: false, reason: 'policy-discard' });
    expect(h1.sendEchoRequest('10.7.0.1').outcome).toMatchObject({ ok: false, reason: 'no-route' });
    expect(plane.counters.outBypassed).toBe(2);
    plane.close();
    kernel.shutdown();
  });

  it('refuses bad host addresses and TUN names with clear errors', () => {
    const kernel = new UserspaceKernel();
    const plane = new DataPlane(kernel);
    expect(() => new InProcessHost('10.1.2', plane)).toThrow(InvalidHostAddressError);
    expect(() => TunPort.open('this-name-is-too-long', plane, kernel, pino({ level: 'silent' }))).toThrow(TunUnavailableError);
    expect(() => TunPort.open('bad name', plane, kernel, pino({ level: 'silent' }))).toThrow(/not a valid interface name/);
    plane.close();
    kernel.shutdown();
  });

  it('routes only outbound tunnel-mode IPsec policies into the TUN device', async () => {
    const kernel = new UserspaceKernel();
    await loadSetkey(kernel, `spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/1.1.1.1-2.2.2.2/require;
spdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/2.2.2.2-1.1.1.1/require;
spdadd 10.1.0.1 10.3.0.1 any -P out ipsec esp/transport//require;
`);
    expect(kernel.spd.list().map(tunnelRoute)).toEqual(['10.2.0.0/24', null, null]);
    kernel.shutdown();
  });
});

describe('tanuki-kernel data-plane options', () => {
  it('parses --host (repeatable), --tun, --natt-port/--natt-addr/--natt-peer-port, --dataplane-socket', () => {
    const r = parseArgs(['--host', '10.1.0.1', '--host', '2001:db8::1', '--tun', 'tnk0', '--natt-port', '4500', '--natt-addr', '127.0.0.1', '--natt-peer-port', '14500', '--dataplane-socket', '/tmp/x']);
    expect(r).toEqual({
      ok: true,
      help: false,
      opts: { verbose: false, hosts: ['10.1.0.1', '2001:db8::1'], tun: 'tnk0', nattPort: 4500, nattAddr: '127.0.0.1', nattPeerPort: 14500, dataplaneSocket: '/tmp/x' },
    });
  });
  it.each([
    [['--host', 'nonsense'], '--host needs an IPv4 or IPv6 address'],
    [['--natt-port', '70000'], '--natt-port needs a port number'],
    [['--natt-addr'], '--natt-addr needs an IP address'],
    [['--tun'], '--tun needs an interface name'],
  ])('refuses %j', (argv, msg) => {
    const r = parseArgs(argv);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(msg);
  });
});

