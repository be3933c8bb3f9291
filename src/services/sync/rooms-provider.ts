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
import { toStrippedState } from '../rooms/client-events.js';
import { clientEventsOf } from '../rooms/room-reads.js';
import { RelationsService } from '../relations.js';
import type { VisibilityService } from '../rooms/visibility.js';
import { toFederationFormat } from '../../matrix/pdu.js';
import { getRoomVersion } from '../../matrix/room-versions.js';
import { applyEventFields, passes } from './filter.js';
import { emptyJoinedRoom, type SyncContext, type SyncProvider } from './types.js';
import type { LazyMembersCache } from './lazy-members.js';
import { tokenBefore } from '../rooms/pagination-token.js';

const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 500;
/** spec: Client-Server API §9.x "Stripped state": the state an invitee or knocker may see. */
const STRIPPED_STATE_TYPES = ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.avatar', 'm.room.canonical_alias', 'm.room.encryption', 'm.room.topic'];


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
  private async membershipsOf(userId: string, to: number): Promise<Membership[]> {
    const cached = this.memberships.get(userId);
    if (cached && cached.at >= 0 && !this.membershipChanges.hasChangedSince(userId, cached.at) && this.membershipChanges.covers(cached.at)) {
      return cached.rows;
    }
    const rows = await this.storage.timeline.membershipsOf(userId);
    if (this.memberships.size > 50_000) this.memberships.clear();
    this.memberships.set(userId, { at: to, rows });
    return rows;
  }

  /**
   * spec: history visibility applies to the timeline too. Events after the user's current join
   * are theirs to see; only a page reaching back before that join (a room joined since the
   * token, an initial sync) is checked, so most rooms cost nothing here.
   */
  private async applyVisibility(ctx: SyncContext, pages: Map<string, StoredEvent[]>, joinedAt: Map<string, number>): Promise<void> {
    if (!this.visibility) return;
    for (const [roomId, page] of pages) {
      const since = joinedAt.get(roomId);
      if (since === undefined || !page.some((e) => e.streamOrdering < since)) continue;
      const access = await this.visibility.roomAccess(roomId, ctx.userId);
      if (access) pages.set(roomId, await this.visibility.visibleEvents(access, page));
    }
  }

  /**
   * The client form of many events at once (redactions, transaction IDs for the requesting
   * device, bundled aggregations on timeline events), keyed by event ID.
   */
  private async formatAll(ctx: SyncContext, timeline: StoredEvent[], state: StoredEvent[]): Promise<Map<string, JsonObject>> {
    const out = new Map<string, JsonObject>();
    if (ctx.filter.eventFormat === 'federation') {
      for (const e of [...timeline, ...state]) out.set(e.event.event_id, toFederationFormat(e.event, getRoomVersion(e.roomVersion)!) as JsonObject);
      return out;
    }
    const all = [...timeline, ...state];
    const client = await clientEventsOf(this.storage, all, ctx.now, ctx.requester);
    if (this.relations && timeline.length) RelationsService.attach(client.slice(0, timeline.length), await this.relations.bundle(ctx.userId, timeline));
    all.forEach((e, i) => {
      const ev = client[i]!;
      delete ev.room_id; // spec: ClientEventWithoutRoomID inside /sync rooms
      out.set(e.event.event_id, applyEventFields(ev, ctx.filter.eventFields));
    });
    return out;
  }

  async fill(ctx: SyncContext): Promise<void> {
    const { storage } = this;
    const N = ctx.to.events;
    const S = ctx.since?.events;
    const room = ctx.filter.room;
    const roomAllowed = (id: string) => (!room.rooms || room.rooms.includes(id)) && !(room.notRooms ?? []).includes(id);
    const all = (await this.membershipsOf(ctx.userId, N)).filter((m) => roomAllowed(m.roomId) && m.stream <= N);
    ctx.interestingRooms = new Set(all.filter((m) => m.membership !== 'leave' && m.membership !== 'ban').map((m) => m.roomId));
    const joined = all.filter((m) => m.membership === 'join');
    ctx.joinedRooms = joined.map((m) => m.roomId);
    if (S === undefined) this.lazy.reset(ctx.userId, ctx.deviceId);

    // Rooms to send whole (initial sync, full_state, or joined since `since`) and rooms with news.
    const full = joined.filter((m) => S === undefined || ctx.fullState || m.stream > S).map((m) => m.roomId);
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
      [...full.map((r) => ({ roomId: r, since: 0, upTo: N })), ...changed.map((r) => ({ roomId: r, since: S!, upTo: N }))],
      limit + 1,
      { types: tl.types, notTypes: tl.notTypes, senders: tl.senders, notSenders: tl.notSenders, containsUrl: tl.containsUrl },
    );
    const roomsInResponse = [...full, ...changed];
    // State at the start of each timeline.
    const stateIds = await this.stateAtTimelineStart(ctx, full, changed, timelines, S);
    const wantedStateEvents = new Set<string>();
    for (const ids of stateIds.values()) for (const id of ids.values()) wantedStateEvents.add(id);
    const stateEvents = await storage.events.getEvents(wantedStateEvents);

    const pages = new Map(roomsInResponse.map((r) => [r, (timelines.get(r) ?? []).slice(0, limit).reverse()]));
    await this.applyVisibility(ctx, pages, new Map(joined.map((m) => [m.roomId, m.stream])));
    const formatted = await this.formatAll(ctx, [...pages.values()].flat(), [...stateEvents.values()]);
    const summaries = await storage.timeline.summaries(roomsInResponse, ctx.userId);

    for (const roomId of roomsInResponse) {
      const events = (timelines.get(roomId) ?? []).slice();
      const page = pages.get(roomId)!;
      const entry = emptyJoinedRoom();
      entry.timeline.limited = events.length > limit;
      entry.timeline.events = page.map((e) => formatted.get(e.event.event_id)!);
      entry.timeline.prev_batch = page.length ? tokenBefore({ topo: page[0]!.topologicalOrdering, stream: page[0]!.streamOrdering }) : `s${N}`;
      const ids = stateIds.get(roomId);
      if (ids) {
        entry.state.events = [...ids.values()]
          .map((id) => stateEvents.get(id))
          .filter((e): e is StoredEvent => !!e && passes(ctx.filter.room.state, e.event))
          .map((e) => formatted.get(e.event.event_id)!);
      }
      if (ctx.useStateAfter) {
        // MSC4222: state_after is the state at the end of the timeline, replacing `state`; it is
        // named as the client asked (matrix-js-sdk asks, and reads, the unstable name).
        const after = new Map<string, JsonObject>();
        for (const ev of entry.state.events) after.set(stateKeyOf(String(ev.type), String(ev.state_key)), ev);
        for (const ev of entry.timeline.events) if (ev.state_key !== undefined) after.set(stateKeyOf(String(ev.type), String(ev.state_key)), ev);
        entry[ctx.useStateAfter === 'unstable' ? 'org.matrix.msc4222.state_after' : 'state_after'] = { events: [...after.values()] };
        entry.state = { events: [] };
      }
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
  ): Promise<Map<string, Map<string, string>>> {
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
        out.set(roomId, this.lazyFilter(ctx, roomId, ids, page, true));
      }
    }
    if (changed.length && S !== undefined) {
      const limitedRooms = changed.filter((r) => (timelines.get(r)?.length ?? 0) > limit);
      const bounds = limitedRooms.map((r) => {
        const page = timelines.get(r)!.slice(0, limit);
        return { roomId: r, since: S, before: page[page.length - 1]!.streamOrdering };
      });
      const deltas = await this.storage.timeline.stateChangesBetween(bounds);
      for (const roomId of changed) {
        const page = (timelines.get(roomId) ?? []).slice(0, limit);
        const ids = deltas.get(roomId) ?? new Map<string, string>();
        if (ctx.filter.room.state.lazyLoadMembers) {
          // Members of this page's senders the device has not seen yet.
          const senders = new Set(page.map((e) => e.event.sender));
          const missing = [...senders].filter((s) => !ids.has(stateKeyOf('m.room.member', s)));
          if (missing.length) {
            const current = await this.storage.timeline.memberEventIds(roomId, missing);
            for (const [member, id] of current) ids.set(stateKeyOf('m.room.member', member), id);
          }
        }
        out.set(roomId, this.lazyFilter(ctx, roomId, ids, page, false));
      }
    }
    return out;
  }

  private lazyFilter(ctx: SyncContext, roomId: string, ids: Map<string, string>, page: StoredEvent[], full: boolean): Map<string, string> {
    const f = ctx.filter.room.state;
    if (!f.lazyLoadMembers) return ids;
    const wanted = new Set(page.map((e) => e.event.sender));
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
    if (!fresh.length) return;
    const rows = await this.storage.timeline.currentStateOf(fresh.map((m) => m.roomId));
    const ids = rows.filter((r) => STRIPPED_STATE_TYPES.includes(r.type) && r.stateKey === '').map((r) => r.eventId);
    const events = await this.storage.events.getEvents([...ids, ...fresh.map((m) => m.eventId)]);
    for (const m of fresh) {
      const stripped = rows
        .filter((r) => r.roomId === m.roomId && STRIPPED_STATE_TYPES.includes(r.type) && r.stateKey === '')
        .map((r) => events.get(r.eventId))
        .filter((e): e is StoredEvent => !!e)
        .map((e) => toStrippedState(e.event));
      const own = events.get(m.eventId);
      if (own) stripped.push({ ...toStrippedState(own.event), event_id: own.event.event_id, origin_server_ts: own.event.origin_server_ts });
      if (m.membership === 'invite') ctx.response.rooms.invite[m.roomId] = { invite_state: { events: stripped } };
      else ctx.response.rooms.knock[m.roomId] = { knock_state: { events: stripped } };
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
    const formatted = await this.formatAll(ctx, [...leftPages.values()].flat(), []);
    for (const m of left) {
      const events = timelines.get(m.roomId) ?? [];
      const page = leftPages.get(m.roomId)!;
      ctx.response.rooms.leave[m.roomId] = {
        timeline: {
          events: page.map((e) => formatted.get(e.event.event_id)!),
          limited: events.length > limit,
          prev_batch: page.length ? tokenBefore({ topo: page[0]!.topologicalOrdering, stream: page[0]!.streamOrdering }) : `s${m.stream}`,
        },
        state: { events: [] },
        account_data: { events: [] },
      };
    }
  }
}
