/**
 * Issue 4: the "Romeo and Juliet" message-send benchmark (shared/bench-data/README.md), the
 * workload behind published Synapse, Dendrite and Conduit figures. Target: under 25 s.
 *
 * One user registers, logs in and creates a public room; then every line of the play is one
 * PUT /rooms/{roomId}/send/m.room.message/{txnId} by its speaker, strictly one after another.
 * A speaker's first line first registers its user, logs in, sets the display name and joins.
 * The result is the time from the first line to the last answer (speakers' sign-ups included, as
 * in the original). Plain Client-Server API over fetch: any homeserver could be measured the same way.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MatrixClient, MatrixRequestError } from './lib/client.js';
import { parsePlay, speakerLocalpart, speakersOf } from './lib/romeo-parser.js';
import { cpuSeconds, treeMemory } from './lib/proc.js';
import { BenchError, MB, type Benchmark, type Figure } from './lib/report.js';
import { Installation, PROJECT_ROOT, databaseSectionFromUrl, dropExternalDatabase, type RunningServer } from './lib/server.js';
import { mean, percentile } from './lib/stats.js';
import { cpuProfileDir, summariseCpuProfile, withCpuProfile } from './lib/profile.js';

const TARGET_SECONDS = 25;
const EXPECTED_MESSAGES = 3287;
const EXPECTED_SPEAKERS = 58;
const GENEROUS = { per_second: 100_000, burst_count: 100_000 };

/** VECHE_BENCH_DATA names the file or the folder holding it; else ../shared/bench-data/ from the project root. */
function playFile(): string {
  const override = process.env.VECHE_BENCH_DATA;
  let path = override ? resolve(override) : resolve(PROJECT_ROOT, '../shared/bench-data');
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'romeo_and_juliet.txt');
  if (!existsSync(path)) throw new BenchError(`${path} not found (set VECHE_BENCH_DATA to the file or its folder)`);
  return path;
}

/** The server this run started, if any: its last log lines explain a 500. */
let serverUnderTest: RunningServer | undefined;

/** Turns an error into one line that says which step of the workload failed. */
function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return fn().catch((err: unknown) => {
    if (err instanceof BenchError) throw err;
    let message = err instanceof Error ? err.message : String(err);
    if (err instanceof MatrixRequestError && (err.status === 404 || err.errcode === 'M_UNRECOGNIZED')) {
      message += ' (endpoint not implemented yet?)';
    } else if (err instanceof MatrixRequestError && err.status >= 500 && serverUnderTest) {
      message += ` — server log: ${serverUnderTest.lastError()}`;
    }
    throw new BenchError(`${what}: ${message}`);
  });
}

export const romeoJuliet: Benchmark = {
  name: 'romeo-juliet',
  description: '3287 messages from 58 speakers into one room, one at a time (issue 4)',
  async run(ctx) {
    const path = playFile();
    const lines = parsePlay(readFileSync(path, 'utf8'));
    const speakers = speakersOf(lines);
    if (lines.length !== EXPECTED_MESSAGES || speakers.length !== EXPECTED_SPEAKERS) {
      ctx.log(`warning: ${path} gives ${lines.length} messages from ${speakers.length} speakers, not ${EXPECTED_MESSAGES} from ${EXPECTED_SPEAKERS}`);
    }

    // VECHE_BENCH_URL measures a homeserver that is already running (any implementation, for
    // side-by-side figures); it must allow open registration (m.login.dummy) and not rate-limit.
    const targetUrl = process.env.VECHE_BENCH_URL?.replace(/\/+$/, '');
    const databaseUrl = targetUrl ? undefined : process.env.VECHE_BENCH_DATABASE_URL;
    const databaseName = `veche_bench_${randomBytes(4).toString('hex')}`;
    const install = targetUrl
      ? undefined
      : new Installation('romeo', {
          extra: {
            enable_registration: true,
            enable_registration_without_verification: true,
            rc_message: GENEROUS,
            rc_registration: GENEROUS,
            rc_login: { address: GENEROUS, account: GENEROUS, failed_attempts: GENEROUS },
            ...(databaseUrl ? { database: databaseSectionFromUrl(databaseUrl, databaseName) } : {}),
          },
        });
    let server: RunningServer | undefined;
    try {
      let base: string;
      if (install) {
        ctx.log(`starting Veche (${databaseUrl ? `PostgreSQL at ${new URL(databaseUrl).host}` : 'embedded PostgreSQL'})`);
        server = await withCpuProfile(cpuProfileDir(), () => install.start());
        serverUnderTest = server;
        base = server.baseUrl;
      } else {
        ctx.log(`measuring the homeserver at ${targetUrl}`);
        base = targetUrl!;
      }
      const runId = Date.now().toString(36);
      const password = `pw-${randomBytes(8).toString('hex')}`;

      const owner = new MatrixClient(base);
      const ownerName = `user_${runId}`;
      await step('registering the room creator', () => owner.register(ownerName, password));
      await step('logging in the room creator', () => owner.login(ownerName, password));
      const roomId = await step('cannot create the room', () =>
        owner.createRoom({ preset: 'public_chat', visibility: 'public', name: `Romeo and Juliet ${runId}` }),
      );
      ctx.log(`room ${roomId}; sending ${lines.length} lines`);

      // Server costs come from /proc, so only for the server this benchmark started.
      const pid = server?.pid;
      const cpuBefore = pid ? (cpuSeconds(pid) ?? 0) : 0;
      const childCpuBefore = pid ? treeMemory(pid).childCpuSeconds : 0;
      const clients = new Map<string, MatrixClient>();
      const sendMs: number[] = [];
      const signUpMs: number[] = [];
      const eventIds = new Set<string>();
      let txn = 0;
      const clientCpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (const [i, line] of lines.entries()) {
        const localpart = speakerLocalpart(line.speaker, runId);
        let client = clients.get(localpart);
        if (!client) {
          const c = new MatrixClient(base);
          const s0 = performance.now();
          await step(`line ${i + 1}, new speaker ${line.speaker}`, async () => {
            await c.register(localpart, password);
            await c.login(localpart, password);
            await c.setDisplayName(line.speaker);
            await c.join(roomId);
          });
          signUpMs.push(performance.now() - s0);
          clients.set(localpart, c);
          client = c;
        }
        const c = client;
        const s0 = performance.now();
        const eventId = await step(`line ${i + 1} (${line.speaker})`, () => c.sendMessage(roomId, `rj${++txn}`, { msgtype: 'm.text', body: line.body }));
        sendMs.push(performance.now() - s0);
        eventIds.add(eventId);
        if ((i + 1) % 500 === 0) ctx.log(`${i + 1}/${lines.length} lines, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      const totalSeconds = (performance.now() - t0) / 1000;
      const clientCpu = process.cpuUsage(clientCpu0);
      // Every line is its own message: a server that deduplicated or dropped sends would show here.
      if (eventIds.size !== lines.length) throw new BenchError(`${lines.length} sends returned only ${eventIds.size} distinct event IDs`);

      const figures: Figure[] = [
        { metric: 'total, first line to last answer', value: totalSeconds, unit: 's', target: TARGET_SECONDS },
        { metric: 'messages', value: sendMs.length, unit: 'count', note: `expected ${EXPECTED_MESSAGES}` },
        { metric: 'distinct speakers', value: speakers.length, unit: 'count', note: `expected ${EXPECTED_SPEAKERS}; ${clients.size} user accounts (speakers with one localpart share it)` },
        { metric: 'messages per second', value: sendMs.length / totalSeconds, unit: '/s' },
        { metric: 'send latency p50', value: percentile(sendMs, 50), unit: 'ms' },
        { metric: 'send latency p99', value: percentile(sendMs, 99), unit: 'ms' },
        { metric: 'send latency max', value: Math.max(...sendMs), unit: 'ms' },
        { metric: 'speaker sign-up (register, login, displayname, join), mean', value: mean(signUpMs), unit: 'ms' },
        { metric: 'benchmark client CPU during the run', value: ((clientCpu.user + clientCpu.system) / 1e6 / totalSeconds) * 100, unit: '%', note: 'of one core; shares the machine with the server' },
      ];
      if (pid) {
        const serverCpu = (cpuSeconds(pid) ?? cpuBefore) - cpuBefore;
        const tree = treeMemory(pid);
        figures.push({ metric: 'server CPU during the run', value: (serverCpu / totalSeconds) * 100, unit: '%', note: 'of one core, node process' });
        if (!databaseUrl) {
          const pgCpu = tree.childCpuSeconds - childCpuBefore;
          figures.push({ metric: 'PostgreSQL CPU during the run', value: (pgCpu / totalSeconds) * 100, unit: '%', note: 'of one core, embedded processes' });
        }
        figures.push({ metric: 'server RSS after the run', value: tree.rss / MB, unit: 'MB', note: 'VmRSS of the node process' });
      }
      return figures;
    } finally {
      serverUnderTest = undefined;
      await server?.stop();
      const profileDir = server && cpuProfileDir();
      if (profileDir) ctx.log(summariseCpuProfile(profileDir, 40));
      if (databaseUrl) await dropExternalDatabase(databaseUrl, databaseName).catch((err: Error) => ctx.log(`could not drop ${databaseName}: ${err.message}`));
      install?.remove();
    }
  },
};
