/**
 * IKEv2 benchmarks (issue 4): full handshakes per second (IKE_SA_INIT +
 * IKE_AUTH with one CHILD_SA, PSK, x25519, AES-GCM-16) with tanuki's engine
 * as responder, driven by a load generator built on tanuki's own initiator
 * engine with many concurrent exchanges; and the memory a responder holds
 * per established IKE_SA + CHILD_SA at 10,000 SAs.
 *
 * Both engines run in this one thread, so every handshake pays for both
 * sides (2 x25519 key pairs + 2 shared secrets). Baseline, measured in the
 * same run: x25519 "DH operations" (a key pair plus a shared secret) per
 * second through src/crypto, the machine's limit the issue names; the ratio
 * handshakes/s ÷ DH ops/s is at most 0.5 here (two DH operations per
 * handshake). Over real UDP against the racoon daemon and against charon:
 * bench/ikev2-udp.ts.
 *
 * Memory: the responder's JS heap + ArrayBuffer bytes after a full GC, before
 * and after SAS handshakes, divided by SAS. The code the handshakes compile is
 * not counted: a throw-away pair of engines runs a few hundred handshakes first.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { randomBytes } from 'node:crypto';
import { createDh } from '../src/crypto/dh';
import { findAlgorithm } from '../src/crypto/registry';
import { IdType } from '../src/ike/v2/constants';
import { Ikev2PeerConfig, tsFromCidr } from '../src/ike/v2/config';
import { registryCryptoPort } from '../src/ike/v2/crypto-registry-port';
import { Ikev2Engine } from '../src/ike/v2/engine';
import { SadbMsgType } from '../src/pfkey/constants';
import type { PfKeyMessage } from '../src/pfkey/types';
import type { BenchResult } from './types';

const SAS = Number(process.env.BENCH_IKEV2_SAS ?? 10000);
const CONCURRENCY = 200;

function gcFn(): () => void {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as unknown;
  return typeof gc === 'function' ? (gc as () => void) : () => undefined;
}

function config(i: number, responder: boolean): Ikev2PeerConfig {
  const child = {
    name: 'c',
    proposals: [{ encr: [{ id: 20, keyBits: 128 }], integ: [], dh: [], esn: [0] }],
    localTs: [tsFromCidr(responder ? '10.2.0.0/16' : '10.1.0.0/16')],
    remoteTs: [tsFromCidr(responder ? '10.1.0.0/16' : '10.2.0.0/16')],
    mode: 'tunnel' as const,
    lifetime: { softSeconds: 2700, hardSeconds: 3600 },
  };
  return {
    name: responder ? 'any' : `p${i}`,
    local: { address: responder ? '10.99.0.2' : '10.99.0.1', port: responder ? 500 : 1024 + i, id: { type: IdType.ID_FQDN, value: responder ? 'srv.test' : 'client.test' } },
    remote: { address: responder ? '%any' : '10.99.0.2', port: 500, id: responder ? null : { type: IdType.ID_FQDN, value: 'srv.test' } },
    auth: { method: 'psk', psk: Buffer.from('bench-psk') },
    ikeProposals: [{ encr: [{ id: 20, keyBits: 128 }], integ: [], prf: [5], dh: [31] }],
    children: [child],
    dpdDelaySeconds: 0,
    fragmentation: false,
    initialContact: false,
  };
}

/** A PF_KEY kernel that only answers: GETSPI hands out SPIs, everything else succeeds. */
function kernelReply(m: PfKeyMessage, spi: { next: number }): PfKeyMessage {
  if (m.type === SadbMsgType.GETSPI) return { ...m, ext: { ...m.ext, sa: { spi: spi.next++, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 } } };
  return m;
}

function pump(engines: Ikev2Engine[], spis: { next: number }[], now: number): void {
  for (let busy = true; busy; ) {
    busy = false;
    for (let e = 0; e < engines.length; e++) {
      for (const a of engines[e].pollActions()) {
        busy = true;
        if (a.kind === 'pfkey') engines[e].receivePfKey(kernelReply(a.msg, spis[e]), now);
        else if (a.kind === 'datagram') engines[1 - e].receiveDatagram(a.data, a.from, a.to, now);
      }
    }
  }
}

function dhOpsPerSecond(): number {
  const g = findAlgorithm('dh', 'ikev2', 31)!;
  const peer = createDh(g).publicValue;
  const start = process.hrtime.bigint();
  let n = 0;
  while (process.hrtime.bigint() - start < 500_000_000n) {
    createDh(g).computeShared(peer);
    n++;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** Run SAS handshakes against `responder` from a generator engine that is dropped afterwards. */
function handshakes(responder: Ikev2Engine, random: { bytes(n: number): Buffer }, count: number): number {
  const peers = Array.from({ length: count }, (_, i) => config(i, false));
  const generator = new Ikev2Engine({ peers, crypto: registryCryptoPort, random, pid: 2, debugLogs: () => false });
  const spis = [{ next: 0x1000 }, { next: 0x10000000 }];
  const engines = [generator, responder];
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += CONCURRENCY) {
    for (let j = i; j < Math.min(count, i + CONCURRENCY); j++) generator.initiate(`p${j}`, 0);
    pump(engines, spis, 0);
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function run(): Promise<BenchResult[]> {
  const gc = gcFn();
  const random = { bytes: (n: number) => randomBytes(n) };
  const dhOps = dhOpsPerSecond();
  gc();
  const mem = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const newResponder = () => new Ikev2Engine({ peers: [config(0, true)], crypto: registryCryptoPort, random, pid: 1, cookieThreshold: 1e9, maxHalfOpen: 1e9, debugLogs: () => false });
  handshakes(newResponder(), random, Math.min(SAS, 400)); // warm-up: compile the hot code
  gc();
  gc();
  const mem0 = mem();
  const responder = newResponder();
  const seconds = handshakes(responder, random, SAS);
  const established = responder.ikeSas().filter((s) => s.state === 'established' && s.children.length === 1).length;
  if (established !== SAS) throw new Error(`only ${established} of ${SAS} handshakes completed`);
  const rate = SAS / seconds;
  // memory held by the responder (JS heap + Buffer backing stores); the generator is gone by now
  gc();
  gc();
  const perSa = (mem() - mem0) / SAS;
  if (responder.ikeSas().length !== SAS) throw new Error('responder lost SAs');
  return [
    { name: `IKEv2 handshakes (x25519, AES-GCM-16, PSK, 1 CHILD_SA), both ends in one thread, ${CONCURRENCY} concurrent`, value: rate, unit: 'handshakes/s', baseline: dhOps, ratio: rate / dhOps },
    { name: `IKEv2 responder heap per IKE_SA + CHILD_SA at ${SAS} SAs, JS heap + buffers (goal < 4096)`, value: perSa, unit: 'bytes', baseline: 4096, ratio: perSa / 4096 },
  ];
}
