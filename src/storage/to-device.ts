/**
 * device_inbox and to_device_txns: send-to-device messages wait in the inbox until the device
 * acknowledges them with a later since token (spec: Client-Server API §11.x "Send-to-Device messaging").
 */
import type { Database } from './database.js';
import type { JsonObject } from '../matrix/types.js';

export interface InboxMessage {
  streamId: number;
  message: JsonObject;
}

export interface Delivery {
  userId: string;
  deviceId: string;
  message: JsonObject;
}

export class ToDeviceStore {
  constructor(private readonly db: Database) {}

  /**
   * Records the sender's transaction and stores the messages at `streamId`, in one transaction.
   * Returns false (storing nothing) when the transaction was seen before.
   */
  async send(sender: { userId: string; deviceId: string }, txnKey: string, now: number, streamId: number, deliveries: Delivery[]): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const res = await tx.query(
        `INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [sender.userId, sender.deviceId, txnKey, now],
      );
      if (!res.rowCount) return false;
      // Batches of 1000 rows keep the statement size bounded.
      for (let i = 0; i < deliveries.length; i += 1000) {
        const batch = deliveries.slice(i, i + 1000);
        await tx.query(
          `INSERT INTO device_inbox (user_id, device_id, stream_id, message)
           SELECT u, d, $1, m::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) AS t(u, d, m)`,
          [streamId, batch.map((d) => d.userId), batch.map((d) => d.deviceId), batch.map((d) => JSON.stringify(d.message))],
        );
      }
      return true;
    });
  }

  /** Which of `deviceIds` the user has (messages to unknown devices are dropped, as Synapse does). */
  async existingDevices(userId: string, deviceIds: string[]): Promise<string[]> {
    const { rows } = await this.db.query<{ device_id: string }>(
      'SELECT device_id FROM devices WHERE user_id = $1 AND device_id = ANY($2) AND NOT hidden',
      [userId, deviceIds],
    );
    return rows.map((r) => r.device_id);
  }

  /** Messages for a device in (since, upTo], oldest first, at most `limit`. */
  async pending(userId: string, deviceId: string, since: number, upTo: number, limit: number): Promise<InboxMessage[]> {
    const { rows } = await this.db.query<InboxMessage>(
      `SELECT stream_id AS "streamId", message FROM device_inbox
       WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4 ORDER BY stream_id LIMIT $5`,
      [userId, deviceId, since, upTo, limit],
    );
    return rows;
  }

  /** Acknowledged: everything the device received up to `upTo`. */
  async acknowledge(userId: string, deviceId: string, upTo: number): Promise<number> {
    const res = await this.db.query('DELETE FROM device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3', [userId, deviceId, upTo]);
    return res.rowCount ?? 0;
  }

  async deleteForDevices(userId: string, deviceIds: string[]): Promise<void> {
    await this.db.query('DELETE FROM device_inbox WHERE user_id = $1 AND device_id = ANY($2)', [userId, deviceIds]);
  }

  /** Forgets transactions older than `before` (a client retries within minutes, not days). */
  async expireTxns(before: number): Promise<number> {
    const res = await this.db.query('DELETE FROM to_device_txns WHERE created_ts < $1', [before]);
    return res.rowCount ?? 0;
  }
}
