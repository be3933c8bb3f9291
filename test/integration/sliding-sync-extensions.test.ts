/**
 * Simplified sliding sync (MSC4186) extensions over raw HTTP: to_device (MSC3885) acknowledged
 * only through its own since token, e2ee (MSC3884) device lists and key counts, and the scoping
 * of account_data / receipts / typing (MSC3959-3961) by `lists` and `rooms`.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { signingKeyFromSeed, signBytes, signedJsonBytes, type SigningKey } from '../../src/matrix/signing.js';
import { slidingSyncClient, whilePolling, type SlidingSyncClient } from './helpers/sliding-sync.js';

function signed<T extends Record<string, any>>(obj: T, user: TestUser, key: SigningKey): T {
  return { ...obj, signatures: { [user.userId]: { [`ed25519:${user.deviceId}`]: signBytes(key, signedJsonBytes(obj)) } } };
}

describe('sliding sync: extensions', () => {
  let t: TestServer;
  let c: SlidingSyncClient;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    t = await startTestServer();
    c = slidingSyncClient(t);
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => t?.close());

  describe('to_device', () => {
    let n = 0;
    const sendToAlice = (tag: string) =>
      c.api(bob, 'PUT', `/sendToDevice/org.example.msg/td${++n}`, { messages: { [alice.userId]: { [alice.deviceId]: { tag } } } });
    const tags = (res: any) => (res.body.extensions.to_device?.events ?? []).map((e: any) => e.content.tag);

    it('keeps messages until the extension acknowledges them with its since token', async () => {
      await sendToAlice('m1');
      const ext = (since?: string) => ({ conn_id: 'td', extensions: { to_device: { enabled: true, limit: 100, ...(since ? { since } : {}) } } });
      const first = await c.sync(alice, ext());
      expect(tags(first)).to.deep.equal(['m1']);
      expect(first.body.extensions.to_device.events[0].sender).to.equal(bob.userId);
      const batch1 = first.body.extensions.to_device.next_batch;
      expect(batch1).to.match(/^\d+$/);
      // The response was lost: the client sends its old since again, with the new pos.
      const retry = await c.sync(alice, ext(), { pos: first.body.pos, timeout: 0 });
      expect(tags(retry)).to.deep.equal(['m1']);
      // Acknowledged: never again.
      const acked = await c.sync(alice, ext(batch1), { pos: retry.body.pos, timeout: 0 });
      expect(tags(acked)).to.deep.equal([]);
      expect(acked.body.extensions.to_device.next_batch).to.equal(batch1);
      // A new message wakes a long-poll and comes alone.
      const woken = await whilePolling(c.sync(alice, ext(batch1), { pos: acked.body.pos, timeout: 10_000 }), () => sendToAlice('m2'));
      expect(tags(woken)).to.deep.equal(['m2']);
      // Even a new connection (after M_UNKNOWN_POS, say) keeps the acknowledgement.
      const fresh = await c.sync(alice, { conn_id: 'td2', extensions: { to_device: { enabled: true, since: woken.body.extensions.to_device.next_batch } } });
      expect(tags(fresh)).to.deep.equal([]);
    });

    it('deletes nothing for a connection that did not ask for to-device messages', async () => {
      await sendToAlice('m3');
      const without = { conn_id: 'no-td', lists: {} };
      const a = await c.sync(alice, without);
      await sendToAlice('m4');
      // pos moves past both messages twice; neither may be deleted by that.
      const b = await c.sync(alice, without, { pos: a.body.pos, timeout: 0 });
      await c.sync(alice, without, { pos: b.body.pos, timeout: 0 });
      expect(b.body.extensions).to.deep.equal({});
      const withTd = await c.sync(alice, { conn_id: 'td3', extensions: { to_device: { enabled: true } } });
      // m1 and m2 were acknowledged by the connections above; m3 and m4 never were.
      expect(tags(withTd)).to.deep.equal(['m3', 'm4']);
    });
  });

  describe('e2ee', () => {
    it('carries one-time key counts, fallback key types and device list changes', async () => {
      const carol = await t.registerUser();
      const key = signingKeyFromSeed(randomBytes(32), 'k');
      const body = { conn_id: 'e2ee', lists: {}, extensions: { e2ee: { enabled: true } } };
      const first = await c.sync(carol, body);
      expect(first.body.extensions.e2ee.device_one_time_keys_count).to.deep.equal({ signed_curve25519: 0 });
      expect(first.body.extensions.e2ee.device_unused_fallback_key_types).to.deep.equal([]);
      expect(first.body.extensions.e2ee.device_lists).to.equal(undefined);

      const otks: Record<string, unknown> = {};
      for (let i = 0; i < 3; i++) otks[`signed_curve25519:K${i}`] = signed({ key: randomBytes(32).toString('base64').replace(/=+$/, '') }, carol, key);
      const fallback = { 'signed_curve25519:F0': signed({ key: randomBytes(32).toString('base64').replace(/=+$/, ''), fallback: true }, carol, key) };
      const upload = await c.api(carol, 'POST', '/keys/upload', { one_time_keys: otks, fallback_keys: fallback });
      expect(upload.status, JSON.stringify(upload.body)).to.equal(200);
      const second = await c.sync(carol, body, { pos: first.body.pos, timeout: 0 });
      expect(second.body.extensions.e2ee.device_one_time_keys_count).to.deep.equal({ signed_curve25519: 3 });
      expect(second.body.extensions.e2ee.device_unused_fallback_key_types).to.deep.equal(['signed_curve25519']);

      // A user sharing a room uploads device keys: carol's long-poll learns it.
      const roomId = await c.createRoom(carol, { preset: 'public_chat' });
      expect((await c.api(bob, 'POST', `/join/${encodeURIComponent(roomId)}`, {})).status).to.equal(200);
      const base = await c.sync(carol, body, { pos: second.body.pos, timeout: 0 });
      expect(base.body.extensions.e2ee.device_lists.changed).to.include(bob.userId); // bob joined
      const bobKey = signingKeyFromSeed(randomBytes(32), 'k');
      const deviceKeys = signed(
        {
          user_id: bob.userId,
          device_id: bob.deviceId,
          algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
          keys: { [`curve25519:${bob.deviceId}`]: randomBytes(32).toString('base64').replace(/=+$/, ''), [`ed25519:${bob.deviceId}`]: bobKey.publicKeyBase64 },
        },
        bob,
        bobKey,
      );
      const quiet = await c.sync(carol, body, { pos: base.body.pos, timeout: 0 });
      expect(quiet.body.extensions.e2ee.device_lists).to.equal(undefined);
      const woken = await whilePolling(c.sync(carol, body, { pos: quiet.body.pos, timeout: 10_000 }), () => c.api(bob, 'POST', '/keys/upload', { device_keys: deviceKeys }));
      expect(woken.body.extensions.e2ee.device_lists.changed).to.include(bob.userId);
    });
  });

  describe('room-scoped extensions', () => {
    let inList: string;
    let subscribed: string;
    let outside: string;
    before(async () => {
      outside = await c.createRoom(alice, { name: 'outside', preset: 'public_chat' });
      subscribed = await c.createRoom(alice, { name: 'subscribed', preset: 'public_chat' });
      inList = await c.createRoom(alice, { name: 'in list', preset: 'public_chat' });
      for (const r of [outside, subscribed, inList]) {
        expect((await c.api(bob, 'POST', `/join/${encodeURIComponent(r)}`, {})).status).to.equal(200);
        await c.api(alice, 'PUT', `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(r)}/account_data/org.example.room`, { room: r });
        const ev = await c.send(bob, r, 'hi');
        await c.api(bob, 'POST', `/rooms/${encodeURIComponent(r)}/receipt/m.read/${encodeURIComponent(ev)}`, {});
      }
    });
    const request = (ext: Record<string, unknown>) => ({
      lists: { top: { ranges: [[0, 0]], timeline_limit: 1, required_state: [] } },
      room_subscriptions: { [subscribed]: { timeline_limit: 1, required_state: [] } },
      extensions: { account_data: { enabled: true, ...ext }, receipts: { enabled: true, ...ext }, typing: { enabled: true, ...ext } },
    });
    const roomsOf = (res: any, name: string) => Object.keys(res.body.extensions[name]?.rooms ?? {}).sort();

    it('covers the rooms of every list and subscription by default, never rooms outside them', async () => {
      await c.api(bob, 'PUT', `/rooms/${encodeURIComponent(outside)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 30000 });
      await c.api(bob, 'PUT', `/rooms/${encodeURIComponent(inList)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 30000 });
      const res = await c.sync(alice, request({}));
      expect(Object.keys(res.body.rooms).sort()).to.deep.equal([inList, subscribed].sort());
      expect(roomsOf(res, 'account_data')).to.deep.equal([inList, subscribed].sort());
      expect(roomsOf(res, 'receipts')).to.deep.equal([inList, subscribed].sort());
      expect(roomsOf(res, 'typing')).to.deep.equal([inList]);
      expect(res.body.extensions.typing.rooms[inList].content.user_ids).to.deep.equal([bob.userId]);
      expect(res.body.extensions.receipts.rooms[inList].type).to.equal('m.receipt');
      expect(res.body.extensions.account_data.rooms[inList]).to.deep.equal([{ type: 'org.example.room', content: { room: inList } }]);
    });

    it('gives a room entering the window its receipts, typing and room account data from before pos', async () => {
      const dave = await t.registerUser();
      const earlier = await c.createRoom(dave, { name: 'earlier', preset: 'public_chat' });
      const later = await c.createRoom(dave, { name: 'later', preset: 'public_chat' });
      for (const r of [earlier, later]) expect((await c.api(bob, 'POST', `/join/${encodeURIComponent(r)}`, {})).status).to.equal(200);
      const erin = await t.registerUser();
      expect((await c.api(erin, 'POST', `/join/${encodeURIComponent(earlier)}`, {})).status).to.equal(200);
      const m1 = await c.send(bob, earlier, 'm1');
      await c.api(erin, 'POST', `/rooms/${encodeURIComponent(earlier)}/receipt/m.read/${encodeURIComponent(m1)}`, {});
      await c.api(dave, 'POST', `/rooms/${encodeURIComponent(earlier)}/receipt/m.read/${encodeURIComponent(m1)}`, {});
      await c.api(dave, 'PUT', `/user/${encodeURIComponent(dave.userId)}/rooms/${encodeURIComponent(earlier)}/account_data/org.example.room`, { n: 1 });
      await c.api(bob, 'PUT', `/rooms/${encodeURIComponent(earlier)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 30000 });
      await c.send(bob, later, 'later is newer');
      const body = {
        conn_id: 'window',
        lists: { top: { ranges: [[0, 0]], timeline_limit: 1, required_state: [] } },
        extensions: { account_data: { enabled: true }, receipts: { enabled: true }, typing: { enabled: true } },
      };
      const first = await c.sync(dave, body);
      expect(Object.keys(first.body.rooms)).to.deep.equal([later]);
      const m2 = await c.send(bob, earlier, 'm2');
      await c.api(bob, 'POST', `/rooms/${encodeURIComponent(earlier)}/receipt/m.read/${encodeURIComponent(m2)}`, {});
      const second = await c.sync(dave, body, { pos: first.body.pos, timeout: 0 });
      expect(second.body.rooms[earlier].initial).to.equal(true);
      const receipts = second.body.extensions.receipts.rooms[earlier].content;
      // m1 is not in the timeline sent (only m2 is): dave's own receipt on it stays, erin's does not.
      expect(receipts[m1]['m.read'][dave.userId]).to.be.an('object');
      expect(receipts[m1]['m.read'][erin.userId]).to.equal(undefined);
      expect(receipts[m2]['m.read'][bob.userId]).to.be.an('object');
      expect(second.body.extensions.typing.rooms[earlier].content.user_ids).to.deep.equal([bob.userId]);
      expect(second.body.extensions.account_data.rooms[earlier]).to.deep.equal([{ type: 'org.example.room', content: { n: 1 } }]);
    });

    it('narrows to the lists and rooms named; an empty list means none', async () => {
      const onlyList = await c.sync(alice, request({ lists: ['top'], rooms: [] }));
      expect(roomsOf(onlyList, 'receipts')).to.deep.equal([inList]);
      const onlySub = await c.sync(alice, request({ lists: [], rooms: ['*'] }));
      expect(roomsOf(onlySub, 'receipts')).to.deep.equal([subscribed]);
      const named = await c.sync(alice, request({ lists: [], rooms: [subscribed, outside] }));
      expect(roomsOf(named, 'receipts')).to.deep.equal([subscribed]);
      const none = await c.sync(alice, request({ lists: [], rooms: [] }));
      expect(roomsOf(none, 'receipts')).to.deep.equal([]);
    });
  });
});
