/**
 * The media repository's routes, under /_matrix/media and /_matrix/client/v1/media. Every response
 * there, errors included, carries the media safety headers.
 */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MEDIA_SECURITY_HEADERS } from './responses.js';
import { registerUploadRoutes } from './upload.js';
import { registerDownloadRoutes } from './download.js';
import { registerMediaConfigRoutes } from './config.js';

export function registerMediaRoutes(r: ApiRouter, s: Services): void {
  r.usePrefix(['/_matrix/media', '/_matrix/client/v1/media'], MEDIA_SECURITY_HEADERS);
  registerUploadRoutes(r, s);
  registerDownloadRoutes(r, s);
  registerMediaConfigRoutes(r, s);
}
