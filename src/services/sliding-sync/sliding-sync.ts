/**
 * Simplified sliding sync (MSC4186), what Element X speaks: lists of the user's rooms sorted by
 * activity with ranges and filters, room subscriptions, per-connection memory of what was sent,
 * and extensions (to_device, e2ee, account_data, receipts, typing) served by the same stream
 * providers as /sync.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { Notifier } from '../../streams/notifier.js';
import { formatSyncToken, parseSyncToken, type SyncPositions } from '../../streams/sync-token.js';
import { MatrixError } from '../../errors.js';
import type { JsonObject } from '../../matrix/types.js';
import type { Requester } from '../auth.js';
import { toClientEvent, toStrippedState } from '../rooms/client-events.js';
import type { SyncService } from '../sync/sync-service.js';
import { emptyResponse } from '../sync/sync-service.js';
import { parseSyncFilter } from '../sync/filter.js';
import type { SyncContext } from '../sync/types.js';
import type { UnreadCounts } from '../sync/unread.js';
import { tokenBefore } from '../rooms/pagination-token.js';
import { combineConfigs, matchesRule, type RoomConfig, type SlidingSyncRequest } from './request.js';
import { LongPoll } from '../sync/long-poll.js';
import { ConnectionStore, type ConnectionState, type RoomSent } from './connections.js';
import { loadRoomList, passesFilter, spaceChildren, type ListedRoom } from './room-list.js';
import { translateExtensions } from './extensions.js';

const MAX_TIMEOUT_MS = 120_000;
const STRIPPED_TYPES = ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.avatar', 'm.room.canonical_alias', 'm.room.encryption', 'm.room.topic'];

export class SlidingSyncService {
  private readonly connections = new ConnectionStore();
  unread?: UnreadCounts;

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
    await this.sync.runHooks(requester, { since: since ? formatSyncToken(since) : undefined, setPresence: req.setPresence, timeout: req.timeout });
    const deadline = this.now() + Math.min(req.timeout, MAX_TIMEOUT_MS);

    const poll = new LongPoll(this.notifier, undefined, (stream) => this.sync.generator(stream), this.now);
    try {
      for (;;) {
        const to = this.sync.currentPositions();
        if (since) for (const k of Object.keys(since) as (keyof SyncPositions)[]) since[k] = Math.min(since[k], to[k]);
        // Until this computation knows the user's rooms, any notice counts as news.
        let interest: SyncContext | undefined;
        poll.reset((n) => !interest || this.sync.wakes(n, interest));
        const { response, rooms, ctx } = await this.compute(requester, req, base, since, to);
        interest = ctx;
        const hasNews = Object.keys(response.rooms as JsonObject).length > 0 || Object.keys(response.extensions as JsonObject).length > 0;
        if (!since || hasNews || this.now() >= deadline || !(await poll.wait(deadline))) {
          const seq = this.connections.commit(key, base, rooms);
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
  ): Promise<{ response: JsonObject; rooms: Map<string, RoomSent>; ctx: SyncContext }> {
    const userId = requester.userId;
    const sentRooms = new Map(base?.rooms ?? []);
    const list = await loadRoomList(this.storage, userId, to.events, new Set(sentRooms.keys()));
    const byId = new Map(list.map((r) => [r.roomId, r]));

    // Lists: filter, count, range.
    const lists: JsonObject = {};
    const configs = new Map<string, RoomConfig[]>();
    const roomLists = new Map<string, string[]>();
    for (const [name, cfg] of req.lists) {
      const children = cfg.filters.spaces ? await spaceChildren(this.storage, userId, cfg.filters.spaces) : undefined;
      const filtered = list.filter((r) => passesFilter(r, cfg.filters, children));
      const ranges = cfg.ranges ?? [[0, Math.max(0, filtered.length - 1)]];
      const ops: JsonObject[] = [];
      for (const [start, end] of ranges) {
        const slice = filtered.slice(start, end + 1);
        ops.push({ op: 'SYNC', range: [start, end], room_ids: slice.map((r) => r.roomId) });
        for (const r of slice) {
          (configs.get(r.roomId) ?? configs.set(r.roomId, []).get(r.roomId)!).push(cfg);
          const names = roomLists.get(r.roomId) ?? [];
          if (!names.includes(name)) names.push(name);
          roomLists.set(r.roomId, names);
        }
      }
      lists[name] = { count: filtered.length, ops };
    }
    for (const [roomId, cfg] of req.subscriptions) {
      const room = byId.get(roomId);
      if (!room || room.membership === 'leave') continue; // only rooms the user may see
      (configs.get(roomId) ?? configs.set(roomId, []).get(roomId)!).push(cfg);
    }

    // Rooms that need sending: new to the connection, changed since, or with an expanded config.
    const toSend: { room: ListedRoom; config: RoomConfig; prev?: RoomSent; initial: boolean; expanded: boolean }[] = [];
    for (const [roomId, cfgs] of configs) {
      const room = byId.get(roomId)!;
      const config = combineConfigs(cfgs);
      const prev = sentRooms.get(roomId);
      const stateConfig = JSON.stringify([config.include, config.exclude, config.lazyMembers]);
      const expanded = !!prev && config.timelineLimit > prev.timelineLimit;
      const initial = !prev || prev.stateConfig !== stateConfig;
      const changed = !prev || room.activity > prev.stream || room.membershipStream > prev.stream;
      if (initial || expanded || changed) toSend.push({ room, config, prev, initial, expanded });
    }

    const rooms: JsonObject = {};
    const joinedish = toSend.filter((t) => t.room.membership === 'join' || t.room.membership === 'leave' || t.room.membership === 'ban');
    const timelines = await this.storage.timeline.latestEvents(
      joinedish.map((t) => ({
        roomId: t.room.roomId,
        since: t.initial || t.expanded ? 0 : t.prev!.stream,
        upTo: t.room.membership === 'join' ? to.events : Math.min(t.room.membershipStream, to.events),
      })),
      Math.max(1, ...joinedish.map((t) => t.config.timelineLimit)) + 1,
    );
    const stateRows = await this.storage.timeline.currentStateOf(joinedish.map((t) => t.room.roomId));
    const summaries = await this.storage.timeline.summaries(joinedish.map((t) => t.room.roomId), userId);
    const unread = this.unread ? await this.unread.counts(userId, joinedish.map((t) => t.room.roomId)) : new Map();
    // Room names and avatars for every room sent, in one batch.
    const nameRows = stateRows.filter((r) => r.stateKey === '' && (r.type === 'm.room.name' || r.type === 'm.room.avatar'));
    const nameEvents = await this.storage.events.getEvents(nameRows.map((r) => r.eventId));
    const contentOf = (roomId: string, type: string): JsonObject | undefined => {
      const row = nameRows.find((r) => r.roomId === roomId && r.type === type);
      return row ? nameEvents.get(row.eventId)?.event.content : undefined;
    };
    const now = this.now();
    const newSent = new Map(sentRooms);

    for (const t of joinedish) {
      const { room, config } = t;
      const all = (timelines.get(room.roomId) ?? []).slice(0, config.timelineLimit + 1);
      const page = all.slice(0, config.timelineLimit).reverse();
      const liveSince = t.prev?.stream ?? since?.events;
      const lazySent = new Set(t.initial ? [] : t.prev?.lazyMembers ?? []);
      const rows = stateRows.filter((r) => r.roomId === room.roomId);
      const lazyWanted = new Set<string>();
      if (config.lazyMembers) {
        for (const e of page) {
          lazyWanted.add(e.event.sender);
          if (e.event.type === 'm.room.member' && e.event.state_key) lazyWanted.add(e.event.state_key);
        }
      }
      const stateIds = rows
        .filter((r) => {
          const byRule = config.include.some((rule) => matchesRule(rule, r.type, r.stateKey, userId)) && !config.exclude.some((rule) => matchesRule(rule, r.type, r.stateKey, userId));
          const byLazy = r.type === 'm.room.member' && lazyWanted.has(r.stateKey) && !lazySent.has(r.stateKey);
          if (!byRule && !byLazy) return false;
          // Incremental: only state that changed since the room was last sent (or newly lazy).
          return t.initial || byLazy || r.stream > (t.prev?.stream ?? 0);
        })
        .map((r) => r.eventId);
      const stateEvents = await this.storage.events.getEvents(stateIds);
      const name = contentOf(room.roomId, 'm.room.name');
      const avatar = contentOf(room.roomId, 'm.room.avatar');
      const s = summaries.get(room.roomId);
      const u = unread.get(room.roomId);
      const result: JsonObject = {
        membership: room.membership,
        bump_stamp: room.activity,
        joined_count: s?.joined ?? 0,
        invited_count: s?.invited ?? 0,
        notification_count: u?.notification_count ?? 0,
        highlight_count: u?.highlight_count ?? 0,
        timeline: page.map((e) => this.clientEvent(e, now)),
        required_state: stateIds.map((id) => stateEvents.get(id)).filter((e): e is StoredEvent => !!e).map((e) => this.clientEvent(e, now)),
        limited: all.length > config.timelineLimit,
        num_live: liveSince === undefined ? 0 : page.filter((e) => e.streamOrdering > liveSince).length,
      };
      if (page.length) result.prev_batch = tokenBefore({ topo: page[0]!.topologicalOrdering, stream: page[0]!.streamOrdering });
      if (t.initial) result.initial = true;
      if (t.expanded) result.expanded_timeline = true;
      if (roomLists.has(room.roomId)) result.lists = roomLists.get(room.roomId)!;
      if (room.isDm) result.is_dm = true;
      if (typeof name?.name === 'string' && name.name) result.name = name.name;
      if (typeof avatar?.url === 'string' && avatar.url) result.avatar = avatar.url;
      if (!result.name && s) {
        const heroes = rows.filter((r) => r.type === 'm.room.member' && s.heroes.includes(r.stateKey));
        const heroEvents = await this.storage.events.getEvents(heroes.map((h) => h.eventId));
        result.heroes = s.heroes.map((h) => {
          const ev = heroEvents.get(heroes.find((x) => x.stateKey === h)?.eventId ?? '');
          const hero: JsonObject = { user_id: h };
          if (typeof ev?.event.content.displayname === 'string') hero.displayname = ev.event.content.displayname;
          if (typeof ev?.event.content.avatar_url === 'string') hero.avatar_url = ev.event.content.avatar_url;
          return hero;
        });
      }
      rooms[room.roomId] = result;
      const sentLazy = new Set(lazySent);
      for (const id of stateIds) {
        const e = stateEvents.get(id);
        if (e?.event.type === 'm.room.member' && e.event.state_key) sentLazy.add(e.event.state_key);
      }
      newSent.set(room.roomId, {
        stream: room.membership === 'join' ? to.events : room.membershipStream,
        timelineLimit: config.timelineLimit,
        stateConfig: JSON.stringify([config.include, config.exclude, config.lazyMembers]),
        lazyMembers: sentLazy,
      });
    }

    // Invites and knocks: stripped state only.
    const strippedRooms = toSend.filter((t) => t.room.membership === 'invite' || t.room.membership === 'knock');
    if (strippedRooms.length) {
      const rows = await this.storage.timeline.currentStateOf(strippedRooms.map((t) => t.room.roomId));
      const ids = rows.filter((r) => STRIPPED_TYPES.includes(r.type) && r.stateKey === '').map((r) => r.eventId);
      const events = await this.storage.events.getEvents([...ids, ...strippedRooms.map((t) => t.room.membershipEventId)]);
      for (const t of strippedRooms) {
        const stripped = rows
          .filter((r) => r.roomId === t.room.roomId && STRIPPED_TYPES.includes(r.type) && r.stateKey === '')
          .map((r) => events.get(r.eventId))
          .filter((e): e is StoredEvent => !!e)
          .map((e) => toStrippedState(e.event));
        const own = events.get(t.room.membershipEventId);
        if (own) stripped.push(toStrippedState(own.event));
        const result: JsonObject = { membership: t.room.membership, bump_stamp: t.room.activity, stripped_state: stripped, invite_state: stripped, initial: true };
        if (roomLists.has(t.room.roomId)) result.lists = roomLists.get(t.room.roomId)!;
        const nameEv = stripped.find((e) => e.type === 'm.room.name');
        if (nameEv && typeof (nameEv.content as JsonObject).name === 'string') result.name = (nameEv.content as JsonObject).name!;
        rooms[t.room.roomId] = result;
        newSent.set(t.room.roomId, { stream: t.room.membershipStream, timelineLimit: t.config.timelineLimit, stateConfig: '', lazyMembers: new Set() });
      }
    }

    // Extensions, from the /sync stream providers.
    const joined = list.filter((r) => r.membership === 'join').map((r) => r.roomId);
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
      interestingRooms: new Set(list.filter((r) => r.membership !== 'leave' && r.membership !== 'ban').map((r) => r.roomId)),
    };
    const extensions = await translateExtensions(this.sync, ctx, req, new Set([...configs.keys()]), roomLists);
    return { response: { pos: '', lists, rooms, extensions }, rooms: newSent, ctx };
  }

  private clientEvent(e: StoredEvent, now: number): JsonObject {
    return toClientEvent(e, { now, omitRoomId: true });
  }
}

