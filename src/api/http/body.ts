/** Reads a JSON request body with a size cap: 413 M_TOO_LARGE over it, 400 M_NOT_JSON if not JSON. */
import type { IncomingMessage } from 'node:http';
import { MatrixError } from '../../errors.js';

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new MatrixError(413, 'M_TOO_LARGE', 'Request body too large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new MatrixError(413, 'M_TOO_LARGE', 'Request body too large');
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new MatrixError(400, 'M_NOT_JSON', 'Content not JSON.');
  }
}
