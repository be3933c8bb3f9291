import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { expectMatrixError, rejectionOf } from './helpers/index.js';

const CS = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('typing notifications', () => {
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
    roomId = (await sdkClient(t.baseUrl, alice).createRoom({ preset: 'public_chat' as any, name: 'Typing room' })).room_id;
    await sdkClient(t.baseUrl, bob).joinRoom(roomId);
  });
  after(async () => t?.close());

  const sync = (user: TestUser, q = '') => t.request('GET', `${CS}/sync?${q}`, { token: user.accessToken });
  const typingPut = (user: TestUser, target: string, body: unknown, room = roomId) =>
    t.request('PUT', `${CS}/rooms/${enc(room)}/typing/${enc(target)}`, { token: user.accessToken, body });
  /** The m.typing user_ids of a room in a sync reply, or undefined when the room has no m.typing. */
  const typingIn = (body: any, room = roomId): string[] | undefined =>
    body.rooms?.join?.[room]?.ephemeral?.events?.find((e: any) => e.type === 'm.typing')?.content.user_ids;

  it("shows a user's typing in the other member's sync, and its expiry to a waiting sync", async () => {
    const before = await sync(bob);
    expect(typingIn(before.body)).to.equal(undefined);
    await sdkClient(t.baseUrl, alice).sendTyping(roomId, true, 1000);
    const started = Date.now();
    const seen = await sync(bob, `since=${before.body.next_batch}`);
    expect(typingIn(seen.body)).to.deep.equal([alice.userId]);
    // An initial sync also shows who is typing now.
    expect(typingIn((await sync(bob)).body)).to.deep.equal([alice.userId]);
    // A long-poll that began while alice typed returns once her 1 s timeout passes.
    const expired = await sync(bob, `since=${seen.body.next_batch}&timeout=10000`);
    const elapsed = Date.now() - started;
    expect(typingIn(expired.body)).to.deep.equal([]);
    expect(elapsed).to.be.within(900, 5000);
    // Nothing typing: an initial sync has no m.typing.
    expect(typingIn((await sync(bob)).body)).to.equal(undefined);
  });

  it('wakes a waiting long-poll when someone starts typing', async () => {
    const first = await sync(bob);
    const started = Date.now();
    const pending = sync(bob, `since=${first.body.next_batch}&timeout=20000`);
    await new Promise((r) => setTimeout(r, 200));
    await sdkClient(t.baseUrl, alice).sendTyping(roomId, true, 30000);
    const res = await pending;
    expect(Date.now() - started).to.be.lessThan(10000);
    expect(typingIn(res.body)).to.deep.equal([alice.userId]);
    // Stopping is a change too, seen at once.
    await sdkClient(t.baseUrl, alice).sendTyping(roomId, false, 0);
    const stopped = await sync(bob, `since=${res.body.next_batch}&timeout=5000`);
    expect(Date.now() - started).to.be.lessThan(10000);
    expect(typingIn(stopped.body)).to.deep.equal([]);
  });

  it("refuses to set someone else's typing (403)", async () => {
    const res = await typingPut(bob, alice.userId, { typing: true, timeout: 5000 });
    expectMatrixError(res, 403, 'M_FORBIDDEN');
    const err = await rejectionOf(sdkClient(t.baseUrl, carol).sendTyping(roomId, true, 5000));
    expect(err.httpStatus).to.equal(403);
    expect(typingIn((await sync(alice)).body)).to.equal(undefined);
  });

  it('refuses typing from a user who is not joined (403)', async () => {
    const res = await typingPut(carol, carol.userId, { typing: true, timeout: 5000 });
    expectMatrixError(res, 403, 'M_FORBIDDEN');
  });

  it('rejects a body without typing (400 M_BAD_JSON)', async () => {
    const res = await typingPut(alice, alice.userId, { timeout: 5000 });
    expectMatrixError(res, 400, 'M_BAD_JSON');
  });

  it('honours filter.room.ephemeral', async () => {
    const first = await sync(bob);
    await typingPut(alice, alice.userId, { typing: true, timeout: 30000 });
    const noTyping = encodeURIComponent(JSON.stringify({ room: { ephemeral: { not_types: ['m.typing'] } } }));
    const filtered = await sync(bob, `since=${first.body.next_batch}&filter=${noTyping}`);
    expect(typingIn(filtered.body)).to.equal(undefined);
    const unfiltered = await sync(bob, `since=${first.body.next_batch}`);
    expect(typingIn(unfiltered.body)).to.deep.equal([alice.userId]);
    await typingPut(alice, alice.userId, { typing: false });
  });

  it("matrix-js-sdk's own sync loop sees typing start and stop, and read receipts", async () => {
    // A fresh room whose whole history fits the initial timeline, so the SDK knows alice's member
    // from the timeline alone.
    const roomId = (await sdkClient(t.baseUrl, alice).createRoom({ preset: 'public_chat' as any })).room_id;
    await sdkClient(t.baseUrl, bob).joinRoom(roomId);
    const client = sdkClient(t.baseUrl, bob);
    const typingSeen: boolean[] = [];
    const stoppedTyping = new Promise<void>((resolve) => {
      client.on(sdk.RoomMemberEvent.Typing, (_ev: any, member: any) => {
        if (member.userId !== alice.userId) return;
        typingSeen.push(member.typing);
        if (!member.typing) resolve();
      });
    });
    await client.startClient({ initialSyncLimit: 20 });
    try {
      await new Promise<void>((resolve) => client.once(sdk.ClientEvent.Sync, () => resolve()));
      const alicesClient = sdkClient(t.baseUrl, alice);
      await alicesClient.sendTyping(roomId, true, 800);
      await stoppedTyping;
      expect(typingSeen).to.deep.equal([true, false]);
      const eventId = (await alicesClient.sendTextMessage(roomId, 'read by alice')).event_id;
      // The SDK makes up a receipt for a message's sender; only the server's real one counts here.
      const realReceipt = () => client.getRoom(roomId)?.getReadReceiptForUserId(alice.userId, true, sdk.ReceiptType.Read)?.eventId;
      const receiptSeen = new Promise<void>((resolve) => {
        const check = () => realReceipt() === eventId && resolve();
        client.on(sdk.RoomEvent.Receipt, check);
        check();
      });
      await t.request('POST', `${CS}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { token: alice.accessToken, body: {} });
      await receiptSeen;
      expect(realReceipt()).to.equal(eventId);
    } finally {
      client.stopClient();
    }
  });

  it('caps the timeout at 120 s', async () => {
    await typingPut(bob, bob.userId, { typing: true, timeout: 10_000_000 });
    const services = t.server.services;
    expect(services.typing.typingIn(roomId)).to.include(bob.userId);
    // The expiry is internal; the cap shows as the entry being at most 120 s away.
    const entry = (services.typing as any).rooms.get(roomId).users.get(bob.userId);
    expect(entry.expiresAt - Date.now()).to.be.at.most(120_000);
    await typingPut(bob, bob.userId, { typing: false });
    expect(services.typing.typingIn(roomId)).to.not.include(bob.userId);
  });
});
