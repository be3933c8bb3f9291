/**
 * spec: Room Version 2, State resolution "Definitions", "Iterative auth checks".
 */
import type { RoomEvent, StateIdMap, StateKey, StateMap } from '../types.js';
import { stateKeyOf } from '../types.js';
import type { RoomVersion } from '../room-versions.js';
import type { Ctx } from './context.js';
import { CREATE } from './context.js';
import { authEventsSelection } from '../auth-rules.js';

/**
 * The state keys the authorisation rules may consult for `ev`: the auth events selection
 * (spec: Server-Server API, "Auth events selection") plus, from room version 12 where the
 * selection leaves it out, the create event, which the rules still need.
 */
export function authTypesFor(ev: RoomEvent, version: RoomVersion): StateKey[] {
  const keys = authEventsSelection(ev, version);
  const create = stateKeyOf(CREATE, '');
  return ev.type === CREATE || keys.includes(create) ? keys : [create, ...keys];
}

/**
 * Applies `sorted` in order to a copy of `base`, keeping each state event the authorisation rules
 * allow. Each event is checked against its own (non-rejected) auth events, overridden by whatever
 * the state built so far holds for the keys the rules consult; so a key missing from the state
 * falls back to the event's auth event, as the definition requires.
 *
 * Events that were rejected earlier are still checked like any other (spec: Room Version 2,
 * State resolution "Rejected events"); only as auth events are rejected events skipped.
 */
export function iterativeAuthChecks(ctx: Ctx, base: StateIdMap, sorted: readonly string[]): StateIdMap {
  const state: StateIdMap = new Map(base);
  for (const id of sorted) {
    const ev = ctx.get(id);
    if (ev.state_key === undefined) continue;
    const authState: StateMap = new Map();
    for (const aid of ctx.authIds(id)) {
      const a = ctx.get(aid);
      if (a.state_key !== undefined && !ctx.isRejected(aid)) authState.set(stateKeyOf(a.type, a.state_key), a);
    }
    for (const key of authTypesFor(ev, ctx.version)) {
      const current = state.get(key);
      if (current !== undefined && !ctx.isRejected(current)) authState.set(key, ctx.get(current));
    }
    if (ctx.checkAuth(ev, authState, ctx.version).allowed) state.set(stateKeyOf(ev.type, ev.state_key), id);
  }
  return state;
}
