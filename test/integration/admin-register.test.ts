/**
 * Synapse's shared-secret registration (/_synapse/admin/v1/register), checked against the published
 * recipe: mac = hex HMAC-SHA1(secret, nonce \0 username \0 password \0 "admin"|"notadmin" [\0 user_type]).
 * The MAC is computed here, independently of the server's own code.
 */
import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { sdkClient } from '../sdk.js';
import { countRows, expectMatrixError, login, useServer } from './helpers/index.js';

const PATH = '/_synapse/admin/v1/register';

function publishedMac(secret: string, nonce: string, username: string, password: string, admin: boolean, userType?: string): string {
  const parts = [nonce, username, password, admin ? 'admin' : 'notadmin'];
  if (userType) parts.push(userType);
  return createHmac('sha1', Buffer.from(secret, 'utf8')).update(parts.join('\x00'), 'utf8').digest('hex');
}

describe('shared-secret admin registration', () => {
  const s = useServer();

  async function nonce(): Promise<string> {
    const res = await s.t.request('GET', PATH);
    expect(res.status).to.equal(200);
    expect(res.body.nonce).to.be.a('string').with.length.above(10);
    return res.body.nonce;
  }

  it('hands out a fresh nonce each time', async () => {
    const a = await nonce();
    const b = await nonce();
    expect(a).to.not.equal(b);
  });

  it('registers a user with the published HMAC recipe and returns a working session', async () => {
    const n = await nonce();
    const res = await s.t.request('POST', PATH, {
      body: { nonce: n, username: 'amelia', password: 'amelia-password', admin: false, mac: publishedMac(s.t.sharedSecret, n, 'amelia', 'amelia-password', false) },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.user_id).to.equal('@amelia:test.local');
    expect(res.body.home_server).to.equal('test.local');
    expect(res.body.access_token).to.be.a('string');
    expect(res.body.device_id).to.be.a('string');
    const who = await sdkClient(s.t.baseUrl, { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id }).whoami();
    expect(who.user_id).to.equal('@amelia:test.local');
    const row = await s.t.server.services.storage.users.get('@amelia:test.local');
    expect(row!.isAdmin).to.equal(false);
    await login(s.t, 'amelia', 'amelia-password');
  });

  it('stores the admin flag, the user type and the display name', async () => {
    const n = await nonce();
    const res = await s.t.request('POST', PATH, {
      body: {
        nonce: n,
        username: 'boss',
        password: 'boss-password',
        admin: true,
        user_type: 'bot',
        displayname: 'The Boss',
        mac: publishedMac(s.t.sharedSecret, n, 'boss', 'boss-password', true, 'bot'),
      },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const row = await s.t.server.services.storage.users.get('@boss:test.local');
    expect(row!.isAdmin).to.equal(true);
    expect(row!.userType).to.equal('bot');
    expect((await s.t.request('GET', '/_matrix/client/v3/profile/@boss:test.local')).body.displayname).to.equal('The Boss');
  });

  it('refuses a user type Synapse does not know with 400 M_INVALID_PARAM, keeping the nonce unspent', async () => {
    const n = await nonce();
    const before = await countRows(s.t, 'users');
    const body = (userType: string) => ({ nonce: n, username: 'typed', password: 'typed-password', admin: false, user_type: userType, mac: publishedMac(s.t.sharedSecret, n, 'typed', 'typed-password', false, userType) });
    const refused = await s.t.request('POST', PATH, { body: body('wizard') });
    expect(refused.status).to.equal(400);
    expect(refused.body.errcode).to.equal('M_INVALID_PARAM');
    expect(await countRows(s.t, 'users')).to.equal(before);
    expect((await s.t.request('POST', PATH, { body: body('support') })).status).to.equal(200);
  });

  it('refuses a wrong MAC with 403 M_FORBIDDEN and stores nothing', async () => {
    const before = await countRows(s.t, 'users');
    const cases = [
      (n: string) => publishedMac('not-the-secret', n, 'carl', 'carl-password', false),
      // signed as a normal user, sent as an admin
      (n: string) => publishedMac(s.t.sharedSecret, n, 'carl', 'carl-password', false),
      // signed without the user type that is sent
      (n: string) => publishedMac(s.t.sharedSecret, n, 'carl', 'carl-password', true),
      () => 'deadbeef',
    ];
    for (const mac of cases) {
      const n = await nonce();
      const res = await s.t.request('POST', PATH, { body: { nonce: n, username: 'carl', password: 'carl-password', admin: true, user_type: 'support', mac: mac(n) } });
      expectMatrixError(res, 403, 'M_FORBIDDEN');
    }
    expect(await countRows(s.t, 'users')).to.equal(before);
  });

  it('refuses a nonce used once already, and one never issued', async () => {
    const n = await nonce();
    const ok = await s.t.request('POST', PATH, {
      body: { nonce: n, username: 'dora', password: 'dora-password', admin: false, mac: publishedMac(s.t.sharedSecret, n, 'dora', 'dora-password', false) },
    });
    expect(ok.status).to.equal(200);
    const again = await s.t.request('POST', PATH, {
      body: { nonce: n, username: 'dora2', password: 'dora-password', admin: false, mac: publishedMac(s.t.sharedSecret, n, 'dora2', 'dora-password', false) },
    });
    expect(again.status).to.equal(400);
    expect(again.body.errcode).to.be.a('string');
    const invented = 'f'.repeat(40);
    const made = await s.t.request('POST', PATH, {
      body: { nonce: invented, username: 'dora3', password: 'dora-password', admin: false, mac: publishedMac(s.t.sharedSecret, invented, 'dora3', 'dora-password', false) },
    });
    expect(made.status).to.equal(400);
    expect(await s.t.server.services.storage.users.get('@dora2:test.local')).to.equal(undefined);
    expect(await s.t.server.services.storage.users.get('@dora3:test.local')).to.equal(undefined);
  });

  it('refuses a taken or invalid user name', async () => {
    await s.t.registerUser('eve');
    let n = await nonce();
    expectMatrixError(
      await s.t.request('POST', PATH, { body: { nonce: n, username: 'eve', password: 'pw-pw-pw', admin: false, mac: publishedMac(s.t.sharedSecret, n, 'eve', 'pw-pw-pw', false) } }),
      400,
      'M_USER_IN_USE',
    );
    n = await nonce();
    expectMatrixError(
      await s.t.request('POST', PATH, { body: { nonce: n, username: 'bad name', password: 'pw-pw-pw', admin: false, mac: publishedMac(s.t.sharedSecret, n, 'bad name', 'pw-pw-pw', false) } }),
      400,
      'M_INVALID_USERNAME',
    );
  });

  it('lower-cases the user name as Synapse does (the MAC covers the name as sent)', async () => {
    const n = await nonce();
    const res = await s.t.request('POST', PATH, {
      body: { nonce: n, username: 'Felix', password: 'felix-password', admin: false, mac: publishedMac(s.t.sharedSecret, n, 'Felix', 'felix-password', false) },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.user_id).to.equal('@felix:test.local');
  });

  it('refuses a body missing fields with 400, never 500', async () => {
    const n = await nonce();
    for (const body of [{}, { nonce: n }, { nonce: n, username: 'gil', password: 'x', admin: 'yes', mac: 'x' }, { nonce: 1, username: 'gil', password: 'x', mac: 'x' }]) {
      const res = await s.t.request('POST', PATH, { body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.errcode).to.be.a('string');
    }
  });
});
