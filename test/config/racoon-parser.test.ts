/**
 * racoon.conf parser: defaults from racoon's code, inheritance semantics and
 * every error form with its position (racoon-compat §1, cfparse.y, remoteconf.c).
 */
import { SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import { formatConfigError, kernelAlgorithmsFromRegister, parseRacoonConfigText } from '../../src/config/racoon';
import { PROPOSAL, SAINFO_ALGS, memFs, noFiles, parseErr, parseOk } from './helpers';

const REMOTE = `remote anonymous { exchange_mode main; ${PROPOSAL} }`;

describe('defaults (racoon code, where it differs from racoon.conf(5))', () => {
  const c = parseOk(`${REMOTE}\nsainfo anonymous { ${SAINFO_ALGS} }`);
  const r = c.remotes[0];

  test('localconf: timer phase1/phase2 30 s (man page: 15/10), complex_bundle on (man page: off)', () => {
    expect(c.timer).toEqual({ counter: 5, interval: 10, persend: 1, phase1: 30, phase2: 30, nattKeepalive: 20 });
    expect(c.complexBundle).toBe(true);
    expect(c.padding).toEqual({ randomize: true, randomizeLength: false, maximumLength: 20, strictCheck: false, exclusiveTail: true });
    expect(c.log).toBe('info');
    expect(c.gssIdEnc).toBe('utf-16le');
    expect(c.pfkeyBuffer).toBe(0);
    expect(c.listen.present).toBe(false);
    expect(c.listen.adminsock).toEqual({ path: '/var/racoon/racoon.sock', owner: 0, group: 0, mode: 0o600 });
  });

  test('remoteconf: match_empty_cr off (man page: on), dpd on with delay 0, rekey on, lifetime 28800 s', () => {
    expect(r.matchEmptyCr).toBe(false);
    expect(r).toMatchObject({
      doi: 'ipsec_doi',
      situation: 'identity_only',
      verifyCert: true,
      sendCert: true,
      sendCr: true,
      nonceSize: 16,
      passive: false,
      initialContact: true,
      supportProxy: false,
      generatePolicy: 'off',
      natTraversal: 'off',
      proposalCheck: 'strict',
      dpd: true,
      dpdDelay: 0,
      dpdRetry: 5,
      dpdMaxfail: 5,
      rekey: 'on',
      ph1id: 0,
      lifetime: 28800,
      ikeFrag: 'off',
      espFrag: 65535,
      modeCfg: false,
      weakPhase1Check: false,
      ikeVersion: 1,
      mobike: false,
    });
    expect(r.myIdentifier).toEqual({ type: 'address', qualifier: null, value: null, file: null });
    expect(r.proposals[0].lifetime).toBe(28800);
    expect(r.proposals[0].encryption.keyLength).toBe(128);
  });

  test('sainfo: lifetime 28800 s, remoteid 0, no pfs group', () => {
    expect(c.sainfos[0]).toMatchObject({ lifetime: 28800, remoteid: 0, pfsGroup: null, local: null, remote: null });
  });

  test('mode_cfg defaults', () => {
    expect(c.modeCfg).toMatchObject({ poolSize: 255, authSource: 'system', banner: '/etc/motd', authThrottle: 1, pfsGroup: 0, accounting: 'none' });
  });

  test('the result is deeply immutable', () => {
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.remotes[0].proposals[0])).toBe(true);
    expect(() => {
      (c.timer as { counter: number }).counter = 1;
    }).toThrow(TypeError);
  });
});

describe('values', () => {
  test('adminsock mode is read as decimal digits and an x bit adds another w bit (racoon quirk: 7 → 0400+0200+0200 = 01000)', () => {
    const c = parseOk('listen { adminsock "/run/racoon.sock" "racoon" "operator" 750; }');
    expect(c.listen.adminsock).toEqual({ path: '/run/racoon.sock', owner: 110, group: 37, mode: 0o1060 });
  });

  test('adminsock with an unknown owner name becomes uid atoi(name) = 0 (racoon never errors here)', () => {
    expect(parseOk('listen { adminsock "/r.sock" "nosuchuser" "7" 600; }').listen.adminsock).toMatchObject({ owner: 0, group: 7 });
  });

  test('adminsock disabled, and the [fork] socket-name rule', () => {
    expect(parseOk('listen { adminsock disabled; }').listen.adminsock.path).toBeNull();
    const e = parseErr('listen { adminsock "/tmp/admin"; }');
    expect(e.message).toMatch(/admin socket path "\/tmp\/admin" is not allowed/);
  });

  test('isakmp_natt without a port defaults to 500 like racoon (ike_port)', () => {
    const c = parseOk('listen { isakmp_natt 192.0.2.1; isakmp 2001:db8::1 [7000]; }');
    expect(c.listen.isakmpNatt[0]).toEqual({ address: '192.0.2.1', family: 4, zone: '', port: 500 });
    expect(c.listen.isakmp[0].port).toBe(7000);
  });

  test('time units multiply; lifetime in a proposal overrides the remote one', () => {
    const c = parseOk(`remote anonymous { exchange_mode main; lifetime time 2 hours;
      proposal { encryption_algorithm aes 256; hash_algorithm sha1; authentication_method pre_shared_key; dh_group 2; lifetime time 10 min; }
      ${PROPOSAL} }`);
    expect(c.remotes[0].proposals.map((p) => p.lifetime)).toEqual([600, 7200]);
    expect(c.remotes[0].proposals.map((p) => p.trnsNo)).toEqual([1, 2]);
    expect(c.remotes[0].proposals[0].encryption.keyLength).toBe(256);
  });

  test('generate_policy on means require; rekey/nat_traversal/ike_frag take force', () => {
    const c = parseOk(`remote anonymous { exchange_mode main; generate_policy on; rekey force; nat_traversal force; ike_frag force; ${PROPOSAL} }
      remote 192.0.2.9 { exchange_mode main; generate_policy unique; ${PROPOSAL} }`);
    expect(c.remotes[0]).toMatchObject({ generatePolicy: 'require', rekey: 'force', natTraversal: 'force', ikeFrag: 'force' });
    expect(c.remotes[1].generatePolicy).toBe('unique');
    expect(c.remotes[1].name).toBe('192.0.2.9[500]');
  });

  test('certificate_type plain_rsa forces send_cert, send_cr and verify_cert off', () => {
    const c = parseOk(`remote anonymous { exchange_mode main; certificate_type plain_rsa "k.rsa"; ${PROPOSAL} }`);
    expect(c.remotes[0]).toMatchObject({ sendCert: false, sendCr: false, verifyCert: false, certificate: { type: 'plain_rsa', keyFile: 'k.rsa' } });
  });

  test('script paths are relative to `path script` at the time they are read', () => {
    const c = parseOk(`path script "/etc/racoon/scripts"; remote anonymous { exchange_mode main; script "up.sh" phase1_up; script "/bin/down" phase1_down; ${PROPOSAL} }`);
    expect(c.remotes[0].scripts).toEqual({ phase1_up: '/etc/racoon/scripts/up.sh', phase1_down: '/bin/down', phase1_dead: null });
  });

  test('sainfo identities: subnet, address range, fqdn, ports and upper-layer protocols', () => {
    const c = parseOk(`sainfo subnet 10.0.0.0/8 [80] tcp address 10.1.0.1-10.1.0.9 any from fqdn "peer.example" { ${SAINFO_ALGS} }
      sainfo user_fqdn "a@b" anonymous { ${SAINFO_ALGS} }`);
    const s = c.sainfos[0];
    expect(s.local).toMatchObject({ kind: 'address', address: '10.0.0.0', prefixlen: 8, port: 80, ulProto: 6 });
    expect(s.remote).toMatchObject({ kind: 'range', low: '10.1.0.1', high: '10.1.0.9', ulProto: 255 });
    expect(s.fromText).toBe('fqdn peer.example');
    expect(s.priority).toBe(5);
    expect(s.description).toBe("loc='10.0.0.0/8', rmt='10.1.0.1-10.1.0.9', peer='peer.example', id=0");
    expect(c.sainfos[1].local).toMatchObject({ kind: 'user_fqdn', value: 'a@b' });
  });

  test('sainfo entries are kept in racoon priority order (remoteid +3, from +3, local +1, remote +1)', () => {
    const c = parseOk(`sainfo anonymous { ${SAINFO_ALGS} }
      sainfo address 10.0.0.9 any anonymous { ${SAINFO_ALGS} }
      sainfo address 10.0.0.1 any address 10.0.0.2 any { ${SAINFO_ALGS} }
      sainfo anonymous { remoteid 4; ${SAINFO_ALGS} }`);
    expect(c.sainfos.map((s) => s.priority)).toEqual([3, 2, 1, 0]);
  });

  test('mode_cfg lists, split networks and sources', () => {
    const c = parseOk('mode_cfg { network4 10.9.0.1; netmask4 255.255.0.0; dns4 10.0.0.1, 10.0.0.2; split_network local_lan 192.168.0.0/24; split_dns "a", "b"; auth_source pam; accounting system; save_passwd on; }');
    expect(c.modeCfg).toMatchObject({
      network4: '10.9.0.1',
      netmask4: '255.255.0.0',
      dns4: ['10.0.0.1', '10.0.0.2'],
      splitNetworkType: 'local_lan',
      splitNetwork: [{ address: '192.168.0.0', prefixlen: 24 }],
      splitDns: ['a', 'b'],
      authSource: 'pam',
      accounting: 'system',
      savePasswd: true,
    });
  });

  test('privsep user and group by name (getpwnam) or number, chroot', () => {
    expect(parseOk('privsep { user "racoon"; group 120; chroot "/var/empty"; }').privsep).toEqual({ uid: 110, gid: 120, chroot: '/var/empty' });
  });

  test('radiuscfg and ldapcfg defaults and values', () => {
    const c = parseOk('radiuscfg { auth "r1" "s"; acct "r2" 1813 "t"; } ldapcfg { host "ldap"; attr_user "uid"; }');
    expect(c.radius).toEqual({ auth: [{ host: 'r1', port: 0, secret: 's' }], acct: [{ host: 'r2', port: 1813, secret: 't' }], timeout: 3, retries: 3 });
    expect(c.ldap).toMatchObject({ version: 3, host: 'ldap', port: 389, attrUser: 'uid', attrAddr: 'racoon-address', attrMask: 'racoon-netmask', attrMember: 'member' });
  });
});

describe('inheritance (duprmconf_shallow + duprmconf_finish)', () => {
  const base = `remote "base" { exchange_mode main; lifetime time 1 hour; peers_identifier fqdn "a.example"; xauth_login "alice";
    proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method pre_shared_key; dh_group 14; } }`;

  test('the child copies every field; its own proposals come after the parent proposals', () => {
    const c = parseOk(`${base}
      remote "child" inherit "base" { remote_address 192.0.2.5; dpd_delay 10;
        proposal { encryption_algorithm 3des; hash_algorithm md5; authentication_method pre_shared_key; dh_group 14; } }`);
    const child = c.remotes[1];
    expect(child.inheritedFrom).toBe('base');
    expect(child.exchangeMode).toEqual(['main']);
    expect(child.lifetime).toBe(3600);
    expect(child.dpdDelay).toBe(10);
    expect(child.remote).toMatchObject({ address: '192.0.2.5', port: 500 });
    expect(child.proposals.map((p) => [p.encryption.alg.name, p.definedIn, p.trnsNo])).toEqual([
      ['aes', 'base', 1],
      ['3des', 'child', 2],
    ]);
    expect(c.remotes[0].proposals).toHaveLength(1);
  });

  test('`remote "x" inherit "y";` inherits everything; parent lifetime applies to inherited proposals', () => {
    const c = parseOk(`${base} remote "copy" inherit "base";`);
    expect(c.remotes[1].proposals[0].lifetime).toBe(3600);
    expect(c.remotes[1].remote).toBeNull();
  });

  test('a child lifetime applies to the inherited proposals without their own lifetime', () => {
    const c = parseOk(`${base} remote "c" inherit "base" { lifetime time 5 min; }`);
    expect(c.remotes[1].proposals[0].lifetime).toBe(300);
    expect(c.remotes[0].proposals[0].lifetime).toBe(3600);
  });

  test('exchange_mode in the child replaces the parent list', () => {
    const c = parseOk(`${base} remote "c" inherit "base" { exchange_mode aggressive; }`);
    expect(c.remotes[1].exchangeMode).toEqual(['aggressive']);
    expect(c.remotes[0].exchangeMode).toEqual(['main']);
  });

  test('peers_identifier and xauth_login in a child also reach the parent (racoon shares them until the block ends)', () => {
    const c = parseOk(`${base} remote "c" inherit "base" { peers_identifier fqdn "b.example"; xauth_login "bob"; }`);
    expect(c.remotes[1].peersIdentifiers.map((i) => i.value)).toEqual(['a.example', 'b.example']);
    expect(c.remotes[0].peersIdentifiers.map((i) => i.value)).toEqual(['a.example', 'b.example']);
    expect(c.remotes[0].xauthLogin).toBe('bob');
  });

  test('remote_address in a child of an addressed parent: "remote_address already specified"', () => {
    const e = parseErr(`remote "p" { remote_address 192.0.2.1; exchange_mode main; ${PROPOSAL} }
remote "c" inherit "p" {
  remote_address 192.0.2.2;
}`);
    expect(e).toMatchObject({ line: 3, message: 'remote_address already specified' });
  });

  test('address-form inheritance looks the parent up by address (getrmconf, no anonymous)', () => {
    const c = parseOk(`remote 192.0.2.1 { exchange_mode main; nonce_size 32; ${PROPOSAL} } remote 192.0.2.2 inherit 192.0.2.1 { passive on; }`);
    expect(c.remotes[1]).toMatchObject({ name: '192.0.2.2[500]', nonceSize: 32, passive: true, inheritedFrom: '192.0.2.1[500]' });
    const e = parseErr(`remote anonymous { exchange_mode main; ${PROPOSAL} } remote 192.0.2.2 inherit anonymous;`);
    expect(e.message).toBe('failed to get remoteconf for anonymous.');
  });

  test('an address-form parent that two remotes share is ambiguous (getrmconf tie)', () => {
    const e = parseErr(`remote "a" { remote_address 192.0.2.1; exchange_mode main; ${PROPOSAL} }
remote "b" inherit "a";
remote 192.0.2.9 inherit 192.0.2.1 { passive on; }`);
    expect(e).toMatchObject({ line: 3, column: 26, message: 'failed to get remoteconf for 192.0.2.1[500].' });
  });

  test('a second certificate_type in a child of a parent with one: "certificate_type already defined"', () => {
    const e = parseErr(`remote "p" { exchange_mode main; certificate_type x509 "a.crt" "a.key"; ${PROPOSAL} } remote "c" inherit "p" { certificate_type x509 "b.crt" "b.key"; }`);
    expect(e.message).toBe('certificate_type already defined');
  });

  test('named parent must exist; names are unique', () => {
    expect(parseErr('remote "c" inherit "nope";')).toMatchObject({ message: 'named parent remoteconf "nope" does not exist.', column: 20 });
    expect(parseErr(`remote "a" { exchange_mode main; ${PROPOSAL} } remote "a" { }`).message).toBe('Named remoteconf "a" already exists.');
  });
});

describe('errors: file:line:column, message, token, expected', () => {
  test('syntax error lists what the grammar accepts and names the token', () => {
    const r = parseRacoonConfigText('log notify;\nlog loud;\n', '/etc/racoon/racoon.conf', { fs: noFiles });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(formatConfigError(r.errors[0])).toBe(
      "/etc/racoon/racoon.conf:2:5: syntax error; expected error, warning, notify, info, debug, debug2 (near 'loud')",
    );
  });

  test('unexpected end of file', () => {
    const e = parseErr('remote anonymous {\n exchange_mode main;\n');
    expect(e).toMatchObject({ line: 3, message: 'syntax error', token: '' });
    expect(formatConfigError(e)).toMatch(/near end of file/);
  });

  test.each([
    ['remote anonymous {\n  exchange_mode main;\n  dh_group 2;\n}', 3, 3, 'dh_group cannot be defined here.'],
    [`remote anonymous {\n  ${PROPOSAL}\n}`, 3, 1, 'no exchange mode specified.'],
    [`remote anonymous {\n  exchange_mode main;\n  lifetime byte 1 MB;\n}`, 3, 19, 'byte lifetime support is deprecated in Phase1'],
    ['remote anonymous { exchange_mode main; }', 1, 40, 'no remote specification found: anonymous.'],
    ['remote anonymous { exchange_mode main; proposal { hash_algorithm sha1; authentication_method pre_shared_key; dh_group 2; } }', 1, 124, 'encryption algorithm required.'],
    ['remote anonymous { exchange_mode main; proposal { encryption_algorithm aes; authentication_method pre_shared_key; dh_group 2; } }', 1, 129, 'hash algorithm required.'],
    ['remote anonymous { exchange_mode main; proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method pre_shared_key; } }', 1, 138, 'DH group required.'],
    ['remote anonymous { exchange_mode main; proposal { encryption_algorithm aes; hash_algorithm sha1; dh_group 2; } }', 1, 112, 'authentication method required.'],
    [
      'remote anonymous { exchange_mode aggressive; proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method pre_shared_key; dh_group 2; }\n proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method pre_shared_key; dh_group 14; }\n}',
      3,
      1,
      'DH group must be equal in all proposals when aggressive mode is used.',
    ],
    ['remote anonymous { exchange_mode main; proposal { encryption_algorithm sha1; } }', 1, 72, 'algorithm mismatched 1'],
    ['remote anonymous { exchange_mode main; proposal { encryption_algorithm 3des 128; } }', 1, 77, 'keylen not allowed'],
    ['remote anonymous { exchange_mode main; proposal { encryption_algorithm aes 100; } }', 1, 76, 'invalid keylen 100'],
    ['remote anonymous { exchange_mode main; proposal { dh_group 7; } }', 1, 60, 'must be DH group'],
    ['remote anonymous { exchange_mode main; proposal { gss_id "x"; } }', 1, 58, 'wrong Vendor ID for gssapi_id'],
    ['remote anonymous { exchange_mode main; proposal { encryption_algorithm idea; } }', 1, 72, 'algorithm IDEA not supported'],
    ['remote anonymous { exchange_mode main; my_identifier asn1dn; ' + PROPOSAL + ' }', 1, 172, 'ASN1 ID not specified and no CERT defined!'],
    ['remote anonymous { exchange_mode main; my_identifier fqdn; }', 1, 54, 'failed to set identifer.'],
    ['remote anonymous { exchange_mode main; my_identifier address "not-an-ip"; }', 1, 62, 'failed to set identifer.'],
    ['sainfo anonymous {\n  encryption_algorithm aes;\n  authentication_algorithm hmac_sha1;\n}', 4, 1, "no compression algorithm at loc='ANONYMOUS', rmt='ANONYMOUS', peer='ANY', id=0"],
    ['sainfo anonymous { authentication_algorithm hmac_sha1; compression_algorithm deflate; }', 1, 87, "no encryption algorithm at loc='ANONYMOUS', rmt='ANONYMOUS', peer='ANY', id=0"],
    ['sainfo anonymous { encryption_algorithm aes; compression_algorithm deflate; }', 1, 77, "no authentication algorithm at loc='ANONYMOUS', rmt='ANONYMOUS', peer='ANY', id=0"],
    ['sainfo anonymous { lifetime byte 10 KB; }', 1, 37, 'byte lifetime support is deprecated'],
    ['sainfo anonymous { encryption_algorithm hmac_sha1; }', 1, 41, 'algorithm mismatched'],
    ['sainfo anonymous { pfs_group modp999; }', 1, 30, 'syntax error'],
    ['sainfo address 10.0.0.1 [80] icmp anonymous { }', 1, 30, 'port number must be "any".'],
    ['sainfo address 10.0.0.1 icmp6 anonymous { }', 1, 25, 'upper layer protocol mismatched.'],
    ['sainfo asn1dn "CN=x" anonymous { }', 1, 15, 'id type forbidden: 4'],
    ['sainfo address 10.0.0.1 anonymous { }', 1, 25, 'syntax error'],
    ['remote anonymous { exchange_mode main; ike_version 3; }', 1, 52, 'ike_version must be 1 or 2'],
    ['ldapcfg { version 4; }', 1, 19, 'invalid ldap protocol version (2|3)'],
    ['listen { adminsock "/r.sock" "root" "root" 800; }', 1, 44, 'Mode 01440 is invalid'],
    ['mode_cfg { dns4 1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4; }', 1, 44, 'No more than 3 DNS'],
    ['mode_cfg { network4 2001:db8::1; }', 1, 21, 'bad IPv4 network address.'],
    ['radiuscfg { auth "a" "s"; auth "a" "s"; auth "a" "s"; auth "a" "s"; auth "a" "s"; auth "a" "s"; }', 1, 83, 'maximum radius auth servers exceeded'],
    ['privsep { user "nosuch"; }', 1, 16, 'unknown user "nosuch"'],
    ['listen { isakmp host.example.net; }', 1, 17, 'syntax error'],
    ['sainfo anonymous { my_identifier address; }', 1, 20, 'syntax error'],
    ['remote anonymous { exchange_mode main; keepalive; }', 1, 40, 'syntax error'],
    ['listen { admin 500; }', 1, 10, 'syntax error'],
    ['sainfo anonymous from fqdn "a" group "g" { }', 1, 32, 'syntax error'],
  ])('%s → %i:%i %s', (text, line, column, message) => {
    const e = parseErr(text);
    expect({ line: e.line, column: e.column, message: e.message }).toEqual({ line, column, message });
  });

  test('a duplicate non-anonymous sainfo is an error; a duplicate anonymous one is not', () => {
    const e = parseErr(`sainfo address 10.0.0.1 any address 10.0.0.2 any { ${SAINFO_ALGS} }\nsainfo address 10.0.0.1 any address 10.0.0.2 any { ${SAINFO_ALGS} }`);
    expect(e).toMatchObject({ line: 2, message: "duplicated sainfo: loc='10.0.0.1', rmt='10.0.0.2', peer='ANY', id=0" });
    expect(parseOk(`sainfo anonymous { ${SAINFO_ALGS} } sainfo anonymous { ${SAINFO_ALGS} }`).sainfos).toHaveLength(2);
  });

  test('racoon counts "A anonymous" and "A B" with the same local id as duplicates (anonymous matches anything)', () => {
    const e = parseErr(`sainfo address 10.0.0.1 any anonymous { ${SAINFO_ALGS} }\nsainfo address 10.0.0.1 any address 10.0.0.2 any { ${SAINFO_ALGS} }`);
    expect(e.message).toMatch(/^duplicated sainfo: loc='10.0.0.1', rmt='10.0.0.2'/);
    // a different remoteid keeps them apart
    expect(parseOk(`sainfo address 10.0.0.1 any anonymous { ${SAINFO_ALGS} }\nsainfo address 10.0.0.1 any address 10.0.0.2 any { remoteid 1; ${SAINFO_ALGS} }`).sainfos).toHaveLength(2);
  });

  test('errors inside an included file name that file', () => {
    const fs = memFs({ '/etc/racoon/inc/a.conf': 'log notify;\nremote anonymous { exchange_mode main; }\n' });
    const r = parseRacoonConfigText('path include "/etc/racoon/inc";\ninclude "a.conf";\n', '/etc/racoon/racoon.conf', { fs });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ file: '/etc/racoon/inc/a.conf', line: 2, message: 'no remote specification found: anonymous.' });
  });

  test('soft errors (racoon yyerror without return) are all reported and still reject the file', () => {
    const r = parseRacoonConfigText('mode_cfg { network4 1::1; netmask4 2::2; }', 'x.conf', { fs: noFiles });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.message)).toEqual(['bad IPv4 network address.', 'bad IPv4 netmask address.']);
  });

  test('no input makes the parser throw: random bytes give errors or a config, never an exception', () => {
    const alphabet = ['remote', 'sainfo', '{', '}', ';', '"x"', 'anonymous', 'main', '10.0.0.1', '[500]', '/24', 'proposal', ',', 'aes', '\n', '#', 'include', 'exchange_mode', '0x1', 'on'];
    let seed = 7;
    for (let n = 0; n < 300; n++) {
      let s = '';
      for (let k = 0; k < 30; k++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        s += alphabet[seed % alphabet.length] + ' ';
      }
      expect(() => parseRacoonConfigText(s, 'fuzz.conf', { fs: noFiles })).not.toThrow();
    }
  });
});

describe('include', () => {
  test('globs are read in sorted order; relative names use `path include`', () => {
    const fs = memFs({
      '/etc/racoon/r/b.conf': 'remote 192.0.2.2 { exchange_mode main; ' + PROPOSAL + ' }',
      '/etc/racoon/r/a.conf': 'remote 192.0.2.1 { exchange_mode main; ' + PROPOSAL + ' }',
    });
    const c = parseOk('path include "/etc/racoon";\ninclude "r/*.conf";\nlog debug;', { fs });
    expect(c.remotes.map((r) => r.name)).toEqual(['192.0.2.1[500]', '192.0.2.2[500]']);
    expect(c.log).toBe('debug');
    expect(c.files).toEqual(['/etc/racoon/racoon.conf', '/etc/racoon/r/a.conf', '/etc/racoon/r/b.conf']);
  });

  test('a glob without matches is an error at the file name', () => {
    expect(parseErr('include "/nowhere/*.conf";')).toMatchObject({ column: 9, message: 'glob found no matches for path "/nowhere/*.conf"' });
  });

  test('includes nest at most 10 deep ("Includes nested too deeply")', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`/i/${i}.conf`] = `include "/i/${i + 1}.conf";`;
    files['/i/12.conf'] = 'log info;';
    const r = parseRacoonConfigText('include "/i/0.conf";', '/i/main.conf', { fs: memFs(files) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ file: '/i/8.conf', message: 'Includes nested too deeply' });
    files['/i/5.conf'] = 'log info;';
    expect(parseRacoonConfigText('include "/i/0.conf";', '/i/main.conf', { fs: memFs(files) }).ok).toBe(true);
  });
});

describe('kernel algorithm check (pk_checkalg with the SADB_REGISTER lists)', () => {
  // what a kernel with only AES-CBC and HMAC-SHA1 answers to racoon's SADB_REGISTER (RFC 2367 §2.3.3 sadb_supported)
  const kernel = kernelAlgorithmsFromRegister([
    { type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, seq: 0, pid: 0, ext: {
      supportedAuth: { algs: [{ id: 3, ivlen: 0, minbits: 160, maxbits: 160 }] },
      supportedEncrypt: { algs: [{ id: 12, ivlen: 16, minbits: 128, maxbits: 256 }] } } },
    { type: SadbMsgType.REGISTER, satype: SadbSaType.X_IPCOMP, errno: 0, seq: 0, pid: 0, ext: {
      supportedEncrypt: { algs: [{ id: 2, ivlen: 0, minbits: 0, maxbits: 0 }] } } },
  ]);
  test('supported algorithms pass, others fail with racoon\'s message', () => {
    expect(parseOk(`sainfo anonymous { ${SAINFO_ALGS} }`, { kernelAlgorithms: kernel }).sainfos).toHaveLength(1);
    const e = parseErr('sainfo anonymous { encryption_algorithm aes, 3des; }', { kernelAlgorithms: kernel });
    expect(e).toMatchObject({ column: 46, message: 'algorithm 3des not supported by the kernel (missing module?)' });
    expect(parseErr('sainfo anonymous { authentication_algorithm hmac_sha256; }', { kernelAlgorithms: kernel }).message).toMatch(/hmac_sha256 not supported by the kernel/);
  });
  test('the IPCOMP registration does not add encryption algorithms; compression is never checked (pk_checkalg)', () => {
    expect(kernel.encrypt.map((a) => a.id)).toEqual([12]);
    expect(parseOk('sainfo anonymous { encryption_algorithm aes; authentication_algorithm hmac_sha1; compression_algorithm lzs; }', { kernelAlgorithms: kernel }).sainfos).toHaveLength(1);
  });

  test('a key length outside the kernel range is not supported', () => {
    const k2 = { encrypt: [{ id: 12, minBits: 128, maxBits: 128 }], auth: kernel.auth };
    expect(parseErr('sainfo anonymous { encryption_algorithm aes 256; }', { kernelAlgorithms: k2 }).message).toBe('algorithm aes not supported by the kernel (missing module?)');
  });

  test('non_auth is never checked against the kernel', () => {
    expect(parseOk('sainfo anonymous { encryption_algorithm aes; authentication_algorithm non_auth; compression_algorithm deflate; }', { kernelAlgorithms: kernel }).sainfos).toHaveLength(1);
  });
});

describe('the IKEv2 extension', () => {
  test('ike_version 2 needs no exchange_mode; AEAD, PRF and ECP names resolve to IKEv2 transform IDs', () => {
    const c = parseOk(`remote "v2" { ike_version 2; mobike on; ike_frag on;
      proposal { encryption_algorithm aes_gcm_16 256; hash_algorithm sha384; authentication_method ecdsa_sig; dh_group curve25519; } }`);
    const r = c.remotes[0];
    expect(r).toMatchObject({ ikeVersion: 2, mobike: true, exchangeMode: [], ikeFrag: 'on' });
    const p = r.proposals[0];
    expect([p.encryption.alg.ikev2, p.encryption.keyLength, p.hash.alg.ikev2, p.authMethod.alg.ikev2, p.dhGroup.alg.ikev2]).toEqual([20, 256, 6, 14, 31]);
  });

  test('a racoon.conf without the extension means what it meant: IKEv1, exchange_mode required', () => {
    expect(parseErr(`remote "v1" { ${PROPOSAL} }`).message).toBe('no exchange mode specified.');
  });

  test('an algorithm IKEv1 does not define is rejected in an IKEv1 remote, at the algorithm', () => {
    const e = parseErr(`remote "v1" { exchange_mode main;\n proposal { encryption_algorithm aes_gcm_16; hash_algorithm sha1; authentication_method pre_shared_key; dh_group 2; }\n}`);
    expect(e).toMatchObject({ line: 2, column: 34, message: 'algorithm aes_gcm_16 is not defined for IKEv1', token: 'aes_gcm_16' });
  });

  test('IKEv1 may use what IKEv1 defines: ECP groups by name and number, SHA-2', () => {
    const c = parseOk(`remote 192.0.2.1 { exchange_mode main; proposal { encryption_algorithm aes; hash_algorithm sha512; authentication_method pre_shared_key; dh_group 19; } }`);
    expect(c.remotes[0].proposals[0].dhGroup.alg.name).toBe('ecp256');
  });

  test('mobike needs ike_version 2', () => {
    expect(parseErr(`remote "x" { exchange_mode main; mobike on; ${PROPOSAL} }`).message).toBe('mobike requires ike_version 2');
  });

  test('sainfo takes the AEAD, CTR, GMAC, SHA-2, XCBC and CMAC names and the new pfs groups', () => {
    const c = parseOk(
      'sainfo anonymous { pfs_group ecp521; encryption_algorithm aes_gcm_12 192, aes_ccm_8, aes_ctr 256, aes_gmac, chacha20_poly1305; authentication_algorithm non_auth, hmac_sha384, aes_xcbc_mac, aes_cmac; compression_algorithm deflate; }',
    );
    const s = c.sainfos[0];
    expect(s.pfsGroup?.ikev2).toBe(21);
    expect(s.encryption.map((a) => [a.alg.name, a.keyLength])).toEqual([
      ['aes_gcm_12', 192],
      ['aes_ccm_8', 128],
      ['aes_ctr', 256],
      ['aes_gmac', 128],
      ['chacha20_poly1305', 0],
    ]);
    expect(s.authentication.map((a) => a.alg.ikev2)).toEqual([0, 13, 5, 8]);
  });
});

describe('certificates, keys and identifiers loaded while parsing', () => {
  const fs = memFs({
    '/etc/racoon/certs/gw.rsa': ': RSA {\n Modulus: 0xC1\n PublicExponent: 0x03\n PrivateExponent: 0x81\n}\n',
    '/etc/racoon/certs/peer.pub': ': PUB 0sAQOn\n',
    '/etc/racoon/certs/bad.pub': 'garbage\n',
    '/etc/racoon/keyid.bin': 'KEY-ID-BYTES',
  });
  const parse = (t: string) => parseRacoonConfigText(`path certificate "/etc/racoon/certs";\n${t}`, '/etc/racoon/racoon.conf', { fs });

  test('rsasig with plain-RSA peer keys needs both key files ("Private PlainRSA key not set")', () => {
    const r = parse(`remote anonymous { exchange_mode main; peers_certfile plain_rsa "peer.pub";
      proposal { authentication_method rsasig; } }`);
    expect(!r.ok && r.errors[0].message).toBe("Private PlainRSA key not set. Use directive 'certificate_type plainrsa ...'");
    const ok = parse(`remote anonymous { exchange_mode main; certificate_type plain_rsa "gw.rsa"; peers_certfile plain_rsa "peer.pub";
      proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method rsasig; dh_group 2; } }`);
    expect(ok.ok).toBe(true);
  });

  test('a plain-RSA file that does not parse: "Couldn\'t parse keyfile."', () => {
    const r = parse('remote anonymous { exchange_mode main; peers_certfile plain_rsa "bad.pub"; }');
    expect(!r.ok && r.errors[0]).toMatchObject({ line: 2, column: 65, message: "Couldn't parse keyfile." });
  });

  test('keyid without `tag` reads the named file; a missing file fails the identifier', () => {
    const r = parse(`remote anonymous { exchange_mode main; my_identifier keyid "/etc/racoon/keyid.bin"; ${PROPOSAL} }`);
    expect(r.ok && r.config.remotes[0].myIdentifier).toEqual({ type: 'keyid', qualifier: null, value: 'KEY-ID-BYTES', file: '/etc/racoon/keyid.bin' });
    const t = parse(`remote anonymous { exchange_mode main; my_identifier keyid tag "literal"; ${PROPOSAL} }`);
    expect(t.ok && t.config.remotes[0].myIdentifier.value).toBe('literal');
    const m = parse('remote anonymous { exchange_mode main; my_identifier keyid file "/nope"; }');
    expect(!m.ok && m.errors[0].message).toBe('failed to set identifer.');
  });
});

describe('more racoon checks', () => {
  test('gssapi_krb twice in one proposal: "Vendor ID mismatch for auth method"', () => {
    expect(parseErr('remote anonymous { exchange_mode main; proposal { authentication_method gssapi_krb; authentication_method gssapi_krb; } }').message).toBe(
      'Vendor ID mismatch for auth method',
    );
  });

  test('peers_certfile and ca_type may be given once', () => {
    expect(parseErr('remote anonymous { exchange_mode main; peers_certfile dnssec; peers_certfile dnssec; }').message).toBe('peers_certfile already defined');
    expect(parseErr('remote anonymous { exchange_mode main; ca_type x509 "a"; ca_type x509 "b"; }').message).toBe('ca_type already defined');
  });

  test('warnings: peers_certfile without a type, and an asn1dn identifier next to a certificate', () => {
    const r = parseRacoonConfigText(
      `remote anonymous { exchange_mode main; peers_certfile "p.crt"; certificate_type x509 "c.crt" "c.key"; my_identifier asn1dn "CN=gw"; ${PROPOSAL} }`,
      'w.conf',
      { fs: noFiles, loadFiles: false },
    );
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.message)).toEqual([
      'This directive without certtype will be removed!',
      `Please use 'peers_certfile x509 "p.crt";' instead`,
      'Both CERT and ASN1 ID are set. Hope this is OK.',
    ]);
  });
});
