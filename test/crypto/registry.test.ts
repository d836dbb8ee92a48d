import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALG_KINDS,
  ALG_NAMINGS,
  algorithmsOf,
  findAlgorithm,
  keysOf,
  keymatBytes,
  strongswanKeyBits,
  type AlgKind,
  type EncrAlg,
} from '../../src/crypto/registry';
import { SadbAalg, SadbCalg, SadbEalg } from '../../src/pfkey/constants';

describe('algorithm registry: every number and name is unique per kind and naming', () => {
  for (const kind of ALG_KINDS) {
    for (const naming of ALG_NAMINGS) {
      it(`${kind} / ${naming}`, () => {
        const seen = new Map<string, string>();
        for (const row of algorithmsOf(kind)) {
          for (const key of keysOf(row, naming)) {
            const prev = seen.get(key);
            expect(prev === undefined ? key : `${key} used by ${prev} and ${row.id}`).toBe(key);
            seen.set(key, row.id);
          }
        }
      });
    }
  }

  it('every row is reachable by its id and every key leads back to the same row', () => {
    for (const kind of ALG_KINDS) {
      for (const row of algorithmsOf(kind)) {
        for (const naming of ALG_NAMINGS) {
          for (const key of keysOf(row, naming)) expect(findAlgorithm(kind, naming, key)).toBe(row);
        }
      }
    }
  });

  it('extension names are names the row actually has', () => {
    for (const kind of ALG_KINDS) {
      for (const row of algorithmsOf(kind)) {
        for (const ext of row.extensionNames) expect([...row.setkey, ...row.racoon]).toContain(ext);
      }
    }
  });
});

describe('IANA IKEv2 transform ids (RFC 7296 §3.3.2; strongswan-interop.md §5)', () => {
  const cases: [AlgKind, number, string][] = [
    ['encr', 3, '3des-cbc'],
    ['encr', 11, 'null'],
    ['encr', 12, 'aes-cbc'],
    ['encr', 13, 'aes-ctr'],
    ['encr', 14, 'aes-ccm-8'],
    ['encr', 16, 'aes-ccm-16'],
    ['encr', 18, 'aes-gcm-8'],
    ['encr', 19, 'aes-gcm-12'],
    ['encr', 20, 'aes-gcm-16'],
    ['encr', 21, 'null-aes-gmac'],
    ['encr', 23, 'camellia-cbc'],
    ['encr', 28, 'chacha20-poly1305'],
    ['integ', 1, 'hmac-md5-96'],
    ['integ', 2, 'hmac-sha1-96'],
    ['integ', 5, 'aes-xcbc-mac-96'],
    ['integ', 8, 'aes-cmac-96'],
    ['integ', 12, 'hmac-sha2-256-128'],
    ['integ', 13, 'hmac-sha2-384-192'],
    ['integ', 14, 'hmac-sha2-512-256'],
    ['prf', 1, 'prf-hmac-md5'],
    ['prf', 2, 'prf-hmac-sha1'],
    ['prf', 4, 'prf-aes128-xcbc'],
    ['prf', 5, 'prf-hmac-sha2-256'],
    ['prf', 7, 'prf-hmac-sha2-512'],
    ['prf', 8, 'prf-aes128-cmac'],
    ['dh', 1, 'modp768'],
    ['dh', 2, 'modp1024'],
    ['dh', 5, 'modp1536'],
    ['dh', 14, 'modp2048'],
    ['dh', 18, 'modp8192'],
    ['dh', 19, 'ecp256'],
    ['dh', 21, 'ecp521'],
    ['dh', 31, 'curve25519'],
    ['dh', 32, 'curve448'],
  ];
  it.each(cases)('%s %d is %s', (kind, n, id) => {
    expect(findAlgorithm(kind, 'ikev2', n)?.id).toBe(id);
  });
});

describe('IKEv1 numbers (RFC 2409 App. A, RFC 2407; strongswan-interop.md §5)', () => {
  it('phase-1 encryption attribute: DES 1, 3DES 5, AES-CBC 7, Camellia 8', () => {
    expect(findAlgorithm('encr', 'ikev1', 1)?.id).toBe('des-cbc');
    expect(findAlgorithm('encr', 'ikev1', 5)?.id).toBe('3des-cbc');
    expect(findAlgorithm('encr', 'ikev1', 7)?.id).toBe('aes-cbc');
    expect(findAlgorithm('encr', 'ikev1', 8)?.id).toBe('camellia-cbc');
    expect(findAlgorithm('encr', 'ikev1', 28)).toBeUndefined(); // no AEAD/ChaCha20 in IKEv1 phase 1
  });
  it('phase-1 hash attribute: MD5 1, SHA1 2, SHA2-256/384/512 4/5/6 (RFC 4868 §7)', () => {
    expect(findAlgorithm('hash', 'ikev1', 1)?.id).toBe('md5');
    expect(findAlgorithm('hash', 'ikev1', 2)?.id).toBe('sha1');
    expect(findAlgorithm('hash', 'ikev1', 4)?.id).toBe('sha256');
    expect(findAlgorithm('hash', 'ikev1', 5)?.id).toBe('sha384');
    expect(findAlgorithm('hash', 'ikev1', 6)?.id).toBe('sha512');
    expect(findAlgorithm('hash', 'racoon', 'sha2_256')?.id).toBe('sha256');
  });
  it('ESP transform ids: Camellia 22 and GMAC 23 differ from IKEv2', () => {
    expect(findAlgorithm('encr', 'ipsecDoi', 22)?.id).toBe('camellia-cbc');
    expect(findAlgorithm('encr', 'ipsecDoi', 23)?.id).toBe('null-aes-gmac');
    expect(findAlgorithm('encr', 'ipsecDoi', 20)?.id).toBe('aes-gcm-16');
    expect(findAlgorithm('encr', 'ipsecDoi', 3)?.id).toBe('3des-cbc');
  });
  it('auth algorithm attribute: HMAC-MD5 1, HMAC-SHA1 2, SHA2 5/6/7, AES-XCBC 9, GMAC 11-13', () => {
    expect(findAlgorithm('integ', 'ipsecDoi', 1)?.id).toBe('hmac-md5-96');
    expect(findAlgorithm('integ', 'ipsecDoi', 2)?.id).toBe('hmac-sha1-96');
    expect(findAlgorithm('integ', 'ipsecDoi', 5)?.id).toBe('hmac-sha2-256-128');
    expect(findAlgorithm('integ', 'ipsecDoi', 6)?.id).toBe('hmac-sha2-384-192');
    expect(findAlgorithm('integ', 'ipsecDoi', 7)?.id).toBe('hmac-sha2-512-256');
    expect(findAlgorithm('integ', 'ipsecDoi', 9)?.id).toBe('aes-xcbc-mac-96');
    expect(findAlgorithm('integ', 'ipsecDoi', 11)?.id).toBe('aes-128-gmac');
  });
  it('AH transform ids (RFC 2407 §4.4.3): AH_MD5 2, AH_SHA 3, AH_SHA2-256 5', () => {
    const ah = (n: number) => algorithmsOf('integ').find((r) => r.ahTransformId === n)?.id;
    expect(ah(2)).toBe('hmac-md5-96');
    expect(ah(3)).toBe('hmac-sha1-96');
    expect(ah(5)).toBe('hmac-sha2-256-128');
  });
  it('racoon dh_group numbers 1 2 3 4 5 14-18 all resolve (racoon-compat.md §1)', () => {
    for (const n of [1, 2, 3, 4, 5, 14, 15, 16, 17, 18]) expect(findAlgorithm('dh', 'ikev1', n)).toBeDefined();
    expect(findAlgorithm('dh', 'racoon', 'modp1536')?.ikev1).toBe(5);
    expect(findAlgorithm('dh', 'ikev1', 31)).toBeUndefined();
  });
});

describe('Linux PF_KEY numbers agree with src/pfkey/constants.ts (pfkeyv2.h)', () => {
  it('encryption', () => {
    expect(findAlgorithm('encr', 'id', 'des-cbc')?.sadb).toBe(SadbEalg.DESCBC);
    expect(findAlgorithm('encr', 'id', '3des-cbc')?.sadb).toBe(SadbEalg.TRIPLEDESCBC);
    expect(findAlgorithm('encr', 'id', 'cast128-cbc')?.sadb).toBe(SadbEalg.CASTCBC);
    expect(findAlgorithm('encr', 'id', 'blowfish-cbc')?.sadb).toBe(SadbEalg.BLOWFISHCBC);
    expect(findAlgorithm('encr', 'id', 'null')?.sadb).toBe(SadbEalg.NULL);
    expect(findAlgorithm('encr', 'id', 'aes-cbc')?.sadb).toBe(SadbEalg.AESCBC);
    expect(findAlgorithm('encr', 'id', 'aes-ctr')?.sadb).toBe(SadbEalg.AESCTR);
    expect(findAlgorithm('encr', 'id', 'aes-ccm-8')?.sadb).toBe(SadbEalg.AES_CCM_ICV8);
    expect(findAlgorithm('encr', 'id', 'aes-ccm-16')?.sadb).toBe(SadbEalg.AES_CCM_ICV16);
    expect(findAlgorithm('encr', 'id', 'aes-gcm-8')?.sadb).toBe(SadbEalg.AES_GCM_ICV8);
    expect(findAlgorithm('encr', 'id', 'aes-gcm-16')?.sadb).toBe(SadbEalg.AES_GCM_ICV16);
    expect(findAlgorithm('encr', 'id', 'camellia-cbc')?.sadb).toBe(SadbEalg.CAMELLIACBC);
    expect(findAlgorithm('encr', 'id', 'null-aes-gmac')?.sadb).toBe(SadbEalg.NULL_AES_GMAC);
    expect(findAlgorithm('encr', 'id', 'twofish-cbc')?.sadb).toBe(SadbEalg.TWOFISHCBC);
    // Linux has no PF_KEY number for ChaCha20-Poly1305 (xfrm_algo.c: pfkey_supported = 0): tanuki's private
    // 251 (RFC 2367 private range 249–255), colliding with no Linux number (nor KAME/FreeBSD 249/250)
    expect(findAlgorithm('encr', 'id', 'chacha20-poly1305')?.sadb).toBe(251);
    expect(Object.values(SadbEalg)).not.toContain(251);
    expect(findAlgorithm('encr', 'sadb', 251)?.id).toBe('chacha20-poly1305');
  });
  it('authentication', () => {
    expect(findAlgorithm('integ', 'sadb', SadbAalg.NONE)?.id).toBe('none');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.MD5HMAC)?.id).toBe('hmac-md5-96');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.SHA1HMAC)?.id).toBe('hmac-sha1-96');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.SHA2_256HMAC)?.id).toBe('hmac-sha2-256-128');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.SHA2_384HMAC)?.id).toBe('hmac-sha2-384-192');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.SHA2_512HMAC)?.id).toBe('hmac-sha2-512-256');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.RIPEMD160HMAC)?.id).toBe('hmac-ripemd160-96');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.AES_XCBC_MAC)?.id).toBe('aes-xcbc-mac-96');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.X_MD5)?.id).toBe('keyed-md5');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.X_SHA)?.id).toBe('keyed-sha1');
    expect(findAlgorithm('integ', 'sadb', SadbAalg.X_NULL)?.id).toBe('null-auth');
    // Linux xfrm_algo.c: cmac(aes) pfkey_supported = 0
    expect(findAlgorithm('integ', 'id', 'aes-cmac-96')?.sadb).toBeNull();
  });
  it('compression', () => {
    expect(findAlgorithm('comp', 'sadb', SadbCalg.OUI)?.id).toBe('oui');
    expect(findAlgorithm('comp', 'sadb', SadbCalg.DEFLATE)?.id).toBe('deflate');
    expect(findAlgorithm('comp', 'sadb', SadbCalg.LZS)?.id).toBe('lzs');
  });
});

describe('setkey / racoon / strongSwan names (racoon-compat.md §1, §3; proposal_keywords_static.txt)', () => {
  it('setkey -E / -A / -C tokens map to the SADB values of token.l', () => {
    const e: [string, number][] = [['des-cbc', 2], ['3des-cbc', 3], ['null', 11], ['simple', 11], ['blowfish-cbc', 7],
      ['cast128-cbc', 6], ['twofish-cbc', 253], ['aes-cbc', 12], ['rijndael-cbc', 12], ['aes-ctr', 13], ['camellia-cbc', 22]];
    for (const [name, n] of e) expect(findAlgorithm('encr', 'setkey', name)?.sadb).toBe(n);
    const a: [string, number][] = [['hmac-md5', 2], ['hmac-sha1', 3], ['keyed-md5', 249], ['keyed-sha1', 250],
      ['hmac-sha256', 5], ['hmac-sha2-256', 5], ['hmac-sha384', 6], ['hmac-sha2-384', 6], ['hmac-sha512', 7],
      ['hmac-sha2-512', 7], ['hmac-ripemd160', 8], ['aes-xcbc-mac', 9], ['null', 251]];
    for (const [name, n] of a) expect(findAlgorithm('integ', 'setkey', name)?.sadb).toBe(n);
    const c: [string, number][] = [['oui', 1], ['deflate', 2], ['lzs', 3]];
    for (const [name, n] of c) expect(findAlgorithm('comp', 'setkey', name)?.sadb).toBe(n);
  });
  it('racoon sainfo and proposal names', () => {
    for (const n of ['des', '3des', 'des_iv64', 'des_iv32', 'rc5', 'rc4', 'idea', '3idea', 'cast128', 'blowfish',
      'null_enc', 'null', 'twofish', 'aes', 'rijndael', 'camellia']) {
      expect(findAlgorithm('encr', 'racoon', n)).toBeDefined();
    }
    for (const n of ['hmac_md5', 'hmac_sha1', 'hmac_sha256', 'hmac_sha2_256', 'hmac_sha384', 'hmac_sha512', 'non_auth',
      'kpdk', 'des_mac']) {
      expect(findAlgorithm('integ', 'racoon', n)).toBeDefined();
    }
    expect(findAlgorithm('encr', 'racoon', 'AES')?.id).toBe('aes-cbc'); // case-insensitive
    expect(findAlgorithm('encr', 'racoon', 'blowfish')?.implemented).toBe(false);
    expect(findAlgorithm('encr', 'racoon', 'twofish')?.implemented).toBe(false);
  });
  it('strongSwan keywords carry the key length', () => {
    const gcm = findAlgorithm('encr', 'strongswan', 'aes256gcm16') as EncrAlg;
    expect(gcm.id).toBe('aes-gcm-16');
    expect(strongswanKeyBits(gcm, 'aes256gcm16')).toBe(256);
    expect(findAlgorithm('encr', 'strongswan', 'aes128gcm')?.id).toBe('aes-gcm-16');
    expect(findAlgorithm('encr', 'strongswan', 'aes192gcm96')?.id).toBe('aes-gcm-12');
    expect(findAlgorithm('encr', 'strongswan', 'aes128ccm64')?.id).toBe('aes-ccm-8');
    const cbc = findAlgorithm('encr', 'strongswan', 'aes') as EncrAlg;
    expect(strongswanKeyBits(cbc, 'aes')).toBe(128);
    expect(findAlgorithm('integ', 'strongswan', 'sha256')?.id).toBe('hmac-sha2-256-128');
    expect(findAlgorithm('dh', 'strongswan', 'x25519')?.id).toBe('curve25519');
    expect(findAlgorithm('prf', 'strongswan', 'prfaescmac')?.ikev2).toBe(8);
  });
  it('unknown keys and malformed numbers are undefined, not an exception', () => {
    expect(findAlgorithm('encr', 'setkey', 'aes-gcm-17')).toBeUndefined();
    expect(findAlgorithm('encr', 'ikev2', 'twelve')).toBeUndefined();
    expect(findAlgorithm('encr', 'ikev2', 1.5)).toBeUndefined();
    expect(findAlgorithm('encr', 'ikev2', '0x0c')?.id).toBe('aes-cbc');
  });
});

describe('sizes', () => {
  it('KEYMAT includes the salt: GCM +4 (RFC 4106 §8.1), CCM +3 (RFC 4309 §7.1), CTR +4 (RFC 3686 §5.1), ChaCha20 +4 (RFC 7634 §4)', () => {
    const e = (id: string) => findAlgorithm('encr', 'id', id) as EncrAlg;
    expect(keymatBytes(e('aes-gcm-16'), 128)).toBe(20);
    expect(keymatBytes(e('aes-ccm-12'), 256)).toBe(35);
    expect(keymatBytes(e('aes-ctr'), 192)).toBe(28);
    expect(keymatBytes(e('chacha20-poly1305'))).toBe(36);
    expect(keymatBytes(e('null-aes-gmac'), 256)).toBe(36);
    expect(keymatBytes(e('3des-cbc'))).toBe(24);
  });
  it('AEAD rows have an ICV and IV 8; CBC rows have IV = block', () => {
    for (const row of algorithmsOf('encr')) {
      if (row.aead) expect([8, 12, 16]).toContain(row.icvBytes);
      if (row.mode === 'cbc') expect(row.ivBytes).toBe(row.blockBytes);
      if (row.aead) expect(row.ivBytes).toBe(8);
    }
  });
  it('ECP KE data is x||y, shared secret is x only (RFC 5903 §7)', () => {
    for (const id of ['ecp256', 'ecp384', 'ecp521']) {
      const g = findAlgorithm('dh', 'id', id)!;
      expect(g.keBytes).toBe(2 * g.sharedBytes);
    }
  });
  it('RFC 4868 truncation: ICV is half the hash output', () => {
    for (const id of ['hmac-sha2-256-128', 'hmac-sha2-384-192', 'hmac-sha2-512-256']) {
      const r = findAlgorithm('integ', 'id', id)!;
      expect(r.icvBytes * 2).toBe(r.fullBytes);
      expect(r.keyBytes).toBe(r.fullBytes);
    }
  });
});

describe('docs/crypto.md lists every registry row', () => {
  it('each id has a table row', () => {
    const doc = readFileSync(join(__dirname, '../../docs/crypto.md'), 'utf8');
    for (const kind of ALG_KINDS) {
      for (const row of algorithmsOf(kind)) expect(doc.includes(`| ${row.id} |`) ? row.id : `${kind}/${row.id} missing`).toBe(row.id);
    }
  });
});
