/**
 * tanuki's XAUTH user file (`path xauth_users "file";`, the tanuki side of
 * racoon's `mode_cfg { auth_source system; }`): one
 * `login:scrypt$<salt hex>$<key hex>` per line, `#` comments and blank lines
 * skipped. scrypt N=2^14, r=8, p=1, 32-octet key. Errors name
 * file:line:column and the offending token.
 */
import { scryptSync } from 'node:crypto';

export interface XauthUserEntry {
  readonly login: string;
  readonly salt: Buffer;
  readonly key: Buffer;
}

export type XauthUsersParse =
  | { ok: true; users: XauthUserEntry[] }
  | { ok: false; error: { file: string; line: number; column: number; token: string; message: string } };

/** scrypt parameters of the user file. */
export const XAUTH_SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 } as const;

export function xauthScrypt(password: string | Buffer, salt: Buffer): Buffer {
  return scryptSync(password, salt, XAUTH_SCRYPT.keyLen, { N: XAUTH_SCRYPT.N, r: XAUTH_SCRYPT.r, p: XAUTH_SCRYPT.p });
}

/** The `scrypt$salt$key` text for a password. */
export function hashXauthPassword(password: string | Buffer, salt: Buffer): string {
  return `scrypt$${salt.toString('hex')}$${xauthScrypt(password, salt).toString('hex')}`;
}

export function parseXauthUsers(text: string, file: string): XauthUsersParse {
  const users: XauthUserEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const err = (column: number, token: string, message: string): XauthUsersParse => ({ ok: false, error: { file, line: i + 1, column, token, message } });
    const colon = line.indexOf(':');
    if (colon <= 0) return err(1, line, 'expected login:scrypt$<salt hex>$<key hex>');
    const login = line.slice(0, colon);
    const spec = line.slice(colon + 1);
    const m = /^scrypt\$([0-9a-fA-F]{2,})\$([0-9a-fA-F]{64})$/.exec(spec);
    if (!m) return err(colon + 2, spec, 'expected scrypt$<salt hex>$<64 hex digits>');
    if (users.some((u) => u.login === login)) return err(1, login, `login "${login}" appears twice`);
    users.push({ login, salt: Buffer.from(m[1], 'hex'), key: Buffer.from(m[2], 'hex') });
  }
  return { ok: true, users };
}

export function formatXauthUsersError(e: { file: string; line: number; column: number; token: string; message: string }): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message} near "${e.token}"`;
}
