/**
 * Regression tests for what fuzzing the account-level endpoints found (schemathesis against the
 * spec's OpenAPI files for login, registration, devices, profile, account data, tags, push rules,
 * pushers, receipts, search, … plus targeted probes of what the schemas cannot express). Each
 * input once answered 500, held the server, or was accepted and then lost or made later requests
 * fail. Every case asserts the Matrix error now given and that nothing stored changed.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { TestUser } from '../harness.js';
import { registrationMac } from '../../synapse-compat/admin/register.js';
import { countRows, expectMatrixError, useServer } from './helpers/index.js';
import { CS, createRoomRaw, enc, sendRaw } from './helpers/rooms.js';

const DELAYED = '/_matrix/client/unstable/org.matrix.msc4140/delayed_events';

describe('bad input found by fuzzing the account endpoints', () => {
  const s = useServer({ max_event_delay_duration: '1h' });
  let alice: TestUser;
  let admin: TestUser;
  let roomId: string;
  let eventId: string;

  before(async () => {
    alice = await s.t.registerUser('fuzzacct');
    admin = await s.t.registerUser('fuzzadmin', { admin: true });
    const res = await createRoomRaw(s.t, alice, { preset: 'public_chat' });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    roomId = res.body.room_id;
    const sent = await sendRaw(s.t, alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'hello fuzz' });
    expect(sent.status).to.equal(200);
    eventId = sent.body.event_id;
  });

  describe('POST /search', () => {
    const search = (filter: object) =>
      s.t.request('POST', `${CS}/search`, { token: alice.accessToken, body: { search_categories: { room_events: { search_term: 'hello', filter } } } });
    const found = (res: { body: any }) => res.body.search_categories.room_events.results.map((r: any) => r.result.event_id);

    it('a types pattern of many stars answers at once (it backtracked for hours), and globs still match', async function () {
      this.timeout(10_000);
      const started = Date.now();
      for (const filter of [{ types: ['*'.repeat(40) + 'a'] }, { not_types: ['*'.repeat(40) + 'a'] }, { types: ['*a'.repeat(2000) + 'z'] }]) {
        const res = await search(filter);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
      }
      expect(Date.now() - started).to.be.below(3000);
      expect(found(await search({ types: ['m.*.mess*e'] }))).to.include(eventId);
      expect(found(await search({ types: ['*'.repeat(40) + 'e'] }))).to.include(eventId);
      expect(found(await search({ types: ['*.message', 'x'], not_types: ['m.room.*'] }))).to.deep.equal([]);
      expect(found(await search({ types: ['m.room.messag'] }))).to.deep.equal([]);
    });
  });

  describe('POST /rooms/{roomId}/receipt/{receiptType}/{eventId}', () => {
    it('a thread_id too long for an event ID: 400 M_INVALID_PARAM, not a 500 from the receipts key', async () => {
      const path = `${CS}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`;
      const before = await countRows(s.t, 'receipts');
      // Random characters: repeated ones compress below the index's size limit.
      const long = '$' + randomBytes(3000).toString('base64url');
      for (const threadId of [long, '$' + 'ж'.repeat(200)]) {
        expectMatrixError(await s.t.request('POST', path, { token: alice.accessToken, body: { thread_id: threadId } }), 400, 'M_INVALID_PARAM');
        expectMatrixError(await s.t.request('POST', `${CS}/rooms/${enc(roomId)}/receipt/m.read.private/${enc(eventId)}`, { token: alice.accessToken, body: { thread_id: threadId } }), 400, 'M_INVALID_PARAM');
      }
      expect(await countRows(s.t, 'receipts')).to.equal(before);
      // A thread named by an event ID is still fine.
      expect((await s.t.request('POST', path, { token: alice.accessToken, body: { thread_id: eventId } })).status).to.equal(200);
      expect((await s.t.request('POST', path, { token: alice.accessToken, body: { thread_id: 'main' } })).status).to.equal(200);
    });
  });

  describe('POST /_synapse/admin/v1/register', () => {
    async function sharedSecretRegister(username: string, displayname: string) {
      const { body: nonceBody } = await s.t.request('GET', '/_synapse/admin/v1/register');
      const mac = registrationMac(s.t.sharedSecret, nonceBody.nonce, username, 'pw-long-name', false);
      return s.t.request('POST', '/_synapse/admin/v1/register', { body: { nonce: nonceBody.nonce, username, password: 'pw-long-name', admin: false, displayname, mac } });
    }

    it('a displayname beyond the profile limit: 400 M_BAD_JSON, no user (its joins would all fail 413)', async () => {
      const users = await countRows(s.t, 'users');
      expectMatrixError(await sharedSecretRegister('longname', 'D'.repeat(70_000)), 400, 'M_BAD_JSON');
      expectMatrixError(await sharedSecretRegister('longname', 'D'.repeat(257)), 400, 'M_BAD_JSON');
      expect(await countRows(s.t, 'users')).to.equal(users);
      // The profile API's own limit is still allowed, and such a user joins rooms.
      const res = await sharedSecretRegister('longname', 'D'.repeat(256));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const joined = await s.t.request('POST', `${CS}/join/${enc(roomId)}`, { token: res.body.access_token, body: {} });
      expect(joined.status, JSON.stringify(joined.body)).to.equal(200);
    });
  });

  describe('MSC4140 delayed events', () => {
    const delayed = (path: string, body: unknown) => s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/${path}?org.matrix.msc4140.delay=60000`, { token: alice.accessToken, body });

    it('an event its send would refuse: the same error now, not a delay_id for an event dropped unsent', async () => {
      const before = await countRows(s.t, 'delayed_events');
      expectMatrixError(await delayed('send/m.room.message/d1', { msgtype: 'm.text', body: 'x', n: 1.5 }), 400, 'M_BAD_JSON');
      expectMatrixError(await delayed('send/m.room.message/d2', { msgtype: 'm.text', body: 'x'.repeat(70_000) }), 413, 'M_TOO_LARGE');
      expectMatrixError(await delayed(`send/${'t'.repeat(256)}/d3`, { body: 'x' }), 413, 'M_TOO_LARGE');
      expectMatrixError(await delayed(`state/org.example.fuzz/${'k'.repeat(256)}`, { a: 1 }), 413, 'M_TOO_LARGE');
      expectMatrixError(await delayed('state/org.example.fuzz/k', { a: 2 ** 60 }), 400, 'M_BAD_JSON');
      expect(await countRows(s.t, 'delayed_events')).to.equal(before);
      // What the send would take is still scheduled.
      const ok = await delayed('send/m.room.message/d4', { msgtype: 'm.text', body: 'x'.repeat(60_000) });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      const list = await s.t.request('GET', DELAYED, { token: alice.accessToken });
      expect(list.body.delayed_events.map((d: any) => d.delay_id)).to.deep.equal([ok.body.delay_id]);
    });
  });

  describe('POST /login and POST /register', () => {
    it('an empty device_id: 400 M_INVALID_PARAM, no device that logout could never remove', async () => {
      const devices = await countRows(s.t, 'devices');
      const users = await countRows(s.t, 'users');
      const login = { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password, device_id: '' };
      expectMatrixError(await s.t.request('POST', `${CS}/login`, { body: login }), 400, 'M_INVALID_PARAM');
      const register = { username: 'emptydevice', password: 'a-good-password', device_id: '', auth: { type: 'm.login.dummy' } };
      expectMatrixError(await s.t.request('POST', `${CS}/register`, { body: register }), 400, 'M_INVALID_PARAM');
      expect(await countRows(s.t, 'devices')).to.equal(devices);
      expect(await countRows(s.t, 'users')).to.equal(users);
    });
  });

  describe('GET /profile/{userId}/{keyName}', () => {
    it("a key that is only a name on Object.prototype: 404 M_NOT_FOUND, not 200; a field really named so is served", async () => {
      for (const key of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
        expectMatrixError(await s.t.request('GET', `${CS}/profile/${enc(alice.userId)}/${key}`, { token: alice.accessToken }), 404, 'M_NOT_FOUND');
      }
      const put = await s.t.request('PUT', `${CS}/profile/${enc(alice.userId)}/__proto__`, { token: alice.accessToken, rawBody: '{"__proto__":"a field"}', headers: { 'Content-Type': 'application/json' } });
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      const got = await s.t.request('GET', `${CS}/profile/${enc(alice.userId)}/__proto__`, { token: alice.accessToken });
      expect(got.status).to.equal(200);
      expect(Object.hasOwn(got.body, '__proto__') && got.body.__proto__).to.equal('a field');
    });
  });

  describe('PUT /user/{userId}/rooms/{roomId}/tags/{tag}', () => {
    it('a tag named "__proto__" is stored and listed, not dropped after a 200', async () => {
      const tags = `${CS}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`;
      expect((await s.t.request('PUT', `${tags}/u.work`, { token: alice.accessToken, body: { order: 0.25 } })).status).to.equal(200);
      expect((await s.t.request('PUT', `${tags}/__proto__`, { token: alice.accessToken, body: { order: 0.5 } })).status).to.equal(200);
      let listed = await s.t.request('GET', tags, { token: alice.accessToken });
      expect(Object.keys(listed.body.tags).sort()).to.deep.equal(['__proto__', 'u.work']);
      expect(listed.body.tags['u.work']).to.deep.equal({ order: 0.25 });
      // Removing a name only Object.prototype has changes nothing; removing the tag removes it.
      expect((await s.t.request('DELETE', `${tags}/toString`, { token: alice.accessToken })).status).to.equal(200);
      expect((await s.t.request('DELETE', `${tags}/__proto__`, { token: alice.accessToken })).status).to.equal(200);
      listed = await s.t.request('GET', tags, { token: alice.accessToken });
      expect(listed.body.tags).to.deep.equal({ 'u.work': { order: 0.25 } });
    });
  });

  describe('GET /admin/whois/{userId}', () => {
    it('a parameter that is no user ID: 400 M_INVALID_PARAM, not 200 with no devices', async () => {
      for (const userId of ['notauser', '@nocolon', 'fuzzacct']) {
        expectMatrixError(await s.t.request('GET', `${CS}/admin/whois/${enc(userId)}`, { token: admin.accessToken }), 400, 'M_INVALID_PARAM');
      }
      const res = await s.t.request('GET', `${CS}/admin/whois/${enc(alice.userId)}`, { token: admin.accessToken });
      expect(res.status).to.equal(200);
      expect(Object.keys(res.body.devices)).to.include(alice.deviceId);
    });
  });

  describe('GET /_matrix/client/v1/mutual_rooms', () => {
    it("the sender's own ID or a from token never given out: 400 M_INVALID_PARAM (spec v1.19), not 422 or ignored", async () => {
      const path = '/_matrix/client/v1/mutual_rooms';
      expectMatrixError(await s.t.request('GET', `${path}?user_id=${enc(alice.userId)}`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
      expectMatrixError(await s.t.request('GET', `${path}?user_id=${enc(admin.userId)}&from=junk`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
      const res = await s.t.request('GET', `${path}?user_id=${enc(admin.userId)}`, { token: alice.accessToken });
      expect(res.status).to.equal(200);
      // `count` is required beside `joined`.
      expect(res.body).to.deep.equal({ joined: [], count: 0 });
    });
  });

  describe('numbers beyond the range of a double (1e400)', () => {
    it('account data, a profile field, a pusher: 400 M_BAD_JSON, not stored as null in place of the number', async () => {
      const json = { 'Content-Type': 'application/json' };
      const data = `${CS}/user/${enc(alice.userId)}/account_data/org.example.num`;
      expect((await s.t.request('PUT', data, { token: alice.accessToken, body: { n: 1 } })).status).to.equal(200);
      expectMatrixError(await s.t.request('PUT', data, { token: alice.accessToken, rawBody: '{"n":1e400}', headers: json }), 400, 'M_BAD_JSON');
      expectMatrixError(await s.t.request('PUT', data, { token: alice.accessToken, rawBody: `{"n":[-${'9'.repeat(400)}]}`, headers: json }), 400, 'M_BAD_JSON');
      expect((await s.t.request('GET', data, { token: alice.accessToken })).body).to.deep.equal({ n: 1 });

      const field = `${CS}/profile/${enc(alice.userId)}/org.example.num`;
      expectMatrixError(await s.t.request('PUT', field, { token: alice.accessToken, rawBody: '{"org.example.num":1E+400}', headers: json }), 400, 'M_BAD_JSON');
      expectMatrixError(await s.t.request('GET', field, { token: alice.accessToken }), 404, 'M_NOT_FOUND');

      const pushers = await countRows(s.t, 'pushers');
      const pusher = '{"pushkey":"k","kind":"http","app_id":"a","app_display_name":"a","device_display_name":"d","lang":"en","data":{"url":"https://push.example/_matrix/push/v1/notify","n":1e999}}';
      expectMatrixError(await s.t.request('POST', `${CS}/pushers/set`, { token: alice.accessToken, rawBody: pusher, headers: json }), 400, 'M_BAD_JSON');
      expect(await countRows(s.t, 'pushers')).to.equal(pushers);

      // The largest doubles and tiny numbers that round to 0 are numbers still.
      expect((await s.t.request('PUT', data, { token: alice.accessToken, rawBody: '{"n":1.7e308,"m":1e-400,"s":"1e400"}', headers: json })).status).to.equal(200);
      expect((await s.t.request('GET', data, { token: alice.accessToken })).body).to.deep.equal({ n: 1.7e308, m: 0, s: '1e400' });
    });
  });

  describe('a body that is JSON null', () => {
    it('PUT account data, tags and a push rule: 400 M_BAD_JSON, not read as {} (which replaced the stored content)', async () => {
      const json = { 'Content-Type': 'application/json' };
      const data = `${CS}/user/${enc(alice.userId)}/account_data/m.ignored_user_list`;
      const ignored = { ignored_users: { '@spam:example.org': {} } };
      expect((await s.t.request('PUT', data, { token: alice.accessToken, body: ignored })).status).to.equal(200);
      const roomData = `${CS}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/org.example.kept`;
      expect((await s.t.request('PUT', roomData, { token: alice.accessToken, body: { kept: true } })).status).to.equal(200);
      for (const [method, path] of [
        ['PUT', data],
        ['PUT', roomData],
        ['PUT', `${CS}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags/u.null`],
        ['PUT', `${CS}/pushrules/global/override/null-body`],
        ['PUT', `${CS}/presence/${enc(alice.userId)}/status`],
      ] as const) {
        expectMatrixError(await s.t.request(method, path, { token: alice.accessToken, rawBody: 'null', headers: json }), 400, 'M_BAD_JSON');
      }
      expect((await s.t.request('GET', data, { token: alice.accessToken })).body).to.deep.equal(ignored);
      expect((await s.t.request('GET', roomData, { token: alice.accessToken })).body).to.deep.equal({ kept: true });
      const tags = await s.t.request('GET', `${CS}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`, { token: alice.accessToken });
      expect(tags.body.tags).to.not.have.property('u.null');
      // No body at all is still an empty object where the schema allows one.
      expect((await s.t.request('POST', `${CS}/user/${enc(alice.userId)}/openid/request_token`, { token: alice.accessToken })).status).to.equal(200);
    });
  });
});
