/**
 * events, rooms (head), forward_extremities, current_state, event_txn_ids and redactions.
 * Events are immutable: stored as the canonical JSON of their signed wire form plus the columns
 * queries need.
 */
import type { Queryable } from './database.js';
import type { JsonObject, RoomEvent } from '../matrix/types.js';
import { getRoomVersion } from '../matrix/room-versions.js';
import { canonicalJson } from '../matrix/canonical-json.js';
import { toFederationFormat } from '../matrix/pdu.js';
import { Batcher } from './batcher.js';
import { EVENT_COLUMNS, eventFilterConditions, rowToStoredEvent, type EventDbRow, type EventSqlFilter, type StoredEvent } from './event-rows.js';
import { appendEvents, type AppendOutcome, type AppendParams } from './event-append.js';

export { EVENT_COLUMNS, eventFilterConditions, rowToStoredEvent, storedToRoomEvent } from './event-rows.js';
export type { EventDbRow, EventSqlFilter, StoredEvent } from './event-rows.js';

export interface RoomHead {
  roomVersion: string;
  currentStateGroup: number | null;
  maxDepth: number;
  extremities: string[];
  /** The stream ordering of the event that last moved the head; bumped by every head move. */
  headStreamOrdering: number;
}

/**
 * The result of appendEvent: stored at a stream position, the head moved underneath (nothing
 * stored), or the transaction ID's earlier event.
 */
export type AppendResult = { stored: number } | { stale: true } | { existing: string };

const APPENDS_IN_FLIGHT = 4;

export interface NewEventRow {
  event: RoomEvent;
  roomVersion: string;
  streamOrdering: number;
  unsigned: JsonObject | null;
  stateGroupBefore: number | null;
  stateGroupAfter: number | null;
  /** The canonical JSON of the signed federation form, when the caller has it already. */
  wireJson?: string;
}

export interface PageQuery extends EventSqlFilter {
  roomId: string;
  /** Exclusive bound in (topological, stream) order. */
  from: { topo: number; stream: number };
  /** Optional exclusive end bound. */
  to?: { topo: number; stream: number };
  dir: 'b' | 'f';
  limit: number;
  /** Upper stream bound: never return events not yet visible. */
  maxStream: number;
}

export class EventStore {
  private readonly cache = new Map<string, StoredEvent>();
  private static readonly CACHE_MAX = 20_000;

  /**
   * Appends of different rooms made at the same moment share one statement (appendEvents). Four
   * statements in flight keep PostgreSQL busy while this process builds the next batch (different
   * rooms: no lock waits between them; measured better than two under the concurrent-sends bench).
   */
  private readonly appends = new Batcher<AppendParams, AppendOutcome>((items) => appendEvents(this.db, items), APPENDS_IN_FLIGHT);

  constructor(private readonly db: Queryable) {}

  private remember(e: StoredEvent): void {
    if (this.cache.size >= EventStore.CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(e.event.event_id, e);
  }

  /** Events by ID (missing IDs are absent from the map). */
  async getEvents(ids: Iterable<string>, db: Queryable = this.db): Promise<Map<string, StoredEvent>> {
    const out = new Map<string, StoredEvent>();
    const missing: string[] = [];
    for (const id of ids) {
      const c = this.cache.get(id);
      if (c) out.set(id, c);
      else missing.push(id);
    }
    if (missing.length) {
      const { rows } = await db.query<EventDbRow>(
        `SELECT ${EVENT_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id WHERE e.event_id = ANY($1)`,
        [missing],
      );
      for (const r of rows) {
        const s = rowToStoredEvent(r);
        this.remember(s);
        out.set(s.event.event_id, s);
      }
    }
    return out;
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    return (await this.getEvents([id])).get(id);
  }

  /** The columns of an events row that are derived from the event itself. */
  private static derivedColumns(ev: RoomEvent, roomVersion: string, wireJson?: string) {
    const version = getRoomVersion(roomVersion)!;
    const relates = (ev.content['m.relates_to'] ?? null) as JsonObject | null;
    const relatesTo = relates && typeof relates.event_id === 'string' ? relates.event_id : null;
    const relType = relates && typeof relates.rel_type === 'string' ? relates.rel_type : null;
    const membership = ev.type === 'm.room.member' && typeof ev.content.membership === 'string' ? ev.content.membership : null;
    const containsUrl = typeof ev.content.url === 'string';
    if (wireJson !== undefined) return { relatesTo, relType, membership, containsUrl, json: wireJson };
    const { unsigned: _u, ...signed } = ev;
    // spec: Room Version 12 "Event format": the create event has no room_id. Store it exactly as
    // signed, or its hash (and so the room ID) would not verify.
    if (version.privilegedCreators && ev.type === 'm.room.create' && ev.state_key === '') delete (signed as Partial<RoomEvent>).room_id;
    const json = canonicalJson(toFederationFormat(signed as RoomEvent, version));
    return { relatesTo, relType, membership, containsUrl, json };
  }

  private rememberNew(row: NewEventRow): void {
    this.remember({
      event: row.event,
      roomVersion: row.roomVersion,
      streamOrdering: row.streamOrdering,
      topologicalOrdering: row.event.depth,
      unsigned: row.unsigned,
      stateGroupBefore: row.stateGroupBefore,
      stateGroupAfter: row.stateGroupAfter,
      rejected: false,
      outlier: false,
    });
  }

  async insertEvent(tx: Queryable, row: NewEventRow): Promise<void> {
    const ev = row.event;
    const { relatesTo, relType, membership, containsUrl, json } = EventStore.derivedColumns(ev, row.roomVersion, row.wireJson);
    await tx.query(
      `INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, origin_server_ts, depth,
         topological_ordering, relates_to_id, relation_type, membership, contains_url, json, unsigned,
         state_group_before, state_group_after)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        row.streamOrdering, ev.event_id, ev.room_id, ev.type, ev.state_key ?? null, ev.sender, ev.origin_server_ts, ev.depth,
        relatesTo, relType, membership, containsUrl, json, row.unsigned ? JSON.stringify(row.unsigned) : null,
        row.stateGroupBefore, row.stateGroupAfter,
      ],
    );
    this.rememberNew(row);
  }

  /**
   * Appends one non-state event on top of a head the caller cached (the append_event function:
   * the room's lock, the transaction-ID and head checks, the stream position, the rows, the head's
   * move). Appends of other rooms made at the same moment share the statement and its commit.
   * When this resolves the event is committed, or nothing was written.
   */
  async appendEvent(
    row: Omit<NewEventRow, 'streamOrdering'> & { expectedHead: number; prevExtremities: string[]; redacts?: string },
    txn?: { userId: string; deviceId: string; scope: string[]; txnId: string; now: number },
  ): Promise<AppendResult> {
    const ev = row.event;
    if (ev.state_key !== undefined) throw new Error('appendEvent is for non-state events');
    const { relatesTo, relType, containsUrl, json } = EventStore.derivedColumns(ev, row.roomVersion, row.wireJson);
    const r = await this.appends.submit([
      ev.room_id, row.expectedHead, ev.event_id, ev.type, ev.sender, ev.origin_server_ts, ev.depth,
      relatesTo, relType, containsUrl, json, row.stateGroupBefore,
      row.prevExtremities, row.redacts ?? null,
      txn?.userId ?? null, txn?.deviceId ?? null, txn ? EventStore.txnKey(txn.scope, txn.txnId) : null, txn?.now ?? null,
    ]);
    if (r.status === 'stale') return { stale: true };
    if (r.status === 'existing') return { existing: r.event_id! };
    this.rememberNew({ ...row, streamOrdering: r.stream_ordering! });
    return { stored: r.stream_ordering! };
  }

  /** Drops cached events (a rolled-back transaction inserted them). */
  forget(ids: string[]): void {
    for (const id of ids) this.cache.delete(id);
  }

  // --- rooms ---

  async createRoom(tx: Queryable, roomId: string, roomVersion: string, creator: string, now: number): Promise<void> {
    await tx.query('INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)', [roomId, roomVersion, creator, now]);
  }

  async roomVersion(roomId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ room_version: string }>('SELECT room_version FROM rooms WHERE room_id = $1', [roomId]);
    return rows[0]?.room_version;
  }

  /** The room's head, read under the room's lock. */
  async roomHead(tx: Queryable, roomId: string): Promise<RoomHead | undefined> {
    const { rows } = await tx.query<{ room_version: string; current_state_group: number | null; max_depth: number; head_stream_ordering: number; extremities: string[] | null }>(
      `SELECT r.room_version, r.current_state_group, r.max_depth, r.head_stream_ordering,
              (SELECT array_agg(event_id) FROM forward_extremities f WHERE f.room_id = r.room_id) AS extremities
       FROM rooms r WHERE r.room_id = $1`,
      [roomId],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      roomVersion: r.room_version,
      currentStateGroup: r.current_state_group === null ? null : Number(r.current_state_group),
      maxDepth: Number(r.max_depth),
      extremities: r.extremities ?? [],
      headStreamOrdering: Number(r.head_stream_ordering),
    };
  }

  /** Moves the head after a new event: it becomes the only extremity (local events reference all). */
  async advanceHead(tx: Queryable, roomId: string, eventId: string, depth: number, stateGroup: number | null, replacedExtremities: string[], streamOrdering: number): Promise<void> {
    await tx.query(
      `WITH del AS (DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = ANY($2)),
            ins AS (INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $3))
       UPDATE rooms SET current_state_group = $4, max_depth = GREATEST(max_depth, $5), head_stream_ordering = $6 WHERE room_id = $1`,
      [roomId, replacedExtremities, eventId, stateGroup, depth, streamOrdering],
    );
  }

  async setCurrentState(tx: Queryable, roomId: string, type: string, stateKey: string, eventId: string, membership: string | null): Promise<void> {
    await tx.query(
      `INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership`,
      [roomId, type, stateKey, eventId, membership],
    );
  }

  // --- transaction IDs ---

  /**
   * spec: Client-Server API "Transaction identifiers": a retransmission has the same transaction ID
   * *and* the same HTTP path, per device. The txn_id column holds both: the path's scope (e.g.
   * `send`, room ID, event type; each part URI-encoded, so without spaces), a space, then the
   * client's transaction ID. transactionIdsOf reads the client's part back.
   */
  private static txnKey(scope: string[], txnId: string): string {
    return `${scope.map(encodeURIComponent).join(' ')} ${txnId}`;
  }

  async txnEventId(userId: string, deviceId: string, scope: string[], txnId: string, db: Queryable = this.db): Promise<string | undefined> {
    const { rows } = await db.query<{ event_id: string }>(
      'SELECT event_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2 AND txn_id = $3',
      [userId, deviceId, EventStore.txnKey(scope, txnId)],
    );
    return rows[0]?.event_id;
  }

  async insertTxn(tx: Queryable, userId: string, deviceId: string, scope: string[], txnId: string, eventId: string, now: number): Promise<void> {
    await tx.query('INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts) VALUES ($1, $2, $3, $4, $5)', [
      userId, deviceId, EventStore.txnKey(scope, txnId), eventId, now,
    ]);
  }

  /** The client's transaction IDs of events sent by this device (for unsigned.transaction_id). */
  async transactionIdsOf(userId: string, deviceId: string, eventIds: string[]): Promise<Map<string, string>> {
    if (!eventIds.length) return new Map();
    const { rows } = await this.db.query<{ event_id: string; txn_id: string }>(
      'SELECT event_id, txn_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2 AND event_id = ANY($3)',
      [userId, deviceId, eventIds],
    );
    // The scope has three space-free parts (see txnKey); everything after them is the client's ID.
    return new Map(rows.map((r) => [r.event_id, r.txn_id.split(' ').slice(3).join(' ')]));
  }

  // --- redactions ---

  async insertRedaction(tx: Queryable, eventId: string, redactedBy: string): Promise<void> {
    await tx.query('INSERT INTO redactions (event_id, redacted_by) VALUES ($1, $2) ON CONFLICT DO NOTHING', [eventId, redactedBy]);
  }

  /** For each given event, the first redaction event that applies to it. */
  async redactionsOf(eventIds: string[]): Promise<Map<string, string>> {
    if (!eventIds.length) return new Map();
    const { rows } = await this.db.query<{ event_id: string; redacted_by: string }>(
      `SELECT DISTINCT ON (r.event_id) r.event_id, r.redacted_by FROM redactions r
       JOIN events e ON e.event_id = r.redacted_by
       WHERE r.event_id = ANY($1) AND e.rejected_reason IS NULL ORDER BY r.event_id, e.stream_ordering`,
      [eventIds],
    );
    return new Map(rows.map((r) => [r.event_id, r.redacted_by]));
  }

  // --- reading the timeline ---

  /** Events of a room in topological order from an exclusive bound, filtered in SQL. */
  async paginate(q: PageQuery): Promise<StoredEvent[]> {
    const params: unknown[] = [q.roomId, q.from.topo, q.from.stream, q.limit, q.maxStream];
    const cmp = q.dir === 'b' ? '<' : '>';
    const conds = [`e.room_id = $1`, `(e.topological_ordering, e.stream_ordering) ${cmp} ($2, $3)`, `e.stream_ordering <= $5`, 'NOT e.outlier', 'e.rejected_reason IS NULL'];
    if (q.to) {
      params.push(q.to.topo, q.to.stream);
      conds.push(`(e.topological_ordering, e.stream_ordering) ${q.dir === 'b' ? '>=' : '<'} ($${params.length - 1}, $${params.length})`);
    }
    conds.push(...eventFilterConditions(q, params));
    const order = q.dir === 'b' ? 'DESC' : 'ASC';
    const { rows } = await this.db.query<EventDbRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id WHERE ${conds.join(' AND ')}
       ORDER BY e.topological_ordering ${order}, e.stream_ordering ${order} LIMIT $4`,
      params,
    );
    return rows.map((r) => {
      const s = rowToStoredEvent(r);
      this.remember(s);
      return s;
    });
  }

  /** The (topological, stream) position of the latest room event at or before a stream position. */
  async positionAtStream(roomId: string, stream: number): Promise<{ topo: number; stream: number }> {
    const { rows } = await this.db.query<{ t: number; s: number }>(
      `SELECT topological_ordering AS t, stream_ordering AS s FROM events WHERE room_id = $1 AND stream_ordering <= $2
         AND NOT outlier AND rejected_reason IS NULL
       ORDER BY stream_ordering DESC LIMIT 1`,
      [roomId, stream],
    );
    return rows[0] ? { topo: Number(rows[0].t), stream: Number(rows[0].s) } : { topo: 0, stream: 0 };
  }
}
