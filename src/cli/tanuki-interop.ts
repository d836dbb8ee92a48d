/**
 * `tanuki-interop`: run tanuki against a real strongSwan charon, scenario by
 * scenario (docs/interop.md).
 *
 *   tanuki-interop list [filter] [--all]
 *   tanuki-interop run [filter] [--json] [--results DIR] [--jobs N] [--all]
 *   tanuki-interop check
 */
import { join } from 'node:path';
import { abortReason, PROJECT_ROOT } from '../interop/lab';
import { checkPrerequisites, formatMissing } from '../interop/prereq';
import { newRunDir, writeRun, type RunRecord } from '../interop/results';
import { runScenario, type ScenarioResult } from '../interop/runner';
import { scenarios, selectScenarios } from '../interop/scenario';

/** Scenarios mostly wait on the network and on two daemons: 6 labs keep two cores busy without starving them. */
export const DEFAULT_JOBS = 6;

const USAGE = `usage: tanuki-interop list [filter] [--all]
       tanuki-interop run [filter] [--json] [--results DIR] [--jobs N] [--retries N] [--all]
       tanuki-interop check
  filter: space-separated words, each a substring of the scenario name or a /regex/
  --all: include the experimental scenarios (not in the CI set; \`list --all\` says why)
  --jobs N: run N scenarios at once, each in its own namespaces (default ${DEFAULT_JOBS})
  --retries N: run a failed scenario up to N more times; a later pass is reported as flaky (default 0)
  --json: print {"scenarios":[{"name","result","seconds","evidence"}]} on stdout
  --results DIR: results folder (default ./interop-results); each run is kept in DIR/<timestamp>/
`;

export class UsageError extends Error {}


interface Args {
  verb: 'list' | 'run' | 'check' | 'help';
  filter: string | undefined;
  json: boolean;
  results: string;
  jobs: number;
  all: boolean;
  retries: number;
}

export function parseArgs(argv: readonly string[]): Args {
  const words: string[] = [];
  let json = false;
  let results = join(process.cwd(), 'interop-results');
  let jobs = DEFAULT_JOBS;
  let all = false;
  let retries = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--all') all = true;
    else if (a === '--retries') {
      const v = argv[++i];
      if (!v || !/^[0-3]$/.test(v)) throw new UsageError(`--retries needs 0 to 3, got '${v ?? ''}'`);
      retries = Number(v);
    } else if (a === '--jobs' || a === '-j') {
      const v = argv[++i];
      if (!v || !/^[1-9]\d?$/.test(v)) throw new UsageError(`${a} needs a number of scenarios from 1 to 99, got '${v ?? ''}'`);
      jobs = Number(v);
    }
    else if (a === '--results') {
      const v = argv[++i];
      if (!v) throw new UsageError('--results needs a directory');
      results = v;
    } else if (a === '-h' || a === '--help') return { verb: 'help', filter: undefined, json, results, jobs, all, retries };
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    else words.push(a);
  }
  const verb = words.shift();
  if (verb !== 'list' && verb !== 'run' && verb !== 'check') throw new UsageError(verb ? `unknown command '${verb}'` : 'no command');
  return { verb, filter: words.length > 0 ? words.join(' ') : undefined, json, results, jobs, all, retries };
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`tanuki-interop: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (args.verb === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const selected = selectScenarios(
    scenarios().filter((s) => args.all || s.set === 'ci'),
    args.filter,
  );
  if (args.verb === 'list') {
    for (const s of selected) process.stdout.write(s.set === 'ci' ? `${s.name}\n` : `${s.name}\t[experimental: ${s.note ?? ''}]\n`);
    return 0;
  }
  const missing = checkPrerequisites();
  if (args.verb === 'check') {
    process.stdout.write(missing.length === 0 ? 'all prerequisites present\n' : formatMissing(missing));
    return missing.length === 0 ? 0 : 1;
  }
  if (missing.length > 0) {
    process.stderr.write(`tanuki-interop: cannot run, prerequisites missing:\n${formatMissing(missing)}`);
    return 1;
  }
  if (selected.length === 0) {
    process.stderr.write(`tanuki-interop: no scenario matches '${args.filter}'\n`);
    return 1;
  }
  const runDir = newRunDir(args.results);
  const rec: RunRecord = { started: new Date().toISOString(), filter: args.filter ?? null, scenarios: [] };
  const log = (s: string) => process.stderr.write(s);
  log(`tanuki-interop: ${selected.length} scenario(s), ${Math.min(args.jobs, selected.length)} at a time, results in ${runDir}\n`);
  const t0 = Date.now();
  const results: (ScenarioResult | undefined)[] = new Array(selected.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (!abortReason()) {
      const n = next++;
      const s = selected[n];
      if (!s) return;
      const failedAttempts: NonNullable<ScenarioResult['failedAttempts']> = [];
      let r: ScenarioResult;
      for (let attempt = 0; ; attempt++) {
        const dir = join(runDir, attempt === 0 ? s.name : `${s.name}.retry${attempt}`);
        try {
          r = await runScenario(s, { dir });
        } catch (e) {
          if (abortReason()) return;
          r = { name: s.name, result: 'fail', seconds: 0, evidence: { checks: [], error: e instanceof Error ? e.message : String(e) } };
        }
        if (r.result === 'pass' || attempt >= args.retries || abortReason()) break;
        failedAttempts.push({ seconds: r.seconds, ...(r.evidence.error ? { error: r.evidence.error } : {}), failed: r.evidence.checks.filter((x) => !x.startsWith('ok')) });
        log(`    ${s.name} failed (attempt ${attempt + 1}), retrying\n`);
      }
      if (failedAttempts.length > 0) r.failedAttempts = failedAttempts;
      results[n] = r;
      done++;
      log(`[${done}/${selected.length}] ${r.result.toUpperCase()}${r.result === 'pass' && r.failedAttempts ? ' (flaky)' : ''} ${s.name} (${r.seconds.toFixed(1)} s)\n`);
      if (r.result === 'fail') {
        for (const c of [...(r.evidence.error ? [`error: ${r.evidence.error}`] : []), ...r.evidence.checks.filter((x) => !x.startsWith('ok'))]) log(`    ${c}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.jobs, selected.length) }, () => worker()));
  rec.scenarios = results.filter((r): r is ScenarioResult => r !== undefined);
  log(`wall clock ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const files = writeRun(runDir, args.results, rec);
  const passed = rec.scenarios.filter((s) => s.result === 'pass').length;
  const flaky = rec.scenarios.filter((s) => s.result === 'pass' && s.failedAttempts).map((s) => s.name);
  log(`${passed}/${rec.scenarios.length} passed${flaky.length ? ` (${flaky.length} only on a retry: ${flaky.join(', ')})` : ''}; report ${files.html}\n`);
  if (args.json) {
    const out = rec.scenarios.map(({ name, result, seconds, evidence, failedAttempts }) => ({ name, result, seconds, evidence, ...(failedAttempts ? { failedAttempts } : {}) }));
    process.stdout.write(`${JSON.stringify({ scenarios: out })}\n`);
  }
  return passed === rec.scenarios.length && rec.scenarios.length === selected.length ? 0 : 1;
}

// PROJECT_ROOT is re-exported for tests that need the bin directory.
export { PROJECT_ROOT };
