/**
 * /sync conformance (spec: Client-Server API "Syncing", sync.yaml): the invite, knock and leave
 * sections, forgotten rooms, full_state, rooms joined since the token, room summaries.
 */
import { expect } from 'chai';
import { useServer } from './helpers/index.js';
import { bodies, clients, enc, keys, type SyncClient } from './sync-conformance-helpers.js';

describe('sync conformance: room sections', () => {
  const h = useServer();
  let alice: SyncClient;
  let bob: SyncClient;
  before(async () => {
    [alice, bob] = await clients(h.t, 2);
  });

  it('an invite carries stripped invite_state with the invite member event; after accepting, the room moves to join with full state', async () => {
    const roomId = await alice.createRoom({ name: 'Invite room', topic: 'about', preset: 'private_chat' });
    const first = await bob.sync();
    expect(first.rooms.invite).to.not.have.property(roomId);
    await alice.invite(roomId, bob.userId);
    const inc = await bob.sync({ since: first.next_batch, timeout: 5000 });
    const invite = inc.rooms.invite[roomId];
    expect(invite, 'invite section').to.exist;
    expect(inc.rooms.join).to.not.have.property(roomId);
    const events = invite.invite_state.events as any[];
    for (const e of events) {
      // spec: StrippedStateEvent — content, state_key, type, sender only (plus the own invite's extras).
      expect(e).to.include.keys('type', 'state_key', 'content', 'sender');
      expect(e).to.not.have.property('prev_events');
      expect(e).to.not.have.property('auth_events');
    }
    const name = events.find((e) => e.type === 'm.room.name');
    expect(name?.content.name).to.equal('Invite room');
    expect(events.some((e) => e.type === 'm.room.create')).to.equal(true);
    expect(events.some((e) => e.type === 'm.room.join_rules')).to.equal(true);
    const own = events.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId);
    expect(own?.content.membership).to.equal('invite');
    expect(own?.sender).to.equal(alice.userId);
    const inviter = events.find((e) => e.type === 'm.room.member' && e.state_key === alice.userId);
    expect(inviter?.content.membership, "the inviter's member event").to.equal('join');
    // An initial sync still shows the pending invite.
    expect((await bob.sync()).rooms.invite).to.have.property(roomId);

    await bob.join(roomId);
    const after = await bob.sync({ since: inc.next_batch, timeout: 5000 });
    expect(after.rooms.invite).to.not.have.property(roomId);
    const joined = after.rooms.join[roomId];
    expect(joined, 'join section').to.exist;
    const state = keys([...joined.state.events, ...joined.timeline.events]);
    for (const k of ['m.room.create|', 'm.room.power_levels|', 'm.room.join_rules|', 'm.room.name|', 'm.room.topic|', `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`]) {
      expect(state, k).to.include(k);
    }
    // Later incremental syncs no longer carry the invite.
    const later = await bob.sync({ since: after.next_batch });
    expect(later.rooms.invite).to.not.have.property(roomId);
  });

  it('a knock appears in the knock section with knock_state', async () => {
    const roomId = await alice.createRoom({ room_version: '10', name: 'Knock room', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
    const first = await bob.sync();
    await bob.call('POST', `/knock/${enc(roomId)}`, { reason: 'let me in' });
    const inc = await bob.sync({ since: first.next_batch, timeout: 5000 });
    const knock = inc.rooms.knock[roomId];
    expect(knock, 'knock section').to.exist;
    const events = knock.knock_state.events as any[];
    expect(events.find((e) => e.type === 'm.room.name')?.content.name).to.equal('Knock room');
    expect(events.find((e) => e.type === 'm.room.join_rules')?.content.join_rule).to.equal('knock');
    expect(events.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId)?.content.membership).to.equal('knock');
    expect(inc.rooms.join).to.not.have.property(roomId);
    expect(inc.rooms.invite).to.not.have.property(roomId);
    // The room's members see the knock in their timeline.
    const a = await alice.sync();
    expect(a.rooms.join[roomId].timeline.events.some((e: any) => e.type === 'm.room.member' && e.content.membership === 'knock')).to.equal(true);
  });

  for (const how of ['leave', 'kick', 'ban'] as const) {
    it(`a ${how} shows in the next incremental sync's leave section with the timeline up to the leave`, async () => {
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      await bob.join(roomId);
      const first = await bob.sync();
      await alice.send(roomId, `before ${how}`);
      if (how === 'leave') await bob.leave(roomId);
      else await alice.call('POST', `/rooms/${enc(roomId)}/${how}`, { user_id: bob.userId, reason: 'r' });
      await alice.send(roomId, `after ${how}`);
      const inc = await bob.sync({ since: first.next_batch });
      expect(inc.rooms.join).to.not.have.property(roomId);
      const left = inc.rooms.leave[roomId];
      expect(left, 'leave section').to.exist;
      expect(bodies(left.timeline.events)).to.deep.equal([`before ${how}`]);
      const last = left.timeline.events[left.timeline.events.length - 1];
      expect(last.type).to.equal('m.room.member');
      expect(last.state_key).to.equal(bob.userId);
      expect(last.content.membership).to.equal(how === 'ban' ? 'ban' : 'leave');
      // Nothing more about the room in later syncs.
      const later = await bob.sync({ since: inc.next_batch });
      expect(later.rooms.leave).to.not.have.property(roomId);
      expect(later.rooms.join).to.not.have.property(roomId);
    });
  }

  it('include_leave on an initial sync lists old left rooms (with their state); forgotten rooms never appear', async () => {
    const kept = await alice.createRoom({ preset: 'public_chat', name: 'Kept' });
    const forgotten = await alice.createRoom({ preset: 'public_chat', name: 'Forgotten' });
    await bob.join(kept);
    await bob.join(forgotten);
    const first = await bob.sync();
    // Enough messages that the leave room's timeline is limited: its state must come in `state`.
    for (let i = 0; i < 12; i++) await alice.send(kept, `m${i}`);
    await bob.leave(kept);
    await bob.leave(forgotten);
    await bob.sync({ since: first.next_batch });
    const plain = await bob.sync();
    expect(plain.rooms.leave, 'no include_leave').to.not.have.property(kept);
    const withLeave = await bob.sync({ filter: { room: { include_leave: true } } });
    expect(withLeave.rooms.leave).to.have.property(kept);
    const entry = withLeave.rooms.leave[kept];
    expect(entry.timeline.limited).to.equal(true);
    const seen = keys(entry.state.events);
    expect(seen).to.include('m.room.create|');
    expect(seen).to.include('m.room.name|');
    expect(entry.timeline.events[entry.timeline.events.length - 1].content.membership).to.equal('leave');

    await bob.call('POST', `/rooms/${enc(forgotten)}/forget`, {});
    const afterForget = await bob.sync({ filter: { room: { include_leave: true } } });
    expect(afterForget.rooms.leave).to.have.property(kept);
    expect(afterForget.rooms.leave, 'forgotten room').to.not.have.property(forgotten);
    const full = await bob.sync({ since: first.next_batch, full_state: true, filter: { room: { include_leave: true } } });
    expect(full.rooms.leave, 'forgotten room, full_state').to.not.have.property(forgotten);
    expect(full.rooms.join).to.not.have.property(forgotten);
  });

  it('a rejected invite moves the room to leave with the leave event, and nothing the invitee could not read', async () => {
    const roomId = await alice.createRoom({ preset: 'private_chat', name: 'Rejected' });
    const first = await bob.sync();
    await alice.invite(roomId, bob.userId);
    const invited = await bob.sync({ since: first.next_batch });
    expect(invited.rooms.invite).to.have.property(roomId);
    await alice.send(roomId, 'while bob is invited');
    await bob.leave(roomId);
    const inc = await bob.sync({ since: invited.next_batch });
    expect(inc.rooms.invite).to.not.have.property(roomId);
    const left = inc.rooms.leave[roomId];
    expect(left, 'leave section').to.exist;
    expect(bodies(left.timeline.events)).to.deep.equal([]);
    const own = left.timeline.events.find((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId);
    expect(own?.content.membership).to.equal('leave');
  });

  it("a left room's timeline keeps history visibility: nothing from before the join in a 'joined' room", async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] });
    await alice.send(roomId, 'secret before');
    await bob.join(roomId);
    await alice.send(roomId, 'seen');
    await bob.leave(roomId);
    const res = await bob.sync({ filter: { room: { include_leave: true, rooms: [roomId] } } });
    expect(bodies(res.rooms.leave[roomId].timeline.events)).to.deep.equal(['seen']);
  });

  it('full_state=true sends every joined room with its whole state, the timeline still limited by since', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Full' });
    const quiet = await alice.createRoom({ preset: 'public_chat', name: 'Quiet' });
    await bob.join(roomId);
    await bob.join(quiet);
    await alice.send(roomId, 'old');
    const first = await bob.sync();
    await alice.send(roomId, 'new');
    const started = Date.now();
    const res = await bob.sync({ since: first.next_batch, full_state: true, timeout: 20000 });
    expect(Date.now() - started, 'full_state ignores timeout').to.be.lessThan(5000);
    const room = res.rooms.join[roomId];
    expect(bodies(room.timeline.events)).to.deep.equal(['new']);
    expect(room.timeline.limited).to.equal(false);
    const state = keys(room.state.events);
    for (const k of ['m.room.create|', 'm.room.name|', 'm.room.power_levels|', `m.room.member|${bob.userId}`]) expect(state, k).to.include(k);
    // A room with nothing new is sent too, with its state and an empty timeline.
    const q = res.rooms.join[quiet];
    expect(q, 'quiet room').to.exist;
    expect(keys(q.state.events)).to.include('m.room.name|');
    expect(q.timeline.events).to.deep.equal([]);
  });

  it('a room joined since the token arrives with its full state, and with lazy members only the needed ones', async () => {
    const [carol, dave] = await clients(h.t, 2);
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Late' });
    await carol.join(roomId);
    await dave.join(roomId);
    await carol.send(roomId, 'from carol');
    for (let i = 0; i < 12; i++) await alice.send(roomId, `a${i}`);
    const lazy = { room: { state: { lazy_load_members: true }, timeline: { limit: 3 } } };
    const first = await bob.sync();
    const firstLazy = await bob.sync({ filter: lazy });
    await bob.join(roomId);
    const inc = await bob.sync({ since: first.next_batch });
    const room = inc.rooms.join[roomId];
    const state = keys([...room.state.events, ...room.timeline.events]);
    for (const k of ['m.room.create|', 'm.room.name|', 'm.room.join_rules|', `m.room.member|${alice.userId}`, `m.room.member|${carol.userId}`, `m.room.member|${dave.userId}`]) {
      expect(state, k).to.include(k);
    }
    const incLazy = await bob.sync({ since: firstLazy.next_batch, filter: lazy });
    const lroom = incLazy.rooms.join[roomId];
    const members = [...lroom.state.events, ...lroom.timeline.events].filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key);
    expect(members).to.include(alice.userId);
    expect(members).to.include(bob.userId);
    expect(members, 'dave sent nothing in the timeline').to.not.include(dave.userId);
    expect(keys(lroom.state.events)).to.include('m.room.create|');
    expect(keys(lroom.state.events)).to.include('m.room.name|');
  });

  it('the summary gives heroes (not the user, in join order) and member counts', async () => {
    const [carol, dave, erin] = await clients(h.t, 3);
    const roomId = await alice.createRoom({});
    // Join order differs from user ID order on purpose.
    await alice.invite(roomId, erin.userId);
    await alice.invite(roomId, carol.userId);
    await carol.join(roomId);
    await alice.invite(roomId, dave.userId);
    const s = (await alice.sync()).rooms.join[roomId].summary;
    expect(s['m.joined_member_count']).to.equal(2);
    expect(s['m.invited_member_count']).to.equal(2);
    expect(s['m.heroes']).to.not.include(alice.userId);
    expect(s['m.heroes']).to.have.members([erin.userId, carol.userId, dave.userId]);
    expect(s['m.heroes'], 'ordered by stream ordering').to.deep.equal([erin.userId, carol.userId, dave.userId]);
    // When everyone else has left, heroes are the left users.
    await carol.leave(roomId);
    await alice.call('POST', `/rooms/${enc(roomId)}/kick`, { user_id: erin.userId });
    await alice.call('POST', `/rooms/${enc(roomId)}/kick`, { user_id: dave.userId });
    const s2 = (await alice.sync()).rooms.join[roomId].summary;
    expect(s2['m.joined_member_count']).to.equal(1);
    expect(s2['m.invited_member_count']).to.equal(0);
    expect(s2['m.heroes']).to.have.members([erin.userId, carol.userId, dave.userId]);
  });
});

describe('sync conformance: membership changes that are not joins', () => {
  const h = useServer();
  let alice: SyncClient;
  let bob: SyncClient;
  before(async () => {
    [alice, bob] = await clients(h.t, 2);
  });

  it("a profile change (a join after a join) is not a new join: no full state, the timeline since the token", async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Profile' });
    await bob.join(roomId);
    for (let i = 0; i < 12; i++) await alice.send(roomId, `p${i}`);
    const first = await bob.sync();
    await bob.call('PUT', `/profile/${enc(bob.userId)}/displayname`, { displayname: 'Bobby' });
    const inc = await bob.sync({ since: first.next_batch });
    const entry = inc.rooms.join[roomId];
    expect(entry).to.exist;
    expect(entry.timeline.limited).to.equal(false);
    expect(bodies(entry.timeline.events)).to.deep.equal([]);
    const member = entry.timeline.events.find((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId);
    expect(member?.content.displayname).to.equal('Bobby');
    expect(keys(entry.state.events)).to.not.include('m.room.create|');
  });

  it('leaving and rejoining between two syncs is a new join (full state)', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Rejoin' });
    await bob.join(roomId);
    const first = await bob.sync();
    await bob.leave(roomId);
    await bob.join(roomId);
    const inc = await bob.sync({ since: first.next_batch, filter: { room: { timeline: { limit: 1 } } } });
    const entry = inc.rooms.join[roomId];
    expect(keys(entry.state.events)).to.include('m.room.create|');
    expect(keys(entry.state.events)).to.include('m.room.name|');
  });
});
