/**
 * Issue 5, "XAUTH and Mode-Config (server and client), as used by racoon
 * road-warrior setups": two racoon processes on loopback. The server has
 * `remote anonymous` with `authentication_method xauth_psk_server`, a
 * `mode_cfg {}` pool and tanuki's user file (`path xauth_users`); the client
 * has `xauth_psk_client`, `xauth_login "alice"` with the password in psk.txt
 * keyed by the login (racoon getpskbyname), and `mode_cfg on`. The client
 * gets network4 from the pool (draft-dukes Mode-Config REQUEST/REPLY after the
 * draft-beaulieu XAUTH REQUEST/REPLY/SET/ACK); `racoonctl logout-user alice`
 * on the server ends the session on both ends.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashXauthPassword } from '../../src/config/xauth-users';

const root = resolve(__dirname, '../..');
const bin = (t: string) => join(root, 'bin', t);

function waitFor(pred: () => boolean, ms = 15000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => (pred() ? res() : Date.now() > until ? rej(new Error('timed out')) : setTimeout(tick, 100));
    tick();
  });
}

const port = 31000 + (process.pid % 10000);
const client = { addr: '127.0.0.1', dir: mkdtempSync(join(tmpdir(), 'tanuki-xc-')), proc: null as ChildProcess | null };
const server = { addr: '127.0.0.2', dir: mkdtempSync(join(tmpdir(), 'tanuki-xs-')), proc: null as ChildProcess | null };
const proposal = (method: string) => `proposal { encryption_algorithm aes 128; hash_algorithm sha256; authentication_method ${method}; dh_group modp2048; }`;
const listen = (s: { addr: string; dir: string }) => `listen { isakmp ${s.addr} [${port}]; isakmp_natt ${s.addr} [${port + 1}]; adminsock "${join(s.dir, 'racoon.sock')}"; }`;

const serverConf = `path pre_shared_key "${join(server.dir, 'psk.txt')}";
path xauth_users "${join(server.dir, 'xauth-users')}";
${listen(server)}
mode_cfg {
  network4 10.200.0.1;
  netmask4 255.255.255.0;
  pool_size 10;
  dns4 10.200.0.53;
  split_network include 10.2.0.0/24;
  default_domain "corp.test";
  banner "${join(server.dir, 'motd')}";
  auth_source system;
}
remote anonymous {
  exchange_mode main;
  my_identifier fqdn "vpn.test";
  peers_identifier fqdn "laptop.test";
  lifetime time 1 hour;
  ${proposal('xauth_psk_server')}
}
sainfo anonymous { lifetime time 30 min; encryption_algorithm aes 128; authentication_algorithm hmac_sha256; compression_algorithm deflate; }
`;
const clientConf = `path pre_shared_key "${join(client.dir, 'psk.txt')}";
${listen(client)}
remote "vpn" {
  remote_address ${server.addr} [${port}];
  exchange_mode main;
  my_identifier fqdn "laptop.test";
  peers_identifier fqdn "vpn.test";
  xauth_login "alice";
  mode_cfg on;
  script "${join(client.dir, 'hook.sh')}" phase1_up;
  lifetime time 1 hour;
  ${proposal('xauth_psk_client')}
}
sainfo anonymous { lifetime time 30 min; encryption_algorithm aes 128; authentication_algorithm hmac_sha256; compression_algorithm deflate; }
`;

const ctl = (s: { dir: string }, args: string[]) => spawnSync(process.execPath, [bin('racoonctl'), '-s', join(s.dir, 'racoon.sock'), ...args], { encoding: 'utf8' });
const log = (s: { dir: string }) => (existsSync(join(s.dir, 'racoon.log')) ? readFileSync(join(s.dir, 'racoon.log'), 'utf8') : '');

describe('two tanuki daemons: XAUTH PSK + Mode-Config road warrior', () => {
  beforeAll(async () => {
    writeFileSync(join(server.dir, 'racoon.conf'), serverConf);
    writeFileSync(join(server.dir, 'psk.txt'), 'laptop.test\troad-warrior-group-secret\n');
    writeFileSync(join(server.dir, 'xauth-users'), `# login:scrypt$salt$key\nalice:${hashXauthPassword('wonderland', Buffer.from('a1b2c3d4', 'hex'))}\n`);
    writeFileSync(join(server.dir, 'motd'), 'Welcome to the tanuki test VPN\n');
    writeFileSync(join(client.dir, 'racoon.conf'), clientConf);
    writeFileSync(join(client.dir, 'hook.sh'), `#!/bin/sh\necho "$1 $INTERNAL_ADDR4 $INTERNAL_CIDR4 $INTERNAL_DNS4 $SPLIT_INCLUDE_CIDR $DEFAULT_DOMAIN" >> ${join(client.dir, 'hook.log')}\n`);
    chmodSync(join(client.dir, 'hook.sh'), 0o755);
    writeFileSync(join(client.dir, 'psk.txt'), 'vpn.test\troad-warrior-group-secret\nalice\twonderland\n');
    for (const s of [client, server]) {
      chmodSync(join(s.dir, 'psk.txt'), 0o600);
      s.proc = spawn(process.execPath, [bin('racoon'), '-F', '-d', '-f', join(s.dir, 'racoon.conf'), '-l', join(s.dir, 'racoon.log'), '--socket', join(s.dir, 'pfkey.sock'), '--pid-file', join(s.dir, 'racoon.pid')], { stdio: 'ignore' });
    }
    await waitFor(() => [client, server].every((s) => existsSync(join(s.dir, 'racoon.sock'))));
  });

  afterAll(async () => {
    for (const s of [client, server]) if (s.proc && s.proc.exitCode === null) s.proc.kill('SIGKILL');
  });

  it('racoonctl vpn-connect returns on PHASE1_MODE_CFG: the client authenticated as alice and got 10.200.0.1 (network4) with DNS, split network, domain and banner', async () => {
    // racoonctl vpn-connect waits for racoon's EVT_PHASE1_MODE_CFG (0x0107)
    const vc = await new Promise<{ status: number | null; out: string }>((res) => {
      const p = spawn(process.execPath, [bin('racoonctl'), '-s', join(client.dir, 'racoon.sock'), 'vpn-connect', server.addr], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const t = setTimeout(() => p.kill('SIGKILL'), 15000);
      p.on('exit', (status) => {
        clearTimeout(t);
        res({ status, out });
      });
    });
    expect(vc).toEqual({ status: 0, out: expect.stringContaining('mode configuration done') });
    expect(log(client)).toContain('mode-cfg: got address');
    const c = log(client);
    expect(c).toContain('Xauth authentication succeeded for \\"alice\\"');
    expect(c).toContain('mode-cfg: got address 10.200.0.1/255.255.255.0 dns 10.200.0.53');
    expect(c).toContain('mode-cfg banner: Welcome to the tanuki test VPN');
    const s = log(server);
    expect(s).toContain('Xauth: login \\"alice\\" authenticated');
    expect(s).toContain('mode-cfg: sent configuration, address 10.200.0.1 to \\"alice\\"');
    expect(ctl(client, ['show-sa', 'isakmp']).stdout).toContain(`${server.addr}.${port}`);
    // racoon runs an XAUTH client's phase1_up after Mode-Config, with INTERNAL_* / SPLIT_* / DEFAULT_DOMAIN
    await waitFor(() => existsSync(join(client.dir, 'hook.log')));
    expect(readFileSync(join(client.dir, 'hook.log'), 'utf8')).toBe('phase1_up 10.200.0.1 24 10.200.0.53 10.2.0.0/24 corp.test\n');
  });

  it('racoonctl logout-user alice on the server deletes the ISAKMP-SA on both ends and frees the address; an unknown login deletes nothing', async () => {
    // racoon's ADMIN_LOGOUT_USER answers success either way and logs the count (admin.c: "deleted %d SA for user")
    expect(ctl(server, ['logout-user', 'bob']).status).toBe(0);
    await waitFor(() => log(server).includes('deleted 0 SA for user \\"bob\\"'));
    const lu = ctl(server, ['logout-user', 'alice']);
    expect(lu.status).toBe(0);
    await waitFor(() => log(server).includes('mode-cfg: released address 10.200.0.1'));
    await waitFor(() => !ctl(client, ['show-sa', 'isakmp']).stdout.includes(`${server.addr}.`));
    expect(ctl(server, ['show-sa', 'isakmp']).stdout).not.toContain(`${client.addr}.`);
  });

  it('SIGTERM shuts both down cleanly', async () => {
    for (const s of [client, server]) s.proc!.kill('SIGTERM');
    await waitFor(() => [client, server].every((s) => s.proc!.exitCode !== null));
    expect([client.proc!.exitCode, server.proc!.exitCode]).toEqual([0, 0]);
  });
});
