/** PUT /send, PUT /state and redaction (spec: Client-Server API "Sending events", "Redactions"). */
import { expect } from 'chai';
import type { TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { countRows, expectMatrixError, login, rejectionOf, useServer } from './helpers/index.js';
import { CS, enc, putStateRaw, roomRowCounts, sendRaw, stateContent, stateEvent } from './helpers/rooms.js';

describe('send, state, redact', function () {
  const s = useServer();
  let alice: TestUser; // creator, PL 100
  let bob: TestUser; // PL 0
  let carol: TestUser; // not in the rooms
  let roomId: string;
  before(async () => {
    alice = await s.t.registerUser();
    bob = await s.t.registerUser();
    carol = await s.t.registerUser();
    roomId = (await client(alice).createRoom({ preset: sdk.Preset.PublicChat })).room_id;
    await client(bob).joinRoom(roomId);
  });
  const client = (u: TestUser) => sdkClient(s.t.baseUrl, u);
  const text = (body: string) => ({ msgtype: 'm.text', body });

  async function refusedWithoutWrites(call: () => Promise<{ status: number; body: any; headers: Headers }>, status = 403, errcode = 'M_FORBIDDEN'): Promise<void> {
    const before = await roomRowCounts(s.t);
    expectMatrixError(await call(), status, errcode);
    expect(await roomRowCounts(s.t)).to.deep.equal(before);
  }

  describe('transaction IDs', () => {
    it('the same device and txnId give the same event and store it once', async () => {
      const first = await sendRaw(s.t, bob, roomId, 'm.room.message', text('once'), 'txn-same');
      expect(first.status).to.equal(200);
      const events = await countRows(s.t, 'events');
      const second = await sendRaw(s.t, bob, roomId, 'm.room.message', text('once'), 'txn-same');
      expect(second.status).to.equal(200);
      expect(second.body.event_id).to.equal(first.body.event_id);
      // Even with different content the retry returns the first event.
      const third = await sendRaw(s.t, bob, roomId, 'm.room.message', text('changed'), 'txn-same');
      expect(third.body.event_id).to.equal(first.body.event_id);
      expect(await countRows(s.t, 'events')).to.equal(events);
    });

    it('the sdk retrying a send with its txnId gets the same event', async () => {
      const b = client(bob);
      const a = await b.sendEvent(roomId, 'm.room.message' as any, text('sdk') as any, 'sdk-txn-1');
      const again = await b.sendEvent(roomId, 'm.room.message' as any, text('sdk') as any, 'sdk-txn-1');
      expect(again.event_id).to.equal(a.event_id);
    });

    it('another device (or another user) with the same txnId makes a new event', async () => {
      const first = await sendRaw(s.t, bob, roomId, 'm.room.message', text('d1'), 'txn-dev');
      const other = await login(s.t, bob.userId, bob.password);
      expect(other.device_id).to.not.equal(bob.deviceId);
      const events = await countRows(s.t, 'events');
      const second = await sendRaw(s.t, { ...bob, accessToken: other.access_token, deviceId: other.device_id }, roomId, 'm.room.message', text('d2'), 'txn-dev');
      expect(second.status).to.equal(200);
      expect(second.body.event_id).to.not.equal(first.body.event_id);
      const third = await sendRaw(s.t, alice, roomId, 'm.room.message', text('a'), 'txn-dev');
      expect(third.body.event_id).to.not.equal(first.body.event_id);
      expect(await countRows(s.t, 'events')).to.equal(events + 2);
    });

    it('the same txnId on another path (room, event type, redact) is a new request', async () => {
      const other = (await client(alice).createRoom({ preset: sdk.Preset.PublicChat })).room_id;
      await client(bob).joinRoom(other);
      const here = await sendRaw(s.t, bob, roomId, 'm.room.message', text('here'), 'txn-path');
      const there = await sendRaw(s.t, bob, other, 'm.room.message', text('there'), 'txn-path');
      expect(there.status).to.equal(200);
      expect(there.body.event_id).to.not.equal(here.body.event_id);
      expect((await s.t.server.services.storage.events.getEvent(there.body.event_id))!.event.room_id).to.equal(other);
      const otherType = await sendRaw(s.t, bob, roomId, 'org.example.type', { a: 1 }, 'txn-path');
      expect(otherType.body.event_id).to.not.equal(here.body.event_id);
      const red = await s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/redact/${enc(here.body.event_id)}/txn-path`, { token: bob.accessToken, body: {} });
      expect(red.status).to.equal(200);
      expect((await s.t.server.services.storage.events.getEvent(red.body.event_id))!.event.type).to.equal('m.room.redaction');
      // Each is still idempotent on its own path.
      expect((await sendRaw(s.t, bob, other, 'm.room.message', text('there'), 'txn-path')).body.event_id).to.equal(there.body.event_id);
      // The client's transaction ID can be read back for unsigned.transaction_id.
      const ids = await s.t.server.services.storage.events.transactionIdsOf(bob.userId, bob.deviceId, [here.body.event_id, red.body.event_id]);
      expect(Object.fromEntries(ids)).to.deep.equal({ [here.body.event_id]: 'txn-path', [red.body.event_id]: 'txn-path' });
      const echoed = await s.t.request('GET', `${CS}/rooms/${enc(other)}/event/${enc(there.body.event_id)}`, { token: bob.accessToken });
      expect(echoed.status).to.equal(200);
      expect(echoed.body.unsigned.transaction_id).to.equal('txn-path');
    });

    it('concurrent retries of one txnId store one event', async () => {
      const events = await countRows(s.t, 'events');
      const replies = await Promise.all(Array.from({ length: 8 }, () => sendRaw(s.t, bob, roomId, 'm.room.message', text('race'), 'txn-race')));
      for (const r of replies) expect(r.status).to.equal(200);
      expect(new Set(replies.map((r) => r.body.event_id)).size).to.equal(1);
      expect(await countRows(s.t, 'events')).to.equal(events + 1);
    });
  });

  describe('power levels', () => {
    let plRoom: string;
    before(async () => {
      plRoom = (await client(alice).createRoom({
        preset: sdk.Preset.PublicChat,
        power_level_content_override: { events_default: 0, state_default: 50, events: { 'org.example.guarded': 10, 'm.room.name': 50 } },
      })).room_id;
      await client(bob).joinRoom(plRoom);
    });

    it('a user below a specific event level gets 403 M_FORBIDDEN', async () => {
      await refusedWithoutWrites(() => sendRaw(s.t, bob, plRoom, 'org.example.guarded', { x: 1 }));
      expect((await sendRaw(s.t, bob, plRoom, 'org.example.other', { x: 1 })).status).to.equal(200);
      expect((await sendRaw(s.t, alice, plRoom, 'org.example.guarded', { x: 1 })).status).to.equal(200);
    });

    it('a user below state_default gets 403; a specific state level applies too', async () => {
      await refusedWithoutWrites(() => putStateRaw(s.t, bob, plRoom, 'org.example.state', '', { a: 1 }));
      await refusedWithoutWrites(() => putStateRaw(s.t, bob, plRoom, 'm.room.name', '', { name: 'nope' }));
      const err = await rejectionOf(client(bob).sendStateEvent(plRoom, 'm.room.topic' as any, { topic: 'x' } as any, ''));
      expect(err.errcode).to.equal('M_FORBIDDEN');
      expect(err.httpStatus).to.equal(403);
      const ok = await client(alice).sendStateEvent(plRoom, 'm.room.topic' as any, { topic: 'by alice' } as any, '');
      expect(ok.event_id).to.match(/^\$/);
      expect(await stateContent(s.t, alice, plRoom, 'm.room.topic')).to.deep.equal({ topic: 'by alice' });
    });

    it('a user below events_default gets 403', async () => {
      await client(alice).sendStateEvent(plRoom, 'm.room.power_levels' as any, {
        ...(await stateContent(s.t, alice, plRoom, 'm.room.power_levels')),
        events_default: 5,
      } as any, '');
      await refusedWithoutWrites(() => sendRaw(s.t, bob, plRoom, 'm.room.message', text('muted')));
      expect((await sendRaw(s.t, alice, plRoom, 'm.room.message', text('still here'))).status).to.equal(200);
    });

    it('a user cannot raise themselves: power level changes above own level are 403', async () => {
      const pl = await stateContent(s.t, alice, plRoom, 'm.room.power_levels');
      await refusedWithoutWrites(() => putStateRaw(s.t, bob, plRoom, 'm.room.power_levels', '', { ...pl, users: { ...pl.users, [bob.userId]: 100 } }));
    });
  });

  describe('state keys and state rules', () => {
    it("a state_key that is another user's ID is 403; one's own is allowed", async () => {
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, roomId, 'org.example.user_state', bob.userId, { a: 1 }));
      const own = await putStateRaw(s.t, alice, roomId, 'org.example.user_state', alice.userId, { a: 1 });
      expect(own.status).to.equal(200);
      expect(await stateContent(s.t, alice, roomId, 'org.example.user_state', alice.userId)).to.deep.equal({ a: 1 });
    });

    it('setting state replaces it; the same content again returns the same event', async () => {
      const first = await putStateRaw(s.t, alice, roomId, 'org.example.repeat', 'k', { v: 1 });
      const again = await putStateRaw(s.t, alice, roomId, 'org.example.repeat', 'k', { v: 1 });
      expect(again.body.event_id).to.equal(first.body.event_id);
      const second = await putStateRaw(s.t, alice, roomId, 'org.example.repeat', 'k', { v: 2 });
      expect(second.body.event_id).to.not.equal(first.body.event_id);
      const ev = await stateEvent(s.t, roomId, 'org.example.repeat', 'k');
      expect(ev.event_id).to.equal(second.body.event_id);
      const stored = await s.t.server.services.storage.events.getEvent(ev.event_id);
      expect(stored!.unsigned).to.deep.include({ replaces_state: first.body.event_id, prev_content: { v: 1 } });
    });

    it('m.room.canonical_alias must name aliases of this room: else 400 M_BAD_ALIAS', async () => {
      const other = (await client(alice).createRoom({ room_alias_name: 'other-room' })).room_id;
      const otherAlias = `#other-room:${s.t.config.serverName}`;
      expect(other).to.be.a('string');
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, roomId, 'm.room.canonical_alias', '', { alias: otherAlias }), 400, 'M_BAD_ALIAS');
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, roomId, 'm.room.canonical_alias', '', { alias: `#nowhere:${s.t.config.serverName}` }), 400, 'M_BAD_ALIAS');
      const mine = `#mine:${s.t.config.serverName}`;
      expect((await s.t.request('PUT', `${CS}/directory/room/${enc(mine)}`, { token: alice.accessToken, body: { room_id: roomId } })).status).to.equal(200);
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, roomId, 'm.room.canonical_alias', '', { alias: mine, alt_aliases: [otherAlias] }), 400, 'M_BAD_ALIAS');
      expect((await putStateRaw(s.t, alice, roomId, 'm.room.canonical_alias', '', { alias: mine, alt_aliases: [mine] })).status).to.equal(200);
    });
  });

  describe('size', () => {
    it('an event whose canonical JSON exceeds 65 536 bytes is 413 M_TOO_LARGE, though its body fits', async () => {
      // The content alone is under 65 536 bytes; the signed event around it is not.
      const body = 'x'.repeat(65_536 - 200);
      expect(Buffer.byteLength(JSON.stringify(text(body)))).to.be.below(65_536);
      await refusedWithoutWrites(() => sendRaw(s.t, bob, roomId, 'm.room.message', text(body)), 413, 'M_TOO_LARGE');
      // Bytes, not characters: 30 000 three-byte characters are 90 000 bytes.
      await refusedWithoutWrites(() => sendRaw(s.t, bob, roomId, 'm.room.message', text('€'.repeat(30_000))), 413, 'M_TOO_LARGE');
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, roomId, 'org.example.big', '', { big: 'y'.repeat(66_000) }), 413, 'M_TOO_LARGE');
      // Over the HTTP body limit too.
      await refusedWithoutWrites(() => sendRaw(s.t, bob, roomId, 'm.room.message', text('z'.repeat(200_000))), 413, 'M_TOO_LARGE');
      // A big event under the limit is fine.
      expect((await sendRaw(s.t, bob, roomId, 'm.room.message', text('x'.repeat(60_000)))).status).to.equal(200);
    });
  });

  describe('event format', () => {
    const json = (raw: string) => ({ rawBody: raw, headers: { 'Content-Type': 'application/json' }, token: bob.accessToken });

    it('content that is not canonical JSON (floats, huge integers) is 400 M_BAD_JSON', async () => {
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/f1`, json('{"body":"x","v":1.5}')), 400, 'M_BAD_JSON');
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/f2`, json('{"body":"x","v":9007199254740993}')), 400, 'M_BAD_JSON');
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/state/org.example.f/`, { ...json('{"v":0.5}'), token: alice.accessToken }), 400, 'M_BAD_JSON');
      // Whole numbers written with a fraction are integers to JSON, so they pass.
      expect((await s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/f3`, json('{"body":"x","v":2.0}'))).status).to.equal(200);
    });

    it('a type or state_key over 255 bytes is refused as too large', async () => {
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, roomId, 'org.example.k', 'k'.repeat(256), {}), 413, 'M_TOO_LARGE');
      await refusedWithoutWrites(() => sendRaw(s.t, bob, roomId, 't'.repeat(256), {}), 413, 'M_TOO_LARGE');
      expect((await putStateRaw(s.t, alice, roomId, 'org.example.k', 'k'.repeat(255), {})).status).to.equal(200);
    });

    it('bodies that are not JSON objects are 400', async () => {
      await refusedWithoutWrites(() => sendRaw(s.t, bob, roomId, 'm.room.message', [1]), 400, 'M_BAD_JSON');
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/nj`, json('{nope')), 400, 'M_NOT_JSON');
    });
  });

  describe('membership of the sender', () => {
    it('a message to a room the user is not in is 403', async () => {
      await refusedWithoutWrites(() => sendRaw(s.t, carol, roomId, 'm.room.message', text('hi')));
      await refusedWithoutWrites(() => putStateRaw(s.t, carol, roomId, 'org.example.x', '', {}));
    });

    it('a message to an unknown room is 404 M_NOT_FOUND (or 403) and stores nothing', async () => {
      const before = await roomRowCounts(s.t);
      const res = await sendRaw(s.t, carol, `!unknown:${s.t.config.serverName}`, 'm.room.message', text('hi'));
      expect([403, 404]).to.include(res.status);
      expect(res.body.errcode).to.equal(res.status === 404 ? 'M_NOT_FOUND' : 'M_FORBIDDEN');
      expect(await roomRowCounts(s.t)).to.deep.equal(before);
    });
  });

  describe('redaction', () => {
    it('own events can be redacted; others\' need the redact level', async () => {
      const b = client(bob);
      const a = client(alice);
      const own = await b.sendTextMessage(roomId, 'mine');
      const red = await b.redactEvent(roomId, own.event_id, undefined, { reason: 'oops' });
      expect(red.event_id).to.match(/^\$/);
      const redaction = (await s.t.server.services.storage.events.getEvent(red.event_id))!.event;
      expect(redaction.type).to.equal('m.room.redaction');
      // Room version 11 carries redacts in content.
      expect(redaction.content).to.deep.equal({ redacts: own.event_id, reason: 'oops' });

      const alices = await a.sendTextMessage(roomId, 'from alice');
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/redact/${enc(alices.event_id)}/r1`, { token: bob.accessToken, body: {} }));
      // Alice (PL 100 ≥ redact 50) may redact Bob's events.
      const bobs = await b.sendTextMessage(roomId, 'from bob');
      const byAlice = await a.redactEvent(roomId, bobs.event_id);
      expect(byAlice.event_id).to.match(/^\$/);
      const rows = await s.t.server.services.storage.db.query('SELECT redacted_by FROM redactions WHERE event_id = $1', [bobs.event_id]);
      expect(rows.rows.map((r: any) => r.redacted_by)).to.deep.equal([byAlice.event_id]);
    });

    it('a redaction retried with its txnId is stored once', async () => {
      const msg = await client(bob).sendTextMessage(roomId, 'retry me');
      const path = `${CS}/rooms/${enc(roomId)}/redact/${enc(msg.event_id)}/redact-txn`;
      const first = await s.t.request('PUT', path, { token: bob.accessToken, body: { reason: 'r' } });
      const events = await countRows(s.t, 'events');
      const second = await s.t.request('PUT', path, { token: bob.accessToken, body: { reason: 'r' } });
      expect(second.body.event_id).to.equal(first.body.event_id);
      expect(await countRows(s.t, 'events')).to.equal(events);
    });

    it('redacting an unknown event, or one of another room, is 404', async () => {
      const other = (await client(alice).createRoom({})).room_id;
      const there = await client(alice).sendTextMessage(other, 'elsewhere');
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/redact/${enc(there.event_id)}/r2`, { token: alice.accessToken, body: {} }), 404, 'M_NOT_FOUND');
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/redact/${enc('$nope')}/r3`, { token: alice.accessToken, body: {} }), 404, 'M_NOT_FOUND');
    });

    it('a non-member cannot redact, even their old events', async () => {
      const dave = await s.t.registerUser();
      await client(dave).joinRoom(roomId);
      const msg = await client(dave).sendTextMessage(roomId, 'before leaving');
      await client(dave).leave(roomId);
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/redact/${enc(msg.event_id)}/r4`, { token: dave.accessToken, body: {} }));
    });

    it('v12: a creator (not in the power levels) may redact others; others may not', async () => {
      const v12 = (await client(alice).createRoom({ room_version: '12', preset: sdk.Preset.PublicChat })).room_id;
      await client(bob).joinRoom(v12);
      const bobs = await client(bob).sendTextMessage(v12, 'v12 bob');
      const alices = await client(alice).sendTextMessage(v12, 'v12 alice');
      await refusedWithoutWrites(() => s.t.request('PUT', `${CS}/rooms/${enc(v12)}/redact/${enc(alices.event_id)}/r12`, { token: bob.accessToken, body: {} }));
      const red = await client(alice).redactEvent(v12, bobs.event_id);
      expect(red.event_id).to.match(/^\$/);
    });

    it('v10 rooms carry redacts at the top level', async () => {
      const v10 = (await client(alice).createRoom({ room_version: '10' })).room_id;
      const msg = await client(alice).sendTextMessage(v10, 'v10');
      const red = await client(alice).redactEvent(v10, msg.event_id);
      const ev = (await s.t.server.services.storage.events.getEvent(red.event_id))!.event;
      expect(ev.redacts).to.equal(msg.event_id);
      expect(ev.content).to.not.have.property('redacts');
    });
  });
});
