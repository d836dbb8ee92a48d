/**
 * The results folder: one directory per run (`<root>/<UTC timestamp>/`) with
 * results.json, report.html and one sub-directory per scenario (configs, logs,
 * raw evidence). Runs are never overwritten; the report compares with the
 * previous run and lists new failures first.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioResult } from './runner';

export interface RunRecord {
  started: string;
  filter: string | null;
  scenarios: ScenarioResult[];
}

export function newRunDir(root: string, now = new Date()): string {
  mkdirSync(root, { recursive: true });
  const base = now.toISOString().replace(/[:.]/g, '-');
  let dir = join(root, base);
  for (let n = 1; existsSync(dir); n++) dir = join(root, `${base}-${n}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The most recent run before `current` that has a results.json. */
export function previousRun(root: string, current: string): RunRecord | null {
  if (!existsSync(root)) return null;
  const dirs = readdirSync(root)
    .filter((d) => join(root, d) !== current && existsSync(join(root, d, 'results.json')))
    .sort();
  const last = dirs[dirs.length - 1];
  if (!last) return null;
  try {
    const parsed: unknown = JSON.parse(readFileSync(join(root, last, 'results.json'), 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { scenarios?: unknown }).scenarios)) return parsed as RunRecord;
  } catch {
    /* a damaged earlier run is simply not compared */
  }
  return null;
}

export interface Change {
  name: string;
  before: 'pass' | 'fail' | 'new';
  after: 'pass' | 'fail';
}

export function diff(prev: RunRecord | null, cur: RunRecord): Change[] {
  const before = new Map((prev?.scenarios ?? []).map((s) => [s.name, s.result]));
  const changes: Change[] = [];
  for (const s of cur.scenarios) {
    const b = before.get(s.name) ?? 'new';
    if (b !== s.result) changes.push({ name: s.name, before: b, after: s.result });
  }
  const rank = (c: Change) => (c.after === 'fail' ? 0 : 1);
  return changes.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderHtml(cur: RunRecord, prev: RunRecord | null): string {
  const changes = diff(prev, cur);
  const passed = cur.scenarios.filter((s) => s.result === 'pass').length;
  const rows = cur.scenarios
    .map((s) => {
      const detail =
        s.result === 'fail'
          ? `<details open><summary>why</summary><pre class="checks">${esc([...(s.evidence.error ? [`error: ${s.evidence.error}`] : []), ...s.evidence.checks].join('\n'))}</pre>` +
            `<h4>charon</h4><pre class="log charon">${esc((s.evidence.charonLog ?? []).join('\n'))}</pre>` +
            `<h4>tanuki</h4><pre class="log tanuki">${esc((s.evidence.tanukiLog ?? []).join('\n'))}</pre></details>`
          : `<span class="spis">${esc(s.evidence.checks.filter((c) => c.includes('SPI')).join('; '))}</span>`;
      const flaky = s.result === 'pass' && s.failedAttempts ? ` <span class="flaky">(flaky: passed after ${s.failedAttempts.length} failed attempt(s): ${esc(s.failedAttempts.map((a) => a.error ?? a.failed.join('; ')).join(' | '))})</span>` : '';
      return `<tr class="${s.result}"><td>${esc(s.name)}${flaky}</td><td>${s.result}</td><td>${s.seconds.toFixed(1)}</td><td>${detail}</td></tr>`;
    })
    .join('\n');
  const diffRows = changes.map((c) => `<li class="${c.after}">${esc(c.name)}: ${c.before} → ${c.after}</li>`).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>tanuki-interop ${esc(cur.started)}</title>
<style>
body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;vertical-align:top}
tr.pass td:nth-child(2){background:#cfc}tr.fail td:nth-child(2){background:#fcc}pre{font-size:11px;max-width:100ch;overflow:auto}
li.fail{color:#a00}li.pass{color:#070}
</style></head><body>
<h1>tanuki ↔ strongSwan interop, ${esc(cur.started)}</h1>
<p id="summary">${passed} of ${cur.scenarios.length} scenarios pass${cur.filter ? ` (filter: ${esc(cur.filter)})` : ''}.</p>
<h2>Changes since the previous run</h2>
<ul id="diff">${prev ? diffRows || '<li>no changes</li>' : '<li>no previous run</li>'}</ul>
<h2>Scenarios</h2>
<table id="scenarios"><thead><tr><th>scenario</th><th>result</th><th>seconds</th><th>evidence</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}

export function writeRun(runDir: string, root: string, rec: RunRecord): { html: string; json: string } {
  const prev = previousRun(root, runDir);
  const json = join(runDir, 'results.json');
  const html = join(runDir, 'report.html');
  writeFileSync(json, JSON.stringify(rec, null, 2));
  writeFileSync(html, renderHtml(rec, prev));
  return { html, json };
}
