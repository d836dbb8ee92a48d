/**
 * One scenario description drives both peers: the same record is rendered as
 * a swanctl.conf connection for charon and as a racoon.conf remote + sainfo
 * (+ setkey policies) for tanuki, so the two configurations cannot drift.
 *
 * Algorithm names: strongSwan proposal keywords
 * (src/libstrongswan/crypto/proposal/proposal_keywords_static.txt) on one side,
 * racoon.conf algorithm names (src/config/racoon/algorithms.ts) on the other.
 */

export type Side = 'tanuki' | 'charon';

/** An IKE_SA transform set (RFC 7296 §3.3.2): ENCR (+INTEG when not AEAD), PRF, D-H group. */
export interface IkeProposal {
  readonly label: string;
  /** strongSwan keyword string, e.g. `aes128gcm16-prfsha256-x25519`. */
  readonly strongswan: string;
  /** racoon.conf `proposal {}` body lines. */
  readonly racoon: { readonly encryption: string; readonly hash: string; readonly dhGroup: string };
  /** What charon must report in `--list-sas --raw` (encr-alg, dh-group). */
  readonly expect: { readonly encr: string; readonly dh: string };
}

/** An ESP transform set for the CHILD_SA (no PFS group, no ESN: libipsec has no ESN). */
export interface EspProposal {
  readonly label: string;
  readonly strongswan: string;
  readonly racoon: { readonly encryption: string; readonly authentication: string };
  readonly expect: { readonly encr: string };
}

/**
 * What is exercised after the first CHILD_SA is up: nothing more, or an IKE_SA
 * delete (RFC 7296 §1.4.1, INFORMATIONAL with D) from one side, after which no SA
 * may be left on either peer.
 */
export type Behaviour = 'establish' | 'delete-by-tanuki' | 'delete-by-charon';

export interface Scenario {
  readonly name: string;
  readonly behaviour: Behaviour;
  readonly ikeVersion: 2;
  readonly initiator: Side;
  readonly auth: 'psk';
  readonly ike: IkeProposal;
  readonly esp: EspProposal;
  /** kernel-libipsec supports tunnel mode only (src/libipsec/ipsec_sa.c). */
  readonly mode: 'tunnel';
}

export const IKE_PROPOSALS: readonly IkeProposal[] = [
  {
    label: 'aesgcm16-sha256-x25519',
    strongswan: 'aes128gcm16-prfsha256-x25519',
    racoon: { encryption: 'aes_gcm_16 128', hash: 'sha256', dhGroup: 'curve25519' },
    expect: { encr: 'AES_GCM_16', dh: 'CURVE_25519' },
  },
  {
    label: 'aescbc-sha256-ecp256',
    strongswan: 'aes128-sha256-prfsha256-ecp256',
    racoon: { encryption: 'aes 128', hash: 'sha256', dhGroup: 'ecp256' },
    expect: { encr: 'AES_CBC', dh: 'ECP_256' },
  },
  {
    label: 'chacha20poly1305-sha256-modp2048',
    strongswan: 'chacha20poly1305-prfsha256-modp2048',
    racoon: { encryption: 'chacha20_poly1305', hash: 'sha256', dhGroup: 'modp2048' },
    expect: { encr: 'CHACHA20_POLY1305', dh: 'MODP_2048' },
  },
];

export const ESP_PROPOSALS: readonly EspProposal[] = [
  { label: 'esp-aesgcm16', strongswan: 'aes128gcm16', racoon: { encryption: 'aes_gcm_16 128', authentication: 'non_auth' }, expect: { encr: 'AES_GCM_16' } },
  { label: 'esp-aescbc-sha256', strongswan: 'aes128-sha256', racoon: { encryption: 'aes 128', authentication: 'hmac_sha256' }, expect: { encr: 'AES_CBC' } },
  { label: 'esp-chacha20poly1305', strongswan: 'chacha20poly1305', racoon: { encryption: 'chacha20_poly1305', authentication: 'non_auth' }, expect: { encr: 'CHACHA20_POLY1305' } },
];

/** The matrix: IKEv2 PSK tunnel mode, both roles × IKE proposals × ESP proposals. */
export function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const initiator of ['tanuki', 'charon'] as const) {
    for (const ike of IKE_PROPOSALS) {
      for (const esp of ESP_PROPOSALS) {
        out.push({
          name: `ikev2-psk-${initiator}-init-${ike.label}-${esp.label}`,
          behaviour: 'establish',
          ikeVersion: 2,
          initiator,
          auth: 'psk',
          ike,
          esp,
          mode: 'tunnel',
        });
      }
    }
  }
  for (const initiator of ['tanuki', 'charon'] as const) {
    for (const by of ['tanuki', 'charon'] as const) {
      const ike = IKE_PROPOSALS[0];
      const esp = ESP_PROPOSALS[0];
      out.push({
        name: `ikev2-psk-${initiator}-init-${ike.label}-${esp.label}-delete-by-${by}`,
        behaviour: `delete-by-${by}`,
        ikeVersion: 2,
        initiator,
        auth: 'psk',
        ike,
        esp,
        mode: 'tunnel',
      });
    }
  }
  return out;
}

/** `filter` is a substring or a `/regex/`; every word must match (AND). */
export function selectScenarios(all: readonly Scenario[], filter: string | undefined): Scenario[] {
  if (!filter) return [...all];
  const words = filter.split(/\s+/).filter((w) => w.length > 0);
  return all.filter((s) =>
    words.every((w) => (w.length > 2 && w.startsWith('/') && w.endsWith('/') ? new RegExp(w.slice(1, -1)).test(s.name) : s.name.includes(w))),
  );
}

/** Addresses used inside the two namespaces (each run has its own namespaces, so they never clash). */
export const NET = {
  charonAddr: '10.99.0.1',
  tanukiAddr: '10.99.0.2',
  prefix: 30,
  charonNet: '10.1.0.0/24',
  charonHost: '10.1.0.1',
  tanukiNet: '10.2.0.0/24',
  tanukiHost: '10.2.0.1',
  charonId: 'charon.interop.test',
  tanukiId: 'tanuki.interop.test',
  psk: 'tanuki-interop-shared-secret',
} as const;

export function swanctlConf(s: Scenario): string {
  return `connections {
  interop {
    version = ${s.ikeVersion}
    local_addrs = ${NET.charonAddr}
    remote_addrs = ${NET.tanukiAddr}
    proposals = ${s.ike.strongswan}
    mobike = no
    local {
      auth = psk
      id = ${NET.charonId}
    }
    remote {
      auth = psk
      id = ${NET.tanukiId}
    }
    children {
      c1 {
        local_ts = ${NET.charonNet}
        remote_ts = ${NET.tanukiNet}
        esp_proposals = ${s.esp.strongswan}
        mode = ${s.mode}
      }
    }
  }
}
secrets {
  ike-1 {
    id-a = ${NET.charonId}
    id-b = ${NET.tanukiId}
    secret = "${NET.psk}"
  }
}
`;
}

export function racoonConf(s: Scenario, dir: string, sockDir: string = dir): string {
  return `path pre_shared_key "${dir}/psk.txt";
listen {
  isakmp ${NET.tanukiAddr} [500];
  isakmp_natt ${NET.tanukiAddr} [4500];
  adminsock "${sockDir}/racoon.sock";
}
remote "charon" {
  remote_address ${NET.charonAddr};
  ike_version ${s.ikeVersion};
  my_identifier fqdn "${NET.tanukiId}";
  peers_identifier fqdn "${NET.charonId}";
  lifetime time 1 hour;
  proposal {
    encryption_algorithm ${s.ike.racoon.encryption};
    hash_algorithm ${s.ike.racoon.hash};
    authentication_method pre_shared_key;
    dh_group ${s.ike.racoon.dhGroup};
  }
}
sainfo anonymous {
  lifetime time 30 min;
  encryption_algorithm ${s.esp.racoon.encryption};
  authentication_algorithm ${s.esp.racoon.authentication};
  compression_algorithm deflate;
}
`;
}

export function pskTxt(): string {
  return `${NET.charonId}\t${NET.psk}\n`;
}

/** setkey -c input: the tunnel policies tanuki's CHILD_SA traffic selectors come from. */
export function setkeyPolicies(s: Scenario): string {
  const mode = s.mode;
  return (
    `spdadd ${NET.tanukiNet} ${NET.charonNet} any -P out ipsec esp/${mode}/${NET.tanukiAddr}-${NET.charonAddr}/require;\n` +
    `spdadd ${NET.charonNet} ${NET.tanukiNet} any -P in ipsec esp/${mode}/${NET.charonAddr}-${NET.tanukiAddr}/require;\n`
  );
}

export const STRONGSWAN_LOAD =
  'random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 aes sha1 sha2 hmac kdf gmp xcbc cmac ctr ccm gcm chapoly kernel-libipsec kernel-netlink socket-default vici';

export function strongswanConf(dir: string, sockDir: string = dir): string {
  return `charon {
  load = ${STRONGSWAN_LOAD}
  port = 500
  port_nat_t = 4500
  install_routes = yes
  retransmit_tries = 2
  retransmit_timeout = 2.0
  filelog {
    interop {
      path = ${dir}/charon.log
      time_format = %H:%M:%S
      default = 1
      ike = 2
      cfg = 2
      knl = 2
      chd = 2
      flush_line = yes
    }
  }
  plugins {
    vici {
      socket = unix://${sockDir}/charon.vici
    }
  }
}
`;
}
