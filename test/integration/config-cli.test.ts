/** The config file (validation, generate-config) and the `veche` command line (start, register-user). */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ConfigError, loadConfigFile } from '../../src/config/index.js';
import { login, useServer } from './helpers/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MAIN = join(ROOT, 'src/main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `veche ARGS` from source in cwd; resolves when it exits. */
function veche(args: string[], options: { cwd: string; env?: Record<string, string>; onStdout?: (s: string) => void } = { cwd: ROOT }): Promise<Run> & { kill(signal: NodeJS.Signals): void } {
  const child = spawn(TSX, [MAIN, ...args], { cwd: options.cwd, env: { ...process.env, VECHE_LOG_JSON: '1', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    options.onStdout?.(stdout);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
  return Object.assign(done, { kill: (signal: NodeJS.Signals) => void child.kill(signal) });
}

describe('config file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'veche-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  function configErrorOf(file: string): string {
    try {
      loadConfigFile(file);
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      return (err as Error).message;
    }
    return expect.fail('the config was accepted');
  }

  it('loads a minimal file with Synapse defaults', () => {
    const config = loadConfigFile(write('min.yaml', 'server_name: "corp.example"\n'));
    expect(config.serverName).to.equal('corp.example');
    expect(config.enableRegistration).to.equal(false);
    expect(config.database.kind).to.equal('embedded');
    expect(config.listeners[0]!.port).to.equal(8008);
  });

  it('reads Synapse-style database, listener and rate-limit keys', () => {
    const config = loadConfigFile(
      write(
        'full.yaml',
        [
          'server_name: corp.example',
          'listeners: [{ port: 9999, bind_addresses: ["0.0.0.0"], resources: [{ names: [client] }] }]',
          'database: { name: psycopg2, args: { host: db.internal, port: 5433, user: veche, password: s3cret, database: vdb, cp_max: 7 } }',
          'rc_login: { address: { per_second: 0.5, burst_count: 9 } }',
          'max_upload_size: 10M',
        ].join('\n'),
      ),
    );
    expect(config.listeners[0]).to.include({ port: 9999 });
    expect(config.database).to.deep.include({ kind: 'postgres', host: 'db.internal', port: 5433, user: 'veche', password: 's3cret', database: 'vdb', poolMax: 7 });
    expect(config.rcLoginAddress).to.deep.equal({ perSecond: 0.5, burstCount: 9 });
    expect(config.maxUploadSize).to.equal(10 * 1024 * 1024);
  });

  it('refuses an unknown key with one line naming it', () => {
    const message = configErrorOf(write('unknown.yaml', 'server_name: corp.example\nenable_registraton: true\n'));
    expect(message.split('\n')).to.have.length(1);
    expect(message).to.include('enable_registraton');
  });

  it('refuses an unknown nested key, naming its path', () => {
    const message = configErrorOf(write('nested.yaml', 'server_name: corp.example\nrc_login:\n  address:\n    per_sec: 1\n'));
    expect(message.split('\n')).to.have.length(1);
    expect(message).to.include('per_sec');
    expect(message).to.include('rc_login');
  });

  it('refuses a value of the wrong type, naming the key and what is expected', () => {
    const message = configErrorOf(write('type.yaml', 'server_name: corp.example\nenable_registration: "perhaps"\n'));
    expect(message.split('\n')).to.have.length(1);
    expect(message).to.include('enable_registration');
    expect(message).to.match(/boolean/);
    const port = configErrorOf(write('port.yaml', 'server_name: corp.example\nlisteners: [{ port: "eighty" }]\n'));
    expect(port).to.include('port');
  });

  it('refuses open registration without verification, as Synapse does', () => {
    const message = configErrorOf(write('open.yaml', 'server_name: corp.example\nenable_registration: true\n'));
    expect(message.split('\n')).to.have.length(1);
    expect(message).to.include('enable_registration_without_verification');
    expect(loadConfigFile(write('open-ok.yaml', 'server_name: corp.example\nenable_registration: true\nenable_registration_without_verification: true\n')).enableRegistration).to.equal(true);
    expect(loadConfigFile(write('open-token.yaml', 'server_name: corp.example\nenable_registration: true\nregistration_requires_token: true\n')).registrationRequiresToken).to.equal(true);
  });

  it('refuses a file without server_name, and one that is not YAML', () => {
    expect(configErrorOf(write('noname.yaml', 'enable_registration: true\n'))).to.include('server_name');
    expect(configErrorOf(write('bad.yaml', 'server_name: [unclosed\n')).split('\n')).to.have.length(1);
  });

  it('`veche start --config FILE` with an unknown key exits 1 with one line on stderr', async function () {
    this.timeout(120_000);
    const file = write('start-bad.yaml', 'server_name: corp.example\nbogus_key: 1\n');
    const run = await veche(['start', '--config', file], { cwd: dir });
    expect(run.code).to.equal(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).to.have.length(1);
    expect(lines[0]).to.include('bogus_key');
    // VECHE_CONFIG works the same way
    const viaEnv = await veche([], { cwd: dir, env: { VECHE_CONFIG: file } });
    expect(viaEnv.code).to.equal(1);
    expect(viaEnv.stderr).to.include('bogus_key');
  });
});

describe('veche generate-config', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'veche-gen-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('for example.org prints exactly homeserver.yaml.example', async function () {
    this.timeout(120_000);
    const run = await veche(['generate-config', '--server-name', 'example.org'], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.equal(readFileSync(join(ROOT, 'homeserver.yaml.example'), 'utf8'));
  });

  it('writes a valid, loadable config for another name, and refuses to overwrite it', async function () {
    this.timeout(120_000);
    const file = join(dir, 'homeserver.yaml');
    const run = await veche(['generate-config', '--server-name', 'chat.corp.example', '--output', file], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    const config = loadConfigFile(file);
    expect(config.serverName).to.equal('chat.corp.example');
    expect(config.publicBaseUrl).to.equal('http://chat.corp.example:8008/');
    expect(config.signingKeyPath).to.equal(join(dir, 'data/chat.corp.example.signing.key'));
    const again = await veche(['generate-config', '--server-name', 'x.example', '--output', file], { cwd: dir });
    expect(again.code).to.equal(1);
    expect(loadConfigFile(file).serverName).to.equal('chat.corp.example');
  });

  it('needs --server-name', async function () {
    this.timeout(120_000);
    const run = await veche(['generate-config'], { cwd: dir });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include('--server-name');
  });
});

describe('veche register-user', () => {
  const s = useServer();
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'veche-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a user on a running server with the shared secret', async function () {
    this.timeout(120_000);
    const run = await veche(['register-user', '-u', 'cliuser', '-p', 'cli-password', '--no-admin', '--shared-secret', s.t.sharedSecret, s.t.baseUrl], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include('@cliuser:test.local');
    const row = await s.t.server.services.storage.users.get('@cliuser:test.local');
    expect(row!.isAdmin).to.equal(false);
    expect((await login(s.t, 'cliuser', 'cli-password')).user_id).to.equal('@cliuser:test.local');
  });

  it('creates an admin with --admin', async function () {
    this.timeout(120_000);
    const run = await veche(['register-user', '-u', 'cliadmin', '-p', 'cli-password', '--admin', '--shared-secret', s.t.sharedSecret, s.t.baseUrl], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    expect((await s.t.server.services.storage.users.get('@cliadmin:test.local'))!.isAdmin).to.equal(true);
  });

  it('fails with a message and creates nobody when the secret is wrong', async function () {
    this.timeout(120_000);
    const run = await veche(['register-user', '-u', 'clibad', '-p', 'cli-password', '--no-admin', '--shared-secret', 'wrong-secret', s.t.baseUrl], { cwd: dir });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/HMAC|forbidden|failed/i);
    expect(await s.t.server.services.storage.users.get('@clibad:test.local')).to.equal(undefined);
  });
});

describe('veche start', () => {
  const url = process.env.VECHE_TEST_DATABASE_URL;
  let dir: string;
  let database: string;
  before(function () {
    if (!url) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'veche-start-'));
    database = `veche_cli_${process.pid}_${randomBytes(3).toString('hex')}`;
  });
  after(async () => {
    if (!url) return;
    rmSync(dir, { recursive: true, force: true });
    const u = new URL(url);
    const c = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username || 'postgres'), password: u.password || undefined, database: u.pathname.slice(1) || 'postgres' });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await c.end();
  });

  async function freePort(): Promise<number> {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as AddressInfo;
    await new Promise<void>((r) => srv.close(() => r()));
    return port;
  }

  it('serves Matrix from a config file with an external PostgreSQL and stops cleanly on SIGTERM', async function () {
    this.timeout(120_000);
    const u = new URL(url!);
    const port = await freePort();
    const file = join(dir, 'homeserver.yaml');
    writeFileSync(
      file,
      [
        'server_name: cli.test',
        `public_baseurl: "http://127.0.0.1:${port}/"`,
        `listeners: [{ port: ${port}, bind_addresses: ["127.0.0.1"] }]`,
        `database: { name: psycopg2, args: { host: "${u.hostname}", port: ${Number(u.port || 5432)}, user: "${decodeURIComponent(u.username || 'postgres')}", database: "${database}" } }`,
        'log_level: info',
      ].join('\n'),
    );
    let ready!: () => void;
    const serving = new Promise<void>((r) => (ready = r));
    const run = veche(['start', '--config', file], { cwd: dir, onStdout: (out) => out.includes('Veche is serving Matrix') && ready() });
    await Promise.race([serving, run.then((r) => expect.fail(`exited early: ${r.code} ${r.stderr}`))]);
    const res = await fetch(`http://127.0.0.1:${port}/_matrix/client/versions`);
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { versions: string[] }).versions).to.include('v1.1');
    // a signing key and a shared secret were created in the data folder
    const key = await (await fetch(`http://127.0.0.1:${port}/_matrix/key/v2/server`)).json();
    expect((key as { server_name: string }).server_name).to.equal('cli.test');
    expect(readFileSync(join(dir, 'data/cli.test.signing.key'), 'utf8')).to.match(/^ed25519 \S+ \S+/);
    expect(readFileSync(join(dir, 'data/registration_shared_secret'), 'utf8').trim()).to.have.length.above(20);
    // one structured log line per request, with no token in it
    const secret = 'vat_thisMustNotAppearInTheLog';
    const who = await fetch(`http://127.0.0.1:${port}/_matrix/client/v3/account/whoami?access_token=${secret}`);
    expect(who.status).to.equal(401);
    run.kill('SIGTERM');
    const result = await run;
    expect(result.code, result.stderr).to.equal(0);
    const lines = (result.stdout + result.stderr).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requestLines = lines.filter((l) => l.message === 'request' && String(l.path).includes('/account/whoami'));
    expect(requestLines, result.stdout).to.have.length(1);
    expect(requestLines[0]).to.include({ method: 'GET', status: 401 });
    expect(requestLines[0]!.ms).to.be.a('number');
    expect(result.stdout + result.stderr).to.not.include(secret);
    expect(lines.some((l) => l.message === 'stopped')).to.equal(true);
  });
});
