/**
 * The racoon process as a user runs it (issue 6 "The process"): it starts on a
 * configuration, serves PF_KEY to setkey in another process and the admin
 * protocol to racoonctl, survives a reload with a broken configuration
 * (a config that fails to parse never replaces a running one), and cleans up
 * on SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const bin = (t: string) => join(root, 'bin', t);

function waitFor(pred: () => boolean, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error('timed out')) : setTimeout(tick, 50));
    tick();
  });
}

describe('racoon process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-racoon-'));
  const conf = join(dir, 'racoon.conf');
  const admin = join(dir, 'racoon.sock');
  const pfkey = join(dir, 'pfkey.sock');
  const pid = join(dir, 'racoon.pid');
  const logFile = join(dir, 'racoon.log');
  let child: ChildProcess;
  const port = 20000 + (process.pid % 20000);

  beforeAll(async () => {
    writeFileSync(conf, readFileSync(join(root, 'conf/racoon.conf'), 'utf8').replace(/path pre_shared_key "psk.txt";/, `path pre_shared_key "${join(dir, 'psk.txt')}";`));
    copyFileSync(join(root, 'conf/psk.txt'), join(dir, 'psk.txt'));
    chmodSync(join(dir, 'psk.txt'), 0o600);
    child = spawn(process.execPath, [bin('racoon'), '-F', '-f', conf, '-l', logFile, '-p', String(port), '-P', String(port + 1), '--admin-socket', admin, '--pid-file', pid, '--socket', pfkey], { stdio: 'ignore' });
    await waitFor(() => existsSync(admin) && existsSync(pid));
  });
  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('writes its pid file and binds the IKE ports it was given', () => {
    expect(readFileSync(pid, 'utf8').trim()).toBe(String(child.pid));
    const st = spawnSync(process.execPath, [bin('racoonctl'), '-s', admin, 'status'], { encoding: 'utf8' });
    expect(st.status).toBe(0);
    expect(st.stdout).toContain(`"port":${port}`);
    expect(st.stdout).toContain(`"port":${port + 1}`);
  });

  it('serves its embedded PF_KEY kernel to setkey in another process', () => {
    const add = spawnSync(process.execPath, [bin('setkey'), '--socket', pfkey, '-c'], {
      input: 'spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/tunnel/192.0.2.1-192.0.2.2/require;\n',
      encoding: 'utf8',
    });
    expect(add.status).toBe(0);
    const dump = spawnSync(process.execPath, [bin('setkey'), '--socket', pfkey, '-DP'], { encoding: 'utf8' });
    expect(dump.stdout).toContain('10.1.0.0/24[any] 10.2.0.0/24[any] 255');
    expect(dump.stdout).toContain('esp/tunnel/192.0.2.1-192.0.2.2/require');
  });

  it('keeps the running configuration when a reload finds errors', async () => {
    const good = readFileSync(conf, 'utf8');
    writeFileSync(conf, good + '\nremote 192.0.2.99 { exchange_mode bogus; }\n');
    const rc = spawnSync(process.execPath, [bin('racoonctl'), '-s', admin, 'reload-config'], { encoding: 'utf8' });
    expect(rc.status).toBe(1);
    await waitFor(() => readFileSync(logFile, 'utf8').includes('keeping the running one'));
    expect(readFileSync(logFile, 'utf8')).toMatch(/racoon\.conf:\d+:\d+: /);
    writeFileSync(conf, good);
    const ok = spawnSync(process.execPath, [bin('racoonctl'), '-s', admin, 'reload-config'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    const st = spawnSync(process.execPath, [bin('racoonctl'), '-s', admin, 'status'], { encoding: 'utf8' });
    expect(st.status).toBe(0);
  });

  it('SIGTERM removes the pid file and the admin socket', async () => {
    child.kill('SIGTERM');
    await waitFor(() => child.exitCode !== null);
    expect(child.exitCode).toBe(0);
    expect(existsSync(pid)).toBe(false);
    expect(existsSync(admin)).toBe(false);
  });
});

describe('racoon -t', () => {
  it('rejects a broken configuration with file:line:column and a non-zero exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tanuki-racoon-t-'));
    const conf = join(dir, 'bad.conf');
    writeFileSync(conf, 'remote 192.0.2.1 {\n  exchange_mode main;\n  proposal { encryption_algorithm rot13; }\n}\n');
    const bad = spawnSync(process.execPath, [bin('racoon'), '-t', '-f', conf], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/bad\.conf:3:\d+: .*rot13/);
  });
});
