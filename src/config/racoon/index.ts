/**
 * racoon.conf: parse a file (with its includes) into an immutable RacoonConfig.
 */
import * as nodePath from 'node:path';
import type { RacoonConfig } from './types';

export * from './types';
export { parseRacoonConfig, parseRacoonConfigText } from './load';
export { type KernelAlgorithm, type KernelAlgorithms, type ParseOptions, kernelAlgorithmsFromRegister } from './parser';
export * from './select';
export { lookupRacoonAlgorithm, ikev2ProposalTransforms, type RacoonAlgorithm, type AlgorithmClass } from './algorithms';
export { addressId, textId, sockaddrToId, chkcmpids } from './ids';

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

export { RacoonConfigStore, type ReloadResult } from './store';
