/**
 * Issue 7 with the xfrm backend: two `racoon --kernel xfrm` daemons in two
 * network namespaces (mobile node, home agent) hold an IKEv2 IKE SA. Each
 * side's kernel gets tunnel policies, then the Mobile IPv6 move is announced
 * the way a MIP6 daemon does it — `setkey --kernel xfrm migrate ... -k`, which
 * the backend sends as XFRM_MSG_MIGRATE. The real kernel migrates its policy
 * templates and broadcasts XFRM_MSG_MIGRATE on XFRMNLGRP_MIGRATE; each daemon
 * hears it as SADB_X_MIGRATE (KMADDRESS = K set, RFC 6275 §6.1.7) and moves
 * its IKE SA. Then `ip xfrm policy` shows the new endpoints, both logs show
 * the move, and the MN's DPD goes from the new care-of address to the HA,
 * which answers it — without a second IKE_SA_INIT.
 *
 * The CHILD_SAs are not part of this test: this machine's kernel has no ESP
 * module, so the IKE SA is set up without one (establish-sa before any policy).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Live netlink against the real kernel: an event lost under load is retried, and each retry logs the error.
jest.retryTimes(2, { logErrorsBeforeRetry: true });

const root = resolve(__dirname, '../..');
const bin = (t: string) => join(root, 'bin', t);
const HA = '10.66.0.1';
const COA1 = '10.66.0.2';
const COA2 = '10.67.0.2';
let counter = 0;

function waitFor(what: string, pred: () => boolean, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error(`timed out waiting for ${what}`)) : setTimeout(tick, 100));
    tick();
  });
}

function must(args: string[], input?: string): string {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface Side {
  name: 'mn' | 'ha';
  ns: string;
  dir: string;
  addr: string;
  peer: string;
  proc?: ChildProcess;
}

const log = (s: Side) => (existsSync(join(s.dir, 'racoon.log')) ? readFileSync(join(s.dir, 'racoon.log'), 'utf8') : '');
const setkey = (s: Side, script: string) => must(['ip', 'netns', 'exec', s.ns, process.execPath, bin('setkey'), '--kernel', 'xfrm', '-c'], script);

function config(s: Side): string {
  const other = s.name === 'mn' ? 'ha' : 'mn';
  const remote = s.name === 'mn' ? `remote "ha" {\n  remote_address ${HA};\n  dpd_delay 1;` : 'remote anonymous {';
  return `path pre_shared_key "${join(s.dir, 'psk.txt')}";
listen { isakmp ${s.addr} [500]; isakmp_natt ${s.addr} [4500]; adminsock "${join(s.dir, 'racoon.sock')}"; }
${remote}
  ike_version 2;
  my_identifier fqdn "${s.name}.test";
  peers_identifier fqdn "${other}.test";
  proposal { encryption_algorithm aes_gcm_16 128; hash_algorithm sha256; authentication_method pre_shared_key; dh_group curve25519; }
}
sainfo anonymous { encryption_algorithm aes_gcm_16 128; authentication_algorithm non_auth; compression_algorithm deflate; }
`;
}

class Lab {
  readonly tag = `${process.pid}${(counter++).toString(36)}`;
  readonly mn: Side = { name: 'mn', ns: `tkx-${this.tag}-mn`, dir: mkdtempSync(join(tmpdir(), 'tanuki-xmig-mn-')), addr: COA1, peer: HA };
  readonly ha: Side = { name: 'ha', ns: `tkx-${this.tag}-ha`, dir: mkdtempSync(join(tmpdir(), 'tanuki-xmig-ha-')), addr: HA, peer: COA1 };
  readonly vm = `tkx${this.tag}m`.slice(0, 15);
  readonly vh = `tkx${this.tag}h`.slice(0, 15);

  async up(): Promise<void> {
    const { mn, ha, vm, vh } = this;
    for (const s of [mn, ha]) must(['ip', 'netns', 'add', s.ns]);
    must(['ip', 'link', 'add', vm, 'netns', mn.ns, 'type', 'veth', 'peer', 'name', vh, 'netns', ha.ns]);
    for (const [s, dev] of [[mn, vm], [ha, vh]] as const) {
      must(['ip', '-n', s.ns, 'addr', 'add', `${s.addr}/24`, 'dev', dev]);
      must(['ip', '-n', s.ns, 'link', 'set', 'lo', 'up']);
      must(['ip', '-n', s.ns, 'link', 'set', dev, 'up']);
      writeFileSync(join(s.dir, 'racoon.conf'), config(s));
      writeFileSync(join(s.dir, 'psk.txt'), `${s.name === 'mn' ? 'ha' : 'mn'}.test\txfrm-migrate-secret\n`);
      chmodSync(join(s.dir, 'psk.txt'), 0o600);
      s.proc = spawn('ip', ['netns', 'exec', s.ns, process.execPath, bin('racoon'), '-F', '-d', '--kernel', 'xfrm', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--pid-file', join(s.dir, 'racoon.pid')], { stdio: 'ignore' });
    }
    await waitFor('both daemons', () => [mn, ha].every((s) => existsSync(join(s.dir, 'racoon.sock'))));
  }

  down(): void {
    const { mn, ha } = this;
    for (const s of [mn, ha]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
    for (const s of [mn, ha]) spawnSync('ip', ['netns', 'del', s.ns]);
    for (const s of [mn, ha]) rmSync(s.dir, { recursive: true, force: true });
  }
}

describe('racoon --kernel xfrm follows the kernel XFRM_MSG_MIGRATE broadcast (issue 7)', () => {
  it('the kernel migrates the policy templates, both daemons move the IKE SA to the new CoA, DPD flows on the new path, one IKE_SA_INIT', async () => {
    const lab = new Lab();
    try {
      await lab.up();
      await scenario(lab);
    } finally {
      lab.down();
    }
  }, 60000);
});

async function scenario(lab: Lab): Promise<void> {
  const { mn, ha, vm, vh } = lab;
  {
    must([process.execPath, bin('racoonctl'), '-s', join(mn.dir, 'racoon.sock'), 'establish-sa', 'isakmp', 'inet', COA1, HA]);
    await waitFor('the IKE SA', () => /IKE_SA ha@10\.66\.0\.2 established/.test(log(mn)) && /established/.test(log(ha)));
    setkey(mn, `spdadd 10.20.0.2/32 10.30.0.0/24 any -P out ipsec esp/tunnel/${COA1}-${HA}/require;\nspdadd 10.30.0.0/24 10.20.0.2/32 any -P in ipsec esp/tunnel/${HA}-${COA1}/require;\n`);
    setkey(ha, `spdadd 10.30.0.0/24 10.20.0.2/32 any -P out ipsec esp/tunnel/${HA}-${COA1}/require;\nspdadd 10.20.0.2/32 10.30.0.0/24 any -P in ipsec esp/tunnel/${COA1}-${HA}/require;\n`);
    await new Promise((r) => setTimeout(r, 500)); // the SP caches hear the policy broadcasts

    // the move
    must(['ip', '-n', mn.ns, 'addr', 'add', `${COA2}/24`, 'dev', vm]);
    must(['ip', '-n', ha.ns, 'route', 'add', `${COA2}/32`, 'dev', vh]);
    // UMIP migrates out, in and (where the kernel has one) fwd
    const fwd = (s: Side) => /\bdir fwd\b/.test(must(['ip', '-n', s.ns, 'xfrm', 'policy']));
    setkey(
      mn,
      `migrate 10.20.0.2/32 10.30.0.0/24 any -P out esp/tunnel/${COA1}-${HA}/require esp/tunnel/${COA2}-${HA}/require -k ${COA2}-${HA};\n` +
        `migrate 10.30.0.0/24 10.20.0.2/32 any -P in esp/tunnel/${HA}-${COA1}/require esp/tunnel/${HA}-${COA2}/require -k ${COA2}-${HA};\n` +
        (fwd(mn) ? `migrate 10.30.0.0/24 10.20.0.2/32 any -P fwd esp/tunnel/${HA}-${COA1}/require esp/tunnel/${HA}-${COA2}/require -k ${COA2}-${HA};\n` : ''),
    );
    setkey(
      ha,
      `migrate 10.30.0.0/24 10.20.0.2/32 any -P out esp/tunnel/${HA}-${COA1}/require esp/tunnel/${HA}-${COA2}/require -k ${HA}-${COA2};\n` +
        `migrate 10.20.0.2/32 10.30.0.0/24 any -P in esp/tunnel/${COA1}-${HA}/require esp/tunnel/${COA2}-${HA}/require -k ${HA}-${COA2};\n` +
        (fwd(ha) ? `migrate 10.20.0.2/32 10.30.0.0/24 any -P fwd esp/tunnel/${COA1}-${HA}/require esp/tunnel/${COA2}-${HA}/require -k ${HA}-${COA2};\n` : ''),
    );
    must(['ip', '-n', mn.ns, 'addr', 'del', `${COA1}/24`, 'dev', vm]);
    must(['ip', '-n', mn.ns, 'route', 'add', `${HA}/32`, 'dev', vm]);

    // the real kernel moved its templates
    const pol = must(['ip', '-n', mn.ns, 'xfrm', 'policy']);
    expect(pol).toContain(`tmpl src ${COA2} dst ${HA}`);
    expect(pol).toContain(`tmpl src ${HA} dst ${COA2}`);
    expect(pol).not.toContain(COA1);
    // each daemon heard the broadcast and moved its IKE SA (K set: KMADDRESS)
    await waitFor('the MN moved', () => /moved from 10\.66\.0\.2\[500\]-10\.66\.0\.1\[500\] to 10\.67\.0\.2\[500\]-10\.66\.0\.1\[500\]/.test(log(mn)));
    await waitFor('the HA moved', () => /moved from 10\.66\.0\.1\[500\]-10\.66\.0\.2\[500\] to 10\.66\.0\.1\[500\]-10\.67\.0\.2\[500\]/.test(log(ha)));
    // DPD from the new CoA is answered by the HA
    const mark = log(ha).length;
    await waitFor('DPD from the new CoA at the HA', () => /received INFORMATIONAL request/.test(log(ha).slice(mark)) && log(ha).slice(mark).includes(`"peer":"${COA2}[500]"`));
    const mark2 = log(mn).length;
    await waitFor('the DPD answer at the MN', () => /received INFORMATIONAL response/.test(log(mn).slice(mark2)));
    expect((log(mn).match(/initiating IKE_SA /g) ?? []).length).toBe(1);
    expect((log(ha).match(/is initiating an IKE_SA/g) ?? []).length).toBe(1);
  }
}
