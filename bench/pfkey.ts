/**
 * PF_KEY codec benchmarks: encodeMessage and decodeMessage on the messages
 * tanuki exchanges most (racoon's SADB_ADD with keys and lifetimes, an
 * SPDADD with a tunnel request, the af_key MIGRATE shape), plus stream
 * framing of a burst of them.
 * Baseline, measured in the same run: structuredClone of the same message
 * model (building the same object graph without any wire work), so
 * ratio = value / baseline says how close the codec is to a bare copy.
 */
import { decodeMessage, encodeMessage } from '../src/pfkey/codec';
import { PfKeyFramer } from '../src/pfkey/framing';
import type { PfKeyMessage } from '../src/pfkey/types';
import type { BenchResult } from './types';

const MIN_MS = 300;

const v4 = (address: string) => ({ family: 2 as const, address, port: 0 });
const v6 = (address: string) => ({ family: 10 as const, address, port: 0 });

export const MESSAGES: Record<string, PfKeyMessage> = {
  'SADB_ADD (keys, lifetimes)': {
    type: 3,
    satype: 3,
    errno: 0,
    seq: 9,
    pid: 4242,
    ext: {
      sa: { spi: 0x0a0b0c0d, replay: 4, state: 1, auth: 3, encrypt: 12, flags: 0 },
      sa2: { mode: 1, sequence: 0, reqid: 0 },
      addressSrc: { proto: 255, prefixlen: 32, addr: v4('192.0.2.1') },
      addressDst: { proto: 255, prefixlen: 32, addr: v4('192.0.2.2') },
      keyEncrypt: { bits: 128, key: Buffer.alloc(16, 1) },
      keyAuth: { bits: 160, key: Buffer.alloc(20, 2) },
      lifetimeHard: { allocations: 0, bytes: 1024000n, addtime: 3600n, usetime: 0n },
      lifetimeSoft: { allocations: 0, bytes: 819200n, addtime: 2880n, usetime: 0n },
    },
  },
  'SADB_X_SPDADD (tunnel request)': {
    type: 14,
    satype: 0,
    errno: 0,
    seq: 1,
    pid: 100,
    ext: {
      addressSrc: { proto: 255, prefixlen: 24, addr: v4('10.0.1.0') },
      addressDst: { proto: 255, prefixlen: 24, addr: v4('10.0.2.0') },
      policy: {
        type: 2,
        dir: 2,
        id: 0,
        priority: 0x80000000,
        requests: [{ proto: 50, mode: 2, level: 2, reqid: 0, src: v4('192.0.2.1'), dst: v4('192.0.2.2') }],
      },
    },
  },
  'SADB_X_MIGRATE (IPv6, KMADDRESS)': {
    type: 24,
    satype: 3,
    errno: 0,
    seq: 0,
    pid: 0,
    ext: {
      kmaddress: { local: v6('2001:db8:3::10'), remote: v6('2001:db8:2::1') },
      addressSrc: { proto: 255, prefixlen: 128, addr: v6('2001:db8:1::100') },
      addressDst: { proto: 255, prefixlen: 128, addr: v6('2001:db8:2::200') },
      policy: {
        type: 2,
        dir: 2,
        id: 0,
        priority: 0,
        requests: [
          { proto: 50, mode: 2, level: 3, reqid: 5, src: v6('2001:db8:1::10'), dst: v6('2001:db8:2::1') },
          { proto: 50, mode: 2, level: 3, reqid: 5, src: v6('2001:db8:3::10'), dst: v6('2001:db8:2::1') },
        ],
      },
    },
  },
};

/** Operations per second of fn, run for at least MIN_MS after a warm-up. */
function rate(fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MIN_MS) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (n / elapsed) * 1000;
}

function row(name: string, unit: string, value: number, baseline: number): BenchResult {
  return { name, unit, value, baseline, ratio: value / baseline };
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const [name, msg] of Object.entries(MESSAGES)) {
    const wire = encodeMessage(msg);
    const baseline = rate(() => structuredClone(msg));
    out.push(row(`encode ${name}, ${wire.length} B`, 'msgs/s', rate(() => encodeMessage(msg)), baseline));
    out.push(row(`decode ${name}, ${wire.length} B`, 'msgs/s', rate(() => decodeMessage(wire)), baseline));
  }
  const burst = Buffer.concat(Array.from({ length: 100 }, () => Object.values(MESSAGES).map((m) => encodeMessage(m))).flat());
  const chunks: Buffer[] = [];
  for (let at = 0; at < burst.length; at += 1500) chunks.push(burst.subarray(at, at + 1500));
  const copyRate = rate(() => Buffer.concat(chunks));
  const frameRate = rate(() => {
    const f = new PfKeyFramer();
    for (const c of chunks) f.push(c);
  });
  // baseline here: concatenating the same chunks (a copy of the bytes, no framing)
  out.push(row(`frame 300 messages in 1500-byte chunks (${burst.length} B)`, 'MB/s', (frameRate * burst.length) / 1e6, (copyRate * burst.length) / 1e6));
  return out;
}
