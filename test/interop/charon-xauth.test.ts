/**
 * Issue 5 proof against a real strongSwan 5.9.8 charon (kernel-libipsec, own
 * network namespace), IKEv1 Main Mode PSK:
 *  1. XAUTH + Mode-Config with charon as XAUTH server (`xauth-generic`) and
 *     address pool, tanuki as racoon-style `xauth_psk_client` + `xauth_login`
 *     + `mode_cfg on` (draft-beaulieu-ike-xauth, draft-dukes-ike-mode-cfg);
 *  2. the reverse: tanuki as `xauth_psk_server` with a `mode_cfg {}` pool and
 *     its user file, charon as XAUTH client asking for a virtual IP;
 *  3. racoon `ike_frag force` with a modp8192 exchange: both sides send and
 *     reassemble Cisco-style IKE fragments (payload 132).
 * Each passes only if charon's `swanctl --list-sas --raw` shows the IKE_SA
 * ESTABLISHED (with the XAUTH identity and virtual IP where they apply) and a
 * CHILD_SA INSTALLED whose SPIs are the ones in tanuki's kernel.
 */
import { chmodSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPrerequisites, formatMissing } from '../../src/interop/prereq';
import { Lab, track, waitFor } from '../../src/interop/lab';
import { NET, STRONGSWAN_LOAD } from '../../src/interop/scenario';
import { parseViciRaw, tanukiSas, type ViciSection } from '../../src/interop/evidence';
import { hashXauthPassword } from '../../src/config/xauth-users';

const VIP = '10.3.0.1';
const PSK = 'tanuki-xauth-group-secret';

function strongswanConf(dir: string, sockDir: string): string {
  return `charon {
  load = ${STRONGSWAN_LOAD} xauth-generic
  port = 500
  port_nat_t = 4500
  install_routes = no
  retransmit_tries = 2
  retransmit_timeout = 2.0
  fragment_size = 576
  filelog {
    xauth {
      path = ${dir}/charon.log
      default = 1
      ike = 2
      cfg = 2
      flush_line = yes
    }
  }
  plugins {
    vici {
      socket = unix://${sockDir}/charon.vici
    }
  }
}
`;
}

/** One IKEv1 connection "rw" for charon; `extra` goes into the connection, `rounds` are the auth sections. */
function swanctlConf(o: { proposals: string; extra: string; rounds: string; child: string; secrets: string; pools?: string }): string {
  return `connections {
  rw {
    version = 1
    local_addrs = ${NET.charonAddr}
    remote_addrs = ${NET.tanukiAddr}
    proposals = ${o.proposals}
    ${o.extra}
    local {
      auth = psk
      id = ${NET.charonAddr}
    }
    remote {
      auth = psk
      id = ${NET.tanukiAddr}
    }
    ${o.rounds}
    children {
      c1 {
        ${o.child}
        esp_proposals = aes128-sha256
        mode = tunnel
      }
    }
  }
}
${o.pools ?? ''}
secrets {
  ike-1 {
    id-a = ${NET.charonAddr}
    id-b = ${NET.tanukiAddr}
    secret = "${PSK}"
  }
  ${o.secrets}
}
`;
}

function racoonConf(dir: string, sockDir: string, o: { top?: string; remote: string; method: string; group: string }): string {
  return `path pre_shared_key "${dir}/psk.txt";
${o.top ?? ''}
listen {
  isakmp ${NET.tanukiAddr} [500];
  isakmp_natt ${NET.tanukiAddr} [4500];
  adminsock "${sockDir}/racoon.sock";
}
remote "charon" {
  remote_address ${NET.charonAddr};
  exchange_mode main;
  my_identifier address;
  peers_identifier address ${NET.charonAddr};
  nat_traversal on;
  ${o.remote}
  lifetime time 1 hour;
  proposal {
    encryption_algorithm aes 128;
    hash_algorithm sha256;
    authentication_method ${o.method};
    dh_group ${o.group};
  }
}
sainfo anonymous {
  lifetime time 30 min;
  encryption_algorithm aes 128;
  authentication_algorithm hmac_sha256;
  compression_algorithm deflate;
}
`;
}

const tunnel = (local: string, remote: string) =>
  `spdadd ${local} ${remote} any -P out ipsec esp/tunnel/${NET.tanukiAddr}-${NET.charonAddr}/require;\nspdadd ${remote} ${local} any -P in ipsec esp/tunnel/${NET.charonAddr}-${NET.tanukiAddr}/require;\n`;

function ikeSa(lab: Lab): ViciSection | null {
  const raw = lab.swanctlSync(['--list-sas', '--raw'], 10000).stdout;
  let msgs: ViciSection[];
  try {
    msgs = parseViciRaw(raw);
  } catch {
    return null; // a message cut in the middle while charon is busy: poll again
  }
  for (const msg of msgs) {
    const rw = msg.rw;
    if (rw && typeof rw === 'object' && !Array.isArray(rw)) return rw;
  }
  return null;
}

function installedChild(s: ViciSection | null): ViciSection | null {
  const ch = s?.['child-sas'];
  if (!ch || typeof ch !== 'object' || Array.isArray(ch)) return null;
  for (const c of Object.values(ch)) if (typeof c === 'object' && !Array.isArray(c) && c.state === 'INSTALLED') return c;
  return null;
}

interface LabRun {
  sa: ViciSection | null;
  child: ViciSection | null;
  tanukiSas: ReturnType<typeof tanukiSas>;
  charonLog: string;
  racoonLog: string;
}

/** Bring up the lab, load both configurations and the policies, start the negotiation, wait for charon's CHILD_SA. */
async function runLab(files: { swanctl: string; racoon: (dir: string, sockDir: string) => string; psk: string; extra?: Record<string, string>; policies: string }, initiator: 'tanuki' | 'charon'): Promise<LabRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-charon-v1x-'));
  const lab = new Lab(dir);
  const untrack = track(lab);
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  try {
    writeFileSync(join(dir, 'strongswan.conf'), strongswanConf(dir, lab.sockDir));
    writeFileSync(join(dir, 'swanctl.conf'), files.swanctl);
    writeFileSync(join(dir, 'racoon.conf'), files.racoon(dir, lab.sockDir));
    writeFileSync(join(dir, 'psk.txt'), files.psk);
    chmodSync(join(dir, 'psk.txt'), 0o600);
    for (const [name, text] of Object.entries(files.extra ?? {})) writeFileSync(join(dir, name), text);
    lab.up();
    lab.startCharon(join(dir, 'strongswan.conf'));
    lab.startRacoon(join(dir, 'racoon.conf'));
    await waitFor(() => lab.viciReady() || lab.charon?.exitCode !== null, 15000, 'charon vici socket');
    expect(lab.viciReady()).toBe(true);
    const load = lab.swanctlSync(['--load-all', '--file', join(dir, 'swanctl.conf')]);
    expect({ status: load.status, out: load.status === 0 ? '' : load.stdout + load.stderr }).toEqual({ status: 0, out: '' });
    await waitFor(() => lab.racoonReady() || lab.racoon?.exitCode !== null, 15000, 'racoon sockets');
    expect(lab.racoonReady()).toBe(true);
    const pol = lab.setkey(['-c'], files.policies);
    expect(pol.stderr).toBe('');
    if (initiator === 'tanuki') expect(lab.racoonctl(['establish-sa', 'isakmp', 'inet', NET.tanukiAddr, NET.charonAddr]).status).toBe(0);
    else lab.swanctlSync(['--initiate', '--ike', 'rw', '--child', 'c1', '--timeout', '1'], 5000);
    const got: { sa: ViciSection | null } = { sa: null };
    try {
      await waitFor(() => installedChild((got.sa = ikeSa(lab))) !== null, 20000, 'charon CHILD_SA INSTALLED');
    } catch {
      /* judged by the caller, with the logs */
    }
    return { sa: got.sa, child: installedChild(got.sa), tanukiSas: tanukiSas(lab.setkey(['-D']).stdout), charonLog: read('charon.log'), racoonLog: read('racoon.log') };
  } finally {
    await lab.teardown();
    untrack();
  }
}

/** The decisive log lines when something failed (empty when the CHILD_SA is up). */
function diag(r: LabRun): { charon: string[]; tanuki: string[] } {
  if (r.child) return { charon: [], tanuki: [] };
  return {
    charon: r.charonLog.split('\n').filter((l) => /XAuth|fragment|virtual|establish|fail|error|NO_PROP|invalid|hash|retransmit/i.test(l)).slice(-30),
    tanuki: r.racoonLog.split('\n').filter((l) => /"level":(40|50)|Xauth|mode-cfg|fragment|established/.test(l)).slice(-30),
  };
}

function expectSpisMatch(r: LabRun): void {
  const out = r.tanukiSas.find((s) => s.src === NET.tanukiAddr);
  const inb = r.tanukiSas.find((s) => s.src === NET.charonAddr);
  expect(out?.spi.toString(16).padStart(8, '0')).toBe(r.child!['spi-in']);
  expect(inb?.spi.toString(16).padStart(8, '0')).toBe(r.child!['spi-out']);
}

describe('tanuki ↔ strongSwan charon: IKEv1 XAUTH, Mode-Config and IKE fragmentation', () => {
  it('has its prerequisites (root, ip netns, charon with xauth-generic, swanctl, tanuki build)', () => {
    expect(formatMissing(checkPrerequisites())).toBe('');
    expect(existsSync('/usr/lib/ipsec/plugins/libstrongswan-xauth-generic.so')).toBe(true);
  });

  it('charon as XAUTH server authenticates tanuki as alice and hands it 10.3.0.1 from its pool; the Quick Mode from that address is INSTALLED', async () => {
    const r = await runLab(
      {
        swanctl: swanctlConf({
          proposals: 'aes128-sha256-modp2048',
          extra: 'pools = vpool',
          rounds: 'remote-xauth {\n      auth = xauth\n    }',
          child: `local_ts = ${NET.charonNet}`,
          pools: `pools {\n  vpool {\n    addrs = ${VIP}/32\n    dns = 10.3.0.53\n  }\n}`,
          secrets: 'xauth-alice {\n    id = alice\n    secret = "wonderland"\n  }',
        }),
        racoon: (d, s) => racoonConf(d, s, { remote: 'xauth_login "alice";\n  mode_cfg on;', method: 'xauth_psk_client', group: 'modp2048' }),
        psk: `${NET.charonAddr}\t${PSK}\nalice\twonderland\n`,
        policies: tunnel(`${VIP}/32`, NET.charonNet),
      },
      'tanuki',
    );
    expect({ state: r.sa?.state, xauth: r.sa?.['remote-xauth-id'], vips: r.sa?.['remote-vips'], ...diag(r) }).toEqual({ state: 'ESTABLISHED', xauth: 'alice', vips: [VIP], charon: [], tanuki: [] });
    expect(r.racoonLog).toContain(`mode-cfg: got address ${VIP}`);
    expect(r.child!['remote-ts']).toEqual([`${VIP}/32`]);
    expectSpisMatch(r);
  }, 40000);

  it('tanuki as XAUTH server (xauth_psk_server, mode_cfg pool, path xauth_users) authenticates charon as alice and gives it 10.3.0.1; charon\'s Quick Mode is INSTALLED', async () => {
    const users = `alice:${hashXauthPassword('wonderland', Buffer.from('5eed5eed', 'hex'))}\n`;
    const r = await runLab(
      {
        swanctl: swanctlConf({
          proposals: 'aes128-sha256-modp2048',
          extra: 'vips = 0.0.0.0',
          rounds: 'local-xauth {\n      auth = xauth\n      xauth_id = alice\n    }',
          child: `remote_ts = ${NET.tanukiNet}`,
          secrets: 'xauth-alice {\n    id = alice\n    secret = "wonderland"\n  }',
        }),
        racoon: (d, s) =>
          racoonConf(d, s, {
            top: `path xauth_users "${d}/xauth-users";\nmode_cfg {\n  network4 ${VIP};\n  netmask4 255.255.255.0;\n  pool_size 4;\n  dns4 10.3.0.53;\n  auth_source system;\n}`,
            remote: 'proposal_check obey;', // charon proposes its own (longer) lifetimes
            method: 'xauth_psk_server',
            group: 'modp2048',
          }),
        psk: `${NET.charonAddr}\t${PSK}\n`,
        extra: { 'xauth-users': users },
        policies: tunnel(NET.tanukiNet, `${VIP}/32`),
      },
      'charon',
    );
    // (vici lists the XAUTH identity only on the server side: tanuki's log names the login)
    expect({ state: r.sa?.state, vips: r.sa?.['local-vips'], ...diag(r) }).toEqual({ state: 'ESTABLISHED', vips: [VIP], charon: [], tanuki: [] });
    expect(r.racoonLog).toContain('Xauth: login \\"alice\\" authenticated');
    expect(r.child!['local-ts']).toEqual([`${VIP}/32`]);
    expectSpisMatch(r);
  }, 40000);

  it('ike_frag force with modp8192: tanuki fragments Main Mode messages 3/5, charon (fragment_size 576) fragments 4/6, both reassemble; the CHILD_SA is INSTALLED', async () => {
    const r = await runLab(
      {
        swanctl: swanctlConf({ proposals: 'aes128-sha256-modp8192', extra: 'fragmentation = yes', rounds: '', child: `local_ts = ${NET.charonNet}\n        remote_ts = ${NET.tanukiNet}`, secrets: '' }),
        racoon: (d, s) => racoonConf(d, s, { remote: 'ike_frag force;', method: 'pre_shared_key', group: 'modp8192' }),
        psk: `${NET.charonAddr}\t${PSK}\n`,
        policies: tunnel(NET.tanukiNet, NET.charonNet),
      },
      'tanuki',
    );
    expect({ state: r.sa?.state, ...diag(r) }).toEqual({ state: 'ESTABLISHED', charon: [], tanuki: [] });
    // charon reassembled ours and split its own; tanuki reassembled charon's
    expect(r.charonLog).toMatch(/reassembled fragmented IKE message/);
    expect(r.charonLog).toMatch(/splitting IKE message .* into \d+ fragments/);
    expect(r.racoonLog).toMatch(/reassembled a \d+-octet message from fragments/);
    expectSpisMatch(r);
  }, 40000);
});
