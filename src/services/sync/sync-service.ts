/**
 * GET /sync (spec: Client-Server API §8.x "Syncing"): initial and incremental, long-polling on the
 * one notifier until something for this user arrives or the timeout passes.
 */
import type { Storage } from '../../storage/index.js';
import type { Notifier, StreamNotice } from '../../streams/notifier.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import { formatSyncToken, parseSyncToken, type SyncPositions, type SyncStream } from '../../streams/sync-token.js';
import type { JsonObject, JsonValue } from '../../matrix/types.js';
import { MatrixError } from '../../errors.js';
import type { Requester } from '../auth.js';
import { parseSyncFilter, type SyncFilter } from './filter.js';
import { containsNul } from '../../matrix/json-nul.js';
import { fillUnreadCounts } from './unread.js';
import { LongPoll } from './long-poll.js';
import type { UnreadCounts } from './unread.js';
import type { SyncContext, SyncProvider, SyncResponse } from './types.js';

/** Long-polls are capped (Synapse has no cap; clients ask for 30 s). */
export const MAX_TIMEOUT_MS = 120_000;

export interface SyncParams {
  since?: string;
  timeout?: number;
  fullState?: boolean;
  /** A filter ID or inline JSON. */
  filter?: string;
  setPresence?: string;
  useStateAfter?: false | 'stable' | 'unstable';
}

export class SyncService {
  private readonly providers: SyncProvider[] = [];
  private readonly filterCache = new Map<string, SyncFilter>();
  /** Unread notification counts, filled for every joined room of a response. */
  unread?: UnreadCounts;
  private readonly beforeSync: ((requester: Requester, params: SyncParams) => Promise<void>)[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly notifier: Notifier,
    private readonly positions: Partial<Record<SyncStream, StreamIdGenerator>>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Providers run in the order added; the rooms provider must come first. */
  addProvider(p: SyncProvider & { observe?(n: StreamNotice): void }): void {
    this.providers.push(p);
    if (p.observe) this.notifier.subscribe((n) => p.observe!(n));
  }

  /** Hooks run at the start of each /sync (set_presence, to-device acknowledgement…). */
  onSync(hook: (requester: Requester, params: SyncParams) => Promise<void>): void {
    this.beforeSync.push(hook);
  }

  async resolveFilter(userId: string, filter: string | undefined): Promise<SyncFilter> {
    if (filter === undefined || filter === '') return parseSyncFilter(undefined);
    if (filter.trimStart().startsWith('{')) {
      let json: JsonValue;
      try {
        json = JSON.parse(filter) as JsonValue;
      } catch {
        throw new MatrixError(400, 'M_NOT_JSON', 'filter is not valid JSON');
      }
      // A request body with U+0000 is refused as it is read; an inline filter is JSON in the query
      // string, so it is checked here (its types and senders reach SQL, which cannot hold U+0000).
      if (filter.includes('\\u0000') && containsNul(json)) throw new MatrixError(400, 'M_BAD_JSON', 'filter may not contain the NUL character (U+0000)');
      return parseSyncFilter(json);
    }
    if (!/^\d+$/.test(filter)) throw new MatrixError(400, 'M_INVALID_PARAM', 'filter must be a filter ID or a JSON object');
    // Stored filters never change, so each long-poll need not read its filter again.
    const key = `${userId}|${filter}`;
    const cached = this.filterCache.get(key);
    if (cached) return cached;
    const stored = await this.storage.filters.get(userId, Number(filter));
    if (!stored) throw new MatrixError(400, 'M_INVALID_PARAM', `No filter with ID ${filter}`);
    const parsed = parseSyncFilter(stored);
    if (this.filterCache.size >= 10_000) this.filterCache.delete(this.filterCache.keys().next().value!);
    this.filterCache.set(key, parsed);
    return parsed;
  }

  /** The providers of the streams other than room events (sliding sync runs them as extensions). */
  streamProviders(): SyncProvider[] {
    return this.providers.filter((p) => p.stream !== 'events');
  }

  /** Whether a notice concerns a sync context (for other long-polls, e.g. sliding sync). */
  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    return this.providers.some((p) => p.wakes(notice, ctx));
  }

  async runHooks(requester: Requester, params: SyncParams): Promise<void> {
    for (const hook of this.beforeSync) await hook(requester, params);
  }

  /** The generator of a stream, to wait until a notified position is visible. */
  generator(stream: SyncStream): StreamIdGenerator | undefined {
    return this.positions[stream];
  }

  currentPositions(): SyncPositions {
    const out = {} as SyncPositions;
    for (const p of this.providers) out[p.stream] = Math.max(out[p.stream] ?? 0, p.current());
    for (const s of ['events', 'account_data', 'receipts', 'typing', 'presence', 'to_device', 'device_lists'] as SyncStream[]) out[s] ??= 0;
    return out;
  }

  async sync(requester: Requester, params: SyncParams): Promise<SyncResponse> {
    const filter = await this.resolveFilter(requester.userId, params.filter);
    const since = params.since ? parseSyncToken(params.since) : undefined;
    await this.runHooks(requester, params);
    const timeout = Math.min(Math.max(params.timeout ?? 0, 0), MAX_TIMEOUT_MS);
    const deadline = this.now() + timeout;

    // Listen before computing, so nothing that lands meanwhile is missed.
    const poll = new LongPoll(this.notifier, undefined, (stream) => this.positions[stream], this.now);
    try {
      for (;;) {
        const to = this.currentPositions();
        if (since) {
          // A token from the future (another server's, or before a database reset) must not
          // make this server skip events: clamp to what exists.
          for (const k of Object.keys(since) as SyncStream[]) if (since[k] > to[k]) since[k] = to[k];
        }
        const ctx: SyncContext = {
          requester,
          userId: requester.userId,
          deviceId: requester.deviceId,
          filter,
          since,
          to,
          fullState: params.fullState === true,
          useStateAfter: params.useStateAfter ?? false,
          now: this.now(),
          response: emptyResponse(formatSyncToken(to)),
          joinedRooms: [],
          newlyJoinedRooms: new Set(),
          interestingRooms: new Set(),
        };
        poll.reset((n) => this.wakes(n, ctx));
        for (const p of this.providers) await p.fill(ctx);
        await fillUnreadCounts(ctx, this.unread);
        if (ctx.useStateAfter) omitState(ctx.response);
        if (!since || ctx.fullState || !isEmpty(ctx.response) || this.now() >= deadline) return ctx.response;
        if (!(await poll.wait(deadline))) return ctx.response;
      }
    } finally {
      poll.close();
    }
  }
}

export function emptyResponse(nextBatch: string): SyncResponse {
  return {
    next_batch: nextBatch,
    rooms: { join: {}, invite: {}, leave: {}, knock: {} },
    account_data: { events: [] },
    presence: { events: [] },
    to_device: { events: [] },
    device_lists: { changed: [], left: [] },
    device_one_time_keys_count: {},
    device_unused_fallback_key_types: [],
  };
}

/** spec: with use_state_after, a room's `state` "MUST be omitted" (state_after replaces it). */
function omitState(r: SyncResponse): void {
  for (const entry of [...Object.values(r.rooms.join), ...Object.values(r.rooms.leave)]) {
    delete (entry as { state?: unknown }).state;
  }
}

/** Whether an incremental sync has nothing to tell (then it keeps waiting). */
export function isEmpty(r: SyncResponse): boolean {
  const rooms = r.rooms;
  return (
    !Object.keys(rooms.join).length &&
    !Object.keys(rooms.invite).length &&
    !Object.keys(rooms.leave).length &&
    !Object.keys(rooms.knock).length &&
    !r.account_data.events.length &&
    !r.presence.events.length &&
    !r.to_device.events.length &&
    !r.device_lists.changed.length &&
    !r.device_lists.left.length
  );
}

export type { JsonObject };
