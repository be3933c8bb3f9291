/**
 * POST /user_directory/search. A corporate server lets everyone find everyone (Synapse's
 * user_directory.search_all_users, on by default here); the config can narrow it to users who
 * share a room with the searcher.
 */
import type { UserDirectoryStore } from '../storage/user-directory.js';
import { MatrixError } from '../errors.js';
import type { Requester } from './auth.js';

const MAX_LIMIT = 50;

export class UserDirectoryService {
  constructor(
    private readonly store: UserDirectoryStore,
    private readonly searchAllUsers: boolean,
  ) {}

  async search(requester: Requester, term: unknown, limit: unknown): Promise<{ results: Record<string, string>[]; limited: boolean }> {
    if (typeof term !== 'string') throw new MatrixError(400, 'M_BAD_JSON', "'search_term' must be a string");
    let n = 10;
    if (limit !== undefined) {
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) throw new MatrixError(400, 'M_BAD_JSON', "'limit' must be a non-negative integer");
      n = Math.min(limit, MAX_LIMIT);
    }
    const found = await this.store.search(term, n + 1, this.searchAllUsers ? undefined : requester.userId);
    const results = found.slice(0, n).map((u) => {
      const r: Record<string, string> = { user_id: u.userId };
      if (u.displayName) r.display_name = u.displayName;
      if (u.avatarUrl) r.avatar_url = u.avatarUrl;
      return r;
    });
    return { results, limited: found.length > n };
  }
}
