/**
 * The one-statement room append (append_event, migration 015) for many events at once: appends
 * from concurrent requests (different rooms: a room has one writer) go to PostgreSQL together,
 * one call of the function per event — one transaction and one WAL flush for all.
 */
import type { Queryable } from './database.js';

/** append_event's arguments, in order (see migration 015). */
export type AppendParams = [
  string, number, string, string, string, number, number, string | null, string | null, boolean, string, number | null,
  string[], string | null, string | null, string | null, string | null, number | null,
];
/** The arguments' names and types, as the batch's JSON carries them. */
const APPEND_COLUMNS = [
  ['room_id', 'text'], ['expected_head', 'bigint'], ['event_id', 'text'], ['type', 'text'], ['sender', 'text'],
  ['ts', 'bigint'], ['depth', 'bigint'], ['relates_to_id', 'text'], ['relation_type', 'text'], ['contains_url', 'bool'],
  ['json', 'text'], ['state_group', 'bigint'], ['prev', 'text[]'], ['redacts', 'text'], ['txn_user_id', 'text'],
  ['txn_device_id', 'text'], ['txn_id', 'text'], ['txn_ts', 'bigint'],
] as const;
export type AppendOutcome = { status: 'stored' | 'stale' | 'existing'; stream_ordering: number | null; event_id: string | null };

const APPEND_SQL = `SELECT x.i, a.status, a.stream_ordering, a.event_id
  FROM json_to_recordset($1::json) AS x(${APPEND_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')}, i int),
       LATERAL append_event(${APPEND_COLUMNS.map(([name]) => `x.${name}`).join(', ')}) a`;

/**
 * Runs append_event for each item, in room order (so two batches take room locks in the same
 * order); one outcome per item, in the items' order. The batch goes as one JSON parameter:
 * JSON.stringify escapes the events' JSON natively, where array parameters would escape every
 * element in JavaScript.
 */
export async function appendEvents(db: Queryable, items: AppendParams[]): Promise<AppendOutcome[]> {
  const sorted = items.map((p, i) => ({ p, i })).sort((a, b) => (a.p[0] < b.p[0] ? -1 : a.p[0] > b.p[0] ? 1 : 0));
  const records = sorted.map(({ p, i }) => {
    const record: Record<string, unknown> = { i };
    APPEND_COLUMNS.forEach(([name], c) => (record[name] = p[c]));
    return record;
  });
  const { rows } = await db.query<AppendOutcome & { i: number }>(APPEND_SQL, [JSON.stringify(records)], 'veche_append_events');
  const out: AppendOutcome[] = new Array(items.length);
  // Bigint columns arrive as numbers (storage/database.ts).
  for (const r of rows) out[r.i] = r;
  return out;
}
