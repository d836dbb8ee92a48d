/**
 * PF_KEY ↔ XFRM translation without a kernel: the mappings af_key.c applies
 * (directions, levels, lifetimes 0 ↔ XFRM_INF, ICV truncation by algorithm)
 * and the event shapes racoon and charon read (EXPIRE, MIGRATE, NEW_MAPPING).
 */
import {
  Errno,
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  NatTType,
  SadbAalg,
  SadbEalg,
  SadbMsgType,
  SadbSaType,
} from '../../src/pfkey/constants';
import { AUTH_ALGORITHMS, cryptoAvailable, kernelCryptoNames, supportedAlgorithms } from '../../src/kernel/xfrm/algorithms';
import { XFRM_INF, XfrmMode, XfrmMsgType } from '../../src/kernel/xfrm/constants';
import {
  acquireProposal,
  acquireToPfKey,
  expireToPfKey,
  mappingToPfKey,
  migrateFromPfKey,
  migrateToPfKey,
  policyToPfKey,
  saAddToXfrm,
  saToPfKey,
  spdAddToXfrm,
} from '../../src/kernel/xfrm/translate';
import type { XfrmUserTmpl } from '../../src/kernel/xfrm/structs';
import { decodeMessage, encodeMessage } from '../../src/pfkey/codec';
import { addr, espAdd, sock, spdadd, transportReq, tunnelReq } from './pfkey-helpers';

const PROC_CRYPTO = ['name : hmac(sha256)', 'name : sha256', 'name : sha1', 'name : cbc(aes)', 'name : aes', 'name : ecb(cipher_null)', 'name : digest_null'].join('\n');

describe('ICV truncation is explicit (XFRMA_ALG_AUTH_TRUNC)', () => {
  test.each([
    [SadbAalg.MD5HMAC, 'hmac(md5)', 96], // RFC 2403
    [SadbAalg.SHA1HMAC, 'hmac(sha1)', 96], // RFC 2404
    [SadbAalg.SHA2_256HMAC, 'hmac(sha256)', 128], // RFC 4868 §2.3 (not the historic Linux PF_KEY 96)
    [SadbAalg.SHA2_384HMAC, 'hmac(sha384)', 192],
    [SadbAalg.SHA2_512HMAC, 'hmac(sha512)', 256],
    [SadbAalg.AES_XCBC_MAC, 'xcbc(aes)', 96], // RFC 3566
  ])('sadb auth %i → %s truncated to %i bits', (sadb, name, trunc) => {
    const a = AUTH_ALGORITHMS.find((x) => x.sadb === sadb);
    const key = Buffer.alloc((a?.keyBits ?? 0) / 8, 1);
    const t = saAddToXfrm(espAdd('192.0.2.1', '192.0.2.2', 0x100, { auth: sadb, authKey: key }));
    expect(t.ok && t.value.attrs.algAuthTrunc).toMatchObject({ algName: name, algTruncLen: trunc, algKeyLen: key.length * 8 });
  });
});

describe('SA translation', () => {
  test('ADD with NAT-T, lifetimes and flags → NEWSA → back to the same PF_KEY extensions', () => {
    const m = espAdd('192.0.2.1', '192.0.2.2', 0xabcd, { reqid: 9, replay: 64 });
    m.ext.natTType = { type: NatTType.ESPINUDP };
    m.ext.natTSport = { port: 4500 };
    m.ext.natTDport = { port: 4501 };
    m.ext.lifetimeHard = { allocations: 0, bytes: 1000n, addtime: 3600n, usetime: 0n };
    const t = saAddToXfrm(m);
    if (!t.ok) throw new Error(t.reason);
    expect(t.value.type).toBe(XfrmMsgType.NEWSA);
    // af_key: replay window capped at 32; 0 lifetime counters mean XFRM_INF.
    expect(t.value.body.replayWindow).toBe(32);
    expect(t.value.body.lft.hardByteLimit).toBe(1000n);
    expect(t.value.body.lft.hardPacketLimit).toBe(XFRM_INF);
    expect(t.value.body.lft.softByteLimit).toBe(XFRM_INF);
    expect(t.value.attrs.encap).toMatchObject({ encapType: 2, encapSport: 4500, encapDport: 4501 });
    const back = saToPfKey(SadbMsgType.ADD, t.value.body, t.value.attrs, m.seq, m.pid);
    expect(back.ext.sa).toMatchObject({ spi: 0xabcd, auth: SadbAalg.SHA2_256HMAC, encrypt: SadbEalg.AESCBC });
    expect(back.ext.keyAuth).toEqual(m.ext.keyAuth);
    expect(back.ext.keyEncrypt).toEqual(m.ext.keyEncrypt);
    expect(back.ext.sa2).toEqual({ mode: IpsecMode.TUNNEL, sequence: 0, reqid: 9 });
    expect(back.ext.lifetimeHard).toEqual(m.ext.lifetimeHard);
    expect(back.ext.natTSport).toEqual({ port: 4500 });
    expect(back.ext.addressSrc).toEqual(addr('192.0.2.1', 32, 0, 0));
  });

  test('AEAD keys are checked for key + salt length (RFC 4106 §8.1)', () => {
    const t = saAddToXfrm(espAdd('192.0.2.1', '192.0.2.2', 0x100, { auth: 0, enc: SadbEalg.AES_GCM_ICV8, encKey: Buffer.alloc(16) }));
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.reason).toMatch(/rfc4106\(gcm\(aes\)\) needs a key of 160\.\.288 bits \(key \+ salt\), KEY_ENCRYPT has 128/);
    const both = saAddToXfrm(espAdd('192.0.2.1', '192.0.2.2', 0x100, { enc: SadbEalg.AES_GCM_ICV8, encKey: Buffer.alloc(20) }));
    expect(both.ok).toBe(false);
  });

  test('SPI 0 and satype UNSPEC are refused with EINVAL', () => {
    const z = saAddToXfrm(espAdd('192.0.2.1', '192.0.2.2', 0));
    expect(z).toMatchObject({ ok: false, errno: Errno.EINVAL });
    const m = espAdd('192.0.2.1', '192.0.2.2', 5);
    m.satype = SadbSaType.UNSPEC;
    expect(saAddToXfrm(m)).toMatchObject({ ok: false, errno: Errno.EINVAL });
  });
});

describe('policy translation', () => {
  test('levels: use → optional, unique → reqid (allocated above 0x3fff when 0, af_key gen_reqid), require/default → required', () => {
    const allocated: number[] = [];
    const m = spdadd(addr('10.0.0.0', 8), addr('10.1.0.0', 16), IpsecDir.OUTBOUND, [
      transportReq(IpsecLevel.USE),
      tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 0),
      tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 42, 51),
      transportReq(IpsecLevel.DEFAULT),
    ]);
    const t = spdAddToXfrm(m, () => {
      allocated.push(0x4000);
      return 0x4000;
    });
    if (!t.ok) throw new Error(t.reason);
    const tm = t.value.attrs.tmpl ?? [];
    expect(tm.map((x) => [x.optional, x.reqid, x.mode])).toEqual([
      [1, 0, XfrmMode.TRANSPORT],
      [0, 0x4000, XfrmMode.TUNNEL],
      [0, 42, XfrmMode.TUNNEL],
      [0, 0, XfrmMode.TRANSPORT],
    ]);
    expect(allocated).toHaveLength(1);
    expect(t.value.body.dir).toBe(1); // XFRM_POLICY_OUT
    const back = policyToPfKey(SadbMsgType.X_SPDADD, t.value.body, t.value.attrs, 1, 2);
    expect(back.ext.policy?.requests.map((r) => r.level)).toEqual([IpsecLevel.USE, IpsecLevel.UNIQUE, IpsecLevel.UNIQUE, IpsecLevel.REQUIRE]);
    expect(back.ext.addressSrc).toEqual(addr('10.0.0.0', 8));
  });

  test('mixed-family selectors and bypass policies are refused', () => {
    expect(spdAddToXfrm(spdadd(addr('10.0.0.1'), addr('fd00::1'), IpsecDir.OUTBOUND, []), () => 1)).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(spdAddToXfrm(spdadd(addr('10.0.0.1'), addr('10.0.0.2'), IpsecDir.OUTBOUND, [], { policyType: IpsecPolicyType.BYPASS }), () => 1)).toMatchObject({
      ok: false,
      errno: Errno.EINVAL,
    });
  });
});

describe('events', () => {
  test('soft EXPIRE carries LIFETIME_SOFT only and no keys (af_key key_notify_sa_expire)', () => {
    const t = saAddToXfrm(espAdd('192.0.2.1', '192.0.2.2', 0x77));
    if (!t.ok) throw new Error(t.reason);
    const e = expireToPfKey({ state: t.value.body, hard: 0 }, t.value.attrs);
    expect(e.type).toBe(SadbMsgType.EXPIRE);
    expect(e.ext.lifetimeSoft).toBeDefined();
    expect(e.ext.lifetimeHard).toBeUndefined();
    expect(e.ext.keyAuth).toBeUndefined();
    expect(e.ext.sa?.spi).toBe(0x77);
  });

  test('MIGRATE → X_MIGRATE → MIGRATE is lossless for a tunnel bundle, KMADDRESS local first', () => {
    const m = spdadd(addr('10.0.0.1'), addr('10.9.0.0', 16), IpsecDir.INBOUND, [
      tunnelReq('192.0.2.2', '192.0.2.1', IpsecLevel.UNIQUE, 12),
      tunnelReq('192.0.2.2', '198.51.100.1', IpsecLevel.UNIQUE, 12),
    ], { type: SadbMsgType.X_MIGRATE });
    m.ext.kmaddress = { local: sock('198.51.100.1'), remote: sock('192.0.2.2') };
    const x = migrateFromPfKey(m);
    if (!x.ok) throw new Error(x.reason);
    expect(x.value.body.dir).toBe(0); // XFRM_POLICY_IN
    const back = migrateToPfKey(x.value.body, x.value.attrs);
    expect(back.satype).toBe(SadbSaType.ESP);
    expect(back.ext.kmaddress).toEqual(m.ext.kmaddress);
    expect(back.ext.policy?.requests).toEqual(m.ext.policy?.requests);
    expect(back.ext.policy?.dir).toBe(IpsecDir.INBOUND);
    expect(Object.keys(back.ext)[0]).toBe('kmaddress');
  });

  test('X_MIGRATE with an odd number of requests is refused (pairs of old, new)', () => {
    const m = spdadd(addr('10.0.0.1'), addr('10.9.0.0', 16), IpsecDir.OUTBOUND, [tunnelReq('192.0.2.1', '192.0.2.2')], { type: SadbMsgType.X_MIGRATE });
    expect(migrateFromPfKey(m)).toMatchObject({ ok: false, errno: Errno.EINVAL });
  });

  test('XFRM_MSG_MAPPING → SADB_X_NAT_T_NEW_MAPPING with the new address and port', () => {
    const newSaddr = Buffer.alloc(16);
    Buffer.from([203, 0, 113, 9]).copy(newSaddr);
    const daddr = Buffer.alloc(16);
    Buffer.from([192, 0, 2, 1]).copy(daddr);
    const p = mappingToPfKey({ id: { daddr, spi: 0x1234, family: 2, proto: 50 }, reqid: 1, oldSaddr: Buffer.alloc(16), newSaddr, oldSport: 4500, newSport: 62000 });
    expect(p.type).toBe(SadbMsgType.X_NAT_T_NEW_MAPPING);
    expect(p.ext.addressSrc?.addr.address).toBe('203.0.113.9');
    expect(p.ext.natTSport).toEqual({ port: 62000 });
    expect(p.ext.sa?.spi).toBe(0x1234);
  });

  test('ACQUIRE proposal follows the template algorithm masks and what /proc/crypto offers', () => {
    const names = kernelCryptoNames(PROC_CRYPTO);
    const tmpl = (aalgos: number, ealgos: number): XfrmUserTmpl => ({
      id: { daddr: Buffer.alloc(16), spi: 0, proto: 50 },
      family: 2,
      saddr: Buffer.alloc(16),
      reqid: 0,
      mode: 0,
      share: 0,
      optional: 0,
      aalgos,
      ealgos,
      calgos: 0,
    });
    const all = acquireProposal(tmpl(0xffffffff, 0xffffffff), 50, names);
    expect(all.map((c) => [c.auth, c.encrypt])).toEqual([
      [SadbAalg.SHA1HMAC, SadbEalg.AESCBC],
      [SadbAalg.SHA2_256HMAC, SadbEalg.AESCBC],
    ]);
    const onlySha1 = acquireProposal(tmpl(1 << SadbAalg.SHA1HMAC, 0xffffffff), 50, names);
    expect(onlySha1.map((c) => c.auth)).toEqual([SadbAalg.SHA1HMAC]);
    expect(acquireProposal(tmpl(0xffffffff, 0), 50, names)).toEqual([]);
  });

  test('algorithm availability: exact /proc/crypto names, or a known template over an available inner algorithm', () => {
    const names = kernelCryptoNames(PROC_CRYPTO);
    expect(cryptoAvailable('hmac(sha1)', names)).toBe(true); // hmac template proven by hmac(sha256)
    expect(cryptoAvailable('hmac(md5)', names)).toBe(false); // md5 absent
    expect(cryptoAvailable('rfc4106(gcm(aes))', names)).toBe(false);
    const sup = supportedAlgorithms(names);
    expect(sup.auth.map((a) => a.id)).toEqual([SadbAalg.SHA1HMAC, SadbAalg.SHA2_256HMAC, SadbAalg.X_NULL]);
    expect(sup.encrypt.map((a) => a.id)).toEqual([SadbEalg.NULL, SadbEalg.AESCBC]);
  });
});

describe('the PF_KEY messages the backend produces are valid PF_KEYv2 (shared codec round trip)', () => {
  test('ACQUIRE, MIGRATE, EXPIRE, SPD and SA replies encode and decode unchanged', () => {
    const names = kernelCryptoNames(PROC_CRYPTO);
    const sa = saAddToXfrm(espAdd('192.0.2.1', '192.0.2.2', 0x77, { reqid: 4 }));
    const sp = spdAddToXfrm(spdadd(addr('10.0.0.0', 8), addr('10.1.0.0', 16), IpsecDir.OUTBOUND, [tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 7)]), () => 1);
    const mig = migrateFromPfKey({
      ...spdadd(addr('fd00::1'), addr('fd00:9::', 64), IpsecDir.OUTBOUND, [tunnelReq('2001:db8::1', '2001:db8::2', IpsecLevel.UNIQUE, 3), tunnelReq('2001:db8::5', '2001:db8::2', IpsecLevel.UNIQUE, 3)], {
        type: SadbMsgType.X_MIGRATE,
      }),
      satype: SadbSaType.ESP,
    });
    if (!sa.ok || !sp.ok || !mig.ok) throw new Error('translation failed');
    mig.value.attrs.kmaddress = { local: Buffer.alloc(16, 1), remote: Buffer.alloc(16, 2), reserved: 0, family: 10 };
    const tmpl = sp.value.attrs.tmpl?.[0];
    const produced = [
      saToPfKey(SadbMsgType.ADD, sa.value.body, sa.value.attrs, 5, 6),
      expireToPfKey({ state: sa.value.body, hard: 1 }, sa.value.attrs),
      policyToPfKey(SadbMsgType.X_SPDDUMP, sp.value.body, sp.value.attrs, 0, 9),
      migrateToPfKey(mig.value.body, mig.value.attrs),
      acquireToPfKey(
        {
          id: { daddr: sa.value.body.id.daddr, spi: 0, proto: 50 },
          saddr: sa.value.body.saddr,
          sel: sp.value.body.sel,
          policy: { ...sp.value.body, index: 17 },
          aalgos: 0xffffffff,
          ealgos: 0xffffffff,
          calgos: 0xffffffff,
          seq: 42,
        },
        { tmpl: tmpl ? [tmpl] : [] },
        names,
      ),
    ];
    for (const m of produced) {
      const back = decodeMessage(encodeMessage(m));
      if (!back.ok) throw new Error(`${SadbMsgType[m.type]}: ${back.error.message}`);
      expect(back.msg).toEqual(m);
    }
  });
});

test('SADB_X_EXT_SEC_CTX ↔ XFRMA_SEC_CTX (xfrm_user_sec_ctx: len = 8 + ctx_len, same layout as sadb_x_sec_ctx)', () => {
  const m = spdadd(addr('10.0.0.1'), addr('10.0.0.2'), IpsecDir.OUTBOUND, [transportReq()]);
  m.ext.secCtx = { alg: 1, doi: 1, ctx: Buffer.from('system_u:object_r:ipsec_spd_t:s0') };
  const t = spdAddToXfrm(m, () => 1);
  if (!t.ok) throw new Error(t.reason);
  const raw = t.value.attrs.secCtx ?? Buffer.alloc(0);
  expect(raw.readUInt16LE(0)).toBe(8 + 32);
  expect(raw.readUInt16LE(6)).toBe(32);
  expect(policyToPfKey(SadbMsgType.X_SPDADD, t.value.body, t.value.attrs, 0, 0).ext.secCtx).toEqual(m.ext.secCtx);
});
