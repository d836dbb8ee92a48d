/**
 * `racoon -t -f file` (checkConfiguration): parse + validate + check the files
 * the configuration names (issue 6 "Configuration": psk.txt safety,
 * certificates and keys readable and parseable, script paths).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkConfiguration } from '../../src/config/check';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'racoon');

describe('checkConfiguration', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tanuki-check-'));
    fs.cpSync(FIXTURES, dir, { recursive: true });
    fs.chmodSync(path.join(dir, 'psk.txt'), 0o600);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('every positive sample passes', () => {
    for (const f of ['plain.conf', 'inherit.conf', 'natt.conf', 'plainrsa.conf', 'gssapi.conf', 'roadwarrior-client.conf', 'roadwarrior-server.conf', 'debian.conf', 'ikev2.conf']) {
      const r = checkConfiguration(path.join(dir, f));
      expect({ f, errors: r.errors }).toEqual({ f, errors: [] });
      expect(r.ok).toBe(true);
    }
  });

  test('psk.txt readable by group: racoon\'s "has weak file permission" then "failed to open pre_share_key file"', () => {
    fs.chmodSync(path.join(dir, 'psk.txt'), 0o640);
    const r = checkConfiguration(path.join(dir, 'plain.conf'));
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([`${path.join(dir, 'psk.txt')} has weak file permission`, `failed to open pre_share_key file ${path.join(dir, 'psk.txt')}`]);
  });

  test('a syntax error is reported as file:line:column with the token', () => {
    fs.appendFileSync(path.join(dir, 'plain.conf'), '\nremote anonymous { exchange_mode sideways; }\n');
    const r = checkConfiguration(path.join(dir, 'plain.conf'));
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatch(/plain\.conf:\d+:34: syntax error; expected main, aggressive, base, ';' \(near 'sideways'\)$/);
    expect(r.config).toBeNull();
  });

  test('an unreadable or unparseable private key is an error naming the remote', () => {
    fs.writeFileSync(path.join(dir, 'certs', 'server.key'), 'garbage');
    const r = checkConfiguration(path.join(dir, 'roadwarrior-server.conf'));
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatch(/^remote "anonymous" \(.*roadwarrior-server\.conf:\d+\): private key .*server\.key cannot be parsed/);
    fs.rmSync(path.join(dir, 'certs', 'server.key'));
    expect(checkConfiguration(path.join(dir, 'roadwarrior-server.conf')).errors[0]).toMatch(/private key .*server\.key is not readable/);
  });

  test('an EC private key (PKCS#8/SEC1) is accepted', () => {
    const conf = path.join(dir, 'ec.conf');
    fs.writeFileSync(
      conf,
      `path certificate "certs";\nremote anonymous { exchange_mode main; my_identifier asn1dn; certificate_type x509 "client.crt" "client.key";\n proposal { encryption_algorithm aes; hash_algorithm sha256; authentication_method rsasig; dh_group 14; } }\n`,
    );
    expect(checkConfiguration(conf).errors).toEqual([]);
  });

  test('a hook script that is not executable is an error', () => {
    fs.chmodSync(path.join(dir, 'scripts', 'phase1-up.sh'), 0o644);
    const r = checkConfiguration(path.join(dir, 'roadwarrior-client.conf'));
    expect(r.errors).toEqual([expect.stringMatching(/script .*phase1-up\.sh \(phase1_up\) is not an executable file$/)]);
  });

  test('PSK authentication without `path pre_shared_key` is an error', () => {
    const conf = path.join(dir, 'nopsk.conf');
    fs.writeFileSync(conf, 'remote anonymous { exchange_mode main; proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method pre_shared_key; dh_group 2; } }\n');
    expect(checkConfiguration(conf).errors).toEqual(['pre-shared key authentication is configured but no `path pre_shared_key` names the key file']);
  });

  test('a 0x key that is not hex is a warning', () => {
    const r = checkConfiguration(path.join(dir, 'plain.conf'));
    expect(r.warnings).toEqual([expect.stringMatching(/entry keyid-bytes \(line 7\): 0x key is not valid hex$/)]);
  });
});
