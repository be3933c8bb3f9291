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
import { refuseIfSuspended, type Requester } from '../auth.js';
import type { EventCreator, EventDraft } from './event-creator.js';
import { addedCanonicalAliases, type AliasService } from './aliases.js';

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
    // A suspended account sends no events, so makes no rooms (as Synapse does).
    refuseIfSuspended(requester, 'create rooms');
    const versionId = typeof body.room_version === 'string' ? body.room_version : deps.defaultRoomVersion;
    const version = getRoomVersion(versionId);
    if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${versionId} is not supported by this server`);

    const visibility = body.visibility === 'public' ? 'public' : 'private';
    const presetName = (body.preset as Preset | undefined) ?? (visibility === 'public' ? 'public_chat' : 'private_chat');
    const preset = PRESETS[presetName];
    if (!preset) throw new MatrixError(400, 'M_BAD_JSON', `Unknown preset ${String(body.preset)}`);

    // A user listed twice is invited once (Synapse's second invite repeats the first).
    const invites = [...new Set((body.invite as string[] | undefined) ?? [])];
    for (const u of invites) if (!isValidUserId(u)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID ${u}`);
    if (body.invite_3pid && (body.invite_3pid as unknown[]).length) {
      throw new MatrixError(400, 'M_UNRECOGNIZED', 'Third-party invites are not supported by this server');
    }

    let alias: string | undefined;
    if (typeof body.room_alias_name === 'string') {
      // The first colon of an alias ends its local part, so a full alias given here is a mistake.
      if (body.room_alias_name.includes(':')) {
        throw new MatrixError(400, 'M_INVALID_PARAM', "':' is not permitted in room_alias_name: it is the local part ('wombat', not '#wombat:example.com')");
      }
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
    // A new room has no alias pointing to it but the one made here, so an initial canonical
    // alias may name only that one (spec: m.room.canonical_alias; Synapse checks it the same way).
    const initialAlias = initialState.find((s) => s.type === 'm.room.canonical_alias' && s.state_key === '');
    if (initialAlias) {
      for (const a of addedCanonicalAliases(initialAlias.content, undefined)) {
        if (a !== alias) throw new MatrixError(400, 'M_BAD_ALIAS', `Room alias ${a} does not point to this room`);
      }
    }
    const creationContent = (body.creation_content as JsonObject | undefined) ?? {};
    const additional = creationContent.additional_creators;
    if (version.privilegedCreators && additional !== undefined && (!Array.isArray(additional) || !additional.every((u) => typeof u === 'string' && isValidUserId(u)))) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'additional_creators must be a list of user IDs');
    }
    const profile = await deps.storage.users.getProfile(sender);

    const roomId = version.privilegedCreators ? undefined : `!${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}:${deps.serverName}`;
    const { roomId: createdId } = await deps.creator.createRoom(roomId, versionId, async (w) => {
      const append = async (d: Omit<EventDraft, 'sender'> & { sender?: string }) => {
        try {
          return await w.append({ sender, ...d });
        } catch (err) {
          // spec: createRoom 400 — initial state the auth rules refuse (e.g. power levels that
          // leave the creator unable to send the name) is M_INVALID_ROOM_STATE, not a 403.
          if (err instanceof MatrixError && err.status === 403) {
            throw new MatrixError(400, 'M_INVALID_ROOM_STATE', `The initial state is invalid: ${d.type}${d.state_key ? ` (${d.state_key})` : ''}: ${err.message}`);
          }
          throw err;
        }
      };
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
          // spec: createRoom step 3: from v12 the tombstone needs more than state_default (and
          // 100), so only creators can upgrade.
          'm.room.tombstone': version.privilegedCreators ? 150 : 100,
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
      const initialPl = initialState.find((s) => s.type === 'm.room.power_levels' && s.state_key === '');
      const plContent = initialPl ? initialPl.content : { ...powerLevels, ...(override ?? {}) };
      await append({ type: 'm.room.power_levels', state_key: '', content: plContent });

      // An initial_state canonical alias takes the generated one's place (as Synapse does).
      if (alias && !initialAlias) await append({ type: 'm.room.canonical_alias', state_key: '', content: { alias } });

      const presetState: { type: string; state_key: string; content: JsonObject }[] = [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: preset.joinRule } },
        { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: preset.historyVisibility } },
      ];
      if (preset.guestCanJoin) presetState.push({ type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } });
      // spec: initial_state takes precedence over the preset's events; name and topic win over both.
      const initialKeys = new Set(initialState.map((s) => `${s.type}\u0000${s.state_key}`));
      for (const s of presetState) if (!initialKeys.has(`${s.type}\u0000${s.state_key}`)) await append(s);
      for (const s of initialState) {
        if (s === initialPl) continue; // sent as step 3's power levels, as Synapse does
        if (s.type === 'm.room.create' || (s.type === 'm.room.member')) {
          throw new MatrixError(400, 'M_BAD_JSON', `initial_state may not contain ${s.type}`);
        }
        await append(s);
      }
      if (typeof body.name === 'string') await append({ type: 'm.room.name', state_key: '', content: { name: body.name } });
      if (typeof body.topic === 'string') {
        // spec: m.room.topic (v1.15): `m.topic` is a TopicContentBlock, its text under `m.text`.
        const text = [{ body: body.topic, mimetype: 'text/plain' }];
        await append({ type: 'm.room.topic', state_key: '', content: { topic: body.topic, 'm.topic': { 'm.text': text } } });
      }
      for (const invitee of invites) {
        const content: JsonObject = { membership: 'invite' };
        if (body.is_direct === true) content.is_direct = true;
        const inviteeProfile = await deps.storage.users.getProfile(invitee);
        if (inviteeProfile?.displayname) content.displayname = inviteeProfile.displayname;
        if (inviteeProfile?.avatar_url) content.avatar_url = inviteeProfile.avatar_url;
        await append({ type: 'm.room.member', state_key: invitee, content });
      }
      // The alias was free when checked above; another request may have taken it since.
      if (alias && !(await deps.storage.aliases.insert(w.tx, alias, w.roomId!, sender))) {
        throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
      }
      if (visibility === 'public') await deps.storage.aliases.setPublic(w.tx, w.roomId!, true);
    });
    return alias ? { room_id: createdId, room_alias: alias } : { room_id: createdId };
  }
}
