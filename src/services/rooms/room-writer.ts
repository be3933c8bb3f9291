/**
 * Appending events to one room inside the room's transaction: build the PDU (prev_events,
 * auth_events, depth) on the room's head, sign it, check the auth rules, and persist it with its
 * state snapshot. EventCreator (event-creator.ts) makes sure a writer is the room's only one.
 */
import { randomBytes } from 'node:crypto';
import type { Storage } from '../../storage/index.js';
import type { Queryable } from '../../storage/database.js';
import type { RoomHead } from '../../storage/events.js';
import type { StreamIdGenerator, PendingPosition } from '../../streams/id-generator.js';
import type { Notifier } from '../../streams/notifier.js';
import { signBytes, type SigningKey } from '../../matrix/signing.js';
import { stateKeyOf, type JsonObject, type RoomEvent, type StateIdMap, type StateMap } from '../../matrix/types.js';
import type { RoomVersion } from '../../matrix/room-versions.js';
import { hashEvent, signHashedEvent, type HashedEvent, checkPduLimits, roomIdFromCreateEvent, MAX_PDU_BYTES, PduFormatError } from '../../matrix/pdu.js';
import { checkAuth, authEventsSelection } from '../../matrix/auth-rules.js';
import { CanonicalJsonError } from '../../matrix/canonical-json.js';
import { MatrixError } from '../../errors.js';

/** An event RoomWriter.prepare built, with the canonical JSON of its signed federation form. */
export interface PreparedEvent {
  event: RoomEvent;
  /** What storage writes, so it need not encode the event again. */
  wireJson: string;
}

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
  async prepare(draft: EventDraft): Promise<PreparedEvent> {
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
    let hashed: HashedEvent;
    try {
      hashed = hashEvent(proto, version);
    } catch (err) {
      // Content that cannot be canonical JSON (floats, integers beyond ±(2^53-1)) is the client's error.
      if (err instanceof CanonicalJsonError || err instanceof PduFormatError) throw new MatrixError(400, 'M_BAD_JSON', err.message);
      throw err;
    }
    // Signed here, not on the thread pool: under load every hop to another thread costs the
    // request a turn of the event loop, which is longer than the signature (measured).
    const { event, json } = signHashedEvent(hashed, serverName, signingKey.keyId, signBytes(signingKey, hashed.signedBytes));
    if (isCreate && version.privilegedCreators) {
      this.roomId = roomIdFromCreateEvent(event, version);
      // The normalised form carries the derived room ID so the rest of the server can use it.
      event.room_id = this.roomId;
    }
    // spec: Client-Server API "Size limits": the whole signed event ≤ 65 536 bytes; sender,
    // room_id, state_key, type and event_id ≤ 255 bytes each. 413 M_TOO_LARGE, as Synapse answers.
    // The size is the canonical JSON's, already encoded; the ID fields are the event's own.
    const tooLarge = checkPduLimits(event as unknown as JsonObject, json);
    if (tooLarge) throw new MatrixError(413, 'M_TOO_LARGE', `Event is too large: ${tooLarge} (max ${MAX_PDU_BYTES} bytes in all)`);

    const auth = checkAuth(isCreate && version.privilegedCreators ? { ...event, room_id: undefined } as unknown as RoomEvent : event, authState, version);
    if (!auth.allowed) throw new MatrixError(403, 'M_FORBIDDEN', auth.reason);
    // The create event of a v12 room is stored without the room ID it was given above, as this
    // JSON is.
    return { event, wireJson: json };
  }

  async append(draft: EventDraft, txn?: TxnRef): Promise<PersistedEvent> {
    const { storage, now } = this.deps;
    const version = this.version;
    const isState = draft.state_key !== undefined;
    const isCreate = draft.type === 'm.room.create' && draft.state_key === '';
    const { event, wireJson } = await this.prepare(draft);

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
      wireJson,
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

