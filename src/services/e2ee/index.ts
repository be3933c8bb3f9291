/**
 * The end-to-end encryption services, built together (the composition root calls createE2ee once):
 * keys, cross-signing, device-list tracking, key backup and dehydrated devices.
 */
import type { Storage } from '../../storage/index.js';
import type { Database } from '../../storage/database.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { Notifier } from '../../streams/notifier.js';
import { E2eeKeyStore } from '../../storage/e2ee-keys.js';
import { E2eeBackupStore } from '../../storage/e2ee-backup.js';
import { E2eeDehydratedStore } from '../../storage/e2ee-dehydrated.js';
import type { DeviceService } from '../devices.js';
import { DeviceListsProvider } from '../sync/device-lists-provider.js';
import { DeviceListService } from './device-lists.js';
import { KeyService } from './keys.js';
import { DeviceKeysCache } from './device-keys-cache.js';
import { CrossSigningService } from './cross-signing.js';
import { KeyBackupService } from './backup.js';
import { DehydratedDeviceService } from './dehydrated.js';
import { getLogger } from '../../logging.js';

const log = getLogger('e2ee');

export interface E2eeServices {
  keys: KeyService;
  crossSigning: CrossSigningService;
  deviceLists: DeviceListService;
  backup: KeyBackupService;
  dehydrated: DehydratedDeviceService;
  /** The /sync provider of the device_lists stream (also the sliding sync e2ee extension). */
  syncProvider: DeviceListsProvider;
}

export interface E2eeDeps {
  db: Database;
  storage: Storage;
  devices: DeviceService;
  /** The device_lists stream (device_lists_stream_seq). */
  positions: StreamIdGenerator;
  eventPositions: StreamIdGenerator;
  notifier: Notifier;
  serverName: string;
  now?: () => number;
}

export function createE2ee(deps: E2eeDeps): E2eeServices {
  const now = deps.now ?? Date.now;
  const keyStore = new E2eeKeyStore(deps.db);
  const deviceLists = new DeviceListService(deps.storage, keyStore, deps.positions, deps.eventPositions, deps.notifier);
  const keys = new KeyService(keyStore, deviceLists, deps.serverName, now, new DeviceKeysCache(deps.notifier));
  const dehydrated = new DehydratedDeviceService(deps.storage, new E2eeDehydratedStore(deps.db), keyStore, keys, deps.devices, deviceLists);
  // spec: a deleted device's keys go, and the users who share a room hear that its list changed.
  deps.devices.onDeletion((userId, deviceIds) => {
    Promise.all([keys.onDevicesDeleted(userId, deviceIds), dehydrated.onDevicesDeleted(userId, deviceIds)]).catch((err) =>
      log.error('removing the keys of deleted devices failed', { userId, deviceIds, error: (err as Error).message }),
    );
  });
  return {
    keys,
    crossSigning: new CrossSigningService(keyStore, keys, deviceLists, now),
    deviceLists,
    backup: new KeyBackupService(new E2eeBackupStore(deps.db)),
    dehydrated,
    syncProvider: new DeviceListsProvider(deviceLists, keyStore),
  };
}
