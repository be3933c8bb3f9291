/**
 * Presence in /sync (spec: Client-Server API §11.x "Presence"): m.presence of the requester and of
 * everyone sharing a joined room with them, changed since the since token (initial sync: all who are
 * not offline, as Synapse). Only added when presence is enabled.
 */
import type { PresenceStore } from '../../storage/presence.js';
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

  async fill(ctx: SyncContext): Promise<void> {
    const incremental = ctx.since !== undefined && !ctx.fullState;
    const since = incremental ? ctx.since!.presence : 0;
    const to = ctx.to.presence;
    // Nothing moved on the presence stream: no query.
    if (since >= to) return;
    const filter = ctx.filter.presence;
    if (filter.limit === 0) return;
    const rows = await this.store.changedForObserver(ctx.userId, since, to, incremental || this.includeOfflineOnInitialSync);
    const events: JsonObject[] = [];
    for (const row of rows) {
      if (!passes(filter, { type: 'm.presence', sender: row.userId })) continue;
      events.push({ type: 'm.presence', sender: row.userId, content: presenceContent(row, ctx.now) });
      if (filter.limit !== undefined && events.length >= filter.limit) break;
    }
    ctx.response.presence.events.push(...events);
  }
}
