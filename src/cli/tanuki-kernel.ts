/**
 * `tanuki-kernel [--socket PATH] [-F] [-v] [data-plane options]`: tanuki's
 * userspace PF_KEYv2 kernel on its own, served on a unix socket for setkey,
 * racoon and tests, with its data plane (docs/dataplane.md). Runs in the
 * foreground until SIGTERM or SIGINT, then removes its sockets.
 *
 * `tanuki-kernel ping|udp|stats ...` are clients of a running kernel's
 * data-plane control socket.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { KernelAlreadyRunningError, PfKeyServer } from '../kernel/server';
import { resolveSocketPath } from '../kernel/index';
import { UserspaceKernel } from '../kernel/userspace/kernel';
import { PFKEY_SOCKET_ENV } from '../pfkey/socket';
import { controlRequest, type ControlRequest } from '../kernel/dataplane/control';
import { startDataPlane, type RunningDataPlane } from '../kernel/dataplane/index';
import { parseIp } from '../util/ip';

export const USAGE = `usage: tanuki-kernel [--socket PATH] [-F] [-v] [--host ADDR ...] [--tun NAME]
                     [--natt-port PORT] [--natt-addr ADDR] [--natt-peer-port PORT]
                     [--dataplane-socket PATH] [--raw ADDR ...]
       tanuki-kernel ping [--socket PATH | --dataplane-socket PATH] [-c COUNT] [-W MS] SRC DST
       tanuki-kernel udp [--socket PATH | --dataplane-socket PATH] SRC DST PORT [TEXT]
       tanuki-kernel stats [--socket PATH | --dataplane-socket PATH]
  --socket PATH          unix socket to serve PF_KEY on (default $${PFKEY_SOCKET_ENV}, else /run/tanuki/pfkey.sock)
  -F                     run in the foreground (the default and only mode)
  -v                     verbose (debug) logging
  --host ADDR            an in-process host at ADDR (ICMP echo, UDP echo on port 7); repeatable
  --tun NAME             create TUN device NAME and route the remote side of every tunnel policy into it
  --natt-port PORT       carry ESP in UDP (RFC 3948) on this port (0 = a free port)
  --natt-addr ADDR       address of that UDP socket (default 0.0.0.0)
  --natt-peer-port PORT  peers' UDP port for ESP SAs without NAT-T ports (default: --natt-port)
  --raw ADDR             raw ESP/AH sockets (IP protocols 50/51) on ADDR (0.0.0.0 / :: = all) for SAs without NAT-T; repeatable; needs CAP_NET_RAW
  --dataplane-socket P   control socket for ping/udp/stats (default: the PF_KEY socket path + ".dp")
  -h, --help             this text`;

export interface KernelCliOptions {
  socketPath?: string;
  verbose: boolean;
  hosts: string[];
  tun?: string;
  nattPort?: number;
  nattAddr?: string;
  nattPeerPort?: number;
  dataplaneSocket?: string;
  /** --raw ADDR (repeatable): raw ESP/AH sockets. */
  raw?: string[];
}

export type ParsedArgs = { ok: true; opts: KernelCliOptions; help: boolean } | { ok: false; error: string };

function portArg(flag: string, v: string | undefined): number | string {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) > 65535) return `${flag} needs a port number 0..65535, got '${v ?? ''}'`;
  return Number(v);
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const opts: KernelCliOptions = { verbose: false, hosts: [] };
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') {
      const v = argv[++i];
      if (v === undefined || !parseIp(v)) return { ok: false, error: `--host needs an IPv4 or IPv6 address, got '${v ?? ''}'` };
      opts.hosts.push(v);
    } else if (a === '--raw') {
      const v = argv[++i];
      if (v === undefined || !parseIp(v)) return { ok: false, error: `--raw needs an IPv4 or IPv6 address, got '${v ?? ''}'` };
      opts.raw = [...(opts.raw ?? []), v];
    } else if (a === '--tun') {
      const v = argv[++i];
      if (v === undefined || v === '') return { ok: false, error: '--tun needs an interface name' };
      opts.tun = v;
    } else if (a === '--natt-port' || a === '--natt-peer-port') {
      const p = portArg(a, argv[++i]);
      if (typeof p === 'string') return { ok: false, error: p };
      if (a === '--natt-port') opts.nattPort = p;
      else opts.nattPeerPort = p;
    } else if (a === '--natt-addr') {
      const v = argv[++i];
      if (v === undefined || !parseIp(v)) return { ok: false, error: `--natt-addr needs an IP address, got '${v ?? ''}'` };
      opts.nattAddr = v;
    } else if (a === '--dataplane-socket') {
      const v = argv[++i];
      if (v === undefined || v === '') return { ok: false, error: '--dataplane-socket needs a path' };
      opts.dataplaneSocket = v;
    } else if (a === '--socket' || a === '-S') {
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

/** `ping|udp|stats`: talk to a running kernel's data-plane control socket. */
async function client(cmd: string, argv: readonly string[]): Promise<number> {
  let socketPath: string | undefined;
  let dpSocket: string | undefined;
  let count = 1;
  let timeoutMs = 1000;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--socket' || a === '-S') socketPath = argv[++i];
    else if (a === '--dataplane-socket') dpSocket = argv[++i];
    else if (a === '-c' || a === '-W') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) {
        process.stderr.write(`tanuki-kernel ${cmd}: ${a} needs a positive integer\n${USAGE}\n`);
        return 2;
      }
      if (a === '-c') count = n;
      else timeoutMs = n;
    } else rest.push(a);
  }
  let req: ControlRequest;
  if (cmd === 'stats' && rest.length === 0) req = { cmd: 'stats' };
  else if (cmd === 'ping' && rest.length === 2) req = { cmd: 'ping', src: rest[0], dst: rest[1], count, timeoutMs };
  else if (cmd === 'udp' && (rest.length === 3 || rest.length === 4) && /^\d+$/.test(rest[2])) req = { cmd: 'udp', src: rest[0], dst: rest[1], port: Number(rest[2]), data: rest[3] ?? '' };
  else {
    process.stderr.write(`tanuki-kernel ${cmd}: wrong arguments\n${USAGE}\n`);
    return 2;
  }
  const path = dpSocket ?? `${resolveSocketPath(socketPath)}.dp`;
  let failed = false;
  try {
    await controlRequest(path, req, (o) => {
      if (typeof o.error === 'string') failed = true;
      process.stdout.write(JSON.stringify(o) + '\n');
    });
  } catch (err) {
    process.stderr.write(`tanuki-kernel ${cmd}: cannot reach ${path}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return failed ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'ping' || argv[0] === 'udp' || argv[0] === 'stats') return client(argv[0], argv.slice(1));
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
  const o = parsed.opts;
  let dp: RunningDataPlane;
  try {
    dp = await startDataPlane(
      kernel,
      {
        hosts: o.hosts,
        ...(o.tun ? { tun: o.tun } : {}),
        ...(o.nattPort !== undefined ? { natt: { address: o.nattAddr ?? '0.0.0.0', port: o.nattPort } } : {}),
        ...(o.nattPeerPort !== undefined ? { peerPort: o.nattPeerPort } : {}),
        controlPath: o.dataplaneSocket ?? `${socketPath}.dp`,
        ...(o.raw ? { raw: o.raw } : {}),
      },
      log,
    );
  } catch (err) {
    await server.close();
    kernel.shutdown();
    process.stderr.write(`tanuki-kernel: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(`tanuki-kernel: listening on ${socketPath}\n`);
  if (dp.transport) process.stdout.write(`tanuki-kernel: ESP-in-UDP on ${dp.transport.address}[${dp.transport.port}]\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      log.info({ signal }, 'tanuki-kernel stopping');
      void Promise.all([server.close(), dp.close()]).then(() => {
        kernel.shutdown();
        resolve(0);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
