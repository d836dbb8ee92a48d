/**
 * The typed, validated, immutable result of parsing racoon.conf (racoon-compat §1).
 * Field names follow racoon's own structures (localconf, remoteconf, isakmpsa,
 * sainfo, isakmp_cfg_config) so that someone who knows racoon finds their way.
 */
import type { RacoonAlgorithm } from './algorithms';

/** A position in a configuration file. Lines and columns are 1-based. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A configuration error: `file:line:column: message (near 'token')`. */
export interface ConfigError extends SourcePos {
  readonly message: string;
  /** the offending token's text ('' at end of file). */
  readonly token: string;
  /** for syntax errors: what the grammar accepts at that point. */
  readonly expected: readonly string[];
}

export type ConfigWarning = ConfigError;

export function formatConfigError(e: ConfigError): string {
  const near = e.token === '' ? 'end of file' : `'${e.token}'`;
  const exp = e.expected.length > 0 ? `; expected ${e.expected.join(', ')}` : '';
  return `${e.file}:${e.line}:${e.column}: ${e.message}${exp} (near ${near})`;
}

export type LogLevel = 'error' | 'warning' | 'notify' | 'info' | 'debug' | 'debug2';

/** An IP endpoint as written in the configuration (numeric address + port). */
export interface Endpoint {
  /** canonical text (RFC 5952 for IPv6), without zone. */
  readonly address: string;
  readonly family: 4 | 6;
  /** IPv6 scope (`%zone`), '' when none. */
  readonly zone: string;
  readonly port: number;
}

export interface PathInfo {
  readonly include: string | null;
  readonly preSharedKey: string | null;
  readonly certificate: string | null;
  readonly script: string | null;
  readonly backupsa: string | null;
  readonly pidfile: string | null;
  /** tanuki extension `path xauth_users "file";`: the XAUTH server's user file for `auth_source system` */
  readonly xauthUsers: string | null;
}

export interface Padding {
  readonly randomize: boolean;
  readonly randomizeLength: boolean;
  readonly maximumLength: number;
  readonly strictCheck: boolean;
  readonly exclusiveTail: boolean;
}

export interface AdminSock {
  /** null: `adminsock disabled;`. */
  readonly path: string | null;
  readonly owner: number;
  readonly group: number;
  /** permission bits after racoon's decimal-digit mapping. */
  readonly mode: number;
}

export interface Listen {
  /** false when the configuration has no listen block (bind every interface). */
  readonly present: boolean;
  readonly isakmp: readonly Endpoint[];
  readonly isakmpNatt: readonly Endpoint[];
  readonly adminsock: AdminSock;
  readonly strictAddress: boolean;
}

/** All durations are seconds. */
export interface Timer {
  readonly counter: number;
  readonly interval: number;
  readonly persend: number;
  readonly phase1: number;
  readonly phase2: number;
  readonly nattKeepalive: number;
}

export interface Privsep {
  readonly uid: number;
  readonly gid: number;
  readonly chroot: string | null;
}

export interface LdapCfg {
  readonly version: number;
  readonly debug: number | null;
  readonly timeout: number | null;
  readonly uri: string | null;
  readonly host: string;
  readonly port: number;
  readonly base: string | null;
  readonly subtree: boolean;
  readonly bindDn: string | null;
  readonly bindPw: string | null;
  readonly attrUser: string;
  readonly attrAddr: string;
  readonly attrMask: string;
  readonly attrGroup: string;
  readonly attrMember: string;
  readonly attrDevice: string | null;
}

export interface RadiusServer {
  readonly host: string;
  /** 0 = the RADIUS library's default port. */
  readonly port: number;
  readonly secret: string;
}

export interface RadiusCfg {
  readonly auth: readonly RadiusServer[];
  readonly acct: readonly RadiusServer[];
  readonly timeout: number;
  readonly retries: number;
}

export interface SplitNetwork {
  readonly address: string;
  readonly prefixlen: number;
}

export interface ModeCfg {
  readonly network4: string;
  readonly netmask4: string;
  readonly poolSize: number;
  readonly dns4: readonly string[];
  readonly nbns4: readonly string[];
  readonly splitNetworkType: 'include' | 'local_lan' | null;
  readonly splitNetwork: readonly SplitNetwork[];
  readonly splitDns: readonly string[];
  readonly defaultDomain: string | null;
  readonly authSource: 'system' | 'radius' | 'pam' | 'ldap';
  readonly authGroups: readonly string[];
  readonly groupSource: 'system' | 'ldap';
  readonly confSource: 'local' | 'radius' | 'ldap';
  readonly accounting: 'none' | 'system' | 'radius' | 'pam';
  readonly banner: string;
  readonly authThrottle: number;
  readonly pfsGroup: number;
  readonly savePasswd: boolean;
}

/** racoon's IDTYPE_* (identifier types usable in my_identifier / peers_identifier / from). */
export type IdType = 'address' | 'subnet' | 'fqdn' | 'user_fqdn' | 'keyid' | 'asn1dn';

export interface Identifier {
  readonly type: IdType;
  readonly qualifier: 'tag' | 'file' | null;
  /**
   * The value: for `address` the canonical address text; for `keyid` without
   * `tag` the content of the named file (racoon reads it at parse time);
   * for the others the string as written. null when omitted.
   */
  readonly value: string | null;
  /** for keyid read from a file: the file name. */
  readonly file: string | null;
}

export type ExchangeMode = 'main' | 'aggressive' | 'base';

export interface AlgorithmChoice {
  readonly alg: RacoonAlgorithm;
  /** key length in bits (explicit or the algorithm's default); 0 when none. */
  readonly keyLength: number;
  readonly pos: SourcePos;
}

/** One phase-1 proposal (racoon's isakmpsa after expand_isakmpspec). */
export interface Proposal {
  readonly propNo: number;
  readonly trnsNo: number;
  readonly encryption: AlgorithmChoice;
  readonly hash: AlgorithmChoice;
  readonly authMethod: AlgorithmChoice;
  readonly dhGroup: AlgorithmChoice;
  /** seconds: the proposal's own lifetime, else the remote's. */
  readonly lifetime: number;
  readonly gssId: string | null;
  /** the remote that wrote this proposal block (differs from the owner when inherited). */
  readonly definedIn: string;
}

export type CertificateSpec =
  | { readonly type: 'x509'; readonly certFile: string; readonly keyFile: string }
  | { readonly type: 'plain_rsa'; readonly keyFile: string };

export type PeersCertSpec =
  | { readonly type: 'x509'; readonly file: string }
  | { readonly type: 'plain_rsa'; readonly file: string }
  | { readonly type: 'dnssec' };

export interface Scripts {
  readonly phase1_up: string | null;
  readonly phase1_down: string | null;
  readonly phase1_dead: string | null;
}

export interface RemoteConf {
  readonly name: string;
  /** null: anonymous (AF_UNSPEC). */
  readonly remote: Endpoint | null;
  readonly inheritedFrom: string | null;
  readonly exchangeMode: readonly ExchangeMode[];
  readonly doi: 'ipsec_doi';
  readonly situation: 'identity_only' | 'secrecy' | 'integrity';
  readonly myIdentifier: Identifier;
  readonly peersIdentifiers: readonly Identifier[];
  readonly verifyIdentifier: boolean;
  readonly xauthLogin: string | null;
  readonly certificate: CertificateSpec | null;
  readonly caType: { readonly type: 'x509'; readonly file: string } | null;
  readonly peersCertfile: PeersCertSpec | null;
  readonly verifyCert: boolean;
  readonly sendCert: boolean;
  readonly sendCr: boolean;
  readonly matchEmptyCr: boolean;
  readonly nonceSize: number;
  readonly passive: boolean;
  readonly initialContact: boolean;
  readonly supportProxy: boolean;
  readonly generatePolicy: 'off' | 'require' | 'unique';
  readonly natTraversal: 'off' | 'on' | 'force';
  readonly proposalCheck: 'obey' | 'strict' | 'claim' | 'exact';
  readonly dpd: boolean;
  readonly dpdDelay: number;
  readonly dpdRetry: number;
  readonly dpdMaxfail: number;
  readonly rekey: 'off' | 'on' | 'force';
  readonly ph1id: number;
  readonly lifetime: number;
  readonly ikeFrag: 'off' | 'on' | 'force';
  readonly espFrag: number;
  readonly scripts: Scripts;
  readonly modeCfg: boolean;
  readonly weakPhase1Check: boolean;
  readonly proposals: readonly Proposal[];
  /** the common DH group when aggressive mode is allowed (racoon's rmconf->dh_group), else null. */
  readonly dhGroup: RacoonAlgorithm | null;
  /** tanuki extension: `ike_version 1|2;` (default 1). */
  readonly ikeVersion: 1 | 2;
  /** tanuki extension: `mobike on|off;` (default off; IKEv2 only). */
  readonly mobike: boolean;
  /**
   * tanuki extension: `mip6_kbit on|off;` — the Mobile IPv6 K-bit (RFC 6275
   * §6.1.7) for MIGRATEs of this remote's IKE SAs; absent: read it from the
   * MIGRATE (KMADDRESS present = K set). docs/migrate.md
   */
  readonly mip6Kbit?: 'on' | 'off';
  readonly pos: SourcePos;
}

/** IPsec DOI identification types (RFC 2407 §4.6.2.1). */
export enum IpsecDoiIdType {
  IPV4_ADDR = 1,
  FQDN = 2,
  USER_FQDN = 3,
  IPV4_ADDR_SUBNET = 4,
  IPV6_ADDR = 5,
  IPV6_ADDR_SUBNET = 6,
  IPV4_ADDR_RANGE = 7,
  IPV6_ADDR_RANGE = 8,
  DER_ASN1_DN = 9,
  DER_ASN1_GN = 10,
  KEY_ID = 11,
}

/**
 * An identification payload body (RFC 2407 §4.6.2): type, protocol, port and the
 * identification data bytes — the form racoon compares sainfo ids in.
 */
export interface PhaseId {
  readonly type: IpsecDoiIdType;
  readonly protocol: number;
  readonly port: number;
  readonly data: Uint8Array;
}

export interface SaInfoIdAddress {
  readonly kind: 'address';
  readonly address: string;
  readonly family: 4 | 6;
  readonly prefixlen: number;
  readonly port: number;
  /** 255 = any (IPSEC_ULPROTO_ANY). */
  readonly ulProto: number;
  readonly id: PhaseId;
}

export interface SaInfoIdRange {
  readonly kind: 'range';
  readonly low: string;
  readonly high: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly ulProto: number;
  readonly id: PhaseId;
}

export interface SaInfoIdName {
  readonly kind: 'fqdn' | 'user_fqdn' | 'keyid';
  readonly value: string;
  readonly id: PhaseId;
}

export type SaInfoId = SaInfoIdAddress | SaInfoIdRange | SaInfoIdName;

export interface SaInfo {
  /** null = anonymous. */
  readonly local: SaInfoId | null;
  /** null = anonymous; 'clientaddr' = the peer's (mode-cfg) client address. */
  readonly remote: SaInfoId | 'clientaddr' | null;
  /** `from IDTYPE [VAL]`: the peer's phase-1 identity, as an ID payload body. */
  readonly from: PhaseId | null;
  readonly fromText: string | null;
  readonly group: string | null;
  readonly pfsGroup: RacoonAlgorithm | null;
  readonly lifetime: number;
  readonly remoteid: number;
  readonly encryption: readonly AlgorithmChoice[];
  readonly authentication: readonly AlgorithmChoice[];
  readonly compression: readonly AlgorithmChoice[];
  /**
   * tanuki extension: `esn on|off;` — propose/accept RFC 4304 Extended
   * Sequence Numbers in IKEv1 Quick Mode (default off, as racoon, which has no
   * ESN). IKEv2 ignores it: it always offers ESN and NO_ESN (RFC 7296 §3.3.2).
   */
  readonly esn: boolean;
  /** racoon's prisainfo() priority. */
  readonly priority: number;
  /** racoon's sainfo2str(): "loc='…', rmt='…', peer='…', id=N". */
  readonly description: string;
  readonly pos: SourcePos;
}

export interface RacoonConfig {
  /** every file read, in order (the main file first, then includes). */
  readonly files: readonly string[];
  readonly privsep: Privsep | null;
  readonly path: PathInfo;
  readonly pfkeyBuffer: number;
  readonly gssIdEnc: 'latin1' | 'utf-16le';
  readonly log: LogLevel;
  readonly padding: Padding;
  readonly listen: Listen;
  readonly timer: Timer;
  readonly ldap: LdapCfg | null;
  readonly radius: RadiusCfg | null;
  readonly modeCfg: ModeCfg;
  readonly complexBundle: boolean;
  /** in configuration order (racoon's enumrmconf order). */
  readonly remotes: readonly RemoteConf[];
  /** in racoon's sitree order: sorted by priority, stable for equal priority. */
  readonly sainfos: readonly SaInfo[];
}

export type ParseResult =
  | { readonly ok: true; readonly config: RacoonConfig; readonly warnings: readonly ConfigWarning[] }
  | { readonly ok: false; readonly errors: readonly ConfigError[]; readonly warnings: readonly ConfigWarning[] };
