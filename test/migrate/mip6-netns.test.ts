/**
 * Issue 7 proof, the RFC 3776 / RFC 4877 layout in two network namespaces:
 * a mobile node (MN: home address 10.20.0.2 as an in-process host, care-of
 * address 10.77.0.2, later 10.78.0.3 on another prefix) and its home agent (HA 10.77.0.1, a
 * correspondent 10.30.0.1 behind it as its in-process host). Each runs tanuki's
 * racoon with its own userspace kernel.
 *
 *   - BU/BA: transport-mode ESP on the home address (HoA ⇄ HA, Mobility Header,
 *     protocol 135), manually keyed as RFC 3776 §4.4 allows; a MIGRATE must not
 *     move these (they are keyed on the HoA, RFC 3776 §4.2).
 *   - payload: a tunnel-mode CHILD_SA CoA ⇄ HA negotiated by IKEv2 (RFC 4877 §4)
 *     on the first packet (ACQUIRE).
 *
 * The MN moves: a new address on its interface, `setkey migrate` out/in/fwd on
 * both sides (playing each side's Mobile IPv6 daemon, UMIP's
 * _mn_tnl_update/_ha_tnl_update), the old address removed. Then traffic flows
 * again, on the new path, and the daemons' logs count the IKE_SA_INITs:
 *
 *   - K set (KMADDRESS, RFC 6275 §6.1.7): still one IKE_SA_INIT; the IKE SA
 *     moved on both sides (same SPIs) and the tunnel SAs kept their SPIs.
 *   - K clear (no KMADDRESS): the old IKE SA is abandoned on both sides; the
 *     migrated CHILD_SA still carries traffic, and its soft EXPIRE (sainfo
 *     lifetime 24 s) makes the MN negotiate a new IKE SA from the new CoA:
 *     a second IKE_SA_INIT, from 10.78.0.3, answered by the HA.
 *
 * The data plane carries raw ESP (IP protocol 50): when a MIGRATE makes the
 * daemon bind its IKE sockets on the new CoA, raw ESP/AH sockets are opened
 * there too, so inbound ESP on the new path is received.
 *
 * Needs `npm run build` (dist/ for bin/*) and root (ip netns).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const bin = (t: string) => join(root, 'bin', t);
const HA = '10.77.0.1';
const COA1 = '10.77.0.2';
const COA2 = '10.78.0.3'; // a care-of address on another link's prefix
const HOA = '10.20.0.2';
const CN = '10.30.0.1';
const KEYS = '-E aes-cbc 0x000102030405060708090a0b0c0d0e0f -A hmac-sha256 0x' + '11'.repeat(32);
let counter = 0;

function waitFor(what: string, pred: () => boolean, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error(`timed out waiting for ${what}`)) : setTimeout(tick, 200));
    tick();
  });
}

function sh(args: string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}

interface Side {
  name: 'mn' | 'ha';
  ns: string;
  dir: string;
  host: string;
  proc?: ChildProcess;
}

function config(s: Side, sainfoLifetime: string): string {
  const peerName = s.name === 'mn' ? 'ha' : 'mn';
  const remote = s.name === 'mn' ? `remote "ha" {\n  remote_address ${HA};` : 'remote anonymous {';
  const listen = s.name === 'mn' ? COA1 : HA;
  return `path pre_shared_key "${join(s.dir, 'psk.txt')}";
listen { isakmp ${listen} [500]; isakmp_natt ${listen} [4500]; adminsock "${join(s.dir, 'racoon.sock')}"; }
${remote}
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${peerName}.test";
  lifetime time 1 hour;
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
sainfo anonymous {
  lifetime time ${sainfoLifetime};
  encryption_algorithm aes_gcm_16 128;
  authentication_algorithm non_auth;
  compression_algorithm deflate;
}
`;
}

const sock = (s: Side) => join(s.dir, 'pfkey.sock');
const setkey = (s: Side, script: string) => spawnSync(process.execPath, [bin('setkey'), '--socket', sock(s), '-c'], { input: script, encoding: 'utf8' });
const dump = (s: Side, flag = '-D') => spawnSync(process.execPath, [bin('setkey'), '--socket', sock(s), flag], { encoding: 'utf8' }).stdout;
const log = (s: Side) => (existsSync(join(s.dir, 'racoon.log')) ? readFileSync(join(s.dir, 'racoon.log'), 'utf8') : '');
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

/** One echo request from the side's in-process host; true if the reply came back. */
function ping(s: Side, dst: string, timeoutMs = 3000): boolean {
  const r = spawnSync(process.execPath, [bin('tanuki-kernel'), 'ping', '--socket', sock(s), '-c', '1', '-W', String(timeoutMs), s.host, dst], { encoding: 'utf8' });
  return r.stdout.split('\n').some((l) => /^\{/.test(l) && (JSON.parse(l) as { reply?: boolean }).reply === true);
}

/** Tunnel SAs (src dst spi) in a side's kernel. */
function tunnelSas(s: Side): string[] {
  return [...dump(s).matchAll(/^(\S+) (\S+) \n\tesp mode=tunnel spi=(\d+)/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
}
function transportSas(s: Side): string[] {
  return [...dump(s).matchAll(/^(\S+) (\S+) \n\tesp mode=transport spi=(\d+)/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
}

class Mip6Lab {
  readonly mn: Side;
  readonly ha: Side;
  private readonly vethMn: string;
  private readonly vethHa: string;
  private namespaces: string[] = [];

  constructor() {
    const tag = `${process.pid}${(counter++).toString(36)}`;
    this.mn = { name: 'mn', ns: `tkm-${tag}-mn`, dir: mkdtempSync(join(tmpdir(), 'tanuki-mip6-mn-')), host: HOA };
    this.ha = { name: 'ha', ns: `tkm-${tag}-ha`, dir: mkdtempSync(join(tmpdir(), 'tanuki-mip6-ha-')), host: CN };
    this.vethMn = `tkm${tag}m`.slice(0, 15);
    this.vethHa = `tkm${tag}h`.slice(0, 15);
  }

  ip(s: Side, args: string[]): void {
    sh(['ip', '-n', s.ns, ...args]);
  }

  async up(sainfoLifetime: string): Promise<void> {
    for (const s of [this.mn, this.ha]) {
      sh(['ip', 'netns', 'add', s.ns]);
      this.namespaces.push(s.ns);
    }
    sh(['ip', 'link', 'add', this.vethMn, 'netns', this.mn.ns, 'type', 'veth', 'peer', 'name', this.vethHa, 'netns', this.ha.ns]);
    this.ip(this.mn, ['addr', 'add', `${COA1}/24`, 'dev', this.vethMn]);
    this.ip(this.ha, ['addr', 'add', `${HA}/24`, 'dev', this.vethHa]);
    for (const [s, dev] of [[this.mn, this.vethMn], [this.ha, this.vethHa]] as const) {
      this.ip(s, ['link', 'set', 'lo', 'up']);
      this.ip(s, ['link', 'set', dev, 'up']);
    }
    for (const s of [this.mn, this.ha]) {
      writeFileSync(join(s.dir, 'racoon.conf'), config(s, sainfoLifetime));
      writeFileSync(join(s.dir, 'psk.txt'), `${s.name === 'mn' ? 'ha' : 'mn'}.test\tmip6-shared-secret\n`);
      chmodSync(join(s.dir, 'psk.txt'), 0o600);
      s.proc = spawn(
        'ip',
        ['netns', 'exec', s.ns, process.execPath, bin('racoon'), '-F', '-d', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', sock(s), '--pid-file', join(s.dir, 'racoon.pid'), '--host', s.host],
        { stdio: 'ignore' },
      );
    }
    await waitFor('both racoons', () => [this.mn, this.ha].every((s) => existsSync(join(s.dir, 'racoon.sock')) && existsSync(`${sock(s)}.dp`)));
    // RFC 3776 §4.4: the BU/BA transport SAs on the home address (Mobility Header = 135), manually keyed.
    const bu = `add ${HOA} ${HA} esp 0x1001 -m transport ${KEYS};\nadd ${HA} ${HOA} esp 0x1002 -m transport ${KEYS};\n`;
    const mnPol =
      `spdadd ${HOA}/32 ${HA}/32 135 -P out ipsec esp/transport//require;\nspdadd ${HA}/32 ${HOA}/32 135 -P in ipsec esp/transport//require;\n` +
      `spdadd ${HOA}/32 10.30.0.0/24 any -P out ipsec esp/tunnel/${COA1}-${HA}/require;\nspdadd 10.30.0.0/24 ${HOA}/32 any -P in ipsec esp/tunnel/${HA}-${COA1}/require;\n`;
    const haPol =
      `spdadd ${HA}/32 ${HOA}/32 135 -P out ipsec esp/transport//require;\nspdadd ${HOA}/32 ${HA}/32 135 -P in ipsec esp/transport//require;\n` +
      `spdadd 10.30.0.0/24 ${HOA}/32 any -P out ipsec esp/tunnel/${HA}-${COA1}/require;\nspdadd ${HOA}/32 10.30.0.0/24 any -P in ipsec esp/tunnel/${COA1}-${HA}/require;\n`;
    for (const [s, pol] of [[this.mn, mnPol], [this.ha, haPol]] as const) {
      const r = setkey(s, bu + pol);
      if (r.status !== 0) throw new Error(`setkey on ${s.name}: ${r.stderr}`);
    }
  }

  /** The move, as each side's Mobile IPv6 daemon announces it (with KMADDRESS when K is set). */
  move(kbit: boolean): void {
    this.ip(this.mn, ['addr', 'add', `${COA2}/24`, 'dev', this.vethMn]);
    this.ip(this.ha, ['route', 'add', `${COA2}/32`, 'dev', this.vethHa]);
    const km = (local: string, remote: string) => (kbit ? ` -k ${local}-${remote}` : '');
    const mn = setkey(
      this.mn,
      `migrate ${HOA}/32 10.30.0.0/24 any -P out esp/tunnel/${COA1}-${HA}/require esp/tunnel/${COA2}-${HA}/require${km(COA2, HA)};\n` +
        `migrate 10.30.0.0/24 ${HOA}/32 any -P in esp/tunnel/${HA}-${COA1}/require esp/tunnel/${HA}-${COA2}/require${km(COA2, HA)};\n` +
        `migrate 10.30.0.0/24 ${HOA}/32 any -P fwd esp/tunnel/${HA}-${COA1}/require esp/tunnel/${HA}-${COA2}/require${km(COA2, HA)};\n`,
    );
    if (mn.status !== 0) throw new Error(`MN migrate: ${mn.stderr}`);
    const ha = setkey(
      this.ha,
      `migrate 10.30.0.0/24 ${HOA}/32 any -P out esp/tunnel/${HA}-${COA1}/require esp/tunnel/${HA}-${COA2}/require${km(HA, COA2)};\n` +
        `migrate ${HOA}/32 10.30.0.0/24 any -P in esp/tunnel/${COA1}-${HA}/require esp/tunnel/${COA2}-${HA}/require${km(HA, COA2)};\n` +
        `migrate ${HOA}/32 10.30.0.0/24 any -P fwd esp/tunnel/${COA1}-${HA}/require esp/tunnel/${COA2}-${HA}/require${km(HA, COA2)};\n`,
    );
    if (ha.status !== 0) throw new Error(`HA migrate: ${ha.stderr}`);
    this.ip(this.mn, ['addr', 'del', `${COA1}/24`, 'dev', this.vethMn]);
    this.ip(this.mn, ['route', 'add', `${HA}/32`, 'dev', this.vethMn]);
  }

  async down(): Promise<void> {
    for (const s of [this.mn, this.ha]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const s of [this.mn, this.ha]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
    for (const ns of this.namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns]);
    if (process.env.KEEP_MIGRATE_DIRS) console.log(this.mn.dir, this.ha.dir);
    else for (const s of [this.mn, this.ha]) rmSync(s.dir, { recursive: true, force: true });
  }
}

const initiations = (s: Side) => count(log(s), /initiating IKE_SA /g);
const answered = (s: Side) => count(log(s), /is initiating an IKE_SA/g);

describe('Mobile IPv6 (RFC 3776/4877) in two network namespaces: MIGRATE on both sides, traffic resumes (issue 7)', () => {
  it('K set: the IKE SA and the tunnel SAs follow the new CoA with the same SPIs; BU/BA transport SAs stay on the HoA; one IKE_SA_INIT', async () => {
    const lab = new Mip6Lab();
    try {
      await lab.up('30 min');
      await waitFor('first ping through the tunnel (ACQUIRE → IKE_SA_INIT)', () => ping(lab.mn, CN));
      const tunnels = tunnelSas(lab.mn);
      expect(tunnels.map((t) => t.split(' ').slice(0, 2).join(' ')).sort()).toEqual([`${COA1} ${HA}`, `${HA} ${COA1}`].sort());
      const bu = transportSas(lab.mn);
      expect(bu).toEqual([`${HA} ${HOA} 4098`, `${HOA} ${HA} 4097`].sort());
      lab.move(true);
      await waitFor('ping on the new path', () => ping(lab.mn, CN));
      const spis = (l: string[]) => l.map((t) => t.split(' ')[2]).sort();
      for (const s of [lab.mn, lab.ha]) {
        expect(tunnelSas(s).map((t) => t.split(' ').slice(0, 2).join(' ')).sort()).toEqual([`${COA2} ${HA}`, `${HA} ${COA2}`].sort());
        expect(transportSas(s)).toEqual(bu);
      }
      expect(spis(tunnelSas(lab.mn))).toEqual(spis(tunnels));
      expect(spis(tunnelSas(lab.ha))).toEqual(spis(tunnels));
      expect(log(lab.mn)).toMatch(/moved from 10\.77\.0\.2\[500\]-10\.77\.0\.1\[500\] to 10\.78\.0\.3\[500\]-10\.77\.0\.1\[500\]/);
      expect(log(lab.ha)).toMatch(/moved from 10\.77\.0\.1\[500\]-10\.77\.0\.2\[500\] to 10\.77\.0\.1\[500\]-10\.78\.0\.3\[500\]/);
      expect([initiations(lab.mn), answered(lab.ha)]).toEqual([1, 1]);
    } finally {
      await lab.down();
    }
  }, 60000);

  it('K clear: the old IKE SA is abandoned, the migrated CHILD_SA keeps carrying traffic, and its EXPIRE renegotiates from the new CoA (a second IKE_SA_INIT)', async () => {
    const lab = new Mip6Lab();
    try {
      await lab.up('24 sec');
      await waitFor('first ping through the tunnel (ACQUIRE → IKE_SA_INIT)', () => ping(lab.mn, CN));
      const tunnels = tunnelSas(lab.mn);
      lab.move(false);
      await waitFor('ping on the new path over the migrated CHILD_SA', () => ping(lab.mn, CN));
      expect(log(lab.mn)).toMatch(/abandoned: MIGRATE with the K-bit clear/);
      expect(log(lab.ha)).toMatch(/abandoned: MIGRATE with the K-bit clear/);
      expect([initiations(lab.mn), answered(lab.ha)]).toEqual([1, 1]);
      expect(tunnelSas(lab.mn).map((t) => t.split(' ')[2]).sort()).toEqual(tunnels.map((t) => t.split(' ')[2]).sort());
      // the soft EXPIRE (80 % of 24 s — long enough that a loaded machine still checks the migrated SPIs first) of the migrated CHILD_SA: a new IKE SA from the new CoA
      await waitFor('a new IKE_SA_INIT from the new CoA', () => answered(lab.ha) === 2, 35000);
      expect(log(lab.mn)).toMatch(/initiating IKE_SA ha@10\.78\.0\.3 to 10\.77\.0\.1/);
      expect(log(lab.ha)).toMatch(/10\.78\.0\.3\[500\] is initiating an IKE_SA/);
      expect(initiations(lab.mn)).toBe(2);
      await waitFor('ping over the renegotiated CHILD_SA', () => ping(lab.mn, CN));
      expect(count(log(lab.mn), /initiating IKE_SA ha@10\.77\.0\.2/g)).toBe(1);
    } finally {
      await lab.down();
    }
  }, 90000);
});
