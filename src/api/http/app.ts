/**
 * The express application: CORS on every response, one log line per request, the routers, and
 * the error handler that turns everything into a Matrix error (never a stack trace).
 */
import express, { type Request, type Response, type NextFunction, type Express } from 'express';
import { MatrixError } from '../../errors.js';
import { getLogger } from '../../logging.js';
import type { ApiRouter } from './router.js';
import { sendJson } from './json.js';

const log = getLogger('http');

// spec: Client-Server API §2.6 "Web Browser Clients" — CORS headers on every response.
const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization, Date',
  'Access-Control-Expose-Headers': 'Synapse-Trace-Id, Server, ETag',
};

function pathWithoutSecrets(url: string): string {
  return url.replace(/([?&]access_token=)[^&]*/g, '$1<redacted>');
}

/** Express 5 path patterns → RegExps, to tell "unknown path" (404) from "wrong method" (405). */
function patternToRegExp(path: string): RegExp {
  const source = path
    .replace(/[.+*?^$()[\]|\\]/g, (c) => (c === '{' || c === '}' ? c : '\\' + c))
    .replace(/\{\/:[A-Za-z0-9_]+\}/g, '(?:/[^/]*)?')
    .replace(/\/\*[A-Za-z0-9_]+/g, '(?:/.*)?')
    .replace(/:[A-Za-z0-9_]+/g, '[^/]+');
  return new RegExp(`^${source}/?$`);
}

export interface AppOptions {
  routers: ApiRouter[];
  /** Extra middleware mounted after the API routers (static files, the web client). */
  extra?: ((app: Express) => void)[];
  trustProxy?: boolean;
}

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (options.trustProxy) app.set('trust proxy', true);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.set(CORS_HEADERS);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const fields = {
        method: req.method,
        path: pathWithoutSecrets(req.originalUrl),
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
        user: res.locals.userId,
      };
      if (res.statusCode >= 500) log.warn('request', fields);
      else log.info('request', fields);
    });
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });

  for (const r of options.routers) app.use(r.router);
  for (const extra of options.extra ?? []) extra(app);

  const known = options.routers.flatMap((r) => r.registered.map((x) => ({ method: x.method, re: patternToRegExp(x.path) })));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const path = req.path;
    const methods = known.filter((k) => k.re.test(path)).map((k) => k.method);
    if (methods.length && !methods.includes(req.method)) {
      next(new MatrixError(405, 'M_UNRECOGNIZED', 'Unrecognized request'));
    } else {
      next(new MatrixError(404, 'M_UNRECOGNIZED', 'Unrecognized request'));
    }
  });

  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let error: MatrixError;
    if (err instanceof MatrixError) {
      error = err;
    } else if (err && typeof err === 'object' && 'status' in err && (err as { status: number }).status === 400 && 'type' in err) {
      error = new MatrixError(400, 'M_NOT_JSON', 'Content not JSON.');
    } else if (err instanceof URIError) {
      // The router could not percent-decode a path parameter: the client's mistake, not ours.
      error = new MatrixError(400, 'M_INVALID_PARAM', 'Invalid percent-encoding in the request path');
    } else {
      log.error('unhandled error', { method: req.method, path: pathWithoutSecrets(req.originalUrl), error: err instanceof Error ? err.stack : String(err) });
      error = new MatrixError(500, 'M_UNKNOWN', 'Internal server error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.set(error.headers);
    void sendJson(req, res, error.status, error.toJSON());
  });
  return app;
}
