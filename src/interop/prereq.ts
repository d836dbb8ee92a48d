/**
 * Prerequisites of a run, each with the precise remedy. Checked before any
 * namespace is created, so a missing piece changes nothing on the machine.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CHARON, cmd, PROJECT_ROOT } from './lab';

export interface Missing {
  readonly what: string;
  readonly fix: string;
}

const APT = 'apt-get install -y strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins';
const PLUGINS = '/usr/lib/ipsec/plugins';

/** Where to look (overridable so a test can show the messages for a machine without strongSwan). */
export interface PrereqPaths {
  readonly charon: string;
  readonly pluginsDir: string;
  readonly tun: string;
}

const DEFAULT_PATHS: PrereqPaths = { charon: CHARON, pluginsDir: PLUGINS, tun: '/dev/net/tun' };

export function checkPrerequisites(paths: PrereqPaths = DEFAULT_PATHS): Missing[] {
  const missing: Missing[] = [];
  const PLUGINS = paths.pluginsDir;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    missing.push({ what: 'root (network namespaces, veth, charon needs CAP_NET_ADMIN)', fix: 'run as root, e.g. sudo tanuki-interop run' });
  }
  if (cmd('ip', ['netns', 'list']).status !== 0) missing.push({ what: '`ip netns` (iproute2)', fix: 'apt-get install -y iproute2' });
  if (cmd('unshare', ['--help']).status !== 0) missing.push({ what: '`unshare` (util-linux)', fix: 'apt-get install -y util-linux' });
  if (!existsSync(paths.charon)) missing.push({ what: `${paths.charon} (strongSwan charon daemon)`, fix: APT });
  // The NAT scenarios' router masquerades with nftables; traffic checks ping from charon's namespace.
  if (cmd('sh', ['-c', 'command -v nft']).status !== 0) missing.push({ what: 'nft (nftables: the NAT router and the small-MTU fragment filter)', fix: 'apt-get install -y nftables' });
  if (cmd('sh', ['-c', 'command -v ping']).status !== 0) missing.push({ what: 'ping (traffic through the tunnel from charon\'s side)', fix: 'apt-get install -y iputils-ping' });
  if (cmd('sh', ['-c', 'command -v swanctl']).status !== 0) missing.push({ what: 'swanctl (strongSwan vici client)', fix: 'apt-get install -y strongswan-swanctl' });
  for (const p of ['kernel-libipsec', 'kernel-netlink', 'socket-default', 'vici', 'kdf']) {
    if (!existsSync(join(PLUGINS, `libstrongswan-${p}.so`))) {
      const pkg = p === 'kernel-libipsec' ? 'libcharon-extra-plugins' : 'strongswan-charon';
      missing.push({ what: `strongSwan plugin ${p} (${PLUGINS}/libstrongswan-${p}.so)`, fix: `apt-get install -y ${pkg}` });
    }
  }
  for (const p of ['chapoly', 'curve25519', 'gcm', 'openssl']) {
    if (!existsSync(join(PLUGINS, `libstrongswan-${p}.so`))) missing.push({ what: `strongSwan plugin ${p}`, fix: APT });
  }
  if (!existsSync(paths.tun)) missing.push({ what: `${paths.tun} (kernel-libipsec creates its ipsec0 TUN device)`, fix: 'modprobe tun (CONFIG_TUN), or run the container with --device /dev/net/tun' });
  for (const f of ['racoon', 'setkey', 'racoonctl']) {
    if (!existsSync(join(PROJECT_ROOT, 'dist', 'src', 'cli', `${f}.js`))) {
      missing.push({ what: `tanuki's ${f} build (dist/src/cli/${f}.js)`, fix: 'npm run build' });
    }
  }
  return missing;
}

export function formatMissing(m: readonly Missing[]): string {
  return m.map((x) => `missing: ${x.what}\n  fix: ${x.fix}\n`).join('');
}
