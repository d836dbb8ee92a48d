/**
 * `npm run bench`: runs every benchmark module in MODULES, prints one table
 * and writes bench/results/latest.json. Performance is measured here only,
 * never in the test suite.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as crypto from './crypto';
import * as esp from './esp';
import * as espMulticore from './esp-multicore';
import * as ikev2 from './ikev2';
import * as ikev2Udp from './ikev2-udp';
import * as iperf from './iperf';
import * as kernel from './kernel';
import * as pfkey from './pfkey';
import type { BenchModule, BenchResult } from './types';

/** Add a module here to have it run. */
export const MODULES: BenchModule[] = [
  { name: 'crypto', run: crypto.run },
  { name: 'esp', run: esp.run },
  { name: 'esp-multicore', run: espMulticore.run },
  { name: 'kernel', run: kernel.run },
  { name: 'pfkey', run: pfkey.run },
  { name: 'ikev2', run: ikev2.run },
  { name: 'ikev2-udp', run: ikev2Udp.run },
  { name: 'iperf', run: iperf.run },
];

function repoRoot(): string {
  let dir = resolve(__dirname);
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3);
}

export function formatTable(rows: Array<BenchResult & { module: string }>): string {
  const header = ['module', 'benchmark', 'value', 'unit', 'baseline', 'ratio'];
  const cells = rows.map((r) => [r.module, r.name, fmt(r.value), r.unit, fmt(r.baseline), r.ratio.toFixed(3)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i >= 2 && i !== 3 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export async function main(): Promise<number> {
  const rows: Array<BenchResult & { module: string }> = [];
  for (const m of MODULES) {
    process.stderr.write(`bench: ${m.name}…\n`);
    for (const r of await m.run()) rows.push({ module: m.name, ...r });
  }
  process.stdout.write(`${formatTable(rows)}\n`);
  const outDir = join(repoRoot(), 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const report = { date: new Date().toISOString(), node: process.version, platform: `${process.platform}/${process.arch}`, results: rows };
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${join(outDir, 'latest.json')}\n`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
