/**
 * Upper-layer protocol names, as getprotobyname()/getprotobynumber() give
 * them from /etc/protocols (netbase). setkey accepts a name from that file,
 * plus "icmp6" and "ip4" which it special-cases (parse.y upper_spec), and
 * prints the file's name when dumping policies (pfkey_dump.c str_upperspec).
 *
 * The built-in table is netbase's /etc/protocols (IANA protocol numbers,
 * keyword names and their aliases), used when the file cannot be read and
 * by tests so that output does not depend on the machine.
 */
import { readFileSync } from 'node:fs';

export interface ProtocolDb {
  byName(name: string): number | undefined;
  byNumber(n: number): string | undefined;
}

const NETBASE = `
ip 0 IP
hopopt 0 HOPOPT
icmp 1 ICMP
igmp 2 IGMP
ggp 3 GGP
ipencap 4 IP-ENCAP
st 5 ST
tcp 6 TCP
egp 8 EGP
igp 9 IGP
pup 12 PUP
udp 17 UDP
hmp 20 HMP
xns-idp 22 XNS-IDP
rdp 27 RDP
iso-tp4 29 ISO-TP4
dccp 33 DCCP
xtp 36 XTP
ddp 37 DDP
idpr-cmtp 38 IDPR-CMTP
ipv6 41 IPv6
ipv6-route 43 IPv6-Route
ipv6-frag 44 IPv6-Frag
idrp 45 IDRP
rsvp 46 RSVP
gre 47 GRE
esp 50 IPSEC-ESP
ah 51 IPSEC-AH
skip 57 SKIP
ipv6-icmp 58 IPv6-ICMP
ipv6-nonxt 59 IPv6-NoNxt
ipv6-opts 60 IPv6-Opts
rspf 73 RSPF CPHB
vmtp 81 VMTP
eigrp 88 EIGRP
ospf 89 OSPFIGP
ax.25 93 AX.25
ipip 94 IPIP
etherip 97 ETHERIP
encap 98 ENCAP
pim 103 PIM
ipcomp 108 IPCOMP
vrrp 112 VRRP
l2tp 115 L2TP
isis 124 ISIS
sctp 132 SCTP
fc 133 FC
mobility-header 135 Mobility-Header
udplite 136 UDPLite
mpls-in-ip 137 MPLS-in-IP
manet 138
hip 139 HIP
shim6 140 Shim6
wesp 141 WESP
rohc 142 ROHC
ethernet 143 Ethernet
`;

/** Parse /etc/protocols text: `name number [aliases...] [# comment]`. */
export function parseProtocols(text: string): ProtocolDb {
  const names = new Map<string, number>();
  const numbers = new Map<number, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    if (fields.length < 2 || !/^\d+$/.test(fields[1])) continue;
    const n = Number(fields[1]);
    if (n > 255) continue;
    for (const name of [fields[0], ...fields.slice(2)]) if (!names.has(name)) names.set(name, n);
    if (!numbers.has(n)) numbers.set(n, fields[0]);
  }
  return {
    byName: (name) => names.get(name),
    byNumber: (n) => numbers.get(n),
  };
}

export const BUILTIN_PROTOCOLS: ProtocolDb = parseProtocols(NETBASE);

let systemDb: ProtocolDb | undefined;

/** /etc/protocols if readable, else the built-in netbase table. */
export function systemProtocols(): ProtocolDb {
  if (!systemDb) {
    try {
      systemDb = parseProtocols(readFileSync('/etc/protocols', 'utf8'));
    } catch {
      systemDb = BUILTIN_PROTOCOLS;
    }
  }
  return systemDb;
}
