/**
 * Just enough DER (ITU-T X.690) to read what IKEv2 needs out of an X.509
 * certificate (RFC 5280 §4.1): the subject Name (ID_DER_ASN1_DN, RFC 7296
 * §3.5) and the subjectPublicKey bit string (ID_KEY_ID as a key hash).
 * Every reader returns null on malformed input; nothing throws.
 */

export interface Tlv {
  tag: number;
  /** offset of the tag octet */
  start: number;
  /** offset of the first content octet */
  contentStart: number;
  /** offset after the last content octet */
  end: number;
}

/** One TLV at `off` (low-tag-number form, definite lengths up to 4 octets). */
export function readTlv(b: Buffer, off: number): Tlv | null {
  if (off + 2 > b.length) return null;
  const tag = b[off];
  if ((tag & 0x1f) === 0x1f) return null;
  let len = b[off + 1];
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > b.length) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    p += n;
  }
  if (p + len > b.length) return null;
  return { tag, start: off, contentStart: p, end: p + len };
}

/** The TLVs directly inside a constructed TLV. */
export function children(b: Buffer, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  let off = parent.contentStart;
  while (off < parent.end) {
    const t = readTlv(b, off);
    if (!t || t.end > parent.end) return null;
    out.push(t);
    off = t.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const CONTEXT_0 = 0xa0;

/** RFC 5280 §4.1: Certificate → tbsCertificate → its fields (version made explicit). */
function tbsFields(cert: Buffer): Tlv[] | null {
  const root = readTlv(cert, 0);
  if (!root || root.tag !== SEQUENCE) return null;
  const top = children(cert, root);
  if (!top || top.length < 1 || top[0].tag !== SEQUENCE) return null;
  const tbs = children(cert, top[0]);
  if (!tbs) return null;
  return tbs[0]?.tag === CONTEXT_0 ? tbs.slice(1) : tbs;
}

/** The DER of the certificate's subject Name (tbsCertificate field 6, RFC 5280 §4.1.2.6). */
export function certificateSubject(cert: Buffer): Buffer | null {
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const f = tbsFields(cert);
  if (!f || f.length < 6 || f[4].tag !== SEQUENCE) return null;
  return Buffer.from(cert.subarray(f[4].start, f[4].end));
}

/** The subjectPublicKey BIT STRING contents without the unused-bits octet (RFC 5280 §4.2.1.2 method 1 input). */
export function certificatePublicKeyBits(cert: Buffer): Buffer | null {
  const f = tbsFields(cert);
  if (!f || f.length < 6 || f[5].tag !== SEQUENCE) return null;
  const spki = children(cert, f[5]);
  if (!spki || spki.length < 2 || spki[1].tag !== 0x03 || spki[1].end - spki[1].contentStart < 1) return null;
  return Buffer.from(cert.subarray(spki[1].contentStart + 1, spki[1].end));
}

/**
 * A Name as a list of (attribute OID DER, value) in order, the value's string
 * type ignored (a PrintableString "JP" equals a UTF8String "JP"), so that a DN
 * written in racoon.conf compares equal to the one a CA encoded.
 */
export function nameAttributes(name: Buffer): { oid: string; value: string }[] | null {
  const root = readTlv(name, 0);
  if (!root || root.tag !== SEQUENCE || root.end !== name.length) return null;
  const rdns = children(name, root);
  if (!rdns) return null;
  const out: { oid: string; value: string }[] = [];
  for (const rdn of rdns) {
    if (rdn.tag !== SET) return null;
    const atvs = children(name, rdn);
    if (!atvs) return null;
    for (const atv of atvs) {
      if (atv.tag !== SEQUENCE) return null;
      const parts = children(name, atv);
      if (!parts || parts.length !== 2 || parts[0].tag !== 0x06) return null;
      const raw = name.subarray(parts[1].contentStart, parts[1].end);
      // BMPString (0x1e) is UTF-16BE; the others are ASCII-compatible
      const value = parts[1].tag === 0x1e ? Buffer.from(raw).swap16().toString('utf16le') : raw.toString('utf8');
      out.push({ oid: name.subarray(parts[0].contentStart, parts[0].end).toString('hex'), value });
    }
  }
  return out;
}

/** Two DER Names are the same distinguished name (attribute by attribute, string types ignored). */
export function sameName(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  const x = nameAttributes(a);
  const y = nameAttributes(b);
  return !!x && !!y && x.length === y.length && x.every((e, i) => e.oid === y[i].oid && e.value === y[i].value);
}

/** RFC 4514 short names of the usual attribute types, keyed by the OID's DER content. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  '550406': 'C',
  '550408': 'ST',
  '550407': 'L',
  '55040a': 'O',
  '55040b': 'OU',
  '550403': 'CN',
  '550405': 'serialNumber',
  '2a864886f70d010901': 'E',
  '0992268993f22c640119': 'DC',
  '0992268993f22c640101': 'UID',
};

/** "C=JP, O=tanuki, CN=host" (strongSwan's and racoon's order: as encoded); null if not a Name. */
export function formatName(name: Buffer): string | null {
  const attrs = nameAttributes(name);
  return attrs ? attrs.map((a) => `${ATTRIBUTE_NAMES[a.oid] ?? a.oid}=${a.value}`).join(', ') : null;
}
