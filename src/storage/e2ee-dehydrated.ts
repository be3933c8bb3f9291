/**
 * Dehydrated devices (MSC3814): the dehydrated_devices table, and reading the device's to-device
 * inbox (device_inbox of migration 004) through the MSC's own endpoint.
 */
import type { Database, Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export class E2eeDehydratedStore {
  constructor(readonly db: Database) {}

  async get(userId: string, db: Queryable = this.db): Promise<{ deviceId: string; deviceData: JsonObject } | undefined> {
    const { rows } = await db.query<{ device_id: string; device_data: JsonObject }>('SELECT device_id, device_data FROM dehydrated_devices WHERE user_id = $1', [userId]);
    return rows[0] ? { deviceId: rows[0].device_id, deviceData: rows[0].device_data } : undefined;
  }

  /** Locks the user's row (or its absence, via an advisory lock) for a replacement. */
  async lock(tx: Queryable, userId: string): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`dehydrated:${userId}`]);
  }

  async deviceExists(tx: Queryable, userId: string, deviceId: string): Promise<boolean> {
    const res = await tx.query('SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2', [userId, deviceId]);
    return (res.rowCount ?? 0) > 0;
  }

  async set(tx: Queryable, userId: string, deviceId: string, deviceData: JsonObject): Promise<void> {
    await tx.query(
      `INSERT INTO dehydrated_devices (user_id, device_id, device_data) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET device_id = EXCLUDED.device_id, device_data = EXCLUDED.device_data`,
      [userId, deviceId, JSON.stringify(deviceData)],
    );
  }

  async delete(tx: Queryable, userId: string, deviceId?: string): Promise<boolean> {
    const res = await tx.query('DELETE FROM dehydrated_devices WHERE user_id = $1 AND ($2::text IS NULL OR device_id = $2)', [userId, deviceId ?? null]);
    return (res.rowCount ?? 0) > 0;
  }

  /** Drops messages up to `upTo` (acknowledged by the next_batch the client sends back), then reads on. */
  async inbox(userId: string, deviceId: string, after: number, limit: number): Promise<{ streamId: number; message: JsonObject }[]> {
    if (after > 0) await this.db.query('DELETE FROM device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3', [userId, deviceId, after]);
    const { rows } = await this.db.query<{ stream_id: number; message: JsonObject }>(
      'SELECT stream_id, message FROM device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 ORDER BY stream_id LIMIT $4',
      [userId, deviceId, after, limit],
    );
    return rows.map((r) => ({ streamId: Number(r.stream_id), message: r.message }));
  }
}
