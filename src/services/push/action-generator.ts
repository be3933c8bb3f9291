/**
 * Runs every local user's push rules over every new event of their rooms and stores what they
 * decided (spec: Client-Server API "Push Rules"), which is what unread counts in /sync and
 * GET /notifications read.
 *
 * When: right after the room's transaction commits (EventCreator.onPersisted), not inside it.
 * The room's writer is the bottleneck of a busy room; loading members and rulesets and
 * evaluating them for thousands of members inside its transaction would hold the per-room lock
 * for all that time. Counts are nonetheless exact at sync time: the listener runs synchronously
 * in the commit path, before the send request answers and before any woken /sync continues
 * (they resume on a later tick), and registers the room's work here at once — the work itself
 * starts on a later turn of the event loop, after the send has answered, so that a message into a
 * 10 000-member room is answered as fast as one into a small room. Readers of counts
 * await `settled(roomIds)` before querying. So a /sync right after the send response — or the
 * long-poll the event woke — waits for that room's actions, and never sees them half-written.
 * This barrier is per process: when several processes share a database (Redis notifier), the
 * computation must move into the room's transaction instead (a hook in RoomWriter.append), since
 * another process's /sync cannot await this one's work.
 *
 * Cost per event: one prepareEvent, one walk of each distinct template ruleset (members who share
 * customisations share one), then per local joined member only the rules that name them (no query
 * per member); one batched INSERT per batch. Members, display names and power levels of a room are
 * cached here and dropped whenever membership or power levels change.
 */
import type { PersistedEvent } from '../rooms/event-creator.js';
import type { RoomStateService } from '../rooms/room-state.js';
import type { PushRuleService } from '../push-rules.js';
import type { Notifier } from '../../streams/notifier.js';
import type { PushActionRow, PushActionStore } from '../../storage/push-actions.js';
import type { RoomEvent, StateMap } from '../../matrix/types.js';
import { stateKeyOf } from '../../matrix/types.js';
import type { RoomVersion } from '../../matrix/room-versions.js';
import { creatorsOf, levelOfUser, powerLevelsFromState, type PowerLevels } from '../../matrix/power-levels.js';
import { prepareEvent, type Ruleset } from '../../matrix/push-rules/index.js';
import { SharedEvaluation, type SharedContext } from '../../matrix/push-rules/shared-evaluation.js';
import { getLogger } from '../../logging.js';
import { KeyedQueue } from '../keyed-queue.js';

const log = getLogger('push-actions');

/** Rooms whose members are kept in memory; beyond this the oldest entry goes. */
const ROOM_CACHE_MAX = 2_000;

/** State types whose change invalidates a room's cached push context. */
const CONTEXT_STATE_TYPES = new Set(['m.room.member', 'm.room.power_levels', 'm.room.create']);

export const MAIN_THREAD = 'main';

/** Push-rule evaluations between two turns of the event loop. */
const EVALUATIONS_PER_TURN = 1000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** spec: "Threading": an event in a thread relates to its root with rel_type m.thread. */
export function threadIdOf(event: RoomEvent): string {
  const rel = (event.content as Record<string, unknown>)['m.relates_to'];
  if (rel && typeof rel === 'object' && !Array.isArray(rel)) {
    const { rel_type, event_id } = rel as Record<string, unknown>;
    if (rel_type === 'm.thread' && typeof event_id === 'string') return event_id;
  }
  return MAIN_THREAD;
}

interface RoomPushContext {
  /** Local joined members with their display names in this room. */
  localMembers: { userId: string; displayName: string | undefined }[];
  localMemberIds: Set<string>;
  /** All joined members, local or not (spec: room_member_count). */
  memberCount: number;
  joinedIds: Set<string>;
  levels: PowerLevels;
  /** v12: creators' power is infinite (spec: Room Version 12). */
  privilegedCreators: Set<string>;
}

export interface PushActionGeneratorDeps {
  store: PushActionStore;
  roomState: RoomStateService;
  pushRules: PushRuleService;
  notifier: Notifier;
  serverName: string;
}

export class PushActionGenerator {
  /** Per room, the tail of its work queue: batches of a room are evaluated in commit order. */
  private readonly queues = new KeyedQueue();
  private readonly contexts = new Map<string, RoomPushContext>();
  private readonly localSuffix: string;
  private readonly storedListeners: ((rows: PushActionRow[]) => void)[] = [];

  constructor(private readonly deps: PushActionGeneratorDeps) {
    this.localSuffix = ':' + deps.serverName;
    // Every event of this process reaches process() in commit order, which keeps the cached
    // contexts current. With several processes (Redis notices) another process's membership
    // changes must drop the room's context: that transport's handler does it.
  }

  /** The EventCreator.onPersisted listener. Synchronous on purpose: see the file comment. */
  readonly onPersisted = (batch: PersistedEvent[]): void => {
    if (!batch.length) return;
    const roomId = batch[0]!.event.room_id;
    this.queues
      .run(roomId, async () => {
        // On a later turn of the event loop: the request that stored the batch answers first.
        await nextTurn();
        await this.process(roomId, batch);
      })
      .catch((err: unknown) => {
        log.error('push rule evaluation failed', { room_id: roomId, error: (err as Error).message, stack: (err as Error).stack });
      });
  };

  /** Hears of every batch of stored notifications, after the insert (the push gateway sender). */
  onStored(listener: (rows: PushActionRow[]) => void): void {
    this.storedListeners.push(listener);
  }

  /** Resolves once every batch already committed in these rooms (all rooms when omitted) is evaluated and stored. */
  settled(roomIds?: Iterable<string>): Promise<void> {
    return this.queues.idle(roomIds);
  }

  private isLocal(userId: string): boolean {
    return userId.endsWith(this.localSuffix);
  }

  private async process(roomId: string, batch: PersistedEvent[]): Promise<void> {
    // The context is the room's current state after this batch (a batch changes membership only
    // in ways that do not matter here: joins are by the sender, who is never notified).
    this.updateContext(roomId, batch);
    const ctx = await this.context(roomId);
    const wanted = new Set(ctx.localMembers.map((m) => m.userId));
    for (const { event } of batch) {
      const invitee = this.invitee(event);
      if (invitee) wanted.add(invitee);
    }
    // Members with the same customisations share a template ruleset: each event is evaluated once
    // per distinct template and finished per member (matrix/push-rules/shared-evaluation.ts).
    const templates = await this.deps.pushRules.templatesOf([...wanted]);

    const rows: PushActionRow[] = [];
    for (const { event, streamOrdering } of batch) {
      const prepared = prepareEvent(event);
      const threadId = threadIdOf(event);
      const shared: SharedContext = {
        roomMemberCount: ctx.memberCount,
        senderPowerLevel: ctx.privilegedCreators.has(event.sender) ? Infinity : levelOfUser(ctx.levels, event.sender),
        notificationPowerLevels: ctx.levels.notifications,
      };
      const evaluations = new Map<Ruleset, SharedEvaluation>();
      const evaluateFor = (userId: string, displayName: string | undefined) => {
        // spec: "Homeservers MUST NOT notify the Push Gateway for events that the user has sent themselves."
        if (userId === event.sender) return;
        const template = templates.get(userId)!;
        let evaluation = evaluations.get(template);
        if (!evaluation) evaluations.set(template, (evaluation = new SharedEvaluation(template, prepared, shared)));
        const result = evaluation.resultFor(userId, displayName);
        if (!result.notify) return;
        rows.push({ roomId, eventId: event.event_id, userId, streamOrdering, threadId, actions: result.actions, notif: true, highlight: result.highlight });
      };
      // A big room's members are evaluated a slice at a time, so other requests are served in
      // between (10 000 members take tens of milliseconds).
      const members = ctx.localMembers.length > EVALUATIONS_PER_TURN ? ctx.localMembers.slice() : ctx.localMembers;
      for (let i = 0; i < members.length; i++) {
        if (i > 0 && i % EVALUATIONS_PER_TURN === 0) await nextTurn();
        evaluateFor(members[i]!.userId, members[i]!.displayName);
      }
      // An invitee is not joined yet but is told of the invite (spec default rule .m.rule.invite_for_me).
      const invitee = this.invitee(event);
      if (invitee && !ctx.localMemberIds.has(invitee)) {
        const name = (event.content as Record<string, unknown>).displayname;
        evaluateFor(invitee, typeof name === 'string' ? name : undefined);
      }
    }
    await this.deps.store.insert(rows);
    if (rows.length) for (const l of this.storedListeners) l(rows);
  }

  /**
   * Keeps a cached context current through a batch: member events edit the member list in place
   * (a join into a 10 000-member room must not reload every member); power-level or create
   * changes drop it.
   */
  private updateContext(roomId: string, batch: PersistedEvent[]): void {
    const ctx = this.contexts.get(roomId);
    if (!ctx) return;
    for (const { event } of batch) {
      if (event.state_key === undefined || !CONTEXT_STATE_TYPES.has(event.type)) continue;
      if (event.type !== 'm.room.member') {
        this.contexts.delete(roomId);
        return;
      }
      const userId = event.state_key;
      const joined = event.content.membership === 'join';
      const wasJoined = ctx.joinedIds.has(userId);
      if (joined && !wasJoined) ctx.memberCount++;
      if (!joined && wasJoined) ctx.memberCount--;
      if (joined) ctx.joinedIds.add(userId);
      else ctx.joinedIds.delete(userId);
      if (!this.isLocal(userId)) continue;
      const i = ctx.localMembers.findIndex((m) => m.userId === userId);
      if (i >= 0) ctx.localMembers.splice(i, 1);
      if (joined) {
        const name = typeof event.content.displayname === 'string' ? event.content.displayname : undefined;
        ctx.localMembers.push({ userId, displayName: name });
        ctx.localMemberIds.add(userId);
      } else {
        ctx.localMemberIds.delete(userId);
      }
    }
  }

  private async context(roomId: string): Promise<RoomPushContext> {
    const cached = this.contexts.get(roomId);
    if (cached) return cached;
    const { roomState, store, serverName } = this.deps;
    const [version, members, state] = await Promise.all([
      roomState.roomVersion(roomId),
      store.joinedMembers(roomId, serverName),
      roomState.currentState(roomId, [stateKeyOf('m.room.create', ''), stateKeyOf('m.room.power_levels', '')]),
    ]);
    const ctx = buildContext(members, state, version, (u) => this.isLocal(u));
    if (this.contexts.size >= ROOM_CACHE_MAX) this.contexts.delete(this.contexts.keys().next().value!);
    this.contexts.set(roomId, ctx);
    return ctx;
  }

  /** The local user an invite event invites, if it is one. */
  private invitee(event: RoomEvent): string | undefined {
    if (event.type !== 'm.room.member' || event.state_key === undefined) return undefined;
    if ((event.content as Record<string, unknown>).membership !== 'invite') return undefined;
    return this.isLocal(event.state_key) ? event.state_key : undefined;
  }
}

function buildContext(
  members: { userId: string; displayName: string | undefined }[],
  state: StateMap,
  version: RoomVersion,
  isLocal: (userId: string) => boolean,
): RoomPushContext {
  const localMembers = members.filter((m) => isLocal(m.userId));
  return {
    localMembers,
    localMemberIds: new Set(localMembers.map((m) => m.userId)),
    memberCount: members.length,
    joinedIds: new Set(members.map((m) => m.userId)),
    levels: powerLevelsFromState(state, version),
    privilegedCreators: new Set(version.privilegedCreators ? creatorsOf(state, version) : []),
  };
}
