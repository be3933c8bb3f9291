/**
 * Creating local events: build the PDU (prev_events, auth_events, depth), sign it, check the auth
 * rules, and persist it with its state snapshot — all under one writer per room: an in-process
 * queue plus a per-room Postgres advisory lock held by the transaction (ARCHITECTURE: "One writer
 * per room at a time"), so concurrent sends from several processes give one consistent graph.
 */
import { randomBytes } from 'node:crypto';
import type { Storage } from '../../storage/index.js';
import type { Queryable } from '../../storage/database.js';
import type { RoomHead } from '../../storage/events.js';
import type { StreamIdGenerator, PendingPosition } from '../../streams/id-generator.js';
import type { Notifier } from '../../streams/notifier.js';
import type { SigningKey } from '../../matrix/signing.js';
import { stateKeyOf, type JsonObject, type RoomEvent, type StateIdMap, type StateMap } from '../../matrix/types.js';
import { getRoomVersion, type RoomVersion } from '../../matrix/room-versions.js';
import { buildEvent, checkPduLimits, roomIdFromCreateEvent, toFederationFormat, MAX_PDU_BYTES, PduFormatError } from '../../matrix/pdu.js';
import { checkAuth, authEventsSelection } from '../../matrix/auth-rules.js';
import { CanonicalJsonError } from '../../matrix/canonical-json.js';
import { MatrixError, notFound } from '../../errors.js';

export interface EventDraft {
  type: string;
  state_key?: string;
  sender: string;
  content: JsonObject;
  redacts?: string;
}

export interface TxnRef {
  userId: string;
  deviceId: string;
  /** The request path the transaction ID belongs to, e.g. ['send', roomId, eventType]. */
  scope: string[];
  txnId: string;
}

export interface PersistedEvent {
  event: RoomEvent;
  streamOrdering: number;
}

/** Local events reference at most this many forward extremities (as Synapse does). */
const MAX_PREV_EVENTS = 10;

/** Appends events to one room inside the room's transaction. */
export class RoomWriter {
  readonly created: PersistedEvent[] = [];
  private stateIds: StateIdMap;
  private headDirty = false;
  private replacedExtremities: string[];

  constructor(
    /** The room's transaction: callers may write related rows (aliases…) in the same commit. */
    readonly tx: Queryable,
    private readonly deps: EventCreatorDeps,
    public roomId: string | undefined,
    public version: RoomVersion,
    private head: RoomHead,
    stateIds: StateIdMap,
    private readonly pending: PendingPosition[],
  ) {
    this.stateIds = stateIds;
    this.replacedExtremities = [...head.extremities];
  }

  /** The room's state IDs as of the last appended event. Do not mutate. */
  get currentStateIds(): StateIdMap {
    return this.stateIds;
  }

  /** Loads state events by key from the writer's current state. */
  async stateEvents(keys: Iterable<string>): Promise<StateMap> {
    const want = new Map<string, string>();
    for (const k of keys) {
      const id = this.stateIds.get(k);
      if (id) want.set(k, id);
    }
    const loaded = await this.deps.storage.events.getEvents(want.values(), this.tx);
    const out: StateMap = new Map();
    for (const [k, id] of want) {
      const e = loaded.get(id) ?? this.created.find((c) => c.event.event_id === id);
      if (e) out.set(k, e.event);
    }
    return out;
  }

  async stateEvent(type: string, stateKey: string): Promise<RoomEvent | undefined> {
    return (await this.stateEvents([stateKeyOf(type, stateKey)])).get(stateKeyOf(type, stateKey));
  }

  /** The room's head after the appends so far. */
  get currentHead(): RoomHead {
    return this.head;
  }

  /**
   * Builds the next event on the current head — prev_events, auth_events, depth, hashes,
   * signature — and checks it against the size limits and the authorization rules. Writes nothing.
   */
  async prepare(draft: EventDraft): Promise<RoomEvent> {
    const { serverName, signingKey, now } = this.deps;
    const version = this.version;
    const isCreate = draft.type === 'm.room.create' && draft.state_key === '';
    if (isCreate && this.head.maxDepth > 0) throw new MatrixError(400, 'M_BAD_JSON', 'The room already has a create event');
    if (!isCreate && this.head.maxDepth === 0) throw new MatrixError(400, 'M_BAD_JSON', 'The first event of a room must be m.room.create');

    const selection = authEventsSelection(draft, version);
    const createKey = stateKeyOf('m.room.create', '');
    // spec: Room Version 12 — the create event is no longer listed in auth_events, but the auth
    // rules still read it, so it joins the auth state here.
    const authState = await this.stateEvents(new Set([...selection, createKey]));
    const authIds = selection.map((k) => this.stateIds.get(k)).filter((id): id is string => !!id);

    const proto = {
      type: draft.type,
      state_key: draft.state_key,
      sender: draft.sender,
      room_id: isCreate && version.privilegedCreators ? undefined : this.roomId,
      content: draft.content,
      prev_events: this.head.extremities.slice(0, MAX_PREV_EVENTS),
      auth_events: authIds,
      depth: this.head.maxDepth + 1,
      origin_server_ts: now(),
      redacts: draft.redacts,
      event_id: version.eventFormat === 1 ? `$${randomBytes(12).toString('base64url')}:${serverName}` : undefined,
    };
    if (proto.state_key === undefined) delete proto.state_key;
    if (proto.redacts === undefined) delete proto.redacts;
    let event: RoomEvent;
    try {
      event = buildEvent(proto, version, serverName, signingKey);
    } catch (err) {
      // Content that cannot be canonical JSON (floats, integers beyond ±(2^53-1)) is the client's error.
      if (err instanceof CanonicalJsonError || err instanceof PduFormatError) throw new MatrixError(400, 'M_BAD_JSON', err.message);
      throw err;
    }
    if (isCreate && version.privilegedCreators) {
      this.roomId = roomIdFromCreateEvent(event, version);
      // The normalised form carries the derived room ID so the rest of the server can use it.
      event.room_id = this.roomId;
    }
    // spec: Client-Server API "Size limits": the whole signed event ≤ 65 536 bytes; sender,
    // room_id, state_key, type and event_id ≤ 255 bytes each. 413 M_TOO_LARGE, as Synapse answers.
    const wire = toFederationFormat(event, version);
    if (proto.room_id === undefined) delete wire.room_id;
    const tooLarge = checkPduLimits(wire);
    if (tooLarge) throw new MatrixError(413, 'M_TOO_LARGE', `Event is too large: ${tooLarge} (max ${MAX_PDU_BYTES} bytes in all)`);

    const auth = checkAuth(isCreate && version.privilegedCreators ? { ...event, room_id: undefined } as unknown as RoomEvent : event, authState, version);
    if (!auth.allowed) throw new MatrixError(403, 'M_FORBIDDEN', auth.reason);
    return event;
  }

  async append(draft: EventDraft, txn?: TxnRef): Promise<PersistedEvent> {
    const { storage, now } = this.deps;
    const version = this.version;
    const isState = draft.state_key !== undefined;
    const isCreate = draft.type === 'm.room.create' && draft.state_key === '';
    const event = await this.prepare(draft);

    if (isCreate) await storage.events.createRoom(this.tx, this.roomId!, version.id, draft.sender, now());

    const position = await this.deps.positions.next(this.tx);
    this.pending.push(position);

    const before = this.head.currentStateGroup;
    let after = before;
    let unsigned: JsonObject | null = null;
    if (isState) {
      const key = stateKeyOf(draft.type, draft.state_key!);
      const replaced = this.stateIds.get(key);
      if (replaced) {
        const prev = (await this.stateEvents([key])).get(key);
        unsigned = { replaces_state: replaced };
        if (prev) {
          unsigned.prev_content = prev.content;
          unsigned.prev_sender = prev.sender;
        }
      }
      const next = new Map(this.stateIds);
      next.set(key, event.event_id);
      after = await storage.state.createGroup(this.tx, this.roomId!, before, new Map([[key, event.event_id]]), next);
      this.stateIds = next;
      const membership = draft.type === 'm.room.member' ? String(draft.content.membership ?? '') : null;
      await storage.events.setCurrentState(this.tx, this.roomId!, draft.type, draft.state_key!, event.event_id, membership);
    }
    await storage.events.insertEvent(this.tx, {
      event,
      roomVersion: version.id,
      streamOrdering: position.position,
      unsigned,
      stateGroupBefore: before,
      stateGroupAfter: after,
    });
    const persisted = { event, streamOrdering: position.position };
    this.created.push(persisted);
    const redacts = version.updatedRedactionRules ? (draft.content.redacts as string | undefined) ?? draft.redacts : draft.redacts;
    if (draft.type === 'm.room.redaction' && typeof redacts === 'string') await storage.events.insertRedaction(this.tx, redacts, event.event_id);
    if (txn) await storage.events.insertTxn(this.tx, txn.userId, txn.deviceId, txn.scope, txn.txnId, event.event_id, now());

    this.head = { ...this.head, currentStateGroup: after, maxDepth: event.depth, extremities: [event.event_id], headStreamOrdering: position.position };
    this.headDirty = true;
    return persisted;
  }

  /** Writes the new head once, after all appends. */
  async flush(): Promise<void> {
    if (!this.headDirty) return;
    const last = this.created[this.created.length - 1]!.event;
    await this.deps.storage.events.advanceHead(this.tx, this.roomId!, last.event_id, last.depth, this.head.currentStateGroup, this.replacedExtremities, this.head.headStreamOrdering);
  }
}

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

export interface EventCreatorDeps {
  /** The database pool's size; writers are capped below it. */
  poolSize?: number;
  storage: Storage;
  serverName: string;
  signingKey: SigningKey;
  positions: StreamIdGenerator;
  notifier: Notifier;
  now: () => number;
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
  private readonly queues = new Map<string, Promise<unknown>>();
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
    return this.enqueue(roomId, () => this.runLocked(roomId, fn));
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
    return this.enqueue(roomId, async () => {
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
    const event = await w.prepare(draft);
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

  private async enqueue<T>(roomId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(roomId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(task);
    this.queues.set(roomId, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(roomId) === run) this.queues.delete(roomId);
    }
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
