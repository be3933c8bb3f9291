/** spec: Client-Server API §8.x "Syncing" (GET /sync) and §8.x "Filtering". */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError, forbidden, notFound } from '../../errors.js';
import { parseSyncFilter } from '../../services/sync/filter.js';

function flag(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

export function registerSyncRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/sync', { auth: 'required', allowGuests: true }, ({ requester, query }) => {
    let timeout = 0;
    if (query.timeout !== undefined) {
      timeout = Number(query.timeout);
      if (!Number.isFinite(timeout) || timeout < 0) throw new MatrixError(400, 'M_INVALID_PARAM', 'timeout must be a non-negative number');
    }
    return s.sync.sync(requester, {
      since: query.since,
      timeout,
      fullState: flag(query.full_state),
      filter: query.filter,
      setPresence: query.set_presence,
      useStateAfter: flag(query['org.matrix.msc4222.use_state_after']) ? 'unstable' : flag(query.use_state_after) ? 'stable' : false,
    });
  });

  r.client('POST', '/user/:userId/filter', { auth: 'required', allowGuests: true, schema: 'defineFilter' }, async ({ requester, params, body }) => {
    if (params.userId !== requester.userId) throw forbidden('Cannot create filters for other users');
    parseSyncFilter(body);
    return { filter_id: String(await s.storage.filters.add(requester.userId, body)) };
  });

  r.client('GET', '/user/:userId/filter/:filterId', { auth: 'required', allowGuests: true }, async ({ requester, params }) => {
    if (params.userId !== requester.userId) throw forbidden('Cannot read filters of other users');
    if (!/^\d+$/.test(params.filterId!)) throw notFound('No such filter');
    const filter = await s.storage.filters.get(requester.userId, Number(params.filterId));
    if (!filter) throw notFound('No such filter');
    return filter;
  });
}
