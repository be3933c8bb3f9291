/** Server-side key backup: e2e_room_keys_versions and e2e_room_keys (migration 008). */
import type { Database, Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export interface BackupVersionRow {
  version: number;
  algorithm: string;
  authData: JsonObject;
  etag: number;
  deleted: boolean;
}

export interface RoomKeyRow {
  roomId: string;
  sessionId: string;
  firstMessageIndex: number;
  forwardedCount: number;
  isVerified: boolean;
  sessionData: JsonObject;
}

const versionColumns = `version, algorithm, auth_data AS "authData", etag, deleted`;

export class E2eeBackupStore {
  constructor(readonly db: Database) {}

  /** The latest version that is not deleted; with `forUpdate`, locks it against concurrent uploads. */
  async currentVersion(userId: string, db: Queryable = this.db, forUpdate = false): Promise<BackupVersionRow | undefined> {
    const { rows } = await db.query<BackupVersionRow>(
      `SELECT ${versionColumns} FROM e2e_room_keys_versions WHERE user_id = $1 AND NOT deleted ORDER BY version DESC LIMIT 1${forUpdate ? ' FOR UPDATE' : ''}`,
      [userId],
    );
    return rows[0];
  }

  /** A version, deleted or not. */
  async version(userId: string, version: number, db: Queryable = this.db): Promise<BackupVersionRow | undefined> {
    const { rows } = await db.query<BackupVersionRow>(`SELECT ${versionColumns} FROM e2e_room_keys_versions WHERE user_id = $1 AND version = $2`, [userId, version]);
    return rows[0];
  }

  async createVersion(tx: Queryable, userId: string, algorithm: string, authData: JsonObject): Promise<number> {
    // Serialises version creation per user, so two clients never get the same number.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`room_keys:${userId}`]);
    const { rows } = await tx.query<{ version: number }>(
      `INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data)
       SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3 FROM e2e_room_keys_versions WHERE user_id = $1
       RETURNING version`,
      [userId, algorithm, JSON.stringify(authData)],
    );
    return Number(rows[0]!.version);
  }

  async updateAuthData(userId: string, version: number, authData: JsonObject): Promise<void> {
    await this.db.query('UPDATE e2e_room_keys_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2', [userId, version, JSON.stringify(authData)]);
  }

  async deleteVersion(tx: Queryable, userId: string, version: number): Promise<void> {
    await tx.query('UPDATE e2e_room_keys_versions SET deleted = true WHERE user_id = $1 AND version = $2', [userId, version]);
    await tx.query('DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2', [userId, version]);
  }

  async bumpEtag(tx: Queryable, userId: string, version: number): Promise<number> {
    const { rows } = await tx.query<{ etag: number }>(
      'UPDATE e2e_room_keys_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2 RETURNING etag',
      [userId, version],
    );
    return Number(rows[0]?.etag ?? 0);
  }

  async count(userId: string, version: number, db: Queryable = this.db): Promise<number> {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM e2e_room_keys WHERE user_id = $1 AND version = $2', [userId, version]);
    return Number(rows[0]!.n);
  }

  async keys(userId: string, version: number, roomId?: string, sessionId?: string, db: Queryable = this.db): Promise<RoomKeyRow[]> {
    const { rows } = await db.query<{ room_id: string; session_id: string; first_message_index: number; forwarded_count: number; is_verified: boolean; session_data: JsonObject }>(
      `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data FROM e2e_room_keys
       WHERE user_id = $1 AND version = $2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR session_id = $4)`,
      [userId, version, roomId ?? null, sessionId ?? null],
    );
    return rows.map((r) => ({
      roomId: r.room_id,
      sessionId: r.session_id,
      firstMessageIndex: Number(r.first_message_index),
      forwardedCount: Number(r.forwarded_count),
      isVerified: r.is_verified,
      sessionData: r.session_data,
    }));
  }

  /** Existing keys for the sessions about to be uploaded. */
  async existing(tx: Queryable, userId: string, version: number, sessions: { roomId: string; sessionId: string }[]): Promise<Map<string, RoomKeyRow>> {
    const out = new Map<string, RoomKeyRow>();
    if (!sessions.length) return out;
    const { rows } = await tx.query<{ room_id: string; session_id: string; first_message_index: number; forwarded_count: number; is_verified: boolean }>(
      `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified FROM e2e_room_keys
       WHERE user_id = $1 AND version = $2 AND (room_id, session_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
      [userId, version, sessions.map((s) => s.roomId), sessions.map((s) => s.sessionId)],
    );
    for (const r of rows) {
      out.set(`${r.room_id}\u0000${r.session_id}`, {
        roomId: r.room_id,
        sessionId: r.session_id,
        firstMessageIndex: Number(r.first_message_index),
        forwardedCount: Number(r.forwarded_count),
        isVerified: r.is_verified,
        sessionData: {},
      });
    }
    return out;
  }

  async upsertKeys(tx: Queryable, userId: string, version: number, keys: RoomKeyRow[]): Promise<void> {
    if (!keys.length) return;
    await tx.query(
      `INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
       SELECT $1, $2, r, s, f, c, v, d::jsonb FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean[], $8::text[]) AS t(r, s, f, c, v, d)
       ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET first_message_index = EXCLUDED.first_message_index,
         forwarded_count = EXCLUDED.forwarded_count, is_verified = EXCLUDED.is_verified, session_data = EXCLUDED.session_data`,
      [
        userId,
        version,
        keys.map((k) => k.roomId),
        keys.map((k) => k.sessionId),
        keys.map((k) => k.firstMessageIndex),
        keys.map((k) => k.forwardedCount),
        keys.map((k) => k.isVerified),
        keys.map((k) => JSON.stringify(k.sessionData)),
      ],
    );
  }

  async deleteKeys(tx: Queryable, userId: string, version: number, roomId?: string, sessionId?: string): Promise<number> {
    const res = await tx.query(
      `DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR session_id = $4)`,
      [userId, version, roomId ?? null, sessionId ?? null],
    );
    return res.rowCount ?? 0;
  }
}
