/**
 * NETLINK_XFRM numbers, taken from the kernel uapi header
 * include/uapi/linux/xfrm.h (Debian linux-libc-dev 6.1 on this machine,
 * /usr/include/linux/xfrm.h). Every XFRM number appears here once.
 */

/** enum { XFRM_MSG_BASE = 0x10, ... } */
export enum XfrmMsgType {
  NEWSA = 0x10,
  DELSA = 0x11,
  GETSA = 0x12,
  NEWPOLICY = 0x13,
  DELPOLICY = 0x14,
  GETPOLICY = 0x15,
  ALLOCSPI = 0x16,
  ACQUIRE = 0x17,
  EXPIRE = 0x18,
  UPDPOLICY = 0x19,
  UPDSA = 0x1a,
  POLEXPIRE = 0x1b,
  FLUSHSA = 0x1c,
  FLUSHPOLICY = 0x1d,
  NEWAE = 0x1e,
  GETAE = 0x1f,
  REPORT = 0x20,
  MIGRATE = 0x21,
  NEWSADINFO = 0x22,
  GETSADINFO = 0x23,
  NEWSPDINFO = 0x24,
  GETSPDINFO = 0x25,
  MAPPING = 0x26,
  SETDEFAULT = 0x27,
  GETDEFAULT = 0x28,
}

/** enum xfrm_attr_type_t */
export enum XfrmAttr {
  UNSPEC = 0,
  ALG_AUTH = 1,
  ALG_CRYPT = 2,
  ALG_COMP = 3,
  ENCAP = 4,
  TMPL = 5,
  SA = 6,
  POLICY = 7,
  SEC_CTX = 8,
  LTIME_VAL = 9,
  REPLAY_VAL = 10,
  REPLAY_THRESH = 11,
  ETIMER_THRESH = 12,
  SRCADDR = 13,
  COADDR = 14,
  LASTUSED = 15,
  POLICY_TYPE = 16,
  MIGRATE = 17,
  ALG_AEAD = 18,
  KMADDRESS = 19,
  ALG_AUTH_TRUNC = 20,
  MARK = 21,
  TFCPAD = 22,
  REPLAY_ESN_VAL = 23,
  SA_EXTRA_FLAGS = 24,
  PROTO = 25,
  ADDRESS_FILTER = 26,
  PAD = 27,
  OFFLOAD_DEV = 28,
  SET_MARK = 29,
  SET_MARK_MASK = 30,
  IF_ID = 31,
  MTIMER_THRESH = 32,
}

/** enum xfrm_nlgroups */
export enum XfrmNlGroup {
  NONE = 0,
  ACQUIRE = 1,
  EXPIRE = 2,
  SA = 3,
  POLICY = 4,
  AEVENTS = 5,
  REPORT = 6,
  MIGRATE = 7,
  MAPPING = 8,
}

/** XFRM_POLICY_IN/OUT/FWD (PF_KEY's IPSEC_DIR_* minus one). */
export enum XfrmPolicyDir {
  IN = 0,
  OUT = 1,
  FWD = 2,
}

/** XFRM_POLICY_ALLOW / BLOCK (xfrm_userpolicy_info.action). */
export enum XfrmPolicyAction {
  ALLOW = 0,
  BLOCK = 1,
}

/** XFRM_POLICY_TYPE_* (xfrm_userpolicy_type.type). */
export enum XfrmPolicyType {
  MAIN = 0,
  SUB = 1,
  ANY = 255,
}

/** XFRM_MODE_* */
export enum XfrmMode {
  TRANSPORT = 0,
  TUNNEL = 1,
  ROUTEOPTIMIZATION = 2,
  IN_TRIGGER = 3,
  BEET = 4,
}

/** xfrm_usersa_info.flags */
export const XFRM_STATE_NOECN = 1;
export const XFRM_STATE_DECAP_DSCP = 2;
export const XFRM_STATE_NOPMTUDISC = 4;
export const XFRM_STATE_WILDRECV = 8;
export const XFRM_STATE_ICMP = 16;
export const XFRM_STATE_AF_UNSPEC = 32;
export const XFRM_STATE_ALIGN4 = 64;
export const XFRM_STATE_ESN = 128;

/** #define XFRM_INF (~(__u64)0) */
export const XFRM_INF = 0xffffffffffffffffn;

/** IPSEC_PROTO_ANY: "every IPsec protocol" in FLUSHSA / xfrm_id_proto_match (include/net/xfrm.h). */
export const IPSEC_PROTO_ANY = 255;
