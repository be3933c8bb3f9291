/**
 * State resolution: the state of a room before an event, given the states after each of its
 * prev_events (spec: Room Versions, "State resolution"). Pure: every event the algorithm needs is
 * passed in, and a missing one is reported by ID (MissingEventError) for the caller to fetch.
 *
 * v1 (room version 1), v2 (room versions 2-11) and v2.1 (room version 12+).
 */
import type { RoomEvent, StateIdMap } from './types.js';
import type { RoomVersion } from './room-versions.js';
import { checkAuth } from './auth-rules.js';
import { userPowerLevel } from './power-levels.js';
import { Ctx, type ResolveOptions } from './state-res/context.js';
import { resolveV1 } from './state-res/v1.js';
import { resolveV2 } from './state-res/v2.js';

export { authChain, separate, authDifference, conflictedSubgraph } from './state-res/graph.js';
export { isPowerEvent, MissingEventError } from './state-res/context.js';
export type { AuthChecker, PowerLevelOf, ResolveOptions } from './state-res/context.js';

/**
 * Resolves `stateSets` (each (type, state_key) → event ID) into one state.
 * `events` must hold every event of the state sets and their full auth chains; a missing one
 * throws MissingEventError naming it. `options` can mark rejected events and replace the auth
 * rules or power level computation.
 */
export function resolveState(
  version: RoomVersion,
  stateSets: readonly StateIdMap[],
  events: ReadonlyMap<string, RoomEvent>,
  options: ResolveOptions = {},
): StateIdMap {
  if (stateSets.length === 0) return new Map();
  if (stateSets.length === 1) return new Map(stateSets[0]);
  const ctx = new Ctx(version, events, { checkAuth, userPowerLevel }, options);
  switch (version.stateResolution) {
    case 'v1':
      return resolveV1(ctx, stateSets);
    case 'v2':
    case 'v2.1':
      return resolveV2(ctx, stateSets);
  }
}
