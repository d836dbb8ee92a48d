import { IdType } from '../../../src/ike/v2/constants';
import { ChildConfig, Ikev2PeerConfig, tsFromCidr } from '../../../src/ike/v2/config';

/** A pair of matching PSK configs (the strongswan-interop.md §1.6 v2psk shape). */
export function pskPair(opts: {
  encr?: { id: number; keyBits?: number };
  integ?: number[];
  dh?: number[];
  dhB?: number[];
  esp?: { id: number; keyBits?: number };
  espInteg?: number[];
  mode?: 'tunnel' | 'transport';
  pfs?: number[];
  forceEncap?: boolean;
  fragmentSize?: number;
  dpd?: number;
  pskB?: string;
} = {}): { a: Ikev2PeerConfig; b: Ikev2PeerConfig } {
  const ike = {
    encr: [opts.encr ?? { id: 20, keyBits: 128 }],
    integ: opts.integ ?? [],
    prf: [5],
    dh: opts.dh ?? [31],
  };
  const esp = { encr: [opts.esp ?? { id: 20, keyBits: 128 }], integ: opts.espInteg ?? [], dh: opts.pfs ?? [], esn: [0] };
  const child = (name: string, local: string, remote: string): ChildConfig => ({
    name,
    proposals: [esp],
    localTs: [tsFromCidr(local)],
    remoteTs: [tsFromCidr(remote)],
    mode: opts.mode ?? 'tunnel',
    lifetime: { softSeconds: 2700, hardSeconds: 3600 },
  });
  const common = { dpdDelaySeconds: opts.dpd ?? 0, fragmentation: true, fragmentSize: opts.fragmentSize, forceEncap: opts.forceEncap };
  const a: Ikev2PeerConfig = {
    name: 'v2psk',
    local: { address: '10.99.0.1', port: 500, id: { type: IdType.ID_FQDN, value: 'a.test' } },
    remote: { address: '10.99.0.2', port: 500, id: { type: IdType.ID_FQDN, value: 'b.test' } },
    auth: { method: 'psk', psk: Buffer.from('interop-test-psk') },
    ikeProposals: [ike],
    children: [child('c1', '10.1.0.0/24', '10.2.0.0/24')],
    ...common,
  };
  const b: Ikev2PeerConfig = {
    name: 'v2psk',
    local: { address: '10.99.0.2', port: 500, id: { type: IdType.ID_FQDN, value: 'b.test' } },
    remote: { address: '10.99.0.1', port: 500, id: { type: IdType.ID_FQDN, value: 'a.test' } },
    auth: { method: 'psk', psk: Buffer.from(opts.pskB ?? 'interop-test-psk') },
    ikeProposals: [{ ...ike, dh: opts.dhB ?? ike.dh }],
    children: [child('c1', '10.2.0.0/24', '10.1.0.0/24')],
    ...common,
  };
  return { a, b };
}
