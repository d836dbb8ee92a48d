/**
 * MOBIKE between two tanuki daemons (RFC 4555 §3.5), loopback, userspace
 * kernels: the mobile node (CoA 127.0.0.1 → 127.0.0.3) runs `setkey migrate`
 * with KMADDRESS; the home agent gets NO MIGRATE of its own. The MN's daemon
 * sends UPDATE_SA_ADDRESSES from the new CoA; the HA's daemon moves its IKE SA
 * to the request's addresses and sends its kernel SADB_X_MIGRATE for the tunnel
 * policies of the old path (MigrateHandler.followPeerMoves), so the HA's
 * tunnel SAs and templates follow the MN with the same SPIs, and DPD continues
 * on the new path with one IKE_SA_INIT.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const bin = (t: string) => join(root, 'bin', t);
const port = 23000 + (process.pid % 9000);
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
  mobike on;
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
remote anonymous {
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${peerName}.test";
  lifetime time 1 hour;
  dpd_delay 1;
  mobike on;
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

describe('MOBIKE between two racoon daemons: the home agent follows without a MIGRATE of its own (RFC 4555 §3.5)', () => {
  const mn: Side = { name: 'mn', listen: [MN, COA2], peer: HA, dir: mkdtempSync(join(tmpdir(), 'tanuki-mobike-mn-')) };
  const ha: Side = { name: 'ha', listen: [HA], peer: MN, dir: mkdtempSync(join(tmpdir(), 'tanuki-mobike-ha-')) };

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
    if (process.env.KEEP_MIGRATE_DIRS) console.log(mn.dir, ha.dir);
    else for (const s of [mn, ha]) rmSync(s.dir, { recursive: true, force: true });
  });

  it("the HA's IKE SA, tunnel SAs and policies follow the MN's UPDATE_SA_ADDRESSES; same SPIs; one IKE_SA_INIT", async () => {
    const es = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(mn.dir, 'racoon.sock'), 'establish-sa', 'isakmp', 'inet', MN, HA], { encoding: 'utf8' });
    expect(es.status).toBe(0);
    await waitFor('mature SAs', () => /state=mature[\s\S]*state=mature/.test(dump(mn)) && /state=mature[\s\S]*state=mature/.test(dump(ha)));
    await waitFor('MOBIKE negotiated', () => /MOBIKE negotiated/.test(racoonLog(mn)) && /MOBIKE negotiated/.test(racoonLog(ha)));
    const spis = (s: Side) => [...dump(s).matchAll(/spi=(\d+)/g)].map((m) => m[1]).sort();
    const haSpis = spis(ha);

    const k = `-k ${COA2}-${HA}`;
    const r = setkey(
      mn,
      `migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/${MN}-${HA}/require esp/tunnel/${COA2}-${HA}/require ${k};\n` +
        `migrate 10.2.0.0/24 10.1.0.0/24 any -P in esp/tunnel/${HA}-${MN}/require esp/tunnel/${HA}-${COA2}/require ${k};\n` +
        `migrate 10.2.0.0/24 10.1.0.0/24 any -P fwd esp/tunnel/${HA}-${MN}/require esp/tunnel/${HA}-${COA2}/require ${k};\n`,
    );
    expect(r.status).toBe(0);

    // the HA's kernel follows through its daemon's MIGRATEs: same SPIs, new endpoints, no template at the old CoA
    await waitFor("the HA's kernel SAs at the new CoA", () => dump(ha).includes(`${COA2} ${HA} \n\tesp mode=tunnel`) && dump(ha).includes(`${HA} ${COA2} \n\tesp mode=tunnel`));
    expect(spis(ha)).toEqual(haSpis);
    expect(dump(ha, '-DP')).not.toContain(`${MN}-`);
    expect(dump(ha, '-DP')).toContain(`${HA}-${COA2}`);
    expect(racoonLog(mn)).toMatch(/MOBIKE: sending UPDATE_SA_ADDRESSES from 127\.0\.0\.3/);
    expect(racoonLog(ha)).toMatch(/MOBIKE: peer moved/);
    expect(racoonLog(ha)).toMatch(/IKE SA moved by the peer: migrating its tunnel SAs and policies/);
    await waitFor(`show-sa isakmp with ${COA2} at the HA`, () => showSa(ha).includes(`${COA2}.${port}`));
    const later = racoonLog(ha).length;
    await waitFor('DPD from the new CoA at the HA', () => racoonLog(ha).slice(later).includes(`"peer":"${COA2}[${port}]"`) && /received INFORMATIONAL request/.test(racoonLog(ha).slice(later)));
    expect((racoonLog(mn).match(/initiating IKE_SA /g) ?? []).length).toBe(1);
  }, 60000);
});
