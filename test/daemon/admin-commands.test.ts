/**
 * The racoonctl commands racoon answers from its own state: show-schedule
 * (ADMIN_SHOW_SCHED, racoon's sched_dump: 32-byte scheddump rows, an empty
 * schedule is ac_errno -1), logout-user (ADMIN_LOGOUT_USER, racoon's
 * purgeph1bylogin: every phase 1 of that XAUTH login is deleted, the reply is
 * success either way) and the byte layout they use.
 */
import { SCHEDDUMP_LEN, decodeSchedDumps, encodeSchedDump, AdminWireError } from '../../src/daemon/admin/wire';
import { DaemonSchedule, XauthSessions } from '../../src/daemon/sessions';
import { formatSchedule } from '../../src/cli/racoonctl';

describe('scheddump (racoon schedule.h: time_t xtime, long id, time_t created, time_t tick)', () => {
  it('is 32 bytes, little-endian 64-bit fields at 0, 8, 16, 24', () => {
    const b = encodeSchedDump({ xtime: 1_700_000_100, id: 7, created: 1_700_000_000, tick: 100 });
    expect(b.length).toBe(SCHEDDUMP_LEN);
    expect(b.readBigInt64LE(0)).toBe(1_700_000_100n);
    expect(b.readBigInt64LE(8)).toBe(7n);
    expect(b.readBigInt64LE(16)).toBe(1_700_000_000n);
    expect(b.readBigInt64LE(24)).toBe(100n);
    expect(decodeSchedDumps(Buffer.concat([b, b]))).toEqual([
      { xtime: 1_700_000_100, id: 7, created: 1_700_000_000, tick: 100 },
      { xtime: 1_700_000_100, id: 7, created: 1_700_000_000, tick: 100 },
    ]);
  });

  it('a reply that is not whole rows is an error naming the offset of the partial row', () => {
    expect(() => decodeSchedDumps(Buffer.alloc(40))).toThrow(AdminWireError);
    expect(() => decodeSchedDumps(Buffer.alloc(40))).toThrow(/scheddump at byte 32/);
    expect(formatSchedule(Buffer.alloc(5))).toMatch(/^invalid schedule: scheddump at byte 0/);
  });
});

describe('DaemonSchedule', () => {
  it('dumps the armed timers soonest first, with tick = seconds from creation to firing; removed ones are gone', () => {
    const s = new DaemonSchedule();
    const a = s.add('ikev1 next timer', 1_700_000_030_000, 1_700_000_000_000);
    s.add('ikev2 next timer', 1_700_000_010_000, 1_700_000_000_000);
    expect(s.dump()).toEqual([
      { xtime: 1_700_000_010, id: 2, created: 1_700_000_000, tick: 10 },
      { xtime: 1_700_000_030, id: a, created: 1_700_000_000, tick: 30 },
    ]);
    s.remove(a);
    expect(s.dump().map((r) => r.id)).toEqual([2]);
    expect(formatSchedule(Buffer.concat(s.dump().map(encodeSchedDump)))).toBe('index    tick     xtime      created\n2        10       1700000010 2023-11-14 22:13:20\n');
  });
});

describe('XauthSessions (logout-user)', () => {
  it('purges every session of the login, and only those; the count is what racoon logs ("deleted N SA for user")', async () => {
    const x = new XauthSessions();
    const purged: string[] = [];
    x.register({ login: 'alice', peer: '192.0.2.1', purge: () => void purged.push('alice@192.0.2.1') });
    x.register({ login: 'alice', peer: '192.0.2.2', purge: async () => void purged.push('alice@192.0.2.2') });
    const bobGone = x.register({ login: 'bob', peer: '192.0.2.3', purge: () => void purged.push('bob') });
    expect(await x.logout('alice')).toBe(2);
    expect(purged.sort()).toEqual(['alice@192.0.2.1', 'alice@192.0.2.2']);
    expect(await x.logout('alice')).toBe(0);
    bobGone(); // the phase 1 went by itself: nothing to purge any more
    expect(await x.logout('bob')).toBe(0);
    expect(purged).not.toContain('bob');
  });
});
