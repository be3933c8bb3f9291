import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

/** Room tags (folders, favourites, archives): GET/PUT/DELETE, stored as m.tag and delivered by /sync. */
describe('room tags', () => {
  let t: TestServer;
  let alice: TestUser;
  let aliceLaptop: { accessToken: string };
  let bob: TestUser;
  let roomId: string;
  const enc = encodeURIComponent;
  const tagsPath = (user: string, room = roomId) => `/_matrix/client/v3/user/${enc(user)}/rooms/${enc(room)}/tags`;

  const syncUntil = async (token: string, since: string, done: (body: any) => boolean) => {
    let next = since;
    for (let i = 0; i < 5; i++) {
      const res = await t.request('GET', `/_matrix/client/v3/sync?since=${enc(next)}&timeout=3000`, { token });
      expect(res.status).to.equal(200);
      if (done(res.body)) return res.body;
      next = res.body.next_batch;
    }
    throw new Error('sync never delivered the expected change');
  };
  const roomTagEvents = (body: any) => ((body.rooms?.join?.[roomId]?.account_data?.events ?? []) as any[]).filter((e) => e.type === 'm.tag');

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    const login = await t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password, device_id: 'LAPTOP' },
    });
    expect(login.status).to.equal(200);
    aliceLaptop = { accessToken: login.body.access_token };
    roomId = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: { preset: 'public_chat' } })).body.room_id;
  });
  after(async () => t?.close());

  it('delivers a tag set on one device to the other device through /sync, and its removal too', async () => {
    const initial = await t.request('GET', '/_matrix/client/v3/sync', { token: aliceLaptop.accessToken });
    expect(initial.status).to.equal(200);
    expect(roomTagEvents(initial.body)).to.deep.equal([]);

    const put = await t.request('PUT', `${tagsPath(alice.userId)}/m.favourite`, { token: alice.accessToken, body: { order: 0.25 } });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    expect(put.body).to.deep.equal({});
    const synced = await syncUntil(aliceLaptop.accessToken, initial.body.next_batch, (b) => roomTagEvents(b).length > 0);
    expect(roomTagEvents(synced)).to.deep.equal([{ type: 'm.tag', content: { tags: { 'm.favourite': { order: 0.25 } } } }]);

    await t.request('PUT', `${tagsPath(alice.userId)}/u.Work`, { token: alice.accessToken, body: {} });
    const del = await t.request('DELETE', `${tagsPath(alice.userId)}/m.favourite`, { token: alice.accessToken });
    expect(del.status).to.equal(200);
    const after = await syncUntil(aliceLaptop.accessToken, synced.next_batch, (b) => roomTagEvents(b).some((e) => !('m.favourite' in e.content.tags)));
    expect(roomTagEvents(after).at(-1).content).to.deep.equal({ tags: { 'u.Work': {} } });

    // A fresh initial sync carries the current tags too.
    const fresh = await t.request('GET', '/_matrix/client/v3/sync', { token: aliceLaptop.accessToken });
    expect(roomTagEvents(fresh.body)).to.deep.equal([{ type: 'm.tag', content: { tags: { 'u.Work': {} } } }]);
  });

  it('brings a room\'s tags, set while the user was away, with the incremental /sync that brings the rejoin', async () => {
    const room = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: bob.accessToken, body: { preset: 'public_chat' } })).body.room_id;
    await t.request('POST', `/_matrix/client/v3/join/${enc(room)}`, { token: alice.accessToken, body: {} });
    await t.request('PUT', `${tagsPath(alice.userId, room)}/u.Archive`, { token: alice.accessToken, body: {} });
    await t.request('POST', `/_matrix/client/v3/rooms/${enc(room)}/leave`, { token: alice.accessToken, body: {} });
    const before = await t.request('GET', '/_matrix/client/v3/sync', { token: aliceLaptop.accessToken });
    await t.request('POST', `/_matrix/client/v3/join/${enc(room)}`, { token: alice.accessToken, body: {} });
    const synced = await syncUntil(aliceLaptop.accessToken, before.body.next_batch, (b) => !!b.rooms?.join?.[room]);
    const tags = ((synced.rooms.join[room].account_data?.events ?? []) as any[]).filter((e) => e.type === 'm.tag');
    expect(tags).to.deep.equal([{ type: 'm.tag', content: { tags: { 'u.Archive': {} } } }]);
    // The next incremental sync does not repeat them.
    const next = await t.request('GET', `/_matrix/client/v3/sync?since=${enc(synced.next_batch)}&timeout=0`, { token: aliceLaptop.accessToken });
    expect(next.body.rooms?.join?.[room]?.account_data?.events ?? []).to.deep.equal([]);
  });

  it('lists, adds and removes tags through matrix-js-sdk (archive = m.lowpriority)', async () => {
    const client = sdkClient(t.baseUrl, alice);
    await client.setRoomTag(roomId, 'm.lowpriority', { order: 1 });
    await client.setRoomTag(roomId, 'u.Клиенты', {});
    const got = await client.getRoomTags(roomId);
    expect(got.tags).to.deep.equal({ 'u.Work': {}, 'm.lowpriority': { order: 1 }, 'u.Клиенты': {} });
    await client.deleteRoomTag(roomId, 'u.Клиенты');
    // Removing a tag the room does not have is fine.
    await client.deleteRoomTag(roomId, 'u.never-set');
    const res = await t.request('GET', tagsPath(alice.userId), { token: alice.accessToken });
    expect(res.body).to.deep.equal({ tags: { 'u.Work': {}, 'm.lowpriority': { order: 1 } } });
    // The same data through the room account data endpoint.
    const raw = await t.request('GET', `/_matrix/client/v3/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.tag`, { token: alice.accessToken });
    expect(raw.body).to.deep.equal(res.body);
  });

  it('keeps every tag when several are set at once', async () => {
    const names = ['u.a', 'u.b', 'u.c', 'u.d', 'u.e', 'u.f'];
    const results = await Promise.all(names.map((n, i) => t.request('PUT', `${tagsPath(alice.userId)}/${n}`, { token: alice.accessToken, body: { order: i / 10 } })));
    expect(results.map((r) => r.status)).to.deep.equal(names.map(() => 200));
    const res = await t.request('GET', tagsPath(alice.userId), { token: alice.accessToken });
    for (const [i, n] of names.entries()) expect(res.body.tags[n], n).to.deep.equal({ order: i / 10 });
    await Promise.all(names.map((n) => t.request('DELETE', `${tagsPath(alice.userId)}/${n}`, { token: alice.accessToken })));
    const after = await t.request('GET', tagsPath(alice.userId), { token: alice.accessToken });
    expect(Object.keys(after.body.tags).sort()).to.deep.equal(['m.lowpriority', 'u.Work']);
  });

  it('answers an empty tag list for an untagged room, under r0 and unstable too', async () => {
    const other = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: {} })).body.room_id;
    for (const prefix of ['v3', 'r0', 'unstable']) {
      const res = await t.request('GET', `/_matrix/client/${prefix}/user/${enc(alice.userId)}/rooms/${enc(other)}/tags`, { token: alice.accessToken });
      expect(res.status, prefix).to.equal(200);
      expect(res.body, prefix).to.deep.equal({ tags: {} });
    }
  });

  it('refuses other users, bad orders, long names and bad room IDs, storing nothing', async () => {
    const before = await t.request('GET', tagsPath(alice.userId), { token: alice.accessToken });
    const cases: [string, string, string, unknown, number][] = [
      ['PUT', `${tagsPath(alice.userId)}/u.hijack`, bob.accessToken, {}, 403],
      ['GET', tagsPath(alice.userId), bob.accessToken, undefined, 403],
      ['DELETE', `${tagsPath(alice.userId)}/u.Work`, bob.accessToken, undefined, 403],
      ['PUT', `${tagsPath(alice.userId)}/u.high`, alice.accessToken, { order: 1.5 }, 400],
      ['PUT', `${tagsPath(alice.userId)}/u.neg`, alice.accessToken, { order: -0.1 }, 400],
      ['PUT', `${tagsPath(alice.userId)}/u.str`, alice.accessToken, { order: 'high' }, 400],
      ['PUT', `${tagsPath(alice.userId)}/u.${'x'.repeat(254)}`, alice.accessToken, {}, 400],
      ['PUT', `${tagsPath(alice.userId, 'not-a-room')}/u.x`, alice.accessToken, {}, 400],
    ];
    for (const [method, path, token, body, status] of cases) {
      const res = await t.request(method, path, { token, body });
      expect(res.status, `${method} ${path.slice(0, 100)}`).to.equal(status);
      expect(res.body.errcode).to.be.oneOf(status === 403 ? ['M_FORBIDDEN'] : ['M_INVALID_PARAM', 'M_BAD_JSON']);
    }
    const unauth = await t.request('GET', tagsPath(alice.userId));
    expect(unauth.status).to.equal(401);
    const afterAll = await t.request('GET', tagsPath(alice.userId), { token: alice.accessToken });
    expect(afterAll.body).to.deep.equal(before.body);
    // The longest allowed name (255 bytes) is fine.
    const longest = `u.${'y'.repeat(253)}`;
    expect((await t.request('PUT', `${tagsPath(alice.userId)}/${longest}`, { token: alice.accessToken, body: { order: 0 } })).status).to.equal(200);
    expect((await t.request('GET', tagsPath(alice.userId), { token: alice.accessToken })).body.tags[longest]).to.deep.equal({ order: 0 });
  });
});
