/** spec: Server-Server API §2.3 "Retrieving server keys" — GET /_matrix/key/v2/server. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerServerKeyRoutes(r: ApiRouter, s: Services): void {
  // The {keyId} form is deprecated but still asked for by older servers.
  r.add('GET', ['/_matrix/key/v2/server', '/_matrix/key/v2/server/:keyId'], {}, () => s.serverKeys.serverKeys());
}
