/**
 * The two orderings of state resolution v2: reverse topological power ordering (for power events)
 * and mainline ordering (for everything else).
 */
import type { Ctx } from './context.js';
import { compareIds, isPowerEvent } from './context.js';

/** Binary min-heap; Kahn's algorithm needs "smallest ready vertex" in O(log n). */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * spec: Room Version 2, State resolution "Algorithm" step 1: the power events of the full
 * conflicted set, enlarged with the events of their auth chains that are in the full conflicted
 * set. The walk follows auth edges only into the full conflicted set, as Synapse does, so the
 * selected events and the edges the sort sees are the same set.
 * Returns each selected event with its auth events inside the selection.
 */
export function selectPowerEvents(ctx: Ctx, fullConflicted: ReadonlySet<string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const stack: string[] = [];
  for (const id of fullConflicted) {
    if (isPowerEvent(ctx.get(id))) stack.push(id);
  }
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (graph.has(id)) continue;
    const inSet = ctx.authIds(id).filter((aid) => fullConflicted.has(aid));
    graph.set(id, inSet);
    for (const aid of inSet) if (!graph.has(aid)) stack.push(aid);
  }
  return graph;
}

/**
 * spec: Room Version 2, State resolution "Definitions", "Reverse topological power ordering":
 * Kahn's algorithm over the auth DAG, earliest (fewest auth dependencies) first, choosing among
 * ready events the one whose sender has the greatest power (per its own auth events), then the
 * smallest origin_server_ts, then the smallest event ID.
 * `graph` maps each event to its auth events within the graph. O((V + E) log V).
 */
export function reverseTopologicalPowerSort(ctx: Ctx, graph: ReadonlyMap<string, readonly string[]>): string[] {
  const key = new Map<string, { power: number; ts: number }>();
  const pending = new Map<string, number>();
  const citedBy = new Map<string, string[]>();
  for (const [id, auths] of graph) {
    key.set(id, { power: ctx.senderPower(id), ts: ctx.get(id).origin_server_ts });
    pending.set(id, auths.length);
    for (const aid of auths) {
      let list = citedBy.get(aid);
      if (!list) citedBy.set(aid, (list = []));
      list.push(id);
    }
  }
  const less = (a: string, b: string): boolean => {
    const ka = key.get(a)!;
    const kb = key.get(b)!;
    if (ka.power !== kb.power) return ka.power > kb.power;
    if (ka.ts !== kb.ts) return ka.ts < kb.ts;
    return compareIds(a, b) < 0;
  };
  const ready = new MinHeap<string>(less);
  for (const [id, n] of pending) if (n === 0) ready.push(id);
  const out: string[] = [];
  while (ready.size > 0) {
    const id = ready.pop()!;
    out.push(id);
    for (const parent of citedBy.get(id) ?? []) {
      const n = pending.get(parent)! - 1;
      pending.set(parent, n);
      if (n === 0) ready.push(parent);
    }
  }
  if (out.length !== graph.size) {
    // Only possible with a cyclic auth graph, which hashes make infeasible for honest events.
    throw new Error('state resolution: auth events form a cycle');
  }
  return out;
}

/**
 * spec: Room Version 2, State resolution "Definitions", "Mainline ordering", based on the resolved
 * power levels event `resolvedPl` (undefined when the partial state has none, which makes the
 * mainline empty and every position ∞).
 * Positions are memoised per power levels event, so walking the power-level chains of n events
 * costs O(n + number of distinct power levels events) overall.
 */
export function mainlineSort(ctx: Ctx, eventIds: readonly string[], resolvedPl: string | undefined): string[] {
  if (eventIds.length === 0) return [];
  // Position i of Pᵢ in the mainline [P₀ = resolvedPl, P₁, …].
  const position = new Map<string, number>();
  for (let pl = resolvedPl, i = 0; pl !== undefined && !position.has(pl); i++) {
    position.set(pl, i);
    pl = ctx.authPowerLevels(pl);
  }
  // Mainline position of a power levels event eⱼ reached from some event: its own index if on the
  // mainline, else that of the first mainline event in its power-level ancestry, else ∞.
  const positionOfChain = (start: string | undefined): number => {
    const path: string[] = [];
    let found = Infinity;
    for (let pl = start; pl !== undefined; pl = ctx.authPowerLevels(pl)) {
      const known = position.get(pl);
      if (known !== undefined) {
        found = known;
        break;
      }
      path.push(pl);
    }
    for (const pl of path) position.set(pl, found);
    return found;
  };
  // The list [e₁, …, eₘ] starts at e's auth power levels: e itself is never compared.
  const keyed = eventIds.map((id) => {
    const ev = ctx.get(id);
    return { id, pos: positionOfChain(ctx.authPowerLevels(id)), ts: ev.origin_server_ts };
  });
  keyed.sort((a, b) => {
    // A greater mainline position sorts first (its auth chain rests on an older mainline event).
    if (a.pos !== b.pos) return a.pos > b.pos ? -1 : 1;
    if (a.ts !== b.ts) return a.ts - b.ts;
    return compareIds(a.id, b.id);
  });
  return keyed.map((k) => k.id);
}
