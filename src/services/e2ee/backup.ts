/**
 * Server-side key backup (spec: Client-Server API §10.12.x "Server-side key backups"). Keys go
 * only into the current version; a key already stored for a session is replaced only by a better
 * one; every change moves the version's etag.
 */
import type { E2eeBackupStore, BackupVersionRow, RoomKeyRow } from '../../storage/e2ee-backup.js';
import type { JsonObject, JsonValue } from '../../matrix/types.js';
import { MatrixError, notFound } from '../../errors.js';
import { isObject } from './signed-json.js';
import { dictionary } from '../../matrix/types.js';

/** Sessions one upload may carry. */
export const MAX_SESSIONS_PER_UPLOAD = 10_000;

/**
 * spec: keep the key with is_verified true; else the lower first_message_index; else the lower
 * forwarded_count. True if `candidate` should replace `existing`.
 */
export function isBetterRoomKey(candidate: Pick<RoomKeyRow, 'isVerified' | 'firstMessageIndex' | 'forwardedCount'>, existing: Pick<RoomKeyRow, 'isVerified' | 'firstMessageIndex' | 'forwardedCount'>): boolean {
  if (candidate.isVerified !== existing.isVerified) return candidate.isVerified;
  if (candidate.firstMessageIndex !== existing.firstMessageIndex) return candidate.firstMessageIndex < existing.firstMessageIndex;
  return candidate.forwardedCount < existing.forwardedCount;
}

function parseVersion(v: string | undefined, required = true): number | undefined {
  if (v === undefined || v === '') {
    if (required) throw new MatrixError(400, 'M_MISSING_PARAM', "Missing 'version' parameter");
    return undefined;
  }
  // Versions are decimal numbers here; anything else names no backup.
  if (!/^\d{1,15}$/.test(v)) return -1;
  return Number(v);
}

function toKeyData(k: RoomKeyRow): JsonObject {
  return { first_message_index: k.firstMessageIndex, forwarded_count: k.forwardedCount, is_verified: k.isVerified, session_data: k.sessionData };
}

function parseKeyData(v: JsonValue | undefined, where: string): Omit<RoomKeyRow, 'roomId' | 'sessionId'> {
  if (!isObject(v)) throw new MatrixError(400, 'M_BAD_JSON', `${where} must be an object`);
  const f = v.first_message_index;
  const c = v.forwarded_count;
  if (typeof f !== 'number' || !Number.isSafeInteger(f) || f < 0) throw new MatrixError(400, 'M_BAD_JSON', `${where}.first_message_index must be a non-negative integer`);
  if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) throw new MatrixError(400, 'M_BAD_JSON', `${where}.forwarded_count must be a non-negative integer`);
  if (typeof v.is_verified !== 'boolean') throw new MatrixError(400, 'M_BAD_JSON', `${where}.is_verified must be a boolean`);
  if (!isObject(v.session_data)) throw new MatrixError(400, 'M_BAD_JSON', `${where}.session_data must be an object`);
  return { firstMessageIndex: f, forwardedCount: c, isVerified: v.is_verified, sessionData: v.session_data };
}

export class KeyBackupService {
  constructor(private readonly store: E2eeBackupStore) {}

  private async info(userId: string, v: BackupVersionRow): Promise<JsonObject> {
    return { algorithm: v.algorithm, auth_data: v.authData, count: await this.store.count(userId, v.version), etag: String(v.etag), version: String(v.version) };
  }

  /** GET /room_keys/version[/{version}] */
  async getVersion(userId: string, version?: string): Promise<JsonObject> {
    const n = parseVersion(version, false);
    const v = n === undefined ? await this.store.currentVersion(userId) : await this.store.version(userId, n);
    if (!v || v.deleted) throw notFound(n === undefined ? 'No current backup version' : 'Unknown backup version');
    return this.info(userId, v);
  }

  /** POST /room_keys/version */
  async createVersion(userId: string, body: JsonObject): Promise<{ version: string }> {
    if (typeof body.algorithm !== 'string') throw new MatrixError(400, 'M_BAD_JSON', "'algorithm' must be a string");
    if (!isObject(body.auth_data)) throw new MatrixError(400, 'M_BAD_JSON', "'auth_data' must be an object");
    const version = await this.store.db.transaction((tx) => this.store.createVersion(tx, userId, body.algorithm as string, body.auth_data as JsonObject));
    return { version: String(version) };
  }

  /** PUT /room_keys/version/{version}: only auth_data may change. */
  async updateVersion(userId: string, version: string, body: JsonObject): Promise<JsonObject> {
    const n = parseVersion(version)!;
    if (body.version !== undefined && String(body.version) !== version) throw new MatrixError(400, 'M_INVALID_PARAM', 'The version in the body does not match the version in the path');
    if (!isObject(body.auth_data)) throw new MatrixError(400, 'M_BAD_JSON', "'auth_data' must be an object");
    const v = await this.store.version(userId, n);
    if (!v || v.deleted) throw notFound('Unknown backup version');
    if (body.algorithm !== v.algorithm) throw new MatrixError(400, 'M_INVALID_PARAM', 'Algorithm does not match');
    await this.store.updateAuthData(userId, n, body.auth_data);
    return {};
  }

  /** DELETE /room_keys/version[/{version}]: a version deleted before is deleted again without error. */
  async deleteVersion(userId: string, version?: string): Promise<JsonObject> {
    const n = parseVersion(version, false);
    const v = n === undefined ? await this.store.currentVersion(userId) : await this.store.version(userId, n);
    if (!v) throw notFound(n === undefined ? 'No current backup version' : 'Unknown backup version');
    if (!v.deleted) await this.store.db.transaction((tx) => this.store.deleteVersion(tx, userId, v.version));
    return {};
  }

  /** GET /room_keys/keys[/{roomId}[/{sessionId}]] */
  async getKeys(userId: string, version: string | undefined, roomId?: string, sessionId?: string): Promise<JsonObject> {
    const n = parseVersion(version)!;
    const v = await this.store.version(userId, n);
    if (!v || v.deleted) throw notFound('Unknown backup version');
    const keys = await this.store.keys(userId, n, roomId, sessionId);
    if (sessionId !== undefined) {
      if (!keys.length) throw notFound('Key not found');
      return toKeyData(keys[0]!);
    }
    // Room and session IDs are whatever clients uploaded: "constructor" once failed every read.
    const rooms = dictionary<{ sessions: Record<string, JsonObject> }>();
    for (const k of keys) (rooms[k.roomId] ??= { sessions: dictionary() }).sessions[k.sessionId] = toKeyData(k);
    if (roomId !== undefined) return { sessions: rooms[roomId]?.sessions ?? {} };
    return { rooms };
  }

  /** PUT /room_keys/keys[/{roomId}[/{sessionId}]], the body normalised to {rooms: …}. */
  async putKeys(userId: string, version: string | undefined, rooms: JsonObject): Promise<{ etag: string; count: number }> {
    const n = parseVersion(version)!;
    const uploads: RoomKeyRow[] = [];
    for (const [roomId, room] of Object.entries(rooms)) {
      if (!isObject(room) || !isObject(room.sessions)) throw new MatrixError(400, 'M_BAD_JSON', `rooms.${roomId}.sessions must be an object`);
      for (const [sessionId, data] of Object.entries(room.sessions)) {
        uploads.push({ roomId, sessionId, ...parseKeyData(data, `rooms.${roomId}.sessions.${sessionId}`) });
      }
      if (uploads.length > MAX_SESSIONS_PER_UPLOAD) throw new MatrixError(413, 'M_TOO_LARGE', `At most ${MAX_SESSIONS_PER_UPLOAD} sessions per upload`);
    }
    return this.store.db.transaction(async (tx) => {
      const current = await this.store.currentVersion(userId, tx, true);
      const target = await this.store.version(userId, n, tx);
      if (!target || target.deleted) throw notFound('Unknown backup version');
      if (!current || current.version !== n) {
        throw new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version.', { current_version: current ? String(current.version) : null });
      }
      // The same session twice in one upload: the better of the two counts.
      const bySession = new Map<string, RoomKeyRow>();
      for (const u of uploads) {
        const k = `${u.roomId}\u0000${u.sessionId}`;
        const prev = bySession.get(k);
        if (!prev || isBetterRoomKey(u, prev)) bySession.set(k, u);
      }
      const existing = await this.store.existing(tx, userId, n, [...bySession.values()]);
      const winners = [...bySession.entries()].filter(([k, u]) => {
        const old = existing.get(k);
        return !old || isBetterRoomKey(u, old);
      }).map(([, u]) => u);
      let etag = current.etag;
      if (winners.length) {
        await this.store.upsertKeys(tx, userId, n, winners);
        etag = await this.store.bumpEtag(tx, userId, n);
      }
      return { etag: String(etag), count: await this.store.count(userId, n, tx) };
    });
  }

  /** DELETE /room_keys/keys[/{roomId}[/{sessionId}]] */
  async deleteKeys(userId: string, version: string | undefined, roomId?: string, sessionId?: string): Promise<{ etag: string; count: number }> {
    const n = parseVersion(version)!;
    return this.store.db.transaction(async (tx) => {
      const v = await this.store.version(userId, n, tx);
      if (!v || v.deleted) throw notFound('Unknown backup version');
      let etag = v.etag;
      if (await this.store.deleteKeys(tx, userId, n, roomId, sessionId)) etag = await this.store.bumpEtag(tx, userId, n);
      return { etag: String(etag), count: await this.store.count(userId, n, tx) };
    });
  }
}
