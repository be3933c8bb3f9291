/**
 * Relations and threads (spec: Client-Server API §11.x "Relationships", "Threading"):
 * GET /relations, GET /threads, and the server-side aggregations bundled into
 * unsigned["m.relations"] of the events clients read: m.thread (latest_event, count,
 * current_user_participated), m.replace (the applicable edit), m.reference, and reaction counts.
 */
import type { Storage } from '../storage/index.js';
import type { StoredEvent } from '../storage/events.js';
import type { JsonObject } from '../matrix/types.js';
import { MatrixError, notFound } from '../errors.js';
import type { Requester } from './auth.js';
import type { VisibilityService } from './rooms/visibility.js';
import type { RoomStateService } from './rooms/room-state.js';
import { parseRoomToken, tokenAfter, tokenBefore, type TimelinePosition } from './rooms/pagination-token.js';
import { toClientEvent } from './rooms/client-events.js';
import { clientEventsOf } from './rooms/room-reads.js';
import { POLL_START_TYPES, tallyPoll } from '../matrix/polls.js';
import { powerLevelsFromState, levelOfUser } from '../matrix/power-levels.js';
import { getRoomVersion } from '../matrix/room-versions.js';
import { stateKeyOf } from '../matrix/types.js';

const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 100;
/** spec: recurse follows relations at least three levels deep; Synapse stops at 3. */
const MAX_RECURSION = 3;

export interface RelationsQuery {
  relType?: string;
  eventType?: string;
  from?: string;
  to?: string;
  limit?: number;
  dir?: string;
  recurse?: boolean;
}

export class RelationsService {
  constructor(
    private readonly storage: Storage,
    private readonly visibility: VisibilityService,
    private readonly roomState: RoomStateService,
    private readonly currentStream: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The aggregations of a page of events, keyed by event ID (only events that have any). */
  async bundle(userId: string, events: StoredEvent[]): Promise<Map<string, JsonObject>> {
    const out = new Map<string, JsonObject>();
    const ids = events.filter((e) => e.event.state_key === undefined).map((e) => e.event.event_id);
    if (!ids.length) return out;
    const rel = this.storage.relations;
    const kinds = await rel.relationKinds(ids);
    if (!kinds.size) return out;
    const having = (type: string) => [...kinds].filter(([, k]) => k.has(type)).map(([id]) => id);
    const max = this.currentStream();
    const [threads, edits, refs, reactions] = await Promise.all([
      rel.threadSummaries(having('m.thread'), userId, max),
      rel.latestEdits(having('m.replace'), max),
      rel.references(having('m.reference'), max),
      rel.annotations(having('m.annotation'), max),
    ]);
    const latest = await this.storage.events.getEvents(threads.map((t) => t.latestEventId));
    const now = this.now();
    const entry = (id: string) => out.get(id) ?? out.set(id, {}).get(id)!;
    for (const t of threads) {
      const ev = latest.get(t.latestEventId);
      if (!ev) continue;
      entry(t.root)['m.thread'] = { latest_event: toClientEvent(ev, { now }), count: t.count, current_user_participated: t.participated };
    }
    for (const [parent, edit] of edits) entry(parent)['m.replace'] = toClientEvent(edit, { now });
    for (const [parent, list] of refs) entry(parent)['m.reference'] = { chunk: list.map((event_id) => ({ event_id })) };
    for (const [parent, list] of reactions) entry(parent)['m.annotation'] = { chunk: list as unknown as JsonObject[] };
    // Poll tallies (MSC3381) ride along as a Veche extension of the aggregation: bots and tests read it.
    for (const e of events) {
      if (!POLL_START_TYPES.has(e.event.type) || !refs.has(e.event.event_id)) continue;
      const tally = await this.pollTally(e, max);
      if (tally) entry(e.event.event_id)['m.poll'] = tally as unknown as JsonObject;
    }
    return out;
  }

  private async pollTally(start: StoredEvent, maxStream: number) {
    const related = await this.storage.relations.children({
      roomId: start.event.room_id,
      parents: [start.event.event_id],
      relType: 'm.reference',
      dir: 'f',
      limit: 100_000,
      maxStream,
    });
    const version = getRoomVersion(start.roomVersion)!;
    const state = await this.roomState.currentState(start.event.room_id, [stateKeyOf('m.room.create', ''), stateKeyOf('m.room.power_levels', '')]);
    const levels = powerLevelsFromState(state, version);
    // MSC3381: the poll's creator, or anyone who may redact others' events, may end it.
    return tallyPoll(start.event, related.map((r) => r.event), (u) => levelOfUser(levels, u) >= levels.redact);
  }

  /**
   * Puts bundles into client events (matched by event_id), in place. A redacted event keeps its
   * thread, references and reactions but gets no edit: the edit's m.new_content would give back
   * what the redaction removed (Synapse bundles no edits for redacted events either).
   */
  static attach(clientEvents: JsonObject[], bundles: Map<string, JsonObject>): void {
    if (!bundles.size) return;
    for (const ev of clientEvents) {
      let b = bundles.get(ev.event_id as string);
      if (!b) continue;
      const unsigned = (ev.unsigned ??= {}) as JsonObject;
      if (unsigned.redacted_because !== undefined && b['m.replace'] !== undefined) {
        b = { ...b };
        delete b['m.replace'];
      }
      unsigned['m.relations'] = { ...((unsigned['m.relations'] as JsonObject | undefined) ?? {}), ...b };
    }
  }

  /**
   * The client form of the events /relations and /threads serve, as the other read paths serve
   * them (clientEventsOf: redacted with unsigned.redacted_because, transaction_id for the sending
   * device, the reader's membership), with the aggregations bundled as before — a redacted thread
   * root keeps its thread summary, which Element's thread list shows.
   */
  private async clientForm(requester: Requester, events: StoredEvent[], memberships: Map<string, string>): Promise<JsonObject[]> {
    const [chunk, bundles] = await Promise.all([
      clientEventsOf(this.storage, events, this.now(), requester, undefined, { memberships }),
      this.bundle(requester.userId, events),
    ]);
    RelationsService.attach(chunk, bundles);
    return chunk;
  }

  private async visibleParent(requester: Requester, roomId: string, eventId: string): Promise<{ access: Awaited<ReturnType<VisibilityService['requireAccess']>>; parent: StoredEvent }> {
    const access = await this.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    const parent = await this.storage.events.getEvent(eventId);
    if (!parent || parent.event.room_id !== roomId || !(await this.visibility.isVisible(access, parent))) {
      throw notFound('Event not found');
    }
    return { access, parent };
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] */
  async relations(requester: Requester, roomId: string, eventId: string, q: RelationsQuery): Promise<JsonObject> {
    const { access } = await this.visibleParent(requester, roomId, eventId);
    const dir = q.dir ?? 'b';
    if (dir !== 'b' && dir !== 'f') throw new MatrixError(400, 'M_INVALID_PARAM', "dir must be 'b' or 'f'");
    const limit = Math.min(Math.max(q.limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT);
    const position = async (token: string | undefined, name: string): Promise<TimelinePosition | undefined> => {
      if (!token) return undefined;
      const t = parseRoomToken(token, name);
      return t.kind === 'topological' ? { topo: t.topo, stream: t.stream } : this.storage.events.positionAtStream(roomId, t.stream);
    };
    const from = await position(q.from, 'from');
    const to = await position(q.to, 'to');
    // Recursion follows the children's own children, up to MAX_RECURSION levels, breadth first.
    let parents = [eventId];
    let depth = 0;
    const found: StoredEvent[] = [];
    const levels = q.recurse ? MAX_RECURSION : 1;
    for (; depth < levels && parents.length; depth++) {
      const page = await this.storage.relations.children({
        roomId,
        parents,
        relType: depth === 0 || q.recurse ? q.relType : undefined,
        eventType: q.eventType,
        from,
        to,
        dir,
        limit: limit + 1,
        maxStream: this.currentStream(),
      });
      found.push(...page);
      parents = page.map((e) => e.event.event_id);
    }
    found.sort((a, b) => (dir === 'b' ? b.topologicalOrdering - a.topologicalOrdering || b.streamOrdering - a.streamOrdering : a.topologicalOrdering - b.topologicalOrdering || a.streamOrdering - b.streamOrdering));
    const more = found.length > limit;
    const memberships = new Map<string, string>();
    const pageEvents = await this.visibility.visibleEvents(access, found.slice(0, limit), undefined, memberships);
    const chunk = await this.clientForm(requester, pageEvents, memberships);
    const out: JsonObject = { chunk };
    if (more && pageEvents.length) {
      const last = pageEvents[pageEvents.length - 1]!;
      out.next_batch = dir === 'b' ? tokenBefore({ topo: last.topologicalOrdering, stream: last.streamOrdering + 1 }) : tokenAfter({ topo: last.topologicalOrdering, stream: last.streamOrdering });
    }
    if (q.from) out.prev_batch = q.from;
    if (q.recurse) out.recursion_depth = depth;
    return out;
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/threads (include all|participated). */
  async threads(requester: Requester, roomId: string, q: { include?: string; from?: string; limit?: number }): Promise<JsonObject> {
    const access = await this.visibility.requireAccess(roomId, requester.userId, { allowDeparted: true });
    const include = q.include ?? 'all';
    if (include !== 'all' && include !== 'participated') throw new MatrixError(400, 'M_INVALID_PARAM', "include must be 'all' or 'participated'");
    const limit = Math.min(Math.max(q.limit ?? 20, 1), MAX_LIMIT);
    let before: number | undefined;
    if (q.from !== undefined) {
      if (!/^\d+$/.test(q.from)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid from token');
      before = Number(q.from);
    }
    const roots = await this.storage.relations.threadRoots(roomId, {
      userId: include === 'participated' ? requester.userId : undefined,
      before,
      limit: limit + 1,
      maxStream: this.currentStream(),
    });
    const page = roots.slice(0, limit);
    const loaded = await this.storage.events.getEvents(page.map((r) => r.root));
    const memberships = new Map<string, string>();
    const events = await this.visibility.visibleEvents(access, page.map((r) => loaded.get(r.root)).filter((e): e is StoredEvent => !!e), undefined, memberships);
    const chunk = await this.clientForm(requester, events, memberships);
    const out: JsonObject = { chunk };
    if (roots.length > limit) out.next_batch = String(page[page.length - 1]!.activity);
    return out;
  }
}
