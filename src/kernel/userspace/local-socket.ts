/**
 * A PfKeySocket attached directly to an in-process UserspaceKernel: the
 * codec's ChannelPfKeySocket over kernelChannel(). Used when the kernel is
 * embedded (racoon, tests).
 */
import { ChannelPfKeySocket } from '../../pfkey/channel';
import type { KernelEndpoint, UserspaceKernel } from './kernel';
import { kernelChannel, type KernelChannel } from './channel';

export class LocalPfKeySocket extends ChannelPfKeySocket {
  private readonly link: KernelChannel;

  constructor(kernel: UserspaceKernel, pid: number = process.pid, timeoutMs = 5000) {
    const link = kernelChannel(kernel);
    super(link, { pid, timeoutMs });
    this.link = link;
  }

  /** The kernel-side endpoint (tests look at registration and promiscuous state). */
  get kernelEndpoint(): KernelEndpoint {
    return this.link.endpoint;
  }
}
