/**
 * Dehydrated devices (MSC3814, as Synapse serves it under /unstable/org.matrix.msc3814.v1): a
 * device whose keys the client stores encrypted on the server, so messages sent while the user
 * has no device online can be read later. It is an ordinary device (it has keys, receives
 * to-device messages); this service keeps which one it is and its opaque `device_data`.
 */
import type { Storage } from '../../storage/index.js';
import type { E2eeDehydratedStore } from '../../storage/e2ee-dehydrated.js';
import type { E2eeKeyStore } from '../../storage/e2ee-keys.js';
import type { JsonObject } from '../../matrix/types.js';
import { MatrixError, notFound } from '../../errors.js';
import type { DeviceService, DeletedDevices } from '../devices.js';
import type { DeviceListService } from './device-lists.js';
import type { KeyService } from './keys.js';
import { isObject } from './signed-json.js';

const MAX_DEVICE_DATA_BYTES = 256 * 1024;
const EVENTS_BATCH = 100;

export class DehydratedDeviceService {
  constructor(
    private readonly storage: Storage,
    private readonly store: E2eeDehydratedStore,
    private readonly keyStore: E2eeKeyStore,
    private readonly keys: KeyService,
    private readonly devices: DeviceService,
    private readonly deviceLists: DeviceListService,
  ) {}

  /** GET …/dehydrated_device */
  async get(userId: string): Promise<JsonObject> {
    const d = await this.store.get(userId);
    if (!d) throw notFound('No dehydrated device available');
    return { device_id: d.deviceId, device_data: d.deviceData };
  }

  /** PUT …/dehydrated_device: replaces any previous dehydrated device, keys included. */
  async put(userId: string, body: JsonObject): Promise<{ device_id: string }> {
    const deviceId = body.device_id;
    if (typeof deviceId !== 'string' || !deviceId || Buffer.byteLength(deviceId) > 255) throw new MatrixError(400, 'M_INVALID_PARAM', "'device_id' must be a non-empty string");
    const data = body.device_data;
    if (!isObject(data) || typeof data.algorithm !== 'string') throw new MatrixError(400, 'M_BAD_JSON', "'device_data' must be an object with an 'algorithm'");
    if (Buffer.byteLength(JSON.stringify(data)) > MAX_DEVICE_DATA_BYTES) throw new MatrixError(413, 'M_TOO_LARGE', 'device_data is too large');
    if (!isObject(body.device_keys)) throw new MatrixError(400, 'M_BAD_JSON', 'Device key(s) not found, these must be provided.');
    const displayName = typeof body.initial_device_display_name === 'string' ? body.initial_device_display_name.slice(0, 100) : null;

    let deleted: DeletedDevices | undefined;
    await this.deviceLists.change(userId, async (tx) => {
      await this.store.lock(tx, userId);
      const old = await this.store.get(userId, tx);
      if (old) {
        await this.keyStore.deleteDevices(tx, userId, [old.deviceId]);
        deleted = await this.devices.deleteDevicesInTx(tx, userId, [old.deviceId], null);
        await this.store.delete(tx, userId);
      }
      if (await this.store.deviceExists(tx, userId, deviceId)) throw new MatrixError(400, 'M_INVALID_PARAM', 'A device with this ID already exists');
      await this.devices.ensureDevice(tx, userId, deviceId, displayName);
      await this.keys.uploadFor(userId, deviceId, { device_keys: body.device_keys!, one_time_keys: body.one_time_keys ?? {}, fallback_keys: body.fallback_keys ?? {} }, tx);
      await this.store.set(tx, userId, deviceId, data);
      return { changed: true, result: undefined };
    });
    if (deleted) this.devices.afterDeletion(userId, deleted);
    return { device_id: deviceId };
  }

  /** DELETE …/dehydrated_device */
  async delete(userId: string): Promise<{ device_id: string }> {
    const d = await this.store.get(userId);
    if (!d) throw notFound('No dehydrated device available');
    const deleted = await this.storage.db.transaction(async (tx) => {
      await this.store.delete(tx, userId, d.deviceId);
      await this.keyStore.deleteDevices(tx, userId, [d.deviceId]);
      return this.devices.deleteDevicesInTx(tx, userId, [d.deviceId], null);
    });
    // The deletion listener announces the change.
    this.devices.afterDeletion(userId, deleted);
    return { device_id: d.deviceId };
  }

  /** GET/POST …/dehydrated_device/{deviceId}/events: the device's to-device messages, in batches. */
  async events(userId: string, deviceId: string, nextBatch: string | undefined, omitFinalToken = false): Promise<JsonObject> {
    const d = await this.store.get(userId);
    if (!d || d.deviceId !== deviceId) throw new MatrixError(403, 'M_FORBIDDEN', 'You may only fetch messages for your dehydrated device');
    let after = 0;
    if (nextBatch !== undefined && nextBatch !== null && nextBatch !== '') {
      // Synapse's form: "d<stream id>".
      const m = /^d?(\d{1,15})$/.exec(nextBatch);
      if (!m) throw new MatrixError(400, 'M_INVALID_PARAM', 'next_batch is invalid');
      after = Number(m[1]);
    }
    const rows = await this.store.inbox(userId, deviceId, after, EVENTS_BATCH);
    const last = rows.length ? rows[rows.length - 1]!.streamId : after;
    // The GET form (current MSC3814, matrix-js-sdk) ends the loop by leaving next_batch out once
    // nothing is left; Synapse's POST form always gives one.
    if (!rows.length && omitFinalToken) return { events: [] };
    return { events: rows.map((r) => r.message), next_batch: `d${last}` };
  }

  /** A dehydrated device deleted through /devices is no longer the dehydrated device. */
  async onDevicesDeleted(userId: string, deviceIds: string[]): Promise<void> {
    await this.storage.db.transaction(async (tx) => {
      for (const id of deviceIds) await this.store.delete(tx, userId, id);
    });
  }
}
