/** Account data in /sync: global into account_data, per room into the joined room's entry. */
import type { Storage } from '../../storage/index.js';
import type { AccountDataRow } from '../../storage/account-data.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { StreamNotice } from '../../streams/notifier.js';
import { StreamChangeCache } from '../../streams/change-cache.js';
import type { JsonObject } from '../../matrix/types.js';
import { passes } from './filter.js';
import { PushRuleService } from '../push-rules.js';
import { joinedRoom, type SyncContext, type SyncProvider } from './types.js';

export class AccountDataProvider implements SyncProvider {
  readonly stream = 'account_data' as const;
  private readonly changes: StreamChangeCache;

  constructor(
    private readonly storage: Storage,
    private readonly positions: StreamIdGenerator,
  ) {
    this.changes = new StreamChangeCache(positions.current());
  }

  current(): number {
    return this.positions.current();
  }

  observe(notice: StreamNotice): void {
    if (notice.stream === 'account_data') for (const u of notice.userIds ?? []) this.changes.record(u, notice.position);
  }

  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    return notice.stream === 'account_data' && !!notice.userIds?.includes(ctx.userId);
  }

  async fill(ctx: SyncContext): Promise<void> {
    const since = ctx.since?.account_data ?? 0;
    const to = ctx.to.account_data;
    // A room joined since the token comes whole, its account data too: tags or settings written
    // while the user was away (or before an upgrade carried them over) would otherwise never
    // reach a client that had no entry for the room.
    const incremental = !!ctx.since && !ctx.fullState;
    const rejoined = incremental ? [...ctx.newlyJoinedRooms] : [];
    const anyChange = !incremental || this.changes.hasChangedSince(ctx.userId, since);
    if (!anyChange && !rejoined.length) return;
    const changed = anyChange ? await this.storage.accountData.changedSince(ctx.userId, ctx.fullState ? 0 : since, to) : [];
    const rows = rejoined.length ? mergeRows(changed, await this.storage.accountData.ofRooms(ctx.userId, rejoined, to)) : changed;
    const joined = new Set(ctx.joinedRooms);
    // A user who never changed a push rule has no m.push_rules row; clients expect it on an initial sync.
    if ((!ctx.since || ctx.fullState) && !rows.some((r) => r.roomId === '' && r.type === 'm.push_rules')) {
      const ev = { type: 'm.push_rules', content: PushRuleService.defaultAccountData(ctx.userId) };
      if (passes(ctx.filter.accountData, ev)) ctx.response.account_data.events.push(ev);
    }
    for (const r of rows) {
      const ev: JsonObject = { type: r.type, content: r.content };
      if (r.roomId === '') {
        if (passes(ctx.filter.accountData, ev as { type: string })) ctx.response.account_data.events.push(ev);
      } else if (joined.has(r.roomId) && passes(ctx.filter.room.accountData, { type: r.type, room_id: r.roomId })) {
        joinedRoom(ctx, r.roomId).account_data.events.push(ev);
      } else if (ctx.response.rooms.leave[r.roomId]) {
        ctx.response.rooms.leave[r.roomId]!.account_data.events.push(ev);
      }
    }
  }
}

/** Rows of both lists, each (room, type) once. */
function mergeRows(a: AccountDataRow[], b: AccountDataRow[]): AccountDataRow[] {
  const seen = new Set(a.map((r) => `${r.roomId}\u0000${r.type}`));
  return [...a, ...b.filter((r) => !seen.has(`${r.roomId}\u0000${r.type}`))];
}
