/**
 * receipts: the latest receipt per (room, type, user, thread) (spec: Client-Server API
 * §11.x "Receipts"), each with the receipts-stream position of its last change.
 */
import type { Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

/** thread_id of an unthreaded receipt (the column is NOT NULL). */
export const UNTHREADED = '';

export interface ReceiptRow {
  roomId: string;
  receiptType: string;
  userId: string;
  /** '' (unthreaded), 'main' or a thread root's event ID. */
  threadId: string;
  eventId: string;
  eventStreamOrdering: number | null;
  /** What clients see under the user: { ts, thread_id? }. */
  data: JsonObject;
  streamId: number;
}

export interface LastReadRow {
  roomId: string;
  threadId: string;
  streamOrdering: number;
}

export class ReceiptStore {
  constructor(private readonly db: Queryable) {}

  /**
   * Stores a receipt unless the one already held for its key points at a later (or the same)
   * event: receipts never move backwards (as in Synapse). Returns whether the row changed.
   */
  async upsert(tx: Queryable, r: Omit<ReceiptRow, 'eventStreamOrdering'> & { eventStreamOrdering: number }): Promise<boolean> {
    const { rowCount } = await tx.query(
      `INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, event_stream_ordering, data, stream_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE
         SET event_id = EXCLUDED.event_id, event_stream_ordering = EXCLUDED.event_stream_ordering,
             data = EXCLUDED.data, stream_id = EXCLUDED.stream_id
         WHERE receipts.event_stream_ordering IS NULL OR receipts.event_stream_ordering < EXCLUDED.event_stream_ordering`,
      [r.roomId, r.receiptType, r.userId, r.threadId, r.eventId, r.eventStreamOrdering, JSON.stringify(r.data), r.streamId],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Receipts in these rooms that changed after `since` up to `upTo` (inclusive): one query for all rooms. */
  async changedInRooms(roomIds: string[], since: number, upTo: number): Promise<ReceiptRow[]> {
    if (!roomIds.length || upTo <= since) return [];
    const { rows } = await this.db.query<ReceiptRow>(
      `SELECT room_id AS "roomId", receipt_type AS "receiptType", user_id AS "userId", thread_id AS "threadId",
              event_id AS "eventId", event_stream_ordering AS "eventStreamOrdering", data, stream_id AS "streamId"
       FROM receipts WHERE room_id = ANY($1) AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id`,
      [roomIds, since, upTo],
    );
    return rows;
  }

  /** The event position of the user's latest read receipt (m.read or m.read.private) per room and thread. */
  async lastRead(userId: string, roomIds: string[], types: string[]): Promise<LastReadRow[]> {
    if (!roomIds.length) return [];
    const { rows } = await this.db.query<LastReadRow>(
      `SELECT room_id AS "roomId", thread_id AS "threadId", MAX(event_stream_ordering) AS "streamOrdering"
       FROM receipts WHERE user_id = $1 AND room_id = ANY($2) AND receipt_type = ANY($3) AND event_stream_ordering IS NOT NULL
       GROUP BY room_id, thread_id`,
      [userId, roomIds, types],
    );
    return rows;
  }
}
