/** One measured number of `npm run bench`. */
export interface BenchResult {
  /** What was measured, e.g. "spd lookup, 10000 policies". */
  name: string;
  /** The measurement (higher is better for rates). */
  value: number;
  /** Unit of value and baseline, e.g. "lookups/s". */
  unit: string;
  /** The reference measured in the same run (see the module's docs for what it is). */
  baseline: number;
  /** value / baseline. */
  ratio: number;
}

/** A benchmark module: bench/run.ts calls run() of each one in its list. */
export interface BenchModule {
  name: string;
  run(): Promise<BenchResult[]>;
}
