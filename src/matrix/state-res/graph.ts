/**
 * Set computations over the auth graph: auth chains, the split into unconflicted and conflicted
 * state, the auth difference and (for v2.1) the conflicted state subgraph.
 * Every walk is iterative with a visited set, so each costs O(events + auth edges) and deep auth
 * chains (long membership histories) cannot overflow the stack.
 */
import type { RoomEvent, StateIdMap, StateKey } from '../types.js';
import type { RoomVersion } from '../room-versions.js';
import { authEdges, requireEvent } from './context.js';

/** Auth edges of an event ID; the resolver passes its memoised lookup, helpers a plain one. */
export type EdgesOf = (eventId: string) => readonly string[];

export function plainEdges(events: ReadonlyMap<string, RoomEvent>, version?: RoomVersion): EdgesOf {
  return (id) => authEdges(requireEvent(events, id), events, version);
}

/**
 * Everything reachable from `starts` along auth edges. `includeStarts` adds the starting events
 * themselves; otherwise they appear only if another start reaches them.
 */
export function reachable(starts: Iterable<string>, edges: EdgesOf, includeStarts: boolean): Set<string> {
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const id of starts) {
    if (includeStarts) {
      if (!seen.has(id)) {
        seen.add(id);
        stack.push(id);
      }
    } else {
      stack.push(id);
    }
  }
  while (stack.length > 0) {
    for (const aid of edges(stack.pop()!)) {
      if (!seen.has(aid)) {
        seen.add(aid);
        stack.push(aid);
      }
    }
  }
  return seen;
}

/**
 * The union of the auth chains of `eventIds`: all their auth events, recursively
 * (spec: Room Version 2, State resolution "Definitions", "Auth chain"). The given events are not
 * part of their own auth chain. With `version` 12+ the create event implied by the room ID counts
 * as an auth event; without `version` it is added when `events` holds it.
 * Throws MissingEventError naming the first event that is not in `events`.
 */
export function authChain(
  eventIds: Iterable<string>,
  events: ReadonlyMap<string, RoomEvent>,
  version?: RoomVersion,
): Set<string> {
  return reachable(eventIds, plainEdges(events, version), false);
}

/**
 * spec: Room Version 2, State resolution "Definitions", "Unconflicted state map and conflicted
 * state set": a key is unconflicted only if every state set has it with the same event; a key that
 * is missing from some set is conflicted, with the events of the sets that do have it.
 */
export function separate(stateSets: readonly StateIdMap[]): {
  unconflicted: StateIdMap;
  conflicted: Map<StateKey, Set<string>>;
} {
  const unconflicted: StateIdMap = new Map();
  const conflicted = new Map<StateKey, Set<string>>();
  if (stateSets.length === 0) return { unconflicted, conflicted };
  const keys = new Set<StateKey>();
  for (const set of stateSets) for (const key of set.keys()) keys.add(key);
  for (const key of keys) {
    const ids = new Set<string>();
    let missing = false;
    for (const set of stateSets) {
      const id = set.get(key);
      if (id === undefined) missing = true;
      else ids.add(id);
    }
    if (!missing && ids.size === 1) unconflicted.set(key, ids.values().next().value!);
    else conflicted.set(key, ids);
  }
  return { unconflicted, conflicted };
}

/**
 * spec: Room Version 2, State resolution "Definitions", "Auth difference": ∪Cᵢ − ∩Cᵢ where Cᵢ is
 * the full auth chain of state set i. Each Cᵢ here also holds the events of Sᵢ itself, as Synapse
 * does: an unconflicted event is then in every Cᵢ and stays out of the difference, and a conflicted
 * one is in the full conflicted set either way.
 * Cost: one walk per state set, O(sets × chain size), counting how many chains hold each event.
 */
export function authDifferenceBy(stateSets: readonly StateIdMap[], edges: EdgesOf): Set<string> {
  const counts = new Map<string, number>();
  for (const set of stateSets) {
    for (const id of reachable(set.values(), edges, true)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const diff = new Set<string>();
  for (const [id, n] of counts) if (n < stateSets.length) diff.add(id);
  return diff;
}

/**
 * spec: Room Version 12, State resolution "Definitions", "Conflicted state subgraph": the events on
 * any auth-edge path from one conflicted event to another, endpoints included. An event is on such
 * a path exactly when it is reachable from the conflicted set and itself reaches the conflicted set,
 * so this intersects the auth chains of the conflicted events with the events that can reach one,
 * the latter found by walking the reversed edges inside those auth chains.
 */
export function conflictedSubgraphBy(conflictedEvents: ReadonlySet<string>, edges: EdgesOf): Set<string> {
  const below = reachable(conflictedEvents, edges, true);
  const citedBy = new Map<string, string[]>();
  for (const id of below) {
    for (const aid of edges(id)) {
      let list = citedBy.get(aid);
      if (!list) citedBy.set(aid, (list = []));
      list.push(id);
    }
  }
  const result = new Set<string>();
  const stack: string[] = [];
  for (const id of conflictedEvents) {
    result.add(id);
    stack.push(id);
  }
  while (stack.length > 0) {
    for (const parent of citedBy.get(stack.pop()!) ?? []) {
      if (!result.has(parent)) {
        result.add(parent);
        stack.push(parent);
      }
    }
  }
  return result;
}

/** authDifferenceBy over the auth edges of `events` (see authChain for `version`). */
export function authDifference(
  stateSets: readonly StateIdMap[],
  events: ReadonlyMap<string, RoomEvent>,
  version?: RoomVersion,
): Set<string> {
  return authDifferenceBy(stateSets, plainEdges(events, version));
}

/** conflictedSubgraphBy over the auth edges of `events` (see authChain for `version`). */
export function conflictedSubgraph(
  conflictedEvents: ReadonlySet<string>,
  events: ReadonlyMap<string, RoomEvent>,
  version?: RoomVersion,
): Set<string> {
  return conflictedSubgraphBy(conflictedEvents, plainEdges(events, version));
}
