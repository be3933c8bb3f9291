/**
 * Presence in /sync (spec: Client-Server API §11.x "Presence"): m.presence of the requester and of
 * everyone sharing a joined room with them, changed since the since token (initial sync: all who are
 * not offline, as Synapse). A user who starts sharing a room with the requester (either joined) is
 * sent too, whenever their presence last changed. Only added when presence is enabled.
 */
import type { PresenceRow, PresenceStore } from '../../storage/presence.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { StreamNotice } from '../../streams/notifier.js';
import type { JsonObject } from '../../matrix/types.js';
import { presenceContent } from '../presence.js';
import { passes } from './filter.js';
import type { SyncContext, SyncProvider } from './types.js';

export class PresenceProvider implements SyncProvider {
  readonly stream = 'presence' as const;

  constructor(
    private readonly store: PresenceStore,
    private readonly positions: StreamIdGenerator,
    private readonly includeOfflineOnInitialSync = false,
  ) {}

  current(): number {
    return this.positions.current();
  }

  /** Presence notices name the changed user and the rooms they are joined to. */
  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    if (notice.stream !== 'presence') return false;
    if (notice.userIds?.includes(ctx.userId)) return true;
    return (notice.roomIds ?? []).some((r) => ctx.interestingRooms.has(r));
  }

  /**
   * Joins this response carries (the rooms provider ran first): users who joined a room of the
   * requester, and rooms the requester joined (all of whose members are then new peers).
   */
  private newPeers(ctx: SyncContext): { users: string[]; rooms: string[] } {
    const users = new Set<string>();
    const rooms: string[] = [];
    for (const [roomId, room] of Object.entries(ctx.response.rooms.join)) {
      for (const ev of [...room.state.events, ...room.timeline.events]) {
        if (ev.type !== 'm.room.member' || typeof ev.state_key !== 'string') continue;
        const content = ev.content as JsonObject | undefined;
        if (content?.membership !== 'join') continue;
        if (ev.state_key === ctx.userId) rooms.push(roomId);
        else users.add(ev.state_key);
      }
    }
    return { users: [...users], rooms };
  }

  async fill(ctx: SyncContext): Promise<void> {
    const filter = ctx.filter.presence;
    if (filter.limit === 0) return;
    const incremental = ctx.since !== undefined && !ctx.fullState;
    const since = incremental ? ctx.since!.presence : 0;
    const to = ctx.to.presence;
    // Nothing moved on the presence stream: no query.
    let rows: PresenceRow[] = since < to ? await this.store.changedForObserver(ctx.userId, since, to, incremental || this.includeOfflineOnInitialSync) : [];
    if (incremental) {
      const peers = this.newPeers(ctx);
      if (peers.users.length || peers.rooms.length) {
        const seen = new Set(rows.map((r) => r.userId));
        const extra = (await this.store.ofUsersAndRoomMembers(peers.users, peers.rooms, to)).filter((r) => !seen.has(r.userId));
        rows = [...extra, ...rows];
      }
    }
    const events: JsonObject[] = [];
    for (const row of rows) {
      if (!passes(filter, { type: 'm.presence', sender: row.userId })) continue;
      events.push({ type: 'm.presence', sender: row.userId, content: presenceContent(row, ctx.now) });
      if (filter.limit !== undefined && events.length >= filter.limit) break;
    }
    ctx.response.presence.events.push(...events);
  }
}
