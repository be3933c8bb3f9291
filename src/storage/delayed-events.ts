/** delayed_events: MSC4140 scheduled events. */
import type { Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export interface DelayedEventRow {
  delayId: string;
  userId: string;
  deviceId: string | null;
  roomId: string;
  eventType: string;
  stateKey: string | null;
  content: JsonObject;
  delayMs: number;
  runningSince: number;
}

const COLUMNS = `delay_id AS "delayId", user_id AS "userId", device_id AS "deviceId", room_id AS "roomId",
  event_type AS "eventType", state_key AS "stateKey", content, delay_ms AS "delayMs", running_since AS "runningSince"`;

export class DelayedEventStore {
  constructor(private readonly db: Queryable) {}

  async insert(row: DelayedEventRow): Promise<void> {
    await this.db.query(
      `INSERT INTO delayed_events (delay_id, user_id, device_id, room_id, event_type, state_key, content, delay_ms, running_since)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [row.delayId, row.userId, row.deviceId, row.roomId, row.eventType, row.stateKey, JSON.stringify(row.content), row.delayMs, row.runningSince],
    );
  }

  async countForUser(userId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM delayed_events WHERE user_id = $1', [userId]);
    return rows[0]!.n;
  }

  async listForUser(userId: string): Promise<DelayedEventRow[]> {
    const { rows } = await this.db.query<DelayedEventRow>(`SELECT ${COLUMNS} FROM delayed_events WHERE user_id = $1 ORDER BY running_since + delay_ms`, [userId]);
    return rows;
  }

  async get(delayId: string): Promise<DelayedEventRow | undefined> {
    const { rows } = await this.db.query<DelayedEventRow>(`SELECT ${COLUMNS} FROM delayed_events WHERE delay_id = $1`, [delayId]);
    return rows[0];
  }

  /** Removes and returns the row: whoever deletes it sends it, so no event goes out twice. */
  async take(delayId: string): Promise<DelayedEventRow | undefined> {
    const { rows } = await this.db.query<DelayedEventRow>(`DELETE FROM delayed_events WHERE delay_id = $1 RETURNING ${COLUMNS}`, [delayId]);
    return rows[0];
  }

  async restart(delayId: string, now: number): Promise<boolean> {
    const res = await this.db.query('UPDATE delayed_events SET running_since = $2 WHERE delay_id = $1', [delayId, now]);
    return res.rowCount === 1;
  }

  /** The earliest due time, or undefined when nothing is scheduled. */
  async nextDue(): Promise<number | undefined> {
    const { rows } = await this.db.query<{ due: number | null }>('SELECT min(running_since + delay_ms) AS due FROM delayed_events');
    return rows[0]?.due === null || rows[0]?.due === undefined ? undefined : Number(rows[0].due);
  }

  async dueIds(now: number): Promise<string[]> {
    const { rows } = await this.db.query<{ delay_id: string }>(
      'SELECT delay_id FROM delayed_events WHERE running_since + delay_ms <= $1 ORDER BY running_since + delay_ms LIMIT 100',
      [now],
    );
    return rows.map((r) => r.delay_id);
  }

  /**
   * MSC4140: state set by someone else voids pending delayed events for that state. The author's
   * own updates do not (Element Call refreshes its membership while its delayed "leave" waits).
   */
  async cancelForState(roomId: string, eventType: string, stateKey: string, sender: string): Promise<number> {
    const res = await this.db.query(
      'DELETE FROM delayed_events WHERE room_id = $1 AND event_type = $2 AND state_key = $3 AND user_id <> $4',
      [roomId, eventType, stateKey, sender],
    );
    return res.rowCount ?? 0;
  }
}
