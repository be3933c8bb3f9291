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

/** Node 20+ checks well-formedness natively; the regular expression is the fallback. */
const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as string & { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

/** Characters whose UTF-16 order differs from their code point order (surrogates and above). */
const ABOVE_SURROGATES = /[\uD800-\uFFFF]/;

/**
 * The encoder walks the value once, appending to one string. The JSON path of a value is only
 * spelled out for an error message, from the stack of keys kept while walking.
 */
class Encoder {
  private readonly path: (string | number)[] = [];
  private readonly ancestors: object[] = [];

  /** memo: encodings of objects already met, by identity (for values encoded in several forms). */
  constructor(private readonly memo?: Map<object, string>) {}

  fail(message: string): never {
    let at = '$';
    for (const p of this.path) at += typeof p === 'number' ? `[${p}]` : `.${p}`;
    throw new CanonicalJsonError(`${at}: ${message}`);
  }

  string(s: string): string {
    if (!isWellFormed(s)) this.fail('string contains a lone UTF-16 surrogate');
    // JSON.stringify escapes exactly what the canonical grammar requires: `"`, `\`, the short
    // forms \b \t \n \f \r, and other control characters as lower-case \u00XX.
    return JSON.stringify(s);
  }

  number(n: number): string {
    if (!Number.isFinite(n)) this.fail(`${n} is not a JSON number`);
    if (!Number.isInteger(n)) this.fail(`${n} is not an integer`);
    if (n > MAX_SAFE_CANONICAL_INTEGER || n < -MAX_SAFE_CANONICAL_INTEGER) this.fail(`${n} is outside [-(2^53)+1, 2^53-1]`);
    // spec: the appendix example maps -0 to 0. String(-0) is "0" and String() never uses exponents
    // below 1e21, so in-range integers come out as plain digits.
    return String(n);
  }

  value(value: unknown): string {
    switch (typeof value) {
      case 'string':
        return this.string(value);
      case 'number':
        return this.number(value);
      case 'boolean':
        return value ? 'true' : 'false';
      case 'object':
        break;
      default:
        this.fail(`${typeof value} is not a JSON value`);
    }
    if (value === null) return 'null';
    const known = this.memo?.get(value);
    if (known !== undefined) return known;
    if (this.ancestors.includes(value)) this.fail('circular reference');
    this.ancestors.push(value);
    let out: string;
    if (Array.isArray(value)) {
      out = '[';
      for (let i = 0; i < value.length; i++) {
        this.path.push(i);
        out += (i ? ',' : '') + this.value(value[i]);
        this.path.pop();
      }
      out += ']';
    } else {
      if (!isPlainObject(value)) this.fail(`${value.constructor?.name ?? 'object'} is not a plain JSON object`);
      const obj = value as Record<string, unknown>;
      // Properties holding `undefined` are left out, as JSON.stringify does when the object goes
      // on the wire, so what we sign is what the peer receives.
      const keys: string[] = [];
      let wide = false;
      for (const k in obj) {
        if (obj[k] === undefined || !Object.prototype.hasOwnProperty.call(obj, k)) continue;
        keys.push(k);
        if (!wide && ABOVE_SURROGATES.test(k)) wide = true;
      }
      // Below U+D800 the default sort (by UTF-16 unit) is code point order.
      if (wide) keys.sort(compareCodePoints);
      else keys.sort();
      out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        this.path.push(k);
        out += (i ? ',' : '') + this.string(k) + ':' + this.value(obj[k]);
        this.path.pop();
      }
      out += '}';
    }
    this.ancestors.pop();
    this.memo?.set(value, out);
    return out;
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Encodes a JSON value canonically. Throws CanonicalJsonError for anything outside the grammar.
 * With `memo`, objects met before (by identity) reuse their encoding: for encoding several forms
 * of one event that share its content. The objects must not change in between.
 */
export function canonicalJson(value: unknown, memo?: Map<object, string>): string {
  return new Encoder(memo).value(value);
}

export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/**
 * True when two JSON values have the same canonical encoding. A value outside the canonical
 * grammar (a float, an integer beyond ±(2^53-1)) equals nothing: it is never stored, so it cannot
 * repeat what is, and the caller's later checks refuse it with the client's error.
 */
export function canonicallyEqual(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch (err) {
    if (err instanceof CanonicalJsonError) return false;
    throw err;
  }
}
