/**
 * URL previews (spec: Client-Server API GET /_matrix/client/v1/media/preview_url): the OpenGraph
 * data of a web page. Off unless url_preview_enabled. The server fetching a URL a user chose is a
 * classic SSRF hole, so every hop (redirects included) is resolved and checked by IpRangeGuard
 * before a connection is made, the connection goes to the checked address, and the body read and
 * the time taken are both capped (max_spider_size, url_preview_timeout).
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { MatrixError } from '../../errors.js';
import { getLogger } from '../../logging.js';
import sharp from 'sharp';
import type { MediaConfig } from '../../config/index.js';
import { BlockedAddressError, IpRangeGuard } from './ip-guard.js';
import { sniffImageFormat } from './thumbnails.js';

const log = getLogger('media.preview');

const MAX_REDIRECTS = 5;
const CACHE_MS = 60 * 60 * 1000;
const CACHE_ENTRIES = 1000;

export type Preview = Record<string, string | number>;

/** Puts a fetched image into the media repository for the requester; returns its mxc URI. */
export type StoreImage = (userId: string, data: Buffer, contentType: string) => Promise<string>;

interface Fetched {
  status: number;
  contentType: string;
  body: Buffer;
  url: string;
}

export class UrlPreviewService {
  private readonly guard: IpRangeGuard;
  private readonly cache = new Map<string, { preview: Preview; expires: number }>();

  constructor(
    private readonly config: MediaConfig['urlPreview'],
    private readonly storeImage?: StoreImage,
  ) {
    this.guard = new IpRangeGuard(config.ipRangeBlacklist, config.ipRangeWhitelist);
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  async preview(rawUrl: string, userId: string): Promise<Preview> {
    if (!this.config.enabled) throw new MatrixError(404, 'M_UNRECOGNIZED', 'URL previews are disabled on this server');
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'Not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MatrixError(400, 'M_INVALID_PARAM', 'Only http and https URLs can be previewed');
    url.hash = '';
    const key = url.toString();
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) return hit.preview;

    const signal = AbortSignal.timeout(this.config.timeoutMs);
    let fetched: Fetched;
    try {
      fetched = await this.fetchGuarded(url, signal);
    } catch (err) {
      if (err instanceof MatrixError) throw err;
      if (err instanceof BlockedAddressError) {
        log.info('refused a URL preview', { url: key, address: err.address });
        throw new MatrixError(403, 'M_FORBIDDEN', 'IP address blocked by the URL preview blacklist');
      }
      const message = signal.aborted ? 'timed out' : err instanceof Error ? err.message : String(err);
      throw new MatrixError(502, 'M_UNKNOWN', `Could not fetch the URL: ${message}`);
    }
    if (fetched.status < 200 || fetched.status >= 300) throw new MatrixError(502, 'M_UNKNOWN', `The URL answered ${fetched.status}`);
    const { preview, imageUrl } = buildPreview(fetched);
    if (imageUrl) Object.assign(preview, await this.previewImage(imageUrl, fetched, userId, signal));
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { preview, expires: Date.now() + CACHE_MS });
    return preview;
  }

  /**
   * og:image as the spec wants it: an mxc URI, so the client never fetches from the page's server.
   * The image is fetched through the same guard and stored only if it really is JPEG, PNG, GIF or
   * WebP. Any failure just leaves the image out of the preview.
   */
  private async previewImage(imageUrl: string, page: Fetched, userId: string, signal: AbortSignal): Promise<Preview> {
    if (!this.storeImage) return {};
    try {
      const url = new URL(imageUrl, page.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return {};
      const image = url.toString() === page.url ? page : await this.fetchGuarded(url, signal);
      const type = image.contentType.split(';')[0]!.trim().toLowerCase();
      if (image.status < 200 || image.status >= 300 || !type.startsWith('image/') || !sniffImageFormat(image.body.subarray(0, 16))) return {};
      const out: Preview = {
        'og:image': await this.storeImage(userId, image.body, type),
        'og:image:type': type,
        'matrix:image:size': image.body.length,
      };
      const meta = await sharp(image.body).metadata().catch(() => undefined);
      if (meta?.width && meta.height) Object.assign(out, { 'og:image:width': meta.width, 'og:image:height': meta.pageHeight ?? meta.height });
      return out;
    } catch (err) {
      log.info('left the image out of a URL preview', { url: imageUrl, error: err instanceof Error ? err.message : String(err) });
      return {};
    }
  }

  /** GET with redirects, each hop resolved and checked before connecting. */
  private async fetchGuarded(start: URL, signal: AbortSignal): Promise<Fetched> {
    let url = start;
    for (let hop = 0; ; hop++) {
      const res = await this.fetchOnce(url, signal);
      if (res.location && res.status >= 300 && res.status < 400) {
        if (hop >= MAX_REDIRECTS) throw new Error('too many redirects');
        url = new URL(res.location, url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('redirect to a non-HTTP URL');
        continue;
      }
      return { status: res.status, contentType: res.contentType, body: res.body, url: url.toString() };
    }
  }

  private async fetchOnce(url: URL, signal: AbortSignal): Promise<{ status: number; contentType: string; body: Buffer; location?: string }> {
    const addresses = await this.guard.resolve(url.hostname);
    const chosen = addresses[0]!;
    // The socket goes to the address just checked: no second lookup.
    const lookup: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as any)(null, [chosen]);
      else callback(null, chosen.address, chosen.family);
    };
    const client = url.protocol === 'https:' ? https : http;
    const limit = this.config.maxSpiderSize;
    return new Promise((resolve, reject) => {
      const req = client.get(
        url,
        { lookup, signal, headers: { 'User-Agent': 'Veche URL preview', Accept: 'text/html, image/*;q=0.8, */*;q=0.5' } },
        (res) => {
          const status = res.statusCode ?? 0;
          const contentType = String(res.headers['content-type'] ?? '');
          if (status >= 300 && status < 400 && res.headers.location) {
            res.resume();
            resolve({ status, contentType, body: Buffer.alloc(0), location: res.headers.location });
            return;
          }
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > limit) {
            req.destroy();
            reject(new MatrixError(502, 'M_TOO_LARGE', 'The page is larger than the URL preview limit'));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
              req.destroy();
              reject(new MatrixError(502, 'M_TOO_LARGE', 'The page is larger than the URL preview limit'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve({ status, contentType, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/g)) {
    out[m[1]!.toLowerCase()] = decodeEntities(m[3] ?? m[4] ?? m[5] ?? '');
  }
  return out;
}

/**
 * OpenGraph tags of an HTML page, with <title> and the description meta tag as fallbacks, and the
 * URL of the image to show (og:image, or the URL itself when it is an image).
 */
export function buildPreview(fetched: Fetched): { preview: Preview; imageUrl?: string } {
  const type = fetched.contentType.split(';')[0]!.trim().toLowerCase();
  if (type.startsWith('image/')) return { preview: { 'og:url': fetched.url }, imageUrl: fetched.url };
  if (type !== 'text/html' && type !== 'application/xhtml+xml') return { preview: {} };
  const charset = /charset=([^;]+)/i.exec(fetched.contentType)?.[1]?.trim().toLowerCase();
  const html = fetched.body.toString(charset === 'iso-8859-1' || charset === 'latin1' ? 'latin1' : 'utf8');
  const preview: Preview = {};
  let description: string | undefined;
  let imageUrl: string | undefined;
  for (const m of html.matchAll(/<meta\b[^>]*>/gi)) {
    const a = attributes(m[0]);
    const name = a.property ?? a.name;
    if (!name || a.content === undefined) continue;
    // og:image* describe the remote image; the preview gives the stored copy's instead.
    if ((name === 'og:image' || name === 'og:image:url') && a.content) imageUrl ??= a.content;
    else if (name.startsWith('og:') && !name.startsWith('og:image') && !(name in preview)) preview[name] = a.content.slice(0, 1000);
    if (name === 'description') description ??= a.content.slice(0, 1000);
  }
  if (!('og:description' in preview) && description !== undefined) preview['og:description'] = description;
  if (!('og:title' in preview)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(html)?.[1];
    if (title?.trim()) preview['og:title'] = decodeEntities(title.trim()).slice(0, 1000);
  }
  return { preview, imageUrl };
}
