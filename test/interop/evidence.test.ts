/**
 * The harness's own parsers and verdict, on output captured from strongSwan
 * 5.9.8 (`swanctl --list-sas --raw`) and tanuki's `setkey -D`: a mismatching
 * SPI, a missing CHILD_SA or a wrong algorithm must make the scenario fail.
 */
import { charonSas, parseViciRaw, tanukiSas } from '../../src/interop/evidence';
import { judge } from '../../src/interop/runner';
import { tanukiSaOf } from '../../src/interop/tanuki';
import { SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import { scenarios, selectScenarios, swanctlConf, racoonConf, setkeyPolicies, strongswanConf } from '../../src/interop/scenario';
import { diff, renderHtml, type RunRecord } from '../../src/interop/results';
import { parseArgs } from '../../src/cli/tanuki-interop';
import { checkPrerequisites, formatMissing } from '../../src/interop/prereq';

const RAW =
  'list-sa event {interop {uniqueid=1 version=2 state=ESTABLISHED local-host=10.99.0.1 local-port=4500 local-id=charon.interop.test remote-host=10.99.0.2 remote-port=4500 remote-id=tanuki.interop.test initiator-spi=fdea2a121dacdce0 responder-spi=2b16b878be03cd7c nat-fake=yes nat-any=yes encr-alg=AES_GCM_16 encr-keysize=128 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=17 rekey-time=14177 child-sas {c1-1 {name=c1 uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes spi-in=3327ec16 spi-out=12711268 encr-alg=AES_GCM_16 encr-keysize=128 bytes-in=0 packets-in=0 bytes-out=0 packets-out=0 rekey-time=3279 life-time=3943 install-time=17 local-ts=[10.1.0.0/24] remote-ts=[10.2.0.0/24]}}}}\nlist-sas reply {}\n';

const dump = (outSpi: number, inSpi: number) =>
  `10.99.0.1[4500] 10.99.0.2[4500] \n\tesp-udp mode=tunnel spi=${inSpi}(0x${inSpi.toString(16).padStart(8, '0')}) reqid=1(0x00000001)\n\tE: 20  46ef230f\n\tseq=0x00000000 replay=32 flags=0x00000000 state=mature \n` +
  `10.99.0.2[4500] 10.99.0.1[4500] \n\tesp-udp mode=tunnel spi=${outSpi}(0x${outSpi.toString(16).padStart(8, '0')}) reqid=1(0x00000001)\n\tE: 20  7dbf9677\n\tseq=0x00000000 replay=32 flags=0x00000000 state=mature \n`;

const scenario = scenarios().find((s) => s.name === 'ikev2-psk-tanuki-init-aesgcm16-sha256-x25519-esp-aesgcm16')!;
const SHOW = 'Destination            Cookies                           Created\n10.99.0.1.4500         fdea2a121dacdce0:2b16b878be03cd7c  2026-11-22 02:55:21\n';

describe('swanctl --list-sas --raw parser (vici message dump)', () => {
  it('reads the IKE_SA and its CHILD_SA fields', () => {
    const [ike] = charonSas(RAW);
    expect(ike).toMatchObject({ name: 'interop', state: 'ESTABLISHED', version: '2', encrAlg: 'AES_GCM_16', dhGroup: 'CURVE_25519', natFake: true, initiator: false });
    expect(ike.children).toHaveLength(1);
    expect(ike.children[0]).toMatchObject({ state: 'INSTALLED', mode: 'TUNNEL', protocol: 'ESP', encap: true, spiIn: 0x3327ec16, spiOut: 0x12711268, localTs: ['10.1.0.0/24'] });
  });
  it('names the offset of malformed input', () => {
    expect(() => parseViciRaw('list-sa event {a {b=1}')).toThrow(/unbalanced braces/);
    expect(() => parseViciRaw('no brace here')).toThrow(/offset 0: expected '\{'/);
  });
});

describe('verdict', () => {
  it('passes when tanuki outbound = charon spi-in and tanuki inbound = charon spi-out', () => {
    const checks = judge(scenario, { ike: charonSas(RAW)[0], tanuki: tanukiSas(dump(0x3327ec16, 0x12711268)), showSa: SHOW });
    expect(checks.filter((c) => !c.startsWith('ok'))).toEqual([]);
  });
  it('fails on swapped or foreign SPIs', () => {
    const swapped = judge(scenario, { ike: charonSas(RAW)[0], tanuki: tanukiSas(dump(0x12711268, 0x3327ec16)), showSa: SHOW });
    expect(swapped.filter((c) => c.startsWith('FAIL'))).toHaveLength(2);
  });
  it('fails without an INSTALLED CHILD_SA, with the wrong algorithm, or when tanuki lacks the IKE_SA', () => {
    const noChild = RAW.replace('state=INSTALLED', 'state=CREATED');
    expect(judge(scenario, { ike: charonSas(noChild)[0], tanuki: tanukiSas(dump(0x3327ec16, 0x12711268)) }).some((c) => c.startsWith('FAIL charon has 0 INSTALLED'))).toBe(true);
    const other = scenarios().find((s) => s.name === 'ikev2-psk-tanuki-init-aescbc-sha256-ecp256-esp-aesgcm16')!;
    expect(judge(other, { ike: charonSas(RAW)[0], tanuki: tanukiSas(dump(0x3327ec16, 0x12711268)) }).filter((c) => c.startsWith('FAIL'))).toEqual([
      'FAIL IKE encr-alg AES_GCM_16 (want AES_CBC)',
      'FAIL IKE dh-group CURVE_25519 (want ECP_256)',
    ]);
    expect(judge(scenario, { ike: charonSas(RAW)[0], tanuki: tanukiSas(dump(0x3327ec16, 0x12711268)), showSa: '' }).some((c) => c.startsWith('FAIL tanuki show-sa'))).toBe(true);
  });
  it('NAT scenario: fails unless charon saw a real NAT (nat-remote) and the NAT\'s outside address (RFC 7296 §2.23)', () => {
    const nat = scenarios().find((s) => s.name === 'ikev2-psk-tanuki-init-aesgcm16-sha256-x25519-esp-aesgcm16-nat')!;
    const natDump = (o: number, i: number) => dump(o, i).replace(/10\.99\.0\.2\[/g, '192.168.99.2[');
    const fake = judge(nat, { ike: charonSas(RAW.replace('initiator-spi', 'initiator=no initiator-spi'))[0], tanuki: tanukiSas(natDump(0x3327ec16, 0x12711268)) });
    expect(fake.filter((c) => c.startsWith('FAIL'))).toEqual(['FAIL charon detected the NAT in front of tanuki (nat-remote=no)']);
    const real = judge(nat, { ike: charonSas(RAW.replace('nat-fake=yes', 'nat-remote=yes'))[0], tanuki: tanukiSas(natDump(0x3327ec16, 0x12711268)) });
    expect(real.filter((c) => c.startsWith('FAIL'))).toEqual([]);
  });
  it('reads the traffic counters of both peers: charon bytes/packets, tanuki LIFETIME_CURRENT', () => {
    const [ike] = charonSas(RAW.replace('bytes-in=0 packets-in=0', 'bytes-in=252 packets-in=3'));
    expect(ike.children[0]).toMatchObject({ bytesIn: 252, packetsIn: 3, bytesOut: 0 });
    const sa = tanukiSaOf({
      type: SadbMsgType.DUMP, satype: SadbSaType.ESP, errno: 0, seq: 0, pid: 0,
      ext: {
        sa: { spi: 0x3327ec16, replay: 32, state: 1, auth: 0, encrypt: 20, flags: 0 },
        addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '10.99.0.2', port: 4500 } },
        addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: '10.99.0.1', port: 4500 } },
        lifetimeCurrent: { allocations: 3, bytes: 336n, addtime: 0n, usetime: 0n },
      },
    });
    expect(sa).toMatchObject({ src: '10.99.0.2', dst: '10.99.0.1', spi: 0x3327ec16, state: 'mature', bytes: 336, packets: 3 });
  });
  it('fails when charon has no IKE_SA at all', () => {
    expect(judge(scenario, { ike: null, tanuki: [] })).toEqual(['FAIL charon has IKE_SA "interop"']);
  });
});

describe('scenario matrix and rendering', () => {
  it('has at least 48 CI scenarios covering both IKE versions, both roles and every behaviour (issue 9)', () => {
    const all = scenarios();
    const ci = all.filter((s) => s.set === 'ci');
    expect(ci.length).toBeGreaterThanOrEqual(48);
    expect(new Set(all.map((s) => s.name)).size).toBe(all.length);
    for (const v of [1, 2] as const) for (const side of ['tanuki', 'charon'] as const) expect(ci.some((s) => s.ikeVersion === v && s.initiator === side)).toBe(true);
    const behaviours = new Set(ci.map((s) => s.behaviour));
    for (const b of ['establish', 'delete-by-tanuki', 'delete-by-charon', 'rekey-child-by-tanuki', 'rekey-child-by-charon', 'rekey-ike-by-tanuki', 'rekey-ike-by-charon', 'dpd-charon-detects'] as const) {
      expect(behaviours.has(b)).toBe(true);
    }
    expect(ci.some((s) => s.topology === 'nat')).toBe(true);
    expect(ci.some((s) => s.ikeVersion === 1 && s.v1Mode === 'aggressive')).toBe(true);
    // Every experimental scenario says why it is not in CI, and none of them is listed before a CI one.
    const exp = all.filter((s) => s.set === 'experimental');
    expect(exp.every((s) => (s.note ?? '').length > 10)).toBe(true);
    expect(all.slice(ci.length).every((s) => s.set === 'experimental')).toBe(true);
    expect(selectScenarios(all, 'charon-init chacha')).toHaveLength(5);
    expect(selectScenarios(all, '/^ikev2-psk-tanuki-init-aescbc-sha256-ecp256-esp-(aesgcm16|aescbc-sha256|chacha20poly1305)$/')).toHaveLength(3);
    expect(selectScenarios(all, '/^ikev2-psk-.*-x25519-esp-aesgcm16-delete-by-charon$/').map((s) => s.initiator)).toEqual(['tanuki', 'charon']);
  });
  it('NAT scenarios: tanuki listens on its private address, charon accepts any peer address; small lifetimes make tanuki rekey', () => {
    const nat = scenarios().find((s) => s.topology === 'nat')!;
    expect(racoonConf(nat, '/d')).toContain('isakmp 192.168.99.2 [500];');
    expect(setkeyPolicies(nat)).toContain('esp/tunnel/192.168.99.2-10.99.0.1/require');
    expect(swanctlConf(nat)).toContain('remote_addrs = %any');
    const rk = scenarios().find((s) => s.behaviour === 'rekey-child-by-tanuki')!;
    expect(racoonConf(rk, '/d')).toMatch(/sainfo anonymous \{\n  lifetime time 10 sec;/);
    const agg = scenarios().find((s) => s.v1Mode === 'aggressive')!;
    expect(racoonConf(agg, '/d')).toContain('exchange_mode aggressive;');
    expect(swanctlConf(agg)).toContain('aggressive = yes');
    expect(strongswanConf(agg, '/d')).toContain('i_dont_care_about_security_and_use_aggressive_mode_psk = yes');
  });
  it('renders one description into both peers (same proposal, IDs and traffic selectors)', () => {
    const s = scenarios().find((x) => x.name === 'ikev2-psk-charon-init-chacha20poly1305-sha256-modp2048-esp-aescbc-sha256')!;
    expect(swanctlConf(s)).toContain('proposals = chacha20poly1305-prfsha256-modp2048');
    expect(swanctlConf(s)).toContain('esp_proposals = aes128-sha256');
    expect(racoonConf(s, '/d')).toContain('dh_group modp2048;');
    expect(racoonConf(s, '/d')).toContain('authentication_algorithm hmac_sha256;');
  });
  it('the report lists new failures first and the failing log lines', () => {
    const mk = (name: string, result: 'pass' | 'fail') => ({ name, result, seconds: 1, evidence: { checks: [], charonLog: result === 'fail' ? ['<NO_PROP> line'] : [] } });
    const prev: RunRecord = { started: 'a', filter: null, scenarios: [mk('x', 'pass'), mk('y', 'fail')] };
    const cur: RunRecord = { started: 'b', filter: null, scenarios: [mk('x', 'fail'), mk('y', 'pass'), mk('z', 'pass')] };
    expect(diff(prev, cur).map((c) => `${c.name}:${c.before}->${c.after}`)).toEqual(['x:pass->fail', 'y:fail->pass', 'z:new->pass']);
    const html = renderHtml(cur, prev);
    expect(html).toContain('&lt;NO_PROP&gt; line');
    expect(html.indexOf('x: pass → fail')).toBeLessThan(html.indexOf('y: fail → pass'));
  });
  it('rejects unknown commands and options', () => {
    expect(() => parseArgs(['frobnicate'])).toThrow(/unknown command 'frobnicate'/);
    expect(() => parseArgs(['run', '--bogus'])).toThrow(/unknown option '--bogus'/);
    expect(parseArgs(['run', 'charon-init', 'gcm', '--json'])).toMatchObject({ verb: 'run', filter: 'charon-init gcm', json: true, all: false });
    expect(parseArgs(['run', '--jobs', '3', '--all'])).toMatchObject({ jobs: 3, all: true });
    expect(() => parseArgs(['run', '--jobs', '0'])).toThrow(/--jobs needs a number of scenarios from 1 to 99, got '0'/);
  });
});

describe('prerequisites (issue 9: say precisely what is missing and how to install it)', () => {
  it('names each missing strongSwan piece with the Debian package that provides it', () => {
    const text = formatMissing(checkPrerequisites({ charon: '/nonexistent/charon', pluginsDir: '/nonexistent/plugins', tun: '/nonexistent/tun' }));
    expect(text).toContain('missing: /nonexistent/charon (strongSwan charon daemon)\n  fix: apt-get install -y strongswan-charon strongswan-swanctl libcharon-extra-plugins');
    expect(text).toContain('missing: strongSwan plugin kernel-libipsec (/nonexistent/plugins/libstrongswan-kernel-libipsec.so)\n  fix: apt-get install -y libcharon-extra-plugins');
    expect(text).toContain('missing: /nonexistent/tun (kernel-libipsec creates its ipsec0 TUN device)');
  });
});
