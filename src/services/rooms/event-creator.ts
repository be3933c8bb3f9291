/**
 * Creating local events: build the PDU (prev_events, auth_events, depth), sign it, check the auth
 * rules, and persist it with its state snapshot — all under one writer per room: an in-process
 * queue plus a per-room Postgres advisory lock held by the transaction (ARCHITECTURE: "One writer
 * per room at a time"), so concurrent sends from several processes give one consistent graph.
 */
import type { Queryable } from '../../storage/database.js';
import type { RoomHead } from '../../storage/events.js';
import type { PendingPosition } from '../../streams/id-generator.js';
import type { StateIdMap } from '../../matrix/types.js';
import { getRoomVersion, type RoomVersion } from '../../matrix/room-versions.js';
import { MatrixError, notFound } from '../../errors.js';
import { RoomWriter, type EventCreatorDeps, type EventDraft, type PersistedEvent, type TxnRef } from './room-writer.js';
import { KeyedQueue } from '../keyed-queue.js';

export { RoomWriter } from './room-writer.js';
export type { EventCreatorDeps, EventDraft, PersistedEvent, TxnRef } from './room-writer.js';

/** A counting semaphore: at most `slots` holders at once, the rest wait in order. */
class Semaphore {
  private readonly waiting: (() => void)[] = [];

  constructor(private slots: number) {}

  async acquire(): Promise<void> {
    if (this.slots > 0) {
      this.slots--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.slots++;
  }
}

/** What a writer needs of a room to append to it without reading it first. */
interface CachedHead {
  version: RoomVersion;
  head: RoomHead;
  stateIds: StateIdMap;
}

/** Rooms whose heads are kept in memory; beyond this the oldest entry goes. */
const HEAD_CACHE_MAX = 5_000;

export class EventCreator {
  /** Each room's writes, one at a time. */
  private readonly queues = new KeyedQueue();
  /**
   * Room heads as this process's last writer of each room left them. Only a writer (inside the
   * room's queue) reads or sets an entry, and every append re-checks it under the room's lock
   * (rooms.head_stream_ordering), so an entry that another process made stale costs one retry,
   * never a wrong graph.
   */
  private readonly heads = new Map<string, CachedHead>();
  /**
   * Room writers running at once are capped below the pool size: a writer holds a connection for
   * its transaction and some checks inside it (profiles, restricted-join memberships) read through
   * the pool, which must then still have a connection free — else ten writers can wait for each
   * other for ever.
   */
  private readonly writerSlots: Semaphore;
  private readonly listeners: ((events: PersistedEvent[]) => void)[] = [];

  constructor(private readonly deps: EventCreatorDeps) {
    this.writerSlots = new Semaphore(Math.max(1, (deps.poolSize ?? 10) - 2));
  }

  /** Hears of every batch of persisted local events, after commit (push rules, appservices…). */
  onPersisted(listener: (events: PersistedEvent[]) => void): void {
    this.listeners.push(listener);
  }

  /** Runs fn as the room's only writer. */
  withRoom<T>(roomId: string, fn: (w: RoomWriter) => Promise<T>): Promise<T> {
    return this.queues.run(roomId, () => this.runLocked(roomId, fn));
  }

  /**
   * Appends one non-state event (a message, reaction, redaction…) as the room's only writer and
   * returns it — or, when the transaction ID already made an event, that event's ID. With the
   * room's head cached this is one statement (storage append_event): the lock, the checks and the
   * rows in a single round trip, which is what makes a busy room's sends cheap. Without it, or
   * when another writer moved the head, it takes the general path, which caches the head again.
   * `check` runs against the writer before the event is built (e.g. a redactor's power level).
   */
  appendOne(roomId: string, draft: EventDraft, txn: TxnRef | undefined, check?: (w: RoomWriter) => Promise<void>): Promise<{ eventId: string; created?: PersistedEvent }> {
    if (draft.state_key !== undefined) throw new Error('appendOne is for non-state events');
    return this.queues.run(roomId, async () => {
      const cached = this.heads.get(roomId);
      if (cached) {
        const done = await this.appendOnCachedHead(roomId, cached, draft, txn, check);
        if (done) return done;
      }
      return this.runLocked(roomId, async (w) => {
        const existing = txn && (await this.deps.storage.events.txnEventId(txn.userId, txn.deviceId, txn.scope, txn.txnId, w.tx));
        if (existing) return { eventId: existing };
        await check?.(w);
        const created = await w.append(draft, txn);
        return { eventId: created.event.event_id, created };
      });
    });
  }

  /** The one-statement append; undefined when the cached head turned out stale (dropped). */
  private async appendOnCachedHead(
    roomId: string,
    cached: CachedHead,
    draft: EventDraft,
    txn: TxnRef | undefined,
    check?: (w: RoomWriter) => Promise<void>,
  ): Promise<{ eventId: string; created?: PersistedEvent } | undefined> {
    const { storage, now } = this.deps;
    // Reads outside a transaction are fine here: the events and state it reads are immutable.
    const w = new RoomWriter(storage.db, this.deps, roomId, cached.version, cached.head, cached.stateIds, []);
    await check?.(w);
    const { event, wireJson } = await w.prepare(draft);
    const redacts = cached.version.updatedRedactionRules ? (draft.content.redacts as string | undefined) ?? draft.redacts : draft.redacts;
    let result;
    try {
      // The statement takes the event's stream position under the room's lock; until it answers,
      // readers must not pass positions it could hold.
      result = await this.deps.positions.writeWithPositions(async () => {
        const r = await storage.events.appendEvent(
          {
            event,
            roomVersion: cached.version.id,
            unsigned: null,
            stateGroupBefore: cached.head.currentStateGroup,
            stateGroupAfter: cached.head.currentStateGroup,
            wireJson,
            expectedHead: cached.head.headStreamOrdering,
            prevExtremities: cached.head.extremities,
            redacts: draft.type === 'm.room.redaction' && typeof redacts === 'string' ? redacts : undefined,
          },
          txn && { ...txn, now: now() },
        );
        return { value: r, positions: 'stored' in r ? [r.stored] : [] };
      });
    } catch (err) {
      this.heads.delete(roomId);
      throw err;
    }
    if ('stale' in result) {
      this.heads.delete(roomId);
      return undefined;
    }
    if ('existing' in result) return { eventId: result.existing };
    const position = result.stored;
    this.heads.set(roomId, {
      ...cached,
      head: { ...cached.head, maxDepth: event.depth, extremities: [event.event_id], headStreamOrdering: position },
    });
    const created = { event, streamOrdering: position };
    this.announce([created]);
    return { eventId: event.event_id, created };
  }

  /** Creates a new room: fn's first append must be the m.room.create event. */
  async createRoom<T>(roomId: string | undefined, versionId: string, fn: (w: RoomWriter) => Promise<T>): Promise<{ roomId: string; result: T }> {
    const version = getRoomVersion(versionId);
    if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Unsupported room version ${versionId}`);
    return this.transact(undefined, async (tx, pending, track) => {
      const w = track(new RoomWriter(tx, this.deps, roomId, version, { roomVersion: version.id, currentStateGroup: null, maxDepth: 0, extremities: [], headStreamOrdering: 0 }, new Map(), pending));
      const result = await fn(w);
      return { writer: w, value: { roomId: w.roomId!, result } };
    });
  }

  private async runLocked<T>(roomId: string, fn: (w: RoomWriter) => Promise<T>): Promise<T> {
    return this.transact(roomId, async (tx, pending, track) => {
      const head = await this.deps.storage.events.roomHead(tx, roomId);
      if (!head) throw notFound('Room not found');
      const stateIds = head.currentStateGroup === null ? new Map() : await this.deps.storage.state.getGroup(head.currentStateGroup, tx);
      const w = track(new RoomWriter(tx, this.deps, roomId, getRoomVersion(head.roomVersion)!, head, stateIds, pending));
      return { writer: w, value: await fn(w) };
    });
  }

  private async transact<T>(
    lockRoomId: string | undefined,
    fn: (tx: Queryable, pending: PendingPosition[], track: (w: RoomWriter) => RoomWriter) => Promise<{ writer: RoomWriter; value: T }>,
  ): Promise<T> {
    await this.writerSlots.acquire();
    try {
      return await this.transactHoldingSlot(lockRoomId, fn);
    } finally {
      this.writerSlots.release();
    }
  }

  private async transactHoldingSlot<T>(
    lockRoomId: string | undefined,
    fn: (tx: Queryable, pending: PendingPosition[], track: (w: RoomWriter) => RoomWriter) => Promise<{ writer: RoomWriter; value: T }>,
  ): Promise<T> {
    const pending: PendingPosition[] = [];
    let writer: RoomWriter | undefined;
    // Known before fn runs, so a rollback part-way also drops what the writer put in the event cache.
    const track = (w: RoomWriter) => (writer = w);
    try {
      const value = await this.deps.storage.db.transaction(async (tx) => {
        if (lockRoomId) await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockRoomId]);
        const r = await fn(tx, pending, track);
        writer = r.writer;
        await r.writer.flush();
        return r.value;
      });
      for (const p of pending) p.done();
      const w = writer!;
      if (w.roomId) this.cacheHead(w.roomId, { version: w.version, head: w.currentHead, stateIds: w.currentStateIds });
      if (w.created.length) this.announce(w.created);
      return value;
    } catch (err) {
      for (const p of pending) p.done();
      if (lockRoomId) this.heads.delete(lockRoomId);
      if (writer) {
        if (writer.roomId) this.heads.delete(writer.roomId);
        this.deps.storage.events.forget(writer.created.map((c) => c.event.event_id));
      }
      throw err;
    }
  }

  private cacheHead(roomId: string, entry: CachedHead): void {
    this.heads.delete(roomId);
    if (this.heads.size >= HEAD_CACHE_MAX) this.heads.delete(this.heads.keys().next().value!);
    this.heads.set(roomId, entry);
  }

  private announce(created: PersistedEvent[]): void {
    const roomId = created[0]!.event.room_id;
    const userIds = created.filter((c) => c.event.type === 'm.room.member').map((c) => c.event.state_key!);
    // The notice carries the events' own position: readers that wake on it wait until it is
    // visible (an earlier writer may still be committing).
    const position = Math.max(...created.map((c) => c.streamOrdering));
    this.deps.notifier.notify({ stream: 'events', position, roomIds: [roomId], userIds });
    for (const l of this.listeners) l(created);
  }
}
