/**
 * The keying engines the daemon runs: IKEv2 for `remote { ike_version 2; }`
 * blocks. IKEv1 (racoon's own protocol) registers here when it lands.
 */
import { ikev2EngineFactory } from './ikev2';
import type { EngineFactory } from './racoon';

export function engineFactories(): EngineFactory[] {
  return [ikev2EngineFactory];
}
