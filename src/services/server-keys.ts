/**
 * The server's ed25519 signing key: created on first start in Synapse's signing-key file format,
 * served signed at GET /_matrix/key/v2/server (spec: Server-Server API §2.3 "Retrieving server keys").
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { formatSigningKeyFile, parseSigningKeyFile, signJson, signingKeyFromSeed, type SigningKey } from '../matrix/signing.js';
import { getLogger } from '../logging.js';

const log = getLogger('server-keys');
/** How long other servers may cache our key response (Synapse: key_refresh_interval, 1 day). */
const KEY_VALIDITY_MS = 24 * 3600 * 1000;

export function loadOrCreateSigningKey(path: string): SigningKey {
  if (existsSync(path)) {
    const keys = parseSigningKeyFile(readFileSync(path, 'utf8'));
    if (!keys.length) throw new Error(`${path}: no signing key in the file`);
    return keys[0]!;
  }
  // Synapse names key versions a_XXXX: four random alphanumerics.
  const version = 'a_' + randomBytes(3).toString('base64url').replace(/[-_]/g, 'x').slice(0, 4);
  const key = signingKeyFromSeed(randomBytes(32), version);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, formatSigningKeyFile([key]), { mode: 0o600 });
  log.info('generated a new signing key', { path, keyId: key.keyId });
  return key;
}

export class ServerKeyService {
  constructor(
    readonly serverName: string,
    readonly signingKey: SigningKey,
    private readonly now: () => number = Date.now,
  ) {}

  /** The signed body of GET /_matrix/key/v2/server. */
  serverKeys(): Record<string, unknown> {
    const body = {
      server_name: this.serverName,
      valid_until_ts: this.now() + KEY_VALIDITY_MS,
      verify_keys: { [this.signingKey.keyId]: { key: this.signingKey.publicKeyBase64 } },
      old_verify_keys: {},
    };
    return signJson(body, this.serverName, this.signingKey);
  }
}
