/**
 * Issue 7: the media repository. A 100 MB upload and download through the server (throughput in
 * MB/s) while the server process's resident memory is sampled from /proc: a flat peak shows the
 * file is streamed, not held. Then a thumbnail of a 4000x3000 JPEG: the first request (decode,
 * resize, encode, store) and the cached ones.
 *
 * Uses the embedded PostgreSQL, or VECHE_BENCH_DATABASE_URL when set.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { rssBytes } from './lib/proc.js';
import { BenchError, MB, type BenchContext, type Benchmark, type Figure } from './lib/report.js';
import { Installation, databaseSectionFromUrl, dropExternalDatabase, type RunningServer } from './lib/server.js';
import { MatrixClient } from './lib/client.js';
import { median } from './lib/stats.js';

const FILE_MB = 100;
const CACHED_REQUESTS = 10;

/** Samples a process's VmRSS every few milliseconds; `peak()` is the highest seen since start. */
function sampleRss(pid: number): { peak(): number; stop(): void } {
  let peak = rssBytes(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid) ?? 0);
  }, 10);
  return {
    peak: () => Math.max(peak, rssBytes(pid) ?? 0),
    stop: () => clearInterval(timer),
  };
}

/** `size` bytes of one random megabyte repeated: cheap to make, so the client is not what is timed. */
function repeatedBytes(size: number): Readable {
  const block = randomBytes(MB);
  let sent = 0;
  return new Readable({
    highWaterMark: MB,
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(block.length, size - sent);
      sent += n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

function send(url: string, method: string, token: string, body: Readable | Buffer | undefined, headers: Record<string, string> = {}): Promise<{ status: number; length: number; json?: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: { Authorization: `Bearer ${token}`, ...headers } }, (res) => {
      let length = 0;
      const firstChunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        length += c.length;
        if (length <= 64 * 1024) firstChunks.push(c);
      });
      res.on('end', () => {
        let json: any;
        if (String(res.headers['content-type']).startsWith('application/json')) json = JSON.parse(Buffer.concat(firstChunks).toString());
        resolve({ status: res.statusCode ?? 0, length, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

async function testJpeg(width: number, height: number): Promise<Buffer> {
  // A gradient with noise: something like a photo for the encoder and decoder.
  const raw = Buffer.alloc(width * height * 3);
  const noise = randomBytes(raw.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = ((x * 255) / width + noise[i]! / 8) & 0xff;
      raw[i + 1] = ((y * 255) / height + noise[i + 1]! / 8) & 0xff;
      raw[i + 2] = (128 + noise[i + 2]! / 8) & 0xff;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const databaseUrl = process.env.VECHE_BENCH_DATABASE_URL;
  const databaseName = `veche_bench_${randomBytes(4).toString('hex')}`;
  const install = new Installation('media', {
    extra: { max_upload_size: '200M', ...(databaseUrl ? { database: databaseSectionFromUrl(databaseUrl, databaseName) } : {}) },
  });
  const figures: Figure[] = [];
  let server: RunningServer | undefined;
  try {
    ctx.log(`starting Veche (${databaseUrl ? 'external PostgreSQL' : 'embedded PostgreSQL'})`);
    server = await install.start();
    const base = server.baseUrl;
    const client = new MatrixClient(base);
    const session = await client.registerWithSharedSecret(install.sharedSecret, `media_${Date.now().toString(36)}`, `pw-${randomBytes(8).toString('hex')}`);
    const token = session.accessToken;
    const pid = server.pid;

    // Warm up the code paths (JIT, pools) with a small file, so the baseline is the idle server.
    const warm = await send(`${base}/_matrix/media/v3/upload`, 'POST', token, randomBytes(MB), { 'Content-Type': 'application/octet-stream' });
    if (warm.status !== 200) throw new BenchError(`upload answered ${warm.status}: ${JSON.stringify(warm.json)}`);
    await new Promise((r) => setTimeout(r, 500));
    const baseline = rssBytes(pid) ?? 0;

    const size = FILE_MB * MB;
    ctx.log(`uploading ${FILE_MB} MB`);
    let sampler = sampleRss(pid);
    let t0 = performance.now();
    const up = await send(`${base}/_matrix/media/v3/upload?filename=big.bin`, 'POST', token, repeatedBytes(size), {
      'Content-Type': 'video/mp4',
      'Content-Length': String(size),
    });
    const uploadSeconds = (performance.now() - t0) / 1000;
    const uploadPeak = sampler.peak();
    sampler.stop();
    if (up.status !== 200) throw new BenchError(`100 MB upload answered ${up.status}: ${JSON.stringify(up.json)}`);
    const mxc = String(up.json.content_uri).replace('mxc://', '');

    ctx.log(`downloading ${FILE_MB} MB`);
    sampler = sampleRss(pid);
    t0 = performance.now();
    const down = await send(`${base}/_matrix/client/v1/media/download/${mxc}`, 'GET', token, undefined);
    const downloadSeconds = (performance.now() - t0) / 1000;
    const downloadPeak = sampler.peak();
    sampler.stop();
    if (down.status !== 200 || down.length !== size) throw new BenchError(`download answered ${down.status} with ${down.length} bytes`);

    figures.push(
      { metric: `${FILE_MB} MB upload throughput (MB/s)`, value: FILE_MB / uploadSeconds, unit: '/s', note: `${uploadSeconds.toFixed(2)} s` },
      { metric: `${FILE_MB} MB download throughput (MB/s)`, value: FILE_MB / downloadSeconds, unit: '/s', note: `${downloadSeconds.toFixed(2)} s` },
      { metric: 'server RSS before the transfers', value: baseline / MB, unit: 'MB' },
      { metric: 'server RSS peak during the upload', value: uploadPeak / MB, unit: 'MB', note: `+${((uploadPeak - baseline) / MB).toFixed(1)} MB` },
      { metric: 'server RSS peak during the download', value: downloadPeak / MB, unit: 'MB', note: `+${((downloadPeak - baseline) / MB).toFixed(1)} MB` },
    );

    ctx.log('making a 4000x3000 JPEG');
    const jpeg = await testJpeg(4000, 3000);
    const img = await send(`${base}/_matrix/media/v3/upload?filename=photo.jpg`, 'POST', token, jpeg, { 'Content-Type': 'image/jpeg' });
    if (img.status !== 200) throw new BenchError(`JPEG upload answered ${img.status}`);
    const imgMxc = String(img.json.content_uri).replace('mxc://', '');
    const thumbUrl = (w: number, h: number, method: string) => `${base}/_matrix/client/v1/media/thumbnail/${imgMxc}?width=${w}&height=${h}&method=${method}`;
    for (const [w, h, method] of [[320, 240, 'scale'], [96, 96, 'crop']] as const) {
      t0 = performance.now();
      const first = await send(thumbUrl(w, h, method), 'GET', token, undefined);
      const firstMs = performance.now() - t0;
      if (first.status !== 200) throw new BenchError(`thumbnail answered ${first.status}`);
      const cached: number[] = [];
      for (let i = 0; i < CACHED_REQUESTS; i++) {
        t0 = performance.now();
        const again = await send(thumbUrl(w, h, method), 'GET', token, undefined);
        cached.push(performance.now() - t0);
        if (again.status !== 200 || again.length !== first.length) throw new BenchError('a cached thumbnail differs from the first');
      }
      figures.push(
        { metric: `thumbnail ${w}x${h} ${method} of a 4000x3000 JPEG (${(jpeg.length / MB).toFixed(1)} MB): first request`, value: firstMs, unit: 'ms' },
        { metric: `thumbnail ${w}x${h} ${method}: cached, median of ${CACHED_REQUESTS}`, value: median(cached), unit: 'ms' },
      );
    }
    figures.push({ metric: 'server RSS at the end', value: (rssBytes(pid) ?? 0) / MB, unit: 'MB' });
    return figures;
  } finally {
    await server?.stop();
    if (databaseUrl) await dropExternalDatabase(databaseUrl, databaseName).catch((err: Error) => ctx.log(`could not drop ${databaseName}: ${err.message}`));
    install.remove();
  }
}

export const media: Benchmark = {
  name: 'media',
  description: '100 MB upload/download throughput and server RSS; thumbnail of a 4000x3000 JPEG (issue 7)',
  run,
};
