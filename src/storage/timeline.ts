/**
 * Batched timeline reads for /sync: the latest events of many rooms in one query, so the number
 * of queries does not grow with the number of rooms. Also timestamp_to_event's walk in batches.
 */
import type { Queryable } from './database.js';
import { EVENT_COLUMNS, eventFilterConditions, rowToStoredEvent, type EventDbRow, type EventSqlFilter, type StoredEvent } from './events.js';
import { stateKeyOf, type JsonObject } from '../matrix/types.js';

export type TimelineFilter = EventSqlFilter;

export class TimelineStore {
  constructor(private readonly db: Queryable) {}

  /**
   * For each room, up to `limit` events with since < stream_ordering <= upTo (per room upTo may be
   * lower, e.g. a leave), newest first, in stream order (this server's order of arrival).
   */
  async latestEvents(
    rooms: { roomId: string; since: number; upTo: number }[],
    limit: number,
    filter?: TimelineFilter,
  ): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>();
    if (!rooms.length) return out;
    const params: unknown[] = [rooms.map((r) => r.roomId), rooms.map((r) => r.since), rooms.map((r) => r.upTo), limit];
    const extra = eventFilterConditions(filter, params);
    const { rows } = await this.db.query<EventDbRow>(
      `SELECT ${EVENT_COLUMNS}
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x(room_id, since, up_to)
       JOIN rooms r ON r.room_id = x.room_id
       CROSS JOIN LATERAL (
         SELECT * FROM events e WHERE e.room_id = x.room_id AND e.stream_ordering > x.since AND e.stream_ordering <= x.up_to
           AND NOT e.outlier AND e.rejected_reason IS NULL ${extra.map((c) => 'AND ' + c).join(' ')}
         ORDER BY e.stream_ordering DESC LIMIT $4
       ) e`,
      params,
    );
    for (const r of rows) {
      let list = out.get(r.room_id);
      if (!list) out.set(r.room_id, (list = []));
      list.push(rowToStoredEvent(r));
    }
    for (const list of out.values()) list.sort((a, b) => b.streamOrdering - a.streamOrdering);
    return out;
  }

  /**
   * Rooms among `roomIds` whose history visibility was ever 'joined' or 'invited': in the others
   * ('shared', 'world_readable', unset) a joined user may read the whole history.
   */
  async roomsWithRestrictedHistory(roomIds: string[]): Promise<Set<string>> {
    if (!roomIds.length) return new Set();
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT DISTINCT room_id FROM events
       WHERE room_id = ANY($1) AND type = 'm.room.history_visibility' AND state_key = '' AND rejected_reason IS NULL
         AND json::jsonb->'content'->>'history_visibility' IN ('joined', 'invited')`,
      [roomIds],
    );
    return new Set(rows.map((r) => r.room_id));
  }

  /**
   * Rooms among `roomIds` where the user was joined at `since` and stayed joined through
   * (since, upTo] (only profile changes): for /sync, rooms not newly joined.
   */
  async joinedThroughout(roomIds: string[], userId: string, since: number, upTo: number): Promise<Set<string>> {
    if (!roomIds.length) return new Set();
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT x.room_id FROM unnest($1::text[]) AS x(room_id)
       WHERE (SELECT e.membership FROM events e
              WHERE e.room_id = x.room_id AND e.type = 'm.room.member' AND e.state_key = $2 AND e.stream_ordering <= $3
                AND NOT e.outlier AND e.rejected_reason IS NULL
              ORDER BY e.stream_ordering DESC LIMIT 1) = 'join'
         AND NOT EXISTS (SELECT 1 FROM events e
              WHERE e.room_id = x.room_id AND e.type = 'm.room.member' AND e.state_key = $2
                AND e.stream_ordering > $3 AND e.stream_ordering <= $4 AND NOT e.outlier AND e.rejected_reason IS NULL
                AND e.membership IS DISTINCT FROM 'join')`,
      [roomIds, userId, since, upTo],
    );
    return new Set(rows.map((r) => r.room_id));
  }

  /**
   * spec: GET /rooms/{roomId}/timestamp_to_event: a room's events from a timestamp outwards, in
   * (origin_server_ts, stream_ordering) order: dir 'f' at or after `ts`, 'b' at or before it,
   * continuing strictly past `after` (the last event of the previous batch) when given.
   */
  async eventsFromTimestamp(q: {
    roomId: string;
    ts: number;
    dir: 'f' | 'b';
    after?: { ts: number; stream: number };
    maxStream: number;
    limit: number;
  }): Promise<StoredEvent[]> {
    const forward = q.dir === 'f';
    const params: unknown[] = [q.roomId, q.ts, q.maxStream, q.limit];
    const conds = [
      'e.room_id = $1',
      forward ? 'e.origin_server_ts >= $2' : 'e.origin_server_ts <= $2',
      'e.stream_ordering <= $3',
      'NOT e.outlier',
      'e.rejected_reason IS NULL',
    ];
    if (q.after) {
      params.push(q.after.ts, q.after.stream);
      conds.push(`(e.origin_server_ts, e.stream_ordering) ${forward ? '>' : '<'} ($5, $6)`);
    }
    const order = forward ? 'ASC' : 'DESC';
    const { rows } = await this.db.query<EventDbRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id WHERE ${conds.join(' AND ')}
       ORDER BY e.origin_server_ts ${order}, e.stream_ordering ${order} LIMIT $4`,
      params,
    );
    return rows.map(rowToStoredEvent);
  }

  /** Rooms among `roomIds` with events in (since, upTo]. */
  async roomsWithEvents(roomIds: string[], since: number, upTo: number): Promise<Set<string>> {
    if (!roomIds.length) return new Set();
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT DISTINCT room_id FROM events WHERE room_id = ANY($1) AND stream_ordering > $2 AND stream_ordering <= $3`,
      [roomIds, since, upTo],
    );
    return new Set(rows.map((r) => r.room_id));
  }

  /** Current state rows of many rooms, with each event's stream position. */
  async currentStateOf(roomIds: string[]): Promise<{ roomId: string; type: string; stateKey: string; eventId: string; stream: number }[]> {
    if (!roomIds.length) return [];
    const { rows } = await this.db.query<{ room_id: string; type: string; state_key: string; event_id: string; stream_ordering: number }>(
      `SELECT c.room_id, c.type, c.state_key, c.event_id, e.stream_ordering FROM current_state c
       JOIN events e ON e.event_id = c.event_id WHERE c.room_id = ANY($1)`,
      [roomIds],
    );
    return rows.map((r) => ({ roomId: r.room_id, type: r.type, stateKey: r.state_key, eventId: r.event_id, stream: Number(r.stream_ordering) }));
  }

  /** The user's membership in every room they have one, with the membership event's position. */
  async membershipsOf(userId: string): Promise<{ roomId: string; membership: string; eventId: string; stream: number }[]> {
    const { rows } = await this.db.query<{ room_id: string; membership: string; event_id: string; stream_ordering: number }>(
      `SELECT c.room_id, c.membership, c.event_id, e.stream_ordering FROM current_state c
       JOIN events e ON e.event_id = c.event_id
       WHERE c.type = 'm.room.member' AND c.state_key = $1
         AND NOT EXISTS (SELECT 1 FROM room_forgotten f WHERE f.user_id = $1 AND f.room_id = c.room_id AND c.membership IN ('leave', 'ban'))`,
      [userId],
    );
    return rows.map((r) => ({ roomId: r.room_id, membership: r.membership, eventId: r.event_id, stream: Number(r.stream_ordering) }));
  }

  /** Member counts and up to 5 heroes per room (spec: /sync room summary, m.heroes). */
  async summaries(roomIds: string[], userId: string): Promise<Map<string, { joined: number; invited: number; heroes: string[]; named: boolean }>> {
    const out = new Map<string, { joined: number; invited: number; heroes: string[]; named: boolean }>();
    if (!roomIds.length) return out;
    const { rows } = await this.db.query<{ room_id: string; joined: number; invited: number; heroes: string[] | null; present: number; named: boolean }>(
      `SELECT x.room_id,
         (SELECT count(*) FROM current_state c WHERE c.room_id = x.room_id AND c.type = 'm.room.member' AND c.membership = 'join')::int AS joined,
         (SELECT count(*) FROM current_state c WHERE c.room_id = x.room_id AND c.type = 'm.room.member' AND c.membership = 'invite')::int AS invited,
         ARRAY(SELECT c.state_key FROM current_state c JOIN events e ON e.event_id = c.event_id
               WHERE c.room_id = x.room_id AND c.type = 'm.room.member' AND c.state_key <> $2
               ORDER BY (c.membership IN ('join', 'invite')) DESC, e.stream_ordering LIMIT 5) AS heroes,
         (SELECT count(*) FROM current_state c WHERE c.room_id = x.room_id AND c.type = 'm.room.member'
               AND c.membership IN ('join', 'invite') AND c.state_key <> $2)::int AS present,
         EXISTS (SELECT 1 FROM current_state c JOIN events e ON e.event_id = c.event_id
               WHERE c.room_id = x.room_id AND c.state_key = '' AND c.type IN ('m.room.name', 'm.room.canonical_alias')
               AND coalesce(e.json::jsonb->'content'->>'name', e.json::jsonb->'content'->>'alias', '') <> '') AS named
       FROM unnest($1::text[]) AS x(room_id)`,
      [roomIds, userId],
    );
    // spec: the first 5 joined or invited members by stream ordering; only when there are none,
    // the left and banned ones.
    for (const r of rows) {
      const heroes = r.heroes ?? [];
      out.set(r.room_id, { joined: r.joined, invited: r.invited, heroes: r.present > 0 ? heroes.slice(0, Math.min(heroes.length, r.present)) : heroes, named: r.named });
    }
    return out;
  }

  /**
   * Per room, the latest state event of each (type, state_key) changed with
   * since < stream_ordering < before: the state delta a limited incremental sync sends.
   */
  async stateChangesBetween(bounds: { roomId: string; since: number; before: number }[]): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    if (!bounds.length) return out;
    const { rows } = await this.db.query<{ room_id: string; type: string; state_key: string; event_id: string }>(
      `SELECT DISTINCT ON (e.room_id, e.type, e.state_key) e.room_id, e.type, e.state_key, e.event_id
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x(room_id, since, before)
       JOIN events e ON e.room_id = x.room_id AND e.stream_ordering > x.since AND e.stream_ordering < x.before
       WHERE e.state_key IS NOT NULL AND NOT e.outlier AND e.rejected_reason IS NULL
       ORDER BY e.room_id, e.type, e.state_key, e.stream_ordering DESC`,
      [bounds.map((b) => b.roomId), bounds.map((b) => b.since), bounds.map((b) => b.before)],
    );
    for (const r of rows) {
      let m = out.get(r.room_id);
      if (!m) out.set(r.room_id, (m = new Map()));
      m.set(stateKeyOf(r.type, r.state_key), r.event_id);
    }
    return out;
  }

  /** The current member event IDs of some users in each of many rooms, in one query. */
  async memberEventIdsOf(wanted: { roomId: string; userIds: string[] }[]): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    const pairs = wanted.flatMap((w) => w.userIds.map((u) => [w.roomId, u] as const));
    if (!pairs.length) return out;
    const { rows } = await this.db.query<{ room_id: string; state_key: string; event_id: string }>(
      `SELECT c.room_id, c.state_key, c.event_id FROM unnest($1::text[], $2::text[]) AS x(room_id, user_id)
       JOIN current_state c ON c.room_id = x.room_id AND c.type = 'm.room.member' AND c.state_key = x.user_id`,
      [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
    for (const r of rows) {
      let m = out.get(r.room_id);
      if (!m) out.set(r.room_id, (m = new Map()));
      m.set(r.state_key, r.event_id);
    }
    return out;
  }
}
