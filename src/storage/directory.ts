/**
 * The published room directory: which rooms are listed, and one page of them with the fields of a
 * PublishedRoomsChunk read from their current state (spec: Client-Server API "Published Room
 * Directory"). The room's state is read at query time, so the listing is never stale.
 */
import type { Queryable } from './database.js';

/** The fields of a listed room, as read from its current state. */
export interface PublishedRoomRow {
  roomId: string;
  joinedMembers: number;
  name: string | null;
  topic: string | null;
  canonicalAlias: string | null;
  avatarUrl: string | null;
  joinRule: string | null;
  historyVisibility: string | null;
  guestAccess: string | null;
  roomType: string | null;
}

/** A position in the listing's order: joined members descending, then room ID ascending. */
export interface DirectoryCursor {
  joinedMembers: number;
  roomId: string;
}

export interface DirectoryQuery {
  /** Case-insensitive substring of the name, topic or canonical alias. */
  searchTerm?: string;
  /** Room types to include; null stands for rooms without a type. */
  roomTypes?: (string | null)[];
  /** Exclusive bound; 'f' lists rooms after it in the order, 'b' rooms before it. */
  cursor?: DirectoryCursor & { dir: 'f' | 'b' };
  limit: number;
}

// The fields, from the current state, of every published room. `topic` prefers the text/plain
// representation of `m.topic` (spec: m.room.topic) and falls back to the legacy `topic` string.
const PUBLISHED_ROOMS = `
  SELECT r.room_id,
    (SELECT count(*) FROM current_state m
      WHERE m.room_id = r.room_id AND m.type = 'm.room.member' AND m.membership = 'join') AS joined_members,
    s.state
  FROM rooms r
  LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(cs.type, (e.json::jsonb) -> 'content') AS state
    FROM current_state cs JOIN events e ON e.event_id = cs.event_id
    WHERE cs.room_id = r.room_id AND cs.state_key = ''
      AND cs.type IN ('m.room.name', 'm.room.topic', 'm.room.canonical_alias', 'm.room.avatar',
                      'm.room.join_rules', 'm.room.history_visibility', 'm.room.guest_access', 'm.room.create')
  ) s ON true
  WHERE r.is_public`;

const FIELDS = `
  SELECT room_id, joined_members,
    CASE WHEN jsonb_typeof(state -> 'm.room.name' -> 'name') = 'string' THEN state -> 'm.room.name' ->> 'name' END AS name,
    COALESCE(
      (SELECT b ->> 'body' FROM jsonb_array_elements(
          CASE WHEN jsonb_typeof(state -> 'm.room.topic' -> 'm.topic' -> 'm.text') = 'array'
               THEN state -> 'm.room.topic' -> 'm.topic' -> 'm.text'
               WHEN jsonb_typeof(state -> 'm.room.topic' -> 'm.topic') = 'array'
               THEN state -> 'm.room.topic' -> 'm.topic' ELSE '[]'::jsonb END) b
        WHERE jsonb_typeof(b -> 'body') = 'string' AND COALESCE(b ->> 'mimetype', 'text/plain') = 'text/plain' LIMIT 1),
      CASE WHEN jsonb_typeof(state -> 'm.room.topic' -> 'topic') = 'string' THEN state -> 'm.room.topic' ->> 'topic' END
    ) AS topic,
    CASE WHEN jsonb_typeof(state -> 'm.room.canonical_alias' -> 'alias') = 'string' THEN state -> 'm.room.canonical_alias' ->> 'alias' END AS canonical_alias,
    CASE WHEN jsonb_typeof(state -> 'm.room.avatar' -> 'url') = 'string' THEN state -> 'm.room.avatar' ->> 'url' END AS avatar_url,
    CASE WHEN jsonb_typeof(state -> 'm.room.join_rules' -> 'join_rule') = 'string' THEN state -> 'm.room.join_rules' ->> 'join_rule' END AS join_rule,
    CASE WHEN jsonb_typeof(state -> 'm.room.history_visibility' -> 'history_visibility') = 'string'
         THEN state -> 'm.room.history_visibility' ->> 'history_visibility' END AS history_visibility,
    CASE WHEN jsonb_typeof(state -> 'm.room.guest_access' -> 'guest_access') = 'string' THEN state -> 'm.room.guest_access' ->> 'guest_access' END AS guest_access,
    CASE WHEN jsonb_typeof(state -> 'm.room.create' -> 'type') = 'string' THEN state -> 'm.room.create' ->> 'type' END AS room_type
  FROM (${PUBLISHED_ROOMS}) p`;

/**
 * A published room is listed only while someone could join or read it and someone is in it (as
 * Synapse does): a room made invite-only, or left by everyone, drops out of the directory
 * without being unpublished, and comes back when it opens again.
 */
const LISTABLE = `(join_rule IN ('public', 'knock', 'knock_restricted') OR history_visibility = 'world_readable') AND joined_members > 0`;

interface Row {
  room_id: string;
  joined_members: number;
  name: string | null;
  topic: string | null;
  canonical_alias: string | null;
  avatar_url: string | null;
  join_rule: string | null;
  history_visibility: string | null;
  guest_access: string | null;
  room_type: string | null;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, '\\$&');
}

export class DirectoryStore {
  constructor(private readonly db: Queryable) {}

  /** The conditions shared by a page and the count, over FIELDS' columns: listable, then the filter. */
  private filter(q: Omit<DirectoryQuery, 'cursor' | 'limit'>, params: unknown[]): string[] {
    const conds: string[] = [LISTABLE];
    if (q.searchTerm) {
      params.push(`%${escapeLike(q.searchTerm.toLowerCase())}%`);
      const p = `$${params.length}`;
      conds.push(`(lower(name) LIKE ${p} OR lower(topic) LIKE ${p} OR lower(canonical_alias) LIKE ${p})`);
    }
    // An empty list filters nothing, as an absent one (as Synapse does).
    if (q.roomTypes?.length) {
      const types = q.roomTypes.filter((t): t is string => typeof t === 'string');
      const withoutType = q.roomTypes.includes(null);
      params.push(types);
      const typed = `room_type = ANY($${params.length}::text[])`;
      conds.push(withoutType ? `(room_type IS NULL OR ${typed})` : typed);
    }
    return conds;
  }

  /**
   * One page in the listing's order. Returns up to limit + 1 rows, always in the listing's order,
   * so the caller can tell whether more rooms lie beyond the page.
   */
  async page(q: DirectoryQuery): Promise<PublishedRoomRow[]> {
    const params: unknown[] = [];
    const conds = this.filter(q, params);
    const backwards = q.cursor?.dir === 'b';
    if (q.cursor) {
      params.push(q.cursor.joinedMembers, q.cursor.roomId);
      const j = `$${params.length - 1}`;
      const r = `$${params.length}`;
      // Order: joined_members DESC, room_id ASC. "After" the cursor means fewer members, or as
      // many with a greater room ID.
      conds.push(
        backwards
          ? `(joined_members > ${j} OR (joined_members = ${j} AND room_id < ${r}))`
          : `(joined_members < ${j} OR (joined_members = ${j} AND room_id > ${r}))`,
      );
    }
    params.push(q.limit + 1);
    const order = backwards ? 'joined_members ASC, room_id DESC' : 'joined_members DESC, room_id ASC';
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM (${FIELDS}) f WHERE ${conds.join(' AND ')} ORDER BY ${order} LIMIT $${params.length}`,
      params,
    );
    const out = rows.map(toRow);
    return backwards ? out.reverse() : out;
  }

  /** How many published rooms match the filter (the total_room_count_estimate). */
  async count(q: Omit<DirectoryQuery, 'cursor' | 'limit'>): Promise<number> {
    const params: unknown[] = [];
    const conds = this.filter(q, params);
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*) AS n FROM (${FIELDS}) f WHERE ${conds.join(' AND ')}`, params);
    return Number(rows[0]!.n);
  }
}

function toRow(r: Row): PublishedRoomRow {
  return {
    roomId: r.room_id,
    joinedMembers: Number(r.joined_members),
    name: r.name,
    topic: r.topic,
    canonicalAlias: r.canonical_alias,
    avatarUrl: r.avatar_url,
    joinRule: r.join_rule,
    historyVisibility: r.history_visibility,
    guestAccess: r.guest_access,
    roomType: r.room_type,
  };
}
