/**
 * Timeline pagination: GET /rooms/{roomId}/messages and GET /rooms/{roomId}/context/{eventId}
 * (spec: Client-Server API §"Getting events for a room"), in (topological, stream) order, with
 * RoomEventFilter, lazy-loaded members and history visibility on every event returned.
 */
import type { Storage } from '../../storage/index.js';
import type { PageQuery, StoredEvent } from '../../storage/events.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import { splitStateKey, stateKeyOf, type JsonObject, type StateIdMap } from '../../matrix/types.js';
import { forbidden, notFound } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { RoomStateService } from './room-state.js';
import { positionOf, type VisibilityService } from './visibility.js';
import { filterAllowsRoom, matchesFilter, type RoomEventFilter } from './event-filter.js';
import {
  comparePositions,
  formatTopologicalToken,
  parseRoomToken,
  tokenAfter,
  tokenBefore,
  type TimelinePosition,
} from './pagination-token.js';
import { checkRoomId, clientEventsOf, notIgnoredBy, type AggregationSource } from './room-reads.js';

export const DEFAULT_MESSAGES_LIMIT = 10;
export const MAX_MESSAGES_LIMIT = 1000;
/** Pages are refilled this many times when history visibility hides events. */
const MAX_ROUNDS = 3;

export interface MessagesQuery {
  from?: string;
  to?: string;
  dir: 'b' | 'f';
  limit: number;
  filter: RoomEventFilter;
}

export interface MessagesResponse {
  chunk: JsonObject[];
  start: string;
  end?: string;
  state?: JsonObject[];
}

export interface ContextResponse {
  event: JsonObject;
  events_before: JsonObject[];
  events_after: JsonObject[];
  start: string;
  end: string;
  state: JsonObject[];
}

export interface PaginationDeps {
  storage: Storage;
  roomState: RoomStateService;
  visibility: VisibilityService;
  positions: StreamIdGenerator;
  now: () => number;
}

function filterColumns(filter: RoomEventFilter): Pick<PageQuery, 'types' | 'notTypes' | 'senders' | 'notSenders' | 'containsUrl'> {
  return { types: filter.types, notTypes: filter.notTypes, senders: filter.senders, notSenders: filter.notSenders, containsUrl: filter.containsUrl };
}

export class RoomPaginationService {
  /** Set by the composition root once the relations service exists. */
  aggregations?: AggregationSource;

  constructor(private readonly deps: PaginationDeps) {}

  private get storage(): Storage {
    return this.deps.storage;
  }

  /** The gap a token names, and the highest stream position the page may include. */
  private async resolveToken(roomId: string, token: string, name: string, dir: 'b' | 'f'): Promise<{ position: TimelinePosition; maxStream?: number }> {
    const parsed = parseRoomToken(token, name);
    if (parsed.kind === 'topological') return { position: { topo: parsed.topo, stream: parsed.stream } };
    const stream = Math.min(parsed.stream, this.deps.positions.current());
    // Backwards from a stream position: nothing that arrived after it belongs in the page.
    return { position: await this.storage.events.positionAtStream(roomId, stream), maxStream: dir === 'b' ? stream : undefined };
  }

  /** GET /rooms/{roomId}/messages */
  async messages(requester: Requester, roomId: string, q: MessagesQuery): Promise<MessagesResponse> {
    checkRoomId(roomId);
    // Tokens are checked before access, so a malformed one is always 400.
    if (q.from !== undefined) parseRoomToken(q.from, 'from');
    if (q.to !== undefined) parseRoomToken(q.to, 'to');
    const access = await this.deps.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    let maxStream = this.deps.positions.current();
    let from: TimelinePosition;
    let start: string;
    if (q.from !== undefined) {
      const resolved = await this.resolveToken(roomId, q.from, 'from', q.dir);
      from = resolved.position;
      if (resolved.maxStream !== undefined) maxStream = Math.min(maxStream, resolved.maxStream);
      start = q.from;
    } else {
      // spec (v1.3): no `from` pages from the first or last event of the room.
      from = q.dir === 'b' ? await this.storage.events.positionAtStream(roomId, maxStream) : { topo: 0, stream: 0 };
      start = formatTopologicalToken(from.topo, from.stream);
    }
    // A `to` token only bounds the page; its stream bound (if any) does not apply.
    let to = q.to !== undefined ? (await this.resolveToken(roomId, q.to, 'to', q.dir)).position : undefined;
    // A former member reads up to their departure.
    if (access.timelineEnd) {
      const left = positionOf(access.timelineEnd);
      if (q.dir === 'b' && comparePositions(from, left) > 0) from = left;
      if (q.dir === 'f' && (!to || comparePositions(to, left) > 0)) to = left;
    }
    if (q.limit === 0 || !filterAllowsRoom(q.filter, roomId)) return q.limit === 0 ? { chunk: [], start, end: start } : { chunk: [], start };

    const shown = await notIgnoredBy(this.storage, requester.userId);
    const chunk: StoredEvent[] = [];
    const memberships = new Map<string, string>();
    const stateBefore = new Map<number, StateIdMap>();
    let last: StoredEvent | undefined;
    let exhausted = false;
    for (let round = 0; round < MAX_ROUNDS && chunk.length < q.limit && !exhausted; round++) {
      const cursor = last ? positionOf(last) : undefined;
      const rows = await this.storage.events.paginate({
        roomId,
        dir: q.dir,
        // Bounds are exclusive: backwards from the gap after `from` means below (topo, stream + 1).
        from: cursor ?? (q.dir === 'b' ? { topo: from.topo, stream: from.stream + 1 } : from),
        to: to && { topo: to.topo, stream: to.stream + 1 },
        limit: q.limit,
        maxStream,
        ...filterColumns(q.filter),
      });
      exhausted = rows.length < q.limit;
      for (const [g, ids] of await this.deps.visibility.stateBefore(rows)) stateBefore.set(g, ids);
      const candidates = await this.withoutRedactedUrls(rows, q.filter);
      const visible = new Set(await this.deps.visibility.visibleEvents(access, candidates, stateBefore, memberships));
      for (let i = 0; i < rows.length; i++) {
        last = rows[i]!;
        if (visible.has(last) && shown(last)) chunk.push(last);
        if (chunk.length === q.limit) {
          if (i < rows.length - 1) exhausted = false;
          break;
        }
      }
      if (!rows.length) exhausted = true;
    }
    const response: MessagesResponse = {
      chunk: await clientEventsOf(this.storage, chunk, this.deps.now(), requester, this.aggregations, { memberships }),
      start,
    };
    // spec: `end` is omitted when no further events are available. Backwards that is the start of
    // the room, which never moves. Forwards the live end does: new events arrive after it, so a
    // page that read any events ends with a token to resume from (as Synapse does); only a page
    // that found nothing at all has none.
    if (last && (!exhausted || q.dir === 'f')) response.end = q.dir === 'b' ? tokenBefore(positionOf(last)) : tokenAfter(positionOf(last));
    if (q.filter.lazyLoadMembers) response.state = await this.lazyMembers(chunk, stateBefore, requester);
    return response;
  }

  /**
   * contains_url is a column set when the event was stored; a redacted event has lost its url, so
   * it no longer matches contains_url: true (Synapse filters the redacted form too — Element's
   * file panel must not list deleted files).
   */
  private async withoutRedactedUrls(rows: StoredEvent[], filter: RoomEventFilter): Promise<StoredEvent[]> {
    if (filter.containsUrl !== true || !rows.length) return rows;
    const redacted = await this.storage.events.redactionsOf(rows.map((e) => e.event.event_id));
    return redacted.size ? rows.filter((e) => !redacted.has(e.event.event_id)) : rows;
  }

  /**
   * spec: Client-Server API §"Lazy-loading room members": the member events of the senders of
   * `events`, each as of that sender's first event in the list.
   */
  private async lazyMembers(events: StoredEvent[], stateBefore: Map<number, StateIdMap>, requester: Requester): Promise<JsonObject[]> {
    const memberIds = new Map<string, string>();
    for (const e of events) {
      const sender = e.event.sender;
      if (memberIds.has(sender)) continue;
      if (e.event.type === 'm.room.member' && e.event.state_key === sender) {
        memberIds.set(sender, e.event.event_id);
        continue;
      }
      const ids = e.stateGroupBefore === null ? undefined : stateBefore.get(e.stateGroupBefore) ?? (await this.storage.state.getGroup(e.stateGroupBefore));
      const id = ids?.get(stateKeyOf('m.room.member', sender));
      if (id) memberIds.set(sender, id);
    }
    const loaded = await this.storage.events.getEvents(new Set(memberIds.values()));
    const members = [...new Set(memberIds.values())].map((id) => loaded.get(id)).filter((e): e is StoredEvent => !!e);
    return clientEventsOf(this.storage, members, this.deps.now(), requester);
  }

  /** GET /rooms/{roomId}/context/{eventId} */
  async context(requester: Requester, roomId: string, eventId: string, limit: number, filter: RoomEventFilter): Promise<ContextResponse> {
    checkRoomId(roomId);
    const access = await this.deps.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    const stored = await this.storage.events.getEvent(eventId);
    if (!stored || stored.event.room_id !== roomId || stored.rejected || stored.outlier) throw notFound('Event not found');
    const memberships = new Map<string, string>();
    // An event that exists but is hidden by history visibility is 403, as in Synapse: Element tells
    // "you do not have permission to view the message" (M_FORBIDDEN) from "unable to find it".
    const shown = await notIgnoredBy(this.storage, requester.userId);
    if (!(await this.deps.visibility.visibleEvents(access, [stored], undefined, memberships)).length || !shown(stored)) {
      throw forbidden("You don't have permission to access that event");
    }

    const beforeLimit = Math.floor(limit / 2);
    const afterLimit = limit - beforeLimit;
    const at = positionOf(stored);
    const maxStream = this.deps.positions.current();
    const roomAllowed = filterAllowsRoom(filter, roomId);
    const page = async (dir: 'b' | 'f', n: number): Promise<{ rows: StoredEvent[]; visible: StoredEvent[] }> => {
      if (n === 0 || !roomAllowed) return { rows: [], visible: [] };
      const rows = await this.storage.events.paginate({ roomId, dir, from: at, limit: n, maxStream, ...filterColumns(filter) });
      const candidates = await this.withoutRedactedUrls(rows, filter);
      return { rows, visible: (await this.deps.visibility.visibleEvents(access, candidates, undefined, memberships)).filter(shown) };
    };
    const [before, after] = await Promise.all([page('b', beforeLimit), page('f', afterLimit)]);
    const oldest = before.rows[before.rows.length - 1] ?? stored;
    const newest = after.rows[after.rows.length - 1] ?? stored;

    // spec: "the state of the room at the last event returned"; the filter applies to it too.
    const lastReturned = after.visible[after.visible.length - 1] ?? stored;
    const stateIds = await this.deps.roomState.stateIdsAt(lastReturned, 'after');
    let keys = [...stateIds.keys()];
    if (filter.lazyLoadMembers) {
      const senders = new Set([...before.visible, stored, ...after.visible].map((e) => stateKeyOf('m.room.member', e.event.sender)));
      keys = keys.filter((k) => splitStateKey(k)[0] !== 'm.room.member' || senders.has(k));
    }
    const stateLoaded = await this.storage.events.getEvents(keys.map((k) => stateIds.get(k)!));
    const state = keys
      .sort()
      .map((k) => stateLoaded.get(stateIds.get(k)!))
      .filter((e): e is StoredEvent => !!e && matchesFilter(e.event, filter));

    const now = this.deps.now();
    const [event, eventsBefore, eventsAfter, stateEvents] = await Promise.all([
      clientEventsOf(this.storage, [stored], now, requester, this.aggregations, { memberships }),
      clientEventsOf(this.storage, before.visible, now, requester, this.aggregations, { memberships }),
      clientEventsOf(this.storage, after.visible, now, requester, this.aggregations, { memberships }),
      clientEventsOf(this.storage, state, now, requester),
    ]);
    return {
      event: event[0]!,
      events_before: eventsBefore,
      events_after: eventsAfter,
      start: tokenBefore(positionOf(oldest)),
      end: tokenAfter(positionOf(newest)),
      state: stateEvents,
    };
  }
}
