/**
 * The room versions Veche knows and how each differs (spec: Room Versions, v1.19).
 * Every rule that depends on the version asks a flag here instead of comparing version strings.
 */

export interface RoomVersion {
  id: string;
  stable: boolean;
  /**
   * 1: v1-v2, `event_id` is server-generated and part of the PDU, prev/auth events are [id, hashes] pairs.
   * 2: v3, event ID is `$` + standard unpadded base64 of the reference hash.
   * 3: v4+, event ID is `$` + URL-safe unpadded base64 of the reference hash.
   */
  eventFormat: 1 | 2 | 3;
  stateResolution: 'v1' | 'v2' | 'v2.1';
  /** v5+: signing keys must be valid at origin_server_ts. */
  enforceKeyValidity: boolean;
  /** v1-v5: m.room.aliases has a special auth rule and survives redaction with `aliases`. */
  specialCaseAliases: boolean;
  /** v6+: floats and out-of-range integers make an event invalid. */
  strictCanonicalJson: boolean;
  /** v6+: the `notifications` key of power levels is checked when power levels change. */
  limitNotificationsPowerLevels: boolean;
  /** v7+: the `knock` join rule and membership. */
  knockJoinRule: boolean;
  /** v8+: the `restricted` join rule; redaction keeps `allow` in m.room.join_rules. */
  restrictedJoinRule: boolean;
  /** v9+: redaction keeps `join_authorised_via_users_server` in m.room.member. */
  restrictedJoinRuleFix: boolean;
  /** v10+: the `knock_restricted` join rule. */
  knockRestrictedJoinRule: boolean;
  /** v10+: power level values must be integers, not strings. */
  enforceIntPowerLevels: boolean;
  /** v11+: no `creator` in m.room.create content; the sender is the creator. */
  implicitRoomCreator: boolean;
  /** v11+: the updated redaction algorithm (MSC2176, MSC3821, MSC3989); `redacts` moves into content. */
  updatedRedactionRules: boolean;
  /**
   * v12+: the room ID is the create event's reference hash, the create event has no room_id,
   * creators (sender + `additional_creators`) have infinite power (MSC4289, MSC4291).
   */
  privilegedCreators: boolean;
}

const base: Omit<RoomVersion, 'id'> = {
  stable: true,
  eventFormat: 1,
  stateResolution: 'v1',
  enforceKeyValidity: false,
  specialCaseAliases: true,
  strictCanonicalJson: false,
  limitNotificationsPowerLevels: false,
  knockJoinRule: false,
  restrictedJoinRule: false,
  restrictedJoinRuleFix: false,
  knockRestrictedJoinRule: false,
  enforceIntPowerLevels: false,
  implicitRoomCreator: false,
  updatedRedactionRules: false,
  privilegedCreators: false,
};

const v1: RoomVersion = { ...base, id: '1' };
const v2: RoomVersion = { ...v1, id: '2', stateResolution: 'v2' };
const v3: RoomVersion = { ...v2, id: '3', eventFormat: 2 };
const v4: RoomVersion = { ...v3, id: '4', eventFormat: 3 };
const v5: RoomVersion = { ...v4, id: '5', enforceKeyValidity: true };
const v6: RoomVersion = {
  ...v5,
  id: '6',
  specialCaseAliases: false,
  strictCanonicalJson: true,
  limitNotificationsPowerLevels: true,
};
const v7: RoomVersion = { ...v6, id: '7', knockJoinRule: true };
const v8: RoomVersion = { ...v7, id: '8', restrictedJoinRule: true };
const v9: RoomVersion = { ...v8, id: '9', restrictedJoinRuleFix: true };
const v10: RoomVersion = { ...v9, id: '10', knockRestrictedJoinRule: true, enforceIntPowerLevels: true };
const v11: RoomVersion = { ...v10, id: '11', implicitRoomCreator: true, updatedRedactionRules: true };
const v12: RoomVersion = { ...v11, id: '12', stateResolution: 'v2.1', privilegedCreators: true };

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((v) => [v.id, v]),
);

export const DEFAULT_ROOM_VERSION = '11';

export function getRoomVersion(id: string): RoomVersion | undefined {
  return ROOM_VERSIONS.get(id);
}
