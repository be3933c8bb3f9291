/**
 * Send-to-device messaging (spec: Client-Server API §11.x "Send-to-Device messaging"): messages are
 * stored per target device at a to_device stream position, delivered by /sync and deleted only once
 * the device acknowledges them by syncing with a since token at or past their position — so a
 * message is delivered until acknowledged (a retry with the old token gets it again) and never after.
 */
import type { Storage } from '../storage/index.js';
import type { Delivery, ToDeviceStore } from '../storage/to-device.js';
import type { StreamIdGenerator } from '../streams/id-generator.js';
import type { Notifier } from '../streams/notifier.js';
import { parseSyncToken } from '../streams/sync-token.js';
import type { JsonObject, JsonValue } from '../matrix/types.js';
import type { Requester } from './auth.js';
import type { SyncParams } from './sync/sync-service.js';
import { MatrixError } from '../errors.js';
import { isValidUserId, serverNameOf } from '../matrix/ids.js';
import { getLogger } from '../logging.js';

const log = getLogger('to-device');

/** spec: "Size limits" — an event type is at most 255 bytes. */
const MAX_TYPE_BYTES = 255;
const MAX_TXN_ID_BYTES = 255;
/** One message's content, as Synapse caps an EDU (it must fit in a federation transaction later). */
export const MAX_MESSAGE_BYTES = 65_536;
/** Deliveries one request may fan out to ('*' included). */
export const MAX_DELIVERIES = 10_000;
/** Transaction IDs are remembered this long; clients retry within minutes. */
const TXN_RETENTION_MS = 24 * 3600_000;
const TXN_CLEANUP_INTERVAL_MS = 3600_000;

export interface ToDeviceDeps {
  storage: Storage;
  store: ToDeviceStore;
  positions: StreamIdGenerator;
  notifier: Notifier;
  serverName: string;
  now?: () => number;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ToDeviceService {
  private readonly now: () => number;
  /** The highest position each (user, device) acknowledged, so an idle /sync deletes nothing twice. */
  private readonly acknowledged = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ToDeviceDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.deps.store.expireTxns(this.now() - TXN_RETENTION_MS).catch((err) => log.warn('expiring to-device transactions failed', { error: (err as Error).message }));
    }, TXN_CLEANUP_INTERVAL_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** PUT /sendToDevice/{eventType}/{txnId}. A repeated transaction stores nothing and answers {} again. */
  async send(requester: Requester, eventType: string, txnId: string, messages: JsonValue | undefined): Promise<void> {
    if (!eventType || Buffer.byteLength(eventType, 'utf8') > MAX_TYPE_BYTES) throw new MatrixError(400, 'M_INVALID_PARAM', `Event type must be 1 to ${MAX_TYPE_BYTES} bytes`);
    if (!txnId || Buffer.byteLength(txnId, 'utf8') > MAX_TXN_ID_BYTES) throw new MatrixError(400, 'M_INVALID_PARAM', `Transaction ID must be 1 to ${MAX_TXN_ID_BYTES} bytes`);
    if (!isObject(messages)) throw new MatrixError(400, 'M_BAD_JSON', "'messages' must be an object");

    const deliveries: Delivery[] = [];
    const targets = new Set<string>();
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (!isValidUserId(userId)) throw new MatrixError(400, 'M_INVALID_PARAM', `'${userId.slice(0, 255)}' is not a valid user ID`);
      if (!isObject(byDevice)) throw new MatrixError(400, 'M_BAD_JSON', `'messages.${userId}' must be an object`);
      for (const [deviceId, content] of Object.entries(byDevice)) {
        if (!isObject(content)) throw new MatrixError(400, 'M_BAD_JSON', `'messages.${userId}.${deviceId}' must be an object`);
        if (Buffer.byteLength(JSON.stringify(content), 'utf8') > MAX_MESSAGE_BYTES) {
          throw new MatrixError(413, 'M_TOO_LARGE', `A to-device message is larger than ${MAX_MESSAGE_BYTES} bytes`);
        }
      }
      if (serverNameOf(userId) !== this.deps.serverName) {
        // Federation (m.direct_to_device EDUs) comes later; until then remote targets are dropped.
        log.info('dropping to-device message for a remote user', { sender: requester.userId, target: userId, type: eventType });
        continue;
      }
      // As Synapse: '*' sends its message to every device of the user, and explicit IDs then do not count.
      let perDevice: [string, JsonObject][];
      if ('*' in byDevice) {
        const all = await this.deps.storage.devices.list(userId);
        perDevice = all.map((d) => [d.deviceId, byDevice['*'] as JsonObject]);
      } else {
        const ids = Object.keys(byDevice);
        const existing = ids.length ? new Set(await this.deps.store.existingDevices(userId, ids)) : new Set<string>();
        perDevice = ids.filter((id) => existing.has(id)).map((id) => [id, byDevice[id] as JsonObject]);
      }
      for (const [deviceId, content] of perDevice) {
        deliveries.push({ userId, deviceId, message: { sender: requester.userId, type: eventType, content } });
        targets.add(userId);
      }
      if (deliveries.length > MAX_DELIVERIES) throw new MatrixError(413, 'M_TOO_LARGE', `A request may reach at most ${MAX_DELIVERIES} devices`);
    }

    const pending = await this.deps.positions.next();
    let stored: boolean;
    try {
      // The transaction key names the event type too: Synapse keys transactions by the whole path.
      stored = await this.deps.store.send(
        { userId: requester.userId, deviceId: requester.deviceId ?? '' },
        JSON.stringify([eventType, txnId]),
        this.now(),
        pending.position,
        deliveries,
      );
    } finally {
      pending.done();
    }
    if (stored && deliveries.length) {
      this.deps.notifier.notify({ stream: 'to_device', position: pending.position, userIds: [...targets] });
    }
  }

  /** A deleted device's inbox goes with it (a new login reusing the device ID must not read it). */
  async forgetDevices(userId: string, deviceIds: string[]): Promise<void> {
    await this.deps.store.deleteForDevices(userId, deviceIds);
    for (const d of deviceIds) this.acknowledged.delete(`${userId}|${d}`);
  }

  /** The /sync hook: a since token acknowledges every message up to its to_device position. */
  async onSync(requester: Requester, params: SyncParams): Promise<void> {
    if (!requester.deviceId || !params.since) return;
    // A token from the future must not delete messages the device never saw.
    const upTo = Math.min(parseSyncToken(params.since).to_device, this.deps.positions.current());
    const key = `${requester.userId}|${requester.deviceId}`;
    if ((this.acknowledged.get(key) ?? -1) >= upTo) return;
    await this.deps.store.acknowledge(requester.userId, requester.deviceId, upTo);
    if (this.acknowledged.size > 100_000) this.acknowledged.clear();
    this.acknowledged.set(key, upTo);
  }
}
