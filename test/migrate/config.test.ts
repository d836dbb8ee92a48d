/**
 * racoon.conf `mip6_kbit on|off;` (tanuki extension, docs/migrate.md): the
 * Mobile IPv6 K-bit (RFC 6275 §6.1.7) for a remote's IKE SAs when a MIGRATE
 * arrives; absent, the daemon reads it from the MIGRATE (KMADDRESS present =
 * K set). Inherited like every remote setting; a bad value is a
 * file:line:column error naming the token.
 */
import { parseErr, parseOk, PROPOSAL } from '../config/helpers';

describe('racoon.conf mip6_kbit', () => {
  it('on, off and absent', () => {
    const c = parseOk(`remote 192.0.2.20 { exchange_mode main; mip6_kbit on; ${PROPOSAL} }
remote 192.0.2.21 { exchange_mode main; mip6_kbit off; ${PROPOSAL} }
remote 192.0.2.22 { exchange_mode main; ${PROPOSAL} }
remote 192.0.2.23 inherit 192.0.2.21 { }
`);
    expect(c.remotes.map((r) => r.mip6Kbit)).toEqual(['on', 'off', undefined, 'off']);
  });

  it('works with IKEv2 and mobike', () => {
    const c = parseOk(`remote "ha" { remote_address 192.0.2.20; ike_version 2; mobike on; mip6_kbit off; ${PROPOSAL} }`);
    expect(c.remotes[0]).toMatchObject({ ikeVersion: 2, mobike: true, mip6Kbit: 'off' });
  });

  it('a value other than on/off is an error at its position', () => {
    const e = parseErr(`remote 192.0.2.20 {\n  exchange_mode main;\n  mip6_kbit maybe;\n  ${PROPOSAL}\n}`);
    expect({ line: e.line, column: e.column, token: e.token, message: e.message }).toEqual({ line: 3, column: 13, token: 'maybe', message: 'syntax error' });
    expect(e.expected).toEqual(['on or off']);
  });
});
