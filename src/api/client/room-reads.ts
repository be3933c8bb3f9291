/**
 * spec: Client-Server API §"Getting events for a room": GET /event, /state, /state/{type}/{key},
 * /members, /joined_members, /messages, /context and v1 /timestamp_to_event.
 */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { invalidParam, missingParam } from '../../errors.js';
import { parseRoomEventFilterParam } from '../../services/rooms/event-filter.js';
import { DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT } from '../../services/rooms/pagination.js';

/**
 * A non-negative integer query parameter, capped; absent means `fallback` (a filter's own limit,
 * which is capped the same way: a filter must not page a whole room into one response).
 */
export function limitParam(value: string | undefined, fallback: number, max: number, name = 'limit'): number {
  if (value === undefined || value === '') return Math.min(fallback, max);
  if (!/^\d{1,16}$/.test(value)) throw invalidParam(`${name} must be a non-negative integer`);
  return Math.min(Number(value), max);
}

function dirParam(value: string | undefined, fallback?: 'b' | 'f'): 'b' | 'f' {
  if (value === undefined || value === '') {
    if (fallback) return fallback;
    throw missingParam("Missing 'dir' parameter");
  }
  if (value !== 'b' && value !== 'f') throw invalidParam("'dir' must be 'b' or 'f'");
  return value;
}

export function registerRoomReadRoutes(r: ApiRouter, s: Services): void {
  const reads = () => s.rooms.reads;

  r.client('GET', '/rooms/:roomId/event/:eventId', { auth: 'required', allowGuests: true }, ({ requester, params }) =>
    reads().getEvent(requester, params.roomId!, params.eventId!),
  );

  r.client('GET', '/rooms/:roomId/state', { auth: 'required', allowGuests: true }, ({ requester, params }) =>
    reads().getState(requester, params.roomId!),
  );
  for (const path of ['/rooms/:roomId/state/:eventType', '/rooms/:roomId/state/:eventType/:stateKey']) {
    r.client('GET', path, { auth: 'required', allowGuests: true }, ({ requester, params, query }) => {
      const format = query.format ?? 'content';
      if (format !== 'content' && format !== 'event') throw invalidParam("'format' must be 'content' or 'event'");
      return reads().getStateEvent(requester, params.roomId!, params.eventType!, params.stateKey ?? '', format);
    });
  }

  r.client('GET', '/rooms/:roomId/members', { auth: 'required', allowGuests: true }, ({ requester, params, query }) =>
    reads().getMembers(requester, params.roomId!, { at: query.at || undefined, membership: query.membership, notMembership: query.not_membership }),
  );
  // spec: Client-Server API §"Guest Access" lists /members for guests, not /joined_members (nor
  // timestamp_to_event); Synapse refuses guests both.
  r.client('GET', '/rooms/:roomId/joined_members', { auth: 'required' }, ({ requester, params }) =>
    reads().getJoinedMembers(requester, params.roomId!),
  );

  r.client('GET', '/rooms/:roomId/messages', { auth: 'required', allowGuests: true }, ({ requester, params, query }) => {
    const filter = parseRoomEventFilterParam(query.filter);
    return s.rooms.pagination.messages(requester, params.roomId!, {
      // Synapse's default when a client leaves `dir` out.
      dir: dirParam(query.dir, 'f'),
      from: query.from || undefined,
      to: query.to || undefined,
      limit: limitParam(query.limit, filter.limit ?? DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT),
      filter,
    });
  });

  r.client('GET', '/rooms/:roomId/context/:eventId', { auth: 'required', allowGuests: true }, ({ requester, params, query }) => {
    const filter = parseRoomEventFilterParam(query.filter);
    const limit = limitParam(query.limit, filter.limit ?? DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT);
    return s.rooms.pagination.context(requester, params.roomId!, params.eventId!, limit, filter);
  });

  r.add('GET', ['/_matrix/client/v1/rooms/:roomId/timestamp_to_event'], { auth: 'required' }, ({ requester, params, query }) => {
    if (query.ts === undefined || query.ts === '') throw missingParam("Missing 'ts' parameter");
    if (!/^-?\d{1,16}$/.test(query.ts)) throw invalidParam("'ts' must be an integer");
    const dir = dirParam(query.dir);
    return reads().timestampToEvent(requester!, params.roomId!, Number(query.ts), dir);
  });
}
