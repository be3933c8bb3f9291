/**
 * matrix-js-sdk's own SlidingSync (what Element Web uses for simplified sliding sync) driving a
 * real MatrixClient against Veche: the room list, live timeline events, typing, receipts, account
 * data, to-device messages, and an invite accepted from the client.
 */
import { expect } from 'chai';
import { SlidingSync, type MSC3575List } from 'matrix-js-sdk/lib/sliding-sync.js';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdk, sdkClient } from '../sdk.js';

/** Resolves when `check` passes, re-checking on every event of `emitter`; fails after `ms`. */
function waitUntil(emitter: { on(e: string, f: (...a: any[]) => void): unknown; off(e: string, f: (...a: any[]) => void): unknown }, events: string[], check: () => boolean, what: string, ms = 8000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      for (const e of events) emitter.off(e, listener);
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    const listener = () => {
      if (!check()) return;
      clearTimeout(timer);
      for (const e of events) emitter.off(e, listener);
      resolve();
    };
    for (const e of events) emitter.on(e, listener);
    listener();
  });
}

describe('sliding sync with matrix-js-sdk SlidingSync (MSC4186)', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let client: sdk.MatrixClient;
  let slidingSync: SlidingSync;
  let roomId: string;
  const requests: { query: string; body: any }[] = [];

  const api = (user: TestUser, method: string, path: string, body?: unknown) => t.request(method, `/_matrix/client/v3${path}`, { token: user.accessToken, body });

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser(undefined, { displayname: 'Alice' });
    bob = await t.registerUser(undefined, { displayname: 'Bob' });
    const created = await api(bob, 'POST', '/createRoom', { name: 'Sliding room', preset: 'public_chat' });
    roomId = created.body.room_id;
    expect((await api(alice, 'POST', `/join/${encodeURIComponent(roomId)}`, {})).status).to.equal(200);
    await api(bob, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t0`, { msgtype: 'm.text', body: 'before the client started' });

    // Record what the SDK puts on the wire, to check its request shape against what we parse.
    const fetchFn: typeof fetch = async (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      if (url.pathname.endsWith('/org.matrix.simplified_msc3575/sync')) requests.push({ query: url.search, body: JSON.parse(String(init?.body ?? '{}')) });
      return fetch(input, init);
    };
    client = sdkClient(t.baseUrl, alice, { fetchFn });
    const lists = new Map<string, MSC3575List>([
      ['all', { ranges: [[0, 19]], timeline_limit: 10, required_state: [['*', '*']] }],
    ]);
    slidingSync = new SlidingSync(t.baseUrl, lists, { timeline_limit: 10, required_state: [['*', '*']] }, client, 5000);
    await client.startClient({ slidingSync });
    await waitUntil(client, [sdk.ClientEvent.Sync], () => client.getSyncState() === sdk.SyncState.Syncing, 'the first sync');
  });
  after(async () => {
    client?.stopClient();
    await t?.close();
  });

  it('sends pos and timeout as query parameters and the lists, extensions in the body', () => {
    const first = requests[0]!;
    expect(first.query).to.not.contain('pos=');
    expect(first.body.lists.all.ranges).to.deep.equal([[0, 19]]);
    expect(first.body.extensions.to_device.enabled).to.equal(true);
    const later = requests.find((r) => r.query.includes('pos='));
    expect(later, 'a request continuing the connection').to.not.equal(undefined);
    expect(later!.query).to.match(/timeout=5000/);
  });

  it('shows the room list with names, members and the latest messages', async () => {
    await waitUntil(client, [sdk.ClientEvent.Room], () => !!client.getRoom(roomId), 'the room');
    const room = client.getRoom(roomId)!;
    expect(room.name).to.equal('Sliding room');
    expect(room.getMyMembership()).to.equal('join');
    expect(room.getJoinedMemberCount()).to.equal(2);
    const bodies = room.getLiveTimeline().getEvents().map((e) => e.getContent().body);
    expect(bodies).to.include('before the client started');
    expect(slidingSync.getListData('all')!.joinedCount).to.equal(1);
  });

  it('delivers a message from another user as a live timeline event', async () => {
    const room = client.getRoom(roomId)!;
    const live = new Promise<{ body: string; fromCache: boolean }>((resolve) => {
      const onTimeline = (ev: sdk.MatrixEvent, r: sdk.Room | undefined, toStartOfTimeline: boolean | undefined, _removed: boolean, data: any) => {
        if (r?.roomId === roomId && ev.getContent().body === 'hello alice' && !toStartOfTimeline) {
          client.off(sdk.RoomEvent.Timeline, onTimeline);
          resolve({ body: ev.getContent().body, fromCache: data?.liveEvent === false });
        }
      };
      client.on(sdk.RoomEvent.Timeline, onTimeline);
    });
    await api(bob, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'hello alice' });
    const got = await live;
    expect(got.body).to.equal('hello alice');
    expect(room.getLiveTimeline().getEvents().at(-1)!.getContent().body).to.equal('hello alice');
  });

  it('sends the client own message once (local echo matched by transaction_id)', async () => {
    const room = client.getRoom(roomId)!;
    const { event_id } = await client.sendTextMessage(roomId, 'from alice');
    await waitUntil(client, [sdk.RoomEvent.Timeline, sdk.RoomEvent.LocalEchoUpdated], () => room.getLiveTimeline().getEvents().some((e) => e.getId() === event_id && e.status === null), 'the remote echo');
    // Let the next sliding sync response (carrying the event) be processed, then count.
    await api(bob, 'PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t2`, { msgtype: 'm.text', body: 'after alice' });
    await waitUntil(client, [sdk.RoomEvent.Timeline], () => room.getLiveTimeline().getEvents().some((e) => e.getContent().body === 'after alice'), 'the next message');
    expect(room.getLiveTimeline().getEvents().filter((e) => e.getContent().body === 'from alice')).to.have.length(1);
  });

  it('delivers typing notifications through the typing extension', async () => {
    const room = client.getRoom(roomId)!;
    await api(bob, 'PUT', `/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 30000 });
    await waitUntil(client, [sdk.RoomMemberEvent.Typing], () => room.getMember(bob.userId)?.typing === true, 'bob typing');
    await api(bob, 'PUT', `/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(bob.userId)}`, { typing: false });
    await waitUntil(client, [sdk.RoomMemberEvent.Typing], () => room.getMember(bob.userId)?.typing === false, 'bob stopped typing');
  });

  it('delivers read receipts through the receipts extension', async () => {
    const room = client.getRoom(roomId)!;
    const last = room.getLiveTimeline().getEvents().at(-1)!;
    await api(bob, 'POST', `/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(last.getId()!)}`, {});
    await waitUntil(client, [sdk.RoomEvent.Receipt], () => room.getReadReceiptForUserId(bob.userId)?.eventId === last.getId(), "bob's receipt");
  });

  it('delivers global and room account data through the account_data extension', async () => {
    await api(alice, 'PUT', `/user/${encodeURIComponent(alice.userId)}/account_data/org.example.sliding`, { answer: 42 });
    await waitUntil(client, [sdk.ClientEvent.AccountData], () => client.getAccountData('org.example.sliding' as any)?.getContent().answer === 42, 'global account data');
    await api(alice, 'PUT', `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(roomId)}/tags/u.work`, { order: 0.5 });
    const room = client.getRoom(roomId)!;
    await waitUntil(client, [sdk.RoomEvent.Tags, sdk.RoomEvent.AccountData], () => !!room.tags['u.work'], 'the room tag');
  });

  it('delivers to-device messages through the to_device extension, exactly once', async () => {
    const seen: string[] = [];
    const onToDevice = (ev: sdk.MatrixEvent) => {
      if (ev.getType() === 'org.example.ping') seen.push(ev.getContent().n);
    };
    client.on(sdk.ClientEvent.ToDeviceEvent, onToDevice);
    await api(bob, 'PUT', '/sendToDevice/org.example.ping/td1', { messages: { [alice.userId]: { [alice.deviceId]: { n: 'one' } } } });
    await waitUntil(client, [sdk.ClientEvent.ToDeviceEvent], () => seen.includes('one'), 'the to-device message');
    await api(bob, 'PUT', '/sendToDevice/org.example.ping/td2', { messages: { [alice.userId]: { [alice.deviceId]: { n: 'two' } } } });
    await waitUntil(client, [sdk.ClientEvent.ToDeviceEvent], () => seen.includes('two'), 'the second to-device message');
    client.off(sdk.ClientEvent.ToDeviceEvent, onToDevice);
    expect(seen).to.deep.equal(['one', 'two']);
  });

  it('shows an invite, which the client accepts and then sees as joined', async () => {
    const created = await api(bob, 'POST', '/createRoom', { name: 'Invite room', preset: 'private_chat', invite: [alice.userId] });
    const inviteRoom = created.body.room_id as string;
    await waitUntil(client, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => client.getRoom(inviteRoom)?.getMyMembership() === 'invite', 'the invite');
    const room = client.getRoom(inviteRoom)!;
    expect(room.name).to.equal('Invite room');
    expect(room.getDMInviter() ?? room.getMember(alice.userId)?.events.member?.getSender()).to.equal(bob.userId);
    // An invite already shown is not news: the client long-polls instead of spinning.
    const before = requests.length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(requests.length - before).to.be.at.most(2);

    await client.joinRoom(inviteRoom);
    await api(bob, 'PUT', `/rooms/${encodeURIComponent(inviteRoom)}/send/m.room.message/i1`, { msgtype: 'm.text', body: 'welcome' });
    await waitUntil(
      client,
      [sdk.RoomEvent.Timeline, sdk.RoomEvent.MyMembership],
      () => room.getMyMembership() === 'join' && room.getLiveTimeline().getEvents().some((e) => e.getContent().body === 'welcome'),
      'the joined room with its messages',
    );
    expect(room.getJoinedMemberCount()).to.equal(2);
    expect(slidingSync.getListData('all')!.joinedCount).to.equal(2);
  });
});

describe('sliding sync with matrix-js-sdk and Rust crypto (e2ee and to_device extensions)', function () {
  this.timeout(90_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const clients: sdk.MatrixClient[] = [];

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => {
    for (const c of clients) c.stopClient();
    await t?.close();
  });

  it('decrypts a message from a /sync client: keys via e2ee, room key via to_device', async () => {
    let requests = 0;
    const fetchFn: typeof fetch = async (input, init) => {
      if (String(input instanceof Request ? input.url : input).includes('/org.matrix.simplified_msc3575/sync')) requests++;
      return fetch(input, init);
    };
    const a = sdkClient(t.baseUrl, alice, { fetchFn });
    const b = sdkClient(t.baseUrl, bob);
    clients.push(a, b);
    await a.initRustCrypto({ useIndexedDB: false });
    await b.initRustCrypto({ useIndexedDB: false });
    const lists = new Map<string, MSC3575List>([['all', { ranges: [[0, 19]], timeline_limit: 10, required_state: [['*', '*']] }]]);
    const slidingSync = new SlidingSync(t.baseUrl, lists, { timeline_limit: 10, required_state: [['*', '*']] }, a, 5000);
    await a.startClient({ slidingSync });
    await b.startClient({ initialSyncLimit: 10 });
    await Promise.all([
      waitUntil(a, [sdk.ClientEvent.Sync], () => a.getSyncState() === sdk.SyncState.Syncing, 'alice syncing'),
      waitUntil(b, [sdk.ClientEvent.Sync], () => b.getSyncState() === sdk.SyncState.Syncing || b.getSyncState() === sdk.SyncState.Prepared, 'bob syncing'),
    ]);

    // Alice's client uploads one-time keys because the e2ee extension told it it has none.
    const otks = async () => (await t.request('POST', '/_matrix/client/v3/keys/claim', { token: bob.accessToken, body: { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } } })).body;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const q = await t.request('POST', '/_matrix/client/v3/keys/query', { token: bob.accessToken, body: { device_keys: { [alice.userId]: [] } } });
      if (q.body.device_keys?.[alice.userId]?.[alice.deviceId]) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now(), 'alice uploads device keys').to.be.below(deadline);

    const { room_id: roomId } = await b.createRoom({
      name: 'Secret',
      invite: [alice.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await waitUntil(a, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => a.getRoom(roomId)?.getMyMembership() === 'invite', 'the invite');
    await a.joinRoom(roomId);
    await waitUntil(b, [sdk.RoomStateEvent.Members, sdk.RoomEvent.Timeline], () => b.getRoom(roomId)?.getMember(alice.userId)?.membership === 'join', 'bob sees alice join');
    await b.sendTextMessage(roomId, 'secret hello');
    const room = () => a.getRoom(roomId);
    await waitUntil(
      a,
      [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Decrypted],
      () => !!room()?.getLiveTimeline().getEvents().some((e) => e.isEncrypted() && e.getClearContent()?.body === 'secret hello'),
      'the decrypted message',
      30_000,
    );
    // With the e2ee extension on, an idle client long-polls (key counts alone are no news).
    const before = requests;
    await new Promise((r) => setTimeout(r, 1000));
    expect(requests - before).to.be.at.most(2);
    const claimed = await otks();
    // Rust crypto keeps a stock of one-time keys: it uploaded them on the e2ee extension's counts.
    expect(Object.keys(claimed.one_time_keys?.[alice.userId]?.[alice.deviceId] ?? {})).to.have.length(1);
  });
});
