/**
 * spec: Client-Server API §"Content repository" — GET /_matrix/client/v1/media/config and
 * /preview_url, with their deprecated /_matrix/media/v3 twins (which also need a token).
 */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';

export function registerMediaConfigRoutes(r: ApiRouter, s: Services): void {
  r.add('GET', ['/_matrix/client/v1/media/config', '/_matrix/media/v3/config', '/_matrix/media/r0/config'], { auth: 'required', allowGuests: true }, () =>
    s.media.repository.mediaConfig(),
  );

  r.add('GET', ['/_matrix/client/v1/media/preview_url', '/_matrix/media/v3/preview_url', '/_matrix/media/r0/preview_url'], { auth: 'required' }, async ({ query, requester }) => {
    if (!query.url) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing url');
    return s.media.previews.preview(query.url, requester!.userId);
  });
}
