/**
 * Issue 9: the HTML report is looked at the way a person would — Debian's
 * headless Chromium loads report.html from a results folder holding two runs,
 * and the rendered DOM must show the scenario table, the "changes since the
 * previous run" list with the new failure first, and the failing scenario's
 * decisive log lines from both peers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRunDir, writeRun, type RunRecord } from '../../src/interop/results';
import type { ScenarioResult } from '../../src/interop/runner';

const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);

function scenario(name: string, result: 'pass' | 'fail'): ScenarioResult {
  return {
    name,
    result,
    seconds: 9.5,
    evidence:
      result === 'pass'
        ? { checks: ['ok tanuki outbound SPI 0xcc6cf624 = charon spi-in 0xcc6cf624'] }
        : {
            checks: ['FAIL tanuki has 0 outbound SA(s) 10.99.0.2->10.99.0.1 (want 1)'],
            charonLog: ['03:08:05 15[CFG] selected proposal: ESP:CHACHA20_POLY1305/NO_EXT_SEQ'],
            tanukiLog: ['{"level":50,"msg":"no proposal chosen: the responder answered with an ESP proposal we did not offer"}'],
          },
  };
}

describe('report.html in headless Chromium', () => {
  const root = mkdtempSync(join(tmpdir(), 'tanuki-interop-report-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('Debian chromium is installed (apt-get install -y chromium)', () => {
    expect(CHROMIUM).toBeDefined();
  });

  it('shows the table, the diff with the new failure first, and both peers’ log lines', () => {
    const first = newRunDir(root, new Date('2026-11-22T03:00:00Z'));
    const prev: RunRecord = { started: '2026-11-22T03:00:00Z', filter: null, scenarios: [scenario('s-gcm', 'pass'), scenario('s-chacha', 'pass'), scenario('s-cbc', 'fail')] };
    writeRun(first, root, prev);
    const second = newRunDir(root, new Date('2026-11-22T03:10:00Z'));
    const cur: RunRecord = { started: '2026-11-22T03:10:00Z', filter: null, scenarios: [scenario('s-gcm', 'pass'), scenario('s-chacha', 'fail'), scenario('s-cbc', 'pass')] };
    const { html } = writeRun(second, root, cur);
    const r = spawnSync(CHROMIUM ?? 'chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--user-data-dir=' + join(root, 'profile'), '--dump-dom', `file://${html}`], {
      encoding: 'utf8',
      timeout: 40000,
    });
    expect(r.status).toBe(0);
    const dom = r.stdout;
    const rows = [...dom.matchAll(/<tr class="(pass|fail)"><td>([^<]+)<\/td><td>(pass|fail)<\/td>/g)].map((m) => `${m[2]}=${m[3]}`);
    expect(rows).toEqual(['s-gcm=pass', 's-chacha=fail', 's-cbc=pass']);
    const diff = /<ul id="diff">([\s\S]*?)<\/ul>/.exec(dom)?.[1] ?? '';
    expect([...diff.matchAll(/<li class="(?:pass|fail)">([^<]+)<\/li>/g)].map((m) => m[1])).toEqual(['s-chacha: pass → fail', 's-cbc: fail → pass']);
    expect(dom).toContain('selected proposal: ESP:CHACHA20_POLY1305/NO_EXT_SEQ');
    expect(dom).toContain('no proposal chosen: the responder answered with an ESP proposal we did not offer');
    expect(dom).toContain('2 of 3 scenarios pass');
  }, 60000);
});
