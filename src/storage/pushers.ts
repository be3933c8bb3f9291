/**
 * pushers, and what the push gateway sender reads: a user's notifications after a pusher's
 * position (spec: Client-Server API "Push Notifications"; Push Gateway API).
 */
import type { Database, Queryable } from './database.js';
import type { JsonObject } from '../matrix/types.js';
import type { PushAction } from '../matrix/push-rules/index.js';

export interface PusherRow {
  userId: string;
  accessTokenId: number | null;
  kind: string;
  appId: string;
  pushkey: string;
  appDisplayName: string;
  deviceDisplayName: string;
  profileTag: string | null;
  lang: string;
  data: JsonObject;
  deviceId: string | null;
  /** When the pushkey was last set (ms); the gateway gets it as pushkey_ts, in seconds. */
  createdTs: number;
  /** The position of the last notification handed to the gateway (or skipped). */
  lastStreamOrdering: number | null;
  failingSince: number | null;
}

export interface PendingNotification {
  roomId: string;
  eventId: string;
  streamOrdering: number;
  actions: PushAction[];
  highlight: boolean;
}

interface DbRow {
  user_id: string;
  access_token_id: number | null;
  kind: string;
  app_id: string;
  pushkey: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  data: JsonObject;
  device_id: string | null;
  created_ts: number;
  last_stream_ordering: number | null;
  failing_since: number | null;
}

const COLUMNS = `user_id, access_token_id, kind, app_id, pushkey, app_display_name, device_display_name,
  profile_tag, lang, data, device_id, created_ts, last_stream_ordering, failing_since`;

function toRow(r: DbRow): PusherRow {
  return {
    userId: r.user_id,
    accessTokenId: r.access_token_id,
    kind: r.kind,
    appId: r.app_id,
    pushkey: r.pushkey,
    appDisplayName: r.app_display_name,
    deviceDisplayName: r.device_display_name,
    profileTag: r.profile_tag,
    lang: r.lang,
    data: r.data,
    deviceId: r.device_id,
    createdTs: r.created_ts,
    lastStreamOrdering: r.last_stream_ordering,
    failingSince: r.failing_since,
  };
}

/** The receipt types that mark events read (spec: "Receipts"). */
const READ_RECEIPT_TYPES = ['m.read', 'm.read.private'];

export class PusherStore {
  constructor(private readonly db: Database) {}

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  async listForUser(userId: string): Promise<PusherRow[]> {
    const { rows } = await this.db.query<DbRow>(`SELECT ${COLUMNS} FROM pushers WHERE user_id = $1 ORDER BY created_ts, app_id, pushkey`, [userId]);
    return rows.map(toRow);
  }

  async listAll(): Promise<PusherRow[]> {
    const { rows } = await this.db.query<DbRow>(`SELECT ${COLUMNS} FROM pushers`);
    return rows.map(toRow);
  }

  /** Creates or replaces the user's pusher with this app_id and pushkey. */
  async upsert(tx: Queryable, p: PusherRow): Promise<void> {
    await tx.query(
      `INSERT INTO pushers (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14)
       ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET
         access_token_id = EXCLUDED.access_token_id, kind = EXCLUDED.kind,
         app_display_name = EXCLUDED.app_display_name, device_display_name = EXCLUDED.device_display_name,
         profile_tag = EXCLUDED.profile_tag, lang = EXCLUDED.lang, data = EXCLUDED.data,
         device_id = EXCLUDED.device_id, created_ts = EXCLUDED.created_ts,
         last_stream_ordering = EXCLUDED.last_stream_ordering, failing_since = NULL`,
      [
        p.userId,
        p.accessTokenId,
        p.kind,
        p.appId,
        p.pushkey,
        p.appDisplayName,
        p.deviceDisplayName,
        p.profileTag,
        p.lang,
        JSON.stringify(p.data),
        p.deviceId,
        p.createdTs,
        p.lastStreamOrdering,
        p.failingSince,
      ],
    );
  }

  async delete(userId: string, appId: string, pushkey: string, db: Queryable = this.db): Promise<PusherRow[]> {
    const { rows } = await db.query<DbRow>(
      `DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3 RETURNING ${COLUMNS}`,
      [userId, appId, pushkey],
    );
    return rows.map(toRow);
  }

  /** Other users' pushers with this app_id and pushkey (spec: POST /pushers/set with append false). */
  async deleteOtherUsers(tx: Queryable, appId: string, pushkey: string, userId: string): Promise<PusherRow[]> {
    const { rows } = await tx.query<DbRow>(
      `DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3 RETURNING ${COLUMNS}`,
      [appId, pushkey, userId],
    );
    return rows.map(toRow);
  }

  async deleteForDevices(userId: string, deviceIds: string[]): Promise<PusherRow[]> {
    const { rows } = await this.db.query<DbRow>(
      `DELETE FROM pushers WHERE user_id = $1 AND device_id = ANY($2) RETURNING ${COLUMNS}`,
      [userId, deviceIds],
    );
    return rows.map(toRow);
  }

  /** Records progress; false when the pusher is gone (deleted meanwhile). */
  async setProgress(p: Pick<PusherRow, 'userId' | 'appId' | 'pushkey'>, lastStreamOrdering: number, failingSince: number | null): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE pushers SET last_stream_ordering = GREATEST(COALESCE(last_stream_ordering, 0), $4), failing_since = $5
       WHERE user_id = $1 AND app_id = $2 AND pushkey = $3`,
      [p.userId, p.appId, p.pushkey, lastStreamOrdering, failingSince],
    );
    return (rowCount ?? 0) > 0;
  }

  async setFailingSince(p: Pick<PusherRow, 'userId' | 'appId' | 'pushkey'>, failingSince: number | null): Promise<void> {
    await this.db.query('UPDATE pushers SET failing_since = $4 WHERE user_id = $1 AND app_id = $2 AND pushkey = $3', [
      p.userId,
      p.appId,
      p.pushkey,
      failingSince,
    ]);
  }

  /**
   * The user's notifications in (after, upTo], oldest first, leaving out those a read receipt
   * already covers (no use alerting a phone about what was read elsewhere meanwhile).
   */
  async pendingNotifications(userId: string, after: number, upTo: number, limit: number): Promise<PendingNotification[]> {
    const { rows } = await this.db.query<{ room_id: string; event_id: string; stream_ordering: number; actions: PushAction[]; highlight: boolean }>(
      `SELECT a.room_id, a.event_id, a.stream_ordering, a.actions, a.highlight
       FROM event_push_actions a
       WHERE a.user_id = $1 AND a.notif AND a.stream_ordering > $2 AND a.stream_ordering <= $3
         AND a.stream_ordering > COALESCE((
           SELECT max(COALESCE(r.event_stream_ordering, (SELECT re.stream_ordering FROM events re WHERE re.event_id = r.event_id)))
           FROM receipts r
           WHERE r.room_id = a.room_id AND r.user_id = a.user_id AND r.receipt_type = ANY($5) AND r.thread_id IN ('', a.thread_id)
         ), 0)
       ORDER BY a.stream_ordering
       LIMIT $4`,
      [userId, after, upTo, limit, READ_RECEIPT_TYPES],
    );
    return rows.map((r) => ({ roomId: r.room_id, eventId: r.event_id, streamOrdering: Number(r.stream_ordering), actions: r.actions, highlight: r.highlight }));
  }

  /** The rooms the user is joined to now (for the badge count). */
  async joinedRooms(userId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join'`,
      [userId],
    );
    return rows.map((r) => r.room_id);
  }
}
