/**
 * Test harness: two Ikev1Engines, a virtual clock, a stub kernel answering
 * GETSPI/UPDATE/ADD, and an optional NAT rewriting the initiator's source.
 */
import { createHash } from 'node:crypto';
import { SadbMsgType } from '../../../src/pfkey/constants';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { AuthMethod, IdType } from '../../../src/ike/v1/constants';
import type { Ikev1PeerConfig, SainfoConfig } from '../../../src/ike/v1/config';
import { Ikev1Engine, Ikev1LogEvent } from '../../../src/ike/v1/engine';
import type { Endpoint } from '../../../src/ike/common/natt';

export function seededRandom(seed: string) {
  let n = 0;
  return {
    bytes(len: number): Buffer {
      const out: Buffer[] = [];
      let have = 0;
      while (have < len) {
        const b = createHash('sha256').update(`${seed}:${n++}`).digest();
        out.push(b);
        have += b.length;
      }
      return Buffer.concat(out).subarray(0, len);
    },
  };
}

export function peerConfig(name: string, local: string, remote: string, over: Partial<Ikev1PeerConfig> = {}, sainfo: Partial<SainfoConfig> = {}): Ikev1PeerConfig {
  const localNet = local === '10.0.0.1' ? '192.168.1.0' : '192.168.2.0';
  const remoteNet = local === '10.0.0.1' ? '192.168.2.0' : '192.168.1.0';
  return {
    name,
    local: { address: local, port: 500, id: { type: IdType.IPV4_ADDR, value: local } },
    remote: { address: remote, port: 500, id: { type: IdType.IPV4_ADDR, value: remote } },
    exchangeModes: ['main'],
    psk: Buffer.from('mekmitasdigoat'),
    ph1Proposals: [{ encr: 7, keyBits: 128, hash: 2, authMethod: AuthMethod.PRE_SHARED_KEY, dhGroup: 14, lifetimeSeconds: 28800 }],
    proposalCheck: 'obey',
    sainfos: [
      {
        name: 'net',
        local: { address: localNet, prefixlen: 24, protocol: 0, port: 0 },
        remote: { address: remoteNet, prefixlen: 24, protocol: 0, port: 0 },
        encr: [{ id: 12, keyBits: 128 }],
        auth: [2],
        pfsGroup: null,
        lifetimeSeconds: 3600,
        mode: 'tunnel',
        ...sainfo,
      },
    ],
    natTraversal: true,
    dpdDelaySeconds: 0,
    dpdRetrySeconds: 5,
    dpdMaxFail: 5,
    initialContact: true,
    passive: false,
    retry: { counter: 5, intervalSeconds: 10 },
    ...over,
  };
}

export class Pair {
  now = 0;
  readonly kernel: { a: PfKeyMessage[]; b: PfKeyMessage[] } = { a: [], b: [] };
  readonly logs: { a: Ikev1LogEvent[]; b: Ikev1LogEvent[] } = { a: [], b: [] };
  readonly wire: { from: 'a' | 'b'; data: Buffer; src: Endpoint; dst: Endpoint }[] = [];
  private spi = { a: 0xa0000100, b: 0xb0000100 };
  /** drop datagrams for which this returns true */
  drop: (from: 'a' | 'b', data: Buffer) => boolean = () => false;
  /** NAT in front of a: private → public endpoint */
  nat: ((ep: Endpoint) => Endpoint) | null = null;
  private natBack = new Map<string, Endpoint>();

  constructor(
    readonly a: Ikev1Engine,
    readonly b: Ikev1Engine,
  ) {}

  /** Move messages until both engines are quiet. */
  run(maxSteps = 200): void {
    for (let i = 0; i < maxSteps; i++) {
      const moved = this.step('a') + this.step('b');
      if (moved === 0) return;
    }
    throw new Error('engines did not settle');
  }

  /** Advance the virtual clock to the next timer and run. */
  tick(): void {
    const t = [this.a.getTimer(), this.b.getTimer()].filter((x): x is number => x !== null);
    if (t.length === 0) return;
    this.now = Math.max(this.now, Math.min(...t));
    this.a.handleTimer(this.now);
    this.b.handleTimer(this.now);
    this.run();
  }

  private step(who: 'a' | 'b'): number {
    const eng = who === 'a' ? this.a : this.b;
    const other = who === 'a' ? this.b : this.a;
    const acts = eng.pollActions();
    for (const act of acts) {
      if (act.kind === 'log') this.logs[who].push(act.event);
      else if (act.kind === 'pfkey') {
        this.kernel[who].push(act.msg);
        const reply: PfKeyMessage = { ...act.msg, ext: { ...act.msg.ext } };
        if (act.msg.type === SadbMsgType.GETSPI) {
          reply.ext.sa = { spi: this.spi[who]++, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 };
          eng.receivePfKey(reply, this.now);
        } else if (act.msg.type === SadbMsgType.UPDATE || act.msg.type === SadbMsgType.ADD) eng.receivePfKey(reply, this.now);
      } else {
        this.wire.push({ from: who, data: act.data, src: act.from, dst: act.to });
        if (this.drop(who, act.data)) continue;
        let from = act.from;
        let to = act.to;
        if (this.nat && who === 'a') {
          const pub = this.nat(from);
          this.natBack.set(`${pub.address}:${pub.port}`, from);
          from = pub;
        }
        if (this.nat && who === 'b') to = this.natBack.get(`${to.address}:${to.port}`) ?? to;
        other.receiveDatagram(act.data, from, to, this.now);
      }
    }
    return acts.length;
  }
}

export function makePair(cfgA: Ikev1PeerConfig, cfgB: Ikev1PeerConfig, seed = 'x'): Pair {
  return new Pair(
    new Ikev1Engine({ peers: [cfgA], random: seededRandom(`${seed}a`), pid: 100 }),
    new Ikev1Engine({ peers: [cfgB], random: seededRandom(`${seed}b`), pid: 200 }),
  );
}
