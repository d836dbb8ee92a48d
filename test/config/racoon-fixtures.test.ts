/**
 * The sample configurations (test/fixtures/racoon, written for tanuki from the
 * grammar): everything the ipsec-tools samples use parses, and the known-bad
 * ones are rejected exactly where racoon rejects them.
 */
import * as path from 'node:path';
import { realFileSystem } from '../../src/config/racoon/files';
import { formatConfigError, parseRacoonConfig, type RacoonConfig } from '../../src/config/racoon';

const DIR = path.join(__dirname, '..', 'fixtures', 'racoon');

function load(name: string): RacoonConfig {
  const r = parseRacoonConfig(path.join(DIR, name));
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'));
  return r.config;
}

describe('sample configurations parse', () => {
  test('plain.conf: paths, padding, listen, timer, an anonymous remote with two proposals, three sainfos', () => {
    const c = load('plain.conf');
    expect(c.path.preSharedKey).toBe(path.join(DIR, 'psk.txt'));
    expect(c.log).toBe('notify');
    expect(c.padding).toMatchObject({ randomize: false, exclusiveTail: false });
    expect(c.listen.isakmp.map((e) => `${e.address}:${e.port}`)).toEqual(['192.0.2.1:500', '2001:db8::1:500']);
    expect(c.listen.adminsock).toEqual({ path: '/var/racoon/racoon.sock', owner: 0, group: 0, mode: 0o600 });
    expect(c.timer).toMatchObject({ interval: 20, phase2: 15 });
    const r = c.remotes[0];
    expect(r).toMatchObject({ name: 'anonymous', exchangeMode: ['aggressive', 'main'], lifetime: 60, supportProxy: true, proposalCheck: 'obey' });
    // aggressive mode: both proposals use group 2 (dh_group 2 and modp1024)
    expect(r.dhGroup?.name).toBe('modp1024');
    expect(r.proposals.map((p) => [p.encryption.alg.name, p.encryption.keyLength, p.lifetime])).toEqual([
      ['3des', 0, 60],
      ['aes', 256, 28800],
    ]);
    expect(c.sainfos.map((s) => s.description)).toEqual([
      "loc='192.0.2.1', rmt='198.51.100.7', peer='ANY', id=0",
      "loc='::1', rmt='::1', peer='ANY', id=0",
      "loc='ANONYMOUS', rmt='ANONYMOUS', peer='ANY', id=0",
    ]);
    expect(c.sainfos[2].encryption.map((a) => `${a.alg.name}/${a.keyLength}`)).toEqual(['aes/128', '3des/0', 'des/0', 'cast128/128', 'blowfish/448']);
    expect(c.sainfos[1].local).toMatchObject({ ulProto: 58 });
  });

  test('inherit.conf: named, address-form and block-less inheritance', () => {
    const c = load('inherit.conf');
    expect(c.remotes.map((r) => [r.name, r.inheritedFrom])).toEqual([
      ['defaults', null],
      ['office', 'defaults'],
      ['203.0.113.5[500]', 'office'],
      ['branch', 'office'],
    ]);
    const office = c.remotes[1];
    expect(office).toMatchObject({ lifetime: 7200, dpdDelay: 20, exchangeMode: ['main', 'aggressive'] });
    expect(office.proposals.map((p) => p.definedIn)).toEqual(['defaults', 'office']);
    expect(office.proposals.map((p) => p.lifetime)).toEqual([7200, 7200]);
    expect(c.remotes[2]).toMatchObject({ passive: true, remote: { address: '203.0.113.5' } });
    expect(c.remotes[3].remote).toMatchObject({ address: '198.51.100.20' });
    // racoon shares the peers_identifier list with the parent while the child is parsed
    expect(c.remotes[0].peersIdentifiers.map((i) => i.value)).toEqual(['base.example.net', 'office.example.net']);
  });

  test('natt.conf: NAT-T listener, keepalive, nat_traversal force/on', () => {
    const c = load('natt.conf');
    expect(c.listen).toMatchObject({ strictAddress: true, isakmpNatt: [{ address: '192.0.2.1', port: 4500 }] });
    expect(c.timer.nattKeepalive).toBe(15);
    expect(c.remotes.map((r) => [r.natTraversal, r.generatePolicy, r.passive])).toEqual([
      ['force', 'off', false],
      ['on', 'require', true],
    ]);
    expect(c.remotes[0]).toMatchObject({ ikeFrag: 'on', espFrag: 552 });
  });

  test('plainrsa.conf: plain RSA keys are loaded and rsasig accepted', () => {
    const r = load('plainrsa.conf').remotes[0];
    expect(r.certificate).toEqual({ type: 'plain_rsa', keyFile: 'gateway.rsa' });
    expect(r.peersCertfile).toEqual({ type: 'plain_rsa', file: 'peer.pub' });
    expect(r.proposals[0].authMethod.alg.name).toBe('rsasig');
  });

  test('gssapi.conf: gssapi_krb with a GSS id, latin1 id encoding', () => {
    const c = load('gssapi.conf');
    expect(c.gssIdEnc).toBe('latin1');
    expect(c.remotes[0].proposals[0]).toMatchObject({ gssId: 'host/gw.example.net', authMethod: { alg: { name: 'gssapi_krb', ikev1: 65001 } } });
  });

  test('roadwarrior-client.conf: hybrid RSA client, XAuth login, mode_cfg, hook scripts under `path script`', () => {
    const r = load('roadwarrior-client.conf').remotes[0];
    expect(r).toMatchObject({ modeCfg: true, xauthLogin: 'xauth-user', verifyIdentifier: true, dpdDelay: 30, caType: { type: 'x509', file: 'ca.crt' } });
    expect(r.scripts.phase1_up).toBe(path.join(DIR, 'scripts', 'phase1-up.sh'));
    expect(r.proposals[0].authMethod.alg).toMatchObject({ name: 'hybrid_rsa_client', ikev1: 64221 });
  });

  test('roadwarrior-server.conf: hybrid/xauth server, radius, mode_cfg pool and split tunnelling', () => {
    const c = load('roadwarrior-server.conf');
    expect(c.listen.adminsock.path).toBeNull();
    expect(c.remotes[0]).toMatchObject({ certificate: { type: 'x509', certFile: 'server.crt', keyFile: 'server.key' }, myIdentifier: { type: 'asn1dn', value: null } });
    expect(c.radius).toEqual({
      auth: [{ host: 'radius.example.net', port: 1812, secret: 'sharedsecret' }],
      acct: [{ host: 'radius.example.net', port: 0, secret: 'sharedsecret' }],
      timeout: 5,
      retries: 2,
    });
    expect(c.modeCfg).toMatchObject({
      network4: '10.99.99.1',
      poolSize: 250,
      dns4: ['10.0.0.53', '10.0.1.53'],
      nbns4: ['10.0.0.54'],
      splitNetworkType: 'include',
      splitNetwork: [
        { address: '10.0.0.0', prefixlen: 16 },
        { address: '172.16.0.0', prefixlen: 12 },
      ],
      splitDns: ['corp.example.net', 'lab.example.net'],
      authGroups: ['vpnusers', 'admins'],
      authSource: 'radius',
      accounting: 'radius',
      pfsGroup: 2,
      savePasswd: true,
    });
  });

  test('roadwarrior-server-ldap.conf: ldapcfg spelled and quoted correctly', () => {
    const c = load('roadwarrior-server-ldap.conf');
    expect(c.ldap).toMatchObject({ host: 'ldap.example.net', subtree: true, attrMember: 'memberUid', version: 3 });
    expect(c.modeCfg).toMatchObject({ authSource: 'ldap', groupSource: 'ldap', confSource: 'ldap' });
  });

  test('debian.conf: Debian-style default that pulls peers in with an include glob', () => {
    const c = load('debian.conf');
    expect(c.files.map((f) => path.basename(f))).toEqual(['debian.conf', '10-office.conf', '20-office-sainfo.conf']);
    expect(c.remotes.map((r) => r.name)).toEqual(['198.51.100.30[500]']);
    expect(c.sainfos[0].local).toMatchObject({ kind: 'address', address: '10.1.0.0', prefixlen: 16 });
  });

  test('ikev2.conf: the IKEv2 extension next to an IKEv1 remote using IKEv1-defined ECP/SHA-512', () => {
    const c = load('ikev2.conf');
    expect(c.remotes.map((r) => [r.name, r.ikeVersion, r.mobike, r.ikeFrag])).toEqual([
      ['v2-gateway', 2, true, 'force'],
      ['v1-modern', 1, false, 'off'],
    ]);
    expect(c.remotes[0].proposals.map((p) => p.encryption.alg.name)).toEqual(['aes_gcm_16', 'chacha20_poly1305', 'aes']);
  });
});

describe('sample configurations racoon rejects', () => {
  test('`ldap_cfg` (the lexer keyword is ldapcfg) is a syntax error at that word', () => {
    const r = parseRacoonConfig(path.join(DIR, 'bad-ldap_cfg.conf'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors[0]).toMatchObject({ line: 4, column: 1, token: 'ldap_cfg', message: 'syntax error' });
      expect(r.errors[0].expected).toContain('ldapcfg');
    }
  });

  test('an unquoted ldap host is a syntax error at the host name', () => {
    const r = parseRacoonConfig(path.join(DIR, 'bad-ldap-host.conf'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors[0]).toMatchObject({ line: 5, column: 7, token: 'ldap.example.net', message: 'syntax error', expected: ['a quoted string'] });
      expect(formatConfigError(r.errors[0])).toBe(
        `${path.join(DIR, 'bad-ldap-host.conf')}:5:7: syntax error; expected a quoted string (near 'ldap.example.net')`,
      );
    }
  });

  test('a certificate that does not parse: "failed to load certificate" at its name', () => {
    const r = parseRacoonConfig(path.join(DIR, 'plain.conf'), {
      fs: {
        ...realFileSystem,
        readFile: () => Buffer.from(`path certificate "${path.join(DIR, 'certs')}";\nremote anonymous {\n  exchange_mode main;\n  ca_type x509 "broken.crt";\n}\n`),
      },
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ line: 4, column: 16, message: 'failed to load certificate "broken.crt"' });
  });

  test('a missing configuration file is an error, not an exception', () => {
    const r = parseRacoonConfig(path.join(DIR, 'does-not-exist.conf'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0].message).toMatch(/^could not read configuration file/);
  });
});
