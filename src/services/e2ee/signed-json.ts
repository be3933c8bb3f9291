/** Checks on the signed key objects of the E2EE module (spec: Client-Server API §10.12 "End-to-End Encryption"). */
import type { JsonObject, JsonValue } from '../../matrix/types.js';
import { verifyJsonSignature, signedJsonBytes } from '../../matrix/signing.js';
import { MatrixError } from '../../errors.js';
import { dictionary } from '../../matrix/types.js';

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const invalidSignature = (msg: string) => new MatrixError(400, 'M_INVALID_SIGNATURE', msg);

/** `signatures[signer][keyId]` verifies against the base64 ed25519 public key. */
export function hasValidSignature(obj: JsonObject, signer: string, keyId: string, publicKey: string): boolean {
  return verifyJsonSignature(obj, signer, keyId, publicKey);
}

/** The signature entries of one signer: [keyId, signature]. */
export function signaturesBy(obj: JsonObject, signer: string): [string, string][] {
  const sigs = obj.signatures;
  if (!isObject(sigs)) return [];
  const mine = sigs[signer];
  if (!isObject(mine)) return [];
  return Object.entries(mine).filter((e): e is [string, string] => typeof e[1] === 'string');
}

/** Whether two signed objects are the same key (everything but signatures and unsigned). */
export function sameSignedContent(a: JsonObject, b: JsonObject): boolean {
  try {
    return signedJsonBytes(a).equals(signedJsonBytes(b));
  } catch {
    return false;
  }
}

/** The single `ed25519:<publicKey>` entry of a cross-signing key: its public key. */
export function crossSigningPublicKey(key: JsonObject): string | undefined {
  const keys = key.keys;
  if (!isObject(keys)) return undefined;
  const entries = Object.entries(keys);
  if (entries.length !== 1) return undefined;
  const [id, value] = entries[0]!;
  if (typeof value !== 'string' || id !== `ed25519:${value}`) return undefined;
  return value;
}

/** Copies a signed object and merges extra signatures into it. */
export function withSignatures(obj: JsonObject, extra: { signer: string; keyId: string; signature: string }[]): JsonObject {
  if (!extra.length) return obj;
  // Signers of stored keys are whatever the uploader wrote (signatures are not signed): "__proto__" too.
  const signatures = dictionary<Record<string, JsonValue>>();
  if (isObject(obj.signatures)) for (const [s, v] of Object.entries(obj.signatures)) if (isObject(v)) signatures[s] = Object.assign(dictionary<JsonValue>(), v);
  for (const e of extra) (signatures[e.signer] ??= dictionary())[e.keyId] = e.signature;
  return { ...obj, signatures };
}

/**
 * A JSON value kept as the text it was stored as, spliced into a response unparsed (a /keys/query
 * for thousands of devices then costs no parse and re-serialisation of each key). toJSON keeps
 * it usable with plain JSON.stringify.
 */
export class RawJson {
  constructor(readonly text: string) {}

  toJSON(): JsonValue {
    return JSON.parse(this.text) as JsonValue;
  }

  /** A stored JSON object with one more top-level field (not already present). */
  static withField(objectText: string, field: string, value: JsonValue): RawJson {
    const head = objectText.slice(0, objectText.lastIndexOf('}'));
    const empty = /^\{\s*$/.test(head);
    return new RawJson(`${head}${empty ? '' : ','}${JSON.stringify(field)}:${JSON.stringify(value)}}`);
  }
}

/** JSON.stringify that writes RawJson values as they are. */
export function serializeJson(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : serializeJson(v))).join(',')}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${serializeJson(v)}`);
  return `{${parts.join(',')}}`;
}
