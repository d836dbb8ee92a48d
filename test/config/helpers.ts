/** Shared helpers for the config tests: an in-memory file system and parse shorthands. */
import type { FileSystem } from '../../src/config/racoon/files';
import { globFiles } from '../../src/config/racoon/files';
import { type ParseOptions, formatConfigError, parseRacoonConfigText, type RacoonConfig, type ConfigError } from '../../src/config/racoon';

export function memFs(files: Record<string, string>): FileSystem {
  const names = Object.keys(files);
  const toRe = (g: string): RegExp => new RegExp('^' + g.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  return {
    readFile: (p) => (p in files ? Buffer.from(files[p], 'latin1') : null),
    glob: (pattern) => names.filter((n) => toRe(pattern).test(n)).sort(),
    lookupUser: (n) => ({ root: 0, racoon: 110 } as Record<string, number>)[n] ?? null,
    lookupGroup: (n) => ({ root: 0, operator: 37, racoon: 120 } as Record<string, number>)[n] ?? null,
  };
}

export const noFiles = memFs({});

/** Parse and expect success. */
export function parseOk(text: string, opts: ParseOptions = {}): RacoonConfig {
  const r = parseRacoonConfigText(text, '/etc/racoon/racoon.conf', { fs: noFiles, loadFiles: false, ...opts });
  if (!r.ok) throw new Error('unexpected parse failure:\n' + r.errors.map(formatConfigError).join('\n'));
  return r.config;
}

/** Parse and expect failure; returns the first error. */
export function parseErr(text: string, opts: ParseOptions = {}): ConfigError {
  const r = parseRacoonConfigText(text, '/etc/racoon/racoon.conf', { fs: noFiles, loadFiles: false, ...opts });
  if (r.ok) throw new Error('expected a parse failure');
  return r.errors[0];
}

/** A complete remote block body for tests that need a valid remote. */
export const PROPOSAL = `proposal { encryption_algorithm aes; hash_algorithm sha1; authentication_method pre_shared_key; dh_group 2; }`;
export const SAINFO_ALGS = `encryption_algorithm aes; authentication_algorithm hmac_sha1; compression_algorithm deflate;`;

export { globFiles };
