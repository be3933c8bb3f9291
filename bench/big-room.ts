/**
 * Issue 4: rows written and time taken for one message into a room of 10, 1 000 and 10 000
 * members. The event and state rows must not grow with the member count. Push-rule evaluation
 * writes one event_push_actions row per notified member by design (as Synapse does), after the
 * send's commit; it is reported on its own.
 *
 * Setup (not timed). 10 000 users through the shared-secret API would spend minutes hashing
 * passwords, so the setup runs Veche in this process on the same data folder and database and
 * creates the users with AccountService.register without a password (the same rows, minus a
 * password hash; each gets a device and an access token). Rooms and joins then go over HTTP to that
 * in-process server: the joins are the server's own /join code path, so the room's events, state
 * groups and memberships are what the server writes. The in-process server stops; the bundle then
 * starts as a child process on the same database, behind the counting proxy (bench/lib/pg-proxy.ts),
 * and that child is measured.
 *
 * Measure: the room creator sends one warm-up message, then VECHE_BENCH_BIGROOM_SENDS (default 10)
 * messages, one at a time; after each the benchmark waits until the server has sent no statement
 * for 300 ms, so the push-action rows written after the answer are counted too. Rows written per
 * table come from PostgreSQL's command tags ("INSERT 0 n"). Needs VECHE_BENCH_DATABASE_URL.
 * VECHE_BENCH_BIGROOM_SIZES overrides the sizes (e.g. "10,1000").
 */
import { performance } from 'node:perf_hooks';
import { BenchError, table, type Benchmark, type Figure } from './lib/report.js';
import { clientFor, launch, pool, range, startInProcess, step, within } from './lib/harness.js';
import { tagRows, writtenTable, type StatementRecord } from './lib/pg-proxy.js';
import { median } from './lib/stats.js';
import pg from 'pg';

type TableCounts = Map<string, { ins: number; upd: number; del: number }>;

/** n_tup_ins / n_tup_upd / n_tup_del per table: exact, CTEs included, but flushed by an idle backend within about 10 s (PGSTAT_IDLE_INTERVAL). */
async function tableCounts(client: pg.Client): Promise<TableCounts> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ relname: string; ins: string; upd: string; del: string }>(
    'SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del FROM pg_stat_user_tables',
  );
  return new Map(rows.map((r) => [r.relname, { ins: Number(r.ins), upd: Number(r.upd), del: Number(r.del) }]));
}

function countDelta(before: TableCounts, after: TableCounts, per: number): string[] {
  const out: string[] = [];
  for (const [t, a] of after) {
    const b = before.get(t) ?? { ins: 0, upd: 0, del: 0 };
    for (const [k, label] of [['ins', '+'], ['upd', '~'], ['del', '-']] as const) {
      const d = (a[k] - b[k]) / per;
      if (d) out.push(`${t} ${label}${Number.isInteger(d) ? d : d.toFixed(1)}`);
    }
  }
  return out.sort();
}

function sizes(): number[] {
  const s = process.env.VECHE_BENCH_BIGROOM_SIZES;
  return s ? s.split(',').map(Number).filter((n) => n > 1) : [10, 1000, 10_000];
}

async function quiet(records: () => number, ms = 300, maxMs = 120_000): Promise<void> {
  const t0 = performance.now();
  let last = records();
  let since = performance.now();
  while (performance.now() - since < ms) {
    await new Promise((r) => setTimeout(r, 25));
    const n = records();
    if (n !== last) {
      last = n;
      since = performance.now();
    }
    if (performance.now() - t0 > maxMs) throw new BenchError('the server kept writing for 2 minutes after a send');
  }
}

interface SendSample {
  ms: number;
  statements: number;
  /** rows per "VERB table" */
  rows: Map<string, number>;
  /** ms from the send's start to the last statement after it (push actions included) */
  allWritesMs: number;
}

/** Sum of the per-table deltas, event_push_actions left out. */
function statRows(delta: string[]): number {
  return delta.filter((x) => !x.startsWith('event_push_actions')).reduce((a, x) => a + Math.abs(Number(x.split(' ').pop()!.replace(/^[+~-]/, ''))), 0);
}

export const bigRoom: Benchmark = {
  name: 'big-room',
  description: 'rows written and time for one message into rooms of 10, 1000 and 10000 members (issue 4)',
  async run(ctx) {
    const roomSizes = sizes();
    const biggest = Math.max(...roomSizes);
    const sends = Number(process.env.VECHE_BENCH_BIGROOM_SENDS) || 10;
    let owner: { userId: string; accessToken: string } | undefined;
    const roomIds: string[] = [];
    const run = await launch('bigroom', ctx.log, {
      sql: 'required',
      beforeStart: async (install, db) => {
        const t0 = performance.now();
        ctx.log('setup: Veche in-process on the same database');
        const srv = await startInProcess(install, db!);
        try {
          const base = srv.urls[0]!;
          const reg = async (localpart: string) => {
            const r = await srv.services.accounts.register({ localpart, password: null });
            return { userId: r.user_id, accessToken: r.access_token! };
          };
          owner = await reg('owner');
          const ownerClient = clientFor(base, owner);
          ctx.log(`setup: ${biggest - 1} users without password`);
          const users: { userId: string; accessToken: string }[] = new Array(biggest - 1);
          await pool(range(biggest - 1), 16, async (i) => void (users[i] = await reg(`m${i}`)));
          ctx.log(`setup: users in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
          for (const size of roomSizes) roomIds.push(await ownerClient.createRoom({ preset: 'public_chat', name: `${size} members` }));
          // The rooms fill at once; joins into one room queue behind the room's writer anyway.
          await Promise.all(
            roomSizes.map(async (size, r) => {
              const t1 = performance.now();
              let done = 0;
              await pool(range(size - 1), 4, async (i) => {
                await clientFor(base, users[i]!).join(roomIds[r]!);
                if (++done % 1000 === 0) ctx.log(`setup: room of ${size}: ${done} joins, ${((performance.now() - t1) / 1000).toFixed(0)} s`);
              });
              ctx.log(`setup: room of ${size} filled in ${((performance.now() - t1) / 1000).toFixed(1)} s (${(((size - 1) / (performance.now() - t1)) * 1000).toFixed(0)} joins/s)`);
            }),
          );
        } finally {
          await srv.close();
        }
        ctx.log(`setup done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      },
    });
    const { server } = run;
    const proxy = run.db!.proxy;
    const stats = new pg.Client(run.db!.direct());
    await stats.connect();
    try {
      const c = clientFor(server.baseUrl, owner!);
      const figures: Figure[] = [];
      const tables: string[][] = [];
      for (const [r, size] of roomSizes.entries()) {
        const roomId = roomIds[r]!;
        const joined = await c.request<{ joined: Record<string, unknown> }>('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`);
        const members = Object.keys(joined.joined).length;
        if (members !== size) throw new BenchError(`room of ${size}: ${members} joined members`);
        await step('warm-up send', () => c.sendMessage(roomId, `warm${r}`, { msgtype: 'm.text', body: 'warm-up' }), server);
        await quiet(() => proxy.count);
        const samples: SendSample[] = [];
        await new Promise((r) => setTimeout(r, 11_500));
        const countsBefore = await tableCounts(stats);
        for (let i = 0; i < sends; i++) {
          proxy.reset();
          const t0 = performance.now();
          await step('send', () => within(120_000, 'send', c.sendMessage(roomId, `m${r}_${i}`, { msgtype: 'm.text', body: `hello ${i}` })), server);
          const ms = performance.now() - t0;
          await quiet(() => proxy.count);
          const recs: StatementRecord[] = [...proxy.records];
          const rows = new Map<string, number>();
          for (const rec of recs) {
            const w = writtenTable(rec.sql);
            if (!w || rec.tag === 'ERROR') continue;
            const key = `${w.verb} ${w.table}`;
            rows.set(key, (rows.get(key) ?? 0) + tagRows(rec.tag));
          }
          samples.push({ ms, statements: proxy.statements(recs).length, rows, allWritesMs: Math.max(ms, ...recs.map((x) => x.end - t0)) });
        }
        // An idle backend reports its counters within 10 s.
        await new Promise((r) => setTimeout(r, 11_500));
        const statDelta = countDelta(countsBefore, await tableCounts(stats), sends);
        ctx.log(`room of ${size}: pg_stat_user_tables per message (+ins ~upd -del): ${statDelta.join(', ')}`);
        const keys = [...new Set(samples.flatMap((s) => [...s.rows.keys()]))].sort();
        const perTable = keys.map((k) => [k, median(samples.map((s) => s.rows.get(k) ?? 0))] as const);
        const pushRows = perTable.filter(([k]) => k.endsWith('event_push_actions')).reduce((a, [, n]) => a + n, 0);
        const otherRows = perTable.filter(([k]) => !k.endsWith('event_push_actions')).reduce((a, [, n]) => a + n, 0);
        tables.push([String(size), statDelta.join(', ')]);
        ctx.log(`room of ${size}: ${perTable.map(([k, n]) => `${k}=${n}`).join(', ')}`);
        figures.push(
          { metric: `${size} members: send time, median of ${sends}`, value: median(samples.map((s) => s.ms)), unit: 'ms' },
          { metric: `${size} members: send start to last row written, median`, value: median(samples.map((s) => s.allWritesMs)), unit: 'ms', note: 'incl. push actions after the answer' },
          { metric: `${size} members: send time, max`, value: Math.max(...samples.map((s) => s.ms)), unit: 'ms' },
          { metric: `${size} members: rows written, events/state/other tables`, value: otherRows, unit: 'count', note: `command tags: ${perTable.filter(([k]) => !k.endsWith('event_push_actions')).map(([k, n]) => `${k} ${n}`).join(', ')}; CTE writes are not in tags, see pg_stat line` },
          { metric: `${size} members: rows touched, all tables but push actions (pg_stat_user_tables)`, value: statRows(statDelta), unit: 'count', note: statDelta.filter((x) => !x.startsWith('event_push_actions')).join(', ') },
          { metric: `${size} members: event_push_actions rows`, value: pushRows, unit: 'count', note: 'one per notified member, by design; written after the answer' },
          { metric: `${size} members: SQL statements per send`, value: median(samples.map((s) => s.statements)), unit: 'count', note: 'incl. the push-action pass; excl. BEGIN/COMMIT' },
        );
      }
      ctx.log(`rows written per message (pg_stat_user_tables deltas / sends; + inserted, ~ updated, - deleted):\n${table(['members', 'rows'], tables.map(([a, ...b]) => [a!, b.join(', ')]))}`);
      return figures;
    } finally {
      await stats.end().catch(() => undefined);
      await run.dispose();
    }
  },
};
