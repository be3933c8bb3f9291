/**
 * Pushers (spec: Client-Server API "Push Notifications": GET /pushers, POST /pushers/set).
 * Only HTTP pushers are offered; their notifications go out through the GatewaySender.
 * A device's pushers go with the device (as Synapse: a logged-out phone gets no more pushes).
 */
import type { Requester } from '../auth.js';
import type { PusherRow, PusherStore } from '../../storage/pushers.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { JsonObject } from '../../matrix/types.js';
import type { GatewaySender } from './gateway-sender.js';
import { invalidParam, missingParam } from '../../errors.js';
import { getLogger } from '../../logging.js';

const log = getLogger('pushers');

/** spec: "the URL … MUST be an HTTPS URL with a path of /_matrix/push/v1/notify" (http is kept for local gateways, as Synapse). */
const NOTIFY_PATH = '/_matrix/push/v1/notify';
/** spec: app_id "Max length, 64 chars"; pushkey "Max length, 512 bytes". */
const MAX_APP_ID_LENGTH = 64;
const MAX_PUSHKEY_BYTES = 512;

/** A pusher as GET /pushers shows it (spec: the Pusher object). */
export interface ClientPusher {
  pushkey: string;
  kind: string;
  app_id: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag?: string;
  lang: string;
  data: JsonObject;
}

export interface PusherServiceDeps {
  store: PusherStore;
  sender: GatewaySender;
  /** The events stream: a new pusher starts from the current position. */
  positions: StreamIdGenerator;
  now?: () => number;
}

export class PusherService {
  readonly sender: GatewaySender;
  /** Per user, deletions started by a device's removal and not yet done; reads wait for them. */
  private readonly pendingDeletions = new Map<string, Promise<unknown>>();
  private readonly now: () => number;

  constructor(private readonly deps: PusherServiceDeps) {
    this.sender = deps.sender;
    this.now = deps.now ?? Date.now;
  }

  static toClient(p: PusherRow): ClientPusher {
    const out: ClientPusher = {
      pushkey: p.pushkey,
      kind: p.kind,
      app_id: p.appId,
      app_display_name: p.appDisplayName,
      device_display_name: p.deviceDisplayName,
      lang: p.lang,
      data: p.data,
    };
    if (p.profileTag !== null) out.profile_tag = p.profileTag;
    return out;
  }

  /** GET /pushers */
  async list(userId: string): Promise<ClientPusher[]> {
    await this.pendingDeletions.get(userId);
    return (await this.deps.store.listForUser(userId)).map(PusherService.toClient);
  }

  /** POST /pushers/set (the body has passed the spec's schema: kind, app_id and pushkey are there). */
  async set(requester: Requester, body: JsonObject): Promise<void> {
    const userId = requester.userId;
    const appId = body.app_id as string;
    const pushkey = body.pushkey as string;
    // PostgreSQL text cannot hold U+0000.
    if (hasNul(body)) throw invalidParam('Pusher fields may not contain the NUL character');
    if (appId.length > MAX_APP_ID_LENGTH) throw invalidParam(`app_id may be at most ${MAX_APP_ID_LENGTH} characters`);
    if (Buffer.byteLength(pushkey, 'utf8') > MAX_PUSHKEY_BYTES) throw invalidParam(`pushkey may be at most ${MAX_PUSHKEY_BYTES} bytes`);

    // spec: "If kind is null, the pusher with this app_id and pushkey for this user is deleted."
    if (body.kind === null) {
      await this.pendingDeletions.get(userId);
      for (const row of await this.deps.store.delete(userId, appId, pushkey)) this.deps.sender.remove(row);
      return;
    }
    if (body.kind === 'email') throw invalidParam('Email pushers are not supported by this server');
    if (body.kind !== 'http') throw invalidParam(`Unknown pusher kind '${String(body.kind)}'`);

    // spec: app_display_name, device_display_name, lang and data are required unless kind is null.
    const missing = ['app_display_name', 'device_display_name', 'lang', 'data'].filter((k) => body[k] === undefined);
    if (missing.length) throw missingParam(`Missing parameters: ${missing.join(', ')}`);
    const data = body.data as JsonObject;
    if (data.url === undefined) throw missingParam("'url' is required in data for an HTTP pusher");
    checkGatewayUrl(data.url);

    const row: PusherRow = {
      userId,
      accessTokenId: requester.tokenId,
      kind: 'http',
      appId,
      pushkey,
      appDisplayName: body.app_display_name as string,
      deviceDisplayName: body.device_display_name as string,
      profileTag: typeof body.profile_tag === 'string' ? body.profile_tag : null,
      lang: body.lang as string,
      data,
      deviceId: requester.deviceId,
      createdTs: this.now(),
      // Notifications from before the pusher existed are not sent.
      lastStreamOrdering: this.deps.positions.current(),
      failingSince: null,
    };
    const append = body.append === true;
    const displaced = await this.deps.store.transaction(async (tx) => {
      // spec: "Otherwise, the homeserver must remove any other pushers with the same App ID and
      // pushkey for different users."
      const others = append ? [] : await this.deps.store.deleteOtherUsers(tx, appId, pushkey, userId);
      await this.deps.store.upsert(tx, row);
      return others;
    });
    for (const d of displaced) this.deps.sender.remove(d);
    this.deps.sender.add(row);
  }

  /** The DeviceService deletion listener: the devices' pushers go with them. */
  readonly onDevicesDeleted = (userId: string, deviceIds: string[]): void => {
    const previous = this.pendingDeletions.get(userId) ?? Promise.resolve();
    const run = previous
      .then(() => this.deps.store.deleteForDevices(userId, deviceIds))
      .then((rows) => {
        for (const row of rows) this.deps.sender.remove(row);
      })
      .catch((err: unknown) => log.error("could not delete a device's pushers", { user_id: userId, error: (err as Error).message }));
    this.pendingDeletions.set(userId, run);
    void run.then(() => {
      if (this.pendingDeletions.get(userId) === run) this.pendingDeletions.delete(userId);
    });
  };

  async start(): Promise<void> {
    await this.deps.sender.start();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pendingDeletions.values()]);
    await this.deps.sender.close();
  }
}

/** spec: data.url is "Required if kind is http … MUST be an HTTPS URL with a path of /_matrix/push/v1/notify". */
function checkGatewayUrl(url: unknown): void {
  if (typeof url !== 'string') throw invalidParam("'data.url' must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidParam("'data.url' is not a valid URL");
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw invalidParam("'data.url' must be an http(s) URL");
  // A gateway behind a path prefix (https://host/sygnal/_matrix/push/v1/notify) is allowed.
  if (!parsed.pathname.endsWith(NOTIFY_PATH)) throw invalidParam(`'data.url' must have a path ending with ${NOTIFY_PATH}`);
  if (parsed.username || parsed.password) throw invalidParam("'data.url' may not contain credentials");
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\0') || hasNul(v));
  return false;
}
