/**
 * Extended Authentication (XAUTH, draft-beaulieu-ike-xauth-02) inside the
 * ISAKMP Transaction exchange: the XAUTH attribute numbers, the phase-1
 * authentication methods that announce it (65001.., RFC-less but IANA
 * registered), which side is the XAUTH server, and the user sources.
 *
 * The exchange (draft §4.1), after phase 1:
 *   server → client  REQUEST { XAUTH_TYPE, XAUTH_USER_NAME, XAUTH_USER_PASSWORD }
 *   client → server  REPLY   { XAUTH_TYPE, XAUTH_USER_NAME = login, XAUTH_USER_PASSWORD = password }
 *   server → client  SET     { XAUTH_STATUS = OK(1) | FAIL(0) }
 *   client → server  ACK     { XAUTH_STATUS }
 * The transaction protocol itself (HASH, IV, retransmission) is in modecfg.ts.
 *
 * User sources for the server (racoon `mode_cfg { auth_source ...; }`):
 * `system` is tanuki's own password file (`path xauth_users "file";`, lines
 * `login:scrypt$<salt hex>$<key hex>`, parsed by src/config/xauth-users.ts); `radius`, `ldap`
 * and `pam` are refused when the configuration is built.
 */
import { scryptSync, timingSafeEqual } from 'node:crypto';
import { AuthMethod } from './constants';

/** draft-beaulieu-ike-xauth-02 §6.1 attribute types. */
export enum XauthAttr {
  XAUTH_TYPE = 16520,
  XAUTH_USER_NAME = 16521,
  XAUTH_USER_PASSWORD = 16522,
  XAUTH_PASSCODE = 16523,
  XAUTH_MESSAGE = 16524,
  XAUTH_CHALLENGE = 16525,
  XAUTH_DOMAIN = 16526,
  XAUTH_STATUS = 16527,
  XAUTH_NEXT_PIN = 16528,
  XAUTH_ANSWER = 16529,
}

/** draft §6.2 XAUTH_TYPE values (tanuki implements Generic). */
export enum XauthType {
  GENERIC = 0,
  RADIUS_CHAP = 1,
  OTP = 2,
  S_KEY = 3,
}

/** draft §6.1 XAUTH_STATUS. */
export enum XauthStatus {
  FAIL = 0,
  OK = 1,
}

/** XAUTH vendor ID (strongSwan and Cisco send it with XAUTH methods): 09002689dfd6b712. */
export const XAUTH_VENDOR_ID = Buffer.from('09002689dfd6b712', 'hex');

/** Hybrid methods (draft-ietf-ipsec-isakmp-hybrid-auth-05, racoon `hybrid_rsa_*`). */
export const HYBRID_INIT_RSA = 64221;
export const HYBRID_RESP_RSA = 64222;

/** racoon isakmpsa_switch_authmethod(): a responder's *_server value compares as the initiator's. */
export function switchAuthMethod(m: number): number {
  switch (m) {
    case HYBRID_RESP_RSA:
      return HYBRID_INIT_RSA;
    case 64224:
      return 64223;
    case AuthMethod.XAUTH_RESP_PSK:
      return AuthMethod.XAUTH_INIT_PSK;
    case 65004:
      return 65003;
    case AuthMethod.XAUTH_RESP_RSA:
      return AuthMethod.XAUTH_INIT_RSA;
    case 65008:
      return 65007;
    case 65010:
      return 65009;
    default:
      return m;
  }
}

/** Phase-1 methods whose SKEYID is the pre-shared-key one (RFC 2409 §5; XAUTH PSK adds a transaction after). */
export function isPskAuthMethod(m: number | null): boolean {
  return m === AuthMethod.PRE_SHARED_KEY || m === AuthMethod.XAUTH_INIT_PSK || m === AuthMethod.XAUTH_RESP_PSK;
}

/** Does a transform's method match one of our proposals (racoon compares after switching *_server values)? */
export function sameAuthMethod(ours: number, offered: number): boolean {
  return switchAuthMethod(ours) === switchAuthMethod(offered);
}

/**
 * Our XAUTH role from the configured method, as racoon reads it:
 * `xauth_psk_client` (65001) / `xauth_rsa_client` (65005) / `hybrid_rsa_client`
 * → client; the `_server` values (65002, 65006, 64222) → server.
 */
export function xauthRole(methods: readonly number[]): 'client' | 'server' | null {
  for (const m of methods) {
    if (m === AuthMethod.XAUTH_INIT_PSK || m === AuthMethod.XAUTH_INIT_RSA || m === HYBRID_INIT_RSA) return 'client';
    if (m === AuthMethod.XAUTH_RESP_PSK || m === AuthMethod.XAUTH_RESP_RSA || m === HYBRID_RESP_RSA) return 'server';
  }
  return null;
}

// ---------------------------------------------------------------------------
// user sources (server side)

/** What the XAUTH server asks of a user source. */
export interface XauthUserSource {
  /** true when `login` may log in with `password` */
  verify(login: string, password: Buffer): boolean;
}

/** One line of the user file (parsed by src/config/xauth-users.ts). */
export interface XauthUserEntry {
  readonly login: string;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** scrypt parameters of tanuki's user file (N=2^14, r=8, p=1; 32-octet key), as src/config/xauth-users.ts writes it. */
const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 } as const;

/** A user source over parsed entries; unknown logins and wrong passwords take the same path. */
export function userFileSource(users: readonly XauthUserEntry[]): XauthUserSource {
  const dummy = { salt: Buffer.alloc(16), key: Buffer.alloc(SCRYPT.keyLen) };
  return {
    verify(login, password) {
      const u = users.find((x) => x.login === login);
      const e = u ?? dummy;
      const key = scryptSync(password, e.salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
      return u !== undefined && key.length === e.key.length && timingSafeEqual(key, e.key);
    },
  };
}

/** racoon's auth sources tanuki does not provide, with the message the daemon logs and `racoon -t` prints. */
export function unsupportedAuthSource(source: string): string | null {
  switch (source) {
    case 'radius':
      return 'mode_cfg auth_source radius is not supported by tanuki (no RADIUS client): use auth_source system with path xauth_users';
    case 'ldap':
      return 'mode_cfg auth_source ldap is not supported by tanuki (no LDAP client): use auth_source system with path xauth_users';
    case 'pam':
      return 'mode_cfg auth_source pam is not supported by tanuki (no PAM binding): use auth_source system with path xauth_users';
    default:
      return null;
  }
}
