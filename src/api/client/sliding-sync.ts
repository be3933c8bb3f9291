/** MSC4186 simplified sliding sync at its unstable path (what Element X and matrix-js-sdk call). */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { parseSlidingSyncRequest } from '../../services/sliding-sync/request.js';

export function registerSlidingSyncRoutes(r: ApiRouter, s: Services): void {
  r.add(
    'POST',
    ['/_matrix/client/unstable/org.matrix.simplified_msc3575/sync'],
    { auth: 'required', allowGuests: true },
    ({ requester, body, query }) => s.slidingSync.handle(requester!, parseSlidingSyncRequest(body, query)),
  );
}
