import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { startServer, type VecheServer } from '../../src/server.js';
import { CS, enc, nextTxnId } from './helpers/rooms.js';
import { countRows, expectMatrixError, login, passwordAuth } from './helpers/index.js';

/**
 * Pushers and the push gateway sender (spec: Client-Server API "Push Notifications"; Push Gateway
 * API), against a real HTTP gateway on 127.0.0.1 started here.
 */

const NOTIFY = '/_matrix/push/v1/notify';

interface Received {
  body: any;
  at: number;
}

/** A push gateway: records every POST to /_matrix/push/v1/notify and answers as `answer` says. */
class Gateway {
  readonly received: Received[] = [];
  answer: (body: any) => { status: number; body?: unknown } = () => ({ status: 200, body: { rejected: [] } });
  url = '';
  private server?: http.Server;
  private listeners = new Set<() => void>();

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString('utf8')));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== NOTIFY) {
          res.writeHead(404).end();
          return;
        }
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          body = { unparsable: text };
        }
        this.received.push({ body, at: Date.now() });
        const a = this.answer(body);
        res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(a.body ?? {}));
        for (const l of this.listeners) l();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${NOTIFY}`;
    return this;
  }

  /** Notifications about one event. */
  about(eventId: string): Received[] {
    return this.received.filter((r) => r.body?.notification?.event_id === eventId);
  }

  /** Resolves once `count` received requests match; fails after timeoutMs. */
  async waitFor(match: (body: any) => boolean, count = 1, timeoutMs = 4000): Promise<Received[]> {
    const found = () => this.received.filter((r) => match(r.body));
    if (found().length >= count) return found();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`gateway: ${found().length} of ${count} expected requests within ${timeoutMs} ms; got ${JSON.stringify(this.received.map((r) => r.body))}`));
      }, timeoutMs);
      const check = () => {
        if (found().length < count) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(found());
      };
      this.listeners.add(check);
    });
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pusherBody(url: string, extra: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    kind: 'http',
    app_id: 'org.veche.test.android',
    pushkey: `pk-${randomBytes(6).toString('hex')}`,
    app_display_name: 'Veche Test',
    device_display_name: 'Pixel',
    profile_tag: 'tag1',
    lang: 'en',
    data: { url, ...data },
    ...extra,
  };
}

function useGateways() {
  const open: Gateway[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((g) => g.close()));
  });
  return async () => {
    const g = await new Gateway().start();
    open.push(g);
    return g;
  };
}

describe('pushers: GET /pushers, POST /pushers/set and the push gateway sender', () => {
  let t: TestServer;
  const gateway = useGateways();

  before(async () => {
    t = await startTestServer();
    // Short backoffs so the retry test waits tens of milliseconds, not seconds.
    Object.assign(t.server.services.pushers.sender.options, { initialBackoffMs: 40, maxBackoffMs: 400 });
  });
  after(async () => {
    await t?.close();
  });

  const user = (displayname: string) => t.registerUser(undefined, { displayname });
  const setPusher = async (u: TestUser, body: Record<string, unknown>) => {
    const res = await t.request('POST', `${CS}/pushers/set`, { token: u.accessToken, body });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.deep.equal({});
  };
  const pushersOf = async (u: TestUser, token = u.accessToken) => {
    const res = await t.request('GET', `${CS}/pushers`, { token });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.pushers as any[];
  };
  const send = async (u: TestUser, roomId: string, content: Record<string, unknown>) => {
    const res = await t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/${nextTxnId()}`, { token: u.accessToken, body: content });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.event_id as string;
  };
  /** A room of `owner` that the others have joined; a DM when there is one other. */
  const room = async (owner: TestUser, others: TestUser[], extra: Record<string, unknown> = {}) => {
    const res = await t.request('POST', `${CS}/createRoom`, {
      token: owner.accessToken,
      body: { preset: 'trusted_private_chat', invite: others.map((o) => o.userId), is_direct: others.length === 1, ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    for (const o of others) {
      const join = await t.request('POST', `${CS}/join/${enc(res.body.room_id)}`, { token: o.accessToken, body: {} });
      expect(join.status, JSON.stringify(join.body)).to.equal(200);
    }
    return res.body.room_id as string;
  };

  it('POST /pushers/set creates an HTTP pusher that GET /pushers lists in the spec shape', async () => {
    const gw = await gateway();
    const bob = await user('Bob');
    expect(await pushersOf(bob)).to.deep.equal([]);
    const body = pusherBody(gw.url, {}, { format: 'event_id_only', custom: { a: 1 } });
    await setPusher(bob, body);
    expect(await pushersOf(bob)).to.deep.equal([
      {
        pushkey: body.pushkey,
        kind: 'http',
        app_id: body.app_id,
        app_display_name: 'Veche Test',
        device_display_name: 'Pixel',
        profile_tag: 'tag1',
        lang: 'en',
        data: { url: gw.url, format: 'event_id_only', custom: { a: 1 } },
      },
    ]);
    // Setting it again updates it in place.
    await setPusher(bob, { ...body, device_display_name: 'Pixel 9', lang: 'ru' });
    const after = await pushersOf(bob);
    expect(after).to.have.length(1);
    expect(after[0]).to.include({ device_display_name: 'Pixel 9', lang: 'ru' });
    // kind null deletes it.
    await setPusher(bob, { kind: null, app_id: body.app_id, pushkey: body.pushkey });
    expect(await pushersOf(bob)).to.deep.equal([]);
  });

  it("append false takes the app_id + pushkey from another user; append true shares it", async () => {
    const gw = await gateway();
    const alice = await user('Alice');
    const bob = await user('Bob');
    const body = pusherBody(gw.url);
    await setPusher(alice, body);
    await setPusher(bob, { ...body, append: true });
    expect(await pushersOf(alice)).to.have.length(1);
    expect(await pushersOf(bob)).to.have.length(1);
    await setPusher(bob, { ...body, append: false });
    expect(await pushersOf(alice), "alice's pusher is removed").to.deep.equal([]);
    expect(await pushersOf(bob)).to.have.length(1);
  });

  it('refuses a URL that is not http(s) with the notify path, and other bad pushers; nothing is stored', async () => {
    const bob = await user('Bob');
    const before = await countRows(t, 'pushers');
    for (const url of [
      'ftp://gw.example/_matrix/push/v1/notify',
      'file:///_matrix/push/v1/notify',
      'javascript:alert(1)//_matrix/push/v1/notify',
      'https://gw.example/notify',
      'not a url',
    ]) {
      expectMatrixError(await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: pusherBody(url) }), 400, 'M_INVALID_PARAM');
    }
    const good = 'https://gw.example/_matrix/push/v1/notify';
    expectMatrixError(await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: pusherBody(good, { kind: 'email', app_id: 'm.email' }) }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: pusherBody(good, { kind: 'sms' }) }), 400, 'M_INVALID_PARAM');
    const noLang: Record<string, unknown> = pusherBody(good);
    delete noLang.lang;
    expectMatrixError(await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: noLang }), 400, 'M_MISSING_PARAM');
    expectMatrixError(await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: { ...pusherBody(good), data: {} } }), 400, 'M_MISSING_PARAM');
    expectMatrixError(await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: pusherBody(good, {}, { format: 'full' }) }), 400, 'M_BAD_JSON');
    expectMatrixError(await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: pusherBody(good, { app_id: 'x'.repeat(65) }) }), 400, 'M_INVALID_PARAM');
    expect(await pushersOf(bob)).to.deep.equal([]);
    expect(await countRows(t, 'pushers')).to.equal(before);
  });

  it('a message in a 1:1 room reaches the gateway with the Push Gateway API fields', async () => {
    const gw = await gateway();
    const alice = await user('Alice');
    const bob = await user('Bob');
    const roomId = await room(alice, [bob], { name: 'Tea break' });
    const body = pusherBody(gw.url, {}, { custom: 'kept' });
    await setPusher(bob, body);
    const before = Math.floor(Date.now() / 1000);
    const eventId = await send(alice, roomId, { msgtype: 'm.text', body: 'hello bob' });
    const [got] = await gw.waitFor((b) => b.notification?.event_id === eventId);
    const n = got!.body.notification;
    expect(n).to.include({ event_id: eventId, room_id: roomId, type: 'm.room.message', sender: alice.userId, sender_display_name: 'Alice', room_name: 'Tea break', prio: 'high' });
    expect(n.content).to.deep.equal({ msgtype: 'm.text', body: 'hello bob' });
    expect(n.counts).to.deep.equal({ unread: 1 });
    expect(n.devices).to.have.length(1);
    const device = n.devices[0];
    expect(device).to.include({ app_id: body.app_id, pushkey: body.pushkey });
    expect(device.pushkey_ts).to.be.a('number').within(before - 5, before + 60);
    expect(device.data, 'data is forwarded without url').to.deep.equal({ custom: 'kept' });
    expect(device.tweaks).to.include({ sound: 'default' });
    // The sender's own message is not pushed to the sender, and the event is pushed once.
    await sleep(150);
    expect(gw.about(eventId)).to.have.length(1);
    expect(gw.received.every((r) => r.body.notification.devices[0].pushkey === body.pushkey)).to.equal(true);
    // Progress is stored per pusher, so a restart does not send it again.
    const { rows } = await t.server.services.storage.db.query('SELECT last_stream_ordering FROM pushers WHERE pushkey = $1', [body.pushkey]);
    const stored = await t.server.services.storage.events.getEvent(eventId);
    expect(Number(rows[0].last_stream_ordering)).to.equal(stored!.streamOrdering);
  });

  it('format event_id_only sends no event content; group messages are low priority, mentions high', async () => {
    const gw = await gateway();
    const alice = await user('Alice');
    const bob = await user('Bob');
    const carol = await user('Carol');
    const roomId = await room(alice, [bob, carol], { name: 'Team' });
    const body = pusherBody(gw.url, {}, { format: 'event_id_only' });
    await setPusher(bob, body);
    const plain = await send(alice, roomId, { msgtype: 'm.text', body: 'secret plans' });
    const mention = await send(alice, roomId, { msgtype: 'm.text', body: 'Bob, look', 'm.mentions': { user_ids: [bob.userId] } });
    await gw.waitFor((b) => [plain, mention].includes(b.notification?.event_id), 2);
    const first = gw.about(plain)[0]!.body.notification;
    expect(Object.keys(first).sort()).to.deep.equal(['counts', 'devices', 'event_id', 'prio', 'room_id']);
    expect(first).to.include({ event_id: plain, room_id: roomId, prio: 'low' });
    expect(first.devices[0].data).to.deep.equal({ format: 'event_id_only' });
    expect(JSON.stringify(gw.received.map((r) => r.body))).not.to.include('secret plans');
    const second = gw.about(mention)[0]!.body.notification;
    expect(second.prio).to.equal('high');
    expect(second.content).to.equal(undefined);
    expect(second.devices[0].tweaks).to.include({ highlight: true });
  });

  it('retries a gateway answering 500 with growing delays, then delivers once', async () => {
    const gw = await gateway();
    const alice = await user('Alice');
    const bob = await user('Bob');
    const roomId = await room(alice, [bob]);
    await setPusher(bob, pusherBody(gw.url));
    let failures = 2;
    gw.answer = () => (failures-- > 0 ? { status: 500, body: { error: 'try later' } } : { status: 200, body: { rejected: [] } });
    const eventId = await send(alice, roomId, { msgtype: 'm.text', body: 'are you there?' });
    const attempts = await gw.waitFor((b) => b.notification?.event_id === eventId, 3, 3000);
    // Backoff 40 ms, then 80 ms.
    expect(attempts[1]!.at - attempts[0]!.at).to.be.at.least(35);
    expect(attempts[2]!.at - attempts[1]!.at).to.be.at.least(75);
    // The next message goes straight through, and the delivered one is not sent again.
    const next = await send(alice, roomId, { msgtype: 'm.text', body: 'ping' });
    await gw.waitFor((b) => b.notification?.event_id === next);
    await sleep(150);
    expect(gw.about(eventId)).to.have.length(3);
    expect(gw.about(next)).to.have.length(1);
  });

  it('drops a pusher whose pushkey the gateway rejects', async () => {
    const gw = await gateway();
    const alice = await user('Alice');
    const bob = await user('Bob');
    const roomId = await room(alice, [bob]);
    const body = pusherBody(gw.url);
    await setPusher(bob, body);
    gw.answer = () => ({ status: 200, body: { rejected: [body.pushkey] } });
    const eventId = await send(alice, roomId, { msgtype: 'm.text', body: 'hello?' });
    await gw.waitFor((b) => b.notification?.event_id === eventId);
    let pushers = await pushersOf(bob);
    for (let i = 0; i < 40 && pushers.length; i++) {
      await sleep(25);
      pushers = await pushersOf(bob);
    }
    expect(pushers).to.deep.equal([]);
    const later = await send(alice, roomId, { msgtype: 'm.text', body: 'anyone?' });
    await sleep(200);
    expect(gw.about(later), 'nothing more is sent to a rejected pushkey').to.deep.equal([]);
  });

  it('sends a counts-only update when a read receipt clears the badge', async () => {
    const gw = await gateway();
    const alice = await user('Alice');
    const bob = await user('Bob');
    const roomId = await room(alice, [bob]);
    await setPusher(bob, pusherBody(gw.url));
    const eventId = await send(alice, roomId, { msgtype: 'm.text', body: 'read me' });
    await gw.waitFor((b) => b.notification?.event_id === eventId);
    const res = await t.request('POST', `${CS}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { token: bob.accessToken, body: {} });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const [badge] = await gw.waitFor((b) => b.notification && b.notification.event_id === undefined);
    expect(badge!.body.notification.counts).to.deep.equal({ unread: 0 });
    expect(badge!.body.notification.devices).to.have.length(1);
  });

  it("deleting a device removes its pushers, and only its own", async () => {
    const gw = await gateway();
    const alice = await user('Alice');
    const bob = await user('Bob');
    const phone = await login(t, bob.userId, bob.password, { device_id: 'BOBPHONE' });
    const onPhone = pusherBody(gw.url);
    const onLaptop = pusherBody(gw.url);
    await setPusher({ ...bob, accessToken: phone.access_token }, onPhone);
    await setPusher(bob, onLaptop);
    expect((await pushersOf(bob)).map((p) => p.pushkey).sort()).to.deep.equal([onPhone.pushkey, onLaptop.pushkey].sort());
    const del = await t.request('DELETE', `${CS}/devices/BOBPHONE`, { token: bob.accessToken, body: { auth: passwordAuth(bob.userId, bob.password) } });
    expect(del.status, JSON.stringify(del.body)).to.equal(200);
    expect((await pushersOf(bob)).map((p) => p.pushkey)).to.deep.equal([onLaptop.pushkey]);
    // The sender forgot it too: a new message goes to the laptop's pushkey only.
    const roomId = await room(alice, [bob]);
    const eventId = await send(alice, roomId, { msgtype: 'm.text', body: 'hi' });
    await gw.waitFor((b) => b.notification?.event_id === eventId);
    await sleep(150);
    expect(gw.about(eventId).map((r) => r.body.notification.devices[0].pushkey)).to.deep.equal([onLaptop.pushkey]);
  });
});

describe('pushers: a restart resumes where the sender stopped', () => {
  let t: TestServer;
  let second: VecheServer | undefined;
  const gateway = useGateways();

  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await second?.close();
    await t?.close();
  });

  it('sends what failed before the restart, once, and nothing already delivered', async () => {
    const gw = await gateway();
    const alice = await t.registerUser(undefined, { displayname: 'Alice' });
    const bob = await t.registerUser(undefined, { displayname: 'Bob' });
    const created = await t.request('POST', `${CS}/createRoom`, { token: alice.accessToken, body: { preset: 'trusted_private_chat', invite: [bob.userId], is_direct: true } });
    const roomId = created.body.room_id as string;
    expect((await t.request('POST', `${CS}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} })).status).to.equal(200);
    expect((await t.request('POST', `${CS}/pushers/set`, { token: bob.accessToken, body: pusherBody(gw.url) })).status).to.equal(200);
    const send = async (text: string) => {
      const res = await t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/${nextTxnId()}`, { token: alice.accessToken, body: { msgtype: 'm.text', body: text } });
      expect(res.status).to.equal(200);
      return res.body.event_id as string;
    };
    const delivered = await send('first');
    await gw.waitFor((b) => b.notification?.event_id === delivered);

    // The gateway goes down; the sender would retry only after a long backoff.
    t.server.services.pushers.sender.options.initialBackoffMs = 60_000;
    gw.answer = () => ({ status: 503 });
    const failed = await send('second');
    await gw.waitFor((b) => b.notification?.event_id === failed);
    await t.server.close();

    gw.answer = () => ({ status: 200, body: { rejected: [] } });
    const pool = (t.server.services.storage.db.pool as unknown as { options: Record<string, any> }).options;
    second = await startServer(t.config, {
      database: { host: pool.host, port: pool.port, user: pool.user, password: pool.password, database: pool.database },
      port: 0,
    });
    await gw.waitFor((b) => b.notification?.event_id === failed, 2);
    await sleep(200);
    expect(gw.about(failed)).to.have.length(2);
    expect(gw.about(delivered), 'a delivered notification is not sent again').to.have.length(1);
  });
});
