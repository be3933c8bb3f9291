/**
 * Thumbnails (spec: Client-Server API §"Thumbnails"), made with sharp (libvips) and cached: the
 * first request for a size renders it and stores it like any media file; later ones read the copy.
 * Requested sizes snap to the configured thumbnail_sizes, as Synapse does, so a client cannot make
 * the server render (and keep) an image for every width it can think of.
 *
 * Only JPEG, PNG, GIF and WebP are ever decoded: the claimed Content-Type must be one of them, the
 * file's own magic bytes must say so too, and every other libvips loader (SVG, PDF, TIFF, …) is
 * blocked in this process. SVG and unknown types are never rendered.
 */
import { open } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { MatrixError } from '../../errors.js';
import { getLogger } from '../../logging.js';
import type { MediaConfig } from '../../config/index.js';
import type { MediaStore, ThumbnailRow } from '../../storage/media.js';
import type { ContentStore } from './content-store.js';
import type { StoredMedia } from './media-service.js';

const log = getLogger('media.thumbnails');

type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp';

const THUMBNAILABLE_TYPES: Record<string, ImageFormat> = {
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/pjpeg': 'jpeg',
  'image/png': 'png',
  'image/apng': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

// Defence in depth: even a file that slipped past the checks below reaches no other decoder.
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({
  operation: ['Jpeg', 'Png', 'Nsgif', 'Webp'].flatMap((f) => [`VipsForeignLoad${f}File`, `VipsForeignLoad${f}Buffer`]),
});

// Rendered thumbnails are cached on disk; libvips' own operation cache would only hold memory.
sharp.cache(false);

/** At most this many renders at once: a large image can take a lot of memory while decoding. */
const MAX_CONCURRENT_RENDERS = 2;

/** The image format the file's first bytes announce, if it is one we decode. */
export function sniffImageFormat(head: Buffer): ImageFormat | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (head.length >= 6 && /^GIF8[79]a$/.test(head.subarray(0, 6).toString('latin1'))) return 'gif';
  if (head.length >= 12 && head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return undefined;
}

export interface ThumbnailRequest {
  width: number;
  height: number;
  method: 'scale' | 'crop';
  animated: boolean;
}

export type ThumbnailSize = MediaConfig['thumbnailSizes'][number];

/**
 * The configured size to serve for a request: the smallest of the requested method at least as
 * large as asked for, else the largest (spec: "at least the requested size where possible").
 */
export function selectThumbnailSize(sizes: ThumbnailSize[], width: number, height: number, method: 'scale' | 'crop'): ThumbnailSize {
  const same = sizes.filter((s) => s.method === method);
  const candidates = (same.length ? same : sizes).slice().sort((a, b) => a.width * a.height - b.width * b.height);
  return candidates.find((s) => s.width >= width && s.height >= height) ?? candidates[candidates.length - 1]!;
}

export class ThumbnailService {
  /** Renders in progress, so concurrent requests for one thumbnail render it once. */
  private readonly inFlight = new Map<string, Promise<ThumbnailRow>>();
  private rendering = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly store: MediaStore,
    private readonly content: ContentStore,
    private readonly config: MediaConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached thumbnail for a request, rendering it first if this size was never asked for. */
  async thumbnail(media: StoredMedia, request: ThumbnailRequest): Promise<ThumbnailRow> {
    const declared = THUMBNAILABLE_TYPES[(media.contentType ?? '').split(';')[0]!.trim().toLowerCase()];
    if (!declared) throw cannotThumbnail();
    const size = selectThumbnailSize(this.config.thumbnailSizes, request.width, request.height, request.method);
    // Only GIF and WebP can move; for the rest "animated" changes nothing, so they share one copy.
    const animated = request.animated && (declared === 'gif' || declared === 'webp');
    const key = { mediaId: media.mediaId, width: size.width, height: size.height, method: size.method, animated };
    const cached = await this.store.getThumbnail(key);
    if (cached && (await this.content.exists(cached.sha256))) return cached;
    const id = `${key.mediaId}/${key.width}x${key.height}/${key.method}/${animated}`;
    let rendering = this.inFlight.get(id);
    if (!rendering) {
      rendering = this.limited(() => this.render(media, key)).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, rendering);
    }
    return rendering;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing render hands its slot straight to the next in the queue.
    if (this.rendering >= MAX_CONCURRENT_RENDERS) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.rendering++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.rendering--;
    }
  }

  private async render(media: StoredMedia, key: Omit<ThumbnailRow, 'contentType' | 'contentLength' | 'sha256' | 'actualWidth' | 'actualHeight'>): Promise<ThumbnailRow> {
    const path = this.content.pathOf(media.sha256);
    const format = await this.sniff(path);
    if (!format) throw cannotThumbnail();
    const started = Date.now();
    const animated = key.animated && (format === 'gif' || format === 'webp');
    let image = sharp(path, { limitInputPixels: this.config.maxImagePixels, animated, failOn: 'error' });
    let meta: Metadata;
    try {
      meta = await image.metadata();
    } catch (err) {
      throw imageError(err);
    }
    if ((meta.width ?? 0) * (meta.pageHeight ?? meta.height ?? 0) > this.config.maxImagePixels) {
      throw new MatrixError(413, 'M_TOO_LARGE', 'The image is too large to thumbnail');
    }
    if (!animated) image = image.rotate(); // apply EXIF orientation
    image = image.resize(key.width, key.height, { fit: key.method === 'crop' ? 'cover' : 'inside', withoutEnlargement: true });
    let contentType: string;
    if (animated && (meta.pages ?? 1) > 1) {
      image = image.webp({ quality: 80 });
      contentType = 'image/webp';
    } else if (format === 'jpeg') {
      image = image.jpeg({ quality: 80, mozjpeg: false });
      contentType = 'image/jpeg';
    } else {
      image = image.png();
      contentType = 'image/png';
    }
    let output: { data: Buffer; info: OutputInfo };
    try {
      output = await image.toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw imageError(err);
    }
    const stored = await this.content.writeBuffer(output.data);
    const row: ThumbnailRow = {
      ...key,
      contentType,
      contentLength: stored.length,
      sha256: stored.sha256,
      actualWidth: output.info.width,
      actualHeight: output.info.pageHeight ?? output.info.height,
    };
    await this.store.insertThumbnail(row, this.now());
    log.debug('rendered thumbnail', { media_id: media.mediaId, width: row.actualWidth, height: row.actualHeight, ms: Date.now() - started });
    return row;
  }

  private async sniff(path: string): Promise<ImageFormat | undefined> {
    const file = await open(path, 'r');
    try {
      const head = Buffer.alloc(16);
      const { bytesRead } = await file.read(head, 0, 16, 0);
      return sniffImageFormat(head.subarray(0, bytesRead));
    } finally {
      await file.close();
    }
  }
}

function cannotThumbnail(): MatrixError {
  // spec: 400 when "the server cannot thumbnail the content"
  return new MatrixError(400, 'M_UNKNOWN', 'Cannot generate a thumbnail for this type of content');
}

function imageError(err: unknown): MatrixError {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new MatrixError(413, 'M_TOO_LARGE', 'The image is too large to thumbnail');
  log.info('could not decode an image', { error: message });
  return cannotThumbnail();
}
