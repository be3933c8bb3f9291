/**
 * Issue 3: cold start to a served /versions with an already-initialised data folder (target
 * under 3 s) and resident memory of the server process after 30 s idle (target under 120 MB).
 *
 * With the default embedded PostgreSQL: the first start initialises the data folder (initdb,
 * migrations, signing key) and is reported on its own; then N cold starts (spawn → first 200 from
 * /_matrix/client/versions) on the initialised folder; the last one then idles and its memory is
 * read from /proc. With VECHE_BENCH_DATABASE_URL, the same runs against that PostgreSQL server too.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { cpuSeconds, rssBytes, treeMemory } from './lib/proc.js';
import { MB, type BenchContext, type Benchmark, type Figure } from './lib/report.js';
import { Installation, databaseSectionFromUrl, dropExternalDatabase, type RunningServer } from './lib/server.js';
import { median, min } from './lib/stats.js';

const COLD_START_TARGET_MS = 3_000;
const IDLE_RSS_TARGET_MB = 120;

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

async function measure(ctx: BenchContext, label: string, databaseUrl: string | undefined): Promise<Figure[]> {
  const starts = envNumber('VECHE_BENCH_STARTS', 3);
  const idleSeconds = envNumber('VECHE_BENCH_IDLE_SECONDS', 30);
  const databaseName = `veche_bench_${randomBytes(4).toString('hex')}`;
  const install = new Installation(`startup-${label}`, {
    extra: databaseUrl ? { database: databaseSectionFromUrl(databaseUrl, databaseName) } : {},
  });
  const figures: Figure[] = [];
  const f = (metric: string, value: number, unit: Figure['unit'], extra: Partial<Figure> = {}) =>
    figures.push({ metric: `${label}: ${metric}`, value, unit, ...extra });
  let server: RunningServer | undefined;
  try {
    ctx.log(`${label}: first start, initialising ${databaseUrl ? `database ${databaseName}` : install.dataDir}`);
    server = await install.start();
    f(databaseUrl ? 'first start (creates the database, migrates)' : 'first start (initialises the data folder)', server.readyMs, 'ms');
    await server.stop();

    const times: number[] = [];
    for (let i = 0; i < starts; i++) {
      server = await install.start();
      times.push(server.readyMs);
      ctx.log(`${label}: cold start ${i + 1}/${starts}: ${server.readyMs.toFixed(0)} ms`);
      if (i < starts - 1) await server.stop();
    }
    f(`cold start, min of ${starts}`, min(times), 'ms');
    f(`cold start, median of ${starts}`, median(times), 'ms', { target: COLD_START_TARGET_MS });

    // The last cold-started server now idles; its memory is read at the end.
    const pid = server!.pid;
    const rssAtReady = rssBytes(pid) ?? 0;
    const cpuBefore = cpuSeconds(pid) ?? 0;
    const t0 = performance.now();
    ctx.log(`${label}: idling ${idleSeconds} s`);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const elapsed = (performance.now() - t0) / 1000;
    const cpuIdle = ((cpuSeconds(pid) ?? cpuBefore) - cpuBefore) / elapsed;
    const tree = treeMemory(pid);
    f('server RSS right after start', rssAtReady / MB, 'MB');
    f(`server RSS after ${idleSeconds} s idle`, tree.rss / MB, 'MB', { target: IDLE_RSS_TARGET_MB, note: 'VmRSS of the node process' });
    f('server CPU while idle', cpuIdle * 100, '%', { note: 'of one core' });
    if (!databaseUrl) {
      f(`embedded PostgreSQL RSS, ${tree.childCount} processes`, tree.childRss / MB, 'MB', { note: 'sum of VmRSS; shared memory counted once per process' });
      f('embedded PostgreSQL PSS', tree.childPss / MB, 'MB', { note: 'shared memory divided among the processes' });
    }
    const s0 = performance.now();
    await server!.stop();
    f('stop (SIGTERM → exit)', performance.now() - s0, 'ms');
    server = undefined;
    return figures;
  } finally {
    await server?.stop();
    if (databaseUrl) await dropExternalDatabase(databaseUrl, databaseName).catch((err: Error) => ctx.log(`could not drop ${databaseName}: ${err.message}`));
    install.remove();
  }
}

export const startup: Benchmark = {
  name: 'startup',
  description: 'cold start to a served /versions, and memory after idling (issue 3)',
  async run(ctx) {
    const figures = await measure(ctx, 'embedded', undefined);
    const url = process.env.VECHE_BENCH_DATABASE_URL;
    if (url) figures.push(...(await measure(ctx, 'external', url)));
    else ctx.log('set VECHE_BENCH_DATABASE_URL=postgres://user@host:port/db to measure against an external PostgreSQL too');
    return figures;
  },
};
