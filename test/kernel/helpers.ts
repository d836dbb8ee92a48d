/** Message builders shared by the SADB / SPD / kernel tests. */
import {
  IPPROTO,
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  IPSEC_ULPROTO_ANY,
  SadbAalg,
  SadbEalg,
  SadbMsgType,
  SadbSaState,
  SadbSaType,
} from '../../src/pfkey/constants';
import type { PfKeyExtensions, PfKeyMessage, SadbAddress, SadbLifetime, SadbXIpsecRequest } from '../../src/pfkey/types';
import type { PfKeySocket } from '../../src/pfkey/socket';
import { parseIp } from '../../src/util/ip';
import type { PacketSelector } from '../../src/spd/spd';

export function address(text: string, opts: { prefixlen?: number; port?: number; proto?: number } = {}): SadbAddress {
  const v6 = text.includes(':');
  return {
    proto: opts.proto ?? IPSEC_ULPROTO_ANY,
    prefixlen: opts.prefixlen ?? (v6 ? 128 : 32),
    addr: { family: v6 ? 10 : 2, address: text, port: opts.port ?? 0 },
  };
}

export function lifetime(l: Partial<SadbLifetime>): SadbLifetime {
  return { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n, ...l };
}

export function msg(type: SadbMsgType, satype: SadbSaType, seq: number, ext: PfKeyExtensions, pid = 4242): PfKeyMessage {
  return { type, satype, errno: 0, seq, pid, ext };
}

/** An ESP SA (AES-CBC-128 + HMAC-SHA1) from src to dst. */
export function espSa(src: string, dst: string, spi: number, extra: PfKeyExtensions = {}): PfKeyExtensions {
  return {
    sa: { spi, replay: 4, state: SadbSaState.MATURE, auth: SadbAalg.SHA1HMAC, encrypt: SadbEalg.AESCBC, flags: 0 },
    addressSrc: address(src),
    addressDst: address(dst),
    keyEncrypt: { bits: 128, key: Buffer.alloc(16, 0x11) },
    keyAuth: { bits: 160, key: Buffer.alloc(20, 0x22) },
    ...extra,
  };
}

export function policyExt(
  src: string,
  dst: string,
  dir: IpsecDir,
  type: IpsecPolicyType,
  opts: { priority?: number; requests?: SadbXIpsecRequest[]; sport?: number; dport?: number; proto?: number; splen?: number; dplen?: number; hard?: SadbLifetime } = {},
): PfKeyExtensions {
  return {
    addressSrc: address(src, { prefixlen: opts.splen, port: opts.sport, proto: opts.proto }),
    addressDst: address(dst, { prefixlen: opts.dplen, port: opts.dport, proto: opts.proto }),
    policy: { type, dir, id: 0, priority: opts.priority ?? 0x80000000, requests: opts.requests ?? [] },
    ...(opts.hard ? { lifetimeHard: opts.hard } : {}),
  };
}

export function espTransport(level: IpsecLevel = IpsecLevel.REQUIRE, reqid = 0): SadbXIpsecRequest {
  return { proto: IPPROTO.ESP, mode: IpsecMode.TRANSPORT, level, reqid };
}

export function espTunnel(src: string, dst: string, level: IpsecLevel = IpsecLevel.REQUIRE, reqid = 0): SadbXIpsecRequest {
  const fam = src.includes(':') ? 10 : 2;
  return { proto: IPPROTO.ESP, mode: IpsecMode.TUNNEL, level, reqid, src: { family: fam, address: src, port: 0 }, dst: { family: fam, address: dst, port: 0 } };
}

export function packet(src: string, dst: string, proto: number = IPPROTO.UDP, sport = 1000, dport = 2000): PacketSelector {
  return { src: parseIp(src)!, dst: parseIp(dst)!, proto, sport, dport };
}

/** Collects every message a socket receives. */
export function collect(sock: PfKeySocket): PfKeyMessage[] {
  const seen: PfKeyMessage[] = [];
  sock.onMessage((m) => seen.push(m));
  return seen;
}

/** Let queued deliveries (microtasks) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

export { IPPROTO, IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, SadbMsgType, SadbSaState, SadbSaType };
