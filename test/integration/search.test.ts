/**
 * POST /search (spec: Client-Server API §11.x "Server Side Search"): Russian and English stemming,
 * rank and recent order, next_batch pagination, event context with profiles, include_state,
 * groupings, filters, and that only rooms and history the user may see are searched. Every search
 * runs right after the sends it looks for: a message is searchable as soon as its send returns.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { expectMatrixError } from './helpers/index.js';

describe('search: POST /search', function () {
  this.timeout(60_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  /** Alice and Bob are in both. */
  let room1: string;
  let room2: string;
  const enc = encodeURIComponent;
  let txn = 0;

  const send = async (user: TestUser, roomId: string, body: string, extra: Record<string, unknown> = {}) => {
    const res = await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/s${txn++}`, {
      token: user.accessToken,
      body: { msgtype: 'm.text', body, ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.event_id as string;
  };
  const createRoom = async (user: TestUser, body: Record<string, unknown> = {}) => {
    const res = await t.request('POST', '/_matrix/client/v3/createRoom', { token: user.accessToken, body: { preset: 'public_chat', ...body } });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.room_id as string;
  };
  const join = async (user: TestUser, roomId: string) => {
    const res = await t.request('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: user.accessToken, body: {} });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
  };
  const searchRaw = (user: TestUser, criteria: Record<string, unknown>, nextBatch?: string) =>
    t.request('POST', `/_matrix/client/v3/search${nextBatch !== undefined ? `?next_batch=${enc(nextBatch)}` : ''}`, {
      token: user.accessToken,
      body: { search_categories: { room_events: criteria } },
    });
  const search = async (user: TestUser, criteria: Record<string, unknown>, nextBatch?: string) => {
    const res = await searchRaw(user, criteria, nextBatch);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.search_categories.room_events as {
      count: number;
      results: { rank: number; result: any; context?: any }[];
      highlights: string[];
      next_batch?: string;
      state?: Record<string, any[]>;
      groups?: Record<string, Record<string, { results: string[]; order: number; next_batch?: string }>>;
    };
  };
  const ids = (r: { results: { result: any }[] }) => r.results.map((x) => x.result.event_id as string);
  const bodies = (r: { results: { result: any }[] }) => r.results.map((x) => x.result.content.body as string);

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser(undefined, { displayname: 'Алиса' });
    bob = await t.registerUser(undefined, { displayname: 'Bob Builder' });
    carol = await t.registerUser();
    dave = await t.registerUser();
    room1 = await createRoom(alice, { name: 'Проектная комната', topic: 'Квартальные планы отдела' });
    room2 = await createRoom(alice);
    await join(bob, room1);
    await join(bob, room2);
  });
  after(async () => t?.close());

  it('stems Russian: "Поиск сообщений" finds сообщение and сообщения, and highlights the words found', async () => {
    const a = await send(alice, room1, 'Быстрый поиск: каждое сообщение в архиве');
    const b = await send(bob, room1, 'Поиски шли долго, сообщения нашлись');
    await send(alice, room1, 'Здесь только сообщение, без того слова');
    const r = await search(alice, { search_term: 'Поиск сообщений' });
    expect(ids(r)).to.have.members([a, b]);
    expect(r.count).to.equal(2);
    expect(r.highlights.map((w) => w.toLowerCase())).to.include.members(['сообщение', 'сообщения', 'поиск', 'поиски']);
    // One word alone: every form of it.
    const single = await search(alice, { search_term: 'сообщениями' });
    expect(single.results).to.have.length(3);
  });

  it('stems English: "meetings" finds "meeting" and the other way round', async () => {
    const a = await send(alice, room1, 'The weekly meeting moved to Tuesday');
    const b = await send(bob, room2, 'Too many meetings this week');
    await send(bob, room2, 'We meet at noon');
    expect(ids(await search(alice, { search_term: 'meetings' }))).to.include.members([a, b]);
    expect(ids(await search(bob, { search_term: 'meeting' }))).to.include.members([a, b]);
    const r = await search(alice, { search_term: 'meetings' });
    expect(r.highlights).to.include.members(['meeting', 'meetings']);
  });

  it('searches the keys asked for: name and topic as well as body, by default all three', async () => {
    const byName = await search(alice, { search_term: 'проектная', keys: ['content.name'] });
    expect(byName.results).to.have.length(1);
    expect(byName.results[0]!.result.type).to.equal('m.room.name');
    expect((await search(alice, { search_term: 'проектная', keys: ['content.body'] })).results).to.have.length(0);
    const byDefault = await search(alice, { search_term: 'квартальный план' });
    expect(byDefault.results.map((x) => x.result.type)).to.include('m.room.topic');
    expect((await search(alice, { search_term: 'квартальный план', keys: ['content.body', 'content.name'] })).results).to.have.length(0);
  });

  it('orders by rank (best match first) or by recency (newest first)', async () => {
    const weak = await send(alice, room1, 'бюджет утвердили, идём дальше к другим вопросам повестки дня');
    const strong = await send(alice, room1, 'Бюджет, бюджет и ещё раз бюджет');
    const newest = await send(bob, room2, 'Кто видел бюджет на следующий год, который вчера прислали из финансового отдела?');
    const rank = await search(alice, { search_term: 'бюджет', order_by: 'rank' });
    expect(ids(rank)).to.have.members([weak, strong, newest]);
    expect(ids(rank)[0]).to.equal(strong);
    const ranks = rank.results.map((x) => x.rank);
    expect(ranks).to.deep.equal([...ranks].sort((x, y) => y - x));
    expect(ranks[0]).to.be.greaterThan(ranks[2]!);
    const recent = await search(alice, { search_term: 'бюджет', order_by: 'recent' });
    expect(ids(recent)).to.deep.equal([newest, strong, weak]);
    // By default: rank.
    expect(ids(await search(alice, { search_term: 'бюджет' }))).to.deep.equal(ids(rank));
  });

  it('pages through next_batch, each result exactly once, in both orders', async () => {
    const sent: string[] = [];
    for (let i = 0; i < 13; i++) sent.push(await send(i % 2 ? bob : alice, i % 3 ? room1 : room2, `пагинация номер ${i}${' пагинация'.repeat(i % 4)}`));
    for (const order_by of ['rank', 'recent']) {
      const seen: string[] = [];
      let next: string | undefined;
      let pages = 0;
      do {
        const r = await search(alice, { search_term: 'пагинация', order_by, filter: { limit: 4 } }, next);
        expect(r.results.length).to.be.at.most(4);
        expect(r.count).to.equal(13);
        seen.push(...ids(r));
        next = r.next_batch;
        pages++;
      } while (next && pages < 10);
      expect(next, order_by).to.equal(undefined);
      expect(seen, order_by).to.have.length(13);
      expect(new Set(seen), order_by).to.have.property('size', 13);
      expect(seen).to.have.members(sent);
      expect(pages).to.equal(4);
      if (order_by === 'recent') expect(seen).to.deep.equal([...sent].reverse());
    }
  });

  it('gives the event context with the senders\' profiles', async () => {
    const before = await send(bob, room2, 'что было до');
    const hit = await send(alice, room2, 'контекстуальный пример');
    const after1 = await send(bob, room2, 'что было после');
    await send(bob, room2, 'и ещё позже');
    const r = await search(alice, { search_term: 'контекстуальный', event_context: { before_limit: 1, after_limit: 1, include_profile: true } });
    expect(ids(r)).to.deep.equal([hit]);
    const ctx = r.results[0]!.context;
    expect(ctx.events_before.map((e: any) => e.event_id)).to.deep.equal([before]);
    expect(ctx.events_after.map((e: any) => e.event_id)).to.deep.equal([after1]);
    expect(ctx.start).to.be.a('string');
    expect(ctx.end).to.be.a('string');
    expect(ctx.profile_info[alice.userId]).to.deep.equal({ displayname: 'Алиса' });
    expect(ctx.profile_info[bob.userId]).to.deep.equal({ displayname: 'Bob Builder' });
    // Without include_profile: no profiles; without event_context: no context.
    const plain = await search(alice, { search_term: 'контекстуальный', event_context: { before_limit: 2, after_limit: 0 } });
    expect(plain.results[0]!.context.profile_info).to.equal(undefined);
    expect(plain.results[0]!.context.events_before).to.have.length(2);
    expect(plain.results[0]!.context.events_after).to.have.length(0);
    expect((await search(alice, { search_term: 'контекстуальный' })).results[0]!.context).to.equal(undefined);
  });

  it('includes the current state of the rooms in the results when asked', async () => {
    await send(alice, room1, 'состояние комнаты');
    const r = await search(alice, { search_term: 'состояние', include_state: true });
    expect(Object.keys(r.state!)).to.deep.equal([room1]);
    const types = r.state![room1]!.map((e) => `${e.type}|${e.state_key}`);
    expect(types).to.include.members(['m.room.create|', `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`, 'm.room.name|']);
    expect((await search(alice, { search_term: 'состояние' })).state).to.equal(undefined);
  });

  it('groups results by room and by sender', async () => {
    const a1 = await send(alice, room1, 'группировка один');
    const b1 = await send(bob, room1, 'группировка два');
    const a2 = await send(alice, room2, 'группировка три');
    const r = await search(alice, { search_term: 'группировка', order_by: 'recent', groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] } });
    expect(ids(r)).to.deep.equal([a2, b1, a1]);
    const byRoom = r.groups!.room_id!;
    expect(byRoom[room1]!.results).to.deep.equal([b1, a1]);
    expect(byRoom[room2]!.results).to.deep.equal([a2]);
    // The group holding the first result comes first: the higher order.
    expect(byRoom[room2]!.order).to.be.greaterThan(byRoom[room1]!.order);
    const bySender = r.groups!.sender!;
    expect(bySender[alice.userId]!.results).to.deep.equal([a2, a1]);
    expect(bySender[bob.userId]!.results).to.deep.equal([b1]);

    // A group's next_batch continues within that group only.
    const page = await search(alice, { search_term: 'группировка', order_by: 'recent', filter: { limit: 1 }, groupings: { group_by: [{ key: 'room_id' }] } });
    expect(ids(page)).to.deep.equal([a2]);
    expect(page.next_batch).to.be.a('string');
    const inRoom2 = page.groups!.room_id![room2]!.next_batch!;
    const rest = await search(alice, { search_term: 'группировка', order_by: 'recent', filter: { limit: 5 } }, inRoom2);
    expect(ids(rest)).to.deep.equal([]);
    const all = await search(alice, { search_term: 'группировка', order_by: 'recent', filter: { limit: 5 } }, page.next_batch);
    expect(ids(all)).to.deep.equal([b1, a1]);
  });

  it('applies the filter: rooms, not_rooms, senders and types', async () => {
    const a1 = await send(alice, room1, 'фильтрация первая');
    const b2 = await send(bob, room2, 'фильтрация вторая');
    expect(ids(await search(alice, { search_term: 'фильтрация', filter: { rooms: [room2] } }))).to.deep.equal([b2]);
    expect(ids(await search(alice, { search_term: 'фильтрация', filter: { not_rooms: [room2] } }))).to.deep.equal([a1]);
    expect(ids(await search(alice, { search_term: 'фильтрация', filter: { senders: [alice.userId] } }))).to.deep.equal([a1]);
    expect(ids(await search(alice, { search_term: 'фильтрация', filter: { not_senders: [alice.userId] } }))).to.deep.equal([b2]);
    expect(ids(await search(alice, { search_term: 'фильтрация', filter: { types: ['m.room.*'] } }))).to.have.members([a1, b2]);
    expect(ids(await search(alice, { search_term: 'фильтрация', filter: { types: ['m.room.name'] } }))).to.deep.equal([]);
  });

  it('never searches a room the user is not in, even a world_readable one', async () => {
    const other = await createRoom(carol, {
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
    });
    const secret = await send(carol, other, 'секретный документ');
    expect(ids(await search(carol, { search_term: 'секретный' }))).to.deep.equal([secret]);
    const r = await search(alice, { search_term: 'секретный' });
    expect(r.results).to.have.length(0);
    expect(r.count).to.equal(0);
    // Not even when asked for by room ID.
    expect((await search(alice, { search_term: 'секретный', filter: { rooms: [other] } })).results).to.have.length(0);
    // Joining makes it searchable; leaving again takes it away (Synapse: joined rooms only).
    await join(alice, other);
    expect(ids(await search(alice, { search_term: 'секретный' }))).to.deep.equal([secret]);
    const left = await t.request('POST', `/_matrix/client/v3/rooms/${enc(other)}/leave`, { token: alice.accessToken, body: {} });
    expect(left.status).to.equal(200);
    expect((await search(alice, { search_term: 'секретный' })).results).to.have.length(0);
  });

  it('hides what history visibility hides: joined later with history_visibility joined', async () => {
    const room = await createRoom(alice, {
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
    });
    const early = [await send(alice, room, 'архивная запись раз'), await send(alice, room, 'архивная запись два')];
    await join(dave, room);
    const late = await send(alice, room, 'архивная запись после входа');
    expect(ids(await search(alice, { search_term: 'архивная запись' }))).to.have.members([...early, late]);
    const r = await search(dave, { search_term: 'архивная запись', filter: { limit: 1 } });
    expect(ids(r)).to.deep.equal([late]);
    expect(r.next_batch).to.equal(undefined);
    expect(r.count).to.equal(1);
    // With context, the hidden messages are not shown around it either.
    const ctx = await search(dave, { search_term: 'после входа', event_context: { before_limit: 5, after_limit: 5 } });
    expect(ctx.results[0]!.context.events_before.map((e: any) => e.event_id)).to.not.include.members(early);
  });

  it('stops finding a message once it is redacted', async () => {
    const doomed = await send(alice, room1, 'удаляемый текст');
    const kept = await send(alice, room1, 'удаляемый, но оставшийся');
    expect(ids(await search(bob, { search_term: 'удаляемый' }))).to.have.members([doomed, kept]);
    const res = await t.request('PUT', `/_matrix/client/v3/rooms/${enc(room1)}/redact/${enc(doomed)}/r1`, { token: alice.accessToken, body: {} });
    expect(res.status).to.equal(200);
    const r = await search(bob, { search_term: 'удаляемый' });
    expect(ids(r)).to.deep.equal([kept]);
    expect(r.count).to.equal(1);
  });

  it('answers an empty result for a term of stop words only', async () => {
    // "The weekly meeting…" was sent above: without stop-word handling, this would find it.
    const r = await search(alice, { search_term: 'the to' });
    expect(r.results).to.deep.equal([]);
    expect(r.count).to.equal(0);
    expect(r.next_batch).to.equal(undefined);
  });

  it('refuses bad input with clear Matrix errors', async () => {
    const post = (body: unknown, token = alice.accessToken, query = '') => t.request('POST', `/_matrix/client/v3/search${query}`, { token, body });
    expectMatrixError(await post({}), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: {} } }), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 5 } } }), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: '   ' } } }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await post({ search_categories: { messages: { search_term: 'x' } } }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x' }, people: {} } }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x', order_by: 'oldest' } } }), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x', keys: ['content.url'] } } }), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x', filter: { limit: 0 } } } }), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x', filter: { rooms: 'all' } } } }), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x', filter: { senders: ['bob'] } } } }), 400, 'M_BAD_JSON');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x', event_context: { before_limit: -1 } } } }), 400, 'M_BAD_JSON');
    for (const token of ['garbage!', 'eyJvIjoicmFuayJ9', Buffer.from('{"o":"recent","s":"x"}').toString('base64url')]) {
      expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x' } } }, alice.accessToken, `?next_batch=${enc(token)}`), 400, 'M_INVALID_PARAM');
    }
    // A token of one order does not continue a search in the other.
    const recentToken = Buffer.from('{"o":"recent","s":5}').toString('base64url');
    expectMatrixError(await post({ search_categories: { room_events: { search_term: 'x', order_by: 'rank' } } }, alice.accessToken, `?next_batch=${recentToken}`), 400, 'M_INVALID_PARAM');
    expect((await post({ search_categories: { room_events: { search_term: 'x', order_by: 'recent' } } }, alice.accessToken, `?next_batch=${recentToken}`)).status).to.equal(200);
    expectMatrixError(await t.request('POST', '/_matrix/client/v3/search', { body: { search_categories: { room_events: { search_term: 'x' } } } }), 401, 'M_MISSING_TOKEN');
  });
});
