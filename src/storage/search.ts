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
  keys: string[];
  order: SearchOrder;
  after?: SearchCursor;
  limit: number;
  rooms?: string[];
  notRooms?: string[];
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
  containsUrl?: boolean;
  /** Also count every match (ignoring `after` and `limit`). */
  withCount: boolean;
}

export interface SearchCandidate {
  eventId: string;
  roomId: string;
  rank: number;
  stream: number;
}

export interface SearchPage {
  candidates: SearchCandidate[];
  /** Matches of the whole search before history visibility (when asked for). */
  count?: number;
}

/**
 * The query: both stemmings OR-ed, so a term matches in whichever language stems it.
 * websearch_to_tsquery never fails on user input (quotes, "or", "-" work as on web search engines).
 */
const TSQUERY = `(websearch_to_tsquery('russian'::regconfig, $1) || websearch_to_tsquery('english'::regconfig, $1))`;

export class SearchStore {
  constructor(private readonly db: Queryable) {}

  async search(q: SearchQuery): Promise<SearchPage> {
    const params: unknown[] = [q.term, q.userId, q.keys];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const conds = [
      's.vector @@ q.query',
      's.key = ANY($3)',
      // spec: search covers the rooms the user is in (Synapse: joined rooms).
      `s.room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $2 AND membership = 'join')`,
    ];
    if (q.rooms) conds.push(`s.room_id = ANY(${p(q.rooms)})`);
    if (q.notRooms?.length) conds.push(`NOT (s.room_id = ANY(${p(q.notRooms)}))`);
    const list = (values: string[] | undefined, column: string, negate: boolean, wildcards: boolean) => {
      if (!values) return;
      if (negate && !values.length) return;
      // spec: a `*` in types matches any sequence of characters.
      const hasWildcard = wildcards && values.some((v) => v.includes('*'));
      const expr = hasWildcard
        ? `${column} LIKE ANY(${p(values.map((v) => v.replace(/[%_\\]/g, '\\$&').replace(/\*/g, '%')))})`
        : `${column} = ANY(${p(values)})`;
      conds.push(negate ? `NOT (${expr})` : expr);
    };
    list(q.types, 's.type', false, true);
    list(q.notTypes, 's.type', true, true);
    list(q.senders, 's.sender', false, false);
    list(q.notSenders, 's.sender', true, false);
    if (q.containsUrl !== undefined) conds.push(q.containsUrl ? 's.contains_url' : 'NOT s.contains_url');

    // The filter's parameters come first, so the count query can reuse them alone.
    const filterParams = params.length;
    const order = q.order === 'rank' ? 'rank DESC, stream DESC' : 'stream DESC';
    let after = 'true';
    if (q.after) {
      after = q.order === 'rank' && q.after.rank !== undefined
        ? `(rank, stream) < (${p(q.after.rank)}::float8, ${p(q.after.stream)}::bigint)`
        : `stream < ${p(q.after.stream)}::bigint`;
    }
    const limit = p(q.limit);
    const where = conds.join(' AND ');
    // The matches are computed once: the page and the count both read them.
    const sql = `
      WITH q AS (SELECT ${TSQUERY} AS query),
      matches AS MATERIALIZED (
        SELECT s.event_id, s.room_id, s.stream_ordering AS stream, ts_rank(s.vector, q.query)::float8 AS rank
        FROM event_search s, q WHERE ${where}
      )
      SELECT event_id, room_id, stream, rank, ${q.withCount ? '(SELECT count(*) FROM matches)' : 'NULL'}::int AS total
      FROM matches WHERE ${after} ORDER BY ${order} LIMIT ${limit}`;
    const { rows } = await this.db.query<{ event_id: string; room_id: string; stream: number; rank: number; total: number | null }>(sql, params);
    let count: number | undefined;
    if (q.withCount) {
      if (rows.length) count = rows[0]!.total ?? 0;
      else {
        // No row carries the count: an empty page, or a cursor past the last match.
        const { rows: c } = await this.db.query<{ n: number }>(
          `WITH q AS (SELECT ${TSQUERY} AS query) SELECT count(*)::int AS n FROM event_search s, q WHERE ${where}`,
          params.slice(0, filterParams),
        );
        count = c[0]?.n ?? 0;
      }
    }
    return {
      candidates: rows.map((r) => ({ eventId: r.event_id, roomId: r.room_id, rank: Number(r.rank), stream: Number(r.stream) })),
      count,
    };
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
