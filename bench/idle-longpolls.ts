/**
 * Issue 5: 500 concurrent idle long-polls held; report CPU and memory.
 *
 * 500 users register (shared-secret API) and each does an initial /sync (filter: timeline limit 1).
 * Then each holds GET /sync?since=…&timeout=30000 with nothing to deliver, renewing it when it
 * times out. Figures, from /proc of the server process (and of the embedded PostgreSQL):
 *
 * - before: server RSS and CPU with no request (5 s);
 * - holding: from 5 s after the 500th long-poll was sent to 25 s (no long-poll times out then):
 *   CPU of the server and of PostgreSQL, server RSS (peak of samples every 100 ms);
 * - renewal: the 10 s around the 30 s timeout, when all 500 answer and are sent again.
 *
 * VECHE_BENCH_LONGPOLLS overrides the 500.
 */
import { performance } from 'node:perf_hooks';
import { cpuSeconds, rssBytes, treeMemory } from './lib/proc.js';
import { BenchError, MB, type Benchmark, type Figure } from './lib/report.js';
import { envNumber, launch, pool, range, registerMany, step } from './lib/harness.js';
import type { MatrixClient } from './lib/client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const idleLongpolls: Benchmark = {
  name: 'idle-longpolls',
  description: '500 concurrent idle /sync long-polls held: server CPU and memory (issue 5)',
  async run(ctx) {
    const n = envNumber('VECHE_BENCH_LONGPOLLS', 500);
    const run = await launch('longpolls', ctx.log, { sql: 'none' });
    const { server } = run;
    const pid = server.pid;
    let stopping = false;
    try {
      const runId = Date.now().toString(36);
      ctx.log(`registering ${n} users`);
      const clients = await step('registering', () => registerMany(server.baseUrl, run.install.sharedSecret, range(n).map((i) => `lp${i}_${runId}`), 8), server);
      // Something in common, as in an organisation: 10 rooms of 50.
      const rooms: string[] = [];
      for (let r = 0; r < n / 50; r++) rooms.push(await clients[r * 50]!.createRoom({ preset: 'public_chat' }));
      await step('joining', () => pool(range(n), 8, async (i) => {
        if (i % 50) await clients[i]!.join(rooms[Math.floor(i / 50)]!);
      }), server);
      const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 } } }));
      const since: string[] = new Array(n);
      ctx.log('initial syncs');
      await step('initial sync', () => pool(range(n), 8, async (i) => {
        since[i] = (await clients[i]!.request<{ next_batch: string }>('GET', `/_matrix/client/v3/sync?filter=${filter}&timeout=0`)).next_batch;
      }), server);
      // One more round: whatever arrived after an early initial sync is consumed now.
      await pool(range(n), 8, async (i) => {
        since[i] = (await clients[i]!.request<{ next_batch: string }>('GET', `/_matrix/client/v3/sync?filter=${filter}&timeout=0&since=${encodeURIComponent(since[i]!)}`)).next_batch;
      });
      await sleep(3000);

      const embedded = run.database === 'embedded';
      const window = async (ms: number) => {
        const cpu0 = cpuSeconds(pid) ?? 0;
        const pg0 = embedded ? treeMemory(pid).childCpuSeconds : 0;
        let peak = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < ms) {
          peak = Math.max(peak, rssBytes(pid) ?? 0);
          await sleep(100);
        }
        const seconds = (performance.now() - t0) / 1000;
        return {
          cpu: (((cpuSeconds(pid) ?? cpu0) - cpu0) / seconds) * 100,
          pgCpu: embedded ? ((treeMemory(pid).childCpuSeconds - pg0) / seconds) * 100 : NaN,
          peakRss: peak / MB,
        };
      };
      const before = await window(5000);
      const rssBefore = (rssBytes(pid) ?? 0) / MB;

      let answered = 0;
      let early = 0;
      let tStarted = 0;
      const hold = async (c: MatrixClient, i: number) => {
        while (!stopping) {
          const t = performance.now();
          const body = await c.request<{ next_batch: string }>('GET', `/_matrix/client/v3/sync?filter=${filter}&timeout=30000&since=${encodeURIComponent(since[i]!)}`);
          since[i] = body.next_batch;
          answered++;
          if (performance.now() - t < 29_000) early++;
        }
      };
      ctx.log(`holding ${n} long-polls`);
      const polls = clients.map((c, i) => hold(c, i).catch((err: Error) => (stopping ? undefined : Promise.reject(err))));
      let failure: Error | undefined;
      void Promise.all(polls).catch((err: Error) => (failure = err));
      tStarted = performance.now();
      await sleep(5000);
      const holding = await window(20_000);
      const rssHolding = (rssBytes(pid) ?? 0) / MB;
      const answeredWhileHolding = answered;
      // The 30 s timeouts fall at ~30 s after the start: measure 27 s → 37 s.
      await sleep(Math.max(0, 27_000 - (performance.now() - tStarted)));
      const renewal = await window(10_000);
      stopping = true;
      if (failure) throw new BenchError(`a long-poll failed: ${failure.message}`);

      const figures: Figure[] = [
        { metric: 'long-polls held', value: n, unit: 'count', note: `${answeredWhileHolding} answered while holding (expected 0); ${early} answered early overall` },
        { metric: 'server CPU, no requests', value: before.cpu, unit: '%', note: 'of one core' },
        { metric: `server CPU, ${n} long-polls held`, value: holding.cpu, unit: '%', note: 'of one core, 20 s window' },
        { metric: 'server CPU, timeouts and renewals', value: renewal.cpu, unit: '%', note: `of one core, 10 s around the 30 s timeout (${n} answers and new requests)` },
        { metric: 'server RSS, no requests', value: rssBefore, unit: 'MB' },
        { metric: `server RSS, ${n} long-polls held`, value: rssHolding, unit: 'MB', note: `peak ${holding.peakRss.toFixed(1)} MB` },
        { metric: 'server RSS, peak during renewals', value: renewal.peakRss, unit: 'MB' },
      ];
      if (embedded) {
        figures.push(
          { metric: `PostgreSQL CPU, ${n} long-polls held`, value: holding.pgCpu, unit: '%', note: 'of one core, embedded processes' },
          { metric: 'PostgreSQL CPU, timeouts and renewals', value: renewal.pgCpu, unit: '%', note: 'of one core' },
        );
      }
      return figures;
    } finally {
      stopping = true;
      await run.dispose();
    }
  },
};
