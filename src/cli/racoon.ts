/**
 * `racoon` — the keying daemon (see README "racoon").
 */
import { spawn } from 'node:child_process';
import { checkConfiguration } from '../config/check';
import { RacoonConfigError, RacoonDaemon } from '../daemon/racoon';
import { createLogger, levelFromDebugFlags, pinoLevel } from '../daemon/log';
import { parseRacoonArgs, RACOON_USAGE, RacoonUsageError, type RacoonOptions } from '../daemon/options';
import { engineFactories } from '../daemon/engines';

const VERSION = 'tanuki racoon 0.1.0 (ipsec-tools racoon compatible)';

export async function main(argv: string[]): Promise<number> {
  let opts: RacoonOptions;
  try {
    opts = parseRacoonArgs(argv);
  } catch (err) {
    if (err instanceof RacoonUsageError) {
      process.stderr.write(`racoon: ${err.message}\n${RACOON_USAGE}\n`);
      return 1;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(RACOON_USAGE + '\n');
    return 0;
  }
  if (opts.version) {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  if (opts.check) {
    const r = checkConfiguration(opts.configFile);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const e of r.errors) process.stderr.write(`${e}\n`);
    if (r.ok) process.stdout.write(`${opts.configFile}: configuration OK\n`);
    return r.ok ? 0 : 1;
  }
  if (!opts.foreground && process.env.TANUKI_DAEMONIZED !== '1') {
    // racoon daemonizes; Node cannot fork, so start ourselves detached in the foreground and leave.
    const child = spawn(process.execPath, [process.argv[1], ...argv, '-F'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, TANUKI_DAEMONIZED: '1' },
    });
    child.unref();
    return 0;
  }
  const log = createLogger({ level: levelFromDebugFlags('info', opts.debug, opts.verbose), ...(opts.logFile ? { file: opts.logFile } : {}) });
  let daemon: RacoonDaemon;
  try {
    daemon = new RacoonDaemon(opts, log, engineFactories());
  } catch (err) {
    if (err instanceof RacoonConfigError) {
      for (const e of err.errors) log.error({}, e);
      log.error({ file: opts.configFile }, 'failed to parse configuration file');
      return 1;
    }
    throw err;
  }
  log.level = pinoLevel(levelFromDebugFlags(daemon.config().log, opts.debug, opts.verbose));
  try {
    await daemon.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, `racoon failed to start: ${(err as Error).message}`);
    // close what was already open (sockets, the embedded kernel) so that the process ends
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'caught signal, shutting down');
      daemon.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: (err as Error).message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      log.info({ signal: 'SIGHUP' }, 'caught signal, reloading configuration');
      daemon.reload();
    });
  });
}
