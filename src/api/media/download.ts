/**
 * spec: Client-Server API §"Content repository" (v1.11 authenticated media) —
 * GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}] and
 * /thumbnail/{serverName}/{mediaId}; and the legacy unauthenticated /_matrix/media/v3 routes,
 * which serve only media uploaded before the cut-over to authenticated media.
 */
import type { ApiRouter, RouteContext } from '../http/router.js';
import { HANDLED } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';
import type { MediaReader } from '../../services/media/access.js';
import { sendMediaFile } from './responses.js';

function readerOf(ctx: RouteContext): MediaReader {
  return ctx.requester ? { userId: ctx.requester.userId, isAdmin: ctx.requester.isAdmin } : {};
}

function timeoutOf(query: Record<string, string | undefined>): number | undefined {
  const raw = query.timeout_ms;
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new MatrixError(400, 'M_INVALID_PARAM', 'timeout_ms must be a non-negative integer');
  return Number(raw);
}

function dimension(query: Record<string, string | undefined>, name: string): number {
  const raw = query[name];
  if (raw === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing ${name}`);
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1) throw new MatrixError(400, 'M_INVALID_PARAM', `${name} must be a positive integer`);
  return Number(raw);
}

export function registerDownloadRoutes(r: ApiRouter, s: Services): void {
  const media = s.media.repository;

  const download = (legacy: boolean) => async (ctx: RouteContext) => {
    const { serverName, mediaId, fileName } = ctx.params;
    const row = await media.resolve(serverName!, mediaId!, readerOf(ctx), { legacy, timeoutMs: timeoutOf(ctx.query) });
    await sendMediaFile(ctx.req, ctx.res, {
      sha256: row.sha256,
      size: row.contentLength,
      contentType: row.contentType,
      filename: fileName ?? row.uploadName,
      open: (range) => media.read(row.sha256, range),
      private: !legacy,
    });
    return HANDLED;
  };

  const thumbnail = (legacy: boolean) => async (ctx: RouteContext) => {
    const { serverName, mediaId } = ctx.params;
    const width = dimension(ctx.query, 'width');
    const height = dimension(ctx.query, 'height');
    const method = ctx.query.method ?? 'scale';
    if (method !== 'scale' && method !== 'crop') throw new MatrixError(400, 'M_INVALID_PARAM', 'method must be scale or crop');
    const animatedRaw = ctx.query.animated;
    if (animatedRaw !== undefined && animatedRaw !== 'true' && animatedRaw !== 'false') {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'animated must be true or false');
    }
    const row = await media.resolve(serverName!, mediaId!, readerOf(ctx), { legacy, timeoutMs: timeoutOf(ctx.query) });
    const thumb = await s.media.thumbnails.thumbnail(row, { width, height, method, animated: animatedRaw === 'true' });
    await sendMediaFile(ctx.req, ctx.res, {
      sha256: thumb.sha256,
      size: thumb.contentLength,
      contentType: thumb.contentType,
      filename: undefined,
      open: (range) => media.read(thumb.sha256, range),
      private: !legacy,
    });
    return HANDLED;
  };

  const v1 = '/_matrix/client/v1/media';
  r.add('GET', [`${v1}/download/:serverName/:mediaId{/:fileName}`], { auth: 'required', allowGuests: true }, download(false));
  r.add('GET', [`${v1}/thumbnail/:serverName/:mediaId`], { auth: 'required', allowGuests: true }, thumbnail(false));

  // Legacy, unauthenticated: only media from before the cut-over (enable_authenticated_media).
  r.add('GET', ['/_matrix/media/v3/download/:serverName/:mediaId{/:fileName}', '/_matrix/media/r0/download/:serverName/:mediaId{/:fileName}'], { auth: 'none' }, download(true));
  r.add('GET', ['/_matrix/media/v3/thumbnail/:serverName/:mediaId', '/_matrix/media/r0/thumbnail/:serverName/:mediaId'], { auth: 'none' }, thumbnail(true));
}
