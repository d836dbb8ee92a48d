/**
 * Readable explanations of kernel refusals. A PF_KEY reply can carry only an
 * errno (RFC 2367 §1.8 sadb_msg_errno); the xfrm backend attaches the text
 * below to the reply object (see explainReply) and throws it from
 * XfrmPfKeySocket.requestOrThrow.
 */
import { Errno, SadbMsgType, SadbSaType } from '../../pfkey/constants';
import type { PfKeyMessage } from '../../pfkey/types';
import { attachExplanation, explainReply } from '../../pfkey/explain';

export { attachExplanation, explainReply };
import { errnoName } from '../../util/netlink';
import { XfrmMsgType } from './constants';
import type { XfrmAttrs } from './structs';
import { xfrmTypeName } from './translate';

/** A PF_KEY request the kernel (or the translation) refused. */
export class XfrmKernelError extends Error {
  constructor(
    readonly errno: number,
    readonly reply: PfKeyMessage,
    explanation: string,
  ) {
    super(explanation);
    this.name = 'XfrmKernelError';
  }
}

const MODULES: Partial<Record<SadbSaType, { proto: string; modules: string }>> = {
  [SadbSaType.ESP]: { proto: 'ESP', modules: 'esp4/esp6' },
  [SadbSaType.AH]: { proto: 'AH', modules: 'ah4/ah6' },
  [SadbSaType.X_IPCOMP]: { proto: 'IPComp', modules: 'ipcomp/ipcomp6' },
};

/**
 * Explain an errno the kernel returned for a translated request.
 * NEWSA/UPDSA: EPROTONOSUPPORT = no xfrm_type for the protocol (esp4/esp6/ah4
 * modules missing; net/xfrm/xfrm_state.c __xfrm_init_state "Requested type not
 * found"); ENOSYS = the crypto API cannot give an algorithm (xfrm_user.c
 * attach_aead/attach_auth... "Requested AEAD algorithm not found").
 */
export function explainKernelError(
  pfkeyType: SadbMsgType,
  satype: SadbSaType,
  xfrmType: number,
  errno: number,
  extack: string | undefined,
  attrs: XfrmAttrs | undefined,
): string {
  const tail = `${xfrmTypeName(xfrmType)} failed with ${errnoName(errno)}${extack ? ` (kernel: ${extack})` : ''}`;
  const isSaInstall = xfrmType === XfrmMsgType.NEWSA || xfrmType === XfrmMsgType.UPDSA;
  const mod = MODULES[satype] ?? { proto: 'IPsec', modules: 'esp4/esp6/ah4/ah6' };
  if (isSaInstall && errno === Errno.EPROTONOSUPPORT)
    return `the kernel has no ${mod.proto} support (${mod.modules} modules missing): the SA cannot be installed; ${tail}`;
  if (isSaInstall && errno === Errno.ENOSYS) {
    const alg = attrs?.algAead?.algName ?? attrs?.algCrypt?.algName ?? attrs?.algAuthTrunc?.algName ?? attrs?.algComp?.algName;
    return (
      `the kernel has no ${mod.proto} support (${mod.modules} modules missing) for this SA: its crypto API cannot provide ` +
      `${alg ? `algorithm ${alg}` : 'the requested algorithm'}; ${tail}`
    );
  }
  const what = SadbMsgType[pfkeyType] ?? String(pfkeyType);
  switch (errno) {
    case Errno.EPERM:
      return `${what}: the XFRM netlink interface needs CAP_NET_ADMIN; ${tail}`;
    case Errno.EEXIST:
      return xfrmType === XfrmMsgType.NEWPOLICY
        ? `${what}: a policy with this selector and direction already exists (SPDUPDATE replaces it); ${tail}`
        : `${what}: an SA with this destination, SPI and protocol already exists; ${tail}`;
    case Errno.ENOENT:
      return xfrmType === XfrmMsgType.DELPOLICY || xfrmType === XfrmMsgType.GETPOLICY || xfrmType === XfrmMsgType.MIGRATE
        ? `${what}: no such policy in the kernel; ${tail}`
        : `${what}: no such SA in the kernel; ${tail}`;
    case Errno.ESRCH:
      if (xfrmType === XfrmMsgType.GETSA || xfrmType === XfrmMsgType.DELSA) return `${what}: no such SA in the kernel; ${tail}`;
      return `${what}: no matching entry (for GETSPI: no free SPI in the range, or the ACQUIRE with this seq is gone); ${tail}`;
    default:
      return `${what}: ${tail}`;
  }
}
