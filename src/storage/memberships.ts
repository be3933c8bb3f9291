/**
 * Membership lookups over the rooms' current state, and room_forgotten (spec: Client-Server API
 * "Room membership", POST /rooms/{roomId}/forget).
 */
import type { Queryable } from './database.js';

export class MembershipStore {
  constructor(private readonly db: Queryable) {}

  /** Rooms the user is joined to now, in room ID order (GET /joined_rooms). */
  async joinedRooms(userId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join' ORDER BY room_id`,
      [userId],
    );
    return rows.map((r) => r.room_id);
  }

  /** The room's joined members now; `db` lets a room writer read inside its own transaction. */
  async joinedMembers(roomId: string, db: Queryable = this.db): Promise<string[]> {
    const { rows } = await db.query<{ state_key: string }>(
      `SELECT state_key FROM current_state WHERE room_id = $1 AND type = 'm.room.member' AND membership = 'join'`,
      [roomId],
    );
    return rows.map((r) => r.state_key);
  }

  /** Marks the room forgotten for the user; forgetting twice is a no-op. */
  async forget(userId: string, roomId: string): Promise<void> {
    await this.db.query('INSERT INTO room_forgotten (user_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, roomId]);
  }

  /** Whether the user forgot the room, which ends what a departed member may still read. */
  async isForgotten(userId: string, roomId: string): Promise<boolean> {
    const { rowCount } = await this.db.query('SELECT 1 FROM room_forgotten WHERE user_id = $1 AND room_id = $2', [userId, roomId]);
    return (rowCount ?? 0) > 0;
  }

  /** A user who joins again has not forgotten the room any more; `db` as for joinedMembers. */
  async unforget(userId: string, roomId: string, db: Queryable = this.db): Promise<void> {
    await db.query('DELETE FROM room_forgotten WHERE user_id = $1 AND room_id = $2', [userId, roomId]);
  }
}
