/** spec: Client-Server API §11.x "User Directory". */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerUserDirectoryRoutes(r: ApiRouter, s: Services): void {
  r.client('POST', '/user_directory/search', { auth: 'required', schema: 'searchUserDirectory' }, ({ requester, body }) =>
    s.userDirectory.search(requester, body.search_term, body.limit),
  );
}
