/** spec: Client-Server API §10 "Profiles" — displayname and avatar_url. */
import { expect } from 'chai';
import { sdkClient } from '../sdk.js';
import { countRows, expectMatrixError, useServer } from './helpers/index.js';

const profilePath = (userId: string, field?: string) => `/_matrix/client/v3/profile/${encodeURIComponent(userId)}${field ? '/' + field : ''}`;

describe('profiles', () => {
  const s = useServer();
  let alice: { userId: string; accessToken: string; deviceId: string };
  let bob: { userId: string; accessToken: string; deviceId: string };
  before(async () => {
    alice = await s.t.registerUser('alice');
    bob = await s.t.registerUser('bob', { displayname: 'Bob Builder' });
  });

  it('starts with the localpart (or the given name) as display name', async () => {
    const client = sdkClient(s.t.baseUrl, alice);
    expect(await client.getProfileInfo(alice.userId)).to.deep.equal({ displayname: 'alice' });
    expect(await client.getProfileInfo(bob.userId)).to.deep.equal({ displayname: 'Bob Builder' });
  });

  it('sets and reads the display name and avatar (matrix-js-sdk)', async () => {
    const client = sdkClient(s.t.baseUrl, alice);
    await client.setDisplayName('Alice Liddell');
    await client.setAvatarUrl('mxc://test.local/abcdef');
    expect(await client.getProfileInfo(alice.userId, 'displayname')).to.deep.equal({ displayname: 'Alice Liddell' });
    expect(await client.getProfileInfo(alice.userId, 'avatar_url')).to.deep.equal({ avatar_url: 'mxc://test.local/abcdef' });
    expect(await client.getProfileInfo(alice.userId)).to.deep.equal({ displayname: 'Alice Liddell', avatar_url: 'mxc://test.local/abcdef' });
    // another user sees the same profile, and so does an unauthenticated request
    expect(await sdkClient(s.t.baseUrl, bob).getProfileInfo(alice.userId)).to.deep.equal({ displayname: 'Alice Liddell', avatar_url: 'mxc://test.local/abcdef' });
    const anon = await s.t.request('GET', profilePath(alice.userId, 'displayname'));
    expect(anon.status).to.equal(200);
    expect(anon.body).to.deep.equal({ displayname: 'Alice Liddell' });
    const r0 = await s.t.request('GET', `/_matrix/client/r0/profile/${encodeURIComponent(alice.userId)}`);
    expect(r0.body.avatar_url).to.equal('mxc://test.local/abcdef');
  });

  it("cannot set someone else's profile: 403 M_FORBIDDEN, nothing changes", async () => {
    for (const [field, value] of [['displayname', 'Hacked'], ['avatar_url', 'mxc://evil/x']] as const) {
      const res = await s.t.request('PUT', profilePath(bob.userId, field), { token: alice.accessToken, body: { [field]: value } });
      expectMatrixError(res, 403, 'M_FORBIDDEN');
    }
    expect((await s.t.request('GET', profilePath(bob.userId))).body).to.deep.equal({ displayname: 'Bob Builder' });
  });

  it('answers 404 M_NOT_FOUND for an unknown user', async () => {
    for (const path of [profilePath('@nobody:test.local'), profilePath('@nobody:test.local', 'displayname'), profilePath('@nobody:test.local', 'avatar_url')]) {
      expectMatrixError(await s.t.request('GET', path, { token: alice.accessToken }), 404, 'M_NOT_FOUND');
    }
  });

  it('refuses an avatar_url that is not an mxc:// URI', async () => {
    const before = await s.t.request('GET', profilePath(alice.userId));
    for (const value of ['https://example.org/me.png', 'javascript:alert(1)', 42]) {
      const res = await s.t.request('PUT', profilePath(alice.userId, 'avatar_url'), { token: alice.accessToken, body: { avatar_url: value } });
      expect(res.status).to.equal(400);
      expect(res.body.errcode).to.be.oneOf(['M_BAD_JSON', 'M_INVALID_PARAM']);
    }
    expect((await s.t.request('GET', profilePath(alice.userId))).body).to.deep.equal(before.body);
  });

  it('refuses a display name of the wrong type, a missing field, or one too long', async () => {
    const path = profilePath(alice.userId, 'displayname');
    for (const body of [{ displayname: 42 }, { displayname: { a: 1 } }, {}, { displayname: 'x'.repeat(1000) }]) {
      const res = await s.t.request('PUT', path, { token: alice.accessToken, body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.errcode).to.be.a('string');
    }
    const notObject = await s.t.request('PUT', path, { token: alice.accessToken, rawBody: '"just a string"', headers: { 'Content-Type': 'application/json' } });
    expect(notObject.status).to.equal(400);
    expect((await s.t.request('GET', path)).body.displayname).to.equal('Alice Liddell');
  });

  it('needs a token to set a profile field', async () => {
    expectMatrixError(await s.t.request('PUT', profilePath(alice.userId, 'displayname'), { body: { displayname: 'anon' } }), 401, 'M_MISSING_TOKEN');
  });

  it('clears the avatar with an empty string', async () => {
    const client = sdkClient(s.t.baseUrl, alice);
    await client.setAvatarUrl('');
    expect(await client.getProfileInfo(alice.userId)).to.not.have.property('avatar_url');
  });

  it('does not create profile rows for unknown users', async () => {
    const before = await countRows(s.t, 'profiles');
    await s.t.request('PUT', profilePath('@ghost:test.local', 'displayname'), { token: alice.accessToken, body: { displayname: 'Ghost' } });
    expect(await countRows(s.t, 'profiles')).to.equal(before);
  });
});
