import { expect } from 'chai';
import { startTestServer, type TestServer } from '../harness.js';
import { login, passwordAuth } from './helpers/index.js';

describe('start-up and account endpoints clients call', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => t?.close());

  it('answers turnServer and thirdparty probes without errors', async () => {
    const u = await t.registerUser();
    expect((await t.request('GET', '/_matrix/client/v3/voip/turnServer', { token: u.accessToken })).status).to.equal(200);
    const protocols = await t.request('GET', '/_matrix/client/v3/thirdparty/protocols', { token: u.accessToken });
    expect(protocols.status).to.equal(200);
    expect(protocols.body).to.deep.equal({});
    expect((await t.request('GET', '/_matrix/client/v3/thirdparty/protocol/irc', { token: u.accessToken })).status).to.equal(404);
  });

  it('issues OpenID tokens that a third party can check, and only for oneself', async () => {
    const u = await t.registerUser();
    const other = await t.registerUser();
    const res = await t.request('POST', `/_matrix/client/v3/user/${encodeURIComponent(u.userId)}/openid/request_token`, { token: u.accessToken, body: {} });
    expect(res.status).to.equal(200);
    expect(res.body.matrix_server_name).to.equal('test.local');
    const info = await t.request('GET', `/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(res.body.access_token)}`);
    expect(info.body).to.deep.equal({ sub: u.userId });
    const bad = await t.request('GET', '/_matrix/federation/v1/openid/userinfo?access_token=nope');
    expect(bad.status).to.equal(401);
    expect(bad.body.errcode).to.equal('M_UNKNOWN_TOKEN');
    // The OpenID token is no access token.
    expect((await t.request('GET', '/_matrix/client/v3/account/whoami', { token: res.body.access_token })).status).to.equal(401);
    const forOther = await t.request('POST', `/_matrix/client/v3/user/${encodeURIComponent(other.userId)}/openid/request_token`, { token: u.accessToken, body: {} });
    expect(forOther.status).to.equal(403);
  });

  it('lists mutual rooms', async () => {
    const a = await t.registerUser();
    const b = await t.registerUser();
    const shared = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: a.accessToken, body: { preset: 'public_chat' } })).body.room_id;
    await t.request('POST', '/_matrix/client/v3/createRoom', { token: a.accessToken, body: {} });
    await t.request('POST', `/_matrix/client/v3/join/${encodeURIComponent(shared)}`, { token: b.accessToken, body: {} });
    const res = await t.request('GET', `/_matrix/client/v1/mutual_rooms?user_id=${encodeURIComponent(b.userId)}`, { token: a.accessToken });
    expect(res.body.joined).to.deep.equal([shared]);
    expect((await t.request('GET', '/_matrix/client/v1/mutual_rooms?user_id=nonsense', { token: a.accessToken })).status).to.equal(400);
  });

  it('stores custom profile fields (m.tz) and refuses reserved keys', async () => {
    const u = await t.registerUser();
    const path = `/_matrix/client/v3/profile/${encodeURIComponent(u.userId)}`;
    expect((await t.request('PUT', `${path}/m.tz`, { token: u.accessToken, body: { 'm.tz': 'Europe/Moscow' } })).status).to.equal(200);
    expect((await t.request('GET', `${path}/m.tz`)).body).to.deep.equal({ 'm.tz': 'Europe/Moscow' });
    expect((await t.request('GET', path)).body['m.tz']).to.equal('Europe/Moscow');
    const reserved = await t.request('PUT', `${path}/m.nonsense`, { token: u.accessToken, body: { 'm.nonsense': 1 } });
    expect(reserved.status).to.equal(400);
    expect((await t.request('DELETE', `${path}/m.tz`, { token: u.accessToken })).status).to.equal(200);
    expect((await t.request('GET', `${path}/m.tz`)).status).to.equal(404);
  });

  it('refuses third-party identifier requests clearly', async () => {
    const res = await t.request('POST', '/_matrix/client/v3/register/email/requestToken', { body: { client_secret: 'x', email: 'a@b.c', send_attempt: 1 } });
    expect(res.status).to.equal(403);
    expect(res.body.errcode).to.equal('M_THREEPID_DENIED');
  });

  it("records a device's last-seen address and shows it to admins through whois", async () => {
    const admin = await t.registerUser(undefined, { admin: true });
    const u = await t.registerUser();
    await t.request('GET', '/_matrix/client/v3/account/whoami', { token: u.accessToken, headers: { 'User-Agent': 'VecheTest/1.0' } });
    await new Promise((r) => setTimeout(r, 200));
    const whois = await t.request('GET', `/_matrix/client/v3/admin/whois/${encodeURIComponent(u.userId)}`, { token: admin.accessToken });
    expect(whois.status).to.equal(200);
    const conn = whois.body.devices[u.deviceId].sessions[0].connections[0];
    expect(conn.ip).to.match(/127\.0\.0\.1/);
    expect(conn.user_agent).to.equal('VecheTest/1.0');
    const denied = await t.request('GET', `/_matrix/client/v3/admin/whois/${encodeURIComponent(admin.userId)}`, { token: u.accessToken });
    expect(denied.status).to.equal(403);
  });

  it('a password change revokes every other token, those of the same device included', async () => {
    const u = await t.registerUser();
    const second = await login(t, u.userId, u.password, { device_id: u.deviceId });
    const res = await t.request('POST', '/_matrix/client/v3/account/password', {
      token: u.accessToken,
      body: { new_password: 'a new password 123', auth: passwordAuth(u.userId, u.password) },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect((await t.request('GET', '/_matrix/client/v3/account/whoami', { token: u.accessToken })).status).to.equal(200);
    expect((await t.request('GET', '/_matrix/client/v3/account/whoami', { token: second.access_token })).status).to.equal(401);
  });
});
