/**
 * The rooms part of /sync: joined rooms (timeline, state, summary, unread counts), invites,
 * knocks and leaves. Every step is one batched query over all the rooms concerned, so the
 * number of queries does not grow with the number of rooms.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { StreamNotice } from '../../streams/notifier.js';
import { StreamChangeCache } from '../../streams/change-cache.js';
import { stateKeyOf, splitStateKey, type JsonObject } from '../../matrix/types.js';
import { clientEventsOf } from '../rooms/room-reads.js';
import { strippedStateOf } from '../rooms/stripped-state.js';
import { RelationsService } from '../relations.js';
import type { VisibilityService } from '../rooms/visibility.js';
import { toFederationFormat } from '../../matrix/pdu.js';
import { getRoomVersion } from '../../matrix/room-versions.js';
import { applyEventFields, passes } from './filter.js';
import { emptyJoinedRoom, type SyncContext, type SyncProvider, type SyncResponse } from './types.js';
import type { LazyMembersCache } from './lazy-members.js';
import { applyTimelineVisibility } from './timeline-visibility.js';
import { withoutMembership } from './timeline-memberships.js';
import { tokenBefore } from '../rooms/pagination-token.js';

const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 500;


interface Membership {
  roomId: string;
  membership: string;
  eventId: string;
  stream: number;
}

export class RoomsProvider implements SyncProvider {
  readonly stream = 'events' as const;
  /** Rooms by the position of their latest event. */
  readonly roomChanges: StreamChangeCache;
  /** Users by the position of their latest membership change. */
  readonly membershipChanges: StreamChangeCache;
  private readonly memberships = new Map<string, { at: number; rows: Membership[] }>();
  /** Applies history visibility to timelines when set. */
  visibility?: VisibilityService;
  /** Bundles aggregations (threads, edits…) into timeline events when set. */
  relations?: RelationsService;

  constructor(
    private readonly storage: Storage,
    private readonly positions: StreamIdGenerator,
    private readonly lazy: LazyMembersCache,
  ) {
    this.roomChanges = new StreamChangeCache(positions.current());
    this.membershipChanges = new StreamChangeCache(positions.current());
  }

  current(): number {
    return this.positions.current();
  }

  observe(notice: StreamNotice): void {
    if (notice.stream !== 'events') return;
    for (const r of notice.roomIds ?? []) this.roomChanges.record(r, notice.position);
    for (const u of notice.userIds ?? []) this.membershipChanges.record(u, notice.position);
  }

  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    if (notice.stream !== 'events') return false;
    if (notice.userIds?.includes(ctx.userId)) return true;
    return (notice.roomIds ?? []).some((r) => ctx.interestingRooms.has(r));
  }

  /** The user's memberships, from memory while no membership of theirs changed. */
  private async membershipsOf(userId: string, to: number, fresh: (rows: Membership[]) => boolean): Promise<Membership[]> {
    const cached = this.memberships.get(userId);
    if (cached && cached.at >= 0 && !this.membershipChanges.hasChangedSince(userId, cached.at) && this.membershipChanges.covers(cached.at) && !fresh(cached.rows)) {
      return cached.rows;
    }
    const rows = await this.storage.timeline.membershipsOf(userId);
    if (this.memberships.size > 50_000) this.memberships.clear();
    this.memberships.set(userId, { at: to, rows });
    return rows;
  }

  /**
   * The client form of many events at once (redactions, transaction IDs for the requesting
   * device, the reader's membership and bundled aggregations on timeline events), keyed by event
   * ID: timeline events, and the state events of both lists as state is served — without
   * unsigned.membership (as Synapse), even one the timeline carries too.
   */
  private async formatAll(
    ctx: SyncContext,
    timeline: StoredEvent[],
    state: StoredEvent[],
    memberships: Map<string, string>,
  ): Promise<{ timeline: Map<string, JsonObject>; state: Map<string, JsonObject> }> {
    const out = { timeline: new Map<string, JsonObject>(), state: new Map<string, JsonObject>() };
    const all = [...timeline, ...state];
    let client: JsonObject[];
    if (ctx.filter.eventFormat === 'federation') {
      client = all.map((e) => toFederationFormat(e.event, getRoomVersion(e.roomVersion)!) as JsonObject);
    } else {
      client = await clientEventsOf(this.storage, all, ctx.now, ctx.requester, undefined, { memberships });
      if (this.relations && timeline.length) RelationsService.attach(client.slice(0, timeline.length), await this.relations.bundle(ctx.userId, timeline));
      client = client.map((ev) => {
        delete ev.room_id; // spec: ClientEventWithoutRoomID inside /sync rooms
        return applyEventFields(ev, ctx.filter.eventFields);
      });
    }
    all.forEach((e, i) => {
      const ev = client[i]!;
      if (i < timeline.length) out.timeline.set(e.event.event_id, ev);
      if (e.event.state_key !== undefined) out.state.set(e.event.event_id, withoutMembership(ev));
    });
    return out;
  }

  async fill(ctx: SyncContext): Promise<void> {
    const { storage } = this;
    const N = ctx.to.events;
    const S = ctx.since?.events;
    const room = ctx.filter.room;
    const roomAllowed = (id: string) => (!room.rooms || room.rooms.includes(id)) && !(room.notRooms ?? []).includes(id);
    // Forgetting a room sends no notice, so whenever left rooms are to be listed, read afresh.
    const listsLeft = (rows: Membership[]) =>
      S === undefined || (ctx.fullState && room.includeLeave) || rows.some((m) => (m.membership === 'leave' || m.membership === 'ban') && m.stream > S);
    const all = (await this.membershipsOf(ctx.userId, N, listsLeft)).filter((m) => roomAllowed(m.roomId) && m.stream <= N);
    ctx.interestingRooms = new Set(all.filter((m) => m.membership !== 'leave' && m.membership !== 'ban').map((m) => m.roomId));
    const joined = all.filter((m) => m.membership === 'join');
    ctx.joinedRooms = joined.map((m) => m.roomId);
    if (S === undefined) this.lazy.reset(ctx.userId, ctx.deviceId);

    // Rooms to send whole (initial sync, full_state, or joined since `since`) and rooms with news.
    // A join after a join (a profile change) is no new join: those rooms are only checked when
    // the user's own member event moved on since the token.
    const memberChanged = S === undefined ? [] : joined.filter((m) => m.stream > S).map((m) => m.roomId);
    const stayed = memberChanged.length ? await storage.timeline.joinedThroughout(memberChanged, ctx.userId, S!, N) : new Set<string>();
    const newlyJoined = new Set(S === undefined ? joined.map((m) => m.roomId) : memberChanged.filter((r) => !stayed.has(r)));
    if (S !== undefined) ctx.newlyJoinedRooms = newlyJoined;
    const full = joined.filter((m) => ctx.fullState || newlyJoined.has(m.roomId)).map((m) => m.roomId);
    const fullSet = new Set(full);
    let changed: string[] = [];
    if (S !== undefined) {
      const candidates = joined.filter((m) => !fullSet.has(m.roomId)).map((m) => m.roomId);
      const maybe = this.roomChanges.covers(S) ? this.roomChanges.changedSince(candidates, S) : candidates;
      changed = maybe.length ? [...(await storage.timeline.roomsWithEvents(maybe, S, N))] : [];
    }
    const limit = Math.min(ctx.filter.room.timeline.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);
    const tl = ctx.filter.room.timeline;
    const timelines = await storage.timeline.latestEvents(
      [
        // spec: with full_state "the timeline will still be limited by the since parameter".
        ...full.map((r) => ({ roomId: r, since: newlyJoined.has(r) ? 0 : S!, upTo: N })),
        ...changed.map((r) => ({ roomId: r, since: S!, upTo: N })),
      ],
      limit + 1,
      { types: tl.types, notTypes: tl.notTypes, senders: tl.senders, notSenders: tl.notSenders, containsUrl: tl.containsUrl },
    );
    const roomsInResponse = [...full, ...changed];
    // State at the start of each timeline.
    const summaries = await storage.timeline.summaries(roomsInResponse, ctx.userId);
    const stateIds = await this.stateAtTimelineStart(ctx, full, changed, timelines, S, summaries);
    const wantedStateEvents = new Set<string>();
    for (const ids of stateIds.values()) for (const id of ids.values()) wantedStateEvents.add(id);
    const stateEvents = await storage.events.getEvents(wantedStateEvents);

    const pages = new Map(roomsInResponse.map((r) => [r, (timelines.get(r) ?? []).slice(0, limit).reverse()]));
    const memberships = await applyTimelineVisibility({ storage: this.storage, visibility: this.visibility }, ctx.userId, pages, {
      joinedAt: new Map(joined.map((m) => [m.roomId, m.stream])),
      joinedAfterPage: new Set(ctx.joinedRooms),
      latest: new Map(joined.map((m) => [m.roomId, m])),
      gapless: !(tl.types || tl.notTypes || tl.senders || tl.notSenders || tl.containsUrl !== undefined),
    }, ctx.filter.eventFormat !== 'federation');
    const formatted = await this.formatAll(ctx, [...pages.values()].flat(), [...stateEvents.values()], memberships);

    for (const roomId of roomsInResponse) {
      const events = (timelines.get(roomId) ?? []).slice();
      const page = pages.get(roomId)!;
      const entry = emptyJoinedRoom();
      entry.timeline.limited = events.length > limit;
      entry.timeline.events = page.map((e) => formatted.timeline.get(e.event.event_id)!);
      entry.timeline.prev_batch = page.length ? tokenBefore({ topo: page[0]!.topologicalOrdering, stream: page[0]!.streamOrdering }) : `s${N}`;
      const state = [...(stateIds.get(roomId)?.values() ?? [])]
        .map((id) => stateEvents.get(id))
        .filter((e): e is StoredEvent => !!e && passes(ctx.filter.room.state, e.event));
      // As Synapse, an incremental sync leaves out a room whose news the filter hid entirely, so
      // a long-poll keeps waiting rather than returning an empty entry.
      if (!fullSet.has(roomId) && !page.length && !state.length) continue;
      entry.state.events = state.map((e) => formatted.state.get(e.event.event_id)!);
      setStateAfter(ctx, entry, [...state, ...page], formatted.state);
      const s = summaries.get(roomId);
      if (s) entry.summary = { 'm.heroes': s.heroes, 'm.joined_member_count': s.joined, 'm.invited_member_count': s.invited };
      ctx.response.rooms.join[roomId] = entry;
    }

    await this.fillInvitesAndKnocks(ctx, all, S, N);
    await this.fillLeaves(ctx, all, S, N, limit);
  }

  /**
   * spec: "state" is the state at the start of the timeline — in full for rooms sent whole,
   * else what changed between `since` and the timeline's start. Lazy loading keeps only the
   * members of the timeline's senders (and the user), each sent once per device.
   */
  private async stateAtTimelineStart(
    ctx: SyncContext,
    full: string[],
    changed: string[],
    timelines: Map<string, StoredEvent[]>,
    S: number | undefined,
    summaries: Map<string, { heroes: string[]; named: boolean }>,
  ): Promise<Map<string, Map<string, string>>> {
    // spec: with lazy loading, "the membership events for the heroes MUST be included in the state"
    // — needed where the heroes name the room, i.e. it has no name or alias.
    const heroesOf = (roomId: string) => {
      const s = summaries.get(roomId);
      return s && !s.named ? s.heroes : [];
    };
    const out = new Map<string, Map<string, string>>();
    const N = ctx.to.events;
    const limit = Math.min(ctx.filter.room.timeline.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);
    if (full.length) {
      const rows = await this.storage.timeline.currentStateOf(full);
      const byRoom = new Map<string, Map<string, { id: string; stream: number }>>();
      for (const r of rows) {
        let m = byRoom.get(r.roomId);
        if (!m) byRoom.set(r.roomId, (m = new Map()));
        m.set(stateKeyOf(r.type, r.stateKey), { id: r.eventId, stream: r.stream });
      }
      for (const roomId of full) {
        const current = byRoom.get(roomId) ?? new Map();
        const page = (timelines.get(roomId) ?? []).slice(0, limit); // newest first
        let ids: Map<string, string>;
        if ([...current.values()].some((v) => v.stream > N) && page.length) {
          // State moved on after this sync's snapshot: use the stored snapshot instead.
          const first = page[page.length - 1]!;
          ids = new Map(first.stateGroupBefore === null ? [] : await this.storage.state.getGroup(first.stateGroupBefore));
        } else {
          ids = new Map([...current].filter(([, v]) => v.stream <= N).map(([k, v]) => [k, v.id]));
          // Walk the timeline back from its newest event, undoing its state changes.
          for (const e of page) {
            if (e.event.state_key === undefined) continue;
            const key = stateKeyOf(e.event.type, e.event.state_key);
            if (ids.get(key) !== e.event.event_id) continue;
            const replaced = e.unsigned?.replaces_state;
            if (typeof replaced === 'string') ids.set(key, replaced);
            else ids.delete(key);
          }
        }
        out.set(roomId, this.lazyFilter(ctx, roomId, ids, page, true, heroesOf(roomId)));
      }
    }
    if (changed.length && S !== undefined) {
      // A timeline filter may hide state events of the window: then, as Synapse does, the state
      // changes up to the end of the window that the timeline does not carry go in `state`.
      const tl = ctx.filter.room.timeline;
      const filtered = !!(tl.types || tl.notTypes || tl.senders || tl.notSenders || tl.containsUrl !== undefined);
      const bounds = changed
        .filter((r) => filtered || (timelines.get(r)?.length ?? 0) > limit)
        .map((r) => {
          const page = (timelines.get(r) ?? []).slice(0, limit);
          return { roomId: r, since: S, before: filtered || !page.length ? N + 1 : page[page.length - 1]!.streamOrdering };
        });
      const deltas = await this.storage.timeline.stateChangesBetween(bounds);
      let current = new Map<string, Map<string, string>>();
      if (ctx.filter.room.state.lazyLoadMembers) {
        // The current member events of this page's senders and the heroes, for all rooms at once;
        // lazyFilter keeps those the device has not seen yet.
        current = await this.storage.timeline.memberEventIdsOf(
          changed.map((roomId) => ({
            roomId,
            userIds: [...new Set([...(timelines.get(roomId) ?? []).slice(0, limit).map((e) => e.event.sender), ...heroesOf(roomId)])],
          })),
        );
      }
      for (const roomId of changed) {
        const page = (timelines.get(roomId) ?? []).slice(0, limit);
        const ids = deltas.get(roomId) ?? new Map<string, string>();
        if (filtered) {
          const inPage = new Set(page.map((e) => e.event.event_id));
          for (const [key, id] of ids) if (inPage.has(id)) ids.delete(key);
        }
        for (const [member, id] of current.get(roomId) ?? []) if (!ids.has(stateKeyOf('m.room.member', member))) ids.set(stateKeyOf('m.room.member', member), id);
        out.set(roomId, this.lazyFilter(ctx, roomId, ids, page, false, heroesOf(roomId)));
      }
    }
    return out;
  }

  private lazyFilter(ctx: SyncContext, roomId: string, ids: Map<string, string>, page: StoredEvent[], full: boolean, heroes: string[]): Map<string, string> {
    const f = ctx.filter.room.state;
    if (!f.lazyLoadMembers) return ids;
    const wanted = new Set([...page.map((e) => e.event.sender), ...heroes]);
    if (full) wanted.add(ctx.userId);
    for (const e of page) if (e.event.type === 'm.room.member' && e.event.state_key) wanted.add(e.event.state_key);
    const out = new Map<string, string>();
    for (const [key, id] of ids) {
      const [type, stateKey] = splitStateKey(key);
      if (type !== 'm.room.member') {
        out.set(key, id);
        continue;
      }
      if (!wanted.has(stateKey)) continue;
      if (!f.includeRedundantMembers && this.lazy.alreadySent(ctx.userId, ctx.deviceId, roomId, stateKey, id)) continue;
      this.lazy.record(ctx.userId, ctx.deviceId, roomId, stateKey, id);
      out.set(key, id);
    }
    return out;
  }

  private async fillInvitesAndKnocks(ctx: SyncContext, all: Membership[], S: number | undefined, N: number): Promise<void> {
    const fresh = all.filter((m) => (m.membership === 'invite' || m.membership === 'knock') && (S === undefined || m.stream > S) && m.stream <= N);
    const stripped = await strippedStateOf(this.storage, ctx.userId, fresh.map((m) => ({ roomId: m.roomId, membership: m.membership, membershipEventId: m.eventId })));
    for (const m of fresh) {
      const events = stripped.get(m.roomId)!;
      if (m.membership === 'invite') ctx.response.rooms.invite[m.roomId] = { invite_state: { events } };
      else ctx.response.rooms.knock[m.roomId] = { knock_state: { events } };
    }
  }

  /** Rooms left (or banned from) since `since`; with include_leave, every left room on an initial sync. */
  private async fillLeaves(ctx: SyncContext, all: Membership[], S: number | undefined, N: number, limit: number): Promise<void> {
    const left = all.filter(
      (m) => (m.membership === 'leave' || m.membership === 'ban') && (S === undefined ? ctx.filter.room.includeLeave : m.stream > S || ctx.fullState && ctx.filter.room.includeLeave),
    );
    if (!left.length) return;
    const timelines = await this.storage.timeline.latestEvents(
      left.map((m) => ({ roomId: m.roomId, since: S ?? 0, upTo: Math.min(m.stream, N) })),
      limit + 1,
    );
    const leftPages = new Map(left.map((m) => [m.roomId, (timelines.get(m.roomId) ?? []).slice(0, limit).reverse()]));
    // History visibility holds for the rooms a user left too (e.g. nothing from before their join).
    const leaves = await this.storage.events.getEvents(left.map((m) => m.eventId));
    const wasJoined = new Set(left.filter((m) => (leaves.get(m.eventId)?.unsigned?.prev_content as JsonObject | undefined)?.membership === 'join').map((m) => m.roomId));
    const memberships = await applyTimelineVisibility({ storage: this.storage, visibility: this.visibility }, ctx.userId, leftPages, {
      joinedAt: new Map(left.map((m) => [m.roomId, m.stream + 1])),
      joinedAfterPage: wasJoined,
      latest: new Map(left.map((m) => [m.roomId, m])),
      gapless: true,
    }, ctx.filter.eventFormat !== 'federation');
    // spec: "state" is the state up to the start of the timeline — all of it when the room is sent
    // whole (initial sync, full_state), else what changed in a gap before a limited timeline.
    const stateBounds = left
      .filter((m) => S === undefined || ctx.fullState || (timelines.get(m.roomId)?.length ?? 0) > limit)
      .map((m) => {
        const page = leftPages.get(m.roomId)!;
        return { roomId: m.roomId, since: S === undefined || ctx.fullState ? 0 : S, before: page.length ? page[0]!.streamOrdering : Math.min(m.stream, N) + 1 };
      });
    const stateIds = await this.storage.timeline.stateChangesBetween(stateBounds);
    const stateEvents = await this.storage.events.getEvents([...stateIds.values()].flatMap((ids) => [...ids.values()]));
    const formatted = await this.formatAll(ctx, [...leftPages.values()].flat(), [...stateEvents.values()], memberships);
    for (const m of left) {
      const events = timelines.get(m.roomId) ?? [];
      const page = leftPages.get(m.roomId)!;
      const state = [...(stateIds.get(m.roomId)?.values() ?? [])]
        .map((id) => stateEvents.get(id))
        .filter((e): e is StoredEvent => !!e && passes(ctx.filter.room.state, e.event));
      const entry: SyncResponse['rooms']['leave'][string] = {
        timeline: {
          events: page.map((e) => formatted.timeline.get(e.event.event_id)!),
          limited: events.length > limit,
          prev_batch: page.length ? tokenBefore({ topo: page[0]!.topologicalOrdering, stream: page[0]!.streamOrdering }) : `s${m.stream}`,
        },
        state: { events: state.map((e) => formatted.state.get(e.event.event_id)!) },
        account_data: { events: [] },
      };
      setStateAfter(ctx, entry, [...state, ...page], formatted.state);
      ctx.response.rooms.leave[m.roomId] = entry;
    }
  }
}

/**
 * MSC4222 / spec v1.16: state_after is the state up to the end of the timeline, named as the
 * client asked (matrix-js-sdk asks for, and reads, the unstable name). `state` is emptied here and
 * left out of the response once every provider has run (spec: it "MUST be omitted").
 */
function setStateAfter(
  ctx: SyncContext,
  entry: { state: { events: JsonObject[] }; state_after?: { events: JsonObject[] }; 'org.matrix.msc4222.state_after'?: { events: JsonObject[] } },
  /** The state events, then the timeline, oldest first (keys read here, as event_fields may drop them). */
  stored: StoredEvent[],
  /** The served form of state events, by event ID. */
  formatted: Map<string, JsonObject>,
): void {
  if (!ctx.useStateAfter) return;
  const after = new Map<string, JsonObject>();
  for (const e of stored) if (e.event.state_key !== undefined) after.set(stateKeyOf(e.event.type, e.event.state_key), formatted.get(e.event.event_id)!);
  entry[ctx.useStateAfter === 'unstable' ? 'org.matrix.msc4222.state_after' : 'state_after'] = { events: [...after.values()] };
  entry.state = { events: [] };
}
