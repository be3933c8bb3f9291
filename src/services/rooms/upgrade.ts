/**
 * POST /rooms/{roomId}/upgrade (spec: Client-Server API "Room Upgrades", server behaviour): a new
 * room with a predecessor, the transferable state copied over, bans copied, the old room
 * tombstoned and its power levels restricted, local aliases and the directory listing moved.
 *
 * The old room's writer is held for the whole upgrade: its changes (tombstone, canonical alias,
 * restricted power levels, aliases, directory flag) commit together, and if the new room cannot be
 * made nothing happens to the old one.
 */
import { randomBytes } from 'node:crypto';
import type { Storage } from '../../storage/index.js';
import { stateKeyOf, splitStateKey, type JsonObject, type JsonValue, type RoomEvent, type StateMap } from '../../matrix/types.js';
import { getRoomVersion, type RoomVersion } from '../../matrix/room-versions.js';
import { isValidRoomId, isValidUserId, serverNameOf } from '../../matrix/ids.js';
import {
  POWER_LEVEL_SCALAR_KEYS,
  creatorsOf,
  parsePowerLevelValue,
  powerLevelsFromContent,
  powerLevelsFromState,
  requiredPowerLevel,
  userPowerLevel,
} from '../../matrix/power-levels.js';
import { MatrixError, forbidden } from '../../errors.js';
import { getLogger } from '../../logging.js';
import type { Requester } from '../auth.js';
import type { EventCreator, RoomWriter } from './event-creator.js';
import type { UpgradeUserStateService } from './upgrade-user-state.js';

const log = getLogger('room-upgrade');

/**
 * spec: Client-Server API "Room Upgrades", server behaviour step 3: the state events recommended
 * for transfer, besides m.room.power_levels (handled on its own). Join rules come first so the
 * room is never briefly more open than the old one.
 */
const TRANSFERABLE_STATE = [
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.encryption',
  'm.room.server_acl',
];

const SYNAPSE_TOMBSTONE_BODY = 'This room has been replaced';

export interface UpgradeRequest {
  newVersion: string;
  /** spec v1.16: further creators of the new room, for versions with privileged creators. */
  additionalCreators?: string[];
}

/**
 * Copies power levels into plain integers for the new room (older versions accept strings and
 * floats; v10+ takes integers only). Values the old version would not read are dropped.
 */
export function normalisePowerLevels(content: JsonObject, version: RoomVersion): JsonObject {
  const out: JsonObject = { ...content };
  for (const key of POWER_LEVEL_SCALAR_KEYS) {
    if (!(key in content)) continue;
    const n = parsePowerLevelValue(content[key], version);
    if (n === undefined) delete out[key];
    else out[key] = n;
  }
  for (const key of ['users', 'events', 'notifications']) {
    const map = content[key];
    if (map === undefined) continue;
    const fixed: JsonObject = {};
    if (typeof map === 'object' && map !== null && !Array.isArray(map)) {
      for (const [k, v] of Object.entries(map)) {
        const n = parsePowerLevelValue(v, version);
        if (n !== undefined) fixed[k] = n;
      }
    }
    out[key] = fixed;
  }
  return out;
}

/** spec: step 6, "the greater of 50 and users_default + 1" for events_default and invite. */
export function restrictedPowerLevels(content: JsonObject, version: RoomVersion): JsonObject | undefined {
  const levels = normalisePowerLevels(content, version);
  const usersDefault = typeof levels.users_default === 'number' ? levels.users_default : 0;
  const restricted = Math.max(50, usersDefault + 1);
  let changed = false;
  for (const key of ['events_default', 'invite']) {
    // Both default to 0 when absent (spec: m.room.power_levels).
    const current = typeof levels[key] === 'number' ? (levels[key] as number) : 0;
    if (current < restricted) {
      levels[key] = restricted;
      changed = true;
    }
  }
  return changed ? levels : undefined;
}

export class RoomUpgradeService {
  /** Upgrades in progress, so a client's retry gets the same new room instead of a second one. */
  private readonly inProgress = new Map<string, Promise<{ replacement_room: string }>>();

  constructor(
    private readonly storage: Storage,
    private readonly creator: EventCreator,
    private readonly serverName: string,
    private readonly userState: UpgradeUserStateService,
  ) {}

  async upgrade(requester: Requester, roomId: string, request: UpgradeRequest): Promise<{ replacement_room: string }> {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
    const newVersion = getRoomVersion(request.newVersion);
    if (!newVersion) {
      throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${request.newVersion} is not supported by this server`);
    }
    for (const u of request.additionalCreators ?? []) {
      if (typeof u !== 'string' || !isValidUserId(u)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${String(u)} in additional_creators`);
    }
    const key = `${roomId}\u0000${requester.userId}`;
    const running = this.inProgress.get(key);
    if (running) return running;
    const run = this.run(requester, roomId, newVersion, request)
      .then(async (result) => {
        // Once both rooms are committed, every local member's tags, m.direct entry and push rules
        // for the old room are copied to the new one (as Synapse's transfer_room_state_on_room_upgrade
        // does before answering). Best effort: the service logs failures, the upgrade stands.
        await this.userState.copyForLocalMembers(roomId, result.replacement_room);
        return result;
      })
      .finally(() => this.inProgress.delete(key));
    this.inProgress.set(key, run);
    return run;
  }

  private async run(requester: Requester, oldRoomId: string, newVersion: RoomVersion, request: UpgradeRequest): Promise<{ replacement_room: string }> {
    const sender = requester.userId;
    return this.creator.withRoom(oldRoomId, async (old) => {
      const oldState = await old.stateEvents(old.currentStateIds.keys());
      this.checkMayUpgrade(sender, oldState, old.version);

      const oldCreate = oldState.get(stateKeyOf('m.room.create', ''))!;
      const wasPublic = (await this.storage.aliases.isPublic(oldRoomId, old.tx)) === true;
      const tombstoneContent = (replacement: string): JsonObject => ({ body: SYNAPSE_TOMBSTONE_BODY, replacement_room: replacement });

      // Before v12 the new room's ID is ours to choose, so the tombstone can be made first and the
      // predecessor can name it, as Synapse does. From v12 the room ID is the create event's hash:
      // the tombstone follows the new room, and the predecessor names the old room's latest event
      // (spec v1.16: event_id is deprecated but SHOULD be populated where practical).
      let predecessor: JsonObject;
      let chosenId: string | undefined;
      if (!newVersion.privilegedCreators) {
        chosenId = `!${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}:${this.serverName}`;
        const tombstone = await old.append({ type: 'm.room.tombstone', state_key: '', sender, content: tombstoneContent(chosenId) });
        predecessor = { room_id: oldRoomId, event_id: tombstone.event.event_id };
      } else {
        const head = await this.storage.events.roomHead(old.tx, oldRoomId);
        predecessor = { room_id: oldRoomId };
        if (head?.extremities.length) predecessor.event_id = head.extremities[0]!;
      }

      const newRoomId = await this.createReplacement(requester, chosenId, newVersion, request, old.version, oldState, oldCreate, predecessor, wasPublic);

      if (newVersion.privilegedCreators) {
        await old.append({ type: 'm.room.tombstone', state_key: '', sender, content: tombstoneContent(newRoomId) });
      }

      // spec: step 4, local aliases move to the new room; the canonical alias goes with them.
      await this.storage.aliases.moveAll(old.tx, oldRoomId, newRoomId);
      const oldAlias = oldState.get(stateKeyOf('m.room.canonical_alias', ''));
      if (oldAlias) {
        const { remaining } = this.splitCanonicalAlias(oldAlias.content);
        if (JSON.stringify(remaining) !== JSON.stringify(oldAlias.content)) {
          await this.tryAppend(old, { type: 'm.room.canonical_alias', state_key: '', sender, content: remaining });
        }
      }
      if (wasPublic) await this.storage.aliases.setPublic(old.tx, oldRoomId, false);

      // spec: step 6, stop ordinary members from speaking and inviting in the old room.
      const oldLevels = oldState.get(stateKeyOf('m.room.power_levels', ''));
      if (oldLevels) {
        const restricted = restrictedPowerLevels(oldLevels.content, old.version);
        if (restricted) await this.tryAppend(old, { type: 'm.room.power_levels', state_key: '', sender, content: restricted });
      } else {
        log.warn('upgraded a room without power levels; not restricting the old room', { room_id: oldRoomId });
      }
      log.info('upgraded room', { old_room_id: oldRoomId, new_room_id: newRoomId, new_version: newVersion.id, sender });
      return { replacement_room: newRoomId };
    });
  }

  /** spec: step 1, the user must be able to send m.room.tombstone in the old room. */
  private checkMayUpgrade(userId: string, state: StateMap, version: RoomVersion): void {
    const member = state.get(stateKeyOf('m.room.member', userId));
    if (member?.content.membership !== 'join') throw forbidden('You must be in the room to upgrade it');
    const needed = requiredPowerLevel(powerLevelsFromState(state, version), 'm.room.tombstone', true);
    if (userPowerLevel(userId, state, version) < needed) throw forbidden('You do not have the power to upgrade this room (m.room.tombstone)');
  }

  /** The old canonical alias content split into what moves to the new room (local aliases) and what stays. */
  private splitCanonicalAlias(content: JsonObject): { moved: JsonObject; remaining: JsonObject } {
    const isLocal = (a: unknown): a is string => typeof a === 'string' && serverNameOf(a) === this.serverName;
    const moved: JsonObject = {};
    const remaining: JsonObject = { ...content };
    if (isLocal(content.alias)) {
      moved.alias = content.alias;
      delete remaining.alias;
    }
    if (Array.isArray(content.alt_aliases)) {
      const local = content.alt_aliases.filter(isLocal);
      if (local.length) {
        moved.alt_aliases = local;
        remaining.alt_aliases = content.alt_aliases.filter((a) => !isLocal(a));
      }
    }
    return { moved, remaining };
  }

  /** Appends an event the upgrade can do without when the auth rules refuse it (as Synapse does). */
  private async tryAppend(w: RoomWriter, draft: Parameters<RoomWriter['append']>[0]): Promise<void> {
    try {
      await w.append(draft);
    } catch (err) {
      if (!(err instanceof MatrixError) || err.status !== 403) throw err;
      log.info('room upgrade: could not send an event', { room_id: w.roomId, type: draft.type, state_key: draft.state_key, reason: err.message });
    }
  }

  private async createReplacement(
    requester: Requester,
    chosenId: string | undefined,
    newVersion: RoomVersion,
    request: UpgradeRequest,
    oldVersion: RoomVersion,
    oldState: StateMap,
    oldCreate: RoomEvent,
    predecessor: JsonObject,
    wasPublic: boolean,
  ): Promise<string> {
    const sender = requester.userId;
    const profile = await this.storage.users.getProfile(sender);

    // spec: step 2, the create event with the predecessor and the old room's type (MSC3818);
    // a room closed to federation stays closed (as Synapse does).
    const createContent: JsonObject = { room_version: newVersion.id, predecessor };
    if (!newVersion.implicitRoomCreator) createContent.creator = sender;
    if (typeof oldCreate.content.type === 'string') createContent.type = oldCreate.content.type;
    if (oldCreate.content['m.federate'] === false) createContent['m.federate'] = false;
    const newCreators = [sender];
    if (newVersion.privilegedCreators) {
      const extra = [...new Set(request.additionalCreators ?? [])].filter((u) => u !== sender);
      if (extra.length) createContent.additional_creators = extra;
      newCreators.push(...extra);
    }

    const { initial, final } = this.powerLevelsForNewRoom(sender, newVersion, newCreators, oldVersion, oldState);

    const { roomId } = await this.creator.createRoom(chosenId, newVersion.id, async (w) => {
      const append = (d: { type: string; state_key?: string; content: JsonObject }) => w.append({ sender, ...d });
      await append({ type: 'm.room.create', state_key: '', content: createContent });
      const member: JsonObject = { membership: 'join' };
      if (profile?.displayname) member.displayname = profile.displayname;
      if (profile?.avatar_url) member.avatar_url = profile.avatar_url;
      await append({ type: 'm.room.member', state_key: sender, content: member });
      await append({ type: 'm.room.power_levels', state_key: '', content: initial });

      for (const type of TRANSFERABLE_STATE) {
        const ev = oldState.get(stateKeyOf(type, ''));
        if (ev) await append({ type, state_key: '', content: ev.content });
      }
      // A space keeps its children (as Synapse does); a child removed earlier has empty content.
      if (oldCreate.content.type === 'm.space') {
        for (const [key, ev] of oldState) {
          const [type, stateKey] = splitStateKey(key);
          if (type === 'm.space.child' && Object.keys(ev.content).length) await append({ type, state_key: stateKey, content: ev.content });
        }
      }
      // Bans carry over; invites and joins cannot (membership is each user's own act).
      for (const [key, ev] of oldState) {
        const [type, stateKey] = splitStateKey(key);
        if (type !== 'm.room.member' || ev.content.membership !== 'ban') continue;
        const content: JsonObject = { membership: 'ban' };
        if (typeof ev.content.reason === 'string') content.reason = ev.content.reason;
        await this.tryAppend(w, { type, state_key: stateKey, sender, content });
      }
      const oldAlias = oldState.get(stateKeyOf('m.room.canonical_alias', ''));
      if (oldAlias) {
        const { moved } = this.splitCanonicalAlias(oldAlias.content);
        if (Object.keys(moved).length) await append({ type: 'm.room.canonical_alias', state_key: '', content: moved });
      }
      if (final) await append({ type: 'm.room.power_levels', state_key: '', content: final });
      // The directory listing moves with the room (as Synapse does).
      if (wasPublic) await this.storage.aliases.setPublic(w.tx, w.roomId!, true);
    });
    return roomId;
  }

  /**
   * The new room's power levels: the old ones, with the upgrader raised for the time of the copy
   * to the level every copied event needs, then set back (`final`), as Synapse does. With
   * privileged creators (v12) the creators have unlimited power and must not be listed in `users`
   * (spec: Room Version 12); a creator of an old v12 room keeps admin power in an older version.
   */
  private powerLevelsForNewRoom(
    sender: string,
    newVersion: RoomVersion,
    newCreators: string[],
    oldVersion: RoomVersion,
    oldState: StateMap,
  ): { initial: JsonObject; final?: JsonObject } {
    const oldEvent = oldState.get(stateKeyOf('m.room.power_levels', ''));
    const base = oldEvent ? normalisePowerLevels(oldEvent.content, oldVersion) : {};
    const users: Record<string, JsonValue> = { ...((base.users as JsonObject | undefined) ?? {}) };
    if (!oldEvent && !oldVersion.privilegedCreators) {
      // Without power levels the old room's creator had 100 (spec: m.room.power_levels).
      for (const c of creatorsOf(oldState, oldVersion)) users[c] = 100;
    }
    if (newVersion.privilegedCreators) {
      for (const c of newCreators) delete users[c];
      return { initial: { ...base, users } };
    }
    if (oldVersion.privilegedCreators) {
      for (const c of creatorsOf(oldState, oldVersion)) users[c] = Math.max(100, typeof users[c] === 'number' ? (users[c] as number) : 0);
    }
    const levels = powerLevelsFromContent({ ...base, users }, newVersion);
    const needed = Math.max(levels.state_default, levels.ban, ...Object.values(levels.events));
    const current = typeof users[sender] === 'number' ? (users[sender] as number) : levels.users_default;
    if (current >= needed) return { initial: { ...base, users } };
    return { initial: { ...base, users: { ...users, [sender]: needed } }, final: { ...base, users } };
  }
}
