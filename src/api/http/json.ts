/**
 * JSON responses as Synapse sends them: Content-Type exactly application/json (some clients,
 * e.g. Hydrogen, compare it literally), gzip for large bodies when the client accepts it (a
 * first /sync of hundreds of rooms shrinks several times).
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Request, Response } from 'express';

const gzipAsync = promisify(gzip);
/** Below this, compressing costs more than it saves. */
const COMPRESS_FROM_BYTES = 4096;

export async function sendJson(req: Request, res: Response, status: number, body: unknown): Promise<void> {
  const text = Buffer.from(JSON.stringify(body));
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  if (text.length >= COMPRESS_FROM_BYTES && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    const zipped = await gzipAsync(text, { level: 4 });
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Vary', 'Accept-Encoding');
    res.end(zipped);
    return;
  }
  res.end(text);
}
