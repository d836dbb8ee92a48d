/**
 * Mobile IPv6 movement for IKEv1 phase 1 (racoon's migrate_ph12 /
 * migrate_ph1_ike_addresses, racoon-compat.md §6), decided here and carried
 * out through the engine's `migratePh1` hands:
 *
 *   - move (K-bit set, RFC 6275 §6.1.7): the ISAKMP-SA keeps its cookies, keys
 *     and ports and talks from the new local to the new remote address; the
 *     phase 2s it installs, deletes or rekeys from then on use the new
 *     addresses (where the kernel's MIGRATE moved their SAs). A Quick Mode in
 *     progress is restarted if we initiated it (its larval SA stays at the old
 *     addresses, racoon does the same) and dropped if we responded.
 *   - abandon (K-bit clear): the ISAKMP-SA is forgotten without a Delete to
 *     the old address; its IPsec-SAs stay in the kernel until they expire.
 *   - drop: a phase 1 still negotiating is given up (the daemon restarts it
 *     towards the new address if we were the initiator).
 */
import type { Endpoint } from '../common/natt';

export type Ph1Move = { kind: 'move'; local: Endpoint; remote: Endpoint } | { kind: 'abandon'; reason: string } | { kind: 'drop' };

/** What of a phase 1 the decision reads and writes (the engine's Ph1). */
export interface MovablePh1<P2 extends MovablePh2> {
  local: Endpoint;
  remote: Endpoint;
  state: string;
  ph2s: Map<number, P2>;
}
export interface MovablePh2 {
  messageId: number;
  role: 'initiator' | 'responder';
  state: string;
}

/** The engine's hands: forget a phase 1 without any message, restart or drop a Quick Mode. */
export interface Ph1MoveHands<P2> {
  forget(reason: string): void;
  restartPh2(p2: P2): void;
  dropPh2(p2: P2): void;
  log(msg: string): void;
}

export function applyPh1Move<P2 extends MovablePh2>(sa: MovablePh1<P2>, move: Ph1Move, hands: Ph1MoveHands<P2>): boolean {
  if (sa.state === 'DEAD') return false;
  switch (move.kind) {
    case 'abandon':
      hands.forget(`MIGRATE: ${move.reason}`);
      return true;
    case 'drop':
      hands.forget('MIGRATE: phase 1 negotiation dropped, the addresses changed');
      return true;
    case 'move': {
      if (sa.state !== 'ESTABLISHED') return false;
      hands.log(`ISAKMP-SA moved from ${sa.local.address}[${sa.local.port}]-${sa.remote.address}[${sa.remote.port}] to ${move.local.address}[${sa.local.port}]-${move.remote.address}[${sa.remote.port}]`);
      // racoon migrate_ph1_ike_addresses: the ports are kept
      sa.local = { address: move.local.address, port: sa.local.port };
      sa.remote = { address: move.remote.address, port: sa.remote.port };
      for (const p2 of [...sa.ph2s.values()]) {
        if (p2.state === 'ESTABLISHED' || p2.state === 'DEAD') continue;
        if (p2.role === 'initiator') {
          hands.log(`phase 2 negotiation ${p2.messageId} restarted from the new address`);
          hands.restartPh2(p2);
        } else {
          hands.log(`phase 2 negotiation ${p2.messageId} dropped: the initiator restarts it`);
          hands.dropPh2(p2);
        }
      }
      return true;
    }
  }
}
