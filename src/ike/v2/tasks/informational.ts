/**
 * INFORMATIONAL tasks (RFC 7296 §1.4): ike_delete, child_delete (§1.4.1) and
 * ike_dpd (the empty liveness check, §2.4).
 */
import { PayloadType, ProtocolId } from '../constants';
import type { ChildSa, IkeSa } from '../ike-sa';
import { Payload, allPayloads } from '../payloads';
import { deleteChildRequests, policyRequests, spiBuffer } from '../child-sa';
import type { Services, Task, TaskResult } from './task';

export class IkeDeleteTask implements Task {
  readonly kind = 'ike_delete' as const;
  buildRequest(_svc: Services, sa: IkeSa, out: Payload[]): void {
    sa.state = 'deleting';
    out.push({ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spis: [] });
  }
  processResponse(): TaskResult {
    return 'destroy';
  }
  processRequest(svc: Services, sa: IkeSa): void {
    svc.log('info', 'received DELETE for the IKE_SA', sa);
  }
  buildResponse(): TaskResult {
    return 'destroy';
  }
}

/** Remove a CHILD_SA's SAs from the kernel and forget it. */
export function removeChild(svc: Services, sa: IkeSa, child: ChildSa, reason: string): void {
  for (const m of deleteChildRequests(sa, child)) svc.pfkeySend(sa, m);
  if (child.policiesInstalled) {
    for (const m of policyRequests(sa, child, 'delete')) svc.pfkeySend(sa, m);
    child.policiesInstalled = false;
  }
  child.state = 'deleted';
  sa.children = sa.children.filter((c) => c !== child);
  svc.log('info', `CHILD_SA ${child.config.name} deleted: ${reason}`, sa, { childSpi: child.inboundSpi });
}

export class ChildDeleteTask implements Task {
  readonly kind = 'child_delete' as const;
  private found: ChildSa[] = [];
  constructor(private readonly children: ChildSa[] = []) {}

  buildRequest(_svc: Services, _sa: IkeSa, out: Payload[]): void {
    for (const c of this.children) if (c.state !== 'deleted') c.state = 'deleting';
    const live = this.children.filter((c) => c.state !== 'deleted');
    if (live.length) out.push({ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: live.map((c) => spiBuffer(c.inboundSpi)) });
  }
  processResponse(svc: Services, sa: IkeSa): TaskResult {
    for (const c of this.children) if (c.state !== 'deleted') removeChild(svc, sa, c, 'deleted by us');
    return 'done';
  }
  processRequest(svc: Services, sa: IkeSa, payloads: readonly Payload[]): void {
    for (const d of allPayloads(payloads, PayloadType.DELETE)) {
      if (d.protocolId !== ProtocolId.ESP && d.protocolId !== ProtocolId.AH) continue;
      for (const spi of d.spis) {
        if (spi.length !== 4) continue;
        const v = spi.readUInt32BE(0);
        const child = sa.children.find((c) => c.outboundSpi === v);
        if (child && !this.found.includes(child)) this.found.push(child);
        else if (!child) svc.log('info', `DELETE for unknown CHILD_SA SPI ${v.toString(16)}`, sa);
      }
    }
  }
  buildResponse(svc: Services, sa: IkeSa, out: Payload[]): TaskResult {
    // §1.4.1: answer with the SPIs of our inbound SAs of the pairs; a pair we are deleting ourselves is not repeated
    const answer = this.found.filter((c) => c.state !== 'deleting');
    if (answer.length) out.push({ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: answer.map((c) => spiBuffer(c.inboundSpi)) });
    for (const c of this.found) removeChild(svc, sa, c, 'deleted by the peer');
    return 'done';
  }
}

export class IkeDpdTask implements Task {
  readonly kind = 'ike_dpd' as const;
  buildRequest(): void {}
  processResponse(): TaskResult {
    return 'done';
  }
  processRequest(): void {}
  buildResponse(): TaskResult {
    return 'done';
  }
}
