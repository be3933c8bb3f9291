/** user_filters: filters uploaded with POST /user/{userId}/filter. */
import type { Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export class FilterStore {
  constructor(private readonly db: Queryable) {}

  async add(userId: string, filter: JsonObject): Promise<number> {
    const { rows } = await this.db.query<{ id: number }>(
      `INSERT INTO user_filters (user_id, filter_id, filter) VALUES ($1, nextval('user_filters_seq'), $2) RETURNING filter_id AS id`,
      [userId, JSON.stringify(filter)],
    );
    return Number(rows[0]!.id);
  }

  async get(userId: string, filterId: number): Promise<JsonObject | undefined> {
    // An ID past what filter_id (BIGINT) holds names no filter; Postgres would refuse the value.
    if (!Number.isSafeInteger(filterId) || filterId < 0) return undefined;
    const { rows } = await this.db.query<{ filter: JsonObject }>('SELECT filter FROM user_filters WHERE user_id = $1 AND filter_id = $2', [userId, filterId]);
    return rows[0]?.filter;
  }
}
