/**
 * XfrmPfKeySocket: a PfKeySocket whose "kernel" is Linux XFRM over netlink.
 * Each PF_KEY request is translated to one XFRM request (translate.ts); the
 * kernel's answer (ACK, reply, or our own multicast notification, which
 * carries what the kernel actually stored, e.g. the policy index) is turned
 * back into the PF_KEY reply. Kernel events and other processes' changes
 * arrive on the XFRM multicast groups and become PF_KEY broadcasts, with the
 * af_key delivery rules: ACQUIRE, EXPIRE and NAT_T_NEW_MAPPING only to sockets
 * that REGISTERed the satype (RFC 2367 §3.1.3, BROADCAST_REGISTERED), every
 * other broadcast to all sockets. The sender of a change sees its reply once,
 * not an extra broadcast copy (af_key's BROADCAST_ALL reply semantics).
 */
import {
  Errno,
  IPSEC_MANUAL_REQID_MAX,
  IpsecLevel,
  SadbMsgType,
  SadbSaType,
} from '../../pfkey/constants';
import type { PfKeySocket } from '../../pfkey/socket';
import type { PfKeyMessage } from '../../pfkey/types';
import {
  NETLINK_XFRM,
  NetlinkKernelError,
  NetlinkSocket,
  ReceivedNetlinkMessage,
  errnoName,
} from '../../util/netlink';
import { kernelCryptoNames, supportedAlgorithms } from './algorithms';
import { XfrmMsgType, XfrmNlGroup } from './constants';
import { XfrmKernelError, attachExplanation, explainKernelError, explainReply } from './errors';
import { XfrmKnownType, XfrmMessage, XfrmMessageOf, decodeXfrm, encodeXfrm } from './messages';
import { XfrmDecodeError, XfrmEncodeError, encodeAttrs } from './structs';
import {
  acquireToPfKey,
  checkMessageAddresses,
  expireToPfKey,
  getSpiToXfrm,
  mappingToPfKey,
  migrateFromPfKey,
  migrateToPfKey,
  policyToPfKey,
  polexpireToPfKey,
  protoToSatype,
  saAddToXfrm,
  saIdToXfrm,
  saToPfKey,
  satypeToFlushProto,
  spdAddToXfrm,
  spdIdToXfrm,
  xfrmTypeName,
} from './translate';

export interface XfrmPfKeyOptions {
  /** Open the netlink socket inside this network namespace (`ip netns` name or a path). */
  netns?: string;
  /** sadb_msg_pid this socket reports as its own (default: process.pid). */
  pid?: number;
  /** /proc/crypto text to judge algorithm availability from (default: read the file). */
  procCrypto?: string;
}

/** The XFRM multicast groups a PF_KEY socket listens on. */
export const XFRM_PFKEY_GROUPS = [
  XfrmNlGroup.ACQUIRE,
  XfrmNlGroup.EXPIRE,
  XfrmNlGroup.SA,
  XfrmNlGroup.POLICY,
  XfrmNlGroup.MIGRATE,
  XfrmNlGroup.MAPPING,
];

const DEFAULT_TIMEOUT_MS = 5000;

interface ExecOk {
  ok: true;
  replies: XfrmMessage[];
  /** Our own multicast notification(s) for this request, decoded. */
  echoes: XfrmMessage[];
}
interface ExecFail {
  ok: false;
  errno: number;
  reason: string;
}

export class XfrmPfKeySocket implements PfKeySocket {
  readonly pid: number;
  private readonly listeners = new Set<(msg: PfKeyMessage) => void>();
  private readonly errorListeners = new Set<(err: Error) => void>();
  private readonly registered = new Set<SadbSaType>();
  private promiscuous = false;
  private readonly inflight = new Map<number, ReceivedNetlinkMessage[]>();
  private nextReqid = IPSEC_MANUAL_REQID_MAX + 1;
  private readonly cryptoNames: Set<string>;

  private constructor(
    private readonly nl: NetlinkSocket,
    opts: XfrmPfKeyOptions,
  ) {
    this.pid = opts.pid ?? process.pid;
    this.cryptoNames = kernelCryptoNames(opts.procCrypto);
    nl.onEvent((m) => this.onNetlinkEvent(m));
    nl.onError((e) => this.emitError(e));
  }

  static async open(opts: XfrmPfKeyOptions = {}): Promise<XfrmPfKeySocket> {
    const nl = NetlinkSocket.open({ protocol: NETLINK_XFRM, groups: XFRM_PFKEY_GROUPS, netns: opts.netns });
    return new XfrmPfKeySocket(nl, opts);
  }

  /** The netlink port id of the underlying socket (nlmsg_pid of our requests). */
  get portid(): number {
    return this.nl.portid;
  }

  send(msg: PfKeyMessage): void {
    this.request(msg).catch((e: unknown) => this.emitError(e instanceof Error ? e : new Error(String(e))));
  }

  async request(msg: PfKeyMessage, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PfKeyMessage> {
    const out = await this.handle(msg, timeoutMs);
    for (const m of out) this.deliver(m);
    return out[out.length - 1];
  }

  /** request(), but an errno reply becomes an XfrmKernelError carrying the explanation. */
  async requestOrThrow(msg: PfKeyMessage, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PfKeyMessage> {
    const out = await this.handle(msg, timeoutMs);
    for (const m of out) this.deliver(m);
    const last = out[out.length - 1];
    if (last.errno !== 0) throw new XfrmKernelError(last.errno, last, explanationOf(last));
    return last;
  }

  /**
   * SADB_DUMP / SADB_X_SPDDUMP: every record (also delivered to onMessage),
   * sequence numbers 1..n-1 and 0 on the last as af_key sends them; an empty
   * table gives one ENOENT reply, as af_key does.
   */
  async dump(msg: PfKeyMessage, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PfKeyMessage[]> {
    const out = await this.handle(msg, timeoutMs);
    for (const m of out) this.deliver(m);
    return out;
  }

  onMessage(listener: (msg: PfKeyMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onError(listener: (err: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.nl.close();
  }

  /* ---- requests ---------------------------------------------------------- */

  private errorReply(msg: PfKeyMessage, errno: number, reason: string): PfKeyMessage[] {
    const reply: PfKeyMessage = { type: msg.type, satype: msg.satype, errno, seq: msg.seq, pid: msg.pid, ext: {} };
    return [attachExplanation(reply, reason)];
  }

  private headerReply(msg: PfKeyMessage): PfKeyMessage {
    return { type: msg.type, satype: msg.satype, errno: 0, seq: msg.seq, pid: msg.pid, ext: {} };
  }

  private async exec<T extends XfrmKnownType>(
    msg: PfKeyMessage,
    x: XfrmMessageOf<T>,
    timeoutMs: number,
  ): Promise<ExecOk | ExecFail> {
    let seq = -1;
    let payload: Buffer;
    try {
      payload = encodeXfrm(x);
    } catch (e) {
      // A field out of range for its wire type (e.g. a non-integer SPI): refuse, send nothing.
      if (e instanceof XfrmEncodeError) return { ok: false, errno: Errno.EINVAL, reason: `${SadbMsgType[msg.type] ?? msg.type}: ${e.message}` };
      throw e;
    }
    try {
      // GET-style requests are answered by one message; ask for no ACK, as iproute2 does.
      const getStyle = x.type === XfrmMsgType.ALLOCSPI || x.type === XfrmMsgType.GETSA || x.type === XfrmMsgType.GETPOLICY;
      const raw = await this.nl.request(x.type, payload, {
        timeoutMs,
        ack: !getStyle,
        onSeq: (s) => {
          seq = s;
          this.inflight.set(s, []);
        },
      });
      const replies = this.decodeAll(raw);
      const echoes = this.decodeAll(this.inflight.get(seq) ?? []);
      return { ok: true, replies, echoes };
    } catch (e) {
      if (e instanceof NetlinkKernelError)
        return { ok: false, errno: e.errno, reason: explainKernelError(msg.type, msg.satype, x.type, e.errno, e.extack, x.attrs) };
      throw e;
    } finally {
      this.inflight.delete(seq);
    }
  }

  private async execDump(type: XfrmMsgType, payload: Buffer, timeoutMs: number): Promise<XfrmMessage[] | ExecFail> {
    try {
      return this.decodeAll(await this.nl.request(type, payload, { dump: true, timeoutMs }));
    } catch (e) {
      if (e instanceof NetlinkKernelError) return { ok: false, errno: e.errno, reason: `${xfrmTypeName(type)} dump failed with ${errnoName(e.errno)}` };
      throw e;
    }
  }

  private decodeAll(raw: ReceivedNetlinkMessage[]): XfrmMessage[] {
    const out: XfrmMessage[] = [];
    for (const r of raw) {
      const d = decodeXfrm(r.type, r.payload);
      if (d instanceof XfrmDecodeError) this.emitError(d);
      else out.push(d);
    }
    return out;
  }

  private async usedReqids(timeoutMs: number): Promise<Set<number>> {
    const used = new Set<number>();
    const all = await this.execDump(XfrmMsgType.GETPOLICY, Buffer.alloc(0), timeoutMs);
    if (Array.isArray(all)) for (const m of all) if (m.type === XfrmMsgType.NEWPOLICY) for (const t of m.attrs.tmpl ?? []) used.add(t.reqid);
    return used;
  }

  private async handle(msg: PfKeyMessage, timeoutMs: number): Promise<PfKeyMessage[]> {
    const badAddress = checkMessageAddresses(msg);
    if (badAddress) return this.errorReply(msg, badAddress.errno, badAddress.reason);
    switch (msg.type) {
      case SadbMsgType.REGISTER: {
        if (msg.satype !== SadbSaType.UNSPEC) this.registered.add(msg.satype);
        const sup = supportedAlgorithms(this.cryptoNames);
        const reply = this.headerReply(msg);
        reply.ext.supportedAuth = { algs: sup.auth };
        reply.ext.supportedEncrypt = { algs: sup.encrypt };
        return [reply];
      }
      case SadbMsgType.X_SPDADD:
      case SadbMsgType.X_SPDUPDATE: {
        const needsReqid = msg.ext.policy?.requests.some((r) => r.level === IpsecLevel.UNIQUE && (r.reqid === 0 || r.reqid > IPSEC_MANUAL_REQID_MAX));
        const used = needsReqid ? await this.usedReqids(timeoutMs) : new Set<number>();
        const alloc = (): number => {
          while (used.has(this.nextReqid)) this.nextReqid++;
          used.add(this.nextReqid);
          return this.nextReqid++;
        };
        const t = spdAddToXfrm(msg, alloc);
        if (!t.ok) return this.errorReply(msg, t.errno, t.reason);
        const r = await this.exec(msg, t.value, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        const echo = r.echoes.find((e) => e.type === XfrmMsgType.NEWPOLICY || e.type === XfrmMsgType.UPDPOLICY);
        if (echo && (echo.type === XfrmMsgType.NEWPOLICY || echo.type === XfrmMsgType.UPDPOLICY))
          return [policyToPfKey(msg.type, echo.body, echo.attrs, msg.seq, msg.pid)];
        return [policyToPfKey(msg.type, t.value.body, t.value.attrs, msg.seq, msg.pid)];
      }
      case SadbMsgType.X_SPDDELETE:
      case SadbMsgType.X_SPDDELETE2:
      case SadbMsgType.X_SPDGET: {
        const t = spdIdToXfrm(msg);
        if (!t.ok) return this.errorReply(msg, t.errno, t.reason);
        const r = await this.exec(msg, t.value, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        for (const m of [...r.replies, ...r.echoes]) {
          if (m.type === XfrmMsgType.NEWPOLICY) return [policyToPfKey(msg.type, m.body, m.attrs, msg.seq, msg.pid)];
          if (m.type === XfrmMsgType.DELPOLICY && m.attrs.policy) return [policyToPfKey(msg.type, m.attrs.policy, m.attrs, msg.seq, msg.pid)];
        }
        return [{ ...this.headerReply(msg), ext: msg.ext }];
      }
      case SadbMsgType.X_SPDFLUSH: {
        const r = await this.exec(msg, { type: XfrmMsgType.FLUSHPOLICY, body: {}, attrs: {} }, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        return [{ ...this.headerReply(msg), satype: SadbSaType.UNSPEC }];
      }
      case SadbMsgType.X_SPDDUMP: {
        const all = await this.execDump(XfrmMsgType.GETPOLICY, Buffer.alloc(0), timeoutMs);
        if (!Array.isArray(all)) return this.errorReply(msg, all.errno, all.reason);
        const records = all.flatMap((m) => (m.type === XfrmMsgType.NEWPOLICY ? [m] : []));
        if (records.length === 0) return this.errorReply(msg, Errno.ENOENT, 'X_SPDDUMP: the kernel SPD is empty');
        return records.map((m, i) => policyToPfKey(SadbMsgType.X_SPDDUMP, m.body, m.attrs, i === records.length - 1 ? 0 : i + 1, msg.pid));
      }
      case SadbMsgType.GETSPI: {
        const t = getSpiToXfrm(msg);
        if (!t.ok) return this.errorReply(msg, t.errno, t.reason);
        const r = await this.exec(msg, t.value, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        const sa = r.replies.find((m) => m.type === XfrmMsgType.NEWSA);
        if (!sa || sa.type !== XfrmMsgType.NEWSA) return this.errorReply(msg, Errno.EIO, 'XFRM_MSG_ALLOCSPI was acknowledged without the allocated state');
        const reply = saToPfKey(SadbMsgType.GETSPI, sa.body, sa.attrs, msg.seq, msg.pid, { keys: false });
        return [reply];
      }
      case SadbMsgType.ADD:
      case SadbMsgType.UPDATE: {
        const t = saAddToXfrm(msg);
        if (!t.ok) return this.errorReply(msg, t.errno, t.reason);
        const r = await this.exec(msg, t.value, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        const echo = r.echoes.find((e) => e.type === XfrmMsgType.NEWSA || e.type === XfrmMsgType.UPDSA);
        if (echo && (echo.type === XfrmMsgType.NEWSA || echo.type === XfrmMsgType.UPDSA))
          return [saToPfKey(msg.type, echo.body, echo.attrs, msg.seq, msg.pid)];
        return [saToPfKey(msg.type, t.value.body, t.value.attrs, msg.seq, msg.pid)];
      }
      case SadbMsgType.DELETE:
      case SadbMsgType.GET: {
        const t = saIdToXfrm(msg);
        if (!t.ok) return this.errorReply(msg, t.errno, t.reason);
        const r = await this.exec(msg, t.value, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        for (const m of [...r.replies, ...r.echoes]) {
          if (m.type === XfrmMsgType.NEWSA) return [saToPfKey(msg.type, m.body, m.attrs, msg.seq, msg.pid)];
          if (m.type === XfrmMsgType.DELSA && m.attrs.sa) return [saToPfKey(msg.type, m.attrs.sa, m.attrs, msg.seq, msg.pid, { keys: false })];
        }
        return [{ ...this.headerReply(msg), ext: { sa: msg.ext.sa, addressSrc: msg.ext.addressSrc, addressDst: msg.ext.addressDst } }].map((m) => {
          const ext = Object.fromEntries(Object.entries(m.ext).filter(([, v]) => v !== undefined));
          return { ...m, ext };
        });
      }
      case SadbMsgType.FLUSH: {
        const p = satypeToFlushProto(msg.satype);
        if (!p.ok) return this.errorReply(msg, p.errno, p.reason);
        const r = await this.exec(msg, { type: XfrmMsgType.FLUSHSA, body: { proto: p.value }, attrs: {} }, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        return [this.headerReply(msg)];
      }
      case SadbMsgType.DUMP: {
        const p = satypeToFlushProto(msg.satype);
        if (!p.ok) return this.errorReply(msg, p.errno, p.reason);
        // xfrm_dump_sa parses attributes right after the header (no fixed body).
        const payload = msg.satype === SadbSaType.UNSPEC ? Buffer.alloc(0) : encodeAttrs({ proto: p.value });
        const all = await this.execDump(XfrmMsgType.GETSA, payload, timeoutMs);
        if (!Array.isArray(all)) return this.errorReply(msg, all.errno, all.reason);
        const records = all.flatMap((m) => (m.type === XfrmMsgType.NEWSA ? [m] : []));
        if (records.length === 0) return this.errorReply(msg, Errno.ENOENT, 'DUMP: the kernel SAD has no SA of this satype');
        return records.map((m, i) => saToPfKey(SadbMsgType.DUMP, m.body, m.attrs, i === records.length - 1 ? 0 : i + 1, msg.pid));
      }
      case SadbMsgType.X_MIGRATE: {
        const t = migrateFromPfKey(msg);
        if (!t.ok) return this.errorReply(msg, t.errno, t.reason);
        const r = await this.exec(msg, t.value, timeoutMs);
        if (!r.ok) return this.errorReply(msg, r.errno, r.reason);
        return [{ ...this.headerReply(msg), ext: msg.ext }];
      }
      case SadbMsgType.X_PROMISC: {
        // RFC 2367 has no promiscuous mode; KAME's X_PROMISC (satype 1 = on, 0 = off)
        // shows a socket every message. XFRM cannot show other sockets' requests,
        // only their effects (already broadcast) and kernel events: promiscuous
        // here means ACQUIRE/EXPIRE/NEW_MAPPING of every satype, registered or not.
        this.promiscuous = msg.satype !== SadbSaType.UNSPEC;
        return [this.headerReply(msg)];
      }
      default:
        return this.errorReply(
          msg,
          Errno.EOPNOTSUPP,
          `${SadbMsgType[msg.type] ?? msg.type}: not supported by the xfrm backend (XFRM has no equivalent; use the userspace kernel for it)`,
        );
    }
  }

  /* ---- kernel events ----------------------------------------------------- */

  private onNetlinkEvent(m: ReceivedNetlinkMessage): void {
    if (m.pid === this.nl.portid && m.pid !== 0) {
      // Our own change, echoed on a multicast group: part of the reply, not a broadcast.
      this.inflight.get(m.seq)?.push(m);
      return;
    }
    if (m.groups === 0) return; // a stray unicast (late reply after a timeout)
    const x = decodeXfrm(m.type, m.payload);
    if (x instanceof XfrmDecodeError) {
      if (x.rule !== 'xfrm-type-unknown') this.emitError(x);
      return;
    }
    const pf = this.eventToPfKey(x, m.pid, m.seq);
    if (!pf) return;
    const onlyRegistered =
      pf.type === SadbMsgType.ACQUIRE || pf.type === SadbMsgType.EXPIRE || pf.type === SadbMsgType.X_NAT_T_NEW_MAPPING;
    if (onlyRegistered && !this.promiscuous && !this.registered.has(pf.satype)) return;
    this.deliver(pf);
  }

  private eventToPfKey(x: XfrmMessage, pid: number, seq: number): PfKeyMessage | undefined {
    switch (x.type) {
      case XfrmMsgType.NEWPOLICY:
        return policyToPfKey(SadbMsgType.X_SPDADD, x.body, x.attrs, seq, pid);
      case XfrmMsgType.UPDPOLICY:
        return policyToPfKey(SadbMsgType.X_SPDUPDATE, x.body, x.attrs, seq, pid);
      case XfrmMsgType.DELPOLICY:
        if (!x.attrs.policy) return undefined;
        return policyToPfKey(x.body.index ? SadbMsgType.X_SPDDELETE2 : SadbMsgType.X_SPDDELETE, x.attrs.policy, x.attrs, seq, pid);
      case XfrmMsgType.FLUSHPOLICY:
        return { type: SadbMsgType.X_SPDFLUSH, satype: SadbSaType.UNSPEC, errno: 0, seq, pid, ext: {} };
      case XfrmMsgType.NEWSA:
        return saToPfKey(SadbMsgType.ADD, x.body, x.attrs, seq, pid);
      case XfrmMsgType.UPDSA:
        return saToPfKey(SadbMsgType.UPDATE, x.body, x.attrs, seq, pid);
      case XfrmMsgType.DELSA:
        if (!x.attrs.sa) return undefined;
        return saToPfKey(SadbMsgType.DELETE, x.attrs.sa, x.attrs, seq, pid, { keys: false });
      case XfrmMsgType.FLUSHSA:
        return { type: SadbMsgType.FLUSH, satype: x.body.proto === 255 ? SadbSaType.UNSPEC : protoToSatype(x.body.proto), errno: 0, seq, pid, ext: {} };
      case XfrmMsgType.ACQUIRE:
        return acquireToPfKey(x.body, x.attrs, this.cryptoNames);
      case XfrmMsgType.EXPIRE:
        return expireToPfKey(x.body, x.attrs);
      case XfrmMsgType.POLEXPIRE:
        return polexpireToPfKey(x.body, x.attrs);
      case XfrmMsgType.MIGRATE:
        return migrateToPfKey(x.body, x.attrs);
      case XfrmMsgType.MAPPING:
        return mappingToPfKey(x.body);
      default:
        return undefined;
    }
  }

  private deliver(msg: PfKeyMessage): void {
    for (const l of this.listeners) {
      try {
        l(msg);
      } catch (e) {
        this.emitError(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  private emitError(err: Error): void {
    for (const l of this.errorListeners) l(err);
  }
}

function explanationOf(reply: PfKeyMessage): string {
  return explainReply(reply) ?? `${SadbMsgType[reply.type]} failed with ${errnoName(reply.errno)}`;
}
