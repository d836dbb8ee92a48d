/**
 * What the daemon keeps for racoonctl beyond the engines' own state:
 *
 *   - DaemonSchedule: the timers the daemon has armed, for ADMIN_SHOW_SCHED
 *     (racoon's sched_dump: one scheddump row per scheduled event). The
 *     sans-I/O engines expose only their next deadline, so each engine has
 *     one row: what it waits for next (retransmission, lifetime, DPD...).
 *   - XauthSessions: the phase 1s authenticated by XAUTH, by login, for
 *     ADMIN_LOGOUT_USER (racoon's purgeph1bylogin). The IKEv1 engine
 *     registers a session when XAUTH succeeds (ctx.xauth.register) and
 *     removes it when the phase 1 goes; logout purges every session of the
 *     login (Delete to the peer, phase 1 and its phase 2s removed).
 */
import type { SchedDump } from './admin/wire';

export interface ScheduledEvent {
  readonly id: number;
  readonly what: string;
  /** ms since the epoch */
  readonly created: number;
  readonly at: number;
}

export class DaemonSchedule {
  private nextId = 1;
  private readonly events = new Map<number, ScheduledEvent>();

  add(what: string, at: number, now = Date.now()): number {
    const id = this.nextId++;
    this.events.set(id, { id, what, created: now, at });
    return id;
  }

  remove(id: number): void {
    this.events.delete(id);
  }

  list(): ScheduledEvent[] {
    return [...this.events.values()].sort((a, b) => a.at - b.at);
  }

  /** scheddump rows, soonest first (racoon keeps its schedule sorted by xtime). */
  dump(): SchedDump[] {
    return this.list().map((e) => ({
      xtime: Math.floor(e.at / 1000),
      id: e.id,
      created: Math.floor(e.created / 1000),
      tick: Math.max(0, Math.round((e.at - e.created) / 1000)),
    }));
  }
}

export interface XauthSession {
  /** The XAUTH login (USER_NAME attribute) the peer authenticated with. */
  readonly login: string;
  /** Phase 1 peer, for the log. */
  readonly peer: string;
  /** Send the peer a Delete and remove the phase 1 with its phase 2s. */
  purge(): Promise<void> | void;
}

export class XauthSessions {
  private readonly sessions = new Set<XauthSession>();

  /** Register an authenticated session; returns its removal (call it when the phase 1 goes). */
  register(s: XauthSession): () => void {
    this.sessions.add(s);
    return () => this.sessions.delete(s);
  }

  byLogin(login: string): XauthSession[] {
    return [...this.sessions].filter((s) => s.login === login);
  }

  /** purgeph1bylogin: purge every session of this login; returns how many there were. */
  async logout(login: string): Promise<number> {
    const found = this.byLogin(login);
    for (const s of found) {
      this.sessions.delete(s);
      await s.purge();
    }
    return found.length;
  }
}
