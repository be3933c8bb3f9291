/**
 * Server-side search (spec: Client-Server API §11.x "Server Side Search", POST /search): the
 * room_events category over the rooms the user is joined to, with PostgreSQL full-text search in
 * Russian and English (storage/search.ts), history visibility on every result, event context with
 * profiles, the rooms' current state, groupings and next_batch pagination.
 *
 * The index is filled inside the transaction that stores an event (a trigger, migration 012), not
 * from EventCreator.onPersisted: listeners run after commit and are not awaited by the send, so a
 * message could be missing from a search made right after its send returned. A redaction removes
 * its event from the index in the same way.
 */
import type { Storage } from '../storage/index.js';
import type { StoredEvent } from '../storage/events.js';
import type { SearchCandidate, SearchCursor, SearchStore } from '../storage/search.js';
import { stateKeyOf, type JsonObject } from '../matrix/types.js';
import { invalidParam } from '../errors.js';
import type { Requester } from './auth.js';
import type { VisibilityService, RoomAccess } from './rooms/visibility.js';
import type { RoomStateService } from './rooms/room-state.js';
import { clientEventsOf, type AggregationSource } from './rooms/room-reads.js';
import type { RoomEventFilter } from './rooms/event-filter.js';
import { tokenAfter, tokenBefore } from './rooms/pagination-token.js';
import { positionOf } from './rooms/visibility.js';
import { keysOfTypes, DEFAULT_LIMIT, MAX_LIMIT, MAX_ROUNDS, type GroupKey, encodeBatchToken, decodeBatchToken, parseCriteria } from './search-request.js';

/** Intersects a filter list with the one value a group token is limited to. */
function narrow(list: string[] | undefined, value: string | undefined): string[] | undefined {
  if (value === undefined) return list;
  return list ? list.filter((v) => v === value) : [value];
}

function searchTextOf(e: StoredEvent): string | undefined {
  const c = e.event.content;
  const value = e.event.type === 'm.room.message' ? c.body : e.event.type === 'm.room.name' ? c.name : e.event.type === 'm.room.topic' ? c.topic : undefined;
  return typeof value === 'string' ? value : undefined;
}

export interface SearchDeps {
  storage: Storage;
  index: SearchStore;
  visibility: VisibilityService;
  roomState: RoomStateService;
  now: () => number;
}

interface Found {
  event: StoredEvent;
  rank: number;
  /** Where a page that ends with this result continues. */
  cursor: SearchCursor;
}

export class SearchService {
  /** Bundled aggregations of the results; set by the composition root once the relations service exists. */
  aggregations?: AggregationSource;

  constructor(private readonly deps: SearchDeps) {}

  /** POST /search */
  async search(requester: Requester, body: JsonObject, nextBatch?: string): Promise<JsonObject> {
    const criteria = parseCriteria(body);
    const token = nextBatch === undefined ? undefined : decodeBatchToken(nextBatch);
    if (token && token.order !== criteria.order) throw invalidParam(`next_batch belongs to a search ordered by ${token.order}, not ${criteria.order}`);
    const { storage, index } = this.deps;
    const filter = criteria.filter;
    const limit = Math.min(filter.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    const accessOf = this.accessCache(requester.userId);
    // The joined rooms are read (by asking about no room) while the ignore list is, and so is the
    // planner's estimate of the matches that the first round needs.
    const estimate = !token ? index.estimateMatches(criteria.term) : undefined;
    estimate?.catch(() => undefined);
    const [ignored] = await Promise.all([this.ignoredUsers(requester.userId), accessOf('')]);
    const keys = keysOfTypes(criteria.keys, filter);

    // One result beyond the page is looked for, so that next_batch is only given when there is
    // more the user may see.
    let found: Found[] = [];
    let examined = token?.cursor;
    let exhausted = false;
    let count = token?.count;
    let fetch = limit + 1;
    for (let round = 0; round < MAX_ROUNDS && found.length <= limit; round++) {
      const page = await index.search({
        term: criteria.term,
        userId: requester.userId,
        rooms: narrow(filter.rooms, token?.room),
        notRooms: filter.notRooms,
        keys,
        order: criteria.order,
        after: examined,
        limit: fetch,
        senders: narrow(filter.senders, token?.sender),
        notSenders: filter.notSenders,
        containsUrl: filter.containsUrl,
        withCount: round === 0 && !token,
        estimate,
      });
      if (round === 0 && !token) count = page.count;
      const visible = await this.visibleOf(page.candidates, accessOf, ignored);
      for (const c of page.candidates) {
        examined = { stream: c.stream, rank: criteria.order === 'rank' ? c.rank : undefined };
        const event = visible.get(c.eventId);
        if (event) found.push({ event, rank: c.rank, cursor: examined });
        if (found.length > limit) break;
      }
      if (page.candidates.length < fetch && found.length <= limit) {
        exhausted = true;
        break;
      }
      // Refill what history visibility hid, asking for more each time.
      fetch = Math.min(fetch * 2, 1000);
    }
    // The next page starts after the last result shown, or after all that was examined when
    // history visibility hid so much that the rounds ran out.
    let cursor: SearchCursor | undefined;
    if (found.length > limit) {
      found = found.slice(0, limit);
      cursor = found[limit - 1]!.cursor;
    } else if (!exhausted) cursor = examined;
    // A search that saw every match in one request knows its exact count.
    if (!token && exhausted) count = found.length;

    const now = this.deps.now();
    const events = found.map((f) => f.event);
    const context = criteria.context;
    const highlighting = index.highlights(criteria.term, events.map(searchTextOf).filter((t): t is string => t !== undefined));
    highlighting.catch(() => undefined);
    const around = context ? await this.contextEventsOf(events, context, filter, accessOf, ignored) : undefined;
    // The results and their context become client events in one pass (redactions, transaction
    // IDs, bundled aggregations), while the highlights are found.
    const shown = around ? [...events, ...around.shown] : events;
    const [clientEvents, highlights] = await Promise.all([clientEventsOf(storage, shown, now, requester, this.aggregations), highlighting]);
    const results: JsonObject[] = found.map((f, i) => ({ rank: f.rank, result: clientEvents[i]! }));
    if (context && around) {
      const clientById = new Map(clientEvents.map((c) => [c.event_id as string, c]));
      const contexts = await Promise.all(events.map((e, i) => this.contextOf(e, around.perResult[i]!, clientById, context.includeProfile)));
      contexts.forEach((c, i) => (results[i]!.context = c));
    }

    const out: JsonObject = { count: count ?? found.length, results, highlights };
    const next = cursor ? { order: criteria.order, cursor, count } : undefined;
    if (next) out.next_batch = encodeBatchToken({ ...next, room: token?.room, sender: token?.sender });
    if (criteria.includeState) out.state = await this.stateOf(requester, [...new Set(events.map((e) => e.event.room_id))], now);
    if (criteria.groupBy.length) {
      const groups: JsonObject = {};
      for (const key of criteria.groupBy) groups[key] = this.group(found, key, next ? (value) => encodeBatchToken({ ...next, room: token?.room, sender: token?.sender, [key === 'room_id' ? 'room' : 'sender']: value }) : undefined);
      out.groups = groups;
    }
    return { search_categories: { room_events: out } };
  }

  /**
   * spec: groups — for each value of the key, the IDs of its results on this page; `order` is
   * higher for groups whose best result comes first (as Synapse, higher ranks first).
   */
  private group(found: Found[], key: GroupKey, nextOf?: (value: string) => string): JsonObject {
    const byValue = new Map<string, string[]>();
    for (const f of found) {
      const value = key === 'room_id' ? f.event.event.room_id : f.event.event.sender;
      const list = byValue.get(value) ?? byValue.set(value, []).get(value)!;
      list.push(f.event.event.event_id);
    }
    const out: JsonObject = {};
    let i = 0;
    for (const [value, ids] of byValue) {
      const entry: JsonObject = { results: ids, order: byValue.size - i++ };
      if (nextOf) entry.next_batch = nextOf(value);
      out[value] = entry;
    }
    return out;
  }

  /** spec: Client-Server API §"Ignoring Users": their messages are not shown. */
  private async ignoredUsers(userId: string): Promise<Set<string>> {
    const content = await this.deps.storage.accountData.get(userId, '', 'm.ignored_user_list');
    const map = content?.ignored_users;
    return map && typeof map === 'object' && !Array.isArray(map) ? new Set(Object.keys(map)) : new Set();
  }

  /**
   * The user's standing in the rooms searched, from one read of the rooms they are joined to:
   * a joined user's latest join lasts until now, which is all the history visibility rules need to
   * know about them besides the state at each event.
   */
  private accessCache(userId: string): (roomId: string) => Promise<RoomAccess | undefined> {
    let joined: Promise<Set<string>> | undefined;
    return async (roomId) => {
      joined ??= this.deps.index.joinedRooms(userId).then((ids) => new Set(ids));
      if (!(await joined).has(roomId)) return undefined;
      return { roomId, userId, membership: 'join', joinedUntil: 'now', visibility: 'shared' };
    };
  }

  /**
   * The candidates the user may see (spec: "only events the user may see per history
   * visibility"): stored, not rejected, not redacted, not from an ignored user, in a room the user
   * is still joined to, and visible per the room's history visibility at the event.
   */
  private async visibleOf(
    candidates: SearchCandidate[],
    accessOf: (roomId: string) => Promise<RoomAccess | undefined>,
    ignored: Set<string>,
  ): Promise<Map<string, StoredEvent>> {
    const out = new Map<string, StoredEvent>();
    if (!candidates.length) return out;
    const ids = candidates.map((c) => c.eventId);
    const [loaded, redactions] = await Promise.all([this.deps.storage.events.getEvents(ids), this.deps.storage.events.redactionsOf(ids)]);
    const byRoom = new Map<string, StoredEvent[]>();
    for (const id of ids) {
      const e = loaded.get(id);
      if (!e || e.rejected || e.outlier || redactions.has(id) || ignored.has(e.event.sender)) continue;
      const list = byRoom.get(e.event.room_id) ?? byRoom.set(e.event.room_id, []).get(e.event.room_id)!;
      list.push(e);
    }
    await Promise.all(
      [...byRoom].map(async ([roomId, events]) => {
        const access = await accessOf(roomId);
        if (!access || access.membership !== 'join') return;
        for (const e of await this.deps.visibility.visibleEvents(access, events)) out.set(e.event.event_id, e);
      }),
    );
    return out;
  }

  /**
   * spec: event_context — for each result, the events around it (the search's filter applies,
   * and history visibility). One query finds the context of the whole page.
   */
  private async contextEventsOf(
    results: StoredEvent[],
    limits: { before: number; after: number },
    filter: RoomEventFilter,
    accessOf: (roomId: string) => Promise<RoomAccess | undefined>,
    ignored: Set<string>,
  ): Promise<{ shown: StoredEvent[]; perResult: { before: StoredEvent[]; after: StoredEvent[]; visible: Set<string> }[] }> {
    const { storage, visibility, index } = this.deps;
    const ids = await index.contextIds(
      results.map((e) => ({ roomId: e.event.room_id, topo: e.topologicalOrdering, stream: e.streamOrdering })),
      limits.before,
      limits.after,
      filter,
    );
    const loaded = await storage.events.getEvents(ids.flatMap((c) => [...c.before, ...c.after]));
    const rowsOf = (list: string[]) => list.map((id) => loaded.get(id)).filter((e): e is StoredEvent => !!e);
    // History visibility, one call per room for all of its context events.
    const byRoom = new Map<string, StoredEvent[]>();
    for (const e of loaded.values()) {
      if (e.event.state_key === undefined && ignored.has(e.event.sender)) continue;
      (byRoom.get(e.event.room_id) ?? byRoom.set(e.event.room_id, []).get(e.event.room_id)!).push(e);
    }
    const visible = new Set<string>();
    await Promise.all(
      [...byRoom].map(async ([roomId, events]) => {
        const access = await accessOf(roomId);
        if (access) for (const e of await visibility.visibleEvents(access, events)) visible.add(e.event.event_id);
      }),
    );
    const resultIds = new Set(results.map((e) => e.event.event_id));
    return {
      // A context event that is itself a result is formatted once.
      shown: [...loaded.values()].filter((e) => visible.has(e.event.event_id) && !resultIds.has(e.event.event_id)),
      perResult: ids.map((c) => ({ before: rowsOf(c.before), after: rowsOf(c.after), visible })),
    };
  }

  /** One result's context object: its visible neighbours, pagination tokens and profiles. */
  private async contextOf(
    result: StoredEvent,
    around: { before: StoredEvent[]; after: StoredEvent[]; visible: Set<string> },
    clientById: Map<string, JsonObject>,
    includeProfile: boolean,
  ): Promise<JsonObject> {
    const { before, after, visible } = around;
    const visibleBefore = before.filter((e) => visible.has(e.event.event_id));
    const visibleAfter = after.filter((e) => visible.has(e.event.event_id));
    const context: JsonObject = {
      events_before: visibleBefore.map((e) => clientById.get(e.event.event_id)!),
      events_after: visibleAfter.map((e) => clientById.get(e.event.event_id)!),
      start: tokenBefore(positionOf(before[before.length - 1] ?? result)),
      end: tokenAfter(positionOf(after[after.length - 1] ?? result)),
    };
    if (includeProfile) context.profile_info = await this.profilesAt(visibleAfter[visibleAfter.length - 1] ?? result, [...visibleBefore, result, ...visibleAfter]);
    return context;
  }

  /**
   * spec: profile_info, "the historic profile information": the senders' member events in the
   * state at the last event of the context.
   */
  private async profilesAt(last: StoredEvent, events: StoredEvent[]): Promise<JsonObject> {
    const stateIds = await this.deps.roomState.stateIdsAt(last, 'after');
    const memberIds = new Map<string, string>();
    for (const sender of new Set(events.map((e) => e.event.sender))) {
      const id = stateIds.get(stateKeyOf('m.room.member', sender));
      if (id) memberIds.set(sender, id);
    }
    const members = await this.deps.storage.events.getEvents(memberIds.values());
    const profiles: JsonObject = {};
    for (const [sender, id] of memberIds) {
      const content = members.get(id)?.event.content;
      if (!content) continue;
      const profile: JsonObject = {};
      if (typeof content.displayname === 'string') profile.displayname = content.displayname;
      if (typeof content.avatar_url === 'string') profile.avatar_url = content.avatar_url;
      profiles[sender] = profile;
    }
    return profiles;
  }

  /** spec: include_state — the current state of each room in the results. */
  private async stateOf(requester: Requester, roomIds: string[], now: number): Promise<JsonObject> {
    const out: JsonObject = {};
    await Promise.all(
      roomIds.map(async (roomId) => {
        const ids = await this.deps.roomState.currentStateIds(roomId);
        const keys = [...ids.keys()].sort();
        const loaded = await this.deps.storage.events.getEvents(keys.map((k) => ids.get(k)!));
        const events = keys.map((k) => loaded.get(ids.get(k)!)).filter((e): e is StoredEvent => !!e);
        out[roomId] = await clientEventsOf(this.deps.storage, events, now, requester);
      }),
    );
    return out;
  }
}
