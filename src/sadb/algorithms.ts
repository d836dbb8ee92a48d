/**
 * The algorithms the userspace kernel supports, in PF_KEY terms: what
 * SADB_REGISTER replies list (RFC 2367 §2.3.3 sadb_supported / sadb_alg) and
 * what ADD/UPDATE accept.
 *
 * Everything goes through supportedAlgorithms(); until the crypto registry
 * (src/crypto/registry.ts) is merged the rows below are the Linux
 * net/xfrm/xfrm_algo.c PF_KEY descriptors (sadb_alg_id, ivlen, minbits,
 * maxbits) for the algorithms with pfkey_supported = 1.
 */
import { SadbAalg, SadbCalg, SadbEalg } from '../pfkey/constants';
import type { SadbAlg } from '../pfkey/types';

export interface SupportedAlgorithms {
  auth: readonly SadbAlg[];
  encrypt: readonly SadbAlg[];
  comp: readonly SadbAlg[];
}

const FALLBACK: SupportedAlgorithms = {
  auth: [
    { id: SadbAalg.MD5HMAC, ivlen: 0, minbits: 128, maxbits: 128 },
    { id: SadbAalg.SHA1HMAC, ivlen: 0, minbits: 160, maxbits: 160 },
    { id: SadbAalg.SHA2_256HMAC, ivlen: 0, minbits: 256, maxbits: 256 },
    { id: SadbAalg.SHA2_384HMAC, ivlen: 0, minbits: 384, maxbits: 384 },
    { id: SadbAalg.SHA2_512HMAC, ivlen: 0, minbits: 512, maxbits: 512 },
    { id: SadbAalg.RIPEMD160HMAC, ivlen: 0, minbits: 160, maxbits: 160 },
    { id: SadbAalg.AES_XCBC_MAC, ivlen: 0, minbits: 128, maxbits: 128 },
    { id: SadbAalg.X_NULL, ivlen: 0, minbits: 0, maxbits: 0 },
  ],
  encrypt: [
    { id: SadbEalg.NULL, ivlen: 0, minbits: 0, maxbits: 0 },
    { id: SadbEalg.DESCBC, ivlen: 8, minbits: 64, maxbits: 64 },
    { id: SadbEalg.TRIPLEDESCBC, ivlen: 8, minbits: 192, maxbits: 192 },
    { id: SadbEalg.CASTCBC, ivlen: 8, minbits: 40, maxbits: 128 },
    { id: SadbEalg.BLOWFISHCBC, ivlen: 8, minbits: 40, maxbits: 448 },
    { id: SadbEalg.AESCBC, ivlen: 8, minbits: 128, maxbits: 256 },
    { id: SadbEalg.AESCTR, ivlen: 8, minbits: 160, maxbits: 288 },
    { id: SadbEalg.CAMELLIACBC, ivlen: 8, minbits: 128, maxbits: 256 },
    { id: SadbEalg.SERPENTCBC, ivlen: 8, minbits: 128, maxbits: 256 },
    { id: SadbEalg.TWOFISHCBC, ivlen: 8, minbits: 128, maxbits: 256 },
  ],
  comp: [
    { id: SadbCalg.DEFLATE, ivlen: 0, minbits: 0, maxbits: 0 },
    { id: SadbCalg.LZS, ivlen: 0, minbits: 0, maxbits: 0 },
  ],
};

/** The one source of the kernel's algorithm list. */
export function supportedAlgorithms(): SupportedAlgorithms {
  return FALLBACK;
}

/**
 * The auth / encrypt lists a REGISTER reply carries (RFC 2367 §3.1.2). Like
 * Linux af_key compose_sadb_supported(), both lists are sent whatever the
 * satype registered (racoon keeps them per class, not per satype).
 */
export function supportedLists(): { auth: SadbAlg[]; encrypt: SadbAlg[] } {
  const all = supportedAlgorithms();
  return { auth: all.auth.map((a) => ({ ...a })), encrypt: all.encrypt.map((a) => ({ ...a })) };
}

export function findAuth(id: number): SadbAlg | undefined {
  return supportedAlgorithms().auth.find((a) => a.id === id);
}

export function findEncrypt(id: number): SadbAlg | undefined {
  return supportedAlgorithms().encrypt.find((a) => a.id === id);
}

export function findComp(id: number): SadbAlg | undefined {
  return supportedAlgorithms().comp.find((a) => a.id === id);
}
