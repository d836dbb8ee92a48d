/**
 * Malformed input: every decode failure is a typed error naming the byte
 * offset and the rule (RFC 2367 §2.3/§2.4 lengths, Linux af_key's
 * verify_*_len and parse_ipsecrequests checks, ipsec-tools parse_kmaddress),
 * and the decoder never throws. Unknown extension types are skipped, not
 * fatal (libipsec's EIPSEC_INVAL_EXTTYPE on SADB_X_EXT_FILTER broke racoon).
 */
import fc from 'fast-check';
import { decodeMessage, decodeSockAddr, encodeMessage, PfKeyEncodeError } from '../../src/pfkey/codec';
import type { SadbMsgType } from '../../src/pfkey/constants';
import type { PfKeyDecodeResult, PfKeyMessage } from '../../src/pfkey/types';
import { pfKeyMessage, smallPfKeyMessage } from './arbitraries';

const h = (s: string): string => s.replace(/\s+/g, '');
/** A message of the given extension hex with a correct sadb_msg_len. */
function msg(...exts: string[]): Buffer {
  const body = Buffer.from(h(exts.join('')), 'hex');
  const head = Buffer.from(h('02 03 00 03 0000 0000 01000000 02000000'), 'hex');
  head.writeUInt16LE((16 + body.length) / 8, 4);
  return Buffer.concat([head, body]);
}
const sin = (addr: string): string => `0200 0000 ${addr} 0000000000000000`;
const SRC = '0300 0500 ff 20 0000' + sin('c0000201');

function expectError(r: PfKeyDecodeResult, rule: string, offset: number): void {
  if (r.ok) throw new Error(`expected ${rule}, decoded ${JSON.stringify(Object.keys(r.msg.ext))}`);
  expect(r.error.rule).toBe(rule);
  expect(r.error.offset).toBe(offset);
  expect(r.error.message.length).toBeGreaterThan(0);
}

describe('decodeMessage typed errors', () => {
  it.each<[string, Buffer, string, number]>([
    ['empty buffer', Buffer.alloc(0), 'msg-short-header', 0],
    ['15-byte header', Buffer.alloc(15), 'msg-short-header', 15],
    ['PF_KEY_V1 version', Buffer.from(h('01 03 00 03 0200 0000 00000000 00000000'), 'hex'), 'msg-version', 0],
    ['message type 25 > SADB_MAX', Buffer.from(h('02 19 00 03 0200 0000 00000000 00000000'), 'hex'), 'msg-type', 1],
    ['sadb_msg_len 3 words for 16 bytes', Buffer.from(h('02 03 00 03 0300 0000 00000000 00000000'), 'hex'), 'msg-len', 4],
    ['sadb_msg_len 0', Buffer.from(h('02 03 00 03 0000 0000 00000000 00000000'), 'hex'), 'msg-len', 4],
    ['ext len 0', msg('0000 0100 00000000'), 'ext-len-zero', 16],
    ['ext len overruns', msg('0300 0100 00000000'), 'ext-len-overrun', 16],
    ['ext type 0 reserved', msg('0100 0000 00000000'), 'ext-type-reserved', 18],
    ['duplicate SRC', msg(SRC, SRC), 'ext-duplicate', 42],
    ['sadb_sa of 8 bytes', msg('0100 0100 00000000'), 'ext-too-short', 16],
    ['sadb_lifetime of 16 bytes', msg('0200 0300 00000000 0000000000000000'), 'ext-too-short', 16],
    ['sadb_x_filter of 32 bytes', msg('0400 1a00' + '00'.repeat(28)), 'ext-too-short', 16],
    ['sockaddr family 1 (AF_UNIX)', msg('0300 0500 ff 20 0000 0100 0000 c0000201 0000000000000000'), 'sockaddr-family', 24],
    ['sockaddr_in6 in a 16-byte slot', msg('0300 0500 ff 20 0000 0a00 0000 c0000201 0000000000000000'), 'sockaddr-len', 24],
    ['IPv4 prefixlen 33', msg('0300 0500 ff 21 0000' + sin('c0000201')), 'address-prefixlen', 21],
    ['key bits 128 in 8 key bytes', msg('0200 0900 8000 0000 0001020304050607'), 'key-bits-overrun', 20],
    ['sens_len 2 words with none present', msg('0200 0c00 00000000 00 02 00 00 00000000'), 'sens-bitmap-overrun', 25],
    ['proposal tail of 8 bytes', msg('0200 0d00 20000000 0000000000000000'), 'prop-comb-len', 24],
    ['sec ctx len 20 in 16 bytes', msg('0200 1800 01 01 1400 0000000000000000'), 'sec-ctx-len', 22],
    ['sec ctx with an extra word', msg('0300 1800 01 01 0400 61626364 00000000 0000000000000000'), 'sec-ctx-len', 22],
    ['ipsecrequest len 12', msg('0400 1200 0200 02 00 00000000 00000000', '0c00 3200 02 02 0000 00000000 00000000'), 'ipsecrequest-len', 32],
    ['ipsecrequest len 64 past the policy', msg('0400 1200 0200 02 00 00000000 00000000', '4000 3200 02 02 0000 00000000 00000000'), 'ipsecrequest-len', 32],
    [
      'ipsecrequest len 56 with a v4 pair (want 48)',
      msg('0900 1200 0200 02 00 00000000 00000000', '3800 3200 02 02 0000 00000000 00000000', sin('c0000201'), sin('c0000202'), '0000000000000000'),
      'ipsecrequest-len',
      32,
    ],
    [
      'ipsecrequest pair with mixed families',
      msg('0800 1200 0200 02 00 00000000 00000000', '3000 3200 02 02 0000 00000000 00000000', sin('c0000201'), '0a00 0000 c0000202 0000000000000000'),
      'ipsecrequest-family',
      64,
    ],
    ['KMADDRESS with mixed families', msg('0500 1900 00000000', sin('c0000201'), '0a00 0000 c0000202 0000000000000000'), 'kmaddress-family', 40],
    ['KMADDRESS longer than ALIGN8(2·salen)', msg('0600 1900 00000000', sin('c0000201'), sin('c0000202'), '0000000000000000'), 'kmaddress-len', 16],
    ['KMADDRESS with one sockaddr', msg('0300 1900 00000000', sin('c0000201')), 'sockaddr-short', 40],
    ['filter family 7', msg('0500 1a00' + '00'.repeat(32) + '0700 0000'), 'filter-family', 52],
    ['filter IPv4 splen 40', msg('0500 1a00' + '00'.repeat(32) + '0200 2800'), 'filter-prefixlen', 54],
  ])('%s', (_name, buf, rule, offset) => {
    expectError(decodeMessage(buf), rule, offset);
  });

  it('skips an unknown extension type (27) and reports it, keeping the rest of the message', () => {
    const unknownExt = '0200 1b00 01020304 05060708 090a0b0c';
    const buf = msg(SRC, unknownExt);
    const r = decodeMessage(buf);
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.msg.ext.addressSrc?.addr.address).toBe('192.0.2.1');
    expect(r.msg.unknown).toEqual([{ type: 27, offset: 40, body: Buffer.from(h(unknownExt), 'hex') }]);
    expect(r.warnings).toEqual(['unknown extension type 27 at offset 40 (16 bytes) skipped']);
    // the unknown extension is re-emitted verbatim
    expect(encodeMessage(r.msg).equals(buf)).toBe(true);
  });

  it('accepts trailing padding inside a fixed extension with a warning (af_key checks minimum lengths)', () => {
    const r = decodeMessage(msg('0200 1400 02 000000 0000000000000000'));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.msg.ext.natTType).toEqual({ type: 2 });
    expect(r.warnings).toEqual(['SADB_X_EXT_NAT_T_TYPE at offset 16: 8 trailing bytes ignored']);
  });

  it('warns about an unknown enum value but decodes it', () => {
    const r = decodeMessage(msg('0200 1300 09 00 0000 00000000 00000000'));
    expect(r.ok && r.msg.ext.sa2?.mode).toBe(9);
    expect(r.ok && r.warnings).toEqual(['SADB_X_EXT_SA2 at offset 16: unknown mode 9']);
  });

  it('warns about an unknown ipsecrequest level (enum names live in the layout table)', () => {
    const r = decodeMessage(msg('0400 1200 0200 02 00 00000000 00000000', '1000 3200 01 07 0000 00000000 00000000'));
    expect(r.ok && r.warnings).toEqual(['sadb_x_ipsecrequest at offset 32: unknown level 7']);
  });

  it('decodeSockAddr reports offsets within the given buffer', () => {
    expect(decodeSockAddr(Buffer.from('0200', 'hex'))).toEqual({
      ok: false,
      error: { offset: 0, rule: 'sockaddr-len', message: 'sockaddr_in needs 16 bytes, 2 left' },
    });
    expect(decodeSockAddr(Buffer.alloc(40), 30)).toMatchObject({ ok: false, error: { offset: 30, rule: 'sockaddr-family' } });
  });
});

describe('encodeMessage rejects invalid models with PfKeyEncodeError', () => {
  const base: PfKeyMessage = { type: 3, satype: 3, errno: 0, seq: 0, pid: 0, ext: {} };
  const addr = { proto: 255, prefixlen: 32, addr: { family: 2 as const, address: '192.0.2.1', port: 0 } };
  it.each<[string, PfKeyMessage, string, string]>([
    ['a key longer than its bits', { ...base, ext: { keyAuth: { bits: 64, key: Buffer.alloc(9) } } }, 'key-length', 'ext.keyAuth.key'],
    ['an identity ending in NUL', { ...base, ext: { identityDst: { type: 1, id: 0n, data: Buffer.from('a\0') } } }, 'ident-trailing-nul', 'ext.identityDst.data'],
    ['spi beyond u32', { ...base, ext: { sa: { spi: 2 ** 32, replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 } } }, 'field-range', 'ext.sa.spi'],
    ['a fractional seq', { ...base, seq: 1.5 }, 'field-range', 'seq'],
    ['message type 25', { ...base, type: 25 as SadbMsgType }, 'msg-type', 'type'],
    ['an IPv6 text in an AF_INET sockaddr', { ...base, ext: { addressSrc: { ...addr, addr: { family: 2, address: '::1', port: 0 } } } }, 'address-text', 'ext.addressSrc.addr.address'],
    ['IPv4 prefixlen 33', { ...base, ext: { addressSrc: { ...addr, prefixlen: 33 } } }, 'address-prefixlen', 'ext.addressSrc.prefixlen'],
    [
      'a tunnel request with only src',
      { ...base, ext: { policy: { type: 2, dir: 1, id: 0, priority: 0, requests: [{ proto: 50, mode: 2, level: 2, reqid: 0, src: addr.addr }] } } },
      'ipsecrequest-endpoints',
      'ext.policy.requests[0]',
    ],
    [
      'KMADDRESS with mixed families',
      { ...base, ext: { kmaddress: { local: addr.addr, remote: { family: 10, address: '::1', port: 0 } } } },
      'sockaddr-pair-family',
      'ext.kmaddress',
    ],
    ['lifetime bytes as a number', { ...base, ext: { lifetimeHard: { allocations: 0, bytes: 5 as unknown as bigint, addtime: 0n, usetime: 0n } } }, 'field-range', 'ext.lifetimeHard.bytes'],
    ['a filter prefix beyond the family', { ...base, ext: { filter: { family: 2, saddr: '1.2.3.4', daddr: '1.2.3.4', splen: 33, dplen: 0 } } }, 'filter-prefixlen', 'ext.filter'],
  ])('%s', (_name, m, rule, path) => {
    let caught: unknown;
    try {
      encodeMessage(m);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PfKeyEncodeError);
    expect(caught).toMatchObject({ rule, path });
  });
});

/** A small deterministic PRNG (xorshift32) so the fuzz corpus is reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function checkTyped(buf: Buffer): PfKeyDecodeResult {
  let r: PfKeyDecodeResult;
  try {
    r = decodeMessage(buf);
  } catch (e) {
    throw new Error(`decodeMessage threw on ${buf.toString('hex')}: ${String(e)}`);
  }
  if (!r.ok) {
    if (r.error.rule === 'internal' || r.error.offset < 0 || r.error.offset > buf.length || !Number.isInteger(r.error.offset)) {
      throw new Error(`bad error ${JSON.stringify(r.error)} for ${buf.toString('hex')}`);
    }
  }
  return r;
}

describe('decodeMessage never throws', () => {
  const seeds = [
    ...fc.sample(smallPfKeyMessage, { numRuns: 230, seed: 2367 }),
    ...fc.sample(pfKeyMessage, { numRuns: 20, seed: 2367 }),
  ].map((m) => encodeMessage(m));

  it('on ≥100,000 random and mutated buffers; every result is ok or a typed error with an in-range offset', () => {
    const next = rng(0x2367);
    let fed = 0;
    let ok = 0;
    const rules = new Set<string>();
    const feed = (b: Buffer): void => {
      const r = checkTyped(b);
      fed++;
      if (r.ok) ok++;
      else rules.add(r.error.rule);
    };
    // 1. purely random buffers, with and without a plausible header
    for (let i = 0; i < 10000; i++) {
      const n = next() % 200;
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = next() & 0xff;
      feed(b);
      if (n >= 16 && n % 8 === 0) {
        b[0] = 2;
        b[1] = next() % 25;
        b.writeUInt16LE(n / 8, 4);
        feed(b);
      }
    }
    // 2. mutations of valid messages, keeping sadb_msg_len consistent so the extension walker is reached
    for (const seed of seeds) {
      for (let i = 0; i < 380; i++) {
        const b = Buffer.from(seed);
        const edits = 1 + (next() % 4);
        for (let e = 0; e < edits; e++) {
          const at = 16 + (next() % Math.max(1, b.length - 16));
          if (at >= b.length) break;
          switch (next() % 4) {
            case 0:
              b[at] = next() & 0xff;
              break;
            case 1:
              b[at] ^= 1 << (next() % 8);
              break;
            case 2:
              if (at + 1 < b.length) b.writeUInt16LE(next() % 8, at); // small lengths, families, counts
              break;
            case 3:
              if (at + 1 < b.length) b.writeUInt16LE([2, 10, 0, 0xffff][next() % 4], at);
              break;
          }
        }
        feed(b);
      }
    }
    expect(fed).toBeGreaterThanOrEqual(100000);
    // the corpus reaches deep rules, not only header checks
    for (const rule of ['msg-version', 'msg-len', 'ext-len-overrun', 'ext-duplicate', 'sockaddr-family', 'ipsecrequest-len', 'ext-too-short']) {
      expect(rules).toContain(rule);
    }
    expect(ok).toBeGreaterThan(0);
  });

  it('every truncation of a valid message is a typed error', () => {
    const decodedTruncations: string[] = [];
    for (const wire of seeds) {
      for (let n = 0; n < wire.length; n++) {
        if (checkTyped(wire.subarray(0, n)).ok) decodedTruncations.push(wire.subarray(0, n).toString('hex'));
      }
    }
    expect(decodedTruncations).toEqual([]);
  });

  it('a truncation with sadb_msg_len patched decodes only when cut on an extension boundary', () => {
    const wrong: string[] = [];
    for (const wire of seeds) {
      const boundaries = new Set<number>([16]);
      for (let o = 16; o < wire.length; o += wire.readUInt16LE(o) * 8) boundaries.add(o + wire.readUInt16LE(o) * 8);
      for (let n = 16; n < wire.length; n += 8) {
        const b = Buffer.from(wire.subarray(0, n));
        b.writeUInt16LE(n / 8, 4);
        const r = checkTyped(b);
        if (r.ok !== boundaries.has(n) || (!r.ok && r.error.rule !== 'ext-len-overrun')) wrong.push(`${n}/${wire.length}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('encodeMessage on values of the wrong shape (untyped callers)', () => {
  it('throws only PfKeyEncodeError, or encodes something that decodes', () => {
    const keys = ['sa', 'lifetimeHard', 'addressSrc', 'keyAuth', 'identitySrc', 'sensitivity', 'proposal', 'supportedAuth', 'policy', 'secCtx', 'kmaddress', 'filter', 'natTSport'];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true }), (key, junk) => {
        const m = { type: 3, satype: 3, errno: 0, seq: 0, pid: 0, ext: { [key]: junk } } as unknown as PfKeyMessage;
        try {
          expect(decodeMessage(encodeMessage(m)).ok).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(PfKeyEncodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('junk in the header fields, ext or unknown list is a PfKeyEncodeError', () => {
    fc.assert(
      fc.property(fc.constantFrom('type', 'seq', 'pid', 'errno', 'satype', 'reserved', 'ext', 'unknown'), fc.anything({ withBigInt: true }), (field, junk) => {
        const m = { type: 3, satype: 3, errno: 0, seq: 0, pid: 0, ext: {}, [field]: junk } as unknown as PfKeyMessage;
        try {
          expect(decodeMessage(encodeMessage(m)).ok).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(PfKeyEncodeError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
