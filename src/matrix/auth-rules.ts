/**
 * The authorisation rules for room versions 1-12 (spec: Room Versions, "Authorisation rules").
 *
 * Rule numbers cited are those of room version 12 unless a comment says otherwise. v6-v11 number
 * every rule after rule 1 one lower (v12 inserted rule 2 on the room ID, so v12 rule 5 is their
 * rule 4). v1-v5 are one lower for v12 rules 3-4, have m.room.aliases as rule 4, and match v12
 * from rule 5 on.
 *
 * checkAuth is used for three different states (spec: Server-Server API, "Checks performed on
 * receipt of a PDU", steps 4-6): the event's auth events (build the map with buildAuthState
 * after checkAuthEventsList), the state before the event, and the current state.
 */

import { createEventOf, powerLevelsFromState, requiredPowerLevel, userPowerLevel } from './power-levels.js';
import type { RoomVersion } from './room-versions.js';
import type { AuthResult, RoomEvent, StateMap } from './types.js';
import { ALLOW, domainOf, membershipOf, reject } from './auth/common.js';
import { checkCreateEvent, createEventMatchesRoom } from './auth/create.js';
import { checkMembership } from './auth/membership.js';
import { checkPowerLevelsEvent } from './auth/power-levels-change.js';

export { authEventsSelection, buildAuthState, checkAuthEventsList, type AuthSelectable } from './auth/selection.js';

export function checkAuth(event: RoomEvent, authState: StateMap, version: RoomVersion): AuthResult {
  // spec: Room Version 12, auth rule 1
  if (event.type === 'm.room.create') return checkCreateEvent(event, version);

  // spec: Room Version 11, auth rule 2.4 (no create event) and Room Version 12, auth rule 2
  // (v12: the caller supplies the create event named by the room ID).
  const create = createEventOf(authState);
  if (!create) return reject('no m.room.create event in the auth state');
  if (!createEventMatchesRoom(create, event, version)) return reject('m.room.create belongs to another room');

  // spec: Room Version 12, auth rule 3.5: power granted in one room must not count in another.
  for (const ev of authState.values()) {
    if (ev !== create && ev.room_id !== event.room_id) {
      return reject(`auth state event ${ev.event_id} belongs to another room`);
    }
  }

  // spec: Room Version 12, auth rule 4
  if (create.content['m.federate'] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return reject('room is not federated and the sender is from another server');
  }

  // spec: Room Version 5, auth rule 4 (m.room.aliases special case, v1-v5 only)
  if (version.specialCaseAliases && event.type === 'm.room.aliases') {
    if (event.state_key === undefined) return reject('m.room.aliases must have a state_key');
    if (event.state_key !== domainOf(event.sender)) return reject("m.room.aliases state_key is not the sender's domain");
    return ALLOW;
  }

  // spec: Room Version 12, auth rule 5
  if (event.type === 'm.room.member') return checkMembership(event, authState, create, version);

  // spec: Room Version 12, auth rule 6
  if (membershipOf(authState, event.sender) !== 'join') return reject('sender is not joined to the room');

  const levels = powerLevelsFromState(authState, version);
  const senderLevel = userPowerLevel(event.sender, authState, version);

  // spec: Room Version 12, auth rule 7
  if (event.type === 'm.room.third_party_invite') {
    return senderLevel >= levels.invite ? ALLOW : reject('sender lacks the invite level');
  }

  // spec: Room Version 12, auth rule 8
  const isState = event.state_key !== undefined;
  const required = requiredPowerLevel(levels, event.type, isState);
  if (required > senderLevel) {
    return reject(`sender's level ${senderLevel} is below the ${required} needed for ${event.type}`);
  }

  // spec: Room Version 12, auth rule 9
  if (event.state_key !== undefined && event.state_key.startsWith('@') && event.state_key !== event.sender) {
    return reject('state_key starting with @ must be the sender');
  }

  // spec: Room Version 12, auth rule 10
  if (event.type === 'm.room.power_levels') return checkPowerLevelsEvent(event, authState, version);

  // spec: Room Version 1, auth rule 11 (v1-v2 only, the versions whose event IDs carry a domain).
  // Later versions leave redactions to the "Handling redactions" checks at redaction time.
  if (version.eventFormat === 1 && event.type === 'm.room.redaction') {
    if (senderLevel >= levels.redact) return ALLOW;
    if (typeof event.redacts === 'string' && domainOf(event.redacts) === domainOf(event.event_id)) return ALLOW;
    return reject('sender lacks the redact level and the redacted event is from another server');
  }

  // spec: Room Version 12, auth rule 11
  return ALLOW;
}
