/**
 * Finds the route for a request path in a tree of path segments, instead of trying every
 * registered pattern in turn (express's Router tests hundreds of regular expressions per request
 * when most of the API is registered: a tenth of the CPU a message send costs).
 *
 * Patterns use the express 5 syntax the route files are written in: literal segments, `:name`
 * for one segment, and an optional trailing `{/:name}`. Matching behaves as express's did:
 * literal segments ignore case, one trailing slash is allowed, parameters are percent-decoded
 * (a malformed escape throws URIError, answered as 400), and where several patterns match, the
 * one registered first wins.
 */

interface Node<T> {
  literals: Map<string, Node<T>>;
  param?: { node: Node<T> };
  /** Routes ending here, by method. */
  routes: Map<string, Route<T>>;
}

interface Route<T> {
  order: number;
  value: T;
  /** The names of the route's parameters, in order. */
  paramNames: string[];
}

export interface RouteMatch<T> {
  value: T;
  params: Record<string, string>;
}

const newNode = <T>(): Node<T> => ({ literals: new Map(), routes: new Map() });

/** The segments of a pattern, once without and once with each optional `{/:name}` tail. */
function expand(pattern: string): string[][] {
  const optional = /\{\/:([A-Za-z0-9_]+)\}$/.exec(pattern);
  if (optional) {
    const base = pattern.slice(0, optional.index);
    return [...expand(base), ...expand(`${base}/:${optional[1]}`)];
  }
  if (/[{}*()?+]/.test(pattern)) throw new Error(`route pattern not supported: ${pattern}`);
  // A trailing slash is optional on both sides (`/pushrules/` is `/pushrules`).
  if (pattern.length > 1 && pattern.endsWith('/')) pattern = pattern.slice(0, -1);
  return [pattern.split('/').slice(1)];
}

export class RouteTable<T> {
  private readonly root: Node<T> = newNode();
  private count = 0;

  add(method: string, pattern: string, value: T): void {
    const order = this.count++;
    for (const segments of expand(pattern)) {
      let node = this.root;
      for (const segment of segments) {
        if (segment.startsWith(':')) {
          // One child per position whatever the name (`/:userId/x` and `/:roomId/y`): each
          // route keeps its own parameter names.
          node.param ??= { node: newNode() };
          node = node.param.node;
        } else {
          const key = segment.toLowerCase();
          node = node.literals.get(key) ?? node.literals.set(key, newNode()).get(key)!;
        }
      }
      const paramNames = segments.filter((s) => s.startsWith(':')).map((s) => s.slice(1));
      if (!node.routes.has(method)) node.routes.set(method, { order, value, paramNames });
    }
  }

  /**
   * The route for `method` at `path` (no query string), or undefined; `allowed` is filled with
   * the methods the path has when none of them is `method` (so the caller can answer 405).
   */
  match(method: string, path: string, allowed?: Set<string>): RouteMatch<T> | undefined {
    if (path.length > 1 && path.charCodeAt(path.length - 1) === 47 /* / */) path = path.slice(0, -1);
    if (path.charCodeAt(0) !== 47) return undefined;
    const segments = path.split('/');
    const values: string[] = [];
    let best: Route<T> | undefined;
    let bestValues: string[] | undefined;
    // Depth-first, literal before parameter; every match is seen so the first registered wins.
    const visit = (node: Node<T>, i: number): void => {
      if (i === segments.length) {
        const route = node.routes.get(method) ?? (method === 'HEAD' ? node.routes.get('GET') : undefined);
        if (route) {
          if (!best || route.order < best.order) {
            best = route;
            bestValues = values.slice();
          }
        } else if (allowed) for (const m of node.routes.keys()) allowed.add(m);
        return;
      }
      const segment = segments[i]!;
      const literal = node.literals.get(segment) ?? node.literals.get(segment.toLowerCase());
      if (literal) visit(literal, i + 1);
      if (node.param && segment !== '') {
        values.push(segment);
        visit(node.param.node, i + 1);
        values.pop();
      }
    };
    visit(this.root, 1);
    if (!best) return undefined;
    const found: Route<T> = best;
    const params: Record<string, string> = {};
    for (let k = 0; k < found.paramNames.length; k++) {
      const raw = bestValues![k]!;
      params[found.paramNames[k]!] = raw.includes('%') ? decodeURIComponent(raw) : raw;
    }
    return { value: found.value, params };
  }
}
