import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';
import { CS, enc, nextTxnId } from './helpers/rooms.js';

/** spec: Client-Server API "Listing notifications" (GET /notifications). */
describe('push: GET /notifications', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => t?.close());

  const send = async (user: TestUser, roomId: string, content: unknown): Promise<string> => {
    const res = await t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/${nextTxnId()}`, { token: user.accessToken, body: content });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.event_id;
  };
  const text = (body: string, extra: Record<string, unknown> = {}) => ({ msgtype: 'm.text', body, ...extra });
  const notifications = async (user: TestUser, query = '') => {
    const res = await t.request('GET', `${CS}/notifications${query ? '?' + query : ''}`, { token: user.accessToken });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body as { notifications: any[]; next_token?: string };
  };
  /** A fresh pair of users in a fresh room (a is the creator). */
  const pair = async () => {
    const a = await t.registerUser();
    const b = await t.registerUser();
    const roomId = (await sdkClient(t.baseUrl, a).createRoom({ preset: 'public_chat' as any })).room_id;
    await sdkClient(t.baseUrl, b).joinRoom(roomId);
    return { a, b, roomId };
  };

  it('lists the notified events, newest first, with actions, event, read, room_id and ts', async () => {
    const { a, b, roomId } = await pair();
    const e1 = await send(a, roomId, text('first'));
    const e2 = await send(a, roomId, text('second', { 'm.mentions': { user_ids: [b.userId] } }));
    await send(b, roomId, text('my own reply'));
    const { notifications: list } = await notifications(b);
    expect(list.map((n) => n.event.event_id)).to.deep.equal([e2, e1]);
    const [n2, n1] = list;
    expect(n2.room_id).to.equal(roomId);
    expect(n2.read).to.equal(false);
    expect(n2.ts).to.be.a('number');
    expect(n2.event).to.include({ type: 'm.room.message', sender: a.userId, room_id: roomId });
    expect(n2.event.content.body).to.equal('second');
    expect(n2.actions).to.include('notify');
    expect(n2.actions).to.deep.include({ set_tweak: 'highlight' });
    expect(n1.actions).to.include('notify');
    expect(n1.actions.some((x: any) => x?.set_tweak === 'highlight' && x.value !== false)).to.equal(false);
    // The sender's own events are never the sender's notifications.
    expect((await notifications(a)).notifications.map((n) => n.event.content.body)).to.deep.equal(['my own reply']);
  });

  it('only=highlight keeps the highlighted ones', async () => {
    const { a, b, roomId } = await pair();
    await send(a, roomId, text('plain 1'));
    const mention = await send(a, roomId, text('look here', { 'm.mentions': { user_ids: [b.userId] } }));
    await send(a, roomId, text('plain 2'));
    expect((await notifications(b)).notifications).to.have.length(3);
    const only = await notifications(b, 'only=highlight');
    expect(only.notifications.map((n) => n.event.event_id)).to.deep.equal([mention]);
  });

  it('read turns true once a read receipt covers the event', async () => {
    const { a, b, roomId } = await pair();
    const e1 = await send(a, roomId, text('one'));
    const e2 = await send(a, roomId, text('two'));
    const r = await t.request('POST', `${CS}/rooms/${enc(roomId)}/receipt/m.read/${enc(e1)}`, { token: b.accessToken, body: {} });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    const list = (await notifications(b)).notifications;
    expect(list.map((n) => [n.event.event_id, n.read])).to.deep.equal([
      [e2, false],
      [e1, true],
    ]);
  });

  it('pages with limit and from=next_token, without overlap, the last page has no next_token', async () => {
    const { a, b, roomId } = await pair();
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push(await send(a, roomId, text(`m${i}`)));
    const p1 = await notifications(b, 'limit=2');
    expect(p1.notifications.map((n) => n.event.event_id)).to.deep.equal([sent[4], sent[3]]);
    expect(p1.next_token).to.be.a('string');
    const p2 = await notifications(b, `limit=2&from=${enc(p1.next_token!)}`);
    expect(p2.notifications.map((n) => n.event.event_id)).to.deep.equal([sent[2], sent[1]]);
    const p3 = await notifications(b, `limit=2&from=${enc(p2.next_token!)}`);
    expect(p3.notifications.map((n) => n.event.event_id)).to.deep.equal([sent[0]]);
    expect(p3.next_token).to.equal(undefined);
  });

  it('an invite is a notification of the invitee (.m.rule.invite_for_me)', async () => {
    const a = await t.registerUser();
    const c = await t.registerUser();
    const roomId = (await sdkClient(t.baseUrl, a).createRoom({ preset: 'private_chat' as any })).room_id;
    await sdkClient(t.baseUrl, a).invite(roomId, c.userId);
    const list = (await notifications(c)).notifications;
    expect(list).to.have.length(1);
    expect(list[0].event).to.include({ type: 'm.room.member', state_key: c.userId, room_id: roomId });
    expect(list[0].event.content.membership).to.equal('invite');
  });

  it('a room muted by a room rule gives no notifications', async () => {
    const { a, b, roomId } = await pair();
    const put = await t.request('PUT', `${CS}/pushrules/global/room/${enc(roomId)}`, { token: b.accessToken, body: { actions: [] } });
    expect(put.status).to.equal(200);
    await send(a, roomId, text('muted', { 'm.mentions': { user_ids: [b.userId] } }));
    // The mention is an override rule, which outranks room rules: it still notifies.
    await send(a, roomId, text('muted and plain'));
    expect((await notifications(b)).notifications.map((n) => n.event.content.body)).to.deep.equal(['muted']);
  });

  it('a malformed from is 400 M_INVALID_PARAM; no token is 401', async () => {
    const u = await t.registerUser();
    const bad = await t.request('GET', `${CS}/notifications?from=abc`, { token: u.accessToken });
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal('M_INVALID_PARAM');
    const anon = await t.request('GET', `${CS}/notifications`);
    expect(anon.status).to.equal(401);
  });
});
