/**
 * The ISAKMP Transaction exchange (exchange type 6) carrying Mode-Config
 * (draft-dukes-ike-mode-cfg-02 / draft-ietf-ipsec-isakmp-mode-cfg-05) and
 * XAUTH (draft-beaulieu-ike-xauth-02, numbers in xauth.ts), as racoon's
 * road-warrior setups use them:
 *
 *   server (racoon `mode_cfg {}` + `authentication_method xauth_psk_server`):
 *     after phase 1 sends the XAUTH REQUEST, checks the REPLY against the user
 *     source, sends SET(XAUTH_STATUS), waits for the ACK; then answers the
 *     client's Mode-Config REQUEST with an address from the pool
 *     (network4 + index, index < pool_size), netmask4, dns4, wins4, the
 *     Unity banner / default domain / split networks / split DNS.
 *   client (`xauth_login` + `xauth_psk_client`, `mode_cfg on`): answers the
 *     REQUEST with the login and the psk.txt password, ACKs the status, then
 *     pulls its configuration with a REQUEST (and accepts a pushed SET).
 *
 * Every Transaction message is HDR*, HASH, ATTR with
 * HASH = prf(SKEYID_a, M-ID | ATTR) (the informational-exchange HASH of
 * RFC 2409 §5.7, which draft-dukes-ike-mode-cfg reuses)
 * and its own IV chain: hash(last phase-1 CBC block | M-ID) for the first
 * message of an exchange, then the last ciphertext block of the previous
 * message of the same exchange (RFC 2409 App. B), exactly like Quick Mode.
 *
 * The engine owns the ISAKMP-SA; it hands each session a CfgSaPort with the
 * few primitives needed (IVs, CBC, prf, message ids, datagrams, logging).
 */
import { isIP } from 'node:net';
import type { Endpoint } from '../common/natt';
import { formatIp, parseIp } from '../../util/ip';
import { ExchangeType, HeaderFlag, ISAKMP_HEADER_BYTES, PayloadType } from './constants';
import { AttrPayload, SaAttribute, findPayload, generateMessage, generatePayload, parsePayloads, rawPayloads } from './payloads';
import { XauthAttr, XauthStatus, XauthType, XauthUserSource } from './xauth';

/** draft-dukes §3.2 Attribute Payload "Type" (ISAKMP_CFG_*). */
export enum CfgType {
  REQUEST = 1,
  REPLY = 2,
  SET = 3,
  ACK = 4,
}

/** draft-dukes §3.3 attribute types, and the Cisco Unity ones racoon speaks (isakmp_unity.h). */
export enum ModeCfgAttr {
  INTERNAL_IP4_ADDRESS = 1,
  INTERNAL_IP4_NETMASK = 2,
  INTERNAL_IP4_DNS = 3,
  INTERNAL_IP4_NBNS = 4,
  INTERNAL_ADDRESS_EXPIRY = 5,
  INTERNAL_IP4_DHCP = 6,
  APPLICATION_VERSION = 7,
  INTERNAL_IP6_ADDRESS = 8,
  INTERNAL_IP6_NETMASK = 9,
  INTERNAL_IP6_DNS = 10,
  INTERNAL_IP6_NBNS = 11,
  INTERNAL_IP6_DHCP = 12,
  INTERNAL_IP4_SUBNET = 13,
  SUPPORTED_ATTRIBUTES = 14,
  INTERNAL_IP6_SUBNET = 15,
  UNITY_BANNER = 28672,
  UNITY_SAVE_PASSWD = 28673,
  UNITY_DEF_DOMAIN = 28674,
  UNITY_SPLITDNS_NAME = 28675,
  UNITY_SPLIT_INCLUDE = 28676,
  UNITY_NATT_PORT = 28677,
  UNITY_LOCAL_LAN = 28678,
  UNITY_PFS = 28679,
  UNITY_FW_TYPE = 28680,
  UNITY_BACKUP_SERVERS = 28681,
  UNITY_DDNS_HOSTNAME = 28682,
}

/** Cisco Unity split network entry: address, mask, 6 octets of protocol/ports (racoon: zero). */
const UNITY_NETWORK_BYTES = 14;
/** What a racoon client asks for (isakmp_cfg_getconfig), in its order. */
export const CLIENT_REQUEST_ATTRIBUTES: readonly ModeCfgAttr[] = [
  ModeCfgAttr.INTERNAL_IP4_ADDRESS,
  ModeCfgAttr.INTERNAL_IP4_NETMASK,
  ModeCfgAttr.INTERNAL_IP4_DNS,
  ModeCfgAttr.INTERNAL_IP4_NBNS,
  ModeCfgAttr.UNITY_BANNER,
  ModeCfgAttr.UNITY_SAVE_PASSWD,
  ModeCfgAttr.UNITY_DEF_DOMAIN,
  ModeCfgAttr.UNITY_SPLITDNS_NAME,
  ModeCfgAttr.UNITY_SPLIT_INCLUDE,
  ModeCfgAttr.UNITY_LOCAL_LAN,
  ModeCfgAttr.APPLICATION_VERSION,
];
export const APPLICATION_VERSION = 'tanuki IKEv1 (racoon compatible)';

// ---------------------------------------------------------------------------
// server configuration and the address pool

/** racoon.conf `mode_cfg { }` as the server needs it (banner already read from its file). */
export interface ModeCfgServerConfig {
  network4: string;
  netmask4: string;
  poolSize: number;
  dns4: string[];
  nbns4: string[];
  splitNetworkType: 'include' | 'local_lan' | null;
  splitNetwork: { address: string; prefixlen: number }[];
  splitDns: string[];
  defaultDomain: string | null;
  banner: Buffer | null;
  savePasswd: boolean;
  pfsGroup: number;
}

/**
 * racoon isakmp_cfg_getport / getaddr4: the address of slot i is network4 + i,
 * i < pool_size. A login that already holds a slot from the same address (its previous ISAKMP-SA is
 * still alive, e.g. during a phase-1 rekey) gets the same address again, so the
 * client's virtual IP and the IPsec-SAs bound to it survive; the slot is freed
 * when the last ISAKMP-SA holding it goes.
 */
export class AddressPool {
  private readonly used = new Map<number, { owner: string; refs: number }>();
  private readonly base: number;

  constructor(
    network4: string,
    readonly size: number,
  ) {
    const b = parseIp(network4);
    if (!b || b.length !== 4) throw new RangeError(`mode_cfg network4 "${network4}" is not an IPv4 address`);
    this.base = b.readUInt32BE(0);
  }

  /**
   * The address for `owner`: the one it already holds when `shared` (an XAUTH
   * login), else a free one; null when the pool is exhausted ("No more addresses available").
   */
  allocate(owner: string, shared = false): string | null {
    if (shared)
      for (const [i, slot] of this.used)
        if (slot.owner === owner) {
          slot.refs++;
          return this.addressOf(i);
        }
    for (let i = 0; i < this.size; i++) {
      if (this.used.has(i)) continue;
      this.used.set(i, { owner, refs: 1 });
      return this.addressOf(i);
    }
    return null;
  }

  /** Drop one holder of the address; true when the slot became free. */
  release(address: string): boolean {
    const b = parseIp(address);
    if (!b || b.length !== 4) return false;
    const i = (b.readUInt32BE(0) - this.base) >>> 0;
    const slot = this.used.get(i);
    if (!slot) return false;
    if (--slot.refs > 0) return false;
    this.used.delete(i);
    return true;
  }

  private addressOf(i: number): string {
    return formatIp(u32((this.base + i) >>> 0));
  }

  inUse(): number {
    return this.used.size;
  }
}

/** The server side shared by all ISAKMP-SAs of an engine: pool, user source, what to hand out. */
export class CfgServer {
  readonly pool: AddressPool | null;

  constructor(
    readonly config: ModeCfgServerConfig | null,
    readonly users: XauthUserSource | null,
    /** racoon `auth_throttle` (seconds): a failed login is answered only after this delay */
    readonly authThrottleSeconds = 0,
  ) {
    this.pool = config && config.poolSize > 0 && config.network4 !== '0.0.0.0' ? new AddressPool(config.network4, config.poolSize) : null;
  }
}

// ---------------------------------------------------------------------------
// attribute encoding helpers

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function addrAttr(type: number, a: string): SaAttribute {
  return { type, value: parseIp(a) ?? Buffer.alloc(4) };
}
function maskOf(prefixlen: number): Buffer {
  return u32(prefixlen === 0 ? 0 : (0xffffffff << (32 - prefixlen)) >>> 0);
}
function prefixOf(mask: Buffer): number {
  let n = 0;
  for (const b of mask) for (let x = b; x; x >>= 1) n += x & 1;
  return n;
}
function bytesOf(a: SaAttribute): Buffer {
  if (typeof a.value !== 'number') return a.value;
  const b = Buffer.alloc(2);
  b.writeUInt16BE(a.value);
  return b;
}
function numOf(a: SaAttribute | undefined): number | null {
  if (!a) return null;
  if (typeof a.value === 'number') return a.value;
  return a.value.length > 0 && a.value.length <= 4 ? a.value.readUIntBE(0, a.value.length) : null;
}
/** An IPv4 address attribute; racoon-era iOS sends some with a short length ("expected 4 actual 2"): refuse those. */
function ip4Of(a: SaAttribute): string | null {
  const v = bytesOf(a);
  return v.length >= 4 ? formatIp(v.subarray(0, 4)) : null;
}

/** What a Mode-Config client learned (racoon's INTERNAL_* / SPLIT_* / DEFAULT_DOMAIN script variables). */
export interface ModeCfgClientInfo {
  address: string | null;
  netmask: string | null;
  dns: string[];
  nbns: string[];
  banner: string | null;
  defaultDomain: string | null;
  splitInclude: { address: string; prefixlen: number }[];
  splitLocalLan: { address: string; prefixlen: number }[];
  splitDns: string[];
  savePasswd: boolean;
}

function emptyClientInfo(): ModeCfgClientInfo {
  return { address: null, netmask: null, dns: [], nbns: [], banner: null, defaultDomain: null, splitInclude: [], splitLocalLan: [], splitDns: [], savePasswd: false };
}

/** Apply REPLY / SET attributes to the client's view; unknown ones are logged by the caller. */
export function applyModeCfgAttributes(info: ModeCfgClientInfo, attrs: readonly SaAttribute[]): number[] {
  const unknown: number[] = [];
  for (const a of attrs) {
    const v = bytesOf(a);
    switch (a.type) {
      case ModeCfgAttr.INTERNAL_IP4_ADDRESS:
        if (v.length) info.address = ip4Of(a);
        break;
      case ModeCfgAttr.INTERNAL_IP4_NETMASK:
        if (v.length) info.netmask = ip4Of(a);
        break;
      case ModeCfgAttr.INTERNAL_IP4_DNS: {
        const x = v.length ? ip4Of(a) : null;
        if (x) info.dns.push(x);
        break;
      }
      case ModeCfgAttr.INTERNAL_IP4_NBNS: {
        const x = v.length ? ip4Of(a) : null;
        if (x) info.nbns.push(x);
        break;
      }
      case ModeCfgAttr.UNITY_BANNER:
        if (v.length) info.banner = v.toString('utf8');
        break;
      case ModeCfgAttr.UNITY_DEF_DOMAIN:
        if (v.length) info.defaultDomain = v.toString('utf8');
        break;
      case ModeCfgAttr.UNITY_SPLITDNS_NAME:
        if (v.length) info.splitDns.push(...v.toString('utf8').split(',').filter((s) => s !== ''));
        break;
      case ModeCfgAttr.UNITY_SAVE_PASSWD:
        info.savePasswd = numOf(a) === 1;
        break;
      case ModeCfgAttr.UNITY_SPLIT_INCLUDE:
      case ModeCfgAttr.UNITY_LOCAL_LAN:
        for (let o = 0; o + 8 <= v.length; o += UNITY_NETWORK_BYTES)
          (a.type === ModeCfgAttr.UNITY_SPLIT_INCLUDE ? info.splitInclude : info.splitLocalLan).push({ address: formatIp(v.subarray(o, o + 4)), prefixlen: prefixOf(v.subarray(o + 4, o + 8)) });
        break;
      case ModeCfgAttr.INTERNAL_IP4_SUBNET:
        if (v.length === 8) info.splitInclude.push({ address: formatIp(v.subarray(0, 4)), prefixlen: prefixOf(v.subarray(4, 8)) });
        break;
      case ModeCfgAttr.APPLICATION_VERSION:
      case ModeCfgAttr.SUPPORTED_ATTRIBUTES:
        break;
      default:
        unknown.push(a.type);
    }
  }
  return unknown;
}

/** The server's REPLY attributes for a client's REQUEST (racoon isakmp_cfg_request). */
export function modeCfgReplyAttributes(req: readonly SaAttribute[], cfg: ModeCfgServerConfig, address: string | null): SaAttribute[] {
  const out: SaAttribute[] = [];
  const splits = (kind: 'include' | 'local_lan') =>
    cfg.splitNetworkType === kind && cfg.splitNetwork.length
      ? [{ type: kind === 'include' ? ModeCfgAttr.UNITY_SPLIT_INCLUDE : ModeCfgAttr.UNITY_LOCAL_LAN, value: Buffer.concat(cfg.splitNetwork.map((n) => Buffer.concat([parseIp(n.address) ?? Buffer.alloc(4), maskOf(n.prefixlen), Buffer.alloc(6)]))) }]
      : [];
  for (const a of req) {
    switch (a.type) {
      case ModeCfgAttr.INTERNAL_IP4_ADDRESS:
        if (address) out.push(addrAttr(a.type, address));
        break;
      case ModeCfgAttr.INTERNAL_IP4_NETMASK:
        if (cfg.netmask4 !== '0.0.0.0') out.push(addrAttr(a.type, cfg.netmask4));
        break;
      case ModeCfgAttr.INTERNAL_IP4_DNS:
        for (const d of cfg.dns4) out.push(addrAttr(a.type, d));
        break;
      case ModeCfgAttr.INTERNAL_IP4_NBNS:
        for (const d of cfg.nbns4) out.push(addrAttr(a.type, d));
        break;
      case ModeCfgAttr.INTERNAL_IP4_SUBNET:
        if (cfg.splitNetworkType === 'include') for (const n of cfg.splitNetwork) out.push({ type: a.type, value: Buffer.concat([parseIp(n.address) ?? Buffer.alloc(4), maskOf(n.prefixlen)]) });
        break;
      case ModeCfgAttr.UNITY_BANNER:
        if (cfg.banner) out.push({ type: a.type, value: cfg.banner });
        break;
      case ModeCfgAttr.UNITY_DEF_DOMAIN:
        if (cfg.defaultDomain) out.push({ type: a.type, value: Buffer.from(cfg.defaultDomain) });
        break;
      case ModeCfgAttr.UNITY_SPLITDNS_NAME:
        if (cfg.splitDns.length) out.push({ type: a.type, value: Buffer.from(cfg.splitDns.join(',')) });
        break;
      case ModeCfgAttr.UNITY_SPLIT_INCLUDE:
        out.push(...splits('include'));
        break;
      case ModeCfgAttr.UNITY_LOCAL_LAN:
        out.push(...splits('local_lan'));
        break;
      case ModeCfgAttr.UNITY_SAVE_PASSWD:
        out.push({ type: a.type, value: cfg.savePasswd ? 1 : 0 });
        break;
      case ModeCfgAttr.UNITY_PFS:
        if (cfg.pfsGroup) out.push({ type: a.type, value: cfg.pfsGroup });
        break;
      case ModeCfgAttr.APPLICATION_VERSION:
        out.push({ type: a.type, value: Buffer.from(APPLICATION_VERSION) });
        break;
      default:
        break; // racoon: "Ignored attribute"
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// one ISAKMP-SA's transactions

/** What a session needs of its ISAKMP-SA; the engine implements it. */
export interface CfgSaPort {
  readonly serial: number;
  readonly peerName: string;
  readonly remote: Endpoint;
  readonly cookieI: bigint;
  readonly cookieR: bigint;
  readonly retry: { counter: number; intervalSeconds: number };
  /** RFC 2409 App. B: hash(last phase-1 block | M-ID) truncated to the block size */
  newIv(messageId: number): Buffer;
  encrypt(iv: Buffer, plain: Buffer): { cipher: Buffer; nextIv: Buffer };
  decrypt(iv: Buffer, body: Buffer): { plain: Buffer; nextIv: Buffer } | null;
  /** prf(SKEYID_a, M-ID | rest) */
  hash(messageId: number, rest: Buffer): Buffer;
  newMessageId(): number;
  emit(packet: Buffer): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
  /** the client's XAUTH and Mode-Config are done: Quick Mode may start */
  ready(now: number): void;
  /** XAUTH failed or the exchange timed out: the ISAKMP-SA must go */
  fail(reason: string, now: number): void;
}

export interface CfgRoles {
  xauth: 'client' | 'server' | null;
  /** client side `mode_cfg on`: pull the configuration after XAUTH */
  modeCfgClient: boolean;
  /** client credentials (xauth_login and its psk.txt password) */
  login: string | null;
  password: Buffer | null;
}

interface Exchange {
  iv: Buffer;
  lastRecv: Buffer | null;
  lastSent: Buffer | null;
}

/** Transaction exchanges kept for duplicate detection per ISAKMP-SA. */
const MAX_EXCHANGES = 8;

export class CfgSession {
  xauthState: 'none' | 'pending' | 'ok' | 'failed' = 'none';
  modeCfgState: 'none' | 'pending' | 'done' = 'none';
  /** server: the login that authenticated; client: our own */
  login: string | null = null;
  /** server: the pool address handed to this client */
  assigned: string | null = null;
  readonly client: ModeCfgClientInfo = emptyClientInfo();
  private readonly exchanges = new Map<number, Exchange>();
  private retransmit: { packet: Buffer; tries: number; deadline: number; messageId: number } | null = null;
  /** a failed login's SET(FAIL), held back by auth_throttle */
  private throttled: { at: number } | null = null;
  private statusSent: XauthStatus | null = null;
  private readied = false;

  constructor(
    private readonly port: CfgSaPort,
    readonly roles: CfgRoles,
    private readonly server: CfgServer | null,
  ) {
    if (roles.xauth === 'client') this.login = roles.login;
  }

  /** Quick Mode must wait (client) or is refused (server) until this is false. */
  blocksQuickMode(): boolean {
    if (this.roles.xauth !== null && this.xauthState !== 'ok') return true;
    return this.roles.xauth !== 'server' && this.roles.modeCfgClient && this.modeCfgState !== 'done';
  }

  /** Phase 1 is up: the XAUTH server asks for credentials; a client without XAUTH pulls its config. */
  start(now: number): void {
    if (this.roles.xauth === 'server') {
      if (!this.server?.users) {
        this.port.log('error', 'XAUTH server without a user source: refusing the client');
        return this.port.fail('Xauth: no user source configured', now);
      }
      this.xauthState = 'pending';
      this.port.log('info', 'Xauth: sending REQUEST for user name and password');
      this.sendNew(CfgType.REQUEST, [
        { type: XauthAttr.XAUTH_TYPE, value: XauthType.GENERIC },
        { type: XauthAttr.XAUTH_USER_NAME, value: Buffer.alloc(0) },
        { type: XauthAttr.XAUTH_USER_PASSWORD, value: Buffer.alloc(0) },
      ], now);
      return;
    }
    if (this.roles.xauth === null && this.roles.modeCfgClient) return this.requestConfig(now);
    this.checkReady(now);
  }

  nextTimer(): number | null {
    const t = Math.min(this.retransmit?.deadline ?? Infinity, this.throttled?.at ?? Infinity);
    return t === Infinity ? null : t;
  }

  tick(now: number): void {
    if (this.throttled && now >= this.throttled.at) {
      this.throttled = null;
      this.sendNew(CfgType.SET, [{ type: XauthAttr.XAUTH_STATUS, value: XauthStatus.FAIL }], now);
    }
    const r = this.retransmit;
    if (!r || now < r.deadline) return;
    if (r.tries >= this.port.retry.counter) {
      this.retransmit = null;
      return this.port.fail('Transaction exchange timed out: no reply from the peer', now);
    }
    r.tries++;
    r.deadline = now + this.port.retry.intervalSeconds * 1000;
    this.port.log('debug', `resend transaction packet (${r.tries}/${this.port.retry.counter})`, { messageId: r.messageId });
    this.port.emit(r.packet);
  }

  /** A Transaction message for this ISAKMP-SA (already matched by cookies). */
  receive(messageId: number, flags: number, nextPayload: number, body: Buffer, packet: Buffer, now: number): void {
    if ((flags & HeaderFlag.ENCRYPTION) === 0) return this.port.log('warn', 'unencrypted Transaction message: dropped');
    let ex = this.exchanges.get(messageId);
    if (ex?.lastRecv && packet.equals(ex.lastRecv)) {
      if (ex.lastSent) this.port.emit(ex.lastSent);
      return;
    }
    const d = this.port.decrypt(ex ? ex.iv : this.port.newIv(messageId), body);
    if (!d) return;
    const parsed = parsePayloads(d.plain, nextPayload, ISAKMP_HEADER_BYTES, true);
    const raw = rawPayloads(d.plain, nextPayload);
    if (!parsed.ok || !raw) return this.port.log('warn', `malformed Transaction message: ${parsed.ok ? 'bad chain' : `${parsed.error.message} at offset ${parsed.error.offset}`}`);
    const pl = parsed.value;
    if (pl[0]?.type !== PayloadType.HASH) return this.port.log('warn', 'Transaction message does not start with HASH: dropped');
    const rest = Buffer.concat(raw.slice(1).map((r) => r.raw));
    if (!this.port.hash(messageId, rest).equals(pl[0].data)) return this.port.log('error', 'Transaction HASH mismatch: dropped', { messageId });
    const attr = findPayload(pl, PayloadType.ATTR);
    if (!attr) return this.port.log('warn', 'Transaction message without attribute payload: dropped');
    if (!ex) {
      ex = { iv: d.nextIv, lastRecv: null, lastSent: null };
      this.remember(messageId, ex);
    } else ex.iv = d.nextIv;
    ex.lastRecv = Buffer.from(packet);
    if (this.retransmit?.messageId === messageId) this.retransmit = null;
    const isXauth = attr.attributes.some((a) => a.type >= XauthAttr.XAUTH_TYPE && a.type <= XauthAttr.XAUTH_ANSWER);
    switch (attr.cfgType) {
      case CfgType.REQUEST:
        return isXauth ? this.xauthRequest(messageId, attr, ex, now) : this.configRequest(messageId, attr, ex, now);
      case CfgType.REPLY:
        return isXauth ? this.xauthReply(attr, now) : this.configReply(attr, now);
      case CfgType.SET:
        return isXauth ? this.xauthSet(messageId, attr, ex, now) : this.configSet(messageId, attr, ex, now);
      case CfgType.ACK:
        return isXauth ? this.xauthAck(now) : this.port.log('debug', 'Mode-Config ACK received');
      default:
        return this.port.log('warn', `unknown Transaction attribute payload type ${attr.cfgType}: dropped`);
    }
  }

  /** The ISAKMP-SA is gone: give the address back. */
  dispose(): void {
    if (this.assigned && this.server?.pool?.release(this.assigned)) this.port.log('info', `mode-cfg: released address ${this.assigned}`);
    this.assigned = null;
    this.retransmit = null;
    this.throttled = null;
  }

  // ---- XAUTH, client side

  private xauthRequest(messageId: number, req: AttrPayload, ex: Exchange, now: number): void {
    if (this.roles.xauth !== 'client' || !this.roles.login || !this.roles.password) {
      this.port.log('error', this.roles.xauth === 'client' ? 'Xauth: no login or password configured (xauth_login and its psk.txt entry)' : 'Xauth REQUEST received but we are not an XAUTH client: dropped');
      return;
    }
    const out: SaAttribute[] = [];
    for (const a of req.attributes) {
      switch (a.type) {
        case XauthAttr.XAUTH_TYPE:
          if (numOf(a) !== XauthType.GENERIC) {
            this.port.log('error', `Xauth: unsupported XAUTH_TYPE ${numOf(a)} (only Generic)`);
            return;
          }
          out.push({ type: a.type, value: XauthType.GENERIC });
          break;
        case XauthAttr.XAUTH_USER_NAME:
          out.push({ type: a.type, value: Buffer.from(this.roles.login) });
          break;
        case XauthAttr.XAUTH_USER_PASSWORD:
          out.push({ type: a.type, value: this.roles.password });
          break;
        case XauthAttr.XAUTH_MESSAGE:
          this.port.log('info', `Xauth message: ${bytesOf(a).toString('utf8')}`);
          break;
        default:
          this.port.log('warn', `Xauth: ignored attribute ${XauthAttr[a.type] ?? a.type}`);
      }
    }
    this.xauthState = 'pending';
    this.port.log('info', `Xauth: sending login "${this.roles.login}"`);
    this.sendInExchange(messageId, ex, CfgType.REPLY, req.identifier, out);
    void now;
  }

  private xauthSet(messageId: number, set: AttrPayload, ex: Exchange, now: number): void {
    const status = numOf(set.attributes.find((a) => a.type === XauthAttr.XAUTH_STATUS));
    if (this.roles.xauth !== 'client' || status === null) return this.port.log('warn', 'Xauth SET without XAUTH_STATUS or not expected: dropped');
    this.sendInExchange(messageId, ex, CfgType.ACK, set.identifier, [{ type: XauthAttr.XAUTH_STATUS, value: status }]);
    if (status !== XauthStatus.OK) {
      this.xauthState = 'failed';
      this.port.log('error', 'Xauth authentication failed');
      return this.port.fail('Xauth authentication failed', now);
    }
    if (this.xauthState === 'ok') return;
    this.xauthState = 'ok';
    this.port.log('info', `Xauth authentication succeeded for "${this.login}"`);
    if (this.roles.modeCfgClient) this.requestConfig(now);
    else this.checkReady(now);
  }

  // ---- XAUTH, server side

  private xauthReply(reply: AttrPayload, now: number): void {
    if (this.roles.xauth !== 'server' || this.xauthState !== 'pending' || this.statusSent !== null) return this.port.log('warn', 'unexpected Xauth REPLY: dropped');
    const user = reply.attributes.find((a) => a.type === XauthAttr.XAUTH_USER_NAME);
    const pass = reply.attributes.find((a) => a.type === XauthAttr.XAUTH_USER_PASSWORD);
    const login = user ? bytesOf(user).toString('utf8') : '';
    const ok = !!user && !!pass && login !== '' && this.server!.users!.verify(login, bytesOf(pass));
    this.login = login || null;
    if (ok) this.port.log('info', `Xauth: login "${login}" authenticated`, { login });
    else this.port.log('error', `Xauth: authentication failed for login "${login}"`, { login });
    this.statusSent = ok ? XauthStatus.OK : XauthStatus.FAIL;
    // the client may pull its configuration right after its ACK: accept it as soon as OK is sent
    if (ok) this.xauthState = 'ok';
    const throttle = this.server!.authThrottleSeconds;
    // racoon auth_throttle: slow down password guessing by answering a failure late
    if (!ok && throttle > 0) this.throttled = { at: now + throttle * 1000 };
    else this.sendNew(CfgType.SET, [{ type: XauthAttr.XAUTH_STATUS, value: this.statusSent }], now);
  }

  private xauthAck(now: number): void {
    if (this.roles.xauth !== 'server' || this.statusSent === null) return this.port.log('warn', 'unexpected Xauth ACK: dropped');
    if (this.statusSent === XauthStatus.FAIL) {
      this.xauthState = 'failed';
      return this.port.fail('Xauth authentication failed', now);
    }
  }

  // ---- Mode-Config

  private requestConfig(now: number): void {
    this.modeCfgState = 'pending';
    this.port.log('info', 'mode-cfg: requesting the configuration');
    this.sendNew(CfgType.REQUEST, CLIENT_REQUEST_ATTRIBUTES.map((type) => ({ type, value: Buffer.alloc(0) })), now);
  }

  private configRequest(messageId: number, req: AttrPayload, ex: Exchange, now: number): void {
    const cfg = this.server?.config;
    if (!cfg) return this.port.log('warn', 'Mode-Config REQUEST but no mode_cfg block is configured: dropped');
    if (this.roles.xauth === 'server' && this.xauthState !== 'ok') return this.port.log('error', 'Mode-Config REQUEST before Xauth succeeded: dropped');
    const wantsAddress = req.attributes.some((a) => a.type === ModeCfgAttr.INTERNAL_IP4_ADDRESS);
    if (wantsAddress && !this.assigned && this.server?.pool) {
      // the same login from the same address (a phase-1 rekey) keeps its address; another device gets its own
      this.assigned = this.login ? this.server.pool.allocate(`${this.login}@${this.port.remote.address}`, true) : this.server.pool.allocate(`serial:${this.port.serial}`);
      if (!this.assigned) this.port.log('error', 'mode-cfg: No more addresses available');
    }
    const out = modeCfgReplyAttributes(req.attributes, cfg, this.assigned);
    this.sendInExchange(messageId, ex, CfgType.REPLY, req.identifier, out);
    this.modeCfgState = 'done';
    this.port.log('info', `mode-cfg: sent configuration${this.assigned ? `, address ${this.assigned}` : ''}${this.login ? ` to "${this.login}"` : ''}`, { address: this.assigned ?? undefined, login: this.login ?? undefined });
    void now;
  }

  private configReply(reply: AttrPayload, now: number): void {
    if (this.modeCfgState !== 'pending') return this.port.log('warn', 'unexpected Mode-Config REPLY: dropped');
    this.applyConfig(reply.attributes);
    this.modeCfgState = 'done';
    this.checkReady(now);
  }

  private configSet(messageId: number, set: AttrPayload, ex: Exchange, now: number): void {
    if (this.roles.xauth === 'server') return this.port.log('warn', 'Mode-Config SET received by a server: dropped');
    this.applyConfig(set.attributes);
    this.sendInExchange(messageId, ex, CfgType.ACK, set.identifier, set.attributes.map((a) => ({ type: a.type, value: Buffer.alloc(0) })));
    this.modeCfgState = 'done';
    this.checkReady(now);
  }

  private applyConfig(attrs: readonly SaAttribute[]): void {
    const unknown = applyModeCfgAttributes(this.client, attrs);
    for (const t of unknown) this.port.log('debug', `mode-cfg: ignored attribute ${ModeCfgAttr[t] ?? t}`);
    const c = this.client;
    this.port.log('info', `mode-cfg: got address ${c.address ?? '(none)'}${c.netmask ? `/${c.netmask}` : ''}${c.dns.length ? ` dns ${c.dns.join(',')}` : ''}`, { address: c.address ?? undefined });
    if (c.banner) this.port.log('info', `mode-cfg banner: ${c.banner}`);
  }

  private checkReady(now: number): void {
    if (this.readied || this.blocksQuickMode()) return;
    this.readied = true;
    this.port.ready(now);
  }

  // ---- messages

  private remember(messageId: number, ex: Exchange): void {
    this.exchanges.set(messageId, ex);
    while (this.exchanges.size > MAX_EXCHANGES) this.exchanges.delete(this.exchanges.keys().next().value as number);
  }

  private build(messageId: number, iv: Buffer, cfgType: CfgType, identifier: number, attributes: SaAttribute[]): { packet: Buffer; nextIv: Buffer } {
    const attr: AttrPayload = { type: PayloadType.ATTR, cfgType, identifier, attributes };
    const rest = generatePayload(attr, PayloadType.NONE);
    const hash = generatePayload({ type: PayloadType.HASH, data: this.port.hash(messageId, rest) }, PayloadType.ATTR);
    const enc = this.port.encrypt(iv, Buffer.concat([hash, rest]));
    const header = { cookieI: this.port.cookieI, cookieR: this.port.cookieR, majorVersion: 1, minorVersion: 0, exchangeType: ExchangeType.TRANSACTION, flags: HeaderFlag.ENCRYPTION, messageId };
    return { packet: generateMessage(header, PayloadType.HASH, enc.cipher), nextIv: enc.nextIv };
  }

  /** First message of a new exchange (REQUEST, SET): fresh M-ID, retransmitted until answered. */
  private sendNew(cfgType: CfgType, attributes: SaAttribute[], now: number): void {
    const messageId = this.port.newMessageId();
    const identifier = messageId & 0xffff;
    const m = this.build(messageId, this.port.newIv(messageId), cfgType, identifier, attributes);
    const ex: Exchange = { iv: m.nextIv, lastRecv: null, lastSent: m.packet };
    this.remember(messageId, ex);
    this.retransmit = { packet: m.packet, tries: 0, deadline: now + this.port.retry.intervalSeconds * 1000, messageId };
    this.port.emit(m.packet);
  }

  /** The answer in an exchange the peer opened (REPLY, ACK), cached for its retransmissions. */
  private sendInExchange(messageId: number, ex: Exchange, cfgType: CfgType, identifier: number, attributes: SaAttribute[]): void {
    const m = this.build(messageId, ex.iv, cfgType, identifier, attributes);
    ex.iv = m.nextIv;
    ex.lastSent = m.packet;
    this.port.emit(m.packet);
  }
}

/** Validate a server mode_cfg block for use (addresses parse, the pool fits in IPv4). */
export function checkModeCfgServer(c: ModeCfgServerConfig): string[] {
  const out: string[] = [];
  for (const [n, a] of [['network4', c.network4], ['netmask4', c.netmask4], ...c.dns4.map((d) => ['dns4', d]), ...c.nbns4.map((d) => ['wins4', d])] as const)
    if (isIP(a) !== 4) out.push(`mode_cfg ${n} "${a}" is not an IPv4 address`);
  const b = parseIp(c.network4);
  if (b && b.length === 4 && b.readUInt32BE(0) + c.poolSize > 0x100000000) out.push(`mode_cfg pool_size ${c.poolSize} runs past 255.255.255.255 from ${c.network4}`);
  return out;
}
