/**
 * Unread notification counts for every joined room a /sync response carries, in one query at the
 * end of the request — whichever provider put the room there (a room entry's counts are taken
 * as current by clients, and the reader's own receipt is exactly what resets them).
 */
import type { SyncContext } from './types.js';

/** Where the counts come from (the push-actions store). */
export interface UnreadCounts {
  counts(userId: string, roomIds: string[]): Promise<Map<string, { notification_count: number; highlight_count: number; threads: Record<string, { notification_count: number; highlight_count: number }> }>>;
}

export async function fillUnreadCounts(ctx: SyncContext, unread: UnreadCounts | undefined): Promise<void> {
  const roomIds = Object.keys(ctx.response.rooms.join);
  if (!unread || !roomIds.length) return;
  const counts = await unread.counts(ctx.userId, roomIds);
  for (const roomId of roomIds) {
    const u = counts.get(roomId);
    const entry = ctx.response.rooms.join[roomId]!;
    if (!u) continue;
    let { notification_count, highlight_count } = u;
    if (ctx.filter.room.timeline.unreadThreadNotifications && Object.keys(u.threads).length) {
      // spec: with unread_thread_notifications the room's counts are the main timeline's only.
      entry.unread_thread_notifications = u.threads;
      for (const t of Object.values(u.threads)) {
        notification_count -= t.notification_count;
        highlight_count -= t.highlight_count;
      }
    }
    entry.unread_notifications = { notification_count, highlight_count };
  }
}
