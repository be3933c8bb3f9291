/**
 * homeserver.yaml: read, validate against config/homeserver.schema.json, fill defaults.
 * A wrong or unknown key stops the start with one line naming the key and what is expected.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ErrorObject } from 'ajv';
import { loadJsonFile } from './schema.js';
import { parseDuration, parseSize } from './units.js';

export interface RateLimit {
  perSecond: number;
  burstCount: number;
}

export type DatabaseConfig =
  | { kind: 'embedded'; path: string }
  | { kind: 'postgres'; host: string; port: number; user: string; password?: string; database: string; poolMax: number };

export interface Listener {
  port: number;
  bindAddresses: string[];
  xForwarded: boolean;
  resources: string[];
}

export interface Config {
  serverName: string;
  publicBaseUrl: string;
  serveServerWellKnown: boolean;
  extraWellKnownClientContent: Record<string, unknown>;
  dataDirectory: string;
  /** web_client: serve the built-in web client at / (default true). */
  webClient: boolean;
  logLevel: string;
  listeners: Listener[];
  database: DatabaseConfig;
  enableRegistration: boolean;
  enableRegistrationWithoutVerification: boolean;
  registrationSharedSecret?: string;
  /** Where the generated shared secret is kept when the config names no secret. */
  registrationSharedSecretPath: string;
  registrationRequiresToken: boolean;
  allowGuestAccess: boolean;
  signingKeyPath: string;
  mediaStorePath: string;
  maxUploadSize: number;
  /** The media repository beyond media_store_path and max_upload_size (see MediaConfig). */
  media: MediaConfig;
  defaultRoomVersion: string;
  /** user_directory.search_all_users: default true — a corporate directory lists everyone. */
  userDirectorySearchAllUsers: boolean;
  /** ms; MSC4140 delayed events are off when undefined. */
  maxEventDelayDuration?: number;
  /** ms; access tokens issued together with a refresh token expire after this. */
  refreshableAccessTokenLifetime: number;
  refreshTokenLifetime?: number;
  sessionLifetime?: number;
  /** Synapse's presence.enabled (true, false or 'untracked') and presence.include_offline_users_on_sync. */
  presence: { mode: 'enabled' | 'disabled' | 'untracked'; includeOfflineUsersOnSync: boolean };
  rcMessage: RateLimit;
  rcRegistration: RateLimit;
  rcLoginAddress: RateLimit;
  rcLoginAccount: RateLimit;
  rcLoginFailedAttempts: RateLimit;
}

export interface MediaConfig {
  /** Synapse's enable_authenticated_media: media uploaded while true are not served by the legacy unauthenticated routes. */
  enableAuthenticatedMedia: boolean;
  /** Veche: bytes of media each user may keep (media_storage_quota_per_user); undefined is no limit. */
  quotaPerUser?: number;
  maxPendingUploads: number;
  /** ms a media ID from POST /create may wait for its upload */
  unusedExpirationTime: number;
  thumbnailSizes: { width: number; height: number; method: 'scale' | 'crop' }[];
  maxImagePixels: number;
  urlPreview: { enabled: boolean; ipRangeBlacklist: string[]; ipRangeWhitelist: string[]; maxSpiderSize: number; timeoutMs: number };
}

/** Synapse's defaults for thumbnail_sizes and url_preview_ip_range_blacklist. */
const DEFAULT_THUMBNAIL_SIZES: MediaConfig['thumbnailSizes'] = [
  { width: 32, height: 32, method: 'crop' },
  { width: 96, height: 96, method: 'crop' },
  { width: 320, height: 240, method: 'scale' },
  { width: 640, height: 480, method: 'scale' },
  { width: 800, height: 600, method: 'scale' },
];
const DEFAULT_URL_PREVIEW_IP_RANGE_BLACKLIST = [
  '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24',
  '169.254.0.0/16', '192.88.99.0/24', '198.18.0.0/15', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '0.0.0.0/8', '240.0.0.0/4', '::1/128', '::/128', 'fe80::/10', 'fc00::/7', '2001:db8::/32', 'ff00::/8', 'fec0::/10',
];

function buildMediaConfig(raw: Raw): MediaConfig {
  return {
    enableAuthenticatedMedia: raw.enable_authenticated_media ?? true,
    quotaPerUser: raw.media_storage_quota_per_user !== undefined ? parseSize(raw.media_storage_quota_per_user) : undefined,
    maxPendingUploads: raw.max_pending_media_uploads ?? 5,
    unusedExpirationTime: parseDuration(raw.unused_expiration_time ?? '24h'),
    thumbnailSizes: ((raw.thumbnail_sizes ?? DEFAULT_THUMBNAIL_SIZES) as Raw[]).map((t) => ({ width: t.width, height: t.height, method: t.method ?? 'scale' })),
    maxImagePixels: parseSize(raw.max_image_pixels ?? '32M'),
    urlPreview: {
      enabled: raw.url_preview_enabled ?? false,
      ipRangeBlacklist: raw.url_preview_ip_range_blacklist ?? DEFAULT_URL_PREVIEW_IP_RANGE_BLACKLIST,
      ipRangeWhitelist: raw.url_preview_ip_range_whitelist ?? [],
      maxSpiderSize: parseSize(raw.max_spider_size ?? '10M'),
      timeoutMs: parseDuration(raw.url_preview_timeout ?? '10s'),
    },
  };
}

export class ConfigError extends Error {}

/** The raw YAML document, typed as the schema allows. */
type Raw = Record<string, any>;

let validator: ReturnType<Ajv['compile']> | undefined;

function describeError(e: ErrorObject): string {
  const where = e.instancePath.replace(/^\//, '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    return `unknown key '${where ? where + '.' : ''}${key}'`;
  }
  if (e.keyword === 'required') {
    const key = (e.params as { missingProperty: string }).missingProperty;
    return `missing key '${where ? where + '.' : ''}${key}'`;
  }
  if (e.keyword === 'enum') {
    return `'${where}' must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `'${where}' ${e.message ?? 'is invalid'}`;
}

/** Validates a parsed document; throws ConfigError with one line naming the key. */
export function validateRawConfig(raw: unknown, source: string): Raw {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${source}: expected a YAML mapping of configuration keys`);
  }
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    validator = ajv.compile(loadJsonFile('config/homeserver.schema.json'));
  }
  if (!validator(raw)) {
    const errors = validator.errors ?? [];
    // An anyOf failure also reports each branch; the branch errors are noise next to the anyOf line.
    const first = errors.find((e) => e.keyword === 'additionalProperties') ??
      errors.find((e) => e.keyword === 'anyOf') ?? errors[0]!;
    const extra = first.keyword === 'anyOf' ? ` (${(first.parentSchema as { description?: string })?.description ?? 'see schema'})` : '';
    throw new ConfigError(`${source}: ${describeError(first)}${extra}`);
  }
  return raw as Raw;
}

function rateLimit(raw: Raw | undefined, perSecond: number, burstCount: number): RateLimit {
  return { perSecond: raw?.per_second ?? perSecond, burstCount: raw?.burst_count ?? burstCount };
}

/** Turns a validated document into a Config with Synapse's defaults where Synapse has one. */
export function buildConfig(raw: Raw, baseDir: string): Config {
  const path = (p: string) => resolve(baseDir, p);
  const dataDirectory = path(raw.data_directory ?? './data');
  const listeners: Listener[] = (raw.listeners ?? [{ port: 8008 }]).map((l: Raw) => ({
    port: l.port,
    bindAddresses: l.bind_addresses ?? ['127.0.0.1'],
    xForwarded: l.x_forwarded ?? false,
    resources: (l.resources ?? [{ names: ['client', 'federation'] }]).flatMap((r: Raw) => r.names),
  }));
  const firstPort = listeners[0]?.port ?? 8008;
  const db = raw.database as Raw | undefined;
  let database: DatabaseConfig;
  if (!db || db.name === 'embedded') {
    database = { kind: 'embedded', path: path(db?.args?.path ?? `${dataDirectory}/postgres`) };
  } else {
    const a = db.args ?? {};
    database = {
      kind: 'postgres',
      host: a.host ?? '127.0.0.1',
      port: a.port ?? 5432,
      user: a.user ?? 'postgres',
      password: a.password,
      database: a.database ?? a.dbname ?? 'veche',
      poolMax: a.cp_max ?? 10,
    };
  }
  const login = (raw.rc_login ?? {}) as Raw;
  // Synapse refuses to start with open registration that verifies nothing (a known spam vector).
  if (raw.enable_registration && !raw.enable_registration_without_verification && !raw.registration_requires_token) {
    throw new ConfigError(
      "'enable_registration' is true with no verification: also set 'enable_registration_without_verification: true' or 'registration_requires_token: true'",
    );
  }
  return {
    serverName: raw.server_name,
    publicBaseUrl: (raw.public_baseurl ?? `http://${raw.server_name}:${firstPort}/`).replace(/\/?$/, '/'),
    serveServerWellKnown: raw.serve_server_wellknown ?? false,
    extraWellKnownClientContent: raw.extra_well_known_client_content ?? {},
    dataDirectory,
    webClient: raw.web_client ?? true,
    logLevel: process.env.VECHE_LOG_LEVEL ?? raw.log_level ?? 'info',
    listeners,
    database,
    enableRegistration: raw.enable_registration ?? false,
    enableRegistrationWithoutVerification: raw.enable_registration_without_verification ?? false,
    registrationSharedSecret: raw.registration_shared_secret,
    registrationSharedSecretPath: path(raw.registration_shared_secret_path ?? `${dataDirectory}/registration_shared_secret`),
    registrationRequiresToken: raw.registration_requires_token ?? false,
    allowGuestAccess: raw.allow_guest_access ?? false,
    signingKeyPath: path(raw.signing_key_path ?? `${dataDirectory}/${raw.server_name}.signing.key`),
    mediaStorePath: path(raw.media_store_path ?? `${dataDirectory}/media_store`),
    maxUploadSize: parseSize(raw.max_upload_size ?? '50M'),
    media: buildMediaConfig(raw),
    defaultRoomVersion: raw.default_room_version ?? '11',
    userDirectorySearchAllUsers: raw.user_directory?.search_all_users ?? true,
    maxEventDelayDuration: raw.max_event_delay_duration !== undefined ? parseDuration(raw.max_event_delay_duration) : undefined,
    refreshableAccessTokenLifetime: parseDuration(raw.refreshable_access_token_lifetime ?? '5m'),
    refreshTokenLifetime: raw.refresh_token_lifetime !== undefined ? parseDuration(raw.refresh_token_lifetime) : undefined,
    sessionLifetime: raw.session_lifetime !== undefined ? parseDuration(raw.session_lifetime) : undefined,
    presence: {
      mode: raw.presence?.enabled === 'untracked' ? 'untracked' : raw.presence?.enabled === false ? 'disabled' : 'enabled',
      includeOfflineUsersOnSync: raw.presence?.include_offline_users_on_sync ?? false,
    },
    rcMessage: rateLimit(raw.rc_message, 0.2, 10),
    rcRegistration: rateLimit(raw.rc_registration, 0.17, 3),
    rcLoginAddress: rateLimit(login.address ?? (login.per_second !== undefined ? login : undefined), 0.003, 5),
    rcLoginAccount: rateLimit(login.account, 0.003, 5),
    rcLoginFailedAttempts: rateLimit(login.failed_attempts, 0.17, 3),
  };
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const valid = validateRawConfig(raw, file);
  try {
    return buildConfig(valid, dirname(resolve(file)));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message}`);
    throw err;
  }
}

/**
 * The configuration `npm start` uses when no file is given: localhost, embedded database in ./data,
 * registration closed as in Synapse (create users with `veche register-user`).
 */
export function defaultConfig(baseDir = process.cwd()): Config {
  return buildConfig(
    validateRawConfig(
      {
        server_name: 'localhost',
        public_baseurl: 'http://127.0.0.1:8008/',
      },
      'defaults',
    ),
    baseDir,
  );
}
