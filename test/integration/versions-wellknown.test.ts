/** Discovery: /versions, .well-known, both path prefixes, unknown endpoints, CORS, capabilities. */
import { expect } from 'chai';
import { sdkClient } from '../sdk.js';
import { expectMatrixError, useServer } from './helpers/index.js';

describe('versions and discovery', () => {
  const s = useServer({ public_baseurl: 'https://matrix.test.local/', extra_well_known_client_content: { 'org.example.thing': { x: 1 } } });

  it('lists every version from v1.1 up and unstable_features (matrix-js-sdk)', async () => {
    const versions = await sdkClient(s.t.baseUrl).getVersions();
    for (const v of ['v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11']) {
      expect(versions.versions).to.include(v);
    }
    expect(versions.unstable_features).to.be.an('object');
    for (const value of Object.values(versions.unstable_features ?? {})) expect(value).to.be.a('boolean');
  });

  it('answers /versions with and without a token', async () => {
    const anon = await s.t.request('GET', '/_matrix/client/versions');
    expect(anon.status).to.equal(200);
    expect(anon.body.versions).to.be.an('array');
    const user = await s.t.registerUser();
    const authed = await s.t.request('GET', '/_matrix/client/versions', { token: user.accessToken });
    expect(authed.status).to.equal(200);
    expect(authed.body.versions).to.deep.equal(anon.body.versions);
  });

  it('serves /.well-known/matrix/client from the config', async () => {
    const res = await s.t.request('GET', '/.well-known/matrix/client');
    expect(res.status).to.equal(200);
    expect(res.body['m.homeserver']).to.deep.equal({ base_url: 'https://matrix.test.local' });
    expect(res.body['org.example.thing']).to.deep.equal({ x: 1 });
    expect(res.headers.get('content-type')).to.match(/application\/json/);
    expect(res.headers.get('access-control-allow-origin')).to.equal('*');
  });

  it('does not serve /.well-known/matrix/server unless serve_server_wellknown is set', async () => {
    const res = await s.t.request('GET', '/.well-known/matrix/server');
    expect(res.status).to.equal(404);
    expect(res.body.errcode).to.be.a('string');
  });

  it('answers v3 routes under the legacy r0 prefix too', async () => {
    const v3 = await s.t.request('GET', '/_matrix/client/v3/login');
    const r0 = await s.t.request('GET', '/_matrix/client/r0/login');
    expect(v3.status).to.equal(200);
    expect(r0.status).to.equal(200);
    expect(r0.body).to.deep.equal(v3.body);
    const user = await s.t.registerUser();
    const who = await s.t.request('GET', '/_matrix/client/r0/account/whoami', { token: user.accessToken });
    expect(who.status).to.equal(200);
    expect(who.body.user_id).to.equal(user.userId);
  });

  it('answers unknown endpoints with 404 M_UNRECOGNIZED', async () => {
    for (const path of ['/_matrix/client/v3/no_such_thing', '/_matrix/client/v1/auth_metadata', '/_matrix/client/unstable/org.matrix.msc2965/auth_metadata', '/nothing/here', '/_matrix/client/r0/nope']) {
      expectMatrixError(await s.t.request('GET', path), 404, 'M_UNRECOGNIZED');
    }
    expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/unknown', { body: {} }), 404, 'M_UNRECOGNIZED');
  });

  it('answers a known path with the wrong method with 405 M_UNRECOGNIZED', async () => {
    expectMatrixError(await s.t.request('DELETE', '/_matrix/client/v3/login'), 405, 'M_UNRECOGNIZED');
    expectMatrixError(await s.t.request('PUT', '/_matrix/client/versions', { body: {} }), 405, 'M_UNRECOGNIZED');
    expectMatrixError(await s.t.request('POST', '/_matrix/client/r0/account/whoami', { body: {} }), 405, 'M_UNRECOGNIZED');
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/logout'), 405, 'M_UNRECOGNIZED');
  });

  it('sends CORS headers on successful and on error responses', async () => {
    const responses = [
      await s.t.request('GET', '/_matrix/client/versions'),
      await s.t.request('GET', '/_matrix/client/v3/account/whoami'),
      await s.t.request('GET', '/_matrix/client/v3/nope'),
      await s.t.request('POST', '/_matrix/client/v3/login', { rawBody: '{not json', headers: { 'Content-Type': 'application/json' } }),
    ];
    responses.push(await s.t.request('DELETE', '/_matrix/client/v3/login'));
    expect(responses.map((r) => r.status)).to.deep.equal([200, 401, 404, 400, 405]);
    for (const res of responses) {
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      const methods = res.headers.get('access-control-allow-methods') ?? '';
      for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS']) expect(methods).to.include(m);
      const headers = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const h of ['authorization', 'content-type', 'x-requested-with']) expect(headers).to.include(h);
    }
  });

  it('answers an OPTIONS preflight with CORS headers and no auth', async () => {
    for (const path of ['/_matrix/client/v3/account/whoami', '/_matrix/client/v3/login', '/_matrix/client/v3/anything/unknown']) {
      const res = await fetch(s.t.baseUrl + path, {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
      });
      expect(res.status).to.be.oneOf([200, 204]);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect(res.headers.get('access-control-allow-methods')).to.include('POST');
      expect((res.headers.get('access-control-allow-headers') ?? '').toLowerCase()).to.include('authorization');
    }
  });

  it('lists capabilities (matrix-js-sdk)', async () => {
    const user = await s.t.registerUser();
    const client = sdkClient(s.t.baseUrl, user);
    const caps = await client.getCapabilities();
    expect(caps['m.change_password']).to.deep.equal({ enabled: true });
    expect(caps['m.set_displayname']).to.deep.equal({ enabled: true });
    expect(caps['m.set_avatar_url']).to.deep.equal({ enabled: true });
    expect(caps['m.3pid_changes']).to.deep.equal({ enabled: false });
    const rv = caps['m.room_versions']!;
    expect(rv.default).to.be.a('string');
    expect(rv.available[rv.default]).to.equal('stable');
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/capabilities'), 401, 'M_MISSING_TOKEN');
  });

  it('serves the signed server key', async () => {
    const res = await s.t.request('GET', '/_matrix/key/v2/server');
    expect(res.status).to.equal(200);
    expect(res.body.server_name).to.equal('test.local');
    expect(Object.keys(res.body.verify_keys)[0]).to.match(/^ed25519:/);
    expect(res.body.signatures['test.local']).to.be.an('object');
  });
});

describe('.well-known/matrix/server when enabled', () => {
  const s = useServer({ serve_server_wellknown: true, public_baseurl: 'https://matrix.test.local/' });

  it('delegates to the public base URL host and port', async () => {
    const res = await s.t.request('GET', '/.well-known/matrix/server');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ 'm.server': 'matrix.test.local:443' });
  });
});
