/**
 * Presence (spec: Client-Server API §11.x "Presence"): the corporate "status" / "out of office".
 * A user's state, status message and last activity, with Synapse's timeouts: online without
 * activity for 5 minutes becomes unavailable; no /sync for 30 s (after the long-poll in progress
 * ends) becomes offline. `presence.enabled: false` turns it off as in Synapse; `untracked` keeps
 * the API but lets neither /sync nor timeouts change anyone's presence.
 */
import type { Storage } from '../storage/index.js';
import type { PresenceRow, PresenceStateName, PresenceStore } from '../storage/presence.js';
import type { StreamIdGenerator } from '../streams/id-generator.js';
import type { Notifier, StreamNotice } from '../streams/notifier.js';
import type { JsonObject } from '../matrix/types.js';
import type { Requester } from './auth.js';
import type { SyncParams } from './sync/sync-service.js';
import { MAX_TIMEOUT_MS } from './sync/sync-service.js';
import { MatrixError, forbidden, notFound } from '../errors.js';
import { isValidUserId, serverNameOf } from '../matrix/ids.js';
import { getLogger } from '../logging.js';
import { KeyedQueue } from './keyed-queue.js';

const log = getLogger('presence');

/** Synapse's timers (synapse/handlers/presence.py). */
export const IDLE_TIMER_MS = 5 * 60_000;
export const SYNC_ONLINE_TIMEOUT_MS = 30_000;
export const LAST_ACTIVE_GRANULARITY_MS = 60_000;
/** A /sync with set_presence=online refreshes last_active_ts at most this often (not one write per sync). */
export const LAST_ACTIVE_REFRESH_MS = 20_000;
export const SWEEP_INTERVAL_MS = 5_000;
const ASSUMED_LONG_POLL_MS = 30_000;

export type PresenceMode = 'enabled' | 'disabled' | 'untracked';
const SYNC_PRESENCE = new Set(['online', 'offline', 'unavailable']);

/** A user's presence as the service keeps it: the stored row. */
export type PresenceState = PresenceRow;

function offlineState(userId: string): PresenceState {
  return { userId, state: 'offline', statusMsg: null, lastActiveTs: 0, currentlyActive: false, streamId: 0 };
}

/** Whether a change is news for peers (Synapse's should_notify; last_active_ts alone is not). */
function isNews(prev: PresenceState, next: PresenceState): boolean {
  return prev.state !== next.state || prev.statusMsg !== next.statusMsg || prev.currentlyActive !== next.currentlyActive;
}

/**
 * The state a timeout turns `s` into at `now`, or undefined (pure: Synapse's handle_timeout for a
 * local user). `lastSyncTs` is when the user was last seen syncing (the end of the long-poll then
 * in progress).
 */
export function timedOut(s: PresenceState, lastSyncTs: number, now: number): PresenceState | undefined {
  if (s.state === 'offline') return undefined;
  // A user who did something recently but has not synced stays as they are.
  if (now - Math.max(lastSyncTs, s.lastActiveTs) > SYNC_ONLINE_TIMEOUT_MS) {
    return { ...s, state: 'offline', currentlyActive: false };
  }
  if (s.state === 'online' && now - s.lastActiveTs > IDLE_TIMER_MS) return { ...s, state: 'unavailable', currentlyActive: false };
  if (s.currentlyActive && now - s.lastActiveTs > LAST_ACTIVE_GRANULARITY_MS) return { ...s, currentlyActive: false };
  return undefined;
}

/** The content of m.presence and of GET /presence/{userId}/status (Synapse's format_user_presence_state). */
export function presenceContent(s: PresenceState, now: number): JsonObject {
  const content: JsonObject = { presence: s.state };
  if (s.lastActiveTs) content.last_active_ago = Math.max(0, now - s.lastActiveTs);
  if (s.statusMsg) content.status_msg = s.statusMsg;
  if (s.state === 'online') content.currently_active = s.currentlyActive;
  return content;
}

export interface PresenceDeps {
  storage: Storage;
  store: PresenceStore;
  positions: StreamIdGenerator;
  notifier: Notifier;
  serverName: string;
  mode: PresenceMode;
  now?: () => number;
  sweepIntervalMs?: number;
}

export class PresenceService {
  readonly mode: PresenceMode;
  private readonly now: () => number;
  private readonly cache = new Map<string, PresenceState>();
  /** Until when each user counts as syncing (start of their latest /sync plus its timeout). */
  private readonly syncingUntil = new Map<string, number>();
  /** Users not seen since this process started get a grace period to come back after a restart. */
  private readonly startedAt: number;
  /** Updates of one user run one after another (a /sync and a PUT may race). */
  private readonly queues = new KeyedQueue();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: PresenceDeps) {
    this.mode = deps.mode;
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
    // Another process's write makes our cached copy stale.
    this.unsubscribe = deps.notifier.subscribe((n: StreamNotice) => {
      if (n.stream !== 'presence') return;
      for (const u of n.userIds ?? []) {
        const c = this.cache.get(u);
        if (c && c.streamId < n.position) this.cache.delete(u);
      }
    });
  }

  get enabled(): boolean {
    return this.mode !== 'disabled';
  }

  /** Starts the timeout sweep (only when /sync tracks presence). */
  start(): void {
    if (this.mode !== 'enabled' || this.timer) return;
    this.timer = setInterval(() => {
      if (this.sweeping) return;
      this.sweep().catch((err) => log.error('presence sweep failed', { error: (err as Error).message }));
    }, this.deps.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe();
    await this.sweeping?.catch(() => undefined);
    await this.queues.idle();
  }

  private serialised<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    return this.queues.run(userId, fn);
  }

  async current(userId: string): Promise<PresenceState> {
    const cached = this.cache.get(userId);
    if (cached) return cached;
    const row = await this.deps.store.get(userId);
    const s = row ? { ...row } : offlineState(userId);
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(userId, s);
    return s;
  }

  /** Persists `next`; a change peers care about takes a new presence position and wakes them. */
  private async write(prev: PresenceState, next: PresenceState): Promise<void> {
    if (!isNews(prev, next)) {
      if (prev.lastActiveTs !== next.lastActiveTs && prev.streamId) {
        await this.deps.store.touch(next.userId, next.lastActiveTs);
        this.cache.set(next.userId, { ...next, streamId: prev.streamId });
      }
      return;
    }
    const pending = await this.deps.positions.next();
    const row: PresenceRow = { ...next, streamId: pending.position };
    try {
      await this.deps.store.upsert(row);
      this.cache.set(row.userId, row);
    } finally {
      pending.done();
    }
    const roomIds = await this.deps.store.joinedRooms(row.userId);
    this.deps.notifier.notify({ stream: 'presence', position: row.streamId, userIds: [row.userId], roomIds });
  }

  private update(userId: string, change: (prev: PresenceState, now: number) => PresenceState | undefined): Promise<void> {
    return this.serialised(userId, async () => {
      const prev = await this.current(userId);
      const next = change(prev, this.now());
      if (next) await this.write(prev, next);
    });
  }

  /** GET /presence/{userId}/status. Any local user may see any local user's presence, as in Synapse. */
  async get(requester: Requester, userId: string): Promise<JsonObject> {
    if (!isValidUserId(userId)) throw new MatrixError(400, 'M_INVALID_PARAM', `'${userId}' is not a valid user ID`);
    if (this.mode === 'disabled') return { presence: 'offline' };
    if (serverNameOf(userId) !== this.deps.serverName) {
      // Remote presence arrives over federation, which is not there yet.
      throw notFound('No presence known for this user');
    }
    if (userId !== requester.userId && !(await this.deps.storage.users.get(userId))) throw notFound('No such user');
    return presenceContent(await this.current(userId), this.now());
  }

  /** PUT /presence/{userId}/status: only for yourself; accepted but ignored when presence is off. */
  async set(requester: Requester, userId: string, presence: PresenceStateName, statusMsg: string | undefined): Promise<void> {
    if (requester.userId !== userId) throw forbidden('Can only set your own presence state');
    if (this.mode === 'disabled') return;
    this.noteSync(userId, this.now());
    await this.update(userId, (prev, now) => ({
      ...prev,
      state: presence,
      // As Synapse: a PUT without status_msg clears it.
      statusMsg: statusMsg ?? null,
      lastActiveTs: presence === 'online' ? now : prev.lastActiveTs,
      currentlyActive: presence === 'online',
    }));
  }

  private noteSync(userId: string, until: number): void {
    if ((this.syncingUntil.get(userId) ?? 0) < until) this.syncingUntil.set(userId, until);
  }

  /** The /sync hook: set_presence (default online) moves the user's presence, writing only on change. */
  async onSync(requester: Requester, params: SyncParams): Promise<void> {
    const wanted = params.setPresence ?? 'online';
    if (!SYNC_PRESENCE.has(wanted)) throw new MatrixError(400, 'M_INVALID_PARAM', "set_presence must be one of 'online', 'offline', 'unavailable'");
    // spec: set_presence=offline means this sync does not mark the user online (Synapse: it does not count at all).
    if (this.mode !== 'enabled' || wanted === 'offline' || requester.isGuest) return;
    const now = this.now();
    // A caller that names no timeout (sliding sync) is assumed to long-poll as clients usually do.
    this.noteSync(requester.userId, now + Math.min(Math.max(params.timeout ?? ASSUMED_LONG_POLL_MS, 0), MAX_TIMEOUT_MS));
    const cached = this.cache.get(requester.userId);
    // The common case, a client long-polling while online, costs no query and no write.
    if (cached && cached.state === wanted && (wanted !== 'online' || (cached.currentlyActive && now - cached.lastActiveTs < LAST_ACTIVE_REFRESH_MS))) return;
    await this.update(requester.userId, (prev, at) => {
      if (wanted === 'unavailable') return prev.state === 'unavailable' ? undefined : { ...prev, state: 'unavailable', currentlyActive: false };
      // online: bring an offline user online; an unavailable one chose so (PUT) or went idle and stays.
      if (prev.state === 'offline') return { ...prev, state: 'online', lastActiveTs: at, currentlyActive: true };
      if (prev.state === 'online' && (at - prev.lastActiveTs >= LAST_ACTIVE_REFRESH_MS || !prev.currentlyActive)) {
        // Syncing with set_presence=online counts as activity, as in Synapse.
        return { ...prev, lastActiveTs: at, currentlyActive: true };
      }
      return undefined;
    });
  }

  /** Applies the timeouts (run every few seconds; tests call it with a later `now`). Returns how many changed. */
  sweep(now: number = this.now()): Promise<number> {
    if (this.mode !== 'enabled') return Promise.resolve(0);
    const run = (async () => {
      let changed = 0;
      for (const row of await this.deps.store.notOffline()) {
        const lastSync = this.syncingUntil.get(row.userId) ?? this.startedAt;
        if (!timedOut(row, lastSync, now)) continue;
        await this.update(row.userId, (prev) => {
          const next = timedOut(prev, this.syncingUntil.get(row.userId) ?? this.startedAt, now);
          if (next) changed++;
          return next;
        });
      }
      return changed;
    })();
    this.sweeping = run;
    void run.finally(() => {
      if (this.sweeping === run) this.sweeping = undefined;
    }).catch(() => undefined);
    return run;
  }
}
