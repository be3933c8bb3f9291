import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';
import { compareChildren } from '../../src/services/spaces.js';

/**
 * Spaces as teams and channels: GET /hierarchy over a team space, restricted channels a team
 * member may join, and room summaries (stable and the MSC3266 unstable paths matrix-js-sdk calls).
 */
describe('spaces: hierarchy, restricted channels, room summaries', () => {
  let t: TestServer;
  let alice: TestUser; // runs the team
  let bob: TestUser; // a team member
  let carol: TestUser; // not in the team
  const enc = encodeURIComponent;
  const rooms: Record<string, string> = {};

  const createRoom = async (user: TestUser, body: Record<string, unknown>) => {
    const res = await t.request('POST', '/_matrix/client/v3/createRoom', { token: user.accessToken, body });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.room_id as string;
  };
  const putState = async (user: TestUser, roomId: string, type: string, stateKey: string, content: unknown) => {
    const res = await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/${type}/${enc(stateKey)}`, { token: user.accessToken, body: content });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.event_id as string;
  };
  const hierarchy = (user: TestUser | undefined, roomId: string, query = '') =>
    t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/hierarchy${query ? '?' + query : ''}`, { token: user?.accessToken });
  const ids = (body: any) => (body.rooms as any[]).map((r) => r.room_id);

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser('alice');
    bob = await t.registerUser('bob');
    carol = await t.registerUser('carol');

    // The team: an invite-only space bob belongs to.
    rooms.team = await createRoom(alice, { preset: 'private_chat', name: 'Team', topic: 'Our team', creation_content: { type: 'm.space' }, room_version: '10', invite: [bob.userId] });
    await t.request('POST', `/_matrix/client/v3/join/${enc(rooms.team)}`, { token: bob.accessToken, body: {} });
    // A channel open to the team's members only.
    rooms.general = await createRoom(alice, {
      preset: 'private_chat',
      name: 'general',
      room_version: '10',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: rooms.team }] } }],
    });
    // A public channel with an alias, suggested.
    rooms.news = await createRoom(alice, { preset: 'public_chat', name: 'news', room_alias_name: 'news', topic: 'Announcements' });
    // An invite-only channel bob is not in.
    rooms.secret = await createRoom(alice, { preset: 'private_chat', name: 'secret' });
    // A public sub-space with one world_readable, invite-only room.
    rooms.sub = await createRoom(alice, { preset: 'public_chat', name: 'Sub team', creation_content: { type: 'm.space' } });
    rooms.archive = await createRoom(alice, {
      preset: 'private_chat',
      name: 'archive',
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
    });
    // A public room linked with an empty via: not a child.
    rooms.stale = await createRoom(alice, { preset: 'public_chat', name: 'stale' });

    const via = ['test.local'];
    // Sent in this order so origin_server_ts orders secret before sub (neither has a valid order).
    await putState(alice, rooms.team, 'm.space.child', rooms.secret, { via });
    await putState(alice, rooms.team, 'm.space.child', rooms.general, { via, order: 'b' });
    await putState(alice, rooms.team, 'm.space.child', rooms.news, { via, order: 'a', suggested: true });
    await putState(alice, rooms.team, 'm.space.child', rooms.stale, { via: [] });
    await new Promise((r) => setTimeout(r, 5));
    await putState(alice, rooms.team, 'm.space.child', rooms.sub, { via, order: 17 }); // not a string: no order
    await putState(alice, rooms.sub, 'm.space.child', rooms.archive, { via });
  });
  after(async () => t?.close());

  it('walks the team depth-first in child order, showing only rooms the member may see or join', async () => {
    const res = await hierarchy(bob, rooms.team);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(ids(res.body)).to.deep.equal([rooms.team, rooms.news, rooms.general, rooms.sub, rooms.archive]);
    expect(res.body.next_batch).to.equal(undefined);

    const team = res.body.rooms[0];
    expect(team).to.include({ room_id: rooms.team, name: 'Team', topic: 'Our team', room_type: 'm.space', join_rule: 'invite', num_joined_members: 2, world_readable: false, guest_can_join: true, room_version: '10' }); // private_chat: guest_access can_join
    // The empty-via link is no child; the invisible secret channel is still listed as a child.
    expect(team.children_state.map((e: any) => e.state_key)).to.deep.equal([rooms.news, rooms.general, rooms.secret, rooms.sub]);
    const childEvent = team.children_state[0];
    expect(childEvent).to.have.all.keys('type', 'state_key', 'content', 'sender', 'origin_server_ts');
    expect(childEvent).to.deep.include({ type: 'm.space.child', sender: alice.userId, content: { via: ['test.local'], order: 'a', suggested: true } });
    expect(childEvent.origin_server_ts).to.be.a('number');

    const general = res.body.rooms[2];
    expect(general).to.include({ name: 'general', join_rule: 'restricted', num_joined_members: 1 });
    expect(general.allowed_room_ids).to.deep.equal([rooms.team]);
    expect(general.children_state).to.deep.equal([]);
    expect(general).to.not.have.property('room_type');
    expect(res.body.rooms[1]).to.include({ canonical_alias: '#news:test.local', topic: 'Announcements', join_rule: 'public' });
    expect(res.body.rooms[4]).to.include({ room_id: rooms.archive, world_readable: true, join_rule: 'invite' });
  });

  it('orders children by valid order, then origin_server_ts, then room ID (spec: m.space.child)', () => {
    const child = (roomId: string, ts: number, order?: unknown) =>
      ({ type: 'm.space.child', state_key: roomId, sender: '@a:x', room_id: '!s:x', event_id: '$' + roomId, origin_server_ts: ts, content: { via: ['x'], ...(order === undefined ? {} : { order }) } }) as any;
    const events = [
      child('!e:x', 1, 'x'.repeat(51)), // too long: no order
      child('!d:x', 1),
      child('!c:x', 5, 'b'),
      child('!f:x', 0, 'caf\u00e9'), // outside 0x20–0x7E: no order
      child('!b:x', 9, 'a'),
      child('!a:x', 7, 'b'),
      child('!g:x', 2, 42), // not a string: no order
    ];
    expect(events.sort(compareChildren).map((e) => e.state_key)).to.deep.equal(['!b:x', '!c:x', '!a:x', '!f:x', '!d:x', '!e:x', '!g:x']);
  });

  it('honours suggested_only and max_depth', async () => {
    const suggested = await hierarchy(bob, rooms.team, 'suggested_only=true');
    expect(ids(suggested.body)).to.deep.equal([rooms.team, rooms.news]);
    expect(suggested.body.rooms[0].children_state.map((e: any) => e.state_key)).to.deep.equal([rooms.news]);
    const depth1 = await hierarchy(bob, rooms.team, 'max_depth=1');
    expect(ids(depth1.body)).to.deep.equal([rooms.team, rooms.news, rooms.general, rooms.sub]);
    const depth0 = await hierarchy(bob, rooms.team, 'max_depth=0');
    expect(ids(depth0.body)).to.deep.equal([rooms.team]);
  });

  it('paginates with an opaque token that pins suggested_only and max_depth', async () => {
    const seen: string[] = [];
    let from: string | undefined;
    const pages: number[] = [];
    do {
      const res = await hierarchy(bob, rooms.team, `limit=2${from ? '&from=' + enc(from) : ''}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      seen.push(...ids(res.body));
      pages.push(res.body.rooms.length);
      from = res.body.next_batch;
    } while (from && pages.length < 10);
    expect(pages).to.deep.equal([2, 2, 1]);
    expect(seen).to.deep.equal([rooms.team, rooms.news, rooms.general, rooms.sub, rooms.archive]);

    const first = await hierarchy(bob, rooms.team, 'limit=1');
    const token = first.body.next_batch as string;
    expect(token).to.be.a('string');
    const changed = await hierarchy(bob, rooms.team, `limit=1&max_depth=1&from=${enc(token)}`);
    expect(changed.status).to.equal(400);
    expect(changed.body.errcode).to.equal('M_INVALID_PARAM');
    const otherUser = await hierarchy(alice, rooms.team, `limit=1&from=${enc(token)}`);
    expect(otherUser.status).to.equal(400);
    for (const bad of ['garbage', 'eyJ4IjoxfQ', '']) {
      const res = await hierarchy(bob, rooms.team, `from=${enc(bad)}`);
      expect(res.status, bad).to.equal(400);
      expect(res.body.errcode).to.equal('M_INVALID_PARAM');
    }
    for (const q of ['limit=0', 'limit=abc', 'max_depth=-1', 'suggested_only=maybe']) {
      const res = await hierarchy(bob, rooms.team, q);
      expect(res.status, q).to.equal(400);
      expect(res.body.errcode, q).to.equal('M_INVALID_PARAM');
    }
  });

  it('refuses the hierarchy of a room the user cannot see (403, spec: also for an unknown room)', async () => {
    const outsider = await hierarchy(carol, rooms.team);
    expect(outsider.status).to.equal(403);
    expect(outsider.body.errcode).to.equal('M_FORBIDDEN');
    const unknown = await hierarchy(carol, '!nope:test.local');
    expect(unknown.status).to.equal(403);
    expect(unknown.body.errcode).to.equal('M_FORBIDDEN');
    const invalid = await hierarchy(carol, 'not-a-room');
    expect(invalid.status).to.equal(400);
    const anonymous = await hierarchy(undefined, rooms.sub);
    expect(anonymous.status).to.equal(401);
    // The public sub-space is open to anyone, and shows them its world_readable room.
    const open = await hierarchy(carol, rooms.sub);
    expect(open.status).to.equal(200);
    expect(ids(open.body)).to.deep.equal([rooms.sub, rooms.archive]);
  });

  it('lets a team member join a restricted channel and refuses a non-member', async () => {
    const refused = await t.request('POST', `/_matrix/client/v3/join/${enc(rooms.general)}`, { token: carol.accessToken, body: {} });
    expect(refused.status).to.equal(403);
    expect(refused.body.errcode).to.equal('M_FORBIDDEN');

    const joined = await t.request('POST', `/_matrix/client/v3/join/${enc(rooms.general)}`, { token: bob.accessToken, body: {} });
    expect(joined.status, JSON.stringify(joined.body)).to.equal(200);
    const member = await t.request('GET', `/_matrix/client/v3/rooms/${enc(rooms.general)}/state/m.room.member/${enc(bob.userId)}`, { token: bob.accessToken });
    expect(member.body.membership).to.equal('join');
    expect(member.body.join_authorised_via_users_server).to.equal(alice.userId);

    // Through matrix-js-sdk, as Element asks: the channel now counts bob.
    const client = sdkClient(t.baseUrl, bob);
    const tree = await client.getRoomHierarchy(rooms.team, 10, 1);
    const general = tree.rooms.find((r) => r.room_id === rooms.general)!;
    expect(general.num_joined_members).to.equal(2);
    expect(tree.rooms.map((r) => r.room_id)).to.not.include(rooms.secret);

    // Leaving the team takes the channel out of carol's reach, and bob's once he leaves.
    await t.request('POST', `/_matrix/client/v3/rooms/${enc(rooms.general)}/leave`, { token: bob.accessToken, body: {} });
    await t.request('POST', `/_matrix/client/v3/rooms/${enc(rooms.team)}/leave`, { token: bob.accessToken, body: {} });
    const again = await t.request('POST', `/_matrix/client/v3/join/${enc(rooms.general)}`, { token: bob.accessToken, body: {} });
    expect(again.status).to.equal(403);
    // Back in the team for the remaining tests.
    await t.request('POST', `/_matrix/client/v3/rooms/${enc(rooms.team)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } });
    expect((await t.request('POST', `/_matrix/client/v3/join/${enc(rooms.team)}`, { token: bob.accessToken, body: {} })).status).to.equal(200);
  });

  it('summarises rooms through matrix-js-sdk (unstable im.nheko.summary) and the stable path', async () => {
    const client = sdkClient(t.baseUrl, carol);
    const news = await client.getRoomSummary('#news:test.local');
    expect(news).to.include({ room_id: rooms.news, name: 'news', topic: 'Announcements', canonical_alias: '#news:test.local', join_rule: 'public', num_joined_members: 1, membership: 'leave', world_readable: false, guest_can_join: false });
    expect(news.room_version).to.be.a('string');

    const stable = await t.request('GET', `/_matrix/client/v1/room_summary/${enc(rooms.general)}?via=test.local`, { token: bob.accessToken });
    expect(stable.status, JSON.stringify(stable.body)).to.equal(200);
    expect(stable.body).to.include({ room_id: rooms.general, join_rule: 'restricted', membership: 'leave', room_version: '10' });
    expect(stable.body.allowed_room_ids).to.deep.equal([rooms.team]);

    const team = await t.request('GET', `/_matrix/client/v1/room_summary/${enc(rooms.team)}`, { token: bob.accessToken });
    expect(team.body).to.include({ room_type: 'm.space', membership: 'join' });

    for (const path of [`/_matrix/client/unstable/im.nheko.summary/summary/${enc('#news:test.local')}`, `/_matrix/client/unstable/im.nheko.summary/rooms/${enc(rooms.news)}/summary`]) {
      const res = await t.request('GET', path, { token: bob.accessToken });
      expect(res.status, path).to.equal(200);
      expect(res.body.room_id).to.equal(rooms.news);
      expect(res.body['im.nheko.summary.room_version']).to.equal(res.body.room_version);
    }
  });

  it('reports encryption and lets anonymous callers summarise only public or world_readable rooms', async () => {
    const encrypted = await createRoom(alice, { preset: 'public_chat', initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] });
    const anon = await t.request('GET', `/_matrix/client/v1/room_summary/${enc(encrypted)}`);
    expect(anon.status).to.equal(200);
    expect(anon.body.encryption).to.equal('m.megolm.v1.aes-sha2');
    expect(anon.body).to.not.have.property('membership');
    const archive = await t.request('GET', `/_matrix/client/v1/room_summary/${enc(rooms.archive)}`);
    expect(archive.status).to.equal(200);
    expect(archive.body.world_readable).to.equal(true);

    const restrictedAnon = await t.request('GET', `/_matrix/client/v1/room_summary/${enc(rooms.general)}`);
    expect(restrictedAnon.status).to.equal(404);
    expect(restrictedAnon.body.errcode).to.equal('M_NOT_FOUND');
    const restrictedCarol = await t.request('GET', `/_matrix/client/v1/room_summary/${enc(rooms.general)}`, { token: carol.accessToken });
    expect(restrictedCarol.status).to.equal(404);
    const secret = await t.request('GET', `/_matrix/client/unstable/im.nheko.summary/summary/${enc(rooms.secret)}`, { token: bob.accessToken });
    expect(secret.status).to.equal(404);
    const unknownAlias = await t.request('GET', `/_matrix/client/v1/room_summary/${enc('#nothing:test.local')}`, { token: bob.accessToken });
    expect(unknownAlias.status).to.equal(404);
    const invalid = await t.request('GET', `/_matrix/client/v1/room_summary/${enc('nonsense')}`, { token: bob.accessToken });
    expect(invalid.status).to.equal(400);
    expect(invalid.body.errcode).to.equal('M_INVALID_PARAM');

    // An invite makes the secret room visible to bob, with his membership.
    await t.request('POST', `/_matrix/client/v3/rooms/${enc(rooms.secret)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } });
    const invited = await t.request('GET', `/_matrix/client/v1/room_summary/${enc(rooms.secret)}`, { token: bob.accessToken });
    expect(invited.status).to.equal(200);
    expect(invited.body.membership).to.equal('invite');
  });
});
