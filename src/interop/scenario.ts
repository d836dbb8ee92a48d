/**
 * One scenario description drives both peers: the same record is rendered as
 * a swanctl.conf connection for charon and as a racoon.conf remote + sainfo
 * (+ setkey policies) for tanuki, so the two configurations cannot drift.
 *
 * Algorithm names: strongSwan proposal keywords
 * (src/libstrongswan/crypto/proposal/proposal_keywords_static.txt) on one side,
 * racoon.conf algorithm names (src/config/racoon/algorithms.ts) on the other.
 */

import type { Pki } from './pki';

export type Side = 'tanuki' | 'charon';

/** An IKE_SA transform set (RFC 7296 §3.3.2): ENCR (+INTEG when not AEAD), PRF, D-H group. */
export interface IkeProposal {
  readonly label: string;
  /** strongSwan keyword string, e.g. `aes128gcm16-prfsha256-x25519`. */
  readonly strongswan: string;
  /** racoon.conf `proposal {}` body lines. */
  readonly racoon: { readonly encryption: string; readonly hash: string; readonly dhGroup: string };
  /** What charon must report in `--list-sas --raw` (encr-alg, dh-group). */
  readonly expect: { readonly encr: string; readonly dh: string };
}

/** An ESP transform set for the CHILD_SA (no PFS group, no ESN: libipsec has no ESN). */
export interface EspProposal {
  readonly label: string;
  readonly strongswan: string;
  readonly racoon: { readonly encryption: string; readonly authentication: string };
  readonly expect: { readonly encr: string };
}

/**
 * What is exercised once the first CHILD_SA is up and traffic passes:
 *  - `delete-by-X`: an IKE_SA delete (RFC 7296 §1.4.1) from one side; no SA may be left on either peer;
 *  - `rekey-child-by-X`: a CHILD_SA rekey (§2.8, CREATE_CHILD_SA with REKEY_SA) started by X;
 *    charon's CHILD_SA has new SPIs, tanuki's kernel holds exactly the new pair, traffic flows on it;
 *  - `rekey-ike-by-X`: an IKE_SA rekey (§2.18) started by X; new IKE SPIs on both sides, the
 *    CHILD_SA survives and still carries traffic;
 *  - `dpd-charon-detects`: tanuki's racoon is killed (SIGKILL); charon's liveness check (§2.4,
 *    dpd_delay) gives up and removes the IKE_SA;
 *  - `dpd-tanuki-detects`: charon is killed; tanuki's liveness check (dpd_delay) removes the IKE_SA
 *    and its CHILD_SAs from its kernel;
 *  - `mobike`: tanuki (the IKE_SA initiator, RFC 4555 §3.5) moves to a new address the way a Mobile
 *    IPv6 node does (new address, PF_KEY MIGRATE of its tunnel policies, old address gone); charon
 *    follows with the same IKE SPIs, the CHILD_SA pair is at the new address and carries traffic.
 */
export type Behaviour =
  | 'establish'
  | 'delete-by-tanuki'
  | 'delete-by-charon'
  | 'rekey-child-by-tanuki'
  | 'rekey-child-by-charon'
  | 'rekey-ike-by-tanuki'
  | 'rekey-ike-by-charon'
  | 'dpd-charon-detects'
  | 'dpd-tanuki-detects'
  | 'mobike';

/**
 * The network between the peers:
 *  - `direct`: one veth pair;
 *  - `nat`: tanuki behind a router namespace that masquerades (nftables) — a real NAT (RFC 3947/7296 §2.23);
 *  - `small-mtu`: one veth pair with MTU 1320 and IP fragments dropped on the way, so a large IKE
 *    message only gets through with IKE fragmentation (RFC 7383).
 */
export type Topology = 'direct' | 'nat' | 'small-mtu';

/** `ci`: in the default matrix (must pass); `experimental`: listed and runnable with `--all`, not in CI. */
export type ScenarioSet = 'ci' | 'experimental';

export type Auth = 'psk' | 'rsa' | 'ecdsa';

export interface Scenario {
  readonly name: string;
  readonly behaviour: Behaviour;
  readonly ikeVersion: 1 | 2;
  /** IKEv1 phase 1 exchange (RFC 2409 §5): Main or Aggressive Mode. */
  readonly v1Mode?: 'main' | 'aggressive';
  readonly initiator: Side;
  readonly auth: Auth;
  readonly ike: IkeProposal;
  readonly esp: EspProposal;
  /** PFS group for CHILD_SAs (IKEv2 CREATE_CHILD_SA KE, IKEv1 Quick Mode KE), or none. */
  readonly pfs: PfsGroup | null;
  /** kernel-libipsec supports tunnel mode only (src/libipsec/ipsec_sa.c). */
  readonly mode: 'tunnel';
  readonly topology: Topology;
  readonly set: ScenarioSet;
  /** Why an experimental scenario is not in the CI set. */
  readonly note?: string;
  /** charon sends its certificate even when not asked (swanctl `send_cert = always`; default: only after a CERTREQ). */
  readonly charonSendCertAlways?: boolean;
}

export interface PfsGroup {
  readonly label: string;
  readonly strongswan: string;
  readonly racoon: string;
  readonly expect: string;
}

export const PFS_GROUPS: readonly PfsGroup[] = [
  { label: 'pfs-modp2048', strongswan: 'modp2048', racoon: 'modp2048', expect: 'MODP_2048' },
  { label: 'pfs-ecp256', strongswan: 'ecp256', racoon: 'ecp256', expect: 'ECP_256' },
];

export const IKE_PROPOSALS: readonly IkeProposal[] = [
  {
    label: 'aesgcm16-sha256-x25519',
    strongswan: 'aes128gcm16-prfsha256-x25519',
    racoon: { encryption: 'aes_gcm_16 128', hash: 'sha256', dhGroup: 'curve25519' },
    expect: { encr: 'AES_GCM_16', dh: 'CURVE_25519' },
  },
  {
    label: 'aescbc-sha256-ecp256',
    strongswan: 'aes128-sha256-prfsha256-ecp256',
    racoon: { encryption: 'aes 128', hash: 'sha256', dhGroup: 'ecp256' },
    expect: { encr: 'AES_CBC', dh: 'ECP_256' },
  },
  {
    label: 'chacha20poly1305-sha256-modp2048',
    strongswan: 'chacha20poly1305-prfsha256-modp2048',
    racoon: { encryption: 'chacha20_poly1305', hash: 'sha256', dhGroup: 'modp2048' },
    expect: { encr: 'CHACHA20_POLY1305', dh: 'MODP_2048' },
  },
];

/** IKEv1 phase-1 proposals (RFC 2409: the hash is both PRF and integrity). */
export const IKEV1_PROPOSALS: readonly IkeProposal[] = [
  {
    label: 'aescbc-sha256-modp2048',
    strongswan: 'aes128-sha256-modp2048',
    racoon: { encryption: 'aes 128', hash: 'sha256', dhGroup: 'modp2048' },
    expect: { encr: 'AES_CBC', dh: 'MODP_2048' },
  },
  {
    label: 'aescbc-sha1-ecp256',
    strongswan: 'aes128-sha1-ecp256',
    racoon: { encryption: 'aes 128', hash: 'sha1', dhGroup: 'ecp256' },
    expect: { encr: 'AES_CBC', dh: 'ECP_256' },
  },
];

export const ESP_PROPOSALS: readonly EspProposal[] = [
  { label: 'esp-aesgcm16', strongswan: 'aes128gcm16', racoon: { encryption: 'aes_gcm_16 128', authentication: 'non_auth' }, expect: { encr: 'AES_GCM_16' } },
  { label: 'esp-aescbc-sha256', strongswan: 'aes128-sha256', racoon: { encryption: 'aes 128', authentication: 'hmac_sha256' }, expect: { encr: 'AES_CBC' } },
  { label: 'esp-chacha20poly1305', strongswan: 'chacha20poly1305', racoon: { encryption: 'chacha20_poly1305', authentication: 'non_auth' }, expect: { encr: 'CHACHA20_POLY1305' } },
];

export const ESP_V1_PROPOSALS: readonly EspProposal[] = [
  { label: 'esp-aescbc-sha256', strongswan: 'aes128-sha256', racoon: { encryption: 'aes 128', authentication: 'hmac_sha256' }, expect: { encr: 'AES_CBC' } },
  { label: 'esp-aescbc-sha1', strongswan: 'aes128-sha1', racoon: { encryption: 'aes 128', authentication: 'hmac_sha1' }, expect: { encr: 'AES_CBC' } },
];

const SIDES = ['tanuki', 'charon'] as const;

/** Capabilities that are not (yet) on this branch's engines: their scenarios stay out of the CI set. */
const EXPERIMENTAL: Partial<Record<string, string>> = {
  'dpd-tanuki-detects': "passes, but takes about 3 minutes: tanuki's IKEv2 retransmission schedule (4 s x 1.8^n, 5 tries) is not configurable from racoon.conf",
};

function experimentalWhy(parts: readonly string[]): string | undefined {
  for (const p of parts) {
    const why = EXPERIMENTAL[p];
    if (why) return why;
  }
  return undefined;
}

function make(
  p: Omit<Scenario, 'name' | 'set' | 'mode' | 'note'> & { extra?: string },
): Scenario {
  const auth = p.ikeVersion === 1 ? `${p.v1Mode ?? 'main'}-${p.auth}` : p.auth;
  const parts = [
    `ikev${p.ikeVersion}`,
    auth,
    `${p.initiator}-init`,
    p.ike.label,
    p.esp.label,
    ...(p.pfs ? [p.pfs.label] : []),
    ...(p.charonSendCertAlways ? ['sendcert'] : []),
    ...(p.topology !== 'direct' ? [p.topology] : []),
    ...(p.behaviour !== 'establish' ? [p.behaviour] : []),
  ];
  const why = experimentalWhy([p.esp.label, p.ikeVersion === 2 ? p.behaviour : `v1-${p.behaviour}`, ...(p.extra ? [p.extra] : [])]);
  const { extra: _extra, ...rest } = p;
  return { ...rest, name: parts.join('-'), mode: 'tunnel', set: why ? 'experimental' : 'ci', ...(why ? { note: why } : {}) };
}

/** The matrix (docs/interop.md lists it): CI scenarios first, then the experimental ones. */
export function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  const base = { ikeVersion: 2 as const, auth: 'psk' as const, pfs: null, topology: 'direct' as const, behaviour: 'establish' as const };
  // IKEv2 PSK: both roles x IKE proposals x ESP proposals (each with traffic both ways).
  for (const initiator of SIDES) for (const ike of IKE_PROPOSALS) for (const esp of ESP_PROPOSALS) out.push(make({ ...base, initiator, ike, esp }));
  const ike0 = IKE_PROPOSALS[0];
  const esp0 = ESP_PROPOSALS[0];
  // IKEv2 behaviours, both roles x the side that acts.
  for (const initiator of SIDES) {
    for (const by of SIDES) {
      for (const what of ['delete', 'rekey-child', 'rekey-ike'] as const) {
        out.push(make({ ...base, initiator, ike: ike0, esp: esp0, behaviour: `${what}-by-${by}` }));
      }
    }
    out.push(make({ ...base, initiator, ike: ike0, esp: esp0, behaviour: 'dpd-charon-detects' }));
    out.push(make({ ...base, initiator, ike: ike0, esp: esp0, behaviour: 'dpd-tanuki-detects' }));
    // PFS proven on a CHILD_SA rekey (IKE_AUTH's CHILD_SA has no KE, RFC 7296 §1.2).
    for (const pfs of PFS_GROUPS) for (const by of SIDES) out.push(make({ ...base, initiator, ike: IKE_PROPOSALS[1], esp: ESP_PROPOSALS[1], pfs, behaviour: `rekey-child-by-${by}` }));
  }
  // MOBIKE (RFC 4555): only the IKE_SA initiator moves the SA, so tanuki initiates.
  out.push(make({ ...base, initiator: 'tanuki', ike: ike0, esp: esp0, behaviour: 'mobike' }));
  // NAT-T through a real NAT: tanuki behind the masquerading router initiates (charon cannot reach it first).
  for (const ike of IKE_PROPOSALS) out.push(make({ ...base, initiator: 'tanuki', ike, esp: esp0, topology: 'nat' }));
  out.push(make({ ...base, initiator: 'tanuki', ike: ike0, esp: esp0, topology: 'nat', behaviour: 'rekey-child-by-charon' }));
  out.push(make({ ...base, initiator: 'tanuki', ike: ike0, esp: esp0, topology: 'nat', behaviour: 'delete-by-charon' }));
  // Certificates (RFC 7296 §3.6/§3.8 with RFC 7427 signatures): RSA identified by DN, ECDSA P-256 by FQDN;
  // IKE fragmentation (RFC 7383) on a 1320-byte link that drops IP fragments, where IKE_AUTH with an RSA-3072 chain is larger.
  // charon as initiator only sends its certificate when asked (CERTREQ) unless send_cert = always: both are listed.
  for (const initiator of SIDES) {
    for (const always of initiator === 'charon' ? [true, false] : [false]) {
      const c = always ? { charonSendCertAlways: true } : {};
      for (const auth of ['rsa', 'ecdsa'] as const) out.push(make({ ...base, ...c, auth, initiator, ike: IKE_PROPOSALS[1], esp: esp0 }));
      out.push(make({ ...base, ...c, auth: 'rsa', initiator, ike: ike0, esp: esp0, topology: 'small-mtu' }));
      out.push(make({ ...base, ...c, auth: 'ecdsa', initiator, ike: ike0, esp: esp0, behaviour: 'rekey-ike-by-charon' }));
    }
  }
  // IKEv1: Main and Aggressive Mode PSK, both roles; Quick Mode PFS.
  const v1 = { ikeVersion: 1 as const, auth: 'psk' as const, pfs: null, topology: 'direct' as const, behaviour: 'establish' as const };
  for (const initiator of SIDES) {
    for (const v1Mode of ['main', 'aggressive'] as const) {
      for (const ike of IKEV1_PROPOSALS) out.push(make({ ...v1, v1Mode, initiator, ike, esp: ESP_V1_PROPOSALS[0] }));
    }
    out.push(make({ ...v1, v1Mode: 'main', initiator, ike: IKEV1_PROPOSALS[0], esp: ESP_V1_PROPOSALS[1] }));
    for (const pfs of PFS_GROUPS) out.push(make({ ...v1, v1Mode: 'main', initiator, ike: IKEV1_PROPOSALS[0], esp: ESP_V1_PROPOSALS[0], pfs }));
    for (const by of SIDES) out.push(make({ ...v1, v1Mode: 'main', initiator, ike: IKEV1_PROPOSALS[0], esp: ESP_V1_PROPOSALS[0], behaviour: `delete-by-${by}` }));
    // Quick Mode rekey: racoon rekeys phase 2 only as its initiator (responders do not rekey).
    const rekeyers = initiator === 'tanuki' ? SIDES : (['charon'] as const);
    for (const by of rekeyers) out.push(make({ ...v1, v1Mode: 'main', initiator, ike: IKEV1_PROPOSALS[0], esp: ESP_V1_PROPOSALS[0], behaviour: `rekey-child-by-${by}` }));
    out.push(make({ ...v1, v1Mode: 'main', initiator, ike: IKEV1_PROPOSALS[0], esp: ESP_V1_PROPOSALS[0], pfs: PFS_GROUPS[0], behaviour: 'rekey-child-by-charon' }));
    // RFC 3706 DPD in both directions (racoon's dpd_delay / dpd_retry / dpd_maxfail; charon's dpd_delay / dpd_timeout).
    for (const behaviour of ['dpd-charon-detects', 'dpd-tanuki-detects'] as const) out.push(make({ ...v1, v1Mode: 'main', initiator, ike: IKEV1_PROPOSALS[0], esp: ESP_V1_PROPOSALS[0], behaviour }));
  }
  return [...out.filter((s) => s.set === 'ci'), ...out.filter((s) => s.set === 'experimental')];
}

/** `filter` is a substring or a `/regex/`; every word must match (AND). */
export function selectScenarios(all: readonly Scenario[], filter: string | undefined): Scenario[] {
  if (!filter) return [...all];
  const words = filter.split(/\s+/).filter((w) => w.length > 0);
  return all.filter((s) =>
    words.every((w) => (w.length > 2 && w.startsWith('/') && w.endsWith('/') ? new RegExp(w.slice(1, -1)).test(s.name) : s.name.includes(w))),
  );
}

/** Addresses used inside the namespaces (each run has its own namespaces, so concurrent labs never clash). */
export const NET = {
  charonAddr: '10.99.0.1',
  tanukiAddr: '10.99.0.2',
  prefix: 30,
  charonNet: '10.1.0.0/24',
  charonHost: '10.1.0.1',
  tanukiNet: '10.2.0.0/24',
  tanukiHost: '10.2.0.1',
  charonId: 'charon.interop.test',
  tanukiId: 'tanuki.interop.test',
  psk: 'tanuki-interop-shared-secret',
} as const;

/** tanuki's address after the move of the `mobike` scenario. */
export const MOBIKE_NEW_ADDR = '10.99.1.2';

/** Behind the NAT: tanuki's private network and the router's two sides. */
export const NAT_NET = {
  routerOutside: '10.99.0.2',
  routerInside: '192.168.99.1',
  tanukiInside: '192.168.99.2',
  insidePrefix: 24,
} as const;

/** Link MTU of the `small-mtu` topology: IKE fragments of 1280 octets (tanuki's and charon's default) still fit. */
export const SMALL_MTU = 1320;

/** Where tanuki's IKE endpoint is, and how charon sees it. */
export interface Endpoints {
  readonly charon: string;
  /** tanuki's own address (its listen address and SA endpoint). */
  readonly tanuki: string;
  /** the address charon's packets come from / go to (the NAT's outside address behind a NAT). */
  readonly tanukiSeenAs: string;
}

export function endpoints(s: Pick<Scenario, 'topology'>): Endpoints {
  return s.topology === 'nat'
    ? { charon: NET.charonAddr, tanuki: NAT_NET.tanukiInside, tanukiSeenAs: NAT_NET.routerOutside }
    : { charon: NET.charonAddr, tanuki: NET.tanukiAddr, tanukiSeenAs: NET.tanukiAddr };
}

/** Lifetimes short enough that tanuki itself rekeys (racoon: soft at 80 % of the hard lifetime). */
export const TANUKI_REKEY_LIFETIME_S = 10;
/** charon's liveness check interval in DPD scenarios (and its quick retransmissions there). */
export const DPD_DELAY_S = 1;

function charonAuth(s: Scenario, pki: Pki | null): { local: string; remote: string; secret: string } {
  if (s.auth === 'psk' || !pki) {
    return {
      local: `      auth = psk\n      id = ${NET.charonId}\n`,
      remote: `      auth = psk\n      id = ${NET.tanukiId}\n`,
      secret: `  ike-1 {\n    id-a = ${NET.charonId}\n    id-b = ${NET.tanukiId}\n    secret = "${NET.psk}"\n  }\n`,
    };
  }
  const rsa = s.auth === 'rsa';
  return {
    local: `      auth = pubkey\n      certs = ${pki.charon.cert}\n      id = "${rsa ? pki.charon.dn : NET.charonId}"\n`,
    remote: `      auth = pubkey\n      cacerts = ${pki.ca}\n      id = "${rsa ? pki.tanuki.dn : NET.tanukiId}"\n`,
    // The key itself is loaded from private/ next to swanctl.conf (installCharonCredentials); secrets only hold passphrases.
    secret: '',
  };
}

export function swanctlConf(s: Scenario, pki: Pki | null = null): string {
  const ep = endpoints(s);
  const auth = charonAuth(s, pki);
  const esp = s.pfs ? `${s.esp.strongswan}-${s.pfs.strongswan}` : s.esp.strongswan;
  // IKEv1 (RFC 3706): charon gives up after dpd_timeout; IKEv2: after its retransmissions of the INFORMATIONAL.
  const dpd = s.behaviour === 'dpd-charon-detects' ? `    dpd_delay = ${DPD_DELAY_S}s\n${s.ikeVersion === 1 ? '    dpd_timeout = 4s\n' : ''}` : '';
  return `connections {
  interop {
    version = ${s.ikeVersion}
    local_addrs = ${ep.charon}
    remote_addrs = ${s.topology === 'nat' || s.behaviour === 'mobike' ? '%any' : ep.tanukiSeenAs}
    proposals = ${s.ike.strongswan}
    mobike = ${s.behaviour === 'mobike' ? 'yes' : 'no'}
${s.ikeVersion === 1 && s.v1Mode === 'aggressive' ? '    aggressive = yes\n' : ''}${dpd}${s.charonSendCertAlways ? '    send_cert = always\n' : ''}    fragmentation = yes
    local {
${auth.local}    }
    remote {
${auth.remote}    }
    children {
      c1 {
        local_ts = ${NET.charonNet}
        remote_ts = ${NET.tanukiNet}
        esp_proposals = ${esp}
        mode = ${s.mode}
        dpd_action = clear
      }
    }
  }
}
secrets {
${auth.secret}}
`;
}

export function racoonConf(s: Scenario, dir: string, sockDir: string = dir, pki: Pki | null = null): string {
  const ep = endpoints(s);
  const cert = s.auth !== 'psk' && pki !== null;
  const rsa = s.auth === 'rsa';
  const ids = !cert
    ? `  my_identifier fqdn "${NET.tanukiId}";\n  peers_identifier fqdn "${NET.charonId}";\n`
    : rsa
      ? `  my_identifier asn1dn;\n  peers_identifier asn1dn "${pki.charon.dn}";\n  certificate_type x509 "tanuki.pem" "tanuki.key";\n  ca_type x509 "ca.pem";\n`
      : `  my_identifier fqdn "${NET.tanukiId}";\n  peers_identifier fqdn "${NET.charonId}";\n  certificate_type x509 "tanuki.pem" "tanuki.key";\n  ca_type x509 "ca.pem";\n`;
  const method = !cert ? 'pre_shared_key' : rsa ? 'rsasig' : 'ecdsa_sig';
  const ikeLifetime = s.behaviour === 'rekey-ike-by-tanuki' ? `${TANUKI_REKEY_LIFETIME_S} sec` : '1 hour';
  const childLifetime = s.behaviour === 'rekey-child-by-tanuki' ? `${TANUKI_REKEY_LIFETIME_S} sec` : '30 min';
  const v1 = s.ikeVersion === 1;
  return `path pre_shared_key "${dir}/psk.txt";
${cert ? `path certificate "${pki.dir}";\n` : ''}listen {
  isakmp ${ep.tanuki} [500];
  isakmp_natt ${ep.tanuki} [4500];
  adminsock "${sockDir}/racoon.sock";
}
remote "charon" {
  remote_address ${ep.charon};
${v1 ? `  exchange_mode ${s.v1Mode ?? 'main'};\n  nat_traversal on;\n  proposal_check obey;\n` : '  ike_version 2;\n'}${s.behaviour === 'mobike' ? '  mobike on;\n' : ''}${ids}  lifetime time ${ikeLifetime};
${s.topology === 'small-mtu' ? '  ike_frag on;\n' : ''}
${s.behaviour === 'dpd-tanuki-detects' ? `  dpd_delay ${DPD_DELAY_S};\n${v1 ? '  dpd_retry 1;\n  dpd_maxfail 3;\n' : ''}` : ''}${
    // racoon sends the RFC 3706 vendor ID (so that charon probes it) only with DPD configured.
    v1 && s.behaviour === 'dpd-charon-detects' ? '  dpd_delay 60;\n' : ''
  }  proposal {
    encryption_algorithm ${s.ike.racoon.encryption};
    hash_algorithm ${s.ike.racoon.hash};
    authentication_method ${method};
    dh_group ${s.ike.racoon.dhGroup};
  }
}
sainfo anonymous {
  lifetime time ${childLifetime};
${s.pfs ? `  pfs_group ${s.pfs.racoon};\n` : ''}  encryption_algorithm ${s.esp.racoon.encryption};
  authentication_algorithm ${s.esp.racoon.authentication};
  compression_algorithm deflate;
}
`;
}

export function pskTxt(): string {
  return `${NET.charonId}\t${NET.psk}\n`;
}

/** The tunnel policies tanuki's CHILD_SA traffic selectors come from (setkey -c syntax). */
export function setkeyPolicies(s: Scenario): string {
  const ep = endpoints(s);
  const mode = s.mode;
  return (
    `spdadd ${NET.tanukiNet} ${NET.charonNet} any -P out ipsec esp/${mode}/${ep.tanuki}-${ep.charon}/require;\n` +
    `spdadd ${NET.charonNet} ${NET.tanukiNet} any -P in ipsec esp/${mode}/${ep.charon}-${ep.tanuki}/require;\n`
  );
}

export const STRONGSWAN_LOAD =
  'random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 aes sha1 sha2 hmac kdf gmp xcbc cmac ctr ccm gcm chapoly kernel-libipsec kernel-netlink socket-default vici';

export function strongswanConf(s: Pick<Scenario, 'behaviour' | 'ikeVersion' | 'v1Mode'>, dir: string, sockDir: string = dir): string {
  // DPD scenarios: quick retransmissions so charon gives up on a dead peer within seconds.
  const quick = s.behaviour === 'dpd-charon-detects';
  // strongSwan refuses Aggressive Mode with PSK unless told otherwise (docs/ikev1.md says why it is weak).
  const aggressive = s.ikeVersion === 1 && s.v1Mode === 'aggressive' ? '  i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n' : '';
  // IKEv1: without it charon keeps a rekeyed CHILD_SA (and tanuki its SAs) until the old one expires.
  const deleteRekeyed = s.ikeVersion === 1 ? '  delete_rekeyed = yes\n' : '';
  return `charon {
  load = ${STRONGSWAN_LOAD}
${aggressive}${deleteRekeyed}
  port = 500
  port_nat_t = 4500
  install_routes = yes
  retransmit_tries = ${quick ? 2 : 3}
  retransmit_timeout = ${quick ? '0.5' : '2.0'}
  retransmit_base = ${quick ? '1.2' : '1.8'}
  filelog {
    interop {
      path = ${dir}/charon.log
      time_format = %H:%M:%S
      default = 1
      ike = 2
      cfg = 2
      knl = 2
      chd = 2
      flush_line = yes
    }
  }
  plugins {
    vici {
      socket = unix://${sockDir}/charon.vici
    }
  }
}
`;
}
