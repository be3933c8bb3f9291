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
import { fillUnreadCounts } from './unread.js';
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
      return parseSyncFilter(json);
    }
    if (!/^\d+$/.test(filter)) throw new MatrixError(400, 'M_INVALID_PARAM', 'filter must be a filter ID or a JSON object');
    const stored = await this.storage.filters.get(userId, Number(filter));
    if (!stored) throw new MatrixError(400, 'M_INVALID_PARAM', `No filter with ID ${filter}`);
    return parseSyncFilter(stored);
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
    let woken = false;
    let wake: (() => void) | undefined;
    let ctx: SyncContext | undefined;
    const pendingPositions: { stream: SyncStream; position: number }[] = [];
    const unsubscribe = this.notifier.subscribe((notice) => {
      if (!ctx) {
        woken = true;
        return;
      }
      if (this.providers.some((p) => p.wakes(notice, ctx!))) {
        pendingPositions.push({ stream: notice.stream as SyncStream, position: notice.position });
        woken = true;
        wake?.();
      }
    });
    try {
      for (;;) {
        woken = false;
        const to = this.currentPositions();
        if (since) {
          // A token from the future (another server's, or before a database reset) must not
          // make this server skip events: clamp to what exists.
          for (const k of Object.keys(since) as SyncStream[]) if (since[k] > to[k]) since[k] = to[k];
        }
        ctx = {
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
          interestingRooms: new Set(),
        };
        for (const p of this.providers) await p.fill(ctx);
        await fillUnreadCounts(ctx, this.unread);
        const remaining = deadline - this.now();
        if (!since || ctx.fullState || !isEmpty(ctx.response) || remaining <= 0) return ctx.response;
        if (!woken) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, remaining);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
        // The news may belong to a writer whose earlier neighbour is still committing.
        for (const p of pendingPositions.splice(0)) {
          const gen = this.positions[p.stream];
          if (gen && gen.current() < p.position) {
            await Promise.race([gen.waitFor(p.position), new Promise((r) => setTimeout(r, Math.max(0, deadline - this.now())))]);
          }
        }
        if (this.now() >= deadline && !woken) {
          return ctx.response;
        }
      }
    } finally {
      unsubscribe();
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
