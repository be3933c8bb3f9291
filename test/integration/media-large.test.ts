import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { download, parseMxc, uploadGenerated } from './media-helpers.js';

const MB = 1024 * 1024;

/** Samples this process's resident memory (the server runs in it too) while `fn` runs. */
async function peakRssDuring<T>(fn: () => Promise<T>): Promise<{ result: T; baseline: number; peak: number }> {
  global.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, baseline, peak };
  } finally {
    clearInterval(timer);
  }
}

describe('media repository: a 100 MB file', function () {
  this.timeout(120_000);
  let t: TestServer;
  let alice: TestUser;
  before(async () => {
    t = await startTestServer({ max_upload_size: '200M' });
    alice = await t.registerUser();
  });
  after(async () => t?.close());

  it('round-trips byte-exact (sha256) with flat memory: streamed, never held whole', async () => {
    const size = 100 * MB;
    const { result, baseline, peak } = await peakRssDuring(async () => {
      const up = await uploadGenerated(t.baseUrl, '/_matrix/media/v3/upload?filename=big.bin', size, { token: alice.accessToken, contentType: 'video/mp4' });
      expect(up.status, JSON.stringify(up.json)).to.equal(200);
      const { serverName, mediaId } = parseMxc(up.json.content_uri);
      const down = await download(t.baseUrl, `/_matrix/client/v1/media/download/${serverName}/${mediaId}`, { token: alice.accessToken });
      return { up, down };
    });
    expect(result.down.status).to.equal(200);
    expect(result.down.length).to.equal(size);
    expect(result.down.sha256).to.equal(result.up.sentSha256);
    // Client and server share this process; holding the file once would add 100 MB.
    expect(peak - baseline, `RSS grew from ${(baseline / MB).toFixed(0)} to ${(peak / MB).toFixed(0)} MB`).to.be.lessThan(64 * MB);
  });
});
