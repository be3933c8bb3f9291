/**
 * Issue 8: the thread list of a room with 10 000 threads — time of the first page of
 * GET /_matrix/client/v1/rooms/{roomId}/threads (cold: first request; warm: median of 20).
 *
 * Setup (not timed): one room; VECHE_BENCH_THREADS (default 10 000) thread roots, each with one
 * reply, sent through the API by 4 users (all in the same room, so the room's writer serialises
 * them — this takes a minute or two).
 */
import { performance } from 'node:perf_hooks';
import { type Benchmark, type Figure } from './lib/report.js';
import { envNumber, launch, pool, range, registerMany, step } from './lib/harness.js';
import { percentile } from './lib/stats.js';

export const threads: Benchmark = {
  name: 'threads',
  description: 'first page of the thread list of a room with 10 000 threads (issue 8)',
  async run(ctx) {
    const count = envNumber('VECHE_BENCH_THREADS', 10_000);
    const run = await launch('threads', ctx.log, {});
    const { server } = run;
    try {
      const base = server.baseUrl;
      const runId = Date.now().toString(36);
      const clients = await step('registering users', () => registerMany(base, run.install.sharedSecret, range(4).map((i) => `t${i}_${runId}`)), server);
      const roomId = await clients[0]!.createRoom({ preset: 'public_chat', name: 'threads' });
      for (const c of clients.slice(1)) await c.join(roomId);
      ctx.log(`creating ${count} threads with one reply each`);
      const t0 = performance.now();
      await step('creating threads', () => pool(range(count), 8, async (i) => {
        const c = clients[i % clients.length]!;
        const root = await c.sendMessage(roomId, `root${i}`, { msgtype: 'm.text', body: `thread ${i}` });
        await clients[(i + 1) % clients.length]!.sendMessage(roomId, `reply${i}`, {
          msgtype: 'm.text',
          body: `reply to ${i}`,
          'm.relates_to': { rel_type: 'm.thread', event_id: root },
        });
      }), server);
      ctx.log(`setup took ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      const path = `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/threads?limit=20`;
      const c0 = performance.now();
      const first = await clients[0]!.request<{ chunk: unknown[]; next_batch?: string }>('GET', path);
      const cold = performance.now() - c0;
      if (first.chunk.length !== 20 || !first.next_batch) throw new Error(`expected a full first page, got ${first.chunk.length}`);
      const warm: number[] = [];
      for (let i = 0; i < 20; i++) {
        const s = performance.now();
        await clients[i % clients.length]!.request('GET', path);
        warm.push(performance.now() - s);
      }
      const participated: number[] = [];
      for (let i = 0; i < 10; i++) {
        const s = performance.now();
        await clients[1]!.request('GET', `${path}&include=participated`);
        participated.push(performance.now() - s);
      }
      const figures: Figure[] = [
        { metric: 'threads in the room', value: count, unit: 'count' },
        { metric: 'first page (20 threads), first request', value: cold, unit: 'ms' },
        { metric: 'first page, median of 20', value: percentile(warm, 50), unit: 'ms' },
        { metric: 'first page, p99', value: percentile(warm, 99), unit: 'ms' },
        { metric: 'include=participated, median of 10', value: percentile(participated, 50), unit: 'ms' },
      ];
      return figures;
    } finally {
      await run.dispose();
    }
  },
};
