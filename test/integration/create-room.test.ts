/** POST /createRoom (spec: Client-Server API "Creation"): presets, state, versions, refusals. */
import { expect } from 'chai';
import type { TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { roomIdFromCreateEvent } from '../../src/matrix/pdu.js';
import { expectMatrixError, useServer } from './helpers/index.js';
import { createRoomRaw, roomRowCounts, stateContent, stateEvent, storedEvents } from './helpers/rooms.js';

describe('createRoom', function () {
  const s = useServer();
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    alice = await s.t.registerUser(undefined, { displayname: 'Alice A' });
    bob = await s.t.registerUser(undefined, { displayname: 'Bob B' });
  });
  const client = (u: TestUser) => sdkClient(s.t.baseUrl, u);

  describe('presets', () => {
    it('private_chat: invite-only, shared history, guests can join, members may invite', async () => {
      const { room_id } = await client(alice).createRoom({ preset: sdk.Preset.PrivateChat });
      const t = s.t;
      expect(await stateContent(t, alice, room_id, 'm.room.join_rules')).to.deep.equal({ join_rule: 'invite' });
      expect(await stateContent(t, alice, room_id, 'm.room.history_visibility')).to.deep.equal({ history_visibility: 'shared' });
      expect(await stateContent(t, alice, room_id, 'm.room.guest_access')).to.deep.equal({ guest_access: 'can_join' });
      const pl = await stateContent(t, alice, room_id, 'm.room.power_levels');
      expect(pl.users).to.deep.equal({ [alice.userId]: 100 });
      expect(pl.invite).to.equal(0);
      expect(pl).to.include({ users_default: 0, events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50 });
      expect(pl.events).to.include({ 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100, 'm.room.tombstone': 100 });
      // Without a preset or visibility, private_chat applies.
      const plain = await client(alice).createRoom({});
      expect(await stateContent(t, alice, plain.room_id, 'm.room.join_rules')).to.deep.equal({ join_rule: 'invite' });
    });

    it('public_chat: public join rule, no guest access, invite needs 50', async () => {
      const { room_id } = await client(alice).createRoom({ preset: sdk.Preset.PublicChat });
      expect(await stateContent(s.t, alice, room_id, 'm.room.join_rules')).to.deep.equal({ join_rule: 'public' });
      expect(await stateContent(s.t, alice, room_id, 'm.room.history_visibility')).to.deep.equal({ history_visibility: 'shared' });
      const guest = await stateContent(s.t, alice, room_id, 'm.room.guest_access');
      // Absent means forbidden (as Synapse does it); if present it must say so.
      if (guest !== undefined) expect(guest).to.deep.equal({ guest_access: 'forbidden' });
      const pl = await stateContent(s.t, alice, room_id, 'm.room.power_levels');
      expect(pl.invite).to.equal(50);
      expect(pl.users).to.deep.equal({ [alice.userId]: 100 });
    });

    it('visibility public without a preset means public_chat and a directory entry', async () => {
      const { room_id } = await client(alice).createRoom({ visibility: sdk.Visibility.Public });
      expect(await stateContent(s.t, alice, room_id, 'm.room.join_rules')).to.deep.equal({ join_rule: 'public' });
      const { rows } = await s.t.server.services.storage.db.query<{ is_public: boolean }>('SELECT is_public FROM rooms WHERE room_id = $1', [room_id]);
      expect(rows[0]!.is_public).to.equal(true);
    });

    it('trusted_private_chat: invitees get the creator\'s level; invite + is_direct', async () => {
      const { room_id } = await client(alice).createRoom({ preset: sdk.Preset.TrustedPrivateChat, invite: [bob.userId], is_direct: true });
      const pl = await stateContent(s.t, alice, room_id, 'm.room.power_levels');
      expect(pl.users).to.deep.equal({ [alice.userId]: 100, [bob.userId]: 100 });
      expect(await stateContent(s.t, alice, room_id, 'm.room.join_rules')).to.deep.equal({ join_rule: 'invite' });
      expect(await stateContent(s.t, alice, room_id, 'm.room.guest_access')).to.deep.equal({ guest_access: 'can_join' });
      const invite = await stateEvent(s.t, room_id, 'm.room.member', bob.userId);
      expect(invite.sender).to.equal(alice.userId);
      expect(invite.content).to.deep.include({ membership: 'invite', is_direct: true, displayname: 'Bob B' });
      // Bob joins through the invite.
      await client(bob).joinRoom(room_id);
      expect((await stateEvent(s.t, room_id, 'm.room.member', bob.userId)).content.membership).to.equal('join');
    });

    it('invites without is_direct carry no is_direct flag', async () => {
      const { room_id } = await client(alice).createRoom({ invite: [bob.userId] });
      const invite = await stateEvent(s.t, room_id, 'm.room.member', bob.userId);
      expect(invite.content.membership).to.equal('invite');
      expect(invite.content).to.not.have.property('is_direct');
      // private_chat does not raise invitees
      expect((await stateContent(s.t, alice, room_id, 'm.room.power_levels')).users).to.deep.equal({ [alice.userId]: 100 });
    });
  });

  describe('content', () => {
    it('sets name and topic, and the creator joins with their profile', async () => {
      const { room_id } = await client(alice).createRoom({ name: 'The Pub', topic: 'Happy hour' });
      expect(await stateContent(s.t, alice, room_id, 'm.room.name')).to.deep.equal({ name: 'The Pub' });
      expect((await stateContent(s.t, alice, room_id, 'm.room.topic')).topic).to.equal('Happy hour');
      expect((await stateEvent(s.t, room_id, 'm.room.member', alice.userId)).content).to.deep.equal({ membership: 'join', displayname: 'Alice A' });
    });

    it('creates state in the spec order: create, creator join, power levels, preset, initial_state, name, topic, invites', async () => {
      const { room_id } = await client(alice).createRoom({
        name: 'n',
        topic: 't',
        invite: [bob.userId],
        initial_state: [{ type: 'org.example.custom', state_key: '', content: { a: 1 } }],
      });
      const types = (await storedEvents(s.t, room_id)).map((e) => e.type);
      expect(types).to.deep.equal([
        'm.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility',
        'm.room.guest_access', 'org.example.custom', 'm.room.name', 'm.room.topic', 'm.room.member',
      ]);
    });

    it('initial_state overrides the preset; name wins over initial_state', async () => {
      const { room_id } = await client(alice).createRoom({
        preset: sdk.Preset.PrivateChat,
        name: 'From name',
        initial_state: [
          { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } },
          { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } },
          { type: 'm.room.name', state_key: '', content: { name: 'From initial_state' } },
        ],
      });
      expect(await stateContent(s.t, alice, room_id, 'm.room.join_rules')).to.deep.equal({ join_rule: 'public' });
      expect(await stateContent(s.t, alice, room_id, 'm.room.history_visibility')).to.deep.equal({ history_visibility: 'world_readable' });
      expect(await stateContent(s.t, alice, room_id, 'm.room.name')).to.deep.equal({ name: 'From name' });
      // The preset's join_rules were not sent and then replaced: only one join_rules event exists.
      expect((await storedEvents(s.t, room_id)).filter((e) => e.type === 'm.room.join_rules')).to.have.length(1);
      // public now, so bob can join uninvited
      await client(bob).joinRoom(room_id);
    });

    it('power_level_content_override is merged over the defaults', async () => {
      const { room_id } = await client(alice).createRoom({
        power_level_content_override: { events_default: 20, users: { [alice.userId]: 100, [bob.userId]: 50 }, events: { 'm.room.topic': 75 } },
        invite: [bob.userId],
      });
      const pl = await stateContent(s.t, alice, room_id, 'm.room.power_levels');
      expect(pl.events_default).to.equal(20);
      expect(pl.users).to.deep.equal({ [alice.userId]: 100, [bob.userId]: 50 });
      expect(pl.events).to.deep.equal({ 'm.room.topic': 75 });
      expect(pl.state_default).to.equal(50);
      // Bob at 50 cannot set the topic (75) but can send messages (20).
      await client(bob).joinRoom(room_id);
      const refused = await s.t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room_id)}/state/m.room.topic/`, { token: bob.accessToken, body: { topic: 'x' } });
      expectMatrixError(refused, 403, 'M_FORBIDDEN');
      await client(bob).sendTextMessage(room_id, 'hi');
    });

    it('creation_content is kept in the create event (a space)', async () => {
      const { room_id } = await client(alice).createRoom({ creation_content: { type: 'm.space', 'm.federate': false } });
      const create = await stateEvent(s.t, room_id, 'm.room.create', '');
      expect(create.content).to.include({ type: 'm.space', 'm.federate': false, room_version: '11' });
    });

    it('room_alias_name creates the alias and the canonical alias event', async () => {
      const res = await createRoomRaw(s.t, alice, { room_alias_name: 'create-alias' });
      expect(res.status).to.equal(200);
      const alias = `#create-alias:${s.t.config.serverName}`;
      expect(res.body.room_alias).to.equal(alias);
      expect(await stateContent(s.t, alice, res.body.room_id, 'm.room.canonical_alias')).to.deep.equal({ alias });
      const resolved = await s.t.request('GET', `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`, { token: alice.accessToken });
      expect(resolved.body.room_id).to.equal(res.body.room_id);
    });
  });

  describe('room versions', () => {
    it('v10: the create event names the creator', async () => {
      const { room_id } = await client(alice).createRoom({ room_version: '10' });
      expect(room_id).to.match(new RegExp(`^![^:]+:${s.t.config.serverName}$`));
      const create = await stateEvent(s.t, room_id, 'm.room.create', '');
      expect(create.content).to.deep.equal({ room_version: '10', creator: alice.userId });
    });

    it('v11: the create event has no creator key', async () => {
      const { room_id } = await client(alice).createRoom({ room_version: '11', creation_content: { creator: '@someone:else' } });
      const create = await stateEvent(s.t, room_id, 'm.room.create', '');
      expect(create.content).to.deep.equal({ room_version: '11' });
    });

    it('v12: the room ID is the create event hash, the creator is not in the power levels', async () => {
      const { room_id } = await client(alice).createRoom({ room_version: '12', preset: sdk.Preset.PublicChat });
      expect(room_id).to.match(/^![A-Za-z0-9_-]{43}$/);
      const events = await storedEvents(s.t, room_id);
      expect(events[0]!.type).to.equal('m.room.create');
      expect(`!${events[0]!.event_id.slice(1)}`).to.equal(room_id);
      expect(events[0]!.json).to.not.have.property('room_id');
      // Stored exactly as signed: its reference hash is the room ID.
      expect(roomIdFromCreateEvent(events[0]!.json)).to.equal(room_id);
      // Readers still see the room ID on the create event.
      expect((await stateEvent(s.t, room_id, 'm.room.create', '')).room_id).to.equal(room_id);
      const pl = await stateContent(s.t, alice, room_id, 'm.room.power_levels');
      expect(pl.users).to.deep.equal({});
      // The creator's power is unlimited all the same.
      await client(alice).setRoomName(room_id, 'v12 room');
      await client(bob).joinRoom(room_id);
      const refused = await s.t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room_id)}/state/m.room.name/`, { token: bob.accessToken, body: { name: 'x' } });
      expectMatrixError(refused, 403, 'M_FORBIDDEN');
    });

    it('v12 trusted_private_chat: invitees become additional creators', async () => {
      const { room_id } = await client(alice).createRoom({ room_version: '12', preset: sdk.Preset.TrustedPrivateChat, invite: [bob.userId] });
      const create = await stateEvent(s.t, room_id, 'm.room.create', '');
      expect(create.content.additional_creators).to.deep.equal([bob.userId]);
      const pl = await stateContent(s.t, alice, room_id, 'm.room.power_levels');
      expect(pl.users).to.deep.equal({});
      await client(bob).joinRoom(room_id);
      await client(bob).setRoomName(room_id, 'bob can');
    });

    it('the default version is default_room_version', async () => {
      const { room_id } = await client(alice).createRoom({});
      expect((await stateEvent(s.t, room_id, 'm.room.create', '')).content.room_version).to.equal(s.t.config.defaultRoomVersion);
    });
  });

  describe('refusals store nothing', () => {
    async function refused(body: unknown, status: number, errcode: string, rawBody?: string): Promise<void> {
      const before = await roomRowCounts(s.t);
      const res = rawBody !== undefined
        ? await s.t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, rawBody, headers: { 'Content-Type': 'application/json' } })
        : await createRoomRaw(s.t, alice, body as Record<string, unknown>);
      expectMatrixError(res, status, errcode);
      expect(await roomRowCounts(s.t)).to.deep.equal(before);
    }

    it('unknown room_version → 400 M_UNSUPPORTED_ROOM_VERSION', async () => {
      await refused({ room_version: '999' }, 400, 'M_UNSUPPORTED_ROOM_VERSION');
      await refused({ room_version: 11 }, 400, 'M_BAD_JSON');
    });

    it('bad bodies → 400 M_BAD_JSON / M_NOT_JSON', async () => {
      await refused({ preset: 'party' }, 400, 'M_BAD_JSON');
      await refused({ invite: 'not-a-list' }, 400, 'M_BAD_JSON');
      await refused({ name: 42 }, 400, 'M_BAD_JSON');
      await refused({ initial_state: [{ content: {} }] }, 400, 'M_BAD_JSON');
      await refused({ power_level_content_override: 'x' }, 400, 'M_BAD_JSON');
      await refused({ creation_content: [] }, 400, 'M_BAD_JSON');
      await refused(undefined, 400, 'M_NOT_JSON', '{not json');
    });

    it('initial_state may not hold membership; the half-made room is rolled back', async () => {
      await refused({ name: 'x', initial_state: [{ type: 'm.room.member', state_key: bob.userId, content: { membership: 'join' } }] }, 400, 'M_BAD_JSON');
    });

    it('an initial_state event the auth rules refuse rolls back the whole room (400 M_INVALID_ROOM_STATE)', async () => {
      // v10+ power levels must be integers (auth rule 10.1); spec: createRoom 400 M_INVALID_ROOM_STATE.
      await refused({ room_version: '11', initial_state: [{ type: 'm.room.power_levels', state_key: '', content: { ban: '50' } }] }, 400, 'M_INVALID_ROOM_STATE');
    });

    it('a refusal after some events were written leaves nothing behind, not even in the event cache', async () => {
      const cache = (s.t.server.services.storage.events as any).cache as Map<string, unknown>;
      const cached = cache.size;
      // The creator is already joined, so inviting them is refused by the auth rules — after the
      // create event, the join, power levels, preset state and name were written.
      await refused({ name: 'half', invite: [alice.userId] }, 400, 'M_INVALID_ROOM_STATE');
      expect(cache.size).to.equal(cached);
    });

    it('an event over 65 536 bytes → 413 M_TOO_LARGE, nothing stored', async () => {
      await refused({ initial_state: [{ type: 'org.example.big', state_key: '', content: { big: 'x'.repeat(70_000) } }] }, 413, 'M_TOO_LARGE');
    });

    it('a taken alias → 400 M_ROOM_IN_USE', async () => {
      await createRoomRaw(s.t, alice, { room_alias_name: 'taken' });
      await refused({ room_alias_name: 'taken' }, 400, 'M_ROOM_IN_USE');
      await refused({ room_alias_name: 'bad:alias' }, 400, 'M_INVALID_PARAM');
    });

    it('v12 additional_creators must be user IDs → 400 M_INVALID_PARAM', async () => {
      await refused({ room_version: '12', creation_content: { additional_creators: ['not-a-user'] } }, 400, 'M_INVALID_PARAM');
      await refused({ room_version: '12', creation_content: { additional_creators: '@a:b' } }, 400, 'M_INVALID_PARAM');
    });

    it('an invalid invitee → 400', async () => {
      const res = await createRoomRaw(s.t, alice, { invite: ['@'] });
      expect(res.status).to.equal(400);
      expect(res.body.errcode).to.be.oneOf(['M_BAD_JSON', 'M_INVALID_PARAM']);
    });
  });
});
