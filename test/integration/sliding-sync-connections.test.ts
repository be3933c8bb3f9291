/**
 * Simplified sliding sync (MSC4186) over raw HTTP: connections and positions, long-polling,
 * bad input, num_live, expanded timelines and required_state changes.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { expectMatrixError } from './helpers/index.js';
import { slidingSyncClient, whilePolling, type SlidingSyncClient } from './helpers/sliding-sync.js';

const types = (events: any[] | undefined) => (events ?? []).map((e: any) => `${e.type}|${e.state_key}`).sort();
const bodies = (room: any) => (room?.timeline ?? []).map((e: any) => e.content.body);

describe('sliding sync: connections, positions and room data', () => {
  let t: TestServer;
  let c: SlidingSyncClient;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  before(async () => {
    t = await startTestServer();
    c = slidingSyncClient(t);
    alice = await t.registerUser(undefined, { displayname: 'Alice' });
    bob = await t.registerUser(undefined, { displayname: 'Bob' });
    carol = await t.registerUser(undefined, { displayname: 'Carol' });
  });
  after(async () => t?.close());

  describe('connections', () => {
    let roomId: string;
    const body = (connId?: string) => ({ ...(connId ? { conn_id: connId } : {}), lists: { all: { ranges: [[0, 9]], timeline_limit: 3, required_state: [] } } });
    before(async () => {
      roomId = await c.createRoom(alice, { name: 'Connections' });
      await c.send(alice, roomId, 'first');
    });

    it('keeps state per conn_id: two connections do not interfere', async () => {
      const a1 = await c.sync(alice, body('a'));
      const b1 = await c.sync(alice, body('b'));
      expect(a1.body.rooms[roomId].initial).to.equal(true);
      expect(b1.body.rooms[roomId].initial).to.equal(true);
      await c.send(alice, roomId, 'second');
      const a2 = await c.sync(alice, body('a'), { pos: a1.body.pos, timeout: 0 });
      expect(a2.body.rooms[roomId].initial).to.equal(undefined);
      expect(bodies(a2.body.rooms[roomId])).to.deep.equal(['second']);
      // Connection b has not seen "second" either, whatever a did.
      const b2 = await c.sync(alice, body('b'), { pos: b1.body.pos, timeout: 0 });
      expect(bodies(b2.body.rooms[roomId])).to.deep.equal(['second']);
      // A pos belongs to its connection.
      expectMatrixError(await c.sync(alice, body('b'), { pos: a2.body.pos }), 400, 'M_UNKNOWN_POS');
      expectMatrixError(await c.sync(alice, body(), { pos: a2.body.pos }), 400, 'M_UNKNOWN_POS');
      // …and to its user.
      expectMatrixError(await c.sync(bob, body('a'), { pos: a2.body.pos }), 400, 'M_UNKNOWN_POS');
    });

    it('answers a retry with the same pos with the same rooms (nothing lost)', async () => {
      const p1 = (await c.sync(alice, body('retry'))).body.pos;
      await c.send(alice, roomId, 'lost response');
      const lost = await c.sync(alice, body('retry'), { pos: p1, timeout: 0 });
      expect(bodies(lost.body.rooms[roomId])).to.deep.equal(['lost response']);
      // The client never saw `lost`: it retries with p1 and must get the same again.
      const retry = await c.sync(alice, body('retry'), { pos: p1, timeout: 0 });
      expect(bodies(retry.body.rooms[roomId])).to.deep.equal(['lost response']);
      expect(retry.body.rooms[roomId].num_live).to.equal(1);
      expect(retry.body.rooms[roomId].initial).to.equal(undefined);
      const after = await c.sync(alice, body('retry'), { pos: retry.body.pos, timeout: 0 });
      expect(after.status).to.equal(200);
      expect(after.body.rooms).to.deep.equal({});
      expect(after.body.lists.all.count).to.equal(1);
    });

    it('survives a cancelled long-poll that answers after its replacement (matrix-js-sdk resends)', async () => {
      const p1 = (await c.sync(alice, body('cancel'))).body.pos;
      // The client gives up on this long-poll (the server does not know) and resends with p1.
      const abandoned = c.sync(alice, body('cancel'), { pos: p1, timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 150));
      const replacement = await c.sync(alice, body('cancel'), { pos: p1, timeout: 0 });
      // The abandoned poll wakes on this message and answers: nobody reads that answer.
      await c.send(alice, roomId, 'after the resend');
      expect((await abandoned).status).to.equal(200);
      const next = await c.sync(alice, body('cancel'), { pos: replacement.body.pos, timeout: 0 });
      expect(next.status, JSON.stringify(next.body)).to.equal(200);
      expect(bodies(next.body.rooms[roomId])).to.deep.equal(['after the resend']);
    });

    it('returns at once with timeout 0, and a long-poll wakes on a message', async () => {
      const p1 = (await c.sync(alice, body('poll'))).body.pos;
      const started = Date.now();
      const empty = await c.sync(alice, body('poll'), { pos: p1, timeout: 0 });
      expect(Date.now() - started).to.be.below(1000);
      expect(empty.body.rooms).to.deep.equal({});
      expect(empty.body.pos).to.be.a('string');
      const woken = await whilePolling(c.sync(alice, body('poll'), { pos: empty.body.pos, timeout: 10_000 }), () => c.send(alice, roomId, 'wake up'));
      expect(bodies(woken.body.rooms[roomId])).to.deep.equal(['wake up']);
    });

    it('keeps long-polling when only key counts, next_batch or a known invite could be sent', async () => {
      const inviteRoom = await c.createRoom(bob, { name: 'Pending invite', invite: [alice.userId] });
      const full = {
        conn_id: 'quiet',
        lists: { all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [] } },
        extensions: { e2ee: { enabled: true }, to_device: { enabled: true }, account_data: { enabled: true }, receipts: { enabled: true }, typing: { enabled: true } },
      };
      const first = await c.sync(alice, full);
      expect(first.body.rooms[inviteRoom].membership).to.equal('invite');
      const next_batch = first.body.extensions.to_device.next_batch;
      const second = await c.sync(alice, { ...full, extensions: { ...full.extensions, to_device: { enabled: true, since: next_batch } } }, { pos: first.body.pos, timeout: 0 });
      expect(second.body.rooms).to.deep.equal({});
      // Had the poll returned before the message (as it would if the e2ee counts, the to_device
      // next_batch or the invite counted as news), the message would be missing.
      const woken = await whilePolling(
        c.sync(alice, { ...full, extensions: { ...full.extensions, to_device: { enabled: true, since: next_batch } } }, { pos: second.body.pos, timeout: 10_000 }),
        () => c.send(alice, roomId, 'the only news'),
      );
      expect(Object.keys(woken.body.rooms)).to.deep.equal([roomId]);
      expect(bodies(woken.body.rooms[roomId])).to.deep.equal(['the only news']);
      expect(woken.body.extensions.e2ee.device_one_time_keys_count).to.deep.equal({ signed_curve25519: 0 });
      expect(woken.body.extensions.to_device.next_batch).to.be.a('string');
    });
  });

  describe('bad input', () => {
    const list = { ranges: [[0, 9]], timeline_limit: 1, required_state: [] };
    it('rejects malformed bodies with 400 M_INVALID_PARAM', async () => {
      for (const bad of [
        { lists: [] },
        { lists: { x: 'nope' } },
        { lists: { x: { ...list, ranges: [[3, 1]] } } },
        { lists: { x: { ...list, ranges: [[0]] } } },
        { lists: { x: { ...list, timeline_limit: -1 } } },
        { lists: { x: { ...list, timeline_limit: 'ten' } } },
        { lists: { x: { ...list, required_state: [['m.room.name']] } } },
        { lists: { x: { ...list, required_state: 'all' } } },
        { lists: { x: { ...list, filters: { is_dm: 'yes' } } } },
        { lists: { x: { ...list, filters: { room_types: 'm.space' } } } },
        { room_subscriptions: { '!a:b': { timeline_limit: 1.5 } } },
        { extensions: { to_device: { enabled: true, since: 'not-a-token' } } },
        { extensions: { e2ee: { enabled: 'yes' } } },
      ]) {
        const res = await c.sync(alice, bad);
        expect(res.status, JSON.stringify(bad)).to.equal(400);
        expect(res.body.errcode, JSON.stringify(bad)).to.equal('M_INVALID_PARAM');
      }
      expectMatrixError(await t.request('POST', `/_matrix/client/unstable/org.matrix.simplified_msc3575/sync?set_presence=away`, { token: alice.accessToken, body: {} }), 400, 'M_INVALID_PARAM');
    });

    it('answers an unknown or garbled pos with 400 M_UNKNOWN_POS', async () => {
      for (const pos of ['12345/s1_0_0_0_0_0_0', 'garbage', '', '1/']) {
        if (pos === '') continue;
        expectMatrixError(await c.sync(alice, { lists: {} }, { pos }), 400, 'M_UNKNOWN_POS');
      }
    });

    it('needs an access token', async () => {
      const res = await t.request('POST', '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync', { body: {} });
      expectMatrixError(res, 401, 'M_MISSING_TOKEN');
    });
  });

  describe('timelines', () => {
    let older: string;
    let newer: string;
    before(async () => {
      older = await c.createRoom(alice, { name: 'Older' });
      for (let i = 1; i <= 6; i++) await c.send(alice, older, `old ${i}`);
      newer = await c.createRoom(alice, { name: 'Newer' });
      await c.send(alice, newer, 'new 1');
    });

    it('counts num_live from the pos, also for a room that enters the range with history', async () => {
      const body = { conn_id: 'live', lists: { top: { ranges: [[0, 0]], timeline_limit: 3, required_state: [] } } };
      const first = await c.sync(alice, body);
      expect(Object.keys(first.body.rooms)).to.deep.equal([newer]);
      expect(first.body.rooms[newer].num_live).to.equal(0);
      await c.send(alice, older, 'old 7 (live)');
      const second = await c.sync(alice, body, { pos: first.body.pos, timeout: 0 });
      const room = second.body.rooms[older];
      expect(room.initial).to.equal(true);
      expect(bodies(room)).to.deep.equal(['old 5', 'old 6', 'old 7 (live)']);
      expect(room.num_live).to.equal(1);
      expect(room.limited).to.equal(true);
      expect(room.prev_batch).to.be.a('string');
      // prev_batch works with /messages and continues just before the timeline.
      const page = await c.api(alice, 'GET', `/rooms/${encodeURIComponent(older)}/messages?dir=b&limit=1&from=${encodeURIComponent(room.prev_batch)}`);
      expect(page.body.chunk.map((e: any) => e.content.body)).to.deep.equal(['old 4']);
    });

    it('does not count as live what happened before the pos while a sent room was out of range', async () => {
      const top = (ranges: number[][]) => ({ conn_id: 'live2', lists: { top: { ranges, timeline_limit: 5, required_state: [] } } });
      const first = await c.sync(alice, top([[0, 1]]));
      expect(Object.keys(first.body.rooms).sort()).to.deep.equal([newer, older].sort());
      // `older` leaves the window; it gets a message while out of it, then `newer` one more.
      const third = await c.createRoom(alice, { name: 'Third' });
      const narrowed = await c.sync(alice, top([[0, 0]]), { pos: first.body.pos, timeout: 0 });
      expect(Object.keys(narrowed.body.rooms)).to.deep.equal([third]);
      await c.send(alice, older, 'while away');
      await c.send(alice, third, 'third bump');
      const p = await c.sync(alice, top([[0, 0]]), { pos: narrowed.body.pos, timeout: 0 });
      expect(Object.keys(p.body.rooms)).to.deep.equal([third]);
      // Widening brings `older` back with what it missed: history, not live.
      const widened = await c.sync(alice, top([[0, 1]]), { pos: p.body.pos, timeout: 0 });
      const room = widened.body.rooms[older];
      expect(room.initial).to.equal(undefined);
      expect(bodies(room)).to.deep.equal(['while away']);
      expect(room.num_live).to.equal(0);
    });

    it('sends older events with expanded_timeline when timeline_limit grows', async () => {
      const roomId = await c.createRoom(alice, { name: 'Expand' });
      for (let i = 1; i <= 5; i++) await c.send(alice, roomId, `e${i}`);
      const small = { conn_id: 'expand', room_subscriptions: { [roomId]: { timeline_limit: 1, required_state: [] } } };
      const first = await c.sync(alice, small);
      expect(bodies(first.body.rooms[roomId])).to.deep.equal(['e5']);
      const big = { conn_id: 'expand', room_subscriptions: { [roomId]: { timeline_limit: 4, required_state: [] } } };
      // Returned at once, though nothing happened in the room.
      const second = await c.sync(alice, big, { pos: first.body.pos, timeout: 10_000 });
      const room = second.body.rooms[roomId];
      expect(bodies(room)).to.deep.equal(['e2', 'e3', 'e4', 'e5']);
      expect(room.expanded_timeline).to.equal(true);
      expect(room.unstable_expanded_timeline).to.equal(true);
      expect(room.initial).to.equal(undefined);
      expect(room.limited).to.equal(true);
      expect(room.num_live).to.equal(0);
      const third = await c.sync(alice, big, { pos: second.body.pos, timeout: 0 });
      expect(third.body.rooms).to.deep.equal({});
    });

    it('omits the timeline for timeline_limit 0', async () => {
      const res = await c.sync(alice, { room_subscriptions: { [older]: { timeline_limit: 0, required_state: [['m.room.name', '']] } } });
      const room = res.body.rooms[older];
      expect(room.timeline ?? []).to.deep.equal([]);
      expect(room.limited).to.equal(undefined);
      expect(room.name).to.equal('Older');
    });
  });

  describe('required_state', () => {
    let roomId: string;
    before(async () => {
      roomId = await c.createRoom(alice, { name: 'State', topic: 'a topic', preset: 'public_chat' });
      for (const u of [bob, carol]) expect((await c.api(u, 'POST', `/join/${encodeURIComponent(roomId)}`, {})).status).to.equal(200);
      await c.send(carol, roomId, 'carol speaks');
    });
    const sub = (required_state: unknown, timeline_limit = 1) => ({ conn_id: 'state', room_subscriptions: { [roomId]: { timeline_limit, required_state } } });

    it('"*" wildcards, $ME and exclude', async () => {
      const all = await c.sync(alice, sub([['*', '*']]));
      expect(types(all.body.rooms[roomId].required_state)).to.include.members(['m.room.create|', 'm.room.topic|', `m.room.member|${bob.userId}`, `m.room.member|${carol.userId}`]);
      const members = await c.sync(alice, sub([['m.room.member', '*']]));
      expect(types(members.body.rooms[roomId].required_state)).to.deep.equal([alice, bob, carol].map((u) => `m.room.member|${u.userId}`).sort());
      const me = await c.sync(alice, sub([['m.room.member', '$ME']]));
      expect(types(me.body.rooms[roomId].required_state)).to.deep.equal([`m.room.member|${alice.userId}`]);
      const anyType = await c.sync(alice, sub([['*', '']]));
      expect(types(anyType.body.rooms[roomId].required_state)).to.include('m.room.name|').and.not.include(`m.room.member|${bob.userId}`);
      const excluded = await c.sync(alice, sub({ include: [{}], exclude: [{ type: 'm.room.member' }, { type: 'm.room.create', state_key: '' }] }));
      const got = types(excluded.body.rooms[roomId].required_state);
      expect(got).to.include('m.room.topic|');
      expect(got.filter((x: string) => x.startsWith('m.room.member') || x.startsWith('m.room.create'))).to.deep.equal([]);
    });

    it('$LAZY sends the members of the timeline, each once, and membership changes', async () => {
      const first = await c.sync(alice, sub([['m.room.member', '$LAZY']]));
      expect(types(first.body.rooms[roomId].required_state)).to.deep.equal([`m.room.member|${carol.userId}`]);
      await c.send(bob, roomId, 'bob speaks');
      const second = await c.sync(alice, sub([['m.room.member', '$LAZY']]), { pos: first.body.pos, timeout: 0 });
      expect(types(second.body.rooms[roomId].required_state)).to.deep.equal([`m.room.member|${bob.userId}`]);
      await c.send(carol, roomId, 'carol again');
      const third = await c.sync(alice, sub([['m.room.member', '$LAZY']]), { pos: second.body.pos, timeout: 0 });
      expect(bodies(third.body.rooms[roomId])).to.deep.equal(['carol again']);
      expect(third.body.rooms[roomId].required_state ?? []).to.deep.equal([]);
      // A display name change is a membership change: sent, though carol's member was sent before.
      await c.state(carol, roomId, 'm.room.member', carol.userId, { membership: 'join', displayname: 'Caroline' });
      const fourth = await c.sync(alice, sub([['m.room.member', '$LAZY']]), { pos: third.body.pos, timeout: 0 });
      const carolMember = (fourth.body.rooms[roomId].required_state ?? []).find((e: any) => e.state_key === carol.userId);
      expect(carolMember?.content.displayname).to.equal('Caroline');
    });

    it('a wider required_state sends the newly matching state, not the room afresh', async () => {
      const first = await c.sync(alice, sub([['m.room.create', '']], 1));
      expect(types(first.body.rooms[roomId].required_state)).to.deep.equal(['m.room.create|']);
      const wider = await c.sync(alice, sub([['m.room.create', ''], ['m.room.topic', '']], 1), { pos: first.body.pos, timeout: 0 });
      const room = wider.body.rooms[roomId];
      expect(room.initial).to.equal(undefined);
      expect(types(room.required_state)).to.deep.equal(['m.room.topic|']);
      expect(room.timeline ?? []).to.deep.equal([]);
      // Narrowing it again needs nothing sent.
      const narrower = await c.sync(alice, sub([['m.room.create', '']], 1), { pos: wider.body.pos, timeout: 0 });
      expect(narrower.body.rooms).to.deep.equal({});
      // A state change the config covers arrives on its own.
      await c.state(alice, roomId, 'm.room.topic', '', { topic: 'new topic' });
      const changed = await c.sync(alice, sub([['m.room.create', ''], ['m.room.topic', '']], 1), { pos: narrower.body.pos, timeout: 0 });
      expect(types(changed.body.rooms[roomId].required_state)).to.deep.equal(['m.room.topic|']);
      expect(changed.body.rooms[roomId].required_state[0].content.topic).to.equal('new topic');
    });
  });
});
