/**
 * State resolution v1 (room version 1, spec: Room Version 1 "State resolution").
 * Known to reset state (the reason v2 exists); kept only so room version 1 rooms can be read.
 * Where the spec prose is silent (no conflicting event passes auth), this follows what Synapse
 * does so Veche agrees with the servers that still hold such rooms.
 */
import { createHash } from 'node:crypto';
import type { StateIdMap, StateKey, StateMap } from '../types.js';
import { splitStateKey } from '../types.js';
import type { Ctx } from './context.js';
import { JOIN_RULES, MEMBER, PL_KEY } from './context.js';
import { authTypesFor } from './iterative.js';

/** A conflict is a key with different event IDs in different sets; a key some sets lack is not one. */
function separateV1(stateSets: readonly StateIdMap[]): { unconflicted: StateIdMap; conflicted: Map<StateKey, string[]> } {
  const values = new Map<StateKey, Set<string>>();
  for (const set of stateSets) {
    for (const [key, id] of set) {
      let ids = values.get(key);
      if (!ids) values.set(key, (ids = new Set()));
      ids.add(id);
    }
  }
  const unconflicted: StateIdMap = new Map();
  const conflicted = new Map<StateKey, string[]>();
  for (const [key, ids] of values) {
    if (ids.size === 1) unconflicted.set(key, ids.values().next().value!);
    else conflicted.set(key, [...ids]);
  }
  return { unconflicted, conflicted };
}

export function resolveV1(ctx: Ctx, stateSets: readonly StateIdMap[]): StateIdMap {
  const { unconflicted, conflicted } = separateV1(stateSets);
  const sha1 = new Map<string, string>();
  const hashOf = (id: string): string => {
    let h = sha1.get(id);
    if (h === undefined) sha1.set(id, (h = createHash('sha1').update(id, 'utf8').digest('hex')));
    return h;
  };
  // Highest depth first, then lowest sha1(event_id): the preference order for "normal" conflicts.
  const preferred = (ids: readonly string[]): string[] =>
    [...ids].sort((a, b) => {
      const da = ctx.get(a).depth;
      const db = ctx.get(b).depth;
      if (da !== db) return db - da;
      const ha = hashOf(a);
      const hb = hashOf(b);
      return ha < hb ? -1 : ha > hb ? 1 : 0;
    });

  const r: StateIdMap = new Map(unconflicted);
  const allowedIn = (state: StateIdMap, id: string): boolean => {
    const ev = ctx.get(id);
    const authState: StateMap = new Map();
    for (const key of authTypesFor(ev, ctx.version)) {
      const cur = state.get(key);
      if (cur !== undefined) authState.set(key, ctx.get(cur));
    }
    return ctx.checkAuth(ev, authState, ctx.version).allowed;
  };

  // spec: Room Version 1 "State resolution": for an auth-affecting key, walk the events from the
  // lowest depth (highest sha1 first), applying each while the next is allowed; stop at the first
  // that is not.
  const resolveAuthKey = (key: StateKey, ids: readonly string[], base: StateIdMap): string => {
    const ascending = preferred(ids).reverse();
    const state: StateIdMap = new Map(base);
    let chosen = ascending[0]!;
    for (const id of ascending.slice(1)) {
      state.set(key, chosen);
      if (!allowedIn(state, id)) break;
      chosen = id;
    }
    return chosen;
  };

  const resolved = new Map<StateKey, string>();
  // Power levels first, then join rules, then memberships, each pass against the result so far.
  const passes: ((key: StateKey) => boolean)[] = [
    (key) => key === PL_KEY,
    (key) => splitStateKey(key)[0] === JOIN_RULES,
    (key) => splitStateKey(key)[0] === MEMBER,
  ];
  for (const inPass of passes) {
    const base = new Map(r);
    for (const [key, ids] of conflicted) {
      if (!resolved.has(key) && inPass(key)) resolved.set(key, resolveAuthKey(key, ids, base));
    }
    for (const [key, id] of resolved) r.set(key, id);
  }

  // spec: Room Version 1 "State resolution" last bullet: other keys take the highest depth,
  // lowest sha1 event that passes auth in R; if none passes, Synapse keeps the least preferred.
  for (const [key, ids] of conflicted) {
    if (resolved.has(key)) continue;
    const order = preferred(ids);
    resolved.set(key, order.find((id) => allowedIn(r, id)) ?? order[order.length - 1]!);
  }
  for (const [key, id] of resolved) r.set(key, id);
  return r;
}
