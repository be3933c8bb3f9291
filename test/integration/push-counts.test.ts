import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { CS, enc, nextTxnId } from './helpers/rooms.js';

/**
 * Unread notification / highlight counts in /sync (spec: Client-Server API "Receiving
 * notifications"): raised by push rules, per thread, reset by read receipts.
 */
describe('push: unread counts in /sync', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  /** Whether the receipt endpoint answered; if not, receipts were written through SQL. */
  let receiptsViaSql = false;

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser(undefined, { displayname: 'Alice' });
    bob = await t.registerUser(undefined, { displayname: 'Bobby Tables' });
  });
  after(async () => {
    if (receiptsViaSql) console.log('      (note: POST /receipt was unavailable; receipts were inserted through SQL)');
    await t?.close();
  });

  const sync = async (user: TestUser, filter?: unknown, since?: string, timeout?: number) => {
    const q = new URLSearchParams();
    if (filter) q.set('filter', JSON.stringify(filter));
    if (since) q.set('since', since);
    if (timeout !== undefined) q.set('timeout', String(timeout));
    const res = await t.request('GET', `${CS}/sync?${q}`, { token: user.accessToken });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const countsOf = async (user: TestUser, roomId: string, filter?: unknown) => {
    const body = await sync(user, filter);
    const room = body.rooms.join[roomId];
    expect(room, `room ${roomId} in ${user.userId}'s sync`).to.exist;
    return { ...room.unread_notifications, threads: room.unread_thread_notifications };
  };
  const send = async (user: TestUser, roomId: string, content: unknown, type = 'm.room.message'): Promise<string> => {
    const res = await t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/${enc(type)}/${nextTxnId()}`, { token: user.accessToken, body: content });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.event_id;
  };
  const text = (body: string, extra: Record<string, unknown> = {}) => ({ msgtype: 'm.text', body, ...extra });
  /** A fresh room of alice (creator, PL 100) and bob (PL 0). */
  const twoPersonRoom = async (): Promise<string> => {
    const res = await t.request('POST', `${CS}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } });
    expect(res.status).to.equal(200);
    const roomId = res.body.room_id;
    const join = await t.request('POST', `${CS}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} });
    expect(join.status).to.equal(200);
    return roomId;
  };
  const receipt = async (user: TestUser, roomId: string, eventId: string, type = 'm.read', threadId?: string) => {
    const body = threadId ? { thread_id: threadId } : {};
    const res = await t.request('POST', `${CS}/rooms/${enc(roomId)}/receipt/${type}/${enc(eventId)}`, { token: user.accessToken, body });
    if (res.status === 200) return;
    expect(res.status, JSON.stringify(res.body)).to.be.oneOf([404, 405]);
    receiptsViaSql = true;
    await t.server.services.storage.db.query(
      `INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, event_stream_ordering, data, stream_id)
       SELECT $1, $2, $3, $4, $5, e.stream_ordering, '{}'::jsonb, nextval('receipts_stream_seq') FROM events e WHERE e.event_id = $5
       ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE
         SET event_id = EXCLUDED.event_id, event_stream_ordering = EXCLUDED.event_stream_ordering, stream_id = EXCLUDED.stream_id`,
      [roomId, type, user.userId, threadId ?? '', eventId],
    );
  };

  it("a message in a 2-person room raises the other member's notification_count, never the sender's", async () => {
    const roomId = await twoPersonRoom();
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 0, highlight_count: 0 });
    await send(alice, roomId, text('hello'));
    await send(alice, roomId, text('are you there'));
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 2, highlight_count: 0 });
    // The sender's own messages would notify by .m.rule.room_one_to_one if evaluated.
    expect(await countsOf(alice, roomId)).to.include({ notification_count: 0, highlight_count: 0 });
  });

  /**
   * Push actions are computed right after commit; to show that /sync waits for them rather than
   * winning a race by luck, loading rulesets is slowed down here (a cold cache in a big room).
   */
  const withSlowRulesets = async (fn: () => Promise<void>) => {
    const rules = t.server.services.pushRules;
    const original = rules.ruleset;
    rules.ruleset = async (userId: string) => {
      await new Promise((r) => setTimeout(r, 300));
      return original.call(rules, userId);
    };
    try {
      await fn();
    } finally {
      rules.ruleset = original;
    }
  };

  it('a sync right after each send response already shows the count (no lag)', async () => {
    const roomId = await twoPersonRoom();
    await withSlowRulesets(async () => {
      for (let i = 1; i <= 3; i++) {
        await send(alice, roomId, text(`quick ${i}`));
        expect((await countsOf(bob, roomId)).notification_count).to.equal(i);
      }
    });
  });

  it("the long-poll woken by a message carries the message's count", async () => {
    const roomId = await twoPersonRoom();
    const first = await sync(bob);
    await withSlowRulesets(async () => {
      const pending = sync(bob, undefined, first.next_batch, 10000);
      await new Promise((r) => setTimeout(r, 150));
      await send(alice, roomId, text('wake'));
      const woken = await pending;
      expect(woken.rooms.join[roomId].timeline.events.map((e: any) => e.content.body)).to.include('wake');
      expect(woken.rooms.join[roomId].unread_notifications).to.deep.equal({ notification_count: 1, highlight_count: 0 });
    });
  });

  it('m.mentions.user_ids naming the user raises highlight_count', async () => {
    const roomId = await twoPersonRoom();
    await send(alice, roomId, text('hey you', { 'm.mentions': { user_ids: [bob.userId] } }));
    await send(alice, roomId, text('plain'));
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 2, highlight_count: 1 });
  });

  it('the display name in the body highlights (legacy rule, no m.mentions)', async () => {
    const roomId = await twoPersonRoom();
    await send(alice, roomId, text('ping bobby tables please'));
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 1, highlight_count: 1 });
  });

  it('@room highlights when the sender has the notifications.room power level, not otherwise', async () => {
    const roomId = await twoPersonRoom();
    // alice (100) may; bob (0) may not (notifications.room defaults to 50).
    await send(alice, roomId, text('@room meeting now', { 'm.mentions': { room: true } }));
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 1, highlight_count: 1 });
    await send(bob, roomId, text('@room me too', { 'm.mentions': { room: true } }));
    expect(await countsOf(alice, roomId)).to.include({ notification_count: 1, highlight_count: 0 });
    // Lowering notifications.room to 0 lets bob's @room highlight.
    const pl = await t.request('GET', `${CS}/rooms/${enc(roomId)}/state/m.room.power_levels/`, { token: alice.accessToken });
    const put = await t.request('PUT', `${CS}/rooms/${enc(roomId)}/state/m.room.power_levels/`, {
      token: alice.accessToken,
      body: { ...pl.body, notifications: { room: 0 } },
    });
    expect(put.status).to.equal(200);
    await send(bob, roomId, text('@room now I can', { 'm.mentions': { room: true } }));
    expect(await countsOf(alice, roomId)).to.include({ notification_count: 2, highlight_count: 1 });
  });

  it('a read receipt resets the counts; later messages count again', async () => {
    const roomId = await twoPersonRoom();
    const e1 = await send(alice, roomId, text('one', { 'm.mentions': { user_ids: [bob.userId] } }));
    const e2 = await send(alice, roomId, text('two'));
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 2, highlight_count: 1 });
    await receipt(bob, roomId, e1);
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 1, highlight_count: 0 });
    await receipt(bob, roomId, e2);
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 0, highlight_count: 0 });
    await send(alice, roomId, text('three'));
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 1, highlight_count: 0 });
  });

  it('the incremental sync after a receipt carries the room with its new counts', async () => {
    const roomId = await twoPersonRoom();
    const e1 = await send(alice, roomId, text('one'));
    await send(alice, roomId, text('two'));
    const before = await sync(bob);
    expect(before.rooms.join[roomId].unread_notifications).to.deep.equal({ notification_count: 2, highlight_count: 0 });
    await receipt(bob, roomId, e1);
    const after = await sync(bob, undefined, before.next_batch, 5000);
    expect(after.rooms.join[roomId], 'room in the incremental sync').to.exist;
    expect(after.rooms.join[roomId].unread_notifications).to.deep.equal({ notification_count: 1, highlight_count: 0 });
  });

  it('a private read receipt (m.read.private) resets the counts too', async () => {
    const roomId = await twoPersonRoom();
    await send(alice, roomId, text('one'));
    const e2 = await send(alice, roomId, text('two'));
    expect((await countsOf(bob, roomId)).notification_count).to.equal(2);
    await receipt(bob, roomId, e2, 'm.read.private');
    expect((await countsOf(bob, roomId)).notification_count).to.equal(0);
  });

  it('counts per thread in unread_thread_notifications; threaded receipts reset their thread only', async () => {
    const roomId = await twoPersonRoom();
    const root = await send(alice, roomId, text('thread root'));
    const inThread = (body: string, extra: Record<string, unknown> = {}) =>
      text(body, { 'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } }, ...extra });
    await send(alice, roomId, inThread('reply 1'));
    const r2 = await send(alice, roomId, inThread('reply 2', { 'm.mentions': { user_ids: [bob.userId] } }));
    const threaded = { room: { timeline: { unread_thread_notifications: true } } };

    const withThreads = await countsOf(bob, roomId, threaded);
    expect(withThreads).to.include({ notification_count: 1, highlight_count: 0 });
    expect(withThreads.threads).to.deep.equal({ [root]: { notification_count: 2, highlight_count: 1 } });
    // Without the filter flag: one count for the whole room, no per-thread map.
    const without = await countsOf(bob, roomId);
    expect(without).to.include({ notification_count: 3, highlight_count: 1 });
    expect(without.threads).to.equal(undefined);

    // A receipt in the thread clears the thread, not the main timeline.
    await receipt(bob, roomId, r2, 'm.read', root);
    const afterThreadReceipt = await countsOf(bob, roomId, threaded);
    expect(afterThreadReceipt).to.include({ notification_count: 1, highlight_count: 0 });
    expect(afterThreadReceipt.threads ?? {}).to.deep.equal({});

    // A main-timeline receipt clears the main timeline only; an unthreaded one clears everything.
    await send(alice, roomId, inThread('reply 3'));
    await receipt(bob, roomId, root, 'm.read', 'main');
    const afterMain = await countsOf(bob, roomId, threaded);
    expect(afterMain).to.include({ notification_count: 0 });
    expect(afterMain.threads).to.deep.equal({ [root]: { notification_count: 1, highlight_count: 0 } });
    const last = await send(alice, roomId, text('main again'));
    await receipt(bob, roomId, last);
    const cleared = await countsOf(bob, roomId, threaded);
    expect(cleared).to.include({ notification_count: 0, highlight_count: 0 });
    expect(cleared.threads ?? {}).to.deep.equal({});
  });

  it('a room rule without notify (actions [] / dont_notify) stops counting in that room', async () => {
    const roomId = await twoPersonRoom();
    await send(alice, roomId, text('before mute'));
    expect((await countsOf(bob, roomId)).notification_count).to.equal(1);
    const put = await t.request('PUT', `${CS}/pushrules/global/room/${enc(roomId)}`, { token: bob.accessToken, body: { actions: [] } });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    await send(alice, roomId, text('after mute'));
    await send(alice, roomId, text('still muted'));
    expect((await countsOf(bob, roomId)).notification_count).to.equal(1);
    // Another room of bob's is unaffected.
    const other = await twoPersonRoom();
    await send(alice, other, text('elsewhere'));
    expect((await countsOf(bob, other)).notification_count).to.equal(1);
    // The legacy form ["dont_notify"] mutes too.
    const other2 = await twoPersonRoom();
    const put2 = await t.request('PUT', `${CS}/pushrules/global/room/${enc(other2)}`, { token: bob.accessToken, body: { actions: ['dont_notify'] } });
    expect(put2.status).to.equal(200);
    await send(alice, other2, text('muted the old way'));
    expect((await countsOf(bob, other2)).notification_count).to.equal(0);
  });

  it('only events after the current join count (leave and rejoin starts from zero)', async () => {
    const roomId = await twoPersonRoom();
    await send(alice, roomId, text('before leaving'));
    expect((await countsOf(bob, roomId)).notification_count).to.equal(1);
    expect((await t.request('POST', `${CS}/rooms/${enc(roomId)}/leave`, { token: bob.accessToken, body: {} })).status).to.equal(200);
    await send(alice, roomId, text('while away'));
    expect((await t.request('POST', `${CS}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} })).status).to.equal(200);
    expect((await countsOf(bob, roomId)).notification_count).to.equal(0);
    await send(alice, roomId, text('welcome back'));
    expect((await countsOf(bob, roomId)).notification_count).to.equal(1);
  });

  it('in a 3-person room every message notifies (.m.rule.message) and a mention highlights only the mentioned member', async () => {
    const res = await t.request('POST', `${CS}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } });
    const roomId = res.body.room_id;
    const carol = await t.registerUser();
    for (const u of [bob, carol]) expect((await t.request('POST', `${CS}/join/${enc(roomId)}`, { token: u.accessToken, body: {} })).status).to.equal(200);
    await send(alice, roomId, text('general chatter'));
    await send(alice, roomId, text('carol look', { 'm.mentions': { user_ids: [carol.userId] } }));
    // .m.rule.message notifies in any room by default; the mention highlights carol only.
    expect(await countsOf(bob, roomId)).to.include({ notification_count: 2, highlight_count: 0 });
    expect(await countsOf(carol, roomId)).to.include({ notification_count: 2, highlight_count: 1 });
  });

  it('matrix-js-sdk sees the counts through its own sync loop', async () => {
    const roomId = await twoPersonRoom();
    await send(alice, roomId, text('sdk 1'));
    await send(alice, roomId, text('sdk 2', { 'm.mentions': { user_ids: [bob.userId] } }));
    const client = sdkClient(t.baseUrl, bob);
    try {
      await client.startClient({ initialSyncLimit: 5 });
      await new Promise<void>((resolve) => client.once(sdk.ClientEvent.Sync, () => resolve()));
      const room = client.getRoom(roomId)!;
      expect(room).to.exist;
      expect(room.getUnreadNotificationCount(sdk.NotificationCountType.Total)).to.equal(2);
      expect(room.getUnreadNotificationCount(sdk.NotificationCountType.Highlight)).to.equal(1);
    } finally {
      client.stopClient();
    }
  });
});
