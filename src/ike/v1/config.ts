/**
 * Ikev1PeerConfig: what the IKEv1 engine needs about one peer — racoon's
 * `remote` block plus the `sainfo` blocks that apply to it — as typed data,
 * independent of the racoon.conf parser (the daemon builds it, as it does
 * Ikev2PeerConfig for IKEv2). Algorithm numbers are the IKEv1 ones: phase-1
 * attribute values (RFC 2409 App. A) and IPsec DOI numbers (RFC 2407 §4.4.4,
 * §4.5) for phase 2.
 */
import { isIP } from 'node:net';
import { AuthMethod, IdType } from './constants';
import type { IkeFragMode } from './frag';

/** racoon `proposal_check` (racoon.conf(5)): how a responder treats the initiator's lifetime and PFS group. */
export type ProposalCheck = 'obey' | 'strict' | 'claim' | 'exact';

/** One racoon `proposal { }` in a remote block. */
export interface Ph1ProposalConfig {
  /** RFC 2409 App. A encryption algorithm (1 DES, 5 3DES, 7 AES-CBC) */
  encr: number;
  /** Key Length attribute in bits (required for AES) */
  keyBits?: number;
  /** RFC 2409 App. A hash algorithm (1 MD5, 2 SHA, 4 SHA2-256, 5 SHA2-384, 6 SHA2-512) */
  hash: number;
  authMethod: AuthMethod;
  /** Group Description (1, 2, 5, 14-18, 19-21) */
  dhGroup: number;
  lifetimeSeconds: number;
}

export interface Ikev1Identity {
  type: IdType.IPV4_ADDR | IdType.IPV6_ADDR | IdType.FQDN | IdType.USER_FQDN | IdType.KEY_ID | IdType.DER_ASN1_DN;
  /** an address literal, FQDN / user@FQDN text, or hex for KEY_ID and DER_ASN1_DN */
  value: string;
}

/** A Quick Mode ID (RFC 2407 §4.6.2): an address or subnet with upper-layer protocol and port. */
export interface SelectorConfig {
  address: string;
  prefixlen: number;
  /** IP protocol, 0 = any (racoon's `any`) */
  protocol: number;
  /** 0 = any */
  port: number;
}

/** racoon `sainfo`: the phase-2 policy for one pair of selectors. */
export interface SainfoConfig {
  /** RFC 4304: propose / accept Extended Sequence Numbers (Quick Mode attribute 11); default off as racoon */
  esn?: boolean;
  name: string;
  local: SelectorConfig;
  remote: SelectorConfig;
  /** ESP transform ids (RFC 2407 §4.4.4: 2 DES, 3 3DES, 12 AES-CBC) with key length */
  encr: { id: number; keyBits?: number }[];
  /** Authentication Algorithm attribute values (RFC 2407 §4.5: 1 HMAC-MD5, 2 HMAC-SHA, 5 HMAC-SHA2-256 ...) */
  auth: number[];
  /** `pfs_group`, null = no PFS */
  pfsGroup: number | null;
  lifetimeSeconds: number;
  lifetimeKilobytes?: number;
  mode: 'tunnel' | 'transport';
  /** SA2 reqid of the outbound SA (racoon reqid_out, the outbound policy's); the engine allocates one when absent */
  reqid?: number;
  /** SA2 reqid of the inbound SA (racoon reqid_in, the inbound policy's); `reqid` when absent */
  inboundReqid?: number;
}

/**
 * XAUTH, Mode-Config and IKE fragmentation for one peer (src/ike/v1/xauth.ts,
 * modecfg.ts, frag.ts). The XAUTH role follows the configured
 * authentication_method (xauth_psk_client / xauth_psk_server).
 */
export interface Ikev1PeerExtConfig {
  /** racoon `xauth_login "name";` (client) */
  xauthLogin?: string;
  /** the client's XAUTH password: psk.txt entry keyed by the login (racoon getpskbyname) */
  xauthPassword?: Buffer;
  /** racoon `mode_cfg on;` (client: pull the configuration after XAUTH) */
  modeCfg?: boolean;
  /** racoon `ike_frag on|off|force;` (default off) */
  ikeFrag?: IkeFragMode;
}

/**
 * RSA-signature authentication of a remote (racoon `certificate_type x509`,
 * `ca_type x509`, `peers_certfile x509`, `verify_cert`, `send_cert`, `send_cr`;
 * loaded by src/daemon/certs.ts). Used when the chosen phase-1 transform's
 * authentication method is RSA signatures (3, or the XAUTH RSA variants).
 */
export interface Ikev1CertConfig {
  /** our certificate (DER) first, then intermediates, sent as CERT payloads when `sendCert` */
  certificates: Buffer[];
  privateKeyPem: string;
  /** trust anchors (DER CA certificates) the peer's chain must end in */
  cas: Buffer[];
  /** `peers_certfile x509`: the only certificate accepted from the peer */
  peerCertificate: Buffer | null;
  verifyCert: boolean;
  sendCert: boolean;
  sendCr: boolean;
}

export interface Ikev1PeerConfig extends Ikev1PeerExtConfig {
  name: string;
  local: { address: string; port: number; id: Ikev1Identity };
  /** `address: 'anonymous'` matches any peer (racoon `remote anonymous`), responder only */
  remote: { address: string; port: number; id: Ikev1Identity | null };
  /** racoon `exchange_mode`, in order of preference; the first is used as initiator */
  exchangeModes: ('main' | 'aggressive')[];
  /** accept Aggressive Mode as responder (racoon allows it only when listed in exchange_mode) */
  psk: Buffer;
  /** certificates and key for RSA-signature phase 1 (absent: pre-shared keys only) */
  cert?: Ikev1CertConfig;
  ph1Proposals: Ph1ProposalConfig[];
  proposalCheck: ProposalCheck;
  sainfos: SainfoConfig[];
  /** racoon `nat_traversal on`: send the RFC 3947 / draft vendor IDs and NAT-D */
  natTraversal: boolean;
  /** racoon `dpd_delay` (seconds, 0 = off), `dpd_retry`, `dpd_maxfail` */
  dpdDelaySeconds: number;
  dpdRetrySeconds: number;
  dpdMaxFail: number;
  /** racoon `initial_contact on` (the default) */
  initialContact: boolean;
  /**
   * racoon `rekey on|off|force`: renegotiate an expired phase 1 while phase 2s remain —
   * `on` (the default) only when DPD is in use with the peer, `force` always
   */
  ph1Rekey?: 'off' | 'on' | 'force';
  /** racoon `passive on`: never initiate */
  passive: boolean;
  /** racoon `retry { counter 5; interval 10 sec; }` */
  retry: { counter: number; intervalSeconds: number };
}

/** racoon's defaults (racoon.conf(5)). */
export const RACOON_DEFAULTS = {
  retry: { counter: 5, intervalSeconds: 10 },
  dpdRetrySeconds: 5,
  dpdMaxFail: 5,
  proposalCheck: 'strict' as ProposalCheck,
} as const;

export interface ConfigProblem {
  field: string;
  message: string;
}

export function validatePeerConfig(c: Ikev1PeerConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const p = (field: string, message: string) => out.push({ field: `${c.name}.${field}`, message });
  if (!isIP(c.local.address)) p('local.address', `"${c.local.address}" is not an IP address`);
  if (c.remote.address !== 'anonymous' && !isIP(c.remote.address)) p('remote.address', `"${c.remote.address}" is not an IP address or anonymous`);
  if (c.psk.length === 0 && !c.cert) p('psk', 'empty pre-shared key');
  if (c.ph1Proposals.length === 0) p('ph1Proposals', 'no phase-1 proposal');
  if (c.exchangeModes.length === 0) p('exchangeModes', 'no exchange_mode');
  c.sainfos.forEach((s, i) => {
    if (s.encr.length === 0 || s.auth.length === 0) p(`sainfos[${i}]`, 'encryption_algorithm and authentication_algorithm are required');
    for (const sel of [s.local, s.remote]) if (!isIP(sel.address)) p(`sainfos[${i}]`, `"${sel.address}" is not an IP address`);
  });
  return out;
}

export type LifetimeDecision = { ok: true; seconds: number; responderLifetime: boolean } | { ok: false; reason: string };

/**
 * racoon proposal.c cmpsatrns/proposal_check for a lifetime offered by the
 * initiator against ours:
 *  obey   — take the initiator's;
 *  strict — accept a shorter or equal one, reject a longer one;
 *  claim  — a longer one is cut to ours and we send RESPONDER-LIFETIME;
 *  exact  — only an equal one.
 */
export function checkLifetime(mode: ProposalCheck, offered: number, ours: number): LifetimeDecision {
  switch (mode) {
    case 'obey':
      return { ok: true, seconds: offered, responderLifetime: false };
    case 'strict':
      return offered <= ours ? { ok: true, seconds: offered, responderLifetime: false } : { ok: false, reason: `long lifetime proposed: my:${ours} peer:${offered}` };
    case 'claim':
      return offered <= ours ? { ok: true, seconds: offered, responderLifetime: false } : { ok: true, seconds: ours, responderLifetime: true };
    case 'exact':
      return offered === ours ? { ok: true, seconds: offered, responderLifetime: false } : { ok: false, reason: `lifetime mismatched: my:${ours} peer:${offered}` };
  }
}
