/**
 * The harness's own parsers and verdict, on output captured from strongSwan
 * 5.9.8 (`swanctl --list-sas --raw`) and tanuki's `setkey -D`: a mismatching
 * SPI, a missing CHILD_SA or a wrong algorithm must make the scenario fail.
 */
import { charonSas, parseViciRaw, tanukiSas } from '../../src/interop/evidence';
import { judge } from '../../src/interop/runner';
import { scenarios, selectScenarios, swanctlConf, racoonConf } from '../../src/interop/scenario';
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
  it('fails when charon has no IKE_SA at all', () => {
    expect(judge(scenario, { ike: null, tanuki: [] })).toEqual(['FAIL charon has IKE_SA "interop"']);
  });
});

describe('scenario matrix and rendering', () => {
  it('covers both roles × 3 IKE × 3 ESP proposals, and filters by words and /regex/', () => {
    const all = scenarios();
    expect(all).toHaveLength(22);
    expect(new Set(all.map((s) => s.name)).size).toBe(22);
    expect(all.filter((s) => s.behaviour !== 'establish').map((s) => s.name.replace(/^ikev2-psk-|-aesgcm16-sha256-x25519-esp-aesgcm16/g, ''))).toEqual([
      'tanuki-init-delete-by-tanuki',
      'tanuki-init-delete-by-charon',
      'charon-init-delete-by-tanuki',
      'charon-init-delete-by-charon',
    ]);
    expect(selectScenarios(all, 'charon-init chacha')).toHaveLength(5);
    expect(selectScenarios(all, '/^ikev2-psk-tanuki-init-aescbc/')).toHaveLength(3);
    expect(selectScenarios(all, 'delete-by-charon')).toHaveLength(2);
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
    expect(parseArgs(['run', 'charon-init', 'gcm', '--json'])).toMatchObject({ verb: 'run', filter: 'charon-init gcm', json: true });
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
