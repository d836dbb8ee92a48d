/**
 * Byte-for-byte check of the XFRM encoder against iproute2 (the reference
 * netlink XFRM client): the same request given as a PF_KEY message to the
 * translator and as an `ip xfrm` command line (captured with
 * `strace -e trace=sendmsg -xx`) must produce the same nlmsg_len, type, flags
 * and body bytes. nlmsg_seq and nlmsg_pid differ by design and are not compared.
 */
import { IpsecDir, IpsecLevel, IpsecMode, SadbAalg, SadbEalg, SadbMsgType, SadbSaType, NatTType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { XfrmMsgType } from '../../src/kernel/xfrm/constants';
import { XfrmKnownType, XfrmMessageOf, encodeXfrm } from '../../src/kernel/xfrm/messages';
import { getSpiToXfrm, saAddToXfrm, saIdToXfrm, spdAddToXfrm, spdIdToXfrm, Translated } from '../../src/kernel/xfrm/translate';
import { NLMSG_HDRLEN } from '../../src/util/netlink';
import { TestNetns } from './netns';
import { addr, espAdd, header, spdadd, transportReq, tunnelReq } from './pfkey-helpers';

let ns: TestNetns;
beforeAll(() => {
  ns = TestNetns.create();
});
afterAll(() => ns?.destroy());

const K32 = '11'.repeat(32);
const K16 = '22'.repeat(16);

function ours<T extends XfrmKnownType>(t: Translated<XfrmMessageOf<T>>): { type: number; body: Buffer } {
  if (!t.ok) throw new Error(`translation failed: ${t.reason}`);
  return { type: t.value.type, body: encodeXfrm(t.value) };
}

function expectSameAsIproute2(mine: { type: number; body: Buffer }, ipArgs: string[], flags = 'NLM_F_REQUEST|NLM_F_ACK'): void {
  const sent = ns.straceIp(...ipArgs).filter((m) => m.type >= 0x10 && m.type <= 0x28);
  expect(sent).toHaveLength(1);
  const [ip] = sent;
  expect(ip.type).toBe(mine.type);
  // The socket layer sends the same flags: NLM_F_ACK for changes, none for
  // GET-style requests answered by one message (ALLOCSPI).
  expect(ip.flags).toBe(flags);
  expect(ip.len).toBe(NLMSG_HDRLEN + mine.body.length);
  expect(mine.body.toString('hex')).toBe(ip.body.toString('hex'));
}

describe('policy requests', () => {
  test('X_SPDADD tunnel/unique:7 = ip xfrm policy add ... tmpl ... reqid 7 mode tunnel (XFRM_MSG_NEWPOLICY)', () => {
    const m = spdadd(addr('10.1.0.0', 16), addr('10.2.0.0', 16), IpsecDir.OUTBOUND, [tunnelReq('192.0.2.1', '192.0.2.2', IpsecLevel.UNIQUE, 7)]);
    expectSameAsIproute2(ours(spdAddToXfrm(m, () => 0)), [
      'xfrm', 'policy', 'add', 'src', '10.1.0.0/16', 'dst', '10.2.0.0/16', 'dir', 'out', 'priority', '2147483648',
      'tmpl', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'reqid', '7', 'mode', 'tunnel',
    ]);
  });

  test('X_SPDUPDATE with proto/port selector and level use = ip xfrm policy update ... level use (XFRM_MSG_UPDPOLICY)', () => {
    const m = spdadd(addr('10.3.0.1', 32, 500, 17), addr('10.3.0.2', 32, 0, 17), IpsecDir.INBOUND, [transportReq(IpsecLevel.USE)], {
      type: SadbMsgType.X_SPDUPDATE,
      priority: 100,
    });
    expectSameAsIproute2(ours(spdAddToXfrm(m, () => 0)), [
      'xfrm', 'policy', 'update', 'src', '10.3.0.1/32', 'dst', '10.3.0.2/32', 'proto', 'udp', 'sport', '500', 'dir', 'in', 'priority', '100',
      'tmpl', 'src', '0.0.0.0', 'dst', '0.0.0.0', 'proto', 'esp', 'mode', 'transport', 'level', 'use',
    ]);
  });

  test('X_SPDDELETE by selector = ip xfrm policy delete (XFRM_MSG_DELPOLICY)', () => {
    const m = spdadd(addr('10.1.0.0', 16), addr('10.2.0.0', 16), IpsecDir.FWD, [], { type: SadbMsgType.X_SPDDELETE });
    expectSameAsIproute2(ours(spdIdToXfrm(m)), ['xfrm', 'policy', 'delete', 'src', '10.1.0.0/16', 'dst', '10.2.0.0/16', 'dir', 'fwd']);
  });
});

describe('SA requests', () => {
  test('ADD esp tunnel hmac(sha256)-128 + cbc(aes), replay 32, reqid 7, NAT-T, lifetimes = ip xfrm state add (XFRM_MSG_NEWSA)', () => {
    const m: PfKeyMessage = espAdd('192.0.2.1', '192.0.2.2', 0x1000, { reqid: 7, replay: 32, seq: 0 });
    m.ext.natTType = { type: NatTType.ESPINUDP };
    m.ext.natTSport = { port: 4500 };
    m.ext.natTDport = { port: 4501 };
    m.ext.lifetimeHard = { allocations: 0, bytes: 0n, addtime: 3600n, usetime: 0n };
    m.ext.lifetimeSoft = { allocations: 0, bytes: 0n, addtime: 2880n, usetime: 0n };
    expectSameAsIproute2(ours(saAddToXfrm(m)), [
      'xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x1000', 'reqid', '7', 'mode', 'tunnel',
      'replay-window', '32', 'auth-trunc', 'hmac(sha256)', `0x${K32}`, '128', 'enc', 'cbc(aes)', `0x${K16}`,
      'encap', 'espinudp', '4500', '4501', '0.0.0.0', 'sel', 'src', '0.0.0.0/0', 'dst', '0.0.0.0/0',
      'limit', 'time-hard', '3600', 'limit', 'time-soft', '2880',
    ]);
  });

  test('UPDATE esp transport rfc4106(gcm(aes)) ICV 128 = ip xfrm state update ... aead (XFRM_MSG_UPDSA)', () => {
    const key = Buffer.alloc(20, 0x33);
    const m = espAdd('192.0.2.2', '192.0.2.1', 0xc0de, { type: SadbMsgType.UPDATE, auth: 0, enc: SadbEalg.AES_GCM_ICV16, encKey: key, mode: IpsecMode.TRANSPORT, replay: 4, seq: 0 });
    expectSameAsIproute2(ours(saAddToXfrm(m)), [
      'xfrm', 'state', 'update', 'src', '192.0.2.2', 'dst', '192.0.2.1', 'proto', 'esp', 'spi', '0xc0de', 'mode', 'transport',
      'replay-window', '4', 'aead', 'rfc4106(gcm(aes))', `0x${key.toString('hex')}`, '128', 'sel', 'src', '0.0.0.0/0', 'dst', '0.0.0.0/0',
    ]);
  });

  test('ADD ah hmac(sha1)-96 = ip xfrm state add proto ah auth-trunc hmac(sha1) ... 96', () => {
    const key = Buffer.alloc(20, 0x44);
    const m = espAdd('2001:db8::1', '2001:db8::2', 0x2000, { auth: SadbAalg.SHA1HMAC, authKey: key, enc: 0, encKey: Buffer.alloc(0), mode: IpsecMode.TRANSPORT, replay: 0, seq: 0 });
    m.satype = SadbSaType.AH;
    expectSameAsIproute2(ours(saAddToXfrm(m)), [
      'xfrm', 'state', 'add', 'src', '2001:db8::1', 'dst', '2001:db8::2', 'proto', 'ah', 'spi', '0x2000', 'mode', 'transport',
      'auth-trunc', 'hmac(sha1)', `0x${key.toString('hex')}`, '96', 'sel', 'src', '::/0', 'dst', '::/0',
    ]);
  });

  test('DELETE = ip xfrm state delete src ... dst ... proto esp spi (XFRM_MSG_DELSA + XFRMA_SRCADDR)', () => {
    const m = espAdd('192.0.2.1', '192.0.2.2', 0x1000, { type: SadbMsgType.DELETE });
    expectSameAsIproute2(ours(saIdToXfrm(m)), ['xfrm', 'state', 'delete', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x1000']);
  });

  test('GETSPI with SPIRANGE = ip xfrm state allocspi ... min max (XFRM_MSG_ALLOCSPI)', () => {
    const m = header(SadbMsgType.GETSPI, SadbSaType.ESP, 0);
    m.ext.addressSrc = addr('192.0.2.2', undefined, 0, 0);
    m.ext.addressDst = addr('192.0.2.1', undefined, 0, 0);
    m.ext.sa2 = { mode: IpsecMode.TUNNEL, sequence: 0, reqid: 3 };
    m.ext.spirange = { min: 0x100, max: 0xfff };
    expectSameAsIproute2(ours(getSpiToXfrm(m)), [
      'xfrm', 'state', 'allocspi', 'src', '192.0.2.2', 'dst', '192.0.2.1', 'proto', 'esp', 'mode', 'tunnel', 'reqid', '3',
      'min', '0x100', 'max', '0xfff',
    ], 'NLM_F_REQUEST');
  });
});

test('FLUSH esp = ip xfrm state flush proto esp (XFRM_MSG_FLUSHSA)', () => {
  expectSameAsIproute2({ type: XfrmMsgType.FLUSHSA, body: encodeXfrm({ type: XfrmMsgType.FLUSHSA, body: { proto: 50 }, attrs: {} }) }, [
    'xfrm', 'state', 'flush', 'proto', 'esp',
  ]);
});
