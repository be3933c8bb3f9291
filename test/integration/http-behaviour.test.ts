/** Behaviour on every request: tokens, body parsing and validation, size limit, no 500s, no partial writes. */
import { expect } from 'chai';
import { countRows, expectMatrixError, useServer } from './helpers/index.js';

const WHOAMI = '/_matrix/client/v3/account/whoami';

describe('HTTP behaviour', () => {
  const s = useServer();
  let user: { userId: string; accessToken: string; deviceId: string };
  before(async () => {
    user = await s.t.registerUser('hana');
  });

  describe('access tokens', () => {
    it('no token: 401 M_MISSING_TOKEN', async () => {
      expectMatrixError(await s.t.request('GET', WHOAMI), 401, 'M_MISSING_TOKEN');
      expectMatrixError(await s.t.request('GET', WHOAMI, { headers: { Authorization: 'Basic abc' } }), 401, 'M_MISSING_TOKEN');
    });

    it('an unknown token: 401 M_UNKNOWN_TOKEN', async () => {
      expectMatrixError(await s.t.request('GET', WHOAMI, { token: 'vat_not_a_real_token' }), 401, 'M_UNKNOWN_TOKEN');
      expectMatrixError(await s.t.request('GET', `${WHOAMI}?access_token=garbage`), 401, 'M_UNKNOWN_TOKEN');
      // a token that differs from a real one only in the last character is just as unknown
      const t = user.accessToken;
      const near = t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A');
      expectMatrixError(await s.t.request('GET', WHOAMI, { token: near }), 401, 'M_UNKNOWN_TOKEN');
    });

    it('accepts the token in the Authorization header and in ?access_token=', async () => {
      expect((await s.t.request('GET', WHOAMI, { token: user.accessToken })).body.user_id).to.equal(user.userId);
      expect((await s.t.request('GET', WHOAMI, { headers: { Authorization: `bearer ${user.accessToken}` } })).body.user_id).to.equal(user.userId);
      const q = await s.t.request('GET', `${WHOAMI}?access_token=${encodeURIComponent(user.accessToken)}`);
      expect(q.status).to.equal(200);
      expect(q.body.user_id).to.equal(user.userId);
    });

    it('stores only a hash of each token', async () => {
      const { rows } = await s.t.server.services.storage.db.query<{ token_hash: Buffer }>('SELECT token_hash FROM access_tokens');
      expect(rows.length).to.be.above(0);
      for (const r of rows) {
        expect(r.token_hash.toString('utf8')).to.not.equal(user.accessToken);
        expect(r.token_hash.toString('hex')).to.not.include(Buffer.from(user.accessToken).toString('hex'));
      }
      const dump = JSON.stringify((await s.t.server.services.storage.db.query('SELECT * FROM access_tokens')).rows);
      expect(dump).to.not.include(user.accessToken);
      expect(dump).to.not.include(user.accessToken.slice(4));
    });
  });

  describe('request bodies', () => {
    const json = { 'Content-Type': 'application/json' };

    it('a body that is not JSON: 400 M_NOT_JSON', async () => {
      for (const rawBody of ['{', 'not json', '{"a":1,}', "{'a':1}"]) {
        expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/login', { rawBody, headers: json }), 400, 'M_NOT_JSON');
      }
      expectMatrixError(
        await s.t.request('PUT', `/_matrix/client/v3/user/${encodeURIComponent(user.userId)}/account_data/org.example.x`, { token: user.accessToken, rawBody: '{{', headers: json }),
        400,
        'M_NOT_JSON',
      );
    });

    it('JSON of the wrong shape: 400 M_BAD_JSON naming the field', async () => {
      const cases: [string, string, unknown, string, string?][] = [
        ['POST', '/_matrix/client/v3/login', { type: 5 }, 'type'],
        ['POST', '/_matrix/client/v3/login', { type: 'm.login.password', identifier: { user: 'x' }, password: 'x' }, 'type'],
        ['POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'hana', password: 42 }, 'password'],
        ['POST', '/_matrix/client/v3/refresh', { refresh_token: 42 }, 'refresh_token'],
        ['POST', '/_matrix/client/v3/register', { username: ['x'], password: 'pw-pw-pw' }, 'username'],
        ['POST', '/_matrix/client/v3/register', { username: 'x', inhibit_login: 'yes' }, 'inhibit_login'],
        ['POST', '/_matrix/client/v3/delete_devices', { devices: 'ABC' }, 'devices', user.accessToken],
        ['POST', '/_matrix/client/v3/account/password', { new_password: 7 }, 'new_password', user.accessToken],
        ['PUT', `/_matrix/client/v3/devices/${user.deviceId}`, { display_name: ['x'] }, 'display_name', user.accessToken],
      ];
      for (const [method, path, body, field, token] of cases) {
        const res = await s.t.request(method, path, { body, token });
        expectMatrixError(res, 400, 'M_BAD_JSON');
        expect(res.body.error, `${method} ${path} ${JSON.stringify(body)}`).to.include(field);
      }
    });

    it('a body that is JSON but not an object: 400 M_BAD_JSON', async () => {
      for (const rawBody of ['[]', '"str"', '42', 'null', 'true']) {
        const res = await s.t.request('POST', '/_matrix/client/v3/login', { rawBody, headers: json });
        expectMatrixError(res, 400, 'M_BAD_JSON');
      }
    });

    it('a body over the limit: 413 M_TOO_LARGE (declared length and chunked)', async () => {
      const big = JSON.stringify({ type: 'm.login.password', padding: 'x'.repeat(2 * 1024 * 1024) });
      const declared = await s.t.request('POST', '/_matrix/client/v3/login', { rawBody: big, headers: json });
      expectMatrixError(declared, 413, 'M_TOO_LARGE');
      expect(declared.headers.get('access-control-allow-origin')).to.equal('*');
      // chunked: no Content-Length to look at
      const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 40) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const res = await fetch(`${s.t.baseUrl}/_matrix/client/v3/user/${encodeURIComponent(user.userId)}/account_data/org.example.big`, {
        method: 'PUT',
        headers: { ...json, Authorization: `Bearer ${user.accessToken}` },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).to.equal(413);
      expect(((await res.json()) as { errcode: string }).errcode).to.equal('M_TOO_LARGE');
      expect(await countRows(s.t, "account_data WHERE type = 'org.example.big'")).to.equal(0);
      // the connection is not left half-read: the next requests (bodies included) are answered at once
      expect((await s.t.request('GET', WHOAMI, { token: user.accessToken })).status).to.equal(200);
      for (let i = 0; i < 3; i++) {
        expect((await s.t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password' } })).status).to.equal(400);
        expect((await s.t.request('POST', '/_matrix/client/v3/login')).status).to.equal(400);
      }
    });
  });

  describe('bad input never causes a 500', () => {
    const bodies: (string | undefined)[] = [
      undefined,
      '',
      'null',
      '[]',
      '"x"',
      '0',
      '{}',
      '{"auth":"x"}',
      '{"auth":{"type":5}}',
      '{"auth":{"type":"m.login.password","session":5}}',
      '{"auth":{"type":"m.login.password","identifier":5,"password":"x"}}',
      '{"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":{}},"password":[]}}',
      '{"auth":{"type":"m.login.registration_token","token":{}}}',
      '{"auth":{"type":"m.login.dummy","session":"' + 'x'.repeat(5000) + '"}}',
      '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@\\u0000:test.local"},"password":"x"}',
      '{"type":"m.login.password","user":"' + 'a'.repeat(10000) + '","password":"x"}',
      '{"username":"\\u0000","password":"x"}',
      '{"devices":[1,2]}',
      '{"devices":["' + 'x'.repeat(300) + '"]}',
      '{"displayname":null}',
      '{"avatar_url":null}',
      '{"display_name":null}',
      '{"new_password":"","logout_devices":"no"}',
      '{"refresh_token":""}',
      '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
    ];

    it('answers every malformed request with a Matrix error below 500', async function () {
      this.timeout(120_000);
      const me = encodeURIComponent(user.userId);
      const targets: [string, string][] = [
        ['POST', '/_matrix/client/v3/login'],
        ['POST', '/_matrix/client/v3/register'],
        ['POST', '/_matrix/client/v3/register?kind=bogus'],
        ['POST', '/_matrix/client/v3/refresh'],
        ['POST', '/_matrix/client/v3/logout/all?access_token=nope'],
        ['POST', '/_matrix/client/v3/account/password'],
        ['POST', '/_matrix/client/v3/account/deactivate'],
        ['POST', '/_matrix/client/v3/delete_devices'],
        ['PUT', '/_matrix/client/v3/devices/NOSUCH'],
        ['DELETE', '/_matrix/client/v3/devices/NOSUCH'],
        ['PUT', `/_matrix/client/v3/profile/${me}/displayname`],
        ['PUT', `/_matrix/client/v3/profile/${me}/avatar_url`],
        ['PUT', `/_matrix/client/v3/user/${me}/account_data/org.example.fuzz`],
        ['PUT', `/_matrix/client/v3/user/${me}/rooms/!r:test.local/account_data/org.example.fuzz`],
        ['POST', '/_synapse/admin/v1/register'],
      ];
      const statuses = new Set<number>();
      for (const [method, path] of targets) {
        for (const rawBody of bodies) {
          const res = await s.t.request(method, path, {
            rawBody,
            token: path.includes('access_token=') ? undefined : user.accessToken,
            headers: rawBody === undefined ? {} : { 'Content-Type': 'application/json' },
          });
          expect(res.status, `${method} ${path} ${rawBody?.slice(0, 80)} → ${JSON.stringify(res.body)}`).to.be.below(500);
          statuses.add(res.status);
          if (res.status >= 400) expect(res.body.errcode, `${method} ${path} ${rawBody?.slice(0, 80)}`).to.be.a('string');
        }
      }
      // the user survived the onslaught (no UIA was ever completed)
      expect((await s.t.request('GET', WHOAMI, { token: user.accessToken })).status).to.equal(200);
      expect([...statuses].every((x) => x < 500)).to.equal(true);
    });

    it('malformed paths and query strings are client errors too', async () => {
      const paths = [
        '/_matrix/client/v3/profile/%E0%A4%A',
        '/_matrix/client/v3/profile/%',
        `/_matrix/client/v3/user/%ZZ/account_data/x?access_token=${encodeURIComponent(user.accessToken)}`,
        '/_matrix/client/v3/register/available?username=%',
        '/_matrix/client/v3/register/available?username[]=a',
        '/_matrix/client/v3/register/available?username=a&username=b',
        '/_matrix/client/v1/register/m.login.registration_token/validity?token[x]=1',
        `/_matrix/client/v3/account/whoami?access_token=${encodeURIComponent(user.accessToken)}&access_token=x`,
      ];
      for (const path of paths) {
        const res = await s.t.request('GET', path);
        expect(res.status, `${path} → ${JSON.stringify(res.body)}`).to.be.below(500);
        if (res.status >= 400) expect(res.body.errcode, path).to.be.a('string');
      }
    });
  });

  describe('a rejected request stores nothing', () => {
    it('a refused registration leaves no user, no device, no token', async () => {
      const before = await Promise.all(['users', 'devices', 'access_tokens', 'profiles'].map((t) => countRows(s.t, t)));
      await s.t.request('POST', '/_matrix/client/v3/register', { rawBody: '{"username":"zed",', headers: { 'Content-Type': 'application/json' } });
      await s.t.request('POST', '/_matrix/client/v3/register', { body: { username: 'zed', password: 5 } });
      await s.t.request('POST', '/_matrix/client/v3/register', { body: { username: 'Zed Zed', password: 'pw-pw-pw', auth: { type: 'm.login.dummy' } } });
      await s.t.request('POST', '/_matrix/client/v3/register?kind=guest', { body: {} });
      const after = await Promise.all(['users', 'devices', 'access_tokens', 'profiles'].map((t) => countRows(s.t, t)));
      expect(after).to.deep.equal(before);
    });

    it('a refused password change leaves the password and the devices alone', async () => {
      const victim = await s.t.registerUser('ivan', { password: 'ivan-password' });
      const devices = await countRows(s.t, `devices WHERE user_id = '${victim.userId}'`);
      await s.t.request('POST', '/_matrix/client/v3/account/password', { token: victim.accessToken, body: { new_password: 'x', logout_devices: 'yes', auth: { type: 'm.login.password', user: 'ivan', password: 'ivan-password' } } });
      expect(await countRows(s.t, `devices WHERE user_id = '${victim.userId}'`)).to.equal(devices);
      const relogin = await s.t.request('POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: 'ivan', password: 'ivan-password' } });
      expect(relogin.status).to.equal(200);
    });
  });
});
