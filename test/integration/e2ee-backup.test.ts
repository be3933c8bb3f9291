/** Server-side key backup over HTTP: versions, keys with etag and count, the better-key rules. */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { isBetterRoomKey } from '../../src/services/e2ee/backup.js';

const ALG = 'm.megolm_backup.v1.curve25519-aes-sha2';

function key(first: number, forwarded: number, verified: boolean, tag = 'x') {
  return { first_message_index: first, forwarded_count: forwarded, is_verified: verified, session_data: { ephemeral: tag, ciphertext: tag, mac: tag } };
}

describe('e2ee: key backup', () => {
  let t: TestServer;
  let alice: TestUser;
  const call = (method: string, path: string, body?: unknown, user?: TestUser) =>
    t.request(method, `/_matrix/client/v3${path}`, { token: (user ?? alice).accessToken, body });
  const roomId = '!room:test.local';

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
  });
  after(async () => t?.close());

  it('isBetterRoomKey follows the spec: verified, then lower index, then fewer forwards', () => {
    const base = { isVerified: false, firstMessageIndex: 5, forwardedCount: 1 };
    expect(isBetterRoomKey({ ...base, isVerified: true, firstMessageIndex: 9 }, base)).to.equal(true);
    expect(isBetterRoomKey(base, { ...base, isVerified: true, firstMessageIndex: 9 })).to.equal(false);
    expect(isBetterRoomKey({ ...base, firstMessageIndex: 4, forwardedCount: 7 }, base)).to.equal(true);
    expect(isBetterRoomKey({ ...base, forwardedCount: 0 }, base)).to.equal(true);
    expect(isBetterRoomKey(base, base)).to.equal(false);
  });

  it('has no current version at first', async () => {
    const res = await call('GET', '/room_keys/version');
    expect(res.status).to.equal(404);
    expect(res.body.errcode).to.equal('M_NOT_FOUND');
  });

  it('creates, reads, updates and deletes versions', async () => {
    const created = await call('POST', '/room_keys/version', { algorithm: ALG, auth_data: { public_key: 'abc' } });
    expect(created.status).to.equal(200);
    expect(created.body.version).to.equal('1');
    const current = await call('GET', '/room_keys/version');
    expect(current.body).to.deep.equal({ algorithm: ALG, auth_data: { public_key: 'abc' }, count: 0, etag: '0', version: '1' });
    expect((await call('PUT', '/room_keys/version/1', { algorithm: ALG, auth_data: { public_key: 'def' }, version: '1' })).status).to.equal(200);
    expect((await call('GET', '/room_keys/version/1')).body.auth_data).to.deep.equal({ public_key: 'def' });
    const mismatch = await call('PUT', '/room_keys/version/1', { algorithm: ALG, auth_data: {}, version: '2' });
    expect(mismatch.status).to.equal(400);
    expect(mismatch.body.errcode).to.equal('M_INVALID_PARAM');
    expect((await call('PUT', '/room_keys/version/99', { algorithm: ALG, auth_data: {} })).status).to.equal(404);
    const second = await call('POST', '/room_keys/version', { algorithm: ALG, auth_data: { public_key: 'ghi' } });
    expect(second.body.version).to.equal('2');
    expect((await call('DELETE', '/room_keys/version/2')).status).to.equal(200);
    // Deleted before: still fine. Unknown: 404.
    expect((await call('DELETE', '/room_keys/version/2')).status).to.equal(200);
    expect((await call('DELETE', '/room_keys/version/77')).status).to.equal(404);
    expect((await call('GET', '/room_keys/version')).body.version).to.equal('1');
    // A number is never reused.
    expect((await call('POST', '/room_keys/version', { algorithm: ALG, auth_data: {} })).body.version).to.equal('3');
    expect((await call('DELETE', '/room_keys/version/3')).status).to.equal(200);
  });

  it('stores keys with etag and count, replacing a session only by a better key', async () => {
    const put1 = await call('PUT', '/room_keys/keys?version=1', { rooms: { [roomId]: { sessions: { s1: key(5, 1, false, 'first'), s2: key(0, 0, true) } } } });
    expect(put1.status).to.equal(200);
    expect(put1.body.count).to.equal(2);
    const etag1 = put1.body.etag;
    // Worse (higher index): kept as is, etag unchanged.
    const worse = await call('PUT', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`, key(9, 0, false, 'worse'));
    expect(worse.body).to.deep.equal({ etag: etag1, count: 2 });
    expect((await call('GET', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`)).body.session_data.ciphertext).to.equal('first');
    // Better (verified): replaces, etag moves.
    const better = await call('PUT', `/room_keys/keys/${encodeURIComponent(roomId)}?version=1`, { sessions: { s1: key(9, 3, true, 'verified') } });
    expect(better.body.count).to.equal(2);
    expect(better.body.etag).to.not.equal(etag1);
    expect((await call('GET', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`)).body).to.deep.equal(key(9, 3, true, 'verified'));
    // Lower index among verified: replaces; fewer forwards at the same index: replaces.
    await call('PUT', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`, key(2, 3, true, 'lower'));
    await call('PUT', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`, key(2, 1, true, 'fewer'));
    expect((await call('GET', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`)).body.session_data.ciphertext).to.equal('fewer');
    // Unverified never replaces verified.
    await call('PUT', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`, key(0, 0, false, 'unverified'));
    expect((await call('GET', `/room_keys/keys/${encodeURIComponent(roomId)}/s1?version=1`)).body.session_data.ciphertext).to.equal('fewer');

    const all = await call('GET', '/room_keys/keys?version=1');
    expect(Object.keys(all.body.rooms[roomId].sessions).sort()).to.deep.equal(['s1', 's2']);
    expect((await call('GET', `/room_keys/keys/${encodeURIComponent('!none:test.local')}?version=1`)).body).to.deep.equal({ sessions: {} });
    const missing = await call('GET', `/room_keys/keys/${encodeURIComponent(roomId)}/nope?version=1`);
    expect(missing.status).to.equal(404);
    expect((await call('GET', '/room_keys/version')).body.count).to.equal(2);
  });

  it('refuses uploads to a version that is not the current one', async () => {
    const res = await call('PUT', '/room_keys/keys?version=2', { rooms: { [roomId]: { sessions: { s3: key(0, 0, false) } } } });
    expect(res.status).to.equal(404);
    await call('POST', '/room_keys/version', { algorithm: ALG, auth_data: {} });
    const old = await call('PUT', '/room_keys/keys?version=1', { rooms: { [roomId]: { sessions: { s3: key(0, 0, false) } } } });
    expect(old.status).to.equal(403);
    expect(old.body.errcode).to.equal('M_WRONG_ROOM_KEYS_VERSION');
    expect(old.body.current_version).to.equal('4');
    expect((await call('GET', '/room_keys/keys')).status).to.equal(400);
    expect((await call('GET', '/room_keys/keys?version=99')).status).to.equal(404);
  });

  it('deletes keys by session, room and version', async () => {
    const v = '4';
    await call('PUT', `/room_keys/keys?version=${v}`, { rooms: { [roomId]: { sessions: { a: key(0, 0, false), b: key(0, 0, false) } }, '!other:test.local': { sessions: { c: key(0, 0, false) } } } });
    let res = await call('DELETE', `/room_keys/keys/${encodeURIComponent(roomId)}/a?version=${v}`);
    expect(res.body.count).to.equal(2);
    res = await call('DELETE', `/room_keys/keys/${encodeURIComponent(roomId)}?version=${v}`);
    expect(res.body.count).to.equal(1);
    res = await call('DELETE', `/room_keys/keys?version=${v}`);
    expect(res.body.count).to.equal(0);
    // Deleting the version removes its keys; another user sees none of this.
    const bob = await t.registerUser();
    expect((await call('GET', '/room_keys/version', undefined, bob)).status).to.equal(404);
    expect((await call('GET', `/room_keys/keys?version=${v}`, undefined, bob)).status).to.equal(404);
  });

  it('validates bodies against the spec', async () => {
    const res = await call('PUT', '/room_keys/keys?version=4', { rooms: { [roomId]: { sessions: { a: { first_message_index: 'x' } } } } });
    expect(res.status).to.equal(400);
    expect(res.body.errcode).to.equal('M_BAD_JSON');
  });
});
