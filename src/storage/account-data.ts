/** account_data table: global ('' room) and per-room account data, ordered by a stream position. */
import type { Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export interface AccountDataRow {
  roomId: string;
  type: string;
  content: JsonObject;
  streamId: number;
}

export class AccountDataStore {
  constructor(private readonly db: Queryable) {}

  async get(userId: string, roomId: string, type: string): Promise<JsonObject | undefined> {
    const { rows } = await this.db.query<{ content: JsonObject }>(
      'SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3',
      [userId, roomId, type],
    );
    return rows[0]?.content;
  }

  async put(tx: Queryable, userId: string, roomId: string, type: string, content: JsonObject, streamId: number): Promise<void> {
    await tx.query(
      `INSERT INTO account_data (user_id, room_id, type, content, stream_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = EXCLUDED.content, stream_id = EXCLUDED.stream_id`,
      [userId, roomId, type, JSON.stringify(content), streamId],
    );
  }

  /** Everything that changed after `since` up to `upTo` (inclusive), for /sync. */
  async changedSince(userId: string, since: number, upTo: number): Promise<AccountDataRow[]> {
    const { rows } = await this.db.query<AccountDataRow>(
      `SELECT room_id AS "roomId", type, content, stream_id AS "streamId" FROM account_data
       WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id`,
      [userId, since, upTo],
    );
    return rows;
  }

  /** The user's account data of these rooms as of `upTo`, whenever written. */
  async ofRooms(userId: string, roomIds: string[], upTo: number): Promise<AccountDataRow[]> {
    if (!roomIds.length) return [];
    const { rows } = await this.db.query<AccountDataRow>(
      `SELECT room_id AS "roomId", type, content, stream_id AS "streamId" FROM account_data
       WHERE user_id = $1 AND room_id = ANY($2) AND stream_id <= $3 ORDER BY stream_id`,
      [userId, roomIds, upTo],
    );
    return rows;
  }

  async deleteForUser(tx: Queryable, userId: string): Promise<void> {
    await tx.query('DELETE FROM account_data WHERE user_id = $1', [userId]);
  }
}
