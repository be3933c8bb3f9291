import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { expectMatrixError } from './helpers/index.js';

const CS = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('receipts and read markers', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    carol = await t.registerUser();
    roomId = (await sdkClient(t.baseUrl, alice).createRoom({ preset: 'public_chat' as any, name: 'Receipts room' })).room_id;
    await sdkClient(t.baseUrl, bob).joinRoom(roomId);
  });
  after(async () => t?.close());

  const sync = (user: TestUser, q = '') => t.request('GET', `${CS}/sync?${q}`, { token: user.accessToken });
  const send = async (user: TestUser, body: string, extra: Record<string, unknown> = {}): Promise<string> =>
    (await sdkClient(t.baseUrl, user).sendEvent(roomId, 'm.room.message' as any, { msgtype: 'm.text', body, ...extra } as any)).event_id;
  const asEvent = (eventId: string) => new sdk.MatrixEvent({ event_id: eventId, room_id: roomId, type: 'm.room.message', content: {} });
  const postReceipt = (user: TestUser, type: string, eventId: string, body: unknown = {}, room = roomId) =>
    t.request('POST', `${CS}/rooms/${enc(room)}/receipt/${enc(type)}/${enc(eventId)}`, { token: user.accessToken, body });
  /** The m.receipt content of a room in a sync reply ({} when there is none). */
  const receiptsIn = (body: any, room = roomId): Record<string, any> => {
    const events = body.rooms?.join?.[room]?.ephemeral?.events ?? [];
    const receipt = events.filter((e: any) => e.type === 'm.receipt');
    expect(receipt.length, 'one m.receipt event per room').to.be.at.most(1);
    return receipt[0]?.content ?? {};
  };

  it("delivers a member's read receipt to the others, in the spec's shape", async () => {
    const first = await sync(alice);
    const eventId = await send(alice, 'read me');
    await sdkClient(t.baseUrl, bob).sendReadReceipt(asEvent(eventId), sdk.ReceiptType.Read, true);
    const res = await sync(alice, `since=${first.body.next_batch}`);
    const content = receiptsIn(res.body);
    expect(Object.keys(content)).to.deep.equal([eventId]);
    expect(Object.keys(content[eventId])).to.deep.equal(['m.read']);
    const receipt = content[eventId]['m.read'][bob.userId];
    expect(receipt.ts).to.be.a('number').and.to.be.closeTo(Date.now(), 60_000);
    expect(receipt).to.not.have.property('thread_id');
    // An initial sync carries the current receipts too.
    expect(receiptsIn((await sync(carol)).body)).to.deep.equal({});
    expect(receiptsIn((await sync(alice)).body)[eventId]['m.read'][bob.userId].ts).to.equal(receipt.ts);
  });

  it('wakes a waiting long-poll when a receipt arrives', async () => {
    const eventId = await send(alice, 'wake on receipt');
    const first = await sync(alice);
    const started = Date.now();
    const pending = sync(alice, `since=${first.body.next_batch}&timeout=20000`);
    await new Promise((r) => setTimeout(r, 200));
    expect((await postReceipt(bob, 'm.read', eventId)).status).to.equal(200);
    const res = await pending;
    expect(Date.now() - started).to.be.lessThan(10000);
    expect(receiptsIn(res.body)[eventId]['m.read']).to.have.property(bob.userId);
  });

  it('delivers m.read.private only to its owner', async () => {
    const aliceFirst = await sync(alice);
    const bobFirst = await sync(bob);
    const eventId = await send(alice, 'private read');
    await sdkClient(t.baseUrl, bob).sendReadReceipt(asEvent(eventId), sdk.ReceiptType.ReadPrivate, true);
    const own = await sync(bob, `since=${bobFirst.body.next_batch}`);
    expect(receiptsIn(own.body)[eventId]['m.read.private']).to.have.property(bob.userId);
    expect(receiptsIn((await sync(bob)).body)[eventId]['m.read.private']).to.have.property(bob.userId);
    const others = await sync(alice, `since=${aliceFirst.body.next_batch}&timeout=300`);
    expect(JSON.stringify(receiptsIn(others.body))).to.not.include('m.read.private');
    expect(JSON.stringify(receiptsIn((await sync(alice)).body))).to.not.include('m.read.private');
  });

  it('never moves a receipt backwards', async () => {
    const older = await send(alice, 'older');
    const newer = await send(alice, 'newer');
    const first = await sync(alice);
    expect((await postReceipt(bob, 'm.read', newer)).status).to.equal(200);
    // Accepted (200) but ignored: the stored receipt stays on the newer event.
    expect((await postReceipt(bob, 'm.read', older)).status).to.equal(200);
    const res = await sync(alice, `since=${first.body.next_batch}`);
    const content = receiptsIn(res.body);
    expect(content[newer]['m.read']).to.have.property(bob.userId);
    expect(content).to.not.have.property(older);
    const initial = receiptsIn((await sync(alice)).body);
    expect(Object.keys(initial).filter((id) => initial[id]['m.read']?.[bob.userId])).to.deep.equal([newer]);
  });

  it('refuses receipts for unknown events (404 M_NOT_FOUND) and from non-members (403)', async () => {
    expectMatrixError(await postReceipt(bob, 'm.read', '$doesnotexist'), 404, 'M_NOT_FOUND');
    expectMatrixError(await postReceipt(bob, 'm.fully_read', '$doesnotexist'), 404, 'M_NOT_FOUND');
    // An event of another room is unknown in this one.
    const other = (await sdkClient(t.baseUrl, bob).createRoom({ name: 'elsewhere' })).room_id;
    const elsewhere = (await sdkClient(t.baseUrl, bob).sendTextMessage(other, 'elsewhere')).event_id;
    expectMatrixError(await postReceipt(bob, 'm.read', elsewhere), 404, 'M_NOT_FOUND');
    const res = await t.request('POST', `${CS}/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, body: { 'm.fully_read': '$doesnotexist' } });
    expectMatrixError(res, 404, 'M_NOT_FOUND');
    const eventId = await send(alice, 'members only');
    expectMatrixError(await postReceipt(carol, 'm.read', eventId), 403, 'M_FORBIDDEN');
    expectMatrixError(await postReceipt(bob, 'm.unknown', eventId), 400, 'M_INVALID_PARAM');
  });

  it('stores threaded receipts with their thread_id', async () => {
    const root = await send(alice, 'thread root');
    const reply = await send(alice, 'in thread', { 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const main = await send(alice, 'main timeline');
    const first = await sync(alice);
    expect((await postReceipt(bob, 'm.read', reply, { thread_id: root })).status).to.equal(200);
    expect((await postReceipt(bob, 'm.read', main, { thread_id: 'main' })).status).to.equal(200);
    const content = receiptsIn((await sync(alice, `since=${first.body.next_batch}`)).body);
    expect(content[reply]['m.read'][bob.userId].thread_id).to.equal(root);
    expect(content[main]['m.read'][bob.userId].thread_id).to.equal('main');

    // A thread receipt and a main one coexist: the thread's does not replace the main one.
    const lastRead = await t.server.services.receipts.lastReadStream(bob.userId, [roomId]);
    const forRoom = lastRead.get(roomId)!;
    const positions = await t.server.services.storage.events.getEvents([reply, main]);
    expect(forRoom.threads[root]).to.be.at.least(positions.get(reply)!.streamOrdering);
    expect(forRoom.main).to.equal(positions.get(main)!.streamOrdering);

    expectMatrixError(await postReceipt(bob, 'm.read', reply, { thread_id: '' }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await postReceipt(bob, 'm.read', reply, { thread_id: 42 }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await postReceipt(bob, 'm.read', reply, { thread_id: '$not-its-thread' }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await postReceipt(bob, 'm.fully_read', reply, { thread_id: root }), 400, 'M_INVALID_PARAM');
  });

  it('exposes the latest read position per room for unread counts', async () => {
    const dave = await t.registerUser();
    await sdkClient(t.baseUrl, dave).joinRoom(roomId);
    expect((await t.server.services.receipts.lastReadStream(dave.userId, [roomId])).has(roomId)).to.equal(false);
    const a = await send(alice, 'a');
    const b = await send(alice, 'b');
    const stored = await t.server.services.storage.events.getEvents([a, b]);
    await postReceipt(dave, 'm.read', a);
    await postReceipt(dave, 'm.read.private', b);
    const got = (await t.server.services.receipts.lastReadStream(dave.userId, [roomId])).get(roomId)!;
    // The later of m.read and m.read.private counts; unthreaded receipts cover the main timeline.
    expect(got.main).to.equal(stored.get(b)!.streamOrdering);
    expect(got.unthreaded).to.equal(stored.get(b)!.streamOrdering);
  });

  it("keeps the reader's unread counts in rooms sent only for a receipt, and resets them with the reader's own", async () => {
    const first = await sync(bob);
    await send(alice, 'unread 1');
    const last = await send(alice, 'unread 2');
    const withNews = await sync(bob, `since=${first.body.next_batch}`);
    const unread = withNews.body.rooms.join[roomId].unread_notifications.notification_count;
    expect(unread).to.be.at.least(2);
    // Someone else's receipt brings the room back without touching bob's counts.
    await postReceipt(alice, 'm.read', last);
    const others = await sync(bob, `since=${withNews.body.next_batch}`);
    expect(receiptsIn(others.body)[last]['m.read']).to.have.property(alice.userId);
    expect(others.body.rooms.join[roomId].timeline.events).to.deep.equal([]);
    expect(others.body.rooms.join[roomId].unread_notifications.notification_count).to.equal(unread);
    // Bob's own receipt on the latest event resets them, on his next sync.
    await postReceipt(bob, 'm.read', last);
    const own = await sync(bob, `since=${others.body.next_batch}`);
    expect(own.body.rooms.join[roomId].unread_notifications).to.deep.equal({ notification_count: 0, highlight_count: 0 });
  });

  it('read markers set m.fully_read room account data and the receipts', async () => {
    const read = await send(alice, 'marker');
    const first = await sync(alice);
    const bobClient = sdkClient(t.baseUrl, bob);
    await bobClient.setRoomReadMarkers(roomId, read, asEvent(read));
    const data = await t.request('GET', `${CS}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: bob.accessToken });
    expect(data.status).to.equal(200);
    expect(data.body).to.deep.equal({ event_id: read });
    expect(receiptsIn((await sync(alice, `since=${first.body.next_batch}`)).body)[read]['m.read']).to.have.property(bob.userId);
    // Bob's own sync shows the marker in the room's account data, not as a receipt.
    const bobSync = await sync(bob);
    const accountData = bobSync.body.rooms.join[roomId].account_data.events;
    expect(accountData).to.deep.include({ type: 'm.fully_read', content: { event_id: read } });
    expect(JSON.stringify(receiptsIn(bobSync.body))).to.not.include('m.fully_read');
  });

  it('m.fully_read through /receipt sets the marker, which never moves backwards', async () => {
    const older = await send(alice, 'fr older');
    const newer = await send(alice, 'fr newer');
    const marker = () =>
      t.request('GET', `${CS}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: bob.accessToken });
    expect((await postReceipt(bob, 'm.fully_read', newer)).status).to.equal(200);
    expect((await marker()).body).to.deep.equal({ event_id: newer });
    expect((await postReceipt(bob, 'm.fully_read', older)).status).to.equal(200);
    expect((await marker()).body).to.deep.equal({ event_id: newer });
    const res = await t.request('POST', `${CS}/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, body: { 'm.read.private': newer } });
    expect(res.status).to.equal(200);
    const own = receiptsIn((await sync(bob)).body);
    expect(own[newer]['m.read.private']).to.have.property(bob.userId);
  });

  it('a user who joins later gets the existing receipts with the room', async () => {
    const eventId = await send(alice, 'before erin');
    await postReceipt(alice, 'm.read', eventId);
    const erin = await t.registerUser();
    const first = await sync(erin);
    await sdkClient(t.baseUrl, erin).joinRoom(roomId);
    const res = await sync(erin, `since=${first.body.next_batch}`);
    expect(receiptsIn(res.body)[eventId]['m.read']).to.have.property(alice.userId);
  });
});
