/**
 * Relations between events (m.relates_to): children of a parent, thread summaries, latest edits,
 * references and reaction counts — each batched over a page of parent events. Redacted relations
 * no longer count (spec: Client-Server API §11.x "Relationships").
 */
import type { Queryable } from './database.js';
import { EVENT_COLUMNS, rowToStoredEvent, type EventDbRow, type StoredEvent } from './events.js';
import type { JsonObject } from '../matrix/types.js';

const NOT_REDACTED = `NOT EXISTS (SELECT 1 FROM redactions rd JOIN events re ON re.event_id = rd.redacted_by WHERE rd.event_id = e.event_id AND re.rejected_reason IS NULL)`;

export interface ThreadSummaryRow {
  root: string;
  count: number;
  latestEventId: string;
  participated: boolean;
}

export class RelationStore {
  constructor(private readonly db: Queryable) {}

  /** Which (parent, rel_type) pairs exist among the given parents: a cheap first check. */
  async relationKinds(parents: string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    if (!parents.length) return out;
    const { rows } = await this.db.query<{ relates_to_id: string; relation_type: string }>(
      `SELECT DISTINCT relates_to_id, relation_type FROM events WHERE relates_to_id = ANY($1) AND rejected_reason IS NULL`,
      [parents],
    );
    for (const r of rows) (out.get(r.relates_to_id) ?? out.set(r.relates_to_id, new Set()).get(r.relates_to_id)!).add(r.relation_type);
    return out;
  }

  async threadSummaries(roots: string[], userId: string, maxStream: number): Promise<ThreadSummaryRow[]> {
    if (!roots.length) return [];
    const { rows } = await this.db.query<{ root: string; count: number; latest: string; participated: boolean }>(
      `SELECT e.relates_to_id AS root, count(*)::int AS count,
              (array_agg(e.event_id ORDER BY e.topological_ordering DESC, e.stream_ordering DESC))[1] AS latest,
              bool_or(e.sender = $2) OR bool_or(EXISTS (SELECT 1 FROM events o WHERE o.event_id = e.relates_to_id AND o.sender = $2)) AS participated
       FROM events e WHERE e.relates_to_id = ANY($1) AND e.relation_type = 'm.thread' AND e.stream_ordering <= $3
         AND e.rejected_reason IS NULL AND ${NOT_REDACTED}
       GROUP BY e.relates_to_id`,
      [roots, userId, maxStream],
    );
    return rows.map((r) => ({ root: r.root, count: r.count, latestEventId: r.latest, participated: r.participated }));
  }

  /**
   * spec: the replacement that applies is the most recent valid edit — same sender and type as
   * the original, not itself a state event — by origin_server_ts, then the larger event ID.
   */
  async latestEdits(parents: string[], maxStream: number): Promise<Map<string, StoredEvent>> {
    const out = new Map<string, StoredEvent>();
    if (!parents.length) return out;
    const { rows } = await this.db.query<EventDbRow & { parent: string }>(
      `SELECT DISTINCT ON (e.relates_to_id) e.relates_to_id AS parent, ${EVENT_COLUMNS}
       FROM events e JOIN events o ON o.event_id = e.relates_to_id JOIN rooms r ON r.room_id = e.room_id
       WHERE e.relates_to_id = ANY($1) AND e.relation_type = 'm.replace' AND e.stream_ordering <= $2
         AND e.sender = o.sender AND e.type = o.type AND e.state_key IS NULL AND o.state_key IS NULL
         AND e.room_id = o.room_id AND e.rejected_reason IS NULL AND ${NOT_REDACTED}
       ORDER BY e.relates_to_id, e.origin_server_ts DESC, e.event_id DESC`,
      [parents, maxStream],
    );
    for (const r of rows) out.set(r.parent, rowToStoredEvent(r));
    return out;
  }

  async references(parents: string[], maxStream: number): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!parents.length) return out;
    const { rows } = await this.db.query<{ parent: string; ids: string[] }>(
      `SELECT e.relates_to_id AS parent, array_agg(e.event_id ORDER BY e.stream_ordering) AS ids FROM events e
       WHERE e.relates_to_id = ANY($1) AND e.relation_type = 'm.reference' AND e.stream_ordering <= $2
         AND e.rejected_reason IS NULL AND ${NOT_REDACTED} GROUP BY e.relates_to_id`,
      [parents, maxStream],
    );
    for (const r of rows) out.set(r.parent, r.ids);
    return out;
  }

  /** Whether some stored event relates to `parent` (which this server may not hold itself). */
  async isRelationTarget(parent: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM events WHERE relates_to_id = $1 AND rejected_reason IS NULL LIMIT 1', [parent]);
    return rows.length > 0;
  }

  /** Whether `sender` already has an annotation of this type and key on `parent` that is not redacted. */
  async hasAnnotated(parent: string, sender: string, type: string, key: string): Promise<boolean> {
    const { rows } = await this.db.query(
      `SELECT 1 FROM events e WHERE e.relates_to_id = $1 AND e.relation_type = 'm.annotation' AND e.sender = $2 AND e.type = $3
         AND (e.json::jsonb)->'content'->'m.relates_to'->>'key' = $4 AND e.rejected_reason IS NULL AND ${NOT_REDACTED} LIMIT 1`,
      [parent, sender, type, key],
    );
    return rows.length > 0;
  }

  /** Reaction counts per (parent, type, key), counting each sender once per key. */
  async annotations(parents: string[], maxStream: number): Promise<Map<string, { type: string; key: string; count: number }[]>> {
    const out = new Map<string, { type: string; key: string; count: number }[]>();
    if (!parents.length) return out;
    const { rows } = await this.db.query<{ parent: string; type: string; key: string; count: number }>(
      `SELECT e.relates_to_id AS parent, e.type, (e.json::jsonb)->'content'->'m.relates_to'->>'key' AS key,
              count(DISTINCT e.sender)::int AS count
       FROM events e WHERE e.relates_to_id = ANY($1) AND e.relation_type = 'm.annotation' AND e.stream_ordering <= $2
         AND e.rejected_reason IS NULL AND ${NOT_REDACTED}
       GROUP BY 1, 2, 3
       ORDER BY 1, 4 DESC, 3`,
      [parents, maxStream],
    );
    for (const r of rows) {
      if (r.key === null) continue;
      (out.get(r.parent) ?? out.set(r.parent, []).get(r.parent)!).push({ type: r.type, key: r.key, count: r.count });
    }
    return out;
  }

  /** Children of a parent for GET /relations, in topological order from an exclusive bound. */
  async children(q: {
    roomId: string;
    parents: string[];
    relType?: string;
    eventType?: string;
    from?: { topo: number; stream: number };
    to?: { topo: number; stream: number };
    dir: 'b' | 'f';
    limit: number;
    maxStream: number;
  }): Promise<StoredEvent[]> {
    const params: unknown[] = [q.roomId, q.parents, q.limit, q.maxStream];
    // A redacted relation is no relation any more (Synapse drops it on redaction).
    const conds = ['e.room_id = $1', 'e.relates_to_id = ANY($2)', 'e.stream_ordering <= $4', 'e.rejected_reason IS NULL', 'NOT e.outlier', NOT_REDACTED];
    if (q.relType) {
      params.push(q.relType);
      conds.push(`e.relation_type = $${params.length}`);
    }
    if (q.eventType) {
      params.push(q.eventType);
      conds.push(`e.type = $${params.length}`);
    }
    const cmp = q.dir === 'b' ? '<' : '>';
    if (q.from) {
      params.push(q.from.topo, q.from.stream);
      conds.push(`(e.topological_ordering, e.stream_ordering) ${cmp} ($${params.length - 1}, $${params.length})`);
    }
    if (q.to) {
      params.push(q.to.topo, q.to.stream);
      conds.push(`(e.topological_ordering, e.stream_ordering) ${q.dir === 'b' ? '>=' : '<'} ($${params.length - 1}, $${params.length})`);
    }
    const order = q.dir === 'b' ? 'DESC' : 'ASC';
    const { rows } = await this.db.query<EventDbRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id WHERE ${conds.join(' AND ')}
       ORDER BY e.topological_ordering ${order}, e.stream_ordering ${order} LIMIT $3`,
      params,
    );
    return rows.map(rowToStoredEvent);
  }

  /**
   * Thread roots of a room by latest activity (GET /threads), optionally only threads the user
   * took part in; `before` is the exclusive activity bound of the previous page. A thread whose
   * replies are all redacted is no thread any more.
   */
  async threadRoots(roomId: string, opts: { userId?: string; before?: number; limit: number; maxStream: number }): Promise<{ root: string; activity: number }[]> {
    const params: unknown[] = [roomId, opts.limit, opts.maxStream];
    let having = '';
    if (opts.before !== undefined) {
      params.push(opts.before);
      having = `HAVING max(e.stream_ordering) < $${params.length}`;
    }
    let participated = '';
    if (opts.userId) {
      params.push(opts.userId);
      participated = `AND (EXISTS (SELECT 1 FROM events x WHERE x.relates_to_id = e.relates_to_id AND x.relation_type = 'm.thread' AND x.sender = $${params.length})
        OR EXISTS (SELECT 1 FROM events o WHERE o.event_id = e.relates_to_id AND o.sender = $${params.length}))`;
    }
    const { rows } = await this.db.query<{ root: string; activity: number }>(
      `SELECT e.relates_to_id AS root, max(e.stream_ordering) AS activity FROM events e
       WHERE e.room_id = $1 AND e.relation_type = 'm.thread' AND e.stream_ordering <= $3 AND e.rejected_reason IS NULL AND ${NOT_REDACTED} ${participated}
       GROUP BY e.relates_to_id ${having} ORDER BY activity DESC LIMIT $2`,
      params,
    );
    return rows.map((r) => ({ root: r.root, activity: Number(r.activity) }));
  }
}
