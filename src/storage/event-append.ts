/**
 * The one-statement room append (append_event, migration 015) for many events at once: appends
 * from concurrent requests (different rooms: a room has one writer) go to PostgreSQL together,
 * one call of the function per event — one transaction and one WAL flush for all.
 */
import type { Queryable } from './database.js';

/** append_event's arguments, in order (see migration 015). */
export type AppendParams = [
  string, number, string, string, string, number, number, string | null, string | null, boolean, string, number | null,
  string, string | null, string | null, string | null, string | null, number | null,
];
const APPEND_COLUMN_TYPES = [
  'text', 'bigint', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'bool', 'text', 'bigint',
  'text', 'text', 'text', 'text', 'text', 'bigint',
];
export type AppendOutcome = { status: 'stored' | 'stale' | 'existing'; stream_ordering: number | null; event_id: string | null };

/**
 * Runs append_event for each item, in room order (so two batches take room locks in the same
 * order); one outcome per item, in the items' order.
 */
export async function appendEvents(db: Queryable, items: AppendParams[]): Promise<AppendOutcome[]> {
  const sorted = items.map((p, i) => ({ p, i })).sort((a, b) => (a.p[0] < b.p[0] ? -1 : a.p[0] > b.p[0] ? 1 : 0));
  const columns = APPEND_COLUMN_TYPES.map((_, c) => sorted.map((x) => x.p[c]));
  const { rows } = await db.query<AppendOutcome & { i: number }>(
    `SELECT x.i, a.status, a.stream_ordering, a.event_id
     FROM unnest(${APPEND_COLUMN_TYPES.map((t, c) => `$${c + 1}::${t}[]`).join(', ')}, $${APPEND_COLUMN_TYPES.length + 1}::int[])
            AS x(room_id, expected_head, event_id, type, sender, ts, depth, relates_to_id, relation_type,
                 contains_url, json, state_group, prev, redacts, txn_user_id, txn_device_id, txn_id, txn_ts, i),
          LATERAL append_event(x.room_id, x.expected_head, x.event_id, x.type, x.sender, x.ts, x.depth,
                               x.relates_to_id, x.relation_type, x.contains_url, x.json, x.state_group,
                               ARRAY(SELECT jsonb_array_elements_text(x.prev::jsonb)), x.redacts,
                               x.txn_user_id, x.txn_device_id, x.txn_id, x.txn_ts) a`,
    [...columns, sorted.map((x) => x.i)],
  );
  const out: AppendOutcome[] = new Array(items.length);
  // Bigint columns arrive as numbers (storage/database.ts).
  for (const r of rows) out[r.i] = r;
  return out;
}
