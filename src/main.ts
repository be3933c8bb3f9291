/**
 * The `veche` command:
 *   veche [start] [--config PATH]                 serve (VECHE_CONFIG=PATH works too)
 *   veche generate-config --server-name NAME [--output PATH]
 *   veche register-user [-c PATH] [-u USER] [-p PASSWORD] [-a | --no-admin] [--shared-secret S] [URL]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, defaultConfig, loadConfigFile, type Config } from './config/index.js';
import { generateConfig } from './config/generate.js';
import { startServer } from './server.js';
import { registerUserCommand } from './cli/register-user.js';
import { getLogger } from './logging.js';

const log = getLogger('main');

function fail(message: string): never {
  process.stderr.write(`veche: ${message}\n`);
  process.exit(1);
}

function loadConfig(path: string | undefined): Config {
  const file = path ?? process.env.VECHE_CONFIG;
  try {
    if (file) return loadConfigFile(file);
    if (existsSync('homeserver.yaml')) return loadConfigFile('homeserver.yaml');
    return defaultConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(`config error: ${err.message}`);
    throw err;
  }
}

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  const config = loadConfig(values.config);
  const server = await startServer(config).catch((err: Error) => fail(`cannot start: ${err.message}`));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('received signal', { signal });
    server.close().then(
      () => process.exit(0),
      (err: Error) => {
        log.error('error while stopping', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function generate(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      'server-name': { type: 'string' },
      output: { type: 'string', short: 'o' },
      'config-path': { type: 'string' },
      port: { type: 'string' },
      'public-baseurl': { type: 'string' },
    },
  });
  const name = values['server-name'];
  if (!name) fail('generate-config needs --server-name NAME');
  const text = generateConfig(name, { port: values.port ? Number(values.port) : undefined, publicBaseUrl: values['public-baseurl'] });
  const out = values.output ?? values['config-path'];
  if (out) {
    if (existsSync(out)) fail(`${out} exists; not overwriting it`);
    writeFileSync(out, text);
    process.stderr.write(`wrote ${out}\n`);
  } else {
    process.stdout.write(text);
  }
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case undefined:
  case 'start':
    await start(rest);
    break;
  case 'generate-config':
    generate(rest);
    break;
  case 'register-user':
    await registerUserCommand(rest, loadConfig).catch((err: Error) => fail(err.message));
    break;
  default:
    if (command.startsWith('-')) await start([command, ...rest]);
    else fail(`unknown command ${command} (start, generate-config, register-user)`);
}
