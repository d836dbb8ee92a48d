/**
 * setkey script grammar (ipsec-tools src/setkey/parse.y + token.l) and the
 * PF_KEY requests it builds (setkeymsg_add / setkeymsg_addr / setkeymsg_spdaddr).
 */
import {
  IPPROTO,
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  NatTType,
  SadbAalg,
  SadbCalg,
  SadbEalg,
  SadbMsgType,
  SadbSaType,
} from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { compileSetkeyScript, fwdCopy, type SetkeyStep } from '../../src/config/setkey/compile';
import { formatParseError } from '../../src/config/setkey/errors';
import { parseSetkeyScript } from '../../src/config/setkey/parser';
import { BUILTIN_PROTOCOLS } from '../../src/config/setkey/protocols';

const opts = { file: 'test.conf', protocols: BUILTIN_PROTOCOLS };

async function compile(text: string, rfcMode = true): Promise<SetkeyStep[]> {
  const r = parseSetkeyScript(text, opts);
  if (!r.ok) throw new Error(formatParseError(r.error));
  const c = await compileSetkeyScript(r.commands, {
    file: 'test.conf',
    rfcMode,
    pid: 4242,
    resolve: async (host) => (host === 'gw.example' ? ['192.0.2.1', '192.0.2.2'] : host === 'one.example' ? ['198.51.100.7'] : []),
  });
  if (!c.ok) throw new Error(formatParseError(c.error));
  return c.steps;
}

async function messages(text: string, rfcMode = true): Promise<PfKeyMessage[]> {
  return (await compile(text, rfcMode)).flatMap((s) => (s.kind === 'send' ? s.messages : []));
}

function parseError(text: string): string {
  const r = parseSetkeyScript(text, opts);
  if (r.ok) throw new Error(`parsed: ${text}`);
  return formatParseError(r.error);
}

async function compileError(text: string): Promise<string> {
  const r = parseSetkeyScript(text, opts);
  if (!r.ok) throw new Error(formatParseError(r.error));
  const c = await compileSetkeyScript(r.commands, { file: 'test.conf', rfcMode: true, pid: 1, resolve: async () => [] });
  if (c.ok) throw new Error(`compiled: ${text}`);
  return formatParseError(c.error);
}

describe('SA commands', () => {
  it('add esp with -E/-A builds SADB_ADD like setkeymsg_add (keys, SA, SA2, addresses)', async () => {
    const [m] = await messages('add 10.0.0.1 10.0.0.2 esp 0x1000 -m tunnel -u 5 -r 32 -E aes-cbc 0x00112233445566778899aabbccddeeff -A hmac-sha1 "12345678901234567890";');
    expect(m.type).toBe(SadbMsgType.ADD);
    expect(m.satype).toBe(SadbSaType.ESP);
    expect(m.pid).toBe(4242);
    expect(m.ext.sa).toEqual({ spi: 0x1000, replay: 32, state: 0, auth: SadbAalg.SHA1HMAC, encrypt: SadbEalg.AESCBC, flags: 0x40 });
    expect(m.ext.sa2).toEqual({ mode: IpsecMode.TUNNEL, sequence: 0, reqid: 5 });
    expect(m.ext.keyEncrypt).toEqual({ bits: 128, key: Buffer.from('00112233445566778899aabbccddeeff', 'hex') });
    expect(m.ext.keyAuth).toEqual({ bits: 160, key: Buffer.from('12345678901234567890') });
    expect(m.ext.addressSrc).toEqual({ proto: 255, prefixlen: 32, addr: { family: 2, address: '10.0.0.1', port: 0 } });
    expect(m.ext.addressDst?.addr.address).toBe('10.0.0.2');
    expect(m.ext.lifetimeHard).toBeUndefined();
  });

  it('lifetimes -lh/-ls/-bh/-bs become LIFETIME_HARD/SOFT; -f flags and nocyclic-seq edit sadb_sa_flags', async () => {
    const [m] = await messages('add 10.0.0.1 10.0.0.2 esp 300 -lh 3600 -ls 3000 -bh 1000000 -bs 800000 -f random-pad -f nocyclic-seq -E null;');
    expect(m.ext.lifetimeHard).toEqual({ allocations: 0, bytes: 1000000n, addtime: 3600n, usetime: 0n });
    expect(m.ext.lifetimeSoft).toEqual({ allocations: 0, bytes: 800000n, addtime: 3000n, usetime: 0n });
    expect(m.ext.sa?.flags).toBe(0x100);
    expect(m.ext.sa?.encrypt).toBe(SadbEalg.NULL);
    expect(m.ext.keyEncrypt).toBeUndefined();
  });

  it('ah with -A only; ipcomp with -C deflate -R sets RAWCPI; esp-old sets SADB_X_EXT_OLD', async () => {
    const [ah] = await messages('add 10.0.0.1 10.0.0.2 ah 0x200 -A hmac-md5 0x00112233445566778899aabbccddeeff;');
    expect(ah.satype).toBe(SadbSaType.AH);
    expect(ah.ext.sa?.auth).toBe(SadbAalg.MD5HMAC);
    const [ipc] = await messages('add 10.0.0.1 10.0.0.2 ipcomp 0x1000 -C deflate -R;');
    expect(ipc.satype).toBe(SadbSaType.X_IPCOMP);
    expect(ipc.ext.sa).toMatchObject({ encrypt: SadbCalg.DEFLATE, flags: 0x40 | 0x80 });
    const [old] = await messages('add 10.0.0.1 10.0.0.2 esp-old 0x300 -E des-32iv "12345678";');
    expect(old.ext.sa?.flags).toBe(0x40 | 0x1 | 0x10);
    const [deriv] = await messages('add 10.0.0.1 10.0.0.2 esp 0x300 -E des-deriv "12345678";');
    expect(deriv.ext.sa?.flags).toBe(0x40 | 0x20);
  });

  it('esp-udp adds NAT_T_TYPE, ports from [port] (4500 if none) and NAT-OA', async () => {
    const [m] = await messages('add 10.0.0.1[4501] 10.0.0.2 esp-udp 192.168.1.9 0x1000 -m tunnel -E 3des-cbc "123456789012123456789012";');
    expect(m.ext.natTType).toEqual({ type: NatTType.ESPINUDP });
    expect(m.ext.natTSport).toEqual({ port: 4501 });
    expect(m.ext.natTDport).toEqual({ port: 4500 });
    expect(m.ext.natTOa?.addr.address).toBe('192.168.1.9');
    expect(m.ext.addressSrc?.addr.port).toBe(4501);
  });

  it('getspi sends SPIRANGE min=max=SPI; get/delete carry SA+SA2+addresses only', async () => {
    const [g, get, del] = await messages(
      'getspi 10.0.0.1 10.0.0.2 esp 0x1234;\nget 10.0.0.1 10.0.0.2 ah 0x200;\ndelete 10.0.0.1 10.0.0.2 esp 0x1000;',
    );
    expect(g.type).toBe(SadbMsgType.GETSPI);
    expect(g.ext.spirange).toEqual({ min: 0x1234, max: 0x1234 });
    expect(get.type).toBe(SadbMsgType.GET);
    expect(Object.keys(get.ext).sort()).toEqual(['addressDst', 'addressSrc', 'sa', 'sa2']);
    expect(del.type).toBe(SadbMsgType.DELETE);
    const [g0] = await messages('getspi 10.0.0.1 10.0.0.2 esp 0;');
    expect(g0.ext.spirange).toBeUndefined();
  });

  it('get/delete with -m warn "mode is obsolete" like setkey', () => {
    const r = parseSetkeyScript('get 10.0.0.1 10.0.0.2 esp 1 -m tunnel;', opts);
    expect(r.warnings).toEqual([{ line: 1, column: 29, message: 'WARNING: mode is obsolete' }]);
  });

  it('-E simple is accepted with "WARNING: obsolete algorithm"', () => {
    const r = parseSetkeyScript('add 10.0.0.1 10.0.0.2 esp 1 -E simple;', opts);
    expect(r.ok).toBe(true);
    expect(r.warnings[0].message).toBe('WARNING: obsolete algorithm');
  });

  it('a name resolving to several addresses installs every combination (add); get refuses it', async () => {
    const ms = await messages('add gw.example one.example esp 0x1000 -E null;');
    expect(ms.map((m) => m.ext.addressSrc?.addr.address)).toEqual(['192.0.2.1', '192.0.2.2']);
    await expect(compile('get gw.example 10.0.0.1 esp 1;')).rejects.toThrow(/test.conf:1:5: multiple address specified/);
  });

  it('deleteall takes addresses without ports and becomes a dump-then-delete step on Linux', async () => {
    const [s] = await compile('deleteall 10.0.0.1 10.0.0.2 esp;');
    expect(s).toMatchObject({ kind: 'deleteall', satype: SadbSaType.ESP, line: 1 });
  });

  it('flush/dump with and without a protocol; spdflush/spddump', async () => {
    const ms = await messages('flush;\nflush esp;\ndump ah;\ndump;\nspdflush;\nspddump;');
    expect(ms.map((m) => [m.type, m.satype])).toEqual([
      [SadbMsgType.FLUSH, 0],
      [SadbMsgType.FLUSH, SadbSaType.ESP],
      [SadbMsgType.DUMP, SadbSaType.AH],
      [SadbMsgType.DUMP, 0],
      [SadbMsgType.X_SPDFLUSH, 0],
      [SadbMsgType.X_SPDDUMP, 0],
    ]);
    expect(new Set(ms.map((m) => m.seq)).size).toBe(6);
  });

  it('every setkey -E/-A name maps to its SADB number', async () => {
    const enc: [string, number, string][] = [
      ['des-cbc', 2, '"12345678"'],
      ['3des-cbc', 3, '"123456789012345678901234"'],
      ['blowfish-cbc', 7, '"1234567890123456"'],
      ['aes-gmac', 23, '"123456789012345678901234567890123456"'],
      ['cast128-cbc', 6, '"1234567890123456"'],
      ['twofish-cbc', 253, '"12345678901234567890123456789012"'],
      ['rijndael-cbc', 12, '"1234567890123456"'],
      ['aes-ctr', 13, '"12345678901234567890"'],
      ['camellia-cbc', 22, '"123456789012345678901234"'],
      ['aes-gcm-16', 20, '"12345678901234567890"'],
      ['null-aes-gmac', 23, '"12345678901234567890"'],
      ['aes-ccm-8', 14, '"1234567890123456789"'],
    ];
    for (const [name, id, key] of enc) {
      const [m] = await messages(`add 10.0.0.1 10.0.0.2 esp 1 -E ${name} ${key};`);
      expect([name, m.ext.sa?.encrypt]).toEqual([name, id]);
    }
    const auth: [string, number, number][] = [
      ['hmac-sha256', 5, 32],
      ['hmac-sha2-256', 5, 32],
      ['hmac-sha384', 6, 48],
      ['hmac-sha2-512', 7, 64],
      ['hmac-ripemd160', 8, 20],
      ['aes-xcbc-mac', 9, 16],
      ['keyed-md5', 249, 16],
      ['keyed-sha1', 250, 20],
    ];
    for (const [name, id, bytes] of auth) {
      const [m] = await messages(`add 10.0.0.1 10.0.0.2 ah 1 -A ${name} 0x${'ab'.repeat(bytes)};`);
      expect([name, m.ext.sa?.auth, m.ext.keyAuth?.bits]).toEqual([name, id, bytes * 8]);
    }
    const [n] = await messages('add 10.0.0.1 10.0.0.2 ah 1 -A null;');
    expect(n.ext.sa?.auth).toBe(SadbAalg.X_NULL);
    expect(n.ext.keyAuth).toBeUndefined();
  });

  it('an odd number of hex digits gets a leading zero nibble (parse.y key_string)', async () => {
    const [m] = await messages('add 10.0.0.1 10.0.0.2 ah 1 -A hmac-md5 0x123456789abcdef0123456789abcdef;');
    expect(m.ext.keyAuth?.key.toString('hex')).toBe('0123456789abcdef0123456789abcdef');
  });

  it('-ctx adds SEC_CTX with the NUL-terminated string', async () => {
    const [m] = await messages('add 10.0.0.1 10.0.0.2 esp 1 -ctx 1 1 "system_u:object_r:ipsec_spd_t:s0" -E null;');
    expect(m.ext.secCtx).toEqual({ alg: 1, doi: 1, ctx: Buffer.from('system_u:object_r:ipsec_spd_t:s0\0') });
  });
});

describe('SPD commands', () => {
  it('spdadd with prefixes, ports and upper layer builds X_SPDADD (reference example)', async () => {
    const [m] = await messages('spdadd 10.0.11.41/32[21] 10.0.11.33/32[any] any -P out ipsec esp/tunnel/192.168.0.1-192.168.1.2/require ;');
    expect(m.type).toBe(SadbMsgType.X_SPDADD);
    expect(m.ext.addressSrc).toEqual({ proto: 255, prefixlen: 32, addr: { family: 2, address: '10.0.11.41', port: 21 } });
    expect(m.ext.addressDst).toEqual({ proto: 255, prefixlen: 32, addr: { family: 2, address: '10.0.11.33', port: 0 } });
    expect(m.ext.policy).toMatchObject({ type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, priority: 0x80000000 });
  });

  it('upper layer: numbers, /etc/protocols names, icmp6 and ip4; ICMP type,code and GRE keys fill the ports', async () => {
    const ms = await messages(
      [
        'spdadd 10.0.0.0/24 10.0.1.0/24 tcp -P out none;',
        'spdadd 10.0.0.0/24 10.0.1.0/24 udp -P out none;',
        'spdadd 10.0.0.0/24 10.0.1.0/24 50 -P out none;',
        'spdadd ::/0 ::/0 icmp6 135,0 -P out none;',
        'spdadd 10.0.0.0/8 10.0.0.0/8 icmp 8 -P out none;',
        'spdadd 10.0.0.0/8 10.0.0.0/8 ip4 -P out none;',
        'spdadd 10.0.0.0/8 10.0.0.0/8 gre 1.2.3.4 -P out none;',
        'spdadd 10.0.0.0/8 10.0.0.0/8 gre 65537 -P out none;',
        'spdadd 10.0.0.0/8 10.0.0.0/8 ipv6-icmp -P out none;',
      ].join('\n'),
    );
    expect(ms.map((m) => m.ext.addressSrc?.proto)).toEqual([6, 17, 50, 58, 1, 4, 47, 47, 58]);
    expect([ms[3].ext.addressSrc?.addr.port, ms[3].ext.addressDst?.addr.port]).toEqual([135, 0]);
    expect([ms[4].ext.addressSrc?.addr.port, ms[4].ext.addressDst?.addr.port]).toEqual([8, 0]);
    expect([ms[6].ext.addressSrc?.addr.port, ms[6].ext.addressDst?.addr.port]).toEqual([0x0102, 0x0304]);
    expect([ms[7].ext.addressSrc?.addr.port, ms[7].ext.addressDst?.addr.port]).toEqual([1, 1]);
    expect(ms[3].ext.addressSrc).toMatchObject({ prefixlen: 0, addr: { family: 10, address: '::' } });
  });

  it('RFC mode (-r, the Linux default): an inbound policy is also sent as fwd, unique -> require reqid 0 on the first request', async () => {
    const ms = await messages('spdadd 10.1.0.0/16 10.2.0.0/16 any -P in ipsec esp/tunnel/1.1.1.1-2.2.2.2/unique:9 ah/transport//unique:3;');
    expect(ms.map((m) => m.ext.policy?.dir)).toEqual([IpsecDir.INBOUND, IpsecDir.FWD]);
    expect(ms[1].ext.policy?.requests.map((r) => [r.level, r.reqid])).toEqual([
      [IpsecLevel.REQUIRE, 0],
      [IpsecLevel.UNIQUE, 3],
    ]);
    expect(ms[0].ext.policy?.requests[0]).toMatchObject({ level: IpsecLevel.UNIQUE, reqid: 9 });
    const k = await messages('spdadd 10.1.0.0/16 10.2.0.0/16 any -P in ipsec esp/transport//require;', false);
    expect(k).toHaveLength(1);
    const out = await messages('spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/transport//require;');
    expect(out).toHaveLength(1);
    const del = await messages('spddelete 10.1.0.0/16 10.2.0.0/16 any -P in;');
    expect(del.map((m) => [m.type, m.ext.policy?.dir, m.ext.policy?.priority])).toEqual([
      [SadbMsgType.X_SPDDELETE, IpsecDir.INBOUND, 0],
      [SadbMsgType.X_SPDDELETE, IpsecDir.FWD, 0],
    ]);
    expect(fwdCopy(ms[0].ext.policy!).dir).toBe(IpsecDir.FWD);
  });

  it('spdupdate, a multi-line policy with a comment inside, -ctx and the -4/-6/-n address flags', async () => {
    const [m] = await messages(
      'spdupdate -4n 10.0.0.1 10.0.0.2 any -ctx 1 1 "lbl"\n  -P out prio high\n  ipsec # first\n  esp/transport//require\n  ah/transport//use;',
    );
    expect(m.type).toBe(SadbMsgType.X_SPDUPDATE);
    expect(m.ext.policy?.priority).toBe(0x40000000);
    expect(m.ext.policy?.requests.map((r) => r.proto)).toEqual([IPPROTO.ESP, IPPROTO.AH]);
    expect(m.ext.secCtx?.ctx.toString()).toBe('lbl\0');
  });

  it('migrate builds SADB_X_MIGRATE: X_POLICY with (old,new) pairs and KMADDRESS local first (issue 7)', async () => {
    const [m] = await messages(
      'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/require esp/tunnel/198.51.100.10-192.0.2.20/require -k 198.51.100.10-192.0.2.20;',
    );
    expect(m.type).toBe(SadbMsgType.X_MIGRATE);
    expect(m.ext.addressSrc).toEqual({ proto: 255, prefixlen: 24, addr: { family: 2, address: '10.1.0.0', port: 0 } });
    expect(m.ext.policy).toMatchObject({ type: IpsecPolicyType.IPSEC, dir: IpsecDir.OUTBOUND, id: 0, priority: 0 });
    expect(m.ext.policy?.requests.map((r) => `${r.src?.address}-${r.dst?.address}`)).toEqual([
      '192.0.2.10-192.0.2.20',
      '198.51.100.10-192.0.2.20',
    ]);
    expect(m.ext.kmaddress).toEqual({
      local: { family: 2, address: '198.51.100.10', port: 0 },
      remote: { family: 2, address: '192.0.2.20', port: 0 },
    });
    const [noK] = await messages('migrate 10.1.0.0/24 10.2.0.0/24 any -P in esp/transport//require esp/transport//require;');
    expect(noK.ext.kmaddress).toBeUndefined();
    expect(noK.ext.policy?.dir).toBe(IpsecDir.INBOUND);
  });

  it('exit/quit/bye stop the script; comments and blank lines are ignored', async () => {
    const r = parseSetkeyScript('# hello\n\nflush; # trailing\nquit;\nthis is not parsed', opts);
    expect(r.ok && r.commands.length).toBe(1);
    expect(r.ok && r.exited).toBe(true);
    expect((await messages('bye;'))).toEqual([]);
  });
});

describe('errors: file:line:column: message (near token)', () => {
  const cases: [string, string][] = [
    ['addd 1.2.3.4 1.2.3.5 esp 1;', "test.conf:1:1: unknown command \"addd\" (near 'addd')"],
    ['flush\n', 'test.conf:2:1: missing ";" at end of command (near end of input)'],
    ['add 10.0.0.1 10.0.0.2 esp 0x1000 -E aes-cbc "short" ;', "test.conf:1:45: invalid key length for aes-cbc: 40 bits given, 128..256 bits in steps of 64 required (near '\"short\"')"],
    ['add 10.0.0.1 10.0.0.2 esp 0x1000 -E aes-cbc 0x00112233445566778899aabbccddee ;', 'test.conf:1:45: invalid key length for aes-cbc: 120 bits given'],
    ['add 10.0.0.1 10.0.0.2 ah 1 -A hmac-sha256 "0123456789";', 'test.conf:1:43: invalid key length for hmac-sha256: 80 bits given, 256 bits required'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E aes-gcm "12345678901234567890";', "test.conf:1:32: unknown encryption algorithm \"aes-gcm\" (near 'aes-gcm')"],
    ['add 10.0.0.1 10.0.0.2 ah 1 -A tcp-md5 "x";', 'test.conf:1:31: tcp-md5 (SADB_X_AALG_TCP_MD5) is a BSD-only PF_KEY algorithm'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E 3des-cbc;', "test.conf:1:40: expected a key for 3des-cbc: \"string\" or 0xHEX (near ';')"],
    // tanuki-private SADB number 251 (src/crypto/registry.ts): RFC 7634 key 256 bits + 32-bit salt
    ['add 10.0.0.1 10.0.0.2 esp 1 -E chacha20-poly1305 0x00;', 'test.conf:1:50: invalid key length for chacha20-poly1305: 8 bits given, 288 bits required'],
    ['add 10.0.0.1 10.0.0.2 ah 1 -A aes-cmac 0x00;', 'test.conf:1:31: aes-cmac has no Linux PF_KEY (SADB) algorithm number'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E AES-CBC 0x00;', 'test.conf:1:32: unknown encryption algorithm "AES-CBC"'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E aes-gcm-16 "1234567890123456";', 'test.conf:1:43: invalid key length for aes-gcm-16: 128 bits given, 160..288 bits in steps of 64 required'],
    ['add 10.0.0.1 10.0.0.2 esp 0x1ffffffff -E null;', 'test.conf:1:27: SPI too big'],
    ['add 10.0.0.1 10.0.0.2 esp spi -E null;', "test.conf:1:27: invalid SPI (decimal or 0x hexadecimal) (near 'spi')"],
    ['add 10.0.0.1 10.0.0.2 esp-old 1 -r 4 -E null;', "test.conf:1:33: replay prevention cannot be used with ah/esp-old (near '-r')"],
    ['add 10.0.0.1 10.0.0.2 esp 1 -r 300 -E null;', 'test.conf:1:32: the replay window size out of range (0..255)'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -m sideways -E null;', "test.conf:1:32: invalid mode \"sideways\""],
    ['add 10.0.0.1 10.0.0.2 esp 1 -f odd-pad -E null;', 'test.conf:1:32: unknown -f extension "odd-pad"'],
    ['add 10.0.0.1 10.0.0.2 esp 1;', "test.conf:1:28: expected an algorithm: -E, -A or -C (near ';')"],
    ['add 10.0.0.1 10.0.0.2 esp 1 -C deflate;', "test.conf:1:29: -C (compression) is only for ipcomp SAs (near '-C')"],
    ['add 10.0.0.1 10.0.0.2 ipcomp 1 -E null;', 'test.conf:1:32: an ipcomp SA takes -C, not -E/-A'],
    ['add 10.0.0.1 10.0.0.2 ah 1 -E null;', 'test.conf:1:28: -E (encryption) is only for esp SAs'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -A hmac-md5 "1234567890123456";', 'test.conf:1:29: an esp SA needs -E'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E des-32iv "12345678";', 'test.conf:1:32: algorithm mismatched: des-32iv needs esp-old'],
    ['add 10.0.0.1 10.0.0.2 tcp 0x1000 -A hmac-md5 "x";', 'test.conf:1:23: tcp (TCP-MD5, SADB_X_SATYPE_TCPSIGNATURE) SAs exist only on BSD kernels'],
    ['add 10.0.0.1[http] 10.0.0.2 esp 1 -E null;', "test.conf:1:14: invalid port \"http\" (a decimal number or \"any\") (near 'http')"],
    ['add 10.0.0.1[70000] 10.0.0.2 esp 1 -E null;', 'test.conf:1:14: port out of range'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E null -Q;', "test.conf:1:37: unknown or misplaced option \"-Q\""],
    ['get 10.0.0.1 10.0.0.2 esp 1 -E null;', 'test.conf:1:29: get takes no algorithm'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E null "x;', 'test.conf:1:37: unterminated quoted string'],
    ['add 10.0.0.1 10.0.0.2 esp 1 -E null @;', "test.conf:1:37: syntax error (near '@')"],
    ['spdadd 10.0.0.0/24 10.0.1.0/24 any -P out ipsec esp/tunnel//require;', "test.conf:1:53: tunnel mode needs the tunnel endpoints (src-dst) (near 'tunnel')"],
    ['spdadd 10.0.0.0/24 10.0.1.0/24 any\n  -P out ipsec\n  esp/transport//sometimes;', "test.conf:3:18: expected a level: default, use, require, unique or unique:N (near 'sometimes')"],
    ['spdadd 10.0.0.0/24 10.0.1.0/24 bogus -P out none;', "test.conf:1:32: invalid upper layer protocol \"bogus\" (near 'bogus')"],
    ['spdadd 10.0.0.0/24 10.0.1.0/24 300 -P out none;', 'test.conf:1:32: upper-layer protocol out of range'],
    ['spdadd 10.0.0.0/24 10.0.1.0/24 tcp 8,0 -P out none;', 'test.conf:1:36: an upper-layer argument (type,code or key) is only accepted for icmp'],
    ['spdadd 10.0.0.0/24 10.0.1.0/24 icmp x,y -P out none;', 'test.conf:1:37: invalid an upper layer protocol spec'],
    ['spdadd 10.0.0.0/24 10.0.1.0/24 any out none;', "test.conf:1:36: expected -P before the policy (near 'out')"],
    ['spdadd 10.0.0.0/999 10.0.1.0/24 any -P out none;', 'test.conf:1:17: prefix length out of range'],
    ['spdadd tagged "foo" -P out none;', 'test.conf:1:8: tagged policies (SADB_X_EXT_TAG) are a NetBSD/FreeBSD PF_KEY extension'],
    ['update 10.0.0.1 10.0.0.2 esp 1 -E null;', 'test.conf:1:1: "update" is in the setkey man page but not in its grammar'],
    ['migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/1.1.1.1-2.2.2.2/require;', 'test.conf:1:78: migrate needs (old, new) request pairs'],
    ['migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/1.1.1.1-2.2.2.2/require esp/tunnel/3.3.3.3-2.2.2.2/require -k 3.3.3.3;', 'test.conf:1:117: expected -k LOCAL-REMOTE'],
    ['migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/1.1.1.1-2.2.2.2/require esp/tunnel/3.3.3.3-2.2.2.2/require -k 3.3.3.3-::1;', 'test.conf:1:117: KMADDRESS endpoints must be of one address family'],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseError(text)).toContain(expected);
  });

  it('the first error wins and the whole script yields no commands', () => {
    const r = parseSetkeyScript('flush;\nspdflush;\nadd 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc "x";\nflush;', opts);
    expect(r.ok).toBe(false);
    expect(r.ok ? 0 : r.error.line).toBe(3);
    expect('commands' in r).toBe(false);
  });

  it('resolution errors carry the position of the name', async () => {
    expect(await compileError('flush;\nadd  nosuch.invalid 10.0.0.2 esp 1 -E null;')).toBe(
      "test.conf:2:6: cannot resolve \"nosuch.invalid\": Name or service not known (near 'nosuch.invalid')",
    );
    expect(await compileError('add -n host.example 10.0.0.2 esp 1 -E null;')).toContain('test.conf:1:8: "host.example" is not a numeric address (-n)');
    expect(await compileError('add -4 ::1 ::2 esp 1 -E null;')).toContain('test.conf:1:8: address family for "::1" not allowed by -4');
    expect(await compileError('spdadd 10.0.0.1/33 10.0.0.2 any -P out none;')).toContain('test.conf:1:17: prefix length 33 too long for 10.0.0.1');
    expect(await compileError('spdadd 10.0.0.1 ::2 any -P out none;')).toContain('test.conf:1:17: source and destination are of different address families');
  });
});
