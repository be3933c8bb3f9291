/**
 * Issue 4: concurrent sends. 50 clients, 100 rooms; every client keeps one send in flight at all
 * times, round-robin over the 10 rooms it is in. Target: at least 2 000 events/s.
 *
 * Setup (not timed): 50 users through the shared-secret API; user i creates rooms 2i and 2i+1
 * (public_chat); room r's members are its creator c and users c+10, c+20, c+30, c+40 (mod 50), so
 * every room has 5 members and every user is in 10 rooms. Then, all 50 at once, each client sends
 * VECHE_BENCH_WARMUP_PER_CLIENT (default 20) messages that are not timed — the server's code is
 * compiled by then, as in a server that has been up for more than a second — and then
 * VECHE_BENCH_SENDS_PER_CLIENT (default 200) messages, one after another.
 * Events/s = timed messages / wall time from the first timed send to the last answer; latency is
 * per PUT /send request, as the client sees it.
 */
import { performance } from 'node:perf_hooks';
import { cpuSeconds, treeMemory } from './lib/proc.js';
import { BenchError, MB, type Benchmark, type Figure } from './lib/report.js';
import { envNumber, launch, pool, range, registerMany, step, within } from './lib/harness.js';
import { cpuProfileDir, summariseCpuProfile, summariseSql } from './lib/profile.js';
import { percentile } from './lib/stats.js';

const TARGET_EVENTS_PER_SECOND = 2000;
const CLIENTS = 50;
const ROOMS = 100;

export const concurrentSends: Benchmark = {
  name: 'concurrent-sends',
  description: '50 clients sending at once into 100 rooms (issue 4)',
  async run(ctx) {
    const perClient = envNumber('VECHE_BENCH_SENDS_PER_CLIENT', 200);
    const warmup = envNumber('VECHE_BENCH_WARMUP_PER_CLIENT', 20);
    // An external PostgreSQL gets cp_max 64 (VECHE_BENCH_POOL), as a production deployment would;
    // messages take one pooled statement per batch of rooms, state changes a transaction each.
    const poolMax = envNumber('VECHE_BENCH_POOL', 64);
    const run = await launch('sends', ctx.log, { sql: 'optional', poolMax });
    const { server } = run;
    try {
      const base = server.baseUrl;
      const runId = Date.now().toString(36);
      ctx.log(`registering ${CLIENTS} users`);
      const clients = await step('registering users', () => registerMany(base, run.install.sharedSecret, range(CLIENTS).map((i) => `s${i}_${runId}`)), server);
      ctx.log(`creating ${ROOMS} rooms`);
      const roomIds: string[] = new Array(ROOMS);
      await step('creating rooms', () => pool(range(ROOMS), 8, async (r) => {
        roomIds[r] = await clients[r >> 1]!.createRoom({ preset: 'public_chat', name: `room ${r}` });
      }), server);
      const roomsOf: string[][] = range(CLIENTS).map(() => []);
      const joins: [number, number][] = [];
      for (let r = 0; r < ROOMS; r++) {
        const c = r >> 1;
        roomsOf[c]!.push(roomIds[r]!);
        for (let k = 1; k <= 4; k++) {
          const m = (c + 10 * k) % CLIENTS;
          roomsOf[m]!.push(roomIds[r]!);
          joins.push([m, r]);
        }
      }
      ctx.log(`${joins.length} joins`);
      await step('joining rooms', () => pool(joins, 8, async ([m, r]) => void (await clients[m]!.join(roomIds[r]!))), server);

      ctx.log(`warming up: ${CLIENTS} x ${warmup} messages`);
      await step('warming up', () => Promise.all(
        clients.map(async (c, ci) => {
          for (let j = 0; j < warmup; j++) await c.sendMessage(roomsOf[ci]![j % roomsOf[ci]!.length]!, `warm${j}`, { msgtype: 'm.text', body: `warm-up ${j} from ${ci}` });
        }),
      ), server);
      ctx.log(`sending ${CLIENTS} x ${perClient} messages`);
      run.db?.proxy.reset();
      const latencies: number[] = [];
      const eventIds = new Set<string>();
      const cpu0 = cpuSeconds(server.pid) ?? 0;
      const pgCpu0 = treeMemory(server.pid).childCpuSeconds;
      const t0 = performance.now();
      await step('sending', () => within(Math.max(60_000, perClient * 2000), 'the concurrent sends (pool deadlock?)', Promise.all(
        clients.map(async (c, ci) => {
          const rooms = roomsOf[ci]!;
          for (let j = 0; j < perClient; j++) {
            const s0 = performance.now();
            const id = await c.sendMessage(rooms[j % rooms.length]!, `cs${j}`, { msgtype: 'm.text', body: `message ${j} from ${ci}` });
            latencies.push(performance.now() - s0);
            eventIds.add(id);
          }
        }),
      )), server);
      const seconds = (performance.now() - t0) / 1000;
      const total = CLIENTS * perClient;
      if (eventIds.size !== total) throw new BenchError(`${total} sends returned ${eventIds.size} distinct event IDs`);
      const serverCpu = ((cpuSeconds(server.pid) ?? cpu0) - cpu0) / seconds;
      const tree = treeMemory(server.pid);
      const figures: Figure[] = [
        { metric: 'events per second', value: total / seconds, unit: '/s', note: `target: at least ${TARGET_EVENTS_PER_SECOND}` },
        { metric: 'messages sent', value: total, unit: 'count', note: `${CLIENTS} clients x ${perClient}, 50 in flight, after ${CLIENTS} x ${warmup} untimed` },
        { metric: 'wall time', value: seconds, unit: 's' },
        { metric: 'send latency p50', value: percentile(latencies, 50), unit: 'ms' },
        { metric: 'send latency p99', value: percentile(latencies, 99), unit: 'ms' },
        { metric: 'server CPU during the sends', value: serverCpu * 100, unit: '%', note: 'of one core, node process' },
      ];
      if (run.database === 'embedded') figures.push({ metric: 'PostgreSQL CPU during the sends', value: ((tree.childCpuSeconds - pgCpu0) / seconds) * 100, unit: '%', note: 'of one core, embedded processes' });
      figures.push({ metric: 'server RSS after the sends', value: tree.rss / MB, unit: 'MB' });
      if (run.db) {
        const stmts = run.db.proxy.statements().length;
        figures.push({ metric: 'SQL statements per send', value: stmts / total, unit: 'count', note: 'excluding BEGIN/COMMIT' });
        ctx.log(`SQL during the sends:\n${summariseSql(run.db.proxy)}`);
      }
      return figures;
    } finally {
      await run.dispose();
      const dir = cpuProfileDir();
      if (dir) ctx.log(summariseCpuProfile(dir));
    }
  },
};
