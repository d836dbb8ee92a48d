/**
 * `tanuki-kernel [--socket PATH] [-F] [-v]`: tanuki's userspace PF_KEYv2
 * kernel on its own, served on a unix socket for setkey, racoon and tests.
 * Runs in the foreground until SIGTERM or SIGINT, then removes its socket.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { KernelAlreadyRunningError, PfKeyServer } from '../kernel/server';
import { resolveSocketPath } from '../kernel/index';
import { UserspaceKernel } from '../kernel/userspace/kernel';
import { PFKEY_SOCKET_ENV } from '../pfkey/socket';

export const USAGE = `usage: tanuki-kernel [--socket PATH] [-F] [-v]
  --socket PATH  unix socket to serve PF_KEY on (default $${PFKEY_SOCKET_ENV}, else /run/tanuki/pfkey.sock)
  -F             run in the foreground (the default and only mode)
  -v             verbose (debug) logging
  -h, --help     this text`;

export interface KernelCliOptions {
  socketPath?: string;
  verbose: boolean;
}

export type ParsedArgs = { ok: true; opts: KernelCliOptions; help: boolean } | { ok: false; error: string };

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const opts: KernelCliOptions = { verbose: false };
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--socket' || a === '-S') {
      const v = argv[++i];
      if (v === undefined || v === '') return { ok: false, error: `${a} needs a path` };
      opts.socketPath = v;
    } else if (a.startsWith('--socket=')) {
      const v = a.slice('--socket='.length);
      if (v === '') return { ok: false, error: '--socket needs a path' };
      opts.socketPath = v;
    } else if (a === '-F') {
      // foreground is the only mode
    } else if (a === '-v' || a === '--verbose') {
      opts.verbose = true;
    } else if (a === '-h' || a === '--help') {
      help = true;
    } else {
      return { ok: false, error: `unknown argument "${a}"` };
    }
  }
  return { ok: true, opts, help };
}

function makeLogger(verbose: boolean): Logger {
  const level = verbose ? 'debug' : 'info';
  if (process.stderr.isTTY) return pino({ level, base: { name: 'tanuki-kernel' } }, pretty({ colorize: true, destination: 2 }));
  return pino({ level, base: { name: 'tanuki-kernel' } }, pino.destination(2));
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    process.stderr.write(`tanuki-kernel: ${parsed.error}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const log = makeLogger(parsed.opts.verbose);
  const socketPath = resolveSocketPath(parsed.opts.socketPath);
  const kernel = new UserspaceKernel({ log });
  let server: PfKeyServer;
  try {
    server = await PfKeyServer.listen({ socketPath, kernel, log });
  } catch (err) {
    kernel.shutdown();
    const reason = err instanceof KernelAlreadyRunningError ? err.message : `cannot serve ${socketPath}: ${err instanceof Error ? err.message : String(err)}`;
    process.stderr.write(`tanuki-kernel: ${reason}\n`);
    return 1;
  }
  process.stdout.write(`tanuki-kernel: listening on ${socketPath}\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      log.info({ signal }, 'tanuki-kernel stopping');
      void server.close().then(() => {
        kernel.shutdown();
        resolve(0);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
