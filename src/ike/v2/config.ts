/**
 * Ikev2PeerConfig: what the IKEv2 engine needs to know about one peer. The
 * daemon builds it from racoon.conf (`remote { ike_version 2; ... }` + sainfo);
 * this module does not know that parser. Algorithm numbers are IKEv2 transform
 * IDs (RFC 7296 §3.3.2, IANA).
 */
import { isIP } from 'node:net';
import { IdType } from './constants';

/** An ENCR transform with its key length attribute (RFC 7296 §3.3.5), when the algorithm has one. */
export interface EncrChoice {
  id: number;
  keyBits?: number;
}

/** One IKE SA proposal (RFC 7296 §3.3): all combinations of its transforms are acceptable. */
export interface IkeProposalConfig {
  encr: EncrChoice[];
  /** empty for AEAD-only proposals */
  integ: number[];
  prf: number[];
  dh: number[];
}

/** One CHILD_SA (ESP) proposal. `dh` non-empty = PFS groups for CREATE_CHILD_SA. */
export interface ChildProposalConfig {
  encr: EncrChoice[];
  integ: number[];
  dh: number[];
  /** RFC 7296 §3.3.2 ESN transform IDs: 0 = no ESN, 1 = ESN */
  esn: number[];
}

/** A traffic selector range (RFC 7296 §3.13.1) in text form. */
export interface TrafficSelectorConfig {
  /** IP protocol, 0 = any */
  protocol: number;
  startPort: number;
  endPort: number;
  startAddress: string;
  endAddress: string;
}

export interface Ikev2Identity {
  type: IdType;
  /** FQDN / RFC822 text, an address literal for IPV4/IPV6_ADDR, hex for KEY_ID and DER_ASN1_DN */
  value: string;
}

export interface LifetimeConfig {
  /** soft expiry: rekey after this many seconds */
  softSeconds: number;
  /** hard expiry: delete after this many seconds */
  hardSeconds: number;
  softBytes?: bigint;
  hardBytes?: bigint;
}

export interface ChildConfig {
  name: string;
  proposals: ChildProposalConfig[];
  localTs: TrafficSelectorConfig[];
  remoteTs: TrafficSelectorConfig[];
  mode: 'tunnel' | 'transport';
  lifetime: LifetimeConfig;
  /** SA2 reqid of the outbound SA (racoon reqid_out, the outbound policy's); allocated by the engine when absent */
  reqid?: number;
  /** SA2 reqid of the inbound SA (racoon reqid_in, the inbound policy's); `reqid` when absent */
  inboundReqid?: number;
}

/**
 * How each side proves its identity (racoon `authentication_method`): a
 * pre-shared key, or RFC 7427 signatures with X.509 certificates.
 */
export type AuthConfig =
  | { method: 'psk'; psk: Buffer }
  | {
      method: 'pubkey';
      /** our private key (PKCS#8 / PKCS#1 / SEC1 PEM) */
      privateKeyPem: string;
      /** DER certificates: ours first, then intermediates to send */
      certificates: Buffer[];
      /** DER CA certificates the peer's chain must end in */
      trustedCas: Buffer[];
      /** RFC 7427 hash for our signatures (default sha256) */
      hash?: 'sha256' | 'sha384' | 'sha512';
      /**
       * racoon `peers_certfile x509`: the peer's certificate is this one (DER); a CERT the
       * peer sends is ignored, the AUTH is verified with this key, no chain is needed
       */
      peerCertificate?: Buffer;
      /** racoon `verify_cert off`: do not validate the peer's chain nor its ID against the certificate (default true) */
      verifyCert?: boolean;
      /** racoon `send_cert` (default true): send our CERT payloads */
      sendCert?: boolean;
      /** racoon `send_cr` (default true): send CERTREQ for our trusted CAs */
      sendCertReq?: boolean;
    };

export interface Ikev2PeerConfig {
  name: string;
  local: { address: string; port: number; id: Ikev2Identity };
  /** `address: '%any'` accepts any peer address (responder only) */
  remote: { address: string; port: number; id: Ikev2Identity | null };
  auth: AuthConfig;
  ikeProposals: IkeProposalConfig[];
  children: ChildConfig[];
  /** seconds of silence before a liveness check (RFC 7296 §2.4); 0 = off */
  dpdDelaySeconds: number;
  /** racoon dpd_retry: seconds between unanswered liveness checks (default: the normal back-off) */
  dpdRetrySeconds?: number;
  /** racoon dpd_maxfail: liveness checks sent in all before the peer is declared dead */
  dpdMaxFail?: number;
  /** offer RFC 7383 fragmentation */
  fragmentation: boolean;
  /** fragment IKE_AUTH (and later) messages larger than this many octets (RFC 7383 §2.5.1) */
  fragmentSize?: number;
  /** RFC 3948 §2.3 NAT-keepalive interval while we are behind a NAT (default 20 s, 0 = off) */
  natKeepaliveSeconds?: number;
  /** pretend to be behind a NAT so that ESP is UDP-encapsulated (strongSwan `encap = yes`) */
  forceEncap?: boolean;
  /** send INITIAL_CONTACT in IKE_AUTH when no other IKE SA with this peer exists (RFC 7296 §2.4) */
  initialContact?: boolean;
  ikeLifetime?: LifetimeConfig;
  /**
   * racoon `generate_policy on`: as responder, install in/out/fwd policies for
   * the narrowed traffic selectors and remove them with the CHILD_SA
   */
  generatePolicy?: boolean;
  /** RFC 4555 MOBIKE (racoon.conf `mobike on`): offer MOBIKE_SUPPORTED in IKE_AUTH */
  mobike?: boolean;
}

export interface ConfigProblem {
  field: string;
  message: string;
}

/** Check a peer config; returns every problem found (empty = valid). */
export function validatePeerConfig(c: Ikev2PeerConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const p = (field: string, message: string) => out.push({ field: `${c.name}.${field}`, message });
  if (!isIP(c.local.address)) p('local.address', `"${c.local.address}" is not an IP address`);
  if (c.remote.address !== '%any' && !isIP(c.remote.address)) p('remote.address', `"${c.remote.address}" is not an IP address or %any`);
  for (const [f, port] of [['local.port', c.local.port], ['remote.port', c.remote.port]] as const)
    if (!Number.isInteger(port) || port < 1 || port > 65535) p(f, `port ${port} out of range`);
  if (c.auth.method === 'psk' && c.auth.psk.length === 0) p('auth.psk', 'empty pre-shared key');
  if (c.auth.method === 'pubkey') {
    if (c.auth.certificates.length === 0) p('auth.certificates', 'no certificate of our own');
    if (c.auth.trustedCas.length === 0 && !c.auth.peerCertificate && c.auth.verifyCert !== false)
      p('auth.trustedCas', 'no trusted CA (nor pinned peer certificate) to check the peer against');
  }
  if (c.ikeProposals.length === 0) p('ikeProposals', 'no IKE proposal');
  c.ikeProposals.forEach((ip, i) => {
    if (ip.encr.length === 0) p(`ikeProposals[${i}].encr`, 'no encryption algorithm');
    if (ip.prf.length === 0) p(`ikeProposals[${i}].prf`, 'no PRF');
    if (ip.dh.length === 0) p(`ikeProposals[${i}].dh`, 'no DH group');
  });
  c.children.forEach((ch, i) => {
    if (ch.proposals.length === 0) p(`children[${i}].proposals`, 'no ESP proposal');
    if (ch.localTs.length === 0 || ch.remoteTs.length === 0) p(`children[${i}]`, 'local and remote traffic selectors are required');
    if (ch.lifetime.softSeconds > ch.lifetime.hardSeconds) p(`children[${i}].lifetime`, 'soft lifetime exceeds hard lifetime');
    for (const ts of [...ch.localTs, ...ch.remoteTs]) {
      if (!isIP(ts.startAddress) || isIP(ts.startAddress) !== isIP(ts.endAddress))
        p(`children[${i}].ts`, `bad address range ${ts.startAddress}-${ts.endAddress}`);
      if (ts.startPort > ts.endPort) p(`children[${i}].ts`, `port range ${ts.startPort}-${ts.endPort} is empty`);
    }
  });
  return out;
}

/** Helper: a TS for a whole prefix, any protocol and port. */
export function tsFromCidr(cidr: string, protocol = 0): TrafficSelectorConfig {
  const [addr, lenText] = cidr.split('/');
  const v6 = isIP(addr) === 6;
  const bits = v6 ? 128 : 32;
  const len = lenText === undefined ? bits : Number(lenText);
  const bytes = ipToBigint(addr);
  const host = (1n << BigInt(bits - len)) - 1n;
  const start = bytes & ~host;
  const end = start | host;
  return { protocol, startPort: 0, endPort: 65535, startAddress: bigintToIp(start, v6), endAddress: bigintToIp(end, v6) };
}

function ipToBigint(addr: string): bigint {
  if (isIP(addr) === 4) return addr.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
  const [l, r] = addr.includes('::') ? addr.split('::') : [addr, ''];
  const lp = l ? l.split(':') : [];
  const rp = r ? r.split(':') : [];
  const groups = [...lp, ...Array<string>(8 - lp.length - rp.length).fill('0'), ...rp];
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}
function bigintToIp(v: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 255n)).join('.');
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  return g.join(':');
}
