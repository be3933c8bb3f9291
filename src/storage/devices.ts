/** devices, access_tokens and refresh_tokens tables. Tokens are looked up by their SHA-256 only. */
import type { Queryable } from './database.js';

export interface DeviceRow {
  userId: string;
  deviceId: string;
  displayName: string | null;
  lastSeenTs: number | null;
  lastSeenIp: string | null;
  lastSeenUserAgent: string | null;
}

export interface AccessTokenRow {
  id: number;
  userId: string;
  deviceId: string | null;
  validUntilMs: number | null;
  refreshTokenId: number | null;
  puppetsUserId: string | null;
  deactivated: boolean;
  isGuest: boolean;
  locked: boolean;
  suspended: boolean;
  shadowBanned: boolean;
  isAdmin: boolean;
}

export interface RefreshTokenRow {
  id: number;
  userId: string;
  deviceId: string;
  expiryTs: number | null;
  ultimateSessionExpiryTs: number | null;
  /** Set once exchanged; the old token stays usable until its successor is first used. */
  nextTokenId: number | null;
}

const deviceColumns = `user_id AS "userId", device_id AS "deviceId", display_name AS "displayName",
  last_seen_ts AS "lastSeenTs", last_seen_ip AS "lastSeenIp", last_seen_user_agent AS "lastSeenUserAgent"`;

export class DeviceStore {
  constructor(private readonly db: Queryable) {}

  async list(userId: string): Promise<DeviceRow[]> {
    const { rows } = await this.db.query<DeviceRow>(
      `SELECT ${deviceColumns} FROM devices WHERE user_id = $1 AND NOT hidden ORDER BY created_ts, device_id`,
      [userId],
    );
    return rows;
  }

  async get(userId: string, deviceId: string): Promise<DeviceRow | undefined> {
    const { rows } = await this.db.query<DeviceRow>(
      `SELECT ${deviceColumns} FROM devices WHERE user_id = $1 AND device_id = $2 AND NOT hidden`,
      [userId, deviceId],
    );
    return rows[0];
  }

  /** Inserts the device or, when it exists (login with a known device_id), keeps it; returns true if new. */
  async upsert(tx: Queryable, userId: string, deviceId: string, displayName: string | null, now: number): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (user_id, device_id) DO UPDATE SET
         display_name = COALESCE(devices.display_name, EXCLUDED.display_name), hidden = false
       RETURNING (xmax = 0) AS inserted`,
      [userId, deviceId, displayName, now],
    );
    return Boolean(res.rows[0]?.inserted);
  }

  async setDisplayName(userId: string, deviceId: string, displayName: string | null): Promise<boolean> {
    const res = await this.db.query('UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2 AND NOT hidden', [
      userId,
      deviceId,
      displayName,
    ]);
    return res.rowCount === 1;
  }

  /** Deleting a device cascades to its access and refresh tokens at once. */
  async delete(tx: Queryable, userId: string, deviceIds: string[]): Promise<string[]> {
    const res = await tx.query<{ device_id: string }>(
      'DELETE FROM devices WHERE user_id = $1 AND device_id = ANY($2) RETURNING device_id',
      [userId, deviceIds],
    );
    return res.rows.map((r) => r.device_id);
  }

  async deleteAllExcept(tx: Queryable, userId: string, keepDeviceId: string | null): Promise<string[]> {
    const res = await tx.query<{ device_id: string }>(
      'DELETE FROM devices WHERE user_id = $1 AND ($2::text IS NULL OR device_id <> $2) RETURNING device_id',
      [userId, keepDeviceId],
    );
    return res.rows.map((r) => r.device_id);
  }

  async touch(userId: string, deviceId: string, now: number, ip: string | null, userAgent: string | null): Promise<void> {
    await this.db.query(
      'UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4, last_seen_user_agent = $5 WHERE user_id = $1 AND device_id = $2',
      [userId, deviceId, now, ip, userAgent],
    );
  }

  // --- access tokens ---

  async insertAccessToken(
    tx: Queryable,
    t: { tokenHash: Buffer; userId: string; deviceId: string | null; now: number; validUntilMs: number | null; refreshTokenId: number | null; puppetsUserId?: string | null },
  ): Promise<number> {
    const { rows } = await tx.query<{ id: number }>(
      `INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, valid_until_ms, refresh_token_id, puppets_user_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [t.tokenHash, t.userId, t.deviceId, t.now, t.validUntilMs, t.refreshTokenId, t.puppetsUserId ?? null],
    );
    return rows[0]!.id;
  }

  async findAccessToken(tokenHash: Buffer): Promise<AccessTokenRow | undefined> {
    const { rows } = await this.db.query<AccessTokenRow>(
      `SELECT t.id, t.user_id AS "userId", t.device_id AS "deviceId", t.valid_until_ms AS "validUntilMs",
              t.refresh_token_id AS "refreshTokenId", t.puppets_user_id AS "puppetsUserId",
              u.deactivated, u.is_guest AS "isGuest", u.locked, u.suspended, u.shadow_banned AS "shadowBanned", u.is_admin AS "isAdmin"
       FROM access_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1`,
      [tokenHash],
    );
    return rows[0];
  }

  async deleteAccessToken(tx: Queryable, id: number): Promise<void> {
    await tx.query('DELETE FROM access_tokens WHERE id = $1', [id]);
  }

  /** Hashes of the tokens that a deletion removes, so caches can drop them. */
  async accessTokenHashesForDevices(tx: Queryable, userId: string, deviceIds: string[] | null): Promise<Buffer[]> {
    const { rows } = await tx.query<{ token_hash: Buffer }>(
      'SELECT token_hash FROM access_tokens WHERE user_id = $1 AND ($2::text[] IS NULL OR device_id = ANY($2))',
      [userId, deviceIds],
    );
    return rows.map((r) => r.token_hash);
  }

  async deleteAccessTokensForUser(tx: Queryable, userId: string, exceptTokenId: number | null = null): Promise<void> {
    await tx.query('DELETE FROM access_tokens WHERE user_id = $1 AND ($2::bigint IS NULL OR id <> $2)', [userId, exceptTokenId]);
  }

  // --- refresh tokens ---

  async insertRefreshToken(
    tx: Queryable,
    t: { tokenHash: Buffer; userId: string; deviceId: string; expiryTs: number | null; ultimateSessionExpiryTs: number | null },
  ): Promise<number> {
    const { rows } = await tx.query<{ id: number }>(
      `INSERT INTO refresh_tokens (token_hash, user_id, device_id, expiry_ts, ultimate_session_expiry_ts)
       VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [t.tokenHash, t.userId, t.deviceId, t.expiryTs, t.ultimateSessionExpiryTs],
    );
    return rows[0]!.id;
  }

  async findRefreshToken(tx: Queryable, tokenHash: Buffer): Promise<RefreshTokenRow | undefined> {
    const { rows } = await tx.query<RefreshTokenRow>(
      `SELECT id, user_id AS "userId", device_id AS "deviceId", expiry_ts AS "expiryTs",
              ultimate_session_expiry_ts AS "ultimateSessionExpiryTs", next_token_id AS "nextTokenId"
       FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
      [tokenHash],
    );
    return rows[0];
  }

  async setNextRefreshToken(tx: Queryable, id: number, nextId: number): Promise<void> {
    await tx.query('UPDATE refresh_tokens SET next_token_id = $2 WHERE id = $1', [id, nextId]);
  }

  /**
   * Once a replacement is used, its predecessor and the predecessor's access tokens die.
   * Returns the hashes of those access tokens, so caches can drop them.
   */
  async retirePredecessors(tx: Queryable, refreshTokenId: number): Promise<Buffer[]> {
    const { rows } = await tx.query<{ token_hash: Buffer }>(
      `SELECT a.token_hash FROM access_tokens a JOIN refresh_tokens r ON a.refresh_token_id = r.id WHERE r.next_token_id = $1`,
      [refreshTokenId],
    );
    await tx.query('DELETE FROM refresh_tokens WHERE next_token_id = $1', [refreshTokenId]);
    return rows.map((r) => r.token_hash);
  }
}
