/** Reads a JSON request body with a size cap: 413 M_TOO_LARGE over it, 400 M_NOT_JSON if not JSON. */
import type { IncomingMessage } from 'node:http';
import { MatrixError } from '../../errors.js';

/**
 * The client may still be sending the rest of the body: the reply closes the connection, so no
 * half-read body is left on a socket that would be reused (the rest is drained, never buffered).
 */
function tooLarge(req: IncomingMessage): MatrixError {
  req.resume();
  return new MatrixError(413, 'M_TOO_LARGE', 'Request body too large', {}, { Connection: 'close' });
}

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw tooLarge(req);
  }
  // Plain 'data' events: an async iterator over the request costs more than the small body.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const list: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        reject(tooLarge(req));
        return;
      }
      list.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(list));
    req.once('error', reject);
    req.once('aborted', () => reject(new MatrixError(400, 'M_BAD_JSON', 'Request body incomplete')));
  });
  const size = chunks.reduce((n, c) => n + c.length, 0);
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MatrixError(400, 'M_NOT_JSON', 'Content not JSON.');
  }
  // PostgreSQL cannot store U+0000 in text or jsonb; refuse it here rather than fail in storage.
  if (text.includes('u0000') && containsNul(parsed)) {
    throw new MatrixError(400, 'M_BAD_JSON', 'Strings may not contain the NUL character (U+0000)');
  }
  return parsed;
}

/** True if a string anywhere in a parsed JSON value (keys included) holds U+0000. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (k.includes('\0') || containsNul(v)) return true;
  }
  return false;
}
