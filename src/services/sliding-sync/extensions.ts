/**
 * Sliding sync extensions (MSC3885 to_device, MSC3884 e2ee, MSC3959 account_data, MSC3960
 * receipts, MSC3961 typing), produced by the same stream providers as /sync and reshaped.
 */
import type { JsonObject } from '../../matrix/types.js';
import type { SyncService } from '../sync/sync-service.js';
import type { SyncContext } from '../sync/types.js';
import type { SlidingSyncRequest } from './request.js';

const EXTENSION_OF_STREAM: Record<string, string> = {
  account_data: 'account_data',
  receipts: 'receipts',
  typing: 'typing',
  to_device: 'to_device',
  device_lists: 'e2ee',
};

export async function translateExtensions(
  sync: SyncService,
  ctx: SyncContext,
  req: SlidingSyncRequest,
  roomsInView: Set<string>,
  roomLists: Map<string, string[]>,
): Promise<JsonObject> {
  const enabled = (name: string) => req.extensions[name]?.enabled === true;
  for (const p of sync.streamProviders()) {
    const ext = EXTENSION_OF_STREAM[p.stream];
    // The e2ee extension also carries the one-time-key counts, filled by the device-lists side.
    if (ext && enabled(ext)) await p.fill(ctx);
  }
  const r = ctx.response;
  const out: JsonObject = {};
  // Which rooms a room-scoped extension covers: its `lists`/`rooms` config, default all in view.
  const covered = (name: string, roomId: string): boolean => {
    const cfg = req.extensions[name]!;
    if (!roomsInView.has(roomId) && !cfg.rooms?.includes(roomId)) return false;
    const listOk = !cfg.lists || cfg.lists.includes('*') || (roomLists.get(roomId) ?? []).some((l) => cfg.lists!.includes(l));
    const roomOk = !cfg.rooms || cfg.rooms.includes('*') || cfg.rooms.includes(roomId);
    return cfg.lists || cfg.rooms ? listOk || roomOk : true;
  };
  if (enabled('to_device') && r.to_device.events.length) {
    out.to_device = { next_batch: String(ctx.to.to_device), events: r.to_device.events };
  }
  if (enabled('e2ee')) {
    const e2ee: JsonObject = {
      device_one_time_keys_count: r.device_one_time_keys_count,
      device_unused_fallback_key_types: r.device_unused_fallback_key_types,
    };
    if (r.device_lists.changed.length || r.device_lists.left.length) e2ee.device_lists = r.device_lists;
    out.e2ee = e2ee;
  }
  const perRoom = (name: string, pick: (roomId: string) => JsonObject | undefined): JsonObject | undefined => {
    const rooms: JsonObject = {};
    for (const roomId of Object.keys(r.rooms.join)) {
      if (!covered(name, roomId)) continue;
      const v = pick(roomId);
      if (v !== undefined) rooms[roomId] = v;
    }
    return Object.keys(rooms).length ? rooms : undefined;
  };
  if (enabled('account_data')) {
    const rooms = perRoom('account_data', (id) => {
      const evs = r.rooms.join[id]!.account_data.events;
      return evs.length ? (evs as unknown as JsonObject) : undefined;
    });
    if (r.account_data.events.length || rooms) out.account_data = { global: r.account_data.events, ...(rooms ? { rooms } : {}) };
  }
  for (const [name, type] of [['receipts', 'm.receipt'], ['typing', 'm.typing']] as const) {
    if (!enabled(name)) continue;
    const rooms = perRoom(name, (id) => r.rooms.join[id]!.ephemeral.events.find((e) => e.type === type));
    if (rooms) out[name] = { rooms };
  }
  return out;
}
