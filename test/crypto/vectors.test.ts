/**
 * Every primitive against its published vectors (test/vectors/*.json, each citing its RFC).
 */
import { createAead, createNodeAead } from '../../src/crypto/aead';
import { createCipher } from '../../src/crypto/cipher';
import { createDh } from '../../src/crypto/dh';
import { createMac } from '../../src/crypto/mac';
import { createPrf } from '../../src/crypto/prf';
import { algorithmById, algorithmsOf, type EncrAlg } from '../../src/crypto/registry';

interface VectorFile<T> {
  source: string;
  vectors: T[];
}
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
function load<T>(name: string): VectorFile<T> {
  return require(`../vectors/${name}.json`) as VectorFile<T>;
}

/** The AEAD row for an ICV length and mode. */
function aeadRow(mode: 'gcm' | 'ccm', icvBytes: number): EncrAlg {
  const row = algorithmsOf('encr').find((r) => r.mode === mode && r.icvBytes === icvBytes);
  if (!row) throw new Error(`no ${mode} row with ICV ${icvBytes}`);
  return row;
}

describe('RFC 3602 §4: AES-CBC', () => {
  interface V { name: string; key: string; iv: string; plaintext?: string; plaintextAscii?: string; ciphertext: string }
  const file = load<V>('rfc3602-aes-cbc');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    const c = createCipher(algorithmById('encr', 'aes-cbc'), hex(v.key));
    const pt = v.plaintextAscii !== undefined ? Buffer.from(v.plaintextAscii, 'ascii') : hex(v.plaintext!);
    expect(c.encrypt(hex(v.iv), pt).toString('hex')).toBe(v.ciphertext);
    expect(c.decrypt(hex(v.iv), hex(v.ciphertext))).toEqual(pt);
  });
});

describe('RFC 3686 §6: AES-CTR with key || nonce KEYMAT', () => {
  interface V { name: string; key: string; nonce: string; iv: string; plaintext: string; ciphertext: string }
  const file = load<V>('rfc3686-aes-ctr');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    const c = createCipher(algorithmById('encr', 'aes-ctr'), Buffer.concat([hex(v.key), hex(v.nonce)]));
    expect(c.encrypt(hex(v.iv), hex(v.plaintext)).toString('hex')).toBe(v.ciphertext);
    expect(c.decrypt(hex(v.iv), hex(v.ciphertext)).toString('hex')).toBe(v.plaintext);
  });
});

describe('draft-mcgrew-gcm-test-01: AES-GCM in ESP (RFC 4106), incl. 12-byte ESN AAD', () => {
  interface V { name: string; key: string; iv: string; aad: string; plaintext?: string; ciphertext: string; icv: string }
  const file = load<V>('mcgrew-gcm-test-01-aes-gcm');
  const gcm16 = algorithmById('encr', 'aes-gcm-16');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    for (const aead of [createAead(gcm16, hex(v.key)), createNodeAead(gcm16, hex(v.key))]) {
      const sealed = hex(v.ciphertext + v.icv);
      if (v.plaintext !== undefined) {
        expect(aead.seal(hex(v.iv), hex(v.aad), hex(v.plaintext)).toString('hex')).toBe(v.ciphertext + v.icv);
        expect(aead.open(hex(v.iv), hex(v.aad), sealed)?.toString('hex')).toBe(v.plaintext);
      } else {
        // Decryption-only vectors: the ICV verifies and the plaintext ends in a valid ESP trailer
        // (pad bytes 1..n, pad length n, next header; RFC 4303 §2.4).
        const pt = aead.open(hex(v.iv), hex(v.aad), sealed);
        expect(pt).not.toBeNull();
        const padLen = pt![pt!.length - 2]!;
        for (let i = 0; i < padLen; i++) expect(pt![pt!.length - 2 - padLen + i]).toBe(i + 1);
      }
      // One flipped bit anywhere (AAD, body, ICV) makes open() return null.
      const bad = Buffer.from(sealed);
      bad[bad.length - 1]! ^= 1;
      expect(aead.open(hex(v.iv), hex(v.aad), bad)).toBeNull();
      const badAad = hex(v.aad);
      badAad[0]! ^= 0x80;
      expect(aead.open(hex(v.iv), badAad, sealed)).toBeNull();
    }
  });
  it('ICV 8 and 12 (RFC 4106 §6) are the leading bytes of the 16-byte tag', () => {
    const v = file.vectors[0]!;
    for (const icv of [8, 12]) {
      const aead = createAead(aeadRow('gcm', icv), hex(v.key));
      const sealed = aead.seal(hex(v.iv), hex(v.aad), hex(v.plaintext!));
      expect(sealed.toString('hex')).toBe(v.ciphertext + v.icv.slice(0, icv * 2));
      expect(aead.open(hex(v.iv), hex(v.aad), sealed)?.toString('hex')).toBe(v.plaintext);
    }
  });
});

describe('draft-mcgrew-gcm-test-01 page 18: ENCR_NULL_AUTH_AES_GMAC (RFC 4543)', () => {
  interface V { name: string; key: string; iv: string; aad: string; plaintext: string; icv: string }
  const file = load<V>('mcgrew-gcm-test-01-aes-gmac');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s: payload in clear, ICV over SPI||SN||IV||payload', (_n, v) => {
    const aead = createAead(algorithmById('encr', 'null-aes-gmac'), hex(v.key));
    const sealed = aead.seal(hex(v.iv), hex(v.aad), hex(v.plaintext));
    expect(sealed.toString('hex')).toBe(v.plaintext + v.icv);
    expect(aead.open(hex(v.iv), hex(v.aad), sealed)?.toString('hex')).toBe(v.plaintext);
    const bad = Buffer.from(sealed);
    bad[3]! ^= 1;
    expect(aead.open(hex(v.iv), hex(v.aad), bad)).toBeNull();
    const badIv = hex(v.iv);
    badIv[7]! ^= 1;
    expect(aead.open(badIv, hex(v.aad), sealed)).toBeNull();
  });
});

describe('RFC 7634 Appendix A/B: ChaCha20-Poly1305 for ESP and IKEv2', () => {
  interface V { name: string; key: string; iv: string; aad: string; plaintext: string; ciphertext: string; icv: string }
  const file = load<V>('rfc7634-chacha20-poly1305');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    const aead = createAead(algorithmById('encr', 'chacha20-poly1305'), hex(v.key));
    expect(aead.seal(hex(v.iv), hex(v.aad), hex(v.plaintext)).toString('hex')).toBe(v.ciphertext + v.icv);
    expect(aead.open(hex(v.iv), hex(v.aad), hex(v.ciphertext + v.icv))?.toString('hex')).toBe(v.plaintext);
    const bad = hex(v.ciphertext + v.icv);
    bad[0]! ^= 1;
    expect(aead.open(hex(v.iv), hex(v.aad), bad)).toBeNull();
  });
});

describe('RFC 2202: HMAC-MD5 / HMAC-SHA-1, and the -96 truncation of RFC 2403 / RFC 2404', () => {
  interface V { name: string; hash: 'md5' | 'sha1'; key: string; data: string; mac: string }
  const file = load<V>('rfc2202-hmac');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    const prf = createPrf(algorithmById('prf', v.hash === 'md5' ? 'prf-hmac-md5' : 'prf-hmac-sha1'));
    expect(prf.compute(hex(v.key), hex(v.data)).toString('hex')).toBe(v.mac);
    const keyBytes = v.hash === 'md5' ? 16 : 20;
    if (hex(v.key).length === keyBytes) {
      // ESP/AH keys have exactly the hash length (RFC 2403 §3 / RFC 2404 §3).
      const mac96 = createMac(algorithmById('integ', v.hash === 'md5' ? 'hmac-md5-96' : 'hmac-sha1-96'), hex(v.key));
      expect(mac96.compute(hex(v.data)).toString('hex')).toBe(v.mac.slice(0, 24));
      const full = createMac(algorithmById('integ', v.hash === 'md5' ? 'hmac-md5-128' : 'hmac-sha1-160'), hex(v.key));
      expect(full.compute(hex(v.data)).toString('hex')).toBe(v.mac);
    }
  });
});

describe('RFC 4868 §2.7: PRF-HMAC-SHA-256 and HMAC-SHA-256-128', () => {
  interface V { name: string; kind: 'auth' | 'prf'; key: string; data: string; prf: string; icv?: string }
  const file = load<V>('rfc4868-hmac-sha2');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    expect(createPrf(algorithmById('prf', 'prf-hmac-sha2-256')).compute(hex(v.key), hex(v.data)).toString('hex')).toBe(v.prf);
    if (v.kind === 'auth') {
      const mac = createMac(algorithmById('integ', 'hmac-sha2-256-128'), hex(v.key));
      // the ICV may be computed over several parts (ESP: header, payload, ESN high bits)
      const d = hex(v.data);
      expect(mac.compute(d.subarray(0, 5), d.subarray(5)).toString('hex')).toBe(v.icv);
    }
  });
});

describe('RFC 3566 / RFC 4434: AES-XCBC-MAC-96 and AES-XCBC-PRF-128', () => {
  interface V { name: string; kind: 'mac' | 'prf'; key: string; data: string; mac?: string; prf?: string }
  const file = load<V>('rfc3566-rfc4434-aes-xcbc');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    if (v.kind === 'mac') {
      const mac = createMac(algorithmById('integ', 'aes-xcbc-mac-96'), hex(v.key));
      expect(mac.compute(hex(v.data)).toString('hex')).toBe(v.mac!.slice(0, 24));
      // the PRF with a 16-byte key is the untruncated MAC (RFC 4434 §2)
      expect(createPrf(algorithmById('prf', 'prf-aes128-xcbc')).compute(hex(v.key), hex(v.data)).toString('hex')).toBe(v.mac);
    } else {
      expect(createPrf(algorithmById('prf', 'prf-aes128-xcbc')).compute(hex(v.key), hex(v.data)).toString('hex')).toBe(v.prf);
    }
  });
});

describe('RFC 4493 / RFC 4494 / RFC 4615: AES-CMAC-96 and AES-CMAC-PRF-128', () => {
  interface V { name: string; kind: 'mac' | 'prf'; key: string; data: string; mac?: string; prf?: string }
  const file = load<V>('rfc4493-rfc4494-rfc4615-aes-cmac');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s', (_n, v) => {
    if (v.kind === 'mac') {
      const mac = createMac(algorithmById('integ', 'aes-cmac-96'), hex(v.key));
      expect(mac.compute(hex(v.data)).toString('hex')).toBe(v.mac!.slice(0, 24));
      expect(createPrf(algorithmById('prf', 'prf-aes128-cmac')).compute(hex(v.key), hex(v.data)).toString('hex')).toBe(v.mac);
    } else {
      expect(createPrf(algorithmById('prf', 'prf-aes128-cmac')).compute(hex(v.key), hex(v.data)).toString('hex')).toBe(v.prf);
    }
  });
});

describe('ECP groups 19/20/21: RFC 5903 §8 and RFC 5114 App. A (KE = x||y, shared = x)', () => {
  interface V { name: string; group: string; i: string; gi: string; r?: string; gr: string; shared: string }
  const files = [load<V>('rfc5903-ecp'), load<V>('rfc5114-ecp')];
  const all = files.flatMap((f) => f.vectors.map((v) => [`${f.source.slice(0, 8)} ${v.name}`, v] as const));
  it.each(all)('%s', (_n, v) => {
    const group = algorithmById('dh', v.group);
    const i = createDh(group, hex(v.i));
    expect(i.publicValue.toString('hex')).toBe(v.gi);
    expect(i.computeShared(hex(v.gr)).toString('hex')).toBe(v.shared);
    if (v.r !== undefined) {
      const r = createDh(group, hex(v.r));
      expect(r.publicValue.toString('hex')).toBe(v.gr);
      expect(r.computeShared(hex(v.gi)).toString('hex')).toBe(v.shared);
    }
  });
});

describe('Curve25519 / Curve448: RFC 7748 §6.1/§6.2, RFC 8031 Appendix A', () => {
  interface V { name: string; group: string; i?: string; gi?: string; r?: string; gr?: string; shared?: string; scalar?: string; u?: string; out?: string }
  const files = [load<V>('rfc7748-x25519-x448'), load<V>('rfc8031-curve25519')];
  const all = files.flatMap((f) => f.vectors.map((v) => [`${f.source.slice(0, 8)} ${v.name}`, v] as const));
  it.each(all)('%s', (_n, v) => {
    const group = algorithmById('dh', v.group);
    if (v.scalar !== undefined) {
      expect(createDh(group, hex(v.scalar)).computeShared(hex(v.u!)).toString('hex')).toBe(v.out);
      return;
    }
    const i = createDh(group, hex(v.i!));
    const r = createDh(group, hex(v.r!));
    expect(i.publicValue.toString('hex')).toBe(v.gi);
    expect(r.publicValue.toString('hex')).toBe(v.gr);
    expect(i.computeShared(r.publicValue).toString('hex')).toBe(v.shared);
    expect(r.computeShared(i.publicValue).toString('hex')).toBe(v.shared);
  });
});

describe('RFC 3713 Appendix A: Camellia (ESP / IKE Camellia-CBC, RFC 4312 / RFC 5529)', () => {
  interface V { name: string; key: string; plaintext: string; ciphertext: string }
  const file = load<V>('rfc3713-camellia');
  it.each(file.vectors.map((v) => [v.name, v] as const))('%s: one block, IV 0', (_n, v) => {
    const c = createCipher(algorithmById('encr', 'camellia-cbc'), hex(v.key));
    expect(c.encrypt(Buffer.alloc(16), hex(v.plaintext)).toString('hex')).toBe(v.ciphertext);
    expect(c.decrypt(Buffer.alloc(16), hex(v.ciphertext)).toString('hex')).toBe(v.plaintext);
  });
  it('chains as CBC: block 2 is E(P2 xor C1)', () => {
    const v = file.vectors[0]!;
    const c = createCipher(algorithmById('encr', 'camellia-cbc'), hex(v.key));
    const p2 = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) p2[i] = hex(v.plaintext)[i]! ^ hex(v.ciphertext)[i]!;
    const two = c.encrypt(Buffer.alloc(16), Buffer.concat([hex(v.plaintext), p2]));
    expect(two.subarray(16).toString('hex')).toBe(v.ciphertext);
  });
});
