/**
 * SADB_X_MIGRATE in the userspace kernel (draft-sugimoto-mip6-pfkey-migrate,
 * KMADDRESS from draft-ebalard-mext-pfkey-enhanced-migrate; Linux af_key
 * pfkey_migrate → xfrm_migrate → pfkey_send_migrate).
 *
 * A Mobile IPv6 daemon (or `setkey migrate`) names a policy by selector and
 * direction and gives, for each of its templates, an (old, new) ipsecrequest
 * pair. planMigrate() checks the whole message against the SPD and the SADB
 * and returns what would change, or a refusal; nothing is touched until the
 * plan is complete, so a bad MIGRATE changes nothing. The kernel then applies
 * the plan and broadcasts buildMigrateBroadcast() to every socket.
 *
 * Checks per pair (index i against the policy's template i; the counts must
 * be equal, as racoon's migrate_sp_isr_list requires):
 *   - old and new have the template's protocol and mode (IPSEC_MODE_ANY is
 *     transport, as in the SPD);
 *   - reqid: a non-zero reqid in the old or new request must equal the
 *     template's reqid (0 = "the template's"). racoon compared the reqid
 *     with the level constant IPSEC_LEVEL_UNIQUE (3); this compares reqids;
 *   - tunnel/BEET: the old endpoints are the template's; the new endpoints are
 *     present and of one family. Those templates and the mature/dying SAs
 *     (old src, old dst, proto, mode, reqid) move; an SA whose SPI is already
 *     taken at the new destination refuses the whole MIGRATE (EEXIST);
 *   - transport: checked only; neither the template nor any SA moves
 *     (RFC 3776 BU/BA SAs are keyed on the home address).
 */
import { Errno, IpsecLevel, IpsecMode, IpsecPolicyType, SadbMsgType, SadbSaType } from '../../pfkey/constants';
import type { PfKeyMessage, SadbXIpsecRequest, SadbXKmaddress, SockAddr } from '../../pfkey/types';
import { protoToSatype, type Sadb, type SecurityAssociation } from '../../sadb/sadb';
import type { PolicyTemplate, SecurityPolicy, Spd } from '../../spd/spd';
import { formatIp, parseIp } from '../../util/ip';

/** One template whose tunnel endpoints move, with the SAs that follow it. */
export interface TemplateMove {
  index: number;
  old: { src: SockAddr; dst: SockAddr };
  new: { src: SockAddr; dst: SockAddr };
  sas: SecurityAssociation[];
}

export interface MigratePlan {
  policy: SecurityPolicy;
  /** The (old, new) pairs as validated, reqids filled in from the templates. */
  pairs: Array<{ old: SadbXIpsecRequest; new: SadbXIpsecRequest }>;
  moves: TemplateMove[];
  kmaddress?: SadbXKmaddress;
}

export type MigratePlanResult = { ok: true; plan: MigratePlan } | { ok: false; errno: number; reason: string };

function refuse(errno: number, reason: string): MigratePlanResult {
  return { ok: false, errno, reason };
}

/** A socket address with canonical text, or null if the text is no address of its family. */
function canonical(a: SockAddr): SockAddr | null {
  const b = parseIp(a.address);
  if (!b || (a.family === 2 ? 4 : 16) !== b.length) return null;
  return { ...a, address: formatIp(b) };
}

function sameAddress(a: SockAddr, b: SockAddr): boolean {
  const x = parseIp(a.address);
  const y = parseIp(b.address);
  return !!x && !!y && x.equals(y);
}

function normalMode(mode: IpsecMode): IpsecMode {
  return mode === IpsecMode.ANY ? IpsecMode.TRANSPORT : mode;
}

function checkPair(i: number, oldRq: SadbXIpsecRequest, newRq: SadbXIpsecRequest, t: PolicyTemplate): string | null {
  const where = `ipsecrequest pair ${i + 1}`;
  if (oldRq.proto !== t.proto || newRq.proto !== t.proto) return `${where}: protocol ${oldRq.proto}/${newRq.proto} differs from the policy's ${t.proto}`;
  if (normalMode(oldRq.mode) !== t.mode || normalMode(newRq.mode) !== t.mode) return `${where}: mode ${oldRq.mode}/${newRq.mode} differs from the policy's ${t.mode}`;
  for (const [name, rq] of [['old', oldRq], ['new', newRq]] as const) {
    if (rq.reqid !== 0 && rq.reqid !== t.reqid) return `${where}: ${name} reqid ${rq.reqid} differs from the policy's reqid ${t.reqid}`;
  }
  if (t.mode !== IpsecMode.TUNNEL && t.mode !== IpsecMode.BEET) return null;
  if (!oldRq.src || !oldRq.dst || !t.src || !t.dst) return `${where}: tunnel mode needs the old endpoints`;
  if (!sameAddress(oldRq.src, t.src) || !sameAddress(oldRq.dst, t.dst))
    return `${where}: old endpoints ${oldRq.src.address}-${oldRq.dst.address} are not the policy's ${t.src.address}-${t.dst.address}`;
  if (!newRq.src || !newRq.dst) return `${where}: tunnel mode needs the new endpoints`;
  if (newRq.src.family !== newRq.dst.family) return `${where}: new endpoints differ in address family`;
  if (!canonical(newRq.src) || !canonical(newRq.dst)) return `${where}: new endpoints are not addresses of their family`;
  return null;
}

/** Validate a SADB_X_MIGRATE against the SPD and SADB; change nothing. */
export function planMigrate(msg: PfKeyMessage, spd: Spd, sadb: Sadb): MigratePlanResult {
  const { addressSrc, addressDst, policy: xpol, kmaddress } = msg.ext;
  if (!addressSrc || !addressDst || !xpol) return refuse(Errno.EINVAL, 'MIGRATE needs ADDRESS_SRC, ADDRESS_DST and X_POLICY');
  if (xpol.type !== IpsecPolicyType.IPSEC) return refuse(Errno.EINVAL, `MIGRATE X_POLICY type ${xpol.type} is not ipsec`);
  if (xpol.requests.length === 0 || xpol.requests.length % 2 !== 0)
    return refuse(Errno.EINVAL, `MIGRATE needs (old, new) ipsecrequest pairs, got ${xpol.requests.length} requests`);
  let km: SadbXKmaddress | undefined;
  if (kmaddress) {
    const local = canonical(kmaddress.local);
    const remote = canonical(kmaddress.remote);
    if (!local || !remote) return refuse(Errno.EINVAL, 'KMADDRESS holds an address that is not of its family');
    if (local.family !== remote.family) return refuse(Errno.EINVAL, 'KMADDRESS local and remote differ in address family');
    km = { local, remote };
  }
  const found = spd.findBySelector(msg.ext, xpol.dir);
  if (!found.ok) return refuse(found.errno, found.errno === Errno.ENOENT ? 'Passed policy does not exist' : found.reason);
  const policy = found.value;
  if (policy.type !== IpsecPolicyType.IPSEC) return refuse(Errno.EINVAL, `policy ${policy.id} is not an ipsec policy`);
  const npairs = xpol.requests.length / 2;
  if (npairs !== policy.templates.length)
    return refuse(Errno.EINVAL, `MIGRATE has ${npairs} request pairs, policy ${policy.id} has ${policy.templates.length} templates`);

  const pairs: MigratePlan['pairs'] = [];
  const moves: TemplateMove[] = [];
  const taken = new Set<string>();
  for (let i = 0; i < npairs; i++) {
    const t = policy.templates[i];
    const oldRq = xpol.requests[2 * i];
    const newRq = xpol.requests[2 * i + 1];
    const bad = checkPair(i, oldRq, newRq, t);
    if (bad) return refuse(Errno.EINVAL, bad);
    const level = t.reqid !== 0 ? IpsecLevel.UNIQUE : IpsecLevel.REQUIRE;
    const pair = { old: { ...oldRq, mode: t.mode, level, reqid: t.reqid }, new: { ...newRq, mode: t.mode, level, reqid: t.reqid } };
    if (t.mode === IpsecMode.TUNNEL || t.mode === IpsecMode.BEET) {
      const move: TemplateMove = {
        index: i,
        old: { src: { ...t.src! }, dst: { ...t.dst! } },
        new: { src: canonical(newRq.src!)!, dst: canonical(newRq.dst!)! },
        sas: sadb.migrateCandidates(t.src!.address, t.dst!.address, t.proto, t.mode, t.reqid),
      };
      for (const sa of move.sas) {
        const clash = sadb.migrateCheck(sa, move.new.dst.address);
        const key = `${move.new.dst.address}|${sa.proto}|${sa.spi}`;
        if (clash) return refuse(Errno.EEXIST, `${clash}; MIGRATE of SA 0x${sa.spi.toString(16)} refused`);
        if (taken.has(key)) return refuse(Errno.EEXIST, `two SAs would move to SPI 0x${sa.spi.toString(16)} at ${move.new.dst.address}`);
        taken.add(key);
      }
      pair.old.src = move.old.src;
      pair.old.dst = move.old.dst;
      pair.new.src = move.new.src;
      pair.new.dst = move.new.dst;
      moves.push(move);
    }
    pairs.push(pair);
  }
  return { ok: true, plan: { policy, pairs, moves, ...(km ? { kmaddress: km } : {}) } };
}

/**
 * The MIGRATE every socket receives (Linux pfkey_send_migrate layout):
 * satype of the first pair's protocol, KMADDRESS as the sender gave it (local
 * first), ADDRESS_SRC/DST = the policy's selector, X_POLICY{ipsec, dir, id 0,
 * priority 0} with the (old, new) pairs, level UNIQUE when the template has a
 * reqid, else REQUIRE. It carries the sender's seq and pid so that it also
 * answers the request (Linux sends seq 0, pid 0: its caller does not wait).
 */
export function buildMigrateBroadcast(plan: MigratePlan, req: { seq: number; pid: number }, policyExtSrc: NonNullable<PfKeyMessage['ext']['addressSrc']>, policyExtDst: NonNullable<PfKeyMessage['ext']['addressDst']>): PfKeyMessage {
  const requests: SadbXIpsecRequest[] = plan.pairs.flatMap((p) => [p.old, p.new]);
  return {
    type: SadbMsgType.X_MIGRATE,
    satype: protoToSatype(plan.pairs[0].old.proto) ?? SadbSaType.UNSPEC,
    errno: 0,
    seq: req.seq,
    pid: req.pid,
    ext: {
      ...(plan.kmaddress ? { kmaddress: { local: { ...plan.kmaddress.local }, remote: { ...plan.kmaddress.remote } } } : {}),
      addressSrc: { ...policyExtSrc, addr: { ...policyExtSrc.addr } },
      addressDst: { ...policyExtDst, addr: { ...policyExtDst.addr } },
      policy: { type: IpsecPolicyType.IPSEC, dir: plan.policy.dir, id: 0, priority: 0, requests },
    },
  };
}
