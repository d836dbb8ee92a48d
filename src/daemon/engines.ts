/**
 * The keying engines the daemon runs: IKEv1 (racoon's protocol) for
 * `remote` blocks without `ike_version` or with `ike_version 1`, IKEv2 for
 * `ike_version 2`. Each takes the IKE messages of its own version.
 */
import { ikev1EngineFactory } from './ikev1';
import { ikev2EngineFactory } from './ikev2';
import type { EngineFactory } from './racoon';

export function engineFactories(): EngineFactory[] {
  return [ikev2EngineFactory, ikev1EngineFactory];
}
