/**
 * Runs one scenario end to end in a fresh lab and judges it on evidence from
 * both peers: charon's `swanctl --list-sas --raw` and tanuki's `setkey -D`
 * (+ `racoonctl show-sa isakmp`). A scenario passes only when charon shows the
 * IKE_SA ESTABLISHED with the scenario's algorithms and exactly one CHILD_SA
 * INSTALLED whose inbound/outbound SPIs are tanuki's outbound/inbound SAs, both
 * mature in tanuki's kernel.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { charonSas, hex8, tanukiSas, type CharonIkeSa, type TanukiSa } from './evidence';
import { Lab, LabError, track, waitFor } from './lab';
import { NET, pskTxt, racoonConf, setkeyPolicies, strongswanConf, swanctlConf, type Scenario } from './scenario';

export interface Evidence {
  /** One line per check: `ok …` or `FAIL …`. */
  checks: string[];
  charon?: {
    ike: Omit<CharonIkeSa, 'children'> | null;
    child: CharonIkeSa['children'][number] | null;
  };
  tanuki?: { sas: TanukiSa[]; showSa: string };
  /** On failure: the decisive log lines of both peers. */
  charonLog?: string[];
  tanukiLog?: string[];
  error?: string;
}

export interface ScenarioResult {
  name: string;
  result: 'pass' | 'fail';
  seconds: number;
  evidence: Evidence;
}

export interface RunOptions {
  /** Where this scenario's configs and logs go. */
  dir: string;
  /** How long to wait for the SAs on both sides (ms). */
  timeoutMs?: number;
}

const CHARON_DECISIVE = /error|fail|NO_PROP|no proposal|TS_UNACCEPTABLE|AUTHENTICATION_FAILED|INVALID|unable|not supported|giving up|retransmit|received .*(N\(|notify)|establish|installed|selected proposal/i;
const TANUKI_DECISIVE = /"level":(40|50|60)|error|fail|NO_PROPOSAL|notify|invalid|unable|not supported|established|installed/i;

function decisive(path: string, re: RegExp, max = 25): string[] {
  if (!existsSync(path)) return [`(no log at ${path})`];
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim().length > 0);
  const hits = lines.filter((l) => re.test(l));
  return (hits.length > 0 ? hits : lines).slice(-max).map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l));
}

/** A peer has already logged a definite failure: no point polling until the timeout. */
const CHARON_GAVE_UP = /failed to establish CHILD_SA|no CHILD_SA built|giving up after|AUTHENTICATION_FAILED|NO_PROPOSAL_CHOSEN|TS_UNACCEPTABLE/;
const TANUKI_GAVE_UP = /"level":50.*(no proposal chosen|not created|AUTHENTICATION_FAILED|authentication failed)/i;

function failedEarly(dir: string): boolean {
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  return CHARON_GAVE_UP.test(read('charon.log')) || TANUKI_GAVE_UP.test(read('racoon.log'));
}

interface Snapshot {
  ike: CharonIkeSa | null;
  tanuki: TanukiSa[];
  raw?: string;
  parseError?: string;
  /** `racoonctl show-sa isakmp` output (the IKE_SA SPIs as racoon's "cookies"). */
  showSa?: string;
}

function snapshot(lab: Lab): Snapshot {
  const raw = lab.swanctl(['--list-sas', '--raw'], 10000);
  let sas: CharonIkeSa[] = [];
  let parseError: string | undefined;
  try {
    sas = charonSas(raw.stdout);
  } catch (e) {
    parseError = e instanceof Error ? e.message : String(e);
  }
  const ike = sas.find((s) => s.name === 'interop') ?? null;
  const dump = lab.setkey(['-D']);
  return { ike, tanuki: dump.status === 0 ? tanukiSas(dump.stdout) : [], raw: raw.stdout + raw.stderr, ...(parseError ? { parseError } : {}) };
}

function settled(s: Snapshot): boolean {
  const childUp = s.ike?.state === 'ESTABLISHED' && s.ike.children.some((c) => c.state === 'INSTALLED');
  const tanukiUp = s.tanuki.filter((t) => t.state === 'mature').length >= 2;
  return childUp && tanukiUp;
}

/** The verdict: every check must hold. Exported so the test pins that mismatching SPIs fail. */
export function judge(s: Scenario, snap: Snapshot): string[] {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const ike = snap.ike;
  check(ike !== null, 'charon has IKE_SA "interop"');
  if (!ike) return checks;
  check(ike.state === 'ESTABLISHED', `charon IKE_SA state ${ike.state} (want ESTABLISHED)`);
  check(ike.version === String(s.ikeVersion), `charon IKE_SA version ${ike.version} (want ${s.ikeVersion})`);
  check(ike.initiator === (s.initiator === 'charon'), `charon is ${ike.initiator ? 'initiator' : 'responder'} (want ${s.initiator === 'charon' ? 'initiator' : 'responder'})`);
  check(ike.encrAlg === s.ike.expect.encr, `IKE encr-alg ${ike.encrAlg} (want ${s.ike.expect.encr})`);
  check(ike.dhGroup === s.ike.expect.dh, `IKE dh-group ${ike.dhGroup} (want ${s.ike.expect.dh})`);
  const installed = ike.children.filter((c) => c.state === 'INSTALLED');
  check(installed.length === 1, `charon has ${installed.length} INSTALLED CHILD_SA(s) (want 1)`);
  const child = installed[0];
  if (!child) return checks;
  check(child.mode === 'TUNNEL' && child.protocol === 'ESP', `CHILD_SA ${child.protocol}/${child.mode} (want ESP/TUNNEL)`);
  check(child.encrAlg === s.esp.expect.encr, `ESP encr-alg ${child.encrAlg} (want ${s.esp.expect.encr})`);
  const out = snap.tanuki.filter((t) => t.src === NET.tanukiAddr && t.dst === NET.charonAddr);
  const inb = snap.tanuki.filter((t) => t.src === NET.charonAddr && t.dst === NET.tanukiAddr);
  check(out.length === 1, `tanuki has ${out.length} outbound SA(s) ${NET.tanukiAddr}->${NET.charonAddr} (want 1)`);
  check(inb.length === 1, `tanuki has ${inb.length} inbound SA(s) ${NET.charonAddr}->${NET.tanukiAddr} (want 1)`);
  const o = out[0];
  const i = inb[0];
  if (o) {
    check(o.spi === child.spiIn, `tanuki outbound SPI 0x${hex8(o.spi)} = charon spi-in 0x${hex8(child.spiIn)}`);
    check(o.state === 'mature', `tanuki outbound SA state ${o.state} (want mature)`);
  }
  if (i) {
    check(i.spi === child.spiOut, `tanuki inbound SPI 0x${hex8(i.spi)} = charon spi-out 0x${hex8(child.spiOut)}`);
    check(i.state === 'mature', `tanuki inbound SA state ${i.state} (want mature)`);
  }
  if (snap.showSa !== undefined) {
    const cookies = `${ike.initiatorSpi}:${ike.responderSpi}`;
    check(snap.showSa.includes(cookies), `tanuki show-sa isakmp lists IKE_SA ${cookies}`);
  }
  return checks;
}

/** IKE_SA delete from one side; afterwards neither peer may hold an IKE_SA or a CHILD_SA. */
async function deletePhase(s: Scenario, lab: Lab, dir: string): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  if (s.behaviour === 'delete-by-tanuki') {
    const ds = lab.racoonctl(['delete-sa', 'isakmp', 'inet', NET.tanukiAddr, NET.charonAddr]);
    check(ds.status === 0, `racoonctl delete-sa isakmp exit status ${ds.status}`);
  } else {
    const t = lab.swanctl(['--terminate', '--ike', 'interop', '--timeout', '5'], 10000);
    writeFileSync(join(dir, 'swanctl-terminate.txt'), t.stdout + t.stderr);
    check(t.status === 0, `swanctl --terminate --ike interop exit status ${t.status}`);
  }
  let snap = snapshot(lab);
  const gone = (x: Snapshot) => x.ike === null && x.tanuki.length === 0;
  try {
    await waitFor(() => gone((snap = snapshot(lab))), 10000, 'SAs gone after delete');
  } catch {
    /* judged below */
  }
  const show = lab.racoonctl(['show-sa', 'isakmp']).stdout;
  check(snap.ike === null, `charon has ${snap.ike ? `IKE_SA in state ${snap.ike.state}` : 'no IKE_SA'} after the delete`);
  check(snap.tanuki.length === 0, `tanuki's kernel holds ${snap.tanuki.length} SA(s) after the delete (want 0)`);
  check(!/[0-9a-f]{16}:[0-9a-f]{16}/.test(show), 'tanuki show-sa isakmp lists no IKE_SA after the delete');
  writeFileSync(join(dir, 'after-delete.txt'), `${snap.raw ?? ''}\n${lab.setkey(['-D']).stdout}\n${show}`);
  return checks;
}

export async function runScenario(s: Scenario, opts: RunOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const dir = opts.dir;
  mkdirSync(dir, { recursive: true });
  const lab = new Lab(dir);
  let untrack: () => void;
  try {
    untrack = track(lab);
  } catch (e) {
    await lab.teardown();
    throw e;
  }
  writeFileSync(join(dir, 'strongswan.conf'), strongswanConf(dir, lab.sockDir));
  writeFileSync(join(dir, 'swanctl.conf'), swanctlConf(s));
  writeFileSync(join(dir, 'racoon.conf'), racoonConf(s, dir, lab.sockDir));
  writeFileSync(join(dir, 'psk.txt'), pskTxt());
  chmodSync(join(dir, 'psk.txt'), 0o600);
  writeFileSync(join(dir, 'setkey.conf'), setkeyPolicies(s));
  const evidence: Evidence = { checks: [] };
  let pass = false;
  try {
    lab.up();
    lab.startCharon(join(dir, 'strongswan.conf'));
    lab.startRacoon(join(dir, 'racoon.conf'));
    await waitFor(() => lab.viciReady() || lab.charon?.exitCode !== null, 20000, 'charon vici socket');
    if (!lab.viciReady()) throw new LabError('charon', `exited with status ${lab.charon?.exitCode} (see ${dir}/charon.stdout)`);
    const load = lab.swanctl(['--load-all', '--file', join(dir, 'swanctl.conf')]);
    if (load.status !== 0) throw new LabError('swanctl --load-all', (load.stderr || load.stdout).trim());
    await waitFor(() => lab.racoonReady() || lab.racoon?.exitCode !== null, 20000, 'racoon sockets');
    if (!lab.racoonReady()) throw new LabError('racoon', `exited with status ${lab.racoon?.exitCode} (see ${dir}/racoon.stdout)`);
    const pol = lab.setkey(['-c'], setkeyPolicies(s));
    if (pol.status !== 0) throw new LabError('setkey -c', pol.stderr.trim());
    if (s.initiator === 'tanuki') {
      const es = lab.racoonctl(['establish-sa', 'isakmp', 'inet', NET.tanukiAddr, NET.charonAddr]);
      if (es.status !== 0) throw new LabError('racoonctl establish-sa', (es.stderr || es.stdout).trim());
    } else {
      // Not waited for: swanctl --initiate blocks until the CHILD_SA is up or fails; we poll both sides instead.
      const init = lab.swanctl(['--initiate', '--ike', 'interop', '--child', 'c1', '--timeout', '1'], 5000);
      writeFileSync(join(dir, 'swanctl-initiate.txt'), init.stdout + init.stderr);
    }
    let snap = snapshot(lab);
    try {
      await waitFor(() => settled((snap = snapshot(lab))) || failedEarly(dir), opts.timeoutMs ?? 15000, 'SAs on both sides');
    } catch {
      /* judged below on what is there */
    }
    snap = { ...snapshot(lab), showSa: lab.racoonctl(['show-sa', 'isakmp']).stdout };
    evidence.checks = judge(s, snap);
    const { children: _c, ...ikeOnly } = snap.ike ?? { children: [] };
    evidence.charon = { ike: snap.ike ? (ikeOnly as Omit<CharonIkeSa, 'children'>) : null, child: snap.ike?.children.find((c) => c.state === 'INSTALLED') ?? null };
    evidence.tanuki = { sas: snap.tanuki, showSa: (snap.showSa ?? '').trim() };
    writeFileSync(join(dir, 'swanctl-list-sas.txt'), lab.swanctl(['--list-sas']).stdout);
    writeFileSync(join(dir, 'swanctl-list-sas-raw.txt'), snap.raw ?? '');
    if (snap.parseError) evidence.checks.push(`FAIL parsing swanctl --list-sas --raw: ${snap.parseError}`);
    writeFileSync(join(dir, 'setkey-D.txt'), lab.setkey(['-D']).stdout);
    const upOk = evidence.checks.length > 0 && evidence.checks.every((c) => c.startsWith('ok'));
    if (upOk && s.behaviour !== 'establish') evidence.checks.push(...(await deletePhase(s, lab, dir)));
    pass = evidence.checks.length > 0 && evidence.checks.every((c) => c.startsWith('ok'));
  } catch (e) {
    evidence.error = e instanceof Error ? e.message : String(e);
  } finally {
    await lab.teardown();
    untrack();
  }
  if (!pass) {
    evidence.charonLog = decisive(join(dir, 'charon.log'), CHARON_DECISIVE);
    evidence.tanukiLog = decisive(join(dir, 'racoon.log'), TANUKI_DECISIVE);
  }
  const result: ScenarioResult = { name: s.name, result: pass ? 'pass' : 'fail', seconds: Math.round((Date.now() - started) / 100) / 10, evidence };
  writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 2));
  return result;
}
