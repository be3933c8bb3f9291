/**
 * Device-list tracking (spec: Client-Server API §10.12.x "Tracking the device list for a user"):
 * every change to a user's devices or keys gets a device_lists stream position; /sync and
 * GET /keys/changes tell each user which users sharing a room with them changed (`changed`) and
 * which no longer share one (`left`). Joins and leaves count too: a user who newly shares a room
 * is "changed" (the client has never fetched their keys), one who shares none any more is "left".
 */
import type { Storage } from '../../storage/index.js';
import type { Queryable } from '../../storage/database.js';
import type { E2eeKeyStore } from '../../storage/e2ee-keys.js';
import type { PendingPosition, StreamIdGenerator } from '../../streams/id-generator.js';
import type { Notifier, StreamNotice } from '../../streams/notifier.js';
import type { SyncPositions } from '../../streams/sync-token.js';
import { StreamChangeCache } from '../../streams/change-cache.js';
import { getLogger } from '../../logging.js';

const log = getLogger('device-lists');

export interface DeviceListChanges {
  changed: string[];
  left: string[];
}

interface Membership {
  roomId: string;
  membership: string;
  stream: number;
}

export class DeviceListService {
  /** Rooms by the position of their latest membership event. */
  private readonly membershipRooms: StreamChangeCache;
  /** Users by the position of their latest membership change. */
  private readonly membershipUsers: StreamChangeCache;
  private readonly memberships = new Map<string, { at: number; rows: Membership[] }>();

  constructor(
    private readonly storage: Storage,
    private readonly store: E2eeKeyStore,
    readonly positions: StreamIdGenerator,
    private readonly eventPositions: StreamIdGenerator,
    private readonly notifier: Notifier,
  ) {
    this.membershipRooms = new StreamChangeCache(eventPositions.current());
    this.membershipUsers = new StreamChangeCache(eventPositions.current());
    notifier.subscribe((n) => this.observe(n));
  }

  private observe(notice: StreamNotice): void {
    if (notice.stream !== 'events' || !notice.userIds?.length) return;
    for (const r of notice.roomIds ?? []) this.membershipRooms.record(r, notice.position);
    for (const u of notice.userIds) this.membershipUsers.record(u, notice.position);
  }

  /**
   * Runs `fn` in a transaction; if it reports a change, the change gets a device_lists position
   * in the same transaction and, once committed, a notice that wakes the syncs concerned.
   * `selfOnly`: only the user's own devices need to know (a signature by their user-signing key).
   */
  async change<T>(userId: string, fn: (tx: Queryable) => Promise<{ changed: boolean; selfOnly?: boolean; result: T }>): Promise<T> {
    const state: { pending?: PendingPosition; selfOnly: boolean } = { selfOnly: false };
    try {
      const out = await this.storage.db.transaction(async (tx) => {
        const r = await fn(tx);
        if (r.changed) {
          state.selfOnly = r.selfOnly === true;
          state.pending = await this.positions.next(tx);
          await this.store.recordDeviceListChange(tx, userId, state.pending.position, state.selfOnly);
        }
        return r.result;
      });
      if (state.pending) {
        state.pending.done();
        await this.announce(userId, state.pending.position, state.selfOnly);
      }
      return out;
    } finally {
      state.pending?.done();
    }
  }

  /** Records a change outside any other write (device deleted, dehydrated device replaced). */
  async markChanged(userId: string, selfOnly = false): Promise<void> {
    await this.change(userId, async () => ({ changed: true, selfOnly, result: undefined }));
  }

  /**
   * The notice names the changed user and the rooms they are joined to: a waiting sync wakes if
   * it is that user's or its user shares one of those rooms (see DeviceListsProvider.wakes).
   */
  private async announce(userId: string, position: number, selfOnly: boolean): Promise<void> {
    let roomIds: string[] = [];
    if (!selfOnly) {
      try {
        roomIds = await this.store.joinedRooms(userId);
      } catch (err) {
        log.debug('could not list rooms for a device-list notice', { error: (err as Error).message });
      }
    }
    this.notifier.notify({ stream: 'device_lists', position, userIds: [userId], roomIds });
  }

  /** The user's memberships, from memory while none of theirs changed. */
  async membershipsOf(userId: string): Promise<Membership[]> {
    const cached = this.memberships.get(userId);
    if (cached && this.membershipUsers.covers(cached.at) && !this.membershipUsers.hasChangedSince(userId, cached.at)) return cached.rows;
    const at = this.eventPositions.current();
    const rows = (await this.storage.timeline.membershipsOf(userId)).map((m) => ({ roomId: m.roomId, membership: m.membership, stream: m.stream }));
    if (this.memberships.size > 50_000) this.memberships.clear();
    this.memberships.set(userId, { at, rows });
    return rows;
  }

  /** Rooms the user is joined to, if known from memory (for deciding whether a notice wakes a sync). */
  cachedJoinedRooms(userId: string): Set<string> | undefined {
    const cached = this.memberships.get(userId);
    return cached ? new Set(cached.rows.filter((m) => m.membership === 'join').map((m) => m.roomId)) : undefined;
  }

  /** Whose devices changed between two sync positions, as /sync's device_lists and /keys/changes answer. */
  async changesBetween(userId: string, since: SyncPositions, to: SyncPositions): Promise<DeviceListChanges> {
    const changed = new Set<string>();
    const maybeLeft = new Set<string>();

    if (since.device_lists < to.device_lists) {
      for (const u of await this.store.changedUsersSharingRoom(userId, since.device_lists, to.device_lists)) changed.add(u);
    }

    const S = since.events;
    const N = to.events;
    if (S < N) {
      const mine = await this.membershipsOf(userId);
      const newlyJoined: string[] = [];
      const newlyLeft: string[] = [];
      const stayed: string[] = [];
      for (const m of mine) {
        const recent = m.stream > S && m.stream <= N;
        if (m.membership === 'join') (recent ? newlyJoined : stayed).push(m.roomId);
        else if (recent && (m.membership === 'leave' || m.membership === 'ban')) newlyLeft.push(m.roomId);
      }
      // spec: a user who newly shares a room with us is "changed", so the client fetches their keys.
      for (const u of await this.store.joinedMembers(newlyJoined)) changed.add(u);
      for (const u of await this.store.joinedMembers(newlyLeft)) maybeLeft.add(u);
      const candidates = this.membershipRooms.covers(S) ? this.membershipRooms.changedSince(stayed, S) : stayed;
      for (const m of await this.store.membershipChanges(candidates, S, N)) {
        if (m.membership === 'join') changed.add(m.userId);
        else if (m.membership === 'leave' || m.membership === 'ban') maybeLeft.add(m.userId);
      }
    }

    maybeLeft.delete(userId);
    const left: string[] = [];
    if (maybeLeft.size) {
      const sharing = await this.store.stillSharing(userId, [...maybeLeft]);
      for (const u of maybeLeft) {
        if (sharing.has(u)) continue;
        left.push(u);
        changed.delete(u);
      }
    }
    return { changed: [...changed].sort(), left: left.sort() };
  }
}
