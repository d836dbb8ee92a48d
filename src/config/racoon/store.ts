/**
 * The running configuration and its reload (SIGHUP / `racoonctl reload-config`):
 * a configuration that fails to parse never replaces the running one.
 */
import { parseRacoonConfig } from './load';
import type { ParseOptions } from './parser';
import type { ConfigError, ConfigWarning, RacoonConfig } from './types';

export type ReloadResult =
  | { readonly ok: true; readonly config: RacoonConfig; readonly warnings: readonly ConfigWarning[] }
  | { readonly ok: false; readonly errors: readonly ConfigError[]; readonly warnings: readonly ConfigWarning[]; readonly kept: RacoonConfig | null };

export class RacoonConfigStore {
  private running: RacoonConfig | null = null;

  constructor(
    readonly path: string,
    private readonly opts: ParseOptions = {},
  ) {}

  /** The configuration in force, null before the first successful load. */
  get current(): RacoonConfig | null {
    return this.running;
  }

  /** Parse the file again; on success it becomes current, on failure the running one stays. */
  reload(opts: ParseOptions = this.opts): ReloadResult {
    const r = parseRacoonConfig(this.path, opts);
    if (!r.ok) return { ok: false, errors: r.errors, warnings: r.warnings, kept: this.running };
    this.running = r.config;
    return { ok: true, config: r.config, warnings: r.warnings };
  }
}
