/**
 * SADB semantics: RFC 2367 §3.1.1–§3.1.10 on the database itself, with the
 * Linux af_key/xfrm choices noted per test, and lifetimes (§2.3.3) driven by
 * a virtual clock.
 */
import { Errno, IPPROTO, IpsecMode, SadbSaState, SadbSaType } from '../../src/pfkey/constants';
import { VirtualClock } from '../../src/sadb/clock';
import { Sadb, type SaExpiryKind } from '../../src/sadb/sadb';
import { address, espSa, lifetime } from '../kernel/helpers';

function setup(random: () => number = Math.random) {
  const clock = new VirtualClock();
  const expired: Array<{ spi: number; kind: SaExpiryKind; state: SadbSaState }> = [];
  const sadb = new Sadb({ clock, random, onExpire: (sa, kind) => expired.push({ spi: sa.spi, kind, state: sa.state }) });
  return { clock, sadb, expired };
}

const req = (satype: SadbSaType, ext: Parameters<Sadb['add']>[0]['ext'], seq = 1) => ({ satype, seq, pid: 77, ext });

function ok<T>(r: { ok: true; value: T } | { ok: false; errno: number; reason: string }): T {
  if (!r.ok) throw new Error(`expected success, got errno ${r.errno}: ${r.reason}`);
  return r.value;
}

describe('GETSPI (RFC 2367 §3.1.1)', () => {
  it('creates a larval SA with an SPI inside SPIRANGE, never in the reserved 0-255', () => {
    const { sadb } = setup();
    const sa = ok(sadb.getspi(req(SadbSaType.ESP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1'), spirange: { min: 0, max: 300 } }, 5)));
    expect(sa.state).toBe(SadbSaState.LARVAL);
    expect(sa.spi).toBeGreaterThanOrEqual(256);
    expect(sa.spi).toBeLessThanOrEqual(300);
    expect(sadb.find('10.0.0.1', IPPROTO.ESP, sa.spi)).toBe(sa);
    expect(sadb.lookupInbound('10.0.0.1', IPPROTO.ESP, sa.spi)).toBeUndefined(); // larval SAs carry no traffic
  });

  it('never hands out an SPI twice for the same destination, even when the random source repeats', () => {
    const { sadb } = setup(() => 0.5);
    const spis = new Set<number>();
    for (let i = 0; i < 20; i++) spis.add(ok(sadb.getspi(req(SadbSaType.ESP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1'), spirange: { min: 1000, max: 1019 } }, 0))).spi);
    expect(spis.size).toBe(20);
    const full = sadb.getspi(req(SadbSaType.ESP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1'), spirange: { min: 1000, max: 1019 } }, 0));
    expect(full).toMatchObject({ ok: false, errno: Errno.ENOENT });
  });

  it('returns the same larval SA for a repeated seq (Linux xfrm_find_acq_byseq), a new one for another protocol', () => {
    const { sadb } = setup();
    const ext = { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') };
    const a = ok(sadb.getspi(req(SadbSaType.ESP, ext, 9)));
    const b = ok(sadb.getspi(req(SadbSaType.ESP, ext, 9)));
    const c = ok(sadb.getspi(req(SadbSaType.AH, ext, 9)));
    expect(b).toBe(a);
    expect(c.proto).toBe(IPPROTO.AH);
    expect(sadb.size).toBe(2);
  });

  it('refuses an inverted or reserved SPIRANGE and an unkeyable satype with EINVAL', () => {
    const { sadb } = setup();
    const base = { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') };
    expect(sadb.getspi(req(SadbSaType.ESP, { ...base, spirange: { min: 500, max: 400 } }))).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(sadb.getspi(req(SadbSaType.ESP, { ...base, spirange: { min: 1, max: 255 } }))).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(sadb.getspi(req(SadbSaType.RSVP, base))).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(sadb.getspi(req(SadbSaType.ESP, { addressDst: address('10.0.0.1') }))).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(sadb.size).toBe(0);
  });

  it('keeps IPComp CPIs within 16 bits (RFC 3173 §3.3)', () => {
    const { sadb } = setup();
    const sa = ok(sadb.getspi(req(SadbSaType.X_IPCOMP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') })));
    expect(sa.spi).toBeLessThanOrEqual(0xffff);
    expect(sadb.getspi(req(SadbSaType.X_IPCOMP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1'), spirange: { min: 0x100, max: 0x10000 } }))).toMatchObject({ ok: false, errno: Errno.EINVAL });
  });

  it('a larval SA never completed dies after 30 s with a hard EXPIRE (net.core.xfrm_acq_expires)', () => {
    const { sadb, clock, expired } = setup();
    const sa = ok(sadb.getspi(req(SadbSaType.ESP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') })));
    clock.advance(29_999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual([{ spi: sa.spi, kind: 'hard', state: SadbSaState.DEAD }]);
    expect(sadb.size).toBe(0);
  });
});

describe('UPDATE and ADD (RFC 2367 §3.1.2, §3.1.3)', () => {
  it('UPDATE turns the larval SA into a mature one with the keys and stops the larval timer', () => {
    const { sadb, clock, expired } = setup();
    const larval = ok(sadb.getspi(req(SadbSaType.ESP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') })));
    const sa = ok(sadb.update(req(SadbSaType.ESP, espSa('10.0.0.2', '10.0.0.1', larval.spi))));
    expect(sa.state).toBe(SadbSaState.MATURE);
    expect(sadb.lookupInbound('10.0.0.1', IPPROTO.ESP, larval.spi)).toBe(sa);
    clock.advance(60_000);
    expect(expired).toEqual([]);
  });

  it('UPDATE of an unknown SPI is ESRCH; ADD of an existing one is EEXIST, larval or not (xfrm_state_add)', () => {
    const { sadb } = setup();
    expect(sadb.update(req(SadbSaType.ESP, espSa('10.0.0.2', '10.0.0.1', 0x1234)))).toMatchObject({ ok: false, errno: Errno.ESRCH });
    ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.2', '10.0.0.1', 0x1234))));
    expect(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.9', '10.0.0.1', 0x1234)))).toMatchObject({ ok: false, errno: Errno.EEXIST });
    const larval = ok(sadb.getspi(req(SadbSaType.ESP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') })));
    expect(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.2', '10.0.0.1', larval.spi)))).toMatchObject({ ok: false, errno: Errno.EEXIST });
  });

  it('UPDATE of a mature, dying SA replaces its lifetimes and makes it mature again (xfrm_state_update)', () => {
    const { sadb, clock } = setup();
    ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x500, { lifetimeSoft: lifetime({ addtime: 10n }), lifetimeHard: lifetime({ addtime: 20n }) }))));
    clock.advance(10_000);
    expect(sadb.find('10.0.0.2', IPPROTO.ESP, 0x500)!.state).toBe(SadbSaState.DYING);
    const sa = ok(sadb.update(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x500, { lifetimeHard: lifetime({ addtime: 100n }) }))));
    expect(sa.state).toBe(SadbSaState.MATURE);
    clock.advance(30_000);
    expect(sadb.find('10.0.0.2', IPPROTO.ESP, 0x500)).toBe(sa);
  });

  it.each([
    ['unknown encryption algorithm', { sa: { spi: 0x300, replay: 0, state: 1, auth: 3, encrypt: 99, flags: 0 } }, Errno.ENOSYS],
    ['unknown auth algorithm', { sa: { spi: 0x300, replay: 0, state: 1, auth: 99, encrypt: 12, flags: 0 } }, Errno.ENOSYS],
    ['AES key of 100 bits', { keyEncrypt: { bits: 100, key: Buffer.alloc(13) } }, Errno.EINVAL],
    ['HMAC-SHA1 key missing', { keyAuth: undefined }, Errno.EINVAL],
    ['reserved SPI 255', { sa: { spi: 255, replay: 0, state: 1, auth: 3, encrypt: 12, flags: 0 } }, Errno.EINVAL],
    ['no SA extension', { sa: undefined }, Errno.EINVAL],
    ['mixed address families', { addressDst: address('2001:db8::1') }, Errno.EINVAL],
    ['prefixlen 33', { addressSrc: address('10.0.0.1', { prefixlen: 33 }) }, Errno.EINVAL],
  ])('ADD with %s is refused with the errno Linux gives and adds nothing', (_what, patch, errno) => {
    const { sadb } = setup();
    const ext = { ...espSa('10.0.0.1', '10.0.0.2', 0x300), ...patch };
    for (const k of Object.keys(ext) as (keyof typeof ext)[]) if (ext[k] === undefined) delete ext[k];
    expect(sadb.add(req(SadbSaType.ESP, ext))).toMatchObject({ ok: false, errno });
    expect(sadb.size).toBe(0);
  });

  it('an AEAD (AES-GCM-16, RFC 4106) takes key+salt bits and no auth algorithm', () => {
    const { sadb } = setup();
    const gcm = (spi: number, auth: number, bits: number) => ({
      sa: { spi, replay: 32, state: 1, auth, encrypt: 20, flags: 0 },
      addressSrc: address('10.0.0.1'),
      addressDst: address('10.0.0.2'),
      keyEncrypt: { bits, key: Buffer.alloc(bits / 8) },
    });
    ok(sadb.add(req(SadbSaType.ESP, gcm(0x900, 0, 160))));
    ok(sadb.add(req(SadbSaType.ESP, gcm(0x901, 0, 288))));
    expect(sadb.add(req(SadbSaType.ESP, gcm(0x902, 0, 128)))).toMatchObject({ ok: false, errno: Errno.EINVAL });
    expect(sadb.add(req(SadbSaType.ESP, { ...gcm(0x903, 3, 160), keyAuth: { bits: 160, key: Buffer.alloc(20) } }))).toMatchObject({ ok: false, errno: Errno.EINVAL });
  });

  it('IPComp SAs are refused with ENOSYS: no compressor is implemented (crypto registry)', () => {
    const { sadb } = setup();
    const ipcomp = { sa: { spi: 0x2000, replay: 0, state: 1, auth: 0, encrypt: 2, flags: 0 }, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') };
    expect(sadb.add(req(SadbSaType.X_IPCOMP, ipcomp))).toMatchObject({ ok: false, errno: Errno.ENOSYS });
  });

  it('AH needs an auth algorithm and no cipher', () => {
    const { sadb } = setup();
    const ah = { sa: { spi: 0x400, replay: 0, state: 1, auth: 3, encrypt: 0, flags: 0 }, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2'), keyAuth: { bits: 160, key: Buffer.alloc(20) } };
    ok(sadb.add(req(SadbSaType.AH, ah)));
    expect(sadb.add(req(SadbSaType.AH, { ...ah, sa: { ...ah.sa, spi: 0x401, encrypt: 12 } }))).toMatchObject({ ok: false, errno: Errno.EINVAL });
  });
});

describe('DELETE, GET, FLUSH, DUMP (RFC 2367 §3.1.4, §3.1.5, §3.1.9, §3.1.10)', () => {
  function three(sadb: Sadb) {
    ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x1001))));
    ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x1002))));
    ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.2', '10.0.0.1', 0x1003))));
    ok(sadb.add(req(SadbSaType.AH, { sa: { spi: 0x1004, replay: 0, state: 1, auth: 3, encrypt: 0, flags: 0 }, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2'), keyAuth: { bits: 160, key: Buffer.alloc(20) } })));
  }

  it('DELETE with an SA removes exactly that SA; a second DELETE is ESRCH', () => {
    const { sadb } = setup();
    three(sadb);
    const gone = ok(sadb.delete(req(SadbSaType.ESP, { sa: espSa('', '', 0x1002).sa, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') })));
    expect(gone.map((s) => s.spi)).toEqual([0x1002]);
    expect(gone[0].state).toBe(SadbSaState.DEAD);
    expect(sadb.size).toBe(3);
    expect(sadb.delete(req(SadbSaType.ESP, { sa: espSa('', '', 0x1002).sa, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') }))).toMatchObject({ ok: false, errno: Errno.ESRCH });
  });

  it('DELETE without an SA removes every SA of the satype for the src/dst pair (KAME key_delete_all)', () => {
    const { sadb } = setup();
    three(sadb);
    const gone = ok(sadb.delete(req(SadbSaType.ESP, { addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') })));
    expect(gone.map((s) => s.spi).sort()).toEqual([0x1001, 0x1002]);
    expect(sadb.list(SadbSaType.UNSPEC)!.map((s) => s.spi)).toEqual([0x1003, 0x1004]);
  });

  it('GET finds by (dst, satype, spi); FLUSH per satype leaves the others; DUMP is in insertion order', () => {
    const { sadb } = setup();
    three(sadb);
    expect(ok(sadb.get(req(SadbSaType.ESP, { sa: espSa('', '', 0x1003).sa, addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') }))).spi).toBe(0x1003);
    expect(sadb.get(req(SadbSaType.AH, { sa: espSa('', '', 0x1003).sa, addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') }))).toMatchObject({ ok: false, errno: Errno.ESRCH });
    expect(sadb.list(SadbSaType.ESP)!.map((s) => s.spi)).toEqual([0x1001, 0x1002, 0x1003]);
    ok(sadb.flush(SadbSaType.ESP));
    expect(sadb.list(SadbSaType.UNSPEC)!.map((s) => s.spi)).toEqual([0x1004]);
    ok(sadb.flush(SadbSaType.UNSPEC));
    expect(sadb.size).toBe(0);
  });
});

describe('lifetimes (RFC 2367 §2.3.3) on a virtual clock', () => {
  it('soft addtime raises one soft EXPIRE (MATURE → DYING), hard addtime a hard EXPIRE and deletion', () => {
    const { sadb, clock, expired } = setup();
    ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x600, { lifetimeSoft: lifetime({ addtime: 80n }), lifetimeHard: lifetime({ addtime: 100n }) }))));
    clock.advance(79_999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual([{ spi: 0x600, kind: 'soft', state: SadbSaState.DYING }]);
    clock.advance(19_999);
    expect(expired).toHaveLength(1);
    clock.advance(1);
    expect(expired[1]).toEqual({ spi: 0x600, kind: 'hard', state: SadbSaState.DEAD });
    expect(sadb.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('usetime counts from the first packet, not from the ADD', () => {
    const { sadb, clock, expired } = setup();
    const sa = ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x601, { lifetimeHard: lifetime({ usetime: 10n }) }))));
    clock.advance(50_000);
    expect(expired).toEqual([]);
    expect(sadb.account(sa, 100)).toBe(true);
    expect(sa.current.usetime).toBe(BigInt(Math.floor(clock.now() / 1000)));
    clock.advance(10_000);
    expect(expired).toEqual([{ spi: 0x601, kind: 'hard', state: SadbSaState.DEAD }]);
  });

  it('bytes: soft once when crossed, hard then deletion; a dead SA refuses further accounting', () => {
    const { sadb, expired } = setup();
    const sa = ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x602, { lifetimeSoft: lifetime({ bytes: 1000n }), lifetimeHard: lifetime({ bytes: 2000n }) }))));
    expect(sadb.account(sa, 600)).toBe(true);
    expect(expired).toEqual([]);
    expect(sadb.account(sa, 600)).toBe(true);
    expect(sadb.account(sa, 100)).toBe(true);
    expect(expired).toEqual([{ spi: 0x602, kind: 'soft', state: SadbSaState.DYING }]);
    expect(sadb.account(sa, 700)).toBe(true);
    expect(expired.map((e) => e.kind)).toEqual(['soft', 'hard']);
    expect(sa.current.bytes).toBe(2000n);
    expect(sadb.account(sa, 1)).toBe(false);
    expect(sadb.lookupInbound('10.0.0.2', IPPROTO.ESP, 0x602)).toBeUndefined();
  });

  it('allocations (packets, as Linux curlft.packets) raise soft and hard EXPIRE', () => {
    const { sadb, expired } = setup();
    const sa = ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x603, { lifetimeSoft: lifetime({ allocations: 2 }), lifetimeHard: lifetime({ allocations: 3 }) }))));
    sadb.account(sa, 1);
    expect(expired).toEqual([]);
    sadb.account(sa, 1);
    expect(expired.map((e) => e.kind)).toEqual(['soft']);
    sadb.account(sa, 1);
    expect(expired.map((e) => e.kind)).toEqual(['soft', 'hard']);
    expect(sa.current.allocations).toBe(3);
  });
});

describe('data-plane lookups', () => {
  it('outbound prefers a mature SA over a dying one, then the newest; reqid and mode filter', () => {
    const { sadb, clock } = setup();
    const sa2 = (reqid: number, mode: IpsecMode) => ({ sa2: { mode, sequence: 0, reqid } });
    const old = ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x701, { ...sa2(5, IpsecMode.TUNNEL), lifetimeSoft: lifetime({ addtime: 5n }) }))));
    clock.advance(1000);
    const newer = ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x702, sa2(5, IpsecMode.TUNNEL)))));
    const other = ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0x703, sa2(6, IpsecMode.TRANSPORT)))));
    expect(sadb.lookupOutbound('10.0.0.1', '10.0.0.2', IPPROTO.ESP, 5, IpsecMode.TUNNEL)).toBe(newer);
    expect(sadb.lookupOutbound('10.0.0.1', '10.0.0.2', IPPROTO.ESP, 6, IpsecMode.TUNNEL)).toBeUndefined();
    expect(sadb.lookupOutbound('10.0.0.1', '10.0.0.2', IPPROTO.ESP, 0, IpsecMode.TRANSPORT)).toBe(other);
    ok(sadb.delete(req(SadbSaType.ESP, { sa: newer.ext.sa, addressSrc: address('10.0.0.1'), addressDst: address('10.0.0.2') })));
    clock.advance(5000); // old is dying now
    expect(old.state).toBe(SadbSaState.DYING);
    expect(sadb.lookupOutbound('10.0.0.1', '10.0.0.2', IPPROTO.ESP, 5, IpsecMode.TUNNEL)).toBe(old);
  });
});

describe('replay state stored per SA', () => {
  it('the window size comes from sadb_sa_replay; counters start at zero; a larval SA has no window', () => {
    const { sadb } = setup();
    const sa = ok(sadb.add(req(SadbSaType.ESP, espSa('10.0.0.1', '10.0.0.2', 0xa00))));
    expect(sa.replay).toEqual({ window: 4, lastSeq: 0n, lastOutbound: 0n, replayDrops: 0, integrityFailures: 0 });
    const larval = ok(sadb.getspi(req(SadbSaType.ESP, { addressSrc: address('10.0.0.2'), addressDst: address('10.0.0.1') })));
    expect(larval.replay.window).toBe(0);
  });
});
