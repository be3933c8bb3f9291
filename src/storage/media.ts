/** local_media and local_media_thumbnails: what each media ID is, who uploaded it, who may read it. */
import type { Queryable } from './database.js';

export interface MediaRow {
  mediaId: string;
  userId: string;
  createdTs: number;
  /** undefined while an asynchronous upload is pending */
  uploadedTs?: number;
  unusedExpiresAt?: number;
  uploadName?: string;
  contentType?: string;
  contentLength?: number;
  sha256?: string;
  authenticated: boolean;
  restrictedToRoom?: string;
}

export interface ThumbnailKey {
  mediaId: string;
  width: number;
  height: number;
  method: 'scale' | 'crop';
  animated: boolean;
}

export interface ThumbnailRow extends ThumbnailKey {
  contentType: string;
  contentLength: number;
  sha256: string;
  actualWidth: number;
  actualHeight: number;
}

export interface StoredContent {
  contentType?: string;
  uploadName?: string;
  contentLength: number;
  sha256: string;
  uploadedTs: number;
}

const COLUMNS = `media_id, user_id, created_ts, uploaded_ts, unused_expires_at, upload_name, content_type,
  content_length, sha256, authenticated, restricted_to_room`;

function toRow(r: any): MediaRow {
  return {
    mediaId: r.media_id,
    userId: r.user_id,
    createdTs: Number(r.created_ts),
    uploadedTs: r.uploaded_ts ?? undefined,
    unusedExpiresAt: r.unused_expires_at ?? undefined,
    uploadName: r.upload_name ?? undefined,
    contentType: r.content_type ?? undefined,
    contentLength: r.content_length ?? undefined,
    sha256: r.sha256 ?? undefined,
    authenticated: r.authenticated,
    restrictedToRoom: r.restricted_to_room ?? undefined,
  };
}

export class MediaStore {
  constructor(private readonly db: Queryable) {}

  async get(mediaId: string): Promise<MediaRow | undefined> {
    const { rows } = await this.db.query(`SELECT ${COLUMNS} FROM local_media WHERE media_id = $1`, [mediaId]);
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  /** A media ID whose bytes are already stored (POST /upload). */
  async insertUploaded(row: { mediaId: string; userId: string; authenticated: boolean; restrictedToRoom?: string } & StoredContent): Promise<void> {
    await this.db.query(
      `INSERT INTO local_media (media_id, user_id, created_ts, uploaded_ts, upload_name, content_type, content_length, sha256, authenticated, restricted_to_room)
       VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)`,
      [row.mediaId, row.userId, row.uploadedTs, row.uploadName ?? null, row.contentType ?? null, row.contentLength, row.sha256, row.authenticated, row.restrictedToRoom ?? null],
    );
  }

  /** A media ID reserved for a later upload (POST /create). */
  async insertPending(row: { mediaId: string; userId: string; createdTs: number; unusedExpiresAt: number; authenticated: boolean; restrictedToRoom?: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO local_media (media_id, user_id, created_ts, unused_expires_at, authenticated, restricted_to_room)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [row.mediaId, row.userId, row.createdTs, row.unusedExpiresAt, row.authenticated, row.restrictedToRoom ?? null],
    );
  }

  /**
   * Fills in a pending media ID. False when it was filled meanwhile (or has expired): only one
   * upload wins (spec: M_CANNOT_OVERWRITE_MEDIA).
   */
  async completePending(mediaId: string, content: StoredContent): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE local_media SET uploaded_ts = $2, upload_name = $3, content_type = $4, content_length = $5, sha256 = $6
       WHERE media_id = $1 AND uploaded_ts IS NULL AND unused_expires_at >= $2`,
      [mediaId, content.uploadedTs, content.uploadName ?? null, content.contentType ?? null, content.contentLength, content.sha256],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Pending media IDs of a user that may still be uploaded to. */
  async countPending(userId: string, now: number): Promise<{ count: number; firstExpiry?: number }> {
    const { rows } = await this.db.query<{ n: number; first: number | null }>(
      `SELECT count(*)::int AS n, min(unused_expires_at) AS first FROM local_media
       WHERE user_id = $1 AND uploaded_ts IS NULL AND unused_expires_at >= $2`,
      [userId, now],
    );
    return { count: rows[0]!.n, firstExpiry: rows[0]!.first ?? undefined };
  }

  /** Forgets pending media IDs nobody uploaded to in time. */
  async deleteExpiredPending(now: number): Promise<number> {
    const { rowCount } = await this.db.query(`DELETE FROM local_media WHERE uploaded_ts IS NULL AND unused_expires_at < $1`, [now]);
    return rowCount ?? 0;
  }

  /** Bytes a user's uploads take, counted per media ID (what the quota limits). */
  async bytesUsedBy(userId: string): Promise<number> {
    const { rows } = await this.db.query<{ total: string | null }>(
      `SELECT sum(content_length)::text AS total FROM local_media WHERE user_id = $1 AND uploaded_ts IS NOT NULL`,
      [userId],
    );
    return Number(rows[0]?.total ?? 0);
  }

  async setRestrictedToRoom(mediaId: string, roomId: string | null): Promise<void> {
    await this.db.query(`UPDATE local_media SET restricted_to_room = $2 WHERE media_id = $1`, [mediaId, roomId]);
  }

  async getThumbnail(key: ThumbnailKey): Promise<ThumbnailRow | undefined> {
    const { rows } = await this.db.query(
      `SELECT content_type, content_length, sha256, actual_width, actual_height FROM local_media_thumbnails
       WHERE media_id = $1 AND width = $2 AND height = $3 AND method = $4 AND animated = $5`,
      [key.mediaId, key.width, key.height, key.method, key.animated],
    );
    const r = rows[0];
    if (!r) return undefined;
    return { ...key, contentType: r.content_type, contentLength: Number(r.content_length), sha256: r.sha256, actualWidth: r.actual_width, actualHeight: r.actual_height };
  }

  async insertThumbnail(t: ThumbnailRow, now: number): Promise<void> {
    await this.db.query(
      `INSERT INTO local_media_thumbnails (media_id, width, height, method, animated, content_type, content_length, sha256, actual_width, actual_height, created_ts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [t.mediaId, t.width, t.height, t.method, t.animated, t.contentType, t.contentLength, t.sha256, t.actualWidth, t.actualHeight, now],
    );
  }
}
