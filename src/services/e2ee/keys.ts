/**
 * Device keys, one-time keys and fallback keys (spec: Client-Server API §10.12.x "Key management
 * API"): POST /keys/upload, /keys/query, /keys/claim and GET /keys/changes. Only this server's
 * users are answered; users of other servers are reported under `failures` until federation
 * queries exist.
 */
import type { Queryable } from '../../storage/database.js';
import type { E2eeKeyStore, ClaimedKey } from '../../storage/e2ee-keys.js';
import type { JsonObject, JsonValue } from '../../matrix/types.js';
import { serverNameOf } from '../../matrix/ids.js';
import { MatrixError } from '../../errors.js';
import { parseSyncToken } from '../../streams/sync-token.js';
import type { Requester } from '../auth.js';
import type { DeviceListService, DeviceListChanges } from './device-lists.js';
import { hasValidSignature, invalidSignature, isObject } from './signed-json.js';
import { queryKeys, MAX_QUERY_ENTRIES, type KeyQueryResult } from './key-query.js';
import { dictionary } from '../../matrix/types.js';
import type { DeviceKeysCache } from './device-keys-cache.js';

/** One upload may carry at most this many one-time keys, and a device may hold at most this many. */
export const MAX_ONE_TIME_KEYS_PER_UPLOAD = 1000;
export const MAX_ONE_TIME_KEYS_PER_DEVICE = 10_000;
/** A device-keys object, or one key, larger than this is refused. */
export const MAX_KEY_OBJECT_BYTES = 16 * 1024;

const tooLarge = (msg: string) => new MatrixError(413, 'M_TOO_LARGE', msg);
const invalid = (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg);

interface UploadedKey {
  algorithm: string;
  keyId: string;
  keyJson: string;
  value: JsonValue;
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** "algorithm:key_id" → its parts; the key ID may itself hold colons. */
function splitKeyId(id: string): { algorithm: string; keyId: string } {
  const i = id.indexOf(':');
  if (i <= 0 || i === id.length - 1) throw invalid(`Invalid key ID '${id.slice(0, 100)}': expected '<algorithm>:<key_id>'`);
  return { algorithm: id.slice(0, i), keyId: id.slice(i + 1) };
}

export class KeyService {
  constructor(
    private readonly store: E2eeKeyStore,
    private readonly deviceLists: DeviceListService,
    private readonly serverName: string,
    private readonly now: () => number = Date.now,
    /** Whole users' device keys for /keys/query; absent: always read the database. */
    private readonly cache?: DeviceKeysCache,
  ) {}

  // --- upload ---

  private parseKeys(field: string, map: JsonValue | undefined, userId: string, deviceId: string, ed25519: string | undefined): UploadedKey[] {
    if (map === undefined) return [];
    if (!isObject(map)) throw new MatrixError(400, 'M_BAD_JSON', `'${field}' must be an object`);
    const out: UploadedKey[] = [];
    for (const [id, value] of Object.entries(map)) {
      const { algorithm, keyId } = splitKeyId(id);
      if (typeof value !== 'string' && !isObject(value)) throw new MatrixError(400, 'M_BAD_JSON', `'${field}.${id}' must be a string or an object`);
      const keyJson = JSON.stringify(value);
      if (byteLength(keyJson) > MAX_KEY_OBJECT_BYTES || byteLength(id) > 255) throw tooLarge(`Key ${id.slice(0, 100)} is too large`);
      if (isObject(value)) {
        if (typeof value.key !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `'${field}.${id}.key' must be a string`);
        // A signed key carries the device's signature: check it when the device's key is known.
        if (ed25519 && !hasValidSignature(value, userId, `ed25519:${deviceId}`, ed25519)) {
          throw invalidSignature(`The signature on ${field} ${id} does not verify with the device's key`);
        }
      }
      out.push({ algorithm, keyId, keyJson, value });
    }
    return out;
  }

  /** Validates an uploaded device-keys object: this user and device, self-signed. Returns its ed25519 key. */
  static checkDeviceKeys(deviceKeys: JsonObject, userId: string, deviceId: string): string {
    if (deviceKeys.user_id !== userId) throw invalid('user_id in device_keys does not match the authenticated user');
    if (deviceKeys.device_id !== deviceId) throw invalid('device_id in device_keys does not match the authenticated device');
    if (!Array.isArray(deviceKeys.algorithms)) throw new MatrixError(400, 'M_BAD_JSON', "'device_keys.algorithms' must be an array");
    const keys = deviceKeys.keys;
    const ed25519 = isObject(keys) ? keys[`ed25519:${deviceId}`] : undefined;
    if (typeof ed25519 !== 'string') throw invalid(`device_keys.keys must hold the device's ed25519:${deviceId} key`);
    if (byteLength(JSON.stringify(deviceKeys)) > MAX_KEY_OBJECT_BYTES) throw tooLarge('device_keys is too large');
    // spec: the device keys are signed by the device's own ed25519 key.
    if (!hasValidSignature(deviceKeys, userId, `ed25519:${deviceId}`, ed25519)) throw invalidSignature('The device_keys self-signature does not verify');
    return ed25519;
  }

  /** POST /keys/upload: everything is checked before anything is stored. */
  async upload(requester: Requester, body: JsonObject): Promise<{ one_time_key_counts: Record<string, number> }> {
    const { userId } = requester;
    const deviceId = requester.deviceId;
    if (!deviceId) throw invalid('Keys can only be uploaded by a device (this access token has none)');
    return this.uploadFor(userId, deviceId, body);
  }

  /** Key upload for a given device (also used when a dehydrated device is stored). */
  async uploadFor(userId: string, deviceId: string, body: JsonObject, outerTx?: Queryable): Promise<{ one_time_key_counts: Record<string, number> }> {
    let deviceKeys: JsonObject | undefined;
    let ed25519: string | undefined;
    if (body.device_keys !== undefined && body.device_keys !== null) {
      if (!isObject(body.device_keys)) throw new MatrixError(400, 'M_BAD_JSON', "'device_keys' must be an object");
      const { unsigned: _u, ...rest } = body.device_keys;
      deviceKeys = rest;
      ed25519 = KeyService.checkDeviceKeys(deviceKeys, userId, deviceId);
    }
    if (!ed25519) {
      const stored = await this.store.deviceKeys(userId, deviceId, outerTx);
      if (stored) {
        const keys = (JSON.parse(stored) as JsonObject).keys;
        const k = isObject(keys) ? keys[`ed25519:${deviceId}`] : undefined;
        if (typeof k === 'string') ed25519 = k;
      }
    }
    const oneTimeKeys = this.parseKeys('one_time_keys', body.one_time_keys ?? undefined, userId, deviceId, ed25519);
    if (oneTimeKeys.length > MAX_ONE_TIME_KEYS_PER_UPLOAD) throw tooLarge(`At most ${MAX_ONE_TIME_KEYS_PER_UPLOAD} one-time keys per upload`);
    const fallbackField = body.fallback_keys !== undefined ? 'fallback_keys' : 'org.matrix.msc2732.fallback_keys';
    const fallbackKeys = this.parseKeys(fallbackField, body[fallbackField] ?? undefined, userId, deviceId, ed25519);
    const fallbackAlgorithms = new Set<string>();
    for (const f of fallbackKeys) {
      if (fallbackAlgorithms.has(f.algorithm)) throw invalid(`More than one fallback key for ${f.algorithm}`);
      fallbackAlgorithms.add(f.algorithm);
    }

    const work = async (tx: Queryable) => {
      let changed = false;
      if (deviceKeys) {
        const keyJson = JSON.stringify(deviceKeys);
        const existing = await this.store.deviceKeys(userId, deviceId, tx);
        if (existing !== keyJson) {
          if (existing) {
            const oldKeys = (JSON.parse(existing) as JsonObject).keys;
            const oldEd = isObject(oldKeys) ? oldKeys[`ed25519:${deviceId}`] : undefined;
            // New identity keys: signatures made over the old ones no longer hold.
            if (oldEd !== ed25519) await this.store.deleteSignaturesOn(tx, userId, [deviceId]);
          }
          await this.store.setDeviceKeys(tx, userId, deviceId, keyJson, this.now());
          changed = true;
        }
      }
      if (oneTimeKeys.length) {
        const existing = await this.store.existingOneTimeKeys(tx, userId, deviceId, oneTimeKeys);
        for (const k of oneTimeKeys) {
          const old = existing.get(`${k.algorithm}:${k.keyId}`);
          if (old !== undefined && old !== k.keyJson) {
            // Synapse's rule: the same key ID again must be the same key.
            throw invalid(`One time key ${k.algorithm}:${k.keyId} already exists with a different value`);
          }
        }
        await this.store.addOneTimeKeys(tx, userId, deviceId, oneTimeKeys, this.now());
      }
      for (const f of fallbackKeys) await this.store.setFallbackKey(tx, userId, deviceId, f.algorithm, f.keyId, f.keyJson);
      const counts = await this.store.oneTimeKeyCounts(userId, deviceId, tx);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      if (total > MAX_ONE_TIME_KEYS_PER_DEVICE) throw tooLarge(`A device may hold at most ${MAX_ONE_TIME_KEYS_PER_DEVICE} one-time keys`);
      // Synapse always reports signed_curve25519, which clients rely on to top up their keys.
      return { changed, result: { one_time_key_counts: { signed_curve25519: 0, ...counts } } };
    };
    if (outerTx) return (await work(outerTx)).result;
    return this.deviceLists.change(userId, work);
  }

  // --- query ---

  /** POST /keys/query (see key-query.ts). */
  query(requester: Requester, body: JsonObject): Promise<KeyQueryResult> {
    return queryKeys(this.store, this.cache, this.serverName, requester, body);
  }

  // --- claim ---

  /** POST /keys/claim: one one-time key per device, else the device's fallback key. */
  async claim(body: JsonObject): Promise<JsonObject> {
    const wanted = body.one_time_keys;
    if (!isObject(wanted)) throw new MatrixError(400, 'M_BAD_JSON', "'one_time_keys' must be an object");
    const failures = dictionary<JsonValue>();
    const requests: { userId: string; deviceId: string; algorithm: string }[] = [];
    for (const [userId, devices] of Object.entries(wanted)) {
      const server = serverNameOf(userId);
      if (!server) continue;
      if (server !== this.serverName) {
        failures[server] = { status: 503, message: 'Federation is not available on this server' };
        continue;
      }
      if (!isObject(devices)) throw new MatrixError(400, 'M_BAD_JSON', `'one_time_keys.${userId}' must be an object`);
      for (const [deviceId, algorithm] of Object.entries(devices)) {
        if (typeof algorithm !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `'one_time_keys.${userId}.${deviceId}' must be a string`);
        requests.push({ userId, deviceId, algorithm });
      }
      if (requests.length > MAX_QUERY_ENTRIES) throw tooLarge(`At most ${MAX_QUERY_ENTRIES} devices per claim`);
    }
    const claimed = await this.store.claimOneTimeKeys(requests);
    const got = new Set(claimed.map((c) => `${c.userId}\u0000${c.deviceId}`));
    const missing = requests.filter((r) => !got.has(`${r.userId}\u0000${r.deviceId}`));
    const fallback = missing.length ? await this.store.claimFallbackKeys(missing) : [];
    // Device IDs are chosen by clients: "__proto__" once wrote the claimed key into Object.prototype.
    const out = dictionary<Record<string, JsonObject>>();
    const put = (c: ClaimedKey) => {
      ((out[c.userId] ??= dictionary())[c.deviceId] ??= dictionary())[`${c.algorithm}:${c.keyId}`] = JSON.parse(c.keyJson) as JsonValue;
    };
    claimed.forEach(put);
    fallback.forEach(put);
    return { one_time_keys: out, failures };
  }

  // --- changes ---

  /** GET /keys/changes: `from` and `to` are sync tokens. */
  async changes(userId: string, from: string | undefined, to: string | undefined, current: () => ReturnType<typeof parseSyncToken>): Promise<DeviceListChanges> {
    if (!from) throw new MatrixError(400, 'M_MISSING_PARAM', "Missing 'from' parameter");
    const since = parseSyncToken(from);
    const upTo = to ? parseSyncToken(to) : current();
    const now = current();
    for (const k of Object.keys(upTo) as (keyof typeof upTo)[]) if (upTo[k] > now[k]) upTo[k] = now[k];
    return this.deviceLists.changesBetween(userId, since, upTo);
  }

  // --- devices deleted ---

  /** A deleted device's keys go, and its user's device list changed. */
  async onDevicesDeleted(userId: string, deviceIds: string[]): Promise<void> {
    await this.deviceLists.change(userId, async (tx) => {
      await this.store.deleteDevices(tx, userId, deviceIds);
      return { changed: true, result: undefined };
    });
  }

  /** Used by the cross-signing service: the device's ed25519 key, if it uploaded keys. */
  async deviceEd25519(userId: string, deviceId: string, db?: Queryable): Promise<{ key: string; keys: JsonObject } | undefined> {
    const stored = await this.store.deviceKeys(userId, deviceId, db);
    if (!stored) return undefined;
    const keys = JSON.parse(stored) as JsonObject;
    const k = isObject(keys.keys) ? keys.keys[`ed25519:${deviceId}`] : undefined;
    return typeof k === 'string' ? { key: k, keys } : undefined;
  }
}
