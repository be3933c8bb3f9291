/**
 * Shared pieces of the load benchmarks (concurrent sends, big rooms, sync): a bounded-parallel
 * loop, one-line step errors, a dedicated database on VECHE_BENCH_DATABASE_URL reached through the
 * counting proxy, users registered in parallel, and an in-process Veche on the same data folder and
 * database for setups too large to drive over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { MatrixClient, MatrixRequestError, type Session } from './client.js';
import { BenchError } from './report.js';
import { dropExternalDatabase, type Installation, type RunningServer } from './server.js';
import { PgProxy } from './pg-proxy.js';

export const GENEROUS = { per_second: 100_000, burst_count: 100_000 };
/** Rate limits out of the way: the benchmarks measure the server's work, not its throttle. */
export const NO_RATE_LIMITS = {
  rc_message: GENEROUS,
  rc_registration: GENEROUS,
  rc_login: { address: GENEROUS, account: GENEROUS, failed_attempts: GENEROUS },
};

export function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Rejects when `promise` has not settled within `ms` (a hung server must not hang the benchmark). */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new BenchError(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]);
}

/** Turns an error into one line naming the step; a 500 gets the server's last log words. */
export function step<T>(what: string, fn: () => Promise<T>, server?: RunningServer): Promise<T> {
  return fn().catch((err: unknown) => {
    if (err instanceof BenchError) throw err;
    let message = err instanceof Error ? err.message : String(err);
    if (err instanceof MatrixRequestError && (err.status === 404 || err.errcode === 'M_UNRECOGNIZED')) message += ' (endpoint not implemented yet?)';
    else if (err instanceof MatrixRequestError && err.status >= 500 && server) message += ` — server log: ${server.lastError()}`;
    throw new BenchError(`${what}: ${message}`);
  });
}

/** A client per user, registered through the shared-secret admin API, `concurrency` at a time. */
export async function registerMany(baseUrl: string, secret: string, localparts: string[], concurrency = 8): Promise<MatrixClient[]> {
  const out: MatrixClient[] = new Array(localparts.length);
  const password = `pw-${randomBytes(8).toString('hex')}`;
  await pool(localparts, concurrency, async (name, i) => {
    const c = new MatrixClient(baseUrl);
    await c.registerWithSharedSecret(secret, name, password);
    out[i] = c;
  });
  return out;
}

export function clientFor(baseUrl: string, session: { userId: string; accessToken: string }): MatrixClient {
  const c = new MatrixClient(baseUrl);
  c.userId = session.userId;
  c.accessToken = session.accessToken;
  return c;
}

/**
 * A database of its own on the PostgreSQL server named by VECHE_BENCH_DATABASE_URL, which the
 * server reaches through a PgProxy, so the benchmark sees every statement.
 */
export class ProxiedDatabase {
  readonly name = `veche_bench_${randomBytes(4).toString('hex')}`;
  readonly proxy: PgProxy;
  private readonly url: URL;

  constructor(readonly rawUrl: string) {
    this.url = new URL(rawUrl);
    this.proxy = new PgProxy(this.url.hostname, Number(this.url.port || 5432));
  }

  static fromEnv(benchmark: string): ProxiedDatabase {
    const url = process.env.VECHE_BENCH_DATABASE_URL;
    if (!url) {
      throw new BenchError(
        `${benchmark} counts the server's SQL through a proxy and needs VECHE_BENCH_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)`,
      );
    }
    return new ProxiedDatabase(url);
  }

  async start(): Promise<void> {
    await this.proxy.start();
  }

  /** The homeserver.yaml `database` section pointing at the proxy. */
  section(): Record<string, unknown> {
    const args: Record<string, unknown> = {
      host: '127.0.0.1',
      port: this.proxy.port,
      user: decodeURIComponent(this.url.username || 'postgres'),
      database: this.name,
    };
    if (this.url.password) args.password = decodeURIComponent(this.url.password);
    return { name: 'psycopg2', args };
  }

  /** Connection options straight to PostgreSQL (for the in-process setup server). */
  direct(max = 20): { host: string; port: number; user: string; password?: string; database: string; max: number } {
    return {
      host: this.url.hostname,
      port: Number(this.url.port || 5432),
      user: decodeURIComponent(this.url.username || 'postgres'),
      password: this.url.password ? decodeURIComponent(this.url.password) : undefined,
      database: this.name,
      max,
    };
  }

  async dispose(log: (m: string) => void): Promise<void> {
    await this.proxy.stop();
    await dropExternalDatabase(this.rawUrl, this.name).catch((err: Error) => log(`could not drop ${this.name}: ${err.message}`));
  }
}

/**
 * The same Veche, in this process, on the installation's data folder (so the same signing key) and
 * database. Setups use its services directly: users without password hashing, joins through
 * MembershipService.join, i.e. the very code path /join runs, so the stored rows are what the
 * server writes. Stop it before the measured child process starts.
 */
export async function startInProcess(install: Installation, db: ProxiedDatabase, extra: Record<string, unknown> = {}) {
  const c = db.direct();
  const args: Record<string, unknown> = { host: c.host, port: c.port, user: c.user, database: c.database, cp_max: 20 };
  if (c.password) args.password = c.password;
  const { buildConfig, validateRawConfig } = await import('../../src/config/index.js');
  const { startServer } = await import('../../src/server.js');
  const raw = validateRawConfig(
    {
      server_name: install.serverName,
      data_directory: install.dataDir,
      registration_shared_secret: install.sharedSecret,
      log_level: 'warn',
      ...NO_RATE_LIMITS,
      ...extra,
      database: { name: 'psycopg2', args },
    },
    'bench in-process config',
  );
  const config = buildConfig(raw, install.dataDir);
  return startServer(config, { port: 0 });
}

export type { Session };

export interface Launched {
  install: Installation;
  server: RunningServer;
  /** Set when the server talks to PostgreSQL through the counting proxy. */
  db?: ProxiedDatabase;
  /** 'embedded' or the external server's host:port */
  database: string;
  dispose(): Promise<void>;
}

/**
 * Creates an installation and starts the bundle as a child. `sql`: 'required' routes it through the
 * counting proxy (needs VECHE_BENCH_DATABASE_URL); 'optional' does so only when VECHE_BENCH_SQL=1;
 * otherwise it uses VECHE_BENCH_DATABASE_URL directly when set, else the embedded PostgreSQL.
 * `beforeStart` runs with the installation and database before the child starts (in-process setup).
 */
export async function launch(
  name: string,
  log: (m: string) => void,
  options: {
    /** 'auto': through the proxy whenever VECHE_BENCH_DATABASE_URL is set */
    sql?: 'required' | 'optional' | 'auto' | 'none';
    extra?: Record<string, unknown>;
    /** cp_max of an external database (the embedded one has a fixed pool of 10). */
    poolMax?: number;
    beforeStart?: (install: Installation, db: ProxiedDatabase | undefined) => Promise<void>;
  } = {},
): Promise<Launched> {
  const { Installation: Inst, databaseSectionFromUrl } = await import('./server.js');
  const { withCpuProfile, cpuProfileDir } = await import('./profile.js');
  const url = process.env.VECHE_BENCH_DATABASE_URL;
  const wantProxy =
    options.sql === 'required' || (options.sql === 'auto' && !!url) || (options.sql === 'optional' && process.env.VECHE_BENCH_SQL === '1');
  const db = wantProxy ? ProxiedDatabase.fromEnv(name) : undefined;
  const directName = `veche_bench_${randomBytes(4).toString('hex')}`;
  if (db) await db.start();
  const databaseSection = db ? db.section() : url ? databaseSectionFromUrl(url, directName) : undefined;
  if (databaseSection && options.poolMax) (databaseSection.args as Record<string, unknown>).cp_max = options.poolMax;
  const install = new Inst(name, { extra: { ...NO_RATE_LIMITS, ...(options.extra ?? {}), ...(databaseSection ? { database: databaseSection } : {}) } });
  const database = url ? new URL(url).host + (db ? ' via the counting proxy' : '') + (options.poolMax ? `, cp_max ${options.poolMax}` : '') : 'embedded';
  const dispose = async () => {
    await server?.stop();
    if (db) await db.dispose(log);
    else if (url) await dropExternalDatabase(url, directName).catch((err: Error) => log(`could not drop ${directName}: ${err.message}`));
    install.remove();
  };
  let server: RunningServer | undefined;
  try {
    if (options.beforeStart) await options.beforeStart(install, db);
    log(`starting Veche (PostgreSQL: ${database})`);
    server = await withCpuProfile(cpuProfileDir(), () => install.start());
  } catch (err) {
    await dispose();
    throw err;
  }
  return { install, server, db, database, dispose };
}
