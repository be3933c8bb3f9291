/**
 * Devices (spec: Client-Server API §10.x "Device Management"). Deleting a device revokes its tokens
 * at once — the "remote wipe of a lost phone": the very next request with such a token gets 401.
 */
import type { Storage } from '../storage/index.js';
import type { Queryable } from '../storage/database.js';
import type { DeviceRow } from '../storage/devices.js';
import type { AuthService } from './auth.js';
import { notFound } from '../errors.js';

export interface ClientDevice {
  device_id: string;
  display_name?: string;
  last_seen_ip?: string;
  last_seen_ts?: number;
}

/** Listeners hear of deleted devices (E2EE keys and device-list updates hook in here later). */
export type DeviceDeletionListener = (userId: string, deviceIds: string[]) => void;

/** What a deletion removed: the devices, and their tokens' hashes for the caches. */
export interface DeletedDevices {
  deviceIds: string[];
  tokenHashes: Buffer[];
}

export class DeviceService {
  private readonly deletionListeners: DeviceDeletionListener[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly auth: AuthService,
    private readonly now: () => number = Date.now,
  ) {}

  onDeletion(listener: DeviceDeletionListener): void {
    this.deletionListeners.push(listener);
  }

  private readonly changeListeners: ((userId: string) => void)[] = [];

  /** Hears of a new or renamed device (device-list updates for E2EE peers, spec §11.x). */
  onChange(listener: (userId: string) => void): void {
    this.changeListeners.push(listener);
  }

  /** Call after the transaction that created or renamed a device committed. */
  announceChange(userId: string): void {
    for (const l of this.changeListeners) l(userId);
  }

  static toClient(d: DeviceRow): ClientDevice {
    const out: ClientDevice = { device_id: d.deviceId };
    if (d.displayName !== null) out.display_name = d.displayName;
    if (d.lastSeenIp !== null) out.last_seen_ip = d.lastSeenIp;
    if (d.lastSeenTs !== null) out.last_seen_ts = d.lastSeenTs;
    return out;
  }

  async list(userId: string): Promise<ClientDevice[]> {
    return (await this.storage.devices.list(userId)).map(DeviceService.toClient);
  }

  async get(userId: string, deviceId: string): Promise<ClientDevice> {
    const d = await this.storage.devices.get(userId, deviceId);
    if (!d) throw notFound('Device not found');
    return DeviceService.toClient(d);
  }

  async ensureDevice(tx: Queryable, userId: string, deviceId: string, displayName: string | null): Promise<boolean> {
    return this.storage.devices.upsert(tx, userId, deviceId, displayName, this.now());
  }

  async setDisplayName(userId: string, deviceId: string, displayName: string | null): Promise<void> {
    if (!(await this.storage.devices.setDisplayName(userId, deviceId, displayName))) throw notFound('Device not found');
    this.announceChange(userId);
  }

  /**
   * Deletes devices inside tx (deviceIds null = all, except keepDeviceId). Call afterDeletion with
   * the result once tx has committed.
   */
  async deleteDevicesInTx(tx: Queryable, userId: string, deviceIds: string[] | null, keepDeviceId: string | null): Promise<DeletedDevices> {
    const tokenHashes = await this.storage.devices.accessTokenHashesForDevices(tx, userId, deviceIds);
    const removed = deviceIds
      ? await this.storage.devices.delete(tx, userId, deviceIds)
      : await this.storage.devices.deleteAllExcept(tx, userId, keepDeviceId);
    return { deviceIds: removed, tokenHashes };
  }

  afterDeletion(userId: string, deleted: DeletedDevices): void {
    this.auth.invalidate(deleted.tokenHashes);
    if (deleted.deviceIds.length) for (const l of this.deletionListeners) l(userId, deleted.deviceIds);
  }

  async deleteDevices(userId: string, deviceIds: string[]): Promise<void> {
    const deleted = await this.storage.db.transaction((tx) => this.deleteDevicesInTx(tx, userId, deviceIds, null));
    this.afterDeletion(userId, deleted);
  }

  /** Records where and when a device was last seen, at most once a minute per device. */
  private readonly lastTouched = new Map<string, number>();
  async touch(userId: string, deviceId: string, ip: string | null, userAgent: string | null): Promise<void> {
    const key = `${userId}|${deviceId}`;
    const now = this.now();
    if (now - (this.lastTouched.get(key) ?? 0) < 60_000) return;
    this.lastTouched.set(key, now);
    if (this.lastTouched.size > 100_000) this.lastTouched.clear();
    await this.storage.devices.touch(userId, deviceId, now, ip, userAgent);
  }
}
