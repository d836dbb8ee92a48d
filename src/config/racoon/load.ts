/**
 * Entry points: parse racoon.conf text or a file into an immutable RacoonConfig.
 */
import { realFileSystem } from './files';
import { type ParseOptions, RacoonParser } from './parser';
import type { ParseResult } from './types';

/** Parse configuration text; `file` names it in errors and anchors relative includes. */
export function parseRacoonConfigText(text: string, file = 'racoon.conf', opts: ParseOptions = {}): ParseResult {
  return new RacoonParser(file, text, opts).parse();
}

/** Parse a configuration file (racoon -f). A file that cannot be read is an error, not an exception. */
export function parseRacoonConfig(path: string, opts: ParseOptions = {}): ParseResult {
  const data = (opts.fs ?? realFileSystem).readFile(path);
  if (data === null) {
    return {
      ok: false,
      errors: [{ file: path, line: 0, column: 0, message: `could not read configuration file "${path}"`, token: '', expected: [] }],
      warnings: [],
    };
  }
  return parseRacoonConfigText(data.toString('latin1'), path, opts);
}

