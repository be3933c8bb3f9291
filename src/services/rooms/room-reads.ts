/**
 * Reading rooms (spec: Client-Server API §"Getting events for a room"): one event, the state,
 * the members, timestamp_to_event — each through the history visibility rules and the access
 * check of VisibilityService. Timeline pagination (/messages, /context) is in pagination.ts.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import { splitStateKey, stateKeyOf, type JsonObject, type StateIdMap } from '../../matrix/types.js';
import { isValidRoomId } from '../../matrix/ids.js';
import { MatrixError, forbidden, invalidParam, notFound } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { RoomStateService } from './room-state.js';
import { toClientEvent } from './client-events.js';
import { positionOf, type RoomAccess, type VisibilityService } from './visibility.js';
import { comparePositions, parseRoomToken, type RoomToken, type TimelinePosition } from './pagination-token.js';

export interface RoomReadDeps {
  storage: Storage;
  roomState: RoomStateService;
  visibility: VisibilityService;
  positions: StreamIdGenerator;
  now: () => number;
}

const MEMBERSHIPS = ['join', 'invite', 'knock', 'leave', 'ban'];
/** timestamp_to_event reads candidates this many at a time, at most this many times. */
const TIMESTAMP_BATCH = 100;
const MAX_TIMESTAMP_BATCHES = 20;

/**
 * Server-side aggregations of child events (spec: Client-Server API §"Aggregations of child
 * events"): for each event that has any, what goes into unsigned["m.relations"].
 */
export interface AggregationSource {
  bundle(userId: string, events: StoredEvent[]): Promise<Map<string, JsonObject>>;
}

/** What clientEventsOf adds for one reader beyond the events themselves. */
export interface ClientEventsExtra {
  /** The reader's membership at each event (spec v1.11: unsigned.membership), by event ID. */
  memberships?: Map<string, string>;
}

/**
 * The client form of stored events, redacted where a redaction applies, with
 * unsigned.transaction_id on the events the requesting device sent and, when a source is given,
 * the bundled aggregations.
 */
export async function clientEventsOf(
  storage: Storage,
  events: StoredEvent[],
  now: number,
  requester?: Requester,
  aggregations?: AggregationSource,
  extra: ClientEventsExtra = {},
): Promise<JsonObject[]> {
  if (!events.length) return [];
  // The events, and the state events they replaced: a redaction of either changes what is served.
  const replaced = events.map((e) => (e.unsigned?.prev_content !== undefined ? e.unsigned?.replaces_state : undefined));
  const ids = [...new Set([...events.map((e) => e.event.event_id), ...replaced.filter((id): id is string => typeof id === 'string')])];
  const redactions = await storage.events.redactionsOf(ids);
  const redactionEvents = redactions.size
    ? await storage.events.getEvents(events.map((e) => redactions.get(e.event.event_id)).filter((id): id is string => !!id))
    : new Map<string, StoredEvent>();
  let transactionIds = new Map<string, string>();
  const own = requester ? events.filter((e) => e.event.sender === requester.userId).map((e) => e.event.event_id) : [];
  if (requester && own.length) {
    // The same device key the send path records (tokens without a device use the token).
    transactionIds = await storage.events.transactionIdsOf(requester.userId, requester.deviceId ?? `token:${requester.tokenId}`, own);
  }
  const out = events.map((e, i) => {
    const id = e.event.event_id;
    const by = redactions.get(id);
    const previous = replaced[i];
    return toClientEvent(e, {
      now,
      redactedBy: by ? redactionEvents.get(by) : undefined,
      transactionId: transactionIds.get(id),
      replacedRedacted: typeof previous === 'string' && redactions.has(previous),
      membership: extra.memberships?.get(id),
    });
  });
  if (aggregations && requester) {
    // A redacted event keeps its thread, references and reactions (Element still shows a deleted
    // thread root's replies) but no edit, whose m.new_content would give back what the redaction
    // removed — as Synapse bundles, and as /sync and /threads do.
    const bundles = await aggregations.bundle(requester.userId, events);
    for (const ev of out) {
      let bundle = bundles.get(ev.event_id as string);
      if (!bundle) continue;
      if (redactions.has(ev.event_id as string) && bundle['m.replace'] !== undefined) {
        bundle = { ...bundle };
        delete bundle['m.replace'];
      }
      const unsigned = (ev.unsigned ??= {}) as JsonObject;
      unsigned['m.relations'] = { ...((unsigned['m.relations'] as JsonObject | undefined) ?? {}), ...bundle };
    }
  }
  return out;
}

/**
 * spec: Client-Server API §"Ignoring Users": "the client will no longer receive events sent by
 * that user, with the exception of state events". A predicate over the events a read returns.
 */
export async function notIgnoredBy(storage: Storage, userId: string): Promise<(e: StoredEvent) => boolean> {
  const content = await storage.accountData.get(userId, '', 'm.ignored_user_list');
  const map = content?.ignored_users;
  if (!map || typeof map !== 'object' || Array.isArray(map)) return () => true;
  const ignored = new Set(Object.keys(map));
  if (!ignored.size) return () => true;
  return (e) => e.event.state_key !== undefined || !ignored.has(e.event.sender);
}

export function checkRoomId(roomId: string): void {
  if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID ${roomId}`);
}

export class RoomReadService {
  /** Set by the composition root once the relations service exists. */
  aggregations?: AggregationSource;

  constructor(private readonly deps: RoomReadDeps) {}

  private get storage(): Storage {
    return this.deps.storage;
  }

  /** Loads the events of a state map in a stable order (by type, then state key). */
  private async stateEventsOf(ids: StateIdMap, keep: (type: string, stateKey: string) => boolean = () => true): Promise<StoredEvent[]> {
    const keys = [...ids.keys()].filter((k) => keep(...splitStateKey(k))).sort();
    const loaded = await this.storage.events.getEvents(keys.map((k) => ids.get(k)!));
    return keys.map((k) => loaded.get(ids.get(k)!)).filter((e): e is StoredEvent => !!e);
  }

  /**
   * The state the user may read: the current state, or for a former member the state when they
   * left (spec: GET /rooms/{roomId}/state).
   */
  private async readableStateIds(access: RoomAccess): Promise<StateIdMap> {
    if (access.departedAt) return this.deps.roomState.stateIdsAt(access.departedAt, 'after');
    return this.deps.roomState.currentStateIds(access.roomId);
  }

  /** GET /rooms/{roomId}/event/{eventId}: 404 whether the event is unknown or not the user's to see. */
  async getEvent(requester: Requester, roomId: string, eventId: string): Promise<JsonObject> {
    checkRoomId(roomId);
    const stored = await this.storage.events.getEvent(eventId);
    const missing = () => notFound('Event not found');
    if (!stored || stored.event.room_id !== roomId || stored.rejected || stored.outlier) throw missing();
    const access = await this.deps.visibility.roomAccess(roomId, requester.userId);
    if (!access) throw missing();
    const memberships = new Map<string, string>();
    if (!(await this.deps.visibility.visibleEvents(access, [stored], undefined, memberships)).length) throw missing();
    // An ignored user's message is not served here either (Synapse: 404).
    if (!(await notIgnoredBy(this.storage, requester.userId))(stored)) throw missing();
    return (await clientEventsOf(this.storage, [stored], this.deps.now(), requester, this.aggregations, { memberships }))[0]!;
  }

  /** GET /rooms/{roomId}/state */
  async getState(requester: Requester, roomId: string): Promise<JsonObject[]> {
    checkRoomId(roomId);
    const access = await this.deps.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    const events = await this.stateEventsOf(await this.readableStateIds(access));
    return clientEventsOf(this.storage, events, this.deps.now(), requester);
  }

  /** GET /rooms/{roomId}/state/{eventType}/{stateKey}: the content, or with format=event the event. */
  async getStateEvent(requester: Requester, roomId: string, type: string, stateKey: string, format: 'content' | 'event'): Promise<JsonObject> {
    checkRoomId(roomId);
    const access = await this.deps.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    const ids = await this.readableStateIds(access);
    const id = ids.get(stateKeyOf(type, stateKey));
    const stored = id ? await this.storage.events.getEvent(id) : undefined;
    if (!stored) throw notFound(`The room has no state with type ${type} and state key '${stateKey}'`);
    const client = (await clientEventsOf(this.storage, [stored], this.deps.now(), requester))[0]!;
    return format === 'event' ? client : (client.content as JsonObject);
  }

  /** GET /rooms/{roomId}/members */
  async getMembers(
    requester: Requester,
    roomId: string,
    query: { at?: string; membership?: string; notMembership?: string },
  ): Promise<{ chunk: JsonObject[] }> {
    checkRoomId(roomId);
    for (const [name, value] of [['membership', query.membership], ['not_membership', query.notMembership]] as const) {
      if (value !== undefined && !MEMBERSHIPS.includes(value)) throw invalidParam(`${name} must be one of ${MEMBERSHIPS.join(', ')}`);
    }
    const at = query.at ? parseRoomToken(query.at, 'at') : undefined;
    const access = await this.deps.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    let ids: StateIdMap;
    if (at) {
      const last = await this.lastEventAt(roomId, at, access);
      // Synapse's answers: no event at that point is 404; a point the user could not see is 403.
      if (!last) throw notFound(`No event in the room at '${query.at}'`);
      if (!(await this.deps.visibility.isVisible(access, last))) throw forbidden('You may not see the members of the room at that point');
      ids = await this.deps.roomState.stateIdsAt(last, 'after');
    } else {
      ids = await this.readableStateIds(access);
    }
    const members = await this.stateEventsOf(ids, (type) => type === 'm.room.member');
    const { membership, notMembership } = query;
    // spec: membership and not_membership together are an "or": is membership, or is not not_membership.
    const keep = (m: unknown) => {
      if (membership !== undefined && notMembership !== undefined) return m === membership || m !== notMembership;
      if (membership !== undefined) return m === membership;
      if (notMembership !== undefined) return m !== notMembership;
      return true;
    };
    const chunk = members.filter((e) => keep(e.event.content.membership));
    return { chunk: await clientEventsOf(this.storage, chunk, this.deps.now(), requester) };
  }

  /** The last event at a token's point (for a former member, no later than their departure). */
  private async lastEventAt(roomId: string, at: RoomToken, access: RoomAccess): Promise<StoredEvent | undefined> {
    const maxStream = this.deps.positions.current();
    let position: TimelinePosition;
    let bound = maxStream;
    if (at.kind === 'topological') position = { topo: at.topo, stream: at.stream };
    else {
      bound = Math.min(maxStream, at.stream);
      position = await this.storage.events.positionAtStream(roomId, bound);
    }
    if (access.timelineEnd && comparePositions(positionOf(access.timelineEnd), position) < 0) position = positionOf(access.timelineEnd);
    const [last] = await this.storage.events.paginate({ roomId, dir: 'b', from: { topo: position.topo, stream: position.stream + 1 }, limit: 1, maxStream: bound });
    return last;
  }

  /** GET /rooms/{roomId}/joined_members: for members (and anyone, in a world_readable room). */
  async getJoinedMembers(requester: Requester, roomId: string): Promise<{ joined: Record<string, JsonObject> }> {
    checkRoomId(roomId);
    const access = await this.deps.visibility.requireAccess(roomId, requester.userId, { allowDeparted: false });
    const ids = await this.deps.roomState.currentStateIds(access.roomId);
    const members = await this.stateEventsOf(ids, (type) => type === 'm.room.member');
    const joined: Record<string, JsonObject> = {};
    for (const m of members) {
      const content = m.event.content;
      if (content.membership !== 'join') continue;
      const info: JsonObject = {};
      if (typeof content.displayname === 'string') info.display_name = content.displayname;
      if (typeof content.avatar_url === 'string') info.avatar_url = content.avatar_url;
      joined[m.event.state_key!] = info;
    }
    return { joined };
  }

  /**
   * GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event: the closest event in the direction
   * that the user may see.
   */
  async timestampToEvent(requester: Requester, roomId: string, ts: number, dir: 'f' | 'b'): Promise<{ event_id: string; origin_server_ts: number }> {
    checkRoomId(roomId);
    const access = await this.deps.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    let maxStream = this.deps.positions.current();
    if (access.timelineEnd) maxStream = Math.min(maxStream, access.timelineEnd.streamOrdering);
    // Walk outwards from ts in batches, skipping events the user may not see (a long stretch of
    // them, e.g. everything before a 'joined' user's join, must not end the search), with events
    // of the same timestamp each visited once. Bounded, so a huge hidden history costs at most
    // MAX_TIMESTAMP_BATCHES queries.
    let after: { ts: number; stream: number } | undefined;
    for (let batch = 0; batch < MAX_TIMESTAMP_BATCHES; batch++) {
      // The first batch is small: usually its first event is the answer.
      const limit = batch === 0 ? 10 : TIMESTAMP_BATCH;
      const events = await this.storage.timeline.eventsFromTimestamp({ roomId, ts, dir, after, maxStream, limit });
      const [first] = await this.deps.visibility.visibleEvents(access, events);
      if (first) return { event_id: first.event.event_id, origin_server_ts: first.event.origin_server_ts };
      if (events.length < limit) break;
      const last = events[events.length - 1]!;
      after = { ts: last.event.origin_server_ts, stream: last.streamOrdering };
    }
    throw new MatrixError(404, 'M_NOT_FOUND', `Unable to find event from ${ts} in ${dir === 'f' ? 'forward' : 'backward'} direction`);
  }
}
