/**
 * A local user's own settings for an upgraded room follow it to its successor (spec: Client-Server
 * API "Room Upgrades" leaves this to the server; Synapse's RoomMemberHandler
 * copy_user_state_on_room_upgrade), so favourites, DMs and notification settings survive:
 *
 *  - room tags: every tag of the old room's m.tag is set on the new room (spec: "Room Tagging");
 *  - m.direct: the new room ID joins the first list that names the old room and lacks the new one
 *    (Synapse stops at the first such list);
 *  - push rules: every enabled user rule that names the old room — a `room` rule whose rule_id is
 *    the old room ID, an override/underride rule with a `room_id` condition on it — is copied with
 *    the room ID replaced, rule_id included (Synapse: copy_push_rules_from_room_to_room_for_user,
 *    which keeps the old rules; the earlier move_* variant that deleted them is gone).
 *
 * When: as Synapse, at upgrade time for every local user joined to the old room. Also when a local
 * user newly joins a room whose m.room.create names a predecessor they are joined to: that covers
 * users who joined the old room after the upgrade. (The /sync that brings the join brings the
 * room's account data whole, so tags copied before the join reach the client too.)
 *
 * Best effort: a failure is logged per user and never fails the upgrade or the join.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Storage } from '../../storage/index.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../matrix/types.js';
import { serverNameOf } from '../../matrix/ids.js';
import { PushRuleError, putRule, type PushCondition, type PushRule, type PushRuleKind, type UserPushRules } from '../../matrix/push-rules/index.js';
import { getLogger } from '../../logging.js';
import type { AccountDataService } from '../account-data.js';
import type { PushRuleService } from '../push-rules.js';
import type { RoomStateService } from './room-state.js';

const log = getLogger('room-upgrade-user-state');

const TAG_TYPE = 'm.tag';
const DIRECT_TYPE = 'm.direct';


/** The `tags` map of an m.tag content; anything malformed counts as no tags. */
function tagsOf(content: JsonObject | undefined): JsonObject {
  return isJsonObject(content?.tags) ? (content!.tags as JsonObject) : {};
}

/**
 * The new room's m.tag content with the old room's tags added (a tag of the same name takes the
 * old room's content, as Synapse's add_tag_to_room overwrites), or undefined when the old room has
 * no tags.
 */
export function copiedTags(oldContent: JsonObject | undefined, newContent: JsonObject | undefined): JsonObject | undefined {
  const oldTags = tagsOf(oldContent);
  if (!Object.keys(oldTags).length) return undefined;
  return { ...(newContent ?? {}), tags: { ...tagsOf(newContent), ...oldTags } };
}

/**
 * The m.direct content with the new room added to the first user's list that holds the old room
 * and not yet the new one (Synapse's loop breaks there), or undefined when nothing changes.
 */
export function copiedDirect(direct: JsonObject | undefined, oldRoomId: string, newRoomId: string): JsonObject | undefined {
  if (!direct) return undefined;
  for (const [userId, rooms] of Object.entries(direct)) {
    if (!Array.isArray(rooms) || !rooms.includes(oldRoomId) || rooms.includes(newRoomId)) continue;
    return { ...direct, [userId]: [...rooms, newRoomId] as JsonValue[] };
  }
  return undefined;
}

const namesRoom = (c: PushCondition, roomId: string) => c.key === 'room_id' && c.pattern === roomId;

/**
 * The user's rules with every enabled rule about the old room copied to the new room. Copies keep
 * their kind, actions and conditions (room_id patterns replaced) and take the new room ID as
 * rule_id, as Synapse does (it swaps the rule_id's last path segment, the rule's own name, for the
 * new room ID). Copies go ahead of the user's other rules of their kind, keeping their relative
 * order. Returns undefined when no rule names the old room.
 */
export function copiedPushRules(user: UserPushRules, oldRoomId: string, newRoomId: string): UserPushRules | undefined {
  let next = user;
  let changed = false;
  for (const kind of ['override', 'room', 'underride'] as const satisfies readonly PushRuleKind[]) {
    const about = (user.rules[kind] ?? []).filter(
      (r) => r.enabled && (kind === 'room' ? r.rule_id === oldRoomId : (r.conditions ?? []).some((c) => namesRoom(c, oldRoomId))),
    );
    // putRule without placement puts a new rule first: add them last-to-first to keep their order.
    for (const rule of [...about].reverse()) {
      const body: JsonObject = { actions: rule.actions as JsonValue[] };
      if (rule.conditions) {
        body.conditions = rule.conditions.map((c) => (namesRoom(c, oldRoomId) ? { ...c, pattern: newRoomId } : { ...c })) as JsonValue[];
      }
      const existing = (next.rules[kind] ?? []).find((r) => r.rule_id === newRoomId);
      if (existing && sameRule(existing, body)) continue;
      try {
        next = putRule(next, kind, newRoomId, body);
        changed = true;
      } catch (err) {
        // A room ID that is no valid rule_id (a slash in an old-style ID) cannot carry a rule.
        if (!(err instanceof PushRuleError)) throw err;
      }
    }
  }
  return changed ? next : undefined;
}

function sameRule(rule: PushRule, body: JsonObject): boolean {
  return isDeepStrictEqual(rule.actions, body.actions) && isDeepStrictEqual(rule.conditions, body.conditions);
}

export class UpgradeUserStateService {
  constructor(
    private readonly storage: Storage,
    private readonly roomState: RoomStateService,
    private readonly accountData: AccountDataService,
    private readonly pushRules: PushRuleService,
    private readonly serverName: string,
  ) {}

  /** At upgrade time: every local user joined to the old room (Synapse's transfer_room_state_on_room_upgrade). */
  async copyForLocalMembers(oldRoomId: string, newRoomId: string): Promise<void> {
    let members: string[];
    try {
      members = await this.storage.memberships.joinedMembers(oldRoomId);
    } catch (err) {
      log.error('could not list the members of an upgraded room; their settings stay behind', { old_room_id: oldRoomId, new_room_id: newRoomId, error: String(err) });
      return;
    }
    for (const userId of members) {
      if (serverNameOf(userId) !== this.serverName) continue;
      await this.copyForUser(oldRoomId, newRoomId, userId);
    }
  }

  /**
   * After a local user newly joined `roomId`: if its m.room.create names a predecessor that the
   * user is joined to, carry their settings over. `predecessor` is the create event's field.
   */
  async afterJoin(userId: string, roomId: string, predecessor: unknown): Promise<void> {
    const oldRoomId = isJsonObject(predecessor) && typeof predecessor.room_id === 'string' ? predecessor.room_id : undefined;
    if (!oldRoomId || oldRoomId === roomId) return;
    try {
      // A user never joined to the old room (an unanswered invite, a stale m.direct) gets nothing.
      if (!(await this.roomState.roomExists(oldRoomId))) return;
      if ((await this.roomState.membership(oldRoomId, userId)).membership !== 'join') return;
    } catch (err) {
      log.error('could not check the predecessor of a joined room', { user_id: userId, room_id: roomId, old_room_id: oldRoomId, error: String(err) });
      return;
    }
    await this.copyForUser(oldRoomId, roomId, userId);
  }

  /** Copies one user's tags, m.direct entry and room push rules; never throws. */
  async copyForUser(oldRoomId: string, newRoomId: string, userId: string): Promise<void> {
    try {
      const [oldTags, newTags] = await Promise.all([
        this.storage.accountData.get(userId, oldRoomId, TAG_TYPE),
        this.storage.accountData.get(userId, newRoomId, TAG_TYPE),
      ]);
      const tags = copiedTags(oldTags, newTags);
      if (tags && !isDeepStrictEqual(tags, newTags)) {
        await this.accountData.write(userId, newRoomId, TAG_TYPE, tags);
      }

      const direct = copiedDirect(await this.storage.accountData.get(userId, '', DIRECT_TYPE), oldRoomId, newRoomId);
      if (direct) await this.accountData.write(userId, '', DIRECT_TYPE, direct);

      // Checked on the cached rules first so a user with no rule for the room costs no write;
      // modify then recomputes on the locked row.
      if (copiedPushRules(await this.pushRules.customisations(userId), oldRoomId, newRoomId)) {
        await this.pushRules.modify(userId, (user) => copiedPushRules(user, oldRoomId, newRoomId) ?? user);
      }
    } catch (err) {
      log.error('could not copy room settings to the upgraded room', { user_id: userId, old_room_id: oldRoomId, new_room_id: newRoomId, error: String(err) });
    }
  }
}
