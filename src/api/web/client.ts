/**
 * The built-in web client (Hydrogen, built by scripts/build-web.mjs into dist/web/) at the root of
 * the listener: index.html and sw.js never cached, the content-hashed files under assets/ cached
 * for a year as immutable, config.json answered from public_baseurl on every request (so a changed
 * public_baseurl needs no rebuild), and one Content-Security-Policy that allows what Hydrogen needs
 * and nothing else. Mounted after the API routers: /_matrix, /_synapse and /.well-known always
 * reach the API, and a path the client does not have ends in the API's 404.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response, type NextFunction } from 'express';
import type { Config } from '../../config/index.js';
import { getLogger } from '../../logging.js';

const log = getLogger('web-client');

/** Paths the client never answers, whatever the build holds. */
const API_PREFIXES = ['/_matrix/', '/_synapse/', '/.well-known/'];
const IMMUTABLE = 'public, max-age=31536000, immutable';
const NO_CACHE = 'no-cache, no-store, must-revalidate';

/** dist/web from src/api/web (tsx) or from the bundle in dist/. */
export function defaultWebClientRoot(): string | undefined {
  for (const base of ['../../../dist/web', './web']) {
    const path = fileURLToPath(new URL(base, import.meta.url));
    if (existsSync(join(path, 'index.html'))) return path;
  }
  return undefined;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * What the client may load: its own files; the homeserver (this origin, and public_baseurl's when
 * the page is reached under another name) for the API and media; blob: and data: for decrypted
 * attachments, image previews and avatars; WebAssembly for olm. Hydrogen sizes media with inline
 * style attributes, hence style-src-attr — style elements and scripts stay 'self' only.
 */
export function contentSecurityPolicy(publicBaseUrl: string): string {
  const homeserver = originOf(publicBaseUrl);
  const hs = homeserver ? ` ${homeserver}` : '';
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "style-src-elem 'self'",
    "style-src-attr 'unsafe-inline'",
    `img-src 'self' blob: data:${hs}`,
    `media-src 'self' blob:${hs}`,
    "font-src 'self'",
    `connect-src 'self'${hs}`,
    "worker-src 'self'",
    "frame-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
  ].join('; ');
}

/** Hydrogen's download sandbox runs one inline script: allow exactly that script by its hash. */
function sandboxPolicy(html: string): string {
  const hashes = [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
  );
  return ["default-src 'none'", `script-src ${hashes.join(' ') || "'none'"}`, "frame-ancestors 'self'", "base-uri 'none'", "form-action 'none'"].join('; ');
}

export interface WebClientOptions {
  /** The built client (default: dist/web). */
  root?: string;
}

/**
 * The mount for createApp's `extra`, or undefined when the client is not built (the API still
 * serves; the log says how to build it).
 */
export function webClientMount(config: Config, options: WebClientOptions = {}): ((app: Express) => void) | undefined {
  const root = options.root ?? defaultWebClientRoot();
  if (!root) {
    log.warn('the web client is not built: run `npm run build` (or set web_client: false)');
    return undefined;
  }
  let cspFor = { baseUrl: '', policy: '' };
  const policy = () => {
    if (cspFor.baseUrl !== config.publicBaseUrl) cspFor = { baseUrl: config.publicBaseUrl, policy: contentSecurityPolicy(config.publicBaseUrl) };
    return cspFor.policy;
  };
  const sandboxPolicies = new Map<string, string>();
  const securityHeaders = (res: Response, csp = policy()) => {
    res.set({
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
  };

  /** Headers of a hashed asset; `path` is the file as built (not its .br or .gz). */
  const assetHeaders = (res: Response, path: string) => {
    if (path.endsWith('.html')) {
      let csp = sandboxPolicies.get(path);
      if (!csp) sandboxPolicies.set(path, (csp = sandboxPolicy(readFileSync(path, 'utf8'))));
      securityHeaders(res, csp);
    } else {
      securityHeaders(res);
    }
    res.set({ 'Cache-Control': IMMUTABLE, Vary: 'Accept-Encoding' });
  };
  const assets = express.static(join(root, 'assets'), {
    index: false,
    redirect: false,
    dotfiles: 'ignore',
    etag: true,
    lastModified: false,
    setHeaders: assetHeaders,
  });

  // The build wrote NAME.br and NAME.gz beside compressible assets: send one when the browser takes it.
  const assetsDir = join(root, 'assets');
  const precompressed = (req: Request, res: Response, next: NextFunction) => {
    const name = req.path.slice(1);
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) return next();
    const encoding = req.acceptsEncodings('br', 'gzip');
    const suffix = encoding === 'br' ? '.br' : encoding === 'gzip' ? '.gz' : undefined;
    if (!suffix || !existsSync(join(assetsDir, name + suffix))) return next();
    try {
      assetHeaders(res, join(assetsDir, name));
    } catch {
      return next();
    }
    res.type(extname(name));
    res.set('Content-Encoding', encoding as string);
    res.sendFile(
      join(assetsDir, name + suffix),
      { dotfiles: 'deny', lastModified: false, acceptRanges: false, headers: {} },
      (err?: Error) => {
        if (!err) return;
        if (res.headersSent) return void res.end();
        res.removeHeader('Content-Encoding');
        next();
      },
    );
  };

  /** index.html and sw.js are read per request: a rebuild takes effect without a restart. */
  const sendUncached = (file: string, type: string) => async (_req: Request, res: Response, next: NextFunction) => {
    let body: Buffer;
    try {
      body = await readFile(join(root, file));
    } catch (err) {
      next(err);
      return;
    }
    securityHeaders(res);
    res.set({ 'Cache-Control': NO_CACHE, 'Content-Type': type });
    res.send(body);
  };

  return (app: Express) => {
    const router = express.Router();
    router.use((req: Request, _res: Response, next: NextFunction) => {
      // Only reads, and never the API's paths: those end in the API's own 404/405.
      if ((req.method !== 'GET' && req.method !== 'HEAD') || API_PREFIXES.some((p) => req.path.startsWith(p))) {
        next('router');
        return;
      }
      next();
    });
    router.get(['/', '/index.html'], sendUncached('index.html', 'text/html; charset=utf-8'));
    // The service worker keeps its URL and scope "/": browsers look for updates of it on every load.
    router.get('/sw.js', sendUncached('sw.js', 'text/javascript; charset=utf-8'));
    router.get('/config.json', (_req: Request, res: Response) => {
      securityHeaders(res);
      res.set('Cache-Control', NO_CACHE);
      res.json({ defaultHomeServer: config.publicBaseUrl.replace(/\/$/, '') });
    });
    router.use('/assets', precompressed, assets);
    app.use(router);
    log.info('serving the web client', { root });
  };
}
