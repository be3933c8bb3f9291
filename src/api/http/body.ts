/**
 * Reads a JSON request body with a size cap: 413 M_TOO_LARGE over it, 400 M_NOT_JSON if not JSON,
 * 400 M_BAD_JSON for JSON nothing could store or process (NUL characters, unpaired surrogates,
 * nesting beyond MAX_JSON_DEPTH, numbers beyond a double's range).
 */
import type { IncomingMessage } from 'node:http';
import { MatrixError } from '../../errors.js';
import { containsNul } from '../../matrix/json-nul.js';

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
  // First, as the walks below recurse.
  if (mayNestDeeperThan(text, MAX_JSON_DEPTH) && nestsDeeperThan(parsed, MAX_JSON_DEPTH)) {
    throw new MatrixError(400, 'M_BAD_JSON', `JSON may not nest arrays and objects more than ${MAX_JSON_DEPTH} deep`);
  }
  // PostgreSQL cannot store U+0000 in text or jsonb; refuse it here rather than fail in storage.
  if (text.includes('u0000') && containsNul(parsed)) {
    throw new MatrixError(400, 'M_BAD_JSON', 'Strings may not contain the NUL character (U+0000)');
  }
  // A lone surrogate (an escape such as "\ud800" without its pair; raw bytes of one were already
  // decoded to U+FFFD) has no UTF-8 form: jsonb refuses it, a text column would store U+FFFD in
  // its place, and spec: Appendices "Canonical JSON" cannot encode it. Escaped pairs (an emoji
  // as "\ud83d\ude00") are fine.
  if (SURROGATE_ESCAPE.test(text) && containsLoneSurrogate(parsed)) {
    throw new MatrixError(400, 'M_BAD_JSON', 'Strings may not contain unpaired UTF-16 surrogates');
  }
  // A number beyond ±1.8e308 parses to ±Infinity, which JSON cannot hold: stored, it would come
  // back as null in place of the value sent.
  if (MAY_OVERFLOW.test(text) && containsNonFinite(parsed)) {
    throw new MatrixError(400, 'M_BAD_JSON', 'Numbers must be within the range of a double (JSON has no Infinity)');
  }
  return parsed;
}

/** Text a number too large for a double could hide in: a three-digit exponent or 309 digits in a row. */
const MAY_OVERFLOW = /[eE][+]?\d{3}|\d{309}/;

/** True if a parsed JSON value holds a number JSON.parse turned into ±Infinity (without recursing). */
function containsNonFinite(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return true;
    } else if (v !== null && typeof v === 'object') {
      for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push(child);
    }
  }
  return false;
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True if a string anywhere in a parsed JSON value (keys included) holds an unpaired surrogate. */
function containsLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(containsLoneSurrogate);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (LONE_SURROGATE.test(k) || containsLoneSurrogate(v)) return true;
  }
  return false;
}

/**
 * How deep a body's arrays and objects may nest. JSON.parse takes any depth, but what handles the
 * value afterwards recurses: the canonical JSON encoder, JSON.stringify and the redaction
 * algorithm overflow the stack a few thousand levels down (a RangeError, answered as a 500).
 * Synapse cannot encode an event nested about 1000 deep (Python's recursion limit), so an event
 * deeper than this could not federate either; real content stays within a few dozen levels.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * False when the text has too few `[` and `{` to nest `depth` deep: the cheap test that spares
 * almost every body the walk of nestsDeeperThan.
 */
function mayNestDeeperThan(text: string, depth: number): boolean {
  let count = 0;
  for (const open of ['[', '{']) {
    for (let i = text.indexOf(open); i >= 0; i = text.indexOf(open, i + 1)) {
      if (++count > depth) return true;
    }
  }
  return false;
}

/** True if arrays and objects nest more than `depth` deep in a parsed JSON value (without recursing). */
export function nestsDeeperThan(value: unknown, depth: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > depth) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
    }
  }
  return false;
}

