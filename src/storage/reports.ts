/** event_reports: reports of events and rooms (spec: Client-Server API "Reporting content"), read by the admin API. */
import type { Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export interface NewReport {
  roomId: string;
  /** Absent for a report of the whole room. */
  eventId?: string;
  userId: string;
  reason?: string;
  score?: number;
  /** The request body as the reporter sent it. */
  content: JsonObject;
  receivedTs: number;
}

export interface ReportRow extends Omit<NewReport, 'eventId' | 'reason' | 'score'> {
  id: number;
  eventId: string | null;
  reason: string | null;
  score: number | null;
}

export class ReportStore {
  constructor(private readonly db: Queryable) {}

  async insert(r: NewReport): Promise<number> {
    const { rows } = await this.db.query<{ id: number }>(
      `INSERT INTO event_reports (received_ts, room_id, event_id, user_id, reason, score, content)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [r.receivedTs, r.roomId, r.eventId ?? null, r.userId, r.reason ?? null, r.score ?? null, JSON.stringify(r.content)],
    );
    return Number(rows[0]!.id);
  }

  /** Reports newest first (the admin API pages over these). */
  async list(options: { roomId?: string; userId?: string; limit?: number; offset?: number } = {}): Promise<ReportRow[]> {
    const conds: string[] = [];
    const params: unknown[] = [];
    if (options.roomId) conds.push(`room_id = $${params.push(options.roomId)}`);
    if (options.userId) conds.push(`user_id = $${params.push(options.userId)}`);
    const limit = `$${params.push(options.limit ?? 100)}`;
    const offset = `$${params.push(options.offset ?? 0)}`;
    const { rows } = await this.db.query<{
      id: number; received_ts: number; room_id: string; event_id: string | null; user_id: string;
      reason: string | null; score: number | null; content: JsonObject;
    }>(
      `SELECT id, received_ts, room_id, event_id, user_id, reason, score, content FROM event_reports
       ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY received_ts DESC, id DESC LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      receivedTs: Number(r.received_ts),
      roomId: r.room_id,
      eventId: r.event_id,
      userId: r.user_id,
      reason: r.reason,
      score: r.score,
      content: r.content,
    }));
  }
}
