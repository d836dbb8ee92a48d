/**
 * The IKEv2 engine in the racoon process: racoon.conf `remote { ike_version 2; }`
 * blocks and their sainfos become Ikev2PeerConfigs; the kernel's SPD (racoon's
 * SP cache) gives the traffic selectors; datagrams, PF_KEY messages and timers
 * are fed to the sans-I/O engine and its actions carried out.
 *
 * Mapping (README "IKEv2 in racoon.conf"):
 *   remote_address            → peer address (an anonymous remote accepts every peer)
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
import { IpsecMode, SadbMsgType } from '../pfkey/constants';
import type { PfKeyMessage, SadbAddress } from '../pfkey/types';
import { Ikev2Engine } from '../ike/v2/engine';
import { registryCryptoPort } from '../ike/v2/crypto-registry-port';
import { EsnId, IdType } from '../ike/v2/constants';
import type { ChildConfig, ChildProposalConfig, IkeProposalConfig, Ikev2Identity, Ikev2PeerConfig, TrafficSelectorConfig } from '../ike/v2/config';
import { addressId, dnToDer } from '../config/racoon/ids';
import { nodePubkeyPort } from '../ike/v2/x509-node-port';
import { certificateSubject } from '../ike/v2/der';
import type { AuthConfig } from '../ike/v2/config';
import { formatCertError, isCertMethod, loadRemoteCertificates, remoteAuthMethod, type RemoteCertificates } from './certs';
import { encodePh1Dump } from './admin/wire';
import { SpdCache, type CachedPolicy } from './spd-cache';
import { peerForEndpoints, prefixRange, sockAddr, spiBytes, SansIoKeying, type EngineEndpoint, type Phase1View } from './keying';
import { MigrateHandler, onMigrate, type MigrateIkeView } from './migrate';
import type { DaemonContext, KeyingEngine } from './racoon';

/** RFC 7296 §3.3.2: the integrity transform that goes with each PRF for non-AEAD IKE proposals. */
const INTEG_FOR_PRF: Record<number, number> = { 1: 1, 2: 2, 5: 12, 6: 13, 7: 14, 4: 5, 8: 8 };
const IKEV2_VERSION_BYTE = 0x20; // RFC 7296 §3.1: major 2, minor 0

/**
 * An IKEv2 identity from racoon's my_identifier / peers_identifier. `asn1dn`
 * without a value is the subject of the certificate (`subject`: ours for
 * my_identifier, the peers_certfile one for peers_identifier); null when
 * there is none (for the peer, whatever identity its certificate names).
 */
function identity(id: Identifier, fallbackAddress: string, subject: Buffer | null = null): Ikev2Identity | null {
  switch (id.type) {
    case 'fqdn':
      return { type: IdType.ID_FQDN, value: id.value ?? '' };
    case 'user_fqdn':
      return { type: IdType.ID_RFC822_ADDR, value: id.value ?? '' };
    case 'keyid':
      return { type: IdType.ID_KEY_ID, value: Buffer.from(id.value ?? '', 'latin1').toString('hex') };
    case 'asn1dn': {
      const der = id.value !== null && !id.value.startsWith('~') ? dnToDer(id.value) : null;
      const bytes = der ? Buffer.from(der) : id.value?.startsWith('~') ? Buffer.from(id.value.slice(1), 'hex') : subject;
      return bytes ? { type: IdType.ID_DER_ASN1_DN, value: bytes.toString('hex') } : null;
    }
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

/**
 * RFC 7296 §3.3.2 ESN transforms of our ESP proposals: both kernels tanuki
 * drives install 64-bit sequence numbers (userspace: SADB_X_SAFLAGS_ESN; XFRM:
 * XFRM_STATE_ESN + XFRMA_REPLAY_ESN_VAL), so ESN is offered first and NO_ESN
 * accepted — a peer that allows ESN gets it, strongSwan's default (noesn) gets NO_ESN.
 */
const ESN_CHOICES = [EsnId.ESN, EsnId.NO_ESN];

function childProposals(s: SaInfo): ChildProposalConfig[] {
  const dh = s.pfsGroup?.ikev2 ? [s.pfsGroup.ikev2] : [];
  const out: ChildProposalConfig[] = [];
  for (const e of s.encryption) {
    const encr = [{ id: e.alg.ikev2 ?? 0, ...(e.keyLength ? { keyBits: e.keyLength } : {}) }];
    if (e.alg.aead) out.push({ encr, integ: [], dh, esn: [...ESN_CHOICES] });
    else out.push({ encr, integ: s.authentication.map((a) => a.alg.ikev2 ?? 0).filter((n) => n !== 0), dh, esn: [...ESN_CHOICES] });
  }
  return out;
}

function tsOf(a: SadbAddress): TrafficSelectorConfig {
  const { low, high } = prefixRange(a);
  const proto = a.proto === 255 ? 0 : a.proto;
  const port = a.addr.port;
  return { protocol: proto, startPort: port || 0, endPort: port || 65535, startAddress: low, endAddress: high };
}

function anyTs(family: 4 | 6): TrafficSelectorConfig {
  return family === 4
    ? { protocol: 0, startPort: 0, endPort: 65535, startAddress: '0.0.0.0', endAddress: '255.255.255.255' }
    : { protocol: 0, startPort: 0, endPort: 65535, startAddress: '::', endAddress: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' };
}

export class Ikev2Keying extends SansIoKeying {
  readonly name = 'ikev2';
  protected readonly versionByte = IKEV2_VERSION_BYTE;
  protected readonly engine: Ikev2Engine;
  private readonly peers: Ikev2PeerConfig[];
  /** Mobile IPv6 MIGRATE (docs/migrate.md): KMADDRESS present = K-bit set. */
  private readonly migrations: MigrateHandler;
  /** seq of the MIGRATEs we send when the peer moved (their replies are only logged) */
  private migrateSeq = 0x4d000000;

  constructor(ctx: DaemonContext) {
    super(ctx);
    this.migrations = new MigrateHandler({ kbit: 'kmaddress', log: ctx.log, selfPid: ctx.pfkey.pid });
    this.peers = this.buildPeers(ctx.config());
    this.engine = new Ikev2Engine({
      peers: this.peers,
      crypto: registryCryptoPort,
      pubkey: nodePubkeyPort,
      random: { bytes: (n) => randomBytes(n) },
      pid: ctx.pfkey.pid,
      debugLogs: () => ctx.log.isLevelEnabled('debug'),
    });
    // learn what the kernel can install, so that nothing else is offered or accepted
    this.engine.registerWithKernel(this.now());
    this.pump();
    this.requestSpdDump();
  }

  private remotesV2(config: RacoonConfig): RemoteConf[] {
    return config.remotes.filter((r) => r.ikeVersion === 2);
  }

  private buildPeers(config: RacoonConfig): Ikev2PeerConfig[] {
    const out: Ikev2PeerConfig[] = [];
    for (const r of this.remotesV2(config)) {
      const remoteAddress = r.remote?.address ?? '%any';
      const family = r.remote?.family ?? null;
      const auth = this.authFor(config, r, remoteAddress);
      if (!auth) continue;
      const certs = auth.certs;
      const locals = this.ikeLocals(family);
      for (const local of locals) {
        const hard = r.lifetime;
        const localId = identity(r.myIdentifier, local.address, certs?.subject ?? null);
        if (!localId) {
          this.ctx.log.error({ remote: r.name }, `remote "${r.name}": my_identifier asn1dn needs a DN or a certificate`);
          break;
        }
        out.push({
          name: `${r.name}@${local.address}`,
          local: { address: local.address, port: local.port, id: localId },
          remote: { address: remoteAddress, port: r.remote?.port ?? 500, id: r.peersIdentifiers[0] ? identity(r.peersIdentifiers[0], remoteAddress, certs?.peerCertificate ? certificateSubject(certs.peerCertificate) : null) : null },
          auth: auth.config,
          ikeProposals: ikeProposals(r),
          children: [],
          // racoon: `dpd off` disables it; dpd_delay 0 (the default) means no liveness checks
          dpdDelaySeconds: r.dpd ? r.dpdDelay : 0,
          dpdRetrySeconds: r.dpdRetry,
          dpdMaxFail: r.dpdMaxfail,
          fragmentation: r.ikeFrag !== 'off',
          initialContact: r.initialContact,
          ikeLifetime: { softSeconds: Math.floor(hard * 0.8), hardSeconds: hard },
          generatePolicy: r.generatePolicy !== 'off',
          mobike: r.mobike,
          ...(r.natTraversal === 'force' ? { forceEncap: true } : {}),
        });
      }
    }
    return out;
  }

  /**
   * How a remote authenticates: the PSK from psk.txt, or (authentication_method
   * rsasig / ecdsa_sig) the certificates of src/daemon/certs.ts. null, with the
   * reason logged, when the remote is not usable.
   */
  private authFor(config: RacoonConfig, r: RemoteConf, remoteAddress: string): { config: AuthConfig; certs: RemoteCertificates | null } | null {
    const method = remoteAuthMethod(r);
    if (isCertMethod(method)) {
      const loaded = loadRemoteCertificates(config, r);
      if (!loaded.ok) {
        for (const e of loaded.errors) this.ctx.log.error({ remote: r.name, file: e.file ?? undefined }, formatCertError(e));
        this.ctx.log.error({ remote: r.name }, `IKEv2 remote "${r.name}" is not usable: its certificates could not be loaded`);
        return null;
      }
      const c = loaded.value!;
      this.ctx.log.info({ remote: r.name, certificate: c.files.certificate, cas: c.cas.length }, `loaded ${c.keyType === 'ec' ? 'ECDSA' : 'RSA'} certificate for IKEv2 remote "${r.name}"`);
      return {
        certs: c,
        config: {
          method: 'pubkey',
          privateKeyPem: c.privateKeyPem,
          certificates: c.certificates,
          trustedCas: c.cas,
          hash: c.signatureHash,
          ...(c.peerCertificate ? { peerCertificate: c.peerCertificate } : {}),
          verifyCert: c.verifyCert,
          sendCert: c.sendCert,
          sendCertReq: c.sendCr,
        },
      };
    }
    if (method !== 'pre_shared_key') {
      this.ctx.log.error({ remote: r.name }, `IKEv2 remote "${r.name}": authentication_method ${method} is not supported with ike_version 2 (use pre_shared_key, rsasig or ecdsa_sig)`);
      return null;
    }
    const psk = this.psk(config, r, r.remote?.address ?? null);
    if (!psk) {
      this.ctx.log.warn({ remote: r.name }, `couldn't find the pskey for ${remoteAddress}: IKEv2 remote "${r.name}" is not usable`);
      return null;
    }
    return { config: { method: 'psk', psk }, certs: null };
  }

  /** CHILD_SA configurations from the SP cache (+ a narrowable any↔any child with generate_policy). */
  protected refreshPolicies(): void {
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
    const reqids = this.spd.reqidsOf(p);
    return {
      name: `spid-${p.id}`,
      proposals: childProposals(s),
      localTs: [tsOf(p.src)],
      remoteTs: [tsOf(p.dst)],
      mode: req.mode === IpsecMode.TRANSPORT ? 'transport' : 'tunnel',
      lifetime: { softSeconds: Math.floor(s.lifetime * 0.8), hardSeconds: s.lifetime },
      ...(reqids.out ? { reqid: reqids.out } : {}),
      ...(reqids.in ? { inboundReqid: reqids.in } : {}),
    };
  }

  override onPfKey(msg: PfKeyMessage): void {
    if (msg.type === SadbMsgType.X_MIGRATE) {
      this.migrate(msg);
      return;
    }
    const again = this.migrations.renegotiationFor(msg);
    if (again !== null) this.acquireById(again);
    super.onPfKey(msg);
  }

  /**
   * A MIGRATE broadcast (src/daemon/migrate.ts): move, abandon or restart the
   * IKE SAs of the policy's old path. The new local address gets IKE sockets
   * first (racoon follows its interface addresses the same way).
   */
  private migrate(msg: PfKeyMessage): void {
    void onMigrate(
      {
        ctx: this.ctx,
        handler: this.migrations,
        spd: this.spd,
        view: () => this.migrateView(),
        acquireById: (spid) => this.acquireById(spid),
        // peer configurations for the new local address: renegotiation (K clear) starts from there
        reconfigure: () => this.reconfigure(this.ctx.config()),
        pump: () => this.pump(),
      },
      msg,
    );
  }

  private migrateView(): MigrateIkeView {
    const config = this.ctx.config();
    return {
      ikeSas: () =>
        this.engine.ikeSas().map((s) => {
          const kbit = this.remotesV2(config).find((r) => s.peer.startsWith(`${r.name}@`))?.mip6Kbit;
          return { ...s, ...(kbit ? { kbit } : {}) };
        }),
      moveIkeSa: (serial, local, remote) => this.engine.moveIkeSa(serial, local, remote, this.now()),
      abandonIkeSa: (serial, reason) => this.engine.abandonIkeSa(serial, reason),
      dropIkeSa: (serial) => void this.engine.deleteIkeSa(serial, this.now()),
    };
  }

  /**
   * racoon's EVT_PHASE1_DPD_TIMEOUT (→ the phase1_dead hook) for a peer the engine found dead
   * (RFC 7296 §2.4) is announced by SansIoKeying.trackEvents from the engine's own list of dead
   * peers (pollDeadPeerEnds), right before that phase 1's PHASE1_DOWN.
   */
  protected override readonly reportsDeadPeers = true;

  protected override pollDeadPeerEnds(): { local: EngineEndpoint; remote: EngineEndpoint }[] {
    return this.engine?.pollDeadPeers() ?? [];
  }

  /**
   * An IKE SA the peer moved (MOBIKE, NAT) takes its kernel SAs and policies along.
   * Run after a burst of engine steps, not after each: it looks at every IKE SA
   * (docs/ikev2.md "Performance").
   */
  protected override afterBurst(): void {
    if (!this.migrations) return;
    const moves = this.migrations.followPeerMoves(this.engine.ikeSas(), this.spd, { pid: this.ctx.pfkey.pid, seq: () => this.migrateSeq++ });
    for (const m of moves) this.ctx.pfkey.send(m);
  }

  private acquireById(spid: number): void {
    const sp = this.spd.get(spid);
    if (sp) this.acquire(sp);
  }

  /** racoon's ACQUIRE handling: SP by id, endpoints from the SP, remote by destination, then initiate. */
  protected acquire(sp: CachedPolicy): void {
    const ends = SpdCache.peerOf(sp);
    // An IKE SA a MIGRATE moved onto these endpoints serves them, whichever local address its peer config names.
    const moved = this.engine.ikeSas().find((s) => s.local.address === ends.local && s.remote.address === ends.remote && (s.state === 'established' || s.state === 'connecting'));
    const peer =
      (moved && this.peers.find((p) => p.name === moved.peer)) ?? peerForEndpoints(this.peers, ends);
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

  protected phase1s(): Phase1View[] {
    return this.engine.ikeSas().map((s) => ({ serial: s.serial, established: s.state === 'established', local: s.local, remote: s.remote }));
  }

  reconfigure(config: RacoonConfig): void {
    const next = this.buildPeers(config);
    // Keep the objects the engine holds (its IKE SAs point at them): replace contents in place.
    for (const n of next) {
      const old = this.peers.find((p) => p.name === n.name);
      if (old) Object.assign(old, { ...n, children: old.children });
      else this.peers.push(n);
    }
    this.refreshPolicies();
  }

  phase1Rows(): Buffer[] {
    return this.engine.ikeSas().map((s) =>
      encodePh1Dump({
        initiatorCookie: spiBytes(s.spiI),
        responderCookie: spiBytes(s.spiR),
        status: s.state === 'established' ? 9 : 1,
        side: s.role === 'initiator' ? 0 : 1,
        remote: sockAddr(s.remote),
        local: sockAddr(s.local),
        version: IKEV2_VERSION_BYTE,
        etype: 34, // IKE_SA_INIT
        created: this.phase1Created(s.serial),
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
    this.stopTimer();
  }

  /** For tests and status: the engine's view. */
  ikeSas(): ReturnType<Ikev2Engine['ikeSas']> {
    return this.engine.ikeSas();
  }
}

/** An ACQUIRE-shaped reference to a cached policy, for negotiations the daemon starts itself (after a MIGRATE). */
export function ikev2EngineFactory(ctx: DaemonContext): KeyingEngine {
  return new Ikev2Keying(ctx);
}
