/**
 * Golden bytes computed by hand from the C layouts in Linux
 * include/uapi/linux/pfkeyv2.h (x86_64: host-order little-endian fields,
 * SPI and ports in network order, sockaddr without sa_len, AF_INET6 = 10).
 * Each message below is written field by field with its struct offsets.
 */
import { decodeMessage, encodeMessage } from '../../src/pfkey/codec';
import type { PfKeyMessage } from '../../src/pfkey/types';

const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
const zeros = (n: number): string => '00'.repeat(n);

/** sockaddr_in: sin_family u16 LE, sin_port be16, sin_addr, sin_zero[8] (16 bytes). */
const sin = (addr: string, port = '0000'): string => `0200 ${port} ${addr} ${zeros(8)}`;
/** sockaddr_in6: family u16 LE, port be16, flowinfo be32, addr[16], scope_id u32 LE (28 bytes). */
const sin6 = (addr: string, port = '0000'): string => `0a00 ${port} 00000000 ${addr} 00000000`;

function pin(name: string, msg: PfKeyMessage, wire: Buffer): void {
  describe(name, () => {
    it('encodes to the C layout byte for byte', () => {
      expect(encodeMessage(msg).toString('hex')).toBe(wire.toString('hex'));
    });
    it('decodes the C layout to the model', () => {
      const r = decodeMessage(wire);
      expect(r).toEqual({ ok: true, msg, warnings: [] });
    });
  });
}

// racoon quick_i1prep → libipsec pfkey_send_getspi for IPComp: sadb_msg, SA2, SRC, DST, SPIRANGE 0x100–0xffff
// (racoon-compat.md §5 "Phase-2 sequence" step 2).
pin(
  'racoon-style SADB_GETSPI with SA2 + SPIRANGE',
  {
    type: 1,
    satype: 9,
    errno: 0,
    seq: 7,
    pid: 1234,
    ext: {
      sa2: { mode: 2, sequence: 0, reqid: 16385 },
      addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.2', port: 0 } },
      addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.1', port: 0 } },
      spirange: { min: 0x100, max: 0xffff },
    },
  },
  hex(
    // sadb_msg: version 2, type GETSPI 1, errno 0, satype IPCOMP 9, len 12 words, reserved, seq 7, pid 1234
    '02 01 00 09  0c00 0000  07000000  d2040000',
    // sadb_x_sa2: len 2, type 19, mode tunnel 2, reserved1, reserved2, sequence 0, reqid 16385 (0x4001)
    '0200 1300  02 00 0000  00000000  01400000',
    // sadb_address SRC: len 3, type 5, proto 255, prefixlen 32, reserved; sockaddr_in 192.0.2.2
    '0300 0500  ff 20 0000', sin('c0000202'),
    '0300 0600  ff 20 0000', sin('c0000201'),
    // sadb_spirange: len 2, type 16, min 0x100, max 0xffff (host order), reserved
    '0200 1000  00010000  ffff0000  00000000',
  ),
);

// setkey: spdadd 10.0.1.0/24 10.0.2.0/24 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;
// Linux sadb_x_ipsecrequest is 16 bytes, its len counts bytes: 16 + 2·16 = 48.
pin(
  'SADB_X_SPDADD with a tunnel ipsecrequest',
  {
    type: 14,
    satype: 0,
    errno: 0,
    seq: 1,
    pid: 100,
    ext: {
      addressSrc: { proto: 255, prefixlen: 24, addr: { family: 2, address: '10.0.1.0', port: 0 } },
      addressDst: { proto: 255, prefixlen: 24, addr: { family: 2, address: '10.0.2.0', port: 0 } },
      policy: {
        type: 2,
        dir: 2,
        id: 0,
        priority: 0x80000000,
        requests: [
          {
            proto: 50,
            mode: 2,
            level: 2,
            reqid: 0,
            src: { family: 2, address: '192.0.2.1', port: 0 },
            dst: { family: 2, address: '192.0.2.2', port: 0 },
          },
        ],
      },
    },
  },
  hex(
    '02 0e 00 00  1000 0000  01000000  64000000',
    '0300 0500  ff 18 0000', sin('0a000100'),
    '0300 0600  ff 18 0000', sin('0a000200'),
    // sadb_x_policy: len 8 words, type 18, policy type IPSEC 2 (u16), dir OUT 2, reserved, id 0, priority 0x80000000
    '0800 1200  0200 02 00  00000000  00000080',
    // sadb_x_ipsecrequest: len 48 bytes, proto ESP 50, mode tunnel 2, level require 2, reserved1, reqid 0, reserved2
    '3000 3200  02 02 0000  00000000  00000000',
    sin('c0000201'),
    sin('c0000202'),
  ),
);

// Linux af_key pfkey_send_migrate shape (test-material.md §3.3): sadb_msg{X_MIGRATE 24, satype ESP, seq 0, pid 0},
// KMADDRESS(local, remote), SRC/DST selector, X_POLICY{IPSEC, dir out} + (old, new) ipsecrequest pair.
// The new request switches to IPv6: 16 + ALIGN8(2·28) = 72 bytes, the two sockaddr_in6 back to back (dst at +44).
pin(
  'af_key SADB_X_MIGRATE with KMADDRESS and an (old, new) request pair',
  {
    type: 24,
    satype: 3,
    errno: 0,
    seq: 0,
    pid: 0,
    ext: {
      kmaddress: { local: { family: 2, address: '192.0.2.10', port: 0 }, remote: { family: 2, address: '198.51.100.1', port: 0 } },
      addressSrc: { proto: 255, prefixlen: 128, addr: { family: 10, address: '2001:db8:1::100', port: 0 } },
      addressDst: { proto: 255, prefixlen: 128, addr: { family: 10, address: '2001:db8:2::200', port: 0 } },
      policy: {
        type: 2,
        dir: 2,
        id: 0,
        priority: 0,
        requests: [
          {
            proto: 50,
            mode: 2,
            level: 3,
            reqid: 5,
            src: { family: 2, address: '192.0.2.1', port: 0 },
            dst: { family: 2, address: '198.51.100.1', port: 0 },
          },
          {
            proto: 50,
            mode: 2,
            level: 3,
            reqid: 5,
            src: { family: 10, address: '2001:db8:3::10', port: 0 },
            dst: { family: 10, address: '2001:db8:2::1', port: 0 },
          },
        ],
      },
    },
  },
  hex(
    // 16 + 40 + 40 + 40 + 136 = 272 bytes = 34 words
    '02 18 00 03  2200 0000  00000000  00000000',
    // sadb_x_kmaddress: len 5 words (8 + ALIGN8(2·16) = 40), type 25, reserved; local then remote
    '0500 1900  00000000', sin('c000020a'), sin('c6336401'),
    // sadb_address: len 5 words (8 + ALIGN8(28) = 40), proto 255, prefixlen 128; sockaddr_in6 + 4 pad
    '0500 0500  ff 80 0000', sin6('20010db8000100000000000000000100'), zeros(4),
    '0500 0600  ff 80 0000', sin6('20010db8000200000000000000000200'), zeros(4),
    // sadb_x_policy: len 17 words (16 + 48 + 72 = 136), IPSEC, dir out, id 0, priority 0
    '1100 1200  0200 02 00  00000000  00000000',
    // old: len 48, ESP, tunnel, unique 3, reqid 5
    '3000 3200  02 03 0000  05000000  00000000', sin('c0000201'), sin('c6336401'),
    // new: len 72, ESP, tunnel, unique, reqid 5; sockaddr_in6 src at +16, dst at +44 (no padding between)
    '4800 3200  02 03 0000  05000000  00000000',
    sin6('20010db8000300000000000000000010'),
    sin6('20010db8000200000000000000000001'),
  ),
);

// racoon pk_sendadd → libipsec pfkey_send_add: SA, SA2, SRC, DST, KEY_ENCRYPT, KEY_AUTH, LIFETIME_HARD, LIFETIME_SOFT
// (racoon-compat.md §5 step 4: replay 4, soft = 80 % of hard, bytes = lifebyte × 1024).
pin(
  'SADB_ADD with keys and lifetimes',
  {
    type: 3,
    satype: 3,
    errno: 0,
    seq: 9,
    pid: 4242,
    ext: {
      sa: { spi: 0x0a0b0c0d, replay: 4, state: 1, auth: 3, encrypt: 12, flags: 0 },
      sa2: { mode: 1, sequence: 0, reqid: 0 },
      addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.1', port: 0 } },
      addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.2', port: 0 } },
      keyEncrypt: { bits: 128, key: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex') },
      keyAuth: { bits: 160, key: Buffer.from('101112131415161718191a1b1c1d1e1f20212223', 'hex') },
      lifetimeHard: { allocations: 0, bytes: 1024000n, addtime: 3600n, usetime: 0n },
      lifetimeSoft: { allocations: 0, bytes: 819200n, addtime: 2880n, usetime: 0n },
    },
  },
  hex(
    // 16+16+16+24+24+24+32+32+32 = 216 bytes = 27 words; pid 4242 = 0x1092
    '02 03 00 03  1b00 0000  09000000  92100000',
    // sadb_sa: spi 0x0a0b0c0d in network order, replay 4, state MATURE 1, auth SHA1HMAC 3, encrypt AESCBC 12, flags 0
    '0200 0100  0a0b0c0d  04 01 03 0c  00000000',
    '0200 1300  01 00 0000  00000000  00000000',
    '0300 0500  ff 20 0000', sin('c0000201'),
    '0300 0600  ff 20 0000', sin('c0000202'),
    // sadb_key: len 3 words, type KEY_ENCRYPT 9, bits 128, reserved; 16 key bytes
    '0300 0900  8000 0000  000102030405060708090a0b0c0d0e0f',
    // sadb_key: len 4 words, type KEY_AUTH 8, bits 160; 20 key bytes + 4 pad
    '0400 0800  a000 0000  101112131415161718191a1b1c1d1e1f20212223', zeros(4),
    // sadb_lifetime HARD: allocations 0, bytes 1024000, addtime 3600, usetime 0 (u64 LE)
    '0400 0300  00000000  00a00f0000000000  100e000000000000  0000000000000000',
    '0400 0400  00000000  00800c0000000000  400b000000000000  0000000000000000',
  ),
);

describe('other pinned layouts', () => {
  it('NAT-T ports are network order, sadb_x_nat_t_type is 8 bytes (Linux pfkeyv2.h)', () => {
    const wire = encodeMessage({
      type: 3,
      satype: 3,
      errno: 0,
      seq: 0,
      pid: 0,
      ext: { natTType: { type: 2 }, natTSport: { port: 4500 }, natTDport: { port: 500 } },
    });
    expect(wire.subarray(16).toString('hex')).toBe(
      ['0100 1400 02 000000', '0100 1500 1194 0000', '0100 1600 01f4 0000'].join('').replace(/ /g, ''),
    );
  });

  it('REGISTER reply: sadb_supported + 8-byte sadb_alg entries', () => {
    const wire = encodeMessage({
      type: 7,
      satype: 3,
      errno: 0,
      seq: 1,
      pid: 9,
      ext: { supportedEncrypt: { algs: [{ id: 12, ivlen: 8, minbits: 128, maxbits: 256 }] } },
    });
    expect(wire.subarray(16).toString('hex')).toBe('02000f0000000000' + '0c08800000010000');
  });

  it('ACQUIRE proposal: sadb_prop + 72-byte sadb_comb', () => {
    const wire = encodeMessage({
      type: 6,
      satype: 3,
      errno: 0,
      seq: 1,
      pid: 0,
      ext: {
        proposal: {
          replay: 32,
          combs: [
            {
              auth: 3,
              encrypt: 12,
              flags: 0,
              authMinbits: 160,
              authMaxbits: 160,
              encryptMinbits: 128,
              encryptMaxbits: 256,
              softAllocations: 0,
              hardAllocations: 0,
              softBytes: 0n,
              hardBytes: 0n,
              softAddtime: 20160n,
              hardAddtime: 28800n,
              softUsetime: 0n,
              hardUsetime: 0n,
            },
          ],
        },
      },
    });
    const ext = wire.subarray(16);
    expect(ext.length).toBe(8 + 72);
    expect(ext.subarray(0, 8).toString('hex')).toBe('0a000d0020000000');
    expect(ext.subarray(8, 20).toString('hex')).toBe('030c0000a000a00080000001');
    expect(ext.readBigUInt64LE(8 + 40)).toBe(20160n); // sadb_comb_soft_addtime @40
    expect(ext.readBigUInt64LE(8 + 48)).toBe(28800n); // sadb_comb_hard_addtime @48
  });

  it('sadb_ident string is NUL-terminated and NUL-padded to 8', () => {
    const wire = encodeMessage({
      type: 3,
      satype: 3,
      errno: 0,
      seq: 0,
      pid: 0,
      ext: { identitySrc: { type: 3, id: 0n, data: Buffer.from('racoon@example') } },
    });
    // 16 + 14 chars + NUL = 31 → 32
    expect(wire.subarray(16).toString('hex')).toBe(
      '04000a000300000000000000000000' + '00' + Buffer.from('racoon@example').toString('hex') + '0000',
    );
  });

  it('sadb_x_filter is 40 bytes: saddr[4] daddr[4] family splen dplen', () => {
    const wire = encodeMessage({
      type: 10,
      satype: 0,
      errno: 0,
      seq: 0,
      pid: 0,
      ext: { filter: { family: 2, saddr: '10.0.0.0', daddr: '10.1.0.0', splen: 8, dplen: 16 } },
    });
    expect(wire.subarray(16).toString('hex')).toBe('05001a00' + '0a000000' + zeros(12) + '0a010000' + zeros(12) + '02000810');
  });
});
