/** Pagination tokens /sync hands out as prev_batch: "t<topological>-<stream>" of a timeline's first event. */
import type { StoredEvent } from '../../storage/events.js';

export function formatTopologicalToken(e: StoredEvent): string {
  return `t${e.topologicalOrdering}-${e.streamOrdering}`;
}
