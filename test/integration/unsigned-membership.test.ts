/**
 * unsigned.membership (spec v1.11, ClientEvent: "The room membership of the user making the
 * request, at the time of the event") on the timelines of /sync and simplified sliding sync, and
 * the client form of /threads and /relations: redacted events served redacted, with
 * redacted_because, transaction_id and membership, as /messages serves them.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

type Client = ReturnType<typeof sdkClient>;
const SLIDING = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';

describe('unsigned.membership on sync timelines; redactions on /threads and /relations', function () {
  this.timeout(90_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let a: Client;
  let b: Client;

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    a = sdkClient(t.baseUrl, alice);
    b = sdkClient(t.baseUrl, bob);
  });
  after(async () => t?.close());

  const enc = encodeURIComponent;
  const sync = (user: TestUser, params: Record<string, string | object> = {}) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) q.set(k, typeof v === 'object' ? JSON.stringify(v) : v);
    return t.request('GET', `/_matrix/client/v3/sync?${q}`, { token: user.accessToken });
  };
  const timelineFilter = (timeline: object) => ({ room: { timeline: { limit: 50, ...timeline } } });
  const isOwnMember = (e: any, user: TestUser) => e.type === 'm.room.member' && e.state_key === user.userId;
  /**
   * What each event's membership must be in a gapless timeline that starts before the user was
   * ever in the room: 'leave' until their first member event, then whatever their latest member
   * event (itself included) set.
   */
  const expectWalked = (events: any[], user: TestUser, initial = 'leave') => {
    let expected = initial;
    for (const e of events) {
      if (isOwnMember(e, user)) expected = e.content.membership;
      expect(e.unsigned?.membership, `${e.type} ${e.content?.body ?? e.state_key ?? ''}`).to.equal(expected);
    }
  };
  const membershipByBody = (events: any[]) =>
    Object.fromEntries(events.filter((e) => e.type === 'm.room.message').map((e) => [e.content.body, e.unsigned?.membership]));

  describe('/sync', () => {
    it("tags every timeline event of an initial sync with the reader's membership at it (as Complement's TestMembershipOnEvents)", async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await a.sendTextMessage(roomId, 'before bob');
      await a.invite(roomId, bob.userId);
      await a.sendTextMessage(roomId, 'bob invited');
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'bob joined');

      const res = await sync(bob, { filter: timelineFilter({}) });
      const events = res.body.rooms.join[roomId].timeline.events as any[];
      expect(events[0].type, 'the timeline starts at the room creation').to.equal('m.room.create');
      expectWalked(events, bob);
      expect(membershipByBody(events)).to.deep.equal({ 'before bob': 'leave', 'bob invited': 'invite', 'bob joined': 'join' });
      // Alice was joined at every event after her own join.
      const hers = (await sync(alice, { filter: timelineFilter({}) })).body.rooms.join[roomId].timeline.events as any[];
      expectWalked(hers, alice);
    });

    it('gives the state block no membership, and none to state_after either (as Synapse)', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      await a.sendStateEvent(roomId, 'm.room.topic' as any, { topic: 'in the timeline' } as any, '');
      const res = await sync(bob, { filter: timelineFilter({ limit: 1 }) });
      const room = res.body.rooms.join[roomId];
      expect(room.timeline.events.map((e: any) => [e.type, e.unsigned.membership])).to.deep.equal([['m.room.topic', 'join']]);
      expect(room.state.events.length).to.be.greaterThan(2);
      for (const e of room.state.events) expect(e.unsigned ?? {}, e.type).to.not.have.property('membership');

      const after = await sync(bob, { filter: timelineFilter({ limit: 1 }), use_state_after: 'true' });
      const entry = after.body.rooms.join[roomId];
      expect(entry.timeline.events[0].unsigned.membership).to.equal('join');
      const topic = (entry.state_after.events as any[]).find((e) => e.type === 'm.room.topic');
      expect(topic.content.topic).to.equal('in the timeline');
      for (const e of entry.state_after.events) expect(e.unsigned ?? {}, e.type).to.not.have.property('membership');
    });

    it("follows the history visibility rules for an invited user's view ('invited' history)", async () => {
      const { room_id: roomId } = await a.createRoom({
        preset: 'private_chat' as any,
        initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'invited' } }],
      });
      await a.sendTextMessage(roomId, 'before the invite');
      await a.invite(roomId, bob.userId);
      await a.sendTextMessage(roomId, 'while invited');
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'after joining');

      const events = (await sync(bob, { filter: timelineFilter({}) })).body.rooms.join[roomId].timeline.events as any[];
      expect(membershipByBody(events)).to.deep.equal({ 'while invited': 'invite', 'after joining': 'join' });
      const own = events.filter((e) => isOwnMember(e, bob)).map((e) => [e.content.membership, e.unsigned.membership]);
      expect(own).to.deep.equal([['invite', 'invite'], ['join', 'join']]);
      // What came before history_visibility was set was 'shared' (the default): visible, and Bob
      // was not in the room then.
      expectWalked(events, bob);
      const setting = events.findIndex((e) => e.type === 'm.room.history_visibility');
      expect(events.slice(0, setting + 1).every((e) => e.unsigned.membership === 'leave')).to.equal(true);
    });

    it('after a leave and a rejoin gives each stretch its membership: initial, incremental and filtered syncs', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'first stint');
      const before = (await sync(bob)).body.next_batch as string;
      await b.leave(roomId);
      await a.sendTextMessage(roomId, 'while away');
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'back again');
      const expected = { 'first stint': 'join', 'while away': 'leave', 'back again': 'join' };

      // Rejoined since the token: the room comes whole.
      const incremental = (await sync(bob, { since: before, filter: timelineFilter({}) })).body.rooms.join[roomId].timeline.events as any[];
      expectWalked(incremental, bob);
      expect(membershipByBody(incremental)).to.deep.equal(expected);
      const initial = (await sync(bob, { filter: timelineFilter({}) })).body.rooms.join[roomId].timeline.events as any[];
      expectWalked(initial, bob);
      // A timeline filter that hides the member events still gives the memberships of the state.
      const onlyMessages = await sync(bob, { filter: timelineFilter({ types: ['m.room.message'] }) });
      expect(membershipByBody(onlyMessages.body.rooms.join[roomId].timeline.events)).to.deep.equal(expected);
      // Cut to the last three events: the page starts inside the stretch away.
      const short = (await sync(bob, { filter: timelineFilter({ limit: 3 }) })).body.rooms.join[roomId].timeline.events as any[];
      expect(short.map((e: any) => e.unsigned.membership)).to.deep.equal(['leave', 'join', 'join']);

      // New events while joined.
      const next = (await sync(bob)).body.next_batch as string;
      await a.sendTextMessage(roomId, 'later');
      const live = (await sync(bob, { since: next })).body.rooms.join[roomId].timeline.events as any[];
      expect(live.map((e) => [e.content.body, e.unsigned.membership])).to.deep.equal([['later', 'join']]);

      // Leaving: the left room's timeline ends at the leave.
      const beforeLeave = (await sync(bob)).body.next_batch as string;
      await a.sendTextMessage(roomId, 'just before leaving');
      await b.leave(roomId);
      const left = (await sync(bob, { since: beforeLeave })).body.rooms.leave[roomId].timeline.events as any[];
      expect(left.map((e) => [e.type, e.unsigned.membership])).to.deep.equal([
        ['m.room.message', 'join'],
        ['m.room.member', 'leave'],
      ]);
    });
  });

  describe('sliding sync', () => {
    const slide = (user: TestUser, body: unknown, pos?: string) =>
      t.request('POST', `${SLIDING}${pos ? `?pos=${enc(pos)}&timeout=0` : ''}`, { token: user.accessToken, body });

    it('tags timeline events (initial, incremental, the leave) but not required_state', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await a.sendTextMessage(roomId, 'before bob');
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'bob here');
      const body = { conn_id: 'membership', room_subscriptions: { [roomId]: { timeline_limit: 50, required_state: [['m.room.member', '$ME'], ['m.room.create', '']] } } };

      const first = await slide(bob, body);
      expect(first.status).to.equal(200);
      const room = first.body.rooms[roomId];
      expectWalked(room.timeline, bob);
      expect(membershipByBody(room.timeline)).to.deep.equal({ 'before bob': 'leave', 'bob here': 'join' });
      expect(room.required_state.map((e: any) => e.type).sort()).to.deep.equal(['m.room.create', 'm.room.member']);
      for (const e of room.required_state) expect(e.unsigned ?? {}, e.type).to.not.have.property('membership');

      await a.sendTextMessage(roomId, 'live');
      const second = await slide(bob, body, first.body.pos);
      expect(second.body.rooms[roomId].timeline.map((e: any) => [e.content.body, e.unsigned.membership])).to.deep.equal([['live', 'join']]);

      await a.sendTextMessage(roomId, 'last words');
      await b.leave(roomId);
      const third = await slide(bob, body, second.body.pos);
      expect(third.body.rooms[roomId].timeline.map((e: any) => [e.type, e.unsigned.membership])).to.deep.equal([
        ['m.room.message', 'join'],
        ['m.room.member', 'leave'],
      ]);
    });
  });

  describe('/threads and /relations', () => {
    it('serve a redacted thread root redacted, keeping the thread summary; a redacted reply drops out', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      const put = async (user: TestUser, txn: string, content: object) => {
        const res = await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txn}`, { token: user.accessToken, body: content });
        expect(res.status).to.equal(200);
        return res.body.event_id as string;
      };
      const root = await put(alice, 'root', { msgtype: 'm.text', body: 'secret root' });
      await put(alice, 'edit', { msgtype: 'm.text', body: '* secret edit', 'm.new_content': { msgtype: 'm.text', body: 'secret edit' }, 'm.relates_to': { rel_type: 'm.replace', event_id: root } });
      const thread = (body: string) => ({ msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
      const kept = await put(bob, 'reply-kept', thread('kept reply'));
      const gone = await put(bob, 'reply-gone', thread('gone reply'));
      const { event_id: rootRedaction } = await a.redactEvent(roomId, root);
      const { event_id: replyRedaction } = await b.redactEvent(roomId, gone);

      const threads = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads`, { token: bob.accessToken });
      expect(threads.status).to.equal(200);
      const [served] = threads.body.chunk;
      expect(served.event_id).to.equal(root);
      expect(served.content).to.deep.equal({});
      expect(served.unsigned.redacted_because.event_id).to.equal(rootRedaction);
      expect(served.unsigned.membership).to.equal('join');
      const relations = served.unsigned['m.relations'];
      expect(relations['m.thread'].count).to.equal(1);
      expect(relations['m.thread'].latest_event.event_id).to.equal(kept);
      // The edit of a redacted event would give its content back (Synapse bundles none).
      expect(relations).to.not.have.property('m.replace');

      const replies = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread`, { token: bob.accessToken });
      expect(replies.status).to.equal(200);
      const byId = new Map((replies.body.chunk as any[]).map((e) => [e.event_id, e]));
      // A redacted reply is no relation any more (as Synapse drops it on redaction).
      expect(byId.has(gone)).to.equal(false);
      expect(replyRedaction).to.be.a('string');
      expect(byId.get(kept).content.body).to.equal('kept reply');
      // Bob's own device sent them: the transaction IDs come back, and his membership.
      expect(byId.get(kept).unsigned.transaction_id).to.equal('reply-kept');
      expect(byId.get(kept).unsigned.membership).to.equal('join');
      const forAlice = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}`, { token: alice.accessToken });
      const edit = (forAlice.body.chunk as any[]).find((e) => e.content['m.new_content']);
      expect(edit.unsigned.transaction_id).to.equal('edit');
      expect((forAlice.body.chunk as any[]).find((e) => e.event_id === kept).unsigned).to.not.have.property('transaction_id');
    });
  });
});
