/**
 * Device keys, one-time and fallback keys, cross-signing keys and their signatures, and the
 * device-list change log (tables of migrations 004 and 008).
 */
import type { Database, Queryable } from './database.js';
import { dictionary } from '../matrix/types.js';

export interface DeviceKeysRow {
  userId: string;
  deviceId: string;
  keyJson: string;
  displayName: string | null;
}

export interface ClaimedKey {
  userId: string;
  deviceId: string;
  algorithm: string;
  keyId: string;
  keyJson: string;
}

export interface SignatureRow {
  targetUserId: string;
  targetKeyId: string;
  signerUserId: string;
  signerKeyId: string;
  signature: string;
}

export interface CrossSigningKeyRow {
  userId: string;
  keyType: 'master' | 'self_signing' | 'user_signing';
  publicKey: string;
  keyJson: string;
}

export class E2eeKeyStore {
  constructor(readonly db: Database) {}

  // --- device keys ---

  async deviceKeys(userId: string, deviceId: string, db: Queryable = this.db): Promise<string | undefined> {
    const { rows } = await db.query<{ key_json: string }>('SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2', [userId, deviceId]);
    return rows[0]?.key_json;
  }

  /** Keys of the listed devices of each user (an empty list: all devices), only of devices that exist. */
  async queryDeviceKeys(all: string[], some: { userId: string; deviceId: string }[]): Promise<DeviceKeysRow[]> {
    if (!all.length && !some.length) return [];
    const select = `SELECT k.user_id, k.device_id, k.key_json, d.display_name FROM e2e_device_keys k
         JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id`;
    // Separate statements for the two forms keep each on its index.
    const parts: Promise<{ rows: { user_id: string; device_id: string; key_json: string; display_name: string | null }[] }>[] = [];
    if (all.length) parts.push(this.db.query(`${select} WHERE k.user_id = ANY($1)`, [all]));
    if (some.length) {
      parts.push(
        this.db.query(`${select} WHERE (k.user_id, k.device_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, [some.map((s) => s.userId), some.map((s) => s.deviceId)]),
      );
    }
    const out: DeviceKeysRow[] = [];
    for (const { rows } of await Promise.all(parts)) {
      for (const r of rows) out.push({ userId: r.user_id, deviceId: r.device_id, keyJson: r.key_json, displayName: r.display_name });
    }
    return out;
  }

  async setDeviceKeys(tx: Queryable, userId: string, deviceId: string, keyJson: string, now: number): Promise<void> {
    await tx.query(
      `INSERT INTO e2e_device_keys (user_id, device_id, key_json, ts) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = EXCLUDED.key_json, ts = EXCLUDED.ts`,
      [userId, deviceId, keyJson, now],
    );
  }

  /** Everything keyed to the devices: keys, one-time and fallback keys, signatures of them. */
  async deleteDevices(tx: Queryable, userId: string, deviceIds: string[]): Promise<number> {
    const res = await tx.query('DELETE FROM e2e_device_keys WHERE user_id = $1 AND device_id = ANY($2)', [userId, deviceIds]);
    await tx.query('DELETE FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = ANY($2)', [userId, deviceIds]);
    await tx.query('DELETE FROM e2e_fallback_keys WHERE user_id = $1 AND device_id = ANY($2)', [userId, deviceIds]);
    await tx.query('DELETE FROM e2e_signatures WHERE target_user_id = $1 AND target_key_id = ANY($2)', [userId, deviceIds]);
    return res.rowCount ?? 0;
  }

  // --- one-time keys ---

  /** Existing keys among the given IDs (to tell a re-upload from a conflicting one). */
  async existingOneTimeKeys(tx: Queryable, userId: string, deviceId: string, ids: { algorithm: string; keyId: string }[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!ids.length) return out;
    const { rows } = await tx.query<{ algorithm: string; key_id: string; key_json: string }>(
      `SELECT algorithm, key_id, key_json FROM e2e_one_time_keys
       WHERE user_id = $1 AND device_id = $2 AND (algorithm, key_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
      [userId, deviceId, ids.map((i) => i.algorithm), ids.map((i) => i.keyId)],
    );
    for (const r of rows) out.set(`${r.algorithm}:${r.key_id}`, r.key_json);
    return out;
  }

  async addOneTimeKeys(tx: Queryable, userId: string, deviceId: string, keys: { algorithm: string; keyId: string; keyJson: string }[], now: number): Promise<void> {
    if (!keys.length) return;
    await tx.query(
      `INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json, ts)
       SELECT $1, $2, a, k, j, $6 FROM unnest($3::text[], $4::text[], $5::text[]) AS t(a, k, j)
       ON CONFLICT DO NOTHING`,
      [userId, deviceId, keys.map((k) => k.algorithm), keys.map((k) => k.keyId), keys.map((k) => k.keyJson), now],
    );
  }

  async oneTimeKeyCounts(userId: string, deviceId: string, db: Queryable = this.db): Promise<Record<string, number>> {
    const { rows } = await db.query<{ algorithm: string; n: string }>(
      'SELECT algorithm, count(*) AS n FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm',
      [userId, deviceId],
    );
    // Algorithms are the uploader's: without a prototype, "__proto__" is counted like any other.
    const out = dictionary<number>();
    for (const r of rows) out[r.algorithm] = Number(r.n);
    return out;
  }

  /** One-time key counts and unused fallback key algorithms of a device, in one query (for /sync). */
  async keyCountsForSync(userId: string, deviceId: string): Promise<{ counts: Record<string, number>; unusedFallback: string[] }> {
    const { rows } = await this.db.query<{ kind: string; algorithm: string; n: string }>(
      `SELECT 'otk' AS kind, algorithm, count(*) AS n FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm
       UNION ALL
       SELECT 'fallback', algorithm, 0 FROM e2e_fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used`,
      [userId, deviceId],
    );
    const counts = dictionary<number>();
    const unusedFallback: string[] = [];
    for (const r of rows) {
      if (r.kind === 'otk') counts[r.algorithm] = Number(r.n);
      else unusedFallback.push(r.algorithm);
    }
    return { counts, unusedFallback };
  }

  /**
   * Takes one one-time key per requested (user, device, algorithm) and deletes it in the same
   * statement. Rows another claimer holds are skipped (SKIP LOCKED), so concurrent claimers never
   * get the same key and never wait on each other.
   */
  async claimOneTimeKeys(wanted: { userId: string; deviceId: string; algorithm: string }[]): Promise<ClaimedKey[]> {
    if (!wanted.length) return [];
    const { rows } = await this.db.query<{ user_id: string; device_id: string; algorithm: string; key_id: string; key_json: string }>(
      `WITH picked AS (
         SELECT k.id FROM unnest($1::text[], $2::text[], $3::text[]) AS w(user_id, device_id, algorithm)
         CROSS JOIN LATERAL (
           SELECT id FROM e2e_one_time_keys o
           WHERE o.user_id = w.user_id AND o.device_id = w.device_id AND o.algorithm = w.algorithm
           ORDER BY o.id LIMIT 1 FOR UPDATE SKIP LOCKED
         ) k
       )
       DELETE FROM e2e_one_time_keys WHERE id IN (SELECT id FROM picked)
       RETURNING user_id, device_id, algorithm, key_id, key_json`,
      [wanted.map((w) => w.userId), wanted.map((w) => w.deviceId), wanted.map((w) => w.algorithm)],
    );
    return rows.map((r) => ({ userId: r.user_id, deviceId: r.device_id, algorithm: r.algorithm, keyId: r.key_id, keyJson: r.key_json }));
  }

  // --- fallback keys ---

  /** Replaces the device's fallback key for the algorithm; the same key again keeps its `used` mark. */
  async setFallbackKey(tx: Queryable, userId: string, deviceId: string, algorithm: string, keyId: string, keyJson: string): Promise<void> {
    await tx.query(
      `INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) VALUES ($1, $2, $3, $4, $5, false)
       ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json,
         used = e2e_fallback_keys.used AND e2e_fallback_keys.key_id = EXCLUDED.key_id AND e2e_fallback_keys.key_json = EXCLUDED.key_json`,
      [userId, deviceId, algorithm, keyId, keyJson],
    );
  }

  async unusedFallbackKeyTypes(userId: string, deviceId: string, db: Queryable = this.db): Promise<string[]> {
    const { rows } = await db.query<{ algorithm: string }>(
      'SELECT algorithm FROM e2e_fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used ORDER BY algorithm',
      [userId, deviceId],
    );
    return rows.map((r) => r.algorithm);
  }

  /** The fallback keys of the requested devices, marking them used. */
  async claimFallbackKeys(wanted: { userId: string; deviceId: string; algorithm: string }[]): Promise<ClaimedKey[]> {
    if (!wanted.length) return [];
    const { rows } = await this.db.query<{ user_id: string; device_id: string; algorithm: string; key_id: string; key_json: string }>(
      `UPDATE e2e_fallback_keys f SET used = true
       FROM unnest($1::text[], $2::text[], $3::text[]) AS w(user_id, device_id, algorithm)
       WHERE f.user_id = w.user_id AND f.device_id = w.device_id AND f.algorithm = w.algorithm
       RETURNING f.user_id, f.device_id, f.algorithm, f.key_id, f.key_json`,
      [wanted.map((w) => w.userId), wanted.map((w) => w.deviceId), wanted.map((w) => w.algorithm)],
    );
    return rows.map((r) => ({ userId: r.user_id, deviceId: r.device_id, algorithm: r.algorithm, keyId: r.key_id, keyJson: r.key_json }));
  }

  // --- cross-signing ---

  async crossSigningKeys(userIds: string[], db: Queryable = this.db): Promise<CrossSigningKeyRow[]> {
    if (!userIds.length) return [];
    const { rows } = await db.query<{ user_id: string; key_type: CrossSigningKeyRow['keyType']; public_key: string; key_json: string }>(
      'SELECT user_id, key_type, public_key, key_json FROM e2e_cross_signing_keys WHERE user_id = ANY($1)',
      [userIds],
    );
    return rows.map((r) => ({ userId: r.user_id, keyType: r.key_type, publicKey: r.public_key, keyJson: r.key_json }));
  }

  async setCrossSigningKey(tx: Queryable, userId: string, keyType: string, publicKey: string, keyJson: string, now: number): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json, ts) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = EXCLUDED.public_key, key_json = EXCLUDED.key_json, ts = EXCLUDED.ts
       WHERE e2e_cross_signing_keys.key_json <> EXCLUDED.key_json`,
      [userId, keyType, publicKey, keyJson, now],
    );
    return (res.rowCount ?? 0) > 0;
  }

  // --- signatures ---

  async signaturesOf(targets: { userId: string; keyId: string }[]): Promise<SignatureRow[]> {
    if (!targets.length) return [];
    const { rows } = await this.db.query<{ target_user_id: string; target_key_id: string; signer_user_id: string; signer_key_id: string; signature: string }>(
      `SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature FROM e2e_signatures
       WHERE (target_user_id, target_key_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [targets.map((t) => t.userId), targets.map((t) => t.keyId)],
    );
    return rows.map((r) => ({ targetUserId: r.target_user_id, targetKeyId: r.target_key_id, signerUserId: r.signer_user_id, signerKeyId: r.signer_key_id, signature: r.signature }));
  }

  /** Signatures on all devices of these users (for /keys/query of whole users). */
  async signaturesOfUsers(userIds: string[]): Promise<SignatureRow[]> {
    if (!userIds.length) return [];
    const { rows } = await this.db.query<{ target_user_id: string; target_key_id: string; signer_user_id: string; signer_key_id: string; signature: string }>(
      `SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature FROM e2e_signatures WHERE target_user_id = ANY($1)`,
      [userIds],
    );
    return rows.map((r) => ({ targetUserId: r.target_user_id, targetKeyId: r.target_key_id, signerUserId: r.signer_user_id, signerKeyId: r.signer_key_id, signature: r.signature }));
  }

  /** Signatures one user made on keys of the given users (their user-signing key's). */
  async signaturesBy(signerUserId: string, targetUserIds: string[]): Promise<SignatureRow[]> {
    if (!targetUserIds.length) return [];
    const { rows } = await this.db.query<{ target_user_id: string; target_key_id: string; signer_user_id: string; signer_key_id: string; signature: string }>(
      `SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature FROM e2e_signatures
       WHERE target_user_id = ANY($1) AND signer_user_id = $2`,
      [targetUserIds, signerUserId],
    );
    return rows.map((r) => ({ targetUserId: r.target_user_id, targetKeyId: r.target_key_id, signerUserId: r.signer_user_id, signerKeyId: r.signer_key_id, signature: r.signature }));
  }

  async addSignatures(tx: Queryable, rows: SignatureRow[]): Promise<void> {
    if (!rows.length) return;
    await tx.query(
      `INSERT INTO e2e_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE SET signature = EXCLUDED.signature`,
      [rows.map((r) => r.targetUserId), rows.map((r) => r.targetKeyId), rows.map((r) => r.signerUserId), rows.map((r) => r.signerKeyId), rows.map((r) => r.signature)],
    );
  }

  async deleteSignaturesOn(tx: Queryable, userId: string, keyIds: string[]): Promise<void> {
    await tx.query('DELETE FROM e2e_signatures WHERE target_user_id = $1 AND target_key_id = ANY($2)', [userId, keyIds]);
  }

  /** Signatures made by a user's keys that a replaced key invalidates. */
  async deleteSignaturesBy(tx: Queryable, signerUserId: string, signerKeyIds: string[]): Promise<void> {
    await tx.query('DELETE FROM e2e_signatures WHERE signer_user_id = $1 AND signer_key_id = ANY($2)', [signerUserId, signerKeyIds]);
  }

  // --- device-list changes ---

  async recordDeviceListChange(tx: Queryable, userId: string, position: number, selfOnly: boolean): Promise<void> {
    await tx.query('INSERT INTO device_lists_changes (user_id, stream_id, self_only) VALUES ($1, $2, $3)', [userId, position, selfOnly]);
  }

  /**
   * Users whose device list changed in (since, upTo] and who share a joined room with `userId`,
   * plus `userId` themself.
   */
  async changedUsersSharingRoom(userId: string, since: number, upTo: number): Promise<string[]> {
    const { rows } = await this.db.query<{ user_id: string }>(
      `SELECT DISTINCT c.user_id FROM device_lists_changes c
       WHERE c.stream_id > $2 AND c.stream_id <= $3
         AND (c.user_id = $1 OR (NOT c.self_only AND EXISTS (
           SELECT 1 FROM current_state me JOIN current_state them ON them.room_id = me.room_id
           WHERE me.type = 'm.room.member' AND me.state_key = $1 AND me.membership = 'join'
             AND them.type = 'm.room.member' AND them.state_key = c.user_id AND them.membership = 'join')))`,
      [userId, since, upTo],
    );
    return rows.map((r) => r.user_id);
  }

  /** Rooms the user is joined to. */
  async joinedRooms(userId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join'`,
      [userId],
    );
    return rows.map((r) => r.room_id);
  }

  /** Joined members of the rooms. */
  async joinedMembers(roomIds: string[]): Promise<string[]> {
    if (!roomIds.length) return [];
    const { rows } = await this.db.query<{ state_key: string }>(
      `SELECT DISTINCT state_key FROM current_state WHERE room_id = ANY($1) AND type = 'm.room.member' AND membership = 'join'`,
      [roomIds],
    );
    return rows.map((r) => r.state_key);
  }

  /** Members of the rooms whose current membership event lies in (since, upTo]. */
  async membershipChanges(roomIds: string[], since: number, upTo: number): Promise<{ roomId: string; userId: string; membership: string }[]> {
    if (!roomIds.length) return [];
    const { rows } = await this.db.query<{ room_id: string; state_key: string; membership: string }>(
      `SELECT c.room_id, c.state_key, c.membership FROM current_state c JOIN events e ON e.event_id = c.event_id
       WHERE c.room_id = ANY($1) AND c.type = 'm.room.member' AND e.stream_ordering > $2 AND e.stream_ordering <= $3`,
      [roomIds, since, upTo],
    );
    return rows.map((r) => ({ roomId: r.room_id, userId: r.state_key, membership: r.membership }));
  }

  /** Of `others`, those who share a joined room with `userId`. */
  async stillSharing(userId: string, others: string[]): Promise<Set<string>> {
    if (!others.length) return new Set();
    const { rows } = await this.db.query<{ state_key: string }>(
      `SELECT DISTINCT them.state_key FROM current_state me JOIN current_state them ON them.room_id = me.room_id
       WHERE me.type = 'm.room.member' AND me.state_key = $1 AND me.membership = 'join'
         AND them.type = 'm.room.member' AND them.state_key = ANY($2) AND them.membership = 'join'`,
      [userId, others],
    );
    return new Set(rows.map((r) => r.state_key));
  }
}
