/**
 * Test harness: a real Veche on 127.0.0.1 (free port) with a fresh database per test file — on the
 * server named by VECHE_TEST_DATABASE_URL (CI: the local PostgreSQL), else on one embedded
 * PostgreSQL shared by the run. Clients are plain fetch and matrix-js-sdk.
 */
import './polyfills.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { buildConfig, validateRawConfig, type Config } from '../src/config/index.js';
import { startServer, type VecheServer } from '../src/server.js';
import type { ConnectionOptions } from '../src/storage/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/storage/embedded.js';
import { registrationMac } from '../synapse-compat/admin/register.js';

let embedded: Promise<EmbeddedPostgresHandle> | undefined;

/** The server tests create their databases on. */
async function adminConnection(): Promise<ConnectionOptions> {
  const url = process.env.VECHE_TEST_DATABASE_URL;
  if (url) {
    const u = new URL(url);
    return {
      host: u.hostname,
      port: Number(u.port || 5432),
      user: decodeURIComponent(u.username || 'postgres'),
      password: u.password ? decodeURIComponent(u.password) : undefined,
      database: u.pathname.slice(1) || 'postgres',
    };
  }
  embedded ??= startEmbeddedPostgres(resolve('.test-data/postgres'), 'postgres');
  return (await embedded).connection;
}

async function createTestDatabase(): Promise<{ connection: ConnectionOptions; drop: () => Promise<void> }> {
  const admin = await adminConnection();
  const name = `veche_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ ...admin, database: admin.database || 'postgres' });
  await client.connect();
  await client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'`);
  await client.end();
  return {
    connection: { ...admin, database: name, max: 20 },
    drop: async () => {
      const c = new pg.Client({ ...admin, database: admin.database || 'postgres' });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestServer {
  server: VecheServer;
  config: Config;
  baseUrl: string;
  sharedSecret: string;
  /** Plain fetch against the server; JSON in, JSON out. */
  request(method: string, path: string, options?: { body?: unknown; token?: string; rawBody?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Registers a user through the shared-secret admin API and returns its first session. */
  registerUser(localpart?: string, options?: { password?: string; admin?: boolean; displayname?: string }): Promise<TestUser>;
  close(): Promise<void>;
}

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

const DEFAULT_TEST_CONFIG = {
  server_name: 'test.local',
  log_level: 'warn',
  enable_registration: true,
  enable_registration_without_verification: true,
  // Generous limits: tests that exercise rate limiting set their own.
  rc_message: { per_second: 1000, burst_count: 1000 },
  rc_registration: { per_second: 1000, burst_count: 1000 },
  rc_login: {
    address: { per_second: 1000, burst_count: 1000 },
    account: { per_second: 1000, burst_count: 1000 },
    failed_attempts: { per_second: 1000, burst_count: 1000 },
  },
};

let counter = 0;

export async function startTestServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'veche-test-'));
  const sharedSecret = randomBytes(16).toString('hex');
  const raw = validateRawConfig(
    { ...DEFAULT_TEST_CONFIG, registration_shared_secret: sharedSecret, data_directory: dataDir, ...overrides },
    'test config',
  );
  const config = buildConfig(raw, dataDir);
  if (!process.env.VECHE_LOG_LEVEL) config.logLevel = (overrides.log_level as string) ?? 'warn';
  const db = await createTestDatabase();
  const server = await startServer(config, { database: db.connection, port: 0 });
  const baseUrl = server.urls[0]!;

  const request: TestServer['request'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: return the text */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };

  const registerUser: TestServer['registerUser'] = async (localpart, options = {}) => {
    const name = localpart ?? `user${++counter}_${randomBytes(3).toString('hex')}`;
    const password = options.password ?? `pw-${randomBytes(6).toString('hex')}`;
    const { body: nonceBody } = await request('GET', '/_synapse/admin/v1/register');
    const admin = options.admin ?? false;
    const res = await request('POST', '/_synapse/admin/v1/register', {
      body: {
        nonce: nonceBody.nonce,
        username: name,
        password,
        admin,
        displayname: options.displayname,
        mac: registrationMac(sharedSecret, nonceBody.nonce, name, password, admin),
      },
    });
    if (res.status !== 200) throw new Error(`registerUser ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, password };
  };

  return {
    server,
    config,
    baseUrl,
    sharedSecret,
    request,
    registerUser,
    close: async () => {
      await server.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
