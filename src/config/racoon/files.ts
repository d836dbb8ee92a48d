/**
 * The file-system side of reading a racoon configuration: include globs,
 * /etc/passwd and /etc/group look-ups, and loading the certificates and
 * plain-RSA keys racoon loads while it parses (load_x509, rsa_parse_file).
 * Every function returns a result; none throws.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import forge from 'node-forge';

export interface FileSystem {
  readFile(path: string): Buffer | null;
  /** glob(3) with GLOB_TILDE: sorted matches, [] when none. */
  glob(pattern: string): string[];
  lookupUser(name: string): number | null;
  lookupGroup(name: string): number | null;
}

function globSegment(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        const body = seg.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** A small glob(3): `*`, `?`, `[...]` in any path segment; leading `~` is $HOME. */
export function globFiles(pattern: string): string[] {
  let p = pattern;
  if (p === '~' || p.startsWith('~/')) p = os.homedir() + p.slice(1);
  if (!/[*?[]/.test(p)) return fs.existsSync(p) ? [p] : [];
  const abs = p.startsWith('/');
  const segs = p.split('/').filter((s) => s !== '');
  let bases = [abs ? '/' : '.'];
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    const next: string[] = [];
    for (const b of bases) {
      if (!/[*?[]/.test(seg)) {
        const cand = nodePath.join(b, seg);
        if (fs.existsSync(cand)) next.push(cand);
        continue;
      }
      let names: string[];
      try {
        names = fs.readdirSync(b);
      } catch {
        continue;
      }
      const re = globSegment(seg);
      for (const n of names.sort()) if (re.test(n) && !(n.startsWith('.') && !seg.startsWith('.'))) next.push(nodePath.join(b, n));
    }
    bases = next;
  }
  return bases.map((b) => (abs ? b : nodePath.relative('.', b) || '.')).sort();
}

function lookupDb(file: string, name: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3 && /^[0-9]+$/.test(f[2])) return Number(f[2]);
  }
  return null;
}

export const realFileSystem: FileSystem = {
  readFile(path: string): Buffer | null {
    try {
      return fs.readFileSync(path);
    } catch {
      return null;
    }
  },
  glob: globFiles,
  lookupUser: (name) => lookupDb('/etc/passwd', name),
  lookupGroup: (name) => lookupDb('/etc/group', name),
};

/**
 * eay_get_x509cert(): a PEM or DER X.509 certificate. node-forge parses RSA
 * certificates; certificates with other key types (ECDSA, Ed25519) are parsed
 * by node:crypto's X509Certificate.
 */
export function parseX509(data: Buffer): { ok: true; subject: string } | { ok: false; reason: string } {
  const text = data.toString('latin1');
  try {
    const cert = text.includes('-----BEGIN')
      ? forge.pki.certificateFromPem(text)
      : forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(text)));
    return { ok: true, subject: cert.subject.attributes.map((a) => `${a.shortName ?? a.name}=${String(a.value)}`).join(', ') };
  } catch (forgeError) {
    try {
      const x = new X509Certificate(data);
      return { ok: true, subject: x.subject.replace(/\n/g, ', ') };
    } catch {
      return { ok: false, reason: forgeError instanceof Error ? forgeError.message : String(forgeError) };
    }
  }
}

/** A PEM private key (RSA/EC/PKCS#8, encrypted keys are reported as such). */
export function parsePrivateKey(data: Buffer): { ok: true } | { ok: false; reason: string } {
  const text = data.toString('latin1');
  if (!text.includes('-----BEGIN') || !/PRIVATE KEY-----/.test(text)) return { ok: false, reason: 'not a PEM private key' };
  if (text.includes('ENCRYPTED')) return { ok: false, reason: 'encrypted private keys are not supported' };
  try {
    if (text.includes('BEGIN RSA PRIVATE KEY') || text.includes('BEGIN PRIVATE KEY')) {
      try {
        forge.pki.privateKeyFromPem(text);
        return { ok: true };
      } catch {
        // PKCS#8 EC keys are not understood by forge; fall through to node:crypto
      }
    }
    // node:crypto understands EC and Ed25519 keys
    createPrivateKey(text);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * rsa_parse_file(): racoon's plain-RSA key files (plainrsa-gen output).
 * private: a `: RSA {` block with Modulus, PublicExponent and PrivateExponent.
 * public: one or more `[addr[/pfx] [addr[/pfx]]] : PUB 0s<base64>|0x<hex>` lines.
 */
export function parsePlainRsa(data: Buffer, type: 'private' | 'public'): { ok: true; keys: number } | { ok: false; reason: string } {
  const text = data.toString('latin1');
  if (type === 'private') {
    const m = /:\s*RSA\s*\{([\s\S]*?)\}/.exec(text);
    if (!m) return { ok: false, reason: 'no ": RSA {" block' };
    for (const f of ['Modulus', 'PublicExponent', 'PrivateExponent']) {
      if (!new RegExp(`^\\s*${f}:\\s*0x[0-9a-fA-F]+\\s*$`, 'm').test(m[1])) return { ok: false, reason: `missing ${f}` };
    }
    return { ok: true, keys: 1 };
  }
  let keys = 0;
  for (const line of text.split('\n')) {
    const l = line.replace(/#.*/, '').trim();
    if (l === '') continue;
    const m = /:\s*PUB\s+(0s[A-Za-z0-9+/=]+|0x[0-9a-fA-F]+)$/.exec(l);
    if (!m) return { ok: false, reason: `bad line '${l}'` };
    keys++;
  }
  return keys > 0 ? { ok: true, keys } : { ok: false, reason: 'no public key' };
}
