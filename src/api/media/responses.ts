/**
 * How media bytes go out: the safety headers every media response carries (as Synapse sets them),
 * Content-Disposition inline only for types a browser cannot run, single byte ranges (206) so
 * audio and video can seek, and the file streamed from disk, never read whole.
 */
import type { Request, Response } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** On every response under the media prefixes, errors included. */
export const MEDIA_SECURITY_HEADERS: Record<string, string> = {
  // A file opened directly in a browser runs nothing and reaches nothing.
  'Content-Security-Policy':
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'X-Robots-Tag': 'noindex, nofollow, noarchive, noimageindex',
};

/**
 * Types a browser may show inline: they cannot run script in our origin (Synapse's
 * INLINE_CONTENT_TYPES). Everything else, HTML and SVG above all, is an attachment.
 */
const INLINE_CONTENT_TYPES = new Set([
  'text/css', 'text/plain', 'text/csv', 'application/json', 'application/ld+json',
  'image/jpeg', 'image/gif', 'image/png', 'image/apng', 'image/webp', 'image/avif',
  'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime',
  'audio/mp4', 'audio/webm', 'audio/aac', 'audio/mpeg', 'audio/ogg', 'audio/wave', 'audio/wav',
  'audio/x-wav', 'audio/x-pn-wav', 'audio/flac', 'audio/x-flac',
]);

export function baseType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** RFC 6266 / RFC 8187: an ASCII fallback plus the exact UTF-8 name. */
export function contentDisposition(contentType: string | undefined, filename: string | undefined): string {
  const kind = INLINE_CONTENT_TYPES.has(baseType(contentType)) ? 'inline' : 'attachment';
  if (!filename) return kind;
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return `${kind}; filename="${ascii}"; filename*=utf-8''${encoded}`;
}

/** What the response says the bytes are; text gets an explicit charset as Synapse does. */
function responseContentType(contentType: string | undefined): string {
  const type = contentType?.trim() || 'application/octet-stream';
  if (/^text\//i.test(type) && !/charset=/i.test(type)) return `${type}; charset=utf-8`;
  return type;
}

export type ByteRange = { start: number; end: number };

/**
 * The one byte range a Range header asks for (RFC 9110 §14.1.2). undefined: send everything
 * (no header, several ranges, or one we do not understand); 'unsatisfiable': 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

export interface MediaFile {
  sha256: string;
  size: number;
  contentType?: string;
  filename?: string;
  open(range?: ByteRange): Readable;
  /** Readable only with a token: caches must not share it. */
  private: boolean;
}

/** Sends a stored file: 200, 206 for a range, 304 for a matching ETag, 416 past the end. */
export async function sendMediaFile(req: Request, res: Response, file: MediaFile): Promise<void> {
  const etag = `"${file.sha256}"`;
  res.setHeader('Content-Type', responseContentType(file.contentType));
  res.setHeader('Content-Disposition', contentDisposition(file.contentType, file.filename));
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', etag);
  // Media never changes under its ID.
  res.setHeader('Cache-Control', `${file.private ? 'private' : 'public'}, max-age=86400, immutable`);
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    res.status(304).end();
    return;
  }
  const ifRange = req.headers['if-range'] as string | undefined;
  const range = ifRange && ifRange.trim() !== etag ? undefined : parseRange(req.headers.range, file.size);
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${file.size}`);
    res.removeHeader('Content-Disposition');
    res.status(416).setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ errcode: 'M_UNKNOWN', error: 'Requested range not satisfiable' }));
    return;
  }
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200);
    res.setHeader('Content-Length', String(file.size));
  }
  if (req.method === 'HEAD' || file.size === 0) {
    res.end();
    return;
  }
  try {
    await pipeline(file.open(range), res);
  } catch (err) {
    // The client went away mid-download: nothing to answer. Anything else is a real failure.
    if (res.destroyed || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}
