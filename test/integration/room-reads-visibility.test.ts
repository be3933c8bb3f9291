/**
 * History visibility (spec: Client-Server API §"Room History Visibility") on every read path:
 * /messages, /event, /context, timestamp_to_event, and the access check of /state and /members.
 *
 * In each room Alice writes "before" (Bob not yet invited), invites Bob, writes "invited",
 * Bob joins, Alice writes "joined", Bob leaves, Alice writes "after". What Bob and a stranger may
 * read depends on the room's setting.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

type Client = ReturnType<typeof sdkClient>;
type Phase = 'before' | 'invited' | 'joined' | 'after';
const PHASES: Phase[] = ['before', 'invited', 'joined', 'after'];

describe('room reads: history visibility', function () {
  this.timeout(60_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let stranger: TestUser;
  let a: Client;
  let b: Client;

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    stranger = await t.registerUser();
    a = sdkClient(t.baseUrl, alice);
    b = sdkClient(t.baseUrl, bob);
  });
  after(async () => t?.close());

  const roomPath = (roomId: string, rest: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}${rest}`;
  const get = (user: TestUser, roomId: string, rest: string) => t.request('GET', roomPath(roomId, rest), { token: user.accessToken });

  interface Scenario {
    roomId: string;
    ids: Record<Phase, string>;
    ts: Record<Phase, number>;
    bobInvite: string;
    bobJoin: string;
    bobLeave: string;
  }

  async function scenario(visibility: string): Promise<Scenario> {
    const { room_id: roomId } = await a.createRoom({
      preset: 'public_chat' as any,
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: visibility } }],
    });
    const ids = {} as Record<Phase, string>;
    const ts = {} as Record<Phase, number>;
    const say = async (phase: Phase) => {
      await new Promise((r) => setTimeout(r, 5));
      ids[phase] = (await a.sendTextMessage(roomId, phase)).event_id;
      ts[phase] = (await a.fetchRoomEvent(roomId, ids[phase])).origin_server_ts as number;
    };
    const memberEvent = async () => (await get(alice, roomId, `/state/m.room.member/${encodeURIComponent(bob.userId)}?format=event`)).body.event_id as string;
    await say('before');
    await a.invite(roomId, bob.userId);
    const bobInvite = await memberEvent();
    await say('invited');
    await b.joinRoom(roomId);
    const bobJoin = await memberEvent();
    await say('joined');
    await b.leave(roomId);
    const bobLeave = await memberEvent();
    await say('after');
    return { roomId, ids, ts, bobInvite, bobJoin, bobLeave };
  }

  /** Every event a user sees through /messages, paging backwards from the end. */
  async function timeline(user: TestUser, roomId: string, dir: 'b' | 'f' = 'b'): Promise<any[]> {
    const all: any[] = [];
    let from: string | undefined;
    for (let i = 0; i < 50; i++) {
      const q = new URLSearchParams({ dir, limit: '3', ...(from ? { from } : {}) });
      const res = await get(user, roomId, `/messages?${q}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      all.push(...res.body.chunk);
      if (!res.body.end) return all;
      from = res.body.end;
    }
    expect.fail('pagination did not end');
  }

  const said = (events: any[]) => events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body as Phase);

  /** What Bob (invited, joined, then left) sees of Alice's four messages, by setting. */
  const expected: Record<string, Phase[]> = {
    world_readable: ['before', 'invited', 'joined', 'after'],
    shared: ['before', 'invited', 'joined'],
    invited: ['invited', 'joined'],
    joined: ['joined'],
  };

  for (const [visibility, bobSees] of Object.entries(expected)) {
    describe(visibility, () => {
      let s: Scenario;
      before(async () => {
        s = await scenario(visibility);
      });

      it(`/messages shows Bob ${bobSees.join(', ')} in both directions`, async () => {
        expect(said(await timeline(bob, s.roomId, 'b'))).to.deep.equal([...bobSees].reverse());
        expect(said(await timeline(bob, s.roomId, 'f'))).to.deep.equal(bobSees);
        // Alice, joined throughout, sees everything.
        expect(said(await timeline(alice, s.roomId, 'b'))).to.deep.equal([...PHASES].reverse());
      });

      it('/event serves exactly the visible events, 404 for the rest', async () => {
        for (const phase of PHASES) {
          const res = await get(bob, s.roomId, `/event/${encodeURIComponent(s.ids[phase])}`);
          if (bobSees.includes(phase)) {
            expect(res.status, phase).to.equal(200);
            expect(res.body.content.body).to.equal(phase);
          } else {
            expect(res.status, phase).to.equal(404);
            expect(res.body.errcode).to.equal('M_NOT_FOUND');
          }
        }
      });

      it('/context is 403 around an invisible event (as Synapse) and hides invisible neighbours', async () => {
        for (const phase of PHASES) {
          const res = await get(bob, s.roomId, `/context/${encodeURIComponent(s.ids[phase])}?limit=20`);
          if (!bobSees.includes(phase)) {
            expect(res.status, phase).to.equal(403);
            expect(res.body.errcode, phase).to.equal('M_FORBIDDEN');
            continue;
          }
          expect(res.status, phase).to.equal(200);
          const around = [...said(res.body.events_before).reverse(), phase, ...said(res.body.events_after)];
          expect(around, phase).to.deep.equal(bobSees);
        }
      });

      it("shows Bob his own join and leave; his invite only where invited history shows", async () => {
        const ids = new Set((await timeline(bob, s.roomId)).map((e) => e.event_id));
        expect(ids.has(s.bobJoin), 'join').to.equal(true);
        expect(ids.has(s.bobLeave), 'leave').to.equal(true);
        expect(ids.has(s.bobInvite), 'invite').to.equal(visibility !== 'joined');
      });

      it('timestamp_to_event skips events Bob may not see', async () => {
        const v1 = (ts: number, dir: string) =>
          t.request('GET', `/_matrix/client/v1/rooms/${encodeURIComponent(s.roomId)}/timestamp_to_event?ts=${ts}&dir=${dir}`, { token: bob.accessToken });
        const fwd = await v1(s.ts.before, 'f');
        expect(fwd.status).to.equal(200);
        const firstVisible = bobSees[0]!;
        if (firstVisible === 'before') expect(fwd.body.event_id).to.equal(s.ids.before);
        else {
          // Not Alice's "before" message: the first event after it that Bob may see.
          expect(fwd.body.event_id).to.not.equal(s.ids.before);
          const ev = await get(bob, s.roomId, `/event/${encodeURIComponent(fwd.body.event_id)}`);
          expect(ev.status).to.equal(200);
          expect(ev.body.origin_server_ts).to.be.at.most(s.ts[firstVisible]);
        }
        const back = await v1(s.ts.after + 1000, 'b');
        if (bobSees.includes('after')) expect(back.body.event_id).to.equal(s.ids.after);
        else expect(back.body.event_id).to.equal(s.bobLeave);
      });

      it(visibility === 'world_readable' ? 'lets a stranger read everything' : 'refuses a stranger: 403 on /messages, 404 on /event', async () => {
        const res = await get(stranger, s.roomId, '/messages?dir=b&limit=50');
        if (visibility === 'world_readable') {
          expect(res.status).to.equal(200);
          expect(said(res.body.chunk)).to.deep.equal([...PHASES].reverse());
          const ev = await get(stranger, s.roomId, `/event/${encodeURIComponent(s.ids.before)}`);
          expect(ev.status).to.equal(200);
          const state = await get(stranger, s.roomId, '/state');
          expect(state.status).to.equal(200);
          const members = await get(stranger, s.roomId, '/joined_members');
          expect(Object.keys(members.body.joined)).to.deep.equal([alice.userId]);
        } else {
          expect(res.status).to.equal(403);
          expect(res.body.errcode).to.equal('M_FORBIDDEN');
          for (const phase of PHASES) {
            const ev = await get(stranger, s.roomId, `/event/${encodeURIComponent(s.ids[phase])}`);
            expect(ev.status, phase).to.equal(404);
          }
          const state = await get(stranger, s.roomId, '/state');
          expect(state.status).to.equal(403);
        }
      });
    });
  }

  describe('changes of setting', () => {
    it('applies the setting in force when each event was sent, and shows the change itself', async () => {
      const { room_id: roomId } = await a.createRoom({
        preset: 'public_chat' as any,
        initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
      });
      await a.sendTextMessage(roomId, 'hidden');
      const change = (await a.sendStateEvent(roomId, 'm.room.history_visibility' as any, { history_visibility: 'shared' } as any, '')).event_id;
      await a.sendTextMessage(roomId, 'shared later');
      const back = (await a.sendStateEvent(roomId, 'm.room.history_visibility' as any, { history_visibility: 'joined' } as any, '')).event_id;
      await a.sendTextMessage(roomId, 'hidden again');
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'seen');
      const events = await timeline(bob, roomId);
      expect(said(events).reverse()).to.deep.equal(['shared later', 'seen']);
      const ids = events.map((e) => e.event_id);
      // joined → shared: visible because the setting after it allows; shared → joined: before allows.
      expect(ids).to.include(change);
      expect(ids).to.include(back);
    });

    it('lets a user who left and rejoined see what they could see, and not the gap (joined)', async () => {
      const { room_id: roomId } = await a.createRoom({
        preset: 'public_chat' as any,
        initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
      });
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'first stay');
      await b.leave(roomId);
      await a.sendTextMessage(roomId, 'while away');
      await b.joinRoom(roomId);
      await a.sendTextMessage(roomId, 'second stay');
      expect(said(await timeline(bob, roomId)).reverse()).to.deep.equal(['first stay', 'second stay']);
    });

    it('under shared, a user who joins late sees everything before, and a user who left sees nothing after', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await a.sendTextMessage(roomId, 'early');
      await b.joinRoom(roomId);
      await b.leave(roomId);
      await a.sendTextMessage(roomId, 'late');
      expect(said(await timeline(bob, roomId))).to.deep.equal(['early']);
      const late = await t.registerUser();
      await sdkClient(t.baseUrl, late).joinRoom(roomId);
      expect(said(await timeline(late, roomId)).reverse()).to.deep.equal(['early', 'late']);
    });

    it('in a world_readable room, gives a former member the state as they left it and a stranger the current state', async () => {
      const { room_id: roomId } = await a.createRoom({
        preset: 'public_chat' as any,
        name: 'Old name',
        initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
      });
      await b.joinRoom(roomId);
      await b.leave(roomId);
      await a.setRoomName(roomId, 'New name');
      const former = await get(bob, roomId, '/state/m.room.name/');
      expect(former.body).to.deep.equal({ name: 'Old name' });
      const outsider = await get(stranger, roomId, '/state/m.room.name/');
      expect(outsider.body).to.deep.equal({ name: 'New name' });
      // The timeline itself is world_readable: Bob reads past his departure.
      const page = await get(bob, roomId, '/messages?dir=b&limit=1');
      expect(page.body.chunk[0].type).to.equal('m.room.name');
    });

    it('looks state up once per state group, not once per event, for a page of 100', async () => {
      const { room_id: roomId } = await a.createRoom({ preset: 'public_chat' as any });
      await b.joinRoom(roomId);
      for (let i = 0; i < 100; i++) await a.sendTextMessage(roomId, `z${i}`);
      const state = t.server.services.storage.state;
      const original = state.getGroup.bind(state);
      let lookups = 0;
      state.getGroup = ((...args: Parameters<typeof original>) => {
        lookups++;
        return original(...args);
      }) as typeof state.getGroup;
      try {
        const res = await get(bob, roomId, '/messages?dir=b&limit=100&filter=' + encodeURIComponent('{"lazy_load_members":true}'));
        expect(said(res.body.chunk)).to.have.length(100);
        expect(res.body.state.map((e: any) => e.state_key)).to.deep.equal([alice.userId]);
      } finally {
        state.getGroup = original;
      }
      // Current state for the access check, then one group for all 100 messages.
      expect(lookups).to.be.at.most(3);
    });

    it('filters a long page (100+ events) without losing or repeating events', async () => {
      const { room_id: roomId } = await a.createRoom({
        preset: 'public_chat' as any,
        initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
      });
      for (let i = 0; i < 60; i++) await a.sendTextMessage(roomId, `x${i}`);
      await b.joinRoom(roomId);
      for (let i = 0; i < 60; i++) await a.sendTextMessage(roomId, `y${i}`);
      const res = await get(bob, roomId, '/messages?dir=b&limit=200');
      expect(res.status).to.equal(200);
      expect(said(res.body.chunk)).to.deep.equal(Array.from({ length: 60 }, (_, i) => `y${59 - i}`));
      // Past the join only invisible messages remain: pages come back empty but still move on.
      const page = await get(bob, roomId, '/messages?dir=b&limit=61');
      expect(said(page.body.chunk)).to.have.length(60);
      const next = await get(bob, roomId, `/messages?dir=b&limit=10&from=${page.body.end}`);
      expect(next.status).to.equal(200);
      expect(said(next.body.chunk)).to.deep.equal([]);
      expect(next.body.end).to.be.a('string').and.not.equal(page.body.end);
      const all = await timeline(bob, roomId);
      expect(said(all)).to.deep.equal(Array.from({ length: 60 }, (_, i) => `y${59 - i}`));
      expect(new Set(all.map((e) => e.event_id)).size).to.equal(all.length);
    });
  });
});
