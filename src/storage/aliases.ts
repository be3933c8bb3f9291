/** room_aliases, and the room directory flag on rooms. */
import type { Queryable } from './database.js';

export interface AliasRow {
  roomId: string;
  creator: string;
}

export class AliasStore {
  constructor(private readonly db: Queryable) {}

  async get(alias: string): Promise<AliasRow | undefined> {
    const { rows } = await this.db.query<AliasRow>('SELECT room_id AS "roomId", creator FROM room_aliases WHERE room_alias = $1', [alias]);
    return rows[0];
  }

  /** False when the alias exists already. */
  async insert(tx: Queryable, alias: string, roomId: string, creator: string): Promise<boolean> {
    const res = await tx.query('INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [alias, roomId, creator]);
    return res.rowCount === 1;
  }

  async delete(alias: string): Promise<boolean> {
    const res = await this.db.query('DELETE FROM room_aliases WHERE room_alias = $1', [alias]);
    return res.rowCount === 1;
  }

  /** Points every alias of one room at another (room upgrades), in the caller's transaction. */
  async moveAll(tx: Queryable, fromRoomId: string, toRoomId: string): Promise<string[]> {
    const { rows } = await tx.query<{ room_alias: string }>(
      'UPDATE room_aliases SET room_id = $2 WHERE room_id = $1 RETURNING room_alias',
      [fromRoomId, toRoomId],
    );
    return rows.map((r) => r.room_alias).sort();
  }

  async forRoom(roomId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ room_alias: string }>('SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias', [roomId]);
    return rows.map((r) => r.room_alias);
  }

  async setPublic(tx: Queryable, roomId: string, isPublic: boolean): Promise<boolean> {
    const res = await tx.query('UPDATE rooms SET is_public = $2 WHERE room_id = $1', [roomId, isPublic]);
    return res.rowCount === 1;
  }

  async isPublic(roomId: string, db: Queryable = this.db): Promise<boolean | undefined> {
    const { rows } = await db.query<{ is_public: boolean }>('SELECT is_public FROM rooms WHERE room_id = $1', [roomId]);
    return rows[0]?.is_public;
  }

}
