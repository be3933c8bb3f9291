import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';

const BASE = '/_matrix/client/unstable/org.matrix.msc4140/delayed_events';

describe('scheduled messages (MSC4140 delayed events)', () => {
  let t: TestServer;
  let alice: TestUser;
  let roomId: string;
  const enc = encodeURIComponent;

  before(async () => {
    t = await startTestServer({ max_event_delay_duration: '1h' });
    alice = await t.registerUser();
    roomId = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: {} })).body.room_id;
  });
  after(async () => t?.close());

  const messages = async () => {
    const res = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`, { token: alice.accessToken });
    return (res.body.chunk as any[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
  };
  const schedule = (body: string, delay: number) =>
    t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${Math.random()}?org.matrix.msc4140.delay=${delay}`, {
      token: alice.accessToken,
      body: { msgtype: 'm.text', body },
    });

  it('is advertised when max_event_delay_duration is set', async () => {
    const res = await t.request('GET', '/_matrix/client/versions');
    expect(res.body.unstable_features['org.matrix.msc4140']).to.equal(true);
  });

  it('sends a scheduled message when its delay runs out, within a second', async () => {
    const res = await schedule('later', 700);
    expect(res.status).to.equal(200);
    expect(res.body.delay_id).to.be.a('string');
    expect(await messages()).to.not.include('later');
    const list = await t.request('GET', BASE, { token: alice.accessToken });
    expect(list.body.delayed_events.map((d: any) => d.delay_id)).to.include(res.body.delay_id);
    const deadline = Date.now() + 5000;
    while (!(await messages()).includes('later')) {
      expect(Date.now()).to.be.lessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('cancels, sends now, and restarts by delay ID', async () => {
    const a = await schedule('cancelled', 60_000);
    const cancel = await t.request('POST', `${BASE}/${a.body.delay_id}`, { body: { action: 'cancel' } });
    expect(cancel.status).to.equal(200);
    const b = await schedule('sent now', 60_000);
    await t.request('POST', `${BASE}/${b.body.delay_id}/send`, { body: {} });
    expect(await messages()).to.include('sent now');
    const c = await schedule('restarted', 60_000);
    const restart = await t.request('POST', `${BASE}/${c.body.delay_id}/restart`, { body: {} });
    expect(restart.status).to.equal(200);
    const unknown = await t.request('POST', `${BASE}/nope/cancel`, { body: {} });
    expect(unknown.status).to.equal(404);
    expect(await messages()).to.not.include('cancelled');
  });

  it('refuses a delay over the maximum and stores nothing', async () => {
    const before = (await t.request('GET', BASE, { token: alice.accessToken })).body.delayed_events.length;
    const res = await schedule('too late', 2 * 3600 * 1000);
    expect(res.status).to.equal(400);
    expect(res.body.errcode).to.equal('M_MAX_DELAY_EXCEEDED');
    const after = (await t.request('GET', BASE, { token: alice.accessToken })).body.delayed_events.length;
    expect(after).to.equal(before);
  });

  it('survives a restart: a due event is sent by the next process', async () => {
    const res = await schedule('after restart', 300);
    expect(res.status).to.equal(200);
    // Stop the timer as a shutdown would, then start a fresh service over the same database.
    t.server.services.delayedEvents.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(await messages()).to.not.include('after restart');
    const { DelayedEventService } = await import('../../src/services/delayed-events.js');
    const { DelayedEventStore } = await import('../../src/storage/delayed-events.js');
    const s = t.server.services;
    const fresh = new DelayedEventService(s.storage, new DelayedEventStore(s.storage.db), s.rooms.messages, s.rooms.state, 3600_000);
    await fresh.start();
    const deadline = Date.now() + 5000;
    while (!(await messages()).includes('after restart')) {
      expect(Date.now()).to.be.lessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    fresh.close();
  });
});
