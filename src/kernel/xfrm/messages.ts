/**
 * XFRM netlink messages: the fixed body struct of each message type (the
 * kernel's xfrm_msg_min[] table, net/xfrm/xfrm_user.c) followed by attributes.
 * One table (XFRM_BODY) maps a message type to its body struct; encodeXfrm and
 * decodeXfrm both walk it.
 */
import { XfrmMsgType } from './constants';
import {
  StructDef,
  XfrmAttrs,
  XfrmDecodeError,
  XfrmUserAcquire,
  XfrmUserExpire,
  XfrmUserMapping,
  XfrmUserPolexpire,
  XfrmUsersaFlush,
  XfrmUsersaId,
  XfrmUsersaInfo,
  XfrmUserpolicyId,
  XfrmUserpolicyInfo,
  XfrmUserspiInfo,
  XFRM_USER_ACQUIRE,
  XFRM_USER_EXPIRE,
  XFRM_USER_MAPPING,
  XFRM_USER_POLEXPIRE,
  XFRM_USERPOLICY_ID,
  XFRM_USERPOLICY_INFO,
  XFRM_USERSA_FLUSH,
  XFRM_USERSA_ID,
  XFRM_USERSA_INFO,
  XFRM_USERSPI_INFO,
  decodeAttrs,
  decodeStruct,
  encodeAttrs,
  encodeStruct,
} from './structs';

/** FLUSHPOLICY has no fixed body. */
export type XfrmNoBody = Record<string, never>;
const XFRM_NO_BODY: StructDef<XfrmNoBody> = { name: '(no body)', size: 0, fields: {} };

/** The body struct of each message type tanuki sends or receives. */
export interface XfrmBodies {
  [XfrmMsgType.NEWSA]: XfrmUsersaInfo;
  [XfrmMsgType.UPDSA]: XfrmUsersaInfo;
  [XfrmMsgType.DELSA]: XfrmUsersaId;
  [XfrmMsgType.GETSA]: XfrmUsersaId;
  [XfrmMsgType.NEWPOLICY]: XfrmUserpolicyInfo;
  [XfrmMsgType.UPDPOLICY]: XfrmUserpolicyInfo;
  [XfrmMsgType.DELPOLICY]: XfrmUserpolicyId;
  [XfrmMsgType.GETPOLICY]: XfrmUserpolicyId;
  [XfrmMsgType.ALLOCSPI]: XfrmUserspiInfo;
  [XfrmMsgType.ACQUIRE]: XfrmUserAcquire;
  [XfrmMsgType.EXPIRE]: XfrmUserExpire;
  [XfrmMsgType.POLEXPIRE]: XfrmUserPolexpire;
  [XfrmMsgType.FLUSHSA]: XfrmUsersaFlush;
  [XfrmMsgType.FLUSHPOLICY]: XfrmNoBody;
  [XfrmMsgType.MIGRATE]: XfrmUserpolicyId;
  [XfrmMsgType.MAPPING]: XfrmUserMapping;
}
export type XfrmKnownType = keyof XfrmBodies;

export const XFRM_BODY: { [T in XfrmKnownType]: StructDef<XfrmBodies[T]> } = {
  [XfrmMsgType.NEWSA]: XFRM_USERSA_INFO,
  [XfrmMsgType.UPDSA]: XFRM_USERSA_INFO,
  [XfrmMsgType.DELSA]: XFRM_USERSA_ID,
  [XfrmMsgType.GETSA]: XFRM_USERSA_ID,
  [XfrmMsgType.NEWPOLICY]: XFRM_USERPOLICY_INFO,
  [XfrmMsgType.UPDPOLICY]: XFRM_USERPOLICY_INFO,
  [XfrmMsgType.DELPOLICY]: XFRM_USERPOLICY_ID,
  [XfrmMsgType.GETPOLICY]: XFRM_USERPOLICY_ID,
  [XfrmMsgType.ALLOCSPI]: XFRM_USERSPI_INFO,
  [XfrmMsgType.ACQUIRE]: XFRM_USER_ACQUIRE,
  [XfrmMsgType.EXPIRE]: XFRM_USER_EXPIRE,
  [XfrmMsgType.POLEXPIRE]: XFRM_USER_POLEXPIRE,
  [XfrmMsgType.FLUSHSA]: XFRM_USERSA_FLUSH,
  [XfrmMsgType.FLUSHPOLICY]: XFRM_NO_BODY,
  [XfrmMsgType.MIGRATE]: XFRM_USERPOLICY_ID,
  [XfrmMsgType.MAPPING]: XFRM_USER_MAPPING,
};

export type XfrmMessageOf<T extends XfrmKnownType> = { type: T; body: XfrmBodies[T]; attrs: XfrmAttrs };
export type XfrmMessage = { [T in XfrmKnownType]: XfrmMessageOf<T> }[XfrmKnownType];

export function isKnownXfrmType(t: number): t is XfrmKnownType {
  return Object.prototype.hasOwnProperty.call(XFRM_BODY, t);
}

/** Body struct + attributes (the netlink payload, without nlmsghdr). */
export function encodeXfrm<T extends XfrmKnownType>(m: XfrmMessageOf<T>): Buffer {
  const def = XFRM_BODY[m.type] as StructDef<XfrmBodies[T]>;
  const body = encodeStruct(def, m.body);
  const attrs = encodeAttrs(m.attrs);
  if (attrs.length === 0) return body;
  // Attributes start at NLMSG_ALIGN(sizeof body).
  const padded = Buffer.alloc((body.length + 3) & ~3);
  body.copy(padded);
  return Buffer.concat([padded, attrs]);
}

function decodeTyped<T extends XfrmKnownType>(type: T, payload: Buffer): XfrmMessageOf<T> | XfrmDecodeError {
  const def = XFRM_BODY[type] as StructDef<XfrmBodies[T]>;
  // Offsets in errors count from the start of the netlink message (16-byte header first).
  const body = decodeStruct(def, payload, 0, 16);
  if (body instanceof XfrmDecodeError) return body;
  const attrStart = (def.size + 3) & ~3;
  const attrs = payload.length > attrStart ? decodeAttrs(payload.subarray(attrStart), 16 + attrStart) : {};
  if (attrs instanceof XfrmDecodeError) return attrs;
  return { type, body, attrs };
}

/** Decode a netlink payload of a known XFRM type; unknown types give an error naming the type. */
export function decodeXfrm(type: number, payload: Buffer): XfrmMessage | XfrmDecodeError {
  if (!isKnownXfrmType(type)) return new XfrmDecodeError(4, 'xfrm-type-unknown', `XFRM message type ${type} is not one tanuki decodes`);
  return decodeTyped(type, payload) as XfrmMessage | XfrmDecodeError;
}
