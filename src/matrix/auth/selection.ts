/**
 * Which state an event is authorised against (spec: Server-Server API, "Auth events selection")
 * and the checks on an event's auth_events list itself (spec: Room Version 12, auth rule 3;
 * rule 2 in v1-v11).
 */

import type { RoomVersion } from '../room-versions.js';
import { stateKeyOf, type AuthResult, type JsonObject, type RoomEvent, type StateKey, type StateMap } from '../types.js';
import { ALLOW, isObject, reject } from './common.js';

export interface AuthSelectable {
  type: string;
  state_key?: string;
  sender: string;
  content: JsonObject;
}

/**
 * The state keys whose current events form `auth_events` of a new event.
 *
 * In v12 the create event is never selected (spec: Room Version 12, auth rules note and rule
 * 3.2): the room ID names it. Callers authorising a v12 event must therefore look the create
 * event up by the room ID (`$` + room_id.slice(1)) and add it to the StateMap they pass to
 * checkAuth themselves; buildAuthState does that when given the create event.
 */
export function authEventsSelection(event: AuthSelectable, version: RoomVersion): StateKey[] {
  // spec: Server-Server API, "Auth events selection": the create event's auth_events are empty.
  if (event.type === 'm.room.create') return [];
  const keys: StateKey[] = [];
  const add = (k: StateKey): void => {
    if (!keys.includes(k)) keys.push(k);
  };
  if (!version.privilegedCreators) add(stateKeyOf('m.room.create', ''));
  add(stateKeyOf('m.room.power_levels', ''));
  add(stateKeyOf('m.room.member', event.sender));
  if (event.type === 'm.room.member' && event.state_key !== undefined) {
    add(stateKeyOf('m.room.member', event.state_key));
    const membership = event.content['membership'];
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      add(stateKeyOf('m.room.join_rules', ''));
    }
    if (membership === 'invite') {
      const tpi = event.content['third_party_invite'];
      const signed = isObject(tpi) ? tpi['signed'] : undefined;
      const token = isObject(signed) ? signed['token'] : undefined;
      if (typeof token === 'string') add(stateKeyOf('m.room.third_party_invite', token));
    }
    const authoriser = event.content['join_authorised_via_users_server'];
    if (membership === 'join' && version.restrictedJoinRule && typeof authoriser === 'string') {
      add(stateKeyOf('m.room.member', authoriser));
    }
  }
  return keys;
}

/**
 * The auth-events checks that need the list form of auth_events, which a StateMap cannot
 * express: duplicates, unexpected entries, other rooms, and (v1-v11) a missing create event.
 * Whether any entry was itself rejected (rule 3.3 / 2.3) is known only to the caller.
 * `authEvents` are the events named by `event.auth_events`, in any order.
 */
export function checkAuthEventsList(event: RoomEvent, authEvents: readonly RoomEvent[], version: RoomVersion): AuthResult {
  if (event.type === 'm.room.create') {
    return authEvents.length === 0 ? ALLOW : reject('m.room.create must have no auth_events');
  }
  const expected = new Set(authEventsSelection(event, version));
  const seen = new Set<StateKey>();
  for (const ev of authEvents) {
    if (ev.state_key === undefined) return reject(`auth event ${ev.event_id} is not a state event`);
    const key = stateKeyOf(ev.type, ev.state_key);
    // spec: Room Version 12, auth rule 3.1
    if (seen.has(key)) return reject(`duplicate auth events for ${ev.type}/${ev.state_key}`);
    seen.add(key);
    // spec: Room Version 12, auth rule 3.2 (in v12 this refuses a listed create event)
    if (!expected.has(key)) return reject(`unexpected auth event ${ev.type}/${ev.state_key}`);
    // spec: Room Version 12, auth rule 3.5
    if (ev.room_id !== event.room_id) return reject(`auth event ${ev.event_id} belongs to another room`);
  }
  // spec: Room Version 11, auth rule 2.4
  if (!version.privilegedCreators && !seen.has(stateKeyOf('m.room.create', ''))) {
    return reject('no m.room.create among auth_events');
  }
  return ALLOW;
}

/**
 * The StateMap checkAuth wants, built from an event's auth events. For v12 pass the room's
 * create event (found through the room ID), since auth_events never lists it.
 */
export function buildAuthState(authEvents: readonly RoomEvent[], createEvent?: RoomEvent): StateMap {
  const state: StateMap = new Map();
  for (const ev of authEvents) {
    if (ev.state_key !== undefined) state.set(stateKeyOf(ev.type, ev.state_key), ev);
  }
  if (createEvent) state.set(stateKeyOf('m.room.create', ''), createEvent);
  return state;
}
