/**
 * A Matrix error: what every layer throws when a request cannot be served. The HTTP layer turns it
 * into `{ errcode, error, ...extra }` with `status` (spec: Client-Server API §2.4 "Standard error response").
 */
export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (msg: string) => new MatrixError(403, 'M_FORBIDDEN', msg);
export const notFound = (msg = 'Not found') => new MatrixError(404, 'M_NOT_FOUND', msg);
export const badJson = (msg: string) => new MatrixError(400, 'M_BAD_JSON', msg);
export const invalidParam = (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg);
export const missingParam = (msg: string) => new MatrixError(400, 'M_MISSING_PARAM', msg);
export const unrecognized = (msg = 'Unrecognized request', status = 404) => new MatrixError(status, 'M_UNRECOGNIZED', msg);
export const limitExceeded = (retryAfterMs: number) =>
  new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: retryAfterMs }, {
    'Retry-After': String(Math.ceil(retryAfterMs / 1000)),
  });
