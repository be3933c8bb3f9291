/**
 * Simplified sliding sync (MSC4186), what Element X speaks: lists of the user's rooms sorted by
 * activity with ranges and filters, room subscriptions, per-connection memory of what was sent,
 * and extensions (to_device, e2ee, account_data, receipts, typing) served by the same stream
 * providers as /sync.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { Notifier } from '../../streams/notifier.js';
import { formatSyncToken, parseSyncToken, zeroPositions, type SyncPositions } from '../../streams/sync-token.js';
import { MatrixError } from '../../errors.js';
import { dictionary, type JsonObject } from '../../matrix/types.js';
import type { Requester } from '../auth.js';
import { clientEventsOf, type AggregationSource } from '../rooms/room-reads.js';
import type { VisibilityService } from '../rooms/visibility.js';
import type { SyncService } from '../sync/sync-service.js';
import { emptyResponse } from '../sync/sync-service.js';
import { parseSyncFilter } from '../sync/filter.js';
import type { SyncContext } from '../sync/types.js';
import type { UnreadCounts } from '../sync/unread.js';
import { tokenBefore } from '../rooms/pagination-token.js';
import { strippedStateOf } from '../rooms/stripped-state.js';
import { combineConfigs, matchesRule, type RoomConfig, type SlidingSyncRequest, type StateRule } from './request.js';
import { LongPoll } from '../sync/long-poll.js';
import { timelineMemberships, withoutMembership } from '../sync/timeline-memberships.js';
import { RelationsService } from '../relations.js';
import { ConnectionStore, type ConnectionState, type RoomSent } from './connections.js';
import { loadRoomList, passesFilter, spaceChildren, type ListedRoom } from './room-list.js';
import { translateExtensions } from './extensions.js';
import { MAX_TIMEOUT_MS } from '../sync/sync-service.js';


export class SlidingSyncService {
  private readonly connections = new ConnectionStore();
  unread?: UnreadCounts;
  /** History visibility for timelines reaching before the user's join (set by the composition root). */
  visibility?: VisibilityService;
  /** Bundled aggregations on limited timelines (set by the composition root). */
  aggregations?: AggregationSource;

  constructor(
    private readonly storage: Storage,
    private readonly sync: SyncService,
    private readonly notifier: Notifier,
    private readonly now: () => number = Date.now,
  ) {}

  async handle(requester: Requester, req: SlidingSyncRequest): Promise<JsonObject> {
    const key = `${requester.userId}|${requester.deviceId ?? ''}|${req.connId}`;
    let base: ConnectionState | undefined;
    let since: SyncPositions | undefined;
    if (req.pos) {
      const m = /^(\d+)\/(s[\d_]+)$/.exec(req.pos);
      base = m ? this.connections.get(key, Number(m[1])) : undefined;
      // MSC4186: an unknown or expired position tells the client to start the connection again.
      if (!m || !base) throw new MatrixError(400, 'M_UNKNOWN_POS', 'Unknown position; start a new connection');
      since = parseSyncToken(m[2]!);
    }
    // MSC3885: to-device messages follow the extension's own `since` (its last next_batch), not
    // `pos`: only what the client acknowledges there may be deleted, and a client that did not ask
    // for the extension acknowledges nothing.
    const toDevice = req.extensions.to_device;
    const toDeviceAck = toDevice?.enabled && toDevice.since !== undefined ? Number(toDevice.since) : undefined;
    if (since) since.to_device = toDeviceAck ?? 0;
    const hookSince = toDeviceAck !== undefined ? { ...(since ?? zeroPositions()), to_device: toDeviceAck } : since;
    await this.sync.runHooks(requester, { since: hookSince ? formatSyncToken(hookSince) : undefined, setPresence: req.setPresence, timeout: req.timeout });
    // MSC4186: the timeout is ignored when there is no pos (an initial request answers at once).
    const deadline = this.now() + (since ? Math.min(req.timeout, MAX_TIMEOUT_MS) : 0);

    const poll = new LongPoll(this.notifier, undefined, (stream) => this.sync.generator(stream), this.now);
    try {
      for (;;) {
        const to = this.sync.currentPositions();
        if (since) for (const k of Object.keys(since) as (keyof SyncPositions)[]) since[k] = Math.min(since[k], to[k]);
        // Until this computation knows the user's rooms, any notice counts as news.
        let interest: SyncContext | undefined;
        poll.reset((n) => !interest || this.sync.wakes(n, interest));
        const { response, rooms, ctx, hasNews } = await this.compute(requester, req, base, since, to);
        interest = ctx;
        if (!since || hasNews || this.now() >= deadline || !(await poll.wait(deadline))) {
          const seq = this.connections.commit(key, rooms);
          response.pos = `${seq}/${formatSyncToken(to)}`;
          return response;
        }
      }
    } finally {
      poll.close();
    }
  }

  private async compute(
    requester: Requester,
    req: SlidingSyncRequest,
    base: ConnectionState | undefined,
    since: SyncPositions | undefined,
    to: SyncPositions,
  ): Promise<{ response: JsonObject; rooms: Map<string, RoomSent>; ctx: SyncContext; hasNews: boolean }> {
    const userId = requester.userId;
    const sentRooms = new Map(base?.rooms ?? []);
    const list = await loadRoomList(this.storage, userId, to.events, new Set(sentRooms.keys()));
    const byId = new Map(list.map((r) => [r.roomId, r]));

    // Lists: filter, count, range. List names are the client's: without a prototype, a list
    // named "__proto__" is answered like any other instead of silently vanishing.
    const lists: JsonObject = dictionary();
    const configs = new Map<string, RoomConfig[]>();
    const roomLists = new Map<string, string[]>();
    const addConfig = (roomId: string, cfg: RoomConfig) => (configs.get(roomId) ?? configs.set(roomId, []).get(roomId)!).push(cfg);
    for (const [name, cfg] of req.lists) {
      const children = cfg.filters.spaces ? await spaceChildren(this.storage, userId, cfg.filters.spaces) : undefined;
      const filtered = list.filter((r) => passesFilter(r, cfg.filters, children));
      const ranges = cfg.ranges ?? [[0, Math.max(0, filtered.length - 1)]];
      const ops: JsonObject[] = [];
      for (const [start, end] of ranges) {
        const slice = filtered.slice(start, end + 1);
        ops.push({ op: 'SYNC', range: [start, end], room_ids: slice.map((r) => r.roomId) });
        for (const r of slice) {
          addConfig(r.roomId, cfg);
          const names = roomLists.get(r.roomId) ?? [];
          if (!names.includes(name)) names.push(name);
          roomLists.set(r.roomId, names);
        }
      }
      lists[name] = { count: filtered.length, ops };
    }
    // MSC4186: subscriptions to rooms the user may not see (or that do not exist) are ignored.
    const subscribed = new Set<string>();
    for (const [roomId, cfg] of req.subscriptions) {
      if (!byId.has(roomId)) continue;
      subscribed.add(roomId);
      addConfig(roomId, cfg);
    }

    // Rooms that may need sending: new to the connection, changed since, or with an expanded config.
    const candidates: Candidate[] = [];
    for (const [roomId, cfgs] of configs) {
      const room = byId.get(roomId)!;
      const config = combineConfigs(cfgs);
      const prev = sentRooms.get(roomId);
      const stateConfig = JSON.stringify([config.include, config.exclude, config.lazyMembers]);
      const stripped = room.membership === 'invite' || room.membership === 'knock';
      // A room never sent, or sent under another membership that changes what the client may see
      // (an invite accepted, a room rejoined), starts afresh.
      const initial = !prev || (prev.membership !== room.membership && (room.membership === 'join' || stripped));
      const changed = !prev || room.activity > prev.stream || room.membershipStream > prev.stream;
      if (stripped) {
        if (initial || changed) candidates.push({ room, config, stateConfig, prev, initial: true, expanded: false, configChanged: false });
        continue;
      }
      const expanded = !initial && config.timelineLimit > prev!.timelineLimit;
      const configChanged = !initial && prev!.stateConfig !== stateConfig;
      if (initial || expanded || changed || configChanged) candidates.push({ room, config, stateConfig, prev, initial, expanded, configChanged });
    }

    const rooms: JsonObject = {};
    const newSent = new Map(sentRooms);
    const now = this.now();
    const full = candidates.filter((c) => c.room.membership !== 'invite' && c.room.membership !== 'knock');
    await this.fillRooms(requester, full, since, to, now, rooms, newSent);
    await this.fillStrippedRooms(requester.userId, candidates.filter((c) => !full.includes(c)), rooms, newSent);
    for (const [roomId, names] of roomLists) if (rooms[roomId]) (rooms[roomId] as JsonObject).lists = names;

    // Extensions, from the /sync stream providers.
    const joined = list.filter((r) => r.membership === 'join').map((r) => r.roomId);
    const initialRooms = new Set(Object.entries(rooms).filter(([, r]) => (r as JsonObject).initial === true && (r as JsonObject).membership === 'join').map(([id]) => id));
    const ctx: SyncContext = {
      requester,
      userId,
      deviceId: requester.deviceId,
      filter: parseSyncFilter(undefined),
      since,
      to,
      fullState: false,
      useStateAfter: false,
      now,
      response: emptyResponse(formatSyncToken(to)),
      joinedRooms: joined,
      // A room sent whole brings all its account data (see AccountDataProvider).
      newlyJoinedRooms: since ? initialRooms : new Set(),
      interestingRooms: new Set(list.filter((r) => r.membership !== 'leave' && r.membership !== 'ban').map((r) => r.roomId)),
    };
    const timelineIds = new Map(Object.entries(rooms).map(([id, r]) => [id, new Set(((r as JsonObject).timeline as JsonObject[] | undefined)?.map((e) => e.event_id as string) ?? [])]));
    const ext = await translateExtensions(this.sync, ctx, req, { roomLists, subscribed, initialRooms, timelineIds });
    const hasNews = Object.keys(rooms).length > 0 || ext.hasNews;
    return { response: { pos: '', lists, rooms, extensions: ext.extensions }, rooms: newSent, ctx, hasNews };
  }

  /** Joined rooms and rooms the user was in (left, kicked, banned): timeline and required_state. */
  private async fillRooms(
    requester: Requester,
    cands: Candidate[],
    since: SyncPositions | undefined,
    to: SyncPositions,
    now: number,
    rooms: JsonObject,
    newSent: Map<string, RoomSent>,
  ): Promise<void> {
    if (!cands.length) return;
    const userId = requester.userId;
    // Nobody sees past their own leave or ban.
    const upToOf = (c: Candidate) => (c.room.membership === 'join' ? to.events : Math.min(c.room.membershipStream, to.events));
    const timelines = await this.storage.timeline.latestEvents(
      cands.map((c) => ({ roomId: c.room.roomId, since: c.initial || c.expanded ? 0 : c.prev!.stream, upTo: upToOf(c) })),
      Math.max(1, ...cands.map((c) => c.config.timelineLimit)) + 1,
    );
    const ids = cands.map((c) => c.room.roomId);
    const [stateRows, summaries] = await Promise.all([this.storage.timeline.currentStateOf(ids), this.storage.timeline.summaries(ids, userId)]);
    const unread = this.unread ? await this.unread.counts(userId, ids) : new Map();
    const rowsOf = new Map<string, typeof stateRows>();
    for (const r of stateRows) (rowsOf.get(r.roomId) ?? rowsOf.set(r.roomId, []).get(r.roomId)!).push(r);

    for (const c of cands) {
      const { room, config, prev } = c;
      const upTo = upToOf(c);
      // Someone who never joined (an invite refused or withdrawn) sees only that membership event.
      const outsider = !room.everJoined;
      const all = outsider ? [] : (timelines.get(room.roomId) ?? []).slice(0, config.timelineLimit + 1);
      let page = all.slice(0, config.timelineLimit).reverse();
      const limited = all.length > config.timelineLimit;
      if (outsider && config.timelineLimit > 0) {
        const own = await this.storage.events.getEvents([room.membershipEventId]);
        page = [...own.values()];
      }
      // The reader's membership at each timeline event (spec v1.11 unsigned.membership): from the
      // visibility check where it runs, else derived from their latest membership, as /sync does.
      const memberships = new Map<string, string>();
      let checked = false;
      if (this.visibility && page.length && (c.initial || c.expanded)) {
        const access = await this.visibility.roomAccess(room.roomId, userId);
        if (access) page = await this.visibility.visibleEvents(access, page, undefined, memberships);
        checked = !!access;
      }
      if (!checked && page.length) {
        const latest = { eventId: room.membershipEventId, membership: room.membership, stream: room.membershipStream };
        await timelineMemberships(this.storage, this.visibility, userId, [{ events: page, latest, gapless: true }], memberships);
      }
      // State of a room the user left is what they saw when leaving.
      const rows = outsider ? [] : (rowsOf.get(room.roomId) ?? []).filter((r) => room.membership === 'join' || r.stream <= upTo);
      const matches = (include: StateRule[], exclude: StateRule[], r: { type: string; stateKey: string }) =>
        include.some((rule) => matchesRule(rule, r.type, r.stateKey, userId)) && !exclude.some((rule) => matchesRule(rule, r.type, r.stateKey, userId));
      const lazySent = new Set(c.initial ? [] : (prev?.lazyMembers ?? []));
      const lazyWanted = new Set<string>();
      if (config.lazyMembers) {
        for (const e of page) {
          lazyWanted.add(e.event.sender);
          if (e.event.type === 'm.room.member' && e.event.state_key) lazyWanted.add(e.event.state_key);
        }
      }
      const prevStream = prev?.stream ?? 0;
      const stateIds = rows
        .filter((r) => {
          const byRule = matches(config.include, config.exclude, r);
          const isMember = r.type === 'm.room.member';
          const byLazy = isMember && lazyWanted.has(r.stateKey) && (!lazySent.has(r.stateKey) || r.stream > prevStream);
          // MSC4186 lazy members: a gapless incremental sync also carries every membership change.
          const lazyChange = config.lazyMembers && isMember && !c.initial && !limited && r.stream > prevStream;
          if (byLazy || lazyChange) return true;
          if (!byRule) return false;
          if (c.initial) return true;
          // Incremental: state changed since the room was last sent, and state the changed
          // required_state newly asks for.
          return r.stream > prevStream || (c.configChanged && !matches(prev!.include, prev!.exclude, r));
        })
        .map((r) => r.eventId);
      const nameRow = rows.find((r) => r.type === 'm.room.name' && r.stateKey === '');
      const avatarRow = rows.find((r) => r.type === 'm.room.avatar' && r.stateKey === '');
      const s = summaries.get(room.roomId);
      const heroRows = rows.filter((r) => r.type === 'm.room.member' && (s?.heroes ?? []).includes(r.stateKey));
      const events = await this.storage.events.getEvents([...stateIds, ...[nameRow, avatarRow, ...heroRows].filter((r) => !!r).map((r) => r!.eventId)]);
      const stateEvents = stateIds.map((id) => events.get(id)).filter((e): e is StoredEvent => !!e);
      const [timelineJson, stateJson] = await this.clientEvents(requester, page, stateEvents, limited, now, memberships);

      // Incremental with nothing to tell (e.g. a changed required_state that matches no state).
      if (!c.initial && !c.expanded && !page.length && !stateEvents.length && room.membershipStream <= prevStream) {
        newSent.set(room.roomId, this.sentRecord(c, prev!.stream, lazySent));
        continue;
      }
      const u = unread.get(room.roomId);
      const joined = room.membership === 'join';
      const result: JsonObject = {
        membership: room.membership,
        bump_stamp: room.bumpStamp,
        notification_count: u?.notification_count ?? 0,
        highlight_count: u?.highlight_count ?? 0,
        required_state: stateJson,
      };
      // Member counts and heroes are today's: only for rooms the user is still in (as Synapse).
      if (joined) {
        result.joined_count = s?.joined ?? 0;
        result.invited_count = s?.invited ?? 0;
      }
      if (config.timelineLimit > 0) {
        result.timeline = timelineJson;
        result.limited = limited;
        // MSC4186: events after the request's pos are live, whatever this room's history on the connection.
        result.num_live = since ? page.filter((e) => e.streamOrdering > since.events).length : 0;
        if (page.length) result.prev_batch = tokenBefore({ topo: page[0]!.topologicalOrdering, stream: page[0]!.streamOrdering });
      }
      if (c.initial) result.initial = true;
      if (c.expanded) {
        // The MSC's name and the one Synapse (and so Element X) uses.
        result.expanded_timeline = true;
        result.unstable_expanded_timeline = true;
      }
      if (room.isDm) result.is_dm = true;
      const name = nameRow ? events.get(nameRow.eventId)?.event.content.name : undefined;
      const avatar = avatarRow ? events.get(avatarRow.eventId)?.event.content.url : undefined;
      if (typeof name === 'string' && name) result.name = name;
      if (typeof avatar === 'string' && avatar) result.avatar = avatar;
      if (!result.name && joined && s?.heroes.length) {
        result.heroes = s.heroes.map((h) => {
          const ev = events.get(heroRows.find((x) => x.stateKey === h)?.eventId ?? '');
          const hero: JsonObject = { user_id: h };
          if (typeof ev?.event.content.displayname === 'string') hero.displayname = ev.event.content.displayname;
          if (typeof ev?.event.content.avatar_url === 'string') hero.avatar_url = ev.event.content.avatar_url;
          return hero;
        });
      }
      rooms[room.roomId] = result;
      const sentLazy = new Set(lazySent);
      for (const e of stateEvents) if (e.event.type === 'm.room.member' && e.event.state_key) sentLazy.add(e.event.state_key);
      newSent.set(room.roomId, this.sentRecord(c, upTo, sentLazy));
    }
  }

  /** Invites and knocks: stripped state only. */
  private async fillStrippedRooms(userId: string, cands: Candidate[], rooms: JsonObject, newSent: Map<string, RoomSent>): Promise<void> {
    const strippedOf = await strippedStateOf(
      this.storage,
      userId,
      cands.map((c) => ({ roomId: c.room.roomId, membership: c.room.membership, membershipEventId: c.room.membershipEventId })),
    );
    for (const c of cands) {
      const stripped = strippedOf.get(c.room.roomId)!;
      // `invite_state` is what Synapse sends and matrix-js-sdk and ruma read; `stripped_state` is the MSC's name.
      const result: JsonObject = { membership: c.room.membership, bump_stamp: c.room.bumpStamp, invite_state: stripped, stripped_state: stripped, initial: true };
      const nameEv = stripped.find((e) => e.type === 'm.room.name');
      if (nameEv && typeof (nameEv.content as JsonObject).name === 'string') result.name = (nameEv.content as JsonObject).name!;
      if (c.room.isDm) result.is_dm = true;
      rooms[c.room.roomId] = result;
      newSent.set(c.room.roomId, this.sentRecord(c, c.room.membershipStream, new Set()));
    }
  }

  private sentRecord(c: Candidate, stream: number, lazyMembers: Set<string>): RoomSent {
    return {
      stream,
      membership: c.room.membership,
      timelineLimit: c.config.timelineLimit,
      stateConfig: c.stateConfig,
      include: c.config.include,
      exclude: c.config.exclude,
      lazyMembers,
    };
  }

  /**
   * Client form (redactions applied, transaction_id for the sending device, aggregations on a gap),
   * without room_id; the reader's membership on timeline events only (required_state goes
   * without it, as in Synapse).
   */
  private async clientEvents(
    requester: Requester,
    timeline: StoredEvent[],
    state: StoredEvent[],
    limited: boolean,
    now: number,
    memberships: Map<string, string>,
  ): Promise<[JsonObject[], JsonObject[]]> {
    const client = await clientEventsOf(this.storage, [...timeline, ...state], now, requester, undefined, { memberships });
    if (this.aggregations && limited && timeline.length) {
      // As /sync: no edit bundled into a redacted event (RelationsService.attach).
      RelationsService.attach(client.slice(0, timeline.length), await this.aggregations.bundle(requester.userId, timeline));
    }
    for (const ev of client) delete ev.room_id;
    return [client.slice(0, timeline.length), client.slice(timeline.length).map(withoutMembership)];
  }
}

interface Candidate {
  room: ListedRoom;
  config: RoomConfig;
  stateConfig: string;
  prev?: RoomSent;
  initial: boolean;
  expanded: boolean;
  configChanged: boolean;
}
