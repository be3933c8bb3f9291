/**
 * /sync conformance: gaps and tokens — limited timelines with a prev_batch that /messages
 * continues exactly, state changed inside a gap, MSC4222 state_after, account data in incremental
 * syncs, tokens from the future, the timeout cap.
 */
import { expect } from 'chai';
import { useServer } from './helpers/index.js';
import { MAX_TIMEOUT_MS } from '../../src/services/sync/sync-service.js';
import { bodies, clients, enc, keys, type SyncClient } from './sync-conformance-helpers.js';

describe('sync conformance: gaps and tokens', () => {
  const h = useServer();
  let alice: SyncClient;
  let bob: SyncClient;
  before(async () => {
    [alice, bob] = await clients(h.t, 2);
  });

  async function room(name?: string): Promise<string> {
    const roomId = await alice.createRoom({ preset: 'public_chat', ...(name ? { name } : {}) });
    await bob.join(roomId);
    return roomId;
  }

  /** Pages /messages backwards from a token until `count` messages are collected or the room's start. */
  async function messagesBefore(roomId: string, from: string, count: number): Promise<string[]> {
    const out: any[] = [];
    let token: string | undefined = from;
    while (token && out.length < count) {
      const page: any = await bob.call('GET', `/rooms/${enc(roomId)}/messages?dir=b&limit=4&from=${enc(token)}`);
      out.push(...page.chunk);
      if (!page.chunk.length) break;
      token = page.end;
    }
    return out.map((e) => e.content?.body ?? e.type);
  }

  it('a limited incremental timeline has a prev_batch that /messages continues with no gap and no overlap', async () => {
    const roomId = await room();
    const first = await bob.sync();
    for (let i = 0; i < 20; i++) await alice.send(roomId, `m${i}`);
    const inc = await bob.sync({ since: first.next_batch, filter: { room: { timeline: { limit: 5 } } } });
    const tl = inc.rooms.join[roomId].timeline;
    expect(tl.limited).to.equal(true);
    expect(bodies(tl.events)).to.deep.equal(['m15', 'm16', 'm17', 'm18', 'm19']);
    expect(tl.prev_batch).to.be.a('string');
    const before = await messagesBefore(roomId, tl.prev_batch, 15);
    expect(before.slice(0, 15)).to.deep.equal(Array.from({ length: 15 }, (_, i) => `m${14 - i}`));
  });

  it('an initial sync prev_batch continues exactly too', async () => {
    const roomId = await room();
    for (let i = 0; i < 8; i++) await alice.send(roomId, `i${i}`);
    const res = await bob.sync({ filter: { room: { timeline: { limit: 3 }, rooms: [roomId] } } });
    const tl = res.rooms.join[roomId].timeline;
    expect(tl.limited).to.equal(true);
    expect(bodies(tl.events)).to.deep.equal(['i5', 'i6', 'i7']);
    const before = await messagesBefore(roomId, tl.prev_batch, 5);
    expect(before.slice(0, 5)).to.deep.equal(['i4', 'i3', 'i2', 'i1', 'i0']);
  });

  it("a limited incremental sync's state holds the state changed inside the gap, and only that", async () => {
    const roomId = await room('Old name');
    await alice.state(roomId, 'm.room.topic', '', { topic: 'set before the token' });
    const first = await bob.sync();
    await alice.state(roomId, 'm.room.name', '', { name: 'New name' });
    for (let i = 0; i < 12; i++) await alice.send(roomId, `g${i}`);
    const inc = await bob.sync({ since: first.next_batch, filter: { room: { timeline: { limit: 5 } } } });
    const entry = inc.rooms.join[roomId];
    expect(entry.timeline.limited).to.equal(true);
    expect(bodies(entry.timeline.events)).to.deep.equal(['g7', 'g8', 'g9', 'g10', 'g11']);
    const name = entry.state.events.find((e: any) => e.type === 'm.room.name');
    expect(name?.content.name).to.equal('New name');
    expect(keys(entry.state.events), 'unchanged state is not resent').to.not.include('m.room.topic|');
    expect(keys(entry.state.events)).to.not.include('m.room.create|');
  });

  it('use_state_after=true and org.matrix.msc4222.use_state_after=true each give their own key and omit state', async () => {
    const roomId = await room('Before');
    const first = await bob.sync();
    await alice.send(roomId, 'x');
    await alice.state(roomId, 'm.room.name', '', { name: 'After' });
    for (const [param, key, otherKey] of [
      ['use_state_after', 'state_after', 'org.matrix.msc4222.state_after'],
      ['org.matrix.msc4222.use_state_after', 'org.matrix.msc4222.state_after', 'state_after'],
    ]) {
      const inc = await bob.sync({ since: first.next_batch, [param]: true });
      const entry = inc.rooms.join[roomId];
      expect(entry, param).to.have.property(key);
      expect(entry, param).to.not.have.property(otherKey);
      expect(entry, `${param}: state MUST be omitted`).to.not.have.property('state');
      expect(entry[key].events.find((e: any) => e.type === 'm.room.name')?.content.name).to.equal('After');
      const initial = await bob.sync({ [param]: true });
      const after = keys(initial.rooms.join[roomId][key].events);
      for (const k of ['m.room.create|', 'm.room.name|', `m.room.member|${bob.userId}`]) expect(after, k).to.include(k);
      expect(initial.rooms.join[roomId][key].events.find((e: any) => e.type === 'm.room.name').content.name).to.equal('After');
      // Nothing new: the room is not listed, state_after need not appear.
      const idle = await bob.sync({ since: inc.next_batch, [param]: true });
      expect(idle.rooms.join).to.not.have.property(roomId);
    }
    // Without the parameter: the classic `state` and no state_after.
    const plain = (await bob.sync({ since: first.next_batch })).rooms.join[roomId];
    expect(plain).to.have.property('state');
    expect(plain).to.not.have.property('state_after');
    expect(plain).to.not.have.property('org.matrix.msc4222.state_after');
  });

  it('account data, global and per room, arrives in incremental syncs (and wakes a long-poll)', async () => {
    const roomId = await room();
    const first = await bob.sync();
    const pending = bob.sync({ since: first.next_batch, timeout: 10000 });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await bob.call('PUT', `/user/${enc(bob.userId)}/account_data/org.example.global`, { v: 1 });
    const woke = await pending;
    expect(Date.now() - started).to.be.lessThan(5000);
    expect(woke.account_data.events).to.deep.include({ type: 'org.example.global', content: { v: 1 } });
    await bob.call('PUT', `/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { v: 2 });
    const inc = await bob.sync({ since: woke.next_batch });
    expect(inc.rooms.join[roomId].account_data.events).to.deep.equal([{ type: 'org.example.room', content: { v: 2 } }]);
    expect(inc.account_data.events, 'global data already sent').to.deep.equal([]);
    const idle = await bob.sync({ since: inc.next_batch });
    expect(idle.rooms.join).to.not.have.property(roomId);
    expect(idle.account_data.events).to.deep.equal([]);
  });

  it("an invite, a kick and a room's state change each wake a waiting long-poll", async () => {
    const roomId = await alice.createRoom({ preset: 'private_chat' });
    let token = (await bob.sync()).next_batch;
    const wakeBy = async (action: () => Promise<unknown>, check: (res: any) => void) => {
      const pending = bob.sync({ since: token, timeout: 10000 });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await action();
      const res = await pending;
      expect(Date.now() - started).to.be.lessThan(5000);
      check(res);
      token = res.next_batch;
    };
    await wakeBy(() => alice.invite(roomId, bob.userId), (res) => expect(res.rooms.invite).to.have.property(roomId));
    await bob.join(roomId);
    token = (await bob.sync({ since: token })).next_batch;
    await wakeBy(() => alice.state(roomId, 'm.room.topic', '', { topic: 'woken' }), (res) => expect(res.rooms.join[roomId].timeline.events.some((e: any) => e.type === 'm.room.topic')).to.equal(true));
    await wakeBy(() => alice.call('POST', `/rooms/${enc(roomId)}/kick`, { user_id: bob.userId }), (res) => expect(res.rooms.leave).to.have.property(roomId));
  });

  it('a since token from the future does not make later events be skipped', async () => {
    const roomId = await room();
    const now = await bob.sync();
    const future = 's' + now.next_batch.slice(1).split('_').map((n: string) => Number(n) + 100000).join('_');
    const pending = bob.sync({ since: future, timeout: 10000 });
    await new Promise((r) => setTimeout(r, 100));
    await alice.send(roomId, 'after future');
    const res = await pending;
    expect(bodies(res.rooms.join[roomId]?.timeline.events ?? [])).to.deep.equal(['after future']);
    // And the next_batch it hands out is an ordinary one: what comes next still arrives.
    await alice.send(roomId, 'next');
    const next = await bob.sync({ since: res.next_batch });
    expect(bodies(next.rooms.join[roomId].timeline.events)).to.deep.equal(['next']);
  });

  it('a huge timeout is capped at MAX_TIMEOUT_MS', async () => {
    const roomId = await room();
    const first = await bob.sync();
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: (...a: any[]) => void, ms?: number, ...rest: any[]) => {
      delays.push(Number(ms ?? 0));
      return realSetTimeout(fn, ms, ...rest);
    }) as typeof setTimeout;
    let res: any;
    try {
      const pending = bob.sync({ since: first.next_batch, timeout: 1e12 });
      await new Promise((r) => realSetTimeout(r, 150));
      await alice.send(roomId, 'wake');
      res = await pending;
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    expect(bodies(res.rooms.join[roomId].timeline.events)).to.deep.equal(['wake']);
    expect(delays.some((d) => d > MAX_TIMEOUT_MS - 10_000 && d <= MAX_TIMEOUT_MS), `a long-poll timer at the cap: ${delays.filter((d) => d > 1000)}`).to.equal(true);
    expect(delays.filter((d) => d > MAX_TIMEOUT_MS), 'no timer past the cap').to.deep.equal([]);
    expect(MAX_TIMEOUT_MS).to.be.within(30_000, 600_000);
    const bad = await bob.rawSync({ since: first.next_batch, timeout: 'soon' });
    expect(bad.status).to.equal(400);
  });
});
