/** spec: Client-Server API §5 "Account management" — password change and deactivation behind UIA. */
import { expect } from 'chai';
import { sdkClient } from '../sdk.js';
import { expectMatrixError, login, passwordAuth, rejectionOf, useServer } from './helpers/index.js';

describe('password change', () => {
  const s = useServer();
  const WHOAMI = '/_matrix/client/v3/account/whoami';

  it('needs UIA with the current password; other devices are logged out by default (matrix-js-sdk)', async () => {
    const user = await s.t.registerUser('pat', { password: 'old-password' });
    const other = await login(s.t, 'pat', 'old-password');
    const client = sdkClient(s.t.baseUrl, user);
    const challenge = await rejectionOf(client.setPassword({} as never, 'new-password'));
    expect(challenge.httpStatus).to.equal(401);
    expect(challenge.data.flows).to.deep.equal([{ stages: ['m.login.password'] }]);
    const session = challenge.data.session as string;
    await client.setPassword(passwordAuth(user.userId, 'old-password', session) as never, 'new-password');
    // the requesting device stays logged in; the other one is gone at once
    expect((await s.t.request('GET', WHOAMI, { token: user.accessToken })).status).to.equal(200);
    expectMatrixError(await s.t.request('GET', WHOAMI, { token: other.access_token }), 401, 'M_UNKNOWN_TOKEN');
    const { body } = await s.t.request('GET', '/_matrix/client/v3/devices', { token: user.accessToken });
    expect(body.devices.map((d: { device_id: string }) => d.device_id)).to.deep.equal([user.deviceId]);
    // the old password no longer works, the new one does
    expectMatrixError(
      await s.t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'pat' }, password: 'old-password' } }),
      403,
      'M_FORBIDDEN',
    );
    await login(s.t, 'pat', 'new-password');
  });

  it('keeps the other devices with logout_devices: false', async () => {
    const user = await s.t.registerUser('quentin', { password: 'old-password' });
    const other = await login(s.t, 'quentin', 'old-password');
    const res = await s.t.request('POST', '/_matrix/client/v3/account/password', {
      token: user.accessToken,
      body: { new_password: 'newer-password', logout_devices: false, auth: passwordAuth(user.userId, 'old-password') },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect((await s.t.request('GET', WHOAMI, { token: other.access_token })).status).to.equal(200);
    await login(s.t, 'quentin', 'newer-password');
  });

  it('refuses a wrong current password and changes nothing', async () => {
    const user = await s.t.registerUser('rita', { password: 'right-password' });
    const other = await login(s.t, 'rita', 'right-password');
    const res = await s.t.request('POST', '/_matrix/client/v3/account/password', {
      token: user.accessToken,
      body: { new_password: 'evil-password', auth: passwordAuth(user.userId, 'wrong-password') },
    });
    expect(res.status).to.equal(401);
    expect(res.body.errcode).to.equal('M_FORBIDDEN');
    expect(res.body.flows).to.deep.equal([{ stages: ['m.login.password'] }]);
    expect((await s.t.request('GET', WHOAMI, { token: other.access_token })).status).to.equal(200);
    await login(s.t, 'rita', 'right-password');
  });

  it("refuses another user's password as proof", async () => {
    const user = await s.t.registerUser('sam', { password: 'sam-password' });
    await s.t.registerUser('tina', { password: 'tina-password' });
    const res = await s.t.request('POST', '/_matrix/client/v3/account/password', {
      token: user.accessToken,
      body: { new_password: 'hijack-password', auth: passwordAuth('@tina:test.local', 'tina-password') },
    });
    expect(res.status).to.equal(401);
    await login(s.t, 'sam', 'sam-password');
  });

  it('needs a token', async () => {
    expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/account/password', { body: { new_password: 'x-password' } }), 401, 'M_MISSING_TOKEN');
  });
});

describe('account deactivation', () => {
  const s = useServer();

  it('needs UIA, then the account can no longer log in and its tokens die (matrix-js-sdk)', async () => {
    const user = await s.t.registerUser('ursula', { password: 'ursula-password' });
    const other = await login(s.t, 'ursula', 'ursula-password');
    const client = sdkClient(s.t.baseUrl, user);
    const challenge = await rejectionOf(client.deactivateAccount());
    expect(challenge.httpStatus).to.equal(401);
    expect(challenge.data.flows).to.deep.equal([{ stages: ['m.login.password'] }]);
    // still usable until the UIA completes
    expect((await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: user.accessToken })).status).to.equal(200);
    const done = await client.deactivateAccount(passwordAuth(user.userId, 'ursula-password', challenge.data.session) as never);
    expect(done.id_server_unbind_result).to.be.a('string');
    for (const token of [user.accessToken, other.access_token]) {
      expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token }), 401, 'M_UNKNOWN_TOKEN');
    }
    const relogin = await s.t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'ursula' }, password: 'ursula-password' },
    });
    expect(relogin.status).to.equal(403);
    // the user ID is never handed out again
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/register/available?username=ursula'), 400, 'M_USER_IN_USE');
    expect((await s.t.request('GET', `/_matrix/client/v3/profile/${encodeURIComponent(user.userId)}`)).status).to.equal(404);
  });

  it('refuses a wrong password and leaves the account alone', async () => {
    const user = await s.t.registerUser('victor', { password: 'victor-password' });
    const res = await s.t.request('POST', '/_matrix/client/v3/account/deactivate', {
      token: user.accessToken,
      body: { auth: passwordAuth(user.userId, 'not-it') },
    });
    expect(res.status).to.equal(401);
    expect(res.body.errcode).to.equal('M_FORBIDDEN');
    expect((await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: user.accessToken })).status).to.equal(200);
    await login(s.t, 'victor', 'victor-password');
  });

  it('a UIA session started for a password change cannot authorise deactivation', async () => {
    const user = await s.t.registerUser('wendy', { password: 'wendy-password' });
    const first = await s.t.request('POST', '/_matrix/client/v3/account/password', { token: user.accessToken, body: { new_password: 'other-password' } });
    expect(first.status).to.equal(401);
    const res = await s.t.request('POST', '/_matrix/client/v3/account/deactivate', {
      token: user.accessToken,
      body: { auth: passwordAuth(user.userId, 'wendy-password', first.body.session) },
    });
    expect(res.status).to.be.oneOf([400, 401, 403]);
    expect((await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: user.accessToken })).status).to.equal(200);
  });

  it("a UIA session of one user cannot be completed by another", async () => {
    const mallory = await s.t.registerUser('mallory', { password: 'mallory-password' });
    const xena = await s.t.registerUser('xena', { password: 'xena-password' });
    const started = await s.t.request('POST', '/_matrix/client/v3/account/deactivate', { token: xena.accessToken, body: {} });
    expect(started.status).to.equal(401);
    // mallory proves her own password inside xena's session: refused, and nobody is deactivated
    const res = await s.t.request('POST', '/_matrix/client/v3/account/deactivate', {
      token: mallory.accessToken,
      body: { auth: passwordAuth(mallory.userId, 'mallory-password', started.body.session) },
    });
    expectMatrixError(res, 403, 'M_FORBIDDEN');
    expect((await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: xena.accessToken })).status).to.equal(200);
    expect((await s.t.request('GET', '/_matrix/client/v3/account/whoami', { token: mallory.accessToken })).status).to.equal(200);
  });
});
