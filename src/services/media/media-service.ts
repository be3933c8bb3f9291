/**
 * The media repository (spec: Client-Server API §"Content repository"): uploads (direct and
 * asynchronous), the one access check every read passes, the size limit and the per-user quota.
 * Bytes stream from the request to disk and from disk to the response; none is held whole.
 */
import type { Readable } from 'node:stream';
import type { Config } from '../../config/index.js';
import { MatrixError, forbidden, notFound } from '../../errors.js';
import { getLogger } from '../../logging.js';
import type { MediaRow, MediaStore } from '../../storage/media.js';
import type { MediaAccessPolicy, MediaReader } from './access.js';
import { type ContentStore, SizeLimitExceeded } from './content-store.js';
import { isValidMediaId, mxcUri, newMediaId } from './ids.js';
import { isValidServerName } from '../../matrix/ids.js';

const log = getLogger('media');

/** A media ID whose bytes are stored. */
export type StoredMedia = MediaRow & { sha256: string; contentLength: number; uploadedTs: number };

export interface UploadMeta {
  /** Content-Length of the request, when the client sent one. */
  declaredLength?: number;
  contentType?: string;
  filename?: string;
  /** Veche: limit reading to the members of this room (the uploader must be one). */
  restrictedToRoom?: string;
}

export interface MediaServiceDeps {
  store: MediaStore;
  content: ContentStore;
  config: Config;
  access: MediaAccessPolicy;
  now?: () => number;
}

/** Longest a download of a pending media ID may wait for its upload (spec: timeout_ms). */
const MAX_WAIT_MS = 120_000;
const DEFAULT_WAIT_MS = 20_000;

export function tooLarge(limit: number): MatrixError {
  return new MatrixError(413, 'M_TOO_LARGE', `The file is larger than the server's limit of ${limit} bytes`, {}, { Connection: 'close' });
}

function quotaExceeded(used: number, quota: number): MatrixError {
  return new MatrixError(
    403,
    'M_RESOURCE_LIMIT_EXCEEDED',
    `This upload would exceed your media storage quota: you use ${used} of ${quota} bytes. Delete some media or ask your server administrator for more.`,
    { limit_type: 'org.veche.media_storage_quota', used_bytes: used, quota_bytes: quota },
    { Connection: 'close' },
  );
}

export class MediaService {
  private readonly store: MediaStore;
  readonly content: ContentStore;
  private readonly config: Config;
  private readonly access: MediaAccessPolicy;
  private readonly now: () => number;
  /** Pending media IDs an upload is streaming into right now (a second one is refused early). */
  private readonly uploading = new Set<string>();

  constructor(deps: MediaServiceDeps) {
    this.store = deps.store;
    this.content = deps.content;
    this.config = deps.config;
    this.access = deps.access;
    this.now = deps.now ?? Date.now;
  }

  async init(): Promise<void> {
    await this.content.init();
  }

  get serverName(): string {
    return this.config.serverName;
  }

  /** spec: GET /_matrix/client/v1/media/config */
  mediaConfig(): Record<string, unknown> {
    return { 'm.upload.size': this.config.maxUploadSize };
  }

  /** POST /_matrix/media/v3/upload: stores the bytes, then gives them a new media ID. */
  async upload(userId: string, body: Readable, meta: UploadMeta): Promise<{ contentUri: string; mediaId: string }> {
    if (meta.restrictedToRoom) await this.checkMayRestrict(userId, meta.restrictedToRoom);
    const stored = await this.receive(userId, body, meta);
    const mediaId = newMediaId();
    await this.store.insertUploaded({
      mediaId,
      userId,
      authenticated: this.config.media.enableAuthenticatedMedia,
      restrictedToRoom: meta.restrictedToRoom,
      uploadName: meta.filename,
      contentType: meta.contentType,
      contentLength: stored.length,
      sha256: stored.sha256,
      uploadedTs: this.now(),
    });
    log.info('stored media', { media_id: mediaId, user: userId, bytes: stored.length });
    return { contentUri: mxcUri(this.serverName, mediaId), mediaId };
  }

  /** spec: POST /_matrix/media/v1/create — a media ID to upload to later. */
  async create(userId: string, options: { restrictedToRoom?: string } = {}): Promise<{ content_uri: string; unused_expires_at: number }> {
    if (options.restrictedToRoom) await this.checkMayRestrict(userId, options.restrictedToRoom);
    const now = this.now();
    await this.store.deleteExpiredPending(now);
    const pending = await this.store.countPending(userId, now);
    if (pending.count >= this.config.media.maxPendingUploads) {
      const retry = Math.max(1000, (pending.firstExpiry ?? now + 60_000) - now);
      throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many pending media uploads: upload to those first', { retry_after_ms: retry }, {
        'Retry-After': String(Math.ceil(retry / 1000)),
      });
    }
    const mediaId = newMediaId();
    const unusedExpiresAt = now + this.config.media.unusedExpirationTime;
    await this.store.insertPending({
      mediaId,
      userId,
      createdTs: now,
      unusedExpiresAt,
      authenticated: this.config.media.enableAuthenticatedMedia,
      restrictedToRoom: options.restrictedToRoom,
    });
    return { content_uri: mxcUri(this.serverName, mediaId), unused_expires_at: unusedExpiresAt };
  }

  /** spec: PUT /_matrix/media/v3/upload/{serverName}/{mediaId} — fills a media ID from /create. */
  async uploadPending(userId: string, serverName: string, mediaId: string, body: Readable, meta: UploadMeta): Promise<void> {
    checkMediaAddress(serverName, mediaId);
    if (serverName !== this.serverName) throw forbidden('Cannot upload to media of another server');
    const row = await this.store.get(mediaId);
    const now = this.now();
    if (!row || (row.uploadedTs === undefined && (row.unusedExpiresAt ?? 0) < now)) throw notFound('Unknown media ID');
    if (row.userId !== userId) throw forbidden('This media ID was created by another user');
    if (row.uploadedTs !== undefined || this.uploading.has(mediaId)) {
      throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media ID already has content', {}, { Connection: 'close' });
    }
    this.uploading.add(mediaId);
    try {
      const stored = await this.receive(userId, body, meta);
      const done = await this.store.completePending(mediaId, {
        uploadName: meta.filename,
        contentType: meta.contentType,
        contentLength: stored.length,
        sha256: stored.sha256,
        uploadedTs: this.now(),
      });
      if (!done) {
        const again = await this.store.get(mediaId);
        if (again?.uploadedTs !== undefined) throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media ID already has content');
        throw notFound('Unknown media ID');
      }
    } finally {
      this.uploading.delete(mediaId);
    }
  }

  /**
   * Streams a request body into the content store under the upload size limit and what is left
   * of the user's quota. The declared length is checked before a byte is read.
   */
  private async receive(userId: string, body: Readable, meta: UploadMeta): Promise<{ sha256: string; length: number }> {
    const maxSize = this.config.maxUploadSize;
    const quota = this.config.media.quotaPerUser;
    const used = quota !== undefined ? await this.store.bytesUsedBy(userId) : 0;
    const remaining = quota !== undefined ? Math.max(0, quota - used) : Number.MAX_SAFE_INTEGER;
    const declared = meta.declaredLength;
    if (declared !== undefined) {
      if (declared > maxSize) throw tooLarge(maxSize);
      if (declared > remaining) throw quotaExceeded(used, quota!);
    }
    const limit = Math.min(maxSize, remaining);
    try {
      return await this.content.write(body, limit);
    } catch (err) {
      if (err instanceof SizeLimitExceeded) {
        throw limit === maxSize ? tooLarge(maxSize) : quotaExceeded(used, quota!);
      }
      throw err;
    }
  }

  private async checkMayRestrict(userId: string, roomId: string): Promise<void> {
    const probe: MediaRow = { mediaId: '', userId, createdTs: 0, authenticated: true, restrictedToRoom: roomId };
    if (!(await this.access({ userId }, probe))) {
      throw forbidden('You can restrict media only to a room you are joined to');
    }
  }

  /**
   * The media to send for a download or thumbnail request, after the access check. Waits (up to
   * timeout_ms) for a pending asynchronous upload, then gives 504 M_NOT_YET_UPLOADED.
   * `legacy` requests (unauthenticated /_matrix/media/v3) see only media uploaded before the
   * cut-over to authenticated media; anything else is 404, as Synapse answers.
   */
  async resolve(serverName: string, mediaId: string, reader: MediaReader, options: { legacy?: boolean; timeoutMs?: number } = {}): Promise<StoredMedia> {
    checkMediaAddress(serverName, mediaId);
    // No federation yet: media of other servers cannot be fetched.
    if (serverName !== this.serverName) throw notFound('Remote media is not available on this server');
    let row = await this.store.get(mediaId);
    if (!row) throw notFound('Unknown media ID');
    if (options.legacy && row.authenticated) throw notFound('Not found');
    if (!(await this.access(reader, row))) {
      throw options.legacy || !reader.userId ? notFound('Not found') : forbidden('You may not read this media');
    }
    if (row.uploadedTs === undefined) {
      const wait = Math.min(Math.max(0, options.timeoutMs ?? DEFAULT_WAIT_MS), MAX_WAIT_MS);
      const deadline = this.now() + wait;
      while (row && row.uploadedTs === undefined) {
        if ((row.unusedExpiresAt ?? 0) < this.now()) throw notFound('Unknown media ID');
        if (this.now() >= deadline) {
          throw new MatrixError(504, 'M_NOT_YET_UPLOADED', 'The media has not been uploaded yet');
        }
        await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - this.now()))));
        row = await this.store.get(mediaId);
      }
      if (!row) throw notFound('Unknown media ID');
    }
    return row as StoredMedia;
  }

  /** Bytes of a stored file, whole or an inclusive range. */
  read(sha256: string, range?: { start: number; end: number }): Readable {
    return this.content.read(sha256, range);
  }
}

/** spec: 400 for a server name or media ID that cannot be one. */
export function checkMediaAddress(serverName: string, mediaId: string): void {
  if (!isValidServerName(serverName)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Malformed server name');
  if (!isValidMediaId(mediaId)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Malformed media ID');
}
