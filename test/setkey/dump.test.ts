/**
 * setkey -D / -DP / -x output, whitespace exact, against libipsec
 * pfkey_dump.c (pfkey_sadump1, pfkey_spdump1) and key_debug.c (kdebug_sadb).
 * The two "real output" records are those quoted in
 * shared/reference/racoon-compat.md §3 (bg6cq/ITTS), rendered there with tabs
 * expanded: the tests compare both the exact string and its tab expansion.
 */
import { IPPROTO, IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { ctime20, formatKdebug, formatMonitorRecord, formatSadump, formatSpdump, ipsecHexdump } from '../../src/config/setkey/dump';
import { BUILTIN_PROTOCOLS } from '../../src/config/setkey/protocols';

/** Expand tabs to 8 columns and drop trailing blanks, as a terminal/web page renders them. */
function rendered(s: string): string {
  return s
    .split('\n')
    .map((line) => {
      let out = '';
      for (const c of line) out += c === '\t' ? ' '.repeat(8 - (out.length % 8)) : c;
      return out.trimEnd();
    })
    .join('\n');
}

const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
const v4 = (address: string, port = 0) => ({ family: 2 as const, address, port });

describe('pfkey_sadump (setkey -D)', () => {
  const sa: PfKeyMessage = {
    type: SadbMsgType.DUMP,
    satype: SadbSaType.ESP,
    errno: 0,
    seq: 1,
    pid: 30211,
    ext: {
      sa: { spi: 24501, replay: 0, state: 1, auth: 0, encrypt: 3, flags: 0 },
      sa2: { mode: IpsecMode.TRANSPORT, sequence: 0, reqid: 0 },
      addressSrc: { proto: 255, prefixlen: 32, addr: v4('202.141.176.3') },
      addressDst: { proto: 255, prefixlen: 32, addr: v4('202.141.176.2') },
      keyEncrypt: { bits: 192, key: Buffer.from('123456789012123456789012') },
      lifetimeCurrent: { allocations: 1413, bytes: 1123603n, addtime: BigInt(utc(2017, 11, 21, 6, 15, 17)), usetime: BigInt(utc(2017, 11, 21, 6, 15, 34)) },
      lifetimeHard: { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n },
      lifetimeSoft: { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n },
    },
  };
  const opts = { now: () => utc(2017, 11, 21, 7, 7, 10), timeZone: 'UTC' };

  it('prints the reference record exactly (two spaces after the algorithm, trailing spaces kept)', () => {
    expect(formatSadump(sa, opts)).toBe(
      '202.141.176.3 202.141.176.2 \n' +
        '\tesp mode=transport spi=24501(0x00005fb5) reqid=0(0x00000000)\n' +
        '\tE: 3des-cbc  31323334 35363738 39303132 31323334 35363738 39303132\n' +
        '\tseq=0x00000000 replay=0 flags=0x00000000 state=mature \n' +
        '\tcreated: Nov 21 06:15:17 2017\tcurrent: Nov 21 07:07:10 2017\n' +
        '\tdiff: 3113(s)\thard: 0(s)\tsoft: 0(s)\n' +
        '\tlast: Nov 21 06:15:34 2017\thard: 0(s)\tsoft: 0(s)\n' +
        '\tcurrent: 1123603(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n' +
        '\tallocated: 1413\thard: 0\tsoft: 0\n' +
        '\tsadb_seq=1 pid=30211 refcnt=0\n',
    );
  });

  it('renders like the ITTS page', () => {
    expect(rendered(formatSadump(sa, opts))).toBe(
      [
        '202.141.176.3 202.141.176.2',
        '        esp mode=transport spi=24501(0x00005fb5) reqid=0(0x00000000)',
        '        E: 3des-cbc  31323334 35363738 39303132 31323334 35363738 39303132',
        '        seq=0x00000000 replay=0 flags=0x00000000 state=mature',
        '        created: Nov 21 06:15:17 2017   current: Nov 21 07:07:10 2017',
        '        diff: 3113(s)   hard: 0(s)      soft: 0(s)',
        '        last: Nov 21 06:15:34 2017      hard: 0(s)      soft: 0(s)',
        '        current: 1123603(bytes) hard: 0(bytes)  soft: 0(bytes)',
        '        allocated: 1413 hard: 0 soft: 0',
        '        sadb_seq=1 pid=30211 refcnt=0',
        '',
      ].join('\n'),
    );
  });

  it('uses the injected time zone for ctime()-style times; 0 prints as 20 spaces; days are space-padded', () => {
    expect(ctime20(utc(2017, 11, 21, 6, 15, 17), 'Asia/Tokyo')).toBe('Nov 21 15:15:17 2017');
    expect(ctime20(utc(2017, 11, 1, 6, 15, 17), 'UTC')).toBe('Nov  1 06:15:17 2017');
    expect(ctime20(0)).toBe(' '.repeat(20));
  });

  it('hexdump: a space before each 4-byte group and a newline every 32 bytes', () => {
    const key = Buffer.from(Array.from({ length: 36 }, (_, i) => i));
    expect(ipsecHexdump(key)).toBe(
      ' 00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f\n 20212223',
    );
  });

  it('IPComp: "C: deflate " without a newline (the seq line follows on the same line); unknown numbers print as %u', () => {
    const m: PfKeyMessage = {
      type: SadbMsgType.DUMP,
      satype: SadbSaType.X_IPCOMP,
      errno: 0,
      seq: 0,
      pid: 7,
      ext: {
        sa: { spi: 0x1000, replay: 0, state: 2, auth: 0, encrypt: 2, flags: 0xc0 },
        sa2: { mode: 3 as IpsecMode, sequence: 5, reqid: 16385 },
        addressSrc: { proto: 255, prefixlen: 32, addr: v4('10.0.0.1') },
        addressDst: { proto: 255, prefixlen: 32, addr: v4('10.0.0.2') },
      },
    };
    expect(formatSadump(m)).toBe(
      '10.0.0.1 10.0.0.2 \n' +
        '\tipcomp mode=3 spi=4096(0x00001000) reqid=16385(0x00004001)\n' +
        '\tC: deflate \tseq=0x00000005 replay=0 flags=0x000000c0 state=dying \n' +
        '\tsadb_seq=0 pid=7 refcnt=0\n',
    );
  });

  it('NAT-T ESP prints esp-udp, the NAT-T ports after the addresses and NAT OA; -p prints the address ports', () => {
    const m: PfKeyMessage = {
      type: SadbMsgType.GET,
      satype: SadbSaType.ESP,
      errno: 0,
      seq: 0,
      pid: 1,
      ext: {
        sa: { spi: 1, replay: 32, state: 1, auth: 12, encrypt: 20, flags: 0 },
        sa2: { mode: IpsecMode.TUNNEL, sequence: 0, reqid: 1 },
        addressSrc: { proto: 255, prefixlen: 32, addr: v4('192.0.2.1', 4500) },
        addressDst: { proto: 255, prefixlen: 32, addr: v4('198.51.100.1', 4500) },
        natTType: { type: 2 },
        natTSport: { port: 4500 },
        natTDport: { port: 61000 },
        natTOa: { proto: 255, prefixlen: 32, addr: v4('10.0.0.5') },
        keyEncrypt: { bits: 160, key: Buffer.alloc(20, 0xab) },
        keyAuth: { bits: 256, key: Buffer.alloc(32, 0xcd) },
      },
    };
    const out = formatSadump(m, { withPorts: true });
    expect(out.split('\n').slice(0, 5)).toEqual([
      '192.0.2.1[4500][4500] 198.51.100.1[4500][61000] ',
      '\tesp-udp mode=tunnel spi=1(0x00000001) reqid=1(0x00000001)',
      '\tNAT OA=10.0.0.5',
      '\tE: 20  abababab abababab abababab abababab abababab',
      '\tA: 12  cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd cdcdcdcd',
    ]);
  });

  it('names what is missing instead of crashing on a partial message', () => {
    const base: PfKeyMessage = { type: SadbMsgType.DUMP, satype: 3, errno: 0, seq: 0, pid: 0, ext: {} };
    expect(formatSadump(base)).toBe('no ADDRESS_SRC extension.\n');
    expect(formatSadump({ ...base, ext: { addressSrc: { proto: 255, prefixlen: 32, addr: v4('1.1.1.1') } } })).toBe('1.1.1.1  no ADDRESS_DST extension.\n');
  });
});

describe('pfkey_spdump (setkey -DP)', () => {
  const sp: PfKeyMessage = {
    type: SadbMsgType.X_SPDDUMP,
    satype: 0,
    errno: 0,
    seq: 0,
    pid: 28450,
    reserved: 1,
    ext: {
      addressSrc: { proto: 255, prefixlen: 32, addr: v4('202.141.176.2') },
      addressDst: { proto: 255, prefixlen: 32, addr: v4('202.141.176.3') },
      policy: {
        type: IpsecPolicyType.IPSEC,
        dir: IpsecDir.OUTBOUND,
        id: 73,
        priority: 0x80000000,
        requests: [
          { proto: IPPROTO.ESP, mode: IpsecMode.TRANSPORT, level: IpsecLevel.REQUIRE, reqid: 0 },
          { proto: IPPROTO.AH, mode: IpsecMode.TRANSPORT, level: IpsecLevel.REQUIRE, reqid: 0 },
        ],
      },
      lifetimeCurrent: { allocations: 0, bytes: 0n, addtime: BigInt(utc(2017, 11, 21, 8, 42, 43)), usetime: 0n },
      lifetimeHard: { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n },
    },
  };
  const opts = { timeZone: 'UTC', protocols: BUILTIN_PROTOCOLS };

  it('prints the reference record exactly (two spaces before lastused, 20 blanks for an unused policy)', () => {
    expect(formatSpdump(sp, opts)).toBe(
      '202.141.176.2[any] 202.141.176.3[any] 255\n' +
        '\tout prio def ipsec\n' +
        '\tesp/transport//require\n' +
        '\tah/transport//require\n' +
        `\tcreated: Nov 21 08:42:43 2017  lastused: ${' '.repeat(20)}\n` +
        '\tlifetime: 0(s) validtime: 0(s)\n' +
        '\tspid=73 seq=0 pid=28450\n' +
        '\trefcnt=1\n',
    );
    expect(rendered(formatSpdump(sp, opts)).split('\n')[4]).toBe('        created: Nov 21 08:42:43 2017  lastused:');
  });

  it('prefixes, ports, protocol names from /etc/protocols, ICMP type,code without [port], GRE key', () => {
    const mk = (proto: number, sport: number, dport: number, pl = 24): PfKeyMessage => ({
      ...sp,
      ext: {
        addressSrc: { proto, prefixlen: pl, addr: v4('10.0.0.0', sport) },
        addressDst: { proto, prefixlen: pl, addr: v4('10.0.1.0', dport) },
        policy: { type: IpsecPolicyType.NONE, dir: IpsecDir.INBOUND, id: 8, priority: 0, requests: [] },
      },
    });
    const first = (m: PfKeyMessage) => formatSpdump(m, opts).split('\n').slice(0, 2);
    expect(first(mk(6, 80, 0))).toEqual(['10.0.0.0/24[80] 10.0.1.0/24[any] tcp', '\tin none']);
    expect(first(mk(1, 8, 0))).toEqual(['10.0.0.0/24 10.0.1.0/24 icmp 8,0', '\tin none']);
    expect(first(mk(47, 1, 1))[0]).toBe('10.0.0.0/24 10.0.1.0/24 gre 65537');
    expect(first(mk(58, 0, 0, 32))[0]).toBe('10.0.0.0 10.0.1.0 ipv6-icmp');
  });

  it('Linux per-socket policies (id % 8 >= 3) print "(per-socket policy)" and the socket directions', () => {
    const m: PfKeyMessage = { ...sp, ext: { ...sp.ext, policy: { type: IpsecPolicyType.BYPASS, dir: 5 as IpsecDir, id: 12, priority: 0, requests: [] } } };
    expect(formatSpdump(m, opts).split('\n')[0]).toBe('(per-socket policy) ');
    expect(formatSpdump(m, opts).split('\n')[1]).toBe('\tout(socket) bypass');
  });

  it('tunnel endpoints with -p, and reqids', () => {
    const m: PfKeyMessage = {
      ...sp,
      ext: {
        ...sp.ext,
        policy: {
          type: IpsecPolicyType.IPSEC,
          dir: IpsecDir.FWD,
          id: 3 * 8 + 3 - 3,
          priority: 0x80000000 - 100,
          requests: [{ proto: IPPROTO.ESP, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 5, src: v4('1.1.1.1', 4500), dst: v4('2.2.2.2', 4500) }],
        },
      },
    };
    expect(formatSpdump(m, { ...opts, withPorts: true }).split('\n').slice(1, 3)).toEqual([
      '\tfwd prio def + 100 ipsec',
      '\tesp/tunnel/1.1.1.1[4500]-2.2.2.2[4500]/unique:5',
    ]);
  });
});

describe('kdebug_sadb (setkey -x)', () => {
  it('prints the header, each extension with its length in 64-bit words, and the address dumps', () => {
    const m: PfKeyMessage = {
      type: SadbMsgType.ACQUIRE,
      satype: SadbSaType.ESP,
      errno: 0,
      seq: 3,
      pid: 0,
      ext: {
        addressSrc: { proto: 255, prefixlen: 32, addr: v4('10.0.0.1') },
        addressDst: { proto: 255, prefixlen: 32, addr: v4('10.0.0.2') },
        policy: {
          type: IpsecPolicyType.IPSEC,
          dir: IpsecDir.OUTBOUND,
          id: 0x41,
          priority: 0x80000000,
          requests: [{ proto: IPPROTO.ESP, mode: IpsecMode.TUNNEL, level: IpsecLevel.REQUIRE, reqid: 0, src: v4('1.1.1.1'), dst: v4('2.2.2.2') }],
        },
      },
    };
    expect(formatKdebug(m)).toBe(
      'sadb_msg{ version=2 type=6 errno=0 satype=3\n' +
        '  len=16 reserved=0 seq=3 pid=0\n' +
        'sadb_ext{ len=3 type=5 }\n' +
        'sadb_address{ proto=255 prefixlen=32 reserved=0x0000 }\n' +
        'sockaddr{ len=16 family=2 port=0\n' +
        ' 0a000001  }\n' +
        'sadb_ext{ len=3 type=6 }\n' +
        'sadb_address{ proto=255 prefixlen=32 reserved=0x0000 }\n' +
        'sockaddr{ len=16 family=2 port=0\n' +
        ' 0a000002  }\n' +
        'sadb_ext{ len=8 type=18 }\n' +
        'sadb_x_policy{ type=2 dir=2 id=41 priority=2147483648 }\n' +
        ' { len=48 proto=50 mode=2 level=2 reqid=0\n' +
        'sockaddr{ len=16 family=2 port=0\n' +
        ' 01010101  }\n' +
        'sockaddr{ len=16 family=2 port=0\n' +
        ' 02020202  }\n' +
        ' }\n',
    );
  });

  it('a monitor record is the date line (HH:MM:SS.usec in the local zone, or sec.usec with -xx), kdebug, then a blank line', () => {
    const m: PfKeyMessage = { type: SadbMsgType.X_SPDFLUSH, satype: 0, errno: 0, seq: 0, pid: 99, ext: {} };
    const t = utc(2026, 11, 22, 1, 2, 3) * 1000 + 456.789;
    expect(formatMonitorRecord(m, t, false, 9 * 3600)).toBe(
      '10:02:03.456789 \nsadb_msg{ version=2 type=19 errno=0 satype=0\n  len=2 reserved=0 seq=0 pid=99\n\n',
    );
    expect(formatMonitorRecord(m, t, true, 0).split('\n')[0]).toBe(`${Math.floor(t / 1000)}.456789 `);
  });
});

describe('kdebug lengths agree with the codec (src/pfkey/codec.ts)', () => {
  it('sadb_msg_len and every sadb_ext_len printed equal the encoded message', async () => {
    const { parseSetkeyScript } = await import('../../src/config/setkey/parser');
    const { compileSetkeyScript } = await import('../../src/config/setkey/compile');
    const { encodeMessage, decodeMessage } = await import('../../src/pfkey/codec');
    const script = [
      'add 10.0.0.1[4500] 10.0.0.2 esp-udp 192.168.1.9 0x1000 -m tunnel -u 3 -lh 60 -bs 9 -ctx 1 2 "ctx-label" -E aes-cbc 0x00112233445566778899aabbccddeeff -A hmac-sha1 "12345678901234567890";',
      'add fe80::1 fe80::2 ah 0x200 -A hmac-sha256 0x' + '01'.repeat(32) + ';',
      'getspi 10.0.0.1 10.0.0.2 esp 0x300;',
      'spdadd 2001:db8::/32[any] 2001:db8:1::/48[443] tcp -P in ipsec esp/tunnel/2001:db8::1-2001:db8::2/unique:4 ah/transport//require;',
      'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/require esp/tunnel/198.51.100.10-192.0.2.20/require -k 198.51.100.10-192.0.2.20;',
      'migrate ::/0 ::/0 any -P in esp/tunnel/2001:db8::a-2001:db8::b/require esp/tunnel/2001:db8::c-2001:db8::b/require -k 2001:db8::c-2001:db8::b;',
    ].join('\n');
    const parsed = parseSetkeyScript(script, { protocols: BUILTIN_PROTOCOLS });
    if (!parsed.ok) throw new Error(parsed.error.message);
    const compiled = await compileSetkeyScript(parsed.commands, { rfcMode: true, pid: 1 });
    if (!compiled.ok) throw new Error(compiled.error.message);
    const msgs = compiled.steps.flatMap((s) => (s.kind === 'send' ? s.messages : []));
    expect(msgs.length).toBe(7);
    for (const m of msgs) {
      const bytes = encodeMessage(m);
      const printed = formatKdebug(m);
      expect(printed).toContain(`  len=${bytes.length / 8} `);
      // walk the encoded extensions: each (len, type) pair appears, in the codec's order
      const walked: string[] = [];
      for (let off = 16; off < bytes.length; ) {
        const len = bytes.readUInt16LE(off);
        walked.push(`sadb_ext{ len=${len} type=${bytes.readUInt16LE(off + 2)} }`);
        off += len * 8;
      }
      expect(printed.match(/sadb_ext\{ len=\d+ type=\d+ \}/g)).toEqual(walked);
      const back = decodeMessage(bytes);
      expect(back.ok).toBe(true);
    }
  });
});

describe('kdebug of extensions it cannot name', () => {
  it('an unknown extension kept by the decoder prints as kdebug_sadb does ("invalid ext_type"), with its length', () => {
    const body = Buffer.alloc(8);
    body.writeUInt16LE(1, 0);
    body.writeUInt16LE(30, 2);
    const m: PfKeyMessage = { type: SadbMsgType.X_SPDFLUSH, satype: 0, errno: 0, seq: 0, pid: 1, ext: {}, unknown: [{ type: 30, offset: 16, body }] };
    expect(formatKdebug(m)).toBe(
      'sadb_msg{ version=2 type=19 errno=0 satype=0\n  len=3 reserved=0 seq=0 pid=1\nsadb_ext{ len=1 type=30 }\nkdebug_sadb: invalid ext_type 30 was passed.\n',
    );
  });
});
