/**
 * Remote and sainfo selection as racoon scores them (remoteconf.c
 * rmconf_match_type/getrmconf, sainfo.c getsainfo; racoon-compat §1).
 */
import {
  IpsecDoiIdType,
  RemoteMatch,
  addressId,
  remoteByName,
  remoteForAcquire,
  rmconfMatchType,
  selectRemote,
  selectSaInfo,
  sockaddrToId,
  textId,
} from '../../src/config/racoon';
import { parseIp } from '../../src/util/ip';
import { PROPOSAL, SAINFO_ALGS, parseOk } from './helpers';

const PSK_SHA1_AES128_G2 = { encryption: 7, keyLength: 128, hash: 2, authMethod: 1, dhGroup: 2, lifetime: 28800 };

describe('remote selection (rmconf_match_type bitmask, highest wins)', () => {
  const c = parseOk(`
    remote anonymous { exchange_mode main, aggressive; ${PROPOSAL} }
    remote 192.0.2.1 { exchange_mode main; ${PROPOSAL} }
    remote "named-by-address" { remote_address 192.0.2.2 [4500]; exchange_mode aggressive; ${PROPOSAL} }
    remote 192.0.2.3 { exchange_mode main; passive on; ${PROPOSAL} }
  `);

  test('an address match (BASIC|ADDRESS) beats the anonymous remote (BASIC)', () => {
    const s = selectRemote(c.remotes, { remote: { address: '192.0.2.1' } });
    expect(s).toMatchObject({ ok: true, match: RemoteMatch.BASIC | RemoteMatch.ADDRESS });
    if (s.ok) expect(s.remote.name).toBe('192.0.2.1[500]');
  });

  test('an unknown peer falls back to the anonymous remote', () => {
    const s = selectRemote(c.remotes, { remote: { address: '198.51.100.1' } });
    expect(s.ok && s.remote.name).toBe('anonymous');
  });

  test('ports never cause a mismatch (cmpsaddr wildcard/without-port matches)', () => {
    const s = selectRemote(c.remotes, { remote: { address: '192.0.2.2' } });
    expect(s.ok && s.remote.name).toBe('named-by-address');
  });

  test('exchange type filters: a peer in aggressive mode does not select a main-only remote', () => {
    const s = selectRemote(c.remotes, { remote: { address: '192.0.2.1' }, etype: 'aggressive' });
    expect(s.ok && s.remote.name).toBe('anonymous');
    expect(rmconfMatchType({ remote: { address: '192.0.2.1' }, etype: 'main' }, c.remotes[1])).toBe(RemoteMatch.BASIC | RemoteMatch.ADDRESS | RemoteMatch.SA);
  });

  test('the approval must pass checkisakmpsa under proposal_check', () => {
    expect(rmconfMatchType({ etype: 'main', approval: PSK_SHA1_AES128_G2 }, c.remotes[1])).toBe(RemoteMatch.BASIC | RemoteMatch.SA);
    expect(rmconfMatchType({ etype: 'main', approval: { ...PSK_SHA1_AES128_G2, hash: 1 } }, c.remotes[1])).toBe(RemoteMatch.NONE);
    // strict: a longer lifetime than configured is refused
    expect(rmconfMatchType({ etype: 'main', approval: { ...PSK_SHA1_AES128_G2, lifetime: 86400 } }, c.remotes[1])).toBe(RemoteMatch.NONE);
  });

  test('ACQUIRE skips passive remotes (GETRMCONF_F_NO_PASSIVE)', () => {
    const s = remoteForAcquire(c, { address: '192.0.2.3' });
    expect(s.ok && s.remote.name).toBe('anonymous');
    const r = selectRemote(c.remotes, { remote: { address: '192.0.2.3' } });
    expect(r.ok && r.remote.name).toBe('192.0.2.3[500]');
  });

  test('a tie between the best matches gives no configuration', () => {
    const tie = parseOk(`
      remote "a" { remote_address 192.0.2.7; exchange_mode main; ${PROPOSAL} }
      remote "b" { remote_address 192.0.2.7; exchange_mode main; ${PROPOSAL} }
      remote anonymous { exchange_mode main; ${PROPOSAL} }`);
    expect(selectRemote(tie.remotes, { remote: { address: '192.0.2.7' } })).toEqual({ ok: false, reason: 'multiple non-exact configurations found' });
    // two anonymous remotes tie for every unknown peer
    const anon = parseOk(`remote "x" { exchange_mode main; ${PROPOSAL} } remote "y" { exchange_mode main; ${PROPOSAL} }`);
    expect(selectRemote(anon.remotes, { remote: { address: '203.0.113.1' } })).toEqual({ ok: false, reason: 'multiple non-exact configurations found' });
  });

  test('a lower score after the best is ignored, a higher one replaces it (configuration order)', () => {
    const c2 = parseOk(`
      remote 192.0.2.7 { exchange_mode main; ${PROPOSAL} }
      remote "x" { exchange_mode main; ${PROPOSAL} }
      remote "y" { exchange_mode main; ${PROPOSAL} }`);
    const s = selectRemote(c2.remotes, { remote: { address: '192.0.2.7' } });
    expect(s.ok && s.remote.name).toBe('192.0.2.7[500]');
  });

  test('no remote at all', () => {
    const c3 = parseOk(`remote 192.0.2.1 { exchange_mode main; ${PROPOSAL} }`);
    expect(selectRemote(c3.remotes, { remote: { address: '192.0.2.2' } })).toEqual({ ok: false, reason: 'no remote configuration found' });
  });

  test('identity is scored only for remotes with verify_identifier on', () => {
    const c4 = parseOk(`
      remote "alice" { exchange_mode aggressive; verify_identifier on; peers_identifier fqdn "alice.example"; ${PROPOSAL} }
      remote "bob" { exchange_mode aggressive; verify_identifier on; peers_identifier fqdn "bob.example"; ${PROPOSAL} }`);
    const bob = selectRemote(c4.remotes, { remote: { address: '198.51.100.9' }, etype: 'aggressive', identity: textId(IpsecDoiIdType.FQDN, 'bob.example') });
    expect(bob).toMatchObject({ ok: true, match: RemoteMatch.BASIC | RemoteMatch.SA | RemoteMatch.IDENTITY });
    if (bob.ok) expect(bob.remote.name).toBe('bob');
    const eve = selectRemote(c4.remotes, { etype: 'aggressive', identity: textId(IpsecDoiIdType.FQDN, 'eve.example') });
    expect(eve.ok).toBe(false);
  });

  test('asn1dn peers_identifier with a wildcard', () => {
    const c5 = parseOk(`remote "rw" { exchange_mode main; verify_identifier on; peers_identifier asn1dn "C=JP, O=Tanuki, CN=*"; ${PROPOSAL} }`);
    const der = (dn: string): Uint8Array => {
      // encode through the parser's own DN encoder by way of a `from` clause
      const cc = parseOk(`sainfo anonymous from asn1dn "${dn}" { ${SAINFO_ALGS} }`);
      const f = cc.sainfos[0].from;
      if (!f) throw new Error('no from');
      return f.data;
    };
    const id = (dn: string) => ({ type: IpsecDoiIdType.DER_ASN1_DN, protocol: 0, port: 0, data: der(dn) });
    expect(selectRemote(c5.remotes, { identity: id('C=JP, O=Tanuki, CN=laptop') }).ok).toBe(true);
    expect(selectRemote(c5.remotes, { identity: id('C=JP, O=Other, CN=laptop') }).ok).toBe(false);
  });

  test('certificate request: type must equal the remote certificate type; an empty CR needs match_empty_cr', () => {
    const c6 = parseOk(`
      remote "cert" { exchange_mode main; certificate_type x509 "a.crt" "a.key"; ${PROPOSAL} }
      remote "cert-empty-ok" { exchange_mode main; certificate_type x509 "a.crt" "a.key"; match_empty_cr on; ${PROPOSAL} }`);
    expect(rmconfMatchType({ certificateRequest: { type: 4, issuer: null } }, c6.remotes[0])).toBe(RemoteMatch.NONE);
    expect(rmconfMatchType({ certificateRequest: { type: 4, issuer: null } }, c6.remotes[1])).toBe(RemoteMatch.BASIC | RemoteMatch.AUTH_IDENTITY);
    const issuer = Uint8Array.from([1, 2, 3]);
    expect(rmconfMatchType({ certificateRequest: { type: 4, issuer }, myCertIssuer: () => issuer }, c6.remotes[0])).toBe(RemoteMatch.BASIC | RemoteMatch.AUTH_IDENTITY);
    expect(rmconfMatchType({ certificateRequest: { type: 11, issuer: null } }, c6.remotes[1])).toBe(RemoteMatch.NONE);
  });

  test('remoteByName', () => {
    expect(remoteByName(c, 'named-by-address')?.remote?.port).toBe(4500);
    expect(remoteByName(c, 'nope')).toBeNull();
  });
});

describe('sainfo selection (getsainfo)', () => {
  const c = parseOk(`
    sainfo anonymous { ${SAINFO_ALGS} }
    sainfo address 10.0.0.1 any address 10.0.1.0/24 any { ${SAINFO_ALGS} }
    sainfo subnet 10.0.2.0/24 any anonymous { ${SAINFO_ALGS} }
    sainfo anonymous from fqdn "peer.example" { ${SAINFO_ALGS} }
    sainfo anonymous { remoteid 7; ${SAINFO_ALGS} }
    sainfo address 10.0.3.1 any clientaddr { ${SAINFO_ALGS} }
    sainfo anonymous from address 192.0.2.1 { ${SAINFO_ALGS} }
  `);
  const v4 = (a: string, p = 32) => {
    const b = parseIp(a);
    if (!b) throw new Error(a);
    return sockaddrToId(b, p, 0, 255);
  };
  const peer = textId(IpsecDoiIdType.FQDN, 'peer.example');
  const q = (local: ReturnType<typeof v4>, remote: ReturnType<typeof v4>, extra: object = {}) =>
    selectSaInfo(c, { local, remote, peer: textId(IpsecDoiIdType.FQDN, 'someone.example'), ...extra });

  test('the most specific entry wins by priority, then configuration order', () => {
    expect(q(v4('10.0.0.1'), v4('10.0.1.0', 24))?.description).toBe("loc='10.0.0.1', rmt='10.0.1.0/24', peer='ANY', id=0");
    expect(q(v4('10.0.2.0', 24), v4('172.16.0.1'))?.description).toBe("loc='10.0.2.0/24', rmt='ANONYMOUS', peer='ANY', id=0");
    expect(q(v4('172.16.0.1'), v4('172.16.0.2'))?.description).toBe("loc='ANONYMOUS', rmt='ANONYMOUS', peer='ANY', id=0");
  });

  test('subnet ids compare exactly (address and mask); a /32 subnet equals an address', () => {
    expect(q(v4('10.0.0.1'), v4('10.0.1.0', 25))?.local).toBeNull();
    expect(q(v4('10.0.0.1', 32), v4('10.0.1.0', 24))?.local).not.toBeNull();
  });

  test('`from` needs the peer phase-1 ID and beats anonymous entries (+3)', () => {
    expect(selectSaInfo(c, { local: v4('172.16.0.1'), remote: v4('172.16.0.2'), peer })?.fromText).toBe('fqdn peer.example');
    expect(selectSaInfo(c, { local: v4('172.16.0.1'), remote: v4('172.16.0.2'), peer: textId(IpsecDoiIdType.FQDN, 'other') })?.fromText).toBeNull();
  });

  test('`from address` never matches an address ID (racoon compares a sockaddr with a 4-byte address)', () => {
    const a = addressId('192.0.2.1');
    expect(selectSaInfo(c, { local: v4('172.16.0.1'), remote: v4('172.16.0.2'), peer: a })?.fromText).toBeNull();
  });

  test('without a peer ID a `from` entry matches anything (chkcmpids treats NULL as a wildcard)', () => {
    expect(selectSaInfo(c, { local: v4('172.16.0.1'), remote: v4('172.16.0.2') })?.fromText).not.toBeNull();
  });

  test('remoteid must equal the remote ph1id', () => {
    expect(q(v4('10.0.0.1'), v4('10.0.1.0', 24), { remoteid: 7 })?.remoteid).toBe(7);
    expect(q(v4('10.0.0.1'), v4('10.0.1.0', 24), { remoteid: 8 })).toBeNull();
  });

  test('clientaddr needs the client address and rmt equal to it', () => {
    const client = v4('10.99.0.5');
    expect(q(v4('10.0.3.1'), v4('10.99.0.5'), { client })?.remote).toBe('clientaddr');
    expect(q(v4('10.0.3.1'), v4('10.99.0.6'), { client })?.remote).toBeNull();
    expect(q(v4('10.0.3.1'), v4('10.99.0.5'))?.remote).toBeNull();
  });
});
