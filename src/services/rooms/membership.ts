/**
 * Room membership (spec: Client-Server API §10.x "Room membership"): join, invite, leave, kick,
 * ban, unban, knock and forget. Each builds an m.room.member event and lets the auth rules decide;
 * a refusal is 403 M_FORBIDDEN with the rule's reason.
 */
import type { Storage } from '../../storage/index.js';
import { stateKeyOf, type JsonObject, type RoomEvent } from '../../matrix/types.js';
import { canonicallyEqual } from '../../matrix/canonical-json.js';
import { isValidRoomAlias, isValidRoomId, isValidUserId } from '../../matrix/ids.js';
import { powerLevelsFromState, userPowerLevel } from '../../matrix/power-levels.js';
import { MatrixError, forbidden, notFound } from '../../errors.js';
import { getLogger } from '../../logging.js';
import { refuseIfSuspended, type Requester } from '../auth.js';
import type { EventCreator, RoomWriter } from './event-creator.js';
import type { AliasService } from './aliases.js';
import type { RoomStateService } from './room-state.js';
import type { UpgradeUserStateService } from './upgrade-user-state.js';

const log = getLogger('room-membership');

export type MembershipAction = 'invite' | 'leave' | 'kick' | 'ban' | 'unban';

export class MembershipService {
  constructor(
    private readonly storage: Storage,
    private readonly creator: EventCreator,
    private readonly aliases: AliasService,
    private readonly roomState: RoomStateService,
    private readonly serverName: string,
    private readonly upgradeUserState: UpgradeUserStateService,
  ) {}

  private async profileContent(userId: string): Promise<JsonObject> {
    const p = await this.storage.users.getProfile(userId);
    const out: JsonObject = {};
    if (p?.displayname) out.displayname = p.displayname;
    if (p?.avatar_url) out.avatar_url = p.avatar_url;
    return out;
  }

  /** A room ID, or the room an alias points to. */
  async resolveRoom(roomIdOrAlias: string): Promise<string> {
    if (roomIdOrAlias.startsWith('#')) {
      if (!isValidRoomAlias(roomIdOrAlias)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid room alias');
      return (await this.aliases.resolve(roomIdOrAlias)).room_id;
    }
    if (!isValidRoomId(roomIdOrAlias)) throw new MatrixError(400, 'M_INVALID_PARAM', `${roomIdOrAlias} is not a valid room ID or alias`);
    return roomIdOrAlias;
  }

  private async ensureRoom(roomId: string): Promise<void> {
    // Joining rooms on other servers needs federation (a later module).
    if (!(await this.roomState.roomExists(roomId))) throw notFound('No known servers for this room');
  }

  async join(requester: Requester, roomIdOrAlias: string, reason?: string): Promise<string> {
    refuseIfSuspended(requester, 'join');
    const roomId = await this.resolveRoom(roomIdOrAlias);
    await this.ensureRoom(roomId);
    const userId = requester.userId;
    const profile = await this.profileContent(userId);
    // The m.room.create predecessor when this is a new join (not a profile update), for below.
    const joined = await this.creator.withRoom(roomId, async (w): Promise<{ predecessor: unknown } | undefined> => {
      const current = await w.stateEvent('m.room.member', userId);
      if (current?.content.membership === 'join' && reason === undefined && sameProfile(current.content, profile)) return undefined;
      if (requester.isGuest) {
        // spec: Client-Server API "Guest access": guests may join only rooms whose
        // m.room.guest_access is can_join. Guests are a local notion, so no auth rule covers it.
        const guestAccess = await w.stateEvent('m.room.guest_access', '');
        if (guestAccess?.content.guest_access !== 'can_join') throw forbidden('Guest access is not allowed in this room');
      }
      const content: JsonObject = { membership: 'join', ...profile };
      if (reason !== undefined) content.reason = reason;
      const authoriser = await this.restrictedJoinAuthoriser(w, userId, current);
      if (authoriser) content.join_authorised_via_users_server = authoriser;
      await w.append({ type: 'm.room.member', state_key: userId, sender: userId, content });
      // Joining again undoes /forget, in the join's own commit.
      await this.storage.memberships.unforget(userId, roomId, w.tx);
      if (current?.content.membership === 'join') return undefined;
      return { predecessor: (await w.stateEvent('m.room.create', ''))?.content.predecessor };
    });
    // After the commit: a user following an upgrade takes their tags, m.direct entry and push
    // rules along. Best effort: the join has happened, so a failure is logged, never answered.
    if (joined?.predecessor !== undefined) {
      await this.upgradeUserState.afterJoin(userId, roomId, joined.predecessor).catch((err: unknown) => {
        log.error('could not carry room settings over after joining an upgraded room', { user_id: userId, room_id: roomId, error: String(err) });
      });
    }
    return roomId;
  }

  /**
   * spec: Client-Server API §10.x "Restricted rooms": a user not already invited may join when a
   * member of one of the allowed rooms; a local member who can invite vouches for the join.
   */
  private async restrictedJoinAuthoriser(w: RoomWriter, userId: string, current: RoomEvent | undefined): Promise<string | undefined> {
    const v = w.version;
    if (!v.restrictedJoinRule) return undefined;
    const joinRules = await w.stateEvent('m.room.join_rules', '');
    const rule = joinRules?.content.join_rule;
    if (rule !== 'restricted' && !(rule === 'knock_restricted' && v.knockRestrictedJoinRule)) return undefined;
    const membership = current?.content.membership;
    if (membership === 'invite' || membership === 'join') return undefined;
    const allow = Array.isArray(joinRules!.content.allow) ? (joinRules!.content.allow as JsonObject[]) : [];
    let allowed = false;
    for (const a of allow) {
      // Entries of another shape (null, strings) allow nobody; the auth rules read them the same way.
      if (a === null || typeof a !== 'object' || Array.isArray(a)) continue;
      if (a.type !== 'm.room_membership' || typeof a.room_id !== 'string') continue;
      if (!(await this.roomState.roomExists(a.room_id))) continue;
      if ((await this.roomState.membership(a.room_id, userId)).membership === 'join') {
        allowed = true;
        break;
      }
    }
    if (!allowed) throw forbidden('You are not a member of any room that this restricted room allows to join');
    const state = await w.stateEvents([stateKeyOf('m.room.create', ''), stateKeyOf('m.room.power_levels', '')]);
    const levels = powerLevelsFromState(state, v);
    // Read in the writer's transaction: the members as of the room's lock, not a pool snapshot.
    const members = await this.storage.memberships.joinedMembers(w.roomId!, w.tx);
    // Only this server can sign for its own users. userPowerLevel, not the users map: v12
    // creators have unlimited power without appearing in it.
    const candidates = members
      .filter((u) => u.endsWith(`:${this.serverName}`))
      .map((u) => ({ u, level: userPowerLevel(u, state, v) }))
      .filter((c) => c.level >= levels.invite)
      .sort((a, b) => b.level - a.level);
    if (!candidates.length) throw forbidden('No member of the room can authorise your join');
    return candidates[0]!.u;
  }

  async knock(requester: Requester, roomIdOrAlias: string, reason?: string): Promise<string> {
    refuseIfSuspended(requester, 'knock');
    const roomId = await this.resolveRoom(roomIdOrAlias);
    await this.ensureRoom(roomId);
    const profile = await this.profileContent(requester.userId);
    await this.creator.withRoom(roomId, async (w) => {
      if (!w.version.knockJoinRule) throw forbidden(`Room version ${w.version.id} does not support knocking`);
      const content: JsonObject = { membership: 'knock', ...profile };
      if (reason !== undefined) content.reason = reason;
      await w.append({ type: 'm.room.member', state_key: requester.userId, sender: requester.userId, content });
    });
    return roomId;
  }

  /** invite, leave (self), kick, ban and unban: a member event about `target` sent by the requester. */
  async change(requester: Requester, roomId: string, action: MembershipAction, target: string, reason?: string, extra: JsonObject = {}): Promise<void> {
    if (!isValidUserId(target)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${target}`);
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
    // Leaving is the one membership change a suspended account may still make.
    if (action !== 'leave') refuseIfSuspended(requester, action);
    await this.ensureRoom(roomId);
    const membership = action === 'kick' || action === 'unban' ? 'leave' : action;
    const profile = action === 'invite' ? await this.profileContent(target) : {};
    await this.creator.withRoom(roomId, async (w) => {
      const current = await w.stateEvent('m.room.member', target);
      const was = current?.content.membership;
      if (action === 'leave' && (was === undefined || was === 'leave')) return; // nothing to leave
      if (action === 'invite' && was === 'join') throw forbidden(`${target} is already in the room.`);
      if (action === 'invite' && was === 'ban') throw forbidden(`${target} is banned from the room`);
      if (action === 'kick' && was !== 'join' && was !== 'invite' && was !== 'knock') throw forbidden(`${target} is not in the room`);
      if (action === 'unban' && was !== 'ban') throw forbidden(`${target} is not banned`);
      const content: JsonObject = { membership, ...profile, ...extra };
      if (reason !== undefined) content.reason = reason;
      // A repeated request (the same sender, membership and content) is answered by the event it
      // made the first time, as Synapse does: a client retrying an invite or ban adds nothing.
      if (current && current.sender === requester.userId && canonicallyEqual(current.content, content)) return;
      await w.append({ type: 'm.room.member', state_key: target, sender: requester.userId, content });
    });
  }

  async forget(requester: Requester, roomId: string): Promise<void> {
    await this.ensureRoom(roomId);
    const { membership } = await this.roomState.membership(roomId, requester.userId);
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      throw new MatrixError(400, 'M_UNKNOWN', 'You must leave the room before forgetting it');
    }
    await this.storage.memberships.forget(requester.userId, roomId);
  }

  /** Rooms the user is joined to, from current state. */
  async joinedRooms(userId: string): Promise<string[]> {
    return this.storage.memberships.joinedRooms(userId);
  }

  /** A profile change reaches every room the user is joined to, as a new join event (as Synapse does). */
  async propagateProfile(userId: string): Promise<void> {
    const profile = await this.profileContent(userId);
    for (const roomId of await this.joinedRooms(userId)) {
      await this.creator
        .withRoom(roomId, async (w) => {
          const current = await w.stateEvent('m.room.member', userId);
          if (current?.content.membership !== 'join') return;
          const content: JsonObject = { ...current.content, ...profile, membership: 'join' };
          if (!profile.displayname) delete content.displayname;
          if (!profile.avatar_url) delete content.avatar_url;
          delete content.reason;
          delete content.join_authorised_via_users_server;
          if (sameProfile(current.content, profile)) return;
          await w.append({ type: 'm.room.member', state_key: userId, sender: userId, content });
        })
        .catch(() => undefined); // a room that refuses the update keeps the old profile
    }
  }
}

function sameProfile(content: JsonObject, profile: JsonObject): boolean {
  return (content.displayname ?? null) === (profile.displayname ?? null) && (content.avatar_url ?? null) === (profile.avatar_url ?? null);
}
