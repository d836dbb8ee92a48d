/**
 * SADB entry → XformSa: what the AH/ESP transforms need to know about one SA,
 * read from the PF_KEY extensions the key manager installed (RFC 2367 §2.3.3
 * sadb_sa / sadb_key, Linux sadb_x_sa2 and sadb_x_nat_t_*). Algorithms are
 * rows of the one registry (src/crypto/registry.ts) found by their PF_KEY
 * (SADB_EALG_* / SADB_AALG_*) number.
 */
import { findAlgorithm, type IntegAlg } from '../../crypto/registry';
import { IpsecMode, NatTType, SadbSaFlags } from '../../pfkey/constants';
import type { SecurityAssociation } from '../../sadb/sadb';
import { parseIp } from '../../util/ip';
import { AhSa } from '../../xform/ah';
import { EspSa } from '../../xform/esp';
import { IPPROTO } from '../../xform/ip';
import { registryProvider } from '../../xform/crypto-provider';
import { DEFAULT_TUNNEL_OPTIONS, type NatTEncap, type UsageCallback, type XformSa } from '../../xform/sa';

/** src/crypto's primitives as the transforms call them (the libcrypto fast path by default). */
export { registryProvider };

/** SADB_AALG_NONE (pfkeyv2.h): no integrity transform. */
const SADB_AALG_NONE = 0;
/** RFC 2367 §2.3.3: AH/ESP replay window upper bound the transforms support (xform/replay.ts). */
const MAX_REPLAY_WINDOW = 4096;

export type AdaptResult = { ok: true; xform: EspSa | AhSa } | { ok: false; reason: string };

/**
 * How to carry this SA's packets when it has no NAT-T extension but the
 * only protected-side transport is UDP (no raw sockets): ports to use.
 */
export interface UdpFallback {
  sport: number;
  dport: number;
}

/** Build the XformSa of a mature SADB entry; a typed reason when it cannot be used. */
export function toXformSa(sa: SecurityAssociation, fallback: UdpFallback | null): { ok: true; value: XformSa } | { ok: false; reason: string } {
  const src = parseIp(sa.src);
  const dst = parseIp(sa.dst);
  if (!src || !dst) return { ok: false, reason: `SA endpoints ${sa.src} → ${sa.dst} are not IP addresses` };
  const ext = sa.ext;
  if (!ext.sa) return { ok: false, reason: 'SA has no sadb_sa extension' };
  const mode = sa.mode === IpsecMode.TUNNEL ? 'tunnel' : 'transport';
  if (sa.mode === IpsecMode.BEET) return { ok: false, reason: 'BEET mode is not supported by the data plane' };
  const replayWindow = Math.min(ext.sa.replay, MAX_REPLAY_WINDOW);
  const base = {
    spi: sa.spi >>> 0,
    mode,
    src,
    dst,
    esn: (ext.sa.flags & SadbSaFlags.X_ESN) !== 0, // RFC 4304 negotiated in Quick Mode / IKEv2 ESN transform
    replayWindow,
    padding: 'sequential',
    checkPadding: false,
    tunnel: { ...DEFAULT_TUNNEL_OPTIONS },
  } as const;
  let integ: IntegAlg | undefined;
  if (ext.sa.auth !== SADB_AALG_NONE) {
    integ = findAlgorithm('integ', 'sadb', ext.sa.auth);
    if (!integ || !integ.implemented) return { ok: false, reason: `authentication algorithm ${ext.sa.auth} is not implemented` };
  }
  const integKey = ext.keyAuth?.key;
  if (sa.proto === IPPROTO.AH) {
    if (!integ || integ.icvBytes === 0) return { ok: false, reason: 'AH SA without an integrity algorithm' };
    return { ok: true, value: { ...base, proto: 'ah', integ, integKey: integKey ?? Buffer.alloc(0) } };
  }
  if (sa.proto !== IPPROTO.ESP) return { ok: false, reason: `protocol ${sa.proto} has no transform in the data plane` };
  const encr = findAlgorithm('encr', 'sadb', ext.sa.encrypt);
  if (!encr || !encr.implemented) return { ok: false, reason: `encryption algorithm ${ext.sa.encrypt} is not implemented` };
  let natt: NatTEncap | undefined;
  if (ext.natTType && ext.natTType.type !== NatTType.NONE) {
    natt = { sport: ext.natTSport?.port || 4500, dport: ext.natTDport?.port || 4500 };
    const oa = ext.natTOa ? parseIp(ext.natTOa.addr.address) : null;
    if (oa) natt.originalSrc = oa;
  } else if (fallback) {
    natt = { sport: fallback.sport, dport: fallback.dport };
  }
  return {
    ok: true,
    value: {
      ...base,
      proto: 'esp',
      encr,
      encrKey: ext.keyEncrypt?.key ?? Buffer.alloc(0),
      ...(integ && integ.icvBytes > 0 ? { integ, integKey: integKey ?? Buffer.alloc(0) } : {}),
      ...(natt ? { natt } : {}),
    },
  };
}

/** The transform object of an SA; crypto contexts are scheduled once here. */
export function adaptSa(sa: SecurityAssociation, fallback: UdpFallback | null, onUsage?: UsageCallback): AdaptResult {
  const x = toXformSa(sa, fallback);
  if (!x.ok) return x;
  try {
    const xform = x.value.proto === 'esp' ? new EspSa(x.value, registryProvider, onUsage) : new AhSa(x.value, registryProvider, onUsage);
    return { ok: true, xform };
  } catch (err) {
    // src/crypto refuses bad key lengths with a CryptoError; report it as the reason.
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
