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

describe('reporting content: POST /rooms/{roomId}/report[/{eventId}]', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser('alice');
    bob = await t.registerUser('bob');
    eve = await t.registerUser('eve');
  });
  after(async () => t?.close());

  async function reports(): Promise<any[]> {
    const { rows } = await t.server.services.storage.db.query(
      'SELECT room_id, event_id, user_id, reason, score, content FROM event_reports ORDER BY id',
    );
    return rows;
  }
  const reportEvent = (user: TestUser, roomId: string, eventId: string, body: unknown) =>
    t.request('POST', `${V3}/rooms/${enc(roomId)}/report/${enc(eventId)}`, { token: user.accessToken, body });
  const reportRoom = (user: TestUser, roomId: string, body: unknown) =>
    t.request('POST', `${V3}/rooms/${enc(roomId)}/report`, { token: user.accessToken, body });

  it('stores a member\'s report of an event (matrix-js-sdk reportEvent)', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const b = sdkClient(t.baseUrl, bob);
    const { room_id } = await a.createRoom({ preset: 'public_chat' as any });
    await b.joinRoom(room_id);
    const { event_id } = await a.sendTextMessage(room_id, 'something rude');
    const before = (await reports()).length;
    expect(await b.reportEvent(room_id, event_id, -100, 'rude')).to.deep.equal({});
    const rows = await reports();
    expect(rows).to.have.length(before + 1);
    expect(rows.at(-1)).to.deep.include({ room_id, event_id, user_id: bob.userId, reason: 'rude', score: -100 });
    expect(rows.at(-1).content).to.deep.equal({ score: -100, reason: 'rude' });

    // The reason is optional.
    const bare = await reportEvent(bob, room_id, event_id, {});
    expect(bare.status).to.equal(200);
    expect(bare.body).to.deep.equal({});
    expect((await reports()).at(-1)).to.deep.include({ event_id, reason: null, score: null });
  });

  it('answers 404 when the event does not exist, is in another room, or the reporter cannot see it', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const b = sdkClient(t.baseUrl, bob);
    const { room_id } = await a.createRoom({ preset: 'public_chat' as any });
    const { room_id: other } = await a.createRoom({ preset: 'public_chat' as any });
    await b.joinRoom(room_id);
    const { event_id } = await a.sendTextMessage(room_id, 'hello');
    const before = (await reports()).length;

    // Eve is not in the room.
    expectError(await reportEvent(eve, room_id, event_id, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await reportEvent(bob, room_id, '$doesnotexist', { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await reportEvent(alice, other, event_id, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await reportEvent(bob, room_id, event_id, { reason: 5 }), 400, 'M_BAD_JSON');
    expectError(await reportEvent(bob, room_id, event_id, { score: 'very bad' }), 400, 'M_BAD_JSON');
    expectError(await t.request('POST', `${V3}/rooms/${enc(room_id)}/report/${enc(event_id)}`, { body: {} }), 401, 'M_MISSING_TOKEN');
    expect(await reports()).to.have.length(before);
  });

  it('follows history visibility: joined history hides earlier events; a member who left may still report what they saw', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id } = await a.createRoom({ preset: 'public_chat' as any });
    await a.sendStateEvent(room_id, 'm.room.history_visibility' as any, { history_visibility: 'joined' } as any, '');
    const { event_id: beforeJoin } = await a.sendTextMessage(room_id, 'before eve joined');
    const e = sdkClient(t.baseUrl, eve);
    await e.joinRoom(room_id);
    const { event_id: seen } = await a.sendTextMessage(room_id, 'while eve is here');

    expectError(await reportEvent(eve, room_id, beforeJoin, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expect((await reportEvent(eve, room_id, seen, { reason: 'x' })).status).to.equal(200);

    await e.leave(room_id);
    expect((await reportEvent(eve, room_id, seen, { reason: 'still seen' })).status).to.equal(200);
    const { event_id: afterLeave } = await a.sendTextMessage(room_id, 'after eve left');
    expectError(await reportEvent(eve, room_id, afterLeave, { reason: 'x' }), 404, 'M_NOT_FOUND');
  });

  it('stores reports of rooms from anyone, refuses unknown rooms and a missing reason', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id } = await a.createRoom({});
    const before = (await reports()).length;
    // spec: the caller need not be joined to the room.
    expect(await sdkClient(t.baseUrl, eve).reportRoom(room_id, 'bad room')).to.deep.equal({});
    const rows = await reports();
    expect(rows).to.have.length(before + 1);
    expect(rows.at(-1)).to.deep.include({ room_id, event_id: null, user_id: eve.userId, reason: 'bad room' });
    // spec: "May be blank."
    expect((await reportRoom(eve, room_id, { reason: '' })).status).to.equal(200);

    expectError(await reportRoom(eve, '!nosuchroom:test.local', { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await reportRoom(eve, room_id, {}), 400, 'M_BAD_JSON');
    expect(await reports()).to.have.length(before + 2);
  });
});
