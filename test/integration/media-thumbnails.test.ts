import { expect } from 'chai';
import sharp from 'sharp';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { countRows, expectMatrixError } from './helpers/index.js';
import { download, parseMxc, uploadStream } from './media-helpers.js';

const V1 = '/_matrix/client/v1/media';
const V3 = '/_matrix/media/v3';

/** A test image with some structure (a gradient), so encoders have real work to do. */
async function image(width: number, height: number, format: 'png' | 'jpeg' | 'gif'): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = 128;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).toFormat(format).toBuffer();
}

describe('media thumbnails', () => {
  let t: TestServer;
  let alice: TestUser;
  let png: { serverName: string; mediaId: string };
  let jpeg: { serverName: string; mediaId: string };
  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    png = await upload(await image(1000, 500, 'png'), 'image/png');
    jpeg = await upload(await image(1200, 900, 'jpeg'), 'image/jpeg');
  });
  after(async () => t?.close());

  async function upload(data: Buffer, contentType: string): Promise<{ serverName: string; mediaId: string }> {
    const res = await uploadStream(t.baseUrl, `${V3}/upload`, data, data.length, { token: alice.accessToken, contentType });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    return parseMxc(res.json.content_uri);
  }

  async function thumbnail(m: { serverName: string; mediaId: string }, query: string) {
    const res = await fetch(`${t.baseUrl}${V1}/thumbnail/${m.serverName}/${m.mediaId}?${query}`, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body, meta: res.status === 200 ? await sharp(body).metadata() : undefined };
  }

  it('crops to exactly the configured size at least as large as asked for', async () => {
    const exact = await thumbnail(png, 'width=96&height=96&method=crop');
    expect(exact.status).to.equal(200);
    expect(exact.headers.get('content-type')).to.equal('image/png');
    expect([exact.meta!.width, exact.meta!.height]).to.deep.equal([96, 96]);
    // 50x40 snaps up to the 96x96 crop; 10x10 to the 32x32 one.
    const snapped = await thumbnail(png, 'width=50&height=40&method=crop');
    expect([snapped.meta!.width, snapped.meta!.height]).to.deep.equal([96, 96]);
    const small = await thumbnail(png, 'width=10&height=10&method=crop');
    expect([small.meta!.width, small.meta!.height]).to.deep.equal([32, 32]);
    expect(exact.headers.get('content-security-policy')).to.match(/^sandbox;/);
    expect(exact.headers.get('x-content-type-options')).to.equal('nosniff');
  });

  it('scales within the box, keeping the aspect ratio', async () => {
    const scaled = await thumbnail(png, 'width=320&height=240&method=scale');
    expect(scaled.status).to.equal(200);
    expect([scaled.meta!.width, scaled.meta!.height]).to.deep.equal([320, 160]);
    const jpegScaled = await thumbnail(jpeg, 'width=640&height=480');
    expect(jpegScaled.headers.get('content-type')).to.equal('image/jpeg');
    expect(jpegScaled.meta!.format).to.equal('jpeg');
    expect([jpegScaled.meta!.width, jpegScaled.meta!.height]).to.deep.equal([640, 480]);
    // Bigger than any configured size: the largest one (800x600).
    const largest = await thumbnail(jpeg, 'width=2000&height=2000&method=scale');
    expect([largest.meta!.width, largest.meta!.height]).to.deep.equal([800, 600]);
  });

  it('never enlarges a small image', async () => {
    const tiny = await upload(await image(20, 10, 'png'), 'image/png');
    const res = await thumbnail(tiny, 'width=320&height=240&method=scale');
    expect([res.meta!.width, res.meta!.height]).to.deep.equal([20, 10]);
  });

  it('renders a size once and serves the cached copy afterwards', async () => {
    const m = await upload(await image(700, 700, 'jpeg'), 'image/jpeg');
    const rows = await countRows(t, 'local_media_thumbnails');
    const first = await thumbnail(m, 'width=96&height=96&method=crop');
    expect(await countRows(t, 'local_media_thumbnails')).to.equal(rows + 1);
    const [second, third] = await Promise.all([thumbnail(m, 'width=96&height=96&method=crop'), thumbnail(m, 'width=90&height=90&method=crop')]);
    expect(await countRows(t, 'local_media_thumbnails')).to.equal(rows + 1);
    expect(second.body.equals(first.body)).to.equal(true);
    expect(third.body.equals(first.body)).to.equal(true);
  });

  it('never renders SVG or unknown types, even under an image Content-Type', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>');
    const asSvg = await upload(svg, 'image/svg+xml');
    expectMatrixError(await t.request('GET', `${V1}/thumbnail/${asSvg.serverName}/${asSvg.mediaId}?width=32&height=32`, { token: alice.accessToken }), 400, 'M_UNKNOWN');
    const disguised = await upload(svg, 'image/png');
    expectMatrixError(await t.request('GET', `${V1}/thumbnail/${disguised.serverName}/${disguised.mediaId}?width=32&height=32`, { token: alice.accessToken }), 400, 'M_UNKNOWN');
    const text = await upload(Buffer.from('plain text'), 'text/plain');
    expectMatrixError(await t.request('GET', `${V1}/thumbnail/${text.serverName}/${text.mediaId}?width=32&height=32`, { token: alice.accessToken }), 400, 'M_UNKNOWN');
    const broken = await upload(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100)]), 'image/jpeg');
    expectMatrixError(await t.request('GET', `${V1}/thumbnail/${broken.serverName}/${broken.mediaId}?width=32&height=32`, { token: alice.accessToken }), 400, 'M_UNKNOWN');
  });

  it('checks width, height and method', async () => {
    const base = `${V1}/thumbnail/${png.serverName}/${png.mediaId}`;
    expectMatrixError(await t.request('GET', `${base}?height=32`, { token: alice.accessToken }), 400, 'M_MISSING_PARAM');
    expectMatrixError(await t.request('GET', `${base}?width=0&height=32`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await t.request('GET', `${base}?width=-5&height=32`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await t.request('GET', `${base}?width=32&height=32&method=stretch`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await t.request('GET', `${base}?width=32&height=32&animated=maybe`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
  });

  it('makes an animated thumbnail of an animated GIF when asked to', async () => {
    // Two 200x200 frames stacked vertically, written as an animated GIF.
    const raw = await sharp(await image(200, 400, 'png')).raw().toBuffer();
    const gif = await sharp(raw, { raw: { width: 200, height: 400, channels: 3, pageHeight: 200 } }).gif({ loop: 0, delay: [100, 100] }).toBuffer();
    const m = await upload(gif, 'image/gif');
    const still = await thumbnail(m, 'width=96&height=96&method=crop');
    expect(still.status).to.equal(200);
    expect(still.headers.get('content-type')).to.equal('image/png');
    const moving = await fetch(`${t.baseUrl}${V1}/thumbnail/${m.serverName}/${m.mediaId}?width=96&height=96&method=crop&animated=true`, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
    expect(moving.status).to.equal(200);
    expect(moving.headers.get('content-type')).to.equal('image/webp');
    const meta = await sharp(Buffer.from(await moving.arrayBuffer()), { pages: -1 }).metadata();
    expect(meta.pages).to.equal(2);
    expect(meta.width).to.equal(96);
  });

  it('serves thumbnails of pre-cut-over media on the legacy route only', async () => {
    expectMatrixError(await t.request('GET', `${V3}/thumbnail/${png.serverName}/${png.mediaId}?width=32&height=32`), 404, 'M_NOT_FOUND');
    t.config.media.enableAuthenticatedMedia = false;
    let old: { serverName: string; mediaId: string };
    try {
      old = await upload(await image(100, 100, 'png'), 'image/png');
    } finally {
      t.config.media.enableAuthenticatedMedia = true;
    }
    const res = await download(t.baseUrl, `${V3}/thumbnail/${old.serverName}/${old.mediaId}?width=32&height=32&method=crop`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('image/png');
    expect(res.headers['content-security-policy']).to.match(/^sandbox;/);
  });
});
