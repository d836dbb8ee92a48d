/**
 * ISAKMP / IKEv1 numbers (RFC 2408 §3, RFC 2407 §4, RFC 2409 App. A,
 * RFC 3947, RFC 3706), each given once, keyed by the IANA value.
 */

/** RFC 2408 §3.1: the fixed ISAKMP header is 28 octets, the generic payload header 4. */
export const ISAKMP_HEADER_BYTES = 28;
export const GENERIC_PAYLOAD_HEADER_BYTES = 4;
/** RFC 2408 §3.1: Major Version 1, Minor Version 0. */
export const ISAKMP_MAJOR_VERSION = 1;
export const ISAKMP_MINOR_VERSION = 0;
/** RFC 2407 §2: the IPsec DOI. */
export const IPSEC_DOI = 1;
/** RFC 2407 §4.2: SIT_IDENTITY_ONLY. */
export const SIT_IDENTITY_ONLY = 1;

/** RFC 2408 §3.1 Next Payload types, RFC 3947 §3.2/§5.2 (20/21), draft-ietf-ipsec-nat-t-ike-02 (130/131). */
export enum PayloadType {
  NONE = 0,
  SA = 1,
  P = 2,
  T = 3,
  KE = 4,
  ID = 5,
  CERT = 6,
  CR = 7,
  HASH = 8,
  SIG = 9,
  NONCE = 10,
  N = 11,
  D = 12,
  VID = 13,
  /** draft-ietf-ipsec-isakmp-mode-cfg-05 §3.2 attribute payload */
  ATTR = 14,
  NAT_D = 20,
  NAT_OA = 21,
  NAT_D_DRAFT = 130,
  NAT_OA_DRAFT = 131,
}

/** RFC 2408 §3.1 / RFC 2409 exchange types. */
export enum ExchangeType {
  BASE = 1,
  /** Main Mode */
  IDENTITY_PROTECTION = 2,
  AUTHENTICATION_ONLY = 3,
  /** Aggressive Mode */
  AGGRESSIVE = 4,
  INFORMATIONAL = 5,
  /** Mode-Config (draft-ietf-ipsec-isakmp-mode-cfg) */
  TRANSACTION = 6,
  QUICK = 32,
  NEW_GROUP = 33,
}

/** RFC 2408 §3.1 header flags. */
export enum HeaderFlag {
  ENCRYPTION = 0x01,
  COMMIT = 0x02,
  AUTHENTICATION_ONLY = 0x04,
}

/** RFC 2408 §3.4 / RFC 2407 §4.4.1 protocol ids. */
export enum ProtocolId {
  ISAKMP = 1,
  IPSEC_AH = 2,
  IPSEC_ESP = 3,
  IPCOMP = 4,
}

/** RFC 2407 §4.4.1: the only ISAKMP transform id. */
export const KEY_IKE = 1;

/** RFC 2407 §4.6.2.1 identification types. */
export enum IdType {
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

/** RFC 2409 App. A phase-1 attribute classes. */
export enum Ph1Attr {
  ENCRYPTION_ALGORITHM = 1,
  HASH_ALGORITHM = 2,
  AUTHENTICATION_METHOD = 3,
  GROUP_DESCRIPTION = 4,
  GROUP_TYPE = 5,
  LIFE_TYPE = 11,
  LIFE_DURATION = 12,
  PRF = 13,
  KEY_LENGTH = 14,
}

/** RFC 2409 App. A authentication methods (+ XAUTH, draft-ietf-ipsec-isakmp-xauth-06). */
export enum AuthMethod {
  PRE_SHARED_KEY = 1,
  DSS_SIGNATURES = 2,
  RSA_SIGNATURES = 3,
  RSA_ENCRYPTION = 4,
  RSA_REVISED_ENCRYPTION = 5,
  XAUTH_INIT_PSK = 65001,
  XAUTH_RESP_PSK = 65002,
  XAUTH_INIT_RSA = 65005,
  XAUTH_RESP_RSA = 65006,
}

/** RFC 2409 App. A / RFC 2407 §4.5 life types. */
export enum LifeType {
  SECONDS = 1,
  KILOBYTES = 2,
}

/** RFC 2407 §4.5 phase-2 SA attribute classes (+ ESN, RFC 4304 §2). */
export enum Ph2Attr {
  SA_LIFE_TYPE = 1,
  SA_LIFE_DURATION = 2,
  GROUP_DESCRIPTION = 3,
  ENCAPSULATION_MODE = 4,
  AUTHENTICATION_ALGORITHM = 5,
  KEY_LENGTH = 6,
  KEY_ROUNDS = 7,
  EXTENDED_SEQUENCE_NUMBER = 11,
}

/** RFC 2407 §4.5 encapsulation modes, RFC 3947 §5.1 UDP modes and their draft values. */
export enum EncapsulationMode {
  TUNNEL = 1,
  TRANSPORT = 2,
  UDP_TUNNEL = 3,
  UDP_TRANSPORT = 4,
  UDP_TUNNEL_DRAFT = 61443,
  UDP_TRANSPORT_DRAFT = 61444,
}

/** RFC 2408 §3.14.1 notify message types, RFC 2407 §4.6.3, RFC 3706 §5. */
export enum NotifyType {
  INVALID_PAYLOAD_TYPE = 1,
  DOI_NOT_SUPPORTED = 2,
  SITUATION_NOT_SUPPORTED = 3,
  INVALID_COOKIE = 4,
  INVALID_MAJOR_VERSION = 5,
  INVALID_MINOR_VERSION = 6,
  INVALID_EXCHANGE_TYPE = 7,
  INVALID_FLAGS = 8,
  INVALID_MESSAGE_ID = 9,
  INVALID_PROTOCOL_ID = 10,
  INVALID_SPI = 11,
  INVALID_TRANSFORM_ID = 12,
  ATTRIBUTES_NOT_SUPPORTED = 13,
  NO_PROPOSAL_CHOSEN = 14,
  BAD_PROPOSAL_SYNTAX = 15,
  PAYLOAD_MALFORMED = 16,
  INVALID_KEY_INFORMATION = 17,
  INVALID_ID_INFORMATION = 18,
  INVALID_CERT_ENCODING = 19,
  INVALID_CERTIFICATE = 20,
  CERT_TYPE_UNSUPPORTED = 21,
  INVALID_CERT_AUTHORITY = 22,
  INVALID_HASH_INFORMATION = 23,
  AUTHENTICATION_FAILED = 24,
  INVALID_SIGNATURE = 25,
  ADDRESS_NOTIFICATION = 26,
  NOTIFY_SA_LIFETIME = 27,
  CERTIFICATE_UNAVAILABLE = 28,
  UNSUPPORTED_EXCHANGE_TYPE = 29,
  UNEQUAL_PAYLOAD_LENGTHS = 30,
  CONNECTED = 16384,
  RESPONDER_LIFETIME = 24576,
  REPLAY_STATUS = 24577,
  INITIAL_CONTACT = 24578,
  R_U_THERE = 36136,
  R_U_THERE_ACK = 36137,
}

/** Vendor IDs (MD5 of the text) that racoon and strongSwan send. */
export const VENDOR_ID = {
  /** RFC 3947 "RFC 3947" */
  NATT_RFC3947: Buffer.from('4a131c81070358455c5728f20e95452f', 'hex'),
  /** draft-ietf-ipsec-nat-t-ike-02\n */
  NATT_DRAFT_02N: Buffer.from('90cb80913ebb696e086381b5ec427b1f', 'hex'),
  /** draft-ietf-ipsec-nat-t-ike-02 */
  NATT_DRAFT_02: Buffer.from('cd60464335df21f87cfdb2fc68b6a448', 'hex'),
  /** draft-ietf-ipsec-nat-t-ike-03 */
  NATT_DRAFT_03: Buffer.from('7d9419a65310ca6f2c179d9215529d56', 'hex'),
  /** RFC 3706 DPD */
  DPD: Buffer.from('afcad71368a1f1c96b8696fc77570100', 'hex'),
} as const;

export function formatCookie(c: bigint): string {
  return c.toString(16).padStart(16, '0');
}
