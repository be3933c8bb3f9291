import { expect } from 'chai';
import sharp from 'sharp';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { expectMatrixError } from './helpers/index.js';

const PREVIEW = '/_matrix/client/v1/media/preview_url';
const enc = encodeURIComponent;

/** Records where every TCP connection made in this process goes while `fn` runs. */
async function connectionsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; hosts: string[] }> {
  const hosts: string[] = [];
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: any[]) {
    const first = args[0];
    const options = Array.isArray(first) ? first[0] : first;
    if (options && typeof options === 'object') hosts.push(`${options.host ?? options.path ?? ''}:${options.port ?? ''}`);
    else hosts.push(`${args[1] ?? ''}:${args[0]}`);
    return (original as any).apply(this, args);
  } as any;
  try {
    return { result: await fn(), hosts };
  } finally {
    net.Socket.prototype.connect = original;
  }
}

/** A small web server on 127.0.0.1 for the previewer to fetch from. */
async function startSite(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const PAGE = `<!doctype html><html><head>
<title>Fallback title</title>
<meta name="description" content="A plain description">
<meta property="og:title" content="Veche &amp; friends">
<meta property="og:description" content="Matrix for organisations">
<meta property="og:type" content="website">
</head><body>hello</body></html>`;

describe('URL previews', () => {
  describe('by default', () => {
    let t: TestServer;
    let alice: TestUser;
    before(async () => {
      t = await startTestServer();
      alice = await t.registerUser();
    });
    after(async () => t?.close());

    it('are off', async () => {
      const res = await t.request('GET', `${PREVIEW}?url=${enc('https://example.org/')}`, { token: alice.accessToken });
      expectMatrixError(res, 404, 'M_UNRECOGNIZED');
      expect(t.config.media.urlPreview.enabled).to.equal(false);
    });
  });

  describe('when enabled', () => {
    let t: TestServer;
    let alice: TestUser;
    let site: Awaited<ReturnType<typeof startSite>>;
    before(async () => {
      t = await startTestServer({ url_preview_enabled: true });
      alice = await t.registerUser();
      site = await startSite((req, res) => {
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end(PAGE);
      });
    });
    after(async () => {
      await site?.close();
      await t?.close();
    });

    it('refuses loopback and private addresses before connecting (SSRF guard)', async () => {
      const veche = new URL(t.baseUrl).host;
      for (const target of [site.url + '/', 'http://10.0.0.1/', 'http://10.0.0.1:8080/admin', 'http://[::1]/', 'http://169.254.169.254/latest/meta-data/', 'http://192.168.1.1/', 'http://localhost/', 'http://[::ffff:10.0.0.1]/', 'http://0.0.0.0/']) {
        const started = Date.now();
        const { result: res, hosts } = await connectionsDuring(() => t.request('GET', `${PREVIEW}?url=${enc(target)}`, { token: alice.accessToken }));
        expectMatrixError(res, 403, 'M_FORBIDDEN');
        // The only connection made (if any: fetch keeps connections alive) was the test's own to Veche.
        expect(hosts.filter((h) => h !== veche), target).to.deep.equal([]);
        expect(Date.now() - started, target).to.be.lessThan(1000);
      }
    });

    it('refuses URLs that are not http(s) and requires url', async () => {
      expectMatrixError(await t.request('GET', `${PREVIEW}?url=${enc('file:///etc/passwd')}`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
      expectMatrixError(await t.request('GET', `${PREVIEW}?url=not%20a%20url`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
      expectMatrixError(await t.request('GET', PREVIEW, { token: alice.accessToken }), 400, 'M_MISSING_PARAM');
    });
  });

  describe('with 127.0.0.1 whitelisted (to reach a local test site)', () => {
    let t: TestServer;
    let alice: TestUser;
    let site: Awaited<ReturnType<typeof startSite>>;
    before(async () => {
      t = await startTestServer({
        url_preview_enabled: true,
        url_preview_ip_range_whitelist: ['127.0.0.1'],
        max_spider_size: '64K',
        url_preview_timeout: '1s',
      });
      alice = await t.registerUser();
      const png = await sharp({ create: { width: 60, height: 40, channels: 3, background: '#3366cc' } }).png().toBuffer();
      site = await startSite((req, res) => {
        if (req.url === '/with-image' || req.url === '/with-svg') {
          res.setHeader('Content-Type', 'text/html');
          res.end(`<html><head><meta property="og:title" content="Pictured"><meta property="og:image" content="${req.url === '/with-image' ? 'img.png' : '/img.svg'}"></head></html>`);
        } else if (req.url === '/img.png') {
          res.setHeader('Content-Type', 'image/png');
          res.end(png);
        } else if (req.url === '/img.svg') {
          res.setHeader('Content-Type', 'image/svg+xml');
          res.end('<svg xmlns="http://www.w3.org/2000/svg"/>');
        } else if (req.url === '/page') {
          res.setHeader('Content-Type', 'text/html; charset=utf-8');
          res.end(PAGE);
        } else if (req.url === '/to-private') {
          res.writeHead(302, { Location: 'http://10.0.0.1/secret' });
          res.end();
        } else if (req.url === '/to-page') {
          res.writeHead(301, { Location: '/page' });
          res.end();
        } else if (req.url === '/huge') {
          res.setHeader('Content-Type', 'text/html');
          res.end('<html>' + 'x'.repeat(200 * 1024));
        } else if (req.url === '/slow') {
          res.setHeader('Content-Type', 'text/html');
          res.write('<html>');
          // never ends
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
    });
    after(async () => {
      await site?.close();
      await t?.close();
    });

    it('returns the OpenGraph data of a page, following redirects', async () => {
      const { result: res, hosts } = await connectionsDuring(() => t.request('GET', `${PREVIEW}?url=${enc(site.url + '/to-page')}`, { token: alice.accessToken }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      // The connection spy sees the previewer's connections (so its silence above means something).
      expect(hosts).to.include(new URL(site.url).host);
      expect(res.body).to.deep.equal({ 'og:title': 'Veche & friends', 'og:description': 'Matrix for organisations', 'og:type': 'website' });
      const legacy = await t.request('GET', `/_matrix/media/v3/preview_url?url=${enc(site.url + '/page')}`, { token: alice.accessToken });
      expect(legacy.body['og:title']).to.equal('Veche & friends');
    });

    it('stores og:image in the media repository and gives its mxc URI', async () => {
      const res = await t.request('GET', `${PREVIEW}?url=${enc(site.url + '/with-image')}`, { token: alice.accessToken });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body['og:title']).to.equal('Pictured');
      expect(res.body['og:image']).to.match(/^mxc:\/\/test\.local\//);
      expect(res.body).to.include({ 'og:image:type': 'image/png', 'og:image:width': 60, 'og:image:height': 40 });
      const mediaPath = String(res.body['og:image']).replace('mxc://', '/_matrix/client/v1/media/download/');
      const image = await fetch(t.baseUrl + mediaPath, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
      expect(image.status).to.equal(200);
      expect(Buffer.from(await image.arrayBuffer()).length).to.equal(res.body['matrix:image:size']);
      // A URL that is itself an image previews as that image.
      const direct = await t.request('GET', `${PREVIEW}?url=${enc(site.url + '/img.png')}`, { token: alice.accessToken });
      expect(direct.body['og:image']).to.match(/^mxc:/);
      // SVG is never taken in as a preview image.
      const svg = await t.request('GET', `${PREVIEW}?url=${enc(site.url + '/with-svg')}`, { token: alice.accessToken });
      expect(svg.status).to.equal(200);
      expect(svg.body).to.deep.equal({ 'og:title': 'Pictured' });
    });

    it('checks every redirect hop too', async () => {
      const { result: res, hosts } = await connectionsDuring(() => t.request('GET', `${PREVIEW}?url=${enc(site.url + '/to-private')}`, { token: alice.accessToken }));
      expectMatrixError(res, 403, 'M_FORBIDDEN');
      expect(hosts.filter((h) => h.startsWith('10.'))).to.deep.equal([]);
    });

    it('caps the size and the time of a fetch', async () => {
      expectMatrixError(await t.request('GET', `${PREVIEW}?url=${enc(site.url + '/huge')}`, { token: alice.accessToken }), 502, 'M_TOO_LARGE');
      const started = Date.now();
      expectMatrixError(await t.request('GET', `${PREVIEW}?url=${enc(site.url + '/slow')}`, { token: alice.accessToken }), 502, 'M_UNKNOWN');
      expect(Date.now() - started).to.be.lessThan(3000);
    });
  });
});

describe('URL preview IP range guard', () => {
  it("blocks Synapse's default ranges, IPv4-mapped IPv6 included, and lets the whitelist through", async () => {
    const { buildConfig, validateRawConfig } = await import('../../src/config/index.js');
    const { IpRangeGuard } = await import('../../src/services/media/ip-guard.js');
    const config = buildConfig(validateRawConfig({ server_name: 'x.test' }, 'test'), '/tmp');
    const guard = new IpRangeGuard(config.media.urlPreview.ipRangeBlacklist, ['10.1.2.0/24']);
    for (const blocked of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '224.0.0.1', 'not-an-ip']) {
      expect(guard.isAllowed(blocked), blocked).to.equal(false);
    }
    for (const allowed of ['93.184.215.14', '1.1.1.1', '2606:4700:4700::1111', '10.1.2.3']) {
      expect(guard.isAllowed(allowed), allowed).to.equal(true);
    }
    let refused: unknown;
    await guard.resolve('10.0.0.1').catch((err: unknown) => (refused = err));
    expect((refused as Error).message).to.include('10.0.0.1');
  });
});
