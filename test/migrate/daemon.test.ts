/**
 * The daemon's MIGRATE handling (src/daemon/migrate.ts) on a real IKEv2
 * engine pair: racoon pk_recvmigrate's steps (racoon-compat.md §6) with the
 * K-bit semantics of RFC 6275 §6.1.7 — K set: the IKE SA moves and keeps its
 * ports and SPIs; K clear: it is abandoned and the next EXPIRE renegotiates;
 * phase 1 follows only the OUTBOUND MIGRATE; the SP hints take the new
 * endpoints; racoon's reqid-vs-level bug is not inherited.
 */
import pino from 'pino';
import { IPPROTO, IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage, SadbXIpsecRequest } from '../../src/pfkey/types';
import { MigrateHandler, migrateMessagesFor, parseMigrate, type KbitMode, type MigrateIkeView } from '../../src/daemon/migrate';
import { kernelEnv, KEYS, settle } from './helpers';
import { SpdCache } from '../../src/daemon/spd-cache';
import type { Ikev2Engine } from '../../src/ike/v2/engine';
import { ExchangeType } from '../../src/ike/v2/constants';
import { parseHeader } from '../../src/ike/v2/payloads';
import { VirtualNet } from '../ike/helpers/harness';
import { pskPair } from '../ike/helpers/configs';

const MN = '10.99.0.1';
const HA = '10.99.0.2';
const NEW_COA = '10.99.0.11';

const sa = (a: string, prefixlen: number) => ({ proto: 255, prefixlen, addr: { family: 2 as const, address: a, port: 0 } });
const tunnel = (src: string, dst: string, reqid = 7): SadbXIpsecRequest => ({
  proto: IPPROTO.ESP,
  mode: IpsecMode.TUNNEL,
  level: reqid ? IpsecLevel.UNIQUE : IpsecLevel.REQUIRE,
  reqid,
  src: { family: 2, address: src, port: 0 },
  dst: { family: 2, address: dst, port: 0 },
});

function spdadd(id: number, dir: IpsecDir, src: string, dst: string, rq: SadbXIpsecRequest): PfKeyMessage {
  return { type: SadbMsgType.X_SPDADD, satype: 0, errno: 0, seq: 1, pid: 1, ext: { addressSrc: sa(src, 24), addressDst: sa(dst, 24), policy: { type: IpsecPolicyType.IPSEC, dir, id, priority: 0, requests: [rq] } } };
}

function migrate(dir: IpsecDir, src: string, dst: string, old: SadbXIpsecRequest, nw: SadbXIpsecRequest, km?: [string, string]): PfKeyMessage {
  return {
    type: SadbMsgType.X_MIGRATE,
    satype: SadbSaType.ESP,
    errno: 0,
    seq: 0,
    pid: 0,
    ext: {
      ...(km ? { kmaddress: { local: { family: 2, address: km[0], port: 0 }, remote: { family: 2, address: km[1], port: 0 } } } : {}),
      addressSrc: sa(src, 24),
      addressDst: sa(dst, 24),
      policy: { type: IpsecPolicyType.IPSEC, dir, id: 0, priority: 0, requests: [old, nw] },
    },
  };
}

const view = (engine: Ikev2Engine): MigrateIkeView => ({
  ikeSas: () => engine.ikeSas(),
  moveIkeSa: (s, l, r) => engine.moveIkeSa(s, l, r),
  abandonIkeSa: (s, why) => engine.abandonIkeSa(s, why),
  dropIkeSa: (s) => void engine.deleteIkeSa(s, 0),
});

function mobileNode(kbit: KbitMode = 'kmaddress') {
  const net = new VirtualNet();
  const { a, b } = pskPair({ dpd: 30 });
  const A = net.add('MN', MN, [a], {}, 0xa0000000);
  const B = net.add('HA', HA, [b], {}, 0xb0000000);
  const spd = new SpdCache();
  spd.observe(spdadd(1, IpsecDir.OUTBOUND, '10.1.0.0', '10.2.0.0', tunnel(MN, HA, 7)));
  spd.observe(spdadd(8, IpsecDir.INBOUND, '10.2.0.0', '10.1.0.0', tunnel(HA, MN, 8)));
  const handler = new MigrateHandler({ kbit, log: pino({ level: 'silent' }) });
  return { net, A, B, spd, handler };
}

function establish(net: VirtualNet, A: ReturnType<VirtualNet['add']>) {
  A.engine.initiate('v2psk', 0);
  net.pump();
  expect(A.engine.ikeSas()[0].state).toBe('established');
  return A.engine.ikeSas()[0];
}

const OUT_K = migrate(IpsecDir.OUTBOUND, '10.1.0.0', '10.2.0.0', tunnel(MN, HA, 7), tunnel(NEW_COA, HA, 7), [NEW_COA, HA]);
const IN_K = migrate(IpsecDir.INBOUND, '10.2.0.0', '10.1.0.0', tunnel(HA, MN, 8), tunnel(HA, NEW_COA, 8), [NEW_COA, HA]);

describe('daemon MIGRATE handling (racoon pk_recvmigrate, RFC 6275 §6.1.7)', () => {
  it('K set (KMADDRESS): the OUTBOUND MIGRATE moves the IKE SA to the KMADDRESS keeping ports and SPIs; DPD then goes the new path, no IKE_SA_INIT', () => {
    const { net, A, B, spd, handler } = mobileNode();
    const before = establish(net, A);
    A.address = NEW_COA;
    const out = handler.handle(OUT_K, spd, view(A.engine));
    expect(out).toMatchObject({ kind: 'migrated', spid: 1, kbit: true, moved: [before.serial], abandoned: [], dropped: [] });
    const after = A.engine.ikeSas()[0];
    expect(after.local).toEqual({ address: NEW_COA, port: before.local.port });
    expect(after.remote).toEqual({ address: HA, port: before.remote.port });
    expect([after.spiI, after.spiR]).toEqual([before.spiI, before.spiR]);
    // SP hints: later ACQUIREs go to the new endpoints
    expect(SpdCache.peerOf(spd.get(1)!)).toEqual({ local: NEW_COA, remote: HA });
    // the home agent's daemon hears its own kernel's OUTBOUND MIGRATE (UMIP _ha_tnl_update) and moves its side
    const haSpd = new SpdCache();
    haSpd.observe(spdadd(1, IpsecDir.OUTBOUND, '10.2.0.0', '10.1.0.0', tunnel(HA, MN, 9)));
    const haOut = handler.handle(migrate(IpsecDir.OUTBOUND, '10.2.0.0', '10.1.0.0', tunnel(HA, MN, 9), tunnel(HA, NEW_COA, 9), [HA, NEW_COA]), haSpd, view(B.engine));
    expect(haOut).toMatchObject({ kind: 'migrated', kbit: true, moved: [B.engine.ikeSas()[0].serial] });
    expect(B.engine.ikeSas()[0].remote).toEqual({ address: NEW_COA, port: before.local.port });
    // DPD over the moved IKE SAs goes the new path both ways
    const sent = net.sent.length;
    net.advance(60 * 1000);
    const later = net.sent.slice(sent).map((w) => ({ type: parseHeader(w.data.readUInt32BE(0) === 0 ? w.data.subarray(4) : w.data), w }));
    expect(later.some((x) => x.type.ok && x.type.value.exchangeType === ExchangeType.IKE_SA_INIT)).toBe(false);
    expect(later.filter((x) => x.w.from.address === MN || x.w.to.address === MN)).toEqual([]);
    const dpd = later.filter((x) => x.type.ok && x.type.value.exchangeType === ExchangeType.INFORMATIONAL);
    expect(dpd.length).toBeGreaterThanOrEqual(2);
    expect(dpd[0].w.from).toEqual({ address: NEW_COA, port: before.local.port });
    expect(dpd[1].w.to.address).toBe(NEW_COA);
    expect(B.engine.ikeSas()[0].spiI).toBe(before.spiI);
  });

  it('the INBOUND MIGRATE updates the SP hints only; phase 1 follows the OUTBOUND one alone', () => {
    const { net, A, spd, handler } = mobileNode();
    const before = establish(net, A);
    const out = handler.handle(IN_K, spd, view(A.engine));
    expect(out).toMatchObject({ kind: 'migrated', spid: 8, moved: [], abandoned: [] });
    expect(A.engine.ikeSas()[0].local.address).toBe(before.local.address);
    expect(spd.get(8)!.policy.requests[0]).toMatchObject({ src: { address: HA }, dst: { address: NEW_COA } });
  });

  it('K clear (no KMADDRESS): the IKE SA is abandoned without a message to the old address; the EXPIRE of its CHILD_SA asks to renegotiate the policy, once', () => {
    const { net, A, spd, handler } = mobileNode();
    const before = establish(net, A);
    const sent = net.sent.length;
    const out = handler.handle(migrate(IpsecDir.OUTBOUND, '10.1.0.0', '10.2.0.0', tunnel(MN, HA, 7), tunnel(NEW_COA, HA, 7)), spd, view(A.engine));
    net.pump();
    expect(out).toMatchObject({ kind: 'migrated', kbit: false, abandoned: [before.serial], moved: [] });
    expect(A.engine.ikeSas()).toEqual([]);
    expect(net.sent.length).toBe(sent);
    expect(SpdCache.peerOf(spd.get(1)!)).toEqual({ local: NEW_COA, remote: HA });
    const expire: PfKeyMessage = { type: SadbMsgType.EXPIRE, satype: SadbSaType.ESP, errno: 0, seq: 0, pid: 0, ext: { sa: { spi: before.children[0].outboundSpi, replay: 0, state: 1, auth: 0, encrypt: 0, flags: 0 } } };
    expect(handler.renegotiationFor(expire)).toBe(1);
    expect(handler.renegotiationFor(expire)).toBeNull();
  });

  it("kbit 'off' abandons even with KMADDRESS; kbit 'on' moves even without it (to the tunnel pair's new endpoints)", () => {
    const off = mobileNode('off');
    establish(off.net, off.A);
    expect(off.handler.handle(OUT_K, off.spd, view(off.A.engine))).toMatchObject({ kbit: false, abandoned: [expect.any(Number)] });
    const on = mobileNode('on');
    const s = establish(on.net, on.A);
    expect(on.handler.handle(migrate(IpsecDir.OUTBOUND, '10.1.0.0', '10.2.0.0', tunnel(MN, HA, 7), tunnel(NEW_COA, HA, 7)), on.spd, view(on.A.engine))).toMatchObject({ kbit: true, moved: [s.serial] });
    expect(on.A.engine.ikeSas()[0].local.address).toBe(NEW_COA);
  });

  it('a negotiation we initiated is dropped and restarted for the policy; one we answered is dropped only', () => {
    const { net, A, B, spd, handler } = mobileNode();
    net.drop = () => true;
    A.engine.initiate('v2psk', 0);
    net.pump();
    expect(A.engine.ikeSas()[0].state).toBe('connecting');
    expect(handler.handle(OUT_K, spd, view(A.engine))).toMatchObject({ dropped: [expect.any(Number)], restart: [1] });
    expect(A.engine.ikeSas()).toEqual([]);
    // the HA side: a responder's half-open IKE SA with the MN
    const { net: n2, A: mn, B: ha } = mobileNode();
    n2.drop = (w) => w.from.address === HA;
    mn.engine.initiate('v2psk', 0);
    n2.pump();
    expect(ha.engine.ikeSas()[0]).toMatchObject({ role: 'responder', state: 'connecting' });
    const haSpd = new SpdCache();
    haSpd.observe(spdadd(1, IpsecDir.OUTBOUND, '10.2.0.0', '10.1.0.0', tunnel(HA, MN, 9)));
    const r = handler.handle(migrate(IpsecDir.OUTBOUND, '10.2.0.0', '10.1.0.0', tunnel(HA, MN, 9), tunnel(HA, NEW_COA, 9), [HA, NEW_COA]), haSpd, view(ha.engine));
    expect(r).toMatchObject({ dropped: [expect.any(Number)], restart: [] });
    expect(B.engine.ikeSas()).toEqual([]);
  });

  it.each<[string, PfKeyMessage, string]>([
    ['no X_POLICY', { ...OUT_K, ext: { addressSrc: OUT_K.ext.addressSrc, addressDst: OUT_K.ext.addressDst } }, 'invalid'],
    ['an odd number of requests', { ...OUT_K, ext: { ...OUT_K.ext, policy: { ...OUT_K.ext.policy!, requests: [tunnel(MN, HA)] } } }, 'invalid'],
    ['no cached policy for the selector', migrate(IpsecDir.OUTBOUND, '10.9.0.0', '10.2.0.0', tunnel(MN, HA, 7), tunnel(NEW_COA, HA, 7), [NEW_COA, HA]), 'no-policy'],
    // racoon checked reqid == IPSEC_LEVEL_UNIQUE (3): a reqid of 3 against the policy's 7 must not pass, and 7 must (first test)
    ["reqid 3 against the policy's 7", migrate(IpsecDir.OUTBOUND, '10.1.0.0', '10.2.0.0', tunnel(MN, HA, 3), tunnel(NEW_COA, HA, 3), [NEW_COA, HA]), 'mismatch'],
    ['old endpoints that are not the policy\'s', migrate(IpsecDir.OUTBOUND, '10.1.0.0', '10.2.0.0', tunnel('10.99.0.5', HA, 7), tunnel(NEW_COA, HA, 7), [NEW_COA, HA]), 'mismatch'],
  ])('%s: nothing moves', (_what, msg, kind) => {
    const { net, A, spd, handler } = mobileNode();
    const before = establish(net, A);
    expect(handler.handle(msg, spd, view(A.engine)).kind).toBe(kind);
    expect(A.engine.ikeSas()[0].local).toEqual(before.local);
    expect(SpdCache.peerOf(spd.get(1)!)).toEqual({ local: MN, remote: HA });
  });

  it('parseMigrate reads the Linux layout: KMADDRESS local first, (old, new) pairs in order', () => {
    const p = parseMigrate(OUT_K);
    expect(p.ok && p.value.kmaddress).toEqual({ local: NEW_COA, remote: HA });
    expect(p.ok && p.value.pairs.map((x) => [x.old.src!.address, x.new.src!.address])).toEqual([[MN, NEW_COA]]);
  });

  it("a remote's mip6_kbit overrides the MIGRATE's reading per IKE SA: 'off' abandons despite KMADDRESS, 'on' moves without it", () => {
    const off = mobileNode();
    establish(off.net, off.A);
    const offView: MigrateIkeView = { ...view(off.A.engine), ikeSas: () => off.A.engine.ikeSas().map((x) => ({ ...x, kbit: 'off' as const })) };
    expect(off.handler.handle(OUT_K, off.spd, offView)).toMatchObject({ moved: [], abandoned: [expect.any(Number)] });
    const on = mobileNode();
    const s = establish(on.net, on.A);
    const onView: MigrateIkeView = { ...view(on.A.engine), ikeSas: () => on.A.engine.ikeSas().map((x) => ({ ...x, kbit: 'on' as const })) };
    const noKm = migrate(IpsecDir.OUTBOUND, '10.1.0.0', '10.2.0.0', tunnel(MN, HA, 7), tunnel(NEW_COA, HA, 7));
    expect(on.handler.handle(noKm, on.spd, onView)).toMatchObject({ moved: [s.serial], abandoned: [] });
  });

  it('a MIGRATE the daemon sent itself (its own pid) updates the SP hints only', () => {
    const { net, A, spd } = mobileNode();
    const before = establish(net, A);
    const handler = new MigrateHandler({ kbit: 'kmaddress', log: pino({ level: 'silent' }), selfPid: 4242 });
    expect(handler.handle({ ...OUT_K, pid: 4242 }, spd, view(A.engine))).toMatchObject({ kind: 'migrated', moved: [], abandoned: [] });
    expect(A.engine.ikeSas()[0].local).toEqual(before.local);
    expect(SpdCache.peerOf(spd.get(1)!)).toEqual({ local: NEW_COA, remote: HA });
  });

  it('followPeerMoves: an IKE SA the peer moved (MOBIKE UPDATE_SA_ADDRESSES) yields MIGRATEs that the userspace kernel applies to the tunnel policies and SAs', async () => {
    const env = kernelEnv();
    // the home agent's kernel: tunnel policies (out, in + fwd) and SAs towards the MN's old address, a transport BU/BA policy
    const setup = `
spdadd 10.2.0.0/24 10.1.0.0/24 any -P out ipsec esp/tunnel/${HA}-${MN}/unique:9;
spdadd 10.1.0.0/24 10.2.0.0/24 any -P in ipsec esp/tunnel/${MN}-${HA}/unique:10;
spdadd 10.2.0.1 10.1.0.1 135 -P out ipsec esp/transport//require;
add ${HA} ${MN} esp 0x1001 -m tunnel -u 9 ${KEYS};
add ${MN} ${HA} esp 0x2001 -m tunnel -u 10 ${KEYS};
`;
    expect(await env.script(setup)).toEqual({ code: 0, out: '', err: '' });
    const km = await env.keyManager(77);
    const spd = new SpdCache();
    // racoon's startup SPDDUMP fills the SP cache
    await km.sock.request({ type: SadbMsgType.X_SPDDUMP, satype: 0, errno: 0, seq: 2, pid: 77, ext: {} });
    await settle();
    for (const m of km.seen) spd.observe(m);
    expect(spd.all().length).toBeGreaterThanOrEqual(3);
    const handler = new MigrateHandler({ kbit: 'kmaddress', log: pino({ level: 'silent' }), selfPid: 77 });
    const ike = (remote: string) => [{ serial: 1, role: 'responder' as const, state: 'established', local: { address: HA, port: 500 }, remote: { address: remote, port: 500 } }];
    let seq = 100;
    expect(handler.followPeerMoves(ike(MN), spd, { pid: 77, seq: () => seq++ })).toEqual([]); // first sight: recorded only
    const msgs = handler.followPeerMoves(ike(NEW_COA), spd, { pid: 77, seq: () => seq++ });
    expect(msgs.map((m) => IpsecDir[m.ext.policy!.dir]).sort()).toEqual(['FWD', 'INBOUND', 'OUTBOUND']);
    for (const m of msgs) {
      expect(m.ext.kmaddress).toMatchObject({ local: { address: HA }, remote: { address: NEW_COA } });
      const reply = await km.sock.request(m);
      expect(reply.errno).toBe(0);
    }
    const sad = (await env.setkey(['-D'])).out;
    expect(sad).toContain(`${HA} ${NEW_COA} \n\tesp mode=tunnel spi=4097(0x00001001)`);
    expect(sad).toContain(`${NEW_COA} ${HA} \n\tesp mode=tunnel spi=8193(0x00002001)`);
    const pol = (await env.setkey(['-DP'])).out;
    expect(pol).toContain(`esp/tunnel/${HA}-${NEW_COA}/unique:9`);
    expect(pol).toContain(`esp/tunnel/${NEW_COA}-${HA}/unique:10`);
    expect(pol).not.toContain(`${MN}-`);
    expect(pol).toContain('esp/transport//require');
    // unchanged addresses (a port float) produce nothing
    expect(handler.followPeerMoves([{ ...ike(NEW_COA)[0], remote: { address: NEW_COA, port: 4500 } }], spd, { pid: 77, seq: () => seq++ })).toEqual([]);
    expect(migrateMessagesFor(spd, { local: HA, remote: '10.99.9.9' }, { local: HA, remote: NEW_COA }, { pid: 77, seq: () => 1 })).toEqual([]);
  });
});
