/**
 * spec: Client-Server API §"Content repository" — POST /_matrix/media/v3/upload, and the
 * asynchronous pair POST /_matrix/media/v1/create + PUT /_matrix/media/v3/upload/{serverName}/{mediaId}.
 * The body is the file itself and is streamed to disk by the media service (rawBody routes).
 */
import type { Request } from 'express';
import { HANDLED, type ApiRouter } from '../http/router.js';
import { getLogger } from '../../logging.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';
import type { UploadMeta } from '../../services/media/media-service.js';

const log = getLogger('media.upload');

/** Veche extension: restrict the media to the members of a room (query parameter). */
const RESTRICT_PARAM = 'org.veche.restricted_to_room';

function uploadMeta(req: Request, query: Record<string, string | undefined>): UploadMeta {
  const length = req.headers['content-length'];
  const declared = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
  const filename = query.filename;
  if (filename !== undefined && (filename.length > 255 || /[\u0000-\u001f\u007f]/.test(filename))) {
    throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid filename');
  }
  const contentType = req.headers['content-type']?.trim() || undefined;
  if (contentType && (contentType.length > 255 || /[\u0000-\u001f\u007f]/.test(contentType))) {
    throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid Content-Type');
  }
  return { declaredLength: declared, filename: filename || undefined, contentType, restrictedToRoom: query[RESTRICT_PARAM] || undefined };
}

/**
 * An upload refused before its body was read: the client is probably still sending it, so the
 * rest is drained (never buffered) and the answer closes the connection (its header says so).
 */
async function withDrainOnError(req: Request, fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return await fn();
  } catch (err) {
    // The client hung up mid-upload: nobody is left to answer (and nothing was stored).
    if (req.destroyed && !req.complete) {
      log.info('upload cut off by the client', { path: req.path });
      return HANDLED;
    }
    if (!req.readableEnded) req.resume();
    throw err;
  }
}

export function registerUploadRoutes(r: ApiRouter, s: Services): void {
  const media = s.media.repository;

  r.add('POST', ['/_matrix/media/v3/upload', '/_matrix/media/r0/upload'], { auth: 'required', rawBody: true }, ({ req, requester, query }) =>
    withDrainOnError(req, async () => {
      const { contentUri } = await media.upload(requester!.userId, req, uploadMeta(req, query));
      return { content_uri: contentUri };
    }),
  );

  r.add('POST', ['/_matrix/media/v1/create'], { auth: 'required' }, async ({ requester, query }) => {
    return media.create(requester!.userId, { restrictedToRoom: query[RESTRICT_PARAM] || undefined });
  });

  r.add('PUT', ['/_matrix/media/v3/upload/:serverName/:mediaId'], { auth: 'required', rawBody: true }, ({ req, requester, params, query }) =>
    withDrainOnError(req, async () => {
      const meta = uploadMeta(req, query);
      delete meta.restrictedToRoom; // fixed at /create
      await media.uploadPending(requester!.userId, params.serverName!, params.mediaId!, req, meta);
      return {};
    }),
  );
}
