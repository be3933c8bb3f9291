/**
 * The E2EE part of /sync (spec: Client-Server API §10.12.x "Extensions to /sync"): device_lists
 * {changed, left} between the since token and now, and the requesting device's one-time key
 * counts and unused fallback key types. Sliding sync runs this provider as its e2ee extension,
 * reading the same v2 response fields.
 */
import type { StreamNotice } from '../../streams/notifier.js';
import type { E2eeKeyStore } from '../../storage/e2ee-keys.js';
import type { DeviceListService } from '../e2ee/device-lists.js';
import type { SyncContext, SyncProvider } from './types.js';

export class DeviceListsProvider implements SyncProvider {
  readonly stream = 'device_lists' as const;

  constructor(
    private readonly deviceLists: DeviceListService,
    private readonly store: E2eeKeyStore,
  ) {}

  current(): number {
    return this.deviceLists.positions.current();
  }

  /**
   * A device-list notice names the changed user and the rooms they are in: it concerns this sync
   * if it is the user's own, or the user shares one of those rooms.
   */
  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    if (notice.stream !== 'device_lists') return false;
    if (notice.userIds?.includes(ctx.userId)) return true;
    const rooms = notice.roomIds ?? [];
    if (!rooms.length) return false;
    const mine = ctx.interestingRooms.size ? ctx.interestingRooms : this.deviceLists.cachedJoinedRooms(ctx.userId);
    return !!mine && rooms.some((r) => mine.has(r));
  }

  async fill(ctx: SyncContext): Promise<void> {
    if (ctx.deviceId) {
      const { counts, unusedFallback } = await this.store.keyCountsForSync(ctx.userId, ctx.deviceId);
      // As Synapse: signed_curve25519 is always there, so clients know to upload keys.
      ctx.response.device_one_time_keys_count = { signed_curve25519: 0, ...counts };
      ctx.response.device_unused_fallback_key_types = unusedFallback.sort();
    }
    // spec: device_lists is only meaningful for an incremental sync.
    if (!ctx.since) return;
    const { changed, left } = await this.deviceLists.changesBetween(ctx.userId, ctx.since, ctx.to);
    ctx.response.device_lists = { changed, left };
  }
}
