/**
 * The XFRM struct tables against include/uapi/linux/xfrm.h (sizes from
 * sizeof() on x86_64, as listed in the test-material catalogue §3.2 and
 * checked with gcc on this machine's linux-libc-dev header), encode/decode
 * round trips, and typed decode errors with byte offsets on any input.
 */
import fc from 'fast-check';
import {
  XFRM_ALGO,
  XFRM_ALGO_AEAD,
  XFRM_ALGO_AUTH,
  XFRM_ENCAP_TMPL,
  XFRM_ID,
  XFRM_LIFETIME_CFG,
  XFRM_LIFETIME_CUR,
  XFRM_MARK,
  XFRM_SELECTOR,
  XFRM_STATS,
  XFRM_USER_ACQUIRE,
  XFRM_USER_EXPIRE,
  XFRM_USER_KMADDRESS,
  XFRM_USER_MAPPING,
  XFRM_USER_MIGRATE,
  XFRM_USER_POLEXPIRE,
  XFRM_USER_TMPL,
  XFRM_USERPOLICY_ID,
  XFRM_USERPOLICY_INFO,
  XFRM_USERPOLICY_TYPE,
  XFRM_USERSA_FLUSH,
  XFRM_USERSA_ID,
  XFRM_USERSA_INFO,
  XFRM_USERSPI_INFO,
  XfrmDecodeError,
  XfrmUserMigrate,
  decodeAttrs,
  decodeStruct,
  encodeAttrs,
  encodeStruct,
} from '../../src/kernel/xfrm/structs';
import { decodeXfrm, encodeXfrm } from '../../src/kernel/xfrm/messages';
import { XfrmAttr, XfrmMsgType, XfrmNlGroup } from '../../src/kernel/xfrm/constants';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR, decodeNetlinkError, decodeNetlinkMessages, NetlinkDecodeError } from '../../src/util/netlink';

describe('struct sizes (uapi xfrm.h, x86_64)', () => {
  test.each([
    [XFRM_SELECTOR.name, 56, XFRM_SELECTOR],
    [XFRM_ID.name, 24, XFRM_ID],
    [XFRM_LIFETIME_CFG.name, 64, XFRM_LIFETIME_CFG],
    [XFRM_LIFETIME_CUR.name, 32, XFRM_LIFETIME_CUR],
    [XFRM_STATS.name, 12, XFRM_STATS],
    [XFRM_USERSA_INFO.name, 224, XFRM_USERSA_INFO],
    [XFRM_USERSA_ID.name, 24, XFRM_USERSA_ID],
    [XFRM_USERSPI_INFO.name, 232, XFRM_USERSPI_INFO],
    [XFRM_USERPOLICY_INFO.name, 168, XFRM_USERPOLICY_INFO],
    [XFRM_USERPOLICY_ID.name, 64, XFRM_USERPOLICY_ID],
    [XFRM_USER_TMPL.name, 64, XFRM_USER_TMPL],
    [XFRM_ENCAP_TMPL.name, 24, XFRM_ENCAP_TMPL],
    [XFRM_ALGO.name, 68, XFRM_ALGO],
    [XFRM_ALGO_AUTH.name, 72, XFRM_ALGO_AUTH],
    [XFRM_ALGO_AEAD.name, 72, XFRM_ALGO_AEAD],
    [XFRM_USER_ACQUIRE.name, 280, XFRM_USER_ACQUIRE],
    [XFRM_USER_EXPIRE.name, 232, XFRM_USER_EXPIRE],
    [XFRM_USER_POLEXPIRE.name, 176, XFRM_USER_POLEXPIRE],
    [XFRM_USERSA_FLUSH.name, 1, XFRM_USERSA_FLUSH],
    [XFRM_USER_MIGRATE.name, 76, XFRM_USER_MIGRATE],
    [XFRM_USER_KMADDRESS.name, 40, XFRM_USER_KMADDRESS],
    [XFRM_USERPOLICY_TYPE.name, 6, XFRM_USERPOLICY_TYPE],
    [XFRM_USER_MAPPING.name, 64, XFRM_USER_MAPPING],
    [XFRM_MARK.name, 8, XFRM_MARK],
  ] as const)('struct %s is %i bytes', (_name, size, def) => {
    expect(def.size).toBe(size);
    // Every field lies inside the struct.
    for (const f of Object.values(def.fields as Record<string, { offset: number }>)) expect(f.offset).toBeLessThan(size);
  });

  test('constants match the uapi header: XFRM_MSG_MIGRATE 0x21, GETSADINFO 0x23 (not 0x22), XFRMA_KMADDRESS 19, XFRMNLGRP_MIGRATE 7', () => {
    expect(XfrmMsgType.MIGRATE).toBe(0x21);
    expect(XfrmMsgType.GETSADINFO).toBe(0x23);
    expect(XfrmMsgType.MAPPING).toBe(0x26);
    expect(XfrmAttr.MIGRATE).toBe(17);
    expect(XfrmAttr.KMADDRESS).toBe(19);
    expect(XfrmAttr.ALG_AUTH_TRUNC).toBe(20);
    expect(XfrmNlGroup.MIGRATE).toBe(7);
    expect(XfrmNlGroup.MAPPING).toBe(8);
  });
});

describe('layout details', () => {
  test('xfrm_user_migrate: proto@64 mode@65 reqid@68 old_family@72 new_family@74, addresses network order', () => {
    const m: XfrmUserMigrate = {
      oldDaddr: Buffer.from([192, 0, 2, 2]),
      oldSaddr: Buffer.from([192, 0, 2, 1]),
      newDaddr: Buffer.from([192, 0, 2, 2]),
      newSaddr: Buffer.from([198, 51, 100, 1]),
      proto: 50,
      mode: 1,
      reserved: 0,
      reqid: 0x01020304,
      oldFamily: 2,
      newFamily: 10,
    };
    const b = encodeStruct(XFRM_USER_MIGRATE, m);
    expect(b.length).toBe(76);
    expect([...b.subarray(48, 52)]).toEqual([198, 51, 100, 1]);
    expect(b[64]).toBe(50);
    expect(b[65]).toBe(1);
    expect(b.readUInt32LE(68)).toBe(0x01020304);
    expect(b.readUInt16LE(72)).toBe(2);
    expect(b.readUInt16LE(74)).toBe(10);
  });

  test('SPI and selector ports are big-endian, the rest host order', () => {
    const b = encodeStruct(XFRM_USERSA_ID, { daddr: Buffer.alloc(16), spi: 0x11223344, family: 2, proto: 50 });
    expect([...b.subarray(16, 20)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(b.readUInt16LE(20)).toBe(2);
  });
});

const addr16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const migrateArb = fc.record({
  oldDaddr: addr16,
  oldSaddr: addr16,
  newDaddr: addr16,
  newSaddr: addr16,
  proto: u8,
  mode: u8,
  reserved: u16,
  reqid: u32,
  oldFamily: u16,
  newFamily: u16,
});
const selectorArb = fc.record({
  daddr: addr16,
  saddr: addr16,
  dport: u16,
  dportMask: u16,
  sport: u16,
  sportMask: u16,
  family: u16,
  prefixlenD: u8,
  prefixlenS: u8,
  proto: u8,
  ifindex: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  user: u32,
});

describe('round trips (one table drives both directions)', () => {
  test('xfrm_user_migrate', () => {
    fc.assert(fc.property(migrateArb, (m) => expect(decodeStruct(XFRM_USER_MIGRATE, encodeStruct(XFRM_USER_MIGRATE, m))).toEqual(m)));
  });

  test('XFRM_MSG_MIGRATE: userpolicy_id + KMADDRESS + several XFRMA_MIGRATE (array in one attribute)', () => {
    fc.assert(
      fc.property(selectorArb, fc.array(migrateArb, { minLength: 1, maxLength: 3 }), addr16, addr16, (sel, migrate, local, remote) => {
        const msg = {
          type: XfrmMsgType.MIGRATE as const,
          body: { sel, index: 0, dir: 1 },
          attrs: { migrate, kmaddress: { local, remote, reserved: 0, family: 10 } },
        };
        const back = decodeXfrm(XfrmMsgType.MIGRATE, encodeXfrm(msg));
        expect(back).toEqual(msg);
      }),
    );
  });

  test('the kernel form of MIGRATE (one XFRMA_MIGRATE per bundle, build_migrate) decodes to the same bundle list', () => {
    fc.assert(
      fc.property(fc.array(migrateArb, { minLength: 2, maxLength: 3 }), (migrate) => {
        const perBundle = Buffer.concat(migrate.map((m) => encodeAttrs({ migrate: [m] })));
        expect(decodeAttrs(perBundle, 0)).toEqual({ migrate });
      }),
    );
  });

  test('algorithm attributes carry their key after the fixed head', () => {
    const attrs = {
      algAuthTrunc: { algName: 'hmac(sha256)', algKeyLen: 256, algTruncLen: 128, key: Buffer.alloc(32, 7) },
      algAead: { algName: 'rfc4106(gcm(aes))', algKeyLen: 160, algIcvLen: 128, key: Buffer.alloc(20, 9) },
    };
    const b = encodeAttrs(attrs);
    expect(b.readUInt16LE(0)).toBe(4 + 72 + 32);
    expect(b.readUInt16LE(2)).toBe(XfrmAttr.ALG_AUTH_TRUNC);
    expect(decodeAttrs(b, 0)).toEqual(attrs);
  });
});

describe('typed decode errors with offsets', () => {
  test('a NEWSA body shorter than xfrm_usersa_info', () => {
    const e = decodeXfrm(XfrmMsgType.NEWSA, Buffer.alloc(100));
    expect(e).toBeInstanceOf(XfrmDecodeError);
    expect((e as XfrmDecodeError).rule).toBe('struct-short');
    expect((e as XfrmDecodeError).offset).toBe(16);
    expect((e as XfrmDecodeError).message).toMatch(/xfrm_usersa_info needs 224 bytes, only 100 present/);
  });

  test('an attribute whose nla_len runs past the message: offset of that attribute header', () => {
    // xfrm_usersa_flush (1 byte, padded to 4), then an XFRMA_MIGRATE header claiming 64 bytes of which 4 are present.
    const bad = Buffer.concat([Buffer.from([50, 0, 0, 0]), Buffer.from([0x40, 0x00, 0x11, 0x00, 0, 0, 0, 0])]);
    const e = decodeXfrm(XfrmMsgType.FLUSHSA, bad);
    expect(e).toBeInstanceOf(XfrmDecodeError);
    expect((e as XfrmDecodeError).rule).toBe('nla-len-overrun');
    expect((e as XfrmDecodeError).offset).toBe(16 + 4);
  });

  test('an algorithm attribute promising more key than it carries', () => {
    const b = encodeAttrs({ algCrypt: { algName: 'cbc(aes)', algKeyLen: 128, key: Buffer.alloc(16) } });
    const cut = Buffer.from(b.subarray(0, 4 + 68 + 8));
    cut.writeUInt16LE(cut.length, 0);
    const e = decodeAttrs(cut, 240);
    expect(e).toBeInstanceOf(XfrmDecodeError);
    expect((e as XfrmDecodeError).rule).toBe('alg-key-short');
    expect((e as XfrmDecodeError).message).toMatch(/cbc\(aes\).*128-bit key but only 8 key bytes/);
  });

  test('an unknown message type is named, not thrown', () => {
    const e = decodeXfrm(0x7f, Buffer.alloc(0));
    expect(e).toBeInstanceOf(XfrmDecodeError);
    expect((e as XfrmDecodeError).message).toMatch(/type 127/);
  });

  test('no input makes the decoders throw', () => {
    const types = Object.values(XfrmMsgType).filter((v): v is number => typeof v === 'number');
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 600 }), (t, bytes) => {
        expect(() => decodeXfrm(t, Buffer.from(bytes))).not.toThrow();
        expect(() => decodeNetlinkMessages(Buffer.from(bytes))).not.toThrow();
      }),
    );
  });
});

describe('netlink framing', () => {
  test('NLMSG_ERROR with extended ACK (NETLINK_EXT_ACK, NETLINK_CAP_ACK): errno and the kernel message', () => {
    const text = Buffer.from('Requested type not found\0');
    const tlv = Buffer.alloc(4 + ((text.length + 3) & ~3));
    tlv.writeUInt16LE(4 + text.length, 0);
    tlv.writeUInt16LE(1, 2); // NLMSGERR_ATTR_MSG
    text.copy(tlv, 4);
    const payload = Buffer.alloc(4 + 16);
    payload.writeInt32LE(-93, 0);
    payload.writeUInt32LE(436, 4);
    payload.writeUInt32LE(77, 12);
    const e = decodeNetlinkError({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, seq: 77, pid: 1, payload: Buffer.concat([payload, tlv]) });
    expect(e).toEqual({ errno: 93, origSeq: 77, extack: 'Requested type not found' });
  });

  test('a message whose nlmsg_len overruns the datagram is reported at its offset', () => {
    const b = Buffer.alloc(40);
    b.writeUInt32LE(20, 0);
    b.writeUInt32LE(64, 20);
    const e = decodeNetlinkMessages(b);
    expect(e).toBeInstanceOf(NetlinkDecodeError);
    expect((e as NetlinkDecodeError).offset).toBe(20);
    expect((e as NetlinkDecodeError).rule).toBe('nlmsg-len-overrun');
  });
});
