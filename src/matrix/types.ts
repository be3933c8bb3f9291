/**
 * Plain data shapes shared by the pure Matrix rules. No I/O lives in src/matrix/.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * An object keyed by IDs clients choose: user, device, room, session, key, signer or tag names.
 * Such a key may be "__proto__" or "constructor". On a plain `{}` the first sets the object's
 * prototype (through `??=` it even writes into Object.prototype, for the whole process) and the
 * second reads an inherited function. Without a prototype every key is an ordinary own entry,
 * and JSON.stringify writes it like any other.
 */
export function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Hashes of a PDU (spec: Server-Server API §27.1 "Calculating the content hash"). */
export interface EventHashes {
  sha256: string;
  [algorithm: string]: string;
}

/** server name → key id → unpadded base64 signature */
export type Signatures = Record<string, Record<string, string>>;

/**
 * A persistent data unit (room event) in the normalised form Veche uses internally:
 * `event_id` is always present (for room versions 3+ it is derived from the reference hash and
 * is not part of the signed JSON), and `prev_events` / `auth_events` are plain ID lists whatever
 * the room version's wire format. `toFederationFormat` in pdu.ts gives the wire form back.
 */
export interface RoomEvent {
  event_id: string;
  /**
   * Absent from the PDU only on the m.room.create event of room version 12, whose room ID is its
   * own hash. The normalised form of that event may hold the derived room ID; toFederationFormat
   * and roomIdFromCreateEvent leave it out, and the auth rules accept it.
   */
  room_id: string;
  sender: string;
  origin_server_ts: number;
  type: string;
  state_key?: string;
  content: JsonObject;
  prev_events: string[];
  auth_events: string[];
  depth: number;
  hashes: EventHashes;
  signatures: Signatures;
  unsigned?: JsonObject;
  /** Top-level only for room versions up to 10; from v11 it moved into content (spec: Room Version 11). */
  redacts?: string;
  /** Legacy top-level keys of room versions 1-10 that survive redaction there. */
  origin?: string;
  membership?: string;
  prev_state?: JsonValue;
}

/** Key of a piece of room state: (event type, state key). */
export type StateKey = string;

export function stateKeyOf(type: string, stateKey: string): StateKey {
  return `${type}\u0000${stateKey}`;
}

export function splitStateKey(key: StateKey): [type: string, stateKey: string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** A room state: (type, state_key) → event. */
export type StateMap = Map<StateKey, RoomEvent>;

/** A room state by event ID only: (type, state_key) → event ID. */
export type StateIdMap = Map<StateKey, string>;

export type AuthResult = { allowed: true } | { allowed: false; reason: string };
