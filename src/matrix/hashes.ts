/**
 * Content hashes, reference hashes and hash-derived event IDs. All functions take the PDU in its
 * federation (wire) form: for room versions 3+ that form has no `event_id`.
 */
import * as crypto from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import { encodeBase64, encodeBase64Url } from './base64.js';
import { redactEvent } from './redaction.js';
import type { RoomVersion } from './room-versions.js';

/** Node ≥ 20.12 hashes a small input in one call, without a Hash object per digest. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'buffer') => Buffer }).hash;

/** SHA-256 of bytes, or of a string's UTF-8. */
export function sha256(data: string | Uint8Array): Buffer {
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/**
 * spec: Server-Server API §"Calculating the content hash for an event": sha256 over the canonical
 * JSON without `unsigned`, `signatures` and `hashes`. Returns unpadded base64.
 */
export function computeContentHash(pdu: object): string {
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = pdu as Record<string, unknown>;
  return encodeBase64(sha256(canonicalJsonBytes(rest)));
}

/**
 * spec: Server-Server API §"Calculating the reference hash for an event": redact, drop
 * `signatures` and `unsigned`, sha256 the canonical JSON.
 */
export function computeReferenceHash(pdu: object, version: RoomVersion): Buffer {
  const { unsigned: _u, signatures: _s, ...rest } = redactEvent(pdu, version) as Record<string, unknown>;
  return sha256(canonicalJsonBytes(rest));
}

/**
 * The event's ID. spec: Room Version 1 §"Event IDs" (server-chosen, carried in the PDU),
 * Room Version 3 §"Event IDs" (`$` + unpadded base64 of the reference hash),
 * Room Version 4 §"Event IDs" (the same with URL-safe base64).
 */
export function computeEventId(wirePdu: object, version: RoomVersion): string {
  if (version.eventFormat === 1) {
    const id = (wirePdu as { event_id?: unknown }).event_id;
    if (typeof id !== 'string') throw new Error(`room version ${version.id} PDUs must carry an event_id`);
    return id;
  }
  const hash = computeReferenceHash(wirePdu, version);
  return '$' + (version.eventFormat === 2 ? encodeBase64(hash) : encodeBase64Url(hash));
}
