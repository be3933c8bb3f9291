/**
 * Where the server's time goes. VECHE_BENCH_CPU_PROF=DIR makes the next server start with
 * `--cpu-prof` (through NODE_OPTIONS, inherited by the child only), and summarises the profile it
 * writes on exit: self time per function and per source file of the bundle. VECHE_BENCH_SQL=1
 * (with VECHE_BENCH_DATABASE_URL) routes the server through the counting proxy and prints the
 * statements that took the most time.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PgProxy } from './pg-proxy.js';
import { table } from './report.js';

export function cpuProfileDir(): string | undefined {
  const d = process.env.VECHE_BENCH_CPU_PROF;
  return d ? resolve(d) : undefined;
}

/**
 * Runs `start` so that the server it spawns profiles itself into `dir`. Node 20 refuses --cpu-prof
 * in NODE_OPTIONS, and RunningServer spawns process.execPath: for the duration of `start`, that is
 * a tiny shell script that execs node with --cpu-prof (same pid, so /proc figures still hold).
 */
export async function withCpuProfile<T>(dir: string | undefined, start: () => Promise<T>): Promise<T> {
  if (!dir) return start();
  mkdirSync(dir, { recursive: true });
  const node = process.execPath;
  const wrapper = join(dir, 'node-cpu-prof.sh');
  writeFileSync(wrapper, `#!/bin/sh\nexec '${node}' --cpu-prof --cpu-prof-dir='${dir}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  process.execPath = wrapper;
  try {
    return await start();
  } finally {
    process.execPath = node;
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Now on the clock V8's profiler stamps samples with (CLOCK_MONOTONIC, µs), for `window`. */
export function profileClock(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time per function and per file of the newest .cpuprofile in `dir`, as text; with `window`
 * ([from, to] from profileClock()), only the samples taken in it.
 */
export function summariseCpuProfile(dir: string, top = 25, window?: [number, number]): string {
  if (!existsSync(dir)) return '(no profile)';
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (!files.length) return '(no profile written)';
  const path = join(dir, files[files.length - 1]!);
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    t += prof.timeDeltas[i] ?? 0;
    if (window && (t < window[0] || t > window[1])) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const file = url.includes('node_modules/') ? url.replace(/^.*node_modules\//, 'node_modules/') : url.replace(/^.*\/dist\//, 'dist/');
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    const pkg = file.startsWith('node_modules/') ? file.split('/').slice(0, file.split('/')[1]!.startsWith('@') ? 3 : 2).join('/') : file || n.callFrame.functionName;
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [`${(us / 1000).toFixed(0)} ms`, `${((us / total) * 100).toFixed(1)} %`, k]);
  return [
    `profile ${path}: ${(total / 1e6).toFixed(1)} s sampled`,
    table(['self', 'share', 'function'], rows(byFn)),
    '',
    table(['self', 'share', 'file / package'], rows(byFile)),
  ].join('\n');
}

/** The statements that took the longest in total, as text. */
export function summariseSql(proxy: PgProxy, top = 20, records = proxy.records, per = 1): string {
  const s = proxy.summary(records).map((x) => ({ ...x, count: x.count / per, totalMs: x.totalMs / per, rows: x.rows / per }));
  const total = s.reduce((a, b) => a + b.totalMs, 0);
  return [
    `${records.length / per} statements, ${total.toFixed(0)} ms summed over connections${per > 1 ? ` (per request, mean of ${per})` : ''}`,
    table(
      ['total', 'count', 'mean', 'rows', 'sql'],
      s.slice(0, top).map((x) => [`${x.totalMs.toFixed(0)} ms`, String(Math.round(x.count * 10) / 10), `${(x.totalMs / x.count).toFixed(2)} ms`, String(Math.round(x.rows)), x.sql.slice(0, 150)]),
    ),
  ].join('\n');
}
