/**
 * racoon.conf → the IKEv1 engine's XAUTH / Mode-Config / fragmentation
 * settings (src/ike/v1/xauth.ts, modecfg.ts, frag.ts):
 *
 *   remote: `xauth_login "l";` + the psk.txt entry keyed by the login
 *           (racoon getpskbyname) → the client's credentials;
 *           `mode_cfg on;` → pull the configuration; `ike_frag` → fragments.
 *   top level: `mode_cfg { network4; netmask4; pool_size; dns4; wins4;
 *           split_network; split_dns; default_domain; banner; save_passwd;
 *           pfs_group; auth_source; }` → the server, with
 *           `auth_source system` = tanuki's user file `path xauth_users "f";`
 *           (radius / ldap / pam are refused with a clear error).
 */
import { readFileSync } from 'node:fs';
import type { RacoonConfig, RemoteConf } from '../config/racoon';
import { lookupXauthPassword } from '../config/psk';
import { CfgServer, checkModeCfgServer, type ModeCfgServerConfig } from '../ike/v1/modecfg';
import { unsupportedAuthSource, userFileSource, type XauthUserSource } from '../ike/v1/xauth';
import { formatXauthUsersError, parseXauthUsers } from '../config/xauth-users';
import type { Ikev1PeerExtConfig } from '../ike/v1/config';
import type { ModeCfgClientInfo } from '../ike/v1/modecfg';

export interface CfgLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * The XAUTH role of a remote from its racoon method names (not the numbers:
 * racoon's gssapi_krb shares 65001 with XAUTHInitPreShared).
 */
function role(r: RemoteConf): 'client' | 'server' | null {
  const names = r.proposals.map((p) => p.authMethod.alg.name);
  if (names.some((n) => /^(xauth|hybrid)_(psk|rsa|dss)_client$/.test(n))) return 'client';
  if (names.some((n) => /^(xauth|hybrid)_(psk|rsa|dss)_server$/.test(n))) return 'server';
  return null;
}

/** The remote's XAUTH client / Mode-Config / ike_frag fields; null (with a logged reason) when the remote is unusable. */
export function peerExtensions(config: RacoonConfig, r: RemoteConf, log: CfgLog): Ikev1PeerExtConfig | null {
  const ext: Ikev1PeerExtConfig = { modeCfg: r.modeCfg, ikeFrag: r.ikeFrag };
  if (role(r) === 'client') {
    if (!r.xauthLogin) {
      log.error({ remote: r.name }, `remote "${r.name}" uses an xauth client method but has no xauth_login`);
      return null;
    }
    const path = config.path.preSharedKey;
    const hit = path ? lookupXauthPassword(path, r.xauthLogin) : null;
    if (!hit || !hit.ok || !hit.key) {
      if (hit && !hit.ok) for (const e of hit.errors) log.error({ remote: r.name }, e);
      log.error({ remote: r.name }, `couldn't find the pskey for ${r.xauthLogin}: the XAUTH password of remote "${r.name}" must be in psk.txt keyed by the login`);
      return null;
    }
    ext.xauthLogin = r.xauthLogin;
    ext.xauthPassword = hit.key;
  }
  return ext;
}

/** Errors that make the XAUTH server unusable (reported by the daemon at start and reload). */
export function xauthServerProblems(config: RacoonConfig): string[] {
  if (!config.remotes.some((r) => r.ikeVersion === 1 && role(r) === 'server')) return [];
  const unsupported = unsupportedAuthSource(config.modeCfg.authSource);
  if (unsupported) return [unsupported];
  if (!config.path.xauthUsers) return ['an xauth server method is configured but there is no user file: add `path xauth_users "file";` (tanuki extension, lines login:scrypt$salt$key)'];
  return [];
}

function userSource(config: RacoonConfig, log: CfgLog): XauthUserSource | null {
  const file = config.path.xauthUsers;
  if (!file) return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    log.error({ file }, `failed to open xauth_users file ${file}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
  const parsed = parseXauthUsers(text, file);
  if (!parsed.ok) {
    log.error({ file }, formatXauthUsersError(parsed.error));
    return null;
  }
  return userFileSource(parsed.users);
}

/** racoon's `banner "file";` (default /etc/motd): the file's content, or null when unreadable. */
function banner(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

/** The Mode-Config / XAUTH server of the engine, or undefined when nothing needs it. */
export function buildCfgServer(config: RacoonConfig, log: CfgLog): CfgServer | undefined {
  const m = config.modeCfg;
  const server = config.remotes.some((r) => r.ikeVersion === 1 && role(r) === 'server');
  const pool = m.network4 !== '0.0.0.0' && m.poolSize > 0;
  if (!server && !pool) return undefined;
  for (const p of xauthServerProblems(config)) log.error({}, p);
  const cfg: ModeCfgServerConfig = {
    network4: m.network4,
    netmask4: m.netmask4,
    poolSize: m.poolSize,
    dns4: [...m.dns4],
    nbns4: [...m.nbns4],
    splitNetworkType: m.splitNetworkType,
    splitNetwork: m.splitNetwork.map((n) => ({ address: n.address, prefixlen: n.prefixlen })),
    splitDns: [...m.splitDns],
    defaultDomain: m.defaultDomain,
    banner: banner(m.banner),
    savePasswd: m.savePasswd,
    pfsGroup: m.pfsGroup,
  };
  const problems = checkModeCfgServer(cfg);
  for (const p of problems) log.error({}, p);
  const users = server && xauthServerProblems(config).length === 0 ? userSource(config, log) : null;
  log.info({ pool: pool ? `${m.network4}+${m.poolSize}` : null, xauth: server }, 'mode-cfg server ready');
  return new CfgServer(problems.length ? null : cfg, users, m.authThrottle);
}

function cidr(netmask: string | null): string {
  if (!netmask) return '';
  let n = 0;
  for (const part of netmask.split('.')) for (let x = Number(part); x; x >>= 1) n += x & 1;
  return String(n);
}

/**
 * racoon's script variables after Mode-Config (isakmp_cfg_setenv): INTERNAL_ADDR4,
 * INTERNAL_NETMASK4, INTERNAL_CIDR4, INTERNAL_DNS4 (first), INTERNAL_DNS4_LIST,
 * INTERNAL_WINS4, INTERNAL_WINS4_LIST, SPLIT_INCLUDE / SPLIT_LOCAL ("a/mask" list),
 * SPLIT_INCLUDE_CIDR / SPLIT_LOCAL_CIDR ("a/len" list), DEFAULT_DOMAIN; on the
 * server XAUTH_USER.
 */
export function modeCfgHookEnv(c: ModeCfgClientInfo, serverLogin: string | null): Record<string, string> {
  const env: Record<string, string> = {};
  const maskOf = (len: number) => {
    const m = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return [24, 16, 8, 0].map((sh) => (m >>> sh) & 0xff).join('.');
  };
  if (c.address) env.INTERNAL_ADDR4 = c.address;
  if (c.netmask) {
    env.INTERNAL_NETMASK4 = c.netmask;
    env.INTERNAL_CIDR4 = cidr(c.netmask);
  }
  if (c.dns.length) {
    env.INTERNAL_DNS4 = c.dns[0];
    env.INTERNAL_DNS4_LIST = c.dns.join(' ');
  }
  if (c.nbns.length) {
    env.INTERNAL_WINS4 = c.nbns[0];
    env.INTERNAL_WINS4_LIST = c.nbns.join(' ');
  }
  if (c.splitInclude.length) {
    env.SPLIT_INCLUDE = c.splitInclude.map((n) => `${n.address}/${maskOf(n.prefixlen)}`).join(' ');
    env.SPLIT_INCLUDE_CIDR = c.splitInclude.map((n) => `${n.address}/${n.prefixlen}`).join(' ');
  }
  if (c.splitLocalLan.length) {
    env.SPLIT_LOCAL = c.splitLocalLan.map((n) => `${n.address}/${maskOf(n.prefixlen)}`).join(' ');
    env.SPLIT_LOCAL_CIDR = c.splitLocalLan.map((n) => `${n.address}/${n.prefixlen}`).join(' ');
  }
  if (c.defaultDomain) env.DEFAULT_DOMAIN = c.defaultDomain;
  if (serverLogin) env.XAUTH_USER = serverLogin;
  return env;
}
