/**
 * racoon's `path backupsa` file format (backupsa.c: backupsa_to_file /
 * backupsa_from_file, `racoon -B`) and `privsep { user; group; chroot; }`
 * as far as a Node process can do them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { backupTime, formatBackupLine, parseBackupFile, restoreMessages } from '../../src/daemon/backupsa';
import { IpsecMode, SadbMsgType, SadbSaState, SadbSaType } from '../../src/pfkey/constants';
import type { PfKeyMessage } from '../../src/pfkey/types';

const root = resolve(__dirname, '../..');
const bin = (t: string): string => join(root, 'bin', t);

const update: PfKeyMessage = {
  type: SadbMsgType.UPDATE,
  satype: SadbSaType.ESP,
  errno: 0,
  seq: 7,
  pid: 1234,
  ext: {
    sa: { spi: 0xc0ffee01, replay: 4, state: SadbSaState.MATURE, auth: 5, encrypt: 12, flags: 0 },
    sa2: { mode: IpsecMode.TUNNEL, sequence: 0, reqid: 3 },
    addressSrc: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.1', port: 0 } },
    addressDst: { proto: 255, prefixlen: 32, addr: { family: 2, address: '192.0.2.2', port: 0 } },
    lifetimeHard: { allocations: 0, bytes: 0n, addtime: 3600n, usetime: 0n },
    keyEncrypt: { bits: 128, key: Buffer.alloc(16, 0x11) },
    keyAuth: { bits: 256, key: Buffer.alloc(32, 0x22) },
  },
};

const silent = { error: () => undefined, info: () => undefined, debug: () => undefined };

describe('path backupsa: the line format of racoon backupsa.c', () => {
  const when = new Date(2026, 10, 22, 5, 4, 3);

  it('writes "%b %d %T %Y%SRC DST satype spi mode reqid wsize e_type e_keylen a_type a_keylen flags l_alloc l_bytes l_addtime l_usetime seq keymat"', () => {
    const line = formatBackupLine(update, when)!;
    const key = `${'11'.repeat(8)} ${'11'.repeat(8)} ${'22'.repeat(8)} ${'22'.repeat(8)} ${'22'.repeat(8)} ${'22'.repeat(8)} `;
    expect(line).toBe(`Nov 22 05:04:03 2026%192.0.2.1 192.0.2.2 3 ${0xc0ffee01} 2 3 4 12 16 5 32 0 0 0 3600 0 7 ${key}`);
    expect(backupTime(new Date(2026, 0, 5, 0, 0, 9))).toBe('Jan 05 00:00:09 2026');
  });

  it('reads its own lines back into the SADB_ADD that restores the SA (keys split by their lengths)', () => {
    const [r] = parseBackupFile(formatBackupLine(update, when)!, 'f');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.entry.created).toEqual(when);
    expect(r.entry.add).toMatchObject({
      type: SadbMsgType.ADD,
      satype: SadbSaType.ESP,
      seq: 7,
      ext: {
        sa: { spi: 0xc0ffee01, replay: 4, auth: 5, encrypt: 12 },
        sa2: { mode: IpsecMode.TUNNEL, reqid: 3 },
        addressSrc: { addr: { address: '192.0.2.1' } },
        addressDst: { addr: { address: '192.0.2.2' } },
        keyEncrypt: { bits: 128, key: Buffer.alloc(16, 0x11) },
        keyAuth: { bits: 256, key: Buffer.alloc(32, 0x22) },
      },
    });
  });

  it('names a bad line as racoon does ("illegal format line#N in FILE: ...") and skips comments', () => {
    const text = `# comment\nNov 22 05:04:03 2026 192.0.2.1 192.0.2.2 3\nNov 22 05:04:03 2026%192.0.2.1 192.0.2.2 3 1 2 3 4 12 16 5 32 0 0 0 3600 0 7 zz\n`;
    const r = parseBackupFile(text, '/var/racoon/sa');
    expect(r).toEqual([
      { ok: false, line: 2, error: 'illegal format line#2 in /var/racoon/sa: Nov 22 05:04:03 2026 192.0.2.1 192.0.2.2 3' },
      { ok: false, line: 3, error: expect.stringMatching(/^illegal format\(keymat\) line#3 in \/var\/racoon\/sa: /) },
    ]);
  });

  it('restore: an expired line is ignored, the others get what is left of their lifetime (soft = 80 %)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tanuki-bsa-'));
    try {
      const f = join(dir, 'sa');
      const now = new Date(2026, 10, 22, 6, 0, 0);
      const fresh = formatBackupLine(update, new Date(now.getTime() - 600_000))!; // 10 min old, 1 h lifetime
      const old = formatBackupLine(update, new Date(now.getTime() - 7200_000))!; // 2 h old: expired
      writeFileSync(f, `${old}\n${fresh}\n`, { mode: 0o600 });
      const debug: string[] = [];
      const r = restoreMessages(f, now, { ...silent, debug: (_f, m) => void debug.push(m) })!;
      expect(r).toHaveLength(1);
      expect(r[0].line).toBe(2);
      expect(r[0].add.ext.lifetimeHard?.addtime).toBe(3000n);
      expect(r[0].add.ext.lifetimeSoft?.addtime).toBe(2400n);
      expect(debug).toEqual([`ignore this line#1 in ${f} due to expiration`]);
      // racoon's safefile(): group/other permission makes the file unusable
      chmodSync(f, 0o644);
      const errors: string[] = [];
      expect(restoreMessages(f, now, { ...silent, error: (_f, m) => void errors.push(m) })).toBeNull();
      expect(errors).toEqual([`${f} has weak file permission`, `failed to open the backup file ${f}.`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('racoon process: -B and privsep', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tanuki-ps-'));
  const port = 26000 + (process.pid % 8000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function conf(extra: string): string {
    return `listen { isakmp 127.0.0.1 [${port}]; isakmp_natt 127.0.0.1 [${port + 1}]; adminsock "${join(dir, 'racoon.sock')}"; }
${extra}
remote anonymous { exchange_mode main; proposal { encryption_algorithm aes; hash_algorithm sha256; authentication_method pre_shared_key; dh_group modp2048; } }
`;
  }

  let logName = '';
  function run(args: string[], log: string): ChildProcess {
    logName = join(dir, log);
    return spawn(process.execPath, [bin('racoon'), '-F', '-f', join(dir, 'racoon.conf'), '-l', logName, '--socket', join(dir, 'pfkey.sock'), '--pid-file', join(dir, 'racoon.pid'), ...args], { stdio: 'ignore' });
  }

  function exited(p: ChildProcess, ms: number): Promise<number | null> {
    return new Promise((res) => {
      if (p.exitCode !== null) return res(p.exitCode);
      const t = setTimeout(() => res(null), ms);
      p.once('exit', (code) => {
        clearTimeout(t);
        res(code);
      });
    });
  }

  async function waitFor(pred: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('privsep { user; group; }: racoon runs on as that uid/gid once its sockets are open, still serving IKE and the admin socket', async () => {
    writeFileSync(join(dir, 'racoon.conf'), conf('privsep { user 65534; group 65534; }'));
    const p = run([], 'privsep.log');
    try {
      await waitFor(() => existsSync(join(dir, 'racoon.sock')) && existsSync(logName) && readFileSync(logName, 'utf8').includes('racoon started'), 15000);
      const status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
      expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
      expect(status).toMatch(/^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
      expect(status).toMatch(/^Groups:\s+65534\s*$/m);
      // the admin socket opened as root before the drop still answers (root's racoonctl)
      const st = spawnSync(process.execPath, [bin('racoonctl'), '-s', join(dir, 'racoon.sock'), 'show-sa', 'isakmp'], { encoding: 'utf8' });
      expect(st.status).toBe(0);
      expect(readFileSync(logName, 'utf8')).toContain('privileges dropped (privsep)');
      p.kill('SIGTERM');
      expect(await exited(p, 10000)).toBe(0);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  }, 30000);

  it('adminsock "path" "owner" "group" MODE: the admin socket gets that owner, group and mode (racoon admin_init chown/chmod)', async () => {
    const sock = join(dir, 'owned.sock');
    writeFileSync(join(dir, 'racoon.conf'), conf('').replace(/adminsock "[^"]*";/, `adminsock "${sock}" "nobody" "nogroup" 0660;`));
    const p = run([], 'adminsock.log');
    try {
      await waitFor(() => existsSync(sock) && existsSync(logName) && readFileSync(logName, 'utf8').includes('racoon started'), 15000);
      const st = statSync(sock);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([65534, 65534, 0o660]);
      p.kill('SIGTERM');
      expect(await exited(p, 10000)).toBe(0);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  }, 30000);

  it('privsep { chroot "dir"; } is refused at start with a clear error (exit 1), nothing left running', async () => {
    writeFileSync(join(dir, 'racoon.conf'), conf(`privsep { user 65534; group 65534; chroot "${dir}"; }`));
    const p = run([], 'chroot.log');
    expect(await exited(p, 15000)).toBe(1);
    expect(readFileSync(logName, 'utf8')).toMatch(/privsep \{ chroot .* \} is not supported: Node cannot chroot\(2\) a running process/);
  }, 30000);

  it('-B restores the SAs of the backup file into the kernel at start; -B without a usable file stops racoon', async () => {
    const sa = join(dir, 'backup.sa');
    const line = formatBackupLine({ ...update, ext: { ...update.ext, addressSrc: { ...update.ext.addressSrc!, addr: { family: 2, address: '127.0.0.9', port: 0 } } } }, new Date())!;
    writeFileSync(sa, `${line}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'racoon.conf'), conf(`path backupsa "${sa}";`));
    const p = run(['-B'], 'restore.log');
    try {
      await waitFor(() => existsSync(logName) && readFileSync(logName, 'utf8').includes('racoon started'), 15000);
      const d = spawnSync(process.execPath, [bin('setkey'), '--socket', join(dir, 'pfkey.sock'), '-D'], { encoding: 'utf8' }).stdout;
      expect(d).toMatch(new RegExp(`127\\.0\\.0\\.9 192\\.0\\.2\\.2\\s*\\n\\s*esp mode=tunnel spi=${0xc0ffee01}\\(0xc0ffee01\\) reqid=3`));
      p.kill('SIGTERM');
      expect(await exited(p, 10000)).toBe(0);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
    chmodSync(sa, 0o644);
    const q = run(['-B'], 'restore-bad.log');
    expect(await exited(q, 15000)).toBe(1);
    const log = readFileSync(logName, 'utf8');
    expect(log).toContain(`${sa} has weak file permission`);
    expect(log).toContain('something error happened SA recovering.');
  }, 40000);
});
