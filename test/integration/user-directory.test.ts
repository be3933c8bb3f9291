import { expect } from 'chai';
import { startTestServer, type TestServer } from '../harness.js';

describe('user directory', () => {
  for (const searchAll of [true, false]) {
    describe(`search_all_users: ${searchAll}`, () => {
      let t: TestServer;
      before(async () => {
        t = await startTestServer({ user_directory: { search_all_users: searchAll } });
      });
      after(async () => t?.close());

      it(searchAll ? 'finds every user on the server by name or ID, Cyrillic included' : 'finds only users who share a room', async () => {
        const me = await t.registerUser('searcher');
        const ivan = await t.registerUser('ivan.petrov', { displayname: 'Иван Петров' });
        const maria = await t.registerUser('maria', { displayname: 'Мария Иванова' });
        const room = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: me.accessToken, body: { preset: 'private_chat', invite: [maria.userId] } })).body.room_id;
        await t.request('POST', `/_matrix/client/v3/join/${encodeURIComponent(room)}`, { token: maria.accessToken, body: {} });

        const byName = await t.request('POST', '/_matrix/client/v3/user_directory/search', { token: me.accessToken, body: { search_term: 'иван' } });
        expect(byName.status).to.equal(200);
        const ids = byName.body.results.map((r: any) => r.user_id);
        if (searchAll) {
          expect(ids).to.have.members([ivan.userId, maria.userId]);
          const hit = byName.body.results.find((r: any) => r.user_id === ivan.userId);
          expect(hit.display_name).to.equal('Иван Петров');
          const byId = await t.request('POST', '/_matrix/client/v3/user_directory/search', { token: me.accessToken, body: { search_term: 'petrov' } });
          expect(byId.body.results.map((r: any) => r.user_id)).to.deep.equal([ivan.userId]);
        } else {
          expect(ids).to.deep.equal([maria.userId]);
        }
      });

      it('limits results and rejects a bad body', async () => {
        const me = await t.registerUser();
        for (let i = 0; i < 3; i++) await t.registerUser(`limit_${i}_${Math.random().toString(36).slice(2, 6)}`, { displayname: `Limit ${i}` });
        const res = await t.request('POST', '/_matrix/client/v3/user_directory/search', { token: me.accessToken, body: { search_term: 'limit', limit: 2 } });
        if (searchAll) {
          expect(res.body.results).to.have.length(2);
          expect(res.body.limited).to.equal(true);
        }
        const bad = await t.request('POST', '/_matrix/client/v3/user_directory/search', { token: me.accessToken, body: { limit: 2 } });
        expect(bad.status).to.equal(400);
        expect(bad.body.errcode).to.equal('M_BAD_JSON');
      });
    });
  }
});
