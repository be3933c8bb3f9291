/**
 * Sliding sync extensions (MSC3885 to_device, MSC3884 e2ee, MSC3959 account_data, MSC3960
 * receipts, MSC3961 typing), produced by the same stream providers as /sync and reshaped into the
 * shapes Synapse serves (and matrix-js-sdk and ruma's `sync_events::v5` read).
 */
import type { JsonObject } from '../../matrix/types.js';
import type { SyncService } from '../sync/sync-service.js';
import { emptyResponse } from '../sync/sync-service.js';
import type { SyncContext } from '../sync/types.js';
import type { SlidingSyncRequest } from './request.js';

const EXTENSION_OF_STREAM: Record<string, string> = {
  account_data: 'account_data',
  receipts: 'receipts',
  typing: 'typing',
  to_device: 'to_device',
  device_lists: 'e2ee',
};

/** Which rooms of the response a room-scoped extension covers. */
export interface ExtensionScope {
  /** Rooms in some list's range, by list name. */
  roomLists: Map<string, string[]>;
  /** Rooms matched by a room subscription the user may see. */
  subscribed: Set<string>;
  /**
   * Joined rooms this response sends with `initial` although the request has a pos (rooms that
   * entered a window): the client has none of their receipts, typing or room account data yet.
   */
  initialRooms: Set<string>;
  /** The timeline event IDs sent per room (receipts of a new room are cut down to those). */
  timelineIds: Map<string, Set<string>>;
}

/** The extensions whose per-room data a room entering the window needs from scratch. */
const ROOM_SCOPED: Record<string, string> = { receipts: 'receipts', typing: 'typing', account_data: 'account_data' };

export interface ExtensionsResult {
  extensions: JsonObject;
  /** Whether anything in them is news (what ends a long-poll; key counts and next_batch are not). */
  hasNews: boolean;
}

export async function translateExtensions(sync: SyncService, ctx: SyncContext, req: SlidingSyncRequest, scope: ExtensionScope): Promise<ExtensionsResult> {
  const enabled = (name: string) => req.extensions[name]?.enabled === true;
  for (const p of sync.streamProviders()) {
    const ext = EXTENSION_OF_STREAM[p.stream];
    // The e2ee extension also carries the one-time-key counts, filled by the device-lists side.
    if (ext && enabled(ext)) await p.fill(ctx);
  }
  const r = ctx.response;
  if (ctx.since && scope.initialRooms.size) await fillNewRooms(sync, ctx, req, scope);
  const out: JsonObject = {};
  let hasNews = false;

  // Synapse's reading of the extension `lists` and `rooms` (both default ["*"]): "*" in `lists`
  // means every list's rooms in range, in `rooms` every subscribed room; named entries add theirs.
  const relevant = (name: string): Set<string> => {
    const cfg = req.extensions[name]!;
    const rooms = new Set<string>();
    for (const entry of cfg.rooms ?? ['*']) {
      if (entry === '*') for (const id of scope.subscribed) rooms.add(id);
      else if (scope.subscribed.has(entry) || scope.roomLists.has(entry)) rooms.add(entry);
    }
    const lists = cfg.lists ?? ['*'];
    for (const [roomId, names] of scope.roomLists) {
      if (lists.includes('*') || names.some((n) => lists.includes(n))) rooms.add(roomId);
    }
    return rooms;
  };

  if (enabled('to_device')) {
    // Always present when asked for: the client keeps next_batch as its next `since`.
    out.to_device = { next_batch: String(ctx.to.to_device), events: r.to_device.events };
    if (r.to_device.events.length) hasNews = true;
  }
  if (enabled('e2ee')) {
    const e2ee: JsonObject = {
      // As Synapse: always sent, so clients can tell "no keys" from "unchanged".
      device_one_time_keys_count: r.device_one_time_keys_count,
      device_unused_fallback_key_types: r.device_unused_fallback_key_types,
    };
    if (r.device_lists.changed.length || r.device_lists.left.length) {
      e2ee.device_lists = r.device_lists;
      hasNews = true;
    }
    out.e2ee = e2ee;
  }
  const perRoom = (name: string, pick: (roomId: string) => JsonObject | undefined): JsonObject | undefined => {
    const wanted = relevant(name);
    const rooms: JsonObject = {};
    for (const roomId of Object.keys(r.rooms.join)) {
      if (!wanted.has(roomId)) continue;
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
    if (r.account_data.events.length || rooms) {
      out.account_data = { global: r.account_data.events, rooms: rooms ?? {} };
      hasNews = true;
    }
  }
  for (const [name, type] of [['receipts', 'm.receipt'], ['typing', 'm.typing']] as const) {
    if (!enabled(name)) continue;
    const rooms = perRoom(name, (id) => r.rooms.join[id]!.ephemeral.events.find((e) => e.type === type));
    if (rooms) {
      out[name] = { rooms };
      hasNews = true;
    }
  }
  return { extensions: out, hasNews };
}

/**
 * Runs the room-scoped providers once more as an initial sync of just the rooms entering the
 * window, and puts what they find in place of the incremental data for those rooms. As Synapse,
 * a new room's receipts are those on the events sent plus the user's own.
 */
async function fillNewRooms(sync: SyncService, ctx: SyncContext, req: SlidingSyncRequest, scope: ExtensionScope): Promise<void> {
  const providers = sync.streamProviders().filter((p) => ROOM_SCOPED[p.stream] && req.extensions[ROOM_SCOPED[p.stream]!]?.enabled === true);
  if (!providers.length) return;
  const rooms = ctx.joinedRooms.filter((id) => scope.initialRooms.has(id));
  if (!rooms.length) return;
  const fresh: SyncContext = { ...ctx, since: undefined, to: { ...ctx.to }, joinedRooms: rooms, response: emptyResponse(ctx.response.next_batch) };
  for (const p of providers) await p.fill(fresh);
  for (const roomId of rooms) {
    const got = fresh.response.rooms.join[roomId];
    const target = ctx.response.rooms.join[roomId];
    if (!got && !target) continue;
    const room = (ctx.response.rooms.join[roomId] ??= { ...got!, ephemeral: { events: [] }, account_data: { events: [] } });
    room.account_data = { events: got?.account_data.events ?? [] };
    room.ephemeral = {
      events: (got?.ephemeral.events ?? [])
        .map((e) => (e.type === 'm.receipt' ? { ...e, content: receiptsFor(e.content as JsonObject, ctx.userId, scope.timelineIds.get(roomId)) } : e))
        .filter((e) => e.type !== 'm.receipt' || Object.keys(e.content as JsonObject).length > 0),
    };
  }
}

function receiptsFor(content: JsonObject, userId: string, eventIds: Set<string> | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [eventId, byType] of Object.entries(content)) {
    if (eventIds?.has(eventId)) {
      out[eventId] = byType!;
      continue;
    }
    const own: JsonObject = {};
    for (const [type, byUser] of Object.entries(byType as JsonObject)) {
      const mine = (byUser as JsonObject)[userId];
      if (mine !== undefined) own[type] = { [userId]: mine };
    }
    if (Object.keys(own).length) out[eventId] = own;
  }
  return out;
}
