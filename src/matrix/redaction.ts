/**
 * The redaction algorithm, per room version.
 * spec: Room Versions v1 §"Redactions" (v1-v5), v6 (no m.room.aliases), v8 (join_rules `allow`),
 * v9 (member `join_authorised_via_users_server`), v11 §"Redactions" (MSC2176, MSC3821, MSC3989).
 */
import type { JsonObject, JsonValue } from './types.js';
import type { RoomVersion } from './room-versions.js';

// spec: Room Version 11 §"Redactions": the keys every version keeps...
const TOP_LEVEL_KEYS = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'auth_events',
  'origin_server_ts',
];
// ...and the ones only versions 1-10 keep.
const LEGACY_TOP_LEVEL_KEYS = ['origin', 'membership', 'prev_state'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pick(src: Record<string, unknown>, keys: readonly string[], into: Record<string, unknown> = {}): Record<string, unknown> {
  for (const k of keys) {
    if (Object.hasOwn(src, k) && src[k] !== undefined) into[k] = src[k];
  }
  return into;
}

/** The content keys an event type keeps under this room version's redaction rules. */
function redactContent(type: unknown, content: Record<string, unknown>, version: RoomVersion): Record<string, unknown> {
  const v11 = version.updatedRedactionRules;
  switch (type) {
    case 'm.room.member': {
      const out = pick(content, version.restrictedJoinRuleFix ? ['membership', 'join_authorised_via_users_server'] : ['membership']);
      // spec: Room Version 11 §"Redactions": `third_party_invite` survives, reduced to its
      // `signed` key; an object without one stays as `{}` (Synapse and Ruma agree, and the
      // reference hash, so the event ID, depends on it). A non-object value is dropped.
      const tpi = content['third_party_invite'];
      if (v11 && isObject(tpi)) out['third_party_invite'] = Object.hasOwn(tpi, 'signed') ? { signed: tpi['signed'] } : {};
      return out;
    }
    case 'm.room.create':
      return v11 ? { ...content } : pick(content, ['creator']);
    case 'm.room.join_rules':
      return pick(content, version.restrictedJoinRule ? ['join_rule', 'allow'] : ['join_rule']);
    case 'm.room.power_levels':
      return pick(content, [
        'ban',
        'events',
        'events_default',
        'kick',
        'redact',
        'state_default',
        'users',
        'users_default',
        ...(v11 ? ['invite'] : []),
      ]);
    case 'm.room.history_visibility':
      return pick(content, ['history_visibility']);
    case 'm.room.aliases':
      return version.specialCaseAliases ? pick(content, ['aliases']) : {};
    case 'm.room.redaction':
      return v11 ? pick(content, ['redacts']) : {};
    default:
      return {};
  }
}

/**
 * Strips an event down to what its room version's redaction algorithm protects. Works on both the
 * federation and the normalised form (it only removes keys). `unsigned` is stripped like any
 * other unprotected key. Does not mutate the input.
 */
export function redactEvent<T extends object>(event: T, version: RoomVersion): T {
  const src = event as Record<string, unknown>;
  const keys = version.updatedRedactionRules ? TOP_LEVEL_KEYS : [...TOP_LEVEL_KEYS, ...LEGACY_TOP_LEVEL_KEYS];
  const out = pick(src, keys);
  out['content'] = redactContent(src['type'], isObject(src['content']) ? src['content'] : {}, version);
  return out as T;
}

// Per-recipient bookkeeping that is not event content, so a redacted event may keep it when
// served to clients.
const CLIENT_UNSIGNED_KEYS = ['age', 'age_ts', 'transaction_id', 'replaces_state', 'membership'];

/**
 * The redacted form a client sees: the redaction algorithm, plus `event_id` and, in `unsigned`,
 * `redacted_because`. spec: Client-Server API §"Redactions": servers should include the
 * m.room.redaction event under `unsigned` as `redacted_because`.
 */
export function redactEventForClient<T extends object>(event: T, version: RoomVersion, redactedBecause?: JsonObject): T {
  const src = event as Record<string, unknown>;
  const out = redactEvent(event, version) as Record<string, unknown>;
  if (typeof src['event_id'] === 'string') out['event_id'] = src['event_id'];
  const unsigned = isObject(src['unsigned']) ? pick(src['unsigned'], CLIENT_UNSIGNED_KEYS) : {};
  if (redactedBecause !== undefined) unsigned['redacted_because'] = redactedBecause as JsonValue;
  if (Object.keys(unsigned).length > 0) out['unsigned'] = unsigned;
  return out as T;
}
