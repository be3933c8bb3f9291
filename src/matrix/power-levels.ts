/**
 * Power levels as the authorisation rules, the client API and push rules see them.
 * Pure: reads a StateMap, never the store.
 */

import type { RoomVersion } from './room-versions.js';
import { stateKeyOf, type JsonObject, type JsonValue, type RoomEvent, type StateMap } from './types.js';

export interface PowerLevels {
  /** Explicit levels from the m.room.power_levels event. In v12 creators never appear here: see userPowerLevel. */
  users: Record<string, number>;
  users_default: number;
  events: Record<string, number>;
  events_default: number;
  state_default: number;
  ban: number;
  kick: number;
  invite: number;
  redact: number;
  notifications: Record<string, number>;
}

export const POWER_LEVEL_SCALAR_KEYS = [
  'users_default',
  'events_default',
  'state_default',
  'ban',
  'kick',
  'invite',
  'redact',
] as const;
export type PowerLevelScalarKey = (typeof POWER_LEVEL_SCALAR_KEYS)[number];

// spec: Server-Server API "Definitions" (invite 0; kick, ban, redact 50) and the
// m.room.power_levels schema (state_default 50 and events_default 0 whether or not the event
// exists; the old "state_default is 0 without a power levels event" text was removed in
// matrix-spec#1479 because it let any member take over the room).
const DEFAULTS: Record<PowerLevelScalarKey, number> = {
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  kick: 50,
  invite: 0,
  redact: 50,
};

/** spec: m.room.power_levels schema, `notifications.room` defaults to 50. */
const DEFAULT_NOTIFICATION_LEVEL = 50;

// spec: Room Versions 1-9, "m.room.power_levels events accept values as strings": optional
// surrounding whitespace, one optional sign, base-10 digits (leading zeroes allowed).
const STRINGY_INT = /^\s*[+-]?[0-9]+\s*$/;

/**
 * A power level value as the room version reads it, or undefined when the value is not a
 * power level at all. v10+ (enforceIntPowerLevels) takes integers only; older versions also
 * take integer strings, and v1-v5 (no strict canonical JSON) take floats, truncated.
 */
export function parsePowerLevelValue(value: JsonValue | undefined, version: RoomVersion): number | undefined {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    // spec: Room Versions 1-5, "m.room.power_levels events accept values as floats"
    if (!version.strictCanonicalJson && Number.isFinite(value)) return Math.trunc(value);
    return undefined;
  }
  if (typeof value === 'string' && !version.enforceIntPowerLevels && STRINGY_INT.test(value)) {
    const n = Number.parseInt(value.trim(), 10);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseLevelMap(value: JsonValue | undefined, version: RoomVersion): Record<string, number> {
  const out: Record<string, number> = {};
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    const n = parsePowerLevelValue(v, version);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

/**
 * Reads power levels leniently from an m.room.power_levels content: values the room version
 * would not accept fall back to defaults, because the auth rules (not this reader) are what
 * refuse malformed power level events.
 */
export function powerLevelsFromContent(content: JsonObject, version: RoomVersion): PowerLevels {
  const scalar = (key: PowerLevelScalarKey): number => parsePowerLevelValue(content[key], version) ?? DEFAULTS[key];
  return {
    users: parseLevelMap(content['users'], version),
    users_default: scalar('users_default'),
    events: parseLevelMap(content['events'], version),
    events_default: scalar('events_default'),
    state_default: scalar('state_default'),
    ban: scalar('ban'),
    kick: scalar('kick'),
    invite: scalar('invite'),
    redact: scalar('redact'),
    notifications: parseLevelMap(content['notifications'], version),
  };
}

export function createEventOf(state: StateMap): RoomEvent | undefined {
  return state.get(stateKeyOf('m.room.create', ''));
}

export function powerLevelsEventOf(state: StateMap): RoomEvent | undefined {
  return state.get(stateKeyOf('m.room.power_levels', ''));
}

/**
 * The room creators (spec: Room Version 12, "room creators"): up to v10 the create event's
 * `content.creator`; v11 its sender (spec: Room Version 11, "Remove the creator property");
 * v12 its sender plus `content.additional_creators` (MSC4289). Empty without a create event.
 */
export function creatorsOf(state: StateMap, version: RoomVersion): string[] {
  const create = createEventOf(state);
  if (!create) return [];
  return creatorsOfCreateEvent(create, version);
}

export function creatorsOfCreateEvent(create: RoomEvent, version: RoomVersion): string[] {
  if (!version.implicitRoomCreator) {
    const creator = create.content['creator'];
    return typeof creator === 'string' ? [creator] : [];
  }
  const creators = [create.sender];
  if (version.privilegedCreators) {
    const extra = create.content['additional_creators'];
    if (Array.isArray(extra)) {
      for (const u of extra) if (typeof u === 'string' && !creators.includes(u)) creators.push(u);
    }
  }
  return creators;
}

/**
 * The power levels in force in `state`. Without an m.room.power_levels event every level takes
 * its default and, before v12, the creator has 100 (spec: m.room.power_levels schema,
 * `users_default` note). In v12 creators are not put in `users`: userPowerLevel gives them
 * Infinity whether or not a power levels event exists (spec: Room Version 12, MSC4289).
 */
export function powerLevelsFromState(state: StateMap, version: RoomVersion): PowerLevels {
  const pl = powerLevelsEventOf(state);
  if (pl) return powerLevelsFromContent(pl.content, version);
  const levels = powerLevelsFromContent({}, version);
  if (!version.privilegedCreators) {
    for (const creator of creatorsOf(state, version)) levels.users[creator] = 100;
  }
  return levels;
}

/** A user's level in `levels`, ignoring v12 creator privilege (use userPowerLevel for that). */
export function levelOfUser(levels: PowerLevels, userId: string): number {
  return Object.hasOwn(levels.users, userId) ? levels.users[userId]! : levels.users_default;
}

/** spec: Room Version 12 auth rules note, "The power level of room creators is infinitely high". */
export function userPowerLevel(userId: string, state: StateMap, version: RoomVersion): number {
  if (version.privilegedCreators && creatorsOf(state, version).includes(userId)) return Infinity;
  return levelOfUser(powerLevelsFromState(state, version), userId);
}

/** spec: Server-Server API "Definitions", Required Power Level. */
export function requiredPowerLevel(levels: PowerLevels, eventType: string, isState: boolean): number {
  if (Object.hasOwn(levels.events, eventType)) return levels.events[eventType]!;
  return isState ? levels.state_default : levels.events_default;
}

/**
 * spec: Client-Server API m.room.power_levels, `notifications` (`room` defaults to 50). Other
 * keys have no spec default; 50 errs towards not letting everyone notify (Synapse does the same).
 */
export function notificationPowerLevel(levels: PowerLevels, key = 'room'): number {
  if (Object.hasOwn(levels.notifications, key)) return levels.notifications[key]!;
  return DEFAULT_NOTIFICATION_LEVEL;
}
