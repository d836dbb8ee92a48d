/**
 * The algorithms the userspace kernel supports, in PF_KEY terms: what
 * SADB_REGISTER replies list (RFC 2367 §2.3.3 sadb_supported / sadb_alg),
 * what ACQUIRE proposals offer and what ADD/UPDATE accept.
 *
 * Built from the one algorithm registry (src/crypto/registry.ts): every row
 * with a Linux SADB number whose primitive tanuki implements (the data plane
 * can run it). Key sizes follow the PF_KEY convention of a key that carries
 * the salt/nonce (RFC 3686 AES-CTR, RFC 4106 GCM, RFC 4309 CCM), as Linux
 * lists AES-CTR as 160..288 bits; ivlen is the explicit IV in bytes.
 */
import { algorithmsOf } from '../crypto/registry';
import type { SadbAlg } from '../pfkey/types';

export interface SupportedAlgorithms {
  auth: readonly SadbAlg[];
  encrypt: readonly SadbAlg[];
  comp: readonly SadbAlg[];
  /** SADB encryption numbers that are AEADs (no separate auth algorithm allowed). */
  aead: ReadonlySet<number>;
}

function build(): SupportedAlgorithms {
  const auth: SadbAlg[] = [];
  for (const row of algorithmsOf('integ')) {
    if (row.sadb === null || row.sadb === 0 || !row.implemented) continue;
    auth.push({ id: row.sadb, ivlen: 0, minbits: row.keyBytes * 8, maxbits: row.keyBytes * 8 });
  }
  const encrypt: SadbAlg[] = [];
  const aead = new Set<number>();
  for (const row of algorithmsOf('encr')) {
    if (row.sadb === null || !row.implemented) continue;
    const salt = row.saltBytes * 8;
    encrypt.push({ id: row.sadb, ivlen: row.ivBytes, minbits: Math.min(...row.keyBits) + salt, maxbits: Math.max(...row.keyBits) + salt });
    if (row.aead) aead.add(row.sadb);
  }
  const comp: SadbAlg[] = [];
  for (const row of algorithmsOf('comp')) {
    if (row.sadb === null || !row.implemented) continue;
    comp.push({ id: row.sadb, ivlen: 0, minbits: 0, maxbits: 0 });
  }
  const byId = (a: SadbAlg, b: SadbAlg) => a.id - b.id;
  return { auth: auth.sort(byId), encrypt: encrypt.sort(byId), comp: comp.sort(byId), aead };
}

let cached: SupportedAlgorithms | null = null;

/** The one source of the kernel's algorithm list. */
export function supportedAlgorithms(): SupportedAlgorithms {
  if (!cached) cached = build();
  return cached;
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

export function isAead(encrypt: number): boolean {
  return supportedAlgorithms().aead.has(encrypt);
}
