/** spec: Client-Server API §10 "Client Config" — global and per-room account data. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { sdkClient } from '../sdk.js';
import { countRows, expectMatrixError, useServer } from './helpers/index.js';

const globalPath = (userId: string, type: string) => `/_matrix/client/v3/user/${encodeURIComponent(userId)}/account_data/${encodeURIComponent(type)}`;
const roomPath = (userId: string, roomId: string, type: string) =>
  `/_matrix/client/v3/user/${encodeURIComponent(userId)}/rooms/${encodeURIComponent(roomId)}/account_data/${encodeURIComponent(type)}`;
const ROOM = '!someroom:test.local';

describe('account data', () => {
  const s = useServer();
  let alice: { userId: string; accessToken: string; deviceId: string };
  let bob: { userId: string; accessToken: string; deviceId: string };
  before(async () => {
    alice = await s.t.registerUser('alice');
    bob = await s.t.registerUser('bob');
  });

  it('stores and returns global account data, replacing it on a second PUT (matrix-js-sdk)', async () => {
    const client = sdkClient(s.t.baseUrl, alice);
    await client.setAccountData('m.direct' as never, { '@bob:test.local': ['!a:test.local'] } as never);
    expect(await client.getAccountDataFromServer('m.direct' as never)).to.deep.equal({ '@bob:test.local': ['!a:test.local'] });
    await client.setAccountData('m.direct' as never, {} as never);
    expect(await client.getAccountDataFromServer('m.direct' as never)).to.deep.equal({});
    const custom = await s.t.request('PUT', globalPath(alice.userId, 'org.example.settings'), { token: alice.accessToken, body: { theme: 'dark', n: [1, 2] } });
    expect(custom.status).to.equal(200);
    const got = await s.t.request('GET', globalPath(alice.userId, 'org.example.settings'), { token: alice.accessToken });
    expect(got.body).to.deep.equal({ theme: 'dark', n: [1, 2] });
  });

  it('stores per-room account data apart from global data of the same type', async () => {
    const client = sdkClient(s.t.baseUrl, alice);
    await client.setRoomAccountData(ROOM, 'org.example.room_setting' as never, { colour: 'red' } as never);
    const got = await s.t.request('GET', roomPath(alice.userId, ROOM, 'org.example.room_setting'), { token: alice.accessToken });
    expect(got.status).to.equal(200);
    expect(got.body).to.deep.equal({ colour: 'red' });
    expectMatrixError(await s.t.request('GET', globalPath(alice.userId, 'org.example.room_setting'), { token: alice.accessToken }), 404, 'M_NOT_FOUND');
    expectMatrixError(await s.t.request('GET', roomPath(alice.userId, '!other:test.local', 'org.example.room_setting'), { token: alice.accessToken }), 404, 'M_NOT_FOUND');
    const r0 = await s.t.request('GET', `/_matrix/client/r0/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(ROOM)}/account_data/org.example.room_setting`, { token: alice.accessToken });
    expect(r0.body).to.deep.equal({ colour: 'red' });
  });

  it('answers 404 M_NOT_FOUND for missing account data', async () => {
    expectMatrixError(await s.t.request('GET', globalPath(alice.userId, 'org.example.never_set'), { token: alice.accessToken }), 404, 'M_NOT_FOUND');
    expect(await sdkClient(s.t.baseUrl, alice).getAccountDataFromServer('org.example.never_set' as never)).to.equal(null);
  });

  it('refuses m.fully_read and m.push_rules with 405 M_BAD_JSON', async () => {
    const before = await countRows(s.t, 'account_data');
    for (const type of ['m.fully_read', 'm.push_rules']) {
      expectMatrixError(await s.t.request('PUT', globalPath(alice.userId, type), { token: alice.accessToken, body: { event_id: '$x' } }), 405, 'M_BAD_JSON');
      expectMatrixError(await s.t.request('PUT', roomPath(alice.userId, ROOM, type), { token: alice.accessToken, body: { event_id: '$x' } }), 405, 'M_BAD_JSON');
    }
    expect(await countRows(s.t, 'account_data')).to.equal(before);
  });

  it("refuses another user's account data with 403 M_FORBIDDEN", async () => {
    await s.t.request('PUT', globalPath(bob.userId, 'org.example.secret'), { token: bob.accessToken, body: { s: 1 } });
    expectMatrixError(await s.t.request('GET', globalPath(bob.userId, 'org.example.secret'), { token: alice.accessToken }), 403, 'M_FORBIDDEN');
    expectMatrixError(await s.t.request('PUT', globalPath(bob.userId, 'org.example.secret'), { token: alice.accessToken, body: { s: 2 } }), 403, 'M_FORBIDDEN');
    expectMatrixError(await s.t.request('GET', roomPath(bob.userId, ROOM, 'org.example.secret'), { token: alice.accessToken }), 403, 'M_FORBIDDEN');
    expectMatrixError(await s.t.request('PUT', roomPath(bob.userId, ROOM, 'org.example.secret'), { token: alice.accessToken, body: { s: 2 } }), 403, 'M_FORBIDDEN');
    expect((await s.t.request('GET', globalPath(bob.userId, 'org.example.secret'), { token: bob.accessToken })).body).to.deep.equal({ s: 1 });
  });

  it('refuses a body that is not a JSON object', async () => {
    const path = globalPath(alice.userId, 'org.example.bad');
    expectMatrixError(await s.t.request('PUT', path, { token: alice.accessToken, rawBody: '[1,2]', headers: { 'Content-Type': 'application/json' } }), 400, 'M_BAD_JSON');
    expectMatrixError(await s.t.request('PUT', path, { token: alice.accessToken, rawBody: 'nope', headers: { 'Content-Type': 'application/json' } }), 400, 'M_NOT_JSON');
    expectMatrixError(await s.t.request('GET', path, { token: alice.accessToken }), 404, 'M_NOT_FOUND');
  });

  it('refuses a room ID that is not one with 400 M_INVALID_PARAM', async () => {
    const before = await countRows(s.t, 'account_data');
    expectMatrixError(await s.t.request('PUT', roomPath(alice.userId, 'not-a-room', 'org.example.x'), { token: alice.accessToken, body: { a: 1 } }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await s.t.request('GET', roomPath(alice.userId, 'not-a-room', 'org.example.x'), { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
    expect(await countRows(s.t, 'account_data')).to.equal(before);
  });

  it('refuses a type longer than 255 bytes with 400, storing nothing', async () => {
    const before = await countRows(s.t, 'account_data');
    const type = 'org.example.' + randomBytes(2000).toString('hex');
    const res = await s.t.request('PUT', globalPath(alice.userId, type), { token: alice.accessToken, body: { a: 1 } });
    expect(res.status).to.equal(400);
    expect(res.body.errcode).to.be.a('string');
    expect(await countRows(s.t, 'account_data')).to.equal(before);
  });

  it('needs a token', async () => {
    expectMatrixError(await s.t.request('GET', globalPath(alice.userId, 'm.direct')), 401, 'M_MISSING_TOKEN');
  });
});
