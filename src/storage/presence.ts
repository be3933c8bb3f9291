/** presence table: one row per local user who ever had a presence, ordered by the presence stream. */
import type { Queryable } from './database.js';

export type PresenceStateName = 'online' | 'unavailable' | 'offline';

export interface PresenceRow {
  userId: string;
  state: PresenceStateName;
  statusMsg: string | null;
  lastActiveTs: number;
  currentlyActive: boolean;
  streamId: number;
}

const columns = `user_id AS "userId", state, status_msg AS "statusMsg", last_active_ts AS "lastActiveTs",
  currently_active AS "currentlyActive", stream_id AS "streamId"`;

export class PresenceStore {
  constructor(private readonly db: Queryable) {}

  async get(userId: string): Promise<PresenceRow | undefined> {
    const { rows } = await this.db.query<PresenceRow>(`SELECT ${columns} FROM presence WHERE user_id = $1`, [userId]);
    return rows[0];
  }

  /** Writes a change peers are told about, at a new stream position. */
  async upsert(row: PresenceRow): Promise<void> {
    await this.db.query(
      `INSERT INTO presence (user_id, state, status_msg, last_active_ts, currently_active, stream_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,
         last_active_ts = EXCLUDED.last_active_ts, currently_active = EXCLUDED.currently_active, stream_id = EXCLUDED.stream_id`,
      [row.userId, row.state, row.statusMsg, row.lastActiveTs, row.currentlyActive, row.streamId],
    );
  }

  /** Refreshes last_active_ts alone: not news for peers, so the stream position stays. */
  async touch(userId: string, lastActiveTs: number): Promise<void> {
    await this.db.query('UPDATE presence SET last_active_ts = $2 WHERE user_id = $1', [userId, lastActiveTs]);
  }

  /** Users whose presence may still time out (everyone not offline). */
  async notOffline(): Promise<PresenceRow[]> {
    const { rows } = await this.db.query<PresenceRow>(`SELECT ${columns} FROM presence WHERE state <> 'offline'`);
    return rows;
  }

  /**
   * Presence changed in (since, upTo] of the observer and of every user sharing a joined room with
   * them — one query however many rooms the observer is in.
   */
  async changedForObserver(observer: string, since: number, upTo: number, includeOffline: boolean): Promise<PresenceRow[]> {
    const { rows } = await this.db.query<PresenceRow>(
      `SELECT ${columns} FROM presence p
       WHERE p.stream_id > $2 AND p.stream_id <= $3 AND ($4 OR p.state <> 'offline')
         AND (p.user_id = $1 OR EXISTS (
           SELECT 1 FROM current_state mine
           JOIN current_state theirs ON theirs.room_id = mine.room_id
           WHERE mine.type = 'm.room.member' AND mine.state_key = $1 AND mine.membership = 'join'
             AND theirs.type = 'm.room.member' AND theirs.state_key = p.user_id AND theirs.membership = 'join'))
       ORDER BY p.stream_id`,
      [observer, since, upTo, includeOffline],
    );
    return rows;
  }

  /**
   * Current presence (up to `upTo`, not offline) of `userIds` and of every member joined to `roomIds`:
   * what a sync owes for users who just started sharing a room with the observer.
   */
  async ofUsersAndRoomMembers(userIds: string[], roomIds: string[], upTo: number): Promise<PresenceRow[]> {
    if (!userIds.length && !roomIds.length) return [];
    const { rows } = await this.db.query<PresenceRow>(
      `SELECT ${columns} FROM presence p
       WHERE p.stream_id <= $3 AND p.state <> 'offline'
         AND (p.user_id = ANY($1) OR EXISTS (
           SELECT 1 FROM current_state c WHERE c.room_id = ANY($2) AND c.type = 'm.room.member'
             AND c.state_key = p.user_id AND c.membership = 'join'))
       ORDER BY p.stream_id`,
      [userIds, roomIds, upTo],
    );
    return rows;
  }

  /** Whether two users share a joined room. */
  async shareRoom(a: string, b: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `SELECT 1 FROM current_state x JOIN current_state y ON y.room_id = x.room_id
       WHERE x.type = 'm.room.member' AND x.state_key = $1 AND x.membership = 'join'
         AND y.type = 'm.room.member' AND y.state_key = $2 AND y.membership = 'join' LIMIT 1`,
      [a, b],
    );
    return (rowCount ?? 0) > 0;
  }

  /** The rooms a user is joined to (a presence notice names them, so peers' long-polls wake). */
  async joinedRooms(userId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join'`,
      [userId],
    );
    return rows.map((r) => r.room_id);
  }
}
