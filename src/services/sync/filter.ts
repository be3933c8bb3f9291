/**
 * Sync filters (spec: Client-Server API §8.x "Filtering"): parsed and checked once, so a bad
 * filter is a 400 naming the problem and the sync code reads plain fields.
 */
import { MatrixError } from '../../errors.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../matrix/types.js';
import { parseRoomEventFilter, type RoomEventFilter } from '../rooms/event-filter.js';
import { filterGlobMatches } from '../../matrix/filter-glob.js';

export interface EventFilterSpec {
  limit?: number;
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
}

/** The RoomEventFilter of /messages, shared with /sync's room sections. */
export type RoomEventFilterSpec = RoomEventFilter;

export interface SyncFilter {
  eventFields?: string[];
  eventFormat: 'client' | 'federation';
  presence: EventFilterSpec;
  accountData: EventFilterSpec;
  room: {
    rooms?: string[];
    notRooms?: string[];
    includeLeave: boolean;
    timeline: RoomEventFilterSpec;
    state: RoomEventFilterSpec;
    ephemeral: RoomEventFilterSpec;
    accountData: RoomEventFilterSpec;
  };
}

function bad(path: string, what: string): never {
  throw new MatrixError(400, 'M_BAD_JSON', `Invalid filter: '${path}' ${what}`);
}

function obj(v: JsonValue | undefined, path: string): JsonObject {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) bad(path, 'must be an object');
  return v as JsonObject;
}

function strings(v: JsonValue | undefined, path: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) bad(path, 'must be a list of strings');
  return v as string[];
}

function bool(v: JsonValue | undefined, path: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') bad(path, 'must be a boolean');
  return v;
}

export function parseEventFilter(json: JsonValue | undefined, path: string): EventFilterSpec {
  const f = obj(json, path);
  const out: EventFilterSpec = {
    types: strings(f.types, `${path}.types`),
    notTypes: strings(f.not_types, `${path}.not_types`),
    senders: strings(f.senders, `${path}.senders`),
    notSenders: strings(f.not_senders, `${path}.not_senders`),
  };
  if (f.limit !== undefined && f.limit !== null) {
    if (typeof f.limit !== 'number' || !Number.isInteger(f.limit) || f.limit < 0) bad(`${path}.limit`, 'must be a non-negative integer');
    out.limit = f.limit;
  }
  return out;
}

export function parseRoomEventFilterSpec(json: JsonValue | undefined, path: string): RoomEventFilterSpec {
  return parseRoomEventFilter(json === undefined || json === null ? {} : json, { where: path });
}

export function parseSyncFilter(json: JsonValue | undefined): SyncFilter {
  const f = obj(json, 'filter');
  const room = obj(f.room, 'room');
  const eventFormat = f.event_format ?? 'client';
  if (eventFormat !== 'client' && eventFormat !== 'federation') bad('event_format', "must be 'client' or 'federation'");
  return {
    eventFields: strings(f.event_fields, 'event_fields'),
    eventFormat,
    presence: parseEventFilter(f.presence, 'presence'),
    accountData: parseEventFilter(f.account_data, 'account_data'),
    room: {
      rooms: strings(room.rooms, 'room.rooms'),
      notRooms: strings(room.not_rooms, 'room.not_rooms'),
      includeLeave: bool(room.include_leave, 'room.include_leave', false),
      timeline: parseRoomEventFilterSpec(room.timeline, 'room.timeline'),
      state: parseRoomEventFilterSpec(room.state, 'room.state'),
      ephemeral: parseRoomEventFilterSpec(room.ephemeral, 'room.ephemeral'),
      accountData: parseRoomEventFilterSpec(room.account_data, 'room.account_data'),
    },
  };
}

/** spec: "*" in a type filter is a wildcard (matched in linear time: matrix/filter-glob.ts). */
function matchOne(value: string, patterns: string[]): boolean {
  return patterns.some((p) => filterGlobMatches(p, value));
}

/** Whether an event (type + sender, and room for room filters) passes a filter. */
export function passes(f: EventFilterSpec & { rooms?: string[]; notRooms?: string[]; containsUrl?: boolean }, ev: { type: string; sender?: string; room_id?: string; content?: JsonObject }): boolean {
  if (f.types && !matchOne(ev.type, f.types)) return false;
  if (f.notTypes && matchOne(ev.type, f.notTypes)) return false;
  if (ev.sender !== undefined) {
    if (f.senders && !f.senders.includes(ev.sender)) return false;
    if (f.notSenders && f.notSenders.includes(ev.sender)) return false;
  }
  if (ev.room_id !== undefined) {
    if (f.rooms && !f.rooms.includes(ev.room_id)) return false;
    if (f.notRooms && f.notRooms.includes(ev.room_id)) return false;
  }
  if (f.containsUrl !== undefined && ev.content) {
    if ((typeof ev.content.url === 'string') !== f.containsUrl) return false;
  }
  return true;
}

/** spec: Appendices "Dot-separated property paths": `\.` is a literal dot, `\\` a literal backslash. */
export function splitFieldPath(path: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '\\' && (path[i + 1] === '.' || path[i + 1] === '\\')) current += path[++i];
    else if (c === '.') {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/**
 * spec: event_fields — keep only the listed (dotted, with `\.` escapes) fields. The path comes
 * from the client and the event's content may hold a "__proto__" key, so only own properties are
 * read and written: walking `{}["__proto__"]` would reach Object.prototype and write into it.
 */
export function applyEventFields(ev: JsonObject, fields: string[] | undefined): JsonObject {
  if (!fields) return ev;
  const out: JsonObject = {};
  for (const field of fields) {
    const parts = splitFieldPath(field);
    let src: JsonValue | undefined = ev;
    for (const p of parts) src = isJsonObject(src) && Object.hasOwn(src, p) ? src[p] : undefined;
    if (src === undefined) continue;
    let dst = out;
    for (const p of parts.slice(0, -1)) {
      if (!Object.hasOwn(dst, p) || !isJsonObject(dst[p])) setOwn(dst, p, {});
      dst = dst[p] as JsonObject;
    }
    setOwn(dst, parts[parts.length - 1]!, src);
  }
  return out;
}

/** obj[key] = value as an own property, even for "__proto__" (where `=` would set the prototype). */
function setOwn(obj: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
