/**
 * fast-check arbitraries for the PF_KEYv2 message model (src/pfkey/types.ts),
 * producing normalised values only: optional fields omitted (never undefined),
 * canonical address text, key buffers of exactly ceil(bits/8) bytes, identity
 * strings without trailing NUL, and IPv6 flowinfo/scopeId present only when
 * non-zero. Reusable by other areas' tests (sadb, spd, kernel).
 */
import fc from 'fast-check';
import { IpsecDir, IpsecLevel, IpsecMode, IpsecPolicyType, NatTType, SADB_MAX, SadbSaState, SadbSaType } from '../../src/pfkey/constants';
import type {
  PfKeyExtensions,
  PfKeyMessage,
  SadbAddress,
  SadbComb,
  SadbIdent,
  SadbKey,
  SadbLifetime,
  SadbProp,
  SadbSa,
  SadbSens,
  SadbSupported,
  SadbXFilter,
  SadbXIpsecRequest,
  SadbXKmaddress,
  SadbXPolicy,
  SadbXSa2,
  SadbXSecCtx,
  SockAddr,
} from '../../src/pfkey/types';
import { formatIp } from '../../src/util/ip';

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.bigUintN(64);
const nonZeroU32 = fc.integer({ min: 1, max: 0xffffffff });

const enumValues = (e: Record<string, string | number>): number[] =>
  Object.values(e).filter((v): v is number => typeof v === 'number');
const oneOfEnum = (e: Record<string, string | number>) => fc.constantFrom(...enumValues(e));

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

export const family = fc.constantFrom<2 | 10>(2, 10);

export const addressText = (f: 2 | 10) => fc.uint8Array({ minLength: f === 2 ? 4 : 16, maxLength: f === 2 ? 4 : 16 }).map((a) => formatIp(a));

export const sockAddrOf = (f: 2 | 10): fc.Arbitrary<SockAddr> =>
  f === 2
    ? fc.record({ family: fc.constant<2>(2), address: addressText(2), port: u16 })
    : fc.record(
        { family: fc.constant<10>(10), address: addressText(10), port: u16, flowinfo: nonZeroU32, scopeId: nonZeroU32 },
        { requiredKeys: ['family', 'address', 'port'] },
      );
export const sockAddr: fc.Arbitrary<SockAddr> = family.chain(sockAddrOf);

export const sadbSa: fc.Arbitrary<SadbSa> = fc.record({
  spi: u32,
  replay: u8,
  state: oneOfEnum(SadbSaState),
  auth: u8,
  encrypt: u8,
  flags: u32,
});

export const sadbLifetime: fc.Arbitrary<SadbLifetime> = fc.record({ allocations: u32, bytes: u64, addtime: u64, usetime: u64 });

export const sadbAddress: fc.Arbitrary<SadbAddress> = family.chain((f) =>
  fc.record({ proto: u8, prefixlen: fc.integer({ min: 0, max: f === 2 ? 32 : 128 }), addr: sockAddrOf(f) }),
);

export const sadbKey: fc.Arbitrary<SadbKey> = fc
  .integer({ min: 0, max: 1024 })
  .chain((bits) => bytes(Math.ceil(bits / 8), Math.ceil(bits / 8)).map((key) => ({ bits, key })));

export const sadbIdent: fc.Arbitrary<SadbIdent> = fc.record({
  type: u16,
  id: u64,
  data: bytes(0, 40).map((d) => (d.length > 0 && d[d.length - 1] === 0 ? Buffer.concat([d, Buffer.from('x')]) : d)),
});

export const sadbSens: fc.Arbitrary<SadbSens> = fc.record({
  dpd: u32,
  sensLevel: u8,
  integLevel: u8,
  sensBitmap: fc.array(u64, { maxLength: 4 }),
  integBitmap: fc.array(u64, { maxLength: 4 }),
});

export const sadbComb: fc.Arbitrary<SadbComb> = fc.record({
  auth: u8,
  encrypt: u8,
  flags: u16,
  authMinbits: u16,
  authMaxbits: u16,
  encryptMinbits: u16,
  encryptMaxbits: u16,
  softAllocations: u32,
  hardAllocations: u32,
  softBytes: u64,
  hardBytes: u64,
  softAddtime: u64,
  hardAddtime: u64,
  softUsetime: u64,
  hardUsetime: u64,
});

export const sadbProp: fc.Arbitrary<SadbProp> = fc.record({ replay: u8, combs: fc.array(sadbComb, { maxLength: 4 }) });

export const sadbSupported: fc.Arbitrary<SadbSupported> = fc.record({
  algs: fc.array(fc.record({ id: u8, ivlen: u8, minbits: u16, maxbits: u16 }), { maxLength: 6 }),
});

export const ipsecRequest: fc.Arbitrary<SadbXIpsecRequest> = fc
  .record({
    proto: fc.constantFrom(50, 51, 108),
    mode: oneOfEnum(IpsecMode),
    level: oneOfEnum(IpsecLevel),
    reqid: u32,
    tunnel: fc.option(family, { nil: undefined }),
  })
  .chain(({ tunnel, ...r }) =>
    tunnel === undefined
      ? fc.constant<SadbXIpsecRequest>(r)
      : fc.tuple(sockAddrOf(tunnel), sockAddrOf(tunnel)).map(([src, dst]): SadbXIpsecRequest => ({ ...r, src, dst })),
  );

export const sadbXPolicy: fc.Arbitrary<SadbXPolicy> = fc.record({
  type: oneOfEnum(IpsecPolicyType),
  dir: oneOfEnum(IpsecDir),
  id: u32,
  priority: u32,
  requests: fc.array(ipsecRequest, { maxLength: 4 }),
});

export const sadbXSa2: fc.Arbitrary<SadbXSa2> = fc.record({ mode: oneOfEnum(IpsecMode), sequence: u32, reqid: u32 });

export const sadbXSecCtx: fc.Arbitrary<SadbXSecCtx> = fc.record({ alg: u8, doi: u8, ctx: bytes(0, 48) });

export const sadbXKmaddress: fc.Arbitrary<SadbXKmaddress> = family.chain((f) =>
  fc.record({ local: sockAddrOf(f), remote: sockAddrOf(f) }),
);

export const sadbXFilter: fc.Arbitrary<SadbXFilter> = family.chain((f) =>
  fc.record({
    family: fc.constant(f),
    saddr: addressText(f),
    daddr: addressText(f),
    splen: fc.integer({ min: 0, max: f === 2 ? 32 : 128 }),
    dplen: fc.integer({ min: 0, max: f === 2 ? 32 : 128 }),
  }),
);

/** One arbitrary per PfKeyExtensions key; the mapped type makes a missing one a compile error. */
export const extensionArbs: { [K in keyof PfKeyExtensions]-?: fc.Arbitrary<NonNullable<PfKeyExtensions[K]>> } = {
  sa: sadbSa,
  lifetimeCurrent: sadbLifetime,
  lifetimeHard: sadbLifetime,
  lifetimeSoft: sadbLifetime,
  addressSrc: sadbAddress,
  addressDst: sadbAddress,
  addressProxy: sadbAddress,
  keyAuth: sadbKey,
  keyEncrypt: sadbKey,
  identitySrc: sadbIdent,
  identityDst: sadbIdent,
  sensitivity: sadbSens,
  proposal: sadbProp,
  supportedAuth: sadbSupported,
  supportedEncrypt: sadbSupported,
  spirange: fc.record({ min: u32, max: u32 }),
  kmprivate: fc.record({ reserved: u32 }),
  policy: sadbXPolicy,
  sa2: sadbXSa2,
  natTType: fc.record({ type: oneOfEnum(NatTType) }),
  natTSport: fc.record({ port: u16 }),
  natTDport: fc.record({ port: u16 }),
  natTOa: sadbAddress,
  secCtx: sadbXSecCtx,
  kmaddress: sadbXKmaddress,
  filter: sadbXFilter,
};

/** Any subset of the extensions, each key present at most once. */
export const extensions: fc.Arbitrary<PfKeyExtensions> = fc.record(extensionArbs, { requiredKeys: [] });

export const msgType = fc.integer({ min: 0, max: SADB_MAX });
export const satype = oneOfEnum(SadbSaType);

export const pfKeyMessageWith = (type: fc.Arbitrary<number>, ext: fc.Arbitrary<PfKeyExtensions>): fc.Arbitrary<PfKeyMessage> =>
  fc.record(
    {
      type,
      satype,
      errno: u8,
      seq: u32,
      pid: u32,
      reserved: fc.integer({ min: 1, max: 0xffff }),
      ext,
    },
    { requiredKeys: ['type', 'satype', 'errno', 'seq', 'pid', 'ext'] },
  );

export const pfKeyMessage: fc.Arbitrary<PfKeyMessage> = pfKeyMessageWith(msgType, extensions);

/** Messages carrying 1..4 random extensions (small seeds for mutation fuzzing). */
export const smallPfKeyMessage: fc.Arbitrary<PfKeyMessage> = pfKeyMessageWith(
  msgType,
  fc
    .shuffledSubarray(Object.keys(extensionArbs) as (keyof PfKeyExtensions)[], { minLength: 1, maxLength: 4 })
    .chain((keys) => fc.tuple(...keys.map((k) => (extensionArbs[k] as fc.Arbitrary<unknown>).map((v) => [k, v] as const))))
    .map((pairs) => Object.fromEntries(pairs) as PfKeyExtensions),
);
