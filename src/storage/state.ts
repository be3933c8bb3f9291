/**
 * State snapshots (state groups) stored as deltas from a parent, with a full snapshot every
 * MAX_DELTA_DEPTH hops so that reading any group touches a bounded number of groups. Groups are
 * immutable, so resolved maps are cached.
 */
import type { Queryable } from './database.js';
import { splitStateKey, stateKeyOf, type StateIdMap } from '../matrix/types.js';

export const MAX_DELTA_DEPTH = 100;
const CACHE_MAX = 2_000;
/**
 * The cache is bounded by entries too: every membership change of a 10 000-member room makes a
 * group whose map holds 10 000 entries, and 2 000 of those would hold 20 million (gigabytes, and
 * a garbage collector that slows every request down).
 */
const CACHE_MAX_ENTRIES = 1_000_000;

interface GroupRow {
  id: number;
  prev_group: number | null;
  delta_depth: number;
}

export class StateStore {
  private readonly cache = new Map<number, StateIdMap>();
  /** The sum of the cached maps' sizes. */
  private cachedEntries = 0;

  constructor(private readonly db: Queryable) {}

  private remember(id: number, map: StateIdMap): void {
    const old = this.cache.get(id);
    if (old) {
      this.cache.delete(id);
      this.cachedEntries -= old.size;
    }
    while (this.cache.size && (this.cache.size >= CACHE_MAX || this.cachedEntries + map.size > CACHE_MAX_ENTRIES)) {
      const [oldest, evicted] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      this.cachedEntries -= evicted.size;
    }
    this.cache.set(id, map);
    this.cachedEntries += map.size;
  }

  /** The full (type, state_key) → event ID map of a state group. Callers must not mutate it. */
  async getGroup(id: number, db: Queryable = this.db): Promise<StateIdMap> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    // Walk back to the nearest full snapshot or cached group (bounded by MAX_DELTA_DEPTH). The
    // cached maps are held for the walk: one may be evicted while the query runs.
    const known = new Map(this.cache);
    const { rows: chain } = await db.query<GroupRow>(
      `WITH RECURSIVE chain(id, prev_group, delta_depth) AS (
         SELECT id, prev_group, delta_depth FROM state_groups WHERE id = $1
         UNION ALL
         SELECT g.id, g.prev_group, g.delta_depth FROM state_groups g JOIN chain c ON g.id = c.prev_group
         WHERE c.delta_depth > 0 AND NOT (c.prev_group = ANY($2::bigint[]))
       ) SELECT id, prev_group, delta_depth FROM chain`,
      [id, [...known.keys()]],
    );
    if (!chain.length) throw new Error(`unknown state group ${id}`);
    const last = chain[chain.length - 1]!;
    let base: StateIdMap = new Map();
    if (last.delta_depth > 0 && last.prev_group !== null) {
      const cachedBase = known.get(Number(last.prev_group));
      if (!cachedBase) throw new Error(`state group ${id}: the chain ends at ${last.prev_group}, which is neither a snapshot nor cached`);
      base = new Map(cachedBase);
    }
    const ids = chain.map((g) => Number(g.id));
    const { rows } = await db.query<{ state_group: number; type: string; state_key: string; event_id: string | null }>(
      'SELECT state_group, type, state_key, event_id FROM state_group_entries WHERE state_group = ANY($1::bigint[])',
      [ids],
    );
    const byGroup = new Map<number, typeof rows>();
    for (const r of rows) {
      const g = Number(r.state_group);
      let list = byGroup.get(g);
      if (!list) byGroup.set(g, (list = []));
      list.push(r);
    }
    // Apply from the oldest group to the newest.
    let map = base;
    for (let i = chain.length - 1; i >= 0; i--) {
      const g = Number(chain[i]!.id);
      for (const r of byGroup.get(g) ?? []) {
        const key = stateKeyOf(r.type, r.state_key);
        if (r.event_id === null) map.delete(key);
        else map.set(key, r.event_id);
      }
      if (i > 0) {
        this.remember(g, map);
        map = new Map(map);
      }
    }
    this.remember(id, map);
    return map;
  }

  /**
   * Stores a new group as `delta` on top of `prevGroup` (or as a full snapshot when the chain is
   * long or there is no parent). `full` must be the resulting map; it becomes the cached value.
   */
  async createGroup(tx: Queryable, roomId: string, prevGroup: number | null, delta: StateIdMap | Map<string, string | null>, full: StateIdMap): Promise<number> {
    let depth = 0;
    if (prevGroup !== null) {
      const { rows } = await tx.query<{ delta_depth: number }>('SELECT delta_depth FROM state_groups WHERE id = $1', [prevGroup]);
      depth = (rows[0]?.delta_depth ?? MAX_DELTA_DEPTH) + 1;
    }
    const asFull = prevGroup === null || depth > MAX_DELTA_DEPTH;
    const entries = asFull ? full : delta;
    const { rows } = await tx.query<{ id: number }>(
      `INSERT INTO state_groups (id, room_id, prev_group, delta_depth) VALUES (nextval('state_group_seq'), $1, $2, $3) RETURNING id`,
      [roomId, asFull ? null : prevGroup, asFull ? 0 : depth],
    );
    const id = Number(rows[0]!.id);
    if (entries.size) {
      const types: string[] = [];
      const keys: string[] = [];
      const eventIds: (string | null)[] = [];
      for (const [k, v] of entries) {
        const [type, stateKey] = splitStateKey(k);
        types.push(type);
        keys.push(stateKey);
        eventIds.push(v);
      }
      await tx.query(
        `INSERT INTO state_group_entries (state_group, type, state_key, event_id)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])`,
        [id, types, keys, eventIds],
      );
    }
    this.remember(id, full);
    return id;
  }
}
