/** users and profiles tables. */
import type { Queryable } from './database.js';

export interface UserRow {
  userId: string;
  passwordHash: string | null;
  createdTs: number;
  isAdmin: boolean;
  isGuest: boolean;
  userType: string | null;
  deactivated: boolean;
  locked: boolean;
  suspended: boolean;
  shadowBanned: boolean;
  appserviceId: string | null;
}

export interface Profile {
  displayname: string | null;
  avatar_url: string | null;
}

const userColumns = `user_id AS "userId", password_hash AS "passwordHash", created_ts AS "createdTs",
  is_admin AS "isAdmin", is_guest AS "isGuest", user_type AS "userType", deactivated, locked, suspended,
  shadow_banned AS "shadowBanned", appservice_id AS "appserviceId"`;

export class UserStore {
  constructor(private readonly db: Queryable) {}

  async get(userId: string): Promise<UserRow | undefined> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE user_id = $1`, [userId]);
    return rows[0];
  }

  /** Case-insensitive lookup, as registration availability and Synapse's login do. */
  async findCaseInsensitive(userId: string): Promise<UserRow[]> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE lower(user_id) = lower($1)`, [userId]);
    return rows;
  }

  /** Creates the user and an empty profile; false when the ID is taken (in any letter case). */
  async create(
    tx: Queryable,
    user: { userId: string; passwordHash: string | null; createdTs: number; isAdmin?: boolean; isGuest?: boolean; userType?: string | null; appserviceId?: string | null; displayname?: string | null },
  ): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO users (user_id, password_hash, created_ts, is_admin, is_guest, user_type, appservice_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [user.userId, user.passwordHash, user.createdTs, user.isAdmin ?? false, user.isGuest ?? false, user.userType ?? null, user.appserviceId ?? null],
    );
    if (res.rowCount !== 1) return false;
    await tx.query('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [user.userId, user.displayname ?? null]);
    return true;
  }

  /**
   * The next numeric guest localpart. Takes a transaction-scoped advisory lock, so concurrent
   * guest registrations are numbered one after another instead of colliding.
   */
  async nextGuestLocalpart(tx: Queryable): Promise<string> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('veche:guest_localpart'))`);
    const { rows } = await tx.query<{ n: number }>(
      `SELECT COALESCE(max(substring(user_id from '^@([0-9]+):')::bigint), 0) + 1 AS n FROM users WHERE is_guest`,
    );
    return String(rows[0]!.n);
  }

  async setPasswordHash(tx: Queryable, userId: string, hash: string | null): Promise<void> {
    await tx.query('UPDATE users SET password_hash = $2 WHERE user_id = $1', [userId, hash]);
  }

  async setDeactivated(tx: Queryable, userId: string, deactivated: boolean): Promise<void> {
    await tx.query('UPDATE users SET deactivated = $2 WHERE user_id = $1', [userId, deactivated]);
  }

  async setAdmin(userId: string, isAdmin: boolean): Promise<void> {
    await this.db.query('UPDATE users SET is_admin = $2 WHERE user_id = $1', [userId, isAdmin]);
  }

  async getProfile(userId: string): Promise<Profile | undefined> {
    const { rows } = await this.db.query<Profile>('SELECT displayname, avatar_url FROM profiles WHERE user_id = $1', [userId]);
    return rows[0];
  }

  async setProfileField(tx: Queryable, userId: string, field: 'displayname' | 'avatar_url', value: string | null): Promise<void> {
    await tx.query(`UPDATE profiles SET ${field === 'displayname' ? 'displayname' : 'avatar_url'} = $2 WHERE user_id = $1`, [userId, value]);
  }

  /** Extended profile fields (spec v1.16 custom profile keys), beside displayname and avatar_url. */
  async getProfileFields(userId: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.db.query<{ fields: Record<string, unknown> }>('SELECT fields FROM profiles WHERE user_id = $1', [userId]);
    return rows[0]?.fields;
  }

  /** Sets (or with null removes) one custom field; false when the profile would exceed maxBytes. */
  async setProfileCustomField(tx: Queryable, userId: string, key: string, value: unknown, maxBytes: number): Promise<boolean> {
    const res = await tx.query(
      `UPDATE profiles SET fields = CASE WHEN $3::jsonb IS NULL THEN fields - $2 ELSE jsonb_set(fields, ARRAY[$2], $3::jsonb) END
       WHERE user_id = $1 AND octet_length((CASE WHEN $3::jsonb IS NULL THEN fields - $2 ELSE jsonb_set(fields, ARRAY[$2], $3::jsonb) END)::text) <= $4`,
      [userId, key, value === null ? null : JSON.stringify(value), maxBytes],
    );
    return res.rowCount === 1;
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    return rows[0]!.n;
  }
}
