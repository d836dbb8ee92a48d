/**
 * racoon.conf → XAUTH / Mode-Config settings (src/daemon/ikev1-cfg.ts):
 * the tanuki extension `path xauth_users`, racoon's auth_source values tanuki
 * refuses (radius, ldap, pam) with a clear message, the client password taken
 * from psk.txt by the xauth_login (racoon getpskbyname), and racoon's
 * gssapi_krb (which shares 65001 with XAUTHInitPreShared) not mistaken for XAUTH.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRacoonConfigText, formatConfigError, type RacoonConfig } from '../../src/config/racoon';
import { buildCfgServer, modeCfgHookEnv, peerExtensions, xauthServerProblems } from '../../src/daemon/ikev1-cfg';
import { checkConfiguration } from '../../src/config/check';
import { hashXauthPassword } from '../../src/config/xauth-users';

const dir = mkdtempSync(join(tmpdir(), 'tanuki-cfg-'));
const P = (m: string) => `proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method ${m}; dh_group 2; }`;

function parse(text: string): RacoonConfig {
  const r = parseRacoonConfigText(text, join(dir, 'racoon.conf'), { loadFiles: false });
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'));
  return r.config;
}
function logger() {
  const lines: string[] = [];
  const f = (o: object, m: string) => void lines.push(m);
  return { lines, log: { error: f, warn: f, info: f } };
}

describe('XAUTH server configuration', () => {
  it('`path xauth_users "file";` is parsed (relative to the config directory) and feeds the user source', () => {
    writeFileSync(join(dir, 'users'), `alice:${hashXauthPassword('pw', Buffer.from('0011', 'hex'))}\n`);
    const c = parse(`path xauth_users "users";\nmode_cfg { network4 10.9.0.1; pool_size 4; auth_source system; }\nremote anonymous { exchange_mode main; ${P('xauth_psk_server')} }`);
    expect(c.path.xauthUsers).toBe(join(dir, 'users'));
    expect(xauthServerProblems(c)).toEqual([]);
    const { log } = logger();
    const server = buildCfgServer(c, log)!;
    expect(server.users!.verify('alice', Buffer.from('pw'))).toBe(true);
    expect(server.pool!.allocate('alice')).toBe('10.9.0.1');
  });

  it.each(['radius', 'ldap', 'pam'])('auth_source %s is refused with a message naming the alternative, and no user source is built', (src) => {
    const c = parse(`mode_cfg { auth_source ${src}; }\nremote anonymous { exchange_mode main; ${P('xauth_psk_server')} }`);
    expect(xauthServerProblems(c)).toEqual([expect.stringContaining(`mode_cfg auth_source ${src} is not supported by tanuki`)]);
    const { log, lines } = logger();
    expect(buildCfgServer(c, log)!.users).toBeNull();
    expect(lines.some((l) => l.includes('use auth_source system with path xauth_users'))).toBe(true);
  });

  it('an xauth server without `path xauth_users` is reported', () => {
    const c = parse(`remote anonymous { exchange_mode main; ${P('xauth_psk_server')} }`);
    expect(xauthServerProblems(c)[0]).toMatch(/path xauth_users/);
  });

  it('a malformed user file is reported with file:line:column and the token', () => {
    writeFileSync(join(dir, 'bad-users'), 'alice:secret\n');
    const c = parse(`path xauth_users "bad-users";\nremote anonymous { exchange_mode main; ${P('xauth_psk_server')} }`);
    const { log, lines } = logger();
    expect(buildCfgServer(c, log)!.users).toBeNull();
    expect(lines).toContain(`${join(dir, 'bad-users')}:1:7: expected scrypt$<salt hex>$<64 hex digits> near "secret"`);
  });
});

describe('XAUTH client configuration', () => {
  const psk = join(dir, 'psk.txt');
  writeFileSync(psk, 'gw.test\tgroupsecret\nalice\twonderland\n');
  chmodSync(psk, 0o600);

  it('the password comes from psk.txt keyed by xauth_login; mode_cfg and ike_frag are carried over', () => {
    const c = parse(`path pre_shared_key "psk.txt";\nremote 10.0.0.2 { exchange_mode main; xauth_login "alice"; mode_cfg on; ike_frag force; ${P('xauth_psk_client')} }`);
    const { log } = logger();
    expect(peerExtensions(c, c.remotes[0], log)).toEqual({ modeCfg: true, ikeFrag: 'force', xauthLogin: 'alice', xauthPassword: Buffer.from('wonderland') });
  });

  it('a login without a psk.txt entry makes the remote unusable with racoon\'s message', () => {
    const c = parse(`path pre_shared_key "psk.txt";\nremote 10.0.0.2 { exchange_mode main; xauth_login "bob"; ${P('xauth_psk_client')} }`);
    const { log, lines } = logger();
    expect(peerExtensions(c, c.remotes[0], log)).toBeNull();
    expect(lines.some((l) => l.startsWith("couldn't find the pskey for bob"))).toBe(true);
  });

  it('gssapi_krb (racoon 65001) is not taken for an XAUTH client', () => {
    const c = parse(`remote 10.0.0.2 { exchange_mode main; ${P('gssapi_krb')} }`);
    const { log } = logger();
    expect(peerExtensions(c, c.remotes[0], log)).toEqual({ modeCfg: false, ikeFrag: 'off' });
  });
});

describe('racoon -t (checkConfiguration) and the XAUTH server', () => {
  const conf = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  it('a valid user file passes; a malformed one and auth_source radius are errors naming the place (radius: a warning, racoon would accept it)', () => {
    writeFileSync(join(dir, 'users-ok'), `alice:${hashXauthPassword('pw', Buffer.from('01', 'hex'))}\n`);
    writeFileSync(join(dir, 'users-bad'), '# users\nbob:scrypt$zz$00\n');
    const body = `path pre_shared_key "psk.txt";\nremote anonymous { exchange_mode main; ${P('xauth_psk_server')} }\n`;
    expect(checkConfiguration(conf('ok.conf', `path xauth_users "users-ok";\n${body}`)).errors).toEqual([]);
    expect(checkConfiguration(conf('bad.conf', `path xauth_users "users-bad";\n${body}`)).errors).toEqual([`${join(dir, 'users-bad')}:2:5: expected scrypt$<salt hex>$<64 hex digits> near "scrypt$zz$00"`]);
    expect(checkConfiguration(conf('radius.conf', `mode_cfg { auth_source radius; }\n${body}`)).warnings).toContainEqual(expect.stringMatching(/auth_source radius is not supported by tanuki/));
    expect(checkConfiguration(conf('none.conf', body)).errors[0]).toMatch(/path xauth_users/);
  });
});

describe('Mode-Config script variables (racoon isakmp_cfg_setenv)', () => {
  it('INTERNAL_*, SPLIT_* in mask and CIDR form, DEFAULT_DOMAIN; XAUTH_USER on the server', () => {
    const env = modeCfgHookEnv(
      {
        address: '10.200.0.7',
        netmask: '255.255.252.0',
        dns: ['10.0.0.53', '10.0.1.53'],
        nbns: ['10.0.0.54'],
        banner: null,
        defaultDomain: 'corp.test',
        splitInclude: [{ address: '10.2.0.0', prefixlen: 16 }, { address: '192.168.7.0', prefixlen: 25 }],
        splitLocalLan: [{ address: '192.168.1.0', prefixlen: 24 }],
        splitDns: [],
        savePasswd: false,
      },
      'alice',
    );
    expect(env).toEqual({
      INTERNAL_ADDR4: '10.200.0.7',
      INTERNAL_NETMASK4: '255.255.252.0',
      INTERNAL_CIDR4: '22',
      INTERNAL_DNS4: '10.0.0.53',
      INTERNAL_DNS4_LIST: '10.0.0.53 10.0.1.53',
      INTERNAL_WINS4: '10.0.0.54',
      INTERNAL_WINS4_LIST: '10.0.0.54',
      SPLIT_INCLUDE: '10.2.0.0/255.255.0.0 192.168.7.0/255.255.255.128',
      SPLIT_INCLUDE_CIDR: '10.2.0.0/16 192.168.7.0/25',
      SPLIT_LOCAL: '192.168.1.0/255.255.255.0',
      SPLIT_LOCAL_CIDR: '192.168.1.0/24',
      DEFAULT_DOMAIN: 'corp.test',
      XAUTH_USER: 'alice',
    });
  });
});
