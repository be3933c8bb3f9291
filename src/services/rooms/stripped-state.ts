/**
 * Stripped state for invites and knocks (spec: Client-Server API §9.x "Stripped state"): what a
 * user may see of a room before joining it, shared by /sync and sliding sync.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { JsonObject } from '../../matrix/types.js';
import { toStrippedState } from './client-events.js';

/** The state types the spec recommends sharing with invitees and knockers. */
export const STRIPPED_STATE_TYPES = ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.avatar', 'm.room.canonical_alias', 'm.room.encryption', 'm.room.topic'];

export interface StrippedRoom {
  roomId: string;
  membership: string;
  /** The user's own invite or knock event, which ends the list. */
  membershipEventId: string;
}

/** Stripped state of many rooms in two queries. The inviter's member event goes along (as Synapse does). */
export async function strippedStateOf(storage: Storage, userId: string, rooms: StrippedRoom[]): Promise<Map<string, JsonObject[]>> {
  const out = new Map<string, JsonObject[]>();
  if (!rooms.length) return out;
  const rows = await storage.timeline.currentStateOf(rooms.map((m) => m.roomId));
  const own = await storage.events.getEvents(rooms.map((m) => m.membershipEventId));
  const inviterOf = new Map(rooms.map((m) => [m.roomId, m.membership === 'invite' ? own.get(m.membershipEventId)?.event.sender : undefined]));
  const shown = rows.filter(
    (r) => (STRIPPED_STATE_TYPES.includes(r.type) && r.stateKey === '') || (r.type === 'm.room.member' && r.stateKey !== userId && r.stateKey === inviterOf.get(r.roomId)),
  );
  const events = await storage.events.getEvents(shown.map((r) => r.eventId));
  for (const m of rooms) {
    const stripped = shown
      .filter((r) => r.roomId === m.roomId)
      .map((r) => events.get(r.eventId))
      .filter((e): e is StoredEvent => !!e)
      .map((e) => toStrippedState(e.event));
    const mine = own.get(m.membershipEventId);
    if (mine) stripped.push({ ...toStrippedState(mine.event), event_id: mine.event.event_id, origin_server_ts: mine.event.origin_server_ts });
    out.set(m.roomId, stripped);
  }
  return out;
}
