/**
 * /sync conformance: the cost shape — an incremental sync with nothing new, and an initial sync,
 * run a number of SQL queries that does not grow with the number of rooms the user is in.
 */
import { expect } from 'chai';
import { useServer } from './helpers/index.js';
import { bodies, clients, type SyncClient } from './sync-conformance-helpers.js';

describe('sync conformance: query counts', () => {
  const h = useServer();
  let alice: SyncClient;
  let bob: SyncClient;
  before(async () => {
    [alice, bob] = await clients(h.t, 2);
  });

  async function joinRooms(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const roomId = await alice.createRoom({ preset: 'public_chat', name: `r${i}` });
      await alice.send(roomId, 'before bob');
      await bob.join(roomId);
      await alice.send(roomId, 'after bob');
    }
  }

  /** The fewest queries one sync ran over a few tries (other timers may query meanwhile). */
  async function queriesOf(run: () => Promise<unknown>): Promise<number> {
    const db = h.t.server.services.storage.db;
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const before = db.queryCount;
      await run();
      best = Math.min(best, db.queryCount - before);
    }
    return best;
  }

  async function measure(): Promise<{ idle: number; initial: number; rooms: number }> {
    const first = await bob.sync();
    const token = first.next_batch;
    const idle = await queriesOf(() => bob.sync({ since: token }));
    const initial = await queriesOf(() => bob.sync());
    return { idle, initial, rooms: Object.keys(first.rooms.join).length };
  }

  it('does not grow with the number of joined rooms', async () => {
    await joinRooms(2);
    const small = await measure();
    await joinRooms(15);
    const large = await measure();
    expect(small.rooms).to.equal(2);
    expect(large.rooms).to.equal(17);
    expect(large.idle, `idle incremental: ${small.idle} queries in 2 rooms, ${large.idle} in 17`).to.equal(small.idle);
    expect(large.initial, `initial: ${small.initial} queries in 2 rooms, ${large.initial} in 17`).to.be.at.most(small.initial);
  });

  it('an initial sync with include_leave does not grow with the number of left rooms', async () => {
    const joined: string[] = (await bob.call('GET', '/joined_rooms')).joined_rooms;
    const filter = { room: { include_leave: true } };
    const leaveSome = async (rooms: string[]) => {
      for (const r of rooms) await bob.leave(r);
    };
    await leaveSome(joined.slice(0, 2));
    const small = await queriesOf(() => bob.sync({ filter }));
    await leaveSome(joined.slice(2, 14));
    const res = await bob.sync({ filter });
    expect(Object.keys(res.rooms.leave)).to.have.length(14);
    expect(bodies(res.rooms.leave[joined[5]!].timeline.events)).to.include('before bob');
    const large = await queriesOf(() => bob.sync({ filter }));
    expect(large, `${small} queries with 2 left rooms, ${large} with 14`).to.be.at.most(small);
  });
});
