/**
 * event_push_actions: what the push rules decided for each (event, local user) pair, and the
 * unread counts and notification lists read from it against the receipts table (spec:
 * Client-Server API "Push Notifications", "Receiving notifications"; "Receipts").
 */
import type { Database } from './database.js';
import type { PushAction } from '../matrix/push-rules/index.js';
import { Batcher } from './batcher.js';

export interface PushActionRow {
  roomId: string;
  eventId: string;
  userId: string;
  streamOrdering: number;
  /** 'main' or the thread root's event ID. */
  threadId: string;
  actions: PushAction[];
  notif: boolean;
  highlight: boolean;
}

export interface JoinedMemberRow {
  userId: string;
  displayName: string | undefined;
}

export interface UnreadCountRow {
  roomId: string;
  threadId: string;
  notifications: number;
  highlights: number;
}

export interface NotificationRow {
  roomId: string;
  eventId: string;
  streamOrdering: number;
  actions: PushAction[];
  highlight: boolean;
  read: boolean;
}

/** The receipt types that mark events read (spec: "Receipts", m.read and m.read.private). */
const READ_RECEIPT_TYPES = ['m.read', 'm.read.private'];

/**
 * Per (room, thread) of the rows `a`: the position up to which the user has read, from the
 * latest read receipt that covers the thread — unthreaded receipts (thread_id '') cover every
 * thread, threaded ones their own (spec: "Threaded read receipts"). The receipt's own position
 * column is preferred; a receipt written without it falls back to the event's position.
 */
const readUpTo = (receiptTypesParam: string) => `COALESCE((
    SELECT max(COALESCE(r.event_stream_ordering, (SELECT re.stream_ordering FROM events re WHERE re.event_id = r.event_id)))
    FROM receipts r
    WHERE r.room_id = a.room_id AND r.user_id = a.user_id AND r.receipt_type = ANY(${receiptTypesParam})
      AND r.thread_id IN ('', a.thread_id)
  ), 0)`;

export class PushActionStore {
  /** Rows from rooms evaluated at the same time go in one statement (see Batcher). */
  private readonly batches = new Batcher<PushActionRow[], void>(async (sets) => {
    await this.insertNow(sets.flat());
    return sets.map(() => undefined);
  });

  constructor(private readonly db: Database) {}

  /** One statement for the whole batch, whatever its size. Re-inserting a row is a no-op. */
  async insert(rows: PushActionRow[]): Promise<void> {
    if (rows.length) await this.batches.submit(rows);
  }

  private async insertNow(rows: PushActionRow[]): Promise<void> {
    await this.db.query(
      `INSERT INTO event_push_actions (room_id, event_id, user_id, stream_ordering, thread_id, actions, notif, highlight)
       SELECT room_id, event_id, user_id, stream_ordering, thread_id, actions::jsonb, notif, highlight
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bool[], $8::bool[])
         AS x(room_id, event_id, user_id, stream_ordering, thread_id, actions, notif, highlight)
       ON CONFLICT (user_id, room_id, stream_ordering) DO NOTHING`,
      [
        rows.map((r) => r.roomId),
        rows.map((r) => r.eventId),
        rows.map((r) => r.userId),
        rows.map((r) => r.streamOrdering),
        rows.map((r) => r.threadId),
        rows.map((r) => JSON.stringify(r.actions)),
        rows.map((r) => r.notif),
        rows.map((r) => r.highlight),
      ],
      'veche_insert_push_actions',
    );
  }

  /**
   * The joined members of a room (current state) with their display names, in one query.
   * Display names are read only for local users, the only ones whose rules this server runs.
   */
  async joinedMembers(roomId: string, serverName: string): Promise<JoinedMemberRow[]> {
    const { rows } = await this.db.query<{ user_id: string; displayname: string | null }>(
      `SELECT c.state_key AS user_id,
         CASE WHEN right(c.state_key, $3) = $2 THEN (e.json::jsonb)->'content'->>'displayname' END AS displayname
       FROM current_state c JOIN events e ON e.event_id = c.event_id
       WHERE c.room_id = $1 AND c.type = 'm.room.member' AND c.membership = 'join'`,
      [roomId, ':' + serverName, serverName.length + 1],
    );
    return rows.map((r) => ({ userId: r.user_id, displayName: r.displayname ?? undefined }));
  }

  /**
   * Notification and highlight counts per (room, thread) for one user: notified events after the
   * user's read receipt covering that thread and after the user's current join. One query for
   * all the rooms.
   */
  async unreadCounts(userId: string, roomIds: string[]): Promise<UnreadCountRow[]> {
    if (!roomIds.length) return [];
    // Per room, the lower bound (current join, unthreaded receipt) is computed first, so the
    // index (user_id, room_id, stream_ordering) scans only the unread rows of each room;
    // threaded receipts then trim their own thread.
    const { rows } = await this.db.query<{ room_id: string; thread_id: string; notifs: number; highlights: number }>(
      `WITH joined AS (
         SELECT c.room_id, e.stream_ordering AS joined_at
         FROM current_state c JOIN events e ON e.event_id = c.event_id
         WHERE c.room_id = ANY($2) AND c.type = 'm.room.member' AND c.state_key = $1 AND c.membership = 'join'
       ), reads AS (
         SELECT r.room_id, r.thread_id,
           max(COALESCE(r.event_stream_ordering, (SELECT re.stream_ordering FROM events re WHERE re.event_id = r.event_id))) AS upto
         FROM receipts r
         WHERE r.room_id = ANY($2) AND r.user_id = $1 AND r.receipt_type = ANY($3)
         GROUP BY r.room_id, r.thread_id
       ), bounds AS (
         SELECT j.room_id, GREATEST(j.joined_at, COALESCE(u.upto, 0)) AS since
         FROM joined j LEFT JOIN reads u ON u.room_id = j.room_id AND u.thread_id = ''
       )
       SELECT a.room_id, a.thread_id,
         count(*) FILTER (WHERE a.notif)::int AS notifs,
         count(*) FILTER (WHERE a.notif AND a.highlight)::int AS highlights
       FROM bounds b
       JOIN event_push_actions a ON a.user_id = $1 AND a.room_id = b.room_id AND a.stream_ordering > b.since
       LEFT JOIN reads t ON t.room_id = a.room_id AND t.thread_id = a.thread_id
       WHERE a.stream_ordering > COALESCE(t.upto, 0)
       GROUP BY a.room_id, a.thread_id`,
      [userId, roomIds, READ_RECEIPT_TYPES],
    );
    return rows.map((r) => ({ roomId: r.room_id, threadId: r.thread_id, notifications: r.notifs, highlights: r.highlights }));
  }

  /**
   * The user's notifications, newest first, before position `before` (exclusive) when given;
   * `read` says whether a read receipt covers the event.
   */
  async notifications(userId: string, opts: { before?: number; limit: number; onlyHighlight: boolean }): Promise<NotificationRow[]> {
    const { rows } = await this.db.query<{ room_id: string; event_id: string; stream_ordering: number; actions: PushAction[]; highlight: boolean; read: boolean }>(
      `SELECT a.room_id, a.event_id, a.stream_ordering, a.actions, a.highlight,
         a.stream_ordering <= ${readUpTo('$5')} AS read
       FROM event_push_actions a
       WHERE a.user_id = $1 AND a.notif AND ($2::bigint IS NULL OR a.stream_ordering < $2)
         AND (NOT $3::bool OR a.highlight)
       ORDER BY a.stream_ordering DESC
       LIMIT $4`,
      [userId, opts.before ?? null, opts.onlyHighlight, opts.limit, READ_RECEIPT_TYPES],
    );
    return rows.map((r) => ({
      roomId: r.room_id,
      eventId: r.event_id,
      streamOrdering: Number(r.stream_ordering),
      actions: r.actions,
      highlight: r.highlight,
      read: r.read,
    }));
  }
}
