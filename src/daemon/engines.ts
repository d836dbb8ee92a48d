/**
 * The keying engines the daemon runs. IKEv2 and IKEv1 register here as they
 * are wired in (see README "Supported").
 */
import type { EngineFactory } from './racoon';

export function engineFactories(): EngineFactory[] {
  return [];
}
