/**
 * The racoon process: configuration, the PF_KEY socket, the IKE sockets, the
 * admin socket, signals and the keying engines, wired together.
 *
 * Life cycle (racoon's main.c / session.c):
 *   start   parse racoon.conf (a failure stops here), open PF_KEY (embedding
 *           the userspace kernel when none runs), SADB_REGISTER AH/ESP/IPCOMP,
 *           SADB_X_SPDDUMP, bind the IKE sockets, serve the admin socket,
 *           write the pid file
 *   reload  SIGHUP / `racoonctl reload-config`: parse the new configuration;
 *           on error keep the running one; established SAs are kept
 *   stop    SIGTERM / SIGINT: engines send Deletes and remove what they
 *           installed, then everything is closed
 */
import { existsSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { RacoonConfigStore, formatConfigError, type RacoonConfig, type ReloadResult } from '../config/racoon';
import { SadbMsgType, SadbSaType } from '../pfkey/constants';
import { encodeMessage } from '../pfkey/codec';
import { collectDump } from '../pfkey/dump';
import type { PfKeySocket } from '../pfkey/socket';
import type { PfKeyMessage, SockAddr } from '../pfkey/types';
import { openPfKey, embeddedKernel } from '../kernel';
import { startDataPlane, type RunningDataPlane } from '../kernel/dataplane/index';
import { startAdminSocket, AdminErrno, type AdminHandler } from './admin/server';
import { AdminProto, EvtType, LOGINLEN, encodeSchedDump, type EvtAsync } from './admin/wire';
import { IkeSockets, ISAKMP_PORT, NATT_PORT, interfaceAddresses, type Datagram, type ListenSpec } from './ike-sockets';
import { appendBackup, formatBackupLine, restoreMessages } from './backupsa';
import { runHook } from './hooks';
import { DaemonSchedule, XauthSessions } from './sessions';
import type { DaemonLogger } from './log';
import type { RacoonOptions } from './options';

export const DEFAULT_PID_FILE = '/var/run/racoon.pid';
export const DEFAULT_ADMIN_SOCKET = '/var/run/racoon/racoon.sock';

/** What a keying engine (IKEv1, IKEv2) offers the daemon. */
export interface KeyingEngine {
  readonly name: string;
  /** A PF_KEY message from the kernel: ACQUIRE, EXPIRE, DELETE, MIGRATE, replies. */
  onPfKey(msg: PfKeyMessage): void;
  /** An IKE datagram; returns true when this engine took it. */
  onDatagram(d: Extract<Datagram, { kind: 'ike' }>): boolean;
  /** A new configuration is in force. */
  reconfigure(config: RacoonConfig): void;
  /** ph1dump rows for `show-sa isakmp`. */
  phase1Rows(): Buffer[];
  /** Admin requests (establish-sa / delete-sa) for this engine's peers. */
  establish?(remote: { address: string; port: number }, local: { address: string; port: number } | null): Promise<number>;
  deletePeer?(remote: { address: string }): Promise<number>;
  /** Extra hook-script variables for an event (racoon's Mode-Config INTERNAL_* / SPLIT_* / DEFAULT_DOMAIN). */
  hookEnvironment?(e: EvtAsync): Record<string, string>;
  /** racoonctl logout-user (IKEv1 XAUTH): 0 when a session of `login` was ended, else ENOENT. */
  logoutUser?(login: string): Promise<number>;
  /** Send Deletes to peers and remove what was installed. */
  shutdown(): Promise<void>;
  /**
   * ADMIN_GET_SA_CERT: the phase 1 between these addresses, and the peer's
   * certificate it authenticated with (DER), or null when it used none.
   * undefined: no such phase 1 in this engine.
   */
  peerCertificate?(local: string, remote: string): { cert: Buffer | null } | undefined;
}

export interface DaemonContext {
  readonly log: DaemonLogger;
  readonly pfkey: PfKeySocket;
  readonly sockets: IkeSockets;
  /** Timers the engines arm, for `racoonctl show-schedule`. */
  readonly schedule?: DaemonSchedule;
  /** XAUTH-authenticated phase 1s by login, for `racoonctl logout-user` (the IKEv1 engine registers them). */
  readonly xauth?: XauthSessions;
  config(): RacoonConfig;
  emit(e: EvtAsync): void;
}

export type EngineFactory = (ctx: DaemonContext) => KeyingEngine;

/** -B could not restore the backup file (racoon exits: "something error happened SA recovering."). */
export class BackupSaError extends Error {
  override readonly name = 'BackupSaError';
}

/** privsep could not be applied (chroot, or setuid/setgid failed): racoon does not run half-privileged. */
export class PrivsepError extends Error {
  override readonly name = 'PrivsepError';
}

export class RacoonConfigError extends Error {
  override readonly name = 'RacoonConfigError';
  constructor(readonly errors: string[]) {
    super(`configuration has ${errors.length} error(s):\n${errors.join('\n')}`);
  }
}

/** Log a (re)load's warnings; a failed one becomes RacoonConfigError carrying racoon-style messages. */
function checkLoad(r: ReloadResult, log: DaemonLogger): RacoonConfig {
  for (const w of r.warnings) log.warn({ file: w.file, line: w.line }, formatConfigError(w));
  if (!r.ok) throw new RacoonConfigError(r.errors.map(formatConfigError));
  return r.config;
}

export class RacoonDaemon {
  /** The one place the running configuration lives (also what SIGHUP reloads). */
  private readonly store: RacoonConfigStore;
  private cfg: RacoonConfig;
  private pfkey!: PfKeySocket;
  private readonly sockets: IkeSockets;
  private admin: { close(): Promise<void> } | null = null;
  /** The userspace kernel's data plane, when this process embeds the kernel (docs/dataplane.md). */
  private dataplane: RunningDataPlane | null = null;
  private readonly engines: KeyingEngine[] = [];
  private readonly eventListeners = new Set<(e: EvtAsync) => void>();
  private pidFile: string | null = null;
  private seq = 1;
  private stopping = false;
  /** UPDATE/ADD requests the engines sent, until the kernel answers (for `path backupsa`). */
  private readonly backupPending = new Map<string, PfKeyMessage>();
  readonly schedule = new DaemonSchedule();
  /** Inbound SAs the engines installed (dst/spi), for PHASE2_DOWN when the kernel deletes or expires them. */
  private readonly installedInbound = new Map<string, { local: string; remote: string }>();
  readonly xauth = new XauthSessions();

  constructor(
    private readonly opts: RacoonOptions,
    private readonly log: DaemonLogger,
    private readonly engineFactories: EngineFactory[] = [],
  ) {
    this.store = new RacoonConfigStore(opts.configFile);
    this.cfg = checkLoad(this.store.reload(), log);
    this.sockets = new IkeSockets((why, remote) => log.debug({ peer: `${remote.address}[${remote.port}]` }, `dropped: ${why}`));
  }

  config(): RacoonConfig {
    return this.cfg;
  }

  async start(): Promise<void> {
    const chroot = this.cfg.privsep?.chroot ?? null;
    if (chroot !== null) {
      throw new PrivsepError(
        `privsep { chroot "${chroot}"; } is not supported: Node cannot chroot(2) a running process and still load its own code; remove chroot (user/group are applied) or start racoon inside the chroot yourself`,
      );
    }
    this.pfkey = await openPfKey({
      backend: this.opts.kernel,
      embed: true,
      ...(this.opts.pfkeySocket ? { socketPath: this.opts.pfkeySocket } : {}),
      log: this.log,
    });
    this.pfkey.onMessage((m) => this.onPfKey(m));
    this.pfkey.onError((err) => this.log.error({ err: err.message }, 'pfkey error'));
    for (const satype of [SadbSaType.AH, SadbSaType.ESP, SadbSaType.X_IPCOMP]) {
      const reply = await this.pfkey.request(this.message(SadbMsgType.REGISTER, satype));
      if (reply.errno !== 0) this.log.warn({ satype, errno: reply.errno }, 'SADB_REGISTER failed');
    }
    if (this.opts.backupSa) await this.restoreBackupSa();
    const ctx: DaemonContext = {
      log: this.log,
      pfkey: this.tapped(this.pfkey),
      sockets: this.sockets,
      schedule: this.schedule,
      xauth: this.xauth,
      config: () => this.cfg,
      emit: (e) => this.emit(e),
    };
    const specs = this.listenSpecs();
    const bound = await this.sockets.listen(specs);
    await this.startDataPlane(specs);
    for (const make of this.engineFactories) this.engines.push(make(ctx));
    this.sockets.onDatagram((d) => this.onDatagram(d));
    for (const b of bound) this.log.info({ address: b.address, port: b.port }, `${b.address}[${b.port}] used for IKE`);
    const adminPath = this.opts.adminSocket ?? this.cfg.listen.adminsock.path ?? null;
    if (adminPath !== null && this.cfg.listen.adminsock.path !== null) {
      const a = this.cfg.listen.adminsock;
      this.admin = await startAdminSocket(
        { path: this.opts.adminSocket ?? adminPath, mode: a.mode, ...(process.getuid?.() === 0 ? { uid: a.owner, gid: a.group } : {}) },
        this.adminHandler(),
        { warn: (f, m) => this.log.warn(f, m), debug: (f, m) => this.log.debug(f, m) },
      );
      this.log.info({ socket: this.opts.adminSocket ?? adminPath }, 'admin socket ready');
    }
    this.pidFile = this.resolvePidFile();
    mkdirSync(dirname(this.pidFile), { recursive: true });
    writeFileSync(this.pidFile, `${process.pid}\n`);
    this.dropPrivileges();
    const k = embeddedKernel();
    this.log.info({ kernel: this.opts.kernel, embedded: k !== null, pfkey_socket: k?.server?.socketPath ?? null }, 'racoon started');
  }

  /**
   * `privsep { user; group; }`: once every privileged thing is open (IKE
   * sockets on 500/4500, raw ESP/AH sockets, PF_KEY / netlink, the admin
   * socket, TUN, the pid file), the process continues as that user and group
   * (setgroups, setgid, setuid — racoon's unprivileged child, without a
   * privileged parent). `chroot` is refused: Node cannot chroot a running
   * process and keep loading its own code (docs/config.md).
   */
  private dropPrivileges(): void {
    const ps = this.cfg.privsep;
    if (!ps) return;
    if (ps.uid === 0 && ps.gid === 0) {
      this.log.warn({}, 'privsep: user and group are root; nothing to drop');
      return;
    }
    if (!process.setuid || !process.setgid || !process.setgroups) throw new PrivsepError('privsep: this platform has no setuid/setgid');
    try {
      process.setgroups([ps.gid]);
      process.setgid(ps.gid);
      process.setuid(ps.uid);
    } catch (err) {
      throw new PrivsepError(`privsep: cannot switch to uid ${ps.uid} gid ${ps.gid}: ${(err as Error).message}`);
    }
    this.log.info({ uid: ps.uid, gid: ps.gid }, 'privileges dropped (privsep)');
  }

  /** racoon -B: install the SAs saved in `path backupsa` (racoon's backupsa_from_file). */
  private async restoreBackupSa(): Promise<void> {
    const file = this.cfg.path.backupsa;
    if (!file) throw new BackupSaError('-B: the configuration names no backup file (path backupsa "FILE";)');
    const msgs = restoreMessages(file, new Date(), this.log);
    if (msgs === null) throw new BackupSaError('something error happened SA recovering.');
    for (const { line, add } of msgs) {
      const reply = await this.pfkey.request({ ...add, seq: this.seq++, pid: this.pfkey.pid });
      if (reply.errno !== 0) this.log.error({ file, line, errno: reply.errno }, `restore SA failed line#${line} in ${file}: errno ${reply.errno}`);
      else this.log.info({ file, line, spi: add.ext.sa?.spi }, 'SA restored from the backup file');
    }
  }

  private backupKey(m: PfKeyMessage): string {
    return `${m.type}:${m.seq}:${m.ext.sa?.spi ?? 0}:${m.ext.addressDst?.addr.address ?? ''}`;
  }

  /** The PF_KEY socket the engines use: UPDATE/ADD requests are noted for `path backupsa`. */
  private tapped(inner: PfKeySocket): PfKeySocket {
    const note = (m: PfKeyMessage): void => {
      if (!this.cfg.path.backupsa || (m.type !== SadbMsgType.UPDATE && m.type !== SadbMsgType.ADD)) return;
      if (this.backupPending.size > 4096) this.backupPending.clear(); // replies never came: do not grow without bound
      this.backupPending.set(this.backupKey(m), m);
    };
    return {
      get pid() {
        return inner.pid;
      },
      send: (m) => {
        note(m);
        inner.send(m);
      },
      request: (m, timeoutMs) => {
        note(m);
        return inner.request(m, timeoutMs);
      },
      onMessage: (l) => inner.onMessage(l),
      onError: (l) => inner.onError(l),
      close: () => inner.close(),
    };
  }

  /**
   * EVT_PHASE2_UP when the kernel accepts the inbound SA an engine installed
   * (racoon: pk_recvupdate), EVT_PHASE2_DOWN when such an SA is deleted or
   * hard-expires. ph1src/ph1dst are the SA's local and remote addresses.
   */
  private phase2Events(m: PfKeyMessage): void {
    const sa = m.ext.sa;
    const src = m.ext.addressSrc?.addr;
    const dst = m.ext.addressDst?.addr;
    if (!src || !dst || m.errno !== 0) return;
    const now = Math.floor(Date.now() / 1000);
    const at = (a: string): SockAddr => ({ family: a.includes(':') ? 10 : 2, address: a, port: 0 });
    if (!sa) {
      // SADB_DELETE by address pair (racoon's purge_remote; Linux deletes every SA between them)
      if (m.type !== SadbMsgType.DELETE) return;
      for (const [key, ends] of this.installedInbound) {
        if (ends.local !== dst.address || ends.remote !== src.address) continue;
        this.installedInbound.delete(key);
        this.emit({ type: EvtType.PHASE2_DOWN, timestamp: now, ph1src: at(ends.local), ph1dst: at(ends.remote), ph2msgid: 0 });
      }
      return;
    }
    const key = `${dst.address}/${m.satype}/${sa.spi >>> 0}`;
    if (m.type === SadbMsgType.UPDATE && m.pid === this.pfkey.pid) {
      this.installedInbound.set(key, { local: dst.address, remote: src.address });
      this.emit({ type: EvtType.PHASE2_UP, timestamp: now, ph1src: at(dst.address), ph1dst: at(src.address), ph2msgid: 0 });
      return;
    }
    const hardExpire = m.type === SadbMsgType.EXPIRE && m.ext.lifetimeHard !== undefined;
    if (m.type === SadbMsgType.DELETE || hardExpire) {
      const ends = this.installedInbound.get(key);
      if (!ends) return;
      this.installedInbound.delete(key);
      this.emit({ type: EvtType.PHASE2_DOWN, timestamp: now, ph1src: at(ends.local), ph1dst: at(ends.remote), ph2msgid: 0 });
    }
  }

  /** The kernel accepted an UPDATE/ADD we sent: racoon's backupsa_to_file. */
  private backupOnReply(m: PfKeyMessage): void {
    if ((m.type !== SadbMsgType.UPDATE && m.type !== SadbMsgType.ADD) || m.pid !== this.pfkey.pid) return;
    const key = this.backupKey(m);
    const sent = this.backupPending.get(key);
    if (!sent) return;
    this.backupPending.delete(key);
    const file = this.cfg.path.backupsa;
    if (m.errno !== 0 || !file) return;
    const line = formatBackupLine(sent, new Date());
    if (line === null) this.log.error({ file }, 'SA cannot be saved to a file.');
    else appendBackup(file, line, this.log);
  }

  /** SIGHUP / reload-config: a configuration that fails to parse never replaces the running one. */
  reload(): number {
    let next: RacoonConfig;
    try {
      next = checkLoad(this.store.reload(), this.log);
    } catch (err) {
      if (!(err instanceof RacoonConfigError)) throw err;
      for (const e of err.errors) this.log.error({}, e);
      this.log.error({ file: this.opts.configFile }, 'failed to reload the configuration; keeping the running one');
      return AdminErrno.FAILURE;
    }
    this.cfg = next;
    let failed = false;
    for (const e of this.engines) {
      try {
        e.reconfigure(next);
      } catch (err) {
        // one engine's failure must not take the daemon (or the other engines' reload) down
        failed = true;
        this.log.error({ engine: e.name, err: (err as Error).message }, 'engine failed to take the new configuration');
      }
    }
    this.log.info({ file: this.opts.configFile }, 'configuration reloaded');
    return failed ? AdminErrno.FAILURE : AdminErrno.OK;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.emit({ type: EvtType.RACOON_QUIT, timestamp: Math.floor(Date.now() / 1000), ph1src: null, ph1dst: null, ph2msgid: 0 });
    for (const e of this.engines) {
      try {
        await e.shutdown();
      } catch (err) {
        this.log.error({ engine: e.name, err: (err as Error).message }, 'engine shutdown failed');
      }
    }
    await this.admin?.close();
    await this.dataplane?.close();
    await this.sockets.close();
    await this.pfkey?.close();
    await embeddedKernel()?.stop();
    try {
      if (this.pidFile && existsSync(this.pidFile)) unlinkSync(this.pidFile);
    } catch (err) {
      // after privsep the pid file's directory may not be ours any more
      this.log.warn({ file: this.pidFile, err: (err as Error).message }, 'cannot remove the pid file');
    }
    this.log.info({}, 'racoon process terminated');
  }

  private resolvePidFile(): string {
    if (this.opts.pidFile) return this.opts.pidFile;
    const p = this.cfg.path.pidfile;
    if (!p) return DEFAULT_PID_FILE;
    return isAbsolute(p) ? p : join('/var/run', p);
  }

  private listenSpecs(): ListenSpec[] {
    const isakmp = this.opts.isakmpPort ?? ISAKMP_PORT;
    const natt = this.opts.nattPort ?? NATT_PORT;
    const l = this.cfg.listen;
    const wantFamily = (a: string): boolean => this.opts.family === null || (a.includes(':') ? 6 : 4) === this.opts.family;
    if (l.isakmp.length > 0 || l.isakmpNatt.length > 0) {
      return [
        ...l.isakmp.map((e) => ({ address: e.address, port: e.port === ISAKMP_PORT ? isakmp : e.port, natt: false })),
        ...l.isakmpNatt.map((e) => ({ address: e.address, port: e.port === NATT_PORT ? natt : e.port, natt: true })),
      ].filter((s) => wantFamily(s.address));
    }
    // No listen block: racoon binds every interface address (it follows them over netlink).
    return interfaceAddresses().filter(wantFamily).flatMap((address) => [
      { address, port: isakmp, natt: false },
      { address, port: natt, natt: true },
    ]);
  }

  private message(type: SadbMsgType, satype: SadbSaType): PfKeyMessage {
    return { type, satype, errno: 0, seq: this.seq++, pid: this.pfkey.pid, ext: {} };
  }

  private onPfKey(m: PfKeyMessage): void {
    this.backupOnReply(m);
    this.phase2Events(m);
    for (const e of this.engines) e.onPfKey(m);
  }

  /**
   * With the embedded userspace kernel, its data plane carries ESP-in-UDP on
   * our NAT-T sockets (RFC 3948), and --host / --tun give it a cleartext side.
   */
  private async startDataPlane(specs: ListenSpec[]): Promise<void> {
    const k = embeddedKernel();
    if (this.opts.kernel !== 'userspace' || !k) {
      if (this.opts.hosts.length > 0 || this.opts.tun) this.log.warn({ kernel: this.opts.kernel }, '--host/--tun need the embedded userspace kernel; ignored');
      return;
    }
    const nattPort = specs.find((s) => s.natt)?.port ?? this.opts.nattPort ?? NATT_PORT;
    this.dataplane = await startDataPlane(
      k.kernel,
      {
        hosts: this.opts.hosts,
        ...(this.opts.tun ? { tun: this.opts.tun } : {}),
        peerPort: nattPort,
        ...(k.server ? { controlPath: `${k.server.socketPath}.dp` } : {}),
        // Raw ESP/AH on the addresses racoon listens on (docs/dataplane.md), when permitted.
        ...(this.opts.raw ? { raw: [...new Set(specs.map((s) => s.address))], rawOptional: true } : {}),
      },
      this.log,
    );
    this.dataplane.plane.setUdpFallbackSport(nattPort);
    // A MIGRATE that binds IKE sockets on a new care-of address needs raw ESP/AH there too.
    this.sockets.onBound((locals) => {
      for (const address of new Set(locals.map((l) => l.address))) this.dataplane?.raw?.addAddress(address);
    });
    this.dataplane.setTransport({
      sendUdp: (payload, dst, dport, src) => {
        const family = dst.includes(':') ? 6 : 4;
        const locals = this.sockets.locals().filter((l) => l.family === family && specs.some((s) => s.natt && s.port === l.port));
        const from = locals.find((l) => l.address === src) ?? locals[0];
        if (!from) return;
        this.sockets.sendRaw(from, { address: dst, port: dport, family }, payload);
      },
    });
  }

  private onDatagram(d: Datagram): void {
    if (d.kind === 'esp') {
      this.dataplane?.plane.receiveEspInUdp(d.data, d.remote, d.local);
      return;
    }
    if (d.kind !== 'ike') return; // keepalives only keep NAT mappings alive
    for (const e of this.engines) if (e.onDatagram(d)) return;
    this.log.debug({ peer: `${d.remote.address}[${d.remote.port}]` }, 'no engine took the IKE message');
  }

  private emit(e: EvtAsync): void {
    // engine-specific script variables (IKEv1 Mode-Config: INTERNAL_ADDR4, SPLIT_INCLUDE, ...)
    const extra = Object.assign({}, ...this.engines.map((x) => x.hookEnvironment?.(e) ?? {})) as Record<string, string>;
    runHook(this.cfg, e, this.log, extra);
    for (const l of this.eventListeners) l(e);
  }

  private adminHandler(): AdminHandler {
    const dump = async (satype: SadbSaType): Promise<Buffer[]> => {
      const entries = await collectDump(this.pfkey, this.message(SadbMsgType.DUMP, satype));
      return entries.map((m) => encodeMessage(m));
    };
    const satypes = (proto: number): SadbSaType[] =>
      proto === AdminProto.AH ? [SadbSaType.AH] : proto === AdminProto.ESP ? [SadbSaType.ESP] : [SadbSaType.AH, SadbSaType.ESP];
    return {
      reloadConfig: async () => this.reload(),
      showSa: async (proto) => {
        if (proto === AdminProto.ISAKMP) return { errno: 0, payload: Buffer.concat(this.engines.flatMap((e) => e.phase1Rows())) };
        const parts: Buffer[] = [];
        for (const t of satypes(proto)) parts.push(...(await dump(t)));
        return { errno: 0, payload: Buffer.concat(parts) };
      },
      flushSa: async (proto) => {
        if (proto === AdminProto.ISAKMP) {
          for (const e of this.engines) await e.shutdown();
          return 0;
        }
        for (const t of satypes(proto)) await this.pfkey.request(this.message(SadbMsgType.FLUSH, t));
        return 0;
      },
      deleteSa: async (_proto, ix) => {
        if (!ix.dst) return AdminErrno.EINVAL;
        for (const e of this.engines) if (e.deletePeer && (await e.deletePeer({ address: ix.dst.address })) === 0) return 0;
        return AdminErrno.ENOENT;
      },
      establishSa: async (_proto, ix) => {
        if (!ix.dst) return AdminErrno.EINVAL;
        for (const e of this.engines) {
          if (!e.establish) continue;
          const r = await e.establish({ address: ix.dst.address, port: ix.dst.port || ISAKMP_PORT }, ix.src ? { address: ix.src.address, port: ix.src.port } : null);
          if (r !== AdminErrno.ENOENT) return r;
        }
        return AdminErrno.ENOENT;
      },
      deleteAllSaDst: async (ix) => {
        if (!ix.dst) return AdminErrno.EINVAL;
        for (const e of this.engines) if (e.deletePeer && (await e.deletePeer({ address: ix.dst.address })) === 0) return 0;
        return AdminErrno.ENOENT;
      },
      // racoon's purgeph1bylogin (admin.c ADMIN_LOGOUT_USER): the reply is success whether or not
      // the login had sessions; the count is logged.
      logoutUser: async (login) => {
        if (Buffer.byteLength(login) > LOGINLEN) {
          this.log.error({ login }, 'malformed message (login too long)');
          return AdminErrno.OK;
        }
        let n = await this.xauth.logout(login);
        for (const e of this.engines) if (e.logoutUser && (await e.logoutUser(login)) === 0) n++;
        this.log.info({ login, sessions: n }, `deleted ${n} SA for user "${login}"`);
        return AdminErrno.OK;
      },
      // racoon: no phase 1 between the addresses → ENOENT; one without a peer certificate → empty reply.
      getSaCert: async (ix) => {
        if (!ix.src || !ix.dst) return { errno: AdminErrno.EINVAL };
        for (const e of this.engines) {
          const r = e.peerCertificate?.(ix.src.address, ix.dst.address);
          if (r) return { errno: AdminErrno.OK, ...(r.cert ? { payload: r.cert } : {}) };
        }
        return { errno: AdminErrno.ENOENT };
      },
      // racoon's sched_dump: an empty schedule is an error (ac_errno -1), else one 32-byte row per event.
      showSchedule: async () => {
        const rows = this.schedule.dump();
        return rows.length === 0 ? { errno: AdminErrno.FAILURE } : { errno: AdminErrno.OK, payload: Buffer.concat(rows.map(encodeSchedDump)) };
      },
      status: async (_verbose, json) => {
        const s = { pid: process.pid, config: this.opts.configFile, kernel: this.opts.kernel, engines: this.engines.map((e) => e.name), ike: this.sockets.locals() };
        return json ? JSON.stringify(s) + '\n' : Object.entries(s).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n') + '\n';
      },
      onEvent: (l) => {
        this.eventListeners.add(l);
        return () => this.eventListeners.delete(l);
      },
    };
  }
}
