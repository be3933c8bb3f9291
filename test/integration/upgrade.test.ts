import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';
import type { RoomEvent } from '../../src/matrix/types.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

function expectError(res: { status: number; body: any }, status: number, errcode: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.body.errcode).to.equal(errcode);
  expect(res.body.error).to.be.a('string');
}

describe('room upgrades: POST /rooms/{roomId}/upgrade', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser('alice', { displayname: 'Alice' });
    bob = await t.registerUser('bob');
    carol = await t.registerUser('carol');
    dave = await t.registerUser('dave');
  });
  after(async () => t?.close());

  /**
   * The room's current state as a member (Alice unless told) sees it: GET
   * /rooms/{roomId}/state, or through the services while that route is not there. type → state_key → event.
   */
  async function stateOf(roomId: string, reader: TestUser = alice): Promise<Map<string, Map<string, RoomEvent>>> {
    const res = await t.request('GET', `${V3}/rooms/${enc(roomId)}/state`, { token: reader.accessToken });
    let events: RoomEvent[];
    if (res.status === 200) events = res.body;
    else if (res.status === 404 && res.body?.errcode === 'M_UNRECOGNIZED') events = [...(await t.server.services.rooms.state.currentState(roomId)).values()];
    else throw new Error(`GET /state: ${res.status} ${JSON.stringify(res.body)}`);
    const out = new Map<string, Map<string, RoomEvent>>();
    for (const ev of events) {
      if (!out.has(ev.type)) out.set(ev.type, new Map());
      out.get(ev.type)!.set(ev.state_key!, ev);
    }
    return out;
  }
  const get = (s: Map<string, Map<string, RoomEvent>>, type: string, stateKey = '') => s.get(type)?.get(stateKey);
  const upgrade = (user: TestUser, roomId: string, body: unknown) =>
    t.request('POST', `${V3}/rooms/${enc(roomId)}/upgrade`, { token: user.accessToken, body });

  const TRANSFERRED = [
    'm.room.join_rules',
    'm.room.history_visibility',
    'm.room.guest_access',
    'm.room.name',
    'm.room.topic',
    'm.room.avatar',
    'm.room.encryption',
    'm.room.server_acl',
  ];

  it('upgrades a v10 room to v11: predecessor, state, bans, tombstone, restricted old room, aliases and listing', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: oldId } = await a.createRoom({
      room_version: '10',
      preset: 'public_chat' as any,
      visibility: 'public' as any,
      name: 'Old times',
      topic: 'before the upgrade',
      room_alias_name: 'upgrade-me',
      initial_state: [
        { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
        { type: 'm.room.server_acl', state_key: '', content: { allow: ['*'], deny: ['evil.example'], allow_ip_literals: false } },
        { type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } },
        { type: 'm.room.avatar', state_key: '', content: { url: 'mxc://test.local/old-avatar' } },
      ],
    } as any);
    for (const u of [bob, carol, dave]) await sdkClient(t.baseUrl, u).joinRoom(oldId);
    await a.setPowerLevel(oldId, bob.userId, 50);
    await a.ban(oldId, carol.userId, 'spam');
    await a.createAlias('#upgrade-alt:test.local', oldId);
    await a.sendStateEvent(oldId, 'm.room.canonical_alias' as any, { alias: '#upgrade-me:test.local', alt_aliases: ['#upgrade-alt:test.local'] } as any, '');
    const before = await stateOf(oldId);

    const { replacement_room: newId } = await a.upgradeRoom(oldId, '11');
    expect(newId).to.match(/^!.+:test\.local$/);
    expect(newId).to.not.equal(oldId);

    const after = await stateOf(oldId);
    const fresh = await stateOf(newId);

    // The old room is tombstoned, pointing at the new one; the predecessor names the tombstone.
    const tombstone = get(after, 'm.room.tombstone')!;
    expect(tombstone.sender).to.equal(alice.userId);
    expect(tombstone.content.replacement_room).to.equal(newId);
    expect(tombstone.content.body).to.be.a('string');
    const create = get(fresh, 'm.room.create')!;
    expect(create.sender).to.equal(alice.userId);
    expect(create.content).to.deep.equal({ room_version: '11', predecessor: { room_id: oldId, event_id: tombstone.event_id } });
    expect(await t.server.services.rooms.state.roomVersion(newId)).to.include({ id: '11' });

    // The transferable state is copied as it was.
    for (const type of TRANSFERRED) {
      expect(get(fresh, type)?.content, type).to.deep.equal(get(before, type)!.content);
    }
    const pl = get(fresh, 'm.room.power_levels')!.content as any;
    expect(pl.users).to.deep.equal({ [alice.userId]: 100, [bob.userId]: 50 });
    expect(pl.events).to.deep.equal((get(before, 'm.room.power_levels')!.content as any).events);

    // Only the upgrader is in the new room; the ban is copied; nobody is invited.
    const members = [...(fresh.get('m.room.member') ?? new Map()).entries()].map(([k, e]) => [k, e.content.membership]);
    expect(members.sort()).to.deep.equal([[alice.userId, 'join'], [carol.userId, 'ban']].sort());
    expect(get(fresh, 'm.room.member', carol.userId)!.content.reason).to.equal('spam');
    expect(get(fresh, 'm.room.member', alice.userId)!.content.displayname).to.equal('Alice');

    // Aliases and the canonical alias move; the old room keeps an emptied canonical alias.
    expect((await a.getRoomIdForAlias('#upgrade-me:test.local')).room_id).to.equal(newId);
    expect((await a.getRoomIdForAlias('#upgrade-alt:test.local')).room_id).to.equal(newId);
    expect(get(fresh, 'm.room.canonical_alias')!.content).to.deep.equal({ alias: '#upgrade-me:test.local', alt_aliases: ['#upgrade-alt:test.local'] });
    expect(get(after, 'm.room.canonical_alias')!.content).to.deep.equal({ alt_aliases: [] });
    expect((await a.getLocalAliases(oldId)).aliases).to.deep.equal([]);

    // The listing moves.
    expect(await a.getRoomDirectoryVisibility(oldId)).to.deep.equal({ visibility: 'private' });
    expect(await a.getRoomDirectoryVisibility(newId)).to.deep.equal({ visibility: 'public' });
    const listed = (await a.publicRooms({})).chunk.map((c) => c.room_id);
    expect(listed).to.include(newId);
    expect(listed).to.not.include(oldId);

    // The old room's power levels stop ordinary members from speaking and inviting.
    const oldPl = get(after, 'm.room.power_levels')!.content as any;
    expect(oldPl.events_default).to.equal(50);
    expect(oldPl.invite).to.equal(50);
    expect(oldPl.users).to.deep.equal({ [alice.userId]: 100, [bob.userId]: 50 });
    const silenced = await t.request('PUT', `${V3}/rooms/${enc(oldId)}/send/m.room.message/t1`, { token: dave.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
    expectError(silenced, 403, 'M_FORBIDDEN');
    const moderator = await t.request('PUT', `${V3}/rooms/${enc(oldId)}/send/m.room.message/t1`, { token: bob.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
    expect(moderator.status).to.equal(200);

    // Others can follow the tombstone and join.
    await sdkClient(t.baseUrl, dave).joinRoom(newId);
    expect((await t.server.services.rooms.state.membership(newId, dave.userId)).membership).to.equal('join');
    expect(await sdkClient(t.baseUrl, alice).getJoinedRooms()).to.have.property('joined_rooms').that.includes(newId);
  });

  it('upgrades a v11 room to v12: hash room ID, creators out of the power levels, additional_creators', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: oldId } = await a.createRoom({ room_version: '11', name: 'To twelve', preset: 'private_chat' as any });
    await a.invite(oldId, carol.userId);
    await sdkClient(t.baseUrl, carol).joinRoom(oldId);
    await a.setPowerLevel(oldId, carol.userId, 50);
    await a.invite(oldId, bob.userId);
    await sdkClient(t.baseUrl, bob).joinRoom(oldId);
    await a.setPowerLevel(oldId, bob.userId, 75);
    const before = await stateOf(oldId);

    const { replacement_room: newId } = await a.upgradeRoom(oldId, '12', [bob.userId]);
    expect(newId).to.match(/^![A-Za-z0-9_-]{43}$/);

    const after = await stateOf(oldId);
    const fresh = await stateOf(newId);
    const create = get(fresh, 'm.room.create')!;
    expect(create.sender).to.equal(alice.userId);
    expect(create.content.room_version).to.equal('12');
    expect(create.content.additional_creators).to.deep.equal([bob.userId]);
    expect(create.content).to.not.have.property('creator');
    const predecessor = create.content.predecessor as any;
    expect(predecessor.room_id).to.equal(oldId);
    if (predecessor.event_id !== undefined) {
      // spec v1.16: deprecated, but when present it names an event of the old room.
      expect((await t.server.services.storage.events.getEvent(predecessor.event_id))?.event.room_id).to.equal(oldId);
    }
    expect(get(after, 'm.room.tombstone')!.content.replacement_room).to.equal(newId);

    // spec: Room Version 12, creators have unlimited power and must not be listed in users.
    const pl = get(fresh, 'm.room.power_levels')!.content as any;
    expect(pl.users).to.deep.equal({ [carol.userId]: 50 });
    expect(get(fresh, 'm.room.name')!.content).to.deep.equal({ name: 'To twelve' });
    expect(get(fresh, 'm.room.join_rules')!.content).to.deep.equal(get(before, 'm.room.join_rules')!.content);
    expect(get(fresh, 'm.room.history_visibility')!.content).to.deep.equal(get(before, 'm.room.history_visibility')!.content);

    // The old private_chat room had invite 0 and events_default 0: both rise to 50.
    const oldPl = get(after, 'm.room.power_levels')!.content as any;
    expect(oldPl.events_default).to.equal(50);
    expect(oldPl.invite).to.equal(50);

    // The creators rule the new room; bob as an additional creator may change power levels once he joins.
    await a.setRoomName(newId, 'Renamed in twelve');
    await a.invite(newId, bob.userId);
    await sdkClient(t.baseUrl, bob).joinRoom(newId);
    await sdkClient(t.baseUrl, bob).setPowerLevel(newId, dave.userId, 10);
  });

  it('gives a v12 room\'s creator admin power when upgrading to an older version', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: oldId } = await a.createRoom({ room_version: '12', name: 'Down to eleven' });
    const { replacement_room: newId } = await a.upgradeRoom(oldId, '11');
    const fresh = await stateOf(newId);
    expect(get(fresh, 'm.room.create')!.content.predecessor).to.deep.equal({ room_id: oldId, event_id: get(await stateOf(oldId), 'm.room.tombstone')!.event_id });
    expect((get(fresh, 'm.room.power_levels')!.content as any).users).to.deep.equal({ [alice.userId]: 100 });
  });

  it('turns a v9 room\'s string power levels into integers for v10', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: oldId } = await a.createRoom({
      room_version: '9',
      name: 'Stringy',
      power_level_content_override: { ban: '60', users: { [alice.userId]: '100', [bob.userId]: ' 40 ' }, events: { 'm.room.name': '55' } },
    } as any);
    expect((get(await stateOf(oldId), 'm.room.power_levels')!.content as any).ban).to.equal('60');
    const { replacement_room: newId } = await a.upgradeRoom(oldId, '10');
    const pl = get(await stateOf(newId), 'm.room.power_levels')!.content as any;
    expect(pl.ban).to.equal(60);
    expect(pl.users).to.deep.equal({ [alice.userId]: 100, [bob.userId]: 40 });
    expect(pl.events['m.room.name']).to.equal(55);
  });

  it('lets a non-admin with tombstone power upgrade: raised for the copy, then set back', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: oldId } = await a.createRoom({
      room_version: '11',
      preset: 'public_chat' as any,
      name: 'Moderated',
      power_level_content_override: { events: { 'm.room.tombstone': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100 } },
    } as any);
    await sdkClient(t.baseUrl, bob).joinRoom(oldId);
    await a.setPowerLevel(oldId, bob.userId, 50);

    const { replacement_room: newId } = await sdkClient(t.baseUrl, bob).upgradeRoom(oldId, '11');
    const fresh = await stateOf(newId, bob);
    // Bob could copy m.room.history_visibility (needs 100) in the new room...
    expect(get(fresh, 'm.room.history_visibility')!.sender).to.equal(bob.userId);
    expect(get(fresh, 'm.room.name')!.content).to.deep.equal({ name: 'Moderated' });
    // ...and is back at 50 afterwards.
    const pl = get(fresh, 'm.room.power_levels')!.content as any;
    expect(pl.users).to.deep.equal({ [alice.userId]: 100, [bob.userId]: 50 });
    expect(get(fresh, 'm.room.create')!.content.predecessor).to.have.property('room_id', oldId);

    // Bob may not change the old room's power levels (100): the tombstone stands, the levels stay.
    const after = await stateOf(oldId);
    expect(get(after, 'm.room.tombstone')!.content.replacement_room).to.equal(newId);
    expect((get(after, 'm.room.power_levels')!.content as any).events_default).to.equal(0);
  });

  it('refuses members below the tombstone level, non-members, unknown rooms and unsupported versions', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: oldId } = await a.createRoom({ preset: 'public_chat' as any, name: 'Stays' });
    await sdkClient(t.baseUrl, bob).joinRoom(oldId);
    const roomsBefore = (await a.getJoinedRooms()).joined_rooms.length;

    const sdkRefusal = await sdkClient(t.baseUrl, bob).upgradeRoom(oldId, '11').then(
      () => expect.fail('bob may not upgrade'),
      (err: any) => err,
    );
    expect(sdkRefusal.httpStatus).to.equal(403);
    expect(sdkRefusal.errcode).to.equal('M_FORBIDDEN');
    expectError(await upgrade(dave, oldId, { new_version: '11' }), 403, 'M_FORBIDDEN');
    expectError(await upgrade(alice, oldId, { new_version: '99' }), 400, 'M_UNSUPPORTED_ROOM_VERSION');
    expectError(await upgrade(alice, oldId, {}), 400, 'M_BAD_JSON');
    expectError(await upgrade(alice, '!nosuchroom:test.local', { new_version: '11' }), 404, 'M_NOT_FOUND');
    expectError(await upgrade(alice, oldId, { new_version: '12', additional_creators: ['not-a-user'] }), 400, 'M_INVALID_PARAM');

    // Nothing happened to the old room, and no room was made.
    const s = await stateOf(oldId);
    expect(get(s, 'm.room.tombstone')).to.be.undefined;
    expect((get(s, 'm.room.power_levels')!.content as any).events_default).to.equal(0);
    expect((await a.getJoinedRooms()).joined_rooms.length).to.equal(roomsBefore);
  });

  it('answers a repeated request made while the first runs with the same replacement room', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: oldId } = await a.createRoom({ name: 'Twice' });
    const [first, second] = await Promise.all([upgrade(alice, oldId, { new_version: '11' }), upgrade(alice, oldId, { new_version: '11' })]);
    expect(first.status).to.equal(200);
    expect(second.status).to.equal(200);
    expect(second.body.replacement_room).to.equal(first.body.replacement_room);
    const tombstones = (await stateOf(oldId)).get('m.room.tombstone');
    expect(tombstones?.get('')?.content.replacement_room).to.equal(first.body.replacement_room);
  });
});
