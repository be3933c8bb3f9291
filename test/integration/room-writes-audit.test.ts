/**
 * The room write endpoints, audited against the spec (v1.19) and Synapse: each test pins a
 * behaviour that was wrong before the audit, as a client sees it (status, errcode, the room's
 * state and timeline, the directory listing).
 */
import { expect } from 'chai';
import type { TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { expectMatrixError, useServer } from './helpers/index.js';
import { CS, createRoomRaw, enc, putStateRaw, roomRowCounts, stateContent, stateEvent, storedEvents } from './helpers/rooms.js';

describe('room writes audit', function () {
  const s = useServer();
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    alice = await s.t.registerUser(undefined, { displayname: 'Alice' });
    bob = await s.t.registerUser(undefined, { displayname: 'Bob' });
  });
  const client = (u: TestUser) => sdkClient(s.t.baseUrl, u);
  const post = (u: TestUser, path: string, body: unknown = {}) => s.t.request('POST', CS + path, { token: u.accessToken, body });
  const alias = (localpart: string) => `#${localpart}:${s.t.config.serverName}`;

  /** Asserts a refusal that left every room table as it was. */
  async function refusedWithoutWrites(call: () => Promise<{ status: number; body: any; headers: Headers }>, status: number, errcode: string): Promise<void> {
    const before = await roomRowCounts(s.t);
    expectMatrixError(await call(), status, errcode);
    expect(await roomRowCounts(s.t)).to.deep.equal(before);
  }

  describe('POST /createRoom', () => {
    it('topic: m.topic is a TopicContentBlock holding the text/plain text under m.text', async () => {
      const { room_id } = await client(alice).createRoom({ topic: 'Happy hour' });
      // spec: m.room.topic (v1.15) and createRoom "an m.room.topic event with a text/plain mimetype".
      expect(await stateContent(s.t, alice, room_id, 'm.room.topic')).to.deep.equal({
        topic: 'Happy hour',
        'm.topic': { 'm.text': [{ body: 'Happy hour', mimetype: 'text/plain' }] },
      });
    });

    it('v12: the tombstone needs 150, so a room admin at 100 cannot upgrade but the creator can', async () => {
      const { room_id } = await client(alice).createRoom({ room_version: '12', preset: sdk.Preset.PublicChat });
      const pl = await stateContent(s.t, alice, room_id, 'm.room.power_levels');
      expect(pl.events['m.room.tombstone']).to.equal(150);
      expect(pl.events['m.room.tombstone']).to.be.greaterThan(pl.state_default);
      await client(bob).joinRoom(room_id);
      await client(alice).setPowerLevel(room_id, bob.userId, 100);
      expectMatrixError(await post(bob, `/rooms/${enc(room_id)}/upgrade`, { new_version: '12' }), 403, 'M_FORBIDDEN');
      expect((await post(alice, `/rooms/${enc(room_id)}/upgrade`, { new_version: '12' })).status).to.equal(200);
      // Before v12 the creator is an ordinary admin at 100: the tombstone stays at 100.
      const v11 = (await client(alice).createRoom({ room_version: '11' })).room_id;
      expect((await stateContent(s.t, alice, v11, 'm.room.power_levels')).events['m.room.tombstone']).to.equal(100);
    });

    it('initial state the auth rules refuse is 400 M_INVALID_ROOM_STATE, and nothing is stored', async () => {
      const create = (body: Record<string, unknown>) => () => createRoomRaw(s.t, alice, body);
      // The creator left out of the users map (pre-v12) cannot send the preset's join rules.
      await refusedWithoutWrites(create({ power_level_content_override: { users: { [bob.userId]: 100 } } }), 400, 'M_INVALID_ROOM_STATE');
      // spec's own example: the creator's level is below what the room name needs.
      await refusedWithoutWrites(create({ name: 'n', power_level_content_override: { events: { 'm.room.name': 101 } } }), 400, 'M_INVALID_ROOM_STATE');
      // v12 creators may not be listed in users.
      await refusedWithoutWrites(create({ room_version: '12', power_level_content_override: { users: { [alice.userId]: 100 } } }), 400, 'M_INVALID_ROOM_STATE');
      // The creator is joined already, so cannot be invited.
      await refusedWithoutWrites(create({ invite: [alice.userId] }), 400, 'M_INVALID_ROOM_STATE');
    });

    it('an initial_state canonical alias may name only the alias made for the room; it replaces the generated event', async () => {
      const { room_id: other } = await client(alice).createRoom({ room_alias_name: 'audit-other' });
      const create = (body: Record<string, unknown>) => () => createRoomRaw(s.t, alice, body);
      const canonical = (content: Record<string, unknown>) => [{ type: 'm.room.canonical_alias', state_key: '', content }];
      await refusedWithoutWrites(create({ initial_state: canonical({ alias: alias('audit-other') }) }), 400, 'M_BAD_ALIAS');
      await refusedWithoutWrites(create({ initial_state: canonical({ alias: alias('audit-nowhere') }) }), 400, 'M_BAD_ALIAS');
      await refusedWithoutWrites(create({ room_alias_name: 'audit-mine', initial_state: canonical({ alias: alias('audit-mine'), alt_aliases: [alias('audit-other')] }) }), 400, 'M_BAD_ALIAS');
      await refusedWithoutWrites(create({ initial_state: canonical({ alias: 'not an alias' }) }), 400, 'M_INVALID_PARAM');
      await refusedWithoutWrites(create({ initial_state: canonical({ alt_aliases: 'not a list' }) }), 400, 'M_INVALID_PARAM');
      expect((await s.t.request('GET', `${CS}/directory/room/${enc(alias('audit-mine'))}`, { token: alice.accessToken })).status).to.equal(404);
      expect((await s.t.request('GET', `${CS}/directory/room/${enc(alias('audit-other'))}`, { token: alice.accessToken })).body.room_id).to.equal(other);

      const ok = await createRoomRaw(s.t, alice, { room_alias_name: 'audit-mine', initial_state: canonical({ alias: alias('audit-mine') }) });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      const events = (await storedEvents(s.t, ok.body.room_id)).filter((e) => e.type === 'm.room.canonical_alias');
      expect(events.map((e) => e.json.content)).to.deep.equal([{ alias: alias('audit-mine') }]);
    });

    it('only an initial_state m.room.power_levels with the empty state key replaces the power levels', async () => {
      const odd = { users: { [bob.userId]: 100 }, events_default: 99 };
      const { room_id } = await client(alice).createRoom({ initial_state: [{ type: 'm.room.power_levels', state_key: 'odd', content: odd }] });
      const pl = await stateContent(s.t, alice, room_id, 'm.room.power_levels');
      expect(pl.users).to.deep.equal({ [alice.userId]: 100 });
      expect(pl.events_default).to.equal(0);
      expect((await stateEvent(s.t, room_id, 'm.room.power_levels', 'odd')).content).to.deep.equal(odd);
    });

    it('a user listed twice in invite is invited once', async () => {
      const { room_id } = await client(alice).createRoom({ invite: [bob.userId, bob.userId] });
      const invites = (await storedEvents(s.t, room_id)).filter((e) => e.type === 'm.room.member' && e.json.state_key === bob.userId);
      expect(invites).to.have.length(1);
      expect(invites[0]!.json.content.membership).to.equal('invite');
    });

    it('concurrent requests for one room_alias_name make one room with it; the others get 400 M_ROOM_IN_USE', async () => {
      const results = await Promise.all([1, 2, 3, 4].map(() => createRoomRaw(s.t, alice, { room_alias_name: 'audit-race' })));
      const made = results.filter((r) => r.status === 200);
      expect(made, JSON.stringify(results.map((r) => r.body))).to.have.length(1);
      for (const r of results.filter((x) => x.status !== 200)) expectMatrixError(r, 400, 'M_ROOM_IN_USE');
      const resolved = await s.t.request('GET', `${CS}/directory/room/${enc(alias('audit-race'))}`, { token: alice.accessToken });
      expect(resolved.body.room_id).to.equal(made[0]!.body.room_id);
      // No other room claims the alias in its canonical alias event.
      const { rows } = await s.t.server.services.storage.db.query(
        `SELECT room_id FROM events WHERE type = 'm.room.canonical_alias' AND json LIKE $1`,
        [`%${alias('audit-race')}%`],
      );
      expect(rows.map((r: any) => r.room_id)).to.deep.equal([made[0]!.body.room_id]);
    });
  });

  describe('membership', () => {
    it('a repeated invite or ban (same sender and content) adds no event; a new reason does', async () => {
      const { room_id } = await client(alice).createRoom({ preset: sdk.Preset.PublicChat });
      const memberEvents = async () => (await storedEvents(s.t, room_id)).filter((e) => e.type === 'm.room.member' && e.json.state_key === bob.userId).length;
      expect((await post(alice, `/rooms/${enc(room_id)}/invite`, { user_id: bob.userId })).status).to.equal(200);
      expect((await post(alice, `/rooms/${enc(room_id)}/invite`, { user_id: bob.userId })).status).to.equal(200);
      expect(await memberEvents()).to.equal(1);
      expect((await post(alice, `/rooms/${enc(room_id)}/ban`, { user_id: bob.userId, reason: 'spam' })).status).to.equal(200);
      expect((await post(alice, `/rooms/${enc(room_id)}/ban`, { user_id: bob.userId, reason: 'spam' })).status).to.equal(200);
      expect(await memberEvents()).to.equal(2);
      expect((await post(alice, `/rooms/${enc(room_id)}/ban`, { user_id: bob.userId, reason: 'still spam' })).status).to.equal(200);
      expect(await memberEvents()).to.equal(3);
      expect((await stateEvent(s.t, room_id, 'm.room.member', bob.userId)).content).to.deep.equal({ membership: 'ban', reason: 'still spam' });
    });

    it('PUT /state/m.room.member without a membership string is 400 M_BAD_JSON, nothing stored', async () => {
      const { room_id } = await client(alice).createRoom({ preset: sdk.Preset.PublicChat });
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, room_id, 'm.room.member', bob.userId, { membership: 5 }), 400, 'M_BAD_JSON');
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, room_id, 'm.room.member', bob.userId, { displayname: 'x' }), 400, 'M_BAD_JSON');
    });

    it('a suspended account may leave, but not create rooms, join, knock or invite: 403 M_USER_SUSPENDED', async () => {
      const { room_id } = await client(alice).createRoom({ preset: sdk.Preset.PublicChat });
      const knockable = (await client(alice).createRoom({ initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] })).room_id;
      const erin = await s.t.registerUser();
      await client(erin).joinRoom(room_id);
      // Suspended before the second session's token is first used (tokens are cached on first use).
      const { body: session } = await s.t.request('POST', `${CS}/login`, {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: erin.userId }, password: erin.password },
      });
      await s.t.server.services.storage.db.query('UPDATE users SET suspended = true WHERE user_id = $1', [erin.userId]);
      const suspended = { ...erin, accessToken: session.access_token as string };
      await refusedWithoutWrites(() => createRoomRaw(s.t, suspended, {}), 403, 'M_USER_SUSPENDED');
      await refusedWithoutWrites(() => post(suspended, `/rooms/${enc(room_id)}/invite`, { user_id: bob.userId }), 403, 'M_USER_SUSPENDED');
      await refusedWithoutWrites(() => post(suspended, `/knock/${enc(knockable)}`), 403, 'M_USER_SUSPENDED');
      expect((await post(suspended, `/rooms/${enc(room_id)}/leave`)).status).to.equal(200);
      expect((await stateEvent(s.t, room_id, 'm.room.member', erin.userId)).content.membership).to.equal('leave');
      await refusedWithoutWrites(() => post(suspended, `/join/${enc(room_id)}`), 403, 'M_USER_SUSPENDED');
    });

    it('join by ID or alias accepts server_name and via, and forget/re-join round-trips', async () => {
      const { room_id } = await client(alice).createRoom({ preset: sdk.Preset.PublicChat, room_alias_name: 'audit-via' });
      const server = s.t.config.serverName;
      const joined = await post(bob, `/join/${enc(alias('audit-via'))}?server_name=${server}&via=${server}`);
      expect(joined.status, JSON.stringify(joined.body)).to.equal(200);
      expect(joined.body.room_id).to.equal(room_id);
      expect((await client(bob).getJoinedRooms()).joined_rooms).to.include(room_id);
      await client(bob).leave(room_id);
      expect((await post(bob, `/rooms/${enc(room_id)}/forget`)).status).to.equal(200);
      expect((await client(bob).getJoinedRooms()).joined_rooms).to.not.include(room_id);
      const again = await post(bob, `/join/${enc(room_id)}?via=${server}`);
      expect(again.status).to.equal(200);
      expect((await client(bob).getJoinedRooms()).joined_rooms).to.include(room_id);
    });
  });

  describe('m.room.canonical_alias through PUT /state', () => {
    it('a new alias of invalid syntax is 400 M_INVALID_PARAM; alt_aliases must be a list', async () => {
      const { room_id } = await client(alice).createRoom({ room_alias_name: 'audit-canon' });
      const put = (content: unknown) => putStateRaw(s.t, alice, room_id, 'm.room.canonical_alias', '', content);
      await refusedWithoutWrites(() => put({ alias: 'no-hash:here' }), 400, 'M_INVALID_PARAM');
      await refusedWithoutWrites(() => put({ alias: alias('audit-canon'), alt_aliases: ['#no-server'] }), 400, 'M_INVALID_PARAM');
      await refusedWithoutWrites(() => put({ alias: alias('audit-canon'), alt_aliases: alias('audit-canon') }), 400, 'M_INVALID_PARAM');
      await refusedWithoutWrites(() => put({ alias: alias('audit-elsewhere') }), 400, 'M_BAD_ALIAS');
      expect((await put({ alias: alias('audit-canon'), alt_aliases: [alias('audit-canon')] })).status).to.equal(200);
    });
  });

  describe('GET/POST /publicRooms', () => {
    const listed = async (body: Record<string, unknown> = {}) => {
      const res = await s.t.request('POST', `${CS}/publicRooms`, { token: alice.accessToken, body });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.body as { chunk: { room_id: string }[]; total_room_count_estimate: number };
    };
    const ids = (r: { chunk: { room_id: string }[] }) => r.chunk.map((c) => c.room_id);

    it('lists a published room only while it can be joined (public, knock) or read (world_readable)', async () => {
      const { room_id } = await client(alice).createRoom({ visibility: sdk.Visibility.Public, name: 'Audit listing' });
      const search = { filter: { generic_search_term: 'Audit listing' } };
      expect(ids(await listed(search))).to.deep.equal([room_id]);
      const setJoinRule = (join_rule: string) => putStateRaw(s.t, alice, room_id, 'm.room.join_rules', '', { join_rule });

      await setJoinRule('invite');
      const hidden = await listed(search);
      expect(ids(hidden)).to.deep.equal([]);
      expect(hidden.total_room_count_estimate).to.equal(0);
      // Still published: the flag is the room's, the listing follows its state.
      expect((await client(alice).getRoomDirectoryVisibility(room_id)).visibility).to.equal('public');

      await putStateRaw(s.t, alice, room_id, 'm.room.history_visibility', '', { history_visibility: 'world_readable' });
      expect(ids(await listed(search))).to.deep.equal([room_id]);
      await putStateRaw(s.t, alice, room_id, 'm.room.history_visibility', '', { history_visibility: 'shared' });
      expect(ids(await listed(search))).to.deep.equal([]);
      await setJoinRule('knock');
      expect(ids(await listed(search))).to.deep.equal([room_id]);
      await setJoinRule('public');
      expect(ids(await listed(search))).to.deep.equal([room_id]);
    });

    it('hides a published room nobody is in any more', async () => {
      const { room_id } = await client(alice).createRoom({ visibility: sdk.Visibility.Public, name: 'Audit emptied' });
      const search = { filter: { generic_search_term: 'Audit emptied' } };
      expect(ids(await listed(search))).to.deep.equal([room_id]);
      await client(alice).leave(room_id);
      expect(ids(await listed(search))).to.deep.equal([]);
      const get = await s.t.request('GET', `${CS}/publicRooms`, { token: alice.accessToken });
      expect(get.body.chunk.map((c: any) => c.room_id)).to.not.include(room_id);
    });

    it('an empty room_types list filters nothing', async () => {
      const { room_id: space } = await client(alice).createRoom({ visibility: sdk.Visibility.Public, name: 'Audit types space', creation_content: { type: 'm.space' } });
      const { room_id: plain } = await client(alice).createRoom({ visibility: sdk.Visibility.Public, name: 'Audit types plain' });
      const all = await listed({ filter: { generic_search_term: 'Audit types', room_types: [] } });
      expect(ids(all).sort()).to.deep.equal([space, plain].sort());
      expect(all.total_room_count_estimate).to.equal(2);
    });
  });
});
