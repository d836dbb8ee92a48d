/**
 * The racoon.conf lexer: racoon's cftoken.l start states and token rules
 * (racoon-compat §1 "Lexical rules").
 */
import { RacoonLexer, type Token } from '../../src/config/racoon/lexer';

function lexAll(text: string): Token[] {
  const l = new RacoonLexer('t.conf', text);
  const out: Token[] = [];
  for (;;) {
    const t = l.next();
    out.push(t);
    if (t.kind === 'EOF') return out;
  }
}
const kinds = (text: string): string[] => lexAll(text).map((t) => `${t.kind}:${t.text}`);

describe('racoon.conf lexer (cftoken.l)', () => {
  test('commas inside remote{} are ignored, so "main,aggressive" is two exchange types', () => {
    expect(kinds('remote anonymous { exchange_mode main,aggressive; }')).toEqual([
      'KW:remote',
      'KW:anonymous',
      'BOC:{',
      'KW:exchange_mode',
      'KW:main',
      'KW:aggressive',
      'EOS:;',
      'EOC:}',
      'EOF:',
    ]);
  });

  test('commas are tokens in sainfo{} and mode_cfg{} (algorithm and address lists)', () => {
    const k = kinds('sainfo anonymous { encryption_algorithm aes, 3des; }');
    expect(k).toContain('COMMA:,');
    expect(kinds('mode_cfg { dns4 10.0.0.1, 10.0.0.2; }')).toContain('COMMA:,');
  });

  test('keywords depend on the block: "main" is a keyword only inside remote{}', () => {
    expect(kinds('main')[0]).toBe('WORD:main');
    expect(kinds('remote anonymous { main')[3]).toBe('KW:main');
  });

  test('a state keyword wins over a global word: pre_shared_key is a path type after "path"', () => {
    expect(kinds('path pre_shared_key "x";')[1]).toBe('KW:pre_shared_key');
    const inProposal = lexAll('remote anonymous { proposal { authentication_method pre_shared_key; } }');
    expect(inProposal.find((t) => t.text === 'pre_shared_key')?.kind).toBe('ALGORITHMTYPE');
  });

  test('numeric addresses, [port], /prefix, address ranges and [any] (sainfo only)', () => {
    const t = lexAll('sainfo address 10.0.0.1-10.0.0.9/24 [500] any address fe80::1%eth0 [any] tcp');
    expect(t.map((x) => x.kind)).toEqual([
      'KW',
      'IDENTIFIERTYPE',
      'ADDRSTRING',
      'ADDRRANGE',
      'PREFIX',
      'PORT',
      'KW',
      'IDENTIFIERTYPE',
      'ADDRSTRING',
      'PORTANY',
      'UL_PROTO',
      'EOF',
    ]);
    expect(t[3].str).toBe('10.0.0.9');
    expect(t[4].num).toBe(24);
    expect(t[5].num).toBe(500);
    expect(t[8].str).toBe('fe80::1%eth0');
    expect(t[10].num).toBe(6);
  });

  test('[any] outside sainfo is not a port', () => {
    expect(kinds('remote anonymous [any]')[2]).toMatch(/^WORD:/);
  });

  test('host names are not addresses (racoon only takes numeric addresses)', () => {
    expect(kinds('ldapcfg { host ldap.example.net; }')[3]).toBe('WORD:ldap.example.net');
  });

  test('decimal and 0x hex numbers; "3des" is an algorithm, not 3 + des', () => {
    const t = lexAll('1024 0x1F 3des cafe');
    expect(t.map((x) => `${x.kind}:${x.text}`)).toEqual(['NUMBER:1024', 'HEXSTRING:0x1F', 'ALGORITHMTYPE:3des', 'ADDRSTRING:cafe', 'EOF:']);
    expect(t[0].num).toBe(1024);
  });

  test('time and byte units, on/off switches and yes/no booleans', () => {
    const t = lexAll('sec minutes hours KB MB B on off yes no');
    expect(t.map((x) => `${x.kind}:${x.num}`)).toEqual([
      'UNIT_TIME:1',
      'UNIT_TIME:60',
      'UNIT_TIME:3600',
      'UNIT_BYTE:1024',
      'UNIT_BYTE:1048576',
      'UNIT_BYTE:1',
      'SWITCH:1',
      'SWITCH:0',
      'BOOLEAN:1',
      'BOOLEAN:0',
      'EOF:0',
    ]);
  });

  test('comments run to the end of the line; positions are line:column', () => {
    const t = lexAll('# comment line\nlog   debug2; # trailing\n  timer');
    expect(t[0]).toMatchObject({ kind: 'KW', text: 'log', pos: { line: 2, column: 1 } });
    expect(t[1]).toMatchObject({ kind: 'KW', text: 'debug2', pos: { line: 2, column: 7 } });
    expect(t[3]).toMatchObject({ kind: 'KW', text: 'timer', pos: { line: 3, column: 3 } });
  });

  test('gss_id_enc takes utf-16le as one word', () => {
    expect(kinds('gss_id_enc utf-16le;')).toEqual(['KW:gss_id_enc', 'KW:utf-16le', 'EOS:;', 'EOF:']);
  });

  test('the IKEv2 extension words are lexed in every block like racoon algorithm names', () => {
    expect(kinds('aes_gcm_16 chacha20_poly1305 ecp384 curve25519 ecdsa_sig').slice(0, 5).every((k) => k.startsWith('ALGORITHMTYPE:'))).toBe(true);
  });
});
