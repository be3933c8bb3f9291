/**
 * Issue 5, two /sync figures that need a user in many rooms, on one data set:
 *
 * - Incremental sync with nothing new: the number of SQL statements must not depend on how many
 *   rooms the user is in. Counted at 10 and at 1 000 rooms, server-side: the server (the bundle, a
 *   child process) reaches PostgreSQL through the counting proxy (bench/lib/pg-proxy.ts), which
 *   sees every statement. GET /sync?since=<latest>&timeout=0, repeated 5 times; the count is the
 *   median (excluding BEGIN/COMMIT). Needs VECHE_BENCH_DATABASE_URL; without it this figure is
 *   skipped and the rest runs on the embedded PostgreSQL.
 * - Initial sync of a user in 1 000 rooms with 20 messages each: target at most 1.5 s. Timed from
 *   request start to the whole JSON parsed, with no filter and with Element's usual lazy-loading
 *   filter; warm (three runs after the setup, median) and cold (first request after a restart).
 *
 * Setup (not timed): user U creates the rooms (public_chat) and partner P joins each; each room
 * gets 20 messages, alternately from U and P. Creation runs 8 requests at a time (VECHE_BENCH_ROOMS
 * overrides the 1 000). The proxy adds a little latency per statement; it is the same at both sizes.
 */
import { performance } from 'node:perf_hooks';
import type { MatrixClient } from './lib/client.js';
import { BenchError, type Benchmark, type Figure } from './lib/report.js';
import { envNumber, launch, pool, range, registerMany, step } from './lib/harness.js';
import { cpuProfileDir, profileClock, summariseCpuProfile, summariseSql } from './lib/profile.js';
import { median, min } from './lib/stats.js';
import type { RunningServer } from './lib/server.js';
import type { PgProxy } from './lib/pg-proxy.js';

const TARGET_INITIAL_SYNC_S = 1.5;
const MESSAGES_PER_ROOM = 20;
const SMALL = 10;
/** Requests in flight during the setup (VECHE_BENCH_SETUP_CONCURRENCY); below 10 for the embedded pool. */
const CONCURRENCY = envNumber('VECHE_BENCH_SETUP_CONCURRENCY', 8);
const LAZY_FILTER = { room: { state: { lazy_load_members: true }, timeline: { limit: 20 } } };

async function quiet(proxy: PgProxy | undefined, ms = 300): Promise<void> {
  if (!proxy) return new Promise((r) => setTimeout(r, ms));
  let last = proxy.count;
  let since = performance.now();
  while (performance.now() - since < ms) {
    await new Promise((r) => setTimeout(r, 25));
    if (proxy.count !== last) {
      last = proxy.count;
      since = performance.now();
    }
  }
}

type SyncBody = { next_batch: string; rooms?: { join?: Record<string, unknown> } };

function syncPath(params: Record<string, string | number | undefined>): string {
  const q = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `/_matrix/client/v3/sync${q ? `?${q}` : ''}`;
}

/** Statements for each of `n` empty incremental syncs. */
async function emptySyncCounts(c: MatrixClient, proxy: PgProxy, n = 5): Promise<{ counts: number[]; lastRecords: PgProxy['records'] }> {
  let since = (await c.request<SyncBody>('GET', syncPath({ timeout: 0 }))).next_batch;
  since = (await c.request<SyncBody>('GET', syncPath({ since, timeout: 0 }))).next_batch;
  const counts: number[] = [];
  let lastRecords: PgProxy['records'] = [];
  for (let i = 0; i < n; i++) {
    await quiet(proxy);
    proxy.reset();
    const body = await c.request<SyncBody>('GET', syncPath({ since, timeout: 0 }));
    await quiet(proxy, 150);
    if (body.rooms?.join && Object.keys(body.rooms.join).length) throw new BenchError('an incremental sync with nothing new returned rooms');
    since = body.next_batch;
    lastRecords = [...proxy.records];
    counts.push(proxy.statements(lastRecords).length);
  }
  return { counts, lastRecords };
}

async function timedSync(c: MatrixClient, filter?: unknown): Promise<{ ms: number; rooms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(c.baseUrl + syncPath({ timeout: 0, filter: filter ? JSON.stringify(filter) : undefined }), {
    headers: { Authorization: `Bearer ${c.accessToken}` },
  });
  const text = await res.text();
  if (!res.ok) throw new BenchError(`initial /sync answered ${res.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text) as SyncBody;
  return { ms: performance.now() - t0, rooms: Object.keys(body.rooms?.join ?? {}).length, bytes: text.length };
}

export const syncRooms: Benchmark = {
  name: 'sync-rooms',
  description: 'initial /sync in 1000 rooms x 20 messages; SQL statements of an empty incremental sync at 10 and 1000 rooms (issue 5)',
  async run(ctx) {
    const roomCount = envNumber('VECHE_BENCH_ROOMS', 1000);
    // With an external PostgreSQL, a pool above the setup's concurrency (sends inside a room's
    // transaction take a second connection at this commit: see concurrent-sends).
    const run = await launch('syncrooms', ctx.log, { sql: 'auto', poolMax: process.env.VECHE_BENCH_DATABASE_URL ? Math.max(10, CONCURRENCY * 2) : undefined });
    let window: [number, number] | undefined;
    let server: RunningServer = run.server;
    const proxy = run.db?.proxy;
    try {
      const runId = Date.now().toString(36);
      const [u, p] = await step('registering', () => registerMany(server.baseUrl, run.install.sharedSecret, [`u_${runId}`, `p_${runId}`]), server);
      const figures: Figure[] = [];
      const roomIds: string[] = [];
      const grow = async (to: number) => {
        const from = roomIds.length;
        const t0 = performance.now();
        const created: string[] = new Array(to - from);
        await step('creating rooms', () => pool(range(to - from), CONCURRENCY, async (i) => {
          const id = await u!.createRoom({ preset: 'public_chat', name: `room ${from + i}` });
          await p!.join(id);
          created[i] = id;
          if ((from + i + 1) % 200 === 0) ctx.log(`${from + i + 1} rooms, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        }), server);
        const sends = created.flatMap((id) => range(MESSAGES_PER_ROOM).map((j) => [id, j] as const));
        await step('sending', () => pool(sends, CONCURRENCY, async ([id, j]) => {
          void (await (j % 2 ? p! : u!).sendMessage(id, `t${j}`, { msgtype: 'm.text', body: `message ${j} in ${id}` }));
        }), server);
        roomIds.push(...created);
        ctx.log(`${roomIds.length} rooms with ${MESSAGES_PER_ROOM} messages each, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      };

      await grow(SMALL);
      let smallCount: number | undefined;
      if (proxy) {
        const { counts, lastRecords } = await emptySyncCounts(u!, proxy);
        smallCount = median(counts);
        ctx.log(`empty incremental sync at ${SMALL} rooms: ${counts.join(', ')} statements\n${summariseSql(proxy, 30, lastRecords)}`);
        figures.push({ metric: `empty incremental sync, SQL statements, ${SMALL} rooms`, value: smallCount, unit: 'count', note: `median of 5: ${counts.join(', ')}` });
      }

      await grow(roomCount);
      if (proxy) {
        const { counts, lastRecords } = await emptySyncCounts(u!, proxy);
        ctx.log(`empty incremental sync at ${roomCount} rooms: ${counts.join(', ')} statements\n${summariseSql(proxy, 30, lastRecords)}`);
        figures.push({
          metric: `empty incremental sync, SQL statements, ${roomCount} rooms`,
          value: median(counts),
          unit: 'count',
          note: `median of 5: ${counts.join(', ')}; must equal the ${SMALL}-room figure`,
        });
      }
      const t0 = performance.now();
      await timedSync(u!);
      ctx.log(`first initial sync after the setup: ${(performance.now() - t0).toFixed(0)} ms`);

      const measure = async (label: string, filter: unknown | undefined, runs: number) => {
        const samples: number[] = [];
        let info = { rooms: 0, bytes: 0 };
        for (let i = 0; i < runs; i++) {
          proxy?.reset();
          const r = await timedSync(u!, filter);
          if (r.rooms !== roomCount) throw new BenchError(`initial sync returned ${r.rooms} joined rooms, not ${roomCount}`);
          samples.push(r.ms);
          info = r;
        }
        const statements = proxy ? proxy.statements().length / runs : undefined;
        if (proxy && label.startsWith('warm, no filter')) ctx.log(`SQL of one initial sync:\n${summariseSql(proxy, 25, proxy.records, runs)}`);
        figures.push({
          metric: `initial sync, ${roomCount} rooms x ${MESSAGES_PER_ROOM} messages, ${label}`,
          value: median(samples) / 1000,
          unit: 's',
          target: TARGET_INITIAL_SYNC_S,
          note: `${runs > 1 ? `median of ${runs}, min ${(min(samples) / 1000).toFixed(2)} s; ` : ''}${(info.bytes / 1024 / 1024).toFixed(1)} MB JSON${statements !== undefined ? `; ${Math.round(statements)} SQL statements` : ''}`,
        });
      };
      const w0 = profileClock();
      await measure('warm, no filter', undefined, 3);
      await measure('warm, lazy-loading filter', LAZY_FILTER, 3);
      window = [w0, profileClock()];

      ctx.log('restarting the server for a cold initial sync');
      await server.stop();
      server = await run.install.start();
      (run as { server: RunningServer }).server = server;
      u!.baseUrl !== server.baseUrl && Object.assign(u!, { baseUrl: server.baseUrl });
      await measure('cold (first request after a restart), no filter', undefined, 1);
      return figures;
    } finally {
      await server.stop();
      await run.dispose();
      const dir = cpuProfileDir();
      // The first server's profile, over the warm initial syncs only.
      if (dir && window) ctx.log(`server profile during the warm initial syncs:\n${summariseCpuProfile(dir, 30, window)}`);
    }
  },
};
