/**
 * `npm run demo`: two racoon daemons on loopback (127.0.0.1 "left" and
 * 127.0.0.2 "right"), each with its own embedded userspace kernel and an
 * in-process host (10.1.0.1 / 10.2.0.1). A ping from one host matches the
 * policy, the kernel raises ACQUIRE, IKEv2 installs a tunnel between
 * 10.1.0.0/24 and 10.2.0.0/24 and the pings are answered through it. The story
 * is printed step by step: the policies, the negotiation (from the daemons'
 * logs), `setkey -D` on both sides with the same SPIs crossed over, traffic
 * and counters, a CHILD_SA rekey when the short sainfo lifetime runs out, and
 * a clean shutdown.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const BIN = (tool: string): string => join(ROOT, 'bin', tool);

interface Side {
  name: 'left' | 'right';
  addr: string;
  peer: string;
  localNet: string;
  remoteNet: string;
  host: string;
  dir: string;
  proc?: ChildProcess;
}

const PORT = 15500;

function racoonConf(s: Side): string {
  const other = s.name === 'left' ? 'right' : 'left';
  return `# demo: ${s.name}
path pre_shared_key "${join(s.dir, 'psk.txt')}";
log info;
listen { isakmp ${s.addr} [${PORT}]; isakmp_natt ${s.addr} [${PORT + 1}]; adminsock "${join(s.dir, 'racoon.sock')}"; }
remote "${other}" {
	remote_address ${s.peer} [${PORT}];
	ike_version 2;
	my_identifier fqdn "${s.name}.demo.example";
	peers_identifier fqdn "${other}.demo.example";
	lifetime time 1 hour;
	proposal {
		encryption_algorithm aes_gcm_16 128;
		hash_algorithm sha256;
		authentication_method pre_shared_key;
		dh_group curve25519;
	}
}
sainfo anonymous {
	lifetime time 40 sec;
	encryption_algorithm aes_gcm_16 128;
	authentication_algorithm non_auth;
	compression_algorithm deflate;
}
`;
}

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

function run(tool: string, args: string[], input?: string): string {
  const r = spawnSync(process.execPath, [BIN(tool), ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return (r.stdout ?? '') + (r.stderr ?? '');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pred()) return true;
    await sleep(200);
  }
  return pred();
}

function logLines(s: Side, pattern: RegExp): string[] {
  const file = join(s.dir, 'racoon.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      try {
        return (JSON.parse(l) as { msg?: string }).msg ?? '';
      } catch {
        return l;
      }
    })
    .filter((m) => pattern.test(m));
}

function spis(dump: string): string[] {
  return [...dump.matchAll(/spi=(\d+)\(0x([0-9a-f]+)\)/g)].map((m) => `0x${m[2]}`);
}

export async function main(): Promise<number> {
  const left: Side = { name: 'left', addr: '127.0.0.1', peer: '127.0.0.2', localNet: '10.1.0.0/24', remoteNet: '10.2.0.0/24', host: '10.1.0.1', dir: mkdtempSync(join(tmpdir(), 'tanuki-demo-left-')) };
  const right: Side = { name: 'right', addr: '127.0.0.2', peer: '127.0.0.1', localNet: '10.2.0.0/24', remoteNet: '10.1.0.0/24', host: '10.2.0.1', dir: mkdtempSync(join(tmpdir(), 'tanuki-demo-right-')) };
  const sides = [left, right];
  const stopAll = (): void => {
    for (const s of sides) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGTERM');
  };
  process.on('SIGINT', () => {
    stopAll();
    process.exit(130);
  });

  say('1. Two racoon daemons, each with its own userspace PF_KEY kernel');
  for (const s of sides) {
    writeFileSync(join(s.dir, 'racoon.conf'), racoonConf(s));
    writeFileSync(join(s.dir, 'psk.txt'), `${s.name === 'left' ? 'right' : 'left'}.demo.example\tdemo-pre-shared-key\n`);
    chmodSync(join(s.dir, 'psk.txt'), 0o600);
    s.proc = spawn(process.execPath, [BIN('racoon'), '-F', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', join(s.dir, 'pfkey.sock'), '--pid-file', join(s.dir, 'racoon.pid'), '--host', s.host], { stdio: 'ignore' });
    process.stdout.write(`${s.name}: racoon -F -f ${join(s.dir, 'racoon.conf')} --host ${s.host}  (IKE on ${s.addr}[${PORT}], kernel ${join(s.dir, 'pfkey.sock')})\n`);
  }
  if (!(await waitFor(() => sides.every((s) => existsSync(join(s.dir, 'racoon.sock'))), 15000))) {
    process.stderr.write('the daemons did not start; see their logs in ' + sides.map((s) => s.dir).join(', ') + '\n');
    stopAll();
    return 1;
  }

  say('2. Policies, loaded with setkey into each kernel');
  for (const s of sides) {
    const script = `spdadd ${s.localNet} ${s.remoteNet} any -P out ipsec esp/tunnel/${s.addr}-${s.peer}/require;\nspdadd ${s.remoteNet} ${s.localNet} any -P in ipsec esp/tunnel/${s.peer}-${s.addr}/require;\n`;
    run('setkey', ['--socket', join(s.dir, 'pfkey.sock'), '-c'], script);
    process.stdout.write(`-- ${s.name}: setkey -DP\n${run('setkey', ['--socket', join(s.dir, 'pfkey.sock'), '-DP'])}`);
  }

  say(`3. The host ${left.host} pings ${right.host}: the packet matches the policy, the kernel raises ACQUIRE, IKEv2 runs`);
  process.stdout.write(run('tanuki-kernel', ['ping', '--socket', join(left.dir, 'pfkey.sock'), '-c', '3', '-W', '3000', left.host, right.host]));
  const up = await waitFor(() => sides.every((s) => (run('setkey', ['--socket', join(s.dir, 'pfkey.sock'), '-D']).match(/state=mature/g) ?? []).length >= 2), 20000);
  for (const s of sides) for (const line of logLines(s, /IKE_SA|CHILD_SA|ACQUIRE|initiat/)) process.stdout.write(`${s.name}: ${line}\n`);
  if (!up) {
    process.stderr.write('negotiation did not complete\n');
    stopAll();
    return 1;
  }

  say('4. setkey -D on both sides: the outbound SPI of one is the inbound SPI of the other');
  const dumps = sides.map((s) => run('setkey', ['--socket', join(s.dir, 'pfkey.sock'), '-D']));
  sides.forEach((s, i) => process.stdout.write(`-- ${s.name}\n${dumps[i]}`));
  const [l, r] = dumps.map(spis);
  process.stdout.write(`left SPIs ${l.join(', ')}; right SPIs ${r.join(', ')}: ${l.slice().sort().join() === r.slice().sort().join() ? 'the same pair on both sides' : 'MISMATCH'}\n`);
  process.stdout.write(run('racoonctl', ['-s', join(left.dir, 'racoon.sock'), 'show-sa', 'isakmp']));
  say(`4b. Traffic through the tunnel: ${right.host} pings back; the SA byte counters move`);
  process.stdout.write(run('tanuki-kernel', ['ping', '--socket', join(right.dir, 'pfkey.sock'), '-c', '3', '-W', '3000', right.host, left.host]));
  process.stdout.write(run('setkey', ['--socket', join(right.dir, 'pfkey.sock'), '-D']).split('\n').filter((l) => /^\S|current: \d+\(bytes\)/.test(l)).join('\n') + '\n');

  say('5. The CHILD_SA lifetime is 40 s (soft at 80 %): waiting for the rekey');
  const rekeyed = await waitFor(() => logLines(left, /rekey/i).length + logLines(right, /rekey/i).length > 0, 45000);
  for (const s of sides) for (const line of logLines(s, /rekey/i)) process.stdout.write(`${s.name}: ${line}\n`);
  if (rekeyed) {
    await sleep(2000);
    const after = sides.map((s) => spis(run('setkey', ['--socket', join(s.dir, 'pfkey.sock'), '-D'])));
    process.stdout.write(`SPIs after the rekey: left ${after[0].join(', ')}; right ${after[1].join(', ')}\n`);
  }

  say('6. Clean shutdown: SIGTERM deletes the IKE SA with the peer and removes what was installed');
  stopAll();
  await waitFor(() => sides.every((s) => s.proc?.exitCode !== null), 10000);
  for (const s of sides) process.stdout.write(`${s.name}: exit ${s.proc?.exitCode}; log ${join(s.dir, 'racoon.log')}\n`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`demo: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
