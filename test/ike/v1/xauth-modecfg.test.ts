/**
 * XAUTH (draft-beaulieu-ike-xauth-02 §4.1: REQUEST/REPLY/SET/ACK) and
 * Mode-Config (draft-dukes-ike-mode-cfg §3: REQUEST/REPLY, pull mode as a
 * racoon client does it) between Ikev1Engines on a virtual clock, in the
 * road-warrior shape of racoon's samples: client `xauth_psk_client` +
 * `xauth_login` + `mode_cfg on`, server `xauth_psk_server` + `mode_cfg {}`.
 */
import { SadbMsgType } from '../../../src/pfkey/constants';
import type { PfKeyMessage } from '../../../src/pfkey/types';
import { AuthMethod, ExchangeType, IdType } from '../../../src/ike/v1/constants';
import type { Ikev1PeerConfig } from '../../../src/ike/v1/config';
import { Ikev1Engine, Ikev1LogEvent } from '../../../src/ike/v1/engine';
import { AddressPool, CfgServer, ModeCfgAttr, ModeCfgServerConfig, applyModeCfgAttributes, modeCfgReplyAttributes } from '../../../src/ike/v1/modecfg';
import { sameAuthMethod, userFileSource, xauthRole } from '../../../src/ike/v1/xauth';
import { hashXauthPassword, parseXauthUsers } from '../../../src/config/xauth-users';
import type { Endpoint } from '../../../src/ike/common/natt';
import { Pair, peerConfig, seededRandom } from './harness';

const CLIENT = '10.0.0.1';
const SERVER = '10.0.0.2';

const proposal = (authMethod: number) => [{ encr: 7, keyBits: 128, hash: 2, authMethod, dhGroup: 14, lifetimeSeconds: 28800 }];

const USERS = parseXauthUsers(`# tanuki xauth users\nalice:${hashXauthPassword('wonderland', Buffer.from('00112233', 'hex'))}\nbob:${hashXauthPassword('builder', Buffer.from('44556677', 'hex'))}\n`, 'users');
if (!USERS.ok) throw new Error('fixture');

function serverConfig(over: Partial<ModeCfgServerConfig> = {}): ModeCfgServerConfig {
  return {
    network4: '10.99.99.1',
    netmask4: '255.255.255.0',
    poolSize: 2,
    dns4: ['10.99.99.53', '10.99.99.54'],
    nbns4: [],
    splitNetworkType: 'include',
    splitNetwork: [{ address: '192.168.2.0', prefixlen: 24 }],
    splitDns: ['corp.example'],
    defaultDomain: 'corp.example',
    banner: Buffer.from('Authorized users only\n'),
    savePasswd: false,
    pfsGroup: 0,
    ...over,
  };
}

function clientPeer(name: string, local: string, over: Partial<Ikev1PeerConfig> = {}): Ikev1PeerConfig {
  return peerConfig(name, local, SERVER, { ph1Proposals: proposal(AuthMethod.XAUTH_INIT_PSK), xauthLogin: 'alice', xauthPassword: Buffer.from('wonderland'), modeCfg: true, ...over });
}
function serverPeer(over: Partial<Ikev1PeerConfig> = {}): Ikev1PeerConfig {
  // racoon `remote anonymous` with xauth_psk_server and generate_policy-like sainfo
  return peerConfig('rw', SERVER, CLIENT, { remote: { address: 'anonymous', port: 500, id: null }, ph1Proposals: proposal(AuthMethod.XAUTH_RESP_PSK), ...over });
}

function xauthPair(clientOver: Partial<Ikev1PeerConfig> = {}, cfg = serverConfig()) {
  const server = new CfgServer(cfg, userFileSource(USERS.ok ? USERS.users : []));
  const p = new Pair(
    new Ikev1Engine({ peers: [clientPeer('gw', CLIENT, clientOver)], random: seededRandom('xc'), pid: 100 }),
    new Ikev1Engine({ peers: [serverPeer()], random: seededRandom('xs'), pid: 200, cfgServer: server }),
  );
  return { p, server };
}

const transactions = (p: Pair) => p.wire.filter((w) => w.data[18] === ExchangeType.TRANSACTION);
const types = (m: PfKeyMessage[]) => m.map((x) => SadbMsgType[x.type]);
const said = (logs: Ikev1LogEvent[], s: string) => logs.some((l) => l.msg.includes(s));

describe('XAUTH PSK + Mode-Config (racoon road warrior)', () => {
  it('client authenticates, pulls 10.99.99.1 from the pool with DNS, split network, domain and banner, then Quick Mode runs', () => {
    const { p, server } = xauthPair();
    p.a.initiate('gw', 0);
    p.run();
    const c = p.a.cfgInfo(p.a.ph1Sas()[0].serial)!;
    expect(c.xauth).toBe('ok');
    expect(c.client).toMatchObject({
      address: '10.99.99.1',
      netmask: '255.255.255.0',
      dns: ['10.99.99.53', '10.99.99.54'],
      banner: 'Authorized users only\n',
      defaultDomain: 'corp.example',
      splitInclude: [{ address: '192.168.2.0', prefixlen: 24 }],
      splitDns: ['corp.example'],
    });
    const s = p.b.cfgInfo(p.b.ph1Sas()[0].serial)!;
    expect(s).toMatchObject({ xauth: 'ok', login: 'alice', assigned: '10.99.99.1' });
    expect(server.pool!.inUse()).toBe(1);
    // XAUTH REQUEST/REPLY/SET/ACK then Mode-Config REQUEST/REPLY, all before the first Quick Mode message
    const tx = transactions(p);
    expect(tx.map((w) => w.from)).toEqual(['b', 'a', 'b', 'a', 'a', 'b']);
    const firstQuick = p.wire.findIndex((w) => w.data[18] === ExchangeType.QUICK);
    expect(firstQuick).toBeGreaterThan(p.wire.indexOf(tx[5]));
    expect(types(p.kernel.a)).toEqual(['GETSPI', 'UPDATE', 'ADD']);
    // each transaction is encrypted (E flag) and REPLY/ACK reuse the REQUEST's/SET's message id
    expect(tx.every((w) => (w.data[19] & 1) === 1)).toBe(true);
    expect(tx[1].data.readUInt32BE(20)).toBe(tx[0].data.readUInt32BE(20));
    expect(tx[3].data.readUInt32BE(20)).toBe(tx[2].data.readUInt32BE(20));
    expect(tx[2].data.readUInt32BE(20)).not.toBe(tx[0].data.readUInt32BE(20));
  });

  it('Aggressive Mode (the Cisco/iOS road-warrior shape, group name as FQDN ID) + XAUTH + Mode-Config, then Quick Mode', () => {
    const am = { exchangeModes: ['aggressive' as const], local: { address: CLIENT, port: 500, id: { type: IdType.FQDN as const, value: 'group.example' } } };
    const server = new CfgServer(serverConfig(), userFileSource(USERS.ok ? USERS.users : []));
    const p = new Pair(
      new Ikev1Engine({ peers: [clientPeer('gw', CLIENT, am)], random: seededRandom('ac'), pid: 100 }),
      new Ikev1Engine({ peers: [serverPeer({ exchangeModes: ['aggressive'] })], random: seededRandom('as'), pid: 200, cfgServer: server }),
    );
    p.a.initiate('gw', 0);
    p.run();
    expect(p.wire.filter((w) => w.data[18] === ExchangeType.AGGRESSIVE)).toHaveLength(3);
    expect(p.a.cfgInfo(p.a.ph1Sas()[0].serial)).toMatchObject({ xauth: 'ok', client: { address: '10.99.99.1' } });
    expect(types(p.kernel.a)).toEqual(['GETSPI', 'UPDATE', 'ADD']);
  });

  it('a second ISAKMP-SA of the same login from the same address (phase-1 rekey) gets the same pool address', () => {
    const { p, server } = xauthPair();
    p.a.initiate('gw', 0);
    p.run();
    // the client's next phase 1 (as a rekey would do) while the first is still alive
    const c2 = new Ikev1Engine({ peers: [clientPeer('gw', CLIENT, { initialContact: false })], random: seededRandom('rekey'), pid: 101 }); // a rekeying client has another ISAKMP-SA: no INITIAL-CONTACT
    const p2 = new Pair(c2, p.b);
    c2.initiate('gw', 0);
    p2.run();
    expect(p.b.ph1Sas().filter((s) => s.state === 'ESTABLISHED')).toHaveLength(2);
    expect(c2.cfgInfo(c2.ph1Sas()[0].serial)!.client.address).toBe('10.99.99.1');
    expect(server.pool!.inUse()).toBe(1);
  });

  it('a wrong password: the server sends XAUTH_STATUS=FAIL, no Quick Mode, both ISAKMP-SAs are removed, no address is held', () => {
    const { p, server } = xauthPair({ xauthPassword: Buffer.from('guess') });
    p.a.initiate('gw', 0);
    p.run();
    expect(said(p.logs.b, 'Xauth: authentication failed for login "alice"')).toBe(true);
    expect(said(p.logs.a, 'Xauth authentication failed')).toBe(true);
    expect(p.wire.some((w) => w.data[18] === ExchangeType.QUICK)).toBe(false);
    expect(p.a.ph1Sas()).toHaveLength(0);
    expect(p.b.ph1Sas()).toHaveLength(0);
    expect(server.pool!.inUse()).toBe(0);
  });

  it('auth_throttle 3: the FAIL status of a wrong password is sent only 3 s later (racoon slows password guessing)', () => {
    const server = new CfgServer(serverConfig(), userFileSource(USERS.ok ? USERS.users : []), 3);
    const p = new Pair(
      new Ikev1Engine({ peers: [clientPeer('gw', CLIENT, { xauthPassword: Buffer.from('guess') })], random: seededRandom('tc'), pid: 100 }),
      new Ikev1Engine({ peers: [serverPeer()], random: seededRandom('ts'), pid: 200, cfgServer: server }),
    );
    p.a.initiate('gw', 0);
    p.run();
    expect(transactions(p).map((w) => w.from)).toEqual(['b', 'a']);
    expect(p.b.getTimer()).toBe(p.now + 3000);
    p.tick();
    expect(p.now).toBe(3000);
    expect(transactions(p).map((w) => w.from)).toEqual(['b', 'a', 'b', 'a']);
    expect(p.a.ph1Sas()).toHaveLength(0);
    expect(p.b.ph1Sas()).toHaveLength(0);
  });

  it('an unknown login fails the same way as a wrong password', () => {
    const { p } = xauthPair({ xauthLogin: 'mallory' });
    p.a.initiate('gw', 0);
    p.run();
    expect(said(p.logs.b, 'authentication failed for login "mallory"')).toBe(true);
    expect(p.b.ph1Sas()).toHaveLength(0);
  });

  it('a lost REPLY: the server retransmits its REQUEST and the client answers again; the exchange completes', () => {
    const { p } = xauthPair();
    let dropped = 0;
    p.drop = (from, data) => from === 'a' && data[18] === ExchangeType.TRANSACTION && dropped++ === 0;
    p.a.initiate('gw', 0);
    p.run();
    expect(p.a.cfgInfo(p.a.ph1Sas()[0].serial)!.xauth).toBe('pending');
    p.tick();
    expect(dropped).toBeGreaterThan(1);
    expect(p.a.cfgInfo(p.a.ph1Sas()[0].serial)!.client.address).toBe('10.99.99.1');
    expect(types(p.kernel.a)).toEqual(['GETSPI', 'UPDATE', 'ADD']);
  });

  it('a client that never answers: the server gives up after retry.counter resends and deletes the ISAKMP-SA', () => {
    const { p } = xauthPair();
    p.drop = (from, data) => from === 'a' && data[18] === ExchangeType.TRANSACTION;
    p.a.initiate('gw', 0);
    p.run();
    for (let i = 0; i < 8 && p.b.ph1Sas().length > 0; i++) p.tick();
    expect(said(p.logs.b, 'Transaction exchange timed out')).toBe(true);
    expect(p.b.ph1Sas()).toHaveLength(0);
  });

  it('logoutUser (racoonctl logout-user) deletes the user\'s ISAKMP-SA and IPsec-SAs and returns the address to the pool', () => {
    const { p, server } = xauthPair();
    p.a.initiate('gw', 0);
    p.run();
    expect(server.pool!.inUse()).toBe(1);
    expect(p.b.logoutUser('bob', p.now)).toBe(0);
    expect(p.b.logoutUser('alice', p.now)).toBe(1);
    p.run();
    expect(server.pool!.inUse()).toBe(0);
    expect(p.b.ph1Sas()).toHaveLength(0);
    expect(p.a.ph1Sas()).toHaveLength(0); // the client got the Delete
    expect(types(p.kernel.b).filter((t) => t === 'DELETE').length).toBeGreaterThanOrEqual(2);
  });

  it('Mode-Config without XAUTH (mode_cfg on, pre_shared_key): the client pulls and the server answers', () => {
    const server = new CfgServer(serverConfig(), null);
    const p = new Pair(
      new Ikev1Engine({ peers: [peerConfig('gw', CLIENT, SERVER, { modeCfg: true })], random: seededRandom('mc'), pid: 100 }),
      new Ikev1Engine({ peers: [peerConfig('rw', SERVER, CLIENT)], random: seededRandom('ms'), pid: 200, cfgServer: server }),
    );
    p.a.initiate('gw', 0);
    p.run();
    expect(p.a.cfgInfo(p.a.ph1Sas()[0].serial)!.client.address).toBe('10.99.99.1');
    expect(transactions(p).map((w) => w.from)).toEqual(['a', 'b']);
    expect(types(p.kernel.a)).toEqual(['GETSPI', 'UPDATE', 'ADD']);
  });

  it('an XAUTH server without a user source refuses the client (no silent accept)', () => {
    const p = new Pair(
      new Ikev1Engine({ peers: [clientPeer('gw', CLIENT)], random: seededRandom('nu'), pid: 100 }),
      new Ikev1Engine({ peers: [serverPeer()], random: seededRandom('nv'), pid: 200, cfgServer: new CfgServer(serverConfig(), null) }),
    );
    p.a.initiate('gw', 0);
    p.run();
    expect(said(p.logs.b, 'XAUTH server without a user source')).toBe(true);
    expect(p.b.ph1Sas()).toHaveLength(0);
  });
});

describe('robustness of the Transaction exchange (issue 5: malformed input is dropped with a log line)', () => {
  it('20,000 mutated copies of the client\'s Transaction messages leave the server\'s session, pool and SAs intact', () => {
    const { p, server } = xauthPair();
    p.a.initiate('gw', 0);
    p.run();
    const seeds = p.wire.filter((w) => w.from === 'a' && w.data[18] === ExchangeType.TRANSACTION);
    expect(seeds).toHaveLength(3);
    const rnd = seededRandom('mutate');
    for (let i = 0; i < 20000; i++) {
      const seed = seeds[i % seeds.length];
      const m = Buffer.from(seed.data);
      const r = rnd.bytes(6);
      switch (r[0] % 4) {
        case 0: // flip bits in the encrypted body
          m[28 + (r.readUInt16BE(1) % (m.length - 28))] ^= 1 << (r[3] & 7);
          break;
        case 1: // truncate (the header length then lies)
          p.b.receiveDatagram(m.subarray(0, 28 + (r.readUInt16BE(1) % (m.length - 28))), seed.src, seed.dst, 0);
          continue;
        case 2: // another message id / flags / next payload
          m.writeUInt32BE(r.readUInt32BE(1), 20);
          m[19] = r[5] & 7;
          m[16] = r[4];
          break;
        default: // random ciphertext of a block multiple
          rnd.bytes(m.length - 28).copy(m, 28);
      }
      p.b.receiveDatagram(m, seed.src, seed.dst, 0);
    }
    p.run();
    const sa = p.b.ph1Sas()[0];
    expect(sa.state).toBe('ESTABLISHED');
    expect(p.b.cfgInfo(sa.serial)).toMatchObject({ xauth: 'ok', login: 'alice', assigned: '10.99.99.1' });
    expect(server.pool!.inUse()).toBe(1);
    expect(p.logs.b.filter((l) => l.level === 'warn' || l.level === 'error').length).toBeGreaterThan(1000);
    // still fully working: logout deletes it
    expect(p.b.logoutUser('alice', p.now)).toBe(1);
    expect(server.pool!.inUse()).toBe(0);
  });
});

describe('address pool across clients (racoon isakmp_cfg_getport)', () => {
  /** a tiny network: datagrams are delivered by destination address */
  function net(engines: Record<string, Ikev1Engine>) {
    const logs: Record<string, Ikev1LogEvent[]> = {};
    const spi: Record<string, number> = {};
    const run = () => {
      for (let i = 0; i < 300; i++) {
        let moved = 0;
        for (const [addr, e] of Object.entries(engines))
          for (const act of e.pollActions()) {
            moved++;
            if (act.kind === 'log') (logs[addr] ??= []).push(act.event);
            else if (act.kind === 'pfkey') {
              const reply: PfKeyMessage = { ...act.msg, ext: { ...act.msg.ext } };
              if (act.msg.type === SadbMsgType.GETSPI) {
                spi[addr] = (spi[addr] ?? 0x1000) + 1;
                reply.ext.sa = { spi: spi[addr], replay: 0, state: 0, auth: 0, encrypt: 0, flags: 0 };
                e.receivePfKey(reply, 0);
              }
            } else engines[act.to.address]?.receiveDatagram(act.data, act.from as Endpoint, act.to, 0);
          }
        if (moved === 0) return;
      }
    };
    return { run, logs };
  }

  it('two clients get network4 and network4+1; a third finds the pool (pool_size 2) exhausted; a logout frees a slot', () => {
    const server = new CfgServer(serverConfig(), userFileSource(USERS.ok ? USERS.users : []));
    const srv = new Ikev1Engine({ peers: [serverPeer()], random: seededRandom('ps'), pid: 200, cfgServer: server });
    const clients = ['10.0.0.11', '10.0.0.12', '10.0.0.13'].map((a, i) => new Ikev1Engine({ peers: [clientPeer('gw', a, i === 1 ? { xauthLogin: 'bob', xauthPassword: Buffer.from('builder') } : {})], random: seededRandom(`pc${i}`), pid: 300 + i }));
    const n = net({ [SERVER]: srv, '10.0.0.11': clients[0], '10.0.0.12': clients[1], '10.0.0.13': clients[2] });
    for (const c of clients) {
      c.initiate('gw', 0);
      n.run();
    }
    const addr = (c: Ikev1Engine) => c.cfgInfo(c.ph1Sas()[0].serial)!.client.address;
    expect(clients.map(addr)).toEqual(['10.99.99.1', '10.99.99.2', null]);
    expect(n.logs[SERVER].some((l) => l.msg === 'mode-cfg: No more addresses available')).toBe(true);
    expect(srv.logoutUser('bob', 0)).toBe(1);
    n.run();
    expect(server.pool!.inUse()).toBe(1);
    expect(server.pool!.allocate('carol')).toBe('10.99.99.2');
  });
});

describe('Mode-Config attributes and helpers', () => {
  it('REPLY carries only what was requested; Unity split include is 14-octet entries (addr, mask, 6 zero octets)', () => {
    const cfg = serverConfig();
    const out = modeCfgReplyAttributes([{ type: ModeCfgAttr.INTERNAL_IP4_ADDRESS, value: Buffer.alloc(0) }, { type: ModeCfgAttr.UNITY_SPLIT_INCLUDE, value: Buffer.alloc(0) }], cfg, '10.99.99.7');
    expect(out.map((a) => a.type)).toEqual([ModeCfgAttr.INTERNAL_IP4_ADDRESS, ModeCfgAttr.UNITY_SPLIT_INCLUDE]);
    expect((out[1].value as Buffer).toString('hex')).toBe('c0a80200ffffff00000000000000');
    const info = { address: null, netmask: null, dns: [], nbns: [], banner: null, defaultDomain: null, splitInclude: [], splitLocalLan: [], splitDns: [], savePasswd: false };
    expect(applyModeCfgAttributes(info, [...out, { type: 999, value: Buffer.alloc(1) }, { type: ModeCfgAttr.INTERNAL_IP4_DNS, value: Buffer.alloc(2) }])).toEqual([999]);
    // a short (2-octet) address attribute, as old iOS racoon sent, is ignored rather than misread
    expect(info.dns).toEqual([]);
    expect(info.address).toBe('10.99.99.7');
  });

  it('AddressPool hands out network4 + i for i < pool_size and reuses released slots', () => {
    const pool = new AddressPool('10.99.99.254', 3);
    expect([pool.allocate('a'), pool.allocate('b'), pool.allocate('c'), pool.allocate('d')]).toEqual(['10.99.99.254', '10.99.99.255', '10.99.100.0', null]);
    expect(pool.release('10.99.99.255')).toBe(true);
    expect(pool.release('10.99.99.255')).toBe(false);
    expect(pool.allocate('e')).toBe('10.99.99.255');
  });

  it('a login that still holds an address (phase-1 rekey) gets the same one; the slot is freed with its last holder', () => {
    const pool = new AddressPool('10.99.99.1', 4);
    expect(pool.allocate('login:alice', true)).toBe('10.99.99.1');
    expect(pool.allocate('login:alice', true)).toBe('10.99.99.1');
    expect(pool.allocate('serial:7')).toBe('10.99.99.2');
    expect(pool.release('10.99.99.1')).toBe(false);
    expect(pool.inUse()).toBe(2);
    expect(pool.release('10.99.99.1')).toBe(true);
    expect(pool.allocate('login:bob', true)).toBe('10.99.99.1');
  });

  it('auth methods: the server\'s xauth_psk_server (65002) matches the client\'s 65001 (racoon isakmpsa_switch_authmethod); roles follow the configured method', () => {
    expect(sameAuthMethod(AuthMethod.XAUTH_RESP_PSK, AuthMethod.XAUTH_INIT_PSK)).toBe(true);
    expect(sameAuthMethod(AuthMethod.PRE_SHARED_KEY, AuthMethod.XAUTH_INIT_PSK)).toBe(false);
    expect(xauthRole([AuthMethod.XAUTH_INIT_PSK])).toBe('client');
    expect(xauthRole([AuthMethod.XAUTH_RESP_PSK])).toBe('server');
    expect(xauthRole([AuthMethod.PRE_SHARED_KEY])).toBeNull();
  });

  it('the tanuki user file: errors name file:line:column and the token; verify checks the scrypt key', () => {
    expect(parseXauthUsers('alice:plain-text\n', '/etc/racoon/xauth-users')).toEqual({
      ok: false,
      error: { file: '/etc/racoon/xauth-users', line: 1, column: 7, token: 'plain-text', message: 'expected scrypt$<salt hex>$<64 hex digits>' },
    });
    expect(parseXauthUsers('# c\n\nnocolon\n', 'f')).toMatchObject({ ok: false, error: { line: 3, column: 1, token: 'nocolon' } });
    const src = userFileSource(USERS.ok ? USERS.users : []);
    expect(src.verify('alice', Buffer.from('wonderland'))).toBe(true);
    expect(src.verify('alice', Buffer.from('wonderlanD'))).toBe(false);
    expect(src.verify('nobody', Buffer.from('wonderland'))).toBe(false);
  });
});
