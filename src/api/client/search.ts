/** spec: Client-Server API §11.x "Server Side Search" (POST /search). */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerSearchRoutes(r: ApiRouter, s: Services): void {
  r.client('POST', '/search', { auth: 'required', schema: 'search' }, ({ requester, body, query }) =>
    s.search.search(requester, body, query.next_batch),
  );
}
