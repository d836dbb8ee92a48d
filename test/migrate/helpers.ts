/** setkey runs against an in-process userspace kernel on a virtual clock (MIGRATE tests). */
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { LocalPfKeySocket } from '../../src/kernel/userspace/local-socket';
import { main } from '../../src/cli/setkey';
import { BUILTIN_PROTOCOLS } from '../../src/config/setkey/protocols';
import { VirtualClock } from '../../src/sadb/clock';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { SadbMsgType, SadbSaType } from '../../src/pfkey/constants';

export interface SetkeyRun {
  code: number;
  out: string;
  err: string;
}

export function kernelEnv() {
  const clock = new VirtualClock();
  const kernel = new UserspaceKernel({ clock });
  let pid = 5000;
  const setkey = async (argv: string[], files: Record<string, string> = {}): Promise<SetkeyRun> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      readFile: async (p) => files[p],
      readStdin: async () => '',
      openSocket: async () => new LocalPfKeySocket(kernel, pid++),
      env: {},
      now: () => clock.now(),
      timeZone: 'UTC',
      protocols: BUILTIN_PROTOCOLS,
      replyTimeoutMs: 1000,
    });
    return { code, out: out.join(''), err: err.join('') };
  };
  const script = (text: string) => setkey(['-f', 's'], { s: text });
  /** SAD and SPD as setkey -D / -DP print them (minus the pid of the dumping setkey). */
  const snapshot = async () => `${(await setkey(['-D'])).out}\n----\n${(await setkey(['-DP'])).out}`.replace(/pid=\d+/g, 'pid=_');
  /** A key manager's socket (racoon's role), registered for ESP, collecting what it hears. */
  const keyManager = async (pid: number) => {
    const sock = new LocalPfKeySocket(kernel, pid);
    const seen: PfKeyMessage[] = [];
    sock.onMessage((m) => seen.push(m));
    await sock.request({ type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, seq: 1, pid, ext: {} });
    return { sock, seen, migrates: () => seen.filter((m) => m.type === SadbMsgType.X_MIGRATE) };
  };
  return { clock, kernel, setkey, script, snapshot, keyManager };
}

export const settle = () => new Promise((r) => setImmediate(r));

export const KEYS = '-E aes-cbc 0x000102030405060708090a0b0c0d0e0f -A hmac-sha256 0x' + '11'.repeat(32);
