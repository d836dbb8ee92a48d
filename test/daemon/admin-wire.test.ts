/**
 * racoon admin socket byte layout (ipsec-tools admin.h / evt.h on Linux x86_64,
 * shared/reference/racoon-compat.md §4): an existing racoonctl must understand us.
 */
import {
  ADMIN_FLAG_LONG_REPLY,
  AdminCmd,
  AdminProto,
  EvtType,
  decodeEvtAsync,
  decodeIndexes,
  decodePh1Dump,
  decodePsk,
  decodeReplyHeader,
  decodeRequest,
  encodeEventFrame,
  encodeEvtAsync,
  encodeIndexes,
  encodePh1Dump,
  encodePsk,
  encodeReply,
  encodeRequest,
  INDEXES_LEN,
  PH1DUMP_LEN,
  EVT_ASYNC_LEN,
  AdminWireError,
} from '../../src/daemon/admin/wire';

const v4 = (address: string, port = 0) => ({ family: 2 as const, address, port });

describe('admin_com header', () => {
  it('a versioned request: ac_cmd|0x8000, ac_version 1, host byte order', () => {
    const req = encodeRequest(AdminCmd.ESTABLISH_SA, AdminProto.ISAKMP, encodeIndexes({ prefs: 32, prefd: 32, ulProto: 255, src: v4('192.0.2.1'), dst: v4('192.0.2.2', 500) }));
    expect(req.length).toBe(8 + INDEXES_LEN);
    expect([...req.subarray(0, 8)]).toEqual([0x10, 0x01, 0x02, 0x82, 0x01, 0x00, 0xff, 0x01]);
    // admin_com_indexes: prefs, prefd, ul_proto, reserved, pad to 8, then sockaddr_storage src @8
    expect([...req.subarray(8, 11)]).toEqual([32, 32, 255]);
    expect([...req.subarray(16, 24)]).toEqual([0x02, 0x00, 0x00, 0x00, 192, 0, 2, 1]);
    // dst sockaddr_storage at 8 + 136, port in network order
    expect([...req.subarray(8 + 136, 8 + 144)]).toEqual([0x02, 0x00, 0x01, 0xf4, 192, 0, 2, 2]);
    const back = decodeRequest(req);
    expect(back).toMatchObject({ cmd: AdminCmd.ESTABLISH_SA, version: 1, proto: AdminProto.ISAKMP });
    expect(decodeIndexes(back.payload)).toEqual({ prefs: 32, prefd: 32, ulProto: 255, src: v4('192.0.2.1'), dst: v4('192.0.2.2', 500) });
  });

  it('an unversioned request (old racoonctl) reads as version 0', () => {
    const raw = Buffer.from([8, 0, 0x01, 0x00, 0, 0, 0, 0]);
    expect(decodeRequest(raw)).toMatchObject({ cmd: AdminCmd.RELOAD_CONF, version: 0, proto: 0 });
  });

  it('a reply carries a signed errno; -1 is the generic failure', () => {
    const r = encodeReply(AdminCmd.DELETE_SA, AdminProto.ISAKMP, -1);
    expect([...r]).toEqual([8, 0, 0x01, 0x02, 0xff, 0xff, 0xff, 0x01]);
    expect(decodeReplyHeader(r)).toEqual({ cmd: AdminCmd.DELETE_SA, proto: AdminProto.ISAKMP, errno: -1, totalLen: 8 });
    expect(decodeReplyHeader(encodeReply(AdminCmd.ESTABLISH_SA, 0, 17))).toMatchObject({ errno: 17 });
  });

  it('a reply over 0xffff bytes sets ADMIN_FLAG_LONG_REPLY and ac_len_high', () => {
    const payload = Buffer.alloc(0x12345);
    const r = encodeReply(AdminCmd.SHOW_SA, AdminProto.ESP, 0, payload);
    const cmd = r.readUInt16LE(2);
    expect(cmd & ADMIN_FLAG_LONG_REPLY).toBe(ADMIN_FLAG_LONG_REPLY);
    expect(r.readUInt16LE(0)).toBe((0x12345 + 8) & 0xffff);
    expect(r.readUInt16LE(4)).toBe(0x1);
    expect(decodeReplyHeader(r)).toEqual({ cmd: AdminCmd.SHOW_SA, proto: AdminProto.ESP, errno: 0, totalLen: 0x12345 + 8 });
  });

  it('a header whose ac_len overruns the frame is a typed error', () => {
    expect(() => decodeRequest(Buffer.from([200, 0, 1, 0x80, 1, 0, 0, 0]))).toThrow(AdminWireError);
    expect(() => decodeRequest(Buffer.from([8, 0, 1]))).toThrow(AdminWireError);
  });
});

describe('payload structs', () => {
  it('admin_com_psk: int id_type, size_t id_len, size_t key_len, then NUL-terminated strings', () => {
    const b = encodePsk({ idType: 3, id: 'user@example.org', key: 's3cret' });
    expect(b.readInt32LE(0)).toBe(3);
    expect(b.readBigUInt64LE(8)).toBe(17n);
    expect(b.readBigUInt64LE(16)).toBe(7n);
    expect(b.subarray(24).toString('latin1')).toBe('user@example.org\0s3cret\0');
    expect(decodePsk(b)).toEqual({ idType: 3, id: 'user@example.org', key: 's3cret' });
    const cut = b.subarray(0, b.length - 3);
    expect(() => decodePsk(cut)).toThrow(/overrun/);
  });

  it('ph1dump is 304 bytes with version/etype at 280/281 and created at 288', () => {
    const d = {
      initiatorCookie: Buffer.from('0102030405060708', 'hex'),
      responderCookie: Buffer.from('1112131415161718', 'hex'),
      status: 9,
      side: 1,
      remote: v4('198.51.100.7', 4500),
      local: v4('192.0.2.1', 4500),
      version: 0x10,
      etype: 2,
      created: 1_700_000_000,
      ph2cnt: 3,
    };
    const b = encodePh1Dump(d);
    expect(b.length).toBe(PH1DUMP_LEN);
    expect(b[280]).toBe(0x10);
    expect(b[281]).toBe(2);
    expect(b.readBigInt64LE(288)).toBe(1_700_000_000n);
    expect(b.readInt32LE(296)).toBe(3);
    expect(decodePh1Dump(b)).toEqual(d);
  });

  it('evt_async is 280 bytes; an event frame is admin_com{SHOW_EVT} + evt_async', () => {
    const e = { type: EvtType.PHASE2_UP, timestamp: 1_700_000_123, ph1src: v4('192.0.2.1', 500), ph1dst: v4('192.0.2.2', 500), ph2msgid: 0xdeadbeef };
    const b = encodeEvtAsync(e);
    expect(b.length).toBe(EVT_ASYNC_LEN);
    expect(b.readUInt32LE(0)).toBe(0x0201);
    expect(b.readUInt32LE(272)).toBe(0xdeadbeef);
    expect(decodeEvtAsync(b)).toEqual(e);
    const f = encodeEventFrame(e);
    expect(decodeReplyHeader(f)).toEqual({ cmd: AdminCmd.SHOW_EVT, proto: 0, errno: 0, totalLen: 8 + EVT_ASYNC_LEN });
  });
});
