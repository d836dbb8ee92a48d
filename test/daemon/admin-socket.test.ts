/**
 * The admin socket end to end: racoonctl's requests reach the daemon's handler
 * with the right decoded arguments, replies and streamed events come back
 * (ipsec-tools admin.c behaviour: one request per connection, SHOW_EVT and a
 * versioned ESTABLISH_SA keep the connection open).
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdminSocket, type AdminHandler } from '../../src/daemon/admin/server';
import { adminCall } from '../../src/daemon/admin/client';
import { AdminProto, EvtType, encodePh1Dump, type EvtAsync } from '../../src/daemon/admin/wire';
import { buildCommand, formatPh1Table, parseSaOpts, RacoonctlUsageError } from '../../src/cli/racoonctl';

const quietLog = { warn: () => undefined, debug: () => undefined };

function recordingHandler() {
  const calls: unknown[][] = [];
  const listeners = new Set<(e: EvtAsync) => void>();
  const h: AdminHandler = {
    reloadConfig: async () => (calls.push(['reload']), 0),
    showSa: async (proto) => {
      calls.push(['showSa', proto]);
      const row = encodePh1Dump({
        initiatorCookie: Buffer.from('0011223344556677', 'hex'),
        responderCookie: Buffer.from('8899aabbccddeeff', 'hex'),
        status: 9, side: 0, remote: { family: 2, address: '192.0.2.2', port: 500 }, local: { family: 2, address: '192.0.2.1', port: 500 },
        version: 0x10, etype: 2, created: 0, ph2cnt: 1,
      });
      return { errno: 0, payload: row };
    },
    flushSa: async (proto) => (calls.push(['flushSa', proto]), 0),
    deleteSa: async (proto, ix) => (calls.push(['deleteSa', proto, ix]), 0),
    establishSa: async (proto, ix, opts) => {
      calls.push(['establishSa', proto, ix, opts]);
      setTimeout(() => listeners.forEach((l) => l({ type: EvtType.PHASE2_UP, timestamp: 1, ph1src: null, ph1dst: null, ph2msgid: 7 })), 20);
      return 0;
    },
    deleteAllSaDst: async (ix) => (calls.push(['deleteAllSaDst', ix]), 2),
    logoutUser: async (login) => (calls.push(['logout', login]), 0),
    getSaCert: async () => ({ errno: 2 }),
    showSchedule: async () => ({ errno: -1 }),
    status: async () => 'ok\n',
    onEvent: (l) => (listeners.add(l), () => listeners.delete(l)),
  };
  return { h, calls };
}

describe('admin socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-admin-'));
  const path = join(dir, 'racoon.sock');
  const rec = recordingHandler();
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ close } = await startAdminSocket({ path }, rec.h, quietLog));
  });
  afterAll(async () => close());

  it('is created with racoon\'s default mode 0600', () => {
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('delete-sa esp decodes the selector racoonctl sends', async () => {
    const cmd = buildCommand(['delete-sa', 'esp', 'inet', '10.1.0.0/24[any]', '10.2.0.5[80]', 'tcp']);
    const res = await adminCall(path, cmd.request);
    expect(res.errno).toBe(0);
    expect(rec.calls.at(-1)).toEqual([
      'deleteSa',
      AdminProto.ESP,
      { prefs: 24, prefd: 32, ulProto: 6, src: { family: 2, address: '10.1.0.0', port: 0 }, dst: { family: 2, address: '10.2.0.5', port: 80 } },
    ]);
  });

  it('an errno from the handler comes back as ac_errno (ENOENT for vpn-disconnect of an unknown gateway)', async () => {
    const cmd = buildCommand(['vpn-disconnect', '198.51.100.9']);
    const res = await adminCall(path, cmd.request);
    expect(res.errno).toBe(2);
  });

  it('establish-sa -w streams events until PHASE2_UP', async () => {
    const seen: number[] = [];
    const cmd = buildCommand(['establish-sa', '-w', 'esp', 'inet', '10.1.0.1', '10.2.0.1']);
    const res = await adminCall(path, cmd.request, { untilEvent: (e) => (seen.push(e.type), cmd.waitFor!(e)) });
    expect(res.errno).toBe(0);
    expect(seen).toEqual([EvtType.PHASE2_UP]);
  });

  it('show-sa isakmp prints racoonctl\'s table', async () => {
    const res = await adminCall(path, buildCommand(['ss', 'isakmp']).request);
    const text = formatPh1Table(res.payload, 0);
    expect(text.split('\n')[0]).toBe('Destination            Cookies                           Created');
    expect(text.split('\n')[1]).toMatch(/^192\.0\.2\.2\.500\s+0011223344556677:8899aabbccddeeff  /);
  });

  it('a truncated request is dropped and the server keeps serving', async () => {
    const bad = Buffer.from([20, 0, 0x01, 0x82, 1, 0, 0xff, 0x01, 1, 2]); // says 20 bytes, sends 10, then closes
    const { createConnection } = await import('node:net');
    await new Promise<void>((resolve) => {
      const s = createConnection(path, () => s.end(bad));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    const res = await adminCall(path, buildCommand(['rc']).request);
    expect(res.errno).toBe(0);
    expect(rec.calls.at(-1)).toEqual(['reload']);
  });

  it('rejects malformed saopts with a usage error', () => {
    expect(() => parseSaOpts(['esp', 'inet', '10.1.0.1'])).toThrow(RacoonctlUsageError);
    expect(() => parseSaOpts(['isakmp', 'inet6', '10.1.0.1', '10.1.0.2'])).toThrow(/not an inet6 address/);
    expect(() => buildCommand(['frobnicate'])).toThrow(/unknown command/);
  });
});
