/**
 * openPfKey(): the one way every tool and the daemon get a PfKeySocket,
 * whichever kernel is behind it (ARCHITECTURE.md "One language inside").
 *
 *   userspace  tanuki's own kernel: connect to a running tanuki-kernel on its
 *              unix socket, or, with `embed`, start one in this process (and
 *              serve the unix socket too when nobody serves it yet)
 *   xfrm       Linux NETLINK_XFRM, translated to PF_KEY (src/kernel/xfrm)
 *   af_key     the real PF_KEY socket, where the running kernel has one
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { ChannelPfKeySocket } from '../pfkey/channel';
import { DEFAULT_PFKEY_SOCKET, PFKEY_SOCKET_ENV, type KernelBackendName, type PfKeySocket } from '../pfkey/socket';
import { connectUnixPfKey, PfKeyNoKernelError } from '../pfkey/unix';
import { PfKeyServer } from './server';
import { kernelChannel } from './userspace/channel';
import { UserspaceKernel } from './userspace/kernel';

export { PfKeyNoKernelError };

export interface OpenPfKeyOptions {
  /** Default 'userspace'. */
  backend?: KernelBackendName;
  /** userspace: the kernel's unix socket (default $TANUKI_PFKEY_SOCKET, else /run/tanuki/pfkey.sock). */
  socketPath?: string;
  /** userspace: when no kernel answers at socketPath, run one in this process. */
  embed?: boolean;
  /** sadb_msg_pid stamped on messages (default process.pid). */
  pid?: number;
  /** Default request() timeout in ms. */
  timeoutMs?: number;
  log?: Logger;
}

/** The error every backend that cannot run here throws, with the reason in words. */
export class KernelBackendUnavailableError extends Error {
  override readonly name = 'KernelBackendUnavailableError';
  constructor(
    readonly backend: KernelBackendName,
    message: string,
  ) {
    super(message);
  }
}

/** Where the userspace kernel's socket is: explicit path, then $TANUKI_PFKEY_SOCKET, then the default. */
export function resolveSocketPath(explicit?: string): string {
  if (explicit) return explicit;
  const env = process.env[PFKEY_SOCKET_ENV];
  return env && env.length > 0 ? env : DEFAULT_PFKEY_SOCKET;
}

export interface EmbeddedKernel {
  readonly kernel: UserspaceKernel;
  /** The unix-socket server, when this process serves one. */
  readonly server: PfKeyServer | null;
  stop(): Promise<void>;
}

let embedded: EmbeddedKernel | null = null;
let starting: Promise<EmbeddedKernel> | null = null;

/**
 * Start (once per process) an in-process userspace kernel, serving it on
 * socketPath unless another kernel already answers there or the path cannot
 * be used (then the kernel stays private to this process, and the reason is
 * logged).
 */
export async function startEmbeddedKernel(opts: { socketPath?: string; log?: Logger } = {}): Promise<EmbeddedKernel> {
  if (embedded) return embedded;
  // Two openPfKey({ embed }) racing in one process must share one kernel.
  if (!starting) starting = startKernel(opts).finally(() => (starting = null));
  return starting;
}

async function startKernel(opts: { socketPath?: string; log?: Logger }): Promise<EmbeddedKernel> {
  const kernel = new UserspaceKernel(opts.log ? { log: opts.log } : {});
  let server: PfKeyServer | null = null;
  const path = resolveSocketPath(opts.socketPath);
  try {
    server = await PfKeyServer.listen({ socketPath: path, kernel, ...(opts.log ? { log: opts.log } : {}) });
  } catch (err) {
    opts.log?.warn({ err, socket: path }, 'embedded PF_KEY kernel is not served on a unix socket');
  }
  const self: EmbeddedKernel = {
    kernel,
    server,
    async stop() {
      if (embedded === self) embedded = null;
      if (server) await server.close();
      kernel.shutdown();
    },
  };
  embedded = self;
  return self;
}

/** The embedded kernel of this process, if one was started. */
export function embeddedKernel(): EmbeddedKernel | null {
  return embedded;
}

const PROC_NET_PFKEY = '/proc/net/pfkey';

/** A module exposing the XFRM backend (src/kernel/xfrm/index.ts). */
export interface XfrmModule {
  openXfrmPfKey(opts?: Record<string, unknown>): Promise<PfKeySocket>;
}

function isXfrmModule(m: unknown): m is XfrmModule {
  return typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>).openXfrmPfKey === 'function';
}

/** Load the XFRM backend module (`where` is relative to this file; tests name a missing one). */
export function loadXfrm(where = './xfrm'): XfrmModule {
  let mod: unknown;
  try {
    // Loaded lazily and by name: the XFRM backend is optional in a build.
    mod = require(where) as unknown;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND') throw new KernelBackendUnavailableError('xfrm', 'the XFRM kernel backend is not available in this build (src/kernel/xfrm is missing); use --kernel userspace');
    throw err;
  }
  if (!isXfrmModule(mod)) throw new KernelBackendUnavailableError('xfrm', 'the XFRM kernel backend in this build has no openXfrmPfKey(); use --kernel userspace');
  return mod;
}

export async function openPfKey(opts: OpenPfKeyOptions = {}): Promise<PfKeySocket> {
  const backend = opts.backend ?? 'userspace';
  switch (backend) {
    case 'userspace': {
      const path = resolveSocketPath(opts.socketPath);
      const own = embedded;
      if (own && (own.server === null || own.server.socketPath === path)) {
        return new ChannelPfKeySocket(kernelChannel(own.kernel), { ...(opts.pid !== undefined ? { pid: opts.pid } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
      }
      try {
        return await connectUnixPfKey(path, { ...(opts.pid !== undefined ? { pid: opts.pid } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
      } catch (err) {
        if (!(err instanceof PfKeyNoKernelError) || !opts.embed) throw err;
      }
      const started = await startEmbeddedKernel({ socketPath: path, ...(opts.log ? { log: opts.log } : {}) });
      return new ChannelPfKeySocket(kernelChannel(started.kernel), { ...(opts.pid !== undefined ? { pid: opts.pid } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
    }
    case 'af_key':
      if (!existsSync(PROC_NET_PFKEY))
        throw new KernelBackendUnavailableError('af_key', `AF_KEY is not available on this kernel (no ${PROC_NET_PFKEY}: the af_key module is not loaded or not built); use --kernel userspace or --kernel xfrm`);
      throw new KernelBackendUnavailableError('af_key', 'AF_KEY sockets cannot be opened from Node.js in this build (no native PF_KEY binding); use --kernel userspace or --kernel xfrm');
    case 'xfrm':
      return loadXfrm().openXfrmPfKey(opts.pid !== undefined ? { pid: opts.pid } : {});
    default: {
      const never: never = backend;
      throw new KernelBackendUnavailableError(never, `unknown kernel backend "${String(never)}" (userspace, xfrm or af_key)`);
    }
  }
}
