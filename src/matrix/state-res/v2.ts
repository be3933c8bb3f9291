/**
 * State resolution v2 (room versions 2-11) and v2.1 (room version 12, MSC4297).
 */
import type { StateIdMap } from '../types.js';
import type { Ctx } from './context.js';
import { PL_KEY } from './context.js';
import { authDifferenceBy, conflictedSubgraphBy, separate } from './graph.js';
import { iterativeAuthChecks } from './iterative.js';
import { mainlineSort, reverseTopologicalPowerSort, selectPowerEvents } from './ordering.js';

export function resolveV2(ctx: Ctx, stateSets: readonly StateIdMap[]): StateIdMap {
  const { unconflicted, conflicted } = separate(stateSets);
  // With no conflicted key every state set is the same map, so the auth chains agree, the full
  // conflicted set is empty and the algorithm would return the unconflicted state unchanged.
  if (conflicted.size === 0) return unconflicted;

  const edges = (id: string) => ctx.authIds(id);
  const conflictedEvents = new Set<string>();
  for (const ids of conflicted.values()) for (const id of ids) conflictedEvents.add(id);

  // spec: Room Version 2, State resolution "Definitions", "Full conflicted set": conflicted state
  // set ∪ auth difference; spec: Room Version 12, "Full conflicted set" adds the conflicted state
  // subgraph.
  const full = new Set(conflictedEvents);
  for (const id of authDifferenceBy(stateSets, edges)) full.add(id);
  const v21 = ctx.version.stateResolution === 'v2.1';
  if (v21) for (const id of conflictedSubgraphBy(conflictedEvents, edges)) full.add(id);

  // spec: Room Version 2, State resolution "Algorithm" step 1.
  const powerGraph = selectPowerEvents(ctx, full);
  const sortedPower = reverseTopologicalPowerSort(ctx, powerGraph);

  // spec: Room Version 2, State resolution "Algorithm" step 2; spec: Room Version 12, step 2
  // starts from an empty state map, so an unconflicted but bogus event cannot authorise the power
  // events: anything missing comes from each event's own auth events instead.
  const partial = iterativeAuthChecks(ctx, v21 ? new Map() : unconflicted, sortedPower);

  // spec: Room Version 2, State resolution "Algorithm" step 3. Iterating `full` (insertion order)
  // does not affect the result: the mainline sort is a total order.
  const rest: string[] = [];
  for (const id of full) if (!powerGraph.has(id)) rest.push(id);
  const sortedRest = mainlineSort(ctx, rest, partial.get(PL_KEY));

  // spec: Room Version 2, State resolution "Algorithm" step 4.
  const resolved = iterativeAuthChecks(ctx, partial, sortedRest);

  // spec: Room Version 2, State resolution "Algorithm" step 5.
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}
