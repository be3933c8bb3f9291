/**
 * RoomEventFilter (spec: Client-Server API §"Filtering", definitions/room_event_filter.yaml):
 * parsing with errors that name the offending field, and matching an event against it. /messages,
 * /context and /sync's room timeline all use this one reading of the filter.
 */
import { MatrixError } from '../../errors.js';
import { filterGlobMatches } from '../../matrix/filter-glob.js';
import { containsNul } from '../../matrix/json-nul.js';

export interface RoomEventFilter {
  limit?: number;
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
  rooms?: string[];
  notRooms?: string[];
  containsUrl?: boolean;
  lazyLoadMembers: boolean;
  includeRedundantMembers: boolean;
  unreadThreadNotifications: boolean;
}

export type FilterErrcode = 'M_BAD_JSON' | 'M_INVALID_PARAM';

/** What matchesFilter reads of an event (a RoomEvent or a client event both fit). */
export interface FilterableEvent {
  type: string;
  sender: string;
  room_id?: string;
  content: Record<string, unknown>;
}

const EMPTY_FILTER: RoomEventFilter = { lazyLoadMembers: false, includeRedundantMembers: false, unreadThreadNotifications: false };

/** A filter that lets every event through. */
export function emptyRoomEventFilter(): RoomEventFilter {
  return { ...EMPTY_FILTER };
}

/**
 * Validates a RoomEventFilter given as parsed JSON. Unknown keys are ignored (filters carry
 * unstable extensions). `errcode` is M_BAD_JSON for request bodies, M_INVALID_PARAM for query
 * parameters; `where` prefixes field names in errors (e.g. "room.timeline").
 */
export function parseRoomEventFilter(json: unknown, options: { errcode?: FilterErrcode; where?: string } = {}): RoomEventFilter {
  const errcode = options.errcode ?? 'M_BAD_JSON';
  const prefix = options.where ? `${options.where}.` : '';
  const fail = (msg: string): never => {
    throw new MatrixError(400, errcode, msg);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(`${options.where ?? 'filter'} must be a JSON object`);
  const obj = json as Record<string, unknown>;
  const out = emptyRoomEventFilter();

  if (obj.limit !== undefined) {
    const limit = obj.limit;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0) fail(`${prefix}limit must be an integer greater than 0`);
    out.limit = limit as number;
  }
  const list = (key: string, check?: (v: string) => boolean, what = 'strings'): string[] | undefined => {
    const value = obj[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) return fail(`${prefix}${key} must be a list of ${what}`);
    for (const v of value) {
      if (typeof v !== 'string' || (check && !check(v))) fail(`${prefix}${key} must be a list of ${what}`);
    }
    return value as string[];
  };
  const userId = (v: string) => v.startsWith('@');
  const roomId = (v: string) => v.startsWith('!');
  out.types = list('types');
  out.notTypes = list('not_types');
  out.senders = list('senders', userId, 'user IDs');
  out.notSenders = list('not_senders', userId, 'user IDs');
  out.rooms = list('rooms', roomId, 'room IDs');
  out.notRooms = list('not_rooms', roomId, 'room IDs');
  for (const key of ['types', 'notTypes', 'senders', 'notSenders', 'rooms', 'notRooms'] as const) {
    if (out[key] === undefined) delete out[key];
  }
  const bool = (key: string): boolean | undefined => {
    const value = obj[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') fail(`${prefix}${key} must be a boolean`);
    return value as boolean;
  };
  const containsUrl = bool('contains_url');
  if (containsUrl !== undefined) out.containsUrl = containsUrl;
  out.lazyLoadMembers = bool('lazy_load_members') ?? false;
  out.includeRedundantMembers = bool('include_redundant_members') ?? false;
  out.unreadThreadNotifications = bool('unread_thread_notifications') ?? false;
  return out;
}

/**
 * Reads the `filter` query parameter of /messages and /context: JSON text (URL-decoded by the
 * HTTP layer). Absent or empty means no filter. Text that is not JSON is 400 M_NOT_JSON and a
 * filter with bad fields 400 M_BAD_JSON: what Synapse answers, and what /sync's inline filter
 * answers here too.
 */
export function parseRoomEventFilterParam(text: string | undefined, name = 'filter'): RoomEventFilter {
  if (text === undefined || text === '') return emptyRoomEventFilter();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MatrixError(400, 'M_NOT_JSON', `Query parameter '${name}' must be a valid JSON object`);
  }
  // The filter's strings reach SQL parameters, which cannot hold U+0000.
  if (text.includes('u0000') && containsNul(json)) throw new MatrixError(400, 'M_BAD_JSON', `Query parameter '${name}' may not contain the NUL character (U+0000)`);
  return parseRoomEventFilter(json, { errcode: 'M_BAD_JSON', where: name });
}

/** spec: a `*` in types and not_types matches any sequence of characters. */
function matchesPattern(value: string, pattern: string): boolean {
  return filterGlobMatches(pattern, value);
}

function matchesAny(value: string, patterns: string[], wildcards: boolean): boolean {
  return wildcards ? patterns.some((p) => matchesPattern(value, p)) : patterns.includes(value);
}

/**
 * Whether an event passes the filter. The not_ lists win over the positive lists; a positive
 * list that is present but empty lets nothing through.
 */
export function matchesFilter(event: FilterableEvent, filter: RoomEventFilter): boolean {
  if (filter.notTypes && matchesAny(event.type, filter.notTypes, true)) return false;
  if (filter.types && !matchesAny(event.type, filter.types, true)) return false;
  if (filter.notSenders && filter.notSenders.includes(event.sender)) return false;
  if (filter.senders && !filter.senders.includes(event.sender)) return false;
  if (event.room_id !== undefined) {
    if (filter.notRooms && filter.notRooms.includes(event.room_id)) return false;
    if (filter.rooms && !filter.rooms.includes(event.room_id)) return false;
  }
  if (filter.containsUrl !== undefined) {
    const hasUrl = typeof event.content?.url === 'string';
    if (hasUrl !== filter.containsUrl) return false;
  }
  return true;
}

/** Whether the filter lets any event of this room through at all (rooms / not_rooms). */
export function filterAllowsRoom(filter: RoomEventFilter, roomId: string): boolean {
  if (filter.notRooms && filter.notRooms.includes(roomId)) return false;
  if (filter.rooms && !filter.rooms.includes(roomId)) return false;
  return true;
}
