/**
 * Issue 5: send-to-sync wake-up latency over 1 000 messages. Target: p99 at most 20 ms on loopback.
 *
 * Two users share one room. The receiver long-polls GET /sync?since=…&timeout=30000 with a stored
 * filter (timeline limit 5, lazy-loaded members, no presence). For each message: the receiver's
 * long-poll is sent, the benchmark waits 30 ms so the server is holding it, then the sender's
 * PUT /send starts. Figures:
 *
 * - latency = from the start of the PUT /send to the moment the receiver has the whole /sync
 *   response whose timeline holds that event (the target applies to this one);
 * - wake-up alone = from the PUT /send's answer to that /sync response (negative when the sync
 *   answer arrives first, which can happen: the server wakes the sync at commit).
 *
 * A long-poll that returns without the event (a receipt, presence…) is renewed and the clock keeps
 * running. VECHE_BENCH_WAKEUPS sets the number of messages (default 1000).
 */
import { performance } from 'node:perf_hooks';
import { cpuSeconds } from './lib/proc.js';
import { BenchError, type Benchmark, type Figure } from './lib/report.js';
import { envNumber, launch, registerMany, step, within } from './lib/harness.js';
import { cpuProfileDir, summariseCpuProfile, summariseSql } from './lib/profile.js';
import { max, percentile } from './lib/stats.js';

const TARGET_P99_MS = 20;
const HOLD_MS = 30;

export const syncWakeup: Benchmark = {
  name: 'sync-wakeup',
  description: 'send-to-/sync wake-up latency over 1000 messages, p50 and p99 (issue 5)',
  async run(ctx) {
    const count = envNumber('VECHE_BENCH_WAKEUPS', 1000);
    const run = await launch('wakeup', ctx.log, { sql: 'optional' });
    const { server } = run;
    try {
      const runId = Date.now().toString(36);
      const [sender, receiver] = await step('registering', () => registerMany(server.baseUrl, run.install.sharedSecret, [`a_${runId}`, `b_${runId}`]), server);
      const roomId = await step('createRoom', () => sender!.createRoom({ preset: 'public_chat' }), server);
      await step('join', () => receiver!.join(roomId), server);
      const { filter_id: filterId } = await step('filter', () =>
        receiver!.request<{ filter_id: string }>('POST', `/_matrix/client/v3/user/${encodeURIComponent(receiver!.userId!)}/filter`, {
          room: { timeline: { limit: 5 }, state: { lazy_load_members: true } },
          presence: { not_types: ['*'] },
        }),
      server);
      type SyncBody = { next_batch: string; rooms?: { join?: Record<string, { timeline?: { events?: { event_id: string }[] } }> } };
      const sync = (since?: string, timeout = 0) =>
        receiver!.request<SyncBody>('GET', `/_matrix/client/v3/sync?filter=${filterId}&timeout=${timeout}${since ? `&since=${encodeURIComponent(since)}` : ''}`);
      let since = (await step('initial sync', () => sync(), server)).next_batch;
      // Settle: whatever the join and filter upload produced is consumed before measuring.
      since = (await sync(since)).next_batch;

      const latency: number[] = [];
      const wake: number[] = [];
      let renewed = 0;
      let returnedEarly = 0;
      run.db?.proxy.reset();
      const cpu0 = cpuSeconds(server.pid) ?? 0;
      const tRun = performance.now();
      for (let i = 0; i < count; i++) {
        let answered = false;
        let poll = sync(since, 30_000).finally(() => (answered = true));
        await new Promise((r) => setTimeout(r, HOLD_MS));
        if (answered) returnedEarly++;
        const t0 = performance.now();
        let tSent = 0;
        const sent = sender!.sendMessage(roomId, `w${i}`, { msgtype: 'm.text', body: `ping ${i}` }).then((id) => {
          tSent = performance.now();
          return id;
        });
        const eventId = await step(`send ${i}`, () => sent, server);
        for (;;) {
          const body = await step(`sync ${i}`, () => within(40_000, 'sync', poll), server);
          since = body.next_batch;
          const events = body.rooms?.join?.[roomId]?.timeline?.events ?? [];
          if (events.some((e) => e.event_id === eventId)) {
            const t = performance.now();
            latency.push(t - t0);
            wake.push(t - tSent);
            break;
          }
          renewed++;
          poll = sync(since, 30_000);
        }
        if ((i + 1) % 200 === 0) ctx.log(`${i + 1}/${count}: p50 ${percentile(latency, 50).toFixed(1)} ms, p99 ${percentile(latency, 99).toFixed(1)} ms`);
      }
      const seconds = (performance.now() - tRun) / 1000;
      if (latency.length !== count) throw new BenchError(`${latency.length} of ${count} messages arrived`);
      const figures: Figure[] = [
        { metric: 'latency p50 (send start → sync response with the event)', value: percentile(latency, 50), unit: 'ms' },
        { metric: 'latency p99 (send start → sync response with the event)', value: percentile(latency, 99), unit: 'ms', target: TARGET_P99_MS },
        { metric: 'latency max', value: max(latency), unit: 'ms' },
        { metric: 'wake-up p50 (send answer → sync response)', value: percentile(wake, 50), unit: 'ms' },
        { metric: 'wake-up p99 (send answer → sync response)', value: percentile(wake, 99), unit: 'ms' },
        { metric: 'messages', value: count, unit: 'count', note: `${renewed} long-polls renewed, ${returnedEarly} returned before the send` },
        { metric: 'server CPU during the run', value: (((cpuSeconds(server.pid) ?? cpu0) - cpu0) / seconds) * 100, unit: '%', note: 'of one core, node process' },
      ];
      if (run.db) {
        figures.push({ metric: 'SQL statements per message (send + sync)', value: run.db.proxy.statements().length / count, unit: 'count' });
        ctx.log(`SQL during the run:\n${summariseSql(run.db.proxy)}`);
      }
      return figures;
    } finally {
      await run.dispose();
      const dir = cpuProfileDir();
      if (dir) ctx.log(summariseCpuProfile(dir));
    }
  },
};
