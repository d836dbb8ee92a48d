/**
 * racoon's SP cache (pfkey.c: SADB_X_SPDDUMP at start, then kept in sync from
 * the SPDADD/SPDUPDATE/SPDDELETE/SPDDELETE2/SPDEXPIRE/SPDFLUSH broadcasts):
 * the daemon finds the policy an ACQUIRE names by its id, and the selectors
 * and templates it negotiates CHILD_SAs / phase 2 for.
 */
import { IpsecDir, IpsecMode, IpsecPolicyType, SadbMsgType } from '../pfkey/constants';
import type { PfKeyMessage, SadbAddress, SadbXPolicy } from '../pfkey/types';

export interface CachedPolicy {
  id: number;
  dir: IpsecDir;
  src: SadbAddress;
  dst: SadbAddress;
  policy: SadbXPolicy;
}

export class SpdCache {
  private readonly byId = new Map<number, CachedPolicy>();
  private readonly listeners = new Set<() => void>();

  /** Feed every PF_KEY message seen; returns true when the cache changed. */
  observe(m: PfKeyMessage): boolean {
    if (m.errno !== 0) return false;
    switch (m.type) {
      case SadbMsgType.X_SPDADD:
      case SadbMsgType.X_SPDUPDATE:
      case SadbMsgType.X_SPDDUMP:
      case SadbMsgType.X_SPDGET: {
        const { policy, addressSrc, addressDst } = m.ext;
        if (!policy || !addressSrc || !addressDst) return false;
        // An SPDUPDATE may replace a policy of the same selector under a new id.
        for (const [id, p] of this.byId) if (p.dir === policy.dir && sameSelector(p, addressSrc, addressDst)) this.byId.delete(id);
        this.byId.set(policy.id, { id: policy.id, dir: policy.dir, src: addressSrc, dst: addressDst, policy });
        break;
      }
      case SadbMsgType.X_SPDDELETE:
      case SadbMsgType.X_SPDDELETE2:
      case SadbMsgType.X_SPDEXPIRE: {
        const id = m.ext.policy?.id;
        if (id !== undefined && this.byId.delete(id)) break;
        const { addressSrc, addressDst, policy } = m.ext;
        if (!addressSrc || !addressDst || !policy) return false;
        for (const [pid, p] of this.byId) if (p.dir === policy.dir && sameSelector(p, addressSrc, addressDst)) this.byId.delete(pid);
        break;
      }
      case SadbMsgType.X_SPDFLUSH:
        this.byId.clear();
        break;
      default:
        return false;
    }
    for (const l of this.listeners) l();
    return true;
  }

  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get(id: number): CachedPolicy | undefined {
    return this.byId.get(id);
  }

  /** Outbound IPSEC policies, for building what we negotiate. */
  outboundIpsec(): CachedPolicy[] {
    return [...this.byId.values()].filter((p) => p.dir === IpsecDir.OUTBOUND && p.policy.type === IpsecPolicyType.IPSEC && p.policy.requests.length > 0);
  }

  /**
   * The inbound IPSEC policy paired with an outbound one (racoon's getsp of
   * the reversed selector, dir in): the reqid_in of the SAs negotiated for
   * `out` comes from its templates.
   */
  inboundOf(out: CachedPolicy): CachedPolicy | undefined {
    return [...this.byId.values()].find((p) => p.dir === IpsecDir.INBOUND && p.policy.type === IpsecPolicyType.IPSEC && p.policy.requests.length > 0 && sameSelector(p, out.dst, out.src));
  }

  /**
   * SA2 reqids for the SAs negotiated for an outbound policy, racoon's
   * set_proposal_from_policy: reqid_out from its first template, reqid_in from
   * the paired inbound policy's (0 = none: the key manager chooses).
   */
  reqidsOf(out: CachedPolicy): { out: number; in: number } {
    return { out: out.policy.requests[0]?.reqid ?? 0, in: this.inboundOf(out)?.policy.requests[0]?.reqid ?? 0 };
  }

  /** The IKE peer a policy points at: the tunnel endpoint of its first tunnel request, else its destination. */
  static peerOf(p: CachedPolicy): { local: string; remote: string } {
    const t = p.policy.requests.find((r) => r.mode === IpsecMode.TUNNEL && r.src && r.dst);
    if (t?.src && t.dst) return { local: t.src.address, remote: t.dst.address };
    return { local: p.src.addr.address, remote: p.dst.addr.address };
  }

  all(): CachedPolicy[] {
    return [...this.byId.values()];
  }
}

function sameSelector(p: CachedPolicy, src: SadbAddress, dst: SadbAddress): boolean {
  return (
    p.src.addr.address === src.addr.address &&
    p.src.prefixlen === src.prefixlen &&
    p.src.addr.port === src.addr.port &&
    p.dst.addr.address === dst.addr.address &&
    p.dst.prefixlen === dst.prefixlen &&
    p.dst.addr.port === dst.addr.port &&
    p.src.proto === src.proto
  );
}
