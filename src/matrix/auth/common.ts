/**
 * Small helpers shared by the authorisation rule modules.
 */

import { stateKeyOf, type AuthResult, type JsonObject, type JsonValue, type StateMap } from '../types.js';

export const ALLOW: AuthResult = { allowed: true };

export function reject(reason: string): AuthResult {
  return { allowed: false, reason };
}

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The server name part of a user ID, room ID (v1-v11) or event ID (v1-v2). Server names may
 * carry a port, so everything after the first colon is the domain (spec: Appendices, "Server Name").
 */
export function domainOf(id: string): string {
  const i = id.indexOf(':');
  return i < 0 ? '' : id.slice(i + 1);
}

/** The `membership` of a user's m.room.member event in `state`, or undefined when there is none. */
export function membershipOf(state: StateMap, userId: string): string | undefined {
  const ev = state.get(stateKeyOf('m.room.member', userId));
  const m = ev?.content['membership'];
  return typeof m === 'string' ? m : undefined;
}
