/**
 * setkey against tanuki's real userspace kernel (src/kernel/userspace), in
 * process, one PfKeySocket per "process": the shape of issue 2's "Done when"
 * (setkey -f loads, setkey -D/-DP in another invocation shows, a key manager
 * registered for ESP gets the ACQUIRE a matching packet raises, setkey -x
 * shows it). The child-process version over the unix socket is in
 * kernel-process.test.ts.
 */
import { IPPROTO, SadbMsgType, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { UserspaceKernel } from '../../src/kernel/userspace/kernel';
import { LocalPfKeySocket } from '../../src/kernel/userspace/local-socket';
import { main, type SetkeyIo } from '../../src/cli/setkey';
import { BUILTIN_PROTOCOLS } from '../../src/config/setkey/protocols';
import { parseIp } from '../../src/util/ip';

const SCRIPT = `
spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;
spdadd 10.2.0.0/24 10.1.0.0/24 any -P in ipsec esp/tunnel/192.0.2.2-192.0.2.1/require;
add 192.0.2.2 192.0.2.1 esp 0x2001 -m tunnel -E aes-cbc 0x000102030405060708090a0b0c0d0e0f -A hmac-sha256 0x${'11'.repeat(32)};
`;

function run(kernel: UserspaceKernel, argv: string[], files: Record<string, string> = {}, extra: Partial<SetkeyIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let pid = 5000 + Math.floor(Math.random() * 1000);
  const done = main(argv, {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    readFile: async (p) => files[p],
    readStdin: async () => '',
    openSocket: async () => new LocalPfKeySocket(kernel, pid++),
    env: {},
    timeZone: 'UTC',
    protocols: BUILTIN_PROTOCOLS,
    ...extra,
  });
  return done.then((code) => ({ code, out: out.join(''), err: err.join('') }));
}

describe('setkey on the userspace kernel (in process)', () => {
  it('loads a script, dumps SAD and SPD, and -x shows the ACQUIRE an outbound packet raises', async () => {
    const kernel = new UserspaceKernel();
    try {
      const load = await run(kernel, ['-f', 'ipsec.conf'], { 'ipsec.conf': SCRIPT });
      expect(load).toEqual({ code: 0, out: '', err: '' });

      const sad = await run(kernel, ['-D']);
      expect(sad.code).toBe(0);
      expect(sad.out).toContain('192.0.2.2 192.0.2.1 \n\tesp mode=tunnel spi=8193(0x00002001) reqid=0(0x00000000)\n');
      expect(sad.out).toContain('\tE: aes-cbc  00010203 04050607 08090a0b 0c0d0e0f\n');
      expect(sad.out).toContain(`\tA: hmac-sha256 ${' 11111111'.repeat(8)}\n`);

      const spd = await run(kernel, ['-DP']);
      expect(spd.code).toBe(0);
      const heads = spd.out.split('\n').filter((l) => !l.startsWith('\t'));
      expect(heads.filter((l) => l !== '')).toEqual([
        '10.1.0.0/24[any] 10.2.0.0/24[any] 255',
        '10.2.0.0/24[any] 10.1.0.0/24[any] 255',
        '10.2.0.0/24[any] 10.1.0.0/24[any] 255',
      ]);
      expect(spd.out).toContain('\tout prio def ipsec\n\tesp/tunnel/192.0.2.1-192.0.2.2/require\n');
      expect(spd.out).toContain('\tfwd prio def ipsec\n\tesp/tunnel/192.0.2.2-192.0.2.1/require\n');

      // a key manager registered for ESP (racoon's role)
      const km = new LocalPfKeySocket(kernel, 777);
      const seen: PfKeyMessage[] = [];
      km.onMessage((m) => seen.push(m));
      const reg = await km.request({ type: SadbMsgType.REGISTER, satype: SadbSaType.ESP, errno: 0, seq: 1, pid: 777, ext: {} });
      expect(reg.errno).toBe(0);

      const stop = new AbortController();
      const monitor = run(kernel, ['-x'], {}, { stop: stop.signal });
      await new Promise((r) => setTimeout(r, 10));

      const decision = kernel.outbound({ src: parseIp('10.1.0.5')!, dst: parseIp('10.2.0.9')!, proto: IPPROTO.TCP, sport: 1234, dport: 80 });
      expect(decision.action).toBe('acquire');
      await new Promise((r) => setTimeout(r, 10));
      stop.abort();
      const mon = await monitor;

      const acquire = seen.find((m) => m.type === SadbMsgType.ACQUIRE);
      expect(acquire?.satype).toBe(SadbSaType.ESP);
      expect(acquire?.ext.addressSrc?.addr.address).toBe('192.0.2.1');
      expect(acquire?.ext.addressDst?.addr.address).toBe('192.0.2.2');
      expect(mon.code).toBe(0);
      expect(mon.out).toMatch(/sadb_msg\{ version=2 type=6 errno=0 satype=3\n/);
      expect(mon.out).toContain('sadb_x_policy{ type=2 dir=2 ');
      await km.close();
    } finally {
      kernel.shutdown();
    }
  });

  it('kernel refusals come back as setkey messages and leave the databases unchanged', async () => {
    const kernel = new UserspaceKernel();
    try {
      await run(kernel, ['-f', 's'], { s: SCRIPT });
      const again = await run(kernel, ['-f', 's'], { s: SCRIPT });
      expect(again.code).toBe(1);
      expect(again.out).toBe('The result of line 2: File exists.\nThe result of line 3: File exists.\nThe result of line 3: File exists.\nThe result of line 4: File exists.\n');
      const del = await run(kernel, ['-f', 'd'], { d: 'delete 192.0.2.2 192.0.2.1 esp 0x9999;\nspddelete 10.9.0.0/24 10.2.0.0/24 any -P out;' });
      // Linux af_key answers a DELETE of a missing SA with ESRCH ("No such process"), a missing policy with ENOENT
      expect(del.out).toBe('The result of line 1: No such process.\nThe result of line 2: No entry.\n');
      expect((await run(kernel, ['-F'])).code).toBe(0);
      expect((await run(kernel, ['-D'])).out).toBe('No SAD entries.\n');
      expect((await run(kernel, ['-FP'])).code).toBe(0);
      expect((await run(kernel, ['-DP'])).out).toBe('No SPD entries.\n');
    } finally {
      kernel.shutdown();
    }
  });
});
