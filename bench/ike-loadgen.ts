/**
 * IKEv2 load generator: tanuki's own sans-I/O initiator engine (Ikev2Engine)
 * driving a real UDP socket, with many concurrent IKE_SA_INIT + IKE_AUTH
 * exchanges (one CHILD_SA each) against any IKEv2 responder — tanuki's racoon
 * or strongSwan's charon (bench/ikev2-udp.ts runs both).
 *
 * One peer configuration per handshake (same address and port, same
 * identity, its own IKE SPIs), so every handshake is a new IKE SA; the
 * responder must not treat them as replacing each other (no INITIAL_CONTACT).
 * The generator's own PF_KEY kernel is a stub that hands out SPIs and accepts
 * UPDATE/ADD: only the responder's side is being measured.
 *
 * To leave the machine's cores to the responder, the generator reuses one
 * x25519 key pair for all its IKE_SA_INIT requests (RFC 7296 §2.12 allows
 * reusing DH values; the responder still makes a fresh key pair and computes a
 * fresh shared secret every time). A handshake is complete when the responder's
 * IKE_AUTH response has been verified and the CHILD_SA installed (the
 * generator's SADB_ADD).
 *
 * Run as a program: `node dist/bench/ike-loadgen.js '<LoadgenOptions as JSON>'`
 * prints one LoadgenResult as JSON on stdout (bench/ikev2-udp.ts starts it
 * inside a network namespace).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { IdType } from '../src/ike/v2/constants';
import { tsFromCidr, type Ikev2PeerConfig } from '../src/ike/v2/config';
import type { DhLike, IkeCryptoPort } from '../src/ike/v2/crypto-port';
import { registryCryptoPort } from '../src/ike/v2/crypto-registry-port';
import { Ikev2Engine, type Ikev2Action } from '../src/ike/v2/engine';
import { SadbMsgType } from '../src/pfkey/constants';
import type { PfKeyMessage } from '../src/pfkey/types';

const NATT_PORT = 4500; // RFC 3948 §2

export interface LoadgenOptions {
  local: { address: string; port: number };
  remote: { address: string; port: number };
  localId: string;
  remoteId: string;
  psk: string;
  localTs: string;
  remoteTs: string;
  /** handshakes to complete (the first `warmup` are not timed) */
  count: number;
  warmup: number;
  /** handshakes in flight at once */
  concurrency: number;
  /** give up after this long (ms) */
  timeoutMs: number;
}

export interface LoadgenResult {
  completed: number;
  /** handshakes that failed (AUTH, NO_PROPOSAL_CHOSEN, timeouts after retransmissions) */
  failed: number;
  /** wall-clock seconds of the timed part */
  seconds: number;
  handshakesPerSecond: number;
  /** median and 99th percentile of the handshake latency (ms), timed part */
  latencyMs: { p50: number; p99: number };
  retransmits: number;
  /** first few error log lines of the generator, for diagnosis */
  errors: string[];
}

/** AES-GCM-16-128, PRF-HMAC-SHA2-256, x25519; ESP AES-GCM-16-128; PSK. */
export function generatorPeer(i: number, o: LoadgenOptions): Ikev2PeerConfig {
  return {
    name: `g${i}`,
    local: { address: o.local.address, port: o.local.port, id: { type: IdType.ID_FQDN, value: o.localId } },
    remote: { address: o.remote.address, port: o.remote.port, id: { type: IdType.ID_FQDN, value: o.remoteId } },
    auth: { method: 'psk', psk: Buffer.from(o.psk) },
    ikeProposals: [{ encr: [{ id: 20, keyBits: 128 }], integ: [], prf: [5], dh: [31] }],
    children: [
      {
        name: 'bench',
        proposals: [{ encr: [{ id: 20, keyBits: 128 }], integ: [], dh: [], esn: [0] }],
        localTs: [tsFromCidr(o.localTs)],
        remoteTs: [tsFromCidr(o.remoteTs)],
        mode: 'tunnel',
        lifetime: { softSeconds: 2700, hardSeconds: 3600 },
      },
    ],
    dpdDelaySeconds: 0,
    fragmentation: false,
    initialContact: false,
  };
}

/** The registry port with one reused DH key pair per group (see the file comment). */
export function reusedDhPort(base: IkeCryptoPort): IkeCryptoPort {
  const pairs = new Map<number, DhLike>();
  return {
    ...base,
    dh(group) {
      const suite = base.dh(group);
      if (!suite) return null;
      return {
        ...suite,
        create(priv) {
          let d = pairs.get(group);
          if (!d) pairs.set(group, (d = suite.create(priv)));
          return d;
        },
      };
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

export async function runLoad(o: LoadgenOptions): Promise<LoadgenResult> {
  const peers = Array.from({ length: o.count }, (_, i) => generatorPeer(i, o));
  const engine = new Ikev2Engine({
    peers,
    crypto: reusedDhPort(registryCryptoPort),
    random: { bytes: (n) => randomBytes(n) },
    pid: process.pid,
    retransmit: { timeoutMs: 2000, base: 1.8, tries: 3 },
    debugLogs: () => false,
  });
  // the IKE port and the NAT-T port: a responder may float to 4500 (charon with
  // kernel-libipsec fakes a NAT to force UDP-encapsulated ESP, RFC 3948)
  const sockets = new Map<number, Socket>();
  for (const port of [o.local.port, NATT_PORT]) {
    const socket = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, o.local.address, () => resolve());
    });
    // enough socket buffer for a burst of responses
    socket.setRecvBufferSize(4 << 20);
    socket.setSendBufferSize(4 << 20);
    sockets.set(port, socket);
  }

  let nextSpi = 0x1000;
  let started = 0;
  let completed = 0;
  let failed = 0;
  let retransmits = 0;
  let timedStart = 0n;
  const startedAt = new Map<number, number>();
  const latencies: number[] = [];
  const errors: string[] = [];
  const t0 = Date.now();


  return await new Promise<LoadgenResult>((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(ticker);
      const seconds = Number(process.hrtime.bigint() - timedStart) / 1e9;
      const timed = Math.max(0, completed - o.warmup);
      latencies.sort((a, b) => a - b);
      for (const socket of sockets.values()) socket.close();
      resolve({
        completed,
        failed,
        seconds,
        handshakesPerSecond: seconds > 0 ? timed / seconds : 0,
        latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
        retransmits,
        errors,
      });
    };
    const kernel = (m: PfKeyMessage): void => {
      if (m.type === SadbMsgType.GETSPI) {
        engine.receivePfKey({ ...m, ext: { ...m.ext, sa: { spi: nextSpi++, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 } } }, Date.now());
        return;
      }
      engine.receivePfKey(m, Date.now());
    };
    /** The CHILD_SA of IKE SA `ikeSa` ("g17[18]") is installed: one handshake done. */
    const done = (ikeSa: string): void => {
      const serial = Number(/\[(\d+)\]$/.exec(ikeSa)?.[1]);
      const at = startedAt.get(serial);
      startedAt.delete(serial);
      completed++;
      if (completed === o.warmup) timedStart = process.hrtime.bigint();
      else if (completed > o.warmup && at !== undefined) latencies.push(Date.now() - at);
      if (completed + failed >= o.count) finish();
    };
    const act = (actions: Ikev2Action[]): void => {
      for (const a of actions) {
        if (a.kind === 'datagram') (sockets.get(a.from.port) ?? sockets.get(o.local.port)!).send(a.data, a.to.port, a.to.address);
        else if (a.kind === 'pfkey') kernel(a.msg);
        else if (a.kind === 'log') {
          const msg = a.event.msg;
          if (msg.startsWith('retransmit')) retransmits++;
          if (msg === 'CHILD_SA bench established') done(String(a.event.ikeSa ?? ''));
          if (a.event.level === 'error') fail(String(a.event.ikeSa ?? ''), msg);
        }
      }
    };
    /** Any error of a handshake still under way (one per IKE SA: giving up also logs "phase1 negotiation failed"). */
    const fail = (ikeSa: string, msg: string): void => {
      const serial = Number(/\[(\d+)\]$/.exec(ikeSa)?.[1]);
      if (!startedAt.has(serial)) return;
      startedAt.delete(serial);
      failed++;
      if (errors.length < 5) errors.push(msg);
      if (completed + failed >= o.count) finish();
    };
    const startMore = (): void => {
      while (!finished && started < o.count && started - completed - failed < o.concurrency) {
        const serial = engine.initiate(`g${started++}`, Date.now());
        if (serial !== null) startedAt.set(serial, Date.now());
        act(engine.pollActions());
      }
    };
    for (const [port, socket] of sockets)
      socket.on('message', (msg, rinfo) => {
        engine.receiveDatagram(msg, { address: rinfo.address, port: rinfo.port }, { address: o.local.address, port }, Date.now());
        act(engine.pollActions());
        startMore();
      });
    const ticker = setInterval(() => {
      const now = Date.now();
      engine.handleTimer(now);
      act(engine.pollActions());
      startMore();
      if (now - t0 > o.timeoutMs) {
        if (errors.length < 5) errors.push(`timed out after ${o.timeoutMs} ms with ${completed} of ${o.count} handshakes complete`);
        finish();
      }
    }, 250);
    timedStart = process.hrtime.bigint();
    startMore();
  });
}

if (require.main === module) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadgenOptions;
  runLoad(opts).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`ike-loadgen: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
