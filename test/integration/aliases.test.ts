import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

function expectError(res: { status: number; body: any }, status: number, errcode: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.body.errcode).to.equal(errcode);
  expect(res.body.error).to.be.a('string');
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to be refused');
}

describe('room aliases: /directory/room, /rooms/{roomId}/aliases, m.room.canonical_alias', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser('alice');
    bob = await t.registerUser('bob');
  });
  after(async () => t?.close());

  const putAlias = (user: TestUser, alias: string, roomId: string) =>
    t.request('PUT', `${V3}/directory/room/${enc(alias)}`, { token: user.accessToken, body: { room_id: roomId } });
  const deleteAlias = (user: TestUser, alias: string) => t.request('DELETE', `${V3}/directory/room/${enc(alias)}`, { token: user.accessToken });
  const state = async (roomId: string, type: string) => (await t.server.services.rooms.state.currentStateEvent(roomId, type, ''))?.content;

  it('creates, resolves and deletes an alias with matrix-js-sdk', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id } = await a.createRoom({ name: 'Aliased' });
    await a.createAlias('#sdk-alias:test.local', room_id);
    const resolved = await a.getRoomIdForAlias('#sdk-alias:test.local');
    expect(resolved.room_id).to.equal(room_id);
    expect(resolved.servers).to.deep.equal(['test.local']);
    // Resolving needs no access token.
    const anon = await t.request('GET', `${V3}/directory/room/${enc('#sdk-alias:test.local')}`);
    expect(anon.body.room_id).to.equal(room_id);
    await a.deleteAlias('#sdk-alias:test.local');
    const gone = await rejection(a.getRoomIdForAlias('#sdk-alias:test.local'));
    expect(gone.httpStatus).to.equal(404);
    expect(gone.errcode).to.equal('M_NOT_FOUND');
  });

  it('refuses a taken alias with 409, invalid and foreign aliases with 400, and non-members with 403', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id } = await a.createRoom({});
    const { room_id: other } = await a.createRoom({});
    expect((await putAlias(alice, '#taken:test.local', room_id)).status).to.equal(200);
    expectError(await putAlias(alice, '#taken:test.local', other), 409, 'M_UNKNOWN');
    expect((await a.getRoomIdForAlias('#taken:test.local')).room_id).to.equal(room_id);

    expectError(await putAlias(alice, '#no-server-part', room_id), 400, 'M_INVALID_PARAM');
    expectError(await putAlias(alice, 'plain:test.local', room_id), 400, 'M_INVALID_PARAM');
    expectError(await putAlias(alice, '#foreign:elsewhere.example', room_id), 400, 'M_INVALID_PARAM');
    expectError(await putAlias(alice, '#ok:test.local', 'not-a-room'), 400, 'M_BAD_JSON');

    // Bob is not in the room.
    expectError(await putAlias(bob, '#bobs:test.local', room_id), 403, 'M_FORBIDDEN');
    expectError(await t.request('GET', `${V3}/directory/room/${enc('#bobs:test.local')}`), 404, 'M_NOT_FOUND');
    expectError(await putAlias(alice, '#ghost:test.local', '!nosuchroom:test.local'), 404, 'M_NOT_FOUND');
  });

  it('lets the alias creator, a moderator and an admin delete, and refuses other members', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const b = sdkClient(t.baseUrl, bob);
    const carol = await t.registerUser();
    const admin = await t.registerUser(undefined, { admin: true });
    const { room_id } = await a.createRoom({ preset: 'public_chat' as any });
    await b.joinRoom(room_id);
    await sdkClient(t.baseUrl, carol).joinRoom(room_id);

    // Bob (PL 0) made this one: he may delete it though he cannot change the canonical alias.
    await b.createAlias('#bob-made:test.local', room_id);
    await a.createAlias('#alice-made:test.local', room_id);
    await a.createAlias('#admin-deletes:test.local', room_id);
    expectError(await deleteAlias(carol, '#bob-made:test.local'), 403, 'M_FORBIDDEN');
    expectError(await deleteAlias(bob, '#alice-made:test.local'), 403, 'M_FORBIDDEN');
    expect((await deleteAlias(bob, '#bob-made:test.local')).status).to.equal(200);

    // A moderator (canonical_alias needs 50) may delete Alice's alias.
    await a.setPowerLevel(room_id, carol.userId, 50);
    expect((await deleteAlias(carol, '#alice-made:test.local')).status).to.equal(200);
    // A server admin may, in the room or not.
    expect((await deleteAlias(admin, '#admin-deletes:test.local')).status).to.equal(200);
    expect(await t.server.services.rooms.aliases.forRoom(room_id)).to.deep.equal([]);

    expectError(await deleteAlias(alice, '#never-existed:test.local'), 404, 'M_NOT_FOUND');
    expectError(await deleteAlias(alice, '#bad alias'), 400, 'M_INVALID_PARAM');
  });

  it('lists a room\'s local aliases to members, departed members, admins and, for world_readable rooms, anyone', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const b = sdkClient(t.baseUrl, bob);
    const { room_id } = await a.createRoom({ preset: 'public_chat' as any });
    await a.createAlias('#list-b:test.local', room_id);
    await a.createAlias('#list-a:test.local', room_id);
    expect(await a.getLocalAliases(room_id)).to.deep.equal({ aliases: ['#list-a:test.local', '#list-b:test.local'] });

    const refused = await rejection(b.getLocalAliases(room_id));
    expect(refused.httpStatus).to.equal(403);
    expect(refused.errcode).to.equal('M_FORBIDDEN');

    await b.joinRoom(room_id);
    expect((await b.getLocalAliases(room_id)).aliases).to.have.length(2);
    await b.leave(room_id);
    expect((await b.getLocalAliases(room_id)).aliases, 'departed member').to.have.length(2);
    await b.forget(room_id);
    expect((await rejection(b.getLocalAliases(room_id))).httpStatus, 'forgotten').to.equal(403);

    await a.sendStateEvent(room_id, 'm.room.history_visibility' as any, { history_visibility: 'world_readable' } as any, '');
    expect((await b.getLocalAliases(room_id)).aliases, 'world readable').to.have.length(2);

    const admin = await t.registerUser(undefined, { admin: true });
    const { room_id: privateRoom } = await a.createRoom({});
    await a.createAlias('#private-listed:test.local', privateRoom);
    expect((await rejection(b.getLocalAliases(privateRoom))).httpStatus).to.equal(403);
    expect((await sdkClient(t.baseUrl, admin).getLocalAliases(privateRoom)).aliases, 'server admin').to.deep.equal(['#private-listed:test.local']);

    const unknown = await t.request('GET', `${V3}/rooms/${enc('!nosuchroom:test.local')}/aliases`, { token: bob.accessToken });
    expectError(unknown, 403, 'M_FORBIDDEN');
    expectError(await t.request('GET', `${V3}/rooms/${enc(room_id)}/aliases`), 401, 'M_MISSING_TOKEN');
  });

  it('checks m.room.canonical_alias: every alias must point to the room (M_BAD_ALIAS)', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id } = await a.createRoom({});
    const { room_id: other } = await a.createRoom({});
    await a.createAlias('#canon-here:test.local', room_id);
    await a.createAlias('#canon-alt:test.local', room_id);
    await a.createAlias('#canon-other:test.local', other);
    const put = (content: unknown) =>
      t.request('PUT', `${V3}/rooms/${enc(room_id)}/state/m.room.canonical_alias/`, { token: alice.accessToken, body: content });

    expectError(await put({ alias: '#canon-other:test.local' }), 400, 'M_BAD_ALIAS');
    expectError(await put({ alias: '#canon-nowhere:test.local' }), 400, 'M_BAD_ALIAS');
    expectError(await put({ alias: '#canon-here:test.local', alt_aliases: ['#canon-other:test.local'] }), 400, 'M_BAD_ALIAS');
    expect(await state(room_id, 'm.room.canonical_alias')).to.be.undefined;

    const ok = await put({ alias: '#canon-here:test.local', alt_aliases: ['#canon-alt:test.local'] });
    expect(ok.status).to.equal(200);
    expect(await state(room_id, 'm.room.canonical_alias')).to.deep.equal({ alias: '#canon-here:test.local', alt_aliases: ['#canon-alt:test.local'] });

    // Deleting a listed alias takes it out of the canonical alias event (as Synapse does).
    await a.deleteAlias('#canon-alt:test.local');
    expect(await state(room_id, 'm.room.canonical_alias')).to.deep.equal({ alias: '#canon-here:test.local' });
    await a.deleteAlias('#canon-here:test.local');
    expect(await state(room_id, 'm.room.canonical_alias')).to.deep.equal({});
  });

  it('creates rooms with room_alias_name, refusing a taken one with M_ROOM_IN_USE', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const b = sdkClient(t.baseUrl, bob);
    const created = await a.createRoom({ room_alias_name: 'made-at-creation' });
    expect((created as any).room_alias).to.equal('#made-at-creation:test.local');
    expect((await a.getRoomIdForAlias('#made-at-creation:test.local')).room_id).to.equal(created.room_id);
    expect(await state(created.room_id, 'm.room.canonical_alias')).to.deep.equal({ alias: '#made-at-creation:test.local' });

    const before = (await b.getJoinedRooms()).joined_rooms.length;
    const taken = await t.request('POST', `${V3}/createRoom`, { token: bob.accessToken, body: { room_alias_name: 'made-at-creation' } });
    expectError(taken, 400, 'M_ROOM_IN_USE');
    expect((await b.getJoinedRooms()).joined_rooms.length, 'no room made').to.equal(before);
    expectError(await t.request('POST', `${V3}/createRoom`, { token: bob.accessToken, body: { room_alias_name: 'has:colon' } }), 400, 'M_INVALID_PARAM');
  });

  it('lists a room created with visibility public in /publicRooms, under its alias', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id } = await a.createRoom({ visibility: 'public' as any, room_alias_name: 'listed-by-alias' });
    const { room_id: privateRoom } = await a.createRoom({ visibility: 'private' as any, room_alias_name: 'not-listed' });
    const res = await a.publicRooms({});
    const entry = res.chunk.find((c) => c.room_id === room_id);
    expect(entry?.canonical_alias).to.equal('#listed-by-alias:test.local');
    expect(res.chunk.map((c) => c.room_id)).to.not.include(privateRoom);
  });
});
