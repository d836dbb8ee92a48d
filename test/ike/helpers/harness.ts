/**
 * A virtual network + virtual clock driving several Ikev2Engines, each with a
 * minimal in-memory PF_KEY kernel (GETSPI/UPDATE/ADD/DELETE semantics of
 * RFC 2367 §3.1: GETSPI creates a larval SA, UPDATE matures it, ADD adds a
 * mature one, DELETE removes). Deterministic: SPIs come from a counter.
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { Errno } from '../../../src/pfkey/constants';
import type { Endpoint } from '../../../src/ike/common/natt';
import { Ikev2Engine, Ikev2LogEvent, Ikev2EngineOptions } from '../../../src/ike/v2/engine';
import type { Ikev2PeerConfig } from '../../../src/ike/v2/config';
import { nodeCryptoPort, seededRandom } from './node-crypto-port';

export interface KernelSa {
  spi: number;
  src: string;
  dst: string;
  state: 'larval' | 'mature';
  msg: PfKeyMessage;
}

export class FakeKernel {
  sas = new Map<string, KernelSa>();
  policies = new Map<string, PfKeyMessage>();
  private policyKey(m: PfKeyMessage): string {
    const a = (x: typeof m.ext.addressSrc) => `${x?.addr.address}/${x?.prefixlen}:${x?.addr.port}:${x?.proto}`;
    return `${a(m.ext.addressSrc)}>${a(m.ext.addressDst)} dir ${m.ext.policy?.dir}`;
  }
  log: PfKeyMessage[] = [];
  private nextSpi: number;
  failGetspi = false;
  constructor(spiBase: number) {
    this.nextSpi = spiBase;
  }
  private key(spi: number, dst: string) {
    return `${spi.toString(16)}@${dst}`;
  }
  handle(m: PfKeyMessage): PfKeyMessage {
    this.log.push(m);
    const dst = m.ext.addressDst?.addr.address ?? '';
    const src = m.ext.addressSrc?.addr.address ?? '';
    const reply = (errno: number, ext = m.ext): PfKeyMessage => ({ ...m, errno, ext });
    switch (m.type) {
      case SadbMsgType.GETSPI: {
        if (this.failGetspi) return reply(Errno.ENOENT);
        const spi = this.nextSpi++;
        this.sas.set(this.key(spi, dst), { spi, src, dst, state: 'larval', msg: m });
        return reply(0, { ...m.ext, sa: { spi, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 } });
      }
      case SadbMsgType.UPDATE: {
        const k = this.key(m.ext.sa!.spi, dst);
        const cur = this.sas.get(k);
        if (!cur || cur.state !== 'larval') return reply(Errno.ESRCH);
        this.sas.set(k, { spi: m.ext.sa!.spi, src, dst, state: 'mature', msg: m });
        return reply(0);
      }
      case SadbMsgType.ADD: {
        const k = this.key(m.ext.sa!.spi, dst);
        if (this.sas.has(k)) return reply(Errno.EEXIST);
        this.sas.set(k, { spi: m.ext.sa!.spi, src, dst, state: 'mature', msg: m });
        return reply(0);
      }
      case SadbMsgType.DELETE: {
        const k = this.key(m.ext.sa!.spi, dst);
        if (!this.sas.delete(k)) return reply(Errno.ESRCH);
        return reply(0);
      }
      case SadbMsgType.X_SPDUPDATE: {
        this.policies.set(this.policyKey(m), m);
        return reply(0);
      }
      case SadbMsgType.X_SPDDELETE: {
        if (!this.policies.delete(this.policyKey(m))) return reply(Errno.ENOENT);
        return reply(0);
      }
      default:
        return reply(Errno.EOPNOTSUPP);
    }
  }
  mature(): KernelSa[] {
    return [...this.sas.values()].filter((s) => s.state === 'mature');
  }
}

export interface Node {
  name: string;
  address: string;
  engine: Ikev2Engine;
  kernel: FakeKernel;
  logs: Ikev2LogEvent[];
}

export interface Wire {
  from: Endpoint;
  to: Endpoint;
  data: Buffer;
}

export class VirtualNet {
  now = 0;
  nodes: Node[] = [];
  sent: Wire[] = [];
  /** return true to drop a datagram */
  drop: (w: Wire, index: number) => boolean = () => false;
  /** rewrite a datagram in flight (NAT) */
  rewrite: (w: Wire) => Wire = (w) => w;

  add(name: string, address: string, peers: Ikev2PeerConfig[], extra: Partial<Ikev2EngineOptions> = {}, spiBase = 0xc0000000): Node {
    const engine = new Ikev2Engine({ peers, crypto: nodeCryptoPort, random: seededRandom(name), pid: 100 + this.nodes.length, ...extra });
    const n: Node = { name, address, engine, kernel: new FakeKernel(spiBase), logs: [] };
    this.nodes.push(n);
    return n;
  }

  /** Deliver everything until nobody has anything left to do. */
  pump(): void {
    for (let guard = 0; guard < 10000; guard++) {
      let busy = false;
      for (const n of this.nodes) {
        for (const a of n.engine.pollActions()) {
          busy = true;
          if (a.kind === 'log') n.logs.push(a.event);
          else if (a.kind === 'pfkey') n.engine.receivePfKey(n.kernel.handle(a.msg), this.now);
          else {
            const w = this.rewrite({ from: a.from, to: a.to, data: a.data });
            const idx = this.sent.length;
            this.sent.push(w);
            if (this.drop(w, idx)) continue;
            const dst = this.nodes.find((x) => x.address === w.to.address);
            dst?.engine.receiveDatagram(w.data, w.from, w.to, this.now);
          }
        }
      }
      if (!busy) return;
    }
    throw new Error('network did not settle');
  }

  /** Advance the virtual clock to `t`, firing timers in order. */
  advance(t: number): void {
    this.pump();
    for (;;) {
      const timers = this.nodes.map((n) => n.engine.getTimer()).filter((x): x is number => x !== null && x <= t);
      if (timers.length === 0) break;
      this.now = Math.max(this.now, Math.min(...timers));
      for (const n of this.nodes) {
        const tm = n.engine.getTimer();
        if (tm !== null && tm <= this.now) n.engine.handleTimer(this.now);
      }
      this.pump();
    }
    this.now = t;
  }
}
