/**
 * POST /keys/query (spec: Client-Server API §10.12.x "Key management API"): device keys with their
 * owners' signatures, master and self-signing keys, and the requester's own user-signing key. A
 * signature on a master key is shown when made by its owner or by the requester (their
 * user-signing key). Whole users come from the DeviceKeysCache when they can; stored key text is
 * spliced into the answer unparsed (RawJson), so thousands of devices stay cheap.
 */
import type { E2eeKeyStore, SignatureRow } from '../../storage/e2ee-keys.js';
import type { JsonObject } from '../../matrix/types.js';
import { serverNameOf } from '../../matrix/ids.js';
import { MatrixError } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { DeviceKeysCache, CachedUserKeys } from './device-keys-cache.js';
import { isObject, withSignatures, RawJson, serializeJson } from './signed-json.js';
import { dictionary } from '../../matrix/types.js';

/** Entries one /keys/query may name. */
export const MAX_QUERY_ENTRIES = 50_000;

export interface KeyQueryResult {
  failures: JsonObject;
  device_keys: Record<string, Record<string, RawJson | JsonObject> | RawJson>;
  master_keys: Record<string, RawJson | JsonObject>;
  self_signing_keys: Record<string, RawJson>;
  user_signing_keys: Record<string, RawJson>;
}

type Sig = { signer: string; keyId: string; signature: string };

function groupSignatures(rows: SignatureRow[], requester: string): Map<string, Sig[]> {
  const out = new Map<string, Sig[]>();
  for (const s of rows) {
    if (s.signerUserId !== s.targetUserId && s.signerUserId !== requester) continue;
    const k = `${s.targetUserId}\u0000${s.targetKeyId}`;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push({ signer: s.signerUserId, keyId: s.signerKeyId, signature: s.signature });
  }
  return out;
}

/** A stored signed key with extra signatures merged in (as text; unchanged when there are none). */
function merged(text: string, extra: Sig[] | undefined): string {
  if (!extra?.length) return text;
  return JSON.stringify(withSignatures(JSON.parse(text) as JsonObject, extra));
}

export async function queryKeys(store: E2eeKeyStore, cache: DeviceKeysCache | undefined, serverName: string, requester: Requester, body: JsonObject): Promise<KeyQueryResult> {
  const wanted = body.device_keys;
  if (!isObject(wanted)) throw new MatrixError(400, 'M_BAD_JSON', "'device_keys' must be an object");
  if (body.timeout !== undefined && (typeof body.timeout !== 'number' || body.timeout < 0)) throw new MatrixError(400, 'M_INVALID_PARAM', "'timeout' must be a non-negative integer");
  const failures = dictionary<JsonObject>();
  const allDevices: string[] = [];
  const someDevices: { userId: string; deviceId: string }[] = [];
  const localUsers: string[] = [];
  let entries = 0;
  for (const [userId, devices] of Object.entries(wanted)) {
    const server = serverNameOf(userId);
    if (!server) continue;
    if (server !== serverName) {
      // `timeout` bounds federation queries, which this server does not make yet.
      failures[server] = { status: 503, message: 'Federation is not available on this server' };
      continue;
    }
    if (!Array.isArray(devices)) throw new MatrixError(400, 'M_BAD_JSON', `'device_keys.${userId}' must be an array`);
    localUsers.push(userId);
    if (!devices.length) allDevices.push(userId);
    else for (const d of devices) if (typeof d === 'string') someDevices.push({ userId, deviceId: d });
    entries += Math.max(1, devices.length);
    if (entries > MAX_QUERY_ENTRIES) throw new MatrixError(413, 'M_TOO_LARGE', `At most ${MAX_QUERY_ENTRIES} users and devices per query`);
  }

  const hits = new Map<string, CachedUserKeys>();
  const generations = new Map<string, number>();
  const missing: string[] = [];
  for (const u of allDevices) {
    const hit = cache?.get(u);
    if (hit) hits.set(u, hit);
    else {
      missing.push(u);
      if (cache) generations.set(u, cache.generation(u));
    }
  }
  const dbUsers = localUsers.filter((u) => !hits.has(u));
  const wantsOwn = localUsers.includes(requester.userId);
  const crossSigningUsers = wantsOwn && hits.has(requester.userId) ? [...dbUsers, requester.userId] : dbUsers;
  const hitUsers = [...hits.keys()];
  const [rows, crossSigning, dbSignatures, requesterSignatures] = await Promise.all([
    store.queryDeviceKeys(missing, someDevices),
    store.crossSigningKeys(crossSigningUsers),
    store.signaturesOfUsers(dbUsers),
    hitUsers.length ? store.signaturesBy(requester.userId, hitUsers) : Promise.resolve([]),
  ]);
  const sigs = groupSignatures([...dbSignatures, ...requesterSignatures], requester.userId);
  const ownerOnly = (list: Sig[] | undefined, owner: string) => list?.filter((s) => s.signer === owner);
  const byRequester = (list: Sig[] | undefined, owner: string) => (owner === requester.userId ? undefined : list?.filter((s) => s.signer === requester.userId));

  const result: KeyQueryResult = { failures, device_keys: dictionary(), master_keys: dictionary(), self_signing_keys: dictionary(), user_signing_keys: dictionary() };
  const fresh = new Map<string, Record<string, RawJson>>();
  // Device IDs are chosen by clients: a device "__proto__" once replaced the user's whole device map.
  for (const u of dbUsers) fresh.set(u, dictionary());
  for (const r of rows) {
    const unsigned: JsonObject = r.displayName !== null ? { device_display_name: r.displayName } : {};
    // Only the owner's signatures go on devices, so this part is the same for every requester.
    const text = merged(r.keyJson, ownerOnly(sigs.get(`${r.userId}\u0000${r.deviceId}`), r.userId));
    fresh.get(r.userId)![r.deviceId] = RawJson.withField(text, 'unsigned', unsigned);
  }
  const ownMaster = new Map<string, { text: string; publicKey: string }>();
  const selfSigning = new Map<string, string>();
  for (const k of crossSigning) {
    if (k.keyType === 'master' && !hits.has(k.userId)) {
      ownMaster.set(k.userId, { text: merged(k.keyJson, ownerOnly(sigs.get(`${k.userId}\u0000${k.publicKey}`), k.userId)), publicKey: k.publicKey });
    } else if (k.keyType === 'self_signing' && !hits.has(k.userId)) selfSigning.set(k.userId, k.keyJson);
    else if (k.keyType === 'user_signing' && k.userId === requester.userId) result.user_signing_keys[k.userId] = new RawJson(k.keyJson);
  }

  for (const u of localUsers) {
    let entry = hits.get(u);
    if (!entry) {
      const devices = fresh.get(u)!;
      const master = ownMaster.get(u);
      entry = { devices: serializeJson(devices), master: master?.text ?? null, masterKey: master?.publicKey ?? null, selfSigning: selfSigning.get(u) ?? null };
      if (generations.has(u)) cache!.set(u, entry, generations.get(u)!);
      result.device_keys[u] = devices;
    } else {
      result.device_keys[u] = new RawJson(entry.devices);
    }
    if (entry.master !== null) {
      const mine = byRequester(sigs.get(`${u}\u0000${entry.masterKey}`), u);
      result.master_keys[u] = new RawJson(merged(entry.master, mine));
    }
    if (entry.selfSigning !== null) result.self_signing_keys[u] = new RawJson(entry.selfSigning);
  }
  return result;
}
