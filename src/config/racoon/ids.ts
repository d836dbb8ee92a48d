/**
 * Identification payload bodies as racoon builds and compares them
 * (RFC 2407 §4.6.2; racoon ipsec_doi.c ipsecdoi_sockaddr2id / sockrange2id /
 * ipsecdoi_chkcmpids, crypto_openssl.c eay_cmp_asn1dn).
 */
import forge from 'node-forge';
import { formatIp, parseIp } from '../../util/ip';
import { IpsecDoiIdType, type IdType, type PhaseId } from './types';

/** IPSEC_ULPROTO_ANY */
export const ULPROTO_ANY = 255;

/**
 * ipsecdoi_sockaddr2id(): an address ID when the prefix covers the whole
 * address, else a subnet ID (address as written — racoon does not mask it — then
 * the netmask). The upper-layer protocol `any` is carried as 0.
 */
export function sockaddrToId(addr: Uint8Array, prefixlen: number, port: number, ulProto: number): PhaseId {
  const bits = addr.length * 8;
  const v4 = addr.length === 4;
  const protocol = ulProto === ULPROTO_ANY ? 0 : ulProto;
  if (prefixlen >= bits) {
    return { type: v4 ? IpsecDoiIdType.IPV4_ADDR : IpsecDoiIdType.IPV6_ADDR, protocol, port, data: Uint8Array.from(addr) };
  }
  const data = new Uint8Array(addr.length * 2);
  data.set(addr, 0);
  for (let b = 0; b < prefixlen; b++) data[addr.length + (b >> 3)] |= 0x80 >> (b & 7);
  return { type: v4 ? IpsecDoiIdType.IPV4_ADDR_SUBNET : IpsecDoiIdType.IPV6_ADDR_SUBNET, protocol, port, data };
}

/** ipsecdoi_sockrange2id(): low address then high address. */
export function rangeToId(low: Uint8Array, high: Uint8Array, port: number, ulProto: number): PhaseId {
  const data = new Uint8Array(low.length * 2);
  data.set(low, 0);
  data.set(high, low.length);
  return {
    type: low.length === 4 ? IpsecDoiIdType.IPV4_ADDR_RANGE : IpsecDoiIdType.IPV6_ADDR_RANGE,
    protocol: ulProto === ULPROTO_ANY ? 0 : ulProto,
    port,
    data,
  };
}

/** idtype2doi() for the name-like types. */
export function nameIdType(t: IdType): IpsecDoiIdType {
  switch (t) {
    case 'fqdn':
      return IpsecDoiIdType.FQDN;
    case 'user_fqdn':
      return IpsecDoiIdType.USER_FQDN;
    case 'keyid':
      return IpsecDoiIdType.KEY_ID;
    case 'asn1dn':
      return IpsecDoiIdType.DER_ASN1_DN;
    case 'subnet':
      return IpsecDoiIdType.IPV4_ADDR_SUBNET;
    case 'address':
      return IpsecDoiIdType.IPV4_ADDR;
  }
}

export function textId(type: IpsecDoiIdType, value: string): PhaseId {
  return { type, protocol: 0, port: 0, data: Buffer.from(value, 'latin1') };
}

/** An address ID as a peer sends it in phase 1 (e.g. for `from` tests and psk lookups). */
export function addressId(text: string): PhaseId | null {
  const b = parseIp(text);
  if (!b) return null;
  return { type: b.length === 4 ? IpsecDoiIdType.IPV4_ADDR : IpsecDoiIdType.IPV6_ADDR, protocol: 0, port: 0, data: b };
}

/**
 * The ID racoon builds for `from address A` / `peers_identifier address A`: the
 * identification data is the whole sockaddr (set_identifier stores str2saddr's
 * result), 16 bytes for IPv4 (Linux sockaddr_in, family little-endian) and 28 for
 * IPv6 — which is why such a `from` never equals a 4/16-byte address ID.
 */
export function sockaddrBlobId(addr: Uint8Array): PhaseId {
  const v4 = addr.length === 4;
  const data = new Uint8Array(v4 ? 16 : 28);
  data[0] = v4 ? 2 : 10; // AF_INET / AF_INET6, host order on x86_64
  data.set(addr, v4 ? 4 : 8);
  return { type: v4 ? IpsecDoiIdType.IPV4_ADDR : IpsecDoiIdType.IPV6_ADDR, protocol: 0, port: 0, data };
}

const DN_SHORT: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  S: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  T: '2.5.4.12',
  TITLE: '2.5.4.12',
  GN: '2.5.4.42',
  E: '1.2.840.113549.1.9.1',
  EMAIL: '1.2.840.113549.1.9.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
  UID: '0.9.2342.19200300.100.1.1',
  DC: '0.9.2342.19200300.100.1.25',
};

/**
 * eay_str2asn1dn(): "C=JP, O=WIDE, CN=host" → DER Name. Returns null when a
 * component is not `TYPE=value` with a known TYPE. Components may be separated
 * by `,` or `/`; `*` values are kept as text (wildcards for peers_identifier).
 */
export function dnToDer(text: string): Uint8Array | null {
  const parts = text
    .split(/[,/]/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return null;
  const rdns: forge.asn1.Asn1[] = [];
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq <= 0) return null;
    const oid = DN_SHORT[p.slice(0, eq).trim().toUpperCase()];
    if (!oid) return null;
    const value = p.slice(eq + 1).trim();
    const A = forge.asn1;
    const strType = oid === '2.5.4.6' ? A.Type.PRINTABLESTRING : oid === DN_SHORT.E ? A.Type.IA5STRING : A.Type.UTF8;
    rdns.push(
      A.create(A.Class.UNIVERSAL, A.Type.SET, true, [
        A.create(A.Class.UNIVERSAL, A.Type.SEQUENCE, true, [
          A.create(A.Class.UNIVERSAL, A.Type.OID, false, A.oidToDer(oid).getBytes()),
          A.create(A.Class.UNIVERSAL, strType, false, strType === A.Type.UTF8 ? forge.util.encodeUtf8(value) : value),
        ]),
      ]),
    );
  }
  const der = forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, true, rdns));
  return Buffer.from(der.getBytes(), 'binary');
}

interface DnEntry {
  oid: string;
  value: string;
}

function derToEntries(der: Uint8Array): DnEntry[] | null {
  try {
    const root = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')));
    const out: DnEntry[] = [];
    if (!Array.isArray(root.value)) return null;
    for (const set of root.value) {
      if (!Array.isArray(set.value)) return null;
      for (const seq of set.value) {
        if (!Array.isArray(seq.value) || seq.value.length < 2) return null;
        const [o, v] = seq.value;
        if (typeof o.value !== 'string' || typeof v.value !== 'string') return null;
        const raw = v.value;
        out.push({ oid: forge.asn1.derToOid(o.value), value: v.type === forge.asn1.Type.UTF8 ? forge.util.decodeUtf8(raw) : raw });
      }
    }
    return out;
  } catch {
    return null;
  }
}

/**
 * eay_cmp_asn1dn(): 0 when equal. Entries compare in order by type and value;
 * a `*` value on either side matches any value of the same type.
 */
export function cmpAsn1Dn(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0) return 0;
  const ea = derToEntries(a);
  const eb = derToEntries(b);
  if (!ea || !eb || ea.length !== eb.length) return 1;
  for (let i = 0; i < ea.length; i++) {
    if (ea[i].oid !== eb[i].oid) return 1;
    if (ea[i].value === '*' || eb[i].value === '*') continue;
    if (ea[i].value !== eb[i].value) return 1;
  }
  return 0;
}

function subnetIsAddr(subnet: Uint8Array, address: Uint8Array, len: number): number {
  if (address.length !== len || subnet.length !== len * 2) return 1;
  for (let i = len; i < len * 2; i++) if (subnet[i] !== 0xff) return 1;
  return Buffer.compare(Buffer.from(subnet.subarray(0, len)), Buffer.from(address));
}

/**
 * ipsecdoi_chkcmpids(target, source, exact): 0 = match, 1 = mismatch,
 * -1 = integrity error. null stands for an anonymous ID (matches when !exact).
 * Protocol and port are not compared (racoon compares only the ID data).
 */
export function chkcmpids(idt: PhaseId | null, ids: PhaseId | null, exact: boolean): number {
  if (idt === null || ids === null) return exact ? -1 : 0;
  const T = IpsecDoiIdType;
  if (ids.type !== idt.type) {
    if (ids.type === T.IPV4_ADDR && idt.type === T.IPV4_ADDR_SUBNET) return subnetIsAddr(idt.data, ids.data, 4) === 0 ? 0 : 1;
    if (ids.type === T.IPV4_ADDR_SUBNET && idt.type === T.IPV4_ADDR) return subnetIsAddr(ids.data, idt.data, 4) === 0 ? 0 : 1;
    if (ids.type === T.IPV6_ADDR && idt.type === T.IPV6_ADDR_SUBNET) return subnetIsAddr(idt.data, ids.data, 16) === 0 ? 0 : 1;
    if (ids.type === T.IPV6_ADDR_SUBNET && idt.type === T.IPV6_ADDR) return subnetIsAddr(ids.data, idt.data, 16) === 0 ? 0 : 1;
    return 1;
  }
  const lt = idt.data.length;
  const ls = ids.data.length;
  switch (idt.type) {
    case T.DER_ASN1_DN:
    case T.DER_ASN1_GN:
      return cmpAsn1Dn(idt.data, ids.data) === 0 ? 0 : 1;
    case T.IPV4_ADDR:
      if (lt !== 4 || ls !== 4) return -1;
      break;
    case T.IPV4_ADDR_SUBNET:
    case T.IPV4_ADDR_RANGE:
      if (lt !== 8 || ls !== 8) return -1;
      break;
    case T.IPV6_ADDR:
      if (lt !== 16 || ls !== 16) return -1;
      break;
    case T.IPV6_ADDR_SUBNET:
    case T.IPV6_ADDR_RANGE:
      if (lt !== 32 || ls !== 32) return -1;
      break;
    case T.FQDN:
    case T.USER_FQDN:
    case T.KEY_ID:
      break;
    default:
      return -1;
  }
  if (lt !== ls) return 1;
  return Buffer.compare(Buffer.from(idt.data), Buffer.from(ids.data)) === 0 ? 0 : 1;
}

/** ipsecdoi_id2str()-like text for logs and sainfo2str(). */
export function idToString(id: PhaseId): string {
  const T = IpsecDoiIdType;
  const d = id.data;
  switch (id.type) {
    case T.IPV4_ADDR:
      return d.length === 4 ? formatIp(d) : '<sockaddr>';
    case T.IPV6_ADDR:
      return d.length === 16 ? formatIp(d) : '<sockaddr>';
    case T.IPV4_ADDR_SUBNET:
    case T.IPV6_ADDR_SUBNET: {
      const n = d.length / 2;
      let bits = 0;
      for (let i = n; i < d.length; i++) for (let b = 7; b >= 0; b--) if (d[i] & (1 << b)) bits++;
      return `${formatIp(d.subarray(0, n))}/${bits}`;
    }
    case T.IPV4_ADDR_RANGE:
    case T.IPV6_ADDR_RANGE: {
      const n = d.length / 2;
      return `${formatIp(d.subarray(0, n))}-${formatIp(d.subarray(n))}`;
    }
    case T.DER_ASN1_DN: {
      const e = derToEntries(d);
      return e ? e.map((x) => `${x.oid}=${x.value}`).join(', ') : '<asn1dn>';
    }
    case T.KEY_ID:
      return '<KEY-ID>';
    default:
      return Buffer.from(d).toString('latin1');
  }
}
