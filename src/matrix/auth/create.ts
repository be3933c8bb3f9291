/**
 * Authorisation of the m.room.create event itself and of the link between any other event and
 * its room's create event.
 */

import { getRoomVersion, type RoomVersion } from '../room-versions.js';
import type { AuthResult, RoomEvent } from '../types.js';
import { isValidUserId } from '../ids.js';
import { ALLOW, domainOf, reject } from './common.js';

/** spec: Room Version 12, auth rule 1 (and rule 1 of every earlier version). */
export function checkCreateEvent(event: RoomEvent, version: RoomVersion): AuthResult {
  // spec: Room Version 12, auth rule 1.1
  if (event.prev_events.length > 0) return reject('m.room.create must not have prev_events');

  if (version.privilegedCreators) {
    // spec: Room Version 12, auth rule 1.2: the room ID is derived from this event's hash. The
    // derived ID itself is what the server puts on the normalised event; no PDU can carry it,
    // since the event ID hashes the PDU with its room_id.
    if (event.room_id !== undefined && event.room_id !== derivedRoomId(event)) {
      return reject('m.room.create must not have a room_id in this room version');
    }
  } else {
    // spec: Room Version 11, auth rule 1.2
    if (typeof event.room_id !== 'string' || domainOf(event.room_id) !== domainOf(event.sender)) {
      return reject('m.room.create room_id domain does not match sender domain');
    }
  }

  // spec: Room Version 12, auth rule 1.3. Absent means "1" (spec: m.room.create schema).
  const roomVersion = event.content['room_version'];
  if (roomVersion !== undefined && (typeof roomVersion !== 'string' || !getRoomVersion(roomVersion))) {
    return reject('m.room.create has an unrecognised room_version');
  }

  if (version.privilegedCreators) {
    // spec: Room Version 12, auth rule 1.4 (MSC4289)
    const extra = event.content['additional_creators'];
    if (extra !== undefined) {
      if (!Array.isArray(extra) || !extra.every((u) => typeof u === 'string' && isValidUserId(u))) {
        return reject('additional_creators must be an array of valid user IDs');
      }
    }
  }

  // spec: Room Version 10, auth rule 1.4; dropped in Room Version 11 (creator is the sender).
  if (!version.implicitRoomCreator && !Object.hasOwn(event.content, 'creator')) {
    return reject('m.room.create has no creator');
  }
  return ALLOW;
}

/** spec: Room Version 12 §"Event format": the room ID is the create event's ID with `!` for `$`. */
function derivedRoomId(create: RoomEvent): string | undefined {
  return create.event_id.startsWith('$') ? `!${create.event_id.slice(1)}` : undefined;
}

/**
 * Whether `create` is the create event of the room `event` belongs to. Up to v11 both carry the
 * same room_id; in v12 the room ID is the create event's ID with the `!` sigil (spec: Room
 * Version 12, auth rule 2).
 */
export function createEventMatchesRoom(create: RoomEvent, event: RoomEvent, version: RoomVersion): boolean {
  if (version.privilegedCreators) return derivedRoomId(create) !== undefined && event.room_id === derivedRoomId(create);
  return create.room_id === event.room_id;
}
