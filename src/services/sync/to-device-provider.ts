/**
 * to_device in /sync: the requesting device's messages after the since token, at most 100 per
 * response; when more wait, next_batch stops at the last one delivered so the rest come next.
 */
import type { ToDeviceStore } from '../../storage/to-device.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { StreamNotice } from '../../streams/notifier.js';
import { StreamChangeCache } from '../../streams/change-cache.js';
import { formatSyncToken } from '../../streams/sync-token.js';
import type { SyncContext, SyncProvider } from './types.js';

/** Synapse sends at most 100 to-device messages per /sync. */
export const TO_DEVICE_BATCH = 100;

export class ToDeviceProvider implements SyncProvider {
  readonly stream = 'to_device' as const;
  /** Users by the position of the latest message to one of their devices. */
  private readonly changes: StreamChangeCache;

  constructor(
    private readonly store: ToDeviceStore,
    private readonly positions: StreamIdGenerator,
  ) {
    this.changes = new StreamChangeCache(positions.current());
  }

  current(): number {
    return this.positions.current();
  }

  observe(notice: StreamNotice): void {
    if (notice.stream === 'to_device') for (const u of notice.userIds ?? []) this.changes.record(u, notice.position);
  }

  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    return notice.stream === 'to_device' && ctx.deviceId !== null && !!notice.userIds?.includes(ctx.userId);
  }

  async fill(ctx: SyncContext): Promise<void> {
    if (!ctx.deviceId) return;
    // full_state does not matter here: unacknowledged messages are always after the since token.
    const since = ctx.since?.to_device ?? 0;
    const to = ctx.to.to_device;
    if (since >= to) return;
    if (ctx.since && !this.changes.hasChangedSince(ctx.userId, since)) return;
    const rows = await this.store.pending(ctx.userId, ctx.deviceId, since, to, TO_DEVICE_BATCH);
    for (const r of rows) ctx.response.to_device.events.push(r.message);
    if (rows.length === TO_DEVICE_BATCH && rows[rows.length - 1]!.streamId < to) {
      ctx.to.to_device = rows[rows.length - 1]!.streamId;
      ctx.response.next_batch = formatSyncToken(ctx.to);
    }
  }
}
