/**
 * Building, converting, checking and verifying PDUs (room events).
 * spec: Server-Server API §"PDUs", §"Signing Events"; Room Versions §"Event format".
 *
 * Two shapes exist: the federation (wire) form, which is what is hashed and signed, and the
 * normalised RoomEvent (types.ts) with an `event_id` always present and plain prev/auth ID lists.
 */
import { canonicalJson, canonicalJsonBytes, CanonicalJsonError } from './canonical-json.js';
import { decodeBase64, encodeBase64, encodeBase64Url } from './base64.js';
import { computeContentHash, computeEventId, computeReferenceHash, sha256 } from './hashes.js';
import { parseUserId, serverNameOf, MAX_ID_BYTES } from './ids.js';
import { redactEvent } from './redaction.js';
import { signBytes, signedJsonBytes, signJson, verifyJsonSignature, type SigningKey } from './signing.js';
import { getRoomVersion, type RoomVersion } from './room-versions.js';
import type { EventHashes, JsonObject, JsonValue, RoomEvent, Signatures } from './types.js';

export interface EventProto {
  type: string;
  state_key?: string;
  sender: string;
  /** Omitted only for the m.room.create event of room version 12. */
  room_id?: string;
  content: JsonObject;
  prev_events: string[];
  auth_events: string[];
  depth: number;
  origin_server_ts: number;
  /** Top-level for room versions 1-10; from v11 it is written into `content.redacts`. */
  redacts?: string;
  /** Required for room versions 1 and 2 (eventFormat 1), forbidden otherwise. */
  event_id?: string;
}

/**
 * Room versions 1-2 reference events as [id, hashes] pairs. The pair hashes are covered by the
 * sender's content hash and signature, so fromFederationFormat keeps them on the RoomEvent under
 * these keys, and toFederationFormat puts them back unchanged.
 */
export type RoomEventV1Hashes = {
  prev_event_hashes?: Record<string, EventHashes>;
  auth_event_hashes?: Record<string, EventHashes>;
};

export class PduFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PduFormatError';
  }
}

const V12 = getRoomVersion('12')!;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** spec: Room Version 12 §"Event format": the create event's ID is the room ID, so it carries none. */
function isCreateWithoutRoomId(ev: { type?: unknown; state_key?: unknown }, version: RoomVersion): boolean {
  return version.privilegedCreators && ev.type === 'm.room.create' && ev.state_key === '';
}

/**
 * Adds this server's signature over the redacted event, leaving `hashes` alone (used e.g. when a
 * resident server co-signs a restricted join). spec: Server-Server API §"Adding hashes and
 * signatures to outgoing events".
 */
export function addEventSignature<T extends object>(wirePdu: T, version: RoomVersion, serverName: string, key: SigningKey): T & { signatures: Signatures } {
  const signed = signJson(redactEvent(wirePdu, version), serverName, key);
  return { ...wirePdu, signatures: signed.signatures };
}

/** Content hash, then signature of the redacted form (which covers the hash). */
export function hashAndSignEvent<T extends object>(
  wirePdu: T,
  version: RoomVersion,
  serverName: string,
  key: SigningKey,
): T & { hashes: EventHashes; signatures: Signatures } {
  const hashes: EventHashes = { sha256: computeContentHash(wirePdu) };
  return addEventSignature({ ...wirePdu, hashes }, version, serverName, key);
}

/** Creates, hashes and signs a new event; returns it normalised with its event ID. */
export function buildEvent(proto: EventProto, version: RoomVersion, serverName: string, key: SigningKey): RoomEvent {
  return buildSignedEvent(proto, version, serverName, key).event;
}

/**
 * buildEvent, also giving the canonical JSON of the signed federation form (what is stored and
 * sent). Each form is encoded once: the content hash's (the event without hashes and
 * signatures), the signed one's (the redacted event with its hashes, whose sha256 is also the
 * reference hash: spec: Server-Server API §"Calculating the reference hash for an event" drops
 * the same `signatures` and `unsigned` that signing leaves out) and the full one, which reuses
 * the content's encoding from the first.
 */
export function buildSignedEvent(proto: EventProto, version: RoomVersion, serverName: string, key: SigningKey): { event: RoomEvent; json: string } {
  const pending = hashEvent(proto, version);
  return signHashedEvent(pending, serverName, key.keyId, signBytes(key, pending.signedBytes));
}

/** An event built and hashed, waiting for its signature (see hashEvent). */
export interface HashedEvent {
  readonly version: RoomVersion;
  /** The federation form with its content hash, without signatures. */
  readonly pdu: Record<string, unknown>;
  /** What the server signs: the canonical JSON of the redacted form. */
  readonly signedBytes: Buffer;
  readonly memo: Map<object, string>;
}

/**
 * The first half of buildSignedEvent, for callers that sign elsewhere (signBytesAsync): the
 * event in federation form with its content hash, and the bytes to sign. Throws
 * CanonicalJsonError or PduFormatError for content or fields that cannot make an event.
 */
export function hashEvent(proto: EventProto, version: RoomVersion): HashedEvent {
  const wire: Record<string, unknown> = {
    type: proto.type,
    sender: proto.sender,
    content: structuredClone(proto.content),
    depth: proto.depth,
    origin_server_ts: proto.origin_server_ts,
  };
  if (proto.state_key !== undefined) wire['state_key'] = proto.state_key;
  if (isCreateWithoutRoomId(proto, version)) {
    if (proto.room_id !== undefined) throw new PduFormatError(`m.room.create in room version ${version.id} must not have a room_id`);
  } else {
    if (proto.room_id === undefined) throw new PduFormatError('room_id is required');
    wire['room_id'] = proto.room_id;
  }
  if (proto.redacts !== undefined) {
    // spec: Room Version 11 §"Moving the redacts property of m.room.redaction events to a content property".
    if (version.updatedRedactionRules) (wire['content'] as JsonObject)['redacts'] ??= proto.redacts;
    else wire['redacts'] = proto.redacts;
  }
  if (version.eventFormat === 1) {
    if (proto.event_id === undefined) throw new PduFormatError(`room version ${version.id} events need a server-chosen event_id`);
    wire['event_id'] = proto.event_id;
    wire['prev_events'] = proto.prev_events.map((id) => [id, {}]);
    wire['auth_events'] = proto.auth_events.map((id) => [id, {}]);
  } else {
    if (proto.event_id !== undefined) throw new PduFormatError(`room version ${version.id} event IDs are derived, not chosen`);
    wire['prev_events'] = [...proto.prev_events];
    wire['auth_events'] = [...proto.auth_events];
  }
  const memo = new Map<object, string>();
  // spec: Server-Server API §"Calculating the content hash for an event".
  const hashes: EventHashes = { sha256: encodeBase64(sha256(canonicalJson(wire, memo))) };
  const pdu = { ...wire, hashes };
  return { version, pdu, signedBytes: signedJsonBytes(redactEvent(pdu, version)), memo };
}

/** The second half of buildSignedEvent: the signed event, normalised, and its canonical JSON. */
export function signHashedEvent(hashed: HashedEvent, serverName: string, keyId: string, signature: string): { event: RoomEvent; json: string } {
  const { version, memo } = hashed;
  const pdu = { ...hashed.pdu, signatures: { [serverName]: { [keyId]: signature } } as Signatures };
  const json = canonicalJson(pdu, memo);
  let eventId: string | undefined;
  if (version.eventFormat !== 1) {
    const hash = sha256(hashed.signedBytes);
    eventId = '$' + (version.eventFormat === 2 ? encodeBase64(hash) : encodeBase64Url(hash));
  }
  return { event: normalise(pdu as JsonObject, version, eventId), json };
}

/**
 * spec: Room Version 12 §"Event format" and Appendices §"Room IDs": the room ID is the create
 * event's ID with `!` for `$`, i.e. `!` + URL-safe unpadded base64 of its reference hash. Accepts
 * the create event in normalised or federation form.
 */
export function roomIdFromCreateEvent(ev: RoomEvent | JsonObject, version: RoomVersion = V12): string {
  if (version.eventFormat === 1) throw new Error(`room version ${version.id} room IDs are not derived from the create event`);
  // In hash-ID room versions the two forms differ only by the derived event_id (and the room ID
  // that the normalised form may have been given).
  const { event_id: _id, ...wire } = ev as JsonObject;
  if (isCreateWithoutRoomId(wire, version)) delete wire['room_id'];
  return '!' + encodeBase64Url(computeReferenceHash(wire, version));
}

/**
 * The federation form of a normalised event. `unsigned` passes through: drop local-only data first.
 * A v12 create event goes out without a room_id even if the normalised form was given its derived
 * room ID (spec: Room Version 12 §"Event format": room_id is omitted from m.room.create events).
 */
export function toFederationFormat(ev: RoomEvent, version: RoomVersion): JsonObject {
  const { prev_event_hashes, auth_event_hashes, ...rest } = ev as RoomEvent & RoomEventV1Hashes;
  const out = { ...rest } as Record<string, unknown>;
  if (isCreateWithoutRoomId(ev, version)) delete out['room_id'];
  if (version.eventFormat === 1) {
    // Unknown reference hashes go out as `{}`, as the originating servers of old rooms do.
    out['prev_events'] = ev.prev_events.map((id) => [id, prev_event_hashes?.[id] ?? {}]);
    out['auth_events'] = ev.auth_events.map((id) => [id, auth_event_hashes?.[id] ?? {}]);
  } else {
    delete out['event_id'];
  }
  return out as JsonObject;
}

function checkString(pdu: Record<string, unknown>, key: string, optional = false): void {
  const v = pdu[key];
  if (v === undefined && optional) return;
  if (typeof v !== 'string') throw new PduFormatError(`PDU ${key} must be a string`);
}

function checkInteger(pdu: Record<string, unknown>, key: string): void {
  const v = pdu[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new PduFormatError(`PDU ${key} must be an integer`);
}

/** Reads a v1/v2 `[[id, hashes], ...]` list into IDs plus the hashes that were not empty. */
function readPairs(list: unknown[], key: string): { ids: string[]; hashes: Record<string, EventHashes> } {
  const ids: string[] = [];
  const hashes: Record<string, EventHashes> = {};
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || !isObject(entry[1])) {
      throw new PduFormatError(`PDU ${key} entries must be [event_id, hashes] pairs in this room version`);
    }
    ids.push(entry[0]);
    if (Object.keys(entry[1]).length > 0) hashes[entry[0]] = entry[1] as EventHashes;
  }
  return { ids, hashes };
}

/**
 * Parses a PDU received over federation into a RoomEvent: checks the shape of the fields this
 * module relies on, normalises prev/auth event lists and computes the event ID. Unknown
 * top-level keys are kept, since the content hash covers them. Throws PduFormatError.
 */
export function fromFederationFormat(pdu: JsonObject, version: RoomVersion): RoomEvent {
  return normalise(pdu, version);
}

/** fromFederationFormat; `knownEventId` (hash-ID versions) skips recomputing what the builder has. */
function normalise(pdu: JsonObject, version: RoomVersion, knownEventId?: string): RoomEvent {
  if (!isObject(pdu)) throw new PduFormatError('PDU must be a JSON object');
  checkString(pdu, 'type');
  checkString(pdu, 'sender');
  checkString(pdu, 'state_key', true);
  checkInteger(pdu, 'depth');
  checkInteger(pdu, 'origin_server_ts');
  if (!isObject(pdu['content'])) throw new PduFormatError('PDU content must be an object');
  if (!isObject(pdu['hashes']) || typeof pdu['hashes']['sha256'] !== 'string') throw new PduFormatError('PDU hashes.sha256 must be a string');
  const sigs = pdu['signatures'];
  if (!isObject(sigs) || !Object.values(sigs).every((s) => isObject(s) && Object.values(s).every((v) => typeof v === 'string'))) {
    throw new PduFormatError('PDU signatures must map server names to key IDs to strings');
  }
  if (pdu['unsigned'] !== undefined && !isObject(pdu['unsigned'])) throw new PduFormatError('PDU unsigned must be an object');
  if (isCreateWithoutRoomId(pdu, version)) {
    if (pdu['room_id'] !== undefined) throw new PduFormatError(`m.room.create in room version ${version.id} must not have a room_id`);
  } else {
    checkString(pdu, 'room_id');
  }
  checkString(pdu, 'redacts', true);
  for (const key of ['prev_events', 'auth_events']) {
    if (!Array.isArray(pdu[key])) throw new PduFormatError(`PDU ${key} must be an array`);
  }
  const prev = pdu['prev_events'] as unknown[];
  const auth = pdu['auth_events'] as unknown[];
  const out: Record<string, unknown> = { ...pdu };
  if (version.eventFormat === 1) {
    checkString(pdu, 'event_id');
    const p = readPairs(prev, 'prev_events');
    const a = readPairs(auth, 'auth_events');
    out['prev_events'] = p.ids;
    out['auth_events'] = a.ids;
    if (Object.keys(p.hashes).length > 0) out['prev_event_hashes'] = p.hashes;
    if (Object.keys(a.hashes).length > 0) out['auth_event_hashes'] = a.hashes;
  } else {
    // Hashing a stray event_id would give an ID no other server computes for this PDU.
    if (pdu['event_id'] !== undefined) throw new PduFormatError(`room version ${version.id} PDUs must not carry an event_id`);
    for (const [key, list] of [['prev_events', prev], ['auth_events', auth]] as const) {
      if (!list.every((id) => typeof id === 'string')) throw new PduFormatError(`PDU ${key} must be a list of event IDs in this room version`);
    }
  }
  if (knownEventId !== undefined) {
    // Built here: canonical by construction, its ID computed from the bytes that were signed.
    out['event_id'] = knownEventId;
    return out as unknown as RoomEvent;
  }
  try {
    // spec: Room Version 6 §"Canonical JSON": from v6 events that break the canonical JSON rules
    // (floats, out-of-range integers) are invalid; older versions tolerate them where they can.
    if (version.strictCanonicalJson) canonicalJsonBytes(pdu);
    if (version.eventFormat !== 1) out['event_id'] = computeEventId(pdu, version);
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw new PduFormatError(`PDU is not valid canonical JSON: ${e.message}`);
    throw e;
  }
  return out as unknown as RoomEvent;
}

/**
 * spec: Server-Server API §"Validating hashes and signatures on received events": the content
 * hash is recomputed and compared with the base64-decoded `hashes.sha256`. False also when the
 * PDU cannot be canonicalised.
 */
export function checkContentHash(wirePdu: object, _version: RoomVersion): boolean {
  const claimed = (wirePdu as { hashes?: { sha256?: unknown } }).hashes?.sha256;
  if (typeof claimed !== 'string') return false;
  try {
    return decodeBase64(claimed).equals(decodeBase64(computeContentHash(wirePdu)));
  } catch {
    return false;
  }
}

/**
 * The servers whose signatures an event needs. spec: Server-Server API §"Validating hashes and
 * signatures on received events": the sender's server, except for invites from a third-party
 * invite (sent by whichever server holds the invite); for room versions 1-2 also the event ID's
 * server. spec: Room Version 8 §"Authorisation rules" 4.2: a member event carrying
 * `join_authorised_via_users_server` must be signed by that user's server.
 */
export function requiredSigners(wirePdu: JsonObject, version: RoomVersion): { servers: string[] } | { error: string } {
  const servers = new Set<string>();
  const sender = parseUserId(wirePdu['sender'] as string);
  if (sender === null) return { error: 'sender is not a valid user ID' };
  const content = isObject(wirePdu['content']) ? wirePdu['content'] : {};
  const isMember = wirePdu['type'] === 'm.room.member';
  const thirdPartyInvite = isMember && content['membership'] === 'invite' && content['third_party_invite'] !== undefined;
  if (!thirdPartyInvite) servers.add(sender.serverName);
  if (version.eventFormat === 1) {
    const domain = typeof wirePdu['event_id'] === 'string' ? serverNameOf(wirePdu['event_id']) : null;
    if (domain === null) return { error: 'event_id has no server name' };
    servers.add(domain);
  }
  if (version.restrictedJoinRule && isMember && content['join_authorised_via_users_server'] !== undefined) {
    const via = content['join_authorised_via_users_server'];
    const authoriser = typeof via === 'string' ? parseUserId(via) : null;
    if (authoriser === null) return { error: 'join_authorised_via_users_server is not a valid user ID' };
    servers.add(authoriser.serverName);
  }
  return { servers: [...servers] };
}

/**
 * Verifies the signatures an event needs on its redacted form. For each required server at least
 * one signature must be made with a key `lookupKey` knows, and every such signature must verify;
 * signatures by unknown (or, for v5+, expired: the caller decides) keys are skipped.
 */
export function verifyEventSignatures(
  wirePdu: JsonObject,
  version: RoomVersion,
  lookupKey: (serverName: string, keyId: string) => string | undefined,
): { ok: true } | { ok: false; reason: string } {
  const required = requiredSigners(wirePdu, version);
  if ('error' in required) return { ok: false, reason: required.error };
  const redacted = redactEvent(wirePdu, version);
  const signatures = isObject(redacted['signatures']) ? redacted['signatures'] : {};
  for (const server of required.servers) {
    const fromServer = Object.hasOwn(signatures, server) ? signatures[server] : undefined;
    if (!isObject(fromServer)) return { ok: false, reason: `no signature from ${server}` };
    let verified = 0;
    for (const keyId of Object.keys(fromServer)) {
      if (!keyId.startsWith('ed25519:')) continue;
      const publicKey = lookupKey(server, keyId);
      if (publicKey === undefined) continue;
      if (!verifyJsonSignature(redacted, server, keyId, publicKey)) {
        return { ok: false, reason: `signature from ${server} with key ${keyId} does not verify` };
      }
      verified++;
    }
    if (verified === 0) return { ok: false, reason: `no signature from ${server} with a known key` };
  }
  return { ok: true };
}

/** spec: Client-Server API §"Size limits". */
export const MAX_PDU_BYTES = 65536;

/** Returns why a PDU breaks the size limits, or null. */
export function checkPduLimits(wirePdu: JsonObject, canonicalJsonText?: string): string | null {
  for (const key of ['sender', 'room_id', 'state_key', 'type', 'event_id']) {
    const v: JsonValue | undefined = wirePdu[key];
    if (typeof v === 'string' && Buffer.byteLength(v, 'utf8') > MAX_ID_BYTES) return `${key} is longer than ${MAX_ID_BYTES} bytes`;
  }
  let size: number;
  try {
    size = canonicalJsonText !== undefined ? Buffer.byteLength(canonicalJsonText, 'utf8') : canonicalJsonBytes(wirePdu).length;
  } catch (e) {
    return `not canonical JSON: ${(e as Error).message}`;
  }
  return size > MAX_PDU_BYTES ? `event is ${size} bytes, more than ${MAX_PDU_BYTES}` : null;
}
