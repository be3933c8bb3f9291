/**
 * What the server refuses to send (PUT /send, /state, /redact) beyond the auth rules, as Synapse
 * does and clients expect: relations to events elsewhere, duplicate reactions, threads from
 * related events, redacting the create event or server ACL, canonical aliases checked against the
 * content they replace, and suspended accounts. Every refusal stores nothing.
 */
import { expect } from 'chai';
import type { TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { expectMatrixError, login, useServer } from './helpers/index.js';
import { CS, enc, nextTxnId, putStateRaw, roomRowCounts, sendRaw, stateEvent, storedEvents } from './helpers/rooms.js';

describe('send checks', function () {
  const s = useServer();
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let messageId: string;
  before(async () => {
    alice = await s.t.registerUser(undefined, { displayname: 'Alice' });
    bob = await s.t.registerUser(undefined, { displayname: 'Bob' });
    roomId = (await sdkClient(s.t.baseUrl, alice).createRoom({ preset: sdk.Preset.PublicChat })).room_id;
    await sdkClient(s.t.baseUrl, bob).joinRoom(roomId);
    messageId = (await sendRaw(s.t, alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'hello' })).body.event_id;
  });

  const react = (u: TestUser, target: string, key: unknown, txnId = nextTxnId(), room = roomId) =>
    sendRaw(s.t, u, room, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key } }, txnId);
  const redact = (u: TestUser, eventId: string, room = roomId) =>
    s.t.request('PUT', `${CS}/rooms/${enc(room)}/redact/${enc(eventId)}/${nextTxnId()}`, { token: u.accessToken, body: {} });

  async function refusedWithoutWrites(call: () => Promise<{ status: number; body: any; headers: Headers }>, status: number, errcode: string): Promise<void> {
    const before = await roomRowCounts(s.t);
    expectMatrixError(await call(), status, errcode);
    expect(await roomRowCounts(s.t)).to.deep.equal(before);
  }

  describe('relations', () => {
    it('a sender reacts with one key once: 400 M_DUPLICATE_ANNOTATION, until the first reaction is redacted', async () => {
      const first = await react(bob, messageId, '👍');
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      await refusedWithoutWrites(() => react(bob, messageId, '👍'), 400, 'M_DUPLICATE_ANNOTATION');
      // Another key, or another sender with the same key, is a different annotation.
      expect((await react(bob, messageId, '🎉')).status).to.equal(200);
      expect((await react(alice, messageId, '👍')).status).to.equal(200);
      expect((await redact(bob, first.body.event_id)).status).to.equal(200);
      expect((await react(bob, messageId, '👍')).status).to.equal(200);
    });

    it('a retried reaction (same transaction ID) gets its own event back, not a duplicate error', async () => {
      const txnId = nextTxnId();
      const first = await react(bob, messageId, '🚀', txnId);
      const again = await react(bob, messageId, '🚀', txnId);
      expect(again.status, JSON.stringify(again.body)).to.equal(200);
      expect(again.body.event_id).to.equal(first.body.event_id);
    });

    it('an annotation needs a key of at most 500 characters', async () => {
      await refusedWithoutWrites(() => react(bob, messageId, undefined), 400, 'M_INVALID_PARAM');
      await refusedWithoutWrites(() => react(bob, messageId, 'x'.repeat(501)), 400, 'M_INVALID_PARAM');
      expect((await react(bob, messageId, 'y'.repeat(500))).status).to.equal(200);
    });

    it('a relation must point into the same room, at an event the server knows', async () => {
      const other = (await sdkClient(s.t.baseUrl, bob).createRoom({})).room_id;
      const elsewhere = (await sendRaw(s.t, bob, other, 'm.room.message', { msgtype: 'm.text', body: 'elsewhere' })).body.event_id;
      await refusedWithoutWrites(() => react(bob, elsewhere, '👍'), 400, 'M_UNKNOWN');
      await refusedWithoutWrites(() => react(bob, '$unknown-event', '👍'), 400, 'M_UNKNOWN');
      const edit = { msgtype: 'm.text', body: '* edited', 'm.new_content': { msgtype: 'm.text', body: 'edited' }, 'm.relates_to': { rel_type: 'm.replace', event_id: elsewhere } };
      await refusedWithoutWrites(() => sendRaw(s.t, bob, roomId, 'm.room.message', edit), 400, 'M_UNKNOWN');
    });

    it('a thread cannot start from an event that has a relation itself; from a plain message it can', async () => {
      const threadRoot = (await sendRaw(s.t, alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'root' })).body.event_id;
      const inThread = { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: threadRoot } };
      const reply = await sendRaw(s.t, bob, roomId, 'm.room.message', inThread);
      expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
      const nested = { msgtype: 'm.text', body: 'nested', 'm.relates_to': { rel_type: 'm.thread', event_id: reply.body.event_id } };
      await refusedWithoutWrites(() => sendRaw(s.t, alice, roomId, 'm.room.message', nested), 400, 'M_UNKNOWN');
    });

    it('a reply (m.in_reply_to without rel_type) is no relation and needs no checks', async () => {
      const reply = { msgtype: 'm.text', body: 'reply', 'm.relates_to': { 'm.in_reply_to': { event_id: '$not-here' } } };
      expect((await sendRaw(s.t, bob, roomId, 'm.room.message', reply)).status).to.equal(200);
    });
  });

  describe('redactions', () => {
    it('nobody redacts the create event or the server ACL, not even the room creator: 403', async () => {
      const create = await stateEvent(s.t, roomId, 'm.room.create');
      await refusedWithoutWrites(() => redact(alice, create.event_id), 403, 'M_FORBIDDEN');
      const acl = await putStateRaw(s.t, alice, roomId, 'm.room.server_acl', '', { allow: ['*'], deny: ['evil.example'], allow_ip_literals: false });
      expect(acl.status, JSON.stringify(acl.body)).to.equal(200);
      await refusedWithoutWrites(() => redact(alice, acl.body.event_id), 403, 'M_FORBIDDEN');
      // Through PUT /send/m.room.redaction too.
      await refusedWithoutWrites(() => sendRaw(s.t, alice, roomId, 'm.room.redaction', { redacts: create.event_id }), 403, 'M_FORBIDDEN');
    });
  });

  describe('state', () => {
    it('setting the same content again, keys in another order, stores nothing and returns the current event', async () => {
      const first = await putStateRaw(s.t, alice, roomId, 'org.example.settings', '', { a: 1, b: { c: 2, d: 3 } });
      const before = (await storedEvents(s.t, roomId)).length;
      const again = await putStateRaw(s.t, alice, roomId, 'org.example.settings', '', { b: { d: 3, c: 2 }, a: 1 });
      expect(again.body.event_id).to.equal(first.body.event_id);
      expect((await storedEvents(s.t, roomId)).length).to.equal(before);
    });

    it('m.room.canonical_alias: only aliases the event adds are checked — a deleted alias already listed does not block other changes', async () => {
      const room = (await sdkClient(s.t.baseUrl, alice).createRoom({ room_alias_name: 'send-checks-main' })).room_id;
      const main = `#send-checks-main:${s.t.config.serverName}`;
      const extra = `#send-checks-extra:${s.t.config.serverName}`;
      expect((await s.t.request('PUT', `${CS}/directory/room/${enc(extra)}`, { token: alice.accessToken, body: { room_id: room } })).status).to.equal(200);
      expect((await putStateRaw(s.t, alice, room, 'm.room.canonical_alias', '', { alias: main, alt_aliases: [extra] })).status).to.equal(200);
      // The alias stops pointing anywhere; the event still lists it.
      const free = `#send-checks-free:${s.t.config.serverName}`;
      await s.t.server.services.storage.db.query('DELETE FROM room_aliases WHERE room_alias = $1', [main]);
      expect((await s.t.request('PUT', `${CS}/directory/room/${enc(free)}`, { token: alice.accessToken, body: { room_id: room } })).status).to.equal(200);
      const changed = await putStateRaw(s.t, alice, room, 'm.room.canonical_alias', '', { alias: main, alt_aliases: [extra, free] });
      expect(changed.status, JSON.stringify(changed.body)).to.equal(200);
      // A new alias that points elsewhere, or is no alias at all, is refused.
      const elsewhere = `#send-checks-elsewhere:${s.t.config.serverName}`;
      await sdkClient(s.t.baseUrl, bob).createRoom({ room_alias_name: 'send-checks-elsewhere' });
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, room, 'm.room.canonical_alias', '', { alias: main, alt_aliases: [extra, free, elsewhere] }), 400, 'M_BAD_ALIAS');
      await refusedWithoutWrites(() => putStateRaw(s.t, alice, room, 'm.room.canonical_alias', '', { alias: 'not-an-alias' }), 400, 'M_INVALID_PARAM');
    });
  });

  describe('a suspended account', () => {
    it('may redact its own events, but not send messages or state or redact others: 403 M_USER_SUSPENDED', async () => {
      const erin = await s.t.registerUser();
      await sdkClient(s.t.baseUrl, erin).joinRoom(roomId);
      const own = (await sendRaw(s.t, erin, roomId, 'm.room.message', { msgtype: 'm.text', body: 'regrettable' })).body.event_id;
      // Suspended before the second session's token is first used (tokens are cached on first use).
      const session = await login(s.t, erin.userId, erin.password);
      await s.t.server.services.storage.db.query('UPDATE users SET suspended = true WHERE user_id = $1', [erin.userId]);
      const suspended = { ...erin, accessToken: session.access_token as string };
      await refusedWithoutWrites(() => sendRaw(s.t, suspended, roomId, 'm.room.message', { msgtype: 'm.text', body: 'more' }), 403, 'M_USER_SUSPENDED');
      await refusedWithoutWrites(() => putStateRaw(s.t, suspended, roomId, 'org.example.state', '', { x: 1 }), 403, 'M_USER_SUSPENDED');
      await refusedWithoutWrites(() => redact(suspended, messageId), 403, 'M_USER_SUSPENDED');
      const redacted = await redact(suspended, own);
      expect(redacted.status, JSON.stringify(redacted.body)).to.equal(200);
    });
  });
});
