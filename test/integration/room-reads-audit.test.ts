/**
 * Room reads, audited against the spec (v1.19) and Synapse: what the earlier room-reads tests did
 * not pin down — resuming forward pagination, filter errors, /context's 403, forgotten rooms,
 * timestamp_to_event across long hidden stretches, /members?at, guests, redaction reaching
 * unsigned.prev_content and contains_url, and unsigned.membership.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

type Client = ReturnType<typeof sdkClient>;

describe('room reads: audit', function () {
  this.timeout(90_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let a: Client;
  let b: Client;

  before(async () => {
    t = await startTestServer({ allow_guest_access: true });
    alice = await t.registerUser();
    bob = await t.registerUser();
    a = sdkClient(t.baseUrl, alice);
    b = sdkClient(t.baseUrl, bob);
  });
  after(async () => t?.close());

  const roomPath = (roomId: string, rest: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}${rest}`;
  const get = (user: TestUser, roomId: string, rest: string) => t.request('GET', roomPath(roomId, rest), { token: user.accessToken });
  const messages = (user: TestUser, roomId: string, params: Record<string, string | number | object>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    return get(user, roomId, `/messages?${q}`);
  };
  const v1 = (user: TestUser, roomId: string, query: string) =>
    t.request('GET', `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?${query}`, { token: user.accessToken });
  const bodies = (chunk: any[]) => chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
  const eventsPosition = () => t.server.services.positions.events.current();
  const withVisibility = (visibility: string) => ({
    preset: 'public_chat' as any,
    initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: visibility } }],
  });

  describe('/messages forwards to the live end', () => {
    it('ends the last page that read events with a token that later returns the newer events', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'private_chat' as any });
      await a.sendTextMessage(roomId, 'one');
      await a.sendTextMessage(roomId, 'two');
      const first = await messages(alice, roomId, { dir: 'f', limit: 50 });
      expect(bodies(first.body.chunk)).to.deep.equal(['one', 'two']);
      // The room's end moves: a client (or bot) resumes from here once more is said.
      expect(first.body.end, 'end of the last forward page').to.be.a('string');
      const nothingYet = await messages(alice, roomId, { dir: 'f', limit: 50, from: first.body.end });
      expect(nothingYet.status).to.equal(200);
      expect(nothingYet.body.chunk).to.deep.equal([]);
      expect(nothingYet.body).to.not.have.property('end');
      await a.sendTextMessage(roomId, 'three');
      const resumed = await messages(alice, roomId, { dir: 'f', limit: 50, from: first.body.end });
      expect(bodies(resumed.body.chunk)).to.deep.equal(['three']);
      // Backwards, the start of the room never moves: the last page has no end.
      const back = await messages(alice, roomId, { dir: 'b', limit: 50 });
      expect(back.body).to.not.have.property('end');
    });
  });

  describe('bad filters', () => {
    it('answers a filter that is not JSON with M_NOT_JSON and a malformed one with M_BAD_JSON on /messages and /context', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'private_chat' as any });
      const { event_id: eventId } = await a.sendTextMessage(roomId, 'hi');
      const context = (filter: string) => get(alice, roomId, `/context/${encodeURIComponent(eventId)}?filter=${encodeURIComponent(filter)}`);
      for (const [filter, errcode] of [
        ['{"types":', 'M_NOT_JSON'],
        ['{"senders":["not-a-user"]}', 'M_BAD_JSON'],
        ['"just a string"', 'M_BAD_JSON'],
      ]) {
        for (const res of [await messages(alice, roomId, { dir: 'b', filter: filter! }), await context(filter!)]) {
          expect(res.status, filter).to.equal(400);
          expect(res.body.errcode, filter).to.equal(errcode);
        }
      }
    });
  });

  describe('forgotten rooms', () => {
    it('reads history until the room is forgotten, then refuses it like to a stranger (spec: POST /forget)', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      const { event_id: said } = await a.sendTextMessage(roomId, 'while bob was here');
      await b.leave(roomId);
      expect((await messages(bob, roomId, { dir: 'b' })).status).to.equal(200);
      expect((await get(bob, roomId, `/event/${encodeURIComponent(said)}`)).status).to.equal(200);

      const forgot = await t.request('POST', roomPath(roomId, '/forget'), { token: bob.accessToken, body: {} });
      expect(forgot.status).to.equal(200);
      for (const rest of ['/messages?dir=b', '/state', '/state/m.room.create/', '/members', `/context/${encodeURIComponent(said)}`]) {
        const res = await get(bob, roomId, rest);
        expect(res.status, rest).to.equal(403);
        expect(res.body.errcode, rest).to.equal('M_FORBIDDEN');
      }
      const event = await get(bob, roomId, `/event/${encodeURIComponent(said)}`);
      expect(event.status).to.equal(404);
      expect((await v1(bob, roomId, 'ts=0&dir=f')).status).to.equal(403);
    });

    it('in a world_readable room leaves a forgetful former member what anyone may read', async () => {
      const { room_id: roomId } = await a.createRoom(withVisibility('shared'));
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'shared only');
      await a.sendStateEvent(roomId, 'm.room.history_visibility' as any, { history_visibility: 'world_readable' } as any, '');
      await a.sendTextMessage(roomId, 'for everyone');
      await b.leave(roomId);
      expect(bodies((await messages(bob, roomId, { dir: 'b', limit: 50 })).body.chunk)).to.deep.equal(['for everyone', 'shared only']);
      await t.request('POST', roomPath(roomId, '/forget'), { token: bob.accessToken, body: {} });
      const after = await messages(bob, roomId, { dir: 'b', limit: 50 });
      expect(after.status).to.equal(200);
      expect(bodies(after.body.chunk)).to.deep.equal(['for everyone']);
    });
  });

  describe('timestamp_to_event', () => {
    it('finds the first visible event past more than 50 hidden ones, in both directions', async () => {
      const { room_id: roomId } = await a.createRoom(withVisibility('joined'));
      const setting = (await get(alice, roomId, '/state/m.room.history_visibility/?format=event')).body;
      // Strictly later than the room's first events, so ts below picks the hidden stretch.
      await new Promise((r) => setTimeout(r, 5));
      const { event_id: firstHidden } = await a.sendTextMessage(roomId, 'hidden 0');
      for (let i = 1; i < 70; i++) await a.sendTextMessage(roomId, `hidden ${i}`);
      await new Promise((r) => setTimeout(r, 5));
      await b.joinRoom(roomId);
      const join = (await get(bob, roomId, `/state/m.room.member/${encodeURIComponent(bob.userId)}?format=event`)).body;
      await a.sendTextMessage(roomId, 'seen');
      const start = (await get(alice, roomId, `/event/${encodeURIComponent(firstHidden)}`)).body.origin_server_ts as number;

      const forward = await v1(bob, roomId, `ts=${start}&dir=f`);
      expect(forward.status, JSON.stringify(forward.body)).to.equal(200);
      expect(forward.body).to.deep.equal({ event_id: join.event_id, origin_server_ts: join.origin_server_ts });
      // Backwards from just before the join: past the 70 hidden messages to the change to
      // 'joined', which Bob may see (spec: the setting before it, shared, lets him).
      const backward = await v1(bob, roomId, `ts=${join.origin_server_ts - 1}&dir=b`);
      expect(backward.status, JSON.stringify(backward.body)).to.equal(200);
      expect(backward.body.event_id).to.equal(setting.event_id);
      expect((await get(bob, roomId, `/event/${encodeURIComponent(setting.event_id)}`)).status).to.equal(200);
    });
  });

  describe('/members?at', () => {
    it('is 403 at a point the user could not see and 404 where the room had no events', async () => {
      const { room_id: roomId } = await a.createRoom(withVisibility('joined'));
      await a.sendTextMessage(roomId, 'before bob');
      const beforeBob = `s${eventsPosition()}`;
      await b.joinRoom(roomId);
      const hidden = await get(bob, roomId, `/members?at=${beforeBob}`);
      expect(hidden.status, JSON.stringify(hidden.body)).to.equal(403);
      expect(hidden.body.errcode).to.equal('M_FORBIDDEN');
      // Alice was there: she gets the members then (only herself).
      const then = await get(alice, roomId, `/members?at=${beforeBob}`);
      expect((then.body.chunk as any[]).map((e) => e.state_key)).to.deep.equal([alice.userId]);
      const now = await get(bob, roomId, `/members?at=s${eventsPosition()}`);
      expect((now.body.chunk as any[]).map((e) => e.state_key).sort()).to.deep.equal([alice.userId, bob.userId].sort());
      const empty = await get(alice, roomId, '/members?at=s0');
      expect(empty.status).to.equal(404);
      expect(empty.body.errcode).to.equal('M_NOT_FOUND');
    });
  });

  describe('guests', () => {
    it('may read a world_readable room but not /joined_members or timestamp_to_event (spec: Guest Access)', async () => {
      const reg = await t.request('POST', '/_matrix/client/v3/register?kind=guest', { body: {} });
      expect(reg.status, JSON.stringify(reg.body)).to.equal(200);
      const guest = { userId: reg.body.user_id, accessToken: reg.body.access_token, deviceId: reg.body.device_id, password: '' };
      const { room_id: roomId } = await a.createRoom(withVisibility('world_readable'));
      await a.sendTextMessage(roomId, 'open to all');
      const page = await messages(guest, roomId, { dir: 'b' });
      expect(page.status).to.equal(200);
      expect(bodies(page.body.chunk)).to.deep.equal(['open to all']);
      expect((await get(guest, roomId, '/members')).status).to.equal(200);
      for (const res of [await get(guest, roomId, '/joined_members'), await v1(guest, roomId, 'ts=0&dir=f')]) {
        expect(res.status).to.equal(403);
        expect(res.body.errcode).to.equal('M_GUEST_ACCESS_FORBIDDEN');
      }
    });
  });

  describe('redactions', () => {
    it('redacts the prev_content of a state event whose predecessor was redacted', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'private_chat' as any });
      const { event_id: secret } = await a.setRoomName(roomId, 'Secret plans');
      await a.setRoomName(roomId, 'Innocent name');
      const before = await get(alice, roomId, '/state/m.room.name/?format=event');
      expect(before.body.unsigned.prev_content).to.deep.equal({ name: 'Secret plans' });
      await a.redactEvent(roomId, secret);
      const state = await get(alice, roomId, '/state/m.room.name/?format=event');
      expect(state.body.content).to.deep.equal({ name: 'Innocent name' });
      expect(state.body.unsigned.prev_content).to.deep.equal({});
      const page = await messages(alice, roomId, { dir: 'b', limit: 10, filter: { types: ['m.room.name'] } });
      const current = (page.body.chunk as any[]).find((e) => e.content.name === 'Innocent name');
      expect(current.unsigned.prev_content).to.deep.equal({});
      expect(JSON.stringify(page.body)).to.not.include('Secret plans');
      const all = await get(alice, roomId, '/state');
      expect(JSON.stringify(all.body)).to.not.include('Secret plans');
    });

    it('leaves a redacted file out of contains_url: true (Element files panel), on /messages and /context', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'private_chat' as any });
      await a.sendMessage(roomId, { msgtype: 'm.file', body: 'kept.pdf', url: 'mxc://test.local/kept' } as any);
      const { event_id: gone } = await a.sendMessage(roomId, { msgtype: 'm.file', body: 'gone.pdf', url: 'mxc://test.local/gone' } as any);
      const { event_id: last } = await a.sendTextMessage(roomId, 'no file');
      await a.redactEvent(roomId, gone);
      const files = await messages(alice, roomId, { dir: 'b', limit: 10, filter: { contains_url: true } });
      expect((files.body.chunk as any[]).map((e) => e.event_id)).to.not.include(gone);
      expect(bodies(files.body.chunk)).to.deep.equal(['kept.pdf']);
      const filter = encodeURIComponent(JSON.stringify({ contains_url: true }));
      const ctx = await get(alice, roomId, `/context/${encodeURIComponent(last)}?limit=10&filter=${filter}`);
      expect(bodies(ctx.body.events_before)).to.deep.equal(['kept.pdf']);
      // Unfiltered, the redacted event is still there, redacted.
      const plain = await messages(alice, roomId, { dir: 'b', limit: 10 });
      expect((plain.body.chunk as any[]).find((e) => e.event_id === gone).content).to.deep.equal({});
    });
  });

  describe('unsigned.membership (spec v1.11)', () => {
    it("gives the reader's membership at each event on /messages, /event and /context, redacted or not", async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      const { event_id: early } = await a.sendTextMessage(roomId, 'before bob');
      await a.invite(roomId, bob.userId);
      await a.sendTextMessage(roomId, 'bob invited');
      await b.joinRoom(roomId);
      const { event_id: joined } = await a.sendTextMessage(roomId, 'bob joined');
      await a.redactEvent(roomId, joined);
      const page = await messages(bob, roomId, { dir: 'b', limit: 50 });
      const byBody = new Map((page.body.chunk as any[]).filter((e) => e.content.body).map((e) => [e.content.body, e.unsigned.membership]));
      expect(Object.fromEntries(byBody)).to.deep.equal({ 'before bob': 'leave', 'bob invited': 'invite' });
      const redacted = (page.body.chunk as any[]).find((e) => e.event_id === joined);
      expect(redacted.content).to.deep.equal({});
      expect(redacted.unsigned.membership).to.equal('join');
      // Bob's own join counts its own change.
      const ownJoin = (page.body.chunk as any[]).find((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'join');
      expect(ownJoin.unsigned.membership).to.equal('join');
      expect((await get(bob, roomId, `/event/${encodeURIComponent(early)}`)).body.unsigned.membership).to.equal('leave');
      const ctx = await get(bob, roomId, `/context/${encodeURIComponent(early)}?limit=4`);
      expect(ctx.body.event.unsigned.membership).to.equal('leave');
      expect((ctx.body.events_after as any[]).every((e) => typeof e.unsigned.membership === 'string')).to.equal(true);
      // Alice, in the room throughout, was joined at her message.
      expect((await get(alice, roomId, `/event/${encodeURIComponent(early)}`)).body.unsigned.membership).to.equal('join');
    });
  });

  describe('ignored users', () => {
    it("serves an ignored user's message neither on /event (404) nor as /context's anchor (403), their state still", async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      const { event_id: message } = await b.sendTextMessage(roomId, 'from bob');
      const { event_id: join } = (await get(bob, roomId, `/state/m.room.member/${encodeURIComponent(bob.userId)}?format=event`)).body;
      const ignore = (users: Record<string, object>) =>
        t.request('PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.ignored_user_list`, {
          token: alice.accessToken,
          body: { ignored_users: users },
        });
      expect((await ignore({ [bob.userId]: {} })).status).to.equal(200);
      const event = await get(alice, roomId, `/event/${encodeURIComponent(message)}`);
      expect(event.status).to.equal(404);
      expect(event.body.errcode).to.equal('M_NOT_FOUND');
      const ctx = await get(alice, roomId, `/context/${encodeURIComponent(message)}`);
      expect(ctx.status).to.equal(403);
      expect(ctx.body.errcode).to.equal('M_FORBIDDEN');
      expect((await get(alice, roomId, `/event/${encodeURIComponent(join)}`)).status).to.equal(200);
      await ignore({});
      expect((await get(alice, roomId, `/event/${encodeURIComponent(message)}`)).status).to.equal(200);
    });
  });

  describe('/joined_rooms', () => {
    it('lists the rooms the user is joined to, not those invited to or left', async () => {
      const { room_id: joined } = await a.createRoom({ preset: 'public_chat' as any });
      const { room_id: invited } = await a.createRoom({ preset: 'private_chat' as any });
      const { room_id: left } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(joined);
      await a.invite(invited, bob.userId);
      await b.joinRoom(left);
      await b.leave(left);
      const res = await t.request('GET', '/_matrix/client/v3/joined_rooms', { token: bob.accessToken });
      expect(res.status).to.equal(200);
      expect(res.body.joined_rooms).to.include(joined);
      expect(res.body.joined_rooms).to.not.include(invited);
      expect(res.body.joined_rooms).to.not.include(left);
    });
  });
});
