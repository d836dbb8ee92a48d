/**
 * No input makes the configuration parsers throw (STYLE.md: every parser returns
 * a typed error). Property tests over arbitrary text and token soup.
 */
import fc from 'fast-check';
import { parsePskText } from '../../src/config/psk';
import { parseRacoonConfigText } from '../../src/config/racoon';
import { noFiles } from './helpers';

const WORDS = [
  'remote', 'sainfo', 'listen', 'mode_cfg', 'ldapcfg', 'radiuscfg', 'timer', 'padding', 'privsep', 'path', 'include',
  '{', '}', ';', ',', '"x"', '"/etc/racoon/psk.txt"', 'anonymous', 'inherit', 'main', 'aggressive', 'exchange_mode',
  'proposal', 'encryption_algorithm', 'hash_algorithm', 'authentication_method', 'dh_group', 'pre_shared_key', 'aes',
  '3des', 'sha1', '2', 'modp1024', 'address', 'subnet', '10.0.0.1', '::1', '-10.0.0.9', '/24', '[500]', '[any]', 'any',
  'tcp', 'lifetime', 'time', 'byte', '1', 'hour', 'KB', 'on', 'off', 'force', 'remote_address', 'from', 'fqdn', 'group',
  'ike_version', 'aes_gcm_16', 'compression_algorithm', 'deflate', 'authentication_algorithm', 'hmac_sha1', 'remoteid',
  'adminsock', 'disabled', '660', 'isakmp', 'log', 'debug', '#c\n', '\n', '0x1f', 'ldap.example', 'clientaddr',
];

describe('parser robustness', () => {
  test('arbitrary text: errors or a config, never an exception', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseRacoonConfigText(s, 'f.conf', { fs: noFiles, loadFiles: false });
        return r.ok ? r.config !== null : r.errors.length > 0 && r.errors.every((e) => e.line >= 1 && e.column >= 1);
      }),
      { numRuns: 300 },
    );
  });

  test('token soup close to the grammar: errors carry a position inside the text', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WORDS), { maxLength: 60 }), (ws) => {
        const text = ws.join(' ');
        const r = parseRacoonConfigText(text, 'f.conf', { fs: noFiles, loadFiles: false });
        if (r.ok) return true;
        const lines = text.split('\n').length;
        return r.errors.every((e) => e.file === 'f.conf' && e.line >= 1 && e.line <= lines);
      }),
      { numRuns: 500 },
    );
  });

  test('psk.txt parsing accepts any bytes; a key is never empty (null only for a bad 0x key)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => {
        const entries = parsePskText(Buffer.from(b));
        // an id may be empty (a line starting with whitespace), as with racoon's getpsk()
        return entries.every((e) => e.key === null || e.key.length > 0);
      }),
      { numRuns: 200 },
    );
  });
});
