/**
 * racoon's SA backup file (`path backupsa "file";`, racoon -B), as
 * backupsa.c has it:
 *
 *   - every SA racoon installs (SADB_UPDATE / SADB_ADD the kernel accepted)
 *     is appended to the file as one line
 *       `Mon DD HH:MM:SS YYYY%SRC DST satype spi mode reqid wsize e_type
 *        e_keylen a_type a_keylen flags l_alloc l_bytes l_addtime l_usetime
 *        seq keymat`
 *     (local time; numbers in decimal, the SPI in host order; keymat the
 *     encryption key then the authentication key in hex, a space after
 *     every 8 bytes, as racoon's val2str writes it);
 *   - `racoon -B` installs the SAs of that file at start with SADB_ADD: a
 *     line whose hard lifetime has run out since it was written is skipped
 *     ("ignore this line#N in FILE due to expiration"), the others get the
 *     rest of their lifetime (libipsec: soft = 80 % of hard);
 *   - the file must pass racoon's safefile() (owned by us, a regular file,
 *     no group/other permission), both for writing and for reading: racoon
 *     does not create it ("failed to open the backup file FILE.").
 *
 * NAT-T ports are not part of racoon's format and are not saved.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { safefile } from '../config/psk';
import { IpsecMode, SadbMsgType, SadbSaState, SadbSaType } from '../pfkey/constants';
import type { PfKeyMessage, SadbAddress } from '../pfkey/types';
import { parseIp } from '../util/ip';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** strftime("%b %d %T %Y") in local time. */
export function backupTime(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${d.getFullYear()}`;
}

/** racoon's val2str: two hex digits per byte, a space after every 8 bytes. */
function val2str(b: Buffer): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    s += b[i].toString(16).padStart(2, '0');
    if (i % 8 === 7) s += ' ';
  }
  return s;
}

/** The backup line of an UPDATE/ADD request racoon sent; null when it is not a complete SA. */
export function formatBackupLine(m: PfKeyMessage, now: Date): string | null {
  const sa = m.ext.sa;
  const src = m.ext.addressSrc;
  const dst = m.ext.addressDst;
  if ((m.type !== SadbMsgType.UPDATE && m.type !== SadbMsgType.ADD) || !sa || !src || !dst) return null;
  const enc = m.ext.keyEncrypt?.key ?? Buffer.alloc(0);
  const auth = m.ext.keyAuth?.key ?? Buffer.alloc(0);
  const hard = m.ext.lifetimeHard;
  const fields = [
    m.satype,
    sa.spi >>> 0,
    m.ext.sa2?.mode ?? IpsecMode.ANY,
    m.ext.sa2?.reqid ?? 0,
    sa.replay,
    sa.encrypt,
    enc.length,
    sa.auth,
    auth.length,
    sa.flags,
    hard?.allocations ?? 0,
    hard?.bytes ?? 0n,
    hard?.addtime ?? 0n,
    hard?.usetime ?? 0n,
    m.seq >>> 0,
  ];
  return `${backupTime(now)}%${src.addr.address} ${dst.addr.address} ${fields.join(' ')} ${val2str(Buffer.concat([enc, auth]))}`;
}

export interface BackupEntry {
  line: number;
  created: Date;
  /** The SADB_ADD that restores the SA (lifetimes still as written). */
  add: PfKeyMessage;
}

export type BackupLine = { ok: true; entry: BackupEntry } | { ok: false; line: number; error: string };

function parseTime(text: string): Date | null {
  const m = /^([A-Za-z]{3}) (\d\d) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(text);
  if (!m) return null;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[1].toLowerCase());
  if (month < 0) return null;
  const [d, h, mi, s, y] = [m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (d > 31 || h > 24 || mi > 60 || s > 60 || y < 1900) return null;
  return new Date(y, month, d, h, mi, s);
}

function address(text: string): SadbAddress | null {
  const b = parseIp(text);
  if (!b) return null;
  return { proto: 255, prefixlen: b.length * 8, addr: { family: b.length === 4 ? 2 : 10, address: text, port: 0 } };
}

/** Parse the backup file; each line is an entry or an error in racoon's words. */
export function parseBackupFile(text: string, file: string): BackupLine[] {
  const out: BackupLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw === '' || raw.startsWith('#')) return;
    const illegal = (what = ''): BackupLine => ({ ok: false, line, error: `illegal format${what} line#${line} in ${file}: ${raw}` });
    const pct = raw.indexOf('%');
    const created = pct > 0 ? parseTime(raw.slice(0, pct)) : null;
    if (!created) return void out.push(illegal());
    const words = raw.slice(pct + 1).split(/\s+/);
    const src = address(words[0] ?? '');
    const dst = address(words[1] ?? '');
    const nums = words.slice(2, 17);
    if (!src || !dst || nums.length < 15 || !nums.every((w) => /^\d+$/.test(w))) return void out.push(illegal());
    const keyHex = words.slice(17).join('');
    if (!/^([0-9a-fA-F]{2})*$/.test(keyHex)) return void out.push(illegal('(keymat)'));
    const n = nums.map((w) => BigInt(w));
    const [satype, spi, mode, reqid, wsize, eType, eKeylen, aType, aKeylen, flags, lAlloc, lBytes, lAddtime, lUsetime, seq] = n;
    const keymat = Buffer.from(keyHex, 'hex');
    if (keymat.length !== Number(eKeylen + aKeylen)) return void out.push(illegal('(keymat)'));
    const enc = keymat.subarray(0, Number(eKeylen));
    const auth = keymat.subarray(Number(eKeylen));
    const add: PfKeyMessage = {
      type: SadbMsgType.ADD,
      satype: Number(satype) as SadbSaType,
      errno: 0,
      seq: Number(seq),
      pid: 0,
      ext: {
        sa: { spi: Number(spi), replay: Number(wsize), state: SadbSaState.MATURE, auth: Number(aType), encrypt: Number(eType), flags: Number(flags) },
        sa2: { mode: Number(mode) as IpsecMode, sequence: 0, reqid: Number(reqid) },
        addressSrc: src,
        addressDst: dst,
        lifetimeHard: { allocations: Number(lAlloc), bytes: lBytes, addtime: lAddtime, usetime: lUsetime },
        ...(enc.length > 0 ? { keyEncrypt: { bits: enc.length * 8, key: Buffer.from(enc) } } : {}),
        ...(auth.length > 0 ? { keyAuth: { bits: auth.length * 8, key: Buffer.from(auth) } } : {}),
      },
    };
    out.push({ ok: true, entry: { line, created, add } });
  });
  return out;
}

export interface BackupLog {
  error(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

/** backupsa_to_file: append one SA; false (logged) when the file is not safe or cannot be written. */
export function appendBackup(file: string, line: string, log: BackupLog): boolean {
  const safe = safefile(file);
  for (const e of safe.errors) log.error({ file }, e);
  if (safe.safe) {
    try {
      appendFileSync(file, line + '\n');
      return true;
    } catch {
      // falls through to racoon's message
    }
  }
  log.error({ file }, `failed to open the backup file ${file}.`);
  return false;
}

/**
 * backupsa_from_file: the SADB_ADDs to send, lifetimes shortened by the time
 * since each line was written (soft = 80 % of what is left, as libipsec's
 * pfkey_send_add sets it). null when the file cannot be opened (racoon then
 * exits: "something error happened SA recovering.").
 */
export function restoreMessages(file: string, now: Date, log: BackupLog): Array<{ line: number; add: PfKeyMessage }> | null {
  const safe = safefile(file);
  for (const e of safe.errors) log.error({ file }, e);
  let text: string | null = null;
  if (safe.safe) {
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      text = null;
    }
  }
  if (text === null) {
    log.error({ file }, `failed to open the backup file ${file}.`);
    return null;
  }
  const out: Array<{ line: number; add: PfKeyMessage }> = [];
  for (const l of parseBackupFile(text, file)) {
    if (!l.ok) {
      log.error({ file, line: l.line }, l.error);
      continue;
    }
    const { created, add, line } = l.entry;
    const hard = add.ext.lifetimeHard!;
    const elapsed = BigInt(Math.max(0, Math.floor((now.getTime() - created.getTime()) / 1000)));
    if (hard.addtime > 0n && hard.addtime < elapsed) {
      log.debug({ file, line }, `ignore this line#${line} in ${file} due to expiration`);
      continue;
    }
    const addtime = hard.addtime > 0n ? hard.addtime - elapsed : 0n;
    const soft = (v: bigint): bigint => (v * 80n) / 100n;
    out.push({
      line,
      add: {
        ...add,
        ext: {
          ...add.ext,
          lifetimeHard: { ...hard, addtime },
          lifetimeSoft: { allocations: Math.floor((hard.allocations * 80) / 100), bytes: soft(hard.bytes), addtime: soft(addtime), usetime: soft(hard.usetime) },
        },
      },
    });
  }
  return out;
}
