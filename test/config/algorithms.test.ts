/**
 * racoon.conf algorithm names resolve through the shared crypto registry
 * (src/crypto/registry.ts) — the IKEv2 extension names included.
 */
import { ikev2ProposalTransforms, lookupRacoonAlgorithm } from '../../src/config/racoon';

describe('racoon algorithm names → registry numbers', () => {
  test.each([
    ['isakmp_enc', 'aes', 7, 12],
    ['isakmp_enc', '3des', 5, 3],
    ['isakmp_enc', 'aes_gcm_16', null, 20],
    ['isakmp_enc', 'chacha20_poly1305', null, 28],
    ['isakmp_hash', 'sha256', 4, 5],
    ['isakmp_hash', 'sha2_384', 5, 6],
    ['isakmp_dh', 'modp2048', 14, 14],
    ['isakmp_dh', 'curve448', null, 32], // RFC 8031 registers 31/32 for IKEv2 only
    ['isakmp_dh', 'ecp256', 19, 19],
    ['ipsec_enc', 'aes', 12, 12],
    ['ipsec_enc', 'aes_gmac', 23, 21],
    ['ipsec_enc', 'aes_ccm_12', 15, 15],
    ['ipsec_auth', 'hmac_sha256', 5, 12],
    ['ipsec_auth', 'aes_xcbc_mac', 9, 5],
    ['ipsec_comp', 'deflate', 2, null],
  ] as const)('%s %s → IKEv1/DOI %p, IKEv2 %p', (cls, name, v1, v2) => {
    const a = lookupRacoonAlgorithm(cls, name);
    expect(a).not.toBeNull();
    expect([a?.ikev1, a?.ikev2]).toEqual([v1, v2]);
  });

  test('phase-2 names carry the Linux SADB numbers the kernel check uses', () => {
    expect(lookupRacoonAlgorithm('ipsec_enc', 'aes')?.sadb).toBe(12);
    expect(lookupRacoonAlgorithm('ipsec_auth', 'hmac_sha1')?.sadb).toBe(3);
    // tanuki-private SADB_X_EALG number (src/crypto/registry.ts; Linux has none)
    expect(lookupRacoonAlgorithm('ipsec_enc', 'chacha20_poly1305')?.sadb).toBe(251);
  });

  test('a name of another class is not an algorithm of this class (algtype2doi == -1)', () => {
    expect(lookupRacoonAlgorithm('isakmp_enc', 'sha1')).toBeNull();
    expect(lookupRacoonAlgorithm('ipsec_auth', 'aes')).toBeNull();
  });

  test('authentication methods are racoon-only rows (no registry kind)', () => {
    expect(lookupRacoonAlgorithm('isakmp_ameth', 'xauth_psk_server')?.ikev1).toBe(65002);
    expect(lookupRacoonAlgorithm('isakmp_ameth', 'ecdsa_sig')?.ikev2).toBe(14);
  });

  test('IKEv2 reading of a proposal: hash_algorithm is the PRF, and HMAC integrity unless the cipher is an AEAD', () => {
    const alg = (c: Parameters<typeof lookupRacoonAlgorithm>[0], n: string) => {
      const a = lookupRacoonAlgorithm(c, n);
      if (!a) throw new Error(n);
      return a;
    };
    // RFC 7296 §3.3.2: ENCR_AES_CBC 12, PRF_HMAC_SHA2_256 5, AUTH_HMAC_SHA2_256_128 12
    expect(ikev2ProposalTransforms(alg('isakmp_enc', 'aes'), alg('isakmp_hash', 'sha256'))).toEqual({ encr: 12, prf: 5, integ: 12 });
    expect(ikev2ProposalTransforms(alg('isakmp_enc', 'aes_gcm_16'), alg('isakmp_hash', 'sha384'))).toEqual({ encr: 20, prf: 6, integ: null });
    expect(ikev2ProposalTransforms(alg('isakmp_enc', '3des'), alg('isakmp_hash', 'sha1'))).toEqual({ encr: 3, prf: 2, integ: 2 });
  });
});
