/**
 * Canonical JSON, the byte encoding that Matrix signs and hashes.
 * spec: Appendices §"Canonical JSON": shortest UTF-8 JSON, object keys sorted by Unicode code
 * point, integers only in [-(2^53)+1, 2^53-1], no exponents, fractions or `-0`.
 */

export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

export const MAX_SAFE_CANONICAL_INTEGER = 2 ** 53 - 1;

// JSON.stringify would turn a lone surrogate into a `\udXXX` escape, but the result is not
// encodable as UTF-8, which the canonical form requires (other servers fail on it too).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Orders strings by Unicode code point. JavaScript's default comparison is by UTF-16 code unit,
 * which puts astral characters (surrogate pairs, 0xD800-0xDFFF) before U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function encodeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError(`${path}: string contains a lone UTF-16 surrogate`);
  // JSON.stringify escapes exactly what the canonical grammar requires: `"`, `\`, the short
  // forms \b \t \n \f \r, and other control characters as lower-case \u00XX.
  return JSON.stringify(s);
}

function encodeNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${path}: ${n} is not a JSON number`);
  if (!Number.isInteger(n)) throw new CanonicalJsonError(`${path}: ${n} is not an integer`);
  if (Math.abs(n) > MAX_SAFE_CANONICAL_INTEGER) {
    throw new CanonicalJsonError(`${path}: ${n} is outside [-(2^53)+1, 2^53-1]`);
  }
  // spec: the appendix example maps -0 to 0. String(-0) is "0" and String() never uses exponents
  // below 1e21, so in-range integers come out as plain digits.
  return String(n);
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function encode(value: unknown, path: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value, path);
    case 'number':
      return encodeNumber(value, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} is not a JSON value`);
  }
  if (value === null) return 'null';
  if (seen.has(value)) throw new CanonicalJsonError(`${path}: circular reference`);
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const parts: string[] = [];
      for (let i = 0; i < value.length; i++) {
        parts.push(encode(value[i], `${path}[${i}]`, seen));
      }
      return `[${parts.join(',')}]`;
    }
    if (!isPlainObject(value)) {
      throw new CanonicalJsonError(`${path}: ${value.constructor?.name ?? 'object'} is not a plain JSON object`);
    }
    const obj = value as Record<string, unknown>;
    // Properties holding `undefined` are left out, as JSON.stringify does when the object goes on
    // the wire, so what we sign is what the peer receives.
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort(compareCodePoints);
    const parts = keys.map((k) => `${encodeString(k, path)}:${encode(obj[k], `${path}.${k}`, seen)}`);
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(value);
  }
}

/** Encodes a JSON value canonically. Throws CanonicalJsonError for anything outside the grammar. */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', new Set());
}

export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
