/**
 * CHILD_SA keying through PF_KEY (RFC 2367 + the Linux/KAME extensions):
 * GETSPI for the inbound SPI, UPDATE for the inbound SA, ADD for the outbound
 * SA, DELETE when it goes away. Only message *types* are used here: whichever
 * kernel backend is behind the PfKeySocket is unknown to the engine.
 */
import { isIP } from 'node:net';
import {
  IPPROTO,
  IPSEC_REPLAYWSIZE,
  IPSEC_ULPROTO_ANY,
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  NatTType,
  SadbAalg,
  SadbMsgType,
  SadbSaFlags,
  SadbSaState,
  SadbSaType,
} from '../../pfkey/constants';
import { EsnId } from './constants';
import { formatIp } from '../../util/ip';
import type { TrafficSelectorWire } from './payloads';
import type { SadbAddress, SadbLifetime, SockAddr } from '../../pfkey/types';
import type { Endpoint } from '../common/natt';
import type { IkeCryptoPort } from './crypto-port';
import type { ChildSa, IkeSa } from './ike-sa';
import type { PfKeyRequest } from './tasks/task';

/** SPIs below 256 are reserved (RFC 4303 §2.1). */
export const SPI_RANGE = { min: 0x100, max: 0xffffffff };

function sockaddr(ep: Endpoint, withPort: boolean): SockAddr {
  return { family: isIP(ep.address) === 6 ? 10 : 2, address: ep.address, port: withPort ? ep.port : 0 };
}
function address(ep: Endpoint): SadbAddress {
  return { proto: IPSEC_ULPROTO_ANY, prefixlen: isIP(ep.address) === 6 ? 128 : 32, addr: sockaddr(ep, false) };
}
export function ipsecMode(mode: 'tunnel' | 'transport'): IpsecMode {
  return mode === 'tunnel' ? IpsecMode.TUNNEL : IpsecMode.TRANSPORT;
}

/** SADB_GETSPI for an inbound SA from the peer to us. */
export function getSpiRequest(sa: IkeSa, reqid: number, mode: 'tunnel' | 'transport'): PfKeyRequest {
  return {
    type: SadbMsgType.GETSPI,
    satype: SadbSaType.ESP,
    errno: 0,
    ext: {
      sa2: { mode: ipsecMode(mode), sequence: 0, reqid },
      addressSrc: address(sa.remote),
      addressDst: address(sa.local),
      spirange: { min: SPI_RANGE.min, max: SPI_RANGE.max },
    },
  };
}

function lifetime(seconds: number, bytes: bigint | undefined): SadbLifetime {
  return { allocations: 0, bytes: bytes ?? 0n, addtime: BigInt(Math.max(0, Math.floor(seconds))), usetime: 0n };
}

/**
 * SADB_UPDATE (inbound) or SADB_ADD (outbound) carrying the negotiated
 * algorithms, keys, SA2 mode/reqid, lifetimes, SADB_X_SAFLAGS_ESN when ESN
 * was negotiated (the FreeBSD/OpenBSD flag value) and, when NAT-T applies,
 * the RFC 3948 UDP encapsulation extensions.
 */
export function installRequest(sa: IkeSa, child: ChildSa, dir: 'in' | 'out', crypto: IkeCryptoPort, softJitterSeconds: number): PfKeyRequest | null {
  const encr = crypto.espEncr(child.chosen.encr.id, child.chosen.encr.keyBits);
  const integ = child.chosen.integ !== null ? crypto.espInteg(child.chosen.integ) : null;
  if (!encr || (child.chosen.integ !== null && !integ)) return null;
  const inbound = dir === 'in';
  const src = inbound ? sa.remote : sa.local;
  const dst = inbound ? sa.local : sa.remote;
  const keyEnc = inbound ? child.keys.encrIn : child.keys.encrOut;
  const keyAuth = inbound ? child.keys.integIn : child.keys.integOut;
  const lt = child.config.lifetime;
  const msg: PfKeyRequest = {
    type: inbound ? SadbMsgType.UPDATE : SadbMsgType.ADD,
    satype: SadbSaType.ESP,
    errno: 0,
    ext: {
      sa: {
        spi: inbound ? child.inboundSpi : child.outboundSpi,
        replay: IPSEC_REPLAYWSIZE,
        state: SadbSaState.MATURE,
        auth: integ ? integ.sadbAalg : SadbAalg.NONE,
        encrypt: encr.sadbEalg,
        // RFC 4303 §2.2.1 / RFC 7296 §3.3.2: 64-bit sequence numbers when the ESN transform was chosen
        flags: child.chosen.esn === EsnId.ESN ? SadbSaFlags.X_ESN : 0,
      },
      sa2: { mode: ipsecMode(child.mode), sequence: 0, reqid: inbound ? child.inboundReqid : child.reqid },
      addressSrc: address(src),
      addressDst: address(dst),
      keyEncrypt: { bits: keyEnc.length * 8, key: keyEnc },
      lifetimeHard: lifetime(lt.hardSeconds, lt.hardBytes),
      lifetimeSoft: lifetime(Math.max(1, lt.softSeconds - softJitterSeconds), lt.softBytes),
    },
  };
  if (integ) msg.ext.keyAuth = { bits: keyAuth.length * 8, key: keyAuth };
  if (sa.udpEncap) {
    msg.ext.natTType = { type: NatTType.ESPINUDP };
    msg.ext.natTSport = { port: src.port };
    msg.ext.natTDport = { port: dst.port };
  }
  return msg;
}

/** SADB_DELETE of one SA. */
export function deleteRequest(spi: number, src: Endpoint, dst: Endpoint): PfKeyRequest {
  return {
    type: SadbMsgType.DELETE,
    satype: SadbSaType.ESP,
    errno: 0,
    ext: {
      sa: { spi, replay: 0, state: SadbSaState.MATURE, auth: 0, encrypt: 0, flags: 0 },
      addressSrc: address(src),
      addressDst: address(dst),
    },
  };
}

/** Both directions of a CHILD_SA: the inbound (peer → us) and the outbound (us → peer). */
export function deleteChildRequests(sa: IkeSa, child: ChildSa): PfKeyRequest[] {
  return [deleteRequest(child.inboundSpi, sa.remote, sa.local), deleteRequest(child.outboundSpi, sa.local, sa.remote)];
}

export function spiBuffer(spi: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(spi >>> 0);
  return b;
}

// ---------------------------------------------------------------------------
// racoon's generate_policy for IKEv2 responders: in/out/fwd policies from the
// narrowed traffic selectors (X_SPDUPDATE), removed with the CHILD_SA (X_SPDDELETE).

/** The minimal list of prefixes covering [start, end] (both the same length). */
export function rangeToPrefixes(start: Buffer, end: Buffer): { addr: Buffer; prefixlen: number }[] {
  const bits = start.length * 8;
  const toBig = (b: Buffer) => BigInt('0x' + b.toString('hex'));
  const toBuf = (v: bigint) => Buffer.from(v.toString(16).padStart(start.length * 2, '0'), 'hex');
  let lo = toBig(start);
  const hi = toBig(end);
  const out: { addr: Buffer; prefixlen: number }[] = [];
  while (lo <= hi && out.length < 64) {
    let size = 0;
    while (size < bits) {
      const next = size + 1;
      const mask = (1n << BigInt(next)) - 1n;
      if ((lo & mask) !== 0n || lo + mask > hi) break;
      size = next;
    }
    out.push({ addr: toBuf(lo), prefixlen: bits - size });
    lo += 1n << BigInt(size);
  }
  return out;
}


function selectorAddresses(ts: TrafficSelectorWire): SadbAddress[] | null {
  const anyPort = ts.startPort === 0 && ts.endPort === 65535;
  if (!anyPort && ts.startPort !== ts.endPort) return null; // a port range has no PF_KEY form
  const port = anyPort ? 0 : ts.startPort;
  const family = ts.startAddress.length === 16 ? 10 : 2;
  return rangeToPrefixes(ts.startAddress, ts.endAddress).map((p) => ({
    proto: ts.ipProtocolId === 0 ? IPSEC_ULPROTO_ANY : ts.ipProtocolId,
    prefixlen: p.prefixlen,
    addr: { family, address: formatIp(p.addr), port },
  }));
}

/**
 * X_SPDUPDATE (or X_SPDDELETE) messages for the out, in and fwd policies of a
 * CHILD_SA: every pair of local/remote selector prefixes, requiring ESP with
 * the CHILD_SA's reqid of that direction (level unique) and, in tunnel mode, the IKE endpoints.
 */
export function policyRequests(sa: IkeSa, child: ChildSa, op: 'update' | 'delete'): PfKeyRequest[] {
  const out: PfKeyRequest[] = [];
  const tunnel = child.mode === 'tunnel';
  for (const lts of child.localTs)
    for (const rts of child.remoteTs) {
      const ls = selectorAddresses(lts);
      const rs = selectorAddresses(rts);
      if (!ls || !rs) continue;
      for (const l of ls)
        for (const r of rs) {
          if (l.addr.family !== r.addr.family) continue;
          for (const dir of [IpsecDir.OUTBOUND, IpsecDir.INBOUND, IpsecDir.FWD]) {
            const outbound = dir === IpsecDir.OUTBOUND;
            const request = {
              proto: IPPROTO.ESP,
              mode: ipsecMode(child.mode),
              level: IpsecLevel.UNIQUE,
              reqid: outbound ? child.reqid : child.inboundReqid,
              ...(tunnel ? { src: sockaddr(outbound ? sa.local : sa.remote, false), dst: sockaddr(outbound ? sa.remote : sa.local, false) } : {}),
            };
            out.push({
              type: op === 'update' ? SadbMsgType.X_SPDUPDATE : SadbMsgType.X_SPDDELETE,
              satype: SadbSaType.UNSPEC,
              errno: 0,
              ext: {
                addressSrc: outbound ? l : r,
                addressDst: outbound ? r : l,
                policy: { type: IpsecPolicyType.IPSEC, dir, id: 0, priority: 0, requests: [request] },
              },
            });
          }
        }
    }
  return out;
}
