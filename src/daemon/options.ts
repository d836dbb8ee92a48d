/**
 * racoon's command line: `racoon [-46BdFLtvV] [-f conf] [-l logfile] [-P natt-port]
 * [-p isakmp-port]` plus tanuki's long options for the kernel backend and the
 * userspace data plane.
 */
import type { KernelBackendName } from '../pfkey/socket';

export const DEFAULT_RACOON_CONF = '/etc/racoon/racoon.conf';

export interface RacoonOptions {
  family: 4 | 6 | null; // -4 / -6: only that family
  backupSa: boolean; // -B
  debug: number; // -d (repeatable)
  foreground: boolean; // -F
  logToStderr: boolean; // -L (racoon: log to file given by -l or stderr)
  verbose: boolean; // -v
  check: boolean; // -t: validate the configuration and exit
  version: boolean; // -V
  help: boolean;
  configFile: string; // -f
  logFile?: string; // -l
  isakmpPort?: number; // -p
  nattPort?: number; // -P
  kernel: KernelBackendName; // --kernel
  pfkeySocket?: string; // --socket
  adminSocket?: string; // --admin-socket (overrides listen { adminsock })
  pidFile?: string; // --pid-file (overrides path pidfile)
  tun?: string; // --tun NAME
  hosts: string[]; // --host ADDR (repeatable)
  raw: boolean; // raw ESP/AH sockets for the embedded data plane (--no-raw: off)
}

export class RacoonUsageError extends Error {
  override readonly name = 'RacoonUsageError';
}

export const RACOON_USAGE = `usage: racoon [-46BdFLtvV] [-f file] [-l log] [-P port] [-p port]
             [--kernel userspace|xfrm|af_key] [--socket PATH] [--admin-socket PATH]
             [--pid-file PATH] [--tun NAME] [--host ADDR ...] [--no-raw]
  -4, -6   use only IPv4 / IPv6 addresses
  -B       install the SAs from the backup file (path backupsa)
  -d       debug output (repeat for more)
  -F       run in the foreground
  -f file  configuration file (default ${DEFAULT_RACOON_CONF})
  -l file  log to this file
  -L       log to stderr as well as the log file
  -P port  NAT-T port (default 4500)
  -p port  ISAKMP port (default 500)
  -t       check the configuration and the files it names, then exit
  -v       verbose
  -V       print the version and exit
  --no-raw do not open raw ESP/AH sockets (IP protocols 50/51) for the embedded data plane`;

function port(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || n < 1 || n > 65535) throw new RacoonUsageError(`${flag} needs a port number, got '${text ?? ''}'`);
  return n;
}

export function parseRacoonArgs(argv: string[]): RacoonOptions {
  const o: RacoonOptions = {
    family: null,
    backupSa: false,
    debug: 0,
    foreground: false,
    logToStderr: false,
    verbose: false,
    check: false,
    version: false,
    help: false,
    configFile: DEFAULT_RACOON_CONF,
    kernel: 'userspace',
    hosts: [],
    raw: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new RacoonUsageError(`${a} needs an argument`);
      return v;
    };
    if (a.startsWith('--')) {
      const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const arg = (): string => inline ?? value();
      switch (name) {
        case '--kernel': {
          const k = arg();
          if (k !== 'userspace' && k !== 'xfrm' && k !== 'af_key') throw new RacoonUsageError(`--kernel must be userspace, xfrm or af_key, got '${k}'`);
          o.kernel = k;
          break;
        }
        case '--socket': o.pfkeySocket = arg(); break;
        case '--admin-socket': o.adminSocket = arg(); break;
        case '--pid-file': o.pidFile = arg(); break;
        case '--tun': o.tun = arg(); break;
        case '--host': o.hosts.push(arg()); break;
        case '--no-raw': o.raw = false; break;
        case '--help': o.help = true; break;
        case '--version': o.version = true; break;
        default: throw new RacoonUsageError(`unknown option '${a}'`);
      }
      continue;
    }
    if (!a.startsWith('-') || a === '-') throw new RacoonUsageError(`unexpected argument '${a}'`);
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      const rest = a.slice(j + 1);
      const optarg = (): string => (rest !== '' ? rest : value());
      switch (f) {
        case '4': o.family = 4; break;
        case '6': o.family = 6; break;
        case 'B': o.backupSa = true; break;
        case 'd': o.debug++; break;
        case 'F': o.foreground = true; break;
        case 'L': o.logToStderr = true; break;
        case 'v': o.verbose = true; break;
        case 't': o.check = true; break;
        case 'V': o.version = true; break;
        case 'h': case '?': o.help = true; break;
        case 'f': o.configFile = optarg(); j = a.length; break;
        case 'l': o.logFile = optarg(); j = a.length; break;
        case 'p': o.isakmpPort = port(optarg(), '-p'); j = a.length; break;
        case 'P': o.nattPort = port(optarg(), '-P'); j = a.length; break;
        default: throw new RacoonUsageError(`unknown option '-${f}'`);
      }
    }
  }
  return o;
}
