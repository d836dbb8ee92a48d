/**
 * The SA database of the userspace kernel (RFC 2367 §3.1: GETSPI, UPDATE,
 * ADD, DELETE, GET, FLUSH, DUMP; §2.3.3 lifetimes; SA states larval, mature,
 * dying, dead), with the lookups the data plane uses: inbound by
 * (dst, proto, spi) in one Map access, outbound by (src, dst, proto) then
 * reqid/mode.
 *
 * Where RFC 2367 leaves a choice the Linux net/key/af_key.c + net/xfrm
 * behaviour is followed and named next to the code.
 */
import {
  Errno,
  IPPROTO,
  IpsecMode,
  SadbAalg,
  SadbEalg,
  SadbSaState,
  SadbSaType,
} from '../pfkey/constants';
import type { PfKeyExtensions, SadbAddress, SadbKey, SadbLifetime, SadbSa } from '../pfkey/types';
import { findAuth, findComp, findEncrypt, isAead } from './algorithms';
import { satypeToProto } from '../pfkey/satype';
import type { KernelClock } from './clock';
import { newReplayState, type ReplayState } from './replay';

export type Spi = number & { readonly __brand: 'Spi' };
export type Reqid = number & { readonly __brand: 'Reqid' };
export type SaExpiryKind = 'soft' | 'hard';

export type SadbResult<T> = { ok: true; value: T } | { ok: false; errno: number; reason: string };

function fail<T>(errno: number, reason: string): SadbResult<T> {
  return { ok: false, errno, reason };
}

/** The extensions an SA keeps as they were given; GET, DUMP and the broadcasts return them. */
export type SaExtensions = Pick<
  PfKeyExtensions,
  | 'sa'
  | 'addressSrc'
  | 'addressDst'
  | 'addressProxy'
  | 'keyAuth'
  | 'keyEncrypt'
  | 'identitySrc'
  | 'identityDst'
  | 'sensitivity'
  | 'sa2'
  | 'natTType'
  | 'natTSport'
  | 'natTDport'
  | 'natTOa'
  | 'secCtx'
  | 'lifetimeHard'
  | 'lifetimeSoft'
>;

const SA_EXTENSION_NAMES: readonly (keyof SaExtensions)[] = [
  'sa',
  'addressSrc',
  'addressDst',
  'addressProxy',
  'keyAuth',
  'keyEncrypt',
  'identitySrc',
  'identityDst',
  'sensitivity',
  'sa2',
  'natTType',
  'natTSport',
  'natTDport',
  'natTOa',
  'secCtx',
  'lifetimeHard',
  'lifetimeSoft',
];

export interface SecurityAssociation {
  readonly satype: SadbSaType;
  /** IPPROTO_AH / ESP / COMP. */
  readonly proto: number;
  readonly spi: Spi;
  /** Canonical address text (no port). */
  readonly src: string;
  readonly dst: string;
  state: SadbSaState;
  mode: IpsecMode;
  reqid: Reqid;
  ext: SaExtensions;
  /** RFC 2367 LIFETIME_CURRENT: addtime/usetime are absolute seconds (usetime 0 = never used). */
  current: SadbLifetime;
  /** sadb_msg_seq / sadb_msg_pid of the message that created or last updated it. */
  seq: number;
  pid: number;
  /** Insertion order, for DUMP order and "newest wins" outbound selection. */
  order: number;
  softExpired: boolean;
  replay: ReplayState;
  /** Cancels of the armed lifetime timers. */
  timers: Array<() => void>;
}

/**
 * A message as the SADB needs it (the sadb_msg header fields plus extensions).
 * The SADB takes ownership of the extension objects it keeps: callers hand
 * over fresh objects (the dispatcher gets them from the codec or from
 * LocalPfKeySocket, which copies on send) and do not touch them afterwards.
 */
export interface SadbRequest {
  satype: SadbSaType;
  seq: number;
  pid: number;
  ext: PfKeyExtensions;
}

export interface SadbOptions {
  clock: KernelClock;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
  /** Called on every soft and hard expiry (the SA is already DYING / DEAD). */
  onExpire?: (sa: SecurityAssociation, kind: SaExpiryKind) => void;
  /** Lifetime of a larval SA made by GETSPI (Linux net.core.xfrm_acq_expires, 30 s). */
  larvalLifetimeSec?: number;
}

export { protoToSatype, satypeToProto } from '../pfkey/satype';

/** RFC 2367 §2.1: SPI values 1..255 are reserved by IANA (0 means "none"). */
const SPI_RESERVED_MAX = 255;
/** Linux pfkey_getspi default range. */
const SPI_DEFAULT_MIN = 0x100;
const SPI_DEFAULT_MAX = 0x0fffffff;
/** RFC 3173 §3.3: the CPI is 16 bits. */
const CPI_MAX = 0xffff;
const LARVAL_LIFETIME_SEC = 30;

function spiKey(dst: string, proto: number, spi: number): string {
  return `${dst}|${proto}|${spi}`;
}

function pairKey(src: string, dst: string, proto: number): string {
  return `${src}|${dst}|${proto}`;
}

/** Deep copy of a message value (Buffers copied, bigints kept), so stored state never aliases a caller's objects. */
export function deepCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return Buffer.from(value) as unknown as T;
  if (Array.isArray(value)) {
    const arr: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) arr[i] = deepCopy(value[i] as unknown);
    return arr as unknown as T;
  }
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k in src) out[k] = deepCopy(src[k]);
  return out as T;
}

function pickSaExtensions(ext: PfKeyExtensions): SaExtensions {
  const out: SaExtensions = {};
  for (const name of SA_EXTENSION_NAMES) {
    const v = ext[name];
    if (v !== undefined) (out as Record<string, unknown>)[name] = v;
  }
  return out;
}

function validAddressPair(ext: PfKeyExtensions): string | null {
  const { addressSrc: src, addressDst: dst } = ext;
  if (!src || !dst) return 'ADDRESS_SRC and ADDRESS_DST are required';
  return checkAddress(src, 'ADDRESS_SRC') ?? checkAddress(dst, 'ADDRESS_DST') ??
    (src.addr.family !== dst.addr.family ? 'ADDRESS_SRC and ADDRESS_DST differ in address family' : null);
}

function checkAddress(a: SadbAddress, name: string): string | null {
  const max = a.addr.family === 2 ? 32 : a.addr.family === 10 ? 128 : -1;
  if (max < 0) return `${name}: address family ${String(a.addr.family)} is not AF_INET or AF_INET6`;
  if (a.prefixlen > max) return `${name}: prefixlen ${a.prefixlen} exceeds ${max}`;
  return null;
}

function keyBitsOk(key: SadbKey | undefined, minbits: number, maxbits: number): boolean {
  const bits = key ? key.bits : 0;
  if (key && key.key.length * 8 < bits) return false;
  return bits >= minbits && bits <= maxbits;
}

/** Linux pfkey_msg2xfrm_state checks: algorithms known (else ENOSYS), key sizes within the algorithm's range. */
function checkAlgorithms(satype: SadbSaType, sa: SadbSa, ext: PfKeyExtensions): SadbResult<true> {
  if (satype === SadbSaType.X_IPCOMP) {
    if (sa.auth !== SadbAalg.NONE) return fail(Errno.EINVAL, 'IPComp SA with an authentication algorithm');
    if (!findComp(sa.encrypt)) return fail(Errno.ENOSYS, `compression algorithm ${sa.encrypt} is not supported`);
    return { ok: true, value: true };
  }
  if (sa.auth !== SadbAalg.NONE) {
    const a = findAuth(sa.auth);
    if (!a) return fail(Errno.ENOSYS, `authentication algorithm ${sa.auth} is not supported`);
    if (!keyBitsOk(ext.keyAuth, a.minbits, a.maxbits))
      return fail(Errno.EINVAL, `KEY_AUTH of ${ext.keyAuth?.bits ?? 0} bits; algorithm ${sa.auth} takes ${a.minbits}..${a.maxbits}`);
  }
  if (satype === SadbSaType.AH) {
    if (sa.auth === SadbAalg.NONE) return fail(Errno.EINVAL, 'AH SA without an authentication algorithm');
    if (sa.encrypt !== SadbEalg.NONE) return fail(Errno.EINVAL, 'AH SA with an encryption algorithm');
    return { ok: true, value: true };
  }
  if (sa.encrypt === SadbEalg.NONE) return fail(Errno.EINVAL, 'ESP SA without an encryption algorithm (use NULL, 11)');
  const e = findEncrypt(sa.encrypt);
  if (!e) return fail(Errno.ENOSYS, `encryption algorithm ${sa.encrypt} is not supported`);
  if (isAead(sa.encrypt) && sa.auth !== SadbAalg.NONE)
    return fail(Errno.EINVAL, `encryption algorithm ${sa.encrypt} is an AEAD; the SA must not name an auth algorithm (RFC 4106 §8)`);
  if (!keyBitsOk(ext.keyEncrypt, e.minbits, e.maxbits))
    return fail(Errno.EINVAL, `KEY_ENCRYPT of ${ext.keyEncrypt?.bits ?? 0} bits; algorithm ${sa.encrypt} takes ${e.minbits}..${e.maxbits}`);
  return { ok: true, value: true };
}

const ZERO_LIFETIME: SadbLifetime = { allocations: 0, bytes: 0n, addtime: 0n, usetime: 0n };

export class Sadb {
  private readonly clock: KernelClock;
  private readonly random: () => number;
  private readonly onExpire: (sa: SecurityAssociation, kind: SaExpiryKind) => void;
  private readonly larvalLifetimeSec: number;
  /** (dst, proto, spi) → SA: the inbound lookup and SPI uniqueness. */
  private readonly bySpi = new Map<string, SecurityAssociation>();
  /** (src, dst, proto) → SAs: outbound lookup and DELETE of a pair. */
  private readonly byPair = new Map<string, Set<SecurityAssociation>>();
  private order = 0;

  constructor(opts: SadbOptions) {
    this.clock = opts.clock;
    this.random = opts.random ?? Math.random;
    this.onExpire = opts.onExpire ?? (() => undefined);
    this.larvalLifetimeSec = opts.larvalLifetimeSec ?? LARVAL_LIFETIME_SEC;
  }

  get size(): number {
    return this.bySpi.size;
  }

  private nowSec(): bigint {
    return BigInt(Math.floor(this.clock.now() / 1000));
  }

  // ---- RFC 2367 §3.1.1 SADB_GETSPI -------------------------------------------------

  getspi(req: SadbRequest): SadbResult<SecurityAssociation> {
    const proto = satypeToProto(req.satype);
    if (proto === null) return fail(Errno.EINVAL, `satype ${req.satype} cannot be keyed`);
    const bad = validAddressPair(req.ext);
    if (bad) return fail(Errno.EINVAL, bad);
    const src = req.ext.addressSrc!.addr.address;
    const dst = req.ext.addressDst!.addr.address;
    const mode = req.ext.sa2?.mode ?? IpsecMode.ANY;
    const reqid = req.ext.sa2?.reqid ?? 0;

    let min = SPI_DEFAULT_MIN;
    let max = proto === IPPROTO.COMP ? CPI_MAX : SPI_DEFAULT_MAX;
    if (req.ext.spirange) {
      min = req.ext.spirange.min;
      max = req.ext.spirange.max;
      if (min > max) return fail(Errno.EINVAL, `SPIRANGE min 0x${min.toString(16)} > max 0x${max.toString(16)}`);
      if (proto === IPPROTO.COMP && max > CPI_MAX) return fail(Errno.EINVAL, `SPIRANGE max 0x${max.toString(16)} exceeds the 16-bit CPI`);
      if (max <= SPI_RESERVED_MAX) return fail(Errno.EINVAL, `SPIRANGE 0x${min.toString(16)}-0x${max.toString(16)} lies in the reserved SPIs 0-255`);
      min = Math.max(min, SPI_RESERVED_MAX + 1);
    }
    // Linux pfkey_getspi: a GETSPI whose seq names an existing larval SA for the
    // same destination returns that SA's SPI again (xfrm_find_acq_byseq); tanuki
    // also requires the same protocol, so an AH+ESP bundle gets two SPIs.
    if (req.seq !== 0) {
      for (const sa of this.byPair.get(pairKey(src, dst, proto)) ?? []) {
        if (sa.state === SadbSaState.LARVAL && sa.seq === req.seq) return { ok: true, value: sa };
      }
    }

    const spi = this.allocateSpi(dst, proto, min, max);
    if (spi === null) return fail(Errno.ENOENT, `no free SPI in 0x${min.toString(16)}-0x${max.toString(16)}`);

    const sa: SecurityAssociation = {
      satype: req.satype,
      proto,
      spi,
      src,
      dst,
      state: SadbSaState.LARVAL,
      mode,
      reqid: reqid as Reqid,
      ext: {
        sa: { spi, replay: 0, state: SadbSaState.LARVAL, auth: 0, encrypt: 0, flags: 0 },
        addressSrc: req.ext.addressSrc!,
        addressDst: req.ext.addressDst!,
        ...(req.ext.sa2 ? { sa2: req.ext.sa2 } : {}),
        ...(req.ext.natTType ? { natTType: req.ext.natTType } : {}),
        ...(req.ext.natTSport ? { natTSport: req.ext.natTSport } : {}),
        ...(req.ext.natTDport ? { natTDport: req.ext.natTDport } : {}),
      },
      current: { allocations: 0, bytes: 0n, addtime: this.nowSec(), usetime: 0n },
      seq: req.seq,
      pid: req.pid,
      order: this.order++,
      softExpired: false,
      replay: newReplayState(0),
      timers: [],
    };
    this.insert(sa);
    // A larval SA lives acq_expires seconds, then dies with a hard EXPIRE (net/xfrm xfrm_timer_handler).
    sa.timers.push(this.clock.at(this.clock.now() + this.larvalLifetimeSec * 1000, () => this.expire(sa, 'hard')));
    return { ok: true, value: sa };
  }

  /** Random SPI in [min, max] unused for (dst, proto); a bounded linear probe after a few random tries. */
  private allocateSpi(dst: string, proto: number, min: number, max: number): Spi | null {
    const span = max - min + 1;
    const free = (spi: number): boolean => !this.bySpi.has(spiKey(dst, proto, spi));
    for (let i = 0; i < Math.min(span, 16); i++) {
      const spi = min + Math.floor(this.random() * span);
      if (free(spi)) return spi as Spi;
    }
    // At most size+1 consecutive values can all be taken before a free one appears.
    const steps = Math.min(span, this.bySpi.size + 1);
    const start = Math.floor(this.random() * span);
    for (let i = 0; i < steps; i++) {
      const spi = min + ((start + i) % span);
      if (free(spi)) return spi as Spi;
    }
    return null;
  }

  // ---- RFC 2367 §3.1.2/§3.1.3 SADB_UPDATE and SADB_ADD -----------------------------

  /** Common checks of UPDATE/ADD (Linux pfkey_add + pfkey_msg2xfrm_state). */
  private checkKeyedSa(req: SadbRequest): SadbResult<{ proto: number; sa: SadbSa }> {
    const proto = satypeToProto(req.satype);
    if (proto === null) return fail(Errno.EINVAL, `satype ${req.satype} cannot be keyed`);
    const sa = req.ext.sa;
    if (!sa) return fail(Errno.EINVAL, 'SA extension is required');
    const bad = validAddressPair(req.ext);
    if (bad) return fail(Errno.EINVAL, bad);
    if (proto !== IPPROTO.COMP && sa.spi <= SPI_RESERVED_MAX)
      return fail(Errno.EINVAL, `SPI ${sa.spi} is reserved (RFC 4303 §2.1: 1-255)`);
    if (proto === IPPROTO.COMP && sa.spi > CPI_MAX) return fail(Errno.EINVAL, `CPI ${sa.spi} exceeds 16 bits`);
    const algs = checkAlgorithms(req.satype, sa, req.ext);
    if (!algs.ok) return algs;
    return { ok: true, value: { proto, sa } };
  }

  private makeMature(req: SadbRequest, proto: number, sa: SadbSa): SecurityAssociation {
    const ext = pickSaExtensions(req.ext);
    ext.sa = { ...ext.sa!, state: SadbSaState.MATURE };
    return {
      satype: req.satype,
      proto,
      spi: sa.spi as Spi,
      src: req.ext.addressSrc!.addr.address,
      dst: req.ext.addressDst!.addr.address,
      state: SadbSaState.MATURE,
      mode: req.ext.sa2?.mode ?? IpsecMode.ANY,
      reqid: (req.ext.sa2?.reqid ?? 0) as Reqid,
      ext,
      current: { allocations: 0, bytes: 0n, addtime: this.nowSec(), usetime: 0n },
      seq: req.seq,
      pid: req.pid,
      order: this.order++,
      softExpired: false,
      replay: newReplayState(sa.replay),
      timers: [],
    };
  }

  /** SADB_ADD: a new mature SA; EEXIST when (dst, proto, spi) is taken, larval or not (xfrm_state_add). */
  add(req: SadbRequest): SadbResult<SecurityAssociation> {
    const checked = this.checkKeyedSa(req);
    if (!checked.ok) return checked;
    const { proto, sa } = checked.value;
    if (this.bySpi.has(spiKey(req.ext.addressDst!.addr.address, proto, sa.spi)))
      return fail(Errno.EEXIST, `an SA with SPI 0x${sa.spi.toString(16)} to ${req.ext.addressDst!.addr.address} exists`);
    const created = this.makeMature(req, proto, sa);
    this.insert(created);
    this.armAddTimers(created);
    return { ok: true, value: created };
  }

  /**
   * SADB_UPDATE: a larval SA becomes mature with the keys given; on a mature SA
   * only the lifetimes and NAT-T ports change and a dying SA is mature again
   * (Linux xfrm_state_update). ESRCH when no SA has (dst, proto, spi).
   */
  update(req: SadbRequest): SadbResult<SecurityAssociation> {
    const checked = this.checkKeyedSa(req);
    if (!checked.ok) return checked;
    const { proto, sa } = checked.value;
    const old = this.bySpi.get(spiKey(req.ext.addressDst!.addr.address, proto, sa.spi));
    if (!old) return fail(Errno.ESRCH, `no SA with SPI 0x${sa.spi.toString(16)} to ${req.ext.addressDst!.addr.address}`);
    if (old.state === SadbSaState.LARVAL) {
      if (old.src !== req.ext.addressSrc!.addr.address)
        return fail(Errno.EINVAL, `UPDATE source ${req.ext.addressSrc!.addr.address} differs from the larval SA's ${old.src}`);
      this.remove(old);
      const created = this.makeMature(req, proto, sa);
      this.insert(created);
      this.armAddTimers(created);
      return { ok: true, value: created };
    }
    if (old.state === SadbSaState.DEAD) return fail(Errno.EINVAL, 'SA is dead');
    for (const name of ['lifetimeHard', 'lifetimeSoft', 'natTSport', 'natTDport', 'natTOa'] as const) {
      const v = req.ext[name];
      if (v !== undefined) (old.ext as Record<string, unknown>)[name] = v;
      else delete old.ext[name];
    }
    old.state = SadbSaState.MATURE;
    old.softExpired = false;
    old.seq = req.seq;
    old.pid = req.pid;
    for (const cancel of old.timers) cancel();
    old.timers = [];
    this.armAddTimers(old);
    if (old.current.usetime !== 0n) this.armUseTimers(old);
    return { ok: true, value: old };
  }

  // ---- RFC 2367 §3.1.4/§3.1.5 SADB_DELETE and SADB_GET -----------------------------

  /** The SA named by SA + ADDRESS_DST (ADDRESS_SRC is not part of the key, as in Linux xfrm_state_lookup). */
  private locate(req: SadbRequest): SadbResult<SecurityAssociation> {
    const proto = satypeToProto(req.satype);
    if (proto === null) return fail(Errno.EINVAL, `satype ${req.satype} cannot be keyed`);
    if (!req.ext.sa) return fail(Errno.EINVAL, 'SA extension is required');
    const bad = validAddressPair(req.ext);
    if (bad) return fail(Errno.EINVAL, bad);
    const found = this.bySpi.get(spiKey(req.ext.addressDst!.addr.address, proto, req.ext.sa.spi));
    if (!found) return fail(Errno.ESRCH, `no SA with SPI 0x${req.ext.sa.spi.toString(16)} to ${req.ext.addressDst!.addr.address}`);
    return { ok: true, value: found };
  }

  get(req: SadbRequest): SadbResult<SecurityAssociation> {
    return this.locate(req);
  }

  /**
   * SADB_DELETE of one SA, or, without an SA extension, of every SA of this
   * satype from ADDRESS_SRC to ADDRESS_DST (KAME key_delete_all; racoon's
   * pfkey_send_delete_all on INITIAL-CONTACT relies on it).
   */
  delete(req: SadbRequest): SadbResult<SecurityAssociation[]> {
    if (req.ext.sa) {
      const found = this.locate(req);
      if (!found.ok) return found;
      this.kill(found.value);
      return { ok: true, value: [found.value] };
    }
    const proto = satypeToProto(req.satype);
    if (proto === null) return fail(Errno.EINVAL, `satype ${req.satype} cannot be keyed`);
    const bad = validAddressPair(req.ext);
    if (bad) return fail(Errno.EINVAL, bad);
    const set = this.byPair.get(pairKey(req.ext.addressSrc!.addr.address, req.ext.addressDst!.addr.address, proto));
    const victims = set ? [...set] : [];
    for (const sa of victims) this.kill(sa);
    return { ok: true, value: victims };
  }

  // ---- RFC 2367 §3.1.9/§3.1.10 SADB_FLUSH and SADB_DUMP ----------------------------

  /** SAs of one satype (UNSPEC = all) in insertion order; null for an satype that is not keyed. */
  list(satype: SadbSaType): SecurityAssociation[] | null {
    const proto = satype === SadbSaType.UNSPEC ? 0 : satypeToProto(satype);
    if (proto === null) return null;
    const out: SecurityAssociation[] = [];
    for (const sa of this.bySpi.values()) if (proto === 0 || sa.proto === proto) out.push(sa);
    return out.sort((a, b) => a.order - b.order);
  }

  flush(satype: SadbSaType): SadbResult<SecurityAssociation[]> {
    const victims = this.list(satype);
    if (victims === null) return fail(Errno.EINVAL, `satype ${satype} cannot be keyed`);
    for (const sa of victims) this.kill(sa);
    return { ok: true, value: victims };
  }

  // ---- data-plane lookups and accounting ----------------------------------------

  /** Inbound: the SA a received packet names, by (dst, proto, spi); larval and dead SAs excluded. */
  lookupInbound(dst: string, proto: number, spi: number): SecurityAssociation | undefined {
    const sa = this.bySpi.get(spiKey(dst, proto, spi));
    return sa && (sa.state === SadbSaState.MATURE || sa.state === SadbSaState.DYING) ? sa : undefined;
  }

  /** Any SA by (dst, proto, spi) whatever its state. */
  find(dst: string, proto: number, spi: number): SecurityAssociation | undefined {
    return this.bySpi.get(spiKey(dst, proto, spi));
  }

  /**
   * Outbound: the SA to apply for a template. reqid 0 matches any reqid and
   * IPSEC_MODE_ANY any mode. Prefers mature over dying, then the newest (Linux
   * xfrm_state_find's "best" choice).
   */
  lookupOutbound(src: string, dst: string, proto: number, reqid: number, mode: IpsecMode): SecurityAssociation | undefined {
    const set = this.byPair.get(pairKey(src, dst, proto));
    if (!set) return undefined;
    let best: SecurityAssociation | undefined;
    for (const sa of set) {
      if (sa.state !== SadbSaState.MATURE && sa.state !== SadbSaState.DYING) continue;
      if (reqid !== 0 && sa.reqid !== reqid) continue;
      if (mode !== IpsecMode.ANY && sa.mode !== IpsecMode.ANY && sa.mode !== mode) continue;
      if (!best) best = sa;
      else if (best.state !== sa.state) best = sa.state === SadbSaState.MATURE ? sa : best;
      else if (sa.order > best.order) best = sa;
    }
    return best;
  }

  /**
   * Count one packet of `bytes` on an SA (RFC 2367 §2.3.3 LIFETIME_CURRENT;
   * allocations count packets, as Linux reports curlft.packets). Returns false
   * if the SA may not be used (larval, dead or gone). Crossing a soft limit
   * raises a soft EXPIRE once; a hard limit a hard EXPIRE and the SA's deletion.
   */
  account(sa: SecurityAssociation, bytes: number): boolean {
    if (sa.state !== SadbSaState.MATURE && sa.state !== SadbSaState.DYING) return false;
    if (this.bySpi.get(spiKey(sa.dst, sa.proto, sa.spi)) !== sa) return false;
    if (sa.current.usetime === 0n) {
      sa.current.usetime = this.nowSec();
      this.armUseTimers(sa);
    }
    sa.current.bytes += BigInt(bytes);
    sa.current.allocations++;
    const hard = sa.ext.lifetimeHard ?? ZERO_LIFETIME;
    const soft = sa.ext.lifetimeSoft ?? ZERO_LIFETIME;
    if (
      (hard.bytes > 0n && sa.current.bytes >= hard.bytes) ||
      (hard.allocations > 0 && sa.current.allocations >= hard.allocations)
    ) {
      this.expire(sa, 'hard');
    } else if (
      (soft.bytes > 0n && sa.current.bytes >= soft.bytes) ||
      (soft.allocations > 0 && sa.current.allocations >= soft.allocations)
    ) {
      this.expire(sa, 'soft');
    }
    return true;
  }

  // ---- lifetimes ----------------------------------------------------------------

  private armAddTimers(sa: SecurityAssociation): void {
    const base = Number(sa.current.addtime) * 1000;
    const hard = sa.ext.lifetimeHard?.addtime ?? 0n;
    const soft = sa.ext.lifetimeSoft?.addtime ?? 0n;
    if (soft > 0n && !sa.softExpired) sa.timers.push(this.clock.at(base + Number(soft) * 1000, () => this.expire(sa, 'soft')));
    if (hard > 0n) sa.timers.push(this.clock.at(base + Number(hard) * 1000, () => this.expire(sa, 'hard')));
  }

  private armUseTimers(sa: SecurityAssociation): void {
    const base = Number(sa.current.usetime) * 1000;
    const hard = sa.ext.lifetimeHard?.usetime ?? 0n;
    const soft = sa.ext.lifetimeSoft?.usetime ?? 0n;
    if (soft > 0n && !sa.softExpired) sa.timers.push(this.clock.at(base + Number(soft) * 1000, () => this.expire(sa, 'soft')));
    if (hard > 0n) sa.timers.push(this.clock.at(base + Number(hard) * 1000, () => this.expire(sa, 'hard')));
  }

  /** Soft: once, MATURE → DYING. Hard: DEAD and removed. onExpire sees the SA in its new state. */
  private expire(sa: SecurityAssociation, kind: SaExpiryKind): void {
    if (this.bySpi.get(spiKey(sa.dst, sa.proto, sa.spi)) !== sa) return;
    if (kind === 'soft') {
      if (sa.softExpired || sa.state !== SadbSaState.MATURE) return;
      sa.softExpired = true;
      sa.state = SadbSaState.DYING;
      this.onExpire(sa, 'soft');
      return;
    }
    this.kill(sa);
    this.onExpire(sa, 'hard');
  }

  // ---- storage ------------------------------------------------------------------

  private insert(sa: SecurityAssociation): void {
    this.bySpi.set(spiKey(sa.dst, sa.proto, sa.spi), sa);
    const key = pairKey(sa.src, sa.dst, sa.proto);
    let set = this.byPair.get(key);
    if (!set) this.byPair.set(key, (set = new Set()));
    set.add(sa);
  }

  private remove(sa: SecurityAssociation): void {
    for (const cancel of sa.timers) cancel();
    sa.timers = [];
    this.bySpi.delete(spiKey(sa.dst, sa.proto, sa.spi));
    const key = pairKey(sa.src, sa.dst, sa.proto);
    const set = this.byPair.get(key);
    if (set) {
      set.delete(sa);
      if (set.size === 0) this.byPair.delete(key);
    }
  }

  private kill(sa: SecurityAssociation): void {
    this.remove(sa);
    sa.state = SadbSaState.DEAD;
  }

  /**
   * The extensions describing an SA in a message (Linux __pfkey_xfrm_state2msg):
   * SA with its current state, addresses, LIFETIME_CURRENT, the requested
   * hard/soft lifetimes, keys when `keys`, SA2 and NAT-T as stored.
   */
  toExtensions(sa: SecurityAssociation, opts: { keys: boolean; hard: boolean; soft: boolean }): PfKeyExtensions {
    const ext = deepCopy(sa.ext) as PfKeyExtensions;
    ext.sa = { ...ext.sa!, state: sa.state };
    ext.lifetimeCurrent = { ...sa.current };
    if (!opts.keys) {
      delete ext.keyAuth;
      delete ext.keyEncrypt;
    }
    if (opts.hard) ext.lifetimeHard = ext.lifetimeHard ?? { ...ZERO_LIFETIME };
    else delete ext.lifetimeHard;
    if (opts.soft) ext.lifetimeSoft = ext.lifetimeSoft ?? { ...ZERO_LIFETIME };
    else delete ext.lifetimeSoft;
    if (!ext.sa2) ext.sa2 = { mode: sa.mode, sequence: 0, reqid: sa.reqid };
    return ext;
  }
}
