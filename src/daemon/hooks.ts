/**
 * racoon's hook scripts (`script "path" phase1_up|phase1_down|phase1_dead;` in a
 * remote): run as `path phase1_up` with racoon's environment variables
 * LOCAL_ADDR, LOCAL_PORT, REMOTE_ADDR, REMOTE_PORT, REMOTE_ID (and IKE_COOKIE,
 * as the maintained fork adds). Fire and forget; failures are logged.
 */
import { spawn } from 'node:child_process';
import type { RacoonConfig, RemoteConf } from '../config/racoon';
import { EvtType, type EvtAsync } from './admin/wire';
import type { DaemonLogger } from './log';

export type HookPhase = 'phase1_up' | 'phase1_down' | 'phase1_dead';

const PHASE_OF: Partial<Record<EvtType, HookPhase>> = {
  [EvtType.PHASE1_UP]: 'phase1_up',
  [EvtType.PHASE1_DOWN]: 'phase1_down',
  [EvtType.PHASE1_DPD_TIMEOUT]: 'phase1_dead',
};

export function hookEnvironment(e: EvtAsync, remote: RemoteConf | null, cookie?: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (e.ph1src) {
    env.LOCAL_ADDR = e.ph1src.address;
    env.LOCAL_PORT = String(e.ph1src.port);
  }
  if (e.ph1dst) {
    env.REMOTE_ADDR = e.ph1dst.address;
    env.REMOTE_PORT = String(e.ph1dst.port);
  }
  const id = remote?.peersIdentifiers[0]?.value;
  if (id) env.REMOTE_ID = id;
  if (cookie) env.IKE_COOKIE = cookie;
  return env;
}

/** The remote whose address is the event's peer (an anonymous remote matches any). */
export function remoteForEvent(config: RacoonConfig, e: EvtAsync): RemoteConf | null {
  const peer = e.ph1dst?.address;
  if (!peer) return null;
  return config.remotes.find((r) => r.remote?.address === peer) ?? config.remotes.find((r) => r.remote === null) ?? null;
}

/** Run the hook for this event, if the remote configures one. Returns the script run, or null. */
export function runHook(config: RacoonConfig, e: EvtAsync, log: DaemonLogger, extra: Record<string, string> = {}): string | null {
  const phase = PHASE_OF[e.type as EvtType];
  if (!phase) return null;
  const remote = remoteForEvent(config, e);
  const script = remote?.scripts[phase] ?? null;
  if (!script) return null;
  const env = { ...hookEnvironment(e, remote), ...extra };
  try {
    const child = spawn(script, [phase], { env: { ...process.env, ...env }, stdio: 'ignore', detached: false });
    child.on('error', (err) => log.error({ script, phase, err: err.message }, `script ${script} failed`));
    child.on('exit', (code) => {
      if (code !== 0) log.warn({ script, phase, code }, `script ${script} exited with status ${code}`);
    });
  } catch (err) {
    log.error({ script, phase, err: (err as Error).message }, `script ${script} failed`);
  }
  return script;
}
