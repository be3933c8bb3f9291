/**
 * /sync conformance: the clients /sync serves — a guest, matrix-js-sdk's own sync loop joining
 * from an invite, and lazy loading that carries the heroes' member events.
 */
import { expect } from 'chai';
import { useServer } from './helpers/index.js';
import { sdk, sdkClient } from '../sdk.js';
import { bodies, clients, enc, SyncClient } from './sync-conformance-helpers.js';

describe('sync conformance: clients', () => {
  const h = useServer({ allow_guest_access: true });
  let alice: SyncClient;
  let bob: SyncClient;
  before(async () => {
    [alice, bob] = await clients(h.t, 2);
  });

  it('a guest syncs a room it joined, initially and incrementally', async () => {
    const reg = await h.t.request('POST', '/_matrix/client/v3/register?kind=guest', { body: {} });
    expect(reg.status, JSON.stringify(reg.body)).to.equal(200);
    const guest = new SyncClient(h.t, { userId: reg.body.user_id, accessToken: reg.body.access_token, deviceId: reg.body.device_id, password: '' });
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Guests welcome', initial_state: [{ type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } }] });
    await alice.send(roomId, 'hello before');
    const empty = await guest.sync();
    expect(empty.rooms.join).to.deep.equal({});
    await guest.join(roomId);
    const initial = await guest.sync();
    const room = initial.rooms.join[roomId];
    expect(room).to.exist;
    expect([...room.state.events, ...room.timeline.events].some((e: any) => e.type === 'm.room.name')).to.equal(true);
    const pending = guest.sync({ since: initial.next_batch, timeout: 10000 });
    await new Promise((r) => setTimeout(r, 100));
    await alice.send(roomId, 'hello guest');
    const inc = await pending;
    expect(bodies(inc.rooms.join[roomId].timeline.events)).to.deep.equal(['hello guest']);
    // Guests may use filters too.
    const { filter_id } = await guest.call('POST', `/user/${enc(guest.userId)}/filter`, { room: { timeline: { limit: 1 } } });
    const filtered = await guest.sync({ filter: filter_id });
    expect(filtered.rooms.join[roomId].timeline.events).to.have.length(1);
  });

  it('matrix-js-sdk startClient sees an invite, joins through client.joinRoom, then receives messages', async () => {
    const client = sdkClient(h.t.baseUrl, bob.user);
    try {
      await client.startClient({ initialSyncLimit: 5 });
      await new Promise<void>((resolve) => client.once(sdk.ClientEvent.Sync, () => resolve()));
      const roomId = await alice.createRoom({ preset: 'private_chat', name: 'SDK invite' });
      const invited = new Promise<string>((resolve) => {
        client.on(sdk.ClientEvent.Room, (r: any) => {
          if (r.roomId === roomId && r.getMyMembership() === 'invite') resolve(r.roomId);
        });
      });
      await alice.invite(roomId, bob.userId);
      expect(await invited).to.equal(roomId);
      expect(client.getRoom(roomId)?.getMyMembership()).to.equal('invite');
      expect(client.getRoom(roomId)?.name).to.equal('SDK invite');
      await client.joinRoom(roomId);
      const got = new Promise<string>((resolve) => {
        client.on(sdk.RoomEvent.Timeline, (ev: any, r: any) => {
          if (r?.roomId === roomId && ev.getType() === 'm.room.message') resolve(ev.getContent().body);
        });
      });
      await alice.send(roomId, 'welcome bob');
      expect(await got).to.equal('welcome bob');
      const room = client.getRoom(roomId)!;
      expect(room.getMyMembership()).to.equal('join');
      expect(room.getJoinedMemberCount()).to.equal(2);
      expect(room.currentState.getStateEvents('m.room.create', '')).to.exist;
    } finally {
      client.stopClient();
    }
  });

  it('lazy loading sends a member once per device; include_redundant_members sends it every time', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Redundant' });
    await bob.join(roomId);
    const memberOf = (res: any, user: string) =>
      [...res.rooms.join[roomId].state.events, ...res.rooms.join[roomId].timeline.events].some((e: any) => e.type === 'm.room.member' && e.state_key === user);
    for (const redundant of [false, true]) {
      const filter = { room: { state: { lazy_load_members: true, include_redundant_members: redundant }, timeline: { limit: 1 }, rooms: [roomId] } };
      const first = await bob.sync({ filter });
      await alice.send(roomId, 'one');
      const second = await bob.sync({ filter, since: first.next_batch });
      expect(memberOf(second, alice.userId), 'first time').to.equal(true);
      await alice.send(roomId, 'two');
      const third = await bob.sync({ filter, since: second.next_batch });
      expect(memberOf(third, alice.userId), `again with include_redundant_members=${redundant}`).to.equal(redundant);
    }
  });

  it("lazy loading includes the heroes' member events in an unnamed room", async () => {
    const [carol] = await clients(h.t, 1);
    const roomId = await alice.createRoom({ preset: 'public_chat' });
    await carol.join(roomId);
    await bob.join(roomId);
    for (let i = 0; i < 5; i++) await bob.send(roomId, `b${i}`);
    const res = await bob.sync({ filter: { room: { state: { lazy_load_members: true }, timeline: { limit: 3 }, rooms: [roomId] } } });
    const entry = res.rooms.join[roomId];
    const heroes: string[] = entry.summary['m.heroes'];
    expect(heroes).to.have.members([alice.userId, carol.userId]);
    const members = [...entry.state.events, ...entry.timeline.events].filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key);
    for (const hero of heroes) expect(members, hero).to.include(hero);
  });
});
