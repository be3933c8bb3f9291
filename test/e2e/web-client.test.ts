/**
 * The built-in web client end to end: Hydrogen served by Veche at /, driven in headless Chromium
 * (Debian's package) through its own login form, room list, composer and menus. Alice and Bob use
 * two separate browser contexts (separate storage, separate service workers), as two people on two
 * machines would. Every step saves a screenshot under test-artifacts/web-client/; the assertions
 * are on what the pages show.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { launchChromium } from './browser.js';
import { ARTIFACTS, HydrogenPage } from './hydrogen.js';

const ROOT = join(import.meta.dirname, '../..');

/** Records what the browser refused under the Content-Security-Policy, and uncaught page errors. */
function watch(page: Page, problems: string[]): void {
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
}

describe('built-in web client (Hydrogen in Chromium)', function () {
  this.timeout(90_000);
  let ts: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  let alice: TestUser;
  let bob: TestUser;
  let a: HydrogenPage;
  let b: HydrogenPage;
  let picture: string;

  async function newPage(name: string): Promise<HydrogenPage> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    watch(page, problems);
    return new HydrogenPage(page, name);
  }

  before(async function () {
    this.timeout(120_000);
    // The client as `npm start` serves it: build it from the installed hydrogen-view-sdk.
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-web.mjs')], { cwd: ROOT, stdio: 'inherit' });
    ts = await startTestServer();
    // The test server listens on a free port: point public_baseurl (and so config.json) at it.
    ts.config.publicBaseUrl = `${ts.baseUrl}/`;
    alice = await ts.registerUser('alice', { displayname: 'Alice' });
    bob = await ts.registerUser('bob', { displayname: 'Bob' });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
    picture = join(ARTIFACTS, 'picture.png');
    await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 220, g: 40, b: 40 } } })
      .composite([{ input: { create: { width: 48, height: 32, channels: 3, background: { r: 20, g: 90, b: 220 } } }, left: 24, top: 16 }])
      .png()
      .toFile(picture);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const page of [a, b]) await page?.screenshot('FAILED').catch(() => undefined);
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await ts?.close();
  });

  describe('serving', () => {
    it('serves the client at / with its config from public_baseurl, its MIME types, caching and CSP', async () => {
      const index = await fetch(ts.baseUrl + '/');
      expect(index.status).to.equal(200);
      expect(index.headers.get('content-type')).to.match(/^text\/html/);
      expect(index.headers.get('cache-control')).to.match(/no-cache/);
      const csp = index.headers.get('content-security-policy') ?? '';
      expect(csp).to.include("default-src 'none'");
      expect(csp).to.include("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp).to.include(`connect-src 'self' ${ts.baseUrl}`);
      expect(csp).not.to.match(/script-src[^;]*'unsafe-inline'/);
      const html = await index.text();
      const assets = [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.some((p) => p.endsWith('.js'))).to.equal(true);
      for (const path of assets) {
        const res = await fetch(`${ts.baseUrl}/${path}`);
        expect(res.status, path).to.equal(200);
        expect(res.headers.get('cache-control'), path).to.equal('public, max-age=31536000, immutable');
      }

      const config = await fetch(ts.baseUrl + '/config.json');
      expect(config.headers.get('cache-control')).to.match(/no-cache/);
      expect(await config.json()).to.deep.equal({ defaultHomeServer: ts.baseUrl });

      const js = await fetch(`${ts.baseUrl}/${assets.find((p) => p.endsWith('.js'))}`);
      expect(js.headers.get('content-type')).to.match(/^(text|application)\/javascript/);
      // Compressed at build time, sent to whoever accepts it (fetch asks for gzip and decodes it).
      expect(js.headers.get('content-encoding')).to.be.oneOf(['br', 'gzip']);
      expect(js.headers.get('vary')).to.equal('Accept-Encoding');
      const bundle = await js.text();
      const wasmPath = /assets\/olm-[A-Za-z0-9]+\.wasm/.exec(bundle)?.[0];
      expect(wasmPath, 'olm wasm path in the bundle').to.be.a('string');
      const wasm = await fetch(`${ts.baseUrl}/${wasmPath}`);
      expect(wasm.headers.get('content-type')).to.equal('application/wasm');
      expect(wasm.headers.get('cache-control')).to.include('immutable');

      const sw = await fetch(ts.baseUrl + '/sw.js');
      expect(sw.headers.get('content-type')).to.match(/javascript/);
      expect(sw.headers.get('cache-control')).to.match(/no-cache/);
    });

    it('leaves /_matrix, /_synapse and /.well-known to the API', async () => {
      expect((await ts.request('GET', '/_matrix/client/versions')).body.versions).to.be.an('array');
      expect((await ts.request('GET', '/.well-known/matrix/client')).status).to.equal(200);
      expect((await ts.request('GET', '/_synapse/admin/v1/register')).body.nonce).to.be.a('string');
      const unknown = await ts.request('GET', '/_matrix/client/v3/no-such-endpoint');
      expect(unknown.status).to.equal(404);
      expect(unknown.body.errcode).to.equal('M_UNRECOGNIZED');
      expect(unknown.headers.get('content-security-policy')).to.equal(null);
      expect((await ts.request('GET', '/assets/no-such-file.js')).status).to.equal(404);
    });

    it('serves no client with web_client: false', async () => {
      const off = await startTestServer({ web_client: false });
      try {
        const res = await off.request('GET', '/');
        expect(res.status).to.equal(404);
        expect(res.body.errcode).to.equal('M_UNRECOGNIZED');
        expect((await off.request('GET', '/config.json')).status).to.equal(404);
        expect((await off.request('GET', '/_matrix/client/versions')).status).to.equal(200);
      } finally {
        await off.close();
      }
    });
  });

  describe('two people chatting', function () {
    // Each step builds on the one before.
    this.bail(true);

    it('a wrong password shows the client\'s error and nothing else happens', async () => {
      const page = await newPage('wrong-password');
      await page.open(ts.baseUrl);
      await page.usernameField.waitFor();
      expect(await page.homeserverField.inputValue()).to.equal(ts.baseUrl);
      await page.screenshot('login-form');
      await page.submitLogin('alice', 'not the password');
      const error = page.page.locator('.PasswordLoginView .error');
      await error.waitFor();
      expect(await error.innerText()).to.equal("Your username and/or password don't seem to be correct.");
      await page.screenshot('error');
      // Still the login form, still the typed username, no session and no room list.
      expect(await page.usernameField.inputValue()).to.equal('alice');
      expect(await page.page.locator('.SessionView, .LeftPanel').count()).to.equal(0);
      expect(page.page.url()).to.match(/#\/login$/);
      const sessions = await page.page.evaluate<string | null>("localStorage.getItem('hydrogen_sessions_v1')");
      expect(JSON.parse(sessions ?? '[]')).to.deep.equal([]);
    });

    it('Alice and Bob sign in through the login form and see their (empty) room lists', async () => {
      a = await newPage('alice');
      b = await newPage('bob');
      await Promise.all([a.signIn(ts.baseUrl, 'alice', alice.password), b.signIn(ts.baseUrl, 'bob', bob.password)]);
      await a.screenshot('signed-in');
      await b.screenshot('signed-in');
      expect(await a.roomList.locator('li').count()).to.equal(0);
    });

    for (const encrypted of [false, true]) {
      const room = encrypted ? 'Secret plans' : 'Lunch';
      const tag = encrypted ? 'encrypted' : 'plain';
      describe(encrypted ? 'in an encrypted room' : 'in an unencrypted room', () => {
        it('Alice creates the room and invites Bob; Bob accepts', async () => {
          await a.createRoom(room, encrypted);
          await a.screenshot(`${tag}-room-created`);
          if (encrypted) {
            expect(await a.composer.getAttribute('placeholder')).to.equal('Send an encrypted message…');
          } else {
            expect(await a.composer.getAttribute('placeholder')).to.equal('Send a message…');
          }
          await a.send(`/invite ${bob.userId}`);
          await b.roomTile(room).waitFor({ timeout: 30_000 });
          await b.screenshot(`${tag}-invited`);
          await b.acceptInvite(room);
          await b.screenshot(`${tag}-joined`);
          await a.page.locator('.Timeline', { hasText: /Bob joined the room/ }).waitFor({ timeout: 30_000 });
        });

        it('each sends a message and sees the other\'s, in order', async () => {
          const first = `Hello Bob, ${tag} message one`;
          const second = `Hi Alice, ${tag} reply two`;
          await a.send(first);
          await b.message(first).waitFor({ timeout: 30_000 });
          await b.send(second);
          await a.message(second).waitFor({ timeout: 30_000 });
          await b.message(second).waitFor();
          await a.screenshot(`${tag}-messages`);
          await b.screenshot(`${tag}-messages`);
          for (const side of [a, b]) {
            const texts = (await side.messageTexts()).filter((t) => t.includes(tag));
            expect(texts).to.deep.equal([first, second]);
          }
          // Nothing in the room that could not be decrypted (Hydrogen shows those as status messages).
          for (const side of [a, b]) expect(await side.page.locator('.Timeline_message .statusMessage').allInnerTexts()).to.deep.equal([]);
        });

        it('Alice sends a picture and Bob sees it', async () => {
          const before = await b.images().count();
          await a.sendPicture(picture);
          const image = b.images().nth(before);
          await image.waitFor({ timeout: 30_000 });
          // Its pixels arrived (downloaded, and decrypted in the encrypted room).
          const deadline = Date.now() + 30_000;
          while ((await b.loadedWidth(image)) === 0 && Date.now() < deadline) await b.page.waitForTimeout(100);
          await a.screenshot(`${tag}-picture-sent`);
          await b.screenshot(`${tag}-picture-received`);
          const src = (await image.getAttribute('src')) ?? '';
          // Encrypted attachments are decrypted in the page into a blob: URL; plain ones come from the media API.
          if (encrypted) expect(src).to.match(/^blob:/);
          else expect(src).to.include('/_matrix/client/v1/media/');
          expect(await b.loadedWidth(image)).to.equal(96);
        });
      });
    }

    describe('afterwards', () => {
      it('after reloading the page Bob is still signed in, with both rooms and their messages', async () => {
        await b.page.reload();
        await b.roomTile('Lunch').waitFor({ timeout: 30_000 });
        await b.roomTile('Secret plans').waitFor();
        await b.openRoom('Secret plans');
        await b.message('Hello Bob, encrypted message one').waitFor({ timeout: 30_000 });
        await b.screenshot('reloaded');
        expect(await b.page.locator('.PasswordLoginView').count()).to.equal(0);
      });

      it('the pages broke no Content-Security-Policy rule and threw no error', () => {
        expect(problems).to.deep.equal([]);
      });
    });
  });
});
