/** openid_tokens: short-lived tokens a user hands to a third party to prove who they are. */
import type { Queryable } from './database.js';

export class OpenIdStore {
  constructor(private readonly db: Queryable) {}

  async insert(tokenHash: Buffer, userId: string, expiresTs: number, now: number): Promise<void> {
    await this.db.query('DELETE FROM openid_tokens WHERE expires_ts < $1', [now]);
    await this.db.query('INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)', [tokenHash, userId, expiresTs]);
  }

  async userFor(tokenHash: Buffer, now: number): Promise<string | undefined> {
    const { rows } = await this.db.query<{ user_id: string }>('SELECT user_id FROM openid_tokens WHERE token_hash = $1 AND expires_ts > $2', [tokenHash, now]);
    return rows[0]?.user_id;
  }
}
