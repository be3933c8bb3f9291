import { expect } from 'chai';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';
import { countRows, expectMatrixError } from './helpers/index.js';
import { download, parseMxc, sha256Of, uploadGenerated, uploadStream, type StreamReply } from './media-helpers.js';

const V1 = '/_matrix/client/v1/media';
const V3 = '/_matrix/media/v3';
const MB = 1024 * 1024;

function expectSafetyHeaders(headers: Headers | http.IncomingHttpHeaders): void {
  const get = (name: string) => (headers instanceof Headers ? headers.get(name) : (headers[name] as string | undefined));
  expect(get('content-security-policy')).to.match(/^sandbox;/);
  expect(get('content-security-policy')).to.include("default-src 'none'");
  expect(get('x-content-type-options')).to.equal('nosniff');
}

function expectError(res: StreamReply, status: number, errcode: string): void {
  expect(res.status, JSON.stringify(res.json ?? res.head.toString())).to.equal(status);
  expect(res.json?.errcode).to.equal(errcode);
}

/** Files left in the media store's temporary folder (must be none after any upload ends). */
function tempFiles(t: TestServer): string[] {
  return readdirSync(join(t.config.mediaStorePath, 'tmp'));
}

describe('media repository', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => t?.close());

  async function upload(user: TestUser, data: Buffer, contentType = 'application/octet-stream', filename?: string): Promise<{ serverName: string; mediaId: string; uri: string }> {
    const q = filename !== undefined ? `?filename=${encodeURIComponent(filename)}` : '';
    const res = await uploadStream(t.baseUrl, `${V3}/upload${q}`, data, data.length, { token: user.accessToken, contentType });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json.content_uri).to.match(/^mxc:\/\/test\.local\/[A-Za-z0-9_-]+$/);
    return { ...parseMxc(res.json.content_uri), uri: res.json.content_uri };
  }

  describe('upload and download', () => {
    for (const size of [0, 1 * MB]) {
      it(`round-trips ${size} bytes exactly (sha256)`, async () => {
        const up = await uploadGenerated(t.baseUrl, `${V3}/upload?filename=data.bin`, size, { token: alice.accessToken, contentType: 'application/octet-stream' });
        expect(up.status, JSON.stringify(up.json)).to.equal(200);
        const { serverName, mediaId } = parseMxc(up.json.content_uri);
        const down = await download(t.baseUrl, `${V1}/download/${serverName}/${mediaId}`, { token: bob.accessToken });
        expect(down.status).to.equal(200);
        expect(down.length).to.equal(size);
        expect(down.sha256).to.equal(up.sentSha256);
        expect(down.headers['content-length']).to.equal(String(size));
        expect(down.headers['content-type']).to.equal('application/octet-stream');
        expect(down.headers['content-disposition']).to.equal(`attachment; filename="data.bin"; filename*=utf-8''data.bin`);
        expectSafetyHeaders(down.headers);
        expect(tempFiles(t)).to.deep.equal([]);
      });
    }

    it('uploads with matrix-js-sdk uploadContent and serves the name and type back', async () => {
      const client = sdkClient(t.baseUrl, alice);
      const data = Buffer.from('hello from matrix-js-sdk\n');
      const { content_uri } = await client.uploadContent(data, { name: 'grüße.txt', type: 'text/plain' });
      const { serverName, mediaId } = parseMxc(content_uri);
      const res = await t.request('GET', `${V1}/download/${serverName}/${mediaId}`, { token: alice.accessToken });
      expect(res.status).to.equal(200);
      expect(res.body).to.equal(data.toString());
      expect(res.headers.get('content-type')).to.equal('text/plain; charset=utf-8');
      expect(res.headers.get('content-disposition')).to.equal(`inline; filename="gr__e.txt"; filename*=utf-8''gr%C3%BC%C3%9Fe.txt`);
      // The file name in the path wins over the uploaded one.
      const named = await t.request('GET', `${V1}/download/${serverName}/${mediaId}/other.txt`, { token: alice.accessToken });
      expect(named.headers.get('content-disposition')).to.equal(`inline; filename="other.txt"; filename*=utf-8''other.txt`);
      // The SDK builds authenticated download URLs that work.
      const url = client.mxcUrlToHttp(content_uri, undefined, undefined, undefined, false, true, true)!;
      expect(url).to.include('/_matrix/client/v1/media/download/');
      const viaSdkUrl = await fetch(url, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
      expect(await viaSdkUrl.text()).to.equal(data.toString());
      expect((await client.getMediaConfig(true))['m.upload.size']).to.equal(t.config.maxUploadSize);
    });

    it('stores identical content once on disk', async () => {
      const data = Buffer.from('the same bytes, twice');
      const a = await upload(alice, data);
      const b = await upload(bob, data);
      expect(a.mediaId).to.not.equal(b.mediaId);
      const dir = join(t.config.mediaStorePath, 'content');
      const hash = sha256Of(data);
      expect(readdirSync(join(dir, hash.slice(0, 2), hash.slice(2, 4)))).to.deep.equal([hash]);
    });

    it('serves only safe types inline; HTML and SVG are attachments', async () => {
      const cases: [string, string][] = [
        ['image/png', 'inline'],
        ['video/mp4', 'inline'],
        ['text/html', 'attachment'],
        ['image/svg+xml', 'attachment'],
        ['application/javascript', 'attachment'],
      ];
      for (const [type, disposition] of cases) {
        const m = await upload(alice, Buffer.from('<svg onload="alert(1)"/>'), type);
        const res = await download(t.baseUrl, `${V1}/download/${m.serverName}/${m.mediaId}`, { token: alice.accessToken });
        expect(res.headers['content-disposition'], type).to.equal(disposition);
        expect(res.headers['content-type']).to.match(new RegExp(`^${type.replace('+', '\\+')}`));
        expectSafetyHeaders(res.headers);
      }
    });

    it('answers a byte range with 206 so audio and video can seek', async () => {
      const data = Buffer.alloc(10_000);
      for (let i = 0; i < data.length; i++) data[i] = i % 251;
      const m = await upload(alice, data, 'audio/ogg');
      const path = `${V1}/download/${m.serverName}/${m.mediaId}`;
      const mid = await download(t.baseUrl, path, { token: alice.accessToken, headers: { Range: 'bytes=100-1099' } });
      expect(mid.status).to.equal(206);
      expect(mid.headers['content-range']).to.equal('bytes 100-1099/10000');
      expect(mid.headers['content-length']).to.equal('1000');
      expect(mid.head.equals(data.subarray(100, 1100))).to.equal(true);
      const tail = await download(t.baseUrl, path, { token: alice.accessToken, headers: { Range: 'bytes=-10' } });
      expect(tail.status).to.equal(206);
      expect(tail.head.equals(data.subarray(9990))).to.equal(true);
      const open = await download(t.baseUrl, path, { token: alice.accessToken, headers: { Range: 'bytes=9000-' } });
      expect(open.headers['content-range']).to.equal('bytes 9000-9999/10000');
      expect(open.length).to.equal(1000);
      const past = await download(t.baseUrl, path, { token: alice.accessToken, headers: { Range: 'bytes=20000-' } });
      expect(past.status).to.equal(416);
      expect(past.headers['content-range']).to.equal('bytes */10000');
      const whole = await download(t.baseUrl, path, { token: alice.accessToken });
      expect(whole.status).to.equal(200);
      expect(whole.headers['accept-ranges']).to.equal('bytes');
      const head = await download(t.baseUrl, path, { token: alice.accessToken, method: 'HEAD' });
      expect(head.status).to.equal(200);
      expect(head.headers['content-length']).to.equal('10000');
      expect(head.length).to.equal(0);
      const cached = await download(t.baseUrl, path, { token: alice.accessToken, headers: { 'If-None-Match': whole.headers.etag as string } });
      expect(cached.status).to.equal(304);
    });
  });

  describe('bad input and authentication', () => {
    it('requires an access token on the authenticated routes and for uploads', async () => {
      const m = await upload(alice, Buffer.from('x'));
      for (const path of [
        `${V1}/download/${m.serverName}/${m.mediaId}`,
        `${V1}/thumbnail/${m.serverName}/${m.mediaId}?width=32&height=32`,
        `${V1}/config`,
        `${V1}/preview_url?url=https://example.org/`,
        `${V3}/config`,
      ]) {
        const res = await t.request('GET', path);
        expectMatrixError(res, 401, 'M_MISSING_TOKEN');
        expectSafetyHeaders(res.headers);
      }
      expectMatrixError(await t.request('POST', `${V3}/upload`, { rawBody: 'x' }), 401, 'M_MISSING_TOKEN');
      expectMatrixError(await t.request('POST', '/_matrix/media/v1/create'), 401, 'M_MISSING_TOKEN');
      expectMatrixError(await t.request('GET', `${V1}/download/${m.serverName}/${m.mediaId}`, { token: 'not-a-token' }), 401, 'M_UNKNOWN_TOKEN');
    });

    it('gives 404 M_NOT_FOUND for unknown media and 400 for a malformed server name or media ID', async () => {
      const unknown = await t.request('GET', `${V1}/download/test.local/NoSuchMediaId`, { token: alice.accessToken });
      expectMatrixError(unknown, 404, 'M_NOT_FOUND');
      expectSafetyHeaders(unknown.headers);
      expectMatrixError(await t.request('GET', `${V1}/thumbnail/test.local/NoSuchMediaId?width=32&height=32`, { token: alice.accessToken }), 404, 'M_NOT_FOUND');
      expectMatrixError(await t.request('GET', `${V1}/download/other.example/SomeMediaId`, { token: alice.accessToken }), 404, 'M_NOT_FOUND');
      expectMatrixError(await t.request('GET', `${V1}/download/test.local/bad%21id`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
      expectMatrixError(await t.request('GET', `${V1}/download/bad_server%21/SomeMediaId`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
      expectMatrixError(await t.request('GET', `${V3}/download/bad_server%21/SomeMediaId`), 400, 'M_INVALID_PARAM');
      expectMatrixError(await t.request('PUT', `${V3}/upload/test.local/bad%21id`, { token: alice.accessToken, rawBody: 'x' }), 400, 'M_INVALID_PARAM');
    });

    it('reports the upload limit in /config', async () => {
      for (const path of [`${V1}/config`, `${V3}/config`]) {
        const res = await t.request('GET', path, { token: alice.accessToken });
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.equal({ 'm.upload.size': 50 * MB });
      }
    });

    it('leaves nothing behind when an upload is cut off', async () => {
      const rowsBefore = await countRows(t, 'local_media');
      const url = new URL(`${V3}/upload`, t.baseUrl);
      await new Promise<void>((resolve) => {
        const req = http.request(url, {
          method: 'POST',
          agent: false,
          headers: { Authorization: `Bearer ${alice.accessToken}`, 'Content-Length': String(4 * MB), 'Content-Type': 'application/octet-stream' },
        });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(512 * 1024, 1), () => setTimeout(() => {
          req.destroy();
          resolve();
        }, 100));
      });
      // The server notices the closed socket, then removes the temporary file.
      for (let i = 0; i < 50 && tempFiles(t).length; i++) await new Promise((r) => setTimeout(r, 20));
      expect(tempFiles(t)).to.deep.equal([]);
      expect(await countRows(t, 'local_media')).to.equal(rowsBefore);
    });
  });

  describe('legacy unauthenticated routes', () => {
    it('serve nothing uploaded after the cut-over (404 M_NOT_FOUND) while v1 serves it', async () => {
      const m = await upload(alice, Buffer.from('new media'), 'text/plain');
      const legacy = await t.request('GET', `${V3}/download/${m.serverName}/${m.mediaId}`);
      expectMatrixError(legacy, 404, 'M_NOT_FOUND');
      expectSafetyHeaders(legacy.headers);
      expectMatrixError(await t.request('GET', `${V3}/thumbnail/${m.serverName}/${m.mediaId}?width=32&height=32`), 404, 'M_NOT_FOUND');
      expectMatrixError(await t.request('GET', `/_matrix/media/r0/download/${m.serverName}/${m.mediaId}`), 404, 'M_NOT_FOUND');
      expect((await t.request('GET', `${V1}/download/${m.serverName}/${m.mediaId}`, { token: bob.accessToken })).status).to.equal(200);
    });

    it('serve media uploaded before the cut-over, also after it', async () => {
      const media = t.config.media;
      media.enableAuthenticatedMedia = false;
      let before: { serverName: string; mediaId: string };
      try {
        before = await upload(alice, Buffer.from('old media'), 'text/plain');
        const res = await t.request('GET', `${V3}/download/${before.serverName}/${before.mediaId}`);
        expect(res.status).to.equal(200);
        expect(res.body).to.equal('old media');
        expectSafetyHeaders(res.headers);
      } finally {
        media.enableAuthenticatedMedia = true;
      }
      // Switched on: the old media stay reachable on the legacy route, new ones do not.
      const after = await upload(alice, Buffer.from('newer media'), 'text/plain');
      expect((await t.request('GET', `${V3}/download/${before.serverName}/${before.mediaId}/name.txt`)).body).to.equal('old media');
      expectMatrixError(await t.request('GET', `${V3}/download/${after.serverName}/${after.mediaId}`), 404, 'M_NOT_FOUND');
    });
  });

  describe('asynchronous upload (POST /create, PUT /upload)', () => {
    it('reserves an ID, waits for the upload, refuses overwrites and other users', async () => {
      const created = await t.request('POST', '/_matrix/media/v1/create', { token: alice.accessToken });
      expect(created.status).to.equal(200);
      expect(created.body.unused_expires_at).to.be.a('number').greaterThan(Date.now());
      const { serverName, mediaId } = parseMxc(created.body.content_uri);
      const path = `${V1}/download/${serverName}/${mediaId}`;
      expectMatrixError(await t.request('GET', `${path}?timeout_ms=50`, { token: bob.accessToken }), 504, 'M_NOT_YET_UPLOADED');
      // A download waiting for the upload gets the bytes once they arrive.
      const waiting = download(t.baseUrl, `${path}?timeout_ms=5000`, { token: bob.accessToken });
      expectMatrixError(await t.request('PUT', `${V3}/upload/${serverName}/${mediaId}`, { token: bob.accessToken, rawBody: 'x' }), 403, 'M_FORBIDDEN');
      const put = await t.request('PUT', `${V3}/upload/${serverName}/${mediaId}?filename=late.txt`, {
        token: alice.accessToken,
        rawBody: 'uploaded later',
        headers: { 'Content-Type': 'text/plain' },
      });
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      const got = await waiting;
      expect(got.status).to.equal(200);
      expect(got.head.toString()).to.equal('uploaded later');
      expect(got.headers['content-disposition']).to.include('late.txt');
      expectMatrixError(
        await t.request('PUT', `${V3}/upload/${serverName}/${mediaId}`, { token: alice.accessToken, rawBody: 'again' }),
        409,
        'M_CANNOT_OVERWRITE_MEDIA',
      );
      expectMatrixError(await t.request('PUT', `${V3}/upload/${serverName}/NoSuchMediaId`, { token: alice.accessToken, rawBody: 'x' }), 404, 'M_NOT_FOUND');
    });

    it('forgets a reserved ID after unused_expiration_time, and caps pending IDs per user', async () => {
      const media = t.config.media;
      const saved = media.unusedExpirationTime;
      media.unusedExpirationTime = 1;
      let uri: string;
      try {
        uri = (await t.request('POST', '/_matrix/media/v1/create', { token: bob.accessToken })).body.content_uri;
      } finally {
        media.unusedExpirationTime = saved;
      }
      await new Promise((r) => setTimeout(r, 20));
      const { serverName, mediaId } = parseMxc(uri);
      expectMatrixError(await t.request('PUT', `${V3}/upload/${serverName}/${mediaId}`, { token: bob.accessToken, rawBody: 'x' }), 404, 'M_NOT_FOUND');

      const carol = await t.registerUser();
      for (let i = 0; i < media.maxPendingUploads; i++) {
        expect((await t.request('POST', '/_matrix/media/v1/create', { token: carol.accessToken })).status).to.equal(200);
      }
      const refused = await t.request('POST', '/_matrix/media/v1/create', { token: carol.accessToken });
      expectMatrixError(refused, 429, 'M_LIMIT_EXCEEDED');
      expect(refused.body.retry_after_ms).to.be.a('number');
    });
  });

  describe('access hook: media restricted to a room', () => {
    it("lets only the room's members read it", async () => {
      const owner = sdkClient(t.baseUrl, alice);
      const { room_id: roomId } = await owner.createRoom({ preset: 'public_chat' as any });
      const data = Buffer.from('recording of the meeting');
      const res = await uploadStream(t.baseUrl, `${V3}/upload?org.veche.restricted_to_room=${encodeURIComponent(roomId)}`, data, data.length, {
        token: alice.accessToken,
        contentType: 'audio/ogg',
      });
      expect(res.status, JSON.stringify(res.json)).to.equal(200);
      const { serverName, mediaId } = parseMxc(res.json.content_uri);
      const path = `${V1}/download/${serverName}/${mediaId}`;
      expect((await t.request('GET', path, { token: alice.accessToken })).status).to.equal(200);
      expectMatrixError(await t.request('GET', path, { token: bob.accessToken }), 403, 'M_FORBIDDEN');
      await sdkClient(t.baseUrl, bob).joinRoom(roomId);
      expect((await t.request('GET', path, { token: bob.accessToken })).body).to.equal(data.toString());
      // Never on the legacy route, whatever the cut-over says.
      expectMatrixError(await t.request('GET', `${V3}/download/${serverName}/${mediaId}`), 404, 'M_NOT_FOUND');
      // Only a member may restrict media to a room.
      const carol = await t.registerUser();
      const refused = await uploadStream(t.baseUrl, `${V3}/upload?org.veche.restricted_to_room=${encodeURIComponent(roomId)}`, data, data.length, {
        token: carol.accessToken,
      });
      expectError(refused, 403, 'M_FORBIDDEN');
    });
  });
});

describe('media response helpers', () => {
  it('parse single byte ranges as RFC 9110 says', async () => {
    const { parseRange, contentDisposition } = await import('../../src/api/media/responses.js');
    expect(parseRange(undefined, 100)).to.equal(undefined);
    expect(parseRange('bytes=0-0', 100)).to.deep.equal({ start: 0, end: 0 });
    expect(parseRange('bytes=90-200', 100)).to.deep.equal({ start: 90, end: 99 });
    expect(parseRange('bytes=-200', 100)).to.deep.equal({ start: 0, end: 99 });
    expect(parseRange('bytes=100-', 100)).to.equal('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).to.equal('unsatisfiable');
    expect(parseRange('bytes=5-1', 100)).to.equal(undefined);
    expect(parseRange('bytes=0-1,5-6', 100)).to.equal(undefined);
    expect(parseRange('items=0-1', 100)).to.equal(undefined);
    expect(contentDisposition('image/svg+xml', 'a"b.svg')).to.equal(`attachment; filename="a_b.svg"; filename*=utf-8''a%22b.svg`);
    expect(contentDisposition('IMAGE/PNG; foo=bar', undefined)).to.equal('inline');
  });
});

describe('media repository limits', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  before(async () => {
    t = await startTestServer({ max_upload_size: '1M', media_storage_quota_per_user: '3M' });
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => t?.close());

  it('refuses a file over max_upload_size with 413 M_TOO_LARGE, declared or not', async () => {
    const rowsBefore = await countRows(t, 'local_media');
    const declared = await uploadGenerated(t.baseUrl, `${V3}/upload`, 2 * MB, { token: alice.accessToken });
    expectError(declared, 413, 'M_TOO_LARGE');
    expectSafetyHeaders(declared.headers);
    const chunked = await uploadGenerated(t.baseUrl, `${V3}/upload`, 2 * MB, { token: alice.accessToken, declareLength: false });
    expectError(chunked, 413, 'M_TOO_LARGE');
    expect(tempFiles(t)).to.deep.equal([]);
    expect(await countRows(t, 'local_media')).to.equal(rowsBefore);
    // Exactly the limit is fine.
    const exact = await uploadGenerated(t.baseUrl, `${V3}/upload`, 1 * MB, { token: bob.accessToken });
    expect(exact.status).to.equal(200);
  });

  it('refuses an upload past the per-user quota with 403 M_RESOURCE_LIMIT_EXCEEDED', async () => {
    for (let i = 0; i < 3; i++) {
      const ok = await uploadGenerated(t.baseUrl, `${V3}/upload`, 1 * MB, { token: alice.accessToken });
      expect(ok.status, JSON.stringify(ok.json)).to.equal(200);
    }
    const over = await uploadGenerated(t.baseUrl, `${V3}/upload`, 1000, { token: alice.accessToken });
    expectError(over, 403, 'M_RESOURCE_LIMIT_EXCEEDED');
    expect(over.json.error).to.match(/quota/);
    const overChunked = await uploadGenerated(t.baseUrl, `${V3}/upload`, 1000, { token: alice.accessToken, declareLength: false });
    expectError(overChunked, 403, 'M_RESOURCE_LIMIT_EXCEEDED');
    // The async route counts against the same quota.
    const created = await t.request('POST', '/_matrix/media/v1/create', { token: alice.accessToken });
    const { serverName, mediaId } = parseMxc(created.body.content_uri);
    expectError(await uploadGenerated(t.baseUrl, `${V3}/upload/${serverName}/${mediaId}`, 1000, { token: alice.accessToken, method: 'PUT' }), 403, 'M_RESOURCE_LIMIT_EXCEEDED');
    // Another user has a quota of their own.
    expect((await uploadGenerated(t.baseUrl, `${V3}/upload`, 1000, { token: bob.accessToken })).status).to.equal(200);
    expect(tempFiles(t)).to.deep.equal([]);
  });
});
