/**
 * Issue 7 scenario on loopback (the userspace-kernel form of the two-namespace
 * sketch): a mobile node (CoA 127.0.0.1, later 127.0.0.3) and its home agent
 * (127.0.0.2), each a tanuki racoon process with its own userspace kernel.
 * IKEv2 sets up the tunnel-mode CHILD_SA (RFC 4877 layout: IKE between CoA
 * and HA). The node moves; each side's "Mobile IPv6 daemon" (setkey migrate)
 * sends MIGRATE out/in/fwd with KMADDRESS (K set, RFC 6275 §6.1.7). Then:
 * both kernels' tunnel SAs are at the new CoA, the IKE SA on both sides is at
 * the new address with the same SPIs, DPD flows on the new path, and no new
 * IKE_SA_INIT was needed. Both sides run DPD every second, so requests the
 * HA sent to the old CoA before its own MIGRATE are in flight during the move:
 * they must not pull the MN's IKE SA back (RFC 4555 §3.5 / RFC 7296 §2.23:
 * without NAT or MOBIKE a request's addresses move nothing).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const bin = (t: string) => join(root, 'bin', t);
const port = 20000 + (process.pid % 9000);
const MN = '127.0.0.1';
const HA = '127.0.0.2';
const COA2 = '127.0.0.3';

function waitFor(what: string, pred: () => boolean, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error(`timed out waiting for ${what}`)) : setTimeout(tick, 100));
    tick();
  });
}

interface Side {
  name: 'mn' | 'ha';
  listen: string[];
  peer: string;
  dir: string;
  proc?: ChildProcess;
}

function config(s: Side): string {
  const peerName = s.name === 'mn' ? 'ha' : 'mn';
  return `path pre_shared_key "${join(s.dir, 'psk.txt')}";
listen { ${s.listen.map((a) => `isakmp ${a} [${port}]; isakmp_natt ${a} [${port + 1}];`).join(' ')} adminsock "${join(s.dir, 'racoon.sock')}"; }
remote "${s.peer}" {
  remote_address ${s.peer} [${port}];
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${peerName}.test";
  lifetime time 1 hour;
  dpd_delay 1;
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
remote anonymous {
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${peerName}.test";
  lifetime time 1 hour;
  dpd_delay 1;
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
sainfo anonymous {
  lifetime time 30 min;
  encryption_algorithm aes_gcm_16 128;
  authentication_algorithm non_auth;
  compression_algorithm deflate;
}
`;
}

const sock = (s: Side) => join(s.dir, 'pfkey.sock');

function setkey(s: Side, script: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [bin('setkey'), '--socket', sock(s), '-c'], { input: script, encoding: 'utf8' });
}
const dump = (s: Side, flag = '-D') => spawnSync(process.execPath, [bin('setkey'), '--socket', sock(s), flag], { encoding: 'utf8' }).stdout;
const racoonLog = (s: Side) => (existsSync(join(s.dir, 'racoon.log')) ? readFileSync(join(s.dir, 'racoon.log'), 'utf8') : '');
const showSa = (s: Side) => spawnSync(process.execPath, [bin('racoonctl'), '-s', join(s.dir, 'racoon.sock'), 'show-sa', 'isakmp'], { encoding: 'utf8' }).stdout;

describe('Mobile IPv6 move with the K-bit: two racoon daemons, userspace kernels (issue 7)', () => {
  const mn: Side = { name: 'mn', listen: [MN, COA2], peer: HA, dir: mkdtempSync(join(tmpdir(), 'tanuki-mn-')) };
  const ha: Side = { name: 'ha', listen: [HA], peer: MN, dir: mkdtempSync(join(tmpdir(), 'tanuki-ha-')) };

  beforeAll(async () => {
    for (const s of [mn, ha]) {
      writeFileSync(join(s.dir, 'racoon.conf'), config(s));
      writeFileSync(join(s.dir, 'psk.txt'), `${s.name === 'mn' ? 'ha' : 'mn'}.test\tshared-secret-for-the-test\n`);
      chmodSync(join(s.dir, 'psk.txt'), 0o600);
      s.proc = spawn(process.execPath, [bin('racoon'), '-F', '-d', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', sock(s), '--pid-file', join(s.dir, 'racoon.pid')], { stdio: 'ignore' });
    }
    await waitFor('the admin sockets', () => [mn, ha].every((s) => existsSync(join(s.dir, 'racoon.sock'))));
    expect(setkey(mn, `spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/${MN}-${HA}/require;\nspdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/${HA}-${MN}/require;\n`).status).toBe(0);
    expect(setkey(ha, `spdadd 10.2.0.0/24 10.1.0.0/24 any -P out ipsec esp/tunnel/${HA}-${MN}/require;\nspdadd 10.1.0.0/24 10.2.0.0/24 any -P in ipsec esp/tunnel/${MN}-${HA}/require;\n`).status).toBe(0);
  }, 60000);

  afterAll(() => {
    for (const s of [mn, ha]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
    if (process.env.KEEP_MIGRATE_DIRS) console.log(mn.dir, ha.dir); else for (const s of [mn, ha]) rmSync(s.dir, { recursive: true, force: true });
  });

  it('the IKE SA and the tunnel SAs follow the new care-of address; DPD continues on the new path; no second IKE_SA_INIT', async () => {
    const es = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(mn.dir, 'racoon.sock'), 'establish-sa', 'isakmp', 'inet', MN, HA], { encoding: 'utf8' });
    expect(es.status).toBe(0);
    await waitFor('mature SAs', () => /state=mature[\s\S]*state=mature/.test(dump(mn)) && /state=mature[\s\S]*state=mature/.test(dump(ha)));
    const initiations = () => (racoonLog(mn).match(/initiating IKE_SA/g) ?? []).length;
    expect(initiations()).toBe(1);
    const spisBefore = [...dump(mn).matchAll(/spi=(\d+)/g)].map((m) => m[1]).sort();

    // the move: each side's Mobile IPv6 daemon migrates out, in and fwd (UMIP _mn_tnl_update / _ha_tnl_update)
    const k = `-k ${COA2}-${HA}`;
    const r1 = setkey(
      mn,
      `migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/${MN}-${HA}/require esp/tunnel/${COA2}-${HA}/require ${k};\n` +
        `migrate 10.2.0.0/24 10.1.0.0/24 any -P in esp/tunnel/${HA}-${MN}/require esp/tunnel/${HA}-${COA2}/require ${k};\n` +
        `migrate 10.2.0.0/24 10.1.0.0/24 any -P fwd esp/tunnel/${HA}-${MN}/require esp/tunnel/${HA}-${COA2}/require ${k};\n`,
    );
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    const kh = `-k ${HA}-${COA2}`;
    const r2 = setkey(
      ha,
      `migrate 10.2.0.0/24 10.1.0.0/24 any -P out esp/tunnel/${HA}-${MN}/require esp/tunnel/${HA}-${COA2}/require ${kh};\n` +
        `migrate 10.1.0.0/24 10.2.0.0/24 any -P in esp/tunnel/${MN}-${HA}/require esp/tunnel/${COA2}-${HA}/require ${kh};\n` +
        `migrate 10.1.0.0/24 10.2.0.0/24 any -P fwd esp/tunnel/${MN}-${HA}/require esp/tunnel/${COA2}-${HA}/require ${kh};\n`,
    );
    expect(r2.status).toBe(0);

    // kernels: the SAs are at the new CoA with the same SPIs; the policies point there
    for (const s of [mn, ha]) {
      expect(dump(s)).toContain(`${COA2} ${HA} \n\tesp mode=tunnel`);
      expect(dump(s)).toContain(`${HA} ${COA2} \n\tesp mode=tunnel`);
      expect(dump(s)).not.toMatch(new RegExp(`^${MN.replace(/\./g, '\\.')} `, 'm'));
      expect(dump(s, '-DP')).not.toContain(`${MN}-`);
    }
    expect([...dump(mn).matchAll(/spi=(\d+)/g)].map((m) => m[1]).sort()).toEqual(spisBefore);

    // daemons: the HA's IKE SA now has the new CoA as its peer (show-sa isakmp lists the destination): its own
    // OUTBOUND MIGRATE moved it
    await waitFor(`show-sa isakmp with ${COA2} at the HA`, () => showSa(ha).includes(`${COA2}.${port}`));
    expect(showSa(ha)).not.toContain(`${MN}.${port}`);
    expect(showSa(mn).trim().split('\n')).toHaveLength(2); // header + the one IKE SA, still towards the HA
    const logBefore = racoonLog(ha).length;
    await waitFor('DPD from the new CoA at the HA', () => racoonLog(ha).slice(logBefore).includes(`"peer":"${COA2}[${port}]"`) && /INFORMATIONAL/.test(racoonLog(ha).slice(logBefore)));
    expect(racoonLog(mn)).toMatch(/moved from 127\.0\.0\.1\[\d+\]-127\.0\.0\.2\[\d+\] to 127\.0\.0\.3\[\d+\]-127\.0\.0\.2\[\d+\]/);
    // a few DPD rounds later (the HA's own DPD requests crossed the move) the MN still talks from the new CoA
    await new Promise((r) => setTimeout(r, 2500));
    const later = racoonLog(ha).length;
    await waitFor('DPD from the new CoA at the HA, later', () => racoonLog(ha).slice(later).includes(`"peer":"${COA2}[${port}]"`) && /received INFORMATIONAL request/.test(racoonLog(ha).slice(later)));
    expect(racoonLog(ha).slice(later)).not.toContain(`"peer":"${MN}[${port}]"`);
    expect(initiations()).toBe(1);
  }, 60000);
});
