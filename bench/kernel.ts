/**
 * Userspace-kernel benchmarks (issue 2, "Scale"):
 *   - SPD lookups/s with 100 … 100,000 policies installed;
 *   - SADB add+lookup/s: adding N SAs (the full SADB_ADD validation path)
 *     and looking each up inbound by (dst, proto, spi).
 * Baseline, measured in the same run: a plain JavaScript Map with the same
 * number of string keys — Map.get/s for the SPD row, Map.set+get/s for the
 * SADB row. ratio = value / baseline (how close to a bare hash table).
 */
import { IpsecDir, IpsecPolicyType, SadbAalg, SadbEalg, SadbSaState, SadbSaType, IPPROTO } from '../src/pfkey/constants';
import type { PfKeyExtensions } from '../src/pfkey/types';
import { Sadb } from '../src/sadb/sadb';
import { Spd, type PacketSelector } from '../src/spd/spd';
import type { KernelClock } from '../src/sadb/clock';
import type { BenchResult } from './types';

export const SIZES = [100, 1_000, 10_000, 100_000];
const MIN_MS = 300;

/** A clock whose timers never fire: the benchmark measures lookups, not expiry. */
const frozenClock: KernelClock = { now: () => 1_700_000_000_000, at: () => () => undefined };

function ip4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function bytes4(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

/** Deterministic xorshift32 so that every run measures the same work. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Run `body(i)` in rounds until MIN_MS elapsed; returns operations per second. */
function rate(count: number, body: (i: number) => void): number {
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (let i = 0; i < count; i++) body(i);
    ops += count;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsed < MIN_MS);
  return (ops / elapsed) * 1000;
}

let sink = 0;

/**
 * SPD of n policies: three in four are host-to-host (/32 → /32), one in four
 * subnet-to-subnet (/24 → /24), priorities spread over 4 values. Lookups use
 * the addresses of installed policies (and 1 in 10 misses).
 */
function benchSpd(n: number): BenchResult {
  const spd = new Spd({ clock: frozenClock });
  const next = rng(n);
  const hosts: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const subnet = i % 4 === 0;
    const src = ((10 << 24) | (i << 8)) >>> 0;
    const dst = ((172 << 24) | (16 << 16) | (i << 4)) >>> 0;
    const r = spd.add(
      {
        seq: i,
        pid: 1,
        ext: {
          addressSrc: { proto: 255, prefixlen: subnet ? 24 : 32, addr: { family: 2, address: ip4(src), port: 0 } },
          addressDst: { proto: 255, prefixlen: subnet ? 24 : 32, addr: { family: 2, address: ip4(dst), port: 0 } },
          policy: { type: IpsecPolicyType.NONE, dir: IpsecDir.OUTBOUND, id: 0, priority: 0x80000000 - (next() % 4), requests: [] },
        },
      },
      false,
    );
    if (!r.ok) throw new Error(`bench setup: ${r.reason}`);
    hosts.push([src + (subnet ? 7 : 0), dst + (subnet ? 9 : 0)]);
  }
  const packets: PacketSelector[] = [];
  for (let i = 0; i < 4096; i++) {
    const miss = next() % 10 === 0;
    const [s, d] = hosts[next() % hosts.length];
    packets.push({ src: bytes4(miss ? s ^ 0x40000000 : s), dst: bytes4(d), proto: IPPROTO.UDP, sport: 1000, dport: 2000 });
  }
  const value = rate(packets.length, (i) => {
    if (spd.lookup(packets[i], IpsecDir.OUTBOUND, false)) sink++;
  });
  const map = new Map<string, number>();
  for (let i = 0; i < n; i++) map.set(`${ip4(hosts[i][0])}|${ip4(hosts[i][1])}`, i);
  const keys = packets.map((_, i) => `${ip4(hosts[i % n][0])}|${ip4(hosts[i % n][1])}`);
  const baseline = rate(keys.length, (i) => {
    if (map.get(keys[i]) !== undefined) sink++;
  });
  return { name: `spd lookup, ${n.toLocaleString('en-US')} policies`, value, unit: 'lookups/s', baseline, ratio: value / baseline };
}

/** SADB: add n ESP SAs through the SADB_ADD path, then look each one up inbound. */
function benchSadb(n: number): BenchResult {
  const requests: PfKeyExtensions[] = [];
  const dsts: string[] = [];
  const key = { bits: 128, key: Buffer.alloc(16, 1) };
  const auth = { bits: 160, key: Buffer.alloc(20, 2) };
  for (let i = 0; i < n; i++) {
    const dst = ip4(((192 << 24) | (168 << 16) | (i % 4096)) >>> 0);
    dsts.push(dst);
    requests.push({
      sa: { spi: 0x1000 + i, replay: 32, state: SadbSaState.MATURE, auth: SadbAalg.SHA1HMAC, encrypt: SadbEalg.AESCBC, flags: 0 },
      addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '10.0.0.1', port: 0 } },
      addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: dst, port: 0 } },
      keyEncrypt: key,
      keyAuth: auth,
    });
  }
  let rounds = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    const sadb = new Sadb({ clock: frozenClock });
    for (let i = 0; i < n; i++) {
      const r = sadb.add({ satype: SadbSaType.ESP, seq: i, pid: 1, ext: requests[i] });
      if (!r.ok) throw new Error(`bench setup: ${r.reason}`);
    }
    for (let i = 0; i < n; i++) if (sadb.lookupInbound(dsts[i], IPPROTO.ESP, 0x1000 + i)) sink++;
    rounds++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsed < MIN_MS);
  const value = ((rounds * n) / elapsed) * 1000;

  let bRounds = 0;
  const bStart = process.hrtime.bigint();
  let bElapsed = 0;
  do {
    const map = new Map<string, number>();
    for (let i = 0; i < n; i++) map.set(`${dsts[i]}|50|${0x1000 + i}`, i);
    for (let i = 0; i < n; i++) if (map.get(`${dsts[i]}|50|${0x1000 + i}`) !== undefined) sink++;
    bRounds++;
    bElapsed = Number(process.hrtime.bigint() - bStart) / 1e6;
  } while (bElapsed < MIN_MS);
  const baseline = ((bRounds * n) / bElapsed) * 1000;
  return { name: `sadb add+lookup, ${n.toLocaleString('en-US')} SAs`, value, unit: 'add+lookup/s', baseline, ratio: value / baseline };
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const n of SIZES) out.push(benchSpd(n));
  for (const n of SIZES) out.push(benchSadb(n));
  if (sink < 0) throw new Error('unreachable');
  return out;
}
