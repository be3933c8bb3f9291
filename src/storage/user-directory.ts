/** User directory queries (spec: Client-Server API §11.x "User Directory"). */
import type { Queryable } from './database.js';

export interface DirectoryUser {
  userId: string;
  displayName: string | null;
  avatarUrl: string | null;
}

export class UserDirectoryStore {
  constructor(private readonly db: Queryable) {}

  /**
   * Local users whose ID or display name contains every word of the term, best matches first
   * (exact and prefix matches before infix ones). With `sharedWith`, only users who share a room
   * with that user or are in a public room (Synapse's rule when search_all_users is off).
   */
  async search(term: string, limit: number, sharedWith?: string): Promise<DirectoryUser[]> {
    const words = term.toLowerCase().split(/\s+/).filter(Boolean).slice(0, 8);
    if (!words.length) return [];
    const params: unknown[] = [limit];
    const conds = words.map((w) => {
      params.push(`%${w.replace(/[%_\\]/g, '\\$&')}%`);
      return `(lower(u.user_id) LIKE $${params.length} OR lower(p.displayname) LIKE $${params.length})`;
    });
    params.push(words[0]!.replace(/[%_\\]/g, '\\$&') + '%');
    const prefix = `$${params.length}`;
    let scope = '';
    if (sharedWith) {
      params.push(sharedWith);
      const me = `$${params.length}`;
      scope = `AND (u.user_id = ${me} OR EXISTS (
        SELECT 1 FROM current_state a JOIN current_state b ON b.room_id = a.room_id
        WHERE a.type = 'm.room.member' AND a.state_key = u.user_id AND a.membership = 'join'
          AND b.type = 'm.room.member' AND b.state_key = ${me} AND b.membership = 'join')
        OR EXISTS (SELECT 1 FROM current_state a JOIN rooms r ON r.room_id = a.room_id
        WHERE a.type = 'm.room.member' AND a.state_key = u.user_id AND a.membership = 'join' AND r.is_public))`;
    }
    const { rows } = await this.db.query<{ user_id: string; displayname: string | null; avatar_url: string | null }>(
      `SELECT u.user_id, p.displayname, p.avatar_url FROM users u JOIN profiles p ON p.user_id = u.user_id
       WHERE NOT u.deactivated AND NOT u.is_guest AND u.appservice_id IS NULL AND ${conds.join(' AND ')} ${scope}
       ORDER BY (lower(p.displayname) LIKE ${prefix} OR lower(substring(u.user_id from 2)) LIKE ${prefix}) DESC,
                p.displayname NULLS LAST, u.user_id
       LIMIT $1`,
      params,
    );
    return rows.map((r) => ({ userId: r.user_id, displayName: r.displayname, avatarUrl: r.avatar_url }));
  }
}
