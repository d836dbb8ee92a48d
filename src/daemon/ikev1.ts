/**
 * The IKEv1 engine (racoon's own protocol) in the racoon process: racoon.conf
 * `remote` blocks (ike_version 1, the default) and their sainfos become
 * Ikev1PeerConfigs; outbound IPsec policies give the Quick Mode IDs, mode and
 * reqid; ACQUIRE or `racoonctl establish-sa` starts phase 1 + Quick Mode.
 *
 * Mapping (README "racoon.conf"): exchange_mode (main, aggressive), proposal {}
 * as phase-1 transforms in order, proposal_check, my_identifier /
 * peers_identifier, psk.txt (by identifier, else address), nat_traversal,
 * dpd_delay/dpd_retry/dpd_maxfail, initial_contact, passive, timer { counter;
 * interval; }; sainfo → ESP transforms, authentication algorithms, pfs_group
 * and lifetime.
 */
import { randomBytes } from 'node:crypto';
import { selectSaInfo, type Identifier, type RacoonConfig, type RemoteConf, type SaInfo } from '../config/racoon';
import { addressId, dnToDer } from '../config/racoon/ids';
import { IpsecMode, SadbMsgType, SadbSaType } from '../pfkey/constants';
import { Ikev1Engine } from '../ike/v1/engine';
import { AuthMethod, IdType } from '../ike/v1/constants';
import type { Ikev1CertConfig, Ikev1Identity, Ikev1PeerConfig, Ph1ProposalConfig, SainfoConfig } from '../ike/v1/config';
import { certificateSubject } from '../ike/v2/der';
import { formatCertError, isCertMethod, loadRemoteCertificates, remoteAuthMethod, type RemoteCertificates } from './certs';
import { EvtType, encodePh1Dump, type EvtAsync } from './admin/wire';
import { peerForEndpoints, SansIoKeying, sockAddr, spiBytes, type Phase1View } from './keying';
import type { DaemonContext, KeyingEngine } from './racoon';
import { MigrateHandler, onMigrate, type MigrateIkeView } from './migrate';
import type { PfKeyMessage } from '../pfkey/types';
import { SpdCache, type CachedPolicy } from './spd-cache';
import { buildCfgServer, modeCfgHookEnv, peerExtensions } from './ikev1-cfg';

const IKEV1_VERSION_BYTE = 0x10; // RFC 2408 §3.1: major 1, minor 0

/**
 * An IKEv1 identity (RFC 2407 §4.6.2.1) from racoon's my_identifier /
 * peers_identifier. `asn1dn "C=.., O=.."` is encoded to DER; `asn1dn` without
 * a value is the certificate's subject (`subject`: ours, or the peers_certfile
 * one); for the peer, null then means "whatever its certificate names".
 */
function identity(id: Identifier, fallbackAddress: string, subject: Buffer | null = null): Ikev1Identity | null {
  switch (id.type) {
    case 'fqdn':
      return { type: IdType.FQDN, value: id.value ?? '' };
    case 'user_fqdn':
      return { type: IdType.USER_FQDN, value: id.value ?? '' };
    case 'keyid':
      return { type: IdType.KEY_ID, value: Buffer.from(id.value ?? '', 'latin1').toString('hex') };
    case 'asn1dn': {
      const der = id.value !== null ? dnToDer(id.value) : null;
      const bytes = der ? Buffer.from(der) : subject;
      return bytes ? { type: IdType.DER_ASN1_DN, value: bytes.toString('hex') } : null;
    }
    default: {
      const a = id.value ?? fallbackAddress;
      return { type: a.includes(':') ? IdType.IPV6_ADDR : IdType.IPV4_ADDR, value: a };
    }
  }
}

function ph1Proposals(r: RemoteConf): Ph1ProposalConfig[] {
  return r.proposals.map((p) => ({
    encr: p.encryption.alg.ikev1 ?? 0,
    ...(p.encryption.keyLength ? { keyBits: p.encryption.keyLength } : {}),
    hash: p.hash.alg.ikev1 ?? 0,
    authMethod: (p.authMethod.alg.ikev1 ?? AuthMethod.PRE_SHARED_KEY) as AuthMethod,
    dhGroup: p.dhGroup.alg.ikev1 ?? 0,
    lifetimeSeconds: p.lifetime,
  }));
}

/** racoon sainfo + the SP it serves → the engine's Quick Mode policy (exported for tests). */
export function sainfoConfig(name: string, s: SaInfo, sp: CachedPolicy, reqids: { out: number; in: number }): SainfoConfig {
  const req = sp.policy.requests[0];
  const sel = (a: CachedPolicy['src']) => ({ address: a.addr.address, prefixlen: a.prefixlen, protocol: a.proto === 255 ? 0 : a.proto, port: a.addr.port });
  return {
    name,
    local: sel(sp.src),
    remote: sel(sp.dst),
    encr: s.encryption.map((e) => ({ id: e.alg.ikev1 ?? 0, ...(e.keyLength ? { keyBits: e.keyLength } : {}) })),
    auth: s.authentication.map((a) => a.alg.ikev1 ?? 0).filter((n) => n !== 0),
    pfsGroup: s.pfsGroup?.ikev1 ?? null,
    lifetimeSeconds: s.lifetime,
    ...(s.esn ? { esn: true } : {}),
    mode: req.mode === IpsecMode.TRANSPORT ? 'transport' : 'tunnel',
    ...(reqids.out ? { reqid: reqids.out } : {}),
    ...(reqids.in ? { inboundReqid: reqids.in } : {}),
  };
}

function certConfig(c: RemoteCertificates): Ikev1CertConfig {
  return { certificates: c.certificates, privateKeyPem: c.privateKeyPem, cas: c.cas, peerCertificate: c.peerCertificate, verifyCert: c.verifyCert, sendCert: c.sendCert, sendCr: c.sendCr };
}

export class Ikev1Keying extends SansIoKeying {
  readonly name = 'ikev1';
  protected readonly versionByte = IKEV1_VERSION_BYTE;
  protected readonly engine: Ikev1Engine;
  private readonly peers: Ikev1PeerConfig[];
  /** Mobile IPv6 MIGRATE (docs/migrate.md): racoon's pk_recvmigrate for phase 1 / phase 2. */
  private readonly migrations: MigrateHandler;

  constructor(ctx: DaemonContext) {
    super(ctx);
    this.migrations = new MigrateHandler({ kbit: 'kmaddress', log: ctx.log, selfPid: ctx.pfkey.pid });
    this.peers = this.buildPeers(ctx.config());
    this.engine = new Ikev1Engine({ peers: this.peers, random: { bytes: (n) => randomBytes(n) }, pid: ctx.pfkey.pid, cfgServer: buildCfgServer(ctx.config(), ctx.log) });
    this.requestSpdDump();
  }

  private remotesV1(config: RacoonConfig): RemoteConf[] {
    return config.remotes.filter((r) => r.ikeVersion === 1);
  }

  private buildPeers(config: RacoonConfig): Ikev1PeerConfig[] {
    const out: Ikev1PeerConfig[] = [];
    for (const r of this.remotesV1(config)) {
      const certs = this.certsFor(config, r);
      if (certs === 'unusable') continue;
      const psk = this.psk(config, r, r.remote?.address ?? null) ?? (certs ? Buffer.alloc(0) : null);
      if (!psk) {
        if (r.remote) this.ctx.log.warn({ remote: r.name }, `couldn't find the pskey for ${r.remote.address}: remote "${r.name}" is not usable`);
        continue;
      }
      const ext = peerExtensions(config, r, this.ctx.log); // XAUTH / Mode-Config / ike_frag (ikev1-cfg.ts)
      if (!ext) continue;
      const modes = r.exchangeMode.filter((m): m is 'main' | 'aggressive' => m === 'main' || m === 'aggressive');
      const peerSubject = certs?.peerCertificate ? certificateSubject(certs.peerCertificate) : null;
      const remoteId = r.peersIdentifiers[0] ? identity(r.peersIdentifiers[0], r.remote?.address ?? '', peerSubject) : null;
      for (const local of this.ikeLocals(r.remote?.family ?? null)) {
        const localId = identity(r.myIdentifier, local.address, certs?.subject ?? null);
        if (!localId) {
          this.ctx.log.error({ remote: r.name }, `remote "${r.name}": my_identifier asn1dn needs a DN or a certificate`);
          break;
        }
        out.push({
          name: `${r.name}@${local.address}`,
          local: { address: local.address, port: local.port, id: localId },
          remote: { address: r.remote?.address ?? 'anonymous', port: r.remote?.port ?? 500, id: remoteId },
          exchangeModes: modes,
          psk,
          ...(certs ? { cert: certConfig(certs) } : {}),
          ph1Proposals: ph1Proposals(r),
          proposalCheck: r.proposalCheck,
          sainfos: [],
          natTraversal: r.natTraversal !== 'off',
          dpdDelaySeconds: r.dpdDelay,
          dpdRetrySeconds: r.dpdRetry,
          dpdMaxFail: r.dpdMaxfail,
          initialContact: r.initialContact,
          passive: r.passive,
          ph1Rekey: r.rekey,
          retry: { counter: config.timer.counter, intervalSeconds: config.timer.interval },
          ...ext,
        });
      }
    }
    return out;
  }

  /**
   * racoon `authentication_method rsasig` (with certificate_type x509 / ca_type /
   * peers_certfile / verify_cert / send_cert / send_cr): the certificates of
   * src/daemon/certs.ts; null for pre-shared keys; 'unusable' (logged) when
   * they cannot be loaded or the method has no IKEv1 implementation.
   */
  private certsFor(config: RacoonConfig, r: RemoteConf): RemoteCertificates | null | 'unusable' {
    const method = remoteAuthMethod(r);
    if (!isCertMethod(method)) return null;
    if (method !== 'rsasig') {
      this.ctx.log.error({ remote: r.name }, `IKEv1 remote "${r.name}": authentication_method ${method} is not supported with IKEv1 (use rsasig or pre_shared_key)`);
      return 'unusable';
    }
    const loaded = loadRemoteCertificates(config, r);
    if (!loaded.ok) {
      for (const e of loaded.errors) this.ctx.log.error({ remote: r.name, file: e.file ?? undefined }, formatCertError(e));
      this.ctx.log.error({ remote: r.name }, `IKEv1 remote "${r.name}" is not usable: its certificates could not be loaded`);
      return 'unusable';
    }
    const c = loaded.value!;
    this.ctx.log.info({ remote: r.name, certificate: c.files.certificate, cas: c.cas.length }, `loaded RSA certificate for IKEv1 remote "${r.name}"`);
    return c;
  }

  /** Quick Mode sainfos from the SP cache, as racoon derives its phase 2 from the SPD. */
  protected refreshPolicies(): void {
    const config = this.ctx.config();
    for (const peer of this.peers) {
      const r = this.remotesV1(config).find((x) => peer.name.startsWith(`${x.name}@`));
      if (!r) continue;
      const list: SainfoConfig[] = [];
      for (const sp of this.spd.outboundIpsec()) {
        const ends = SpdCache.peerOf(sp);
        if (peer.remote.address !== 'anonymous' && ends.remote !== peer.remote.address) continue;
        const local = addressId(sp.src.addr.address);
        const remote = addressId(sp.dst.addr.address);
        const s = selectSaInfo(config, { local: local ? { ...local, port: sp.src.addr.port } : null, remote: remote ? { ...remote, port: sp.dst.addr.port } : null, remoteid: r.ph1id });
        if (!s) {
          this.ctx.log.warn({ spid: sp.id }, 'failed to get sainfo');
          continue;
        }
        list.push(sainfoConfig(`spid-${sp.id}`, s, sp, this.spd.reqidsOf(sp)));
      }
      peer.sainfos.splice(0, peer.sainfos.length, ...list);
    }
  }

  protected acquire(sp: CachedPolicy): void {
    const ends = SpdCache.peerOf(sp);
    const peer = peerForEndpoints(this.peers, ends);
    if (!peer) return; // not an IKEv1 peer
    if (peer.passive) return; // racoon skips passive remotes for ACQUIRE
    const sainfo = peer.sainfos.find((s) => s.name === `spid-${sp.id}`);
    if (!sainfo) {
      this.ctx.log.warn({ spid: sp.id, peer: ends.remote }, 'failed to get sainfo');
      return;
    }
    const live = this.engine.ph1Sas().find((s) => s.peer === peer.name && s.ph2.some((p) => p.sainfo === sainfo.name));
    if (live) return;
    this.ctx.log.info({ peer: ends.remote, spid: sp.id }, `IPsec-SA request for ${ends.remote} queued due to no phase1 found.`);
    this.engine.initiate(peer.name, this.now(), sainfo.name);
    this.pump();
  }

  override onPfKey(msg: PfKeyMessage): void {
    if (msg.type === SadbMsgType.X_MIGRATE) {
      void onMigrate(
        {
          ctx: this.ctx,
          handler: this.migrations,
          spd: this.spd,
          view: () => this.migrateView(),
          acquireById: (spid) => {
            const sp = this.spd.get(spid);
            if (sp) this.acquire(sp);
          },
          reconfigure: () => this.reconfigure(this.ctx.config()),
          pump: () => this.pump(),
        },
        msg,
      );
      return;
    }
    const again = this.migrations.renegotiationFor(msg);
    const sp = again !== null ? this.spd.get(again) : undefined;
    if (sp) this.acquire(sp);
    super.onPfKey(msg);
  }

  /** Phase 1s as the MIGRATE handler sees them (src/daemon/migrate.ts, src/ike/v1/migrate.ts). */
  private migrateView(): MigrateIkeView {
    const config = this.ctx.config();
    const now = () => this.now();
    return {
      ikeSas: () =>
        this.engine.ph1Sas().map((s) => {
          const kbit = this.remotesV1(config).find((r) => s.peer.startsWith(`${r.name}@`))?.mip6Kbit;
          const state = s.state === 'ESTABLISHED' ? 'established' : s.state === 'DEAD' ? 'dead' : 'connecting';
          return { serial: s.serial, role: s.role, state, local: s.local, remote: s.remote, ...(kbit ? { kbit } : {}) };
        }),
      moveIkeSa: (serial, local, remote) => this.engine.migratePh1(serial, { kind: 'move', local, remote }, now()),
      abandonIkeSa: (serial, reason) => {
        const ph1 = this.engine.ph1Sas().find((s) => s.serial === serial);
        if (!ph1 || !this.engine.migratePh1(serial, { kind: 'abandon', reason }, now())) return null;
        return ph1.ph2.filter((p) => p.state === 'ESTABLISHED').map((p) => ({ name: p.sainfo, inboundSpi: p.inboundSpi, outboundSpi: p.outboundSpi }));
      },
      dropIkeSa: (serial) => void this.engine.migratePh1(serial, { kind: 'drop' }, now()),
    };
  }

  protected phase1s(): Phase1View[] {
    // racoon isakmp_ph1established: an XAUTH client's phase1_up (and PHASE1_UP) waits for its Mode-Config (isakmp_cfg_reply)
    return this.engine.ph1Sas().map((s) => ({ serial: s.serial, established: s.state === 'ESTABLISHED' && this.cfgSettled(s.serial), local: s.local, remote: s.remote }));
  }

  private cfgSettled(serial: number): boolean {
    const c = this.engine.cfgInfo(serial);
    if (!c || c.xauthRole !== 'client') return true;
    const peer = this.engine.ph1Sas().find((s) => s.serial === serial);
    const wantsCfg = this.peers.find((p) => p.name === peer?.peer)?.modeCfg === true;
    return c.xauth === 'ok' && (!wantsCfg || c.modeCfg === 'done');
  }

  /** racoon's Mode-Config script variables for the ISAKMP-SA of a PHASE1_UP event. */
  hookEnvironment(e: EvtAsync): Record<string, string> {
    if (e.type !== EvtType.PHASE1_UP || !e.ph1dst) return {};
    const s = this.engine.ph1Sas().find((x) => x.remote.address === e.ph1dst!.address && x.remote.port === e.ph1dst!.port);
    const c = s && this.engine.cfgInfo(s.serial);
    return c ? modeCfgHookEnv(c.client, c.xauthRole === 'server' ? c.login : null) : {};
  }

  reconfigure(config: RacoonConfig): void {
    for (const n of this.buildPeers(config)) {
      const old = this.peers.find((p) => p.name === n.name);
      if (old) Object.assign(old, { ...n, sainfos: old.sainfos });
      else this.peers.push(n);
    }
    this.refreshPolicies();
  }

  phase1Rows(): Buffer[] {
    return this.engine.ph1Sas().map((s) =>
      encodePh1Dump({
        initiatorCookie: spiBytes(s.cookieI),
        responderCookie: spiBytes(s.cookieR),
        status: s.state === 'ESTABLISHED' ? 9 : 1,
        side: s.role === 'initiator' ? 0 : 1,
        remote: sockAddr(s.remote),
        local: sockAddr(s.local),
        version: IKEV1_VERSION_BYTE,
        etype: 2, // Identity Protection (Main Mode)
        created: this.phase1Created(s.serial),
        ph2cnt: s.ph2.length,
      }),
    );
  }

  async establish(remote: { address: string; port: number }): Promise<number> {
    const peer = this.peers.find((p) => p.remote.address === remote.address);
    if (!peer) return 2; // ENOENT: not an IKEv1 peer
    if (this.engine.ph1Sas().some((s) => s.peer === peer.name && s.state === 'ESTABLISHED')) return 17; // EEXIST
    this.engine.initiate(peer.name, this.now(), peer.sainfos[0]?.name);
    this.pump();
    return 0;
  }

  /**
   * racoonctl delete-sa isakmp: racoon's purge_remote — delete the ISAKMP-SA with the
   * peer and remove every IPsec SA between the two addresses from the kernel
   * (SADB_DELETE without an SA extension deletes all SAs of the pair, both ways).
   */
  async deletePeer(remote: { address: string }): Promise<number> {
    const sas = this.engine.ph1Sas().filter((s) => s.remote.address === remote.address);
    for (const s of sas) {
      this.engine.purgePh1(s.serial, this.now());
      for (const [src, dst] of [[s.local, s.remote], [s.remote, s.local]] as const) {
        this.ctx.pfkey.send({
          type: SadbMsgType.DELETE,
          satype: SadbSaType.ESP,
          errno: 0,
          seq: 0,
          pid: this.ctx.pfkey.pid,
          ext: {
            addressSrc: { proto: 255, prefixlen: src.address.includes(':') ? 128 : 32, addr: { ...sockAddr(src), port: 0 } },
            addressDst: { proto: 255, prefixlen: dst.address.includes(':') ? 128 : 32, addr: { ...sockAddr(dst), port: 0 } },
          },
        });
      }
    }
    this.pump();
    return sas.length > 0 ? 0 : 2;
  }

  /** XAUTH / Mode-Config progress already announced, per ISAKMP-SA serial. */
  private readonly cfgAnnounced = new Map<number, Set<EvtType>>();

  protected override pump(): void {
    super.pump();
    this.cfgEvents();
  }

  /**
   * racoon's EVT_PHASE1_XAUTH_SUCCESS and EVT_PHASE1_MODE_CFG for
   * racoonctl show-event and `vpn-connect` / `establish-sa -w` (which wait for
   * MODE_CFG), once per ISAKMP-SA. (A failed XAUTH removes the ISAKMP-SA at
   * once; it shows as PHASE1_DOWN.)
   */
  private cfgEvents(): void {
    const live = new Set<number>();
    for (const s of this.engine.ph1Sas()) {
      live.add(s.serial);
      const c = this.engine.cfgInfo(s.serial);
      if (!c) continue;
      const seen = this.cfgAnnounced.get(s.serial) ?? new Set<EvtType>();
      this.cfgAnnounced.set(s.serial, seen);
      const due: EvtType[] = [];
      if (c.xauth === 'ok' && c.xauthRole) due.push(EvtType.PHASE1_XAUTH_SUCCESS);
      if (c.modeCfg === 'done') due.push(EvtType.PHASE1_MODE_CFG);
      for (const type of due) {
        if (seen.has(type)) continue;
        seen.add(type);
        this.ctx.emit({ type, timestamp: Math.floor(Date.now() / 1000), ph1src: sockAddr(s.local), ph1dst: sockAddr(s.remote), ph2msgid: 0 });
      }
    }
    for (const serial of this.cfgAnnounced.keys()) if (!live.has(serial)) this.cfgAnnounced.delete(serial);
  }

  /** racoonctl logout-user: delete the ISAKMP-SAs (and IPsec-SAs) of an XAUTH login; ENOENT when none. */
  async logoutUser(login: string): Promise<number> {
    const n = this.engine.logoutUser(login, this.now());
    this.pump();
    return n > 0 ? 0 : 2;
  }

  async shutdown(): Promise<void> {
    for (const s of this.engine.ph1Sas()) this.engine.deletePh1(s.serial, this.now());
    this.pump();
    this.stopTimer();
  }
}

export function ikev1EngineFactory(ctx: DaemonContext): KeyingEngine {
  return new Ikev1Keying(ctx);
}
