/**
 * Reading rooms: /messages (both directions, from/to tokens, /sync-style stream tokens, filters,
 * lazy-loaded members), /context, /event, /state, /members, /joined_members,
 * timestamp_to_event, redacted events and the errors of each.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';

type Client = ReturnType<typeof sdkClient>;

describe('room reads: messages, context, event, state, members', function () {
  this.timeout(60_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let stranger: TestUser;
  let a: Client;
  let b: Client;
  let c: Client;

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser(undefined, { displayname: 'Alice' });
    bob = await t.registerUser(undefined, { displayname: 'Bob' });
    carol = await t.registerUser(undefined, { displayname: 'Carol' });
    stranger = await t.registerUser();
    a = sdkClient(t.baseUrl, alice);
    b = sdkClient(t.baseUrl, bob);
    c = sdkClient(t.baseUrl, carol);
  });
  after(async () => t?.close());

  const roomPath = (roomId: string, rest: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}${rest}`;
  const get = (user: TestUser, roomId: string, rest: string) => t.request('GET', roomPath(roomId, rest), { token: user.accessToken });
  const messages = async (user: TestUser, roomId: string, params: Record<string, string | number | object>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    return get(user, roomId, `/messages?${q}`);
  };
  const bodies = (chunk: any[]) => chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
  const eventsPosition = () => t.server.services.positions.events.current();

  /** Pages through /messages until `end` is absent, returning every event in order. */
  async function pageAll(user: TestUser, roomId: string, dir: 'b' | 'f', limit: number, extra: Record<string, string> = {}): Promise<any[]> {
    const all: any[] = [];
    let from: string | undefined;
    for (let i = 0; i < 200; i++) {
      const res = await messages(user, roomId, { dir, limit, ...(from ? { from } : {}), ...extra });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.start).to.be.a('string');
      all.push(...res.body.chunk);
      if (res.body.end === undefined) return all;
      from = res.body.end;
    }
    expect.fail('pagination did not end');
  }

  describe('/messages', () => {
    let roomId: string;
    const ids: string[] = [];
    let afterNine: number;

    before(async () => {
      ({ room_id: roomId } = await a.createRoom({ preset: 'private_chat' as any, name: 'History' }));
      for (let i = 0; i < 25; i++) {
        ids.push((await a.sendTextMessage(roomId, `m${i}`)).event_id);
        if (i === 9) afterNine = eventsPosition();
      }
    });

    it('pages backwards from the end, 10 at a time, each event exactly once, then stops', async () => {
      const first = await messages(alice, roomId, { dir: 'b', limit: 10 });
      expect(first.status).to.equal(200);
      expect(bodies(first.body.chunk)).to.deep.equal(['m24', 'm23', 'm22', 'm21', 'm20', 'm19', 'm18', 'm17', 'm16', 'm15']);
      expect(first.body.end).to.be.a('string');
      const second = await messages(alice, roomId, { dir: 'b', limit: 10, from: first.body.end });
      expect(bodies(second.body.chunk)).to.deep.equal(['m14', 'm13', 'm12', 'm11', 'm10', 'm9', 'm8', 'm7', 'm6', 'm5']);
      expect(second.body.start).to.equal(first.body.end);

      const all = await pageAll(alice, roomId, 'b', 7);
      expect(bodies(all)).to.deep.equal(Array.from({ length: 25 }, (_, i) => `m${24 - i}`));
      expect(all[all.length - 1].type).to.equal('m.room.create');
      expect(new Set(all.map((e) => e.event_id)).size).to.equal(all.length);
    });

    it('pages forwards from the start of the room to the end, the same events in the other order', async () => {
      const forwards = await pageAll(alice, roomId, 'f', 6);
      const backwards = await pageAll(alice, roomId, 'b', 9);
      expect(forwards[0].type).to.equal('m.room.create');
      expect(forwards.map((e) => e.event_id)).to.deep.equal(backwards.map((e) => e.event_id).reverse());
      expect(bodies(forwards)).to.deep.equal(Array.from({ length: 25 }, (_, i) => `m${i}`));
    });

    it('turns around: forwards from a backwards end token, and stops at a `to` token', async () => {
      const page = await messages(alice, roomId, { dir: 'b', limit: 5 });
      expect(bodies(page.body.chunk)).to.deep.equal(['m24', 'm23', 'm22', 'm21', 'm20']);
      const forward = await messages(alice, roomId, { dir: 'f', limit: 3, from: page.body.end });
      expect(bodies(forward.body.chunk)).to.deep.equal(['m20', 'm21', 'm22']);
      // Backwards again from the start of the first page, stopping at its end: the same five.
      const bounded = await messages(alice, roomId, { dir: 'b', limit: 50, from: page.body.start, to: page.body.end });
      expect(bodies(bounded.body.chunk)).to.deep.equal(['m24', 'm23', 'm22', 'm21', 'm20']);
      expect(bounded.body.end).to.equal(undefined);
      // Forwards to a `to` token.
      const upTo = await messages(alice, roomId, { dir: 'f', limit: 50, from: page.body.end, to: forward.body.end });
      expect(bodies(upTo.body.chunk)).to.deep.equal(['m20', 'm21', 'm22']);
    });

    it('accepts /sync-style stream tokens ("s<pos>" and composite "s<pos>_…") in both directions', async () => {
      for (const from of [`s${afterNine}`, `s${afterNine}_4_0_17`]) {
        const back = await messages(alice, roomId, { dir: 'b', limit: 3, from });
        expect(back.status, JSON.stringify(back.body)).to.equal(200);
        expect(bodies(back.body.chunk)).to.deep.equal(['m9', 'm8', 'm7']);
        expect(back.body.start).to.equal(from);
        const fwd = await messages(alice, roomId, { dir: 'f', limit: 2, from });
        expect(bodies(fwd.body.chunk)).to.deep.equal(['m10', 'm11']);
      }
      // A stream token as `to`.
      const end = await messages(alice, roomId, { dir: 'b', limit: 100, to: `s${afterNine}` });
      expect(bodies(end.body.chunk)).to.deep.equal(Array.from({ length: 15 }, (_, i) => `m${24 - i}`));
    });

    it('serves matrix-js-sdk createMessagesRequest', async () => {
      const res = await a.createMessagesRequest(roomId, null, 4, sdk.Direction.Backward);
      expect(bodies(res.chunk as any[])).to.deep.equal(['m24', 'm23', 'm22', 'm21']);
      const next = await a.createMessagesRequest(roomId, res.end!, 2, sdk.Direction.Backward);
      expect(bodies(next.chunk as any[])).to.deep.equal(['m20', 'm19']);
    });

    it('defaults to 10 events and caps huge limits', async () => {
      const res = await messages(alice, roomId, { dir: 'b' });
      expect(res.body.chunk).to.have.length(10);
      const huge = await messages(alice, roomId, { dir: 'b', limit: 1_000_000 });
      expect(huge.status).to.equal(200);
      expect(bodies(huge.body.chunk)).to.have.length(25);
      expect(huge.body.end).to.equal(undefined);
    });

    it('refuses malformed tokens and parameters with 400, never 500', async () => {
      const cases: [Record<string, string | number>, string][] = [
        [{ dir: 'b', from: 'garbage' }, 'M_INVALID_PARAM'],
        [{ dir: 'b', from: 't1-' }, 'M_INVALID_PARAM'],
        [{ dir: 'b', from: 's1_x' }, 'M_INVALID_PARAM'],
        [{ dir: 'b', to: 'nope' }, 'M_INVALID_PARAM'],
        [{ dir: 'b', from: 's99999999999999999999' }, 'M_INVALID_PARAM'],
        [{ dir: 'x' }, 'M_INVALID_PARAM'],
        [{ dir: 'b', limit: -1 }, 'M_INVALID_PARAM'],
        [{ dir: 'b', limit: 'ten' }, 'M_INVALID_PARAM'],
        // A filter that is not JSON, or JSON that is not a valid filter (as Synapse and /sync answer).
        [{ dir: 'b', filter: '{not json' }, 'M_NOT_JSON'],
        [{ dir: 'b', filter: '{"types":"m.room.message"}' }, 'M_BAD_JSON'],
        [{ dir: 'b', filter: '{"limit":0}' }, 'M_BAD_JSON'],
      ];
      for (const [params, errcode] of cases) {
        const res = await messages(alice, roomId, params);
        expect(res.status, JSON.stringify(params)).to.equal(400);
        expect(res.body.errcode, JSON.stringify(params)).to.equal(errcode);
      }
    });

    it('refuses non-members with 403 M_FORBIDDEN, and unknown rooms too', async () => {
      const res = await messages(stranger, roomId, { dir: 'b' });
      expect(res.status).to.equal(403);
      expect(res.body.errcode).to.equal('M_FORBIDDEN');
      const unknown = await messages(alice, '!nosuchroom:test.local', { dir: 'b' });
      expect(unknown.status).to.equal(403);
      expect(unknown.body.errcode).to.equal('M_FORBIDDEN');
    });
  });

  describe('/messages with the tokens /sync hands out', () => {
    it('continues from a /sync prev_batch without repeating or skipping, and pages back from next_batch', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'private_chat' as any });
      for (let i = 0; i < 8; i++) await a.sendTextMessage(roomId, `p${i}`);
      const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 3 } } }));
      const sync = await t.request('GET', `/_matrix/client/v3/sync?filter=${filter}`, { token: alice.accessToken });
      expect(sync.status, JSON.stringify(sync.body)).to.equal(200);
      const timeline = sync.body.rooms.join[roomId].timeline;
      expect(bodies(timeline.events)).to.deep.equal(['p5', 'p6', 'p7']);
      const before = await messages(alice, roomId, { dir: 'b', limit: 3, from: timeline.prev_batch });
      expect(before.status, JSON.stringify(before.body)).to.equal(200);
      expect(bodies(before.body.chunk)).to.deep.equal(['p4', 'p3', 'p2']);
      // next_batch is a composite token: its events position is where /messages starts.
      const fromNext = await messages(alice, roomId, { dir: 'b', limit: 2, from: sync.body.next_batch });
      expect(fromNext.status, JSON.stringify(fromNext.body)).to.equal(200);
      expect(bodies(fromNext.body.chunk)).to.deep.equal(['p7', 'p6']);
      await a.sendTextMessage(roomId, 'p8');
      const newer = await messages(alice, roomId, { dir: 'f', from: sync.body.next_batch });
      expect(bodies(newer.body.chunk)).to.deep.equal(['p8']);
    });
  });

  describe('ignored users', () => {
    it("leaves out ignored users' messages (not their state) from /messages and /context", async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      await c.joinRoom(roomId);
      await b.sendTextMessage(roomId, 'from bob');
      const carolSays = (await c.sendTextMessage(roomId, 'from carol')).event_id;
      await b.sendTextMessage(roomId, 'bob again');
      const put = await t.request('PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.ignored_user_list`, {
        token: alice.accessToken,
        body: { ignored_users: { [bob.userId]: {} } },
      });
      expect(put.status).to.equal(200);
      const page = await messages(alice, roomId, { dir: 'b', limit: 20 });
      expect(bodies(page.body.chunk)).to.deep.equal(['from carol']);
      // Bob's join (a state event) is still there.
      expect((page.body.chunk as any[]).some((e) => e.type === 'm.room.member' && e.state_key === bob.userId)).to.equal(true);
      const ctx = await get(alice, roomId, `/context/${encodeURIComponent(carolSays)}?limit=10`);
      expect(bodies([...ctx.body.events_before, ...ctx.body.events_after])).to.deep.equal([]);
      // Carol, who ignores no one, sees everything.
      expect(bodies((await messages(carol, roomId, { dir: 'b', limit: 20 })).body.chunk)).to.deep.equal(['bob again', 'from carol', 'from bob']);
      await t.request('PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.ignored_user_list`, {
        token: alice.accessToken,
        body: { ignored_users: {} },
      });
    });
  });

  describe('bundled aggregations', () => {
    it('bundles edits and reactions into unsigned["m.relations"] on /messages, /event and /context', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      const root = (await a.sendTextMessage(roomId, 'root')).event_id;
      await a.sendMessage(roomId, { msgtype: 'm.text', body: '* root v2', 'm.new_content': { msgtype: 'm.text', body: 'root v2' }, 'm.relates_to': { rel_type: 'm.replace', event_id: root } } as any);
      await b.sendEvent(roomId, 'm.reaction' as any, { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } } as any);
      const check = (ev: any) => {
        expect(ev.event_id).to.equal(root);
        const rel = ev.unsigned['m.relations'];
        expect(rel, JSON.stringify(ev.unsigned)).to.be.an('object');
        expect(rel['m.replace'].content['m.new_content'].body).to.equal('root v2');
        expect(rel['m.annotation'].chunk).to.deep.equal([{ type: 'm.reaction', key: '👍', count: 1 }]);
      };
      const page = await messages(bob, roomId, { dir: 'b', limit: 3 });
      check((page.body.chunk as any[]).find((e) => e.event_id === root));
      check((await get(bob, roomId, `/event/${encodeURIComponent(root)}`)).body);
      check((await get(bob, roomId, `/context/${encodeURIComponent(root)}?limit=2`)).body.event);
      // Events without children have none.
      const reaction = (page.body.chunk as any[]).find((e) => e.type === 'm.reaction');
      expect(reaction.unsigned).to.not.have.property('m.relations');
    });
  });

  describe('/messages filters', () => {
    let roomId: string;
    before(async () => {
      ({ room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any }));
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'alice 1');
      await b.sendTextMessage(roomId, 'bob 1');
      await a.sendMessage(roomId, { msgtype: 'm.image', body: 'picture', url: 'mxc://test.local/abc' } as any);
      await a.sendEvent(roomId, 'org.example.custom' as any, { n: 1 } as any);
      await a.sendEvent(roomId, 'org.example.other' as any, { n: 2 } as any);
      await b.sendTextMessage(roomId, 'bob 2');
    });

    const chunkOf = async (filter: object, limit = 50) => {
      const res = await messages(alice, roomId, { dir: 'b', limit, filter });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.body.chunk as any[];
    };

    it('filters by types, with wildcards, and not_types', async () => {
      expect(bodies(await chunkOf({ types: ['m.room.message'] }))).to.deep.equal(['bob 2', 'picture', 'bob 1', 'alice 1']);
      expect((await chunkOf({ types: ['m.room.message'] })).every((e) => e.type === 'm.room.message')).to.equal(true);
      expect((await chunkOf({ types: ['org.example.*'] })).map((e) => e.type)).to.deep.equal(['org.example.other', 'org.example.custom']);
      const notTypes = await chunkOf({ not_types: ['m.room.*', 'org.example.other'] });
      expect(notTypes.map((e) => e.type)).to.deep.equal(['org.example.custom']);
    });

    it('filters by senders and not_senders', async () => {
      expect(bodies(await chunkOf({ senders: [bob.userId], types: ['m.room.message'] }))).to.deep.equal(['bob 2', 'bob 1']);
      const notBob = await chunkOf({ not_senders: [bob.userId] });
      expect(notBob.length).to.be.greaterThan(0);
      expect(notBob.some((e) => e.sender === bob.userId)).to.equal(false);
    });

    it('filters by contains_url', async () => {
      expect((await chunkOf({ contains_url: true })).map((e) => e.content.body)).to.deep.equal(['picture']);
      expect((await chunkOf({ contains_url: false, types: ['m.room.message'] })).map((e) => e.content.body)).to.deep.equal(['bob 2', 'bob 1', 'alice 1']);
    });

    it('returns nothing for a room the filter excludes', async () => {
      expect(await chunkOf({ not_rooms: [roomId] })).to.deep.equal([]);
      expect(await chunkOf({ rooms: ['!elsewhere:test.local'] })).to.deep.equal([]);
      expect((await chunkOf({ rooms: [roomId], types: ['m.room.message'] })).length).to.equal(4);
    });

    it("uses the filter's limit when the query has none, and paginates a filtered timeline", async () => {
      const res = await messages(alice, roomId, { dir: 'b', filter: { limit: 1, types: ['m.room.message'] } });
      expect(bodies(res.body.chunk)).to.deep.equal(['bob 2']);
      const all = await pageAll(alice, roomId, 'b', 1, { filter: JSON.stringify({ types: ['m.room.message'] }) });
      expect(bodies(all)).to.deep.equal(['bob 2', 'picture', 'bob 1', 'alice 1']);
    });
  });

  describe('lazy-loaded members', () => {
    let roomId: string;
    before(async () => {
      ({ room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any }));
      await b.joinRoom(roomId);
      await c.joinRoom(roomId);
      await b.setDisplayName('Bob Old');
      await b.sendTextMessage(roomId, 'b1');
      await b.setDisplayName('Bob New');
      await c.sendTextMessage(roomId, 'c1');
      await a.sendTextMessage(roomId, 'a1');
    });
    after(async () => b.setDisplayName('Bob'));

    it("returns the member events of the chunk's senders only", async () => {
      const res = await messages(alice, roomId, { dir: 'b', limit: 2, filter: { lazy_load_members: true } });
      expect(bodies(res.body.chunk)).to.deep.equal(['a1', 'c1']);
      const state = res.body.state as any[];
      expect(state.every((e) => e.type === 'm.room.member')).to.equal(true);
      expect(state.map((e) => e.state_key).sort()).to.deep.equal([alice.userId, carol.userId].sort());
    });

    it('gives each sender the member event in force at their event, not the current one', async () => {
      const res = await messages(alice, roomId, { dir: 'b', limit: 1, filter: { lazy_load_members: true, senders: [bob.userId], types: ['m.room.message'] } });
      expect(bodies(res.body.chunk)).to.deep.equal(['b1']);
      expect(res.body.state).to.have.length(1);
      expect(res.body.state[0].state_key).to.equal(bob.userId);
      expect(res.body.state[0].content.displayname).to.equal('Bob Old');
    });

    it('has no state without lazy_load_members', async () => {
      const res = await messages(alice, roomId, { dir: 'b', limit: 2 });
      expect(res.body).to.not.have.property('state');
    });
  });

  describe('/context', () => {
    let roomId: string;
    const ids: string[] = [];
    before(async () => {
      ({ room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any }));
      await b.joinRoom(roomId);
      for (let i = 0; i <= 10; i++) ids.push((await (i % 2 ? b : a).sendTextMessage(roomId, `c${i}`)).event_id);
    });

    it('returns the event with limit/2 events before and the rest after, and usable tokens', async () => {
      const res = await get(alice, roomId, `/context/${encodeURIComponent(ids[5]!)}?limit=4`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.event.event_id).to.equal(ids[5]);
      expect(res.body.event.content.body).to.equal('c5');
      expect(bodies(res.body.events_before)).to.deep.equal(['c4', 'c3']);
      expect(bodies(res.body.events_after)).to.deep.equal(['c6', 'c7']);
      const earlier = await messages(alice, roomId, { dir: 'b', limit: 2, from: res.body.start });
      expect(bodies(earlier.body.chunk)).to.deep.equal(['c2', 'c1']);
      const later = await messages(alice, roomId, { dir: 'f', limit: 2, from: res.body.end });
      expect(bodies(later.body.chunk)).to.deep.equal(['c8', 'c9']);
      const types = (res.body.state as any[]).map((e) => e.type);
      expect(types).to.include('m.room.create');
      expect(types).to.include('m.room.power_levels');
      expect((res.body.state as any[]).filter((e) => e.type === 'm.room.member').map((e) => e.state_key).sort()).to.deep.equal([alice.userId, bob.userId].sort());
    });

    it('always returns the event, even with limit 0', async () => {
      const res = await get(alice, roomId, `/context/${encodeURIComponent(ids[0]!)}?limit=0`);
      expect(res.body.event.event_id).to.equal(ids[0]);
      expect(res.body.events_before).to.deep.equal([]);
      expect(res.body.events_after).to.deep.equal([]);
      const later = await messages(alice, roomId, { dir: 'f', limit: 1, from: res.body.end });
      expect(bodies(later.body.chunk)).to.deep.equal(['c1']);
    });

    it('applies the filter to events_before, events_after and state, not to the event', async () => {
      const filter = encodeURIComponent(JSON.stringify({ senders: [alice.userId] }));
      const res = await get(alice, roomId, `/context/${encodeURIComponent(ids[5]!)}?limit=4&filter=${filter}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(bodies(res.body.events_before)).to.deep.equal(['c4', 'c2']);
      expect(bodies(res.body.events_after)).to.deep.equal(['c6', 'c8']);
      // The event itself is not filtered: bob's c5.
      expect(res.body.event.sender).to.equal(bob.userId);
      const state = res.body.state as any[];
      expect(state.length).to.be.greaterThan(0);
      expect(state.every((e) => e.sender === alice.userId)).to.equal(true);
    });

    it("lazy-loads the members of the returned events' senders into state", async () => {
      const lazy = encodeURIComponent(JSON.stringify({ lazy_load_members: true }));
      const res = await get(alice, roomId, `/context/${encodeURIComponent(ids[4]!)}?limit=0&filter=${lazy}`);
      const members = (res.body.state as any[]).filter((e) => e.type === 'm.room.member');
      expect(members.map((e) => e.state_key)).to.deep.equal([alice.userId]);
      expect((res.body.state as any[]).some((e) => e.type === 'm.room.create')).to.equal(true);
      const wider = await get(alice, roomId, `/context/${encodeURIComponent(ids[4]!)}?limit=2&filter=${lazy}`);
      expect((wider.body.state as any[]).filter((e) => e.type === 'm.room.member').map((e) => e.state_key).sort()).to.deep.equal(
        [alice.userId, bob.userId].sort(),
      );
    });

    it('is 404 for an unknown event or an event of another room, 403 for non-members', async () => {
      const unknown = await get(alice, roomId, `/context/${encodeURIComponent('$nosuchevent')}`);
      expect(unknown.status).to.equal(404);
      expect(unknown.body.errcode).to.equal('M_NOT_FOUND');
      const { room_id: other } = await a.createRoom({});
      const wrongRoom = await get(alice, other, `/context/${encodeURIComponent(ids[1]!)}`);
      expect(wrongRoom.status).to.equal(404);
      const nonMember = await get(stranger, roomId, `/context/${encodeURIComponent(ids[1]!)}`);
      expect(nonMember.status).to.equal(403);
      expect(nonMember.body.errcode).to.equal('M_FORBIDDEN');
      const badFilter = await get(alice, roomId, `/context/${encodeURIComponent(ids[1]!)}?filter=%7B`);
      expect(badFilter.status).to.equal(400);
    });
  });

  describe('/event and redacted events', () => {
    let roomId: string;
    let kept: string;
    let redacted: string;
    let redaction: string;
    before(async () => {
      ({ room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any }));
      await b.joinRoom(roomId);
      kept = (await b.sendTextMessage(roomId, 'keep me')).event_id;
      redacted = (await b.sendTextMessage(roomId, 'secret')).event_id;
      redaction = (await a.redactEvent(roomId, redacted, undefined, { reason: 'spam' })).event_id;
    });

    it('fetches one event (matrix-js-sdk fetchRoomEvent)', async () => {
      const ev = await a.fetchRoomEvent(roomId, kept);
      expect(ev.event_id).to.equal(kept);
      expect(ev.content).to.deep.equal({ msgtype: 'm.text', body: 'keep me' });
      expect(ev.sender).to.equal(bob.userId);
      expect(ev.room_id).to.equal(roomId);
    });

    it('gives unsigned.transaction_id to the sending device only', async () => {
      const sent = await t.request('PUT', roomPath(roomId, '/send/m.room.message/my-txn-1'), { token: bob.accessToken, body: { msgtype: 'm.text', body: 'with txn' } });
      expect(sent.status).to.equal(200);
      const id = sent.body.event_id;
      const mine = await get(bob, roomId, `/event/${encodeURIComponent(id)}`);
      expect(mine.body.unsigned.transaction_id).to.equal('my-txn-1');
      const page = await messages(bob, roomId, { dir: 'b', limit: 1 });
      expect(page.body.chunk[0].event_id).to.equal(id);
      expect(page.body.chunk[0].unsigned.transaction_id).to.equal('my-txn-1');
      const ctx = await get(bob, roomId, `/context/${encodeURIComponent(id)}?limit=0`);
      expect(ctx.body.event.unsigned.transaction_id).to.equal('my-txn-1');
      const theirs = await get(alice, roomId, `/event/${encodeURIComponent(id)}`);
      expect(theirs.body.unsigned).to.not.have.property('transaction_id');
      const login = await t.request('POST', '/_matrix/client/v3/login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: bob.password },
      });
      const otherDevice = { ...bob, accessToken: login.body.access_token as string };
      const elsewhere = await get(otherDevice, roomId, `/event/${encodeURIComponent(id)}`);
      expect(elsewhere.status).to.equal(200);
      expect(elsewhere.body.unsigned).to.not.have.property('transaction_id');
    });

    it('serves a redacted event redacted, with redacted_because, on every read path', async () => {
      const single = await get(alice, roomId, `/event/${encodeURIComponent(redacted)}`);
      expect(single.status).to.equal(200);
      expect(single.body.content).to.deep.equal({});
      expect(single.body.unsigned.redacted_because.event_id).to.equal(redaction);
      expect(single.body.unsigned.redacted_because.content.reason).to.equal('spam');

      const page = await messages(alice, roomId, { dir: 'b', limit: 5 });
      const inPage = (page.body.chunk as any[]).find((e) => e.event_id === redacted);
      expect(inPage.content).to.deep.equal({});
      expect(inPage.unsigned.redacted_because.event_id).to.equal(redaction);
      expect((page.body.chunk as any[]).find((e) => e.event_id === kept).content.body).to.equal('keep me');

      const ctx = await get(alice, roomId, `/context/${encodeURIComponent(redacted)}?limit=2`);
      expect(ctx.body.event.content).to.deep.equal({});
      expect(ctx.body.event.unsigned.redacted_because.event_id).to.equal(redaction);
    });

    it('is 404 M_NOT_FOUND for an unknown event, an event of another room, and for a stranger', async () => {
      for (const [user, room, id] of [
        [alice, roomId, '$doesnotexist'],
        [alice, '!other:test.local', kept],
      ] as const) {
        const res = await get(user, room, `/event/${encodeURIComponent(id)}`);
        expect(res.status).to.equal(404);
        expect(res.body.errcode).to.equal('M_NOT_FOUND');
      }
      // The room is public to join but its history is shared, not world_readable.
      const res = await get(stranger, roomId, `/event/${encodeURIComponent(kept)}`);
      expect(res.status).to.equal(404);
      expect(res.body.errcode).to.equal('M_NOT_FOUND');
    });
  });

  describe('/state, /members and /joined_members', () => {
    let roomId: string;
    let beforeCarol: string;
    before(async () => {
      ({ room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any, name: 'First name', topic: 'A topic' }));
      await b.joinRoom(roomId);
      await a.invite(roomId, stranger.userId);
      beforeCarol = `s${eventsPosition()}`;
      await c.joinRoom(roomId);
      await c.leave(roomId);
      await a.setRoomName(roomId, 'Second name');
    });

    it('returns the current state to members (matrix-js-sdk roomState)', async () => {
      const state = (await a.roomState(roomId)) as any[];
      const name = state.find((e) => e.type === 'm.room.name');
      expect(name.content.name).to.equal('Second name');
      expect(state.find((e) => e.type === 'm.room.topic').content.topic).to.equal('A topic');
      expect(state.find((e) => e.type === 'm.room.create').state_key).to.equal('');
      expect(state.filter((e) => e.type === 'm.room.member').length).to.equal(4);
      expect(new Set(state.map((e) => `${e.type}|${e.state_key}`)).size).to.equal(state.length);
    });

    it('returns one piece of state as content or, with format=event, as the event', async () => {
      const content = await get(bob, roomId, '/state/m.room.name/');
      expect(content.status).to.equal(200);
      expect(content.body).to.deep.equal({ name: 'Second name' });
      const noSlash = await get(bob, roomId, '/state/m.room.name');
      expect(noSlash.body).to.deep.equal({ name: 'Second name' });
      const event = await get(bob, roomId, '/state/m.room.name/?format=event');
      expect(event.body.type).to.equal('m.room.name');
      expect(event.body.state_key).to.equal('');
      expect(event.body.content).to.deep.equal({ name: 'Second name' });
      expect(event.body.event_id).to.match(/^\$/);
      const member = await get(bob, roomId, `/state/m.room.member/${encodeURIComponent(alice.userId)}`);
      expect(member.body.membership).to.equal('join');
      const sdkName = await b.getStateEvent(roomId, 'm.room.topic', '');
      expect(sdkName.topic).to.equal('A topic');
    });

    it('is 404 for state the room does not have, 400 for a bad format', async () => {
      const res = await get(bob, roomId, '/state/m.room.avatar/');
      expect(res.status).to.equal(404);
      expect(res.body.errcode).to.equal('M_NOT_FOUND');
      const bad = await get(bob, roomId, '/state/m.room.name/?format=xml');
      expect(bad.status).to.equal(400);
    });

    it('shows a former member the state as it was when they left', async () => {
      const name = await get(carol, roomId, '/state/m.room.name/');
      expect(name.status).to.equal(200);
      expect(name.body).to.deep.equal({ name: 'First name' });
      const state = await get(carol, roomId, '/state');
      expect((state.body as any[]).find((e) => e.type === 'm.room.name').content.name).to.equal('First name');
      expect((state.body as any[]).find((e) => e.state_key === carol.userId).content.membership).to.equal('leave');
      const members = await get(carol, roomId, '/members');
      expect(members.status).to.equal(200);
    });

    it('refuses the state to users who never were members (403), including the invited', async () => {
      const outsider = await t.registerUser();
      for (const user of [outsider, stranger]) {
        for (const rest of ['/state', '/state/m.room.name/', '/members', '/joined_members']) {
          const res = await get(user, roomId, rest);
          expect(res.status, `${rest}: ${JSON.stringify(res.body)}`).to.equal(403);
          expect(res.body.errcode).to.equal('M_FORBIDDEN');
        }
      }
    });

    it('lists members with membership / not_membership filters (matrix-js-sdk members)', async () => {
      const all = await a.members(roomId);
      const byUser = Object.fromEntries((all.chunk as any[]).map((e) => [e.state_key, e.content.membership]));
      expect(byUser).to.deep.equal({ [alice.userId]: 'join', [bob.userId]: 'join', [stranger.userId]: 'invite', [carol.userId]: 'leave' });
      const joined = await a.members(roomId, 'join' as any);
      expect((joined.chunk as any[]).map((e) => e.state_key).sort()).to.deep.equal([alice.userId, bob.userId].sort());
      const notJoined = await a.members(roomId, undefined, 'join' as any);
      expect((notJoined.chunk as any[]).map((e) => e.state_key).sort()).to.deep.equal([carol.userId, stranger.userId].sort());
      // Both: membership is `invite` OR is not `leave`.
      const both = await get(alice, roomId, '/members?membership=invite&not_membership=leave');
      expect((both.body.chunk as any[]).map((e) => e.state_key).sort()).to.deep.equal([alice.userId, bob.userId, stranger.userId].sort());
      const bad = await get(alice, roomId, '/members?membership=joined');
      expect(bad.status).to.equal(400);
      expect(bad.body.errcode).to.equal('M_INVALID_PARAM');
    });

    it('lists the members at a /sync token with `at`', async () => {
      const then = await get(alice, roomId, `/members?at=${beforeCarol}`);
      expect(then.status, JSON.stringify(then.body)).to.equal(200);
      const users = (then.body.chunk as any[]).map((e) => e.state_key);
      expect(users).to.not.include(carol.userId);
      expect(users).to.include(stranger.userId);
      const bad = await get(alice, roomId, '/members?at=yesterday');
      expect(bad.status).to.equal(400);
      expect(bad.body.errcode).to.equal('M_INVALID_PARAM');
    });

    it('maps joined members to their profiles (matrix-js-sdk getJoinedRoomMembers)', async () => {
      const res = await b.getJoinedRoomMembers(roomId);
      expect(res.joined).to.deep.equal({
        [alice.userId]: { display_name: 'Alice' },
        [bob.userId]: { display_name: 'Bob' },
      });
    });
  });

  describe('timestamp_to_event', () => {
    let roomId: string;
    const sent: { id: string; ts: number }[] = [];
    before(async () => {
      ({ room_id: roomId } = await a.createRoom({ preset: 'private_chat' as any }));
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const { event_id } = await a.sendTextMessage(roomId, `t${i}`);
        const ev = await a.fetchRoomEvent(roomId, event_id);
        sent.push({ id: event_id, ts: ev.origin_server_ts as number });
      }
    });
    const v1 = (user: TestUser, query: string) =>
      t.request('GET', `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?${query}`, { token: user.accessToken });

    it('finds the closest event in each direction (matrix-js-sdk timestampToEvent)', async () => {
      const mid = sent[1]!.ts - 1;
      const fwd = await a.timestampToEvent(roomId, mid, sdk.Direction.Forward);
      expect(fwd).to.deep.equal({ event_id: sent[1]!.id, origin_server_ts: sent[1]!.ts });
      const back = await v1(alice, `ts=${mid}&dir=b`);
      expect(back.body).to.deep.equal({ event_id: sent[0]!.id, origin_server_ts: sent[0]!.ts });
      const exact = await v1(alice, `ts=${sent[2]!.ts}&dir=b`);
      expect(exact.body.event_id).to.equal(sent[2]!.id);
    });

    it('is 404 when nothing lies in that direction, 400 for bad parameters, 403 for non-members', async () => {
      const none = await v1(alice, `ts=${sent[2]!.ts + 60_000}&dir=f`);
      expect(none.status).to.equal(404);
      expect(none.body.errcode).to.equal('M_NOT_FOUND');
      const missing = await v1(alice, 'dir=f');
      expect(missing.status).to.equal(400);
      const badTs = await v1(alice, 'ts=soon&dir=f');
      expect(badTs.status).to.equal(400);
      const badDir = await v1(alice, `ts=${sent[0]!.ts}&dir=up`);
      expect(badDir.status).to.equal(400);
      const stranger403 = await v1(stranger, `ts=${sent[0]!.ts}&dir=f`);
      expect(stranger403.status).to.equal(403);
      expect(stranger403.body.errcode).to.equal('M_FORBIDDEN');
    });
  });
});
