/**
 * describeMessage: names as pfkeyv2.h/ipsec.h spell them (what `setkey -x`
 * and pino logs show), JSON-safe for every message, keys redacted by default.
 */
import fc from 'fast-check';
import { describeMessage } from '../../src/pfkey/describe';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { pfKeyMessage } from './arbitraries';

const add: PfKeyMessage = {
  type: 3,
  satype: 3,
  errno: 0,
  seq: 9,
  pid: 4242,
  ext: {
    sa: { spi: 0x0a0b0c0d, replay: 4, state: 1, auth: 3, encrypt: 12, flags: 0 },
    sa2: { mode: 2, sequence: 0, reqid: 7 },
    addressDst: { proto: 255, prefixlen: 128, addr: { family: 10, address: '2001:db8::2', port: 500 } },
    keyEncrypt: { bits: 128, key: Buffer.alloc(16, 0xab) },
    lifetimeHard: { allocations: 0, bytes: 1024000n, addtime: 3600n, usetime: 0n },
    identitySrc: { type: 3, id: 0n, data: Buffer.from('racoon@example') },
    policy: { type: 2, dir: 3, id: 1, priority: 0, requests: [{ proto: 50, mode: 2, level: 3, reqid: 7 }] },
  },
  unknown: [{ type: 30, offset: 200, body: Buffer.from('02001e0000000000', 'hex') }],
};

/** Only null/boolean/finite number/string, arrays and plain objects of them. */
function plainJson(v: unknown): boolean {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(plainJson);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v as object).every(plainJson);
  return false;
}

describe('describeMessage', () => {
  it('names the message, satype, extensions and enum values', () => {
    expect(describeMessage(add)).toEqual({
      type: 'SADB_ADD',
      satype: 'ESP',
      errno: 0,
      seq: 9,
      pid: 4242,
      ext: {
        SADB_EXT_SA: { spi: '0x0a0b0c0d', replay: 4, state: 'MATURE', auth: 3, encrypt: 12, flags: 0 },
        SADB_X_EXT_SA2: { mode: 'TUNNEL', sequence: 0, reqid: 7 },
        SADB_EXT_ADDRESS_DST: { proto: 255, prefixlen: 128, addr: { addr: '[2001:db8::2]:500', family: 'inet6' } },
        SADB_EXT_KEY_ENCRYPT: { bits: 128, key: '<redacted 128 bits>' },
        SADB_EXT_LIFETIME_HARD: { allocations: 0, bytes: '1024000', addtime: '3600', usetime: '0' },
        SADB_EXT_IDENTITY_SRC: { type: 3, id: '0', data: 'racoon@example' },
        SADB_X_EXT_POLICY: { type: 'IPSEC', dir: 'FWD', id: 1, priority: 0, requests: [{ proto: 50, mode: 'TUNNEL', level: 'UNIQUE', reqid: 7 }] },
      },
      unknown: [{ type: 'SADB_EXT_UNKNOWN_30', offset: 200, length: 8 }],
    });
  });

  it('shows keys in hex only when asked (setkey -x)', () => {
    const d = describeMessage(add, { showKeys: true });
    expect(d.ext).toMatchObject({ SADB_EXT_KEY_ENCRYPT: { key: 'ab'.repeat(16) } });
  });

  it('is JSON-serialisable for every message (no bigint, no Buffer)', () => {
    fc.assert(
      fc.property(pfKeyMessage, (m) => {
        const d = describeMessage(m);
        expect(plainJson(d)).toBe(true);
        expect(Object.keys(d.ext as object)).toHaveLength(Object.keys(m.ext).length);
      }),
      { numRuns: 60 },
    );
  });
});
