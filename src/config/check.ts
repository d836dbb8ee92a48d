/**
 * `racoon -t -f file`: validate a configuration without starting the daemon.
 * Parses and validates racoon.conf (with its includes), then checks the files it
 * names: the pre-shared key file (racoon's safefile() rules), certificates and
 * private keys (readable and parseable), plain-RSA keys and hook scripts.
 */
import * as fs from 'node:fs';
import { type FileSystem, parsePrivateKey, parseX509, realFileSystem } from './racoon/files';
import { type KernelAlgorithms, certificatePath, formatConfigError, parseRacoonConfig, type RacoonConfig } from './racoon';
import { type PskEnvironment, parsePskText, realPskEnvironment, safefile } from './psk';
import { formatXauthUsersError, parseXauthUsers } from './xauth-users';

export interface CheckOptions {
  readonly fs?: FileSystem;
  readonly pskEnv?: PskEnvironment;
  readonly kernelAlgorithms?: KernelAlgorithms;
  /** is `path` an executable file? (default: access(X_OK)) */
  readonly isExecutable?: (path: string) => boolean;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** the parsed configuration when it parsed (even if a named file failed its check). */
  readonly config: RacoonConfig | null;
}

const PSK_METHODS = new Set(['pre_shared_key', 'xauth_psk_server', 'xauth_psk_client']);

function defaultIsExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}


export function checkConfiguration(path: string, opts: CheckOptions = {}): CheckResult {
  const fsys = opts.fs ?? realFileSystem;
  const env = opts.pskEnv ?? realPskEnvironment;
  const isExec = opts.isExecutable ?? defaultIsExecutable;
  const parsed = parseRacoonConfig(path, { fs: fsys, kernelAlgorithms: opts.kernelAlgorithms, loadFiles: true });
  const warnings = parsed.warnings.map(formatConfigError);
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map(formatConfigError), warnings, config: null };
  const config = parsed.config;
  const errors: string[] = [];

  // pre-shared keys
  const usesPsk = config.remotes.some((r) => r.xauthLogin !== null || r.proposals.some((p) => PSK_METHODS.has(p.authMethod.alg.name)));
  const pskPath = config.path.preSharedKey;
  if (pskPath !== null) {
    const check = safefile(pskPath, env);
    const data = check.safe ? env.readFile(pskPath) : null;
    if (data === null) {
      const msgs = [...check.errors, `failed to open pre_share_key file ${pskPath}`];
      (usesPsk ? errors : warnings).push(...msgs);
    } else {
      for (const e of parsePskText(data)) {
        if (e.key === null) warnings.push(`${pskPath}: entry ${e.id.toString('latin1')} (line ${e.line}): 0x key is not valid hex`);
      }
    }
  } else if (usesPsk) {
    errors.push('pre-shared key authentication is configured but no `path pre_shared_key` names the key file');
  }

  // certificates and keys named by each remote
  for (const r of config.remotes) {
    const where = `remote "${r.name}" (${r.pos.file}:${r.pos.line})`;
    if (r.certificate?.type === 'x509') {
      const cp = certificatePath(config, r.certificate.certFile);
      const cd = fsys.readFile(cp);
      if (cd === null) errors.push(`${where}: certificate ${cp} is not readable`);
      else if (!parseX509(cd).ok) errors.push(`${where}: certificate ${cp} is not a valid X.509 certificate`);
      const kp = certificatePath(config, r.certificate.keyFile);
      const kd = fsys.readFile(kp);
      if (kd === null) errors.push(`${where}: private key ${kp} is not readable`);
      else {
        const k = parsePrivateKey(kd);
        if (!k.ok) errors.push(`${where}: private key ${kp} cannot be parsed: ${k.reason}`);
      }
    }
    for (const [kind, s] of Object.entries(r.scripts)) {
      if (s !== null && !isExec(s)) errors.push(`${where}: script ${s} (${kind}) is not an executable file`);
    }
  }
  // XAUTH server (tanuki: auth_source system = the `path xauth_users` file; docs/ikev1.md)
  const xauthServer = config.remotes.some((r) => r.proposals.some((p) => /^(xauth|hybrid)_(psk|rsa|dss)_server$/.test(p.authMethod.alg.name)));
  if (xauthServer) {
    const src = config.modeCfg.authSource;
    // valid racoon, but tanuki's daemon will refuse every XAUTH client: a warning, not a syntax error
    if (src !== 'system') warnings.push(`mode_cfg auth_source ${src} is not supported by tanuki (no ${src === 'pam' ? 'PAM binding' : src === 'ldap' ? 'LDAP client' : 'RADIUS client'}): use auth_source system with path xauth_users`);
    else if (config.path.xauthUsers === null) errors.push('an xauth server method is configured but there is no user file: add `path xauth_users "file";` (tanuki extension)');
    else {
      const data = fsys.readFile(config.path.xauthUsers);
      if (data === null) errors.push(`xauth_users file ${config.path.xauthUsers} is not readable`);
      else {
        const parsed = parseXauthUsers(data.toString('utf8'), config.path.xauthUsers);
        if (!parsed.ok) errors.push(formatXauthUsersError(parsed.error));
      }
    }
  }
  if (config.path.backupsa !== null) {
    const check = safefile(config.path.backupsa, env);
    if (!check.safe) warnings.push(...(check.errors.length > 0 ? check.errors : [`${config.path.backupsa} cannot be read`]).map((m) => `backupsa: ${m}`));
  }
  return { ok: errors.length === 0, errors, warnings, config };
}
