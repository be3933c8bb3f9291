/**
 * Simplified sliding sync (MSC4186) lists over raw HTTP: filters, ranges, which memberships are
 * listed (kicks and bans always, own leaves only when already sent), ordering and bump_stamp.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { slidingSyncClient, type SlidingSyncClient } from './helpers/sliding-sync.js';

const ids = (res: any, list: string) => res.body.lists[list].ops.flatMap((op: any) => op.room_ids);

describe('sliding sync: lists', () => {
  let t: TestServer;
  let c: SlidingSyncClient;

  before(async () => {
    t = await startTestServer();
    c = slidingSyncClient(t);
  });
  after(async () => t?.close());

  describe('filters', () => {
    let alice: TestUser;
    let bob: TestUser;
    let plain: string;
    let dm: string;
    let encrypted: string;
    let space: string;
    let favourite: string;
    let invite: string;
    before(async () => {
      alice = await t.registerUser();
      bob = await t.registerUser();
      plain = await c.createRoom(alice, { name: 'plain' });
      dm = await c.createRoom(alice, { is_direct: true, invite: [bob.userId] });
      await c.api(alice, 'PUT', `/user/${encodeURIComponent(alice.userId)}/account_data/m.direct`, { [bob.userId]: [dm] });
      encrypted = await c.createRoom(alice, { name: 'secret', initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] });
      space = await c.createRoom(alice, { name: 'space', creation_content: { type: 'm.space' } });
      favourite = await c.createRoom(alice, { name: 'fav' });
      await c.api(alice, 'PUT', `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(favourite)}/tags/m.favourite`, {});
      await c.api(alice, 'PUT', `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(plain)}/tags/u.work`, {});
      await c.state(alice, space, 'm.space.child', plain, { via: ['test.local'] });
      await c.state(alice, space, 'm.space.child', encrypted, { via: ['test.local'] });
      invite = await c.createRoom(bob, { name: 'invite for alice', invite: [alice.userId] });
    });

    const listed = async (filters: Record<string, unknown>) => {
      const res = await c.sync(alice, { lists: { l: { ranges: [[0, 99]], timeline_limit: 0, required_state: [], filters } } });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.lists.l.count).to.equal(ids(res, 'l').length);
      return new Set<string>(ids(res, 'l'));
    };

    it('is_dm follows m.direct account data', async () => {
      expect([...(await listed({ is_dm: true }))]).to.deep.equal([dm]);
      const notDm = await listed({ is_dm: false });
      expect(notDm.has(dm)).to.equal(false);
      expect(notDm.has(plain)).to.equal(true);
      const res = await c.sync(alice, { room_subscriptions: { [dm]: { timeline_limit: 0, required_state: [] }, [plain]: { timeline_limit: 0, required_state: [] } } });
      expect(res.body.rooms[dm].is_dm).to.equal(true);
      expect(res.body.rooms[plain].is_dm).to.equal(undefined);
    });

    it('is_encrypted follows m.room.encryption', async () => {
      expect([...(await listed({ is_encrypted: true }))]).to.deep.equal([encrypted]);
      expect((await listed({ is_encrypted: false })).has(encrypted)).to.equal(false);
    });

    it('room_types and not_room_types (null for rooms without a type) tell spaces apart', async () => {
      expect([...(await listed({ room_types: ['m.space'] }))]).to.deep.equal([space]);
      const rooms = await listed({ not_room_types: ['m.space'] });
      expect(rooms.has(space)).to.equal(false);
      expect(rooms.has(plain)).to.equal(true);
      const untyped = await listed({ room_types: [null] });
      expect(untyped.has(space)).to.equal(false);
      expect(untyped.has(plain)).to.equal(true);
      // not_room_types wins over room_types.
      expect([...(await listed({ room_types: ['m.space'], not_room_types: ['m.space'] }))]).to.deep.equal([]);
    });

    it('tags and not_tags (not_tags wins)', async () => {
      expect([...(await listed({ tags: ['m.favourite'] }))]).to.deep.equal([favourite]);
      expect([...(await listed({ tags: ['m.favourite', 'u.work'] }))].sort()).to.deep.equal([favourite, plain].sort());
      const rest = await listed({ not_tags: ['m.favourite'] });
      expect(rest.has(favourite)).to.equal(false);
      expect(rest.has(plain)).to.equal(true);
      expect([...(await listed({ tags: ['m.favourite', 'u.work'], not_tags: ['u.work'] }))]).to.deep.equal([favourite]);
    });

    it('spaces lists the children of joined spaces', async () => {
      expect([...(await listed({ spaces: [space] }))].sort()).to.deep.equal([plain, encrypted].sort());
      expect([...(await listed({ spaces: ['!unknown:test.local'] }))]).to.deep.equal([]);
    });

    it('is_invite / is_invited select the invites', async () => {
      expect([...(await listed({ is_invite: true }))]).to.deep.equal([invite]);
      expect([...(await listed({ is_invited: true }))]).to.deep.equal([invite]);
      expect((await listed({ is_invite: false })).has(invite)).to.equal(false);
    });

    it('serves ranges beyond the count, and several ranges', async () => {
      const all = await listed({});
      const res = await c.sync(alice, { lists: { l: { ranges: [[0, 1], [4, 100], [200, 300]], timeline_limit: 0, required_state: [] } } });
      expect(res.status).to.equal(200);
      const ops = res.body.lists.l.ops;
      expect(res.body.lists.l.count).to.equal(all.size);
      expect(ops[0].room_ids).to.have.length(2);
      expect(ops[1].room_ids).to.have.length(all.size - 4);
      expect(ops[2].room_ids).to.deep.equal([]);
      expect(Object.keys(res.body.rooms)).to.have.length(all.size - 2);
      // The room result names the lists it is in.
      const first = ops[0].room_ids[0];
      expect(res.body.rooms[first].lists).to.deep.equal(['l']);
    });
  });

  describe('memberships', () => {
    let alice: TestUser;
    let bob: TestUser;
    let kicked: string;
    let banned: string;
    let left: string;
    let leftAfterSent: string;
    let pos: string;
    const body = { conn_id: 'm', lists: { all: { ranges: [[0, 20]], timeline_limit: 5, required_state: [['m.room.name', ''], ['m.room.topic', '']] } } };

    before(async () => {
      alice = await t.registerUser();
      bob = await t.registerUser();
      const join = (roomId: string) => c.api(alice, 'POST', `/join/${encodeURIComponent(roomId)}`, {});
      kicked = await c.createRoom(bob, { name: 'kicked', preset: 'public_chat' });
      banned = await c.createRoom(bob, { name: 'banned', preset: 'public_chat' });
      left = await c.createRoom(bob, { name: 'left', preset: 'public_chat' });
      leftAfterSent = await c.createRoom(bob, { name: 'left after sent', preset: 'public_chat' });
      for (const r of [kicked, banned, left, leftAfterSent]) expect((await join(r)).status).to.equal(200);
      await c.api(alice, 'POST', `/rooms/${encodeURIComponent(left)}/leave`, {});
      await c.api(bob, 'POST', `/rooms/${encodeURIComponent(kicked)}/kick`, { user_id: alice.userId, reason: 'out' });
      await c.api(bob, 'POST', `/rooms/${encodeURIComponent(banned)}/ban`, { user_id: alice.userId });
      const first = await c.sync(alice, body);
      pos = first.body.pos;
      expect(first.body.rooms[leftAfterSent].membership).to.equal('join');
    });

    it('lists rooms the user was kicked or banned from, with their membership', async () => {
      const res = await c.sync(alice, { lists: body.lists });
      expect(ids(res, 'all')).to.include.members([kicked, banned]);
      expect(res.body.rooms[kicked].membership).to.equal('leave');
      expect(res.body.rooms[banned].membership).to.equal('ban');
      const kick = res.body.rooms[kicked].timeline.at(-1);
      expect(kick.type).to.equal('m.room.member');
      expect(kick.content.membership).to.equal('leave');
      expect(kick.sender).to.equal(bob.userId);
    });

    it('leaves out rooms the user left themselves, unless the connection already had them', async () => {
      const fresh = await c.sync(alice, { lists: body.lists });
      expect(ids(fresh, 'all')).to.not.include(left);
      await c.api(alice, 'POST', `/rooms/${encodeURIComponent(leftAfterSent)}/leave`, {});
      const res = await c.sync(alice, body, { pos, timeout: 0 });
      expect(ids(res, 'all')).to.include(leftAfterSent);
      expect(ids(res, 'all')).to.not.include(left);
      const room = res.body.rooms[leftAfterSent];
      expect(room.membership).to.equal('leave');
      expect(room.timeline.map((e: any) => e.content.membership)).to.deep.equal(['leave']);
      // Nothing after the leave reaches the user: not the messages, not the state.
      await c.send(bob, leftAfterSent, 'after you left');
      await c.state(bob, leftAfterSent, 'm.room.topic', '', { topic: 'secret plans' });
      const later = await c.sync(alice, body, { pos: res.body.pos, timeout: 0 });
      expect(later.body.rooms[leftAfterSent]).to.equal(undefined);
      const again = await c.sync(alice, { lists: body.lists, room_subscriptions: { [leftAfterSent]: { timeline_limit: 5, required_state: [['*', '*']] } } });
      expect(again.body.rooms[leftAfterSent]).to.equal(undefined); // a new connection does not list it
      // Asking for all its state (on the list, and by subscription) shows the state at the leave.
      const everything = { timeline_limit: 5, required_state: [['*', '*']] };
      const sub = await c.sync(alice, { conn_id: 'm', lists: { all: { ...body.lists.all, ...everything } }, room_subscriptions: { [leftAfterSent]: everything } }, { pos: later.body.pos, timeout: 0 });
      const seen = sub.body.rooms[leftAfterSent];
      expect(seen.required_state.map((e: any) => e.type)).to.include('m.room.create');
      expect(JSON.stringify(seen)).to.not.contain('secret plans').and.not.contain('after you left');
    });
  });

  describe('invites that end without a join', () => {
    it('shows a withdrawn or rejected invite as the membership event alone; a ban from a room never joined is not listed', async () => {
      const alice = await t.registerUser();
      const bob = await t.registerUser();
      const withdrawn = await c.createRoom(bob, { name: 'withdrawn', preset: 'private_chat', invite: [alice.userId] });
      const rejected = await c.createRoom(bob, { name: 'rejected', preset: 'private_chat', invite: [alice.userId] });
      const bannedNeverJoined = await c.createRoom(bob, { name: 'banned outright', preset: 'public_chat' });
      const body = { conn_id: 'inv', lists: { all: { ranges: [[0, 9]], timeline_limit: 5, required_state: [['*', '*']] } } };
      const first = await c.sync(alice, body);
      expect(first.body.rooms[withdrawn].membership).to.equal('invite');
      await c.send(bob, withdrawn, 'not for alice');
      await c.send(bob, rejected, 'not for alice either');
      await c.api(bob, 'POST', `/rooms/${encodeURIComponent(withdrawn)}/kick`, { user_id: alice.userId });
      await c.api(alice, 'POST', `/rooms/${encodeURIComponent(rejected)}/leave`, {});
      await c.api(bob, 'POST', `/rooms/${encodeURIComponent(bannedNeverJoined)}/ban`, { user_id: alice.userId });
      const second = await c.sync(alice, body, { pos: first.body.pos, timeout: 0 });
      for (const roomId of [withdrawn, rejected]) {
        const room = second.body.rooms[roomId];
        expect(room.membership).to.equal('leave');
        expect(room.timeline.map((e: any) => `${e.type}|${e.content.membership}`)).to.deep.equal(['m.room.member|leave']);
        expect(room.required_state).to.deep.equal([]);
        expect(JSON.stringify(room)).to.not.contain('not for alice');
      }
      expect(second.body.rooms[withdrawn].timeline[0].sender).to.equal(bob.userId);
      expect(ids(second, 'all')).to.not.include(bannedNeverJoined);
      // A fresh connection lists the withdrawn invite (alice may not know of it) but not her own refusal.
      const fresh = await c.sync(alice, { lists: body.lists });
      expect(ids(fresh, 'all')).to.include(withdrawn).and.not.include(rejected).and.not.include(bannedNeverJoined);
      expect(JSON.stringify(fresh.body.rooms[withdrawn])).to.not.contain('not for alice');
    });
  });

  describe('ordering and bump_stamp', () => {
    it('orders by latest activity; bump_stamp moves only on messages and the like', async () => {
      const alice = await t.registerUser();
      const a = await c.createRoom(alice, { name: 'a' });
      const b = await c.createRoom(alice, { name: 'b' });
      const inB = await c.send(alice, b, 'an early b message');
      await c.send(alice, a, 'a message');
      const body = { conn_id: 'order', lists: { all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [] } } };
      const first = await c.sync(alice, body);
      expect(ids(first, 'all')).to.deep.equal([a, b]);
      const stampA = first.body.rooms[a].bump_stamp;
      const stampB = first.body.rooms[b].bump_stamp;
      expect(stampA).to.be.a('number').and.above(stampB);
      // A reaction and a topic change are activity for ordering but not "proper" activity.
      await c.send(alice, b, '', 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: inB, key: '👍' } });
      await c.state(alice, b, 'm.room.topic', '', { topic: 'quiet change' });
      const second = await c.sync(alice, body, { pos: first.body.pos, timeout: 0 });
      expect(second.body.rooms[b].bump_stamp).to.equal(stampB);
      await c.send(alice, b, 'b message');
      const third = await c.sync(alice, body, { pos: second.body.pos, timeout: 0 });
      expect(ids(third, 'all')).to.deep.equal([b, a]);
      expect(third.body.rooms[b].bump_stamp).to.be.above(stampA);
    });
  });
});
