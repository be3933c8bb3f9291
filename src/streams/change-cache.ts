/**
 * Which entities (rooms, users) changed after a stream position, answered from memory: the last
 * position at which each entity changed since this process started. For positions older than
 * that it answers "maybe", so callers fall back to the database. This keeps an incremental /sync
 * with nothing new free of SQL, however many rooms the user is in.
 */
export class StreamChangeCache {
  private readonly last = new Map<string, number>();

  /** Positions at or after `earliestKnown` are fully covered by the cache. */
  constructor(private earliestKnown: number) {}

  record(entity: string, position: number): void {
    if ((this.last.get(entity) ?? -1) < position) this.last.set(entity, position);
  }

  /** True if the entity may have changed after `since`. */
  hasChangedSince(entity: string, since: number): boolean {
    if (since < this.earliestKnown) return true;
    return (this.last.get(entity) ?? -1) > since;
  }

  /** The entities among `entities` that may have changed after `since`. */
  changedSince(entities: Iterable<string>, since: number): string[] {
    const out: string[] = [];
    for (const e of entities) if (this.hasChangedSince(e, since)) out.push(e);
    return out;
  }

  /** Whether the cache can answer for `since` (false: ask the database). */
  covers(since: number): boolean {
    return since >= this.earliestKnown;
  }
}
