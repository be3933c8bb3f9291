/** push_rules: each user's customisations of the default push ruleset. */
import type { Queryable } from './database.js';
import type { UserPushRules } from '../matrix/push-rules/index.js';

export class PushRuleStore {
  constructor(private readonly db: Queryable) {}

  async get(userId: string, db: Queryable = this.db, forUpdate = false): Promise<UserPushRules | undefined> {
    const { rows } = await db.query<{ rules: UserPushRules }>(
      `SELECT rules FROM push_rules WHERE user_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [userId],
    );
    return rows[0]?.rules;
  }

  /** The customisations of many users in one query (users without any are absent). */
  async getMany(userIds: string[]): Promise<Map<string, UserPushRules>> {
    if (!userIds.length) return new Map();
    const { rows } = await this.db.query<{ user_id: string; rules: UserPushRules }>('SELECT user_id, rules FROM push_rules WHERE user_id = ANY($1)', [userIds]);
    return new Map(rows.map((r) => [r.user_id, r.rules]));
  }

  async put(tx: Queryable, userId: string, rules: UserPushRules): Promise<void> {
    await tx.query(
      'INSERT INTO push_rules (user_id, rules) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET rules = EXCLUDED.rules',
      [userId, JSON.stringify(rules)],
    );
  }
}
