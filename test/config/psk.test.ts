/**
 * psk.txt: racoon's format, look-up order and safefile() checks
 * (racoon-compat §2; localconf.c getpsk, oakley.c, safefile.c).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type PskEnvironment,
  fgetsLines,
  getPsk,
  getPskByAddr,
  getPskByName,
  lookupPhase1Psk,
  lookupXauthPassword,
  nameId,
  parsePskText,
  safefile,
} from '../../src/config/psk';
import { IpsecDoiIdType, addressId } from '../../src/config/racoon';

function env(text: string | Buffer, st: { uid?: number; mode?: number } | null = {}, ids: { uid?: number; euid?: number } = {}): PskEnvironment {
  return {
    stat: () => (st === null ? null : { uid: st.uid ?? 0, mode: st.mode ?? 0o100600 }),
    readFile: () => (typeof text === 'string' ? Buffer.from(text, 'latin1') : text),
    getuid: () => ids.uid ?? 0,
    geteuid: () => ids.euid ?? ids.uid ?? 0,
  };
}
const key = (r: ReturnType<typeof getPsk>): string | null => (r.ok ? (r.key === null ? null : r.key.toString('latin1')) : `ERR:${r.errors.join('|')}`);

const FILE = [
  '# comment line, skipped',
  '10.0.0.1\tten',
  '2001:db8::1 six',
  'fe80::1%eth0 scoped',
  'user@example.org  spaced key value ',
  'host.example.org\t0x0102 03ff',
  'bad.example.org 0x123',
  'lonely',
  '#10.0.0.2 commented',
  '10.0.0.2 first',
  '10.0.0.2 second',
  '*\twildcard',
  '10.0.0.3 shadowed-by-star',
  '',
].join('\n');

describe('psk.txt format (getpsk)', () => {
  test('the key is everything after the first run of whitespace, trailing spaces kept, newline dropped', () => {
    expect(key(getPsk('/p', Buffer.from('user@example.org'), env(FILE)))).toBe('spaced key value ');
  });

  test('0x keys are hex, whitespace inside allowed; an odd digit count fails ("failed to get psk buffer.")', () => {
    expect(getPsk('/p', Buffer.from('host.example.org'), env(FILE))).toEqual({ ok: true, key: Buffer.from([1, 2, 3, 0xff]) });
    expect(key(getPsk('/p', Buffer.from('bad.example.org'), env(FILE)))).toBe('ERR:failed to get psk buffer.');
  });

  test('the first matching line wins; # lines and lines without a key are skipped', () => {
    expect(key(getPsk('/p', Buffer.from('10.0.0.2'), env(FILE)))).toBe('first');
    expect(key(getPsk('/p', Buffer.from('lonely'), env(FILE)))).toBe('wildcard');
  });

  test('"*" matches anything from where it stands, so it shadows later lines', () => {
    expect(key(getPsk('/p', Buffer.from('10.0.0.3'), env(FILE)))).toBe('wildcard');
    expect(key(getPsk('/p', Buffer.from('10.0.0.1'), env(FILE)))).toBe('ten');
    expect(key(getPsk('/p', Buffer.from('10.0.0.9'), env('10.0.0.1 a\n')))).toBeNull();
  });

  test('lines are read with a 1024-byte fgets buffer: a longer line is cut and its tail read as a new line', () => {
    const long = 'a'.repeat(1021) + ' k1\nX tail\n';
    const lines = fgetsLines(Buffer.from(long));
    expect(lines.map((l) => l.length)).toEqual([1023, 2, 7]);
    expect(parsePskText(Buffer.from(long)).map((e) => [e.id.toString(), e.key?.toString()])).toEqual([
      ['a'.repeat(1021), 'k'],
      ['X', 'tail'],
    ]);
  });

  test('the identifier must be equal, not a prefix', () => {
    expect(key(getPsk('/p', Buffer.from('10.0.0'), env('10.0.0.1 a\n')))).toBeNull();
    expect(key(getPsk('/p', Buffer.from('10.0.0.10'), env('10.0.0.1 a\n')))).toBeNull();
  });
});

describe('look-up order (oakley_skeyid)', () => {
  const e = env(FILE.replace('*\twildcard\n', ''));
  test('main mode looks up by the peer address text (getnameinfo NUMERICHOST)', () => {
    const r = lookupPhase1Psk({ path: '/p', exchange: 'main', peerId: nameId(IpsecDoiIdType.USER_FQDN, 'user@example.org'), peerAddress: '10.0.0.1', verifyIdentifier: false }, e);
    expect(r).toMatchObject({ ok: true, by: 'address' });
    if (r.ok) expect(r.key.toString()).toBe('ten');
  });

  test('IPv6 addresses are compressed text, with %scope when set', () => {
    expect(key(getPskByAddr('/p', '2001:0db8:0:0::1', e))).toBe('six');
    expect(key(getPskByAddr('/p', 'fe80::1%eth0', e))).toBe('scoped');
  });

  test('aggressive mode tries the ID payload first (FQDN/USER_FQDN/KEY_ID byte-exact)', () => {
    const r = lookupPhase1Psk({ path: '/p', exchange: 'aggressive', peerId: nameId(IpsecDoiIdType.USER_FQDN, 'user@example.org'), peerAddress: '10.0.0.1', verifyIdentifier: false }, e);
    expect(r).toMatchObject({ ok: true, by: 'name' });
  });

  test('an address ID is binary and never matches by name: falls back to the address', () => {
    const r = lookupPhase1Psk({ path: '/p', exchange: 'aggressive', peerId: addressId('10.0.0.1'), peerAddress: '10.0.0.1', verifyIdentifier: false }, e);
    expect(r).toMatchObject({ ok: true, by: 'address', notes: ["couldn't find the proper pskey, try to get one by the peer's address."] });
    expect(key(getPskByName('/p', addressId('10.0.0.1') ?? nameId(IpsecDoiIdType.FQDN, ''), e))).toBeNull();
  });

  test('with verify_identifier on, a name miss is final ("couldn\'t find the pskey.")', () => {
    const r = lookupPhase1Psk({ path: '/p', exchange: 'aggressive', peerId: nameId(IpsecDoiIdType.FQDN, 'nobody'), peerAddress: '10.0.0.1', verifyIdentifier: true }, e);
    expect(r).toEqual({ ok: false, errors: ["couldn't find the pskey."], notes: [] });
  });

  test('nothing found: "couldn\'t find the pskey for <addr>."', () => {
    const r = lookupPhase1Psk({ path: '/p', exchange: 'main', peerId: null, peerAddress: '192.0.2.99', verifyIdentifier: false }, e);
    expect(r).toMatchObject({ ok: false, errors: ["couldn't find the pskey for 192.0.2.99."] });
  });

  test('the XAuth password is looked up by login name', () => {
    expect(key(lookupXauthPassword('/p', 'user@example.org', e))).toBe('spaced key value ');
  });
});

describe('safefile() checks and messages', () => {
  test('racoon\'s order and messages, then "failed to open pre_share_key file"', () => {
    expect(key(getPsk('/etc/racoon/psk.txt', Buffer.from('x'), env(FILE, { uid: 0, mode: 0o100600 }, { uid: 0, euid: 1 })))).toBe(
      "ERR:setuid'ed execution not allowed|failed to open pre_share_key file /etc/racoon/psk.txt",
    );
    expect(key(getPsk('/etc/racoon/psk.txt', Buffer.from('x'), env(FILE, { uid: 1000 })))).toBe(
      'ERR:/etc/racoon/psk.txt has invalid owner uid|failed to open pre_share_key file /etc/racoon/psk.txt',
    );
    expect(key(getPsk('/etc/racoon/psk.txt', Buffer.from('x'), env(FILE, { mode: 0o040700 })))).toBe(
      'ERR:/etc/racoon/psk.txt is an invalid file type 0x4000|failed to open pre_share_key file /etc/racoon/psk.txt',
    );
    expect(key(getPsk('/etc/racoon/psk.txt', Buffer.from('x'), env(FILE, { mode: 0o100640 })))).toBe(
      'ERR:/etc/racoon/psk.txt has weak file permission|failed to open pre_share_key file /etc/racoon/psk.txt',
    );
    expect(key(getPsk('/etc/racoon/psk.txt', Buffer.from('x'), env(FILE, null)))).toBe('ERR:failed to open pre_share_key file /etc/racoon/psk.txt');
  });

  test('on the real file system: a 0600 file of ours passes, 0644 does not, a directory is not a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tanuki-psk-'));
    try {
      const f = path.join(dir, 'psk.txt');
      fs.writeFileSync(f, '10.1.1.1 real\n', { mode: 0o600 });
      fs.chmodSync(f, 0o600);
      expect(safefile(f)).toEqual({ safe: true, errors: [] });
      expect(key(getPskByAddr(f, '10.1.1.1'))).toBe('real');
      fs.chmodSync(f, 0o644);
      expect(safefile(f)).toEqual({ safe: false, errors: [`${f} has weak file permission`] });
      expect(safefile(dir).errors[0]).toMatch(/is an invalid file type 0x4000$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
