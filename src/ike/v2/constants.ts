/**
 * IKEv2 numbers from the IANA "Internet Key Exchange Version 2 (IKEv2)
 * Parameters" registry (RFC 7296 §3 and the RFCs that added entries).
 * Every IKEv2 wire number appears here once.
 */

/** RFC 7296 §3.1: the IKE header is 28 octets; major version 2. */
export const IKE_HEADER_BYTES = 28;
export const IKEV2_MAJOR_VERSION = 2;
export const IKEV2_MINOR_VERSION = 0;
/** RFC 7296 §3.2: generic payload header. */
export const GENERIC_PAYLOAD_HEADER_BYTES = 4;

/** RFC 7296 §3.1 Exchange Type; 43 is RFC 9242 IKE_INTERMEDIATE. */
export enum ExchangeType {
  IKE_SA_INIT = 34,
  IKE_AUTH = 35,
  CREATE_CHILD_SA = 36,
  INFORMATIONAL = 37,
  IKE_SESSION_RESUME = 38,
  IKE_INTERMEDIATE = 43,
}

/** RFC 7296 §3.1 header flags. */
export enum HeaderFlag {
  INITIATOR = 0x08,
  VERSION = 0x10,
  RESPONSE = 0x20,
}

/** RFC 7296 §3.2 Next Payload values; 53 is RFC 7383 SKF. */
export enum PayloadType {
  NONE = 0,
  SA = 33,
  KE = 34,
  IDi = 35,
  IDr = 36,
  CERT = 37,
  CERTREQ = 38,
  AUTH = 39,
  NONCE = 40,
  NOTIFY = 41,
  DELETE = 42,
  VENDOR_ID = 43,
  TSi = 44,
  TSr = 45,
  SK = 46,
  CP = 47,
  EAP = 48,
  SKF = 53,
}

/** RFC 7296 §3.3.1 Protocol ID. */
export enum ProtocolId {
  NONE = 0,
  IKE = 1,
  AH = 2,
  ESP = 3,
}

/** RFC 7296 §3.3.2 Transform Type. */
export enum TransformType {
  ENCR = 1,
  PRF = 2,
  INTEG = 3,
  DH = 4,
  ESN = 5,
}

/** RFC 7296 §3.3.5 Transform Attribute Types. */
export enum TransformAttributeType {
  KEY_LENGTH = 14,
}

/** RFC 7296 §3.3.2 Extended Sequence Numbers transform IDs. */
export enum EsnId {
  NO_ESN = 0,
  ESN = 1,
}

/** RFC 7296 §3.5 ID Type. */
export enum IdType {
  ID_IPV4_ADDR = 1,
  ID_FQDN = 2,
  ID_RFC822_ADDR = 3,
  ID_IPV6_ADDR = 5,
  ID_DER_ASN1_DN = 9,
  ID_DER_ASN1_GN = 10,
  ID_KEY_ID = 11,
  ID_FC_NAME = 12,
  ID_NULL = 13,
}

/** RFC 7296 §3.6 Certificate Encoding. */
export enum CertEncoding {
  PKCS7_WRAPPED_X509 = 1,
  PGP = 2,
  DNS_SIGNED_KEY = 3,
  X509_SIGNATURE = 4,
  KERBEROS_TOKEN = 6,
  CRL = 7,
  ARL = 8,
  SPKI = 9,
  X509_ATTRIBUTE = 10,
  RAW_RSA_KEY = 11,
  HASH_URL_X509_CERT = 12,
  HASH_URL_X509_BUNDLE = 13,
  OCSP_CONTENT = 14,
  RAW_PUBLIC_KEY = 15,
}

/** RFC 7296 §3.8 Auth Method; 9-11 RFC 4754, 12 RFC 6467, 13 RFC 7619, 14 RFC 7427. */
export enum AuthMethod {
  RSA_DIGITAL_SIGNATURE = 1,
  SHARED_KEY_MIC = 2,
  DSS_DIGITAL_SIGNATURE = 3,
  ECDSA_SHA256_P256 = 9,
  ECDSA_SHA384_P384 = 10,
  ECDSA_SHA512_P521 = 11,
  GENERIC_SECURE_PASSWORD = 12,
  NULL_AUTH = 13,
  DIGITAL_SIGNATURE = 14,
}

/** RFC 7296 §3.13.1 TS Type. */
export enum TsType {
  TS_IPV4_ADDR_RANGE = 7,
  TS_IPV6_ADDR_RANGE = 8,
}

/** RFC 7296 §3.15 CFG Type. */
export enum CfgType {
  CFG_REQUEST = 1,
  CFG_REPLY = 2,
  CFG_SET = 3,
  CFG_ACK = 4,
}

/** RFC 7296 §3.15.1 Configuration Attributes (the common ones). */
export enum CfgAttributeType {
  INTERNAL_IP4_ADDRESS = 1,
  INTERNAL_IP4_NETMASK = 2,
  INTERNAL_IP4_DNS = 3,
  INTERNAL_IP4_NBNS = 4,
  INTERNAL_IP4_DHCP = 6,
  APPLICATION_VERSION = 7,
  INTERNAL_IP6_ADDRESS = 8,
  INTERNAL_IP6_DNS = 10,
  INTERNAL_IP6_DHCP = 12,
  INTERNAL_IP4_SUBNET = 13,
  SUPPORTED_ATTRIBUTES = 14,
  INTERNAL_IP6_SUBNET = 15,
}

/** RFC 7427 §7 Hash Algorithm Identifiers (SIGNATURE_HASH_ALGORITHMS). */
export enum HashAlgorithm {
  SHA1 = 1,
  SHA2_256 = 2,
  SHA2_384 = 3,
  SHA2_512 = 4,
  IDENTITY = 5,
}

/**
 * RFC 7296 §3.10.1 Notify Message Types, keyed by IANA number. Error types are
 * 1..16383, status types 16384..65535 (the IANA registry, RFC 7296 and the
 * RFCs that registered the later entries).
 */
export enum NotifyType {
  // error types
  UNSUPPORTED_CRITICAL_PAYLOAD = 1,
  INVALID_IKE_SPI = 4,
  INVALID_MAJOR_VERSION = 5,
  INVALID_SYNTAX = 7,
  INVALID_MESSAGE_ID = 9,
  INVALID_SPI = 11,
  NO_PROPOSAL_CHOSEN = 14,
  INVALID_KE_PAYLOAD = 17,
  AUTHENTICATION_FAILED = 24,
  SINGLE_PAIR_REQUIRED = 34,
  NO_ADDITIONAL_SAS = 35,
  INTERNAL_ADDRESS_FAILURE = 36,
  FAILED_CP_REQUIRED = 37,
  TS_UNACCEPTABLE = 38,
  INVALID_SELECTORS = 39,
  UNACCEPTABLE_ADDRESSES = 40,
  UNEXPECTED_NAT_DETECTED = 41,
  USE_ASSIGNED_HoA = 42,
  TEMPORARY_FAILURE = 43,
  CHILD_SA_NOT_FOUND = 44,
  INVALID_GROUP_ID = 45,
  AUTHORIZATION_FAILED = 46,
  STATE_NOT_FOUND = 47,
  // status types
  INITIAL_CONTACT = 16384,
  SET_WINDOW_SIZE = 16385,
  ADDITIONAL_TS_POSSIBLE = 16386,
  IPCOMP_SUPPORTED = 16387,
  NAT_DETECTION_SOURCE_IP = 16388,
  NAT_DETECTION_DESTINATION_IP = 16389,
  COOKIE = 16390,
  USE_TRANSPORT_MODE = 16391,
  HTTP_CERT_LOOKUP_SUPPORTED = 16392,
  REKEY_SA = 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
  NON_FIRST_FRAGMENTS_ALSO = 16395,
  MOBIKE_SUPPORTED = 16396,
  ADDITIONAL_IP4_ADDRESS = 16397,
  ADDITIONAL_IP6_ADDRESS = 16398,
  NO_ADDITIONAL_ADDRESSES = 16399,
  UPDATE_SA_ADDRESSES = 16400,
  COOKIE2 = 16401,
  NO_NATS_ALLOWED = 16402,
  AUTH_LIFETIME = 16403,
  MULTIPLE_AUTH_SUPPORTED = 16404,
  ANOTHER_AUTH_FOLLOWS = 16405,
  REDIRECT_SUPPORTED = 16406,
  REDIRECT = 16407,
  REDIRECTED_FROM = 16408,
  TICKET_LT_OPAQUE = 16409,
  TICKET_REQUEST = 16410,
  TICKET_ACK = 16411,
  TICKET_NACK = 16412,
  TICKET_OPAQUE = 16413,
  LINK_ID = 16414,
  USE_WESP_MODE = 16415,
  ROHC_SUPPORTED = 16416,
  EAP_ONLY_AUTHENTICATION = 16417,
  CHILDLESS_IKEV2_SUPPORTED = 16418,
  QUICK_CRASH_DETECTION = 16419,
  IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420,
  IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED = 16421,
  IKEV2_MESSAGE_ID_SYNC = 16422,
  IPSEC_REPLAY_COUNTER_SYNC = 16423,
  SECURE_PASSWORD_METHODS = 16424,
  PSK_PERSIST = 16425,
  PSK_CONFIRM = 16426,
  ERX_SUPPORTED = 16427,
  IFOM_CAPABILITY = 16428,
  SENDER_REQUEST_ID = 16429,
  IKEV2_FRAGMENTATION_SUPPORTED = 16430,
  SIGNATURE_HASH_ALGORITHMS = 16431,
  CLONE_IKE_SA_SUPPORTED = 16432,
  CLONE_IKE_SA = 16433,
  PUZZLE = 16434,
  USE_PPK = 16435,
  PPK_IDENTITY = 16436,
  NO_PPK_AUTH = 16437,
  INTERMEDIATE_EXCHANGE_SUPPORTED = 16438,
  IP4_ALLOWED = 16439,
  IP6_ALLOWED = 16440,
  ADDITIONAL_KEY_EXCHANGE = 16441,
  USE_AGGFRAG = 16442,
}

/** RFC 7296 §3.10.1: types below this are errors. */
export const NOTIFY_STATUS_MIN = 16384;

export function isErrorNotify(type: number): boolean {
  return type > 0 && type < NOTIFY_STATUS_MIN;
}

/** IKE SPIs are 64-bit (RFC 7296 §3.1); CHILD_SA SPIs 32-bit (§3.3.1). */
export type IkeSpi = bigint & { readonly __brand: 'IkeSpi' };
export type ChildSpi = number & { readonly __brand: 'ChildSpi' };
export type MessageId = number & { readonly __brand: 'MessageId' };

export function ikeSpi(v: bigint): IkeSpi {
  return BigInt.asUintN(64, v) as IkeSpi;
}
export function childSpi(v: number): ChildSpi {
  return (v >>> 0) as ChildSpi;
}
export function messageId(v: number): MessageId {
  return (v >>> 0) as MessageId;
}
export function formatIkeSpi(spi: bigint): string {
  return spi.toString(16).padStart(16, '0');
}
export function formatChildSpi(spi: number): string {
  return (spi >>> 0).toString(16).padStart(8, '0');
}
