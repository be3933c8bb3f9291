import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';

describe('sync: basics', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    roomId = (await sdkClient(t.baseUrl, alice).createRoom({ preset: 'public_chat' as any, name: 'Sync room' })).room_id;
    await sdkClient(t.baseUrl, bob).joinRoom(roomId);
  });
  after(async () => t?.close());

  const sync = (user: TestUser, q: string) => t.request('GET', `/_matrix/client/v3/sync?${q}`, { token: user.accessToken });

  it('initial sync shows the room with state and timeline', async () => {
    const res = await sync(bob, '');
    expect(res.status).to.equal(200);
    const room = res.body.rooms.join[roomId];
    expect(room).to.exist;
    const types = [...room.state.events, ...room.timeline.events].map((e: any) => e.type);
    expect(types).to.include('m.room.create');
    expect(types).to.include('m.room.name');
    expect(room.summary['m.joined_member_count']).to.equal(2);
    expect(res.body.next_batch).to.match(/^s/);
  });

  it('a message from A wakes B\'s waiting long-poll', async () => {
    const first = await sync(bob, '');
    const started = Date.now();
    const pending = sync(bob, `since=${first.body.next_batch}&timeout=20000`);
    await new Promise((r) => setTimeout(r, 200));
    await sdkClient(t.baseUrl, alice).sendTextMessage(roomId, 'wake up');
    const res = await pending;
    expect(Date.now() - started).to.be.lessThan(15000);
    const events = res.body.rooms.join[roomId].timeline.events;
    expect(events.map((e: any) => e.content.body)).to.include('wake up');
  });

  it('an incremental sync with nothing new waits and returns empty', async () => {
    const first = await sync(bob, '');
    const res = await sync(bob, `since=${first.body.next_batch}&timeout=300`);
    expect(res.status).to.equal(200);
    expect(res.body.rooms.join).to.deep.equal({});
  });

  it('a malformed since token is a 400', async () => {
    const res = await sync(bob, 'since=garbage');
    expect(res.status).to.equal(400);
    expect(res.body.errcode).to.equal('M_INVALID_PARAM');
  });

  it('matrix-js-sdk startClient receives messages', async () => {
    const client = sdkClient(t.baseUrl, bob);
    const got = new Promise<string>((resolve) => {
      client.on(sdk.RoomEvent.Timeline, (ev: any) => {
        if (ev.getType() === 'm.room.message' && ev.getContent().body === 'from alice') resolve(ev.getContent().body);
      });
    });
    await client.startClient({ initialSyncLimit: 5 });
    await new Promise<void>((resolve) => client.once(sdk.ClientEvent.Sync, () => resolve()));
    await sdkClient(t.baseUrl, alice).sendTextMessage(roomId, 'from alice');
    expect(await got).to.equal('from alice');
    client.stopClient();
  });

  it('lazy-loaded members are sent once', async () => {
    const filter = encodeURIComponent(JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 5 } } }));
    const carol = await t.registerUser();
    await sdkClient(t.baseUrl, carol).joinRoom(roomId);
    const a = sdkClient(t.baseUrl, alice);
    const first = await sync(bob, `filter=${filter}`);
    await sdkClient(t.baseUrl, carol).sendTextMessage(roomId, 'carol 1');
    const second = await sync(bob, `filter=${filter}&since=${first.body.next_batch}`);
    const members1 = second.body.rooms.join[roomId].state.events.filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key);
    await sdkClient(t.baseUrl, carol).sendTextMessage(roomId, 'carol 2');
    const third = await sync(bob, `filter=${filter}&since=${second.body.next_batch}`);
    const state3 = third.body.rooms.join[roomId].state.events.filter((e: any) => e.type === 'm.room.member');
    // carol's member event was in the first sync (she joined after) or the second, never again.
    const sentBefore = [...first.body.rooms.join[roomId].state.events, ...first.body.rooms.join[roomId].timeline.events, ...second.body.rooms.join[roomId].timeline.events]
      .filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).concat(members1);
    expect(sentBefore).to.include(carol.userId);
    expect(state3.map((e: any) => e.state_key)).to.not.include(carol.userId);
    void a;
  });
});

describe('sync: history visibility', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => t?.close());

  it("keeps messages from before a user's join out of their timeline in a 'joined' room", async () => {
    const alice = await t.registerUser();
    const bob = await t.registerUser();
    const roomId = (await t.request('POST', '/_matrix/client/v3/createRoom', {
      token: alice.accessToken,
      body: { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] },
    })).body.room_id;
    await sdkClient(t.baseUrl, alice).sendTextMessage(roomId, 'before bob');
    await sdkClient(t.baseUrl, bob).joinRoom(roomId);
    await sdkClient(t.baseUrl, alice).sendTextMessage(roomId, 'after bob');
    const res = await t.request('GET', '/_matrix/client/v3/sync', { token: bob.accessToken });
    const bodies = res.body.rooms.join[roomId].timeline.events.map((e: any) => e.content.body).filter(Boolean);
    expect(bodies).to.deep.equal(['after bob']);
    // Alice, who was there all along, sees both.
    const own = await t.request('GET', '/_matrix/client/v3/sync', { token: alice.accessToken });
    expect(own.body.rooms.join[roomId].timeline.events.map((e: any) => e.content.body).filter(Boolean)).to.deep.equal(['before bob', 'after bob']);
  });
});
