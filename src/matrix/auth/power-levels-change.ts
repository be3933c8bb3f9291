/**
 * Authorisation of m.room.power_levels events (spec: Room Version 12, auth rule 10; rule 9 in
 * v6-v11, rule 10 in v1-v5).
 */

import {
  POWER_LEVEL_SCALAR_KEYS,
  creatorsOf,
  parsePowerLevelValue,
  powerLevelsEventOf,
  userPowerLevel,
} from '../power-levels.js';
import type { RoomVersion } from '../room-versions.js';
import type { AuthResult, JsonObject, JsonValue, RoomEvent, StateMap } from '../types.js';
import { isValidUserId } from '../ids.js';
import { ALLOW, isObject, reject } from './common.js';

function isStrictInt(v: JsonValue | undefined): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/**
 * spec: Room Versions 1-5 §"m.room.power_levels events accept values as floats": a value outside
 * binary64 (±Infinity once parsed), Infinity or NaN rejects the event. Later versions refuse every
 * float through canonical JSON already.
 */
function rejectNonFinite(content: JsonObject): AuthResult {
  const bad = (v: JsonValue | undefined): boolean => typeof v === 'number' && !Number.isFinite(v);
  for (const key of POWER_LEVEL_SCALAR_KEYS) {
    if (bad(content[key])) return reject(`${key} is not a finite number`);
  }
  for (const key of ['events', 'notifications', 'users'] as const) {
    const map = content[key];
    if (!isObject(map)) continue;
    for (const [k, v] of Object.entries(map)) if (bad(v)) return reject(`${key}.${k} is not a finite number`);
  }
  return ALLOW;
}

function validateShape(content: JsonObject, version: RoomVersion): AuthResult {
  if (!version.strictCanonicalJson) {
    const finite = rejectNonFinite(content);
    if (!finite.allowed) return finite;
  }
  if (version.enforceIntPowerLevels) {
    // spec: Room Version 12, auth rule 10.1 (added in v10)
    for (const key of POWER_LEVEL_SCALAR_KEYS) {
      if (Object.hasOwn(content, key) && !isStrictInt(content[key])) return reject(`${key} must be an integer`);
    }
    // spec: Room Version 12, auth rule 10.2 (added in v10)
    for (const key of ['events', 'notifications'] as const) {
      if (!Object.hasOwn(content, key)) continue;
      const map = content[key];
      if (!isObject(map) || !Object.values(map).every(isStrictInt)) {
        return reject(`${key} must be an object of integers`);
      }
    }
  }
  // spec: Room Version 12, auth rule 10.3; up to v9 the values may also be integer strings
  // (spec: Room Version 9, auth rule 9.1), which parsePowerLevelValue accepts for those versions.
  if (Object.hasOwn(content, 'users')) {
    const users = content['users'];
    if (!isObject(users)) return reject('users must be an object');
    for (const [userId, level] of Object.entries(users)) {
      if (!isValidUserId(userId)) return reject(`users has an invalid user ID ${userId}`);
      const ok = version.enforceIntPowerLevels ? isStrictInt(level) : parsePowerLevelValue(level, version) !== undefined;
      if (!ok) return reject(`users has an invalid level for ${userId}`);
    }
  }
  return ALLOW;
}

function levelMap(content: JsonObject, key: string, version: RoomVersion): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  const map = content[key];
  if (isObject(map)) for (const [k, v] of Object.entries(map)) out.set(k, parsePowerLevelValue(v, version));
  return out;
}

export function checkPowerLevelsEvent(event: RoomEvent, authState: StateMap, version: RoomVersion): AuthResult {
  const shape = validateShape(event.content, version);
  if (!shape.allowed) return shape;

  if (version.privilegedCreators) {
    // spec: Room Version 12, auth rule 10.4 (MSC4289): creators' power is not PL-controlled.
    const users = event.content['users'];
    if (isObject(users)) {
      const listed = creatorsOf(authState, version).find((c) => Object.hasOwn(users, c));
      if (listed !== undefined) return reject(`room creator ${listed} may not appear in users`);
    }
  }

  // spec: Room Version 12, auth rule 10.5
  const previous = powerLevelsEventOf(authState);
  if (!previous) return ALLOW;

  const senderLevel = userPowerLevel(event.sender, authState, version);
  const oldC = previous.content;
  const newC = event.content;

  // spec: Room Version 12, auth rule 10.6. Values are compared as the room version reads them,
  // so "50" → 50 in v1-v9 is no change.
  for (const key of POWER_LEVEL_SCALAR_KEYS) {
    const before = parsePowerLevelValue(oldC[key], version);
    const after = parsePowerLevelValue(newC[key], version);
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) return reject(`cannot change ${key} from above own level`);
    if (after !== undefined && after > senderLevel) return reject(`cannot set ${key} above own level`);
  }

  // spec: Room Version 12, auth rules 10.7 and 10.8; `notifications` only from v6.
  const mapKeys = version.limitNotificationsPowerLevels ? ['events', 'notifications'] : ['events'];
  for (const key of mapKeys) {
    const verdict = checkMapChange(levelMap(oldC, key, version), levelMap(newC, key, version), senderLevel, key);
    if (!verdict.allowed) return verdict;
  }

  // spec: Room Version 12, auth rules 10.9 and 10.10
  const oldUsers = levelMap(oldC, 'users', version);
  const newUsers = levelMap(newC, 'users', version);
  for (const [userId, before] of oldUsers) {
    const after = newUsers.get(userId);
    if (before === after && newUsers.has(userId)) continue;
    if (userId !== event.sender && before !== undefined && before >= senderLevel) {
      return reject(`cannot change the level of ${userId}, who is not below the sender`);
    }
  }
  for (const [userId, after] of newUsers) {
    if (oldUsers.has(userId) && oldUsers.get(userId) === after) continue;
    if (after !== undefined && after > senderLevel) return reject(`cannot give ${userId} a level above own`);
  }
  // spec: Room Version 12, auth rule 10.11
  return ALLOW;
}

function checkMapChange(
  before: Map<string, number | undefined>,
  after: Map<string, number | undefined>,
  senderLevel: number,
  name: string,
): AuthResult {
  for (const [k, old] of before) {
    if (after.has(k) && after.get(k) === old) continue;
    if (old !== undefined && old > senderLevel) return reject(`cannot change ${name}.${k} from above own level`);
  }
  for (const [k, now] of after) {
    if (before.has(k) && before.get(k) === now) continue;
    if (now !== undefined && now > senderLevel) return reject(`cannot set ${name}.${k} above own level`);
  }
  return ALLOW;
}
