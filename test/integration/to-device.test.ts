import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

describe('send-to-device', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => t?.close());

  const sync = (token: string, q = '') => t.request('GET', `/_matrix/client/v3/sync?${q}`, { token });
  const toDevice = (res: { body: any }, type?: string) => (res.body.to_device?.events ?? []).filter((e: any) => !type || e.type === type);
  const send = (from: TestUser, type: string, txnId: string, messages: unknown) =>
    t.request('PUT', `/_matrix/client/v3/sendToDevice/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`, { token: from.accessToken, body: { messages } });
  let txn = 0;

  it('arrives exactly once: again on a retry with the old since, never after the next since acknowledges it', async () => {
    const s0 = await sync(bob.accessToken);
    await sdkClient(t.baseUrl, alice).sendToDevice('org.example.ping', new Map([[bob.userId, new Map([[bob.deviceId, { n: 1 }]])]]));
    const s1 = await sync(bob.accessToken, `since=${s0.body.next_batch}`);
    expect(toDevice(s1, 'org.example.ping')).to.deep.equal([{ sender: alice.userId, type: 'org.example.ping', content: { n: 1 } }]);
    // The response was lost: the client retries with the same token and gets it again.
    const retry = await sync(bob.accessToken, `since=${s0.body.next_batch}`);
    expect(toDevice(retry, 'org.example.ping')).to.have.length(1);
    // Syncing with the new token acknowledges it: it is not delivered again…
    const s2 = await sync(bob.accessToken, `since=${s1.body.next_batch}&timeout=100`);
    expect(toDevice(s2, 'org.example.ping')).to.have.length(0);
    // …not even to an old token, since it is deleted.
    const late = await sync(bob.accessToken, `since=${s0.body.next_batch}&timeout=100`);
    expect(toDevice(late, 'org.example.ping')).to.have.length(0);
    const { rows } = await t.server.services.storage.db.query('SELECT count(*)::int AS n FROM device_inbox WHERE user_id = $1', [bob.userId]);
    expect(rows[0].n).to.equal(0);
  });

  it("'*' reaches every device of the user, and only that user's", async () => {
    const login = await t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: bob.password },
    });
    expect(login.status).to.equal(200);
    const bob2 = login.body.access_token as string;
    const a0 = await sync(bob.accessToken);
    const b0 = await sync(bob2);
    const al0 = await sync(alice.accessToken);
    expect((await send(alice, 'org.example.all', `t${++txn}`, { [bob.userId]: { '*': { hello: 'all' } } })).status).to.equal(200);
    const a1 = await sync(bob.accessToken, `since=${a0.body.next_batch}`);
    const b1 = await sync(bob2, `since=${b0.body.next_batch}`);
    const al1 = await sync(alice.accessToken, `since=${al0.body.next_batch}&timeout=100`);
    expect(toDevice(a1, 'org.example.all').map((e: any) => e.content)).to.deep.equal([{ hello: 'all' }]);
    expect(toDevice(b1, 'org.example.all').map((e: any) => e.content)).to.deep.equal([{ hello: 'all' }]);
    expect(toDevice(al1, 'org.example.all')).to.have.length(0);
  });

  it('a repeated transaction ID stores nothing and answers {}', async () => {
    const s0 = await sync(bob.accessToken);
    const id = `dup${++txn}`;
    const first = await send(alice, 'org.example.dup', id, { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
    const again = await send(alice, 'org.example.dup', id, { [bob.userId]: { [bob.deviceId]: { n: 2 } } });
    expect(first.status).to.equal(200);
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal({});
    const s1 = await sync(bob.accessToken, `since=${s0.body.next_batch}`);
    expect(toDevice(s1, 'org.example.dup').map((e: any) => e.content)).to.deep.equal([{ n: 1 }]);
    // The same ID from another sender is another transaction.
    const carol = await t.registerUser();
    await send(carol, 'org.example.dup', id, { [bob.userId]: { [bob.deviceId]: { n: 3 } } });
    const s2 = await sync(bob.accessToken, `since=${s1.body.next_batch}`);
    expect(toDevice(s2, 'org.example.dup').map((e: any) => e.content)).to.deep.equal([{ n: 3 }]);
  });

  it('a waiting long-poll wakes on a to-device message', async () => {
    const s0 = await sync(bob.accessToken);
    const started = Date.now();
    const pending = sync(bob.accessToken, `since=${s0.body.next_batch}&timeout=10000`);
    await new Promise((r) => setTimeout(r, 300));
    await send(alice, 'org.example.wake', `w${++txn}`, { [bob.userId]: { [bob.deviceId]: { wake: true } } });
    const res = await pending;
    expect(Date.now() - started).to.be.below(5000);
    expect(toDevice(res, 'org.example.wake').map((e: any) => e.content)).to.deep.equal([{ wake: true }]);
  });

  it('delivers at most 100 per sync and the rest next, none lost or repeated', async () => {
    const s0 = await sync(bob.accessToken);
    for (let i = 0; i < 130; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) => send(alice, 'org.example.batch', `b${i + j}`, { [bob.userId]: { [bob.deviceId]: { i: i + j } } })),
      );
    }
    const s1 = await sync(bob.accessToken, `since=${s0.body.next_batch}`);
    const first = toDevice(s1, 'org.example.batch').map((e: any) => e.content.i);
    expect(first).to.have.length(100);
    const s2 = await sync(bob.accessToken, `since=${s1.body.next_batch}`);
    const second = toDevice(s2, 'org.example.batch').map((e: any) => e.content.i);
    expect(second).to.have.length(30);
    expect([...first, ...second].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 130 }, (_, i) => i));
    const s3 = await sync(bob.accessToken, `since=${s2.body.next_batch}&timeout=100`);
    expect(toDevice(s3, 'org.example.batch')).to.have.length(0);
  });

  it("a deleted device's inbox goes with it, even if the device ID logs in again", async () => {
    const login = (deviceId?: string) =>
      t.request('POST', '/_matrix/client/v3/login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: bob.password, device_id: deviceId },
      });
    const first = await login('PHONE');
    expect(first.status).to.equal(200);
    await send(alice, 'org.example.lost', `l${++txn}`, { [bob.userId]: { PHONE: { secret: 1 } } });
    const { rows } = await t.server.services.storage.db.query('SELECT count(*)::int AS n FROM device_inbox WHERE device_id = $1', ['PHONE']);
    expect(rows[0].n).to.equal(1);
    expect((await t.request('POST', '/_matrix/client/v3/logout', { token: first.body.access_token })).status).to.equal(200);
    const again = await login('PHONE');
    const res = await sync(again.body.access_token);
    expect(toDevice(res, 'org.example.lost')).to.have.length(0);
  });

  it('drops messages to unknown devices and remote users; refuses bad input', async () => {
    const s0 = await sync(bob.accessToken);
    const res = await send(alice, 'org.example.drop', `d${++txn}`, {
      [bob.userId]: { NOSUCHDEVICE: { x: 1 } },
      '@someone:elsewhere.example': { DEV: { x: 2 } },
    });
    expect(res.status).to.equal(200);
    const s1 = await sync(bob.accessToken, `since=${s0.body.next_batch}&timeout=100`);
    expect(toDevice(s1, 'org.example.drop')).to.have.length(0);

    expect((await send(alice, 'org.example.bad', `d${++txn}`, { 'not-a-user': { DEV: {} } })).status).to.equal(400);
    const noMessages = await t.request('PUT', `/_matrix/client/v3/sendToDevice/org.example.bad/d${++txn}`, { token: alice.accessToken, body: {} });
    expect(noMessages.status).to.equal(400);
    const big = await send(alice, 'org.example.big', `d${++txn}`, { [bob.userId]: { [bob.deviceId]: { blob: 'x'.repeat(70_000) } } });
    expect(big.status).to.equal(413);
    expect(big.body.errcode).to.equal('M_TOO_LARGE');
  });
});
