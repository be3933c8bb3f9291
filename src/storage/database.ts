/**
 * The Postgres connection pool and transactions. Everything in storage/ goes through this; nothing
 * above storage/ sees SQL.
 */
import pg from 'pg';
import { getLogger } from '../logging.js';

const log = getLogger('database');

// int8 (bigint) columns hold stream positions and timestamps, which fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export interface Queryable {
  /**
   * `name` makes it a prepared statement on each connection (parsed and planned once there): for
   * the few statements that run for every message, where planning costs as much as executing.
   */
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>>;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  max?: number;
}

export class Database implements Queryable {
  readonly pool: pg.Pool;
  /** How many connections the pool may open. */
  readonly poolSize: number;
  /** Counts statements; benchmarks use it to show how many queries a request costs. */
  queryCount = 0;

  constructor(options: ConnectionOptions) {
    // A request waiting over 30 s for a connection fails (500, logged) instead of hanging the server.
    this.poolSize = options.max ?? 10;
    this.pool = new pg.Pool({ ...options, max: this.poolSize, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 30_000 });
    this.pool.on('error', (err) => {
      // 57P01 admin_shutdown: PostgreSQL is stopping (Ctrl-C reaches the embedded server too) or
      // the database was dropped. The pool opens a new connection when one is next needed, and an
      // idle connection held nothing, so this is no error of ours.
      if ((err as { code?: string }).code === '57P01') log.info('PostgreSQL closed an idle connection', { error: err.message });
      else log.error('idle client error', { error: err.message });
    });
  }

  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>> {
    this.queryCount++;
    return name ? this.pool.query<R>({ name, text, values: values as any[] }) : this.pool.query<R>(text, values as any[]);
  }

  /** Runs fn inside BEGIN/COMMIT on one connection; rolls back if fn throws. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: Queryable = {
      query: (text, values, name) => {
        this.queryCount++;
        return name ? client.query({ name, text, values: values as any[] }) : client.query(text, values as any[]);
      },
    };
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
