/** ID payload data (RFC 7296 §3.5) from/to configured identities. */
import { isIP } from 'node:net';
import { formatIp, parseIp } from '../../util/ip';
import { IdType } from './constants';
import type { Ikev2Identity } from './config';
import { formatName, sameName } from './der';

export function identityData(id: Ikev2Identity): Buffer {
  switch (id.type) {
    case IdType.ID_IPV4_ADDR:
    case IdType.ID_IPV6_ADDR:
      return parseIp(id.value) ?? Buffer.alloc(0);
    case IdType.ID_KEY_ID:
    case IdType.ID_DER_ASN1_DN:
    case IdType.ID_DER_ASN1_GN:
      return Buffer.from(id.value.replace(/[:\s]/g, ''), 'hex');
    default:
      return Buffer.from(id.value, 'utf8');
  }
}

/** An identity for an address literal (racoon's default `my_identifier address`). */
export function addressIdentity(address: string): Ikev2Identity {
  return { type: isIP(address) === 6 ? IdType.ID_IPV6_ADDR : IdType.ID_IPV4_ADDR, value: address };
}

export function identityMatches(id: Ikev2Identity | null, type: number, data: Buffer): boolean {
  if (id === null) return true;
  if (id.type !== type) return false;
  // distinguished names compare attribute by attribute (a DN typed in racoon.conf vs the CA's encoding)
  if (type === IdType.ID_DER_ASN1_DN) return sameName(identityData(id), data);
  return identityData(id).equals(data);
}

export function describeIdentity(type: number, data: Buffer): string {
  if ((type === IdType.ID_IPV4_ADDR && data.length === 4) || (type === IdType.ID_IPV6_ADDR && data.length === 16)) return formatIp(data);
  if (type === IdType.ID_FQDN || type === IdType.ID_RFC822_ADDR) return data.toString('utf8');
  const dn = type === IdType.ID_DER_ASN1_DN ? formatName(data) : null;
  if (dn !== null) return dn;
  return `${IdType[type] ?? type}:${data.toString('hex')}`;
}
