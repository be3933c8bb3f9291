/**
 * The server-side room list of sliding sync (MSC4186 "Lists"): the user's rooms sorted by last
 * activity, with the metadata the list filters need, loaded in a few batched queries.
 */
import type { Storage } from '../../storage/index.js';
import type { JsonObject } from '../../matrix/types.js';
import type { SlidingRoomFilter } from './request.js';

export interface ListedRoom {
  roomId: string;
  membership: string;
  membershipEventId: string;
  membershipStream: number;
  /** Stream position of the room's latest event the user may know of (sort key). */
  activity: number;
  roomType: string | null;
  encrypted: boolean;
  isDm: boolean;
  tags: Set<string>;
}

export async function loadRoomList(storage: Storage, userId: string, upTo: number, sentBefore: Set<string>): Promise<ListedRoom[]> {
  const memberships = (await storage.timeline.membershipsOf(userId)).filter((m) => m.stream <= upTo);
  // MSC4186: rooms the user left themselves appear only if this connection already had them;
  // bans always appear.
  const rooms = memberships.filter((m) => m.membership !== 'leave' || sentBefore.has(m.roomId));
  if (!rooms.length) return [];
  const ids = rooms.map((m) => m.roomId);
  const db = storage.db;
  const [activity, meta, direct, tags] = await Promise.all([
    db.query<{ room_id: string; s: number }>(
      `SELECT room_id, max(stream_ordering) AS s FROM events WHERE room_id = ANY($1) AND stream_ordering <= $2 GROUP BY room_id`,
      [ids, upTo],
    ),
    db.query<{ room_id: string; type: string; json: string }>(
      `SELECT c.room_id, c.type, e.json FROM current_state c JOIN events e ON e.event_id = c.event_id
       WHERE c.room_id = ANY($1) AND c.state_key = '' AND c.type IN ('m.room.create', 'm.room.encryption')`,
      [ids],
    ),
    storage.accountData.get(userId, '', 'm.direct'),
    db.query<{ room_id: string; content: JsonObject }>(
      `SELECT room_id, content FROM account_data WHERE user_id = $1 AND type = 'm.tag' AND room_id = ANY($2)`,
      [userId, ids],
    ),
  ]);
  const activityOf = new Map(activity.rows.map((r) => [r.room_id, Number(r.s)]));
  const typeOf = new Map<string, string | null>();
  const encrypted = new Set<string>();
  for (const r of meta.rows) {
    if (r.type === 'm.room.encryption') encrypted.add(r.room_id);
    else {
      const content = (JSON.parse(r.json) as { content?: JsonObject }).content ?? {};
      typeOf.set(r.room_id, typeof content.type === 'string' ? content.type : null);
    }
  }
  const dmRooms = new Set<string>();
  for (const list of Object.values(direct ?? {})) if (Array.isArray(list)) for (const r of list) if (typeof r === 'string') dmRooms.add(r);
  const tagsOf = new Map(tags.rows.map((r) => [r.room_id, new Set(Object.keys((r.content.tags as JsonObject | undefined) ?? {}))]));
  return rooms
    .map((m) => ({
      roomId: m.roomId,
      membership: m.membership,
      membershipEventId: m.eventId,
      membershipStream: m.stream,
      // Invitees and knockers must not learn of activity they cannot see.
      activity: m.membership === 'join' ? (activityOf.get(m.roomId) ?? m.stream) : m.stream,
      roomType: typeOf.get(m.roomId) ?? null,
      encrypted: encrypted.has(m.roomId),
      isDm: dmRooms.has(m.roomId),
      tags: tagsOf.get(m.roomId) ?? new Set<string>(),
    }))
    .sort((a, b) => b.activity - a.activity || (a.roomId < b.roomId ? -1 : 1));
}

export async function spaceChildren(storage: Storage, userId: string, spaces: string[]): Promise<Set<string>> {
  const { rows } = await storage.db.query<{ state_key: string }>(
    `SELECT c.state_key FROM current_state c WHERE c.room_id = ANY($1) AND c.type = 'm.space.child'
       AND EXISTS (SELECT 1 FROM current_state m WHERE m.room_id = c.room_id AND m.type = 'm.room.member' AND m.state_key = $2 AND m.membership = 'join')`,
    [spaces, userId],
  );
  return new Set(rows.map((r) => r.state_key));
}

export function passesFilter(room: ListedRoom, f: SlidingRoomFilter, spaceChildIds: Set<string> | undefined): boolean {
  if (f.isDm !== undefined && room.isDm !== f.isDm) return false;
  if (f.isEncrypted !== undefined && room.encrypted !== f.isEncrypted) return false;
  if (f.isInvited !== undefined && (room.membership === 'invite') !== f.isInvited) return false;
  if (f.notRoomTypes && f.notRoomTypes.includes(room.roomType)) return false;
  if (f.roomTypes && !f.roomTypes.includes(room.roomType)) return false;
  if (spaceChildIds && !spaceChildIds.has(room.roomId)) return false;
  if (f.notTags && f.notTags.some((t) => room.tags.has(t))) return false;
  if (f.tags && !f.tags.some((t) => room.tags.has(t))) return false;
  return true;
}
