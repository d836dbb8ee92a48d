/**
 * SADB_X_MIGRATE in the userspace kernel, driven by `setkey migrate` (the
 * Mobile IPv6 daemon's role): draft-sugimoto-mip6-pfkey-migrate, KMADDRESS
 * from draft-ebalard-mext-pfkey-enhanced-migrate, Linux af_key
 * pfkey_migrate/pfkey_send_migrate. The mobile node moves its care-of address
 * from 192.0.2.10 to 198.51.100.10; the home agent is 192.0.2.20; the home
 * address 10.1.0.1 keeps its transport-mode SA (RFC 3776 §4: BU/BA on the HoA).
 */
import { Errno, IpsecDir, IpsecLevel, IpsecMode, SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import { kernelEnv, KEYS, settle } from './helpers';

const SETUP = `
spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/192.0.2.10-192.0.2.20/unique:7;
spdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/192.0.2.20-192.0.2.10/unique:8;
spdadd 10.1.0.1 192.0.2.20 135 -P out ipsec esp/transport//require;
add 192.0.2.10 192.0.2.20 esp 0x1001 -m tunnel -u 7 ${KEYS};
add 192.0.2.20 192.0.2.10 esp 0x2001 -m tunnel -u 8 ${KEYS};
add 192.0.2.10 192.0.2.20 esp 0x3001 -m transport ${KEYS};
`;

const MIGRATE_OUT =
  'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/unique:7 esp/tunnel/198.51.100.10-192.0.2.20/unique:7 -k 198.51.100.10-192.0.2.20;';
// UMIP's orientation: for dir IN/FWD the KMADDRESS is still (local, remote) = (new CoA, HA).
const MIGRATE_IN =
  'migrate 10.2.0.0/24 10.1.0.0/24 any -P in esp/tunnel/192.0.2.20-192.0.2.10/unique:8 esp/tunnel/192.0.2.20-198.51.100.10/unique:8 -k 198.51.100.10-192.0.2.20;';
// setkey's spdadd -P in also installs the fwd copy (level require, reqid 0); the MIPv6 daemon migrates it too.
const MIGRATE_FWD =
  'migrate 10.2.0.0/24 10.1.0.0/24 any -P fwd esp/tunnel/192.0.2.20-192.0.2.10/require esp/tunnel/192.0.2.20-198.51.100.10/require -k 198.51.100.10-192.0.2.20;';

async function loaded() {
  const env = kernelEnv();
  const r = await env.script(SETUP);
  expect(r).toEqual({ code: 0, out: '', err: '' });
  return env;
}

describe('setkey migrate on the userspace kernel', () => {
  it('moves the tunnel template and the tunnel SAs of each direction; the transport SA and policy stay (draft-sugimoto §3, RFC 3776 §4)', async () => {
    const env = await loaded();
    expect(await env.script(`${MIGRATE_OUT}\n${MIGRATE_IN}\n${MIGRATE_FWD}`)).toEqual({ code: 0, out: '', err: '' });

    const spd = (await env.setkey(['-DP'])).out;
    expect(spd).toContain('\tout prio def ipsec\n\tesp/tunnel/198.51.100.10-192.0.2.20/unique:7\n');
    expect(spd).toContain('\tin prio def ipsec\n\tesp/tunnel/192.0.2.20-198.51.100.10/unique:8\n');
    expect(spd).toContain('\tfwd prio def ipsec\n\tesp/tunnel/192.0.2.20-198.51.100.10/require\n');
    expect(spd).not.toContain('192.0.2.10');
    expect(spd).toContain('\tout prio def ipsec\n\tesp/transport//require\n');

    const sad = (await env.setkey(['-D'])).out;
    expect(sad).toContain('198.51.100.10 192.0.2.20 \n\tesp mode=tunnel spi=4097(0x00001001) reqid=7(0x00000007)\n');
    expect(sad).toContain('192.0.2.20 198.51.100.10 \n\tesp mode=tunnel spi=8193(0x00002001) reqid=8(0x00000008)\n');
    // transport-mode SAs are checked, not moved
    expect(sad).toContain('192.0.2.10 192.0.2.20 \n\tesp mode=transport spi=12289(0x00003001)');
    // the moved SA keeps its keys
    expect(sad.split('spi=4097')[1].split('spi=')[0]).toContain('\tE: aes-cbc  00010203 04050607 08090a0b 0c0d0e0f\n');

    // the data plane finds the moved SA at the new endpoints, and none at the old ones
    expect(env.kernel.sadb.lookupOutbound('198.51.100.10', '192.0.2.20', 50, 7, IpsecMode.TUNNEL)?.spi).toBe(0x1001);
    expect(env.kernel.sadb.lookupOutbound('192.0.2.10', '192.0.2.20', 50, 7, IpsecMode.TUNNEL)).toBeUndefined();
    expect(env.kernel.sadb.lookupInbound('198.51.100.10', 50, 0x2001)?.src).toBe('192.0.2.20');
    expect(env.kernel.sadb.lookupInbound('192.0.2.10', 50, 0x2001)).toBeUndefined();
  });

  it('broadcasts each MIGRATE to every socket with KMADDRESS local first and the (old, new) pairs (Linux pfkey_send_migrate)', async () => {
    const env = await loaded();
    const km = await env.keyManager(777);
    const other = await env.keyManager(778);
    expect((await env.script(`${MIGRATE_OUT}\n${MIGRATE_IN}`)).code).toBe(0);
    await settle();
    for (const seen of [km.migrates(), other.migrates()]) {
      expect(seen.map((m) => m.ext.policy!.dir)).toEqual([IpsecDir.OUTBOUND, IpsecDir.INBOUND]);
      for (const m of seen) {
        expect(m.errno).toBe(0);
        expect(m.satype).toBe(SadbSaType.ESP);
        expect(m.ext.kmaddress).toEqual({ local: { family: 2, address: '198.51.100.10', port: 0 }, remote: { family: 2, address: '192.0.2.20', port: 0 } });
      }
      const [out, inb] = seen;
      expect(out.ext.addressSrc).toMatchObject({ prefixlen: 24, proto: 255, addr: { address: '10.1.0.0' } });
      expect(out.ext.addressDst).toMatchObject({ prefixlen: 24, addr: { address: '10.2.0.0' } });
      expect(out.ext.policy!.requests).toEqual([
        { proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 7, src: { family: 2, address: '192.0.2.10', port: 0 }, dst: { family: 2, address: '192.0.2.20', port: 0 } },
        { proto: 50, mode: IpsecMode.TUNNEL, level: IpsecLevel.UNIQUE, reqid: 7, src: { family: 2, address: '198.51.100.10', port: 0 }, dst: { family: 2, address: '192.0.2.20', port: 0 } },
      ]);
      expect(inb.ext.policy!.requests.map((r) => `${r.src!.address}-${r.dst!.address}/${r.reqid}`)).toEqual(['192.0.2.20-192.0.2.10/8', '192.0.2.20-198.51.100.10/8']);
    }
  });

  it('a MIGRATE without KMADDRESS is broadcast without it; a require template gets level REQUIRE and reqid 0', async () => {
    const env = kernelEnv();
    expect((await env.script('spdadd 10.5.0.0/16 10.6.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;')).code).toBe(0);
    const km = await env.keyManager(777);
    expect((await env.script('migrate 10.5.0.0/16 10.6.0.0/16 any -P out esp/tunnel/192.0.2.1-192.0.2.2/require esp/tunnel/192.0.2.3-192.0.2.2/require;')).code).toBe(0);
    await settle();
    const [m] = km.migrates();
    expect(m.ext.kmaddress).toBeUndefined();
    expect(m.ext.policy!.requests.map((r) => [r.level, r.reqid])).toEqual([[IpsecLevel.REQUIRE, 0], [IpsecLevel.REQUIRE, 0]]);
    expect((await env.setkey(['-DP'])).out).toContain('esp/tunnel/192.0.2.3-192.0.2.2/require');
  });

  it('a transport-mode policy is checked and nothing moves (racoon migrate_sp_isr_list: transport = check only)', async () => {
    const env = await loaded();
    const before = await env.snapshot();
    const r = await env.script('migrate 10.1.0.1 192.0.2.20 135 -P out esp/transport//require esp/transport//require -k 198.51.100.10-192.0.2.20;');
    expect(r).toEqual({ code: 0, out: '', err: '' });
    expect(await env.snapshot()).toBe(before);
  });

  it('moves an IPv6 tunnel (RFC 3776 layout: CoA 2001:db8:2::10 → 2001:db8:3::10, HA 2001:db8:1::1)', async () => {
    const env = kernelEnv();
    expect(
      (
        await env.script(`spdadd 2001:db8:10::/64 ::/0 any -P out ipsec esp/tunnel/2001:db8:2::10-2001:db8:1::1/unique:20;
add 2001:db8:2::10 2001:db8:1::1 esp 0x4001 -m tunnel -u 20 ${KEYS};`)
      ).code,
    ).toBe(0);
    const r = await env.script('migrate 2001:db8:10::/64 ::/0 any -P out esp/tunnel/2001:db8:2::10-2001:db8:1::1/unique:20 esp/tunnel/2001:db8:3::10-2001:db8:1::1/unique:20 -k 2001:db8:3::10-2001:db8:1::1;');
    expect(r).toEqual({ code: 0, out: '', err: '' });
    expect((await env.setkey(['-D'])).out).toContain('2001:db8:3::10 2001:db8:1::1 \n\tesp mode=tunnel spi=16385(0x00004001) reqid=20(0x00000014)\n');
  });
});

describe('a bad MIGRATE gets an errno reply and changes nothing', () => {
  const cases: Array<[string, string, string]> = [
    ['no policy for the selector', 'migrate 10.9.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/unique:7 esp/tunnel/198.51.100.10-192.0.2.20/unique:7;', 'No such file or directory'],
    ['no policy in that direction', 'migrate 10.1.0.0/24 10.2.0.0/24 any -P fwd esp/tunnel/192.0.2.10-192.0.2.20/unique:7 esp/tunnel/198.51.100.10-192.0.2.20/unique:7;', 'No such file or directory'],
    ['old endpoints that are not the template\'s', 'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.11-192.0.2.20/unique:7 esp/tunnel/198.51.100.10-192.0.2.20/unique:7;', 'Invalid argument'],
    // racoon's bug compared the reqid with IPSEC_LEVEL_UNIQUE (3): reqid 3 must not pass where the policy has 7
    ['a reqid that is not the template\'s (3, racoon\'s level constant)', 'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/unique:3 esp/tunnel/198.51.100.10-192.0.2.20/unique:3;', 'Invalid argument'],
    ['a protocol that is not the template\'s', 'migrate 10.1.0.0/24 10.2.0.0/24 any -P out ah/tunnel/192.0.2.10-192.0.2.20/unique:7 ah/tunnel/198.51.100.10-192.0.2.20/unique:7;', 'Invalid argument'],
    ['a mode that is not the template\'s', 'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/transport//unique:7 esp/transport//unique:7;', 'Invalid argument'],
    ['more pairs than templates', 'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/unique:7 esp/tunnel/198.51.100.10-192.0.2.20/unique:7 esp/tunnel/192.0.2.10-192.0.2.20/unique:7 esp/tunnel/198.51.100.10-192.0.2.20/unique:7;', 'Invalid argument'],
  ];
  it.each(cases)('%s', async (_what, line, text) => {
    const env = await loaded();
    const km = await env.keyManager(777);
    const before = await env.snapshot();
    const r = await env.script(line);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`The result of line 1: ${text}.\n`);
    expect(await env.snapshot()).toBe(before);
    await settle();
    expect(km.migrates()).toEqual([]);
  });

  it('an SA whose SPI is taken at the new destination refuses the whole MIGRATE (EEXIST), the policy included', async () => {
    const env = await loaded();
    expect((await env.script(`add 203.0.113.5 198.51.100.10 esp 0x2001 -m tunnel ${KEYS};`)).code).toBe(0);
    const before = await env.snapshot();
    const r = await env.script(MIGRATE_IN);
    expect(r.out).toBe('The result of line 1: File exists.\n');
    expect(await env.snapshot()).toBe(before);
  });

  it('a bundle whose second pair is wrong moves neither template (validate all, then change)', async () => {
    const env = kernelEnv();
    expect(
      (
        await env.script(`spdadd 10.7.0.0/24 10.8.0.0/24 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require ah/tunnel/192.0.2.1-192.0.2.2/require;
add 192.0.2.1 192.0.2.2 esp 0x5001 -m tunnel ${KEYS};`)
      ).code,
    ).toBe(0);
    const before = await env.snapshot();
    const r = await env.script(
      'migrate 10.7.0.0/24 10.8.0.0/24 any -P out esp/tunnel/192.0.2.1-192.0.2.2/require esp/tunnel/192.0.2.9-192.0.2.2/require ah/tunnel/192.0.2.5-192.0.2.2/require ah/tunnel/192.0.2.9-192.0.2.2/require;',
    );
    expect(r.out).toBe('The result of line 1: Invalid argument.\n');
    expect(await env.snapshot()).toBe(before);
  });

  it('the errno reply goes to the sender only, with no extensions (af_key pfkey_error)', async () => {
    const env = await loaded();
    const km = await env.keyManager(777);
    const mip6d = await env.keyManager(900);
    const reply = await mip6d.sock.request({
      type: SadbMsgType.X_MIGRATE,
      satype: SadbSaType.ESP,
      errno: 0,
      seq: 42,
      pid: 900,
      ext: { addressSrc: { proto: 255, prefixlen: 24, addr: { family: 2, address: '10.1.0.0', port: 0 } }, addressDst: { proto: 255, prefixlen: 24, addr: { family: 2, address: '10.2.0.0', port: 0 } } },
    });
    expect(reply).toMatchObject({ type: SadbMsgType.X_MIGRATE, errno: Errno.EINVAL, seq: 42, pid: 900, ext: {} });
    await settle();
    expect(km.seen.filter((m) => m.type === SadbMsgType.X_MIGRATE)).toEqual([]);
  });
});
