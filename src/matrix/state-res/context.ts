/**
 * Per-call context shared by the steps of state resolution: event lookup that fails loudly,
 * the auth-event edges of the graph, and memoised per-event facts.
 * A context lives for one resolution only, so its caches never outlive the events they describe.
 */
import type { AuthResult, RoomEvent, StateMap } from '../types.js';
import { stateKeyOf } from '../types.js';
import type { RoomVersion } from '../room-versions.js';
import { compareCodePoints } from '../canonical-json.js';

export type AuthChecker = (event: RoomEvent, authState: StateMap, version: RoomVersion) => AuthResult;
export type PowerLevelOf = (userId: string, state: StateMap, version: RoomVersion) => number;

export interface ResolveOptions {
  /**
   * Whether an event was rejected. Rejected events are never used as auth events during the
   * iterative auth checks (spec: Room Version 2, State resolution "Rejected events").
   * Defaults to "nothing is rejected".
   */
  isRejected?: (eventId: string) => boolean;
  /** Replaces the authorisation rules; for callers that need a different check (and tests). */
  checkAuth?: AuthChecker;
  /**
   * Replaces the sender power level computation of the reverse topological power ordering. It is
   * given a state holding only the power levels and create events among the event's auth events.
   */
  userPowerLevel?: PowerLevelOf;
}

/** Thrown when an event needed by the algorithm is not in the supplied map, so the caller can fetch it. */
export class MissingEventError extends Error {
  constructor(readonly eventId: string) {
    super(`state resolution needs event ${eventId}, which was not supplied`);
    this.name = 'MissingEventError';
  }
}

export const CREATE = 'm.room.create';
export const POWER_LEVELS = 'm.room.power_levels';
export const JOIN_RULES = 'm.room.join_rules';
export const MEMBER = 'm.room.member';
export const PL_KEY = stateKeyOf(POWER_LEVELS, '');

export function requireEvent(events: ReadonlyMap<string, RoomEvent>, id: string): RoomEvent {
  const ev = events.get(id);
  if (!ev) throw new MissingEventError(id);
  return ev;
}

function isCreate(ev: RoomEvent): boolean {
  return ev.type === CREATE && ev.state_key === '';
}

/**
 * The auth-event edges of an event. From room version 12 the create event is never listed in
 * `auth_events`; it is implied by the room ID, which is the create event's ID with `!` for `$`
 * (spec: Room Version 12, Authorisation rules, note on rule 3.2), so it is added back here to keep
 * it in every auth chain and available to the auth checks.
 *
 * Without a version (helpers called by storage), the implied create event is added only if it is
 * present in `events` and really is a create event.
 */
export function authEdges(ev: RoomEvent, events: ReadonlyMap<string, RoomEvent>, version?: RoomVersion): string[] {
  if (isCreate(ev) || !ev.room_id?.startsWith('!')) return ev.auth_events;
  const implied = '$' + ev.room_id.slice(1);
  if (version ? !version.privilegedCreators : events.get(implied)?.type !== CREATE) return ev.auth_events;
  return ev.auth_events.includes(implied) ? ev.auth_events : [...ev.auth_events, implied];
}

export class Ctx {
  readonly checkAuth: AuthChecker;
  readonly userPowerLevel: PowerLevelOf;
  readonly isRejected: (eventId: string) => boolean;
  private readonly edgeCache = new Map<string, string[]>();
  private readonly powerCache = new Map<string, number>();

  constructor(
    readonly version: RoomVersion,
    readonly events: ReadonlyMap<string, RoomEvent>,
    deps: { checkAuth: AuthChecker; userPowerLevel: PowerLevelOf },
    options: ResolveOptions = {},
  ) {
    this.checkAuth = options.checkAuth ?? deps.checkAuth;
    this.userPowerLevel = options.userPowerLevel ?? deps.userPowerLevel;
    this.isRejected = options.isRejected ?? (() => false);
  }

  get(id: string): RoomEvent {
    return requireEvent(this.events, id);
  }

  authIds(id: string): string[] {
    let ids = this.edgeCache.get(id);
    if (!ids) {
      ids = authEdges(this.get(id), this.events, this.version);
      this.edgeCache.set(id, ids);
    }
    return ids;
  }

  /** The `m.room.power_levels` event (state key "") among the auth events of `id`, if any. */
  authPowerLevels(id: string): string | undefined {
    for (const aid of this.authIds(id)) {
      const a = this.get(aid);
      if (a.type === POWER_LEVELS && a.state_key === '') return aid;
    }
    return undefined;
  }

  /**
   * Power level of the sender of `id` "when looking at their respective auth_events"
   * (spec: Room Version 2, State resolution "Reverse topological power ordering" rule 1).
   * A user's power level is a function of the power levels and create events alone, so it is
   * memoised per (sender, power levels event, create event): a thousand bans by one admin under
   * one power levels event cost one computation, which matters when `users` is large.
   */
  senderPower(id: string): number {
    const ev = this.get(id);
    let pl: RoomEvent | undefined;
    let create: RoomEvent | undefined;
    for (const aid of this.authIds(id)) {
      const a = this.get(aid);
      if (a.state_key !== '') continue;
      if (a.type === POWER_LEVELS) pl = a;
      else if (a.type === CREATE) create = a;
    }
    const memoKey = `${ev.sender}\u0000${pl?.event_id ?? ''}\u0000${create?.event_id ?? ''}`;
    let level = this.powerCache.get(memoKey);
    if (level === undefined) {
      const state: StateMap = new Map();
      if (pl) state.set(PL_KEY, pl);
      if (create) state.set(stateKeyOf(CREATE, ''), create);
      level = this.userPowerLevel(ev.sender, state, this.version);
      this.powerCache.set(memoKey, level);
    }
    return level;
  }
}

/**
 * spec: Room Version 2, State resolution "Definitions", "Power events": power levels, join rules,
 * and kicks/bans (a leave or ban whose sender is not its target). The spec names the types only;
 * as Synapse and Ruma do (whose results a room must converge with), the create event counts too
 * and the first three need the empty state key.
 */
export function isPowerEvent(ev: RoomEvent): boolean {
  if (ev.state_key === undefined) return false;
  if (ev.type === POWER_LEVELS || ev.type === JOIN_RULES || ev.type === CREATE) return ev.state_key === '';
  if (ev.type !== MEMBER) return false;
  const membership = ev.content['membership'];
  return (membership === 'leave' || membership === 'ban') && ev.sender !== ev.state_key;
}

/**
 * Total order on event IDs by Unicode code point, as Synapse compares them (spec: Room Version 2,
 * State resolution "Definitions" compares `event_id`s as strings). It differs from JavaScript's
 * code unit order only for the server-chosen IDs of room versions 1-2 beyond U+D7FF.
 */
export function compareIds(a: string, b: string): number {
  return a === b ? 0 : compareCodePoints(a, b) < 0 ? -1 : 1;
}
