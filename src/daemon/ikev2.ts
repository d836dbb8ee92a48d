/**
 * The IKEv2 engine in the racoon process: racoon.conf `remote { ike_version 2; }`
 * blocks and their sainfos become Ikev2PeerConfigs; the kernel's SPD (racoon's
 * SP cache) gives the traffic selectors; datagrams, PF_KEY messages and timers
 * are fed to the sans-I/O engine and its actions carried out.
 *
 * Mapping (README "IKEv2 in racoon.conf"):
 *   remote_address            → peer address (anonymous remote: any peer)
 *   my_identifier / peers_identifier → IDi/IDr (address, fqdn, user_fqdn, keyid)
 *   psk.txt                   → the PSK, by the peer's identifier, else by its address
 *   proposal {}               → IKE proposals: encryption (+ key length), hash_algorithm as
 *                               the PRF (and integrity for non-AEAD), dh_group
 *   lifetime time             → IKE SA hard lifetime (rekey at 80 %, as racoon's soft)
 *   dpd_delay, ike_frag, initial_contact, generate_policy → as named
 *   sainfo                    → CHILD_SA proposals, PFS group and lifetime
 *   outbound IPSEC policies   → CHILD_SA traffic selectors, mode and reqid
 */
import { randomBytes } from 'node:crypto';
import { selectSaInfo, type RacoonConfig, type RemoteConf, type SaInfo, type Identifier } from '../config/racoon';
import { getPsk, getPskByAddr } from '../config/psk';
import { IpsecDir, IpsecMode, IpsecPolicyType, SadbMsgType } from '../pfkey/constants';
import type { PfKeyMessage, SadbAddress, SockAddr } from '../pfkey/types';
import { formatIp, maskAddress, parseIp } from '../util/ip';
import { Ikev2Engine, type Ikev2Action } from '../ike/v2/engine';
import { registryCryptoPort } from '../ike/v2/crypto-registry-port';
import { IdType } from '../ike/v2/constants';
import type { ChildConfig, ChildProposalConfig, IkeProposalConfig, Ikev2Identity, Ikev2PeerConfig, TrafficSelectorConfig } from '../ike/v2/config';
import { addressId } from '../config/racoon/ids';
import { encodePh1Dump } from './admin/wire';
import { EvtType } from './admin/wire';
import { SpdCache, type CachedPolicy } from './spd-cache';
import { MigrateHandler } from './migrate';
import type { Datagram } from './ike-sockets';
import type { DaemonContext, KeyingEngine } from './racoon';

/** RFC 7296 §3.3.2: the integrity transform that goes with each PRF for non-AEAD IKE proposals. */
const INTEG_FOR_PRF: Record<number, number> = { 1: 1, 2: 2, 5: 12, 6: 13, 7: 14, 4: 5, 8: 8 };
const IKEV2_VERSION_BYTE = 0x20; // RFC 7296 §3.1: major 2, minor 0

function identity(id: Identifier, fallbackAddress: string): Ikev2Identity {
  switch (id.type) {
    case 'fqdn':
      return { type: IdType.ID_FQDN, value: id.value ?? '' };
    case 'user_fqdn':
      return { type: IdType.ID_RFC822_ADDR, value: id.value ?? '' };
    case 'keyid':
      return { type: IdType.ID_KEY_ID, value: Buffer.from(id.value ?? '', 'latin1').toString('hex') };
    case 'asn1dn':
      return { type: IdType.ID_DER_ASN1_DN, value: Buffer.from(id.value ?? '', 'latin1').toString('hex') };
    default: {
      const a = id.value ?? fallbackAddress;
      return { type: a.includes(':') ? IdType.ID_IPV6_ADDR : IdType.ID_IPV4_ADDR, value: a };
    }
  }
}

function ikeProposals(r: RemoteConf): IkeProposalConfig[] {
  return r.proposals.map((p) => {
    const prf = p.hash.alg.ikev2 ?? 0;
    return {
      encr: [{ id: p.encryption.alg.ikev2 ?? 0, ...(p.encryption.keyLength ? { keyBits: p.encryption.keyLength } : {}) }],
      integ: p.encryption.alg.aead ? [] : [INTEG_FOR_PRF[prf] ?? 0],
      prf: [prf],
      dh: [p.dhGroup.alg.ikev2 ?? 0],
    };
  });
}

function childProposals(s: SaInfo): ChildProposalConfig[] {
  const dh = s.pfsGroup?.ikev2 ? [s.pfsGroup.ikev2] : [];
  const out: ChildProposalConfig[] = [];
  for (const e of s.encryption) {
    const encr = [{ id: e.alg.ikev2 ?? 0, ...(e.keyLength ? { keyBits: e.keyLength } : {}) }];
    if (e.alg.aead) out.push({ encr, integ: [], dh, esn: [0] });
    else out.push({ encr, integ: s.authentication.map((a) => a.alg.ikev2 ?? 0).filter((n) => n !== 0), dh, esn: [0] });
  }
  return out;
}

function tsOf(a: SadbAddress): TrafficSelectorConfig {
  const bytes = parseIp(a.addr.address) ?? Buffer.alloc(4);
  const low = maskAddress(bytes, a.prefixlen);
  const high = Buffer.from(low);
  for (let bit = a.prefixlen; bit < high.length * 8; bit++) high[bit >> 3] |= 0x80 >> (bit & 7);
  const proto = a.proto === 255 ? 0 : a.proto;
  const port = a.addr.port;
  return { protocol: proto, startPort: port || 0, endPort: port || 65535, startAddress: formatIp(low), endAddress: formatIp(high) };
}

function anyTs(family: 4 | 6): TrafficSelectorConfig {
  return family === 4
    ? { protocol: 0, startPort: 0, endPort: 65535, startAddress: '0.0.0.0', endAddress: '255.255.255.255' }
    : { protocol: 0, startPort: 0, endPort: 65535, startAddress: '::', endAddress: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' };
}

export class Ikev2Keying implements KeyingEngine {
  readonly name = 'ikev2';
  private engine: Ikev2Engine;
  private peers: Ikev2PeerConfig[] = [];
  private readonly spd = new SpdCache();
  private timer: NodeJS.Timeout | null = null;
  private up = new Map<number, { local: SockAddr; remote: SockAddr }>();
  /** Mobile IPv6 MIGRATE (docs/migrate.md): KMADDRESS present = K-bit set. */
  private readonly migrations: MigrateHandler;

  constructor(private readonly ctx: DaemonContext) {
    this.migrations = new MigrateHandler({ kbit: 'kmaddress', log: ctx.log });
    this.peers = this.buildPeers(ctx.config());
    this.engine = new Ikev2Engine({
      peers: this.peers,
      crypto: registryCryptoPort,
      random: { bytes: (n) => randomBytes(n) },
      pid: ctx.pfkey.pid,
    });
    this.spd.onChange(() => this.refreshChildren());
    ctx.pfkey.send({ type: SadbMsgType.X_SPDDUMP, satype: 0, errno: 0, seq: 0, pid: ctx.pfkey.pid, ext: {} });
  }

  private now(): number {
    return Date.now();
  }

  private remotesV2(config: RacoonConfig): RemoteConf[] {
    return config.remotes.filter((r) => r.ikeVersion === 2);
  }

  private psk(config: RacoonConfig, r: RemoteConf, remoteAddress: string): Buffer | null {
    const path = config.path.preSharedKey;
    if (!path) return null;
    for (const id of r.peersIdentifiers) {
      if (id.value === null || id.type === 'address') continue;
      const hit = getPsk(path, Buffer.from(id.value, 'latin1'));
      if (hit.ok && hit.key) return hit.key;
      if (!hit.ok) for (const e of hit.errors) this.ctx.log.error({ peer: remoteAddress }, e);
    }
    if (remoteAddress === '%any') return null;
    const byAddr = getPskByAddr(path, remoteAddress);
    if (!byAddr.ok) for (const e of byAddr.errors) this.ctx.log.error({ peer: remoteAddress }, e);
    return byAddr.ok ? byAddr.key : null;
  }

  private buildPeers(config: RacoonConfig): Ikev2PeerConfig[] {
    const out: Ikev2PeerConfig[] = [];
    const ports = this.ctx.sockets.locals();
    for (const r of this.remotesV2(config)) {
      const remoteAddress = r.remote?.address ?? '%any';
      const family = r.remote?.family ?? null;
      const psk = this.psk(config, r, remoteAddress);
      if (!psk) {
        this.ctx.log.warn({ remote: r.name }, `couldn't find the pskey for ${remoteAddress}: IKEv2 remote "${r.name}" is not usable`);
        continue;
      }
      const locals = ports.filter((l) => !l.address.startsWith('0.') && l.address !== '::' && (family === null || l.family === family) && l.port !== 4500);
      for (const local of locals) {
        const hard = r.lifetime;
        out.push({
          name: `${r.name}@${local.address}`,
          local: { address: local.address, port: local.port, id: identity(r.myIdentifier, local.address) },
          remote: { address: remoteAddress, port: r.remote?.port ?? 500, id: r.peersIdentifiers[0] ? identity(r.peersIdentifiers[0], remoteAddress) : null },
          auth: { method: 'psk', psk },
          ikeProposals: ikeProposals(r),
          children: [],
          dpdDelaySeconds: r.dpdDelay,
          fragmentation: r.ikeFrag !== 'off',
          initialContact: r.initialContact,
          ikeLifetime: { softSeconds: Math.floor(hard * 0.8), hardSeconds: hard },
          generatePolicy: r.generatePolicy !== 'off',
          ...(r.natTraversal === 'force' ? { forceEncap: true } : {}),
        });
      }
    }
    return out;
  }

  /** CHILD_SA configurations from the SP cache (+ a narrowable any↔any child with generate_policy). */
  private refreshChildren(): void {
    const config = this.ctx.config();
    for (const peer of this.peers) {
      const r = this.remotesV2(config).find((x) => peer.name.startsWith(`${x.name}@`));
      if (!r) continue;
      const children: ChildConfig[] = [];
      for (const p of this.spd.outboundIpsec()) {
        const ends = SpdCache.peerOf(p);
        if (peer.remote.address !== '%any' && ends.remote !== peer.remote.address) continue;
        const child = this.childFor(config, r, p);
        if (child) children.push(child);
      }
      if (r.generatePolicy !== 'off') {
        const s = selectSaInfo(config, { local: null, remote: null, remoteid: r.ph1id });
        const fam = peer.local.address.includes(':') ? 6 : 4;
        if (s) children.push({ name: 'generate_policy', proposals: childProposals(s), localTs: [anyTs(fam)], remoteTs: [anyTs(fam)], mode: 'tunnel', lifetime: { softSeconds: Math.floor(s.lifetime * 0.8), hardSeconds: s.lifetime } });
      }
      peer.children.splice(0, peer.children.length, ...children);
    }
  }

  private childFor(config: RacoonConfig, r: RemoteConf, p: CachedPolicy): ChildConfig | null {
    const local = addressId(p.src.addr.address);
    const remote = addressId(p.dst.addr.address);
    const s = selectSaInfo(config, {
      local: local ? { ...local, port: p.src.addr.port } : null,
      remote: remote ? { ...remote, port: p.dst.addr.port } : null,
      remoteid: r.ph1id,
    });
    if (!s) {
      this.ctx.log.warn({ spid: p.id }, 'failed to get sainfo');
      return null;
    }
    const req = p.policy.requests[0];
    return {
      name: `spid-${p.id}`,
      proposals: childProposals(s),
      localTs: [tsOf(p.src)],
      remoteTs: [tsOf(p.dst)],
      mode: req.mode === IpsecMode.TRANSPORT ? 'transport' : 'tunnel',
      lifetime: { softSeconds: Math.floor(s.lifetime * 0.8), hardSeconds: s.lifetime },
      ...(req.reqid ? { reqid: req.reqid } : {}),
    };
  }

  onPfKey(msg: PfKeyMessage): void {
    if (msg.pid === this.ctx.pfkey.pid && msg.type === SadbMsgType.X_SPDDUMP) {
      this.spd.observe(msg);
      return;
    }
    if (this.spd.observe(msg)) return;
    if (msg.type === SadbMsgType.ACQUIRE) {
      this.acquire(msg);
      return;
    }
    if (msg.type === SadbMsgType.X_MIGRATE) {
      this.migrate(msg);
      return;
    }
    const again = this.migrations.renegotiationFor(msg);
    if (again !== null) this.acquire(policyRef(again));
    this.engine.receivePfKey(msg, this.now());
    this.pump();
  }

  /** A MIGRATE broadcast (src/daemon/migrate.ts): move, abandon or restart the IKE SAs of the policy's old path. */
  private migrate(msg: PfKeyMessage): void {
    const out = this.migrations.handle(msg, this.spd, {
      ikeSas: () => this.engine.ikeSas(),
      moveIkeSa: (serial, local, remote) => this.engine.moveIkeSa(serial, local, remote),
      abandonIkeSa: (serial, reason) => this.engine.abandonIkeSa(serial, reason),
      dropIkeSa: (serial) => void this.engine.deleteIkeSa(serial, this.now()),
    });
    if (out.kind === 'migrated') for (const spid of out.restart) this.acquire(policyRef(spid));
    this.pump();
  }

  /** racoon's ACQUIRE handling: SP by id, endpoints from the SP, remote by destination, then initiate. */
  private acquire(msg: PfKeyMessage): void {
    const id = msg.ext.policy?.id;
    const sp = id !== undefined ? this.spd.get(id) : undefined;
    if (!sp) {
      this.ctx.log.debug({ spid: id }, 'ACQUIRE for a policy not in the SP cache');
      return;
    }
    const ends = SpdCache.peerOf(sp);
    // An IKE SA a MIGRATE moved onto these endpoints serves them, whichever local address its peer config names.
    const moved = this.engine.ikeSas().find((s) => s.local.address === ends.local && s.remote.address === ends.remote && (s.state === 'established' || s.state === 'connecting'));
    const peer =
      (moved && this.peers.find((p) => p.name === moved.peer)) ??
      this.peers.find((p) => p.remote.address === ends.remote && p.local.address === ends.local) ??
      this.peers.find((p) => p.remote.address === ends.remote);
    if (!peer) return; // not an IKEv2 peer: the IKEv1 engine (or nobody) answers it
    const child = peer.children.find((c) => c.name === `spid-${sp.id}`);
    if (!child) {
      this.ctx.log.warn({ spid: sp.id, peer: ends.remote }, 'failed to get sainfo');
      return;
    }
    const live = this.engine.ikeSas().find((s) => s.peer === peer.name && (s.state === 'connecting' || s.state === 'established'));
    if (live?.children.some((c) => c.name === child.name)) return;
    this.ctx.log.info({ peer: ends.remote, spid: sp.id }, `IPsec-SA request for ${ends.remote} queued due to no phase1 found.`);
    this.engine.initiate(peer.name, this.now(), child.name);
    this.pump();
  }

  onDatagram(d: Extract<Datagram, { kind: 'ike' }>): boolean {
    if (d.data.length < 28 || d.data[17] !== IKEV2_VERSION_BYTE) return false;
    this.engine.receiveDatagram(d.raw, { address: d.remote.address, port: d.remote.port }, { address: d.local.address, port: d.local.port }, this.now());
    this.pump();
    return true;
  }

  private pump(): void {
    for (const a of this.engine.pollActions()) this.act(a);
    this.trackEvents();
    this.arm();
  }

  private act(a: Ikev2Action): void {
    switch (a.kind) {
      case 'datagram': {
        const fam = a.from.address.includes(':') ? 6 : 4;
        try {
          this.ctx.sockets.sendRaw({ address: a.from.address, port: a.from.port, family: fam }, { address: a.to.address, port: a.to.port, family: fam }, a.data);
        } catch (err) {
          this.ctx.log.error({ peer: a.to.address, err: (err as Error).message }, 'failed to send IKE message');
        }
        return;
      }
      case 'pfkey':
        this.ctx.pfkey.send(a.msg);
        return;
      case 'log': {
        const { level, msg, ...fields } = a.event;
        const lv = level === 'warn' || level === 'error' || level === 'info' || level === 'debug' ? level : 'info';
        this.ctx.log[lv](fields, msg);
        return;
      }
    }
  }

  /** PHASE1_UP / PHASE1_DOWN events for racoonctl show-event, establish-sa -w and hook scripts. */
  private trackEvents(): void {
    const now = Math.floor(Date.now() / 1000);
    const current = new Map<number, { local: SockAddr; remote: SockAddr }>();
    const sock = (e: { address: string; port: number }): SockAddr => ({ family: e.address.includes(':') ? 10 : 2, address: e.address, port: e.port });
    for (const s of this.engine.ikeSas()) {
      if (s.state !== 'established') continue;
      const ends = { local: sock(s.local), remote: sock(s.remote) };
      current.set(s.serial, ends);
      if (!this.up.has(s.serial)) this.ctx.emit({ type: EvtType.PHASE1_UP, timestamp: now, ph1src: ends.local, ph1dst: ends.remote, ph2msgid: 0 });
    }
    for (const [serial, ends] of this.up) {
      if (!current.has(serial)) this.ctx.emit({ type: EvtType.PHASE1_DOWN, timestamp: now, ph1src: ends.local, ph1dst: ends.remote, ph2msgid: 0 });
    }
    this.up = current;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const at = this.engine.getTimer();
    if (at === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.engine.handleTimer(this.now());
      this.pump();
    }, Math.max(0, at - this.now()));
    this.timer.unref();
  }

  reconfigure(config: RacoonConfig): void {
    const next = this.buildPeers(config);
    // Keep the objects the engine holds (its IKE SAs point at them): replace contents in place.
    for (const n of next) {
      const old = this.peers.find((p) => p.name === n.name);
      if (old) Object.assign(old, { ...n, children: old.children });
      else this.peers.push(n);
    }
    this.refreshChildren();
  }

  phase1Rows(): Buffer[] {
    return this.engine.ikeSas().map((s) =>
      encodePh1Dump({
        initiatorCookie: bigintBytes(s.spiI),
        responderCookie: bigintBytes(s.spiR),
        status: s.state === 'established' ? 9 : 1,
        side: s.role === 'initiator' ? 0 : 1,
        remote: { family: s.remote.address.includes(':') ? 10 : 2, address: s.remote.address, port: s.remote.port },
        local: { family: s.local.address.includes(':') ? 10 : 2, address: s.local.address, port: s.local.port },
        version: IKEV2_VERSION_BYTE,
        etype: 34, // IKE_SA_INIT
        created: Math.floor(Date.now() / 1000),
        ph2cnt: s.children.length,
      }),
    );
  }

  async establish(remote: { address: string; port: number }): Promise<number> {
    const peer = this.peers.find((p) => p.remote.address === remote.address);
    if (!peer) return 2; // ENOENT
    if (this.engine.ikeSas().some((s) => s.peer === peer.name && s.state === 'established')) return 17; // EEXIST
    this.engine.initiate(peer.name, this.now(), peer.children[0]?.name);
    this.pump();
    return 0;
  }

  async deletePeer(remote: { address: string }): Promise<number> {
    const sas = this.engine.ikeSas().filter((s) => s.remote.address === remote.address);
    for (const s of sas) this.engine.deleteIkeSa(s.serial, this.now());
    this.pump();
    return sas.length > 0 ? 0 : 2;
  }

  async shutdown(): Promise<void> {
    for (const s of this.engine.ikeSas()) this.engine.deleteIkeSa(s.serial, this.now());
    this.pump();
    if (this.timer) clearTimeout(this.timer);
  }

  /** For tests and status: the engine's view. */
  ikeSas(): ReturnType<Ikev2Engine['ikeSas']> {
    return this.engine.ikeSas();
  }
}

/** An ACQUIRE-shaped reference to a cached policy, for negotiations the daemon starts itself (after a MIGRATE). */
function policyRef(spid: number): PfKeyMessage {
  return { type: SadbMsgType.ACQUIRE, satype: 0, errno: 0, seq: 0, pid: 0, ext: { policy: { type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id: spid, priority: 0, requests: [] } } };
}

function bigintBytes(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

export function ikev2EngineFactory(ctx: DaemonContext): KeyingEngine {
  return new Ikev2Keying(ctx);
}
