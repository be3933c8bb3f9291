/**
 * `npm run bench [-- NAME …]`: runs the named benchmarks (all when none is named), one after
 * another, and prints a summary table of their figures. Progress goes to stderr, figures to stdout.
 * A benchmark that fails prints one line and the others still run; the exit code is then 1.
 * Missing a target is a figure, not a failure: benchmarks are never part of the pass/fail test run.
 */
import { performance } from 'node:perf_hooks';
import { availableParallelism, loadavg } from 'node:os';
import { romeoJuliet } from './romeo-juliet.js';
import { startup } from './startup.js';
import { search } from './search.js';
import { keys } from './keys.js';
import { media } from './media.js';
import { webClient } from './web-client.js';
import { concurrentSends } from './concurrent-sends.js';
import { bigRoom } from './big-room.js';
import { syncWakeup } from './sync-wakeup.js';
import { syncRooms } from './sync-rooms.js';
import { idleLongpolls } from './idle-longpolls.js';
import { threads } from './threads.js';
import { BenchError, formatTarget, formatValue, table, type Benchmark, type Figure } from './lib/report.js';
import { installCleanupHandlers, stopAllServers } from './lib/server.js';

const BENCHMARKS: Benchmark[] = [startup, romeoJuliet, media, keys, search, concurrentSends, bigRoom, syncWakeup, syncRooms, idleLongpolls, threads, webClient];

function usage(): string {
  return [
    'usage: npm run bench [-- NAME ...]',
    '',
    'benchmarks:',
    ...BENCHMARKS.map((b) => `  ${b.name.padEnd(14)} ${b.description}`),
  ].join('\n');
}

async function main(): Promise<number> {
  const names = process.argv.slice(2).filter((a) => a !== '--');
  if (names.includes('-h') || names.includes('--help')) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}\n\n${usage()}\n`);
    return 2;
  }
  const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  installCleanupHandlers();
  // Other work on the machine skews every figure: the load average says how busy it was.
  const loadAtStart = loadavg()[0]!;

  const results: { bench: Benchmark; figures: Figure[]; error?: string; seconds: number }[] = [];
  for (const bench of selected) {
    process.stderr.write(`\n== ${bench.name}: ${bench.description}\n`);
    const t0 = performance.now();
    const ctx = { log: (m: string) => process.stderr.write(`[${bench.name}] ${m}\n`) };
    try {
      const figures = await bench.run(ctx);
      results.push({ bench, figures, seconds: (performance.now() - t0) / 1000 });
      process.stdout.write(`\n${bench.name}\n${table(['figure', 'value', 'target'], figures.map((f) => [f.metric, formatValue(f), formatTarget(f)]))}\n`);
    } catch (err) {
      const message = err instanceof BenchError ? err.message : err instanceof Error ? err.message : String(err);
      if (!(err instanceof BenchError) && process.env.VECHE_BENCH_DEBUG) console.error(err);
      process.stderr.write(`[${bench.name}] FAILED: ${message}\n`);
      results.push({ bench, figures: [], error: message, seconds: (performance.now() - t0) / 1000 });
    } finally {
      await stopAllServers();
    }
  }

  const rows: string[][] = [];
  for (const r of results) {
    if (r.error) rows.push([r.bench.name, 'FAILED', r.error, '', '']);
    for (const f of r.figures) rows.push([r.bench.name, f.metric, formatValue(f), formatTarget(f), f.note ?? '']);
  }
  const machine = `${availableParallelism()} cores, load average ${loadAtStart.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`;
  process.stdout.write(`\n== summary (${new Date().toISOString()}, node ${process.version}, ${machine})\n`);
  process.stdout.write(table(['benchmark', 'figure', 'value', 'target', 'note'], rows) + '\n');
  return results.some((r) => r.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopAllServers();
    process.exit(1);
  },
);
