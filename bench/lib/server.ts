/**
 * A Veche under test: the built bundle (`node dist/veche.js start --config FILE`) as a child
 * process on a free 127.0.0.1 port, with a config and data folder of its own. Benchmarks measure a
 * separate process, the way an administrator runs it, so the figures hold no benchmark overhead.
 * Every child is stopped when the benchmark ends, fails or is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BenchError } from './report.js';

export const PROJECT_ROOT = resolve(import.meta.dirname, '../..');
/** VECHE_BENCH_BUNDLE: another build of the server (comparing two versions on one noisy machine). */
const BUNDLE = process.env.VECHE_BENCH_BUNDLE ?? join(PROJECT_ROOT, 'dist/veche.js');

/** A temporary folder the embedded PostgreSQL's `postgres` OS user can reach when run as root. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join('/tmp', `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

/** The `database` section for VECHE_BENCH_DATABASE_URL (postgres://user:pass@host:port/db). */
export function databaseSectionFromUrl(url: string, database: string): Record<string, unknown> {
  const u = new URL(url);
  const args: Record<string, unknown> = {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    database,
  };
  if (u.password) args.password = decodeURIComponent(u.password);
  return { name: 'psycopg2', args };
}

/** Drops a database the benchmark created on an external PostgreSQL. */
export async function dropExternalDatabase(url: string, database: string): Promise<void> {
  const { default: pg } = await import('pg');
  const u = new URL(url);
  const client = new pg.Client({
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: u.pathname.slice(1) || 'postgres',
  });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export interface BenchConfigOptions {
  /** Extra or overriding homeserver.yaml keys. */
  extra?: Record<string, unknown>;
}

/**
 * A Veche installation on disk: a config file and a data folder under one temporary folder.
 * Start it as often as needed; `remove()` deletes it.
 */
export class Installation {
  readonly root: string;
  readonly dataDir: string;
  readonly configPath: string;
  readonly sharedSecret = randomBytes(16).toString('hex');
  readonly serverName = 'bench.local';
  private readonly extra: Record<string, unknown>;

  constructor(name: string, options: BenchConfigOptions = {}) {
    this.root = makeTempDir(`veche-bench-${name}`);
    this.dataDir = join(this.root, 'data');
    mkdirSync(this.dataDir, { mode: 0o755 });
    this.configPath = join(this.root, 'homeserver.yaml');
    this.extra = options.extra ?? {};
    installations.add(this);
  }

  /** Starts the server and resolves once /_matrix/client/versions answers 200. */
  async start(options: { timeoutMs?: number } = {}): Promise<RunningServer> {
    const port = await freePort();
    const config = {
      server_name: this.serverName,
      public_baseurl: `http://127.0.0.1:${port}/`,
      data_directory: this.dataDir,
      listeners: [{ port, bind_addresses: ['127.0.0.1'], type: 'http', resources: [{ names: ['client', 'federation'] }] }],
      registration_shared_secret: this.sharedSecret,
      log_level: 'warn',
      ...this.extra,
    };
    // JSON is YAML: no YAML writer needed.
    writeFileSync(this.configPath, JSON.stringify(config, null, 2) + '\n');
    return RunningServer.spawn(this.configPath, `http://127.0.0.1:${port}`, options.timeoutMs ?? 120_000);
  }

  remove(): void {
    installations.delete(this);
    if (existsSync(this.root)) rmSync(this.root, { recursive: true, force: true });
  }
}

const installations = new Set<Installation>();
const running = new Set<RunningServer>();

export class RunningServer {
  /** ms from spawn to the first 200 from /versions */
  readyMs = 0;
  private stderrTail: string[] = [];
  private exited: Promise<number | null>;
  private hasExited = false;

  private constructor(
    readonly child: ChildProcess,
    readonly baseUrl: string,
  ) {
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        running.delete(this);
        resolveExit(code ?? (signal ? -1 : null));
      });
    });
    const keep = (chunk: Buffer) => {
      this.stderrTail.push(...chunk.toString().split('\n').filter(Boolean));
      if (this.stderrTail.length > 30) this.stderrTail.splice(0, this.stderrTail.length - 30);
    };
    child.stderr?.on('data', keep);
    // Logs at warn and above go to stderr; stdout is drained so the child never blocks on it.
    child.stdout?.resume();
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async spawn(configPath: string, baseUrl: string, timeoutMs: number): Promise<RunningServer> {
    if (!existsSync(BUNDLE)) throw new BenchError(`${BUNDLE} is missing: run \`node scripts/build.mjs\` (npm run bench does)`);
    const t0 = performance.now();
    const child = spawn(process.execPath, [BUNDLE, 'start', '--config', configPath], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VECHE_LOG_JSON: '1' },
    });
    const server = new RunningServer(child, baseUrl);
    running.add(server);
    try {
      await server.waitUntilServing(t0, timeoutMs);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  private async waitUntilServing(t0: number, timeoutMs: number): Promise<void> {
    const url = `${this.baseUrl}/_matrix/client/versions`;
    for (;;) {
      if (this.hasExited) {
        throw new BenchError(`the server exited before serving: ${this.lastError()}`);
      }
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.status === 200) {
          this.readyMs = performance.now() - t0;
          return;
        }
      } catch {
        /* not listening yet */
      }
      if (performance.now() - t0 > timeoutMs) throw new BenchError(`no 200 from ${url} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The server's last words on stderr, as one line. */
  lastError(): string {
    const lines = this.stderrTail.map((l) => {
      try {
        const j = JSON.parse(l) as { message?: string; error?: unknown };
        // An error field may hold a whole stack: its first line says what went wrong.
        const error = typeof j.error === 'string' ? j.error.split('\n')[0] : j.error !== undefined ? JSON.stringify(j.error) : undefined;
        return [j.message, error].filter(Boolean).join(': ');
      } catch {
        return l;
      }
    });
    return lines.slice(-3).join(' | ') || '(nothing on stderr)';
  }

  /** SIGTERM, then wait for a clean exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.hasExited) this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stops every server still running (on errors and interrupts). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

let handlersInstalled = false;
/** Ctrl-C or SIGTERM to the benchmark stops its servers before it exits. */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping servers…\n`);
      stopAllServers()
        .then(() => {
          for (const i of [...installations]) i.remove();
        })
        .finally(() => process.exit(130));
    });
  }
  // Last resort when the process exits without awaiting the stop: no server outlives the bench.
  process.on('exit', () => {
    for (const s of running) s.child.kill('SIGTERM');
  });
}
