/**
 * The express application: CORS on every response, one log line per request, the routers, and
 * the error handler that turns everything into a Matrix error (never a stack trace).
 */
import { IncomingMessage, ServerResponse } from 'node:http';
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

const CORS_ENTRIES = Object.entries(CORS_HEADERS);

function pathWithoutSecrets(url: string): string {
  return url.replace(/([?&]access_token=)[^&]*/g, '$1<redacted>');
}

export interface AppOptions {
  routers: ApiRouter[];
  /** Extra middleware mounted after the API routers (static files, the web client). */
  extra?: ((app: Express) => void)[];
  trustProxy?: boolean;
}

export interface HttpFrontend {
  app: Express;
  /** The request listener for http.createServer. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * For http.createServer's options: requests and responses made with express's prototypes in
   * their chain, so the routes' requests need no setPrototypeOf (which slows every later property
   * access of the object). express still sets it on the requests it handles itself.
   */
  serverOptions: { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse };
}

/**
 * The express app, and a listener in front of it that runs requests with a route directly (with
 * express's request and response prototypes, so routes see the same objects): express's own
 * middleware chain costs more than a small request's work. Everything else (CORS preflight,
 * 405s, unknown paths, the web client) goes through the app.
 */
export function createApp(options: AppOptions): HttpFrontend {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (options.trustProxy) app.set('trust proxy', true);

  /** CORS headers and the request's log line. */
  const begin = (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    for (const [name, value] of CORS_ENTRIES) res.setHeader(name, value);
    // winston formats a line before its transport filters it by level: at warn, only server
    // errors are formatted.
    const all = log.isInfoEnabled();
    res.on('finish', () => {
      if (!all && res.statusCode < 500) return;
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
  };

  app.use((req: Request, res: Response, next: NextFunction) => {
    begin(req, res);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });

  for (const r of options.routers) app.use(r.router);
  for (const extra of options.extra ?? []) extra(app);

  // The routers answered 405 for a known path with another method; anything else is unknown.
  app.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new MatrixError(404, 'M_UNRECOGNIZED', 'Unrecognized request'));
  });

  const fail = (err: unknown, req: Request, res: Response) => {
    let error: MatrixError;
    if (err instanceof MatrixError) {
      error = err;
    } else if (err && typeof err === 'object' && 'status' in err && (err as { status: number }).status === 400 && 'type' in err) {
      error = new MatrixError(400, 'M_NOT_JSON', 'Content not JSON.');
    } else if (isUnstorableText(err)) {
      // A safety net: text PostgreSQL cannot hold (U+0000) reached a query from some parameter no
      // check caught. It came from the request, so it is the client's error; logged to be fixed.
      log.warn('unstorable text reached the database', { method: req.method, path: pathWithoutSecrets(req.originalUrl) });
      error = new MatrixError(400, 'M_INVALID_PARAM', 'Strings may not contain the NUL character (U+0000)');
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
    try {
      // The error's own headers only: express's res.set walks inherited keys too.
      for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
      void sendJson(req, res, error.status, error.toJSON());
    } catch (sendErr) {
      // Answering must not throw out of the request: that would take the process down.
      log.error('could not send an error response', { method: req.method, path: pathWithoutSecrets(req.originalUrl), error: String(sendErr) });
      if (res.headersSent) res.end();
      else res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"errcode":"M_UNKNOWN","error":"Internal server error"}');
    }
  };
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => fail(err, req, res));

  class Req extends IncomingMessage {}
  class Res extends ServerResponse {}
  // app.request and app.response inherit from IncomingMessage's and ServerResponse's prototypes.
  Object.setPrototypeOf(Req.prototype, app.request);
  Object.setPrototypeOf(Res.prototype, app.response);

  const listener = (rawReq: IncomingMessage, rawRes: ServerResponse) => {
    const req = rawReq as Request;
    const res = rawRes as Response;
    if (req.method !== 'OPTIONS') {
      // What express's app.handle does before its middleware runs (the prototypes are set below).
      const adopt = () => {
        if (!(req instanceof Req)) Object.setPrototypeOf(req, app.request);
        if (!(res instanceof Res)) Object.setPrototypeOf(res, app.response);
        req.res = res;
        res.req = req;
        req.originalUrl = req.url;
        res.locals = Object.create(null) as Record<string, unknown>;
        begin(req, res);
      };
      for (const r of options.routers) if (r.dispatch(req, res, adopt, (err) => fail(err, req, res))) return;
    }
    app(req, res);
  };
  return { app, listener, serverOptions: { IncomingMessage: Req, ServerResponse: Res as unknown as typeof ServerResponse } };
}

/** PostgreSQL's "invalid byte sequence" / "untranslatable character" errors (SQLSTATE 22021, 22P05). */
function isUnstorableText(err: unknown): boolean {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return code === '22021' || code === '22P05';
}
