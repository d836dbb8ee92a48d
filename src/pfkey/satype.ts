/**
 * RFC 2367 §2.3.1 satype ↔ the IP protocol of the SA (AH 51, ESP 50, IPComp 108),
 * shared by the userspace kernel and the XFRM backend.
 */
import { IPPROTO, SadbSaType } from './constants';

/** The IP protocol keyed by an satype; null for satypes no IPsec kernel keys. */
export function satypeToProto(satype: SadbSaType): number | null {
  switch (satype) {
    case SadbSaType.AH:
      return IPPROTO.AH;
    case SadbSaType.ESP:
      return IPPROTO.ESP;
    case SadbSaType.X_IPCOMP:
      return IPPROTO.COMP;
    default:
      return null;
  }
}

/** The satype of an IPsec protocol number; null for other protocols. */
export function protoToSatype(proto: number): SadbSaType | null {
  switch (proto) {
    case IPPROTO.AH:
      return SadbSaType.AH;
    case IPPROTO.ESP:
      return SadbSaType.ESP;
    case IPPROTO.COMP:
      return SadbSaType.X_IPCOMP;
    default:
      return null;
  }
}
