/**
 * The Linux XFRM backend: PF_KEYv2 inside, NETLINK_XFRM to the kernel.
 * See docs/xfrm.md.
 */
import type { PfKeySocket } from '../../pfkey/socket';
import { XfrmPfKeySocket, XfrmPfKeyOptions } from './socket';

export { XfrmPfKeySocket, XFRM_PFKEY_GROUPS } from './socket';
export type { XfrmPfKeyOptions } from './socket';
export { explainReply, XfrmKernelError } from './errors';

/** Open a PF_KEY socket backed by the kernel's XFRM (optionally inside a network namespace). */
export async function openXfrmPfKey(opts: XfrmPfKeyOptions = {}): Promise<PfKeySocket & XfrmPfKeySocket> {
  return XfrmPfKeySocket.open(opts);
}
