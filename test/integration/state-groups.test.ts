/**
 * State groups (storage/state.ts) of a big room: the snapshots and deltas read back exactly, also
 * after the in-memory cache, bounded by the number of entries it holds, has evicted them.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../harness.js';
import { StateStore } from '../../src/storage/state.js';
import { stateKeyOf, type StateIdMap } from '../../src/matrix/types.js';

describe('state groups of a big room', function () {
  this.timeout(120_000);
  let t: TestServer;
  let roomId: string;
  before(async () => {
    t = await startTestServer();
    const alice = await t.registerUser('alice');
    const res = await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: {} });
    roomId = res.body.room_id;
  });
  after(async () => t?.close());

  it('reads every group back as written, with the cache holding at most a million entries', async () => {
    const db = t.server.services.storage.db;
    const writer = new StateStore(db);
    const MEMBERS = 6_000;
    const GROUPS = 220;
    let full: StateIdMap = new Map();
    for (let i = 0; i < MEMBERS; i++) full.set(stateKeyOf('m.room.member', `@u${i}:test`), `$join${i}`);
    const expected = new Map<number, StateIdMap>();
    let group = await writer.createGroup(db, roomId, null, full, full);
    expected.set(group, full);
    for (let g = 1; g < GROUPS; g++) {
      // One membership change per group, as joins and leaves make them.
      const key = stateKeyOf('m.room.member', `@u${g % MEMBERS}:test`);
      const next = new Map(full);
      const delta = new Map<string, string | null>();
      if (g % 7 === 0) {
        next.delete(key);
        delta.set(key, null);
      } else {
        next.set(key, `$change${g}`);
        delta.set(key, `$change${g}`);
      }
      group = await writer.createGroup(db, roomId, group, delta, next);
      expected.set(group, next);
      full = next;
    }
    // 220 groups of ~6 000 entries are 1.3 million: the oldest were evicted.
    expect((writer as unknown as { cachedEntries: number }).cachedEntries).to.be.at.most(1_000_000);
    const ids = [...expected.keys()];
    for (const store of [writer, new StateStore(db)]) {
      for (const id of [ids[0]!, ids[1]!, ids[50]!, ids[99]!, ids[100]!, ids[101]!, ids[150]!, ids[219]!, ids[3]!]) {
        const got = await store.getGroup(id);
        expect(got.size, `group ${id}`).to.equal(expected.get(id)!.size);
        expect([...got].sort().join('\n') === [...expected.get(id)!].sort().join('\n'), `group ${id}`).to.equal(true);
      }
    }
  });
});
