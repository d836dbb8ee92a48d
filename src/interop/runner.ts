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
import { charonSas, hex8, type CharonIkeSa, type TanukiSa } from './evidence';
import { cmd, Lab, LabError, sleep, track, waitFor, type CmdResult } from './lab';
import { endpoints, MOBIKE_NEW_ADDR, NET, type Endpoints, pskTxt, racoonConf, setkeyPolicies, strongswanConf, swanctlConf, TANUKI_REKEY_LIFETIME_S, type Scenario } from './scenario';
import { formatPhase1, TanukiControl, type Phase1Row } from './tanuki';
import { installCharonCredentials, pki, type Pki } from './pki';

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
  /** Earlier failed attempts of this scenario in the same run (`--retries`): a pass after one is reported as flaky. */
  failedAttempts?: { seconds: number; error?: string; failed: string[] }[];
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
  /** tanuki's `show-sa isakmp` rows (the IKE_SA SPIs as racoon's "cookies"). */
  phase1?: Phase1Row[];
  /** Legacy text form (`racoonctl show-sa isakmp` output) for tests that pin the verdict on captured text. */
  showSa?: string;
}

async function snapshot(lab: Lab, ctl: TanukiControl | null, withPhase1 = false): Promise<Snapshot> {
  const [raw, tanuki, phase1] = await Promise.all([
    lab.swanctl(['--list-sas', '--raw'], 10000),
    ctl ? ctl.sas().catch(() => [] as TanukiSa[]) : Promise.resolve([] as TanukiSa[]),
    ctl && withPhase1 ? ctl.phase1().catch(() => [] as Phase1Row[]) : Promise.resolve(undefined),
  ]);
  let sas: CharonIkeSa[] = [];
  let parseError: string | undefined;
  try {
    sas = charonSas(raw.stdout);
  } catch (e) {
    parseError = e instanceof Error ? e.message : String(e);
  }
  const ike = sas.find((x) => x.name === 'interop') ?? null;
  return { ike, tanuki, raw: raw.stdout + raw.stderr, ...(parseError ? { parseError } : {}), ...(phase1 ? { phase1, showSa: formatPhase1(phase1) } : {}) };
}

function settled(s: Snapshot): boolean {
  const childUp = s.ike?.state === 'ESTABLISHED' && s.ike.children.some((c) => c.state === 'INSTALLED');
  const tanukiUp = s.tanuki.filter((t) => t.state === 'mature').length >= 2;
  return childUp && tanukiUp;
}

const allOk = (checks: readonly string[]): boolean => checks.length > 0 && checks.every((c) => c.startsWith('ok'));

/** The verdict: every check must hold. Exported so the test pins that mismatching SPIs fail. */
export function judge(s: Scenario, snap: Snapshot): string[] {
  return judgeAt(s, snap, endpoints(s));
}

/** The verdict with the peers at the given endpoints (after a MOBIKE move). */
function judgeAt(s: Scenario, snap: Snapshot, ep: Endpoints): string[] {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const ike = snap.ike;
  check(ike !== null, 'charon has IKE_SA "interop"');
  if (!ike) return checks;
  check(ike.state === 'ESTABLISHED', `charon IKE_SA state ${ike.state} (want ESTABLISHED)`);
  check(ike.version === String(s.ikeVersion), `charon IKE_SA version ${ike.version} (want ${s.ikeVersion})`);
  // IKEv1: after a rekey or on a responder the roles are those of the phase-1 exchange; IKEv2: of the IKE_SA.
  check(ike.initiator === (s.initiator === 'charon'), `charon is ${ike.initiator ? 'initiator' : 'responder'} (want ${s.initiator === 'charon' ? 'initiator' : 'responder'})`);
  check(ike.encrAlg === s.ike.expect.encr, `IKE encr-alg ${ike.encrAlg} (want ${s.ike.expect.encr})`);
  check(ike.dhGroup === s.ike.expect.dh, `IKE dh-group ${ike.dhGroup} (want ${s.ike.expect.dh})`);
  if (s.topology === 'nat') {
    check(ike.natRemote, `charon detected the NAT in front of tanuki (nat-remote=${ike.natRemote ? 'yes' : 'no'})`);
    check(ike.remoteHost === ep.tanukiSeenAs, `charon sees tanuki at the NAT's address ${ike.remoteHost} (want ${ep.tanukiSeenAs})`);
  }
  const installed = ike.children.filter((c) => c.state === 'INSTALLED');
  check(installed.length === 1, `charon has ${installed.length} INSTALLED CHILD_SA(s) (want 1)`);
  const child = installed[0];
  if (!child) return checks;
  check(child.mode === 'TUNNEL' && child.protocol === 'ESP', `CHILD_SA ${child.protocol}/${child.mode} (want ESP/TUNNEL)`);
  check(child.encrAlg === s.esp.expect.encr, `ESP encr-alg ${child.encrAlg} (want ${s.esp.expect.encr})`);
  const out = snap.tanuki.filter((t) => t.src === ep.tanuki && t.dst === ep.charon);
  const inb = snap.tanuki.filter((t) => t.src === ep.charon && t.dst === ep.tanuki);
  check(out.length === 1, `tanuki has ${out.length} outbound SA(s) ${ep.tanuki}->${ep.charon} (want 1)`);
  check(inb.length === 1, `tanuki has ${inb.length} inbound SA(s) ${ep.charon}->${ep.tanuki} (want 1)`);
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

interface Counters {
  /** charon's spi-in of the CHILD_SA the counters belong to. */
  spi: number;
  charonIn: number;
  charonOut: number;
  charonPktIn: number;
  charonPktOut: number;
  tanukiIn: number;
  tanukiOut: number;
}

function counters(s: Scenario, snap: Snapshot, ep: Endpoints = endpoints(s)): Counters {
  const child = snap.ike?.children.find((c) => c.state === 'INSTALLED');
  const bytes = (src: string, dst: string) => snap.tanuki.filter((t) => t.src === src && t.dst === dst).reduce((n, t) => n + t.bytes, 0);
  return {
    spi: child?.spiIn ?? 0,
    charonIn: child?.bytesIn ?? 0,
    charonOut: child?.bytesOut ?? 0,
    charonPktIn: child?.packetsIn ?? 0,
    charonPktOut: child?.packetsOut ?? 0,
    tanukiIn: bytes(ep.charon, ep.tanuki),
    tanukiOut: bytes(ep.tanuki, ep.charon),
  };
}

const PINGS = 3;

/**
 * Traffic through the CHILD_SA both ways: charon's 10.1.0.1 pings tanuki's in-process host
 * 10.2.0.1 (ESP built by libipsec, decrypted by tanuki's data plane, the reply the reverse) and
 * tanuki's host pings charon's; every echo must be answered and the byte/packet counters of the
 * SAs must move on both sides (`swanctl --list-sas --raw` bytes/packets, tanuki's LIFETIME_CURRENT).
 */
async function trafficPhase(s: Scenario, lab: Lab, ctl: TanukiControl, label: string, again = true, ep: Endpoints = endpoints(s)): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const before = counters(s, await snapshot(lab, ctl), ep);
  const [fromCharon, fromTanuki] = await Promise.all([
    lab.pingFromCharon(PINGS),
    ctl.ping(NET.tanukiHost, NET.charonHost, PINGS, 5000).catch((e: unknown) => ({ sent: 0, received: 0, error: e instanceof Error ? e.message : String(e) })),
  ]);
  check(fromCharon.sent === PINGS && fromCharon.received === PINGS, `${label}ping ${NET.charonHost} -> ${NET.tanukiHost} (charon's side): ${fromCharon.received}/${fromCharon.sent} answered`);
  check(fromTanuki.sent === PINGS && fromTanuki.received === PINGS, `${label}ping ${NET.tanukiHost} -> ${NET.charonHost} (tanuki's host): ${fromTanuki.received}/${fromTanuki.sent} answered${'error' in fromTanuki ? ` (${fromTanuki.error})` : ''}`);
  const after = counters(s, await snapshot(lab, ctl), ep);
  // A rekey (tanuki's short lifetimes) replaced the CHILD_SA meanwhile: its counters start from zero, measure again.
  if (after.spi !== before.spi && again) return trafficPhase(s, lab, ctl, `${label}(CHILD_SA replaced during the pings, again) `, false, ep);
  const moved = (k: keyof Counters, what: string) => check(after[k] > before[k], `${label}${what} ${before[k]} -> ${after[k]}`);
  moved('charonIn', 'charon CHILD_SA bytes-in');
  moved('charonOut', 'charon CHILD_SA bytes-out');
  moved('charonPktIn', 'charon CHILD_SA packets-in');
  moved('charonPktOut', 'charon CHILD_SA packets-out');
  moved('tanukiIn', 'tanuki inbound SA current bytes');
  moved('tanukiOut', 'tanuki outbound SA current bytes');
  return checks;
}

/** IKE_SA delete from one side; afterwards neither peer may hold an IKE_SA or a CHILD_SA. */
async function deletePhase(s: Scenario, lab: Lab, ctl: TanukiControl, dir: string): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const ep = endpoints(s);
  if (s.behaviour === 'delete-by-tanuki') {
    const errno = await ctl.deleteIsakmp(ep.tanuki, ep.charon);
    check(errno === 0, `racoonctl delete-sa isakmp answered errno ${errno}`);
  } else {
    const t = await lab.swanctl(['--terminate', '--ike', 'interop', '--timeout', '5'], 10000);
    writeFileSync(join(dir, 'swanctl-terminate.txt'), t.stdout + t.stderr);
    check(t.status === 0, `swanctl --terminate --ike interop exit status ${t.status}`);
  }
  const gone = (x: Snapshot) => x.ike === null && x.tanuki.length === 0 && (x.phase1 ?? []).length === 0;
  const snap = await pollUntil(() => snapshot(lab, ctl, true), gone, 10000);
  check(snap.ike === null, `charon has ${snap.ike ? `IKE_SA in state ${snap.ike.state}` : 'no IKE_SA'} after the delete`);
  check(snap.tanuki.length === 0, `tanuki's kernel holds ${snap.tanuki.length} SA(s) after the delete (want 0)`);
  check((snap.phase1 ?? []).length === 0, `tanuki show-sa isakmp lists ${(snap.phase1 ?? []).length} IKE_SA(s) after the delete (want 0)`);
  writeFileSync(join(dir, 'after-delete.txt'), `${snap.raw ?? ''}\n${await ctl.dumpText()}\n${snap.showSa ?? ''}`);
  return checks;
}

/** Poll `take` every 150 ms until `done` holds or `ms` pass; returns the last snapshot either way. */
async function pollUntil<T>(take: () => Promise<T>, done: (t: T) => boolean, ms: number): Promise<T> {
  const until = Date.now() + ms;
  let last = await take();
  while (!done(last) && Date.now() < until) {
    await sleep(150);
    last = await take();
  }
  return last;
}

/**
 * CHILD_SA rekey (RFC 7296 §2.8; IKEv1: a new Quick Mode) started by charon (`swanctl --rekey
 * --child c1`) or by tanuki (its soft lifetime expires: racoon rekeys at 80 % of the sainfo
 * lifetime). Passes when charon shows one INSTALLED CHILD_SA with new SPIs, tanuki's kernel
 * exactly that pair, PFS group as configured, and traffic flows on the new SAs.
 */
async function rekeyChildPhase(s: Scenario, lab: Lab, ctl: TanukiControl, first: Snapshot, dir: string): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const old = first.ike?.children.find((c) => c.state === 'INSTALLED');
  if (!old) return ['FAIL no CHILD_SA to rekey'];
  if (s.behaviour === 'rekey-child-by-charon') {
    const r = await lab.swanctl(['--rekey', '--child', 'c1'], 10000);
    writeFileSync(join(dir, 'swanctl-rekey.txt'), r.stdout + r.stderr);
    check(r.status === 0, `swanctl --rekey --child c1 exit status ${r.status}`);
  }
  const rekeyed = (x: Snapshot) => {
    const c = x.ike?.children.find((k) => k.state === 'INSTALLED');
    return c !== undefined && c.spiIn !== old.spiIn && c.spiOut !== old.spiOut && allOk(judge(s, x));
  };
  const wait = s.behaviour === 'rekey-child-by-tanuki' ? TANUKI_REKEY_LIFETIME_S * 1000 + 8000 : 10000;
  const snap = await pollUntil(() => snapshot(lab, ctl, true), rekeyed, wait);
  const now = snap.ike?.children.find((c) => c.state === 'INSTALLED');
  check(now !== undefined && now.spiIn !== old.spiIn && now.spiOut !== old.spiOut, `CHILD_SA rekeyed: charon spi-in/out 0x${hex8(old.spiIn)}/0x${hex8(old.spiOut)} -> 0x${hex8(now?.spiIn ?? 0)}/0x${hex8(now?.spiOut ?? 0)}`);
  checks.push(...judge(s, snap).map((c) => c.replace(/^(ok|FAIL) /, '$1 after rekey: ')));
  if (s.pfs) check(now?.dhGroup === s.pfs.expect, `rekeyed CHILD_SA PFS dh-group ${now?.dhGroup || '(none)'} (want ${s.pfs.expect})`);
  if (s.behaviour === 'rekey-child-by-tanuki') {
    const log = readLog(dir, 'charon.log');
    check(/received .*CREATE_CHILD_SA request|parsed CREATE_CHILD_SA request|QUICK_MODE request/.test(log), 'charon received the rekey request from tanuki');
  }
  if (allOk(checks)) checks.push(...(await trafficPhase(s, lab, ctl, 'after rekey: ')));
  return checks;
}

/**
 * IKE_SA rekey (RFC 7296 §2.18) started by charon (`swanctl --rekey --ike interop`) or by tanuki
 * (its IKE SA lifetime). Passes when both sides show the new IKE SPIs (and tanuki no longer the
 * old ones), the CHILD_SA is still the same pair, and traffic still flows.
 */
async function rekeyIkePhase(s: Scenario, lab: Lab, ctl: TanukiControl, first: Snapshot, dir: string): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const oldIke = first.ike;
  if (!oldIke) return ['FAIL no IKE_SA to rekey'];
  const oldCookies = `${oldIke.initiatorSpi}:${oldIke.responderSpi}`;
  if (s.behaviour === 'rekey-ike-by-charon') {
    const r = await lab.swanctl(['--rekey', '--ike', 'interop'], 10000);
    writeFileSync(join(dir, 'swanctl-rekey.txt'), r.stdout + r.stderr);
    check(r.status === 0, `swanctl --rekey --ike interop exit status ${r.status}`);
  }
  const rekeyed = (x: Snapshot) =>
    x.ike !== null && `${x.ike.initiatorSpi}:${x.ike.responderSpi}` !== oldCookies && !(x.showSa ?? '').includes(oldCookies) && allOk(judge(s, x));
  const wait = s.behaviour === 'rekey-ike-by-tanuki' ? TANUKI_REKEY_LIFETIME_S * 1000 + 8000 : 10000;
  const snap = await pollUntil(() => snapshot(lab, ctl, true), rekeyed, wait);
  const ike = snap.ike;
  const cookies = ike ? `${ike.initiatorSpi}:${ike.responderSpi}` : '(none)';
  check(ike !== null && cookies !== oldCookies, `IKE_SA rekeyed: charon IKE SPIs ${oldCookies} -> ${cookies}`);
  check(!(snap.showSa ?? '').includes(oldCookies), `tanuki show-sa isakmp no longer lists the old IKE_SA ${oldCookies}`);
  // RFC 7296 §2.18: the new IKE SA is created with its own D-H exchange.
  check(ike?.dhGroup === s.ike.expect.dh, `rekeyed IKE_SA dh-group ${ike?.dhGroup} (want ${s.ike.expect.dh})`);
  // Roles after an IKE rekey are those of the rekey exchange: the judge's role check is for the original one.
  const roleAgnostic = judge({ ...s, initiator: ike?.initiator ? 'charon' : 'tanuki' }, snap);
  checks.push(...roleAgnostic.map((c) => c.replace(/^(ok|FAIL) /, '$1 after rekey: ')));
  const oldChild = oldIke.children.find((c) => c.state === 'INSTALLED');
  const child = ike?.children.find((c) => c.state === 'INSTALLED');
  check(child !== undefined && child.spiIn === oldChild?.spiIn, `the CHILD_SA moved to the new IKE_SA unchanged (spi-in 0x${hex8(child?.spiIn ?? 0)})`);
  if (allOk(checks)) checks.push(...(await trafficPhase(s, lab, ctl, 'after rekey: ')));
  return checks;
}

/**
 * A peer dies (SIGKILL: no Delete is sent); the other one's liveness check (RFC 7296 §2.4 / RFC
 * 3706 DPD) notices and removes the IKE_SA and its CHILD_SAs.
 */
async function dpdPhase(s: Scenario, lab: Lab, ctl: TanukiControl, dir: string): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const t0 = Date.now();
  if (s.behaviour === 'dpd-charon-detects') {
    lab.kill('racoon');
    const snap = await pollUntil(() => snapshot(lab, null), (x) => x.ike === null, 20000);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    check(snap.ike === null, `charon removed the IKE_SA of the killed peer (after ${secs} s; state ${snap.ike?.state ?? 'gone'})`);
    const log = readLog(dir, 'charon.log');
    check(/giving up after \d+ retransmits|DPD|retransmit \d+ of request/.test(log), 'charon log shows its liveness check retransmitting / giving up');
  } else {
    lab.kill('charon');
    const snap = await pollUntil(() => snapshot(lab, ctl, true), (x) => x.tanuki.length === 0 && (x.phase1 ?? []).length === 0, 200000);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    check((snap.phase1 ?? []).length === 0, `tanuki removed the IKE_SA of the killed peer (after ${secs} s)`);
    check(snap.tanuki.length === 0, `tanuki's kernel holds ${snap.tanuki.length} SA(s) after the peer died (want 0)`);
  }
  return checks;
}

/**
 * RFC 7383 on a link that drops IP fragments: IKE_AUTH only got through as IKE fragments,
 * in both directions (charon split its own message and reassembled tanuki's).
 */
function fragmentationChecks(dir: string): string[] {
  const log = readLog(dir, 'charon.log');
  const split = /splitting IKE message \((\d+) bytes\) into (\d+) fragments/.exec(log);
  const joined = /reassembled fragmented IKE message \((\d+) bytes\)/.exec(log);
  return [
    `${split ? 'ok' : 'FAIL'} charon sent its IKE_AUTH as IKE fragments${split ? ` (${split[1]} bytes in ${split[2]} fragments)` : ''}`,
    `${joined ? 'ok' : 'FAIL'} charon reassembled tanuki's IKE fragments${joined ? ` (${joined[1]} bytes)` : ''}`,
  ];
}

/**
 * MOBIKE (RFC 4555 §3.5): tanuki gets a new address, its tunnel policies are moved with a PF_KEY
 * MIGRATE (what a Mobile IPv6 node sends, docs/migrate.md), the old address goes away. charon must
 * show the same IKE_SA at the new address, a CHILD_SA whose SPIs tanuki's kernel holds between the
 * new address and charon's, no second IKE_SA_INIT, and traffic both ways on it.
 */
async function mobikePhase(s: Scenario, lab: Lab, ctl: TanukiControl, first: Snapshot, dir: string): Promise<string[]> {
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok' : 'FAIL'} ${what}`);
  const old = endpoints(s);
  const moved: Endpoints = { ...old, tanuki: MOBIKE_NEW_ADDR, tanukiSeenAs: MOBIKE_NEW_ADDR };
  const ip = (ns: string, args: string[]) => {
    const r = cmd('ip', ['-n', ns, ...args]);
    if (r.status !== 0) throw new LabError(`ip ${args.join(' ')}`, r.stderr.trim());
  };
  ip(lab.nsTanuki, ['addr', 'add', `${MOBIKE_NEW_ADDR}/24`, 'dev', lab.vethTanuki]);
  ip(lab.nsCharon, ['route', 'add', `${MOBIKE_NEW_ADDR}/32`, 'dev', lab.vethCharon]);
  const k = `-k ${MOBIKE_NEW_ADDR}-${old.charon}`;
  const migrate =
    `migrate ${NET.tanukiNet} ${NET.charonNet} any -P out esp/tunnel/${old.tanuki}-${old.charon}/require esp/tunnel/${MOBIKE_NEW_ADDR}-${old.charon}/require ${k};\n` +
    `migrate ${NET.charonNet} ${NET.tanukiNet} any -P in esp/tunnel/${old.charon}-${old.tanuki}/require esp/tunnel/${old.charon}-${MOBIKE_NEW_ADDR}/require ${k};\n` +
    `migrate ${NET.charonNet} ${NET.tanukiNet} any -P fwd esp/tunnel/${old.charon}-${old.tanuki}/require esp/tunnel/${old.charon}-${MOBIKE_NEW_ADDR}/require ${k};\n`;
  writeFileSync(join(dir, 'setkey-migrate.conf'), migrate);
  await ctl.loadPolicies(migrate);
  ip(lab.nsTanuki, ['addr', 'del', `${old.tanuki}/${NET.prefix}`, 'dev', lab.vethTanuki]);
  ip(lab.nsTanuki, ['route', 'add', `${old.charon}/32`, 'dev', lab.vethTanuki]);
  const oldCookies = `${first.ike?.initiatorSpi}:${first.ike?.responderSpi}`;
  const movedScenario = (x: Snapshot): string[] => judgeAt(s, x, moved);
  const snap = await pollUntil(() => snapshot(lab, ctl, true), (x) => x.ike?.remoteHost === MOBIKE_NEW_ADDR && allOk(movedScenario(x)), 15000);
  const ike = snap.ike;
  check(ike?.remoteHost === MOBIKE_NEW_ADDR, `charon's IKE_SA remote-host ${ike?.remoteHost ?? '(none)'} (want ${MOBIKE_NEW_ADDR})`);
  check(ike !== null && `${ike.initiatorSpi}:${ike.responderSpi}` === oldCookies, `the same IKE_SA ${oldCookies} moved (no new IKE_SA)`);
  checks.push(...movedScenario(snap).map((c) => c.replace(/^(ok|FAIL) /, '$1 after the move: ')));
  const log = readLog(dir, 'charon.log');
  check(/parsed INFORMATIONAL request \d+ \[ [^\]]*N\(UPD_SA_ADDR\)/.test(log), 'charon received UPDATE_SA_ADDRESSES (RFC 4555 §3.5)');
  const inits = (log.match(/parsed IKE_SA_INIT request/g) ?? []).length;
  check(inits === 1, `charon saw ${inits} IKE_SA_INIT request(s) (want 1: the SA moved, it was not renegotiated)`);
  writeFileSync(join(dir, 'after-move.txt'), `${snap.raw ?? ''}\n${await ctl.dumpText()}\n${snap.showSa ?? ''}`);
  if (allOk(checks)) checks.push(...(await trafficPhase(s, lab, ctl, 'after the move: ', true, moved)));
  return checks;
}

function readLog(dir: string, f: string): string {
  return existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '';
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
  const ep = endpoints(s);
  let certs: Pki | null = null;
  if (s.auth !== 'psk') {
    try {
      certs = await pki(s.auth);
    } catch (e) {
      untrack();
      await lab.teardown();
      const error = e instanceof Error ? e.message : String(e);
      return { name: s.name, result: 'fail', seconds: Math.round((Date.now() - started) / 100) / 10, evidence: { checks: [], error } };
    }
  }
  writeFileSync(join(dir, 'strongswan.conf'), strongswanConf(s, dir, lab.sockDir));
  writeFileSync(join(dir, 'swanctl.conf'), swanctlConf(s, certs));
  if (certs) installCharonCredentials(certs, dir);
  writeFileSync(join(dir, 'racoon.conf'), racoonConf(s, dir, lab.sockDir, certs));
  writeFileSync(join(dir, 'psk.txt'), pskTxt());
  chmodSync(join(dir, 'psk.txt'), 0o600);
  writeFileSync(join(dir, 'setkey.conf'), setkeyPolicies(s));
  const evidence: Evidence = { checks: [] };
  let pass = false;
  let ctl: TanukiControl | null = null;
  try {
    lab.up(s.topology);
    lab.startCharon(join(dir, 'strongswan.conf'));
    lab.startRacoon(join(dir, 'racoon.conf'));
    await waitFor(() => lab.viciReady() || lab.charon?.exitCode !== null, 20000, 'charon vici socket');
    if (!lab.viciReady()) throw new LabError('charon', `exited with status ${lab.charon?.exitCode} (see ${dir}/charon.stdout)`);
    const load = await lab.swanctl(['--load-all', '--file', join(dir, 'swanctl.conf')]);
    writeFileSync(join(dir, 'swanctl-load.txt'), load.stdout + load.stderr);
    if (load.status !== 0) throw new LabError('swanctl --load-all', (load.stderr || load.stdout).trim());
    await waitFor(() => lab.racoonReady() || lab.racoon?.exitCode !== null, 20000, 'racoon sockets');
    if (!lab.racoonReady()) throw new LabError('racoon', `exited with status ${lab.racoon?.exitCode} (see ${dir}/racoon.stdout)`);
    ctl = await TanukiControl.connect(lab.pfkeySocket, lab.adminSocket);
    await ctl.loadPolicies(setkeyPolicies(s));
    let initiate: Promise<CmdResult> | null = null;
    if (s.initiator === 'tanuki') {
      const errno = await ctl.establish(ep.tanuki, ep.charon);
      if (errno !== 0) throw new LabError('racoonctl establish-sa', `racoon answered errno ${errno}`);
    } else {
      // Not awaited: swanctl --initiate blocks until the CHILD_SA is up or fails; both sides are polled instead.
      initiate = lab.swanctl(['--initiate', '--ike', 'interop', '--child', 'c1', '--timeout', '10'], 15000);
    }
    const c = ctl;
    let snap = await pollUntil(() => snapshot(lab, c), (x) => settled(x) || failedEarly(dir), opts.timeoutMs ?? 15000);
    snap = await snapshot(lab, ctl, true);
    if (initiate) {
      const init = await initiate;
      writeFileSync(join(dir, 'swanctl-initiate.txt'), init.stdout + init.stderr);
    }
    evidence.checks = judge(s, snap);
    const { children: _c, ...ikeOnly } = snap.ike ?? { children: [] };
    evidence.charon = { ike: snap.ike ? (ikeOnly as Omit<CharonIkeSa, 'children'>) : null, child: snap.ike?.children.find((k) => k.state === 'INSTALLED') ?? null };
    evidence.tanuki = { sas: snap.tanuki, showSa: (snap.showSa ?? '').trim() };
    writeFileSync(join(dir, 'swanctl-list-sas.txt'), (await lab.swanctl(['--list-sas'])).stdout);
    writeFileSync(join(dir, 'swanctl-list-sas-raw.txt'), snap.raw ?? '');
    if (snap.parseError) evidence.checks.push(`FAIL parsing swanctl --list-sas --raw: ${snap.parseError}`);
    writeFileSync(join(dir, 'setkey-D.txt'), await ctl.dumpText());
    if (s.topology === 'small-mtu') evidence.checks.push(...fragmentationChecks(dir));
    if (allOk(evidence.checks)) evidence.checks.push(...(await trafficPhase(s, lab, ctl, '')));
    if (allOk(evidence.checks)) {
      switch (s.behaviour) {
        case 'establish':
          break;
        case 'delete-by-tanuki':
        case 'delete-by-charon':
          evidence.checks.push(...(await deletePhase(s, lab, ctl, dir)));
          break;
        case 'rekey-child-by-tanuki':
        case 'rekey-child-by-charon':
          evidence.checks.push(...(await rekeyChildPhase(s, lab, ctl, snap, dir)));
          break;
        case 'rekey-ike-by-tanuki':
        case 'rekey-ike-by-charon':
          evidence.checks.push(...(await rekeyIkePhase(s, lab, ctl, snap, dir)));
          break;
        case 'dpd-charon-detects':
        case 'dpd-tanuki-detects':
          evidence.checks.push(...(await dpdPhase(s, lab, ctl, dir)));
          break;
        case 'mobike':
          evidence.checks.push(...(await mobikePhase(s, lab, ctl, snap, dir)));
          break;
      }
    }
    pass = allOk(evidence.checks);
  } catch (e) {
    evidence.error = e instanceof Error ? e.message : String(e);
  } finally {
    await ctl?.close().catch(() => undefined);
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
