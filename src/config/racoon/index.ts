/**
 * racoon.conf: parse a file (with its includes) into an immutable RacoonConfig.
 */
import * as nodePath from 'node:path';
import { realFileSystem } from './files';
import { type ParseOptions, RacoonParser } from './parser';
import type { ParseResult, RacoonConfig } from './types';

export * from './types';
export { type KernelAlgorithm, type KernelAlgorithms, type ParseOptions, kernelAlgorithmsFromRegister } from './parser';
export * from './select';
export { lookupRacoonAlgorithm, ikev2ProposalTransforms, type RacoonAlgorithm, type AlgorithmClass } from './algorithms';
export { addressId, textId, sockaddrToId, chkcmpids } from './ids';

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

/**
 * getpathname(LC_PATHTYPE_CERT, name): where a certificate/key named in the
 * configuration lives — absolute names as written, others under `path
 * certificate` (or, without one, next to the main configuration file).
 */
export function certificatePath(config: RacoonConfig, name: string): string {
  if (name.startsWith('/')) return name;
  if (config.path.certificate !== null) return `${config.path.certificate}/${name}`;
  return nodePath.join(nodePath.dirname(config.files[0] ?? '.'), name);
}
