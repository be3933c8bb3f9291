/**
 * The request side of POST /search: the room_events criteria read from the body (with 400s that
 * name the problem) and the opaque next_batch token.
 */
import type { SearchCursor, SearchOrder } from '../storage/search.js';
import type { JsonObject } from '../matrix/types.js';
import { MatrixError, badJson, invalidParam } from '../errors.js';
import { emptyRoomEventFilter, parseRoomEventFilter, type RoomEventFilter } from './rooms/event-filter.js';
import { filterGlobMatches } from '../matrix/filter-glob.js';

export const SEARCH_KEYS = ['content.body', 'content.name', 'content.topic'] as const;
/** Each key belongs to one event type (the index holds nothing else), so a types filter narrows the keys. */
export const TYPE_OF_KEY: Record<string, string> = { 'content.body': 'm.room.message', 'content.name': 'm.room.name', 'content.topic': 'm.room.topic' };
/** spec: filter.limit; Synapse's default page is 10. */
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 100;
/** spec: event_context before_limit / after_limit default to 5. */
export const DEFAULT_CONTEXT = 5;
export const MAX_CONTEXT = 100;
/** Candidates hidden by history visibility are replaced by fetching again, this many times. */
export const MAX_ROUNDS = 5;
export const MAX_TERM_LENGTH = 1000;

export type GroupKey = 'room_id' | 'sender';

export interface RoomEventsCriteria {
  term: string;
  keys: string[];
  filter: RoomEventFilter;
  order: SearchOrder;
  context?: { before: number; after: number; includeProfile: boolean };
  includeState: boolean;
  groupBy: GroupKey[];
}

/**
 * The opaque next_batch: where the last page stopped, a group it is limited to, and the count the
 * first page found (later pages repeat it instead of counting again).
 */
export interface BatchToken {
  order: SearchOrder;
  cursor: SearchCursor;
  count?: number;
  room?: string;
  sender?: string;
}

export function encodeBatchToken(t: BatchToken): string {
  const json: Record<string, unknown> = { o: t.order, s: t.cursor.stream };
  if (t.cursor.rank !== undefined) json.r = t.cursor.rank;
  if (t.count !== undefined) json.c = t.count;
  if (t.room) json.room = t.room;
  if (t.sender) json.sender = t.sender;
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}

export function decodeBatchToken(token: string): BatchToken {
  const bad = () => invalidParam(`Invalid next_batch token: ${JSON.stringify(token.slice(0, 100))}`);
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(token)) throw bad();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad();
  const j = json as Record<string, unknown>;
  if ((j.o !== 'rank' && j.o !== 'recent') || !Number.isSafeInteger(j.s)) throw bad();
  if (j.o === 'rank' && (typeof j.r !== 'number' || !Number.isFinite(j.r))) throw bad();
  if (j.c !== undefined && (!Number.isSafeInteger(j.c) || (j.c as number) < 0)) throw bad();
  if (j.room !== undefined && (typeof j.room !== 'string' || !j.room.startsWith('!'))) throw bad();
  if (j.sender !== undefined && (typeof j.sender !== 'string' || !j.sender.startsWith('@'))) throw bad();
  return {
    order: j.o,
    cursor: { stream: j.s as number, rank: j.o === 'rank' ? (j.r as number) : undefined },
    count: j.c as number | undefined,
    room: j.room as string | undefined,
    sender: j.sender as string | undefined,
  };
}

/** The search keys whose event type the filter's types and not_types let through (not_types wins). */
export function keysOfTypes(keys: string[], filter: Pick<RoomEventFilter, 'types' | 'notTypes'>): string[] {
  return keys.filter((key) => {
    const type = TYPE_OF_KEY[key]!;
    if (filter.notTypes?.some((p) => filterGlobMatches(p, type))) return false;
    return !filter.types || filter.types.some((p) => filterGlobMatches(p, type));
  });
}

export function intIn(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw badJson(`${name} must be a non-negative integer`);
  return Math.min(value, max);
}

/** Reads the room_events criteria past what the spec's schema (checked by the router) says. */
export function parseCriteria(body: JsonObject): RoomEventsCriteria {
  const categories = body.search_categories as JsonObject;
  const unknown = Object.keys(categories).filter((k) => k !== 'room_events');
  if (unknown.length) throw invalidParam(`Unknown search category ${unknown.map((k) => `'${k}'`).join(', ')}: only room_events is supported`);
  const room = categories.room_events as JsonObject | undefined;
  if (!room) throw new MatrixError(400, 'M_BAD_JSON', "Missing field 'search_categories.room_events'");
  const term = room.search_term as string;
  if (!term.trim()) throw invalidParam('search_term must not be empty');
  if (term.length > MAX_TERM_LENGTH) throw invalidParam(`search_term is longer than ${MAX_TERM_LENGTH} characters`);
  if (term.includes('\0')) throw invalidParam('search_term may not contain the NUL character');
  const keys = (room.keys as string[] | undefined) ?? [...SEARCH_KEYS];
  const filter = room.filter === undefined ? parseRoomEventFilter({}) : parseRoomEventFilter(room.filter, { errcode: 'M_BAD_JSON', where: 'filter' });
  const ctx = room.event_context as JsonObject | undefined;
  const groupBy = ((room.groupings as JsonObject | undefined)?.group_by as JsonObject[] | undefined) ?? [];
  for (const g of groupBy) {
    if (g.key !== 'room_id' && g.key !== 'sender') throw badJson("groupings.group_by[].key must be 'room_id' or 'sender'");
  }
  return {
    term,
    keys: [...new Set(keys)],
    filter,
    order: (room.order_by as SearchOrder | undefined) ?? 'rank',
    context: ctx
      ? {
          before: intIn(ctx.before_limit, 'event_context.before_limit', DEFAULT_CONTEXT, MAX_CONTEXT),
          after: intIn(ctx.after_limit, 'event_context.after_limit', DEFAULT_CONTEXT, MAX_CONTEXT),
          includeProfile: ctx.include_profile === true,
        }
      : undefined,
    includeState: room.include_state === true,
    groupBy: [...new Set(groupBy.map((g) => g.key as GroupKey))],
  };
}

