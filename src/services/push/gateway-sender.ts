/**
 * The push gateway sender: hands each new notification of a user to every HTTP pusher of that
 * user, as POST {data.url} with the Push Gateway API body (spec: Push Gateway API
 * "POST /_matrix/push/v1/notify"; Client-Server API "Push Notifications", "HTTP pushers").
 *
 * Per pusher one loop reads the user's notifications after the pusher's last_stream_ordering
 * (event_push_actions, as the push rules decided them), oldest first, and posts them one at a
 * time; after each success the position is stored, so a restart resumes where it stopped
 * (at-least-once: a notification in flight at a crash is sent again; the gateway de-duplicates
 * by event_id, as the spec asks of it). Only positions every earlier writer has committed — and
 * whose push actions are stored — are read, so a notification of a slower room is never skipped.
 *
 * Failures: a network error, a timeout, 5xx, 408 or 429 are retried with exponential backoff
 * (1 s doubling to at most 1 h); a notification that keeps failing for a day is given up, as
 * Synapse does, so a gateway fixed later does not receive a flood of stale alerts. Any other 4xx
 * drops that one notification. A 2xx answer naming our pushkey in `rejected` removes the pusher
 * (spec: "Homeservers must cease sending notification requests for these pushkeys and remove
 * the associated pushers").
 *
 * Badge counts: when a read receipt changes a user's unread count, each pusher gets a
 * notification with counts only (spec: "update the number of unread notifications"), without
 * retries, as Synapse does.
 *
 * Runs in one process: with several processes (Redis notifier) only one of them should send.
 */
import type { Storage } from '../../storage/index.js';
import type { PendingNotification, PusherRow, PusherStore } from '../../storage/pushers.js';
import type { RoomStateService } from '../rooms/room-state.js';
import type { UnreadCountService } from './unread-counts.js';
import type { PushActionGenerator } from './action-generator.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { Notifier } from '../../streams/notifier.js';
import type { JsonObject, RoomEvent } from '../../matrix/types.js';
import { stateKeyOf } from '../../matrix/types.js';
import { getLogger } from '../../logging.js';
import { postToGateway, tweaksOf, type PostResult } from './gateway-client.js';

const log = getLogger('push-gateway');

export interface GatewaySenderOptions {
  /** First retry delay after a failure; doubles on each further failure. */
  initialBackoffMs: number;
  /** The longest delay between two attempts. */
  maxBackoffMs: number;
  /** A notification failing for this long is skipped. */
  giveUpAfterMs: number;
  /** One request to a gateway may take this long. */
  requestTimeoutMs: number;
  /** Notifications read per query. */
  batchSize: number;
}

export const DEFAULT_GATEWAY_SENDER_OPTIONS: GatewaySenderOptions = {
  initialBackoffMs: 1_000,
  maxBackoffMs: 60 * 60_000,
  giveUpAfterMs: 24 * 60 * 60_000,
  requestTimeoutMs: 30_000,
  batchSize: 20,
};

export interface GatewaySenderDeps {
  store: PusherStore;
  storage: Storage;
  roomState: RoomStateService;
  unread: UnreadCountService;
  generator: PushActionGenerator;
  /** The events stream: the sender reads only positions already visible. */
  positions: StreamIdGenerator;
  notifier: Notifier;
  now?: () => number;
  options?: Partial<GatewaySenderOptions>;
}

type Outcome = 'sent' | 'skip' | 'retry' | 'removed';

interface PusherState {
  row: PusherRow;
  /** Position of the last notification sent or skipped. */
  last: number;
  backoffMs: number;
  failingSince: number | null;
  running?: Promise<void>;
  /** New notifications arrived while the loop ran. */
  again: boolean;
  timer?: NodeJS.Timeout;
  removed: boolean;
  /** The badge the gateway last heard of, so receipts that change nothing send nothing. */
  lastBadge?: number;
}

const keyOf = (p: Pick<PusherRow, 'userId' | 'appId' | 'pushkey'>) => `${p.userId}\u0000${p.appId}\u0000${p.pushkey}`;

export class GatewaySender {
  /** Mutable so a test can shorten the backoff of a running server. */
  readonly options: GatewaySenderOptions;
  private readonly byUser = new Map<string, Map<string, PusherState>>();
  private readonly requests = new Set<AbortController>();
  private readonly running = new Set<Promise<void>>();
  private readonly badgeDue = new Set<string>();
  private badgeTimer?: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly deps: GatewaySenderDeps) {
    this.options = { ...DEFAULT_GATEWAY_SENDER_OPTIONS, ...deps.options };
    this.now = deps.now ?? Date.now;
    this.unsubscribe = deps.notifier.subscribe((n) => {
      if (n.stream !== 'receipts') return;
      for (const u of n.userIds ?? []) if (this.byUser.has(u)) this.badgeDue.add(u);
      // Coalesces a burst of receipts into one count per user.
      if (this.badgeDue.size && !this.badgeTimer && !this.closed) {
        this.badgeTimer = setTimeout(() => this.sendBadges(), 0).unref();
      }
    });
  }

  /** Loads every pusher and resumes each where it stopped. */
  async start(): Promise<void> {
    for (const row of await this.deps.store.listAll()) this.add(row);
  }

  /** A pusher was created or replaced: (re)start its loop from its stored position. */
  add(row: PusherRow): void {
    if (this.closed || row.kind !== 'http') return;
    this.remove(row);
    const state: PusherState = {
      row,
      last: row.lastStreamOrdering ?? this.deps.positions.current(),
      backoffMs: this.options.initialBackoffMs,
      failingSince: row.failingSince,
      again: false,
      removed: false,
    };
    let pushers = this.byUser.get(row.userId);
    if (!pushers) this.byUser.set(row.userId, (pushers = new Map()));
    pushers.set(keyOf(row), state);
    this.poke(state);
  }

  /** A pusher was deleted: stop its loop and any retry. */
  remove(row: Pick<PusherRow, 'userId' | 'appId' | 'pushkey'>): void {
    const pushers = this.byUser.get(row.userId);
    const state = pushers?.get(keyOf(row));
    if (!state) return;
    state.removed = true;
    clearTimeout(state.timer);
    state.timer = undefined;
    pushers!.delete(keyOf(row));
    if (!pushers!.size) this.byUser.delete(row.userId);
  }

  /** The PushActionGenerator listener: these users have new notifications. */
  readonly onNotifications = (rows: { userId: string }[]): void => {
    const users = new Set(rows.map((r) => r.userId));
    for (const u of users) for (const state of this.byUser.get(u)?.values() ?? []) this.poke(state);
  };

  /** Stops every loop, retry timer and request in flight. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    clearTimeout(this.badgeTimer);
    for (const pushers of this.byUser.values()) for (const s of pushers.values()) clearTimeout(s.timer);
    for (const ac of this.requests) ac.abort();
    await Promise.allSettled([...this.running]);
    this.byUser.clear();
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  private poke(state: PusherState): void {
    // A pusher waiting out its backoff is retried by its timer, not by new notifications.
    if (this.closed || state.removed || state.timer) return;
    if (state.running) {
      state.again = true;
      return;
    }
    const run = this.drain(state)
      .catch((err: unknown) => {
        log.error('push loop failed', { user_id: state.row.userId, app_id: state.row.appId, error: (err as Error).message });
        // A database hiccup must not stall the pusher until its next notification.
        if (!this.closed && !state.removed) this.scheduleRetry(state);
      })
      .finally(() => {
        state.running = undefined;
        if (state.again) this.poke(state);
      });
    state.running = run;
    this.track(run);
  }

  private async drain(state: PusherState): Promise<void> {
    const { store, generator, positions } = this.deps;
    for (;;) {
      state.again = false;
      // Positions up to `upTo` are committed and their push actions announced; settled() waits
      // until those are stored, so reading up to it never passes over a late room.
      const upTo = positions.current();
      await generator.settled();
      if (this.closed || state.removed) return;
      const batch = await store.pendingNotifications(state.row.userId, state.last, upTo, this.options.batchSize);
      for (const n of batch) {
        if (this.closed || state.removed) return;
        const outcome = await this.dispatch(state, n);
        if (outcome === 'removed' || this.closed || state.removed) return;
        if (outcome === 'retry') {
          this.scheduleRetry(state);
          return;
        }
        state.last = n.streamOrdering;
        state.failingSince = null;
        state.backoffMs = this.options.initialBackoffMs;
        if (!(await store.setProgress(state.row, state.last, null))) {
          // Deleted meanwhile (by the user, or with its device).
          this.remove(state.row);
          return;
        }
      }
      if (batch.length < this.options.batchSize) return;
    }
  }

  private scheduleRetry(state: PusherState): void {
    const delay = state.backoffMs;
    state.backoffMs = Math.min(delay * 2, this.options.maxBackoffMs);
    log.info('push failed: retrying later', { user_id: state.row.userId, app_id: state.row.appId, delay_ms: delay });
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.poke(state);
    }, delay);
    state.timer.unref();
  }

  private async dispatch(state: PusherState, n: PendingNotification): Promise<Outcome> {
    const { storage } = this.deps;
    const stored = await storage.events.getEvent(n.eventId);
    if (!stored) return 'skip';
    // A message deleted before it could be pushed is not announced.
    if ((await storage.events.redactionsOf([n.eventId])).has(n.eventId)) return 'skip';
    const badge = await this.badge(state.row.userId);
    const body = await this.notificationBody(state, stored.event, n, badge);
    const result = await this.post(state.row, body);
    if (result.kind === 'ok') {
      state.lastBadge = badge;
      return (await this.handleRejected(state, result.rejected)) ? 'removed' : 'sent';
    }
    if (result.kind === 'fail') {
      log.warn('push gateway refused a notification; skipping it', { user_id: state.row.userId, app_id: state.row.appId, event_id: n.eventId, reason: result.reason });
      return 'skip';
    }
    const now = this.now();
    if (state.failingSince === null) {
      state.failingSince = now;
      await this.deps.store.setFailingSince(state.row, now);
    } else if (now - state.failingSince > this.options.giveUpAfterMs) {
      log.warn('giving up on a notification', { user_id: state.row.userId, app_id: state.row.appId, event_id: n.eventId, reason: result.reason });
      return 'skip';
    }
    log.debug('push attempt failed', { user_id: state.row.userId, app_id: state.row.appId, reason: result.reason });
    return 'retry';
  }

  /** True when the gateway rejected this pusher's pushkey, which is then removed. */
  private async handleRejected(state: PusherState, rejected: string[]): Promise<boolean> {
    // Only our own pushkey: the gateway has no say over other pushers.
    if (!rejected.includes(state.row.pushkey)) return false;
    log.info('push gateway rejected a pushkey: removing the pusher', { user_id: state.row.userId, app_id: state.row.appId });
    this.remove(state.row);
    await this.deps.store.delete(state.row.userId, state.row.appId, state.row.pushkey);
    return true;
  }

  /** spec (Push Gateway API): the `devices` entry of one pusher; `data` is the pusher's data minus `url`. */
  private device(row: PusherRow, tweaks: JsonObject): JsonObject {
    const { url: _url, ...data } = row.data;
    return { app_id: row.appId, pushkey: row.pushkey, pushkey_ts: Math.floor(row.createdTs / 1000), data, tweaks };
  }

  private async notificationBody(state: PusherState, event: RoomEvent, n: PendingNotification, badge: number): Promise<JsonObject> {
    const tweaks = tweaksOf(n.actions);
    // Low priority lets gateways batch what is not time-sensitive. High: mentions and keywords
    // (highlight), rules that ring (sound: one-to-one rooms, invites, calls), and encrypted events
    // whose content the server cannot judge (as Synapse).
    const prio = n.highlight || tweaks.sound !== undefined || event.type === 'm.room.encrypted' ? 'high' : 'low';
    const notification: JsonObject = { event_id: event.event_id, room_id: event.room_id, prio };
    // spec: "Counts whose value is zero should be omitted."
    if (badge > 0) notification.counts = { unread: badge };
    notification.devices = [this.device(state.row, tweaks)];
    // spec (PusherData.format): event_id_only carries no event details.
    if (state.row.data.format === 'event_id_only') return { notification };

    notification.type = event.type;
    notification.sender = event.sender;
    const state_ = await this.deps.roomState.currentState(event.room_id, [
      stateKeyOf('m.room.name', ''),
      stateKeyOf('m.room.canonical_alias', ''),
      stateKeyOf('m.room.member', event.sender),
    ]);
    const name = state_.get(stateKeyOf('m.room.name', ''))?.content.name;
    const alias = state_.get(stateKeyOf('m.room.canonical_alias', ''))?.content.alias;
    const displayName = state_.get(stateKeyOf('m.room.member', event.sender))?.content.displayname;
    if (typeof displayName === 'string' && displayName) notification.sender_display_name = displayName;
    if (typeof name === 'string' && name) notification.room_name = name;
    else if (typeof alias === 'string' && alias) notification.room_name = alias;
    if (typeof alias === 'string' && alias) notification.room_alias = alias;
    if (event.type === 'm.room.member' && event.state_key !== undefined) {
      notification.membership = (event.content as JsonObject).membership ?? null;
      notification.user_is_target = event.state_key === state.row.userId;
    }
    if (event.content && Object.keys(event.content).length) notification.content = event.content as JsonObject;
    return { notification };
  }

  /**
   * The badge: how many rooms have unread notifications (Synapse's default,
   * push.group_unread_count_by_room), which phones show on the app icon.
   */
  private async badge(userId: string): Promise<number> {
    const rooms = await this.deps.store.joinedRooms(userId);
    const counts = await this.deps.unread.counts(userId, rooms);
    let badge = 0;
    for (const c of counts.values()) if (c.notification_count > 0) badge++;
    return badge;
  }

  private sendBadges(): void {
    this.badgeTimer = undefined;
    const users = [...this.badgeDue];
    this.badgeDue.clear();
    for (const userId of users) {
      const run = this.sendBadge(userId).catch((err: unknown) => {
        log.warn('badge update failed', { user_id: userId, error: (err as Error).message });
      });
      this.track(run);
    }
  }

  private async sendBadge(userId: string): Promise<void> {
    if (this.closed || !this.byUser.has(userId)) return;
    const badge = await this.badge(userId);
    for (const state of [...(this.byUser.get(userId)?.values() ?? [])]) {
      if (this.closed || state.removed || state.lastBadge === badge) continue;
      // spec: counts may be sent by themselves; zero is sent here, as it is what clears a badge.
      const result = await this.post(state.row, { notification: { prio: 'high', counts: { unread: badge }, devices: [this.device(state.row, {})] } });
      if (result.kind !== 'ok') continue;
      state.lastBadge = badge;
      await this.handleRejected(state, result.rejected);
    }
  }

  private post(row: PusherRow, body: JsonObject): Promise<PostResult> {
    return postToGateway(row.data.url, body, this.options.requestTimeoutMs, this.requests);
  }
}
