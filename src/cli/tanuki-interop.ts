/**
 * `tanuki-interop`: run tanuki against a real strongSwan charon, scenario by
 * scenario (docs/interop.md).
 *
 *   tanuki-interop list [filter]
 *   tanuki-interop run [filter] [--json] [--results DIR]
 *   tanuki-interop check
 */
import { join } from 'node:path';
import { abortReason, PROJECT_ROOT } from '../interop/lab';
import { checkPrerequisites, formatMissing } from '../interop/prereq';
import { newRunDir, writeRun, type RunRecord } from '../interop/results';
import { runScenario, type ScenarioResult } from '../interop/runner';
import { scenarios, selectScenarios } from '../interop/scenario';

const USAGE = `usage: tanuki-interop list [filter]
       tanuki-interop run [filter] [--json] [--results DIR]
       tanuki-interop check
  filter: space-separated words, each a substring of the scenario name or a /regex/
  --json: print {"scenarios":[{"name","result","seconds","evidence"}]} on stdout
  --results DIR: results folder (default ./interop-results); each run is kept in DIR/<timestamp>/
`;

export class UsageError extends Error {}

interface Args {
  verb: 'list' | 'run' | 'check' | 'help';
  filter: string | undefined;
  json: boolean;
  results: string;
}

export function parseArgs(argv: readonly string[]): Args {
  const words: string[] = [];
  let json = false;
  let results = join(process.cwd(), 'interop-results');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--results') {
      const v = argv[++i];
      if (!v) throw new UsageError('--results needs a directory');
      results = v;
    } else if (a === '-h' || a === '--help') return { verb: 'help', filter: undefined, json, results };
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    else words.push(a);
  }
  const verb = words.shift();
  if (verb !== 'list' && verb !== 'run' && verb !== 'check') throw new UsageError(verb ? `unknown command '${verb}'` : 'no command');
  return { verb, filter: words.length > 0 ? words.join(' ') : undefined, json, results };
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
  const selected = selectScenarios(scenarios(), args.filter);
  if (args.verb === 'list') {
    for (const s of selected) process.stdout.write(`${s.name}\n`);
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
  log(`tanuki-interop: ${selected.length} scenario(s), results in ${runDir}\n`);
  for (const [n, s] of selected.entries()) {
    if (abortReason()) break;
    log(`[${n + 1}/${selected.length}] ${s.name} … `);
    const r: ScenarioResult = await runScenario(s, { dir: join(runDir, s.name) });
    rec.scenarios.push(r);
    log(`${r.result.toUpperCase()} (${r.seconds.toFixed(1)} s)\n`);
    if (r.result === 'fail') {
      for (const c of [...(r.evidence.error ? [`error: ${r.evidence.error}`] : []), ...r.evidence.checks.filter((x) => !x.startsWith('ok'))]) log(`    ${c}\n`);
    }
  }
  const files = writeRun(runDir, args.results, rec);
  const passed = rec.scenarios.filter((s) => s.result === 'pass').length;
  log(`${passed}/${rec.scenarios.length} passed; report ${files.html}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify({ scenarios: rec.scenarios.map(({ name, result, seconds, evidence }) => ({ name, result, seconds, evidence })) })}\n`);
  return passed === rec.scenarios.length ? 0 : 1;
}

// PROJECT_ROOT is re-exported for tests that need the bin directory.
export { PROJECT_ROOT };
