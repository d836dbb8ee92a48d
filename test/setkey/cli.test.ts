/**
 * The setkey command (ipsec-tools setkey.c behaviour) driven through
 * SetkeyIo with an in-process kernel double, a fixed clock and UTC.
 */
import { SadbMsgType, SadbSaState } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';
import { main, rawHexdump, shortdump, splitStatements, type SetkeyIo } from '../../src/cli/setkey';
import { BUILTIN_PROTOCOLS } from '../../src/config/setkey/protocols';
import { FakeKernel } from './fake-kernel';

interface Run {
  code: number;
  out: string;
  err: string;
}

function harness(kernel: FakeKernel, files: Record<string, string> = {}, stdin = '') {
  const opened: { backend: string; socketPath: string }[] = [];
  let pid = 1000;
  const io = (extra: Partial<SetkeyIo> = {}): { io: Partial<SetkeyIo>; out: string[]; err: string[] } => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: {
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
        readStdin: async () => stdin,
        readFile: async (p) => {
          if (!(p in files)) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
          return files[p];
        },
        openSocket: async (o) => {
          opened.push(o);
          return kernel.open(pid++);
        },
        env: {},
        now: () => kernel.now * 1000,
        timeZone: 'UTC',
        protocols: BUILTIN_PROTOCOLS,
        replyTimeoutMs: 500,
        ...extra,
      },
    };
  };
  const run = async (argv: string[], extra: Partial<SetkeyIo> = {}): Promise<Run> => {
    const h = io(extra);
    const code = await main(argv, h.io);
    return { code, out: h.out.join(''), err: h.err.join('') };
  };
  return { run, opened };
}

const SCRIPT = `#!/usr/sbin/setkey -f
flush;
spdflush;

# ESP SAs both ways
add 192.168.0.1 192.168.0.2 esp 0x10001 -m tunnel -E aes-cbc 0x00112233445566778899aabbccddeeff -A hmac-sha1 0x0102030405060708090a0b0c0d0e0f1011121314;
add 192.168.0.2 192.168.0.1 esp 0x10002 -m tunnel -E aes-cbc 0xffeeddccbbaa99887766554433221100 -A hmac-sha1 0x1112131415161718191a1b1c1d1e1f2021222324;

spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/192.168.0.1-192.168.0.2/require;
spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/192.168.0.2-192.168.0.1/unique:7;
`;

describe('setkey -f then -D / -DP in other invocations (issue 2 "Done when", with an in-process kernel)', () => {
  it('loads SAs and policies; -D and -DP print them in ipsec-tools format; RFC mode adds the fwd policy', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { 'ipsec.conf': SCRIPT });
    expect(await run(['-f', 'ipsec.conf'])).toEqual({ code: 0, out: '', err: '' });
    expect(k.sas).toHaveLength(2);
    expect(k.sps.map((p) => p.ext.policy?.dir)).toEqual([2, 1, 3]);

    const d = await run(['-D']);
    expect(d.code).toBe(0);
    expect(d.out).toBe(
      '192.168.0.1 192.168.0.2 \n' +
        '\tesp mode=tunnel spi=65537(0x00010001) reqid=0(0x00000000)\n' +
        '\tE: aes-cbc  00112233 44556677 8899aabb ccddeeff\n' +
        '\tA: hmac-sha1  01020304 05060708 090a0b0c 0d0e0f10 11121314\n' +
        '\tseq=0x00000000 replay=0 flags=0x00000040 state=mature \n' +
        '\tcreated: Nov 14 22:13:20 2023\tcurrent: Nov 14 22:13:20 2023\n' +
        '\tdiff: 0(s)\thard: 0(s)\tsoft: 0(s)\n' +
        `\tlast: ${' '.repeat(20)}\thard: 0(s)\tsoft: 0(s)\n` +
        '\tcurrent: 0(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n' +
        '\tallocated: 0\thard: 0\tsoft: 0\n' +
        '\tsadb_seq=1 pid=1001 refcnt=0\n' +
        '192.168.0.2 192.168.0.1 \n' +
        '\tesp mode=tunnel spi=65538(0x00010002) reqid=0(0x00000000)\n' +
        '\tE: aes-cbc  ffeeddcc bbaa9988 77665544 33221100\n' +
        '\tA: hmac-sha1  11121314 15161718 191a1b1c 1d1e1f20 21222324\n' +
        '\tseq=0x00000000 replay=0 flags=0x00000040 state=mature \n' +
        '\tcreated: Nov 14 22:13:20 2023\tcurrent: Nov 14 22:13:20 2023\n' +
        '\tdiff: 0(s)\thard: 0(s)\tsoft: 0(s)\n' +
        `\tlast: ${' '.repeat(20)}\thard: 0(s)\tsoft: 0(s)\n` +
        '\tcurrent: 0(bytes)\thard: 0(bytes)\tsoft: 0(bytes)\n' +
        '\tallocated: 0\thard: 0\tsoft: 0\n' +
        '\tsadb_seq=0 pid=1001 refcnt=0\n',
    );

    const dp = await run(['-DP']);
    expect(dp.code).toBe(0);
    expect(dp.out).toBe(
      '10.1.0.0/16[any] 10.2.0.0/16[any] 255\n' +
        '\tout prio def ipsec\n' +
        '\tesp/tunnel/192.168.0.1-192.168.0.2/require\n' +
        `\tcreated: Nov 14 22:13:20 2023  lastused: ${' '.repeat(20)}\n` +
        '\tlifetime: 0(s) validtime: 0(s)\n' +
        '\tspid=9 seq=1 pid=1002\n' +
        '\trefcnt=1\n' +
        '10.2.0.0/16[any] 10.1.0.0/16[any] 255\n' +
        '\tin prio def ipsec\n' +
        '\tesp/tunnel/192.168.0.2-192.168.0.1/unique:7\n' +
        `\tcreated: Nov 14 22:13:20 2023  lastused: ${' '.repeat(20)}\n` +
        '\tlifetime: 0(s) validtime: 0(s)\n' +
        '\tspid=16 seq=2 pid=1002\n' +
        '\trefcnt=1\n' +
        '10.2.0.0/16[any] 10.1.0.0/16[any] 255\n' +
        '\tfwd prio def ipsec\n' +
        '\tesp/tunnel/192.168.0.2-192.168.0.1/require\n' +
        `\tcreated: Nov 14 22:13:20 2023  lastused: ${' '.repeat(20)}\n` +
        '\tlifetime: 0(s) validtime: 0(s)\n' +
        '\tspid=26 seq=0 pid=1002\n' +
        '\trefcnt=1\n',
    );
  });

  it('-k installs no fwd copy; -p prints ports in -DP', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { s: 'spdadd 10.0.0.1[500] 10.0.0.2[500] udp -P in ipsec esp/tunnel/1.1.1.1[4500]-2.2.2.2[4500]/require;' });
    expect((await run(['-k', '-f', 's'])).code).toBe(0);
    expect(k.sps).toHaveLength(1);
    const dp = await run(['-DPp']);
    expect(dp.out.split('\n').slice(0, 3)).toEqual([
      '10.0.0.1[500] 10.0.0.2[500] udp',
      '\tin prio def ipsec',
      '\tesp/tunnel/1.1.1.1[4500]-2.2.2.2[4500]/require',
    ]);
  });

  it('empty databases print "No SAD entries." / "No SPD entries." and exit 0', async () => {
    const { run } = harness(new FakeKernel());
    expect(await run(['-D'])).toEqual({ code: 0, out: 'No SAD entries.\n', err: '' });
    expect(await run(['-D', '-P'])).toEqual({ code: 0, out: 'No SPD entries.\n', err: '' });
  });

  it('-D hides DEAD SAs unless -a', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { s: 'add 10.0.0.1 10.0.0.2 esp 0x300 -E null;' });
    await run(['-f', 's']);
    k.sas[0].ext.sa!.state = SadbSaState.DEAD;
    expect((await run(['-D'])).out).toBe(''); // filtered silently, as setkey's postproc does
    expect((await run(['-Da'])).out).toContain('state=dead \n');
  });

  it('-F and -FP flush', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { 'ipsec.conf': SCRIPT });
    await run(['-f', 'ipsec.conf']);
    expect(await run(['-F'])).toEqual({ code: 0, out: '', err: '' });
    expect(k.sas).toHaveLength(0);
    expect(k.sps).toHaveLength(3);
    expect((await run(['-FP'])).code).toBe(0);
    expect(k.sps).toHaveLength(0);
  });
});

describe('script errors', () => {
  it('a parse error is reported as file:line:column and nothing of the script is applied', async () => {
    const k = new FakeKernel();
    const bad = 'flush;\nspdflush;\nadd 10.0.0.1 10.0.0.2 esp 0x1000 -E aes-cbc "too short";\n';
    const { run, opened } = harness(k, { bad });
    const r = await run(['-f', 'bad']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "bad:3:45: invalid key length for aes-cbc: 72 bits given, 128..256 bits in steps of 64 required (near '\"too short\"')\n",
    );
    expect(k.received).toEqual([]);
    expect(opened).toEqual([]);
  });

  it('a kernel errno is printed as "The result of line N: <strerror>." and later lines still run; exit 1', async () => {
    const k = new FakeKernel();
    const s = 'add 10.0.0.1 10.0.0.2 esp 0x300 -E null;\nadd 10.0.0.1 10.0.0.2 esp 0x300 -E null;\ndelete 10.0.0.1 10.0.0.2 esp 0x999;\nadd 10.0.0.1 10.0.0.2 esp 0x301 -E null;\n';
    const { run } = harness(k, { s });
    const r = await run(['-f', 's']);
    expect(r.out).toBe('The result of line 2: File exists.\nThe result of line 3: No entry.\n');
    expect(r.code).toBe(1);
    expect(k.sas.map((x) => x.ext.sa?.spi)).toEqual([0x300, 0x301]);
  });

  it('warnings go to stderr with their position and do not stop the script', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { s: 'add 10.0.0.1 10.0.0.2 esp 0x300 -E null;\nget 10.0.0.1 10.0.0.2 esp 0x300 -m tunnel;' });
    const r = await run(['-f', 's']);
    expect(r.err).toBe('s:2:33: WARNING: mode is obsolete\n');
    expect(r.out).toContain('10.0.0.1 10.0.0.2 \n\tesp mode=any spi=768(0x00000300)');
    expect(r.code).toBe(0);
  });

  it('an unreadable file is reported like setkey', async () => {
    const { run } = harness(new FakeKernel());
    const r = await run(['-f', 'missing.conf']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^setkey: Can't open `missing.conf': ENOENT/);
  });
});

describe('other modes and flags', () => {
  it('-n parses (and resolves) only: no kernel socket is opened; -nv prints the messages it would send', async () => {
    const k = new FakeKernel();
    const { run, opened } = harness(k, { s: 'spdadd 10.0.0.0/8 10.0.0.0/8 any -P out none;' });
    expect(await run(['-n', '-f', 's'])).toEqual({ code: 0, out: '', err: '' });
    const v = await run(['-nv', '-f', 's']);
    expect(v.out).toContain('sadb_msg{ version=2 type=14 errno=0 satype=0\n');
    expect(opened).toEqual([]);
  });

  it('bare file arguments are scripts; "-" is standard input', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { a: 'add 10.0.0.1 10.0.0.2 esp 1 -E null;', b: 'add 10.0.0.1 10.0.0.2 esp 2 -E null;' }, 'add 10.0.0.1 10.0.0.2 esp 3 -E null;');
    expect((await run(['a', 'b', '-'])).code).toBe(0);
    expect(k.sas.map((x) => x.ext.sa?.spi)).toEqual([1, 2, 3]);
  });

  it('-c runs statements from stdin one by one; a bad one is reported with its line and the rest still run', async () => {
    const k = new FakeKernel();
    const stdin = 'add 10.0.0.1 10.0.0.2 esp 1 -E null;\nadd 10.0.0.1 10.0.0.2 esp 2 -E bogus;\nadd 10.0.0.1 10.0.0.2 esp 1 -E null;\nadd 10.0.0.1\n 10.0.0.2 esp 3 -E null; quit;\nadd 10.0.0.1 10.0.0.2 esp 4 -E null;';
    const { run } = harness(k, {}, stdin);
    const r = await run(['-c']);
    expect(r.err).toBe("<stdin>:2:32: unknown encryption algorithm \"bogus\" (near 'bogus')\n");
    expect(r.out).toBe('File exists.\n');
    expect(k.sas.map((x) => x.ext.sa?.spi)).toEqual([1, 3]);
    expect(r.code).toBe(1);
  });

  it('-c applies each statement as soon as its ";" arrives, before standard input ends', async () => {
    const k = new FakeKernel();
    const { run } = harness(k);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let sasWhenBlocked = -1;
    async function* chunks() {
      yield 'add 10.0.0.1 10.0.0.2 esp 1 -E null; add 10.0.0.1';
      await new Promise((r) => setTimeout(r, 20));
      sasWhenBlocked = k.sas.length;
      await gate;
      yield ' 10.0.0.2 esp 2 -E null;\nflush\n';
    }
    const done = run(['-c'], { stdinChunks: chunks });
    await new Promise((r) => setTimeout(r, 40));
    release();
    const r = await done;
    expect(sasWhenBlocked).toBe(1);
    expect(k.sas).toHaveLength(2);
    expect(r.err).toBe('<stdin>:3:1: missing ";" at end of command (near end of input)\n');
    expect(r.code).toBe(1);
  });

  it('deleteall dumps the SAs of the type and deletes those between the two addresses (Linux)', async () => {
    const k = new FakeKernel();
    const s =
      'add 10.0.0.1 10.0.0.2 esp 1 -E null;\nadd 10.0.0.1 10.0.0.2 esp 2 -E null;\nadd 10.0.0.1 10.0.0.3 esp 3 -E null;\nadd 10.0.0.1 10.0.0.2 ah 4 -A null;\n';
    const { run } = harness(k, { s, d: 'deleteall 10.0.0.1 10.0.0.2 esp;' });
    await run(['-f', 's']);
    expect((await run(['-f', 'd'])).code).toBe(0);
    expect(k.sas.map((x) => x.ext.sa?.spi)).toEqual([3, 4]);
  });

  it('-x registers promiscuously and prints every message another process sends (kdebug_sadb format) until stopped', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { s: 'spdflush;' });
    const stop = new AbortController();
    const monitor = run(['-x'], { stop: stop.signal, now: () => Date.UTC(2026, 10, 22, 1, 2, 3, 4) });
    await new Promise((r) => setTimeout(r, 20));
    await run(['-f', 's']);
    k.broadcast({ type: SadbMsgType.ACQUIRE, satype: 3, errno: 0, seq: 5, pid: 0, ext: {} });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    const r = await monitor;
    expect(r.code).toBe(0);
    const records = r.out.split('\n\n').filter((x) => x !== '');
    expect(records[0]).toBe('01:02:03.004000 \nsadb_msg{ version=2 type=11 errno=0 satype=1\n  len=2 reserved=0 seq=1 pid=1000');
    expect(records.filter((x) => x.includes('type=19 ')).length).toBe(2); // the request (promisc copy) and the broadcast reply
    expect(records[records.length - 1]).toContain('sadb_msg{ version=2 type=6 errno=0 satype=3\n  len=2 reserved=0 seq=5 pid=0');
  });

  it('-x on a backend without promiscuous mode says so and registers for ah/esp/ipcomp instead', async () => {
    const k = new FakeKernel();
    k.refusePromisc = true;
    const { run } = harness(k);
    const stop = new AbortController();
    const monitor = run(['-x'], { stop: stop.signal });
    await new Promise((r) => setTimeout(r, 20));
    k.broadcast({ type: SadbMsgType.ACQUIRE, satype: 3, errno: 0, seq: 9, pid: 0, ext: {} });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    const r = await monitor;
    expect(r.err).toBe('setkey: promiscuous mode refused (Operation not supported); showing the kernel\'s messages for ah, esp and ipcomp instead\n');
    expect(k.received.filter((m) => m.type === SadbMsgType.REGISTER).map((m) => m.satype)).toEqual([2, 3, 9]);
    expect(r.out).toContain('sadb_msg{ version=2 type=6 errno=0 satype=3\n  len=2 reserved=0 seq=9 pid=0\n');
  });

  it('-x -H adds the raw bytes of each message', async () => {
    const k = new FakeKernel();
    const { run } = harness(k);
    const stop = new AbortController();
    const monitor = run(['-xH'], { stop: stop.signal });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    const r = await monitor;
    expect(r.out.split('\n')[1]).toMatch(/^00000000: 02 0b 00 01 02 00 00 00 01 00 00 00 e8 03 00 00 $/);
  });

  it('-l loops with setkey shortdump lines until stopped', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { s: 'add 10.0.0.1 10.0.0.2 esp 0x300 -lh 3600 -ls 3000 -E null;' });
    await run(['-f', 's']);
    const stop = new AbortController();
    const loop = run(['-Dl'], { stop: stop.signal });
    await new Promise((r) => setTimeout(r, 30));
    stop.abort();
    const r = await loop;
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('time p   s spi      ltime   src -> dst');
    expect(lines[1]).toBe('1320 esp M 00000300   0/big #255 10.0.0.1 -> #255 10.0.0.2');
  });

  it('-l with an empty SAD prints "No SAD entries." each round; -lP loops full SPD records', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { s: 'spdadd 10.0.0.0/8 10.0.0.0/8 any -P out none;' });
    const stop = new AbortController();
    const empty = run(['-Dl'], { stop: stop.signal });
    await new Promise((r) => setTimeout(r, 30));
    stop.abort();
    expect((await empty).out.split('\n').slice(1, 2)).toEqual(['No SAD entries.']);
    await run(['-f', 's']);
    const stop2 = new AbortController();
    const sp = run(['-DPl'], { stop: stop2.signal });
    await new Promise((r) => setTimeout(r, 30));
    stop2.abort();
    expect((await sp).out.split('\n').slice(1, 3)).toEqual(['10.0.0.0/8[any] 10.0.0.0/8[any] 255', '\tout prio def none']);
  });

  it('shortdump: "?" columns for a message without SA or lifetimes', () => {
    expect(shortdump({ type: SadbMsgType.DUMP, satype: 9, errno: 0, seq: 0, pid: 0, ext: {} }, 3723)).toBe('0203 #9 ? ?        ???/??? ? -> ?\n');
  });

  it('-v prints each message sent and received in kdebug form', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, { s: 'spdflush;' });
    const r = await run(['-v', '-f', 's']);
    expect(r.out.match(/sadb_msg\{ version=2 type=19 /g)).toHaveLength(2);
  });

  it('rawHexdump groups 16 bytes per line with offsets', () => {
    expect(rawHexdump(Buffer.from(Array.from({ length: 18 }, (_, i) => i)))).toBe(
      '00000000: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f \n00000010: 10 11 \n',
    );
  });

  it('migrate is sent as SADB_X_MIGRATE and other sockets hear it', async () => {
    const k = new FakeKernel();
    const { run } = harness(k, {
      m: 'migrate 10.1.0.0/24 10.2.0.0/24 any -P out esp/tunnel/192.0.2.10-192.0.2.20/require esp/tunnel/198.51.100.10-192.0.2.20/require -k 198.51.100.10-192.0.2.20;',
    });
    expect((await run(['-f', 'm'])).code).toBe(0);
    const sent = k.received.find((x: PfKeyMessage) => x.type === SadbMsgType.X_MIGRATE);
    expect(sent?.ext.kmaddress?.local.address).toBe('198.51.100.10');
    expect(sent?.ext.policy?.requests).toHaveLength(2);
  });

  it('--socket, $TANUKI_PFKEY_SOCKET and the default path choose the kernel; --kernel picks the backend', async () => {
    const { run, opened } = harness(new FakeKernel());
    await run(['-D', '--socket', '/tmp/a.sock']);
    await run(['-D'], { env: { TANUKI_PFKEY_SOCKET: '/tmp/b.sock' } });
    await run(['-D', '--kernel=xfrm']);
    expect(opened).toEqual([
      { backend: 'userspace', socketPath: '/tmp/a.sock' },
      { backend: 'userspace', socketPath: '/tmp/b.sock' },
      { backend: 'xfrm', socketPath: '/run/tanuki/pfkey.sock' },
    ]);
    const bad = await run(['-D', '--kernel', 'bsd']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('unknown kernel backend "bsd"');
  });

  it('the built-in transport: af_key says it is not available; no kernel at the path is a clear error', async () => {
    const errs: string[] = [];
    const r1 = await main(['-D', '--kernel', 'af_key'], { stdout: () => undefined, stderr: () => undefined });
    const r2 = await main(['-D', '--kernel', 'af_key'], { stdout: () => undefined, stderr: (t) => void errs.push(t) });
    const r3 = await main(['-D', '--socket', '/nonexistent/tanuki.sock'], { stdout: () => undefined, stderr: (t) => void errs.push(t) });
    expect([r1, r2, r3]).toEqual([1, 1, 1]);
    expect(errs[0]).toMatch(/^setkey: pfkey_open: AF_KEY .*use --kernel userspace or --kernel xfrm\n$/);
    expect(errs[1]).toBe('setkey: pfkey_open: no tanuki kernel at /nonexistent/tanuki.sock: start `tanuki-kernel` or racoon\n');
  });

  it('usage, -V, -h and bad options exit 1 like setkey', async () => {
    const { run } = harness(new FakeKernel());
    const none = await run([]);
    expect(none.code).toBe(1);
    expect(none.out).toContain('usage: setkey [-vrk] file ...');
    expect((await run(['-V'])).out).toMatch(/^setkey @\(#\) tanuki/);
    expect((await run(['-h'])).code).toBe(1);
    const bad = await run(['-Z']);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe("setkey: invalid option -- 'Z'\n");
    expect((await run(['-f'])).err).toBe("setkey: option requires an argument -- 'f'\n");
  });

  it('splitStatements keeps ";" inside quotes and comments', () => {
    expect(splitStatements('a "x;y";\n# c;\nb;\n c')).toEqual([
      { text: 'a "x;y";', line: 1 },
      { text: '\n# c;\nb;', line: 1 },
      { text: '\n c', line: 3 },
    ]);
  });
});
