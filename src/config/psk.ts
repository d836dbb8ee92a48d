/**
 * racoon's pre-shared key file (racoon-compat §2; localconf.c getpsk,
 * getpskbyname, getpskbyaddr; safefile.c; oakley.c lookup order).
 *
 * racoon re-reads the file on every look-up and so does this module: a changed
 * psk.txt takes effect on the next negotiation, as it does with racoon.
 */
import * as fs from 'node:fs';
import { formatIp, parseIp } from '../util/ip';
import { IpsecDoiIdType, type PhaseId } from './racoon/types';

/** fgets() buffer size in getpsk(). */
export const PSK_LINE_BUFFER = 1024;

export interface PskFileStat {
  readonly uid: number;
  readonly mode: number;
}

/** What the safety check and the look-up need from the system (tests inject their own). */
export interface PskEnvironment {
  /** stat(2); null when it fails. */
  stat(path: string): PskFileStat | null;
  readFile(path: string): Buffer | null;
  getuid(): number;
  geteuid(): number;
}

export const realPskEnvironment: PskEnvironment = {
  stat(path) {
    try {
      const s = fs.statSync(path);
      return { uid: s.uid, mode: s.mode };
    } catch {
      return null;
    }
  },
  readFile(path) {
    try {
      return fs.readFileSync(path);
    } catch {
      return null;
    }
  },
  getuid: () => (typeof process.getuid === 'function' ? process.getuid() : 0),
  geteuid: () => (typeof process.geteuid === 'function' ? process.geteuid() : 0),
};

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/**
 * safefile(path, secret=1): the checks racoon applies to psk.txt (and the
 * backupsa file), with racoon's messages. A failed stat() makes the file
 * unsafe without a message of its own (racoon then only logs
 * "failed to open pre_share_key file").
 */
export function safefile(path: string, env: PskEnvironment = realPskEnvironment): { readonly safe: boolean; readonly errors: readonly string[] } {
  const bad = (m: string | null) => ({ safe: false, errors: m === null ? [] : [m] });
  if (env.getuid() !== env.geteuid()) return bad("setuid'ed execution not allowed");
  const s = env.stat(path);
  if (s === null) return bad(null);
  if (s.uid !== env.getuid()) return bad(`${path} has invalid owner uid`);
  if ((s.mode & S_IFMT) !== S_IFREG) return bad(`${path} is an invalid file type 0x${(s.mode & S_IFMT).toString(16)}`);
  if ((s.mode & 0o077) !== 0) return bad(`${path} has weak file permission`);
  return { safe: true, errors: [] };
}

export type PskLookup =
  | { readonly ok: true; readonly key: Buffer | null }
  | { readonly ok: false; readonly errors: readonly string[] };

/** isspace() in the C locale */
function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

/** str2val(p, 16): hex digits with optional whitespace, an even count; null otherwise. */
function hexValue(s: Buffer): Buffer | null {
  let digits = '';
  for (const b of s) {
    if (b === 0) break;
    const c = String.fromCharCode(b);
    if (/[0-9a-fA-F]/.test(c)) digits += c;
    else if (!isSpace(b)) return null;
  }
  if (digits.length === 0 || digits.length % 2 !== 0) return null;
  return Buffer.from(digits, 'hex');
}

/** The file split as fgets(buf, 1024) returns it: lines of at most 1023 bytes. */
export function fgetsLines(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < data.length) {
    const nl = data.indexOf(0x0a, i);
    const end = Math.min(nl < 0 ? data.length : nl + 1, i + PSK_LINE_BUFFER - 1);
    out.push(data.subarray(i, end));
    i = end;
  }
  return out;
}

export interface PskEntry {
  readonly id: Buffer;
  /** the key bytes (decoded when written as 0x…); null when the 0x value is not valid hex. */
  readonly key: Buffer | null;
  /** 1-based index of the fgets() read the entry came from. */
  readonly line: number;
}

/** All entries in file order, as getpsk() would see them (comment and key-less lines skipped). */
export function parsePskText(data: Buffer): PskEntry[] {
  const out: PskEntry[] = [];
  fgetsLines(data).forEach((raw, idx) => {
    const nul = raw.indexOf(0);
    const buf = nul >= 0 ? raw.subarray(0, nul) : raw;
    if (buf.length === 0 || buf[0] === 0x23 /* # */) return;
    let p = 0;
    while (p < buf.length && !isSpace(buf[p])) p++;
    if (p >= buf.length) return; // no 2nd parameter
    const id = buf.subarray(0, p);
    p++;
    while (p < buf.length && isSpace(buf[p])) p++;
    if (p >= buf.length) return; // no 2nd parameter
    let q = p;
    while (q < buf.length && buf[q] !== 0x0a) q++;
    const keyText = buf.subarray(p, q);
    const key = keyText.subarray(0, 2).toString('latin1') === '0x' ? hexValue(keyText.subarray(2)) : Buffer.from(keyText);
    out.push({ id: Buffer.from(id), key, line: idx + 1 });
  });
  return out;
}

/**
 * getpsk(str): the key of the first line whose identifier is `*` or equals
 * `str` byte for byte. The file must pass safefile() first.
 */
export function getPsk(path: string, str: Buffer, env: PskEnvironment = realPskEnvironment): PskLookup {
  const check = safefile(path, env);
  const data = check.safe ? env.readFile(path) : null;
  if (data === null) return { ok: false, errors: [...check.errors, `failed to open pre_share_key file ${path}`] };
  for (const e of parsePskText(data)) {
    if ((e.id.length === 1 && e.id[0] === 0x2a) || e.id.equals(str)) {
      if (e.key === null) return { ok: false, errors: ['failed to get psk buffer.'] };
      return { ok: true, key: e.key };
    }
  }
  return { ok: true, key: null };
}

/** getpskbyname(): the ID payload's identification data as the name (FQDN, USER_FQDN, KEY_ID match). */
export function getPskByName(path: string, id: PhaseId, env: PskEnvironment = realPskEnvironment): PskLookup {
  return getPsk(path, Buffer.from(id.data), env);
}

/** getpskbyaddr(): getnameinfo(NI_NUMERICHOST) text of the peer's address (IPv6 compressed, `%scope` kept). */
export function getPskByAddr(path: string, address: string, env: PskEnvironment = realPskEnvironment): PskLookup {
  const pct = address.indexOf('%');
  const bare = pct >= 0 ? address.slice(0, pct) : address;
  const b = parseIp(bare);
  const text = b ? formatIp(b) + (pct >= 0 ? address.slice(pct) : '') : address;
  return getPsk(path, Buffer.from(text, 'latin1'), env);
}

export interface Phase1PskQuery {
  readonly path: string;
  readonly exchange: 'main' | 'aggressive' | 'base';
  /** the peer's phase-1 ID payload body */
  readonly peerId: PhaseId | null;
  readonly peerAddress: string;
  readonly verifyIdentifier: boolean;
}

export type Phase1Psk =
  | { readonly ok: true; readonly key: Buffer; readonly by: 'name' | 'address'; readonly notes: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[]; readonly notes: readonly string[] };

/**
 * oakley_skeyid() PSK look-up order: outside main mode by the peer's ID first;
 * when that fails, stop if verify_identifier is on, else (and always in main
 * mode) by the peer's address.
 */
export function lookupPhase1Psk(q: Phase1PskQuery, env: PskEnvironment = realPskEnvironment): Phase1Psk {
  const notes: string[] = [];
  if (q.exchange !== 'main' && q.peerId) {
    const r = getPskByName(q.path, q.peerId, env);
    if (!r.ok) return { ok: false, errors: r.errors, notes };
    if (r.key) return { ok: true, key: r.key, by: 'name', notes };
    if (q.verifyIdentifier) return { ok: false, errors: ["couldn't find the pskey."], notes };
    notes.push("couldn't find the proper pskey, try to get one by the peer's address.");
  }
  const r = getPskByAddr(q.path, q.peerAddress, env);
  if (!r.ok) return { ok: false, errors: r.errors, notes };
  if (r.key) return { ok: true, key: r.key, by: 'address', notes };
  const bare = q.peerAddress.includes('%') ? q.peerAddress.slice(0, q.peerAddress.indexOf('%')) : q.peerAddress;
  return { ok: false, errors: [`couldn't find the pskey for ${bare}.`], notes };
}

/** The XAuth client password: getpskbyname(xauth_login). */
export function lookupXauthPassword(path: string, login: string, env: PskEnvironment = realPskEnvironment): PskLookup {
  return getPsk(path, Buffer.from(login, 'latin1'), env);
}

/** A name ID (FQDN/USER_FQDN/KEY_ID) as a peer would send it. */
export function nameId(type: IpsecDoiIdType.FQDN | IpsecDoiIdType.USER_FQDN | IpsecDoiIdType.KEY_ID, value: string): PhaseId {
  return { type, protocol: 0, port: 0, data: Buffer.from(value, 'latin1') };
}
