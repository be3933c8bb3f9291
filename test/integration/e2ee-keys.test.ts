/**
 * E2EE key management over plain HTTP with real ed25519 signatures: /keys/upload, query, claim,
 * changes, cross-signing, signatures, device lists in /sync, deletion of a device's keys.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { signingKeyFromSeed, signBytes, signedJsonBytes, type SigningKey } from '../../src/matrix/signing.js';

function newKey(): SigningKey {
  return signingKeyFromSeed(randomBytes(32), 'k');
}

/** Signs obj as `signer` with key ID `keyId` (any form, e.g. ed25519:<public key>). */
function sign<T extends Record<string, any>>(obj: T, signer: string, keyId: string, key: SigningKey): T {
  const signature = signBytes(key, signedJsonBytes(obj));
  const signatures = { ...(obj.signatures ?? {}) };
  signatures[signer] = { ...(signatures[signer] ?? {}), [keyId]: signature };
  return { ...obj, signatures };
}

function deviceKeys(user: TestUser, key: SigningKey, extra: Record<string, unknown> = {}) {
  const curve = randomBytes(32).toString('base64').replace(/=+$/, '');
  const dk = {
    user_id: user.userId,
    device_id: user.deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${user.deviceId}`]: curve, [`ed25519:${user.deviceId}`]: key.publicKeyBase64 },
    ...extra,
  };
  return sign(dk, user.userId, `ed25519:${user.deviceId}`, key);
}

function oneTimeKeys(user: TestUser, key: SigningKey, n: number, prefix = 'AAA') {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const k = { key: randomBytes(32).toString('base64').replace(/=+$/, '') };
    out[`signed_curve25519:${prefix}${i}`] = sign(k, user.userId, `ed25519:${user.deviceId}`, key);
  }
  return out;
}

function crossSigningKey(userId: string, usage: string, key: SigningKey) {
  return { user_id: userId, usage: [usage], keys: { [`ed25519:${key.publicKeyBase64}`]: key.publicKeyBase64 } };
}

describe('e2ee: keys', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const aliceKey = newKey();
  const bobKey = newKey();
  const post = (u: TestUser, path: string, body: unknown) => t.request('POST', `/_matrix/client/v3${path}`, { token: u.accessToken, body });
  const get = (u: TestUser, path: string) => t.request('GET', `/_matrix/client/v3${path}`, { token: u.accessToken });
  const sync = (u: TestUser, q = '') => t.request('GET', `/_matrix/client/v3/sync?${q}`, { token: u.accessToken });

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => t?.close());

  describe('upload', () => {
    it('stores self-signed device keys and one-time keys, answering the counts', async () => {
      const res = await post(alice, '/keys/upload', { device_keys: deviceKeys(alice, aliceKey), one_time_keys: oneTimeKeys(alice, aliceKey, 5) });
      expect(res.status).to.equal(200);
      expect(res.body.one_time_key_counts).to.deep.equal({ signed_curve25519: 5 });
      const again = await post(alice, '/keys/upload', {});
      expect(again.body.one_time_key_counts).to.deep.equal({ signed_curve25519: 5 });
    });

    it('refuses a forged device-keys signature with M_INVALID_SIGNATURE and stores nothing', async () => {
      const carol = await t.registerUser();
      const forged = deviceKeys(carol, newKey());
      forged.keys[`ed25519:${carol.deviceId}`] = newKey().publicKeyBase64;
      const res = await post(carol, '/keys/upload', { device_keys: forged, one_time_keys: oneTimeKeys(carol, newKey(), 2) });
      expect(res.status).to.equal(400);
      expect(res.body.errcode).to.equal('M_INVALID_SIGNATURE');
      const q = await post(alice, '/keys/query', { device_keys: { [carol.userId]: [] } });
      expect(q.body.device_keys[carol.userId]).to.deep.equal({});
      expect((await post(carol, '/keys/upload', {})).body.one_time_key_counts).to.deep.equal({ signed_curve25519: 0 });
    });

    it('refuses device keys naming another user or device', async () => {
      const key = newKey();
      const other = deviceKeys({ ...alice, deviceId: 'OTHERDEVICE' }, key);
      const res = await post(alice, '/keys/upload', { device_keys: other });
      expect(res.status).to.equal(400);
      const wrongUser = deviceKeys({ ...alice, userId: bob.userId }, key);
      expect((await post(alice, '/keys/upload', { device_keys: wrongUser })).status).to.equal(400);
    });

    it('refuses a one-time key with a forged signature', async () => {
      const bad = oneTimeKeys(alice, newKey(), 1, 'BAD');
      const res = await post(alice, '/keys/upload', { one_time_keys: bad });
      expect(res.status).to.equal(400);
      expect(res.body.errcode).to.equal('M_INVALID_SIGNATURE');
    });

    it('refuses a reused one-time key ID with a different key', async () => {
      const first = oneTimeKeys(alice, aliceKey, 1, 'DUP');
      expect((await post(alice, '/keys/upload', { one_time_keys: first })).status).to.equal(200);
      expect((await post(alice, '/keys/upload', { one_time_keys: first })).status).to.equal(200);
      const second = oneTimeKeys(alice, aliceKey, 1, 'DUP');
      const res = await post(alice, '/keys/upload', { one_time_keys: second });
      expect(res.status).to.equal(400);
    });

    it('refuses oversized uploads', async () => {
      const res = await post(alice, '/keys/upload', { one_time_keys: oneTimeKeys(alice, aliceKey, 1001, 'BIG') });
      expect(res.status).to.equal(413);
      expect(res.body.errcode).to.equal('M_TOO_LARGE');
      const huge = await t.request('POST', '/_matrix/client/v3/keys/upload', { token: alice.accessToken, rawBody: JSON.stringify({ one_time_keys: { 'x:y': 'a'.repeat(600 * 1024) } }), headers: { 'Content-Type': 'application/json' } });
      expect(huge.status).to.equal(413);
    });
  });

  describe('query', () => {
    it('returns device keys with the display name, for all or named devices', async () => {
      await post(bob, '/keys/upload', { device_keys: deviceKeys(bob, bobKey) });
      const all = await post(bob, '/keys/query', { device_keys: { [alice.userId]: [], [bob.userId]: [] }, timeout: 1000 });
      expect(all.status).to.equal(200);
      const dk = all.body.device_keys[alice.userId][alice.deviceId];
      expect(dk.keys[`ed25519:${alice.deviceId}`]).to.equal(aliceKey.publicKeyBase64);
      expect(dk.signatures[alice.userId][`ed25519:${alice.deviceId}`]).to.be.a('string');
      expect(dk.unsigned).to.be.an('object');
      const named = await post(bob, '/keys/query', { device_keys: { [alice.userId]: ['NOPE'] } });
      expect(named.body.device_keys[alice.userId]).to.deep.equal({});
      const remote = await post(bob, '/keys/query', { device_keys: { '@x:elsewhere.example': [] } });
      expect(remote.body.failures).to.have.property('elsewhere.example');
    });
  });

  describe('claim', () => {
    it('hands out each one-time key once, then the fallback key (marked used)', async () => {
      const dave = await t.registerUser();
      const key = newKey();
      const fallback = sign({ key: 'ZmFsbGJhY2s', fallback: true }, dave.userId, `ed25519:${dave.deviceId}`, key);
      await post(dave, '/keys/upload', { device_keys: deviceKeys(dave, key), one_time_keys: oneTimeKeys(dave, key, 2), fallback_keys: { 'signed_curve25519:FB1': fallback } });
      let s = await sync(dave);
      expect(s.body.device_one_time_keys_count).to.deep.equal({ signed_curve25519: 2 });
      expect(s.body.device_unused_fallback_key_types).to.deep.equal(['signed_curve25519']);
      const seen = new Set<string>();
      for (let i = 0; i < 2; i++) {
        const res = await post(bob, '/keys/claim', { one_time_keys: { [dave.userId]: { [dave.deviceId]: 'signed_curve25519' } } });
        const ids = Object.keys(res.body.one_time_keys[dave.userId][dave.deviceId]);
        expect(ids).to.have.length(1);
        expect(seen.has(ids[0]!)).to.equal(false);
        seen.add(ids[0]!);
      }
      const fb = await post(bob, '/keys/claim', { one_time_keys: { [dave.userId]: { [dave.deviceId]: 'signed_curve25519' } } });
      expect(fb.body.one_time_keys[dave.userId][dave.deviceId]).to.have.property('signed_curve25519:FB1');
      s = await sync(dave);
      expect(s.body.device_one_time_keys_count).to.deep.equal({ signed_curve25519: 0 });
      expect(s.body.device_unused_fallback_key_types).to.deep.equal([]);
    });

    it('never hands out a key twice to concurrent claimers', async () => {
      const erin = await t.registerUser();
      const key = newKey();
      await post(erin, '/keys/upload', { device_keys: deviceKeys(erin, key), one_time_keys: oneTimeKeys(erin, key, 20) });
      const results = await Promise.all(
        Array.from({ length: 30 }, () => post(bob, '/keys/claim', { one_time_keys: { [erin.userId]: { [erin.deviceId]: 'signed_curve25519' } } })),
      );
      const ids = results.flatMap((r) => Object.keys(r.body.one_time_keys[erin.userId]?.[erin.deviceId] ?? {}));
      expect(ids).to.have.length(20);
      expect(new Set(ids).size).to.equal(20);
    });
  });

  describe('cross-signing', () => {
    const master = newKey();
    const selfSigning = newKey();
    const userSigning = newKey();

    it('accepts the first upload without UIA, and requires UIA to replace the keys', async () => {
      const mk = sign(crossSigningKey(alice.userId, 'master', master), alice.userId, `ed25519:${alice.deviceId}`, aliceKey);
      const ssk = sign(crossSigningKey(alice.userId, 'self_signing', selfSigning), alice.userId, `ed25519:${master.publicKeyBase64}`, master);
      const usk = sign(crossSigningKey(alice.userId, 'user_signing', userSigning), alice.userId, `ed25519:${master.publicKeyBase64}`, master);
      const res = await post(alice, '/keys/device_signing/upload', { master_key: mk, self_signing_key: ssk, user_signing_key: usk });
      expect(res.status).to.equal(200);
      // The same keys again: nothing changes, no auth needed.
      expect((await post(alice, '/keys/device_signing/upload', { master_key: mk, self_signing_key: ssk, user_signing_key: usk })).status).to.equal(200);
      const master2 = newKey();
      const replace = { master_key: crossSigningKey(alice.userId, 'master', master2) };
      const challenge = await post(alice, '/keys/device_signing/upload', replace);
      expect(challenge.status).to.equal(401);
      expect(challenge.body.flows).to.deep.equal([{ stages: ['m.login.password'] }]);
      const q = await post(bob, '/keys/query', { device_keys: { [alice.userId]: [] } });
      expect(q.body.master_keys[alice.userId].keys).to.deep.equal({ [`ed25519:${master.publicKeyBase64}`]: master.publicKeyBase64 });
      expect(q.body.self_signing_keys[alice.userId].keys).to.have.property(`ed25519:${selfSigning.publicKeyBase64}`);
      expect(q.body.user_signing_keys).to.not.have.property(alice.userId);
      const own = await post(alice, '/keys/query', { device_keys: { [alice.userId]: [] } });
      expect(own.body.user_signing_keys).to.have.property(alice.userId);
    });

    it('refuses a self-signing key not signed by the master key, storing nothing', async () => {
      const fred = await t.registerUser();
      const m = newKey();
      const forged = sign(crossSigningKey(fred.userId, 'self_signing', newKey()), fred.userId, `ed25519:${m.publicKeyBase64}`, newKey());
      const res = await post(fred, '/keys/device_signing/upload', { master_key: crossSigningKey(fred.userId, 'master', m), self_signing_key: forged });
      expect(res.status).to.equal(400);
      expect(res.body.errcode).to.equal('M_INVALID_SIGNATURE');
      const q = await post(fred, '/keys/query', { device_keys: { [fred.userId]: [] } });
      expect(q.body.master_keys).to.not.have.property(fred.userId);
    });

    it('checks each uploaded signature, reporting failures per key', async () => {
      // the stored device keys, signed by the self-signing key
      const q0 = await post(alice, '/keys/query', { device_keys: { [alice.userId]: [alice.deviceId] } });
      const stored = q0.body.device_keys[alice.userId][alice.deviceId];
      delete stored.unsigned;
      const signedDevice = sign(stored, alice.userId, `ed25519:${selfSigning.publicKeyBase64}`, selfSigning);
      const forgedDevice = sign(stored, alice.userId, `ed25519:${selfSigning.publicKeyBase64}`, newKey());
      const bad = await post(alice, '/keys/signatures/upload', { [alice.userId]: { [alice.deviceId]: forgedDevice } });
      expect(bad.status).to.equal(200);
      expect(bad.body.failures[alice.userId][alice.deviceId].errcode).to.equal('M_INVALID_SIGNATURE');
      const good = await post(alice, '/keys/signatures/upload', { [alice.userId]: { [alice.deviceId]: signedDevice } });
      expect(good.body.failures).to.deep.equal({});
      const q = await post(bob, '/keys/query', { device_keys: { [alice.userId]: [] } });
      expect(q.body.device_keys[alice.userId][alice.deviceId].signatures[alice.userId]).to.have.property(`ed25519:${selfSigning.publicKeyBase64}`);

      // Alice signs Bob's master key with her user-signing key: only Alice sees that signature.
      const bobMaster = newKey();
      await post(bob, '/keys/device_signing/upload', { master_key: crossSigningKey(bob.userId, 'master', bobMaster) });
      const bobMk = (await post(alice, '/keys/query', { device_keys: { [bob.userId]: [] } })).body.master_keys[bob.userId];
      const signedBobMk = sign(bobMk, alice.userId, `ed25519:${userSigning.publicKeyBase64}`, userSigning);
      const r = await post(alice, '/keys/signatures/upload', { [bob.userId]: { [bobMaster.publicKeyBase64]: signedBobMk } });
      expect(r.body.failures).to.deep.equal({});
      const seenByAlice = (await post(alice, '/keys/query', { device_keys: { [bob.userId]: [] } })).body.master_keys[bob.userId];
      expect(seenByAlice.signatures[alice.userId]).to.have.property(`ed25519:${userSigning.publicKeyBase64}`);
      const seenByBob = (await post(bob, '/keys/query', { device_keys: { [bob.userId]: [] } })).body.master_keys[bob.userId];
      expect(seenByBob.signatures?.[alice.userId]).to.equal(undefined);
      // A signature of an unknown key
      const unknown = await post(alice, '/keys/signatures/upload', { [bob.userId]: { NOTAKEY: signedBobMk } });
      expect(unknown.body.failures[bob.userId].NOTAKEY.errcode).to.equal('M_NOT_FOUND');
    });
  });

  describe('device lists', () => {
    it('tell room members about key changes, joins and leaves, in /sync and /keys/changes', async () => {
      const gina = await t.registerUser();
      const hank = await t.registerUser();
      const room = await post(gina, '/createRoom', { preset: 'public_chat' });
      const roomId = room.body.room_id;
      const s0 = await sync(gina);
      // Hank joins: he is "changed" for Gina.
      await post(hank, `/join/${encodeURIComponent(roomId)}`, {});
      const s1 = await sync(gina, `since=${s0.body.next_batch}`);
      expect(s1.body.device_lists.changed).to.include(hank.userId);
      // Hank uploads keys: Gina's waiting sync wakes with him in changed.
      const started = Date.now();
      const pending = sync(gina, `since=${s1.body.next_batch}&timeout=10000`);
      await new Promise((r) => setTimeout(r, 200));
      const hankKey = newKey();
      await post(hank, '/keys/upload', { device_keys: deviceKeys(hank, hankKey) });
      const s2 = await pending;
      expect(Date.now() - started).to.be.lessThan(5000);
      expect(s2.body.device_lists.changed).to.include(hank.userId);
      const changes = await get(gina, `/keys/changes?from=${s1.body.next_batch}&to=${s2.body.next_batch}`);
      expect(changes.status).to.equal(200);
      expect(changes.body.changed).to.include(hank.userId);
      // Someone sharing no room is never announced.
      const ivan = await t.registerUser();
      await post(ivan, '/keys/upload', { device_keys: deviceKeys(ivan, newKey()) });
      const s3 = await sync(gina, `since=${s2.body.next_batch}`);
      expect(s3.body.device_lists.changed).to.not.include(ivan.userId);
      // Hank leaves: he is "left".
      await post(hank, `/rooms/${encodeURIComponent(roomId)}/leave`, {});
      const s4 = await sync(gina, `since=${s3.body.next_batch}`);
      expect(s4.body.device_lists.left).to.include(hank.userId);
      expect(s4.body.device_lists.changed).to.not.include(hank.userId);
    });

    it('a user who leaves the last shared room sees its members as left; a new room shows them as changed', async () => {
      const kate = await t.registerUser();
      const liam = await t.registerUser();
      const r1 = (await post(kate, '/createRoom', { preset: 'public_chat' })).body.room_id;
      await post(liam, `/join/${encodeURIComponent(r1)}`, {});
      const s0 = await sync(liam);
      await post(liam, `/rooms/${encodeURIComponent(r1)}/leave`, {});
      const s1 = await sync(liam, `since=${s0.body.next_batch}`);
      expect(s1.body.device_lists.left).to.deep.equal([kate.userId]);
      const changes = await get(liam, `/keys/changes?from=${s0.body.next_batch}&to=${s1.body.next_batch}`);
      expect(changes.body.left).to.deep.equal([kate.userId]);
      // Liam joins a new room of Kate's: everyone there is new to him.
      const r2 = (await post(kate, '/createRoom', { preset: 'public_chat' })).body.room_id;
      await post(liam, `/join/${encodeURIComponent(r2)}`, {});
      const s2 = await sync(liam, `since=${s1.body.next_batch}`);
      expect(s2.body.device_lists.changed).to.include(kate.userId);
      expect((await get(liam, '/keys/changes')).status).to.equal(400);
      expect((await get(liam, '/keys/changes?from=nonsense')).status).to.equal(400);
    });

    it('deleting a device removes its keys and announces the change', async () => {
      const jane = await t.registerUser();
      const login = await t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: jane.userId }, password: jane.password } });
      const second: TestUser = { ...jane, accessToken: login.body.access_token, deviceId: login.body.device_id };
      const key = newKey();
      await post(second, '/keys/upload', { device_keys: deviceKeys(second, key), one_time_keys: oneTimeKeys(second, key, 3) });
      const room = await post(jane, '/createRoom', { preset: 'public_chat' });
      await post(bob, `/join/${encodeURIComponent(room.body.room_id)}`, {});
      const s0 = await sync(bob);
      const del = await t.request('DELETE', `/_matrix/client/v3/devices/${second.deviceId}`, {
        token: jane.accessToken,
        body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: jane.userId }, password: jane.password } },
      });
      expect(del.status).to.equal(200);
      let changed: string[] = [];
      for (let i = 0; i < 20 && !changed.includes(jane.userId); i++) {
        changed = (await sync(bob, `since=${s0.body.next_batch}&timeout=2000`)).body.device_lists.changed;
      }
      expect(changed).to.include(jane.userId);
      const q = await post(bob, '/keys/query', { device_keys: { [jane.userId]: [] } });
      expect(q.body.device_keys[jane.userId]).to.not.have.property(second.deviceId);
      const claim = await post(bob, '/keys/claim', { one_time_keys: { [jane.userId]: { [second.deviceId]: 'signed_curve25519' } } });
      expect(claim.body.one_time_keys).to.deep.equal({});
    });
  });

});
