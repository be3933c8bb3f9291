/**
 * The routing helper every route file uses: one call declares method, path(s), authentication,
 * the spec schema of the body, rate limiting and the handler, whose return value is the JSON reply.
 * Client routes answer under /_matrix/client/v3 and the legacy /r0 prefix, as Synapse does.
 */
import type { Request, Response, NextFunction } from 'express';
import type { Requester } from '../../services/auth.js';
import type { JsonObject } from '../../matrix/types.js';
import { MatrixError } from '../../errors.js';
import { readJsonBody } from './body.js';
import { sendJson } from './json.js';
import { validateBody, checkWith } from './validate.js';
import type { ValidateFunction } from 'ajv';
import type { RateLimiter } from '../../services/rate-limiter.js';
import { RouteTable } from './route-table.js';

export interface RouteContext {
  req: Request;
  res: Response;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: JsonObject;
  /** Present when auth is 'required' (or 'optional' and a token was given). */
  requester?: Requester;
  ip: string;
}

export interface AuthedContext extends RouteContext {
  requester: Requester;
}

export interface RouteOptions {
  auth?: 'required' | 'optional' | 'none';
  /** operationId of the spec's request schema (client-server API unless `api` says otherwise). */
  schema?: string;
  api?: 'client-server' | 'server-server';
  /** A schema for bodies the spec does not describe. */
  validator?: ValidateFunction;
  /** Key the limit by the requester (or the address when unauthenticated). */
  rateLimit?: RateLimiter;
  /** Guests may use only the routes the spec lists for them. */
  allowGuests?: boolean;
  /** Read no body (media uploads stream their own). */
  rawBody?: boolean;
  bodyLimit?: number;
}

export type Handler<C extends RouteContext = RouteContext> = (ctx: C) => Promise<unknown> | unknown;

export type Authenticate = (token: string) => Promise<Requester>;

export interface RawResponse {
  /** Returned by a handler that wrote the response itself. */
  readonly handled: true;
}
export const HANDLED: RawResponse = { handled: true };

const DEFAULT_BODY_LIMIT = 1024 * 1024;

export function accessTokenOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (m) return m[1];
  }
  const q = req.query.access_token;
  return typeof q === 'string' && q ? q : undefined;
}

interface Route {
  options: RouteOptions;
  handler: Handler<any>;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

const nulParameter = () => new MatrixError(400, 'M_INVALID_PARAM', 'Parameters may not contain the NUL character (U+0000)');

export class ApiRouter {
  private readonly table = new RouteTable<Route>();
  private readonly prefixed: { prefixes: string[]; headers: [string, string][] }[] = [];

  /**
   * The express middleware: runs the route for the request's method and path; a path with
   * routes for other methods only is a 405, an unknown path goes on to the next middleware.
   */
  readonly router = (req: Request, res: Response, next: NextFunction): void => {
    const allowed = new Set<string>();
    let route;
    try {
      route = this.lookup(req, res, allowed);
    } catch (err) {
      next(err);
      return;
    }
    if (route) this.run(req, res, route.options, route.handler).catch(next);
    else if (allowed.size) next(new MatrixError(405, 'M_UNRECOGNIZED', 'Unrecognized request'));
    else next();
  };

  /**
   * Runs the request's route if it has one, outside express's middleware chain (which costs a
   * small request more than the route itself): `adopt` gives req and res express's prototypes,
   * `fail` answers an error. False when the path has no route for the method: express takes it.
   */
  dispatch(req: Request, res: Response, adopt: () => void, fail: (err: unknown) => void): boolean {
    let route;
    try {
      route = this.lookup(req, res);
    } catch {
      return false;
    }
    if (!route) return false;
    adopt();
    this.run(req, res, route.options, route.handler).catch(fail);
    return true;
  }

  /**
   * The route for the request, its parameters set on req.params; undefined for an unknown path
   * (then `allowed` holds the methods the path has). Responses under a usePrefix prefix get their
   * headers here, whether or not a route matches.
   */
  private lookup(req: Request, res: Response, allowed?: Set<string>): Route | undefined {
    const path = pathOf(req.url);
    for (const p of this.prefixed) {
      if (p.prefixes.some((prefix) => path.startsWith(prefix))) for (const [name, value] of p.headers) res.setHeader(name, value);
    }
    const found = this.table.match(req.method!, path, allowed);
    if (!found) return undefined;
    req.params = found.params;
    return found.value;
  }

  constructor(
    private readonly authenticate: Authenticate,
    /** Hears of each authenticated request (device last-seen); must not throw or block. */
    private readonly onAuthenticated?: (requester: Requester, ip: string, userAgent: string | null) => void,
  ) {}

  /** A client-server route under v3 and r0. */
  client<C extends RouteContext>(method: string, path: string, options: RouteOptions & { auth: 'required' }, handler: Handler<AuthedContext>): void;
  client(method: string, path: string, options: RouteOptions, handler: Handler): void;
  client(method: string, path: string, options: RouteOptions, handler: Handler<any>): void {
    this.add(method, [`/_matrix/client/v3${path}`, `/_matrix/client/r0${path}`], options, handler);
  }

  /** A route at exactly the given path(s). */
  add(method: string, paths: string[], options: RouteOptions, handler: Handler<any>): void {
    for (const path of paths) this.table.add(method.toUpperCase(), path, { options, handler });
  }

  /** Sets these headers on every response to a path under one of the prefixes, errors included. */
  usePrefix(prefixes: string[], headers: Record<string, string>): void {
    this.prefixed.push({ prefixes, headers: Object.entries(headers) });
  }

  private async run(req: Request, res: Response, options: RouteOptions, handler: Handler<any>): Promise<void> {
    const ip = req.ip ?? req.socket.remoteAddress ?? '';
    // express 5 parses the query string again on every read of req.query.
    const rawQuery = req.query;
    const query: Record<string, string | undefined> = {};
    for (const k in rawQuery) {
      const v = rawQuery[k];
      query[k] = Array.isArray(v) ? String(v[0]) : typeof v === 'string' ? v : undefined;
    }
    // PostgreSQL cannot store U+0000; a path or query parameter holding one is a bad parameter.
    const hasNul = (v: unknown) => (typeof v === 'string' && v.includes('\0')) || (Array.isArray(v) && v.some((x) => typeof x === 'string' && x.includes('\0')));
    for (const k in req.params) if (hasNul(req.params[k])) throw nulParameter();
    for (const k in rawQuery) if (hasNul(rawQuery[k])) throw nulParameter();
    let requester: Requester | undefined;
    const auth = options.auth ?? 'none';
    if (auth !== 'none') {
      const token = accessTokenOf(req);
      if (token) {
        requester = await this.authenticate(token);
        this.onAuthenticated?.(requester, ip, req.headers['user-agent'] ?? null);
        res.locals.userId = requester.userId;
        if (requester.isGuest && !options.allowGuests) {
          throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
        }
      } else if (auth === 'required') {
        throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
      }
    }
    if (options.rateLimit && !requester?.isAdmin) options.rateLimit.take(requester?.userId ?? ip);

    let body: JsonObject = {};
    if (!options.rawBody && req.method !== 'GET' && req.method !== 'HEAD') {
      const parsed = await readJsonBody(req, options.bodyLimit ?? DEFAULT_BODY_LIMIT);
      // No body at all reads as {}; a JSON null is a body that is not an object (400, as Synapse
      // answers), not an empty one: PUT account data would otherwise store {} over the old content.
      const checked = parsed === undefined ? {} : parsed;
      if (options.schema) validateBody(options.api ?? 'client-server', options.schema, checked);
      else if (options.validator) checkWith(options.validator, checked);
      else if (parsed !== undefined && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
        throw new MatrixError(400, 'M_BAD_JSON', 'Request body must be a JSON object');
      }
      body = (parsed ?? {}) as JsonObject;
    }
    const ctx: RouteContext = { req, res, params: req.params as Record<string, string>, query, body, requester, ip };
    const result = await handler(ctx);
    if (result === HANDLED) return;
    await sendJson(req, res, 200, result ?? {});
  }
}
