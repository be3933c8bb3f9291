import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';

const PATH = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';

describe('sliding sync (MSC4186)', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const rooms: string[] = [];

  const ss = (user: TestUser, body: unknown, query = '') => t.request('POST', `${PATH}${query}`, { token: user.accessToken, body });
  const send = (user: TestUser, roomId: string, body: string) =>
    t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${Math.random()}`, {
      token: user.accessToken,
      body: { msgtype: 'm.text', body },
    });

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    for (let i = 0; i < 3; i++) {
      const res = await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: { name: `Room ${i}`, preset: 'public_chat' } });
      rooms.push(res.body.room_id);
      await send(alice, res.body.room_id, `hello ${i}`);
    }
  });
  after(async () => t?.close());

  it('is advertised in /versions', async () => {
    const res = await t.request('GET', '/_matrix/client/versions');
    expect(res.body.unstable_features['org.matrix.simplified_msc3575']).to.equal(true);
  });

  it('lists rooms by recency with ranges, required_state and timelines, and keeps order as messages arrive', async () => {
    const body = {
      conn_id: 'main',
      lists: { all: { ranges: [[0, 1]], timeline_limit: 2, required_state: [['m.room.create', ''], ['m.room.name', '']] } },
    };
    const first = await ss(alice, body);
    expect(first.status).to.equal(200);
    expect(first.body.lists.all.count).to.equal(3);
    expect(first.body.lists.all.ops[0].room_ids).to.deep.equal([rooms[2], rooms[1]]);
    const r2 = first.body.rooms[rooms[2]!];
    expect(r2.initial).to.equal(true);
    expect(r2.name).to.equal('Room 2');
    expect(r2.timeline.map((e: any) => e.content.body)).to.include('hello 2');
    expect(r2.required_state.map((e: any) => e.type).sort()).to.deep.equal(['m.room.create', 'm.room.name']);
    expect(r2.joined_count).to.equal(1);

    // A message in the oldest room moves it to the top; only that room comes back.
    await send(alice, rooms[0]!, 'bump');
    const second = await ss(alice, body, `?pos=${encodeURIComponent(first.body.pos)}&timeout=5000`);
    expect(second.status).to.equal(200);
    expect(second.body.lists.all.ops[0].room_ids).to.deep.equal([rooms[0], rooms[2]]);
    expect(Object.keys(second.body.rooms)).to.deep.equal([rooms[0]]);
    const r0 = second.body.rooms[rooms[0]!];
    expect(r0.initial).to.equal(true); // never sent on this connection before
    expect(r0.timeline.map((e: any) => e.content.body)).to.include('bump');

    // Nothing new: a long-poll wakes on a message in a listed room, which arrives alone (not initial).
    const pending = ss(alice, body, `?pos=${encodeURIComponent(second.body.pos)}&timeout=10000`);
    await new Promise((r) => setTimeout(r, 150));
    await send(alice, rooms[2]!, 'live one');
    const third = await pending;
    const r2b = third.body.rooms[rooms[2]!];
    expect(r2b.initial).to.equal(undefined);
    expect(r2b.timeline.map((e: any) => e.content.body)).to.deep.equal(['live one']);
    expect(r2b.num_live).to.equal(1);
    expect(third.body.lists.all.ops[0].room_ids[0]).to.equal(rooms[2]);
  });

  it('answers an unknown pos with 400 M_UNKNOWN_POS', async () => {
    const res = await ss(alice, { lists: {} }, '?pos=999999/s1_0_0_0_0_0_0');
    expect(res.status).to.equal(400);
    expect(res.body.errcode).to.equal('M_UNKNOWN_POS');
    const garbage = await ss(alice, { lists: {} }, '?pos=nonsense');
    expect(garbage.body.errcode).to.equal('M_UNKNOWN_POS');
  });

  it('rejects a malformed list with 400', async () => {
    const res = await ss(alice, { lists: { x: { ranges: [[5, 1]], timeline_limit: 1, required_state: [] } } });
    expect(res.status).to.equal(400);
    expect(res.body.errcode).to.equal('M_INVALID_PARAM');
  });

  it('shows invites with stripped state, filtered by is_invited', async () => {
    await t.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[1]!)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } });
    const res = await ss(bob, { lists: { invites: { ranges: [[0, 9]], timeline_limit: 1, required_state: [], filters: { is_invited: true } } } });
    expect(res.body.lists.invites.count).to.equal(1);
    const inv = res.body.rooms[rooms[1]!];
    expect(inv.membership).to.equal('invite');
    expect(inv.stripped_state.map((e: any) => e.type)).to.include('m.room.name');
    expect(inv.timeline).to.equal(undefined);
  });

  it('serves room subscriptions only for rooms the user is in', async () => {
    const res = await ss(bob, { room_subscriptions: { [rooms[0]!]: { timeline_limit: 1, required_state: [['*', '*']] } } });
    expect(res.body.rooms[rooms[0]!]).to.equal(undefined);
    const own = await ss(alice, { room_subscriptions: { [rooms[0]!]: { timeline_limit: 1, required_state: { include: [{}] } } } });
    const room = own.body.rooms[rooms[0]!];
    expect(room.timeline).to.have.length(1);
    expect(room.required_state.some((e: any) => e.type === 'm.room.power_levels')).to.equal(true);
    expect(room.lists).to.equal(undefined);
  });

  it('delivers account data through the extension', async () => {
    await t.request('PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/org.example.test`, { token: alice.accessToken, body: { x: 1 } });
    const res = await ss(alice, { lists: {}, extensions: { account_data: { enabled: true } } });
    const types = res.body.extensions.account_data.global.map((e: any) => e.type);
    expect(types).to.include('org.example.test');
  });
});
