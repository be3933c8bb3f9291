/** spec: Client-Server API "Listing notifications": GET /notifications. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { invalidParam } from '../../errors.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

export function registerNotificationRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/notifications', { auth: 'required' }, ({ requester, query }) => {
    let from: number | undefined;
    if (query.from !== undefined && query.from !== '') {
      // next_token is the stream position of the previous page's last notification.
      if (!/^\d{1,16}$/.test(query.from)) throw invalidParam("'from' is not a token this server gave out");
      from = Number(query.from);
    }
    let limit = DEFAULT_LIMIT;
    if (query.limit !== undefined && query.limit !== '') {
      if (!/^\d{1,16}$/.test(query.limit)) throw invalidParam("'limit' must be a non-negative integer");
      limit = Math.min(Number(query.limit), MAX_LIMIT);
    }
    // spec: "only: Allows basic filtering of events returned. Supply highlight to return only
    // events where the notification had the highlight tweak set." Other values filter nothing.
    const onlyHighlight = query.only === 'highlight';
    return s.notifications.list(requester.userId, { from, limit, onlyHighlight });
  });
}
