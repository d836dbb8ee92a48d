/**
 * The data-plane control socket of tanuki-kernel (`--dataplane-socket`,
 * default: the PF_KEY socket path + ".dp"). One JSON object per line in each
 * direction, so the in-process hosts can be driven from the shell and from
 * tests:
 *
 *   {"cmd":"ping","src":"10.1.0.1","dst":"10.2.0.1","count":3,"timeoutMs":500}
 *     → one {"seq":n,"outcome":{...},"reply":bool} line per echo request,
 *       then {"done":true,"sent":n,"received":m}
 *   {"cmd":"udp","src":"10.1.0.1","dst":"10.2.0.1","port":7,"data":"text"}
 *     → {"outcome":{...}} then {"done":true}
 *   {"cmd":"stats"} → {"counters":{...},"hosts":{addr:{...}},"queued":n} then {"done":true}
 *
 * An unknown command or bad argument gets {"error":"..."} then {"done":true}.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { DataPlane } from './dataplane';
import { InvalidHostAddressError, type InProcessHost } from './host';

export type ControlRequest =
  | { cmd: 'ping'; src: string; dst: string; count?: number; timeoutMs?: number }
  | { cmd: 'udp'; src: string; dst: string; port: number; data?: string }
  | { cmd: 'stats' };

type Line = Record<string, unknown>;

function parseRequest(text: string): { ok: true; req: ControlRequest } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  if (typeof v !== 'object' || v === null) return { ok: false, error: 'request is not an object' };
  const o = v as Record<string, unknown>;
  const str = (k: string): string | null => (typeof o[k] === 'string' ? (o[k] as string) : null);
  const num = (k: string): number | undefined => (typeof o[k] === 'number' && Number.isInteger(o[k]) && (o[k] as number) > 0 ? (o[k] as number) : undefined);
  switch (o.cmd) {
    case 'ping': {
      const src = str('src');
      const dst = str('dst');
      if (!src || !dst) return { ok: false, error: 'ping needs src and dst' };
      const count = num('count');
      const timeoutMs = num('timeoutMs');
      return { ok: true, req: { cmd: 'ping', src, dst, ...(count ? { count } : {}), ...(timeoutMs ? { timeoutMs } : {}) } };
    }
    case 'udp': {
      const src = str('src');
      const dst = str('dst');
      const port = num('port');
      if (!src || !dst || !port || port > 65535) return { ok: false, error: 'udp needs src, dst and port' };
      return { ok: true, req: { cmd: 'udp', src, dst, port, data: str('data') ?? '' } };
    }
    case 'stats':
      return { ok: true, req: { cmd: 'stats' } };
    default:
      return { ok: false, error: `unknown command ${JSON.stringify(o.cmd)}` };
  }
}

/** The most echo requests one ping command may send. */
const MAX_PING_COUNT = 1000;

export class DataPlaneControl {
  private readonly connections = new Set<Socket>();

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  static async listen(path: string, plane: DataPlane, hosts: readonly InProcessHost[]): Promise<DataPlaneControl> {
    if (existsSync(path)) unlinkSync(path);
    const server = createServer();
    const self = new DataPlaneControl(path, server);
    server.on('connection', (sock) => self.accept(sock, plane, hosts));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    return self;
  }

  private accept(sock: Socket, plane: DataPlane, hosts: readonly InProcessHost[]): void {
    this.connections.add(sock);
    sock.on('close', () => this.connections.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    let chain = Promise.resolve();
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        chain = chain.then(() => run(line, plane, hosts, (o) => sock.writable && sock.write(JSON.stringify(o) + '\n')));
      }
    });
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (existsSync(this.path)) unlinkSync(this.path);
  }
}

async function run(line: string, plane: DataPlane, hosts: readonly InProcessHost[], out: (o: Line) => void): Promise<void> {
  const p = parseRequest(line);
  if (!p.ok) {
    out({ error: p.error });
    out({ done: true });
    return;
  }
  const req = p.req;
  try {
    if (req.cmd === 'stats') {
      out({ counters: plane.counters, queued: plane.queuedCount, hosts: Object.fromEntries(hosts.map((h) => [h.address, h.counters])) });
      out({ done: true });
      return;
    }
    const host = hosts.find((h) => h.address === req.src);
    if (!host) {
      out({ error: `no --host ${req.src} in this kernel` });
      out({ done: true });
      return;
    }
    if (req.cmd === 'udp') {
      out({ outcome: host.sendUdp(req.dst, req.port, Buffer.from(req.data ?? '', 'utf8')) });
      out({ done: true });
      return;
    }
    const count = Math.min(req.count ?? 1, MAX_PING_COUNT);
    let received = 0;
    for (let i = 0; i < count; i++) {
      const r = await host.ping(req.dst, req.timeoutMs ?? 1000);
      if (r.reply) received++;
      out({ seq: i + 1, outcome: r.outcome, reply: r.reply !== null });
    }
    out({ done: true, sent: count, received });
  } catch (err) {
    out({ error: err instanceof InvalidHostAddressError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}` });
    out({ done: true });
  }
}

/** Client side: send one request, collect the answer lines up to {"done":true}. */
export function controlRequest(path: string, req: ControlRequest, onLine: (o: Line) => void = () => undefined): Promise<Line[]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path });
    const lines: Line[] = [];
    let buf = '';
    sock.once('error', reject);
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const o = JSON.parse(buf.slice(0, nl)) as Line;
        buf = buf.slice(nl + 1);
        lines.push(o);
        onLine(o);
        if (o.done === true) {
          sock.end();
          resolve(lines);
          return;
        }
      }
    });
    sock.on('close', () => resolve(lines));
  });
}
