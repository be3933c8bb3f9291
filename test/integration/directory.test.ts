import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

function expectError(res: { status: number; body: any }, status: number, errcode: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.body.errcode).to.equal(errcode);
  expect(res.body.error).to.be.a('string');
}

describe('room directory: /publicRooms and /directory/list/room', () => {
  let t: TestServer;
  let alice: TestUser;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser('alice');
  });
  after(async () => t?.close());

  /** Every page of GET /publicRooms at the given limit, following next_batch. */
  async function allPages(token: string, limit: number): Promise<{ pages: any[]; rooms: any[] }> {
    const pages: any[] = [];
    let since: string | undefined;
    for (let i = 0; i < 50; i++) {
      const res = await t.request('GET', `${V3}/publicRooms?limit=${limit}${since ? `&since=${enc(since)}` : ''}`, { token });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      pages.push(res.body);
      if (!res.body.next_batch) break;
      since = res.body.next_batch;
    }
    return { pages, rooms: pages.flatMap((p) => p.chunk) };
  }

  it('refuses GET /publicRooms without an access token (Synapse default)', async () => {
    expectError(await t.request('GET', `${V3}/publicRooms`), 401, 'M_MISSING_TOKEN');
    expectError(await t.request('POST', `${V3}/publicRooms`, { body: {} }), 401, 'M_MISSING_TOKEN');
  });

  it('lists a room created with visibility public, with its PublishedRoomsChunk fields, and not a private one', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: pub } = await a.createRoom({ visibility: 'public' as any, name: 'Listed Lounge', topic: 'All about lounges', room_alias_name: 'lounge' });
    const { room_id: priv } = await a.createRoom({ name: 'Hidden Room' });
    const res = await a.publicRooms({});
    const entry = res.chunk.find((c) => c.room_id === pub);
    expect(entry, 'public room listed').to.exist;
    expect(res.chunk.find((c) => c.room_id === priv), 'private room not listed').to.be.undefined;
    expect(entry).to.include({
      name: 'Listed Lounge',
      topic: 'All about lounges',
      canonical_alias: '#lounge:test.local',
      num_joined_members: 1,
      world_readable: false,
      guest_can_join: false,
      join_rule: 'public',
    });
    expect(entry).to.not.have.property('room_type');
    expect(res.total_room_count_estimate).to.be.a('number').and.to.be.at.least(1);
  });

  it('reflects current state: members joining, world_readable, guest access, avatar', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const bob = await t.registerUser();
    const { room_id } = await a.createRoom({ visibility: 'public' as any, name: 'Stateful' });
    await sdkClient(t.baseUrl, bob).joinRoom(room_id);
    await a.sendStateEvent(room_id, 'm.room.history_visibility' as any, { history_visibility: 'world_readable' } as any, '');
    await a.sendStateEvent(room_id, 'm.room.guest_access' as any, { guest_access: 'can_join' } as any, '');
    await a.sendStateEvent(room_id, 'm.room.avatar' as any, { url: 'mxc://test.local/avatar' } as any, '');
    const res = await a.publicRooms({});
    const entry = res.chunk.find((c) => c.room_id === room_id)!;
    expect(entry).to.include({ num_joined_members: 2, world_readable: true, guest_can_join: true, avatar_url: 'mxc://test.local/avatar' });
  });

  it('orders by joined members, then room ID, and pages forwards and backwards without gaps or repeats', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const others = await Promise.all([1, 2, 3].map(() => t.registerUser()));
    const sizes = [3, 0, 2, 0, 1];
    const created: string[] = [];
    for (const extra of sizes) {
      const { room_id } = await a.createRoom({ visibility: 'public' as any, name: `Sized ${extra}` });
      for (const u of others.slice(0, extra)) await sdkClient(t.baseUrl, u).joinRoom(room_id);
      created.push(room_id);
    }
    const full = (await t.request('GET', `${V3}/publicRooms`, { token: alice.accessToken })).body;
    expect(full.next_batch).to.be.undefined;
    const order = full.chunk.map((c: any) => [c.num_joined_members, c.room_id]);
    const sorted = [...order].sort((x: any, y: any) => y[0] - x[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
    expect(order).to.deep.equal(sorted);
    // The 4-member room comes before the 3-member one, which comes before the 1-member ones.
    const pos = (id: string) => full.chunk.findIndex((c: any) => c.room_id === id);
    expect(pos(created[0]!)).to.be.lessThan(pos(created[2]!));
    expect(pos(created[2]!)).to.be.lessThan(pos(created[4]!));
    expect(pos(created[4]!)).to.be.lessThan(pos(created[1]!));

    const { pages, rooms } = await allPages(alice.accessToken, 2);
    expect(pages.length).to.equal(Math.ceil(full.chunk.length / 2));
    expect(rooms.map((c: any) => c.room_id)).to.deep.equal(full.chunk.map((c: any) => c.room_id));
    expect(pages[0].prev_batch, 'no prev_batch on the first page').to.be.undefined;
    for (const p of pages) expect(p.total_room_count_estimate).to.equal(full.chunk.length);

    // prev_batch of the second page leads back to the first.
    const back = await t.request('GET', `${V3}/publicRooms?limit=2&since=${enc(pages[1].prev_batch)}`, { token: alice.accessToken });
    expect(back.status).to.equal(200);
    expect(back.body.chunk.map((c: any) => c.room_id)).to.deep.equal(pages[0].chunk.map((c: any) => c.room_id));
    expect(back.body.prev_batch).to.be.undefined;
    expect(back.body.next_batch).to.be.a('string');
    const forward = await t.request('GET', `${V3}/publicRooms?limit=2&since=${enc(back.body.next_batch)}`, { token: alice.accessToken });
    expect(forward.body.chunk.map((c: any) => c.room_id)).to.deep.equal(pages[1].chunk.map((c: any) => c.room_id));
  });

  it('filters by generic_search_term over name, topic and canonical alias, case-insensitively', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: byName } = await a.createRoom({ visibility: 'public' as any, name: 'Zebrafish Club' });
    const { room_id: byTopic } = await a.createRoom({ visibility: 'public' as any, name: 'Other', topic: 'we love ZEBRAFISH' });
    const { room_id: byAlias } = await a.createRoom({ visibility: 'public' as any, room_alias_name: 'zebrafish-fans' });
    await a.createRoom({ visibility: 'public' as any, name: 'Unrelated' });
    const res = await a.publicRooms({ filter: { generic_search_term: 'zEbRaFiSh' } });
    expect(res.chunk.map((c) => c.room_id).sort()).to.deep.equal([byName, byTopic, byAlias].sort());
    expect(res.total_room_count_estimate).to.equal(3);
    const none = await a.publicRooms({ filter: { generic_search_term: 'no-such-room-anywhere' } });
    expect(none.chunk).to.deep.equal([]);
    // LIKE wildcards in the term are literal.
    const wildcard = await a.publicRooms({ filter: { generic_search_term: '%' } });
    expect(wildcard.chunk).to.deep.equal([]);
    // Filtered pages paginate too.
    const page1 = await t.request('POST', `${V3}/publicRooms`, { token: alice.accessToken, body: { limit: 2, filter: { generic_search_term: 'zebrafish' } } });
    expect(page1.body.chunk).to.have.length(2);
    const page2 = await t.request('POST', `${V3}/publicRooms`, {
      token: alice.accessToken,
      body: { limit: 2, since: page1.body.next_batch, filter: { generic_search_term: 'zebrafish' } },
    });
    expect(page2.body.chunk).to.have.length(1);
    expect(page2.body.next_batch).to.be.undefined;
    expect([...page1.body.chunk, ...page2.body.chunk].map((c: any) => c.room_id).sort()).to.deep.equal([byName, byTopic, byAlias].sort());
  });

  it('filters by room_types, with null standing for rooms without a type', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const { room_id: space } = await a.createRoom({ visibility: 'public' as any, name: 'Typed space', creation_content: { type: 'm.space' } } as any);
    const { room_id: plain } = await a.createRoom({ visibility: 'public' as any, name: 'Typed plain' });
    const spaces = await a.publicRooms({ filter: { generic_search_term: 'Typed', room_types: ['m.space'] } } as any);
    expect(spaces.chunk.map((c) => c.room_id)).to.deep.equal([space]);
    expect(spaces.chunk[0]!.room_type).to.equal('m.space');
    const untyped = await a.publicRooms({ filter: { generic_search_term: 'Typed', room_types: [null] } } as any);
    expect(untyped.chunk.map((c) => c.room_id)).to.deep.equal([plain]);
    const both = await a.publicRooms({ filter: { generic_search_term: 'Typed', room_types: [null, 'm.space'] } } as any);
    expect(both.chunk.map((c) => c.room_id).sort()).to.deep.equal([space, plain].sort());
  });

  it('answers third-party networks and bad requests as Synapse does', async () => {
    const net = await t.request('POST', `${V3}/publicRooms`, { token: alice.accessToken, body: { third_party_instance_id: 'irc-freenode' } });
    expect(net.status).to.equal(200);
    expect(net.body.chunk).to.deep.equal([]);
    const all = await t.request('POST', `${V3}/publicRooms`, { token: alice.accessToken, body: { include_all_networks: true } });
    expect(all.status).to.equal(200);
    expect(all.body.chunk.length).to.be.greaterThan(0);
    expectError(
      await t.request('POST', `${V3}/publicRooms`, { token: alice.accessToken, body: { include_all_networks: true, third_party_instance_id: 'irc' } }),
      400,
      'M_INVALID_PARAM',
    );
    expectError(await t.request('GET', `${V3}/publicRooms?since=garbage`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
    expectError(await t.request('GET', `${V3}/publicRooms?limit=-3`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
    expectError(await t.request('POST', `${V3}/publicRooms`, { token: alice.accessToken, body: { limit: 'ten' } }), 400, 'M_BAD_JSON');
    const own = await t.request('GET', `${V3}/publicRooms?server=test.local&limit=1`, { token: alice.accessToken });
    expect(own.status).to.equal(200);
    expect(own.body.chunk).to.have.length(1);
  });

  it('publishes and unpublishes with PUT /directory/list/room and reports it with GET', async () => {
    const a = sdkClient(t.baseUrl, alice);
    // public_chat: an invite-only room is not listed even when published (as Synapse does).
    const { room_id } = await a.createRoom({ preset: 'public_chat' as any, name: 'Soon public' });
    expect(await a.getRoomDirectoryVisibility(room_id)).to.deep.equal({ visibility: 'private' });
    await a.setRoomDirectoryVisibility(room_id, 'public' as any);
    expect(await a.getRoomDirectoryVisibility(room_id)).to.deep.equal({ visibility: 'public' });
    expect((await a.publicRooms({})).chunk.map((c) => c.room_id)).to.include(room_id);
    // GET needs no access token.
    const anon = await t.request('GET', `${V3}/directory/list/room/${enc(room_id)}`);
    expect(anon.body).to.deep.equal({ visibility: 'public' });
    await a.setRoomDirectoryVisibility(room_id, 'private' as any);
    expect(await a.getRoomDirectoryVisibility(room_id)).to.deep.equal({ visibility: 'private' });
    expect((await a.publicRooms({})).chunk.map((c) => c.room_id)).to.not.include(room_id);
    // spec: visibility defaults to public.
    const dflt = await t.request('PUT', `${V3}/directory/list/room/${enc(room_id)}`, { token: alice.accessToken, body: {} });
    expect(dflt.status).to.equal(200);
    expect(await a.getRoomDirectoryVisibility(room_id)).to.deep.equal({ visibility: 'public' });
  });

  it('refuses publishing to non-members and to members without the power to set the canonical alias; lets admins', async () => {
    const a = sdkClient(t.baseUrl, alice);
    const bob = await t.registerUser();
    const carol = await t.registerUser();
    const admin = await t.registerUser(undefined, { admin: true });
    const { room_id } = await a.createRoom({ preset: 'public_chat' as any, name: 'Guarded' });
    const put = (user: TestUser, visibility: string) =>
      t.request('PUT', `${V3}/directory/list/room/${enc(room_id)}`, { token: user.accessToken, body: { visibility } });

    expectError(await put(carol, 'public'), 403, 'M_FORBIDDEN');
    await sdkClient(t.baseUrl, bob).joinRoom(room_id);
    expectError(await put(bob, 'public'), 403, 'M_FORBIDDEN');
    expect((await a.getRoomDirectoryVisibility(room_id)).visibility).to.equal('private');

    // A moderator (canonical_alias needs 50) may.
    await a.setPowerLevel(room_id, bob.userId, 50);
    expect((await put(bob, 'public')).status).to.equal(200);
    expect((await a.getRoomDirectoryVisibility(room_id)).visibility).to.equal('public');

    // A server admin may without being in the room.
    expect((await put(admin, 'private')).status).to.equal(200);
    expect((await a.getRoomDirectoryVisibility(room_id)).visibility).to.equal('private');

    expectError(await put(alice, 'secret'), 400, 'M_BAD_JSON');
  });

  it('answers 404 for unknown rooms', async () => {
    const unknown = '!nosuchroom:test.local';
    expectError(await t.request('GET', `${V3}/directory/list/room/${enc(unknown)}`), 404, 'M_NOT_FOUND');
    expectError(
      await t.request('PUT', `${V3}/directory/list/room/${enc(unknown)}`, { token: alice.accessToken, body: { visibility: 'public' } }),
      404,
      'M_NOT_FOUND',
    );
  });
});
