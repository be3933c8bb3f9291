/**
 * POST /createRoom (spec: Client-Server API §10.x "Creation"): the create event, the creator's
 * join, power levels, preset state, initial_state, name, topic and invites — in the spec's order,
 * in one transaction, so a refused request leaves no half-made room.
 */
import { randomBytes } from 'node:crypto';
import type { Storage } from '../../storage/index.js';
import type { JsonObject } from '../../matrix/types.js';
import { getRoomVersion } from '../../matrix/room-versions.js';
import { isValidUserId } from '../../matrix/ids.js';
import { MatrixError } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { EventCreator, EventDraft } from './event-creator.js';
import type { AliasService } from './aliases.js';

type Preset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

const PRESETS: Record<Preset, { joinRule: string; historyVisibility: string; guestCanJoin: boolean; inviteesAreAdmins: boolean; invitePower?: number }> = {
  private_chat: { joinRule: 'invite', historyVisibility: 'shared', guestCanJoin: true, inviteesAreAdmins: false, invitePower: 0 },
  trusted_private_chat: { joinRule: 'invite', historyVisibility: 'shared', guestCanJoin: true, inviteesAreAdmins: true, invitePower: 0 },
  public_chat: { joinRule: 'public', historyVisibility: 'shared', guestCanJoin: false, inviteesAreAdmins: false },
};

export interface CreateRoomDeps {
  storage: Storage;
  creator: EventCreator;
  aliases: AliasService;
  serverName: string;
  defaultRoomVersion: string;
}

export class CreateRoomService {
  constructor(private readonly deps: CreateRoomDeps) {}

  async createRoom(requester: Requester, body: JsonObject): Promise<{ room_id: string; room_alias?: string }> {
    const { deps } = this;
    const sender = requester.userId;
    const versionId = typeof body.room_version === 'string' ? body.room_version : deps.defaultRoomVersion;
    const version = getRoomVersion(versionId);
    if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${versionId} is not supported by this server`);

    const visibility = body.visibility === 'public' ? 'public' : 'private';
    const presetName = (body.preset as Preset | undefined) ?? (visibility === 'public' ? 'public_chat' : 'private_chat');
    const preset = PRESETS[presetName];
    if (!preset) throw new MatrixError(400, 'M_BAD_JSON', `Unknown preset ${String(body.preset)}`);

    const invites = (body.invite as string[] | undefined) ?? [];
    for (const u of invites) if (!isValidUserId(u)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${u}`);
    if (body.invite_3pid && (body.invite_3pid as unknown[]).length) {
      throw new MatrixError(400, 'M_UNRECOGNIZED', 'Third-party invites are not supported by this server');
    }

    let alias: string | undefined;
    if (typeof body.room_alias_name === 'string') {
      alias = `#${body.room_alias_name}:${deps.serverName}`;
      deps.aliases.validateNewAlias(alias);
      if (await deps.storage.aliases.get(alias)) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
    }

    const initialState = ((body.initial_state as JsonObject[] | undefined) ?? []).map((s, i) => {
      if (typeof s.type !== 'string' || (s.content !== undefined && (typeof s.content !== 'object' || s.content === null || Array.isArray(s.content)))) {
        throw new MatrixError(400, 'M_BAD_JSON', `initial_state[${i}] needs a type and an object content`);
      }
      return { type: s.type, state_key: typeof s.state_key === 'string' ? s.state_key : '', content: (s.content ?? {}) as JsonObject };
    });
    const creationContent = (body.creation_content as JsonObject | undefined) ?? {};
    const additional = creationContent.additional_creators;
    if (version.privilegedCreators && additional !== undefined && (!Array.isArray(additional) || !additional.every((u) => typeof u === 'string' && isValidUserId(u)))) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'additional_creators must be a list of user IDs');
    }
    const profile = await deps.storage.users.getProfile(sender);

    const roomId = version.privilegedCreators ? undefined : `!${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}:${deps.serverName}`;
    const { roomId: createdId } = await deps.creator.createRoom(roomId, versionId, async (w) => {
      const append = (d: Omit<EventDraft, 'sender'> & { sender?: string }) => w.append({ sender, ...d });
      const createContent: JsonObject = { ...creationContent, room_version: versionId };
      if (!version.implicitRoomCreator) createContent.creator = sender;
      else delete createContent.creator;
      if (version.privilegedCreators && preset.inviteesAreAdmins && invites.length) {
        // spec: createRoom `creation_content` (v1.16): trusted_private_chat invitees join
        // additional_creators, since v12 creators cannot be given a power level.
        const extra = Array.isArray(createContent.additional_creators) ? (createContent.additional_creators as string[]) : [];
        createContent.additional_creators = [...new Set([...extra, ...invites])].filter((u) => u !== sender);
      }
      await append({ type: 'm.room.create', state_key: '', content: createContent });

      const member: JsonObject = { membership: 'join' };
      if (profile?.displayname) member.displayname = profile.displayname;
      if (profile?.avatar_url) member.avatar_url = profile.avatar_url;
      await append({ type: 'm.room.member', state_key: sender, content: member });

      // Synapse's defaults, which Element expects; power_level_content_override wins.
      const users: JsonObject = version.privilegedCreators ? {} : { [sender]: 100 };
      if (preset.inviteesAreAdmins && !version.privilegedCreators) for (const u of invites) users[u] = 100;
      const powerLevels: JsonObject = {
        users,
        users_default: 0,
        events: {
          'm.room.name': 50,
          'm.room.power_levels': 100,
          'm.room.history_visibility': 100,
          'm.room.canonical_alias': 50,
          'm.room.avatar': 50,
          'm.room.tombstone': 100,
          'm.room.server_acl': 100,
          'm.room.encryption': 100,
        },
        events_default: 0,
        state_default: 50,
        ban: 50,
        kick: 50,
        redact: 50,
        invite: preset.invitePower ?? 50,
        historical: 100,
        notifications: { room: 50 },
      };
      const override = body.power_level_content_override as JsonObject | undefined;
      const initialPl = initialState.find((s) => s.type === 'm.room.power_levels');
      const plContent = initialPl ? initialPl.content : { ...powerLevels, ...(override ?? {}) };
      await append({ type: 'm.room.power_levels', state_key: '', content: plContent });

      if (alias) await append({ type: 'm.room.canonical_alias', state_key: '', content: { alias } });

      const presetState: { type: string; state_key: string; content: JsonObject }[] = [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: preset.joinRule } },
        { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: preset.historyVisibility } },
      ];
      if (preset.guestCanJoin) presetState.push({ type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } });
      // spec: initial_state takes precedence over the preset's events; name and topic win over both.
      const initialKeys = new Set(initialState.map((s) => `${s.type}\u0000${s.state_key}`));
      for (const s of presetState) if (!initialKeys.has(`${s.type}\u0000${s.state_key}`)) await append(s);
      for (const s of initialState) {
        if (s.type === 'm.room.power_levels') continue;
        if (s.type === 'm.room.create' || (s.type === 'm.room.member')) {
          throw new MatrixError(400, 'M_BAD_JSON', `initial_state may not contain ${s.type}`);
        }
        await append(s);
      }
      if (typeof body.name === 'string') await append({ type: 'm.room.name', state_key: '', content: { name: body.name } });
      if (typeof body.topic === 'string') {
        await append({ type: 'm.room.topic', state_key: '', content: { topic: body.topic, 'm.topic': [{ body: body.topic, mimetype: 'text/plain' }] } });
      }
      for (const invitee of invites) {
        const content: JsonObject = { membership: 'invite' };
        if (body.is_direct === true) content.is_direct = true;
        const inviteeProfile = await deps.storage.users.getProfile(invitee);
        if (inviteeProfile?.displayname) content.displayname = inviteeProfile.displayname;
        if (inviteeProfile?.avatar_url) content.avatar_url = inviteeProfile.avatar_url;
        await append({ type: 'm.room.member', state_key: invitee, content });
      }
      if (alias) await deps.storage.aliases.insert(w.tx, alias, w.roomId!, sender);
      if (visibility === 'public') await deps.storage.aliases.setPublic(w.tx, w.roomId!, true);
    });
    return alias ? { room_id: createdId, room_alias: alias } : { room_id: createdId };
  }
}
