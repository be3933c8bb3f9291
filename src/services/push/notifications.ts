/** GET /notifications (spec: Client-Server API "Listing notifications"). */
import type { PushActionStore } from '../../storage/push-actions.js';
import type { Storage } from '../../storage/index.js';
import type { JsonObject } from '../../matrix/types.js';
import { toClientEvent } from '../rooms/client-events.js';
import type { PushActionGenerator } from './action-generator.js';

export interface NotificationsPage {
  notifications: JsonObject[];
  next_token?: string;
}

export class NotificationService {
  constructor(
    private readonly storage: Storage,
    private readonly store: PushActionStore,
    private readonly generator: PushActionGenerator,
    private readonly now: () => number = Date.now,
  ) {}

  /** `from` is a previous page's next_token: the stream position of its last notification. */
  async list(userId: string, opts: { from?: number; limit: number; onlyHighlight: boolean }): Promise<NotificationsPage> {
    await this.generator.settled();
    const rows = await this.store.notifications(userId, { before: opts.from, limit: opts.limit + 1, onlyHighlight: opts.onlyHighlight });
    const page = rows.slice(0, opts.limit);
    const events = await this.storage.events.getEvents(page.map((r) => r.eventId));
    const redactionIds = await this.storage.events.redactionsOf(page.map((r) => r.eventId));
    const redactionEvents = await this.storage.events.getEvents(redactionIds.values());
    const now = this.now();
    const notifications: JsonObject[] = [];
    for (const r of page) {
      const stored = events.get(r.eventId);
      if (!stored) continue;
      const by = redactionIds.get(r.eventId);
      notifications.push({
        actions: r.actions as unknown as JsonObject[],
        event: toClientEvent(stored, { now, redactedBy: by ? redactionEvents.get(by) : undefined }),
        read: r.read,
        room_id: r.roomId,
        ts: stored.event.origin_server_ts,
      });
    }
    const out: NotificationsPage = { notifications };
    if (rows.length > opts.limit && page.length) out.next_token = String(page[page.length - 1]!.streamOrdering);
    return out;
  }
}
