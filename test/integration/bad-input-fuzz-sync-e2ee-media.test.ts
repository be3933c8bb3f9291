/**
 * Regression tests for what property-based fuzzing of /sync, sliding sync and the E2EE key APIs
 * (keys, cross-signing, key backup, dehydrated devices) found (schemathesis against the spec's
 * OpenAPI files, hypothesis bodies for MSC4186 and for correctly signed keys, targeted probes; the
 * media repository was fuzzed too and held). Each input once answered 500, took the server down
 * (an ID "__proto__" wrote into Object.prototype, and the next error reply threw), or stored
 * something a later read failed on or dropped. Every case asserts the answer now given and that
 * what was stored reads back intact.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { TestUser } from '../harness.js';
import { signBytes, signedJsonBytes, signingKeyFromSeed, type SigningKey } from '../../src/matrix/signing.js';
import { expectMatrixError, useServer } from './helpers/index.js';
import { CS, createRoomRaw, enc } from './helpers/rooms.js';

const json = { 'Content-Type': 'application/json' };
const DEHYDRATED = '/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device';

/** `obj` signed by `userId`'s device `deviceId` with `key`. */
function signed<T extends Record<string, unknown>>(obj: T, userId: string, deviceId: string, key: SigningKey): T {
  return { ...obj, signatures: { [userId]: { [`ed25519:${deviceId}`]: signBytes(key, signedJsonBytes(obj)) } } };
}

/** Self-signed device keys and one signed one-time key, as /keys/upload takes them. */
function deviceKeys(user: TestUser, deviceId: string) {
  const key = signingKeyFromSeed(randomBytes(32), 'k');
  const keys = { [`curve25519:${deviceId}`]: 'curve', [`ed25519:${deviceId}`]: key.publicKeyBase64 };
  return {
    device_keys: signed({ user_id: user.userId, device_id: deviceId, algorithms: ['m.olm.v1.curve25519-aes-sha2'], keys }, user.userId, deviceId, key),
    one_time_keys: { 'signed_curve25519:x-fuzz': signed({ key: 'otk' }, user.userId, deviceId, key) },
  };
}

/** A dehydrated-device upload for `deviceId`. */
function dehydratedDevice(user: TestUser, deviceId: string) {
  return { device_id: deviceId, device_data: { algorithm: 'org.matrix.msc3814.v2', device_pickle: 'p' }, ...deviceKeys(user, deviceId) };
}

/** Enumerable properties a request managed to put on Object.prototype (none, unless polluted). */
function pollution(): string[] {
  const found: string[] = [];
  for (const key in {}) found.push(key);
  return found;
}

describe('bad input found by fuzzing sync, E2EE and media', () => {
  const s = useServer();
  let alice: TestUser;
  let roomId: string;

  before(async () => {
    alice = await s.t.registerUser('fuzzalice');
    const res = await createRoomRaw(s.t, alice, { preset: 'private_chat' });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    roomId = res.body.room_id;
  });

  // The server runs in this process: whatever a failing case put on Object.prototype must not
  // leak into the tests after it.
  afterEach(() => {
    for (const key of pollution()) delete (Object.prototype as Record<string, unknown>)[key];
  });

  /** An error reply after the case: still a plain Matrix error, no header taken from Object.prototype. */
  async function expectHealthyErrors(): Promise<void> {
    expect(pollution()).to.deep.equal([]);
    const res = await s.t.request('GET', `${CS}/sync?since=nonsense`, { token: alice.accessToken });
    expectMatrixError(res, 400, 'M_INVALID_PARAM');
    expect(res.headers.get('x-fuzz')).to.equal(null);
  }

  describe('GET /sync', () => {
    it('an inline filter whose types or senders hold U+0000: 400 M_BAD_JSON, not a 500 from SQL', async () => {
      for (const filter of [{ types: ['\u0000'] }, { senders: ['@\u0000'] }, { not_senders: ['@a\u0000'] }]) {
        const query = enc(JSON.stringify({ room: { timeline: filter } }));
        expectMatrixError(await s.t.request('GET', `${CS}/sync?timeout=0&filter=${query}`, { token: alice.accessToken }), 400, 'M_BAD_JSON');
      }
      // The same filter without the NUL still syncs.
      const ok = await s.t.request('GET', `${CS}/sync?timeout=0&filter=${enc(JSON.stringify({ room: { timeline: { types: ['m.room.message'] } } }))}`, { token: alice.accessToken });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    });

    it('a filter ID beyond what the database holds: 400 M_INVALID_PARAM on /sync, 404 on GET filter; stored filters still work', async () => {
      const path = `${CS}/user/${enc(alice.userId)}/filter`;
      const defined = await s.t.request('POST', path, { token: alice.accessToken, body: { room: { timeline: { limit: 3 } } } });
      expect(defined.status).to.equal(200);
      for (const id of ['9223372036854775807', '99999999999999999999', '1'.repeat(400)]) {
        expectMatrixError(await s.t.request('GET', `${CS}/sync?timeout=0&filter=${id}`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
        expectMatrixError(await s.t.request('GET', `${path}/${id}`, { token: alice.accessToken }), 404, 'M_NOT_FOUND');
      }
      expect((await s.t.request('GET', `${path}/${defined.body.filter_id}`, { token: alice.accessToken })).body).to.deep.equal({ room: { timeline: { limit: 3 } } });
      expect((await s.t.request('GET', `${CS}/sync?timeout=0&filter=${defined.body.filter_id}`, { token: alice.accessToken })).status).to.equal(200);
    });

    it('event_fields reaching into a "__proto__" key of content: the field is served, Object.prototype untouched', async () => {
      const rawBody = '{"msgtype":"m.text","body":"proto","__proto__":{"x-fuzz":"1"}}';
      const sent = await s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/proto1`, { token: alice.accessToken, rawBody, headers: json });
      expect(sent.status, JSON.stringify(sent.body)).to.equal(200);
      const filter = { event_fields: ['content.__proto__.x-fuzz', 'content.body', 'type'], room: { rooms: [roomId], timeline: { limit: 1 } } };
      const res = await s.t.request('GET', `${CS}/sync?timeout=0&filter=${enc(JSON.stringify(filter))}`, { token: alice.accessToken });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const [event] = res.body.rooms.join[roomId].timeline.events;
      expect(event.type).to.equal('m.room.message');
      expect(Object.getOwnPropertyDescriptor(event.content, '__proto__')?.value).to.deep.equal({ 'x-fuzz': '1' });
      expect(event.content.body).to.equal('proto');
      await expectHealthyErrors();
    });
    it('a stored filter with a thousand stars before a letter: /sync still answers (no exponential backtracking)', async () => {
      const pattern = `${'*'.repeat(1000)}a`;
      const defined = await s.t.request('POST', `${CS}/user/${enc(alice.userId)}/filter`, {
        token: alice.accessToken,
        body: { account_data: { types: [pattern] }, presence: { types: [pattern] }, room: { timeline: { not_types: [pattern] } } },
      });
      expect(defined.status).to.equal(200);
      // Before, the filter's regex held the event loop for ever: this request never answered.
      const res = await s.t.request('GET', `${CS}/sync?timeout=0&filter=${defined.body.filter_id}`, { token: alice.accessToken });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const page = await s.t.request('GET', `${CS}/rooms/${enc(roomId)}/messages?dir=b&filter=${enc(JSON.stringify({ types: [pattern] }))}`, { token: alice.accessToken });
      expect(page.status).to.equal(200);
    });
  });

  describe('simplified sliding sync (MSC4186)', () => {
    it('a list named "__proto__" is answered like any other list', async () => {
      const rawBody = '{"lists":{"__proto__":{"ranges":[[0,9]],"timeline_limit":1},"constructor":{"ranges":[[0,0]]}}}';
      const res = await s.t.request('POST', '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync', { token: alice.accessToken, rawBody, headers: json });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(Object.keys(res.body.lists).sort()).to.deep.equal(['__proto__', 'constructor']);
      const list = Object.getOwnPropertyDescriptor(res.body.lists, '__proto__')?.value;
      expect(list.count).to.be.greaterThan(0);
      expect(list.ops[0].room_ids).to.include(roomId);
    });
  });

  describe('POST /keys/signatures/upload', () => {
    it('a body keyed "__proto__" is reported as a failure and does not take down the next error reply', async () => {
      for (const rawBody of ['{"__proto__":1}', '{"__proto__":{"x-fuzz":1}}']) {
        const res = await s.t.request('POST', `${CS}/keys/signatures/upload`, { token: alice.accessToken, rawBody, headers: json });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(Object.keys(res.body.failures)).to.deep.equal(['__proto__']);
        expect(Object.values(res.body.failures.__proto__)[0]).to.include({ errcode: 'M_BAD_JSON' });
        await expectHealthyErrors();
      }
    });
  });

  describe('IDs named "__proto__" in /keys/upload, /keys/query and /keys/claim', () => {
    // Here the device is a dehydrated one; a login may choose the device ID "__proto__" too.
    it(`a device "__proto__" keeps the user's other devices in /keys/query; /keys/claim hands out its key, Object.prototype untouched`, async () => {
      const bob = await s.t.registerUser('fuzzbob');
      expect((await s.t.request('POST', `${CS}/keys/upload`, { token: bob.accessToken, body: deviceKeys(bob, bob.deviceId) })).status).to.equal(200);
      const put = await s.t.request('PUT', DEHYDRATED, { token: bob.accessToken, body: dehydratedDevice(bob, '__proto__') });
      expect(put.status, JSON.stringify(put.body)).to.equal(200);

      const query = await s.t.request('POST', `${CS}/keys/query`, { token: alice.accessToken, body: { device_keys: { [bob.userId]: [] } } });
      expect(query.status).to.equal(200);
      expect(Object.keys(query.body.device_keys[bob.userId]).sort()).to.deep.equal([bob.deviceId, '__proto__'].sort());
      expect(Object.getOwnPropertyDescriptor(query.body.device_keys[bob.userId], '__proto__')?.value.device_id).to.equal('__proto__');

      // Raw JSON: in an object literal `__proto__:` would set the prototype, not a key.
      const rawBody = `{"one_time_keys":{${JSON.stringify(bob.userId)}:{"__proto__":"signed_curve25519"}}}`;
      const claim = await s.t.request('POST', `${CS}/keys/claim`, { token: alice.accessToken, rawBody, headers: json });
      expect(claim.status).to.equal(200);
      const claimed = Object.getOwnPropertyDescriptor(claim.body.one_time_keys[bob.userId], '__proto__')?.value;
      expect(claimed['signed_curve25519:x-fuzz'].key).to.equal('otk');
      await expectHealthyErrors();
    });

    it('one-time keys of the algorithm "__proto__" are counted by /keys/upload and /sync', async () => {
      const dave = await s.t.registerUser('fuzzdave');
      const rawBody = '{"one_time_keys":{"__proto__:A":"k1","__proto__:B":"k2","signed_curve25519:C":"k3"}}';
      const upload = await s.t.request('POST', `${CS}/keys/upload`, { token: dave.accessToken, rawBody, headers: json });
      expect(upload.status, JSON.stringify(upload.body)).to.equal(200);
      const expected = { signed_curve25519: 1, ['__proto__']: 2 };
      expect(Object.entries(upload.body.one_time_key_counts)).to.have.deep.members(Object.entries(expected));
      const sync = await s.t.request('GET', `${CS}/sync?timeout=0`, { token: dave.accessToken });
      expect(Object.entries(sync.body.device_one_time_keys_count)).to.have.deep.members(Object.entries(expected));
    });

    it('a failure for the server "__proto__" is reported by /keys/query and /keys/claim', async () => {
      const query = await s.t.request('POST', `${CS}/keys/query`, { token: alice.accessToken, body: { device_keys: { '@x:__proto__': [] } } });
      expect(Object.keys(query.body.failures)).to.deep.equal(['__proto__']);
      const claim = await s.t.request('POST', `${CS}/keys/claim`, { token: alice.accessToken, body: { one_time_keys: { '@x:__proto__': {} } } });
      expect(Object.keys(claim.body.failures)).to.deep.equal(['__proto__']);
    });
  });

  describe('cross-signed device keys whose signatures hold a "__proto__" signer', () => {
    it('/keys/query shows that entry beside the self-signing signature', async () => {
      const carol = await s.t.registerUser('fuzzcarol');
      const deviceKey = signingKeyFromSeed(randomBytes(32), 'k');
      const master = signingKeyFromSeed(randomBytes(32), 'k');
      const selfSigning = signingKeyFromSeed(randomBytes(32), 'k');
      const keys = { [`ed25519:${carol.deviceId}`]: deviceKey.publicKeyBase64 };
      const device = signed({ user_id: carol.userId, device_id: carol.deviceId, algorithms: ['m.megolm.v1.aes-sha2'], keys }, carol.userId, carol.deviceId, deviceKey);
      // Signatures are not signed: an uploader may add any signer, "__proto__" included.
      const withOdd = JSON.stringify({ device_keys: device }).replace('"signatures":{', '"signatures":{"__proto__":{"ed25519:odd":"sig"},');
      expect((await s.t.request('POST', `${CS}/keys/upload`, { token: carol.accessToken, rawBody: withOdd, headers: json })).status).to.equal(200);

      const crossKey = (usage: string, k: SigningKey) => ({ user_id: carol.userId, usage: [usage], keys: { [`ed25519:${k.publicKeyBase64}`]: k.publicKeyBase64 } });
      const masterId = `ed25519:${master.publicKeyBase64}`;
      const ssk = crossKey('self_signing', selfSigning);
      const sskSigned = { ...ssk, signatures: { [carol.userId]: { [masterId]: signBytes(master, signedJsonBytes(ssk)) } } };
      const upload = await s.t.request('POST', `${CS}/keys/device_signing/upload`, { token: carol.accessToken, body: { master_key: crossKey('master', master), self_signing_key: sskSigned } });
      expect(upload.status, JSON.stringify(upload.body)).to.equal(200);
      const sskId = `ed25519:${selfSigning.publicKeyBase64}`;
      const bySsk = { ...device, signatures: { [carol.userId]: { [sskId]: signBytes(selfSigning, signedJsonBytes(device)) } } };
      const sig = await s.t.request('POST', `${CS}/keys/signatures/upload`, { token: carol.accessToken, body: { [carol.userId]: { [carol.deviceId]: bySsk } } });
      expect(sig.body.failures).to.deep.equal({});

      const query = await s.t.request('POST', `${CS}/keys/query`, { token: alice.accessToken, body: { device_keys: { [carol.userId]: [] } } });
      const signatures = query.body.device_keys[carol.userId][carol.deviceId].signatures;
      expect(Object.keys(signatures[carol.userId]).sort()).to.deep.equal([`ed25519:${carol.deviceId}`, sskId].sort());
      expect(Object.getOwnPropertyDescriptor(signatures, '__proto__')?.value).to.deep.equal({ 'ed25519:odd': 'sig' });
    });
  });

  describe('room key backup', () => {
    it('keys stored under room "constructor" or session "__proto__" read back, and the whole backup still reads', async () => {
      const created = await s.t.request('POST', `${CS}/room_keys/version`, { token: alice.accessToken, body: { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'abc' } } });
      expect(created.status).to.equal(200);
      const version = created.body.version;
      const key = (n: number) => ({ first_message_index: n, forwarded_count: 0, is_verified: false, session_data: { ciphertext: `c${n}` } });
      const put = (path: string, n: number) => s.t.request('PUT', `${CS}/room_keys/keys/${path}?version=${version}`, { token: alice.accessToken, body: key(n) });
      expect((await put(`${enc(roomId)}/good`, 1)).status).to.equal(200);
      expect((await put('constructor/s1', 2)).status).to.equal(200);
      const last = await put(`${enc(roomId)}/__proto__`, 3);
      expect(last.body.count).to.equal(3);

      const all = await s.t.request('GET', `${CS}/room_keys/keys?version=${version}`, { token: alice.accessToken });
      expect(all.status, JSON.stringify(all.body)).to.equal(200);
      expect(all.body.rooms.constructor.sessions.s1).to.deep.equal(key(2));
      expect(Object.keys(all.body.rooms[roomId].sessions).sort()).to.deep.equal(['__proto__', 'good']);
      expect(Object.getOwnPropertyDescriptor(all.body.rooms[roomId].sessions, '__proto__')?.value).to.deep.equal(key(3));
      const room = await s.t.request('GET', `${CS}/room_keys/keys/constructor?version=${version}`, { token: alice.accessToken });
      expect(room.status, JSON.stringify(room.body)).to.equal(200);
      expect(room.body.sessions).to.deep.equal({ s1: key(2) });
      expect((await s.t.request('GET', `${CS}/room_keys/keys/toString?version=${version}`, { token: alice.accessToken })).body).to.deep.equal({ sessions: {} });
    });
  });
});
