/**
 * Issue 3 "raw ESP and AH through raw IP sockets where the process may open
 * them": two tanuki-kernel processes in two network namespaces joined by a
 * veth pair, each with `--raw ADDR` and manually keyed SAs (setkey), pass
 * pings between their in-process hosts through
 *   - AH in transport mode (RFC 4302 §3.1.1) between the veth addresses, and
 *   - ESP in tunnel mode without NAT-T (RFC 4303 §3.1.2, plain `esp` SAs),
 * and the echo replies come back. Evidence that the wire carries IP
 * protocols 50 and 51 and no UDP: a capture process in the responder's
 * namespace holds its own raw sockets for protocols 50, 51 and 17 (every raw
 * socket of a protocol gets a copy of each packet for it, raw(7)) and prints
 * what arrived; the data-plane counters of both kernels agree.
 *
 * Also pinned: without CAP_NET_RAW the raw transport is not available, says
 * so, and the plane keeps its UDP-only behaviour (AH → `no-transport`).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { until } from './helpers';
import { DataPlane } from '../../src/kernel/dataplane/dataplane';
import { RawIpTransport } from '../../src/kernel/dataplane/raw-transport';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { IPPROTO_ESP, RawIpSockets, RawSocketError, decodeSockaddr, encodeSockaddr } from '../../src/util/rawsock';

const root = resolve(__dirname, '../..');
const bin = (t: string): string => join(root, 'bin', t);
const nsA = `tnk-rawa-${process.pid}`;
const nsB = `tnk-rawb-${process.pid}`;
const vethA = `trwa${process.pid % 100000}`;
const vethB = `trwb${process.pid % 100000}`;
const A = '10.99.0.1';
const B = '10.99.0.2';

function setkey(sock: string, script: string): void {
  const r = spawnSync(process.execPath, [bin('setkey'), '--socket', sock, '-c'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`setkey failed: ${r.stderr}`);
}

function ping(sock: string, src: string, dst: string): Array<Record<string, unknown>> {
  const r = spawnSync(process.execPath, [bin('tanuki-kernel'), 'ping', '--socket', sock, '-c', '2', '-W', '2000', src, dst], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

interface Stats {
  counters: { outProtected: number; inDelivered: number; drops: Record<string, number> };
}
function stats(sock: string): Stats {
  const r = spawnSync(process.execPath, [bin('tanuki-kernel'), 'stats', '--socket', sock], { encoding: 'utf8' });
  return JSON.parse(r.stdout.split('\n')[0]) as Stats;
}

/** The capture process: raw sockets for ESP, AH and UDP in a namespace, one JSON line per packet received. */
const CAPTURE = `
const { RawIpSockets } = require(${JSON.stringify(join(root, 'dist/src/util/rawsock.js'))});
const specs = [50, 51, 17].map((protocol) => ({ protocol, address: '0.0.0.0' }));
const s = RawIpSockets.open(specs, (d) => {
  const ihl = (d.data[0] & 15) * 4;
  const proto = d.data[9];
  const spiAt = proto === 51 ? ihl + 4 : ihl;
  const spi = proto === 17 ? null : d.data.readUInt32BE(spiAt);
  const dport = proto === 17 ? d.data.readUInt16BE(ihl + 2) : null;
  process.stdout.write(JSON.stringify({ proto, from: d.from, len: d.data.length, spi, dport }) + '\\n');
}, () => undefined);
process.stdout.write('ready\\n');
process.on('SIGTERM', () => s.close().then(() => process.exit(0)));
`;

describe('raw ESP and AH between two namespaces (tanuki-kernel --raw)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-raw-'));
  const procs: ChildProcess[] = [];
  const outs: string[] = [];
  let capture = '';
  const sockA = join(dir, 'a.sock');
  const sockB = join(dir, 'b.sock');

  const start = (ns: string, args: string[]): ChildProcess => {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    const i = outs.push('') - 1;
    p.stdout!.on('data', (d: Buffer) => (outs[i] += d.toString()));
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', nsA]);
    execFileSync('ip', ['netns', 'add', nsB]);
    execFileSync('ip', ['link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB]);
    for (const [ns, dev, addr] of [[nsA, vethA, A], [nsB, vethB, B]]) {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      execFileSync('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    start(nsA, [bin('tanuki-kernel'), '--socket', sockA, '--raw', A, '--host', A, '--host', '10.1.0.1']);
    start(nsB, [bin('tanuki-kernel'), '--socket', sockB, '--raw', B, '--host', B, '--host', '10.2.0.1']);
    const cap = start(nsB, ['-e', CAPTURE]);
    cap.stdout!.on('data', (d: Buffer) => (capture += d.toString()));
    await until(() => existsSync(`${sockA}.dp`) && existsSync(`${sockB}.dp`) && capture.includes('ready'), 15000);
  }, 30000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await until(() => procs.every((p) => p.exitCode !== null), 5000).catch(() => procs.forEach((p) => p.kill('SIGKILL')));
    spawnSync('ip', ['netns', 'del', nsA]);
    spawnSync('ip', ['netns', 'del', nsB]);
    rmSync(dir, { recursive: true, force: true });
  });

  const captured = (): Array<{ proto: number; from: string; spi: number | null; dport: number | null }> =>
    capture.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { proto: number; from: string; spi: number | null; dport: number | null });

  it('AH transport mode: ping answered, the wire carries IP protocol 51', async () => {
    const keys = `add ${A} ${B} ah 0x5101 -m transport -A hmac-sha256 0x${'51'.repeat(32)};
add ${B} ${A} ah 0x5102 -m transport -A hmac-sha256 0x${'52'.repeat(32)};
`;
    setkey(sockA, `spdadd ${A} ${B} icmp -P out ipsec ah/transport//require;\nspdadd ${B} ${A} icmp -P in ipsec ah/transport//require;\n${keys}`);
    setkey(sockB, `spdadd ${B} ${A} icmp -P out ipsec ah/transport//require;\nspdadd ${A} ${B} icmp -P in ipsec ah/transport//require;\n${keys}`);
    const r = ping(sockA, A, B);
    expect(r.slice(0, 2)).toEqual([
      { seq: 1, outcome: { ok: true, action: 'protected', spis: [0x5101] }, reply: true },
      { seq: 2, outcome: { ok: true, action: 'protected', spis: [0x5101] }, reply: true },
    ]);
    await until(() => captured().filter((c) => c.proto === 51).length >= 2, 3000);
    const ah = captured().filter((c) => c.proto === 51);
    expect(ah.every((c) => c.from === A && c.spi === 0x5101)).toBe(true);
    expect(stats(sockB).counters.drops['no-transport']).toBe(0);
    expect(stats(sockA).counters.inDelivered).toBe(2); // the two AH-protected echo replies
  }, 30000);

  it('ESP tunnel mode without NAT-T: ping answered, the wire carries IP protocol 50 and no UDP', async () => {
    const keys = `add ${A} ${B} esp 0x5001 -m tunnel -E aes-cbc 0x${'01'.repeat(16)} -A hmac-sha256 0x${'02'.repeat(32)};
add ${B} ${A} esp 0x5002 -m tunnel -E aes-cbc 0x${'03'.repeat(16)} -A hmac-sha256 0x${'04'.repeat(32)};
`;
    setkey(sockA, `spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/${A}-${B}/require;\nspdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/${B}-${A}/require;\n${keys}`);
    setkey(sockB, `spdadd 10.2.0.0/24 10.1.0.0/24 any -P out ipsec esp/tunnel/${B}-${A}/require;\nspdadd 10.1.0.0/24 10.2.0.0/24 any -P in ipsec esp/tunnel/${A}-${B}/require;\n${keys}`);
    const r = ping(sockA, '10.1.0.1', '10.2.0.1');
    expect(r.slice(0, 2).map((x) => x.reply)).toEqual([true, true]);
    expect(r[0]).toMatchObject({ outcome: { ok: true, action: 'protected', spis: [0x5001] } });
    await until(() => captured().filter((c) => c.proto === 50).length >= 2, 3000);
    const esp = captured().filter((c) => c.proto === 50);
    expect(esp.every((c) => c.from === A && c.spi === 0x5001)).toBe(true);
    // ESP SAs without NAT-T went raw: not one UDP datagram to 4500 crossed the veth.
    expect(captured().filter((c) => c.proto === 17 && c.dport === 4500)).toEqual([]);
  }, 30000);
});

describe('raw sockets: errors and the fallback', () => {
  it('sockaddr encoding round-trips and refuses a non-address', () => {
    expect(decodeSockaddr(encodeSockaddr('192.0.2.7'))).toBe('192.0.2.7');
    expect(decodeSockaddr(encodeSockaddr('2001:db8::7'))).toBe('2001:db8::7');
    expect(() => encodeSockaddr('not-an-ip')).toThrow(RawSocketError);
  });

  it('binding an address the namespace does not have fails with EADDRNOTAVAIL and leaves nothing open', () => {
    expect(() => RawIpSockets.open([{ protocol: IPPROTO_ESP, address: '192.0.2.123' }], () => undefined, () => undefined)).toThrow(/bind\(192\.0\.2\.123\) failed: EADDRNOTAVAIL/);
  });

  it('without CAP_NET_RAW (uid nobody) socket() fails with EPERM, named as a permission error', () => {
    const script = `
const { RawIpSockets } = require(${JSON.stringify(join(root, 'dist/src/util/rawsock.js'))});
try { RawIpSockets.open([{ protocol: 50, address: '0.0.0.0' }], () => {}, () => {}); console.log('opened'); }
catch (e) { console.log(JSON.stringify({ name: e.name, permission: e.permission, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    const out = JSON.parse(r.stdout.trim()) as { name: string; permission: boolean; message: string };
    expect(out).toMatchObject({ name: 'RawSocketError', permission: true });
    expect(out.message).toMatch(/EPERM.*CAP_NET_RAW/);
  });

  it('RawIpTransport.open returns null with a warning when raw sockets are refused (the caller keeps its UDP transport)', () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const plane = new DataPlane(new UserspaceKernel({ log }), { log });
    const denied = jest.spyOn(RawIpSockets, 'open').mockImplementation(() => {
      throw new RawSocketError('socket(AF_INET, SOCK_RAW, 50)', 1);
    });
    try {
      expect(RawIpTransport.open(plane, ['0.0.0.0'], log)).toBeNull();
    } finally {
      denied.mockRestore();
    }
    expect(lines.join('')).toContain('raw ESP/AH sockets are not available (needs CAP_NET_RAW)');
    plane.close();
  });
});
