import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';
import { timedOut, IDLE_TIMER_MS, type PresenceState } from '../../src/services/presence.js';

const presenceOf = (res: { body: any }, userId: string) =>
  (res.body.presence?.events ?? []).filter((e: any) => e.type === 'm.presence' && e.sender === userId);

describe('presence', () => {
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
    roomId = (await sdkClient(t.baseUrl, alice).createRoom({ preset: 'public_chat' as any })).room_id;
    await sdkClient(t.baseUrl, bob).joinRoom(roomId);
  });
  after(async () => t?.close());

  const sync = (user: TestUser, q = '') => t.request('GET', `/_matrix/client/v3/sync?${q}`, { token: user.accessToken });

  it('a status_msg reaches a room peer through sync, and not a stranger', async () => {
    const first = await sync(bob);
    const carolFirst = await sync(carol);
    await sdkClient(t.baseUrl, alice).setPresence({ presence: 'online', status_msg: 'Out of office until Monday' });
    const res = await sync(bob, `since=${first.body.next_batch}`);
    const events = presenceOf(res, alice.userId);
    expect(events).to.have.length(1);
    expect(events[0].content.presence).to.equal('online');
    expect(events[0].content.status_msg).to.equal('Out of office until Monday');
    expect(events[0].content.currently_active).to.equal(true);
    expect(events[0].content.last_active_ago).to.be.a('number').and.below(60_000);
    // carol shares no room with alice: nothing about alice in her sync.
    const carolRes = await sync(carol, `since=${carolFirst.body.next_batch}&timeout=200`);
    expect(presenceOf(carolRes, alice.userId)).to.have.length(0);
    // Nothing new: an incremental sync does not repeat it.
    const again = await sync(bob, `since=${res.body.next_batch}&timeout=100`);
    expect(presenceOf(again, alice.userId)).to.have.length(0);
  });

  it('an initial sync carries the peers who are not offline, and the requester', async () => {
    const res = await sync(bob);
    expect(presenceOf(res, alice.userId)[0]?.content.status_msg).to.equal('Out of office until Monday');
    expect(presenceOf(res, bob.userId)[0]?.content.presence).to.equal('online');
    expect(presenceOf(res, carol.userId)).to.have.length(0);
  });

  it('GET /presence shows status_msg, also to a local user sharing no room (as Synapse)', async () => {
    const mine = await sdkClient(t.baseUrl, bob).getPresence(alice.userId);
    expect(mine.presence).to.equal('online');
    expect(mine.status_msg).to.equal('Out of office until Monday');
    const stranger = await t.request('GET', `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, { token: carol.accessToken });
    expect(stranger.status).to.equal(200);
    expect(stranger.body.status_msg).to.equal('Out of office until Monday');
    const nobody = await t.request('GET', `/_matrix/client/v3/presence/${encodeURIComponent('@nobody:test.local')}/status`, { token: carol.accessToken });
    expect(nobody.status).to.equal(404);
  });

  it("setting another user's presence is 403", async () => {
    const res = await t.request('PUT', `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, {
      token: bob.accessToken,
      body: { presence: 'offline', status_msg: 'hijacked' },
    });
    expect(res.status).to.equal(403);
    expect(res.body.errcode).to.equal('M_FORBIDDEN');
    const after = await sdkClient(t.baseUrl, bob).getPresence(alice.userId);
    expect(after.status_msg).to.equal('Out of office until Monday');
  });

  it('a bad presence value is 400', async () => {
    const res = await t.request('PUT', `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, {
      token: alice.accessToken,
      body: { presence: 'sleeping' },
    });
    expect(res.status).to.equal(400);
    const bad = await sync(alice, 'set_presence=sleeping');
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal('M_INVALID_PARAM');
  });

  it("a waiting long-poll wakes when a room peer's presence changes", async () => {
    const first = await sync(bob);
    const started = Date.now();
    const pending = sync(bob, `since=${first.body.next_batch}&timeout=10000`);
    await new Promise((r) => setTimeout(r, 300));
    await sdkClient(t.baseUrl, alice).setPresence({ presence: 'unavailable', status_msg: 'In a meeting' });
    const res = await pending;
    expect(Date.now() - started).to.be.below(5000);
    const events = presenceOf(res, alice.userId);
    expect(events).to.have.length(1);
    expect(events[0].content).to.include({ presence: 'unavailable', status_msg: 'In a meeting' });
    expect(events[0].content).to.not.have.property('currently_active');
  });

  it('the presence filter applies', async () => {
    const filter = encodeURIComponent(JSON.stringify({ presence: { not_senders: [alice.userId] } }));
    const res = await sync(bob, `filter=${filter}`);
    expect(presenceOf(res, alice.userId)).to.have.length(0);
    expect(presenceOf(res, bob.userId)).to.have.length(1);
  });

  it('set_presence on /sync: offline leaves the user offline, the default brings them online, unavailable sets it', async () => {
    const dave = await t.registerUser();
    await sync(dave, 'set_presence=offline');
    expect((await sdkClient(t.baseUrl, dave).getPresence(dave.userId)).presence).to.equal('offline');
    await sync(dave);
    expect((await sdkClient(t.baseUrl, dave).getPresence(dave.userId)).presence).to.equal('online');
    await sync(dave, 'set_presence=unavailable');
    expect((await sdkClient(t.baseUrl, dave).getPresence(dave.userId)).presence).to.equal('unavailable');
  });

  it('syncing while online writes no new presence position each time', async () => {
    const first = await sync(bob);
    const a = await sync(bob, `since=${first.body.next_batch}`);
    const b = await sync(bob, `since=${a.body.next_batch}&timeout=100`);
    const presencePos = (token: string) => token.slice(1).split('_')[4];
    expect(presencePos(b.body.next_batch)).to.equal(presencePos(first.body.next_batch));
    expect(presenceOf(b, bob.userId)).to.have.length(0);
  });

  it("a new room peer's presence is sent when they join, both ways", async () => {
    const erin = await t.registerUser();
    const erinFirst = await sync(erin); // erin is online from now on, before bob's token
    const bobFirst = await sync(bob);
    await sdkClient(t.baseUrl, erin).joinRoom(roomId);
    const bobRes = await sync(bob, `since=${bobFirst.body.next_batch}`);
    expect(presenceOf(bobRes, erin.userId).map((e: any) => e.content.presence)).to.deep.equal(['online']);
    const erinRes = await sync(erin, `since=${erinFirst.body.next_batch}`);
    expect(presenceOf(erinRes, bob.userId).map((e: any) => e.content.presence)).to.deep.equal(['online']);
    expect(presenceOf(erinRes, alice.userId).map((e: any) => e.content.status_msg)).to.deep.equal(['In a meeting']);
  });

  it('a user who stops syncing goes offline (keeping the status message), and peers see it', async () => {
    await sdkClient(t.baseUrl, alice).setPresence({ presence: 'online', status_msg: 'Back soon' });
    const first = await sync(bob);
    // Everyone last seen a few minutes before "now" has timed out.
    const changed = await t.server.services.presence.sweep(Date.now() + 3 * 60_000);
    expect(changed).to.be.greaterThan(0);
    const res = await sync(bob, `since=${first.body.next_batch}`);
    const events = presenceOf(res, alice.userId);
    expect(events).to.have.length(1);
    expect(events[0].content).to.include({ presence: 'offline', status_msg: 'Back soon' });
  });

  it('timeouts follow Synapse: idle online becomes unavailable, no sync becomes offline', () => {
    const now = 10_000_000;
    const online: PresenceState = { userId: '@a:x', state: 'online', statusMsg: null, lastActiveTs: now - IDLE_TIMER_MS - 1, currentlyActive: true, streamId: 1 };
    // Still syncing: idle only.
    expect(timedOut(online, now + 1000, now)?.state).to.equal('unavailable');
    // Not syncing for over 30 s: offline.
    expect(timedOut(online, now - 31_000, now)?.state).to.equal('offline');
    // Active a moment ago and syncing: nothing changes.
    expect(timedOut({ ...online, lastActiveTs: now - 1000 }, now, now)).to.equal(undefined);
    // currently_active drops after a minute without activity.
    expect(timedOut({ ...online, lastActiveTs: now - 61_000 }, now, now)).to.deep.include({ state: 'online', currentlyActive: false });
    expect(timedOut({ ...online, state: 'offline' }, 0, now)).to.equal(undefined);
  });
});

describe('presence: turned off (presence.enabled: false)', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    t = await startTestServer({ presence: { enabled: false } });
    alice = await t.registerUser();
    bob = await t.registerUser();
    const roomId = (await sdkClient(t.baseUrl, alice).createRoom({ preset: 'public_chat' as any })).room_id;
    await sdkClient(t.baseUrl, bob).joinRoom(roomId);
  });
  after(async () => t?.close());

  it('PUT is accepted but nothing is stored or sent; GET says offline; sync has no presence', async () => {
    const first = await t.request('GET', '/_matrix/client/v3/sync', { token: bob.accessToken });
    expect(first.body.presence.events).to.deep.equal([]);
    await sdkClient(t.baseUrl, alice).setPresence({ presence: 'online', status_msg: 'Out of office' });
    const res = await t.request('GET', `/_matrix/client/v3/sync?since=${first.body.next_batch}&timeout=200`, { token: bob.accessToken });
    expect(res.status).to.equal(200);
    expect(res.body.presence.events).to.deep.equal([]);
    const got = await sdkClient(t.baseUrl, bob).getPresence(alice.userId);
    expect(got).to.deep.equal({ presence: 'offline' });
    const { rows } = await t.server.services.storage.db.query('SELECT count(*)::int AS n FROM presence');
    expect(rows[0].n).to.equal(0);
  });
});
