/**
 * The composition root: config → database → services → HTTP app. Nothing else wires modules
 * together, and no module reaches for a global.
 */
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/index.js';
import { getLogger, setLogLevel } from './logging.js';
import { Database, type ConnectionOptions } from './storage/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './storage/embedded.js';
import { migrate } from './storage/migrate.js';
import { createStorage } from './storage/index.js';
import { StreamIdGenerator } from './streams/id-generator.js';
import { InProcessNotifier } from './streams/notifier.js';
import { AuthService } from './services/auth.js';
import { AccountService } from './services/accounts.js';
import { DeviceService } from './services/devices.js';
import { UiaService } from './services/uia.js';
import { ProfileService } from './services/profile.js';
import { AccountDataService } from './services/account-data.js';
import { ServerKeyService, loadOrCreateSigningKey } from './services/server-keys.js';
import { RateLimiter } from './services/rate-limiter.js';
import type { Services, RoomServices } from './services/index.js';
import { RoomStateService } from './services/rooms/room-state.js';
import { EventCreator } from './services/rooms/event-creator.js';
import { CreateRoomService } from './services/rooms/create-room.js';
import { MembershipService } from './services/rooms/membership.js';
import { MessageService } from './services/rooms/messages.js';
import { AliasService } from './services/rooms/aliases.js';
import { VisibilityService } from './services/rooms/visibility.js';
import { RoomReadService } from './services/rooms/room-reads.js';
import { RoomPaginationService } from './services/rooms/pagination.js';
import { DirectoryService } from './services/rooms/directory.js';
import { RoomUpgradeService } from './services/rooms/upgrade.js';
import { UpgradeUserStateService } from './services/rooms/upgrade-user-state.js';
import { ReportService } from './services/rooms/reports.js';
import { DirectoryStore } from './storage/directory.js';
import { onClientError } from './api/http/client-error.js';
import { ReportStore } from './storage/reports.js';
import { SyncService } from './services/sync/sync-service.js';
import { RoomsProvider } from './services/sync/rooms-provider.js';
import { AccountDataProvider } from './services/sync/account-data-provider.js';
import { TypingService } from './services/typing.js';
import { ReceiptService } from './services/receipts.js';
import { ReceiptStore } from './storage/receipts.js';
import { TypingProvider } from './services/sync/typing-provider.js';
import { ReceiptsProvider } from './services/sync/receipts-provider.js';
import { LazyMembersCache } from './services/sync/lazy-members.js';
import { PresenceService } from './services/presence.js';
import { PresenceStore } from './storage/presence.js';
import { PresenceProvider } from './services/sync/presence-provider.js';
import { ToDeviceService } from './services/to-device.js';
import { createE2ee } from './services/e2ee/index.js';
import { ToDeviceStore } from './storage/to-device.js';
import { ToDeviceProvider } from './services/sync/to-device-provider.js';
import { PushRuleService } from './services/push-rules.js';
import { SlidingSyncService } from './services/sliding-sync/sliding-sync.js';
import { DelayedEventService } from './services/delayed-events.js';
import { DelayedEventStore } from './storage/delayed-events.js';
import { RelationsService } from './services/relations.js';
import { UserDirectoryService } from './services/user-directory.js';
import { UserDirectoryStore } from './storage/user-directory.js';
import { OpenIdService } from './services/openid.js';
import { OpenIdStore } from './storage/openid.js';
import { PushActionStore } from './storage/push-actions.js';
import { PushActionGenerator } from './services/push/action-generator.js';
import { UnreadCountService } from './services/push/unread-counts.js';
import { NotificationService } from './services/push/notifications.js';
import { PusherStore } from './storage/pushers.js';
import { GatewaySender } from './services/push/gateway-sender.js';
import { PusherService } from './services/push/pushers.js';
import { createMediaServices, roomMembersPolicy } from './services/media/index.js';
import { MediaStore } from './storage/media.js';
import { SpaceService } from './services/spaces.js';
import { TagService } from './services/tags.js';
import { SearchService } from './services/search.js';
import { SearchStore } from './storage/search.js';
import { ApiRouter } from './api/http/router.js';
import { createApp } from './api/http/app.js';
import { registerClientRoutes } from './api/client/index.js';
import { registerServerKeyRoutes } from './api/federation/keys.js';
import { registerSharedSecretRoutes } from '../synapse-compat/admin/register.js';
import { webClientMount } from './api/web/client.js';
import pg from 'pg';

const log = getLogger('server');

export interface StartOptions {
  /** Use this database instead of the one in the config (tests). */
  database?: ConnectionOptions;
  /** Listen on this port instead of the configured ones (tests pass 0 for a free port). */
  port?: number;
}

export interface VecheServer {
  config: Config;
  services: Services;
  /** Base URLs of the listeners, e.g. http://127.0.0.1:8008 */
  urls: string[];
  close(): Promise<void>;
}

/** The shared secret from the config, else the one kept in the data folder (created on first start). */
function loadSharedSecret(config: Config): string {
  if (config.registrationSharedSecret) return config.registrationSharedSecret;
  const path = config.registrationSharedSecretPath;
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, secret + '\n', { mode: 0o600 });
  log.info('generated a registration shared secret', { path });
  return secret;
}

async function ensureDatabase(conn: ConnectionOptions): Promise<void> {
  const admin = new pg.Client({ ...conn, database: 'postgres' });
  try {
    await admin.connect();
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [conn.database]);
    if (!rowCount) {
      // Byte-order collation (as Synapse requires) with a UTF-8 ctype, so lower() and the Russian
      // and English full-text parsers see Cyrillic letters as letters.
      await admin.query(`CREATE DATABASE "${conn.database.replace(/"/g, '""')}" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8' TEMPLATE template0`);
      log.info('created database', { database: conn.database });
    }
  } catch (err) {
    // Without rights to the maintenance database the configured one must already exist.
    log.debug('could not check for the database', { error: (err as Error).message });
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<VecheServer> {
  setLogLevel(config.logLevel);
  const started = Date.now();
  let embedded: EmbeddedPostgresHandle | undefined;
  let connection = options.database;
  if (!connection) {
    if (config.database.kind === 'embedded') {
      embedded = await startEmbeddedPostgres(config.database.path);
      connection = embedded.connection;
    } else {
      const { host, port, user, password, database, poolMax } = config.database;
      connection = { host, port, user, password, database, max: poolMax };
      await ensureDatabase(connection);
    }
  }
  const db = new Database(connection);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    await embedded?.stop();
    throw err;
  }
  const storage = createStorage(db);

  const signingKey = loadOrCreateSigningKey(config.signingKeyPath);
  const sharedSecret = loadSharedSecret(config);
  const notifier = new InProcessNotifier();
  const accountDataPositions = new StreamIdGenerator(db, 'account_data_stream_seq');
  await accountDataPositions.init();
  const eventPositions = new StreamIdGenerator(db, 'events_stream_seq');
  await eventPositions.init();
  const receiptPositions = new StreamIdGenerator(db, 'receipts_stream_seq');
  await receiptPositions.init();
  const presencePositions = new StreamIdGenerator(db, 'presence_stream_seq');
  await presencePositions.init();
  const toDevicePositions = new StreamIdGenerator(db, 'to_device_stream_seq');
  await toDevicePositions.init();
  const deviceListPositions = new StreamIdGenerator(db, 'device_lists_stream_seq');
  await deviceListPositions.init();

  const auth = new AuthService(storage, config);
  const devices = new DeviceService(storage, auth);
  const roomState = new RoomStateService(storage);
  const creator = new EventCreator({
    poolSize: db.poolSize,
    storage,
    serverName: config.serverName,
    signingKey,
    positions: eventPositions,
    notifier,
    now: Date.now,
  });
  const aliases = new AliasService(storage, roomState, config.serverName, creator);
  const accountData = new AccountDataService(storage, accountDataPositions, notifier);
  const pushRules = new PushRuleService(storage, accountData, notifier);
  // Tags, m.direct and push rules follow a room upgrade (at upgrade time and on a later join).
  const upgradeUserState = new UpgradeUserStateService(storage, roomState, accountData, pushRules, config.serverName);
  const membership = new MembershipService(storage, creator, aliases, roomState, config.serverName, upgradeUserState);
  const visibility = new VisibilityService(storage, roomState);
  const readDeps = { storage, roomState, visibility, positions: eventPositions, now: Date.now };
  const rooms: RoomServices = {
    state: roomState,
    creator,
    aliases,
    membership,
    create: new CreateRoomService({ storage, creator, aliases, serverName: config.serverName, defaultRoomVersion: config.defaultRoomVersion }),
    messages: new MessageService(storage, creator),
    visibility,
    reads: new RoomReadService(readDeps),
    pagination: new RoomPaginationService(readDeps),
    directory: new DirectoryService(storage, new DirectoryStore(db), roomState, config.serverName),
    upgrade: new RoomUpgradeService(storage, creator, config.serverName, upgradeUserState),
    reports: new ReportService(storage, new ReportStore(db), roomState),
  };
  const sync = new SyncService(storage, notifier, { events: eventPositions, account_data: accountDataPositions, receipts: receiptPositions, presence: presencePositions, to_device: toDevicePositions, device_lists: deviceListPositions });
  const roomsProvider = new RoomsProvider(storage, eventPositions, new LazyMembersCache());
  sync.addProvider(roomsProvider);
  // Push actions for every new event, then unread counts and GET /notifications from them.
  const pushActionStore = new PushActionStore(db);
  const pushActions = new PushActionGenerator({ store: pushActionStore, roomState, pushRules, notifier, serverName: config.serverName });
  creator.onPersisted(pushActions.onPersisted);
  const unreadCounts = new UnreadCountService(pushActionStore, pushActions);
  sync.unread = unreadCounts;
  // HTTP pushers: each new notification goes to the user's push gateways.
  const pusherStore = new PusherStore(db);
  const pushers = new PusherService({
    store: pusherStore,
    sender: new GatewaySender({ store: pusherStore, storage, roomState, unread: unreadCounts, generator: pushActions, positions: eventPositions, notifier }),
    positions: eventPositions,
  });
  pushActions.onStored(pushers.sender.onNotifications);
  devices.onDeletion(pushers.onDevicesDeleted);
  sync.addProvider(new AccountDataProvider(storage, accountDataPositions));
  const typing = new TypingService(roomState, notifier);
  const receiptStore = new ReceiptStore(db);
  const receipts = new ReceiptService({ storage, receipts: receiptStore, roomState, accountData, positions: receiptPositions, notifier, now: Date.now });
  const typingProvider = new TypingProvider(typing);
  const receiptsProvider = new ReceiptsProvider(receiptStore, receiptPositions);
  sync.addProvider(typingProvider);
  sync.addProvider(receiptsProvider);
  const presenceStore = new PresenceStore(db);
  const presence = new PresenceService({ storage, store: presenceStore, positions: presencePositions, notifier, serverName: config.serverName, mode: config.presence.mode });
  if (presence.enabled) sync.addProvider(new PresenceProvider(presenceStore, presencePositions, config.presence.includeOfflineUsersOnSync));
  sync.onSync((requester, params) => presence.onSync(requester, params));
  presence.start();
  const toDeviceStore = new ToDeviceStore(db);
  const toDevice = new ToDeviceService({ storage, store: toDeviceStore, positions: toDevicePositions, notifier, serverName: config.serverName });
  sync.addProvider(new ToDeviceProvider(toDeviceStore, toDevicePositions));
  sync.onSync((requester, params) => toDevice.onSync(requester, params));
  toDevice.start();
  devices.onDeletion((userId, deviceIds) => void toDevice.forgetDevices(userId, deviceIds).catch(() => undefined));
  const e2ee = createE2ee({ db, storage, devices, positions: deviceListPositions, eventPositions, notifier, serverName: config.serverName });
  sync.addProvider(e2ee.syncProvider);
  devices.onChange((userId) => void e2ee.deviceLists.markChanged(userId).catch(() => undefined));
  const delayedEvents = new DelayedEventService(storage, new DelayedEventStore(db), rooms.messages, roomState, config.maxEventDelayDuration);
  creator.onPersisted((events) => {
    for (const { event } of events) {
      if (event.state_key !== undefined) void delayedEvents.stateSent(event.room_id, event.type, event.state_key, event.sender).catch(() => undefined);
    }
  });
  const profile = new ProfileService(storage);
  profile.onChange((userId) => membership.propagateProfile(userId));
  // Every media read asks one access policy: media restricted to a room go to its members only.
  const media = await createMediaServices({
    store: new MediaStore(db),
    config,
    access: roomMembersPolicy(async (roomId, userId) => (await roomState.membership(roomId, userId)).membership),
  });
  const services: Services = {
    config,
    storage,
    auth,
    devices,
    accounts: new AccountService(storage, config, auth, devices),
    uia: new UiaService(storage, config.serverName),
    profile,
    accountData,
    serverKeys: new ServerKeyService(config.serverName, signingKey),
    rateLimiters: {
      login: new RateLimiter(config.rcLoginAddress),
      loginAccount: new RateLimiter(config.rcLoginAccount),
      loginFailures: new RateLimiter(config.rcLoginFailedAttempts),
      registration: new RateLimiter(config.rcRegistration),
      message: new RateLimiter(config.rcMessage),
    },
    rooms,
    positions: { events: eventPositions, accountData: accountDataPositions, receipts: receiptPositions },
    notifier,
    sync,
    slidingSync: new SlidingSyncService(storage, sync, notifier),
    delayedEvents,
    openId: new OpenIdService(new OpenIdStore(db), config.serverName),
    userDirectory: new UserDirectoryService(new UserDirectoryStore(db), config.userDirectorySearchAllUsers),
    relations: new RelationsService(storage, rooms.visibility, roomState, () => eventPositions.current()),
    pushRules,
    typing,
    receipts,
    notifications: new NotificationService(storage, pushActionStore, pushActions),
    media,
    presence,
    toDevice,
    e2ee,
    spaces: new SpaceService(storage, roomState, aliases),
    tags: new TagService(storage, accountData),
    pushers,
    search: new SearchService({ storage, index: new SearchStore(db), visibility, roomState, now: Date.now }),
  };

  rooms.reads.aggregations = rooms.pagination.aggregations = services.search.aggregations = services.relations;
  roomsProvider.relations = services.relations;
  roomsProvider.visibility = rooms.visibility;
  services.slidingSync.unread = sync.unread;
  services.slidingSync.visibility = rooms.visibility;
  services.slidingSync.aggregations = services.relations;
  const router = new ApiRouter(
    (token) => auth.authenticate(token),
    // spec: devices carry last_seen_ip / last_seen_ts; written at most once a minute per device.
    (requester, ip, userAgent) => {
      if (requester.deviceId) void devices.touch(requester.userId, requester.deviceId, ip, userAgent).catch(() => undefined);
    },
  );
  registerClientRoutes(router, services);
  registerServerKeyRoutes(router, services);
  registerSharedSecretRoutes(router, services, () => sharedSecret);
  // The built-in web client at / (web_client, default true), after the API so it shadows none of it.
  const webClient = config.webClient ? webClientMount(config) : undefined;
  const { listener: onRequest, serverOptions } = createApp({ routers: [router], extra: webClient ? [webClient] : [], trustProxy: config.listeners.some((l) => l.xForwarded) });

  const servers: http.Server[] = [];
  const urls: string[] = [];
  const listeners = options.port !== undefined ? [{ ...config.listeners[0]!, port: options.port }] : config.listeners;
  for (const listener of listeners) {
    for (const address of listener.bindAddresses) {
      const server = http.createServer({ keepAliveTimeout: 65_000, ...serverOptions }, onRequest);
      server.on('clientError', onClientError);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listener.port, address, () => resolve());
      });
      const bound = server.address() as AddressInfo;
      const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      urls.push(`http://${host}:${bound.port}`);
      servers.push(server);
    }
  }
  await delayedEvents.start();
  await pushers.start();
  log.info('Veche is serving Matrix', { server_name: config.serverName, urls, startup_ms: Date.now() - started });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info('shutting down');
      // Stop accepting; let requests in flight finish (long-polls are cut after a grace period).
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeIdleConnections();
              setTimeout(() => s.closeAllConnections(), 5_000).unref();
            }),
        ),
      );
      typing.close();
      await presence.close();
      await toDevice.close();
      delayedEvents.close();
      // Queued push-rule evaluations finish before the pool closes, so no notification is lost.
      await pushActions.settled().catch(() => undefined);
      await pushers.close();
      await notifier.close();
      await db.close();
      await embedded?.stop();
      log.info('stopped');
    })());
  return { config, services, urls, close };
}
