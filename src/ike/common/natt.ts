/**
 * UDP encapsulation rules shared by IKEv1 and IKEv2 (RFC 3948 §2, RFC 7296
 * §2.23), following strongSwan's sender.c/receiver.c: the 4-octet non-ESP
 * marker is present iff neither the source nor the destination port is 500;
 * a NAT-keepalive is the single octet 0xFF.
 */

/** RFC 3947/7296: the IKE port and the NAT-T port. */
export const IKE_PORT = 500;
export const NAT_T_PORT = 4500;
export const NON_ESP_MARKER = Buffer.alloc(4);
export const NAT_KEEPALIVE = Buffer.from([0xff]);

export interface Endpoint {
  address: string;
  port: number;
}

export type UdpPayloadKind =
  | { kind: 'ike'; message: Buffer }
  | { kind: 'esp' }
  | { kind: 'keepalive' }
  | { kind: 'invalid'; reason: string };

export function markerExpected(localPort: number, remotePort: number): boolean {
  return localPort !== IKE_PORT && remotePort !== IKE_PORT;
}

/** Classify a received UDP payload. */
export function classifyUdpPayload(data: Buffer, localPort: number, remotePort: number): UdpPayloadKind {
  if (!markerExpected(localPort, remotePort)) return { kind: 'ike', message: data };
  if (data.length === 1 && data[0] === 0xff) return { kind: 'keepalive' };
  if (data.length < 4) return { kind: 'invalid', reason: `${data.length}-octet datagram on a NAT-T port` };
  if (data.readUInt32BE(0) !== 0) return { kind: 'esp' };
  return { kind: 'ike', message: data.subarray(4) };
}

/** Frame an IKE message for sending between the given ports. */
export function frameIkeMessage(message: Buffer, localPort: number, remotePort: number): Buffer {
  return markerExpected(localPort, remotePort) ? Buffer.concat([NON_ESP_MARKER, message]) : message;
}

/**
 * strongSwan ike_sa.c float_ports: after NAT detection the remote port becomes
 * 4500 if either side used 500; the local port moves to 4500 only if it was 500.
 */
export function floatPorts(local: Endpoint, remote: Endpoint): { local: Endpoint; remote: Endpoint } {
  const either500 = local.port === IKE_PORT || remote.port === IKE_PORT;
  return {
    local: local.port === IKE_PORT ? { ...local, port: NAT_T_PORT } : local,
    remote: either500 ? { ...remote, port: NAT_T_PORT } : remote,
  };
}
