/**
 * pino logging at racoon's levels (error, warning, notify, info, debug, debug2):
 * pretty on a terminal, one JSON object per line otherwise. racoon's levels map
 * onto pino's: warning→warn, notify→info, debug2→trace.
 */
import { createWriteStream } from 'node:fs';
import pino, { type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from '../config/racoon/types';

export type DaemonLogger = Logger;

const PINO_LEVEL: Record<LogLevel, Level> = { error: 'error', warning: 'warn', notify: 'info', info: 'info', debug: 'debug', debug2: 'trace' };

export function pinoLevel(level: LogLevel): Level {
  return PINO_LEVEL[level];
}

export interface LoggerOptions {
  level: LogLevel;
  /** -l logfile: append JSON lines there instead of stdout. */
  file?: string;
  /** Force pretty (true) or JSON (false); default: pretty when stdout is a TTY. */
  pretty?: boolean;
  name?: string;
}

/** -d raises to debug, -dd to debug2; -v at least info. */
export function levelFromDebugFlags(base: LogLevel, dflags: number, verbose: boolean): LogLevel {
  if (dflags >= 2) return 'debug2';
  if (dflags === 1) return 'debug';
  if (verbose && (base === 'error' || base === 'warning' || base === 'notify')) return 'info';
  return base;
}

export function createLogger(opts: LoggerOptions): DaemonLogger {
  const usePretty = opts.file === undefined && (opts.pretty ?? process.stdout.isTTY === true);
  const stream = opts.file
    ? createWriteStream(opts.file, { flags: 'a' })
    : usePretty
      ? pretty({ colorize: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss', ignore: 'pid,hostname', sync: true })
      : process.stdout;
  return pino({ name: opts.name ?? 'racoon', level: pinoLevel(opts.level) }, stream);
}
