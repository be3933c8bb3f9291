/**
 * Receipts in /sync (spec: Client-Server API §11.x "Receipts"): one m.receipt event per joined
 * room in its ephemeral section, holding the receipts that changed since the token (all current
 * ones on an initial sync). m.read.private receipts reach only their owner.
 */
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { StreamNotice } from '../../streams/notifier.js';
import { StreamChangeCache } from '../../streams/change-cache.js';
import type { ReceiptStore } from '../../storage/receipts.js';
import type { JsonObject } from '../../matrix/types.js';
import { READ_PRIVATE } from '../receipts.js';
import { passes } from './filter.js';
import { joinedRoom, type SyncContext, type SyncProvider } from './types.js';

export class ReceiptsProvider implements SyncProvider {
  readonly stream = 'receipts' as const;
  /** Rooms by the position of their latest receipt change, so a quiet incremental sync asks no SQL. */
  private readonly changes: StreamChangeCache;
  /** Counts for rooms this provider adds to the response (set by the composition root, as on RoomsProvider). */

  constructor(
    private readonly receipts: ReceiptStore,
    private readonly positions: StreamIdGenerator,
  ) {
    this.changes = new StreamChangeCache(positions.current());
  }

  current(): number {
    return this.positions.current();
  }

  observe(notice: StreamNotice): void {
    if (notice.stream === 'receipts') for (const r of notice.roomIds ?? []) this.changes.record(r, notice.position);
  }

  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    if (notice.stream !== 'receipts') return false;
    return !!notice.userIds?.includes(ctx.userId) || (notice.roomIds ?? []).some((r) => ctx.interestingRooms.has(r));
  }

  async fill(ctx: SyncContext): Promise<void> {
    const filter = ctx.filter.room.ephemeral;
    if (!ctx.joinedRooms.length || !passes(filter, { type: 'm.receipt' })) return;
    const to = ctx.to.receipts;
    const rooms = ctx.joinedRooms.filter((r) => passes(filter, { type: 'm.receipt', room_id: r }));
    let rows;
    if (ctx.since === undefined) {
      rows = await this.receipts.changedInRooms(rooms, 0, to);
    } else {
      const since = ctx.since.receipts;
      const fresh = new Set(newlyJoinedRooms(ctx).filter((r) => rooms.includes(r)));
      const changed = since >= to ? [] : this.changes.changedSince(rooms.filter((r) => !fresh.has(r)), since);
      rows = [
        ...(await this.receipts.changedInRooms(changed, since, to)),
        // A room joined since the token: the client has none of its receipts yet.
        ...(await this.receipts.changedInRooms([...fresh], 0, to)),
      ];
    }
    const byRoom = new Map<string, JsonObject>();
    for (const r of rows) {
      if (r.receiptType === READ_PRIVATE && r.userId !== ctx.userId) continue;
      let content = byRoom.get(r.roomId);
      if (!content) byRoom.set(r.roomId, (content = {}));
      const forEvent = (content[r.eventId] ??= {}) as JsonObject;
      const forType = (forEvent[r.receiptType] ??= {}) as JsonObject;
      forType[r.userId] = r.data;
    }
    for (const [roomId, content] of byRoom) joinedRoom(ctx, roomId).ephemeral.events.push({ type: 'm.receipt', content });
  }
}

/**
 * Rooms the rooms provider (which runs first) reports as joined since the token: their timeline
 * or state holds the user's own join. The ephemeral providers send such rooms in full.
 */
export function newlyJoinedRooms(ctx: SyncContext): string[] {
  if (ctx.since === undefined) return [];
  const out: string[] = [];
  for (const [roomId, room] of Object.entries(ctx.response.rooms.join)) {
    const events = [...room.timeline.events, ...room.state.events, ...(room.state_after?.events ?? [])];
    const joined = events.some((e) => {
      if (e.type !== 'm.room.member' || e.state_key !== ctx.userId) return false;
      if ((e.content as JsonObject | undefined)?.membership !== 'join') return false;
      const prev = ((e.unsigned as JsonObject | undefined)?.prev_content as JsonObject | undefined)?.membership;
      return prev !== 'join';
    });
    if (joined) out.push(roomId);
  }
  return out;
}
