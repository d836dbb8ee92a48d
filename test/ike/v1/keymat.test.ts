/**
 * RFC 2409 §5 keying material. The known answer is ike-scan's
 * check-psk-crack-2: two aggressive-mode PSK parameter lines captured from a
 * Checkpoint FW-1 with the PSK "abc123" (fields
 * g_xr:g_xi:cky_r:cky_i:sai_b:idir_b:ni_b:nr_b:hash_r).
 */
import { createHmac } from 'node:crypto';
import { deriveSkeyids, encryptionKey, ph1Hash, prf, qmKeymat, skeyidPsk } from '../../../src/ike/v1/keymat';

const LINES = {
  md5: '5c7916ddf8db4d233b3b36005bb3ccc115a73807e11a897be943fd4a2d0f942624cb00588d8b3a0a26502b73e639df217ef6c4cb90f96b0a3c3ef2f62ed025b4a705df9de65e33e380c1ba5fa23bf1f9911bbf388d0844256fa0131fc5cf8acb396936ba3295b4637b039d93f58db90a3a1cf1ef5051103bacf6e1a3334f9f89:fde8c68c5f324c7dbcbadde1d757af6962c63496c009f77cad647f2997fd4295e50821453a6dc2f6279fd7fef68768584d9cee0da6e68a534a097ce206bf77ecc798310206f3f82d92d02c885794e0a430ceb2d6b43c2aff45a6e14c6558382df0692ff65c2724eef750764ee456f31424a5ebd9e115d826bbb9722111aa4e01:b2a3c7aa4be95e85:756e3fa11c1b102c:00000001000000010000002c01010001000000240101000080010001800200018003000180040002800b0001000c000400007080:01000000ac100202:251d7ace920b17cb34f9d561bca46d037b337d19:e045819a64edbf022620bff3efdb935216584cc4:b9c594fa3fca6bb30a85c4208a8df348',
  sha1: '9bdee7aa341cf1a6c19bc0191106b5056537ce6b837cd70678ea5a3ccb606b56dee4548feb67f24fd6f4d5f58967a9ff3c674d9d79e4195b7def5aac147c9fe9abdc2f8ba2eca58f4c863fedc7a8c8e1ad6e1551b1e44bf9a0e258561a5db1c2ca1e8b5dfda1b012012b6fdf24ecd07da6b10d76ab3b58d07b30b4f9da26aee4:c9b7ef0610a22b3e1c88b1a01ce4d4110edf6baa122ed1285eb2184cd75d30a11520a725c2d263de5a157f77f953880732f3b14521836d7f3585cb0ce3fcadf81c541dde2680bd81953cf88e8f8096c173470694ca7414fff9df0cdcdbb9d4f70ef1d6347293b507cfad965e2d2c1fa07326353e9a493d93284970040344fb11:3506592130312567:6c362583ce7a2a26:00000001000000010000002c01010001000000240101000080010001800200028003000180040002800b0001000c000400007080:01000000ac100202:84943233f42a0b5a9b33c327162fe0efee2545e4:76f451dce3fea6402b67f3fddae561ebdb4a6efe:f63f237b3c0f1fe57a5b852203cfd27cbf0c78d4',
};

describe('RFC 2409 §5 HASH_R with a pre-shared key (ike-scan psk-crack known answer, PSK "abc123")', () => {
  for (const [digest, line] of Object.entries(LINES)) {
    it(`${digest}: SKEYID = prf(PSK, Ni_b|Nr_b); HASH_R = prf(SKEYID, g^xr|g^xi|CKY-R|CKY-I|SAi_b|IDir_b)`, () => {
      const [gxr, gxi, ckyR, ckyI, sai, idir, ni, nr, hashR] = line.split(':').map((x) => Buffer.from(x, 'hex'));
      const h = { digest, outBytes: digest === 'md5' ? 16 : 20 };
      const skeyid = skeyidPsk(h, Buffer.from('abc123'), ni, nr);
      const got = ph1Hash(h, skeyid, 'R', gxi, gxr, ckyI.readBigUInt64BE(), ckyR.readBigUInt64BE(), sai, idir);
      expect(got.toString('hex')).toBe(hashR.toString('hex'));
      // and a wrong PSK does not match
      const wrong = ph1Hash(h, skeyidPsk(h, Buffer.from('abc124'), ni, nr), 'R', gxi, gxr, ckyI.readBigUInt64BE(), ckyR.readBigUInt64BE(), sai, idir);
      expect(wrong.equals(hashR)).toBe(false);
    });
  }
});

describe('RFC 2409 §5 SKEYID_d/a/e chaining and App. B key expansion', () => {
  const h = { digest: 'sha1', outBytes: 20 };
  const skeyid = Buffer.alloc(20, 7);
  const gxy = Buffer.alloc(128, 9);
  const k = deriveSkeyids(h, skeyid, gxy, 0x0102030405060708n, 0x1112131415161718n);
  const ck = Buffer.from('01020304050607081112131415161718', 'hex');
  it('SKEYID_a is keyed by SKEYID over SKEYID_d | g^xy | CKY-I | CKY-R | 1', () => {
    const d = createHmac('sha1', skeyid).update(Buffer.concat([gxy, ck, Buffer.from([0])])).digest();
    expect(k.skeyidD).toEqual(d);
    const a = createHmac('sha1', skeyid).update(Buffer.concat([d, gxy, ck, Buffer.from([1])])).digest();
    expect(k.skeyidA).toEqual(a);
  });
  it('a 32-octet AES-256 key from a 20-octet SKEYID_e is K1|K2 with K1 = prf(SKEYID_e, 0)', () => {
    const key = encryptionKey(h, k.skeyidE, 32);
    const k1 = prf(h, k.skeyidE, Buffer.from([0]));
    const k2 = prf(h, k.skeyidE, k1);
    expect(key).toEqual(Buffer.concat([k1, k2]).subarray(0, 32));
    expect(encryptionKey(h, k.skeyidE, 16)).toEqual(k.skeyidE.subarray(0, 16));
  });
  it('§5.5 KEYMAT: K2 = prf(SKEYID_d, K1 | protocol | SPI | Ni_b | Nr_b)', () => {
    const ni = Buffer.alloc(16, 1);
    const nr = Buffer.alloc(16, 2);
    const km = qmKeymat(h, k.skeyidD, null, 3, 0x1234, ni, nr, 36);
    const seed = Buffer.concat([Buffer.from([3, 0, 0, 0x12, 0x34]), ni, nr]);
    const k1 = prf(h, k.skeyidD, seed);
    expect(km).toEqual(Buffer.concat([k1, prf(h, k.skeyidD, k1, seed)]).subarray(0, 36));
    // PFS puts g(qm)^xy in front of the protocol
    expect(qmKeymat(h, k.skeyidD, Buffer.alloc(8, 5), 3, 0x1234, ni, nr, 36).equals(km)).toBe(false);
  });
});
