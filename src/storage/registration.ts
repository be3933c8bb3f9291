/** registration_tokens, ui_auth_sessions and admin_register_nonces tables. */
import type { Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export interface RegistrationTokenRow {
  token: string;
  usesAllowed: number | null;
  pending: number;
  completed: number;
  expiryTime: number | null;
}

export interface UiAuthSessionRow {
  sessionId: string;
  creationTs: number;
  uri: string;
  method: string;
  userId: string | null;
  clientdict: JsonObject;
  completed: Record<string, unknown>;
  data: JsonObject;
}

export class RegistrationStore {
  constructor(private readonly db: Queryable) {}

  // --- registration tokens (created by the admin API; spec: Client-Server API §4.5.x m.login.registration_token) ---

  async getToken(token: string): Promise<RegistrationTokenRow | undefined> {
    const { rows } = await this.db.query<RegistrationTokenRow>(
      `SELECT token, uses_allowed AS "usesAllowed", pending, completed, expiry_time AS "expiryTime"
       FROM registration_tokens WHERE token = $1`,
      [token],
    );
    return rows[0];
  }

  async createToken(t: { token: string; usesAllowed: number | null; expiryTime: number | null }): Promise<boolean> {
    const res = await this.db.query(
      'INSERT INTO registration_tokens (token, uses_allowed, expiry_time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [t.token, t.usesAllowed, t.expiryTime],
    );
    return res.rowCount === 1;
  }

  /** Reserves one use of a token while a registration is in progress; false if none is left. */
  async reserveToken(tx: Queryable, token: string, now: number): Promise<boolean> {
    const res = await tx.query(
      `UPDATE registration_tokens SET pending = pending + 1 WHERE token = $1
         AND (expiry_time IS NULL OR expiry_time > $2)
         AND (uses_allowed IS NULL OR pending + completed < uses_allowed)`,
      [token, now],
    );
    return res.rowCount === 1;
  }

  async completeToken(tx: Queryable, token: string): Promise<void> {
    await tx.query('UPDATE registration_tokens SET pending = pending - 1, completed = completed + 1 WHERE token = $1', [token]);
  }

  // --- user-interactive auth sessions ---

  async createSession(s: Omit<UiAuthSessionRow, 'completed' | 'data'>): Promise<void> {
    await this.db.query(
      'INSERT INTO ui_auth_sessions (session_id, creation_ts, uri, method, user_id, clientdict) VALUES ($1, $2, $3, $4, $5, $6)',
      [s.sessionId, s.creationTs, s.uri, s.method, s.userId, JSON.stringify(s.clientdict)],
    );
  }

  async getSession(sessionId: string): Promise<UiAuthSessionRow | undefined> {
    const { rows } = await this.db.query<UiAuthSessionRow>(
      `SELECT session_id AS "sessionId", creation_ts AS "creationTs", uri, method, user_id AS "userId",
              clientdict, completed, data FROM ui_auth_sessions WHERE session_id = $1`,
      [sessionId],
    );
    return rows[0];
  }

  async markStageCompleted(sessionId: string, stage: string, result: unknown, data?: JsonObject): Promise<void> {
    await this.db.query(
      `UPDATE ui_auth_sessions SET completed = completed || jsonb_build_object($2::text, $3::jsonb),
         data = data || $4::jsonb WHERE session_id = $1`,
      [sessionId, stage, JSON.stringify(result), JSON.stringify(data ?? {})],
    );
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.db.query('DELETE FROM ui_auth_sessions WHERE session_id = $1', [sessionId]);
  }

  async deleteSessionsOlderThan(ts: number): Promise<void> {
    await this.db.query('DELETE FROM ui_auth_sessions WHERE creation_ts < $1', [ts]);
  }

  // --- shared-secret admin registration nonces ---

  async addNonce(nonce: string, now: number): Promise<void> {
    await this.db.query('INSERT INTO admin_register_nonces (nonce, created_ts) VALUES ($1, $2)', [nonce, now]);
  }

  /** Consumes a nonce; false if unknown, used or older than maxAgeMs. */
  async consumeNonce(nonce: string, now: number, maxAgeMs: number): Promise<boolean> {
    await this.db.query('DELETE FROM admin_register_nonces WHERE created_ts < $1', [now - maxAgeMs]);
    const res = await this.db.query('DELETE FROM admin_register_nonces WHERE nonce = $1', [nonce]);
    return res.rowCount === 1;
  }
}
