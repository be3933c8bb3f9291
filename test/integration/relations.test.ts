import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';

describe('relations, threads and aggregations', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let root: string;
  const enc = encodeURIComponent;
  let n = 0;
  const send = async (user: TestUser, content: Record<string, unknown>, type = 'm.room.message') => {
    const res = await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/${type}/t${n++}`, { token: user.accessToken, body: content });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.event_id as string;
  };

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    roomId = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: { preset: 'public_chat' } })).body.room_id;
    await t.request('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: bob.accessToken, body: {} });
    root = await send(alice, { msgtype: 'm.text', body: 'root' });
  });
  after(async () => t?.close());

  it('lists thread replies through /relations, newest first, with pagination', async () => {
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) {
      replies.push(await send(bob, { msgtype: 'm.text', body: `reply ${i}`, 'm.relates_to': { rel_type: 'm.thread', event_id: root } }));
    }
    const page1 = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread?limit=2`, { token: alice.accessToken });
    expect(page1.status).to.equal(200);
    expect(page1.body.chunk.map((e: any) => e.event_id)).to.deep.equal([replies[2], replies[1]]);
    expect(page1.body.next_batch).to.be.a('string');
    const page2 = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread?limit=2&from=${enc(page1.body.next_batch)}`, { token: alice.accessToken });
    expect(page2.body.chunk.map((e: any) => e.event_id)).to.deep.equal([replies[0]]);
    expect(page2.body.next_batch).to.equal(undefined);
  });

  it('bundles the thread summary, the latest edit and reaction counts; a redacted reaction stops counting', async () => {
    await send(alice, { msgtype: 'm.text', body: '* root edited', 'm.new_content': { msgtype: 'm.text', body: 'root edited' }, 'm.relates_to': { rel_type: 'm.replace', event_id: root } });
    // An edit by someone else is not a valid replacement.
    await send(bob, { msgtype: 'm.text', body: '* hijack', 'm.new_content': { msgtype: 'm.text', body: 'hijack' }, 'm.relates_to': { rel_type: 'm.replace', event_id: root } });
    await send(alice, { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } }, 'm.reaction');
    const bobReaction = await send(bob, { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } }, 'm.reaction');

    const threads = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads`, { token: bob.accessToken });
    expect(threads.status).to.equal(200);
    expect(threads.body.chunk).to.have.length(1);
    const rel = threads.body.chunk[0].unsigned['m.relations'];
    expect(rel['m.thread'].count).to.equal(3);
    expect(rel['m.thread'].current_user_participated).to.equal(true);
    expect(rel['m.thread'].latest_event.content.body).to.equal('reply 2');
    expect(rel['m.replace'].content['m.new_content'].body).to.equal('root edited');
    expect(rel['m.annotation'].chunk).to.deep.equal([{ type: 'm.reaction', key: '👍', count: 2 }]);

    await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(bobReaction)}/r1`, { token: bob.accessToken, body: {} });
    const after = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads`, { token: bob.accessToken });
    expect(after.body.chunk[0].unsigned['m.relations']['m.annotation'].chunk).to.deep.equal([{ type: 'm.reaction', key: '👍', count: 1 }]);
  });

  it('filters threads to those the user took part in', async () => {
    const carol = await t.registerUser();
    await t.request('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: carol.accessToken, body: {} });
    const mine = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads?include=participated`, { token: carol.accessToken });
    expect(mine.body.chunk).to.have.length(0);
    const all = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads?include=all`, { token: carol.accessToken });
    expect(all.body.chunk).to.have.length(1);
  });

  it('refuses relations of unknown events and rooms the user cannot see', async () => {
    const unknown = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc('$nope')}`, { token: alice.accessToken });
    expect(unknown.status).to.equal(404);
    expect(unknown.body.errcode).to.equal('M_NOT_FOUND');
    const privateRoom = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: { preset: 'private_chat' } })).body.room_id;
    const outsider = await t.request('GET', `/_matrix/client/v1/rooms/${enc(privateRoom)}/threads`, { token: bob.accessToken });
    expect(outsider.status).to.equal(403);
    const badDir = await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}?dir=x`, { token: alice.accessToken });
    expect(badDir.status).to.equal(400);
  });
  it('a redacted relation drops out of /relations and a thread of only redacted replies out of /threads', async () => {
    const other = await send(alice, { msgtype: 'm.text', body: 'another root' });
    const reply = await send(bob, { msgtype: 'm.text', body: 'oops', 'm.relates_to': { rel_type: 'm.thread', event_id: other } });
    const reaction = await send(alice, { 'm.relates_to': { rel_type: 'm.annotation', event_id: other, key: '🙂' } }, 'm.reaction');
    const roots = async () => (await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads`, { token: alice.accessToken })).body.chunk.map((e: any) => e.event_id);
    const children = async () => (await t.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(other)}`, { token: alice.accessToken })).body.chunk.map((e: any) => e.event_id);
    expect(await roots()).to.include(other);
    expect(await children()).to.have.members([reply, reaction]);
    await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(reply)}/r2`, { token: bob.accessToken, body: {} });
    await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(reaction)}/r3`, { token: alice.accessToken, body: {} });
    expect(await roots()).to.not.include(other);
    expect(await children()).to.deep.equal([]);
  });

  it('a redacted thread root keeps its thread summary on /messages and /event, but no edit', async () => {
    const doomed = await send(alice, { msgtype: 'm.text', body: 'to be deleted' });
    await send(bob, { msgtype: 'm.text', body: 'answer', 'm.relates_to': { rel_type: 'm.thread', event_id: doomed } });
    await send(alice, { msgtype: 'm.text', body: '* edited', 'm.new_content': { msgtype: 'm.text', body: 'edited' }, 'm.relates_to': { rel_type: 'm.replace', event_id: doomed } });
    await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(doomed)}/r4`, { token: alice.accessToken, body: {} });
    const single = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(doomed)}`, { token: bob.accessToken });
    const page = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=10`, { token: bob.accessToken });
    const listed = page.body.chunk.find((e: any) => e.event_id === doomed);
    for (const ev of [single.body, listed]) {
      expect(ev.unsigned.redacted_because).to.be.an('object');
      expect(ev.content).to.deep.equal({});
      expect(ev.unsigned['m.relations']['m.thread'].count).to.equal(1);
      expect(ev.unsigned['m.relations']).to.not.have.property('m.replace');
    }
  });
});
