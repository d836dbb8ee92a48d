/**
 * PF_KEYv2 numbers: RFC 2367 plus the Linux numbering of the KAME/Linux
 * extensions (include/uapi/linux/pfkeyv2.h, include/uapi/linux/ipsec.h).
 * Every number appears here once; nothing else in the tree spells them.
 */

export const PF_KEY_V2 = 2; // RFC 2367 §2.3.1 sadb_msg_version

/** RFC 2367 §2.3 message types; 11.. are the KAME/Linux X_ messages. */
export enum SadbMsgType {
  RESERVED = 0,
  GETSPI = 1,
  UPDATE = 2,
  ADD = 3,
  DELETE = 4,
  GET = 5,
  ACQUIRE = 6,
  REGISTER = 7,
  EXPIRE = 8,
  FLUSH = 9,
  DUMP = 10,
  X_PROMISC = 11,
  X_PCHANGE = 12,
  X_SPDUPDATE = 13,
  X_SPDADD = 14,
  X_SPDDELETE = 15,
  X_SPDGET = 16,
  X_SPDACQUIRE = 17,
  X_SPDDUMP = 18,
  X_SPDFLUSH = 19,
  X_SPDSETIDX = 20,
  X_SPDEXPIRE = 21,
  X_SPDDELETE2 = 22,
  X_NAT_T_NEW_MAPPING = 23,
  X_MIGRATE = 24,
}
export const SADB_MAX = 24;

/** RFC 2367 §2.3.1 sadb_msg_satype; 9 is Linux SADB_X_SATYPE_IPCOMP. */
export enum SadbSaType {
  UNSPEC = 0,
  AH = 2,
  ESP = 3,
  RSVP = 5,
  OSPFV2 = 6,
  RIPV2 = 7,
  MIP = 8,
  X_IPCOMP = 9,
}

/** RFC 2367 §2.3.2 extension types, 18.. Linux numbering (not KAME/FreeBSD). */
export enum SadbExtType {
  RESERVED = 0,
  SA = 1,
  LIFETIME_CURRENT = 2,
  LIFETIME_HARD = 3,
  LIFETIME_SOFT = 4,
  ADDRESS_SRC = 5,
  ADDRESS_DST = 6,
  ADDRESS_PROXY = 7,
  KEY_AUTH = 8,
  KEY_ENCRYPT = 9,
  IDENTITY_SRC = 10,
  IDENTITY_DST = 11,
  SENSITIVITY = 12,
  PROPOSAL = 13,
  SUPPORTED_AUTH = 14,
  SUPPORTED_ENCRYPT = 15,
  SPIRANGE = 16,
  X_KMPRIVATE = 17,
  X_POLICY = 18,
  X_SA2 = 19,
  X_NAT_T_TYPE = 20,
  X_NAT_T_SPORT = 21,
  X_NAT_T_DPORT = 22,
  X_NAT_T_OA = 23,
  X_SEC_CTX = 24,
  X_KMADDRESS = 25,
  X_FILTER = 26,
}
export const SADB_EXT_MAX = 26;

/** RFC 2367 §2.3.3 sadb_sa_state. */
export enum SadbSaState {
  LARVAL = 0,
  MATURE = 1,
  DYING = 2,
  DEAD = 3,
}

/** RFC 2367 §2.3.3 sadb_sa_flags (PFS=1); Linux adds these in the same word. */
export enum SadbSaFlags {
  PFS = 0x1,
  X_NOECN = 0x2, // Linux: tunnel without ECN propagation
  X_DECAP_DSCP = 0x4,
  X_NOPMTUDISC = 0x8,
  X_ALIGN4 = 0x10,
  /** Extended Sequence Numbers (RFC 4303 §2.2.1, RFC 4304); FreeBSD/OpenBSD SADB_X_SAFLAGS_ESN */
  X_ESN = 0x400,
}

/** Linux SADB_AALG_* (pfkeyv2.h). */
export enum SadbAalg {
  NONE = 0,
  MD5HMAC = 2,
  SHA1HMAC = 3,
  SHA2_256HMAC = 5,
  SHA2_384HMAC = 6,
  SHA2_512HMAC = 7,
  RIPEMD160HMAC = 8,
  AES_XCBC_MAC = 9,
  X_MD5 = 249,
  X_SHA = 250,
  X_NULL = 251,
}

/** Linux SADB_EALG_* / SADB_X_EALG_* (pfkeyv2.h). */
export enum SadbEalg {
  NONE = 0,
  DESCBC = 2,
  TRIPLEDESCBC = 3,
  CASTCBC = 6,
  BLOWFISHCBC = 7,
  NULL = 11,
  AESCBC = 12,
  AESCTR = 13,
  AES_CCM_ICV8 = 14,
  AES_CCM_ICV12 = 15,
  AES_CCM_ICV16 = 16,
  AES_GCM_ICV8 = 18,
  AES_GCM_ICV12 = 19,
  AES_GCM_ICV16 = 20,
  CAMELLIACBC = 22,
  NULL_AES_GMAC = 23,
  SERPENTCBC = 252,
  TWOFISHCBC = 253,
}

/** Linux SADB_X_CALG_*. */
export enum SadbCalg {
  NONE = 0,
  OUI = 1,
  DEFLATE = 2,
  LZS = 3,
  LZJH = 4,
}

/** sadb_x_policy_type (ipsec.h IPSEC_POLICY_*). */
export enum IpsecPolicyType {
  DISCARD = 0,
  NONE = 1,
  IPSEC = 2,
  ENTRUST = 3,
  BYPASS = 4,
}

/** sadb_x_policy_dir (ipsec.h IPSEC_DIR_*). */
export enum IpsecDir {
  ANY = 0,
  INBOUND = 1,
  OUTBOUND = 2,
  FWD = 3,
  MAX = 4,
  INVALID = 5,
}

/** sadb_x_ipsecrequest_mode / sadb_x_sa2_mode (ipsec.h IPSEC_MODE_*). */
export enum IpsecMode {
  ANY = 0,
  TRANSPORT = 1,
  TUNNEL = 2,
  BEET = 3,
}

/** sadb_x_ipsecrequest_level (ipsec.h IPSEC_LEVEL_*). */
export enum IpsecLevel {
  DEFAULT = 0,
  USE = 1,
  REQUIRE = 2,
  UNIQUE = 3,
}

/** sadb_x_nat_t_type_type: RFC 3948 encapsulation (linux/udp.h UDP_ENCAP_*). */
export enum NatTType {
  NONE = 0,
  ESPINUDP_NON_IKE = 1,
  ESPINUDP = 2,
}

/** IP protocol numbers used in PF_KEY messages (IANA). */
export const IPPROTO = {
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  MH: 135,
  COMP: 108,
} as const;

export const IPSEC_ULPROTO_ANY = 255; // ipsec.h
export const IPSEC_PORT_ANY = 0;
export const IPSEC_MANUAL_REQID_MAX = 0x3fff; // ipsec.h
export const IPSEC_REPLAYWSIZE = 32;

/** Address families as Linux spells them in sockaddr (not BSD: AF_INET6 = 10). */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** RFC 2367 §2.3.4: lengths are in 64-bit words. */
export const PFKEY_UNIT64 = 8;
export const SADB_MSG_LEN = 16;

/** Linux errno values returned in sadb_msg_errno. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ENOSYS: 38,
  ENOBUFS: 105,
  EOPNOTSUPP: 95,
  EPROTONOSUPPORT: 93,
  EMSGSIZE: 90,
  EADDRNOTAVAIL: 99,
} as const;
