/**
 * The full-text search index (event_search, migration 012): a tsvector per searchable event
 * combining Russian and English stemming, filled and emptied by triggers in the transactions that
 * store events and redactions. This module reads it: one page of candidates in rank or recency
 * order, with the request's filter applied in SQL, plus highlights for the page's texts.
 */
import type { Queryable } from './database.js';

export type SearchOrder = 'rank' | 'recent';

/** Where a page starts: strictly after this candidate in the search's order. */
export interface SearchCursor {
  rank?: number;
  stream: number;
}

export interface SearchQuery {
  term: string;
  /** Only rooms where this user's current membership is join. */
  userId: string;
  /** Further limits on the rooms (the filter's rooms / not_rooms, a group token's room). */
  rooms?: string[];
  notRooms?: string[];
  keys: string[];
  order: SearchOrder;
  after?: SearchCursor;
  limit: number;
  senders?: string[];
  notSenders?: string[];
  containsUrl?: boolean;
  /** Also give the number of matches of the whole search (ignoring `after` and `limit`). */
  withCount: boolean;
  /** estimateMatches(term), when the caller started it earlier (rank order needs it first). */
  estimate?: Promise<number>;
}

export interface SearchCandidate {
  eventId: string;
  roomId: string;
  rank: number;
  stream: number;
}

export interface SearchPage {
  candidates: SearchCandidate[];
  /**
   * Matches of the whole search before history visibility: exact when every match was read,
   * else PostgreSQL's estimate from its statistics of the index (spec: "an approximate count").
   */
  count?: number;
}

/**
 * The query: both stemmings OR-ed, so a term matches in whichever language stems it.
 * websearch_to_tsquery never fails on user input (quotes, "or", "-" work as on web search engines).
 */
const TSQUERY = `(websearch_to_tsquery('russian'::regconfig, $1) || websearch_to_tsquery('english'::regconfig, $1))`;
/** Newest-first searches look at this many of the newest indexed events before using the GIN index. */
const RECENT_WINDOW = 3000;

/** Rank order ranks every match of a term PostgreSQL expects in at most this many events. */
const RANK_ALL_UP_TO = 2000;
/**
 * Above that, it ranks the newest matches only: as many as are found among about this many of the
 * newest events (so a common word ranks its newest thousand, a rarer one fewer), within
 * RANK_WINDOW_MIN..RANK_WINDOW_MAX. Ranking reads every ranked row's vector from the heap, and a
 * word in a tenth of a million messages would otherwise take half a second.
 */
const RANK_WALK_ROWS = 10_000;
const RANK_WINDOW_MIN = 50;
const RANK_WINDOW_MAX = 1000;
/** How long the indexed-event count (for the window) is reused. */
const TOTAL_TTL_MS = 60_000;
/** Below this many estimated matches, the count is exact. */
const EXACT_COUNT_UP_TO = 2000;

type Row = { event_id: string; room_id: string; stream: number; rank: number; total?: number | null };

export class SearchStore {
  private total: { value: number; at: number } | undefined;

  constructor(private readonly db: Queryable) {}

  /** About how many events are indexed (PostgreSQL's statistics; no scan). */
  private async indexedEvents(): Promise<number> {
    if (this.total && Date.now() - this.total.at < TOTAL_TTL_MS) return this.total.value;
    const { rows } = await this.db.query<{ n: number }>(`SELECT GREATEST(reltuples, 0)::float8 AS n FROM pg_class WHERE relname = 'event_search'`);
    this.total = { value: Math.max(1, Number(rows[0]?.n ?? 1)), at: Date.now() };
    return this.total.value;
  }

  /** How many of a term's newest matches rank order ranks; undefined: all of them. */
  private async rankWindow(estimate: number): Promise<number | undefined> {
    if (estimate <= RANK_ALL_UP_TO) return undefined;
    const share = estimate / (await this.indexedEvents());
    return Math.round(Math.min(RANK_WINDOW_MAX, Math.max(RANK_WINDOW_MIN, RANK_WALK_ROWS * share)));
  }

  /** The rooms where the user's current membership is join. */
  async joinedRooms(userId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join'`,
      [userId],
    );
    return rows.map((r) => r.room_id);
  }

  async search(q: SearchQuery): Promise<SearchPage> {
    if (!q.keys.length || (q.rooms && !q.rooms.length)) return { candidates: [], count: q.withCount ? 0 : undefined };
    const params: unknown[] = [q.term, q.userId, q.keys];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const conds = [
      's.key = ANY($3::text[])',
      // spec: search covers the rooms the user is in (Synapse: joined rooms). Not a list of room
      // IDs: a long literal list costs the planner more than the search itself. Not a semi-join
      // either: for a user whose memberships the statistics do not know (most users), PostgreSQL
      // expects one room and runs the term's whole index scan once per room — 12 s for a user in
      // 1 000 rooms. Wrapped in IS TRUE the IN stays a hashed subplan: the user's rooms are read
      // once into a hash table, and each match is one lookup, whatever the estimates.
      `(s.room_id IN (SELECT m.room_id FROM current_state m WHERE m.type = 'm.room.member' AND m.state_key = $2 AND m.membership = 'join')) IS TRUE`,
    ];
    if (q.rooms) conds.push(`s.room_id = ANY(${p(q.rooms)}::text[])`);
    if (q.notRooms?.length) conds.push(`NOT (s.room_id = ANY(${p(q.notRooms)}::text[]))`);
    if (q.senders) conds.push(`s.sender = ANY(${p(q.senders)}::text[])`);
    if (q.notSenders?.length) conds.push(`NOT (s.sender = ANY(${p(q.notSenders)}::text[]))`);
    if (q.containsUrl !== undefined) conds.push(q.containsUrl ? 's.contains_url' : 'NOT s.contains_url');
    const where = conds.join(' AND ');
    const filterParams = params.length;
    const toPage = (rows: Row[]) => rows.map((r) => ({ eventId: r.event_id, roomId: r.room_id, rank: Number(r.rank), stream: Number(r.stream) }));

    if (q.order === 'rank') {
      const after = q.after ? `(rank, stream) < (${p(q.after.rank ?? Number.MAX_VALUE)}::float8, ${p(q.after.stream)}::bigint)` : 'true';
      // Ranking reads every ranked match: a common term is ranked among its newest matches only
      // (rankWindow), found by walking the newest events backwards, which stops early.
      const estimate = await (q.estimate ?? this.estimateMatches(q.term));
      const window = await this.rankWindow(estimate);
      const capped = window !== undefined;
      const source = `SELECT s.event_id, s.room_id, s.stream_ordering, s.vector FROM event_search s
                      WHERE s.vector @@ ${TSQUERY} AND ${where}${capped ? ` ORDER BY s.stream_ordering DESC LIMIT ${window}` : ''}`;
      // The page and the count read the ranked set once.
      const { rows } = await this.db.query<Row>(
        `WITH q AS (SELECT ${TSQUERY} AS query),
         matches AS MATERIALIZED (
           SELECT m.event_id, m.room_id, m.stream_ordering AS stream, ts_rank(m.vector, q.query)::float8 AS rank
           FROM (${source}) m, q
         )
         SELECT event_id, room_id, stream, rank, ${q.withCount ? '(SELECT count(*) FROM matches)' : 'NULL'}::int AS total
         FROM matches WHERE ${after} ORDER BY rank DESC, stream DESC LIMIT ${p(q.limit)}`,
        params,
      );
      let count: number | undefined;
      if (q.withCount) {
        const total = rows[0]?.total ?? (q.after ? await this.countAll(where, params.slice(0, filterParams)) : 0);
        count = capped ? Math.max(total, estimate) : total;
      }
      return { candidates: toPage(rows), count };
    }

    // Newest first. A common term is found among the newest events at once: look at a window of
    // them (walking the stream ordering backwards) first. Only when that does not fill the page
    // does the GIN index collect the matches, which are then few. (Left to itself, the planner
    // walks backwards for a term its statistics do not know, and reads every row.)
    const after = q.after ? `s.stream_ordering < ${p(q.after.stream)}::bigint` : 'true';
    const limit = p(q.limit);
    // The count runs beside the page: counting many matches reads as many rows as ranking them
    // would, so above a few thousand the statistics' estimate stands in for the exact count.
    const counting = q.withCount && !q.after
      ? (q.estimate ?? this.estimateMatches(q.term)).then((estimate) => (estimate <= EXACT_COUNT_UP_TO ? this.countAll(where, params.slice(0, filterParams)) : estimate))
      : undefined;
    counting?.catch(() => undefined);
    const ranked = (inner: string) => `
      WITH q AS MATERIALIZED (SELECT ${TSQUERY} AS query)
      SELECT page.event_id, page.room_id, page.stream, ts_rank(page.vector, q.query)::float8 AS rank
      FROM (${inner}) page, q ORDER BY page.stream DESC`;
    let { rows } = await this.db.query<Row>(
      ranked(`SELECT s.event_id, s.room_id, s.stream_ordering AS stream, s.vector
              FROM (SELECT * FROM event_search s WHERE ${after} ORDER BY s.stream_ordering DESC LIMIT ${RECENT_WINDOW}) s, q
              WHERE s.vector @@ q.query AND ${where} ORDER BY s.stream_ordering DESC LIMIT ${limit}`),
      params,
    );
    let complete = false;
    if (rows.length < q.limit) {
      // "+ 0" keeps the planner from walking the stream ordering: the GIN index finds the matches.
      ({ rows } = await this.db.query<Row>(
        ranked(`SELECT s.event_id, s.room_id, s.stream_ordering AS stream, s.vector FROM event_search s
                WHERE s.vector @@ ${TSQUERY} AND ${where} AND ${after} ORDER BY s.stream_ordering + 0 DESC LIMIT ${limit}`),
        params,
      ));
      complete = rows.length < q.limit;
    }
    let count: number | undefined;
    if (counting) count = complete ? rows.length : Math.max(rows.length, await counting);
    return { candidates: toPage(rows), count };
  }

  /**
   * PostgreSQL's estimate of the matches of the term, from the statistics of the column (a query
   * plan, no scan). Callers may start it before search() and pass it in: it needs only the term.
   */
  async estimateMatches(term: string): Promise<number> {
    const { rows } = await this.db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM event_search s WHERE s.vector @@ ${TSQUERY}`,
      [term],
    );
    return Math.round(rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0);
  }

  /** Exact count of the matches (used where they are few or already read). */
  private async countAll(where: string, params: unknown[]): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `WITH q AS (SELECT ${TSQUERY} AS query) SELECT count(*)::int AS n FROM event_search s, q WHERE s.vector @@ q.query AND ${where}`,
      params,
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * For each result, the IDs of up to `before` events before it and `after` events after it in
   * its room's (topological, stream) order, with the filter's types / senders / contains_url: the
   * context of a whole page in one statement.
   */
  async contextIds(
    around: { roomId: string; topo: number; stream: number }[],
    before: number,
    after: number,
    filter: { types?: string[]; notTypes?: string[]; senders?: string[]; notSenders?: string[]; containsUrl?: boolean },
  ): Promise<{ before: string[]; after: string[] }[]> {
    const out = around.map(() => ({ before: [] as string[], after: [] as string[] }));
    if (!around.length || (before === 0 && after === 0)) return out;
    const params: unknown[] = [around.map((a) => a.roomId), around.map((a) => a.topo), around.map((a) => a.stream), before, after];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const conds = ['NOT e.outlier', 'e.rejected_reason IS NULL'];
    const list = (values: string[] | undefined, column: string, negate: boolean, wildcards: boolean) => {
      if (!values || (negate && !values.length)) return;
      const hasWildcard = wildcards && values.some((v) => v.includes('*'));
      // spec: a `*` in types matches any sequence of characters.
      const expr = hasWildcard
        ? `${column} LIKE ANY(${p(values.map((v) => v.replace(/[%_\\]/g, '\\$&').replace(/\*/g, '%')))}::text[])`
        : `${column} = ANY(${p(values)}::text[])`;
      conds.push(negate ? `NOT (${expr})` : expr);
    };
    list(filter.types, 'e.type', false, true);
    list(filter.notTypes, 'e.type', true, true);
    list(filter.senders, 'e.sender', false, false);
    list(filter.notSenders, 'e.sender', true, false);
    if (filter.containsUrl !== undefined) conds.push(filter.containsUrl ? 'e.contains_url' : 'NOT e.contains_url');
    const where = conds.join(' AND ');
    const { rows } = await this.db.query<{ i: number; dir: 'b' | 'f'; event_id: string }>(
      `SELECT r.i::int AS i, c.dir, c.event_id
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS r(room_id, topo, stream, i)
       CROSS JOIN LATERAL (
         (SELECT 'b' AS dir, e.event_id, e.topological_ordering AS t, e.stream_ordering AS s FROM events e
          WHERE e.room_id = r.room_id AND (e.topological_ordering, e.stream_ordering) < (r.topo, r.stream) AND ${where}
          ORDER BY e.topological_ordering DESC, e.stream_ordering DESC LIMIT $4)
         UNION ALL
         (SELECT 'f' AS dir, e.event_id, e.topological_ordering AS t, e.stream_ordering AS s FROM events e
          WHERE e.room_id = r.room_id AND (e.topological_ordering, e.stream_ordering) > (r.topo, r.stream) AND ${where}
          ORDER BY e.topological_ordering ASC, e.stream_ordering ASC LIMIT $5)
       ) c
       ORDER BY r.i, c.dir, CASE WHEN c.dir = 'b' THEN -c.t ELSE c.t END, CASE WHEN c.dir = 'b' THEN -c.s ELSE c.s END`,
      params,
    );
    for (const r of rows) out[r.i - 1]![r.dir === 'b' ? 'before' : 'after'].push(r.event_id);
    return out;
  }

  /**
   * The words of each text that the search term matches, as PostgreSQL's own headline marks them
   * in either stemming (spec: "highlights … useful for stemming which may change the query terms").
   */
  async highlights(term: string, texts: string[]): Promise<string[]> {
    if (!texts.length) return [];
    // Control characters as markers: they cannot occur in the words the parser picks out.
    const options = 'StartSel=\u0001, StopSel=\u0002, HighlightAll=true';
    const { rows } = await this.db.query<{ ru: string; en: string }>(
      `SELECT ts_headline('russian'::regconfig, t, websearch_to_tsquery('russian'::regconfig, $1), $3) AS ru,
              ts_headline('english'::regconfig, t, websearch_to_tsquery('english'::regconfig, $1), $3) AS en
       FROM unnest($2::text[]) AS t`,
      [term, texts, options],
    );
    const words = new Set<string>();
    for (const r of rows) {
      for (const marked of [r.ru, r.en]) {
        for (const m of marked.matchAll(/\u0001([^\u0001\u0002]*)\u0002/g)) if (m[1]) words.add(m[1]);
      }
    }
    return [...words];
  }
}
