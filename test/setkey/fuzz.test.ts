/**
 * Any input gives a typed result, never an exception (project standard:
 * "No parser throws an untyped exception on any input"): random strings and
 * random mutations of valid scripts through the setkey and policy parsers.
 */
import fc from 'fast-check';
import { parseSetkeyScript } from '../../src/config/setkey/parser';
import { parsePolicy } from '../../src/config/setkey/policy';
import { BUILTIN_PROTOCOLS } from '../../src/config/setkey/protocols';

const VALID = [
  'add 10.0.0.1[4500] 10.0.0.2 esp-udp 192.168.1.9 0x1000 -m tunnel -u 3 -r 32 -E aes-cbc 0x00112233445566778899aabbccddeeff -A hmac-sha1 "12345678901234567890";',
  'spdadd 10.1.0.0/16[any] 10.2.0.0/16[80] tcp -ctx 1 1 "x" -P in prio def + 5 ipsec esp/tunnel/1.1.1.1-2.2.2.2/unique:9 ah/transport//use;',
  'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/require esp/tunnel/198.51.100.10-192.0.2.20/require -k 198.51.100.10-192.0.2.20;',
  'spdadd ::/0 ::/0 icmp6 135,0 -P out none;\ndeleteall 10.0.0.1 10.0.0.2 esp;\nflush esp; dump; spdflush; spddump; quit;',
];

const TOKENS = ['add', 'spdadd', 'migrate', '-P', '-E', '-A', '-C', '-k', 'esp', 'in', 'out', '/', '[', ']', ';', '"', '#', '-', '0x', '10.0.0.1', '::1', 'any', 'prio', '+', 'unique:', '\n', ' '];

describe('parsers never throw', () => {
  it('random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseSetkeyScript(s, { file: 'f', protocols: BUILTIN_PROTOCOLS });
        expect(typeof r.ok).toBe('boolean');
        const p = parsePolicy(s);
        expect(typeof p.ok).toBe('boolean');
      }),
      { numRuns: 400 },
    );
  });

  it('token soup and mutations of valid scripts; errors point inside the input', () => {
    const mutated = fc
      .tuple(fc.constantFrom(...VALID), fc.nat(), fc.array(fc.constantFrom(...TOKENS), { maxLength: 4 }), fc.nat({ max: 6 }))
      .map(([base, at, ins, del]) => {
        const i = at % (base.length + 1);
        return base.slice(0, i) + ins.join('') + base.slice(i + del);
      });
    const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((t) => t.join(' '));
    fc.assert(
      fc.property(fc.oneof(mutated, soup), (s) => {
        const r = parseSetkeyScript(s, { file: 'f', protocols: BUILTIN_PROTOCOLS });
        if (!r.ok) {
          const lines = s.split('\n');
          expect(r.error.line).toBeGreaterThanOrEqual(1);
          expect(r.error.line).toBeLessThanOrEqual(lines.length);
          expect(r.error.column).toBeGreaterThanOrEqual(1);
          expect(r.error.column).toBeLessThanOrEqual(lines[r.error.line - 1].length + 1);
          expect(r.error.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 600 },
    );
  });

  it('the valid scripts parse', () => {
    for (const s of VALID) expect(parseSetkeyScript(s, { protocols: BUILTIN_PROTOCOLS }).ok).toBe(true);
  });
});
