/**
 * Unread notification and highlight counts for /sync (spec: Client-Server API "Receiving
 * notifications", "Unread counts"; "Threaded read receipts"): notified events after the user's
 * latest m.read / m.read.private receipt — an unthreaded receipt covers every thread, a threaded
 * one its own thread — and after the user's current join.
 */
import type { UnreadCounts } from '../sync/unread.js';
import type { PushActionStore } from '../../storage/push-actions.js';
import { MAIN_THREAD, type PushActionGenerator } from './action-generator.js';

interface Counts {
  notification_count: number;
  highlight_count: number;
}

export interface RoomUnreadCounts extends Counts {
  threads: Record<string, Counts>;
}

export class UnreadCountService implements UnreadCounts {
  constructor(
    private readonly store: PushActionStore,
    private readonly generator: PushActionGenerator,
  ) {}

  /**
   * Per room: the room-wide counts (every thread included) and, under `threads`, the counts of
   * each thread other than the main timeline. With unread_thread_notifications the room counts
   * shown are the main timeline's only, i.e. these minus the threads' (the sync rooms provider
   * does that subtraction, as it knows the filter).
   */
  async counts(userId: string, roomIds: string[]): Promise<Map<string, RoomUnreadCounts>> {
    const out = new Map<string, RoomUnreadCounts>();
    if (!roomIds.length) return out;
    // Actions of events already committed in these rooms may still be being evaluated.
    await this.generator.settled(roomIds);
    for (const roomId of roomIds) out.set(roomId, { notification_count: 0, highlight_count: 0, threads: {} });
    for (const row of await this.store.unreadCounts(userId, roomIds)) {
      const room = out.get(row.roomId)!;
      room.notification_count += row.notifications;
      room.highlight_count += row.highlights;
      if (row.threadId !== MAIN_THREAD) room.threads[row.threadId] = { notification_count: row.notifications, highlight_count: row.highlights };
    }
    return out;
  }
}
