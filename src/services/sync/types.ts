/** The /sync response as built by the stream providers (spec: Client-Server API §8.x "Syncing"). */
import type { JsonObject } from '../../matrix/types.js';
import type { SyncPositions, SyncStream } from '../../streams/sync-token.js';
import type { StreamNotice } from '../../streams/notifier.js';
import type { SyncFilter } from './filter.js';
import type { Requester } from '../auth.js';

export interface JoinedRoomSync {
  timeline: { events: JsonObject[]; limited: boolean; prev_batch?: string };
  state: { events: JsonObject[] };
  state_after?: { events: JsonObject[] };
  'org.matrix.msc4222.state_after'?: { events: JsonObject[] };
  ephemeral: { events: JsonObject[] };
  account_data: { events: JsonObject[] };
  summary: JsonObject;
  unread_notifications: { notification_count?: number; highlight_count?: number };
  unread_thread_notifications?: Record<string, { notification_count?: number; highlight_count?: number }>;
}

export interface SyncResponse {
  next_batch: string;
  rooms: {
    join: Record<string, JoinedRoomSync>;
    invite: Record<string, { invite_state: { events: JsonObject[] } }>;
    leave: Record<string, { timeline: { events: JsonObject[]; limited: boolean; prev_batch?: string }; state: { events: JsonObject[] }; account_data: { events: JsonObject[] } }>;
    knock: Record<string, { knock_state: { events: JsonObject[] } }>;
  };
  account_data: { events: JsonObject[] };
  presence: { events: JsonObject[] };
  to_device: { events: JsonObject[] };
  device_lists: { changed: string[]; left: string[] };
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
}

export interface SyncContext {
  requester: Requester;
  userId: string;
  deviceId: string | null;
  filter: SyncFilter;
  /** Absent for an initial sync. */
  since?: SyncPositions;
  to: SyncPositions;
  fullState: boolean;
  /** MSC4222: which name the client asked for, or false. */
  useStateAfter: false | 'stable' | 'unstable';
  now: number;
  response: SyncResponse;
  /** Filled by the rooms provider, which runs first. */
  joinedRooms: string[];
  /** Rooms joined since `since` on an incremental sync (rooms provider); empty on an initial one. */
  newlyJoinedRooms: Set<string>;
  /** Rooms the user is joined, invited or knocking in (what wakes a long-poll). */
  interestingRooms: Set<string>;
}

/** One provider per stream (Dendrite's shape): fills its part of the response between two positions. */
export interface SyncProvider {
  readonly stream: SyncStream;
  /** The highest position of this stream readers may see. */
  current(): number;
  fill(ctx: SyncContext): Promise<void>;
  /** Whether a notice may concern this sync request (it then re-runs). */
  wakes(notice: StreamNotice, ctx: SyncContext): boolean;
}

export function emptyJoinedRoom(): JoinedRoomSync {
  return {
    timeline: { events: [], limited: false },
    state: { events: [] },
    ephemeral: { events: [] },
    account_data: { events: [] },
    summary: {},
    unread_notifications: { notification_count: 0, highlight_count: 0 },
  };
}

/** The joined-room entry of a room, created when a provider other than rooms has something for it. */
export function joinedRoom(ctx: SyncContext, roomId: string): JoinedRoomSync {
  return (ctx.response.rooms.join[roomId] ??= emptyJoinedRoom());
}
