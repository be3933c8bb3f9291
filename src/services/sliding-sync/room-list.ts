/**
 * The server-side room list of sliding sync (MSC4186 "Lists"): the user's rooms sorted by last
 * activity, with the metadata the list filters need, loaded in a few batched queries.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { JsonObject } from '../../matrix/types.js';
import type { SlidingRoomFilter } from './request.js';

export interface ListedRoom {
  roomId: string;
  membership: string;
  membershipEventId: string;
  membershipStream: number;
  /** Stream position of the room's latest event the user may know of (sort key). */
  activity: number;
  /**
   * MSC4186 bump_stamp: the latest "proper" activity (BUMP_TYPES) for joined rooms, the
   * membership's position otherwise.
   */
  bumpStamp: number;
  roomType: string | null;
  encrypted: boolean;
  isDm: boolean;
  tags: Set<string>;
  /** False for a room the user left or was banned from without ever joining (an invite refused or withdrawn). */
  everJoined: boolean;
}

/** MSC4186 "proper" activity: the event types that move bump_stamp (as Synapse's default set). */
export const BUMP_TYPES = ['m.room.create', 'm.room.message', 'm.room.encrypted', 'm.sticker', 'm.call.invite', 'm.poll.start', 'm.beacon_info'];

export async function loadRoomList(storage: Storage, userId: string, upTo: number, sentBefore: Set<string>): Promise<ListedRoom[]> {
  const memberships = (await storage.timeline.membershipsOf(userId)).filter((m) => m.stream <= upTo);
  // MSC4186: rooms the user left themselves appear only if this connection already had them;
  // kicks and bans always appear (the user may not know of them otherwise).
  const db = storage.db;
  const departed = memberships.filter((m) => m.membership === 'leave' || m.membership === 'ban');
  const departures = departed.length ? await storage.events.getEvents(departed.map((m) => m.eventId)) : new Map<string, StoredEvent>();
  // Whether the user was ever joined: usually the membership the departure replaced tells
  // (join: yes; invite, knock or none: an invite refused or withdrawn); after a leave, ask the history.
  const everJoined = new Set<string>();
  const unclear: string[] = [];
  for (const m of departed) {
    const prev = (departures.get(m.eventId)?.unsigned?.prev_content as JsonObject | undefined)?.membership;
    if (prev === 'join' || prev === 'ban') everJoined.add(m.roomId);
    else if (prev === 'leave') unclear.push(m.roomId);
  }
  if (unclear.length) {
    const { rows } = await db.query<{ room_id: string }>(
      `SELECT DISTINCT room_id FROM events WHERE room_id = ANY($1) AND type = 'm.room.member' AND state_key = $2 AND membership = 'join'`,
      [unclear, userId],
    );
    for (const r of rows) everJoined.add(r.room_id);
  }
  const rooms = memberships.filter((m) => {
    if (sentBefore.has(m.roomId)) return true;
    // A ban from a room never joined is not listed (MSC4186).
    if (m.membership === 'ban') return everJoined.has(m.roomId);
    return m.membership !== 'leave' || (departures.get(m.eventId)?.event.sender ?? userId) !== userId;
  });
  if (!rooms.length) return [];
  const ids = rooms.map((m) => m.roomId);
  const [activity, meta, direct, tags] = await Promise.all([
    // Per room, a backwards walk of (room_id, stream_ordering) that stops at the first hit, rather
    // than aggregating every event of every room.
    db.query<{ room_id: string; s: number | null; b: number | null }>(
      `SELECT r.room_id,
         (SELECT e.stream_ordering FROM events e WHERE e.room_id = r.room_id AND e.stream_ordering <= $2
           ORDER BY e.stream_ordering DESC LIMIT 1) AS s,
         (SELECT e.stream_ordering FROM events e WHERE e.room_id = r.room_id AND e.stream_ordering <= $2 AND e.type = ANY($3)
           ORDER BY e.stream_ordering DESC LIMIT 1) AS b
       FROM unnest($1::text[]) AS r(room_id)`,
      [ids, upTo, BUMP_TYPES],
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
  const activityOf = new Map(activity.rows.filter((r) => r.s !== null).map((r) => [r.room_id, Number(r.s)]));
  const bumpOf = new Map(activity.rows.filter((r) => r.b !== null).map((r) => [r.room_id, Number(r.b)]));
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
      bumpStamp: Math.max(0, m.membership === 'join' ? (bumpOf.get(m.roomId) ?? m.stream) : m.stream),
      roomType: typeOf.get(m.roomId) ?? null,
      encrypted: encrypted.has(m.roomId),
      isDm: dmRooms.has(m.roomId),
      tags: tagsOf.get(m.roomId) ?? new Set<string>(),
      everJoined: m.membership === 'join' || everJoined.has(m.roomId),
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
