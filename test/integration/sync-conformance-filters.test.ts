/**
 * /sync conformance: filters (spec: Client-Server API "Filtering", filter.yaml) — timeline and
 * state filters, room lists, account data, event_fields, event_format, stored and bad filters.
 */
import { expect } from 'chai';
import { useServer } from './helpers/index.js';
import { bodies, clients, enc, keys, type SyncClient } from './sync-conformance-helpers.js';

describe('sync conformance: filters', () => {
  const h = useServer();
  let alice: SyncClient;
  let bob: SyncClient;
  let roomId: string;
  let other: string;
  before(async () => {
    [alice, bob] = await clients(h.t, 2);
    roomId = await alice.createRoom({ preset: 'public_chat', name: 'Filters' });
    other = await alice.createRoom({ preset: 'public_chat', name: 'Other' });
    await bob.join(roomId);
    await bob.join(other);
    await alice.send(roomId, 'alice text');
    await bob.send(roomId, 'bob text');
    await alice.sendContent(roomId, 'org.example.custom', { n: 1 });
    await alice.sendContent(roomId, 'org.example.other', { n: 2 });
    await alice.send(roomId, 'a picture', { msgtype: 'm.image', url: 'mxc://test.local/abc' });
    await alice.send(other, 'in other');
  });

  const timelineOf = async (filter: object, room = roomId) => (await bob.sync({ filter })).rooms.join[room]?.timeline.events as any[] | undefined;

  it('timeline types and not_types, with * wildcards', async () => {
    expect((await timelineOf({ room: { timeline: { types: ['org.example.*'] } } }))!.map((e) => e.type)).to.deep.equal(['org.example.custom', 'org.example.other']);
    expect((await timelineOf({ room: { timeline: { types: ['org.example.custom'] } } }))!.map((e) => e.type)).to.deep.equal(['org.example.custom']);
    const notTypes = (await timelineOf({ room: { timeline: { not_types: ['org.*', 'm.room.member'], limit: 50 } } }))!.map((e) => e.type);
    expect(notTypes).to.include('m.room.message');
    expect(notTypes).to.not.include('org.example.custom');
    expect(notTypes).to.not.include('m.room.member');
    // not_types wins over types.
    expect((await timelineOf({ room: { timeline: { types: ['org.*'], not_types: ['org.example.other'] } } }))!.map((e) => e.type)).to.deep.equal(['org.example.custom']);
  });

  it('timeline senders and not_senders', async () => {
    const onlyBob = (await timelineOf({ room: { timeline: { senders: [bob.userId], types: ['m.room.message'] } } }))!;
    expect(bodies(onlyBob)).to.deep.equal(['bob text']);
    const notAlice = (await timelineOf({ room: { timeline: { not_senders: [alice.userId], limit: 50 } } }))!;
    expect(notAlice.every((e) => e.sender === bob.userId)).to.equal(true);
    expect(bodies(notAlice)).to.deep.equal(['bob text']);
  });

  it('a long-poll is not woken by events its timeline filter hides', async () => {
    const quiet = await alice.createRoom({ preset: 'public_chat' });
    await bob.join(quiet);
    const filter = { room: { timeline: { types: ['m.room.message'] } } };
    const first = await bob.sync({ filter });
    const pending = bob.sync({ filter, since: first.next_batch, timeout: 10000 });
    await new Promise((r) => setTimeout(r, 100));
    await alice.sendContent(quiet, 'org.example.hidden', { n: 3 });
    await new Promise((r) => setTimeout(r, 300));
    await alice.send(quiet, 'shown');
    const res = await pending;
    expect(bodies(res.rooms.join[quiet]?.timeline.events ?? [])).to.deep.equal(['shown']);
  });

  it('contains_url', async () => {
    expect(bodies((await timelineOf({ room: { timeline: { contains_url: true } } }))!)).to.deep.equal(['a picture']);
    const without = (await timelineOf({ room: { timeline: { contains_url: false, types: ['m.room.message'] } } }))!;
    expect(bodies(without)).to.deep.equal(['alice text', 'bob text']);
  });

  it('room.timeline.limit sets the page size and marks the timeline limited', async () => {
    const res = await bob.sync({ filter: { room: { timeline: { limit: 2 } } } });
    const tl = res.rooms.join[roomId].timeline;
    expect(tl.events).to.have.length(2);
    expect(tl.limited).to.equal(true);
    expect(bodies(tl.events)).to.deep.equal(['a picture']);
    // The state is then the state at the start of that short timeline.
    expect(keys(res.rooms.join[roomId].state.events)).to.include('m.room.name|');
  });

  it('room.rooms and room.not_rooms', async () => {
    const only = await bob.sync({ filter: { room: { rooms: [other] } } });
    expect(Object.keys(only.rooms.join)).to.deep.equal([other]);
    const not = await bob.sync({ filter: { room: { not_rooms: [other] } } });
    expect(not.rooms.join).to.have.property(roomId);
    expect(not.rooms.join).to.not.have.property(other);
    // not_rooms wins over rooms.
    const both = await bob.sync({ filter: { room: { rooms: [roomId, other], not_rooms: [roomId] } } });
    expect(Object.keys(both.rooms.join)).to.deep.equal([other]);
  });

  it('state filter types', async () => {
    const res = await bob.sync({ filter: { room: { state: { types: ['m.room.name', 'm.room.join_*'] }, timeline: { limit: 1 } } } });
    expect(keys(res.rooms.join[roomId].state.events).sort()).to.deep.equal(['m.room.join_rules|', 'm.room.name|']);
    const not = await bob.sync({ filter: { room: { state: { not_types: ['m.room.member'] }, timeline: { limit: 1 } } } });
    const types = not.rooms.join[roomId].state.events.map((e: any) => e.type);
    expect(types).to.include('m.room.create');
    expect(types).to.not.include('m.room.member');
  });

  it('account_data filters, global and per room', async () => {
    await bob.call('PUT', `/user/${enc(bob.userId)}/account_data/org.example.keep`, { k: 1 });
    await bob.call('PUT', `/user/${enc(bob.userId)}/account_data/org.example.drop`, { k: 2 });
    await bob.call('PUT', `/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { r: 1 });
    await bob.call('PUT', `/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/org.example.hidden`, { r: 2 });
    const res = await bob.sync({ filter: { account_data: { types: ['org.example.*'], not_types: ['org.example.drop'] }, room: { account_data: { not_types: ['org.example.hidden'] } } } });
    expect(res.account_data.events.map((e: any) => e.type)).to.deep.equal(['org.example.keep']);
    expect(res.rooms.join[roomId].account_data.events.map((e: any) => e.type)).to.deep.equal(['org.example.room']);
    const none = await bob.sync({ filter: { account_data: { not_types: ['*'] }, room: { account_data: { not_types: ['*'] } } } });
    expect(none.account_data.events).to.deep.equal([]);
    expect(none.rooms.join[roomId].account_data.events).to.deep.equal([]);
  });

  it('event_fields keeps only the listed fields, with dotted paths and escaped dots', async () => {
    const eventId = await alice.sendContent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'fields', 'm.relates_to': { rel_type: 'org.example' }, 'dotted.key': 'x', nested: { a: 1, b: 2 } });
    const res = await bob.sync({ filter: { event_fields: ['type', 'content.body', 'content.dotted\\.key', 'content.nested.a', 'event_id'], room: { timeline: { limit: 1 } } } });
    const ev = res.rooms.join[roomId].timeline.events[0];
    expect(ev).to.deep.equal({ type: 'm.room.message', event_id: eventId, content: { body: 'fields', 'dotted.key': 'x', nested: { a: 1 } } });
  });

  it('event_fields: a doubled backslash is a literal backslash; state_after still has one event per state key', async () => {
    await alice.sendContent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'slash', 'back\\': { x: 1 }, 'back\\.y': 2 });
    const res = await bob.sync({ filter: { event_fields: ['content.back\\\\.x', 'content.back\\\\\\.y'], room: { timeline: { limit: 1 } } } });
    expect(res.rooms.join[roomId].timeline.events[0]).to.deep.equal({ content: { 'back\\': { x: 1 }, 'back\\.y': 2 } });
    const after = await bob.sync({ filter: { event_fields: ['content.name'], room: { rooms: [roomId] } }, use_state_after: true });
    const events = after.rooms.join[roomId].state_after.events;
    expect(events.length, 'one entry per (type, state_key)').to.be.greaterThan(4);
    expect(events).to.deep.include({ content: { name: 'Filters' } });
  });

  it('event_format=federation gives events in PDU form', async () => {
    const res = await bob.sync({ filter: { event_format: 'federation', room: { timeline: { limit: 3 } } } });
    const events = res.rooms.join[roomId].timeline.events as any[];
    expect(events.length).to.be.greaterThan(0);
    for (const e of [...events, ...res.rooms.join[roomId].state.events]) {
      expect(e).to.include.keys('auth_events', 'prev_events', 'depth', 'hashes', 'signatures', 'room_id', 'origin_server_ts', 'sender');
    }
    const client = await bob.sync({ filter: { room: { timeline: { limit: 3 } } } });
    expect(client.rooms.join[roomId].timeline.events[0]).to.not.have.property('prev_events');
  });

  it('a filter uploaded with POST /user/{id}/filter is used by its ID', async () => {
    const def = { room: { timeline: { types: ['org.example.custom'] }, rooms: [roomId] } };
    const { filter_id: id } = await bob.call('POST', `/user/${enc(bob.userId)}/filter`, def);
    expect(id).to.be.a('string');
    expect(await bob.call('GET', `/user/${enc(bob.userId)}/filter/${enc(id)}`)).to.deep.equal(def);
    const res = await bob.sync({ filter: id });
    expect(Object.keys(res.rooms.join)).to.deep.equal([roomId]);
    expect(res.rooms.join[roomId].timeline.events.map((e: any) => e.type)).to.deep.equal(['org.example.custom']);
    // Another user's filter ID is not this user's.
    const res2 = await alice.rawSync({ filter: id });
    expect(res2.status).to.equal(400);
  });

  it('an unknown filter ID or a malformed inline filter is a 400', async () => {
    for (const filter of ['98765', '{not json', JSON.stringify({ room: { timeline: { limit: 'ten' } } }), JSON.stringify({ event_format: 'xml' }), JSON.stringify({ room: { rooms: 'not-a-list' } }), JSON.stringify([1, 2])]) {
      const res = await bob.rawSync({ filter });
      expect(res.status, filter).to.equal(400);
      expect(res.body.errcode, filter).to.be.oneOf(['M_INVALID_PARAM', 'M_BAD_JSON', 'M_NOT_JSON', 'M_NOT_FOUND']);
      expect(res.body.error).to.be.a('string');
    }
    const bad = await h.t.request('POST', `/_matrix/client/v3/user/${enc(bob.userId)}/filter`, { token: bob.user.accessToken, body: { room: { timeline: { limit: 'x' } } } });
    expect(bad.status).to.equal(400);
  });

  it('a timeline filter that hides state events still gets the state that changed in the timeline window', async () => {
    const filter = { room: { timeline: { types: ['m.room.message'] } } };
    const first = await bob.sync({ filter });
    await alice.state(roomId, 'm.room.topic', '', { topic: 'changed behind the filter' });
    await alice.send(roomId, 'after topic');
    const inc = await bob.sync({ filter, since: first.next_batch });
    const room = inc.rooms.join[roomId];
    expect(bodies(room.timeline.events)).to.deep.equal(['after topic']);
    const topic = [...room.state.events, ...room.timeline.events].find((e: any) => e.type === 'm.room.topic');
    expect(topic?.content.topic, 'topic change reaches the client').to.equal('changed behind the filter');
  });
});
