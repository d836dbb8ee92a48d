/**
 * IKEv1 scenarios against charon (issue 5): the same one-record-drives-both-peers
 * idea as scenario.ts, rendered as a `version = 1` swanctl connection and a
 * racoon.conf remote (ike_version 1, the default) with its sainfo.
 *
 * Each scenario establishes Main or Aggressive Mode PSK + Quick Mode (with PFS)
 * from one side, is judged on `swanctl --list-sas --raw` against tanuki's
 * `setkey -D`, and then optionally exercises one behaviour: a phase-2 rekey,
 * a phase-1 rekey, a delete, or DPD detecting a killed peer.
 *
 * Additive to the interop harness (lab.ts, evidence.ts, scenario.ts NET); the
 * IKEv2 matrix is untouched.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { charonSas, hex8, tanukiSas, type CharonIkeSa, type TanukiSa } from './evidence';
import { Lab, LabError, cmd, track, waitFor } from './lab';
import { NET, strongswanConf, type Side } from './scenario';

export interface Ikev1IkeProposal {
  readonly label: string;
  readonly strongswan: string;
  readonly racoon: { readonly encryption: string; readonly hash: string; readonly dhGroup: string };
  readonly expect: { readonly encr: string; readonly integ: string; readonly dh: string };
}

export interface Ikev1EspProposal {
  readonly label: string;
  /** strongSwan ESP keywords including the PFS group (`aes128-sha1-modp2048`). */
  readonly strongswan: string;
  readonly racoon: { readonly encryption: string; readonly authentication: string; readonly pfsGroup: string | null };
  readonly expect: { readonly encr: string; readonly integ: string; readonly dh: string | null };
}

/**
 * After the SAs are up and verified:
 *  establish         nothing more;
 *  rekey-ph2-by-X    X renegotiates the Quick Mode (tanuki: the kernel's soft EXPIRE,
 *                    charon: `swanctl --rekey --child`); a new pair of SPIs must
 *                    appear on both sides and the old one must go;
 *  rekey-ph1-by-tanuki  tanuki's phase-1 lifetime (60 s) runs out: a new ISAKMP-SA
 *                    must come up before the old one is deleted;
 *  delete-by-X       X deletes (racoonctl delete-sa isakmp = purge_remote /
 *                    swanctl --terminate): no SA may be left on either side;
 *  dpd-kill-charon   charon is SIGKILLed; tanuki's DPD must declare it dead and
 *                    remove the ISAKMP-SA and the IPsec-SAs.
 */
export type Ikev1Behaviour =
  | 'establish'
  | 'rekey-ph2-by-tanuki'
  | 'rekey-ph2-by-charon'
  | 'rekey-ph1-by-tanuki'
  | 'delete-by-tanuki'
  | 'delete-by-charon'
  | 'dpd-kill-charon';

export interface Ikev1Scenario {
  readonly name: string;
  readonly initiator: Side;
  readonly exchange: 'main' | 'aggressive';
  readonly ike: Ikev1IkeProposal;
  readonly esp: Ikev1EspProposal;
  /** run in this order in the same lab after the establishment checks */
  readonly behaviours: readonly Ikev1Behaviour[];
  /** phase-1 authentication: pre-shared key (default) or RSA signatures with X.509 certificates (Main Mode only) */
  readonly auth?: 'psk' | 'rsasig';
}

/** The same scenario authenticated with RSA signatures: a test CA issues both peers' certificates (subjectAltName = their FQDN IDs). */
export function withRsaSig(s: Ikev1Scenario): Ikev1Scenario {
  return { ...s, auth: 'rsasig', name: s.name.replace(/^ikev1-psk-/, 'ikev1-rsasig-') };
}

export const IKEV1_IKE: readonly Ikev1IkeProposal[] = [
  {
    label: 'aes128-sha1-modp2048',
    strongswan: 'aes128-sha1-modp2048',
    racoon: { encryption: 'aes 128', hash: 'sha1', dhGroup: 'modp2048' },
    expect: { encr: 'AES_CBC', integ: 'HMAC_SHA1_96', dh: 'MODP_2048' },
  },
  {
    label: 'aes256-sha256-ecp256',
    strongswan: 'aes256-sha256-ecp256',
    racoon: { encryption: 'aes 256', hash: 'sha256', dhGroup: 'ecp256' },
    expect: { encr: 'AES_CBC', integ: 'HMAC_SHA2_256_128', dh: 'ECP_256' },
  },
];

export const IKEV1_ESP: readonly Ikev1EspProposal[] = [
  {
    label: 'esp-aes128-sha1-pfs-modp2048',
    strongswan: 'aes128-sha1-modp2048',
    racoon: { encryption: 'aes 128', authentication: 'hmac_sha1', pfsGroup: 'modp2048' },
    expect: { encr: 'AES_CBC', integ: 'HMAC_SHA1_96', dh: 'MODP_2048' },
  },
  {
    label: 'esp-aes128-sha256-pfs-ecp256',
    strongswan: 'aes128-sha256-ecp256',
    racoon: { encryption: 'aes 128', authentication: 'hmac_sha256', pfsGroup: 'ecp256' },
    expect: { encr: 'AES_CBC', integ: 'HMAC_SHA2_256_128', dh: 'ECP_256' },
  },
];

export function ikev1Scenario(initiator: Side, exchange: 'main' | 'aggressive', ike: Ikev1IkeProposal, esp: Ikev1EspProposal, ...behaviours: Ikev1Behaviour[]): Ikev1Scenario {
  const steps = behaviours.filter((b) => b !== 'establish');
  const tail = steps.map((b) => `-${b}`).join('');
  return { name: `ikev1-psk-${exchange}-${initiator}-init-${ike.label}-${esp.label}${tail}`, initiator, exchange, ike, esp, behaviours: steps };
}
const scenario = ikev1Scenario;

/** The IKEv1 scenarios (for the interop matrix and test/interop/charon-v1.test.ts). */
export function ikev1Scenarios(): Ikev1Scenario[] {
  const out: Ikev1Scenario[] = [];
  for (const initiator of ['tanuki', 'charon'] as const)
    for (const exchange of ['main', 'aggressive'] as const)
      for (let i = 0; i < IKEV1_IKE.length; i++) out.push(scenario(initiator, exchange, IKEV1_IKE[i], IKEV1_ESP[i], 'establish'));
  const [ike, esp] = [IKEV1_IKE[0], IKEV1_ESP[0]];
  out.push(scenario('tanuki', 'main', ike, esp, 'rekey-ph2-by-tanuki'));
  out.push(scenario('charon', 'main', ike, esp, 'rekey-ph2-by-charon'));
  out.push(scenario('tanuki', 'main', ike, esp, 'rekey-ph1-by-tanuki'));
  for (const initiator of ['tanuki', 'charon'] as const) for (const by of ['tanuki', 'charon'] as const) out.push(scenario(initiator, 'main', ike, esp, `delete-by-${by}`));
  out.push(scenario('tanuki', 'main', ike, esp, 'dpd-kill-charon'));
  for (const initiator of ['tanuki', 'charon'] as const) for (let i = 0; i < IKEV1_IKE.length; i++) out.push(withRsaSig(scenario(initiator, 'main', IKEV1_IKE[i], IKEV1_ESP[i], 'establish')));
  return out;
}

/** Seconds the phase-2 SAs live; the tanuki-side rekey scenario shortens it so the soft EXPIRE (80 %) comes quickly. */
function ph2Lifetime(s: Ikev1Scenario): number {
  return s.behaviours.includes('rekey-ph2-by-tanuki') ? 6 : 3600;
}
function ph1Lifetime(s: Ikev1Scenario): number {
  return s.behaviours.includes('rekey-ph1-by-tanuki') ? 6 : 3600;
}

export function ikev1SwanctlConf(s: Ikev1Scenario): string {
  const ph2 = ph2Lifetime(s);
  return `connections {
  interop {
    version = 1
    aggressive = ${s.exchange === 'aggressive' ? 'yes' : 'no'}
    local_addrs = ${NET.charonAddr}
    remote_addrs = ${NET.tanukiAddr}
    proposals = ${s.ike.strongswan}
    rekey_time = ${ph1Lifetime(s) >= 3600 ? '2h' : '0'}
    reauth_time = 0
    over_time = 5m
    dpd_delay = ${s.behaviours.includes('dpd-kill-charon') ? '2s' : '0s'}
    local {
      auth = ${s.auth === 'rsasig' ? 'pubkey' : 'psk'}
      id = ${NET.charonId}${s.auth === 'rsasig' ? '\n      certs = charon.crt' : ''}
    }
    remote {
      auth = ${s.auth === 'rsasig' ? 'pubkey' : 'psk'}
      id = ${NET.tanukiId}
    }
    children {
      c1 {
        local_ts = ${NET.charonNet}
        remote_ts = ${NET.tanukiNet}
        esp_proposals = ${s.esp.strongswan}
        mode = tunnel
        rekey_time = ${s.behaviours.includes('rekey-ph2-by-tanuki') ? '0' : '50m'}
        life_time = ${ph2 === 3600 ? '60m' : `${ph2 * 2}s`}
      }
    }
  }
}
secrets {
  ike-1 {
    id-a = ${NET.charonId}
    id-b = ${NET.tanukiId}
    secret = "${NET.psk}"
  }
}
`;
}

/**
 * charon's IKEv1 switches: Aggressive Mode PSK as responder needs the explicit
 * `i_dont_care_about_security_and_use_aggressive_mode_psk` (charon answers
 * AUTHENTICATION_FAILED otherwise); `delete_rekeyed` makes charon send the
 * Delete for the old IPsec-SA right after a Quick Mode rekey instead of
 * letting it run out (its IKEv1 default).
 */
export function ikev1StrongswanConf(s: Ikev1Scenario, dir: string, sockDir: string = dir): string {
  // strongswanConf adds the Aggressive Mode PSK switch itself
  return strongswanConf({ behaviour: 'establish', ikeVersion: 1, v1Mode: s.exchange }, dir, sockDir).replace('charon {\n', 'charon {\n  delete_rekeyed = yes\n');
}

export function ikev1RacoonConf(s: Ikev1Scenario, dir: string, sockDir: string = dir): string {
  const dpd = s.behaviours.includes('dpd-kill-charon') ? '  dpd_delay 1;\n  dpd_retry 1;\n  dpd_maxfail 2;\n' : '';
  const rsa = s.auth === 'rsasig';
  const certLines = rsa
    ? `  certificate_type x509 "tanuki.crt" "tanuki.key";\n  ca_type x509 "ca.crt";\n  verify_cert on;\n  send_cert on;\n  send_cr on;\n`
    : '';
  return `path pre_shared_key "${dir}/psk.txt";
${rsa ? `path certificate "${dir}/certs";\n` : ''}
listen {
  isakmp ${NET.tanukiAddr} [500];
  isakmp_natt ${NET.tanukiAddr} [4500];
  adminsock "${sockDir}/racoon.sock";
}
timer {
  counter 3;
  interval 2 sec;
}
remote "charon" {
  remote_address ${NET.charonAddr};
  exchange_mode ${s.exchange};
  my_identifier fqdn "${NET.tanukiId}";
  peers_identifier fqdn "${NET.charonId}";
  nat_traversal on;
  proposal_check obey;
${certLines}${s.behaviours.includes('rekey-ph1-by-tanuki') ? '  rekey force;\n' : ''}${dpd}  lifetime time ${ph1Lifetime(s)} sec;
  proposal {
    encryption_algorithm ${s.ike.racoon.encryption};
    hash_algorithm ${s.ike.racoon.hash};
    authentication_method ${rsa ? 'rsasig' : 'pre_shared_key'};
    dh_group ${s.ike.racoon.dhGroup};
  }
}
sainfo anonymous {
${s.esp.racoon.pfsGroup ? `  pfs_group ${s.esp.racoon.pfsGroup};\n` : ''}  lifetime time ${ph2Lifetime(s)} sec;
  encryption_algorithm ${s.esp.racoon.encryption};
  authentication_algorithm ${s.esp.racoon.authentication};
  compression_algorithm deflate;
}
`;
}

/**
 * A test CA and the two peers' RSA certificates, made with the openssl CLI:
 * charon's under DIR/x509, DIR/x509ca, DIR/private (swanctl reads credentials
 * relative to the --file it loads), tanuki's under DIR/certs (racoon `path
 * certificate`). Each leaf names its peer's FQDN ID in subjectAltName.
 */
export function makeIkev1Certificates(dir: string): void {
  for (const d of ['x509', 'x509ca', 'private', 'certs']) mkdirSync(join(dir, d), { recursive: true });
  const ssl = (args: string[]) => {
    const r = cmd('openssl', args, { timeoutMs: 20000 });
    if (r.status !== 0) throw new LabError(`openssl ${args[0]}`, r.stderr.trim());
  };
  const ca = join(dir, 'certs', 'ca.crt');
  const caKey = join(dir, 'certs', 'ca.key');
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '30', '-subj', '/O=tanuki interop/CN=tanuki interop CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign,cRLSign']);
  for (const [who, id] of [
    ['charon', NET.charonId],
    ['tanuki', NET.tanukiId],
  ] as const) {
    const key = join(dir, 'certs', `${who}.key`);
    const csr = join(dir, 'certs', `${who}.csr`);
    const crt = join(dir, 'certs', `${who}.crt`);
    const ext = join(dir, 'certs', `${who}.ext`);
    writeFileSync(ext, `subjectAltName=DNS:${id}\nbasicConstraints=CA:FALSE\n`);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/O=tanuki interop/CN=${id}`]);
    ssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', crt, '-days', '30', '-extfile', ext]);
  }
  copyFileSync(join(dir, 'certs', 'charon.crt'), join(dir, 'x509', 'charon.crt'));
  copyFileSync(join(dir, 'certs', 'charon.key'), join(dir, 'private', 'charon.key'));
  copyFileSync(ca, join(dir, 'x509ca', 'ca.crt'));
}

export function ikev1PskTxt(): string {
  return `${NET.charonId}\t${NET.psk}\n`;
}

export function ikev1SetkeyPolicies(): string {
  return (
    `spdadd ${NET.tanukiNet} ${NET.charonNet} any -P out ipsec esp/tunnel/${NET.tanukiAddr}-${NET.charonAddr}/require;\n` +
    `spdadd ${NET.charonNet} ${NET.tanukiNet} any -P in ipsec esp/tunnel/${NET.charonAddr}-${NET.tanukiAddr}/require;\n`
  );
}

export interface Ikev1Snapshot {
  ike: CharonIkeSa | null;
  /** every IKE_SA charon lists for the connection (two during a phase-1 rekey) */
  ikes: CharonIkeSa[];
  tanuki: TanukiSa[];
  raw: string;
  /** tanuki's `setkey -D` text */
  dump: string;
  /** `racoonctl show-sa isakmp`, run on first use (each tool run is a node start-up) */
  showSa: () => string;
}

export function ikev1Snapshot(lab: Lab): Ikev1Snapshot {
  const raw = lab.swanctlSync(['--list-sas', '--raw'], 10000);
  let ikes: CharonIkeSa[] = [];
  try {
    ikes = charonSas(raw.stdout).filter((x) => x.name === 'interop');
  } catch {
    ikes = [];
  }
  const dump = lab.setkey(['-D']);
  const ike = ikes.find((x) => x.state === 'ESTABLISHED') ?? ikes[0] ?? null;
  let show: string | null = null;
  const showSa = () => (show ??= lab.racoonctl(['show-sa', 'isakmp']).stdout);
  return { ike, ikes, tanuki: dump.status === 0 ? tanukiSas(dump.stdout) : [], raw: raw.stdout + raw.stderr, dump: dump.stdout + dump.stderr, showSa };
}

/** The establishment verdict: IKEv1, role, algorithms, one INSTALLED CHILD_SA whose SPIs tanuki's kernel holds. */
export function judgeIkev1(s: Ikev1Scenario, snap: Ikev1Snapshot): string[] {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const ike = snap.ike;
  check(ike !== null, 'charon has IKE_SA "interop"');
  if (!ike) return checks;
  check(ike.state === 'ESTABLISHED', `charon IKE_SA state ${ike.state} (want ESTABLISHED)`);
  check(ike.version === '1', `charon IKE_SA version ${ike.version} (want 1)`);
  check(ike.initiator === (s.initiator === 'charon'), `charon is ${ike.initiator ? 'initiator' : 'responder'} (want ${s.initiator === 'charon' ? 'initiator' : 'responder'})`);
  check(ike.encrAlg === s.ike.expect.encr, `IKE encr-alg ${ike.encrAlg} (want ${s.ike.expect.encr})`);
  check(ike.integAlg === s.ike.expect.integ, `IKE integ-alg ${ike.integAlg} (want ${s.ike.expect.integ})`);
  check(ike.dhGroup === s.ike.expect.dh, `IKE dh-group ${ike.dhGroup} (want ${s.ike.expect.dh})`);
  const installed = ike.children.filter((c) => c.state === 'INSTALLED');
  check(installed.length === 1, `charon has ${installed.length} INSTALLED CHILD_SA(s) (want 1)`);
  const child = installed[0];
  if (!child) return checks;
  check(child.mode === 'TUNNEL' && child.protocol === 'ESP', `CHILD_SA ${child.protocol}/${child.mode} (want ESP/TUNNEL)`);
  check(child.encrAlg === s.esp.expect.encr, `ESP encr-alg ${child.encrAlg} (want ${s.esp.expect.encr})`);
  check(child.integAlg === s.esp.expect.integ, `ESP integ-alg ${child.integAlg} (want ${s.esp.expect.integ})`);
  checks.push(...spiChecks(snap, child));
  const cookies = `${ike.initiatorSpi}:${ike.responderSpi}`;
  check(snap.showSa().includes(cookies), `tanuki show-sa isakmp lists ISAKMP-SA ${cookies}`);
  return checks;
}

function spiChecks(snap: Ikev1Snapshot, child: CharonIkeSa['children'][number], allowDying = false): string[] {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const out = snap.tanuki.filter((t) => t.src === NET.tanukiAddr && t.dst === NET.charonAddr);
  const inb = snap.tanuki.filter((t) => t.src === NET.charonAddr && t.dst === NET.tanukiAddr);
  const o = out.find((t) => t.spi === child.spiIn);
  const i = inb.find((t) => t.spi === child.spiOut);
  check(o !== undefined, `tanuki holds outbound SA 0x${hex8(child.spiIn)} (charon spi-in) among [${out.map((t) => hex8(t.spi)).join(' ')}]`);
  check(i !== undefined, `tanuki holds inbound SA 0x${hex8(child.spiOut)} (charon spi-out) among [${inb.map((t) => hex8(t.spi)).join(' ')}]`);
  const live = (st: string | undefined) => st === 'mature' || (allowDying && st === 'dying');
  check(live(o?.state) && live(i?.state), `both ${allowDying ? 'mature or dying (soft lifetime passed, rekey under way)' : 'mature'} (${o?.state}/${i?.state})`);
  check(o?.udpEncap === true && child.encap, 'UDP-encapsulated on both sides (kernel-libipsec forces NAT-T)');
  return checks;
}

export interface Ikev1Result {
  name: string;
  result: 'pass' | 'fail';
  seconds: number;
  checks: string[];
  /** seconds each behaviour took */
  timings: string[];
  error?: string;
  charonLog?: string[];
  tanukiLog?: string[];
}

function tail(path: string, re: RegExp, max = 30): string[] {
  if (!existsSync(path)) return [`(no log at ${path})`];
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim().length > 0);
  const hits = lines.filter((l) => re.test(l));
  return (hits.length ? hits : lines).slice(-max).map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
}

function installedChild(snap: Ikev1Snapshot): CharonIkeSa['children'][number] | undefined {
  return snap.ikes.flatMap((x) => x.children).find((c) => c.state === 'INSTALLED');
}

async function behave(behaviour: Ikev1Behaviour, lab: Lab, first: Ikev1Snapshot): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const child0 = installedChild(first)!;
  let snap = first;
  const poll = async (pred: (x: Ikev1Snapshot) => boolean, ms: number, step: string) => {
    try {
      await waitFor(() => pred((snap = ikev1Snapshot(lab))), ms, step);
    } catch {
      /* judged by the caller */
    }
  };
  switch (behaviour) {
    case 'establish':
      return checks;
    case 'rekey-ph2-by-tanuki':
    case 'rekey-ph2-by-charon': {
      if (behaviour === 'rekey-ph2-by-charon') {
        const r = lab.swanctlSync(['--rekey', '--child', 'c1'], 10000);
        check(r.status === 0, `swanctl --rekey --child c1 exit status ${r.status}`);
      }
      // the new CHILD_SA is INSTALLED with new SPIs, held by tanuki's kernel; the old SPIs are gone from both
      const rekeyed = (x: Ikev1Snapshot) => {
        const c = installedChild(x);
        if (!c || c.spiIn === child0.spiIn) return false;
        const inK = x.tanuki.some((t) => t.spi === c.spiIn) && x.tanuki.some((t) => t.spi === c.spiOut);
        return inK;
      };
      await poll(rekeyed, 20000, 'phase-2 rekey');
      const c = installedChild(snap);
      check(c !== undefined && c.spiIn !== child0.spiIn, `charon INSTALLED CHILD_SA with new SPIs (old in 0x${hex8(child0.spiIn)}, now ${c ? hex8(c.spiIn) : 'none'})`);
      // with a 6 s lifetime the new pair may already be past its soft lifetime when a loaded machine looks
      if (c) checks.push(...spiChecks(snap, c, true));
      // the old pair leaves tanuki's kernel: by the Delete of the other side or at its hard lifetime
      await poll((x) => !x.tanuki.some((t) => t.spi === child0.spiIn || t.spi === child0.spiOut), 15000, 'old SAs gone');
      check(!snap.tanuki.some((t) => t.spi === child0.spiIn || t.spi === child0.spiOut), `tanuki's kernel no longer holds the old SAs 0x${hex8(child0.spiIn)}/0x${hex8(child0.spiOut)}`);
      check(snap.ike?.state === 'ESTABLISHED', 'the ISAKMP-SA is still ESTABLISHED');
      return checks;
    }
    case 'rekey-ph1-by-tanuki': {
      const old = `${first.ike!.initiatorSpi}:${first.ike!.responderSpi}`;
      const newIke = (x: Ikev1Snapshot) => x.ikes.some((i) => i.state === 'ESTABLISHED' && `${i.initiatorSpi}:${i.responderSpi}` !== old);
      await poll((x) => newIke(x) && !x.ikes.some((i) => `${i.initiatorSpi}:${i.responderSpi}` === old), 25000, 'phase-1 rekey');
      const fresh = snap.ikes.find((i) => i.state === 'ESTABLISHED' && `${i.initiatorSpi}:${i.responderSpi}` !== old);
      check(fresh !== undefined, `charon has a new ESTABLISHED ISAKMP-SA (old ${old})`);
      check(!snap.ikes.some((i) => `${i.initiatorSpi}:${i.responderSpi}` === old), 'the old ISAKMP-SA was deleted');
      if (fresh) check(snap.showSa().includes(`${fresh.initiatorSpi}:${fresh.responderSpi}`), 'tanuki show-sa isakmp lists the new ISAKMP-SA');
      const c = installedChild(snap);
      check(c !== undefined, 'a CHILD_SA is still INSTALLED on charon');
      if (c) checks.push(...spiChecks(snap, c, true));
      return checks;
    }
    case 'delete-by-tanuki':
    case 'delete-by-charon': {
      if (behaviour === 'delete-by-tanuki') {
        const ds = lab.racoonctl(['delete-sa', 'isakmp', 'inet', NET.tanukiAddr, NET.charonAddr]);
        check(ds.status === 0, `racoonctl delete-sa isakmp exit status ${ds.status}`);
      } else {
        const t = lab.swanctlSync(['--terminate', '--ike', 'interop', '--timeout', '5'], 10000);
        check(t.status === 0, `swanctl --terminate --ike interop exit status ${t.status}`);
      }
      await poll((x) => x.ikes.length === 0 && x.tanuki.length === 0 && !/[0-9a-f]{16}:[0-9a-f]{16}/.test(x.showSa()), 10000, 'SAs gone');
      check(snap.ikes.length === 0, `charon lists ${snap.ikes.length} IKE_SA(s) after the delete (want 0)`);
      check(snap.tanuki.length === 0, `tanuki's kernel holds ${snap.tanuki.length} SA(s) after the delete (want 0)`);
      check(!/[0-9a-f]{16}:[0-9a-f]{16}/.test(snap.showSa()), 'tanuki show-sa isakmp lists no ISAKMP-SA');
      return checks;
    }
    case 'dpd-kill-charon': {
      lab.charon?.kill('SIGKILL');
      // dpd_delay 1 + dpd_maxfail 2 × dpd_retry 1 ≈ 3 s; the racoon log says so
      const log = join(lab.dir, 'racoon.log');
      const dead = () => existsSync(log) && readFileSync(log, 'utf8').includes('DPD: remote seems to be dead');
      let t: Ikev1Snapshot['tanuki'] = [];
      let show = '';
      try {
        await waitFor(() => {
          t = tanukiSas(lab.setkey(['-D']).stdout);
          show = lab.racoonctl(['show-sa', 'isakmp']).stdout;
          return dead() && t.length === 0 && !/[0-9a-f]{16}:[0-9a-f]{16}/.test(show);
        }, 15000, 'DPD');
      } catch {
        /* judged below */
      }
      check(dead(), 'racoon logged "DPD: remote seems to be dead"');
      check(t.length === 0, `tanuki's kernel holds ${t.length} SA(s) after DPD (want 0)`);
      check(!/[0-9a-f]{16}:[0-9a-f]{16}/.test(show), 'tanuki show-sa isakmp lists no ISAKMP-SA after DPD');
      return checks;
    }
  }
}

export async function runIkev1Scenario(s: Ikev1Scenario, opts: { dir: string; timeoutMs?: number }): Promise<Ikev1Result> {
  const started = Date.now();
  const dir = opts.dir;
  mkdirSync(dir, { recursive: true });
  const lab = new Lab(dir);
  const untrack = track(lab);
  writeFileSync(join(dir, 'strongswan.conf'), ikev1StrongswanConf(s, dir, lab.sockDir));
  writeFileSync(join(dir, 'swanctl.conf'), ikev1SwanctlConf(s));
  writeFileSync(join(dir, 'racoon.conf'), ikev1RacoonConf(s, dir, lab.sockDir));
  writeFileSync(join(dir, 'psk.txt'), ikev1PskTxt());
  chmodSync(join(dir, 'psk.txt'), 0o600);
  writeFileSync(join(dir, 'setkey.conf'), ikev1SetkeyPolicies());
  const checks: string[] = [];
  const timings: string[] = [];
  let error: string | undefined;
  if (s.auth === 'rsasig') {
    try {
      makeIkev1Certificates(dir);
    } catch (e) {
      untrack();
      await lab.teardown();
      throw e;
    }
  }
  let t0 = Date.now();
  const lap = (what: string) => {
    timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    t0 = Date.now();
  };
  let last: Ikev1Snapshot | null = null;
  try {
    lab.up();
    lab.startCharon(join(dir, 'strongswan.conf'));
    lab.startRacoon(join(dir, 'racoon.conf'));
    await waitFor(() => lab.viciReady() || lab.charon?.exitCode !== null, 20000, 'charon vici socket');
    if (!lab.viciReady()) throw new LabError('charon', `exited with status ${lab.charon?.exitCode}`);
    const load = lab.swanctlSync(['--load-all', '--file', join(dir, 'swanctl.conf')]);
    if (load.status !== 0) throw new LabError('swanctl --load-all', (load.stderr || load.stdout).trim());
    await waitFor(() => lab.racoonReady() || lab.racoon?.exitCode !== null, 20000, 'racoon sockets');
    if (!lab.racoonReady()) throw new LabError('racoon', `exited with status ${lab.racoon?.exitCode}`);
    const pol = lab.setkey(['-c'], ikev1SetkeyPolicies());
    if (pol.status !== 0) throw new LabError('setkey -c', pol.stderr.trim());
    lap('lab up');
    if (s.initiator === 'tanuki') {
      const es = lab.racoonctl(['establish-sa', 'isakmp', 'inet', NET.tanukiAddr, NET.charonAddr]);
      if (es.status !== 0) throw new LabError('racoonctl establish-sa', (es.stderr || es.stdout).trim());
    } else {
      const init = lab.swanctlSync(['--initiate', '--ike', 'interop', '--child', 'c1', '--timeout', '1'], 5000);
      writeFileSync(join(dir, 'swanctl-initiate.txt'), init.stdout + init.stderr);
    }
    let snap = ikev1Snapshot(lab);
    const settled = (x: Ikev1Snapshot) => {
      const c = installedChild(x);
      return x.ike?.state === 'ESTABLISHED' && c !== undefined && x.tanuki.some((t) => t.spi === c.spiIn) && x.tanuki.some((t) => t.spi === c.spiOut);
    };
    try {
      await waitFor(() => settled((snap = ikev1Snapshot(lab))), opts.timeoutMs ?? 15000, 'SAs on both sides');
    } catch {
      /* judged below */
    }
    lap('establish');
    writeFileSync(join(dir, 'swanctl-list-sas-raw.txt'), snap.raw);
    writeFileSync(join(dir, 'setkey-D.txt'), snap.dump);
    checks.push(...judgeIkev1(s, snap));
    for (const b of s.behaviours) {
      if (!checks.every((c) => c.startsWith('ok'))) break;
      checks.push(`ok -- ${b}`);
      checks.push(...(await behave(b, lab, (last = ikev1Snapshot(lab)))));
      lap(b);
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    if (last) writeFileSync(join(dir, 'before-last-behaviour.txt'), `${last.raw}\n${last.dump}`);
    await lab.teardown();
    untrack();
    lap('teardown');
  }
  const pass = !error && checks.length > 0 && checks.every((c) => c.startsWith('ok'));
  const result: Ikev1Result = { name: s.name, result: pass ? 'pass' : 'fail', seconds: Math.round((Date.now() - started) / 100) / 10, checks, timings, ...(error ? { error } : {}) };
  if (!pass) {
    result.charonLog = tail(join(dir, 'charon.log'), /error|fail|NO_PROP|no proposal|INVALID|unable|not supported|giving up|retransmit|received|establish|installed|selected|HASH|parsed|generating/i);
    result.tanukiLog = tail(join(dir, 'racoon.log'), /"level":(40|50|60)|established|failed|mismatch/i);
  }
  writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 2));
  return result;
}
