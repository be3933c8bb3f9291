/** spec: Client-Server API §4.4 — login, refresh, logout, whoami. */
import { expect } from 'chai';
import { sdkClient } from '../sdk.js';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { countRows, expectMatrixError, login, rejectionOf, useServer } from './helpers/index.js';

describe('login', () => {
  const s = useServer();
  const password = 'correct horse battery';
  let alice: { userId: string; accessToken: string; deviceId: string };
  before(async () => {
    alice = await s.t.registerUser('alice', { password });
  });

  it('offers m.login.password in GET /login (matrix-js-sdk)', async () => {
    const flows = await sdkClient(s.t.baseUrl).loginFlows();
    expect(flows.flows.map((f) => f.type)).to.include('m.login.password');
  });

  it('logs in with an m.id.user identifier holding a full user ID (matrix-js-sdk)', async () => {
    const client = sdkClient(s.t.baseUrl);
    const res = await client.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: '@alice:test.local' }, password });
    expect(res.user_id).to.equal('@alice:test.local');
    expect(res.access_token).to.be.a('string').with.length.above(20);
    expect(res.device_id).to.be.a('string').and.not.equal(alice.deviceId);
    const who = await sdkClient(s.t.baseUrl, { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id }).whoami();
    expect(who).to.include({ user_id: '@alice:test.local', device_id: res.device_id, is_guest: false });
  });

  it('logs in with a localpart, with the legacy `user` field, and ignoring letter case', async () => {
    expect((await login(s.t, 'alice', password)).user_id).to.equal('@alice:test.local');
    const legacy = await s.t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: 'alice', password } });
    expect(legacy.status).to.equal(200);
    expect(legacy.body.user_id).to.equal('@alice:test.local');
    const legacyFull = await s.t.request('POST', '/_matrix/client/r0/login', { body: { type: 'm.login.password', user: '@alice:test.local', password } });
    expect(legacyFull.status).to.equal(200);
    expect((await login(s.t, 'ALICE', password)).user_id).to.equal('@alice:test.local');
  });

  it('refuses a wrong password and an unknown user alike with 403 M_FORBIDDEN', async () => {
    const wrong = await s.t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'nope' },
    });
    expectMatrixError(wrong, 403, 'M_FORBIDDEN');
    const unknown = await s.t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'nobody' }, password },
    });
    expectMatrixError(unknown, 403, 'M_FORBIDDEN');
    expect(unknown.body.error).to.equal(wrong.body.error);
    const err = await rejectionOf(sdkClient(s.t.baseUrl).loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'x' }));
    expect(err.httpStatus).to.equal(403);
    expect(err.errcode).to.equal('M_FORBIDDEN');
  });

  it('refuses an unknown login type and identifier type with 400, and a missing password', async () => {
    const type = await s.t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.magic', user: 'alice' } });
    expect(type.status).to.equal(400);
    expect(type.body.errcode).to.be.a('string');
    const ident = await s.t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'a@b.c' }, password },
    });
    expect(ident.status).to.equal(400);
    const missing = await s.t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' } } });
    expect(missing.status).to.equal(400);
    expect(missing.body.error).to.include('password');
  });

  it('reuses a given device_id and names a new device with initial_device_display_name', async () => {
    const first = await login(s.t, 'alice', password, { device_id: 'MYPHONE', initial_device_display_name: "Alice's phone" });
    expect(first.device_id).to.equal('MYPHONE');
    const second = await login(s.t, 'alice', password, { device_id: 'MYPHONE', initial_device_display_name: 'other name' });
    expect(second.device_id).to.equal('MYPHONE');
    expect(second.access_token).to.not.equal(first.access_token);
    const client = sdkClient(s.t.baseUrl, { userId: alice.userId, accessToken: second.access_token, deviceId: 'MYPHONE' });
    expect((await client.whoami()).device_id).to.equal('MYPHONE');
    const { devices } = await client.getDevices();
    const mine = devices.filter((d) => d.device_id === 'MYPHONE');
    expect(mine).to.have.length(1);
    expect(mine[0]!.display_name).to.equal("Alice's phone");
  });

  it('refuses a device_id over 512 characters with 400 M_INVALID_PARAM, creating no device', async () => {
    const deviceId = randomBytes(400).toString('hex');
    const before = await countRows(s.t, 'devices');
    const res = await s.t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password, device_id: deviceId },
    });
    expectMatrixError(res, 400, 'M_INVALID_PARAM');
    expect(await countRows(s.t, 'devices')).to.equal(before);
  });

  it('logout invalidates the token at once and removes the device', async () => {
    const session = await login(s.t, 'alice', password);
    const client = sdkClient(s.t.baseUrl, { userId: alice.userId, accessToken: session.access_token, deviceId: session.device_id });
    expect((await client.whoami()).user_id).to.equal(alice.userId);
    await client.logout();
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: session.access_token }), 401, 'M_UNKNOWN_TOKEN');
    const { body } = await s.t.request('GET', '/_matrix/client/v3/devices', { token: alice.accessToken });
    expect(body.devices.map((d: { device_id: string }) => d.device_id)).to.not.include(session.device_id);
  });

  it('logout/all kills every token of the user and no other user', async () => {
    const bob = await s.t.registerUser('bob', { password });
    const a = await login(s.t, 'bob', password);
    const b = await login(s.t, 'bob', password);
    const carol = await s.t.registerUser('carol');
    const res = await s.t.request('POST', '/_matrix/client/v3/logout/all', { token: a.access_token, body: {} });
    expect(res.status).to.equal(200);
    for (const token of [bob.accessToken, a.access_token, b.access_token]) {
      expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token }), 401, 'M_UNKNOWN_TOKEN');
    }
    expect((await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: carol.accessToken })).status).to.equal(200);
    // bob can log in again afterwards, with no devices left over
    const again = await login(s.t, 'bob', password);
    const { body } = await s.t.request('GET', '/_matrix/client/v3/devices', { token: again.access_token });
    expect(body.devices.map((d: { device_id: string }) => d.device_id)).to.deep.equal([again.device_id]);
  });

  it('stores passwords as argon2id and accepts imported Synapse bcrypt hashes', async () => {
    const row = await s.t.server.services.storage.users.get(alice.userId);
    expect(row!.passwordHash).to.match(/^\$argon2id\$/);
    expect(row!.passwordHash).to.not.include(password);
    const imported = await s.t.registerUser('imported');
    // what Synapse's users table holds: bcrypt with the $2b$ prefix (Synapse uses 12 rounds; 10 keeps the test quick)
    const synapseHash = bcrypt.hashSync('from-synapse', 10).replace(/^\$2a\$/, '$2b$');
    await s.t.server.services.storage.db.transaction((tx) => s.t.server.services.storage.users.setPasswordHash(tx, imported.userId, synapseHash));
    expect((await login(s.t, 'imported', 'from-synapse')).user_id).to.equal(imported.userId);
    expectMatrixError(
      await s.t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: 'imported', password: 'from-synapsE' } }),
      403,
      'M_FORBIDDEN',
    );
  });

  it('whoami needs a token', async () => {
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/account/whoami'), 401, 'M_MISSING_TOKEN');
  });
});

describe('refresh tokens', () => {
  const s = useServer();
  const password = 'refresh-me-please';
  before(async () => {
    await s.t.registerUser('dave', { password });
  });

  it('gives a refresh token and expires_in_ms only when asked', async () => {
    const plain = await login(s.t, 'dave', password);
    expect(plain).to.not.have.property('refresh_token');
    expect(plain).to.not.have.property('expires_in_ms');
    const refreshable = await login(s.t, 'dave', password, { refresh_token: true });
    expect(refreshable.refresh_token).to.be.a('string').and.not.equal(refreshable.access_token);
    expect(refreshable.expires_in_ms).to.be.a('number').above(0);
  });

  it('POST /refresh rotates the tokens; the old refresh token dies once the new token is used (matrix-js-sdk)', async () => {
    const first = await login(s.t, 'dave', password, { refresh_token: true });
    const client = sdkClient(s.t.baseUrl, { userId: '@dave:test.local', accessToken: first.access_token, deviceId: first.device_id });
    expect((await client.whoami()).device_id).to.equal(first.device_id);
    const next = await client.refreshToken(first.refresh_token);
    expect(next.access_token).to.be.a('string').and.not.equal(first.access_token);
    expect(next.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
    expect(next.expires_in_ms).to.be.a('number').above(0);
    const who = await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: next.access_token });
    expect(who.status).to.equal(200);
    expect(who.body).to.include({ user_id: '@dave:test.local', device_id: first.device_id });
    // spec: the old refresh token is revoked once the new access token is used
    expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: first.refresh_token } }), 401, 'M_UNKNOWN_TOKEN');
    // and the access token it had issued is gone with it
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: first.access_token }), 401, 'M_UNKNOWN_TOKEN');
    // the new refresh token still works
    const third = await s.t.request('POST', '/_matrix/client/r0/refresh', { body: { refresh_token: next.refresh_token } });
    expect(third.status).to.equal(200);
  });

  it('refuses an unknown refresh token and a missing one', async () => {
    expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: 'vrt_nonsense' } }), 401, 'M_UNKNOWN_TOKEN');
    expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/refresh', { body: {} }), 400, 'M_BAD_JSON');
  });

  it('a deleted device takes its refresh token with it', async () => {
    const session = await login(s.t, 'dave', password, { refresh_token: true });
    await s.t.request('POST', '/_matrix/client/v3/logout', { token: session.access_token, body: {} });
    expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: session.refresh_token } }), 401, 'M_UNKNOWN_TOKEN');
  });
});

describe('expired refreshable access tokens', () => {
  // 1 ms: every refreshable access token has expired by the time it is used, with no waiting.
  const s = useServer({ refreshable_access_token_lifetime: 1 });
  const password = 'short-lived-token';
  before(async () => {
    await s.t.registerUser('erin', { password });
  });

  it('are refused with 401 M_UNKNOWN_TOKEN and soft_logout true; refresh gets a new pair', async () => {
    const session = await login(s.t, 'erin', password, { refresh_token: true });
    expect(session.expires_in_ms).to.equal(1);
    await new Promise((r) => setTimeout(r, 5));
    const res = await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: session.access_token });
    expectMatrixError(res, 401, 'M_UNKNOWN_TOKEN');
    expect(res.body.soft_logout).to.equal(true);
    const refreshed = await s.t.request('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: session.refresh_token } });
    expect(refreshed.status).to.equal(200);
    expect(refreshed.body.access_token).to.be.a('string');
  });

  it('tokens without a refresh token do not expire', async () => {
    const session = await login(s.t, 'erin', password);
    await new Promise((r) => setTimeout(r, 5));
    expect((await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: session.access_token })).status).to.equal(200);
  });

  it('an unknown token is a hard logout (soft_logout false)', async () => {
    const res = await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: 'vat_unknown' });
    expectMatrixError(res, 401, 'M_UNKNOWN_TOKEN');
    expect(res.body.soft_logout).to.not.equal(true);
  });
});

describe('expired refresh tokens', () => {
  // 1 ms: the refresh token has expired by the time it is presented.
  const s = useServer({ refresh_token_lifetime: 1 });

  it('are refused with 401 M_UNKNOWN_TOKEN', async () => {
    await s.t.registerUser('fred', { password: 'fred-password' });
    const session = await login(s.t, 'fred', 'fred-password', { refresh_token: true });
    await new Promise((r) => setTimeout(r, 5));
    expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/refresh', { body: { refresh_token: session.refresh_token } }), 401, 'M_UNKNOWN_TOKEN');
  });
});
