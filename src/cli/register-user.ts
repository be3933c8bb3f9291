/**
 * `veche register-user`, like Synapse's register_new_matrix_user: creates a user through
 * /_synapse/admin/v1/register with the shared secret, so it works against a running server.
 */
import { parseArgs } from 'node:util';
import { readFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Config } from '../config/index.js';
import { registrationMac } from '../../synapse-compat/admin/register.js';

async function ask(question: string, hidden = false): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    // Mute the echo of typed characters; readline still reads them.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.includes(question)) process.stderr.write(s);
    };
  }
  const answer = await rl.question(question);
  rl.close();
  if (hidden) process.stderr.write('\n');
  return answer.trim();
}

export async function registerUserCommand(args: string[], loadConfig: (path?: string) => Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      user: { type: 'string', short: 'u' },
      password: { type: 'string', short: 'p' },
      admin: { type: 'boolean', short: 'a' },
      'no-admin': { type: 'boolean' },
      'user-type': { type: 'string', short: 't' },
      'shared-secret': { type: 'string', short: 'k' },
    },
  });
  const config = loadConfig(values.config);
  const secretFile = config.registrationSharedSecretPath;
  const secret =
    values['shared-secret'] ??
    config.registrationSharedSecret ??
    (existsSync(secretFile) ? readFileSync(secretFile, 'utf8').trim() : undefined);
  if (!secret) throw new Error(`no shared secret: start the server once (it creates ${secretFile}) or pass --shared-secret`);
  const baseUrl = (positionals[0] ?? config.publicBaseUrl).replace(/\/$/, '');

  const username = values.user ?? (await ask('New user localpart: '));
  let password = values.password;
  if (!password) {
    password = await ask('Password: ', true);
    if (password !== (await ask('Confirm password: ', true))) throw new Error('passwords do not match');
  }
  if (!username || !password) throw new Error('a user name and a password are needed');
  let admin = values.admin ?? false;
  if (values.admin === undefined && !values['no-admin'] && process.stdin.isTTY) {
    admin = /^y/i.test(await ask('Make admin [no]: '));
  }
  const userType = values['user-type'] ?? null;

  const nonceRes = await fetch(`${baseUrl}/_synapse/admin/v1/register`);
  const nonceBody = (await nonceRes.json()) as { nonce?: string; error?: string };
  if (!nonceRes.ok || !nonceBody.nonce) throw new Error(`cannot get a nonce from ${baseUrl}: ${nonceBody.error ?? nonceRes.status}`);
  const body = {
    nonce: nonceBody.nonce,
    username,
    password,
    admin,
    user_type: userType,
    mac: registrationMac(secret, nonceBody.nonce, username, password, admin, userType),
  };
  const res = await fetch(`${baseUrl}/_synapse/admin/v1/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const result = (await res.json()) as { user_id?: string; error?: string };
  if (!res.ok) throw new Error(`registration failed: ${result.error ?? res.status}`);
  process.stdout.write(`Success! ${result.user_id}${admin ? ' (admin)' : ''}\n`);
}
