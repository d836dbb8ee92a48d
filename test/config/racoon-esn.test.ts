/**
 * tanuki extension `esn on|off;` in sainfo (RFC 4304 ESN for IKEv1 Quick
 * Mode). racoon has no such keyword; the default is off, matching racoon,
 * which never proposes ESN.
 */
import { formatConfigError } from '../../src/config/racoon';
import { SAINFO_ALGS, parseErr, parseOk } from './helpers';

describe('sainfo esn on|off (tanuki extension)', () => {
  test('default off (racoon proposes no ESN)', () => {
    expect(parseOk(`sainfo anonymous { ${SAINFO_ALGS} }`).sainfos[0].esn).toBe(false);
  });

  test('esn on; and esn off;', () => {
    expect(parseOk(`sainfo anonymous { ${SAINFO_ALGS} esn on; }`).sainfos[0].esn).toBe(true);
    expect(parseOk(`sainfo anonymous { esn off; ${SAINFO_ALGS} }`).sainfos[0].esn).toBe(false);
  });

  test('a bad value is an error at file:line:column naming the token', () => {
    const e = parseErr(`sainfo anonymous {\n  ${SAINFO_ALGS}\n  esn yes;\n}`);
    expect(e).toMatchObject({ line: 3, column: 7, token: 'yes' });
    const text = formatConfigError(e);
    expect(text).toMatch(/:3:7/);
    expect(text).toMatch(/yes/);
  });
});
