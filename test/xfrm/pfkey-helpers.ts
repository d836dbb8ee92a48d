/** Builders for the PF_KEY messages the xfrm tests send (shapes as setkey/racoon send them). */
import {
  IpsecDir,
  IpsecLevel,
  IpsecMode,
  IpsecPolicyType,
  IPPROTO,
  SadbAalg,
  SadbEalg,
  SadbMsgType,
  SadbSaState,
  SadbSaType,
} from '../../src/pfkey/constants';
import type { PfKeyMessage, SadbAddress, SadbXIpsecRequest, SockAddr } from '../../src/pfkey/types';

export const sock = (address: string, port = 0): SockAddr => ({ family: address.includes(':') ? 10 : 2, address, port });

export const addr = (address: string, prefixlen?: number, port = 0, proto = 255): SadbAddress => ({
  proto,
  prefixlen: prefixlen ?? (address.includes(':') ? 128 : 32),
  addr: sock(address, port),
});

export function tunnelReq(src: string, dst: string, level = IpsecLevel.REQUIRE, reqid = 0, proto: number = IPPROTO.ESP): SadbXIpsecRequest {
  return { proto, mode: IpsecMode.TUNNEL, level, reqid, src: sock(src), dst: sock(dst) };
}

export function transportReq(level = IpsecLevel.REQUIRE, reqid = 0): SadbXIpsecRequest {
  return { proto: IPPROTO.ESP, mode: IpsecMode.TRANSPORT, level, reqid };
}

let seq = 1;
export const nextSeq = (): number => seq++;

export function spdadd(
  src: SadbAddress,
  dst: SadbAddress,
  dir: IpsecDir,
  requests: SadbXIpsecRequest[],
  opts: { type?: SadbMsgType; policyType?: IpsecPolicyType; priority?: number } = {},
): PfKeyMessage {
  return {
    type: opts.type ?? SadbMsgType.X_SPDADD,
    satype: SadbSaType.UNSPEC,
    errno: 0,
    seq: nextSeq(),
    pid: process.pid,
    ext: {
      addressSrc: src,
      addressDst: dst,
      policy: {
        type: opts.policyType ?? (requests.length ? IpsecPolicyType.IPSEC : IpsecPolicyType.NONE),
        dir,
        id: 0,
        priority: opts.priority ?? 0x80000000,
        requests,
      },
    },
  };
}

export function header(type: SadbMsgType, satype = SadbSaType.UNSPEC, seqNo = nextSeq()): PfKeyMessage {
  return { type, satype, errno: 0, seq: seqNo, pid: process.pid, ext: {} };
}

export function espAdd(
  src: string,
  dst: string,
  spi: number,
  opts: { auth?: number; authKey?: Buffer; enc?: number; encKey?: Buffer; mode?: IpsecMode; reqid?: number; replay?: number; seq?: number; type?: SadbMsgType } = {},
): PfKeyMessage {
  const auth = opts.auth ?? SadbAalg.SHA2_256HMAC;
  const enc = opts.enc ?? SadbEalg.AESCBC;
  const m: PfKeyMessage = {
    type: opts.type ?? SadbMsgType.ADD,
    satype: SadbSaType.ESP,
    errno: 0,
    seq: opts.seq ?? nextSeq(),
    pid: process.pid,
    ext: {
      sa: { spi, replay: opts.replay ?? 32, state: SadbSaState.MATURE, auth, encrypt: enc, flags: 0 },
      addressSrc: addr(src, undefined, 0, 0),
      addressDst: addr(dst, undefined, 0, 0),
      sa2: { mode: opts.mode ?? IpsecMode.TUNNEL, sequence: 0, reqid: opts.reqid ?? 0 },
    },
  };
  if (auth !== 0) {
    const key = opts.authKey ?? Buffer.alloc(32, 0x11);
    m.ext.keyAuth = { bits: key.length * 8, key };
  }
  const ekey = opts.encKey ?? Buffer.alloc(16, 0x22);
  if (ekey.length) m.ext.keyEncrypt = { bits: ekey.length * 8, key: ekey };
  return m;
}

/** Wait until `pred` has matched a message delivered to `on`, or fail after `ms`. */
export function waitFor<T>(
  on: (l: (m: T) => void) => () => void,
  pred: (m: T) => boolean,
  ms = 4000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching message within ${ms} ms`));
    }, ms);
    const off = on((m) => {
      if (pred(m)) {
        clearTimeout(timer);
        off();
        resolve(m);
      }
    });
  });
}
