/** spec: Client-Server API §5 "Account registration" — POST /register with UIA, availability, tokens. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { sdkClient } from '../sdk.js';
import { countRows, expectMatrixError, login, rejectionOf, useServer } from './helpers/index.js';
import type { TestServer } from '../harness.js';

const REGISTER = '/_matrix/client/v3/register';

/** The two UIA rounds of an m.login.dummy registration over plain HTTP. */
async function registerDummy(t: TestServer, body: Record<string, unknown>) {
  const first = await t.request('POST', REGISTER, { body });
  if (first.status !== 401) return first;
  return t.request('POST', REGISTER, { body: { ...body, auth: { type: 'm.login.dummy', session: first.body.session } } });
}

describe('registration with m.login.dummy', () => {
  const s = useServer();

  it('first answers 401 with the flows and a session, then registers (matrix-js-sdk)', async () => {
    const client = sdkClient(s.t.baseUrl);
    const err = await rejectionOf(client.registerRequest({ username: 'frank', password: 'frank-password' }));
    expect(err.httpStatus).to.equal(401);
    expect(err.data.flows).to.deep.equal([{ stages: ['m.login.dummy'] }]);
    expect(err.data.session).to.be.a('string').with.length.above(0);
    expect(err.data.params).to.be.an('object');
    const res = await client.registerRequest({
      username: 'frank',
      password: 'frank-password',
      initial_device_display_name: 'Frank laptop',
      auth: { type: 'm.login.dummy', session: err.data.session },
    });
    expect(res.user_id).to.equal('@frank:test.local');
    expect(res.access_token).to.be.a('string');
    expect(res.device_id).to.be.a('string');
    const me = sdkClient(s.t.baseUrl, { userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    expect((await me.whoami()).user_id).to.equal('@frank:test.local');
    const device = await me.getDevice(res.device_id!);
    expect(device.display_name).to.equal('Frank laptop');
    // the new account can log in with its password
    expect((await login(s.t, 'frank', 'frank-password')).user_id).to.equal('@frank:test.local');
  });

  it('keeps the parameters of the first round when the last one sends only auth', async () => {
    const first = await s.t.request('POST', REGISTER, { body: { username: 'grace', password: 'grace-password', device_id: 'GRACEDEV' } });
    expect(first.status).to.equal(401);
    const done = await s.t.request('POST', REGISTER, { body: { auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(done.status, JSON.stringify(done.body)).to.equal(200);
    expect(done.body.user_id).to.equal('@grace:test.local');
    expect(done.body.device_id).to.equal('GRACEDEV');
    await login(s.t, 'grace', 'grace-password');
  });

  it('continues a UIA session started under r0 on v3 (the same operation)', async () => {
    const first = await s.t.request('POST', '/_matrix/client/r0/register', { body: { username: 'gustav', password: 'gustav-password' } });
    expect(first.status).to.equal(401);
    const done = await s.t.request('POST', REGISTER, { body: { username: 'gustav', password: 'gustav-password', auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(done.status, JSON.stringify(done.body)).to.equal(200);
    expect(done.body.user_id).to.equal('@gustav:test.local');
  });

  it('refuses an unknown UIA session', async () => {
    const res = await s.t.request('POST', REGISTER, { body: { username: 'ghost', password: 'pw-pw-pw', auth: { type: 'm.login.dummy', session: 'nope' } } });
    expect(res.status).to.be.oneOf([400, 401]);
    expect(res.body.errcode).to.be.a('string');
    expect(await s.t.server.services.storage.users.get('@ghost:test.local')).to.equal(undefined);
  });

  it('refuses an invalid user name with M_INVALID_USERNAME and stores nothing', async () => {
    const before = await countRows(s.t, 'users');
    for (const username of ['has space', 'émile', '@x:test.local', 'a:b', '12345', 'x'.repeat(300)]) {
      const res = await registerDummy(s.t, { username, password: 'some-password' });
      expectMatrixError(res, 400, 'M_INVALID_USERNAME');
    }
    expect(await countRows(s.t, 'users')).to.equal(before);
  });

  it('refuses a taken user name with M_USER_IN_USE, in any letter case', async () => {
    await s.t.registerUser('henry');
    const before = await countRows(s.t, 'users');
    for (const username of ['henry', 'HENRY', 'Henry']) {
      const res = await s.t.request('POST', REGISTER, { body: { username, password: 'some-password' } });
      expectMatrixError(res, 400, 'M_USER_IN_USE');
    }
    expect(await countRows(s.t, 'users')).to.equal(before);
  });

  it('answers /register/available', async () => {
    const client = sdkClient(s.t.baseUrl);
    expect(await client.isUsernameAvailable('free_name')).to.equal(true);
    await s.t.registerUser('iris');
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/register/available?username=iris'), 400, 'M_USER_IN_USE');
    expectMatrixError(await s.t.request('GET', '/_matrix/client/r0/register/available?username=IRIS'), 400, 'M_USER_IN_USE');
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/register/available?username=bad%20name'), 400, 'M_INVALID_USERNAME');
    const ok = await s.t.request('GET', '/_matrix/client/v3/register/available?username=someone_else');
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.equal({ available: true });
  });

  it('with inhibit_login creates the user but no session', async () => {
    const res = await registerDummy(s.t, { username: 'jack', password: 'jack-password', inhibit_login: true });
    expect(res.status).to.equal(200);
    expect(res.body.user_id).to.equal('@jack:test.local');
    expect(res.body).to.not.have.property('access_token');
    expect(res.body).to.not.have.property('device_id');
    expect(await countRows(s.t, "devices WHERE user_id = '@jack:test.local'")).to.equal(0);
    await login(s.t, 'jack', 'jack-password');
  });

  it('gives a refresh token when asked', async () => {
    const res = await registerDummy(s.t, { username: 'kate', password: 'kate-password', refresh_token: true });
    expect(res.status).to.equal(200);
    expect(res.body.refresh_token).to.be.a('string');
    expect(res.body.expires_in_ms).to.be.a('number');
  });

  it('refuses a device_id over 512 characters and registers nobody', async () => {
    const res = await registerDummy(s.t, { username: 'longdevice', password: 'pw-pw-pw-pw', device_id: randomBytes(400).toString('hex') });
    expectMatrixError(res, 400, 'M_INVALID_PARAM');
    expect(await s.t.server.services.storage.users.get('@longdevice:test.local')).to.equal(undefined);
  });

  it('refuses kind=guest when guest access is off', async () => {
    const before = await countRows(s.t, 'users');
    expectMatrixError(await s.t.request('POST', `${REGISTER}?kind=guest`, { body: {} }), 403, 'M_GUEST_ACCESS_FORBIDDEN');
    expect(await countRows(s.t, 'users')).to.equal(before);
  });

  it('refuses a password that is missing', async () => {
    const res = await registerDummy(s.t, { username: 'nopass' });
    expect(res.status).to.equal(400);
    expect(await s.t.server.services.storage.users.get('@nopass:test.local')).to.equal(undefined);
  });
});

describe('registration when disabled', () => {
  const s = useServer({ enable_registration: false });

  it('answers 403 M_FORBIDDEN and stores nothing; the admin API still creates users', async () => {
    const before = await countRows(s.t, 'users');
    const err = await rejectionOf(sdkClient(s.t.baseUrl).registerRequest({ username: 'luke', password: 'luke-password' }));
    expect(err.httpStatus).to.equal(403);
    expect(err.errcode).to.equal('M_FORBIDDEN');
    expect(await countRows(s.t, 'users')).to.equal(before);
    const user = await s.t.registerUser('luke');
    expect(user.userId).to.equal('@luke:test.local');
  });

  it('does not answer /register/available either (403, as Synapse)', async () => {
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/register/available?username=luke'), 403, 'M_FORBIDDEN');
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/register/available?username=free'), 403, 'M_FORBIDDEN');
  });
});

describe('guest registration when allowed', () => {
  const s = useServer({ allow_guest_access: true });

  it('creates a guest with a numeric user ID, limited to guest routes', async () => {
    const res = await s.t.request('POST', `${REGISTER}?kind=guest`, { body: {} });
    expect(res.status).to.equal(200);
    expect(res.body.user_id).to.match(/^@[0-9]+:test\.local$/);
    const who = await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: res.body.access_token });
    expect(who.body.is_guest).to.equal(true);
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/devices', { token: res.body.access_token }), 403, 'M_GUEST_ACCESS_FORBIDDEN');
    const second = await s.t.request('POST', `${REGISTER}?kind=guest`, { body: {} });
    expect(second.body.user_id).to.not.equal(res.body.user_id);
  });

  it('registers guests arriving at the same time, each with its own ID', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => s.t.request('POST', `${REGISTER}?kind=guest`, { body: {} })));
    expect(all.map((r) => r.status), JSON.stringify(all.map((r) => r.body))).to.deep.equal(Array(8).fill(200));
    expect(new Set(all.map((r) => r.body.user_id)).size).to.equal(8);
  });
});

describe('registration with registration tokens', () => {
  const s = useServer({ registration_requires_token: true });
  const VALIDITY = '/_matrix/client/v1/register/m.login.registration_token/validity';

  async function registerWithToken(username: string, token: string) {
    const first = await s.t.request('POST', REGISTER, { body: { username, password: 'token-password' } });
    expect(first.status).to.equal(401);
    expect(first.body.flows).to.deep.equal([{ stages: ['m.login.registration_token'] }]);
    return s.t.request('POST', REGISTER, {
      body: { username, password: 'token-password', auth: { type: 'm.login.registration_token', token, session: first.body.session } },
    });
  }

  it('a valid token registers', async () => {
    await s.t.server.services.storage.registration.createToken({ token: 'open-sesame', usesAllowed: null, expiryTime: null });
    const res = await registerWithToken('mia', 'open-sesame');
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.user_id).to.equal('@mia:test.local');
    const row = await s.t.server.services.storage.registration.getToken('open-sesame');
    expect(row).to.include({ pending: 0, completed: 1 });
  });

  it('dummy auth does not get around the token', async () => {
    const first = await s.t.request('POST', REGISTER, { body: { username: 'sneaky', password: 'token-password' } });
    const res = await s.t.request('POST', REGISTER, { body: { username: 'sneaky', password: 'token-password', auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(res.status).to.equal(401);
    expect(await s.t.server.services.storage.users.get('@sneaky:test.local')).to.equal(undefined);
  });

  it('an invalid token gets 401 with an errcode and stores no user', async () => {
    const res = await registerWithToken('nina', 'wrong-token');
    expect(res.status).to.equal(401);
    expect(res.body.errcode).to.equal('M_UNAUTHORIZED');
    expect(res.body.session).to.be.a('string');
    expect(res.body.flows).to.deep.equal([{ stages: ['m.login.registration_token'] }]);
    expect(await s.t.server.services.storage.users.get('@nina:test.local')).to.equal(undefined);
  });

  it('a token whose uses are exhausted is refused', async () => {
    await s.t.server.services.storage.registration.createToken({ token: 'once', usesAllowed: 1, expiryTime: null });
    expect((await s.t.request('GET', `${VALIDITY}?token=once`)).body).to.deep.equal({ valid: true });
    expect((await registerWithToken('oscar', 'once')).status).to.equal(200);
    expect((await s.t.request('GET', `${VALIDITY}?token=once`)).body).to.deep.equal({ valid: false });
    const second = await registerWithToken('paula', 'once');
    expect(second.status).to.equal(401);
    expect(second.body.errcode).to.equal('M_UNAUTHORIZED');
    expect(await s.t.server.services.storage.users.get('@paula:test.local')).to.equal(undefined);
  });

  it('an expired token is refused', async () => {
    await s.t.server.services.storage.registration.createToken({ token: 'stale', usesAllowed: null, expiryTime: Date.now() - 1000 });
    expect((await s.t.request('GET', `${VALIDITY}?token=stale`)).body).to.deep.equal({ valid: false });
    expect((await registerWithToken('quinn', 'stale')).status).to.equal(401);
  });

  it('answers the validity endpoint', async () => {
    await s.t.server.services.storage.registration.createToken({ token: 'fresh', usesAllowed: 5, expiryTime: Date.now() + 3_600_000 });
    const valid = await s.t.request('GET', `${VALIDITY}?token=fresh`);
    expect(valid.status).to.equal(200);
    expect(valid.body).to.deep.equal({ valid: true });
    expect((await s.t.request('GET', `${VALIDITY}?token=unknown`)).body).to.deep.equal({ valid: false });
    expectMatrixError(await s.t.request('GET', VALIDITY), 400, 'M_MISSING_PARAM');
  });
});
