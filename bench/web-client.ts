/**
 * Issue 9: the built-in web client (Hydrogen) in headless Chromium, for a user in 200 rooms.
 * - first visit: opening / with an empty browser until the login form is usable, and the bytes
 *   that took (counted by a TCP proxy in front of the server: every byte the page and its service
 *   worker received, headers included);
 * - sign-in: pressing "Log In" until the room list shows all 200 rooms (login, first sync, storing
 *   the rooms in IndexedDB), and the bytes that took;
 * - returning: opening / again in the same browser (session and assets cached) until the room
 *   list shows all 200 rooms.
 * Each is the median of a few runs, a fresh browser context (and so a fresh device) per run.
 *
 * Uses the embedded PostgreSQL, or VECHE_BENCH_DATABASE_URL when set.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../test/e2e/browser.js';
import { BenchError, type BenchContext, type Benchmark, type Figure } from './lib/report.js';
import { Installation, databaseSectionFromUrl, dropExternalDatabase, freePort, type RunningServer } from './lib/server.js';
import { MatrixClient } from './lib/client.js';
import { median } from './lib/stats.js';

const ROOMS = 200;
const RUNS = 3;
const KB = 1024;
const kb = (bytes: number) => `${Math.round(bytes / KB)} KB`;

/**
 * A TCP proxy in front of the server that counts the bytes it sends back: the browser's page and
 * its service worker both reach the server through it (public_baseurl names the proxy), so the
 * count is every byte on the wire, headers included.
 */
async function countingProxy(port: number, target: () => number): Promise<{ take(): number; close(): Promise<void> }> {
  let bytes = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(target(), '127.0.0.1');
    sockets.add(client).add(upstream);
    upstream.on('data', (chunk: Buffer) => void (bytes += chunk.length));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  return {
    take() {
      const b = bytes;
      bytes = 0;
      return b;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => resolve());
      }),
  };
}

async function roomListShows(page: Page, count: number, timeoutMs = 120_000): Promise<void> {
  // A function, not a string: the client's Content-Security-Policy forbids eval in the page.
  type PageDocument = { querySelectorAll(selector: string): { length: number } };
  await page.waitForFunction(
    (n) => (globalThis as unknown as { document: PageDocument }).document.querySelectorAll('.LeftPanel .RoomList li').length >= n,
    count,
    { timeout: timeoutMs, polling: 20 },
  );
}

async function run(ctx: BenchContext): Promise<Figure[]> {
  const databaseUrl = process.env.VECHE_BENCH_DATABASE_URL;
  const databaseName = `veche_bench_${randomBytes(4).toString('hex')}`;
  const generous = { per_second: 10_000, burst_count: 10_000 };
  const proxyPort = await freePort();
  const install = new Installation('web-client', {
    extra: {
      public_baseurl: `http://127.0.0.1:${proxyPort}/`,
      rc_message: generous,
      rc_login: { address: generous, account: generous, failed_attempts: generous },
      ...(databaseUrl ? { database: databaseSectionFromUrl(databaseUrl, databaseName) } : {}),
    },
  });
  let server: RunningServer | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;
  try {
    ctx.log(`starting Veche (${databaseUrl ? 'external PostgreSQL' : 'embedded PostgreSQL'})`);
    server = await install.start();
    const serverPort = Number(new URL(server.baseUrl).port);
    proxy = await countingProxy(proxyPort, () => serverPort);
    const base = `http://127.0.0.1:${proxyPort}`;
    const index = await fetch(base + '/');
    if (index.status !== 200) throw new BenchError(`GET / answered ${index.status}: is the web client built (node scripts/build.mjs)?`);

    const client = new MatrixClient(base);
    const username = `reader_${Date.now().toString(36)}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await client.registerWithSharedSecret(install.sharedSecret, username, password);
    ctx.log(`creating ${ROOMS} rooms with a message each`);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < ROOMS) {
          const i = next++;
          const roomId = await client.createRoom({ name: `Room ${String(i + 1).padStart(3, '0')}`, preset: 'private_chat' });
          await client.sendMessage(roomId, `m${i}`, { msgtype: 'm.text', body: `Message in room ${i + 1}` });
        }
      }),
    );
    ctx.log(`rooms ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    browser = await launchChromium();
    const firstLoad: number[] = [];
    const firstBytes: number[] = [];
    const signIn: number[] = [];
    const signInBytes: number[] = [];
    const reopen: number[] = [];
    const reopenBytes: number[] = [];
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      const context: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      try {
        const page = await context.newPage();
        proxy.take();
        let t = performance.now();
        await page.goto(base + '/');
        await page.locator('.PasswordLoginView #username').waitFor({ timeout: 60_000 });
        firstLoad.push(performance.now() - t);
        // Let the page finish what it fetches on its own (olm, fonts, the service worker).
        await page.waitForLoadState('networkidle');
        firstBytes.push(proxy.take());

        await page.locator('.PasswordLoginView #username').fill(username);
        await page.locator('.PasswordLoginView #password').fill(password);
        t = performance.now();
        await page.locator('.PasswordLoginView button.primary').click();
        await roomListShows(page, ROOMS);
        signIn.push(performance.now() - t);
        await page.waitForTimeout(300);
        signInBytes.push(proxy.take());

        // Returning: the same browser opens / again.
        const again = await context.newPage();
        await page.close();
        await again.waitForTimeout(200);
        proxy.take();
        t = performance.now();
        await again.goto(base + '/');
        await roomListShows(again, ROOMS);
        reopen.push(performance.now() - t);
        await again.waitForTimeout(300);
        reopenBytes.push(proxy.take());
        ctx.log(`run ${runIndex + 1}: login form ${firstLoad.at(-1)!.toFixed(0)} ms, sign-in to ${ROOMS} rooms ${signIn.at(-1)!.toFixed(0)} ms, reopen ${reopen.at(-1)!.toFixed(0)} ms`);
      } finally {
        await context.close();
      }
    }
    return [
      { metric: 'first visit: open / → login form usable (cold cache), median', value: median(firstLoad), unit: 'ms' },
      { metric: 'first visit: bytes transferred (cold cache, headers included)', value: median(firstBytes) / KB / KB, unit: 'MB', note: kb(median(firstBytes)) },
      { metric: `sign-in: "Log In" → room list shows ${ROOMS} rooms, median`, value: median(signIn), unit: 'ms' },
      { metric: `sign-in: bytes transferred (login, first sync of ${ROOMS} rooms)`, value: median(signInBytes) / KB / KB, unit: 'MB', note: kb(median(signInBytes)) },
      { metric: `returning: open / → room list shows ${ROOMS} rooms, median`, value: median(reopen), unit: 'ms' },
      { metric: 'returning: bytes transferred', value: median(reopenBytes) / KB / KB, unit: 'MB', note: kb(median(reopenBytes)) },
    ];
  } finally {
    await browser?.close();
    await proxy?.close();
    await server?.stop();
    if (databaseUrl) await dropExternalDatabase(databaseUrl, databaseName).catch((err: Error) => ctx.log(`could not drop ${databaseName}: ${err.message}`));
    install.remove();
  }
}

export const webClient: Benchmark = {
  name: 'web-client',
  description: `built-in web client in Chromium: open / to a usable room list for a user in ${ROOMS} rooms; bytes on first load (issue 9)`,
  run,
};
