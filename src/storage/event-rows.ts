/**
 * Rows of the events table as the rest of the server reads them: the stored wire-form JSON back
 * into a RoomEvent, the columns queries select, and the SQL form of an event filter.
 */
import type { JsonObject, RoomEvent } from '../matrix/types.js';
import { getRoomVersion } from '../matrix/room-versions.js';

export interface StoredEvent {
  event: RoomEvent;
  roomVersion: string;
  streamOrdering: number;
  topologicalOrdering: number;
  /** Server-computed unsigned data: replaces_state, prev_content, prev_sender. */
  unsigned: JsonObject | null;
  stateGroupBefore: number | null;
  stateGroupAfter: number | null;
  rejected: boolean;
  outlier: boolean;
}

/** Reads a stored wire-form event back into a RoomEvent without recomputing its ID. */
export function storedToRoomEvent(json: string, eventId: string, roomVersion: string, roomId?: string): RoomEvent {
  const wire = JSON.parse(json) as Record<string, unknown>;
  // A v12 create event is signed without room_id (its hash is the room ID); the normalised form
  // carries it so the rest of the server can use it.
  if (wire.room_id === undefined && roomId !== undefined) wire.room_id = roomId;
  const version = getRoomVersion(roomVersion);
  if (version?.eventFormat === 1) {
    const pairs = (list: unknown) => (list as [string, Record<string, string>][]).map((p) => p[0]);
    const hashes = (list: unknown) =>
      Object.fromEntries((list as [string, Record<string, string>][]).filter((p) => Object.keys(p[1]).length).map((p) => [p[0], p[1]]));
    const prevHashes = hashes(wire.prev_events);
    const authHashes = hashes(wire.auth_events);
    wire.prev_events = pairs(wire.prev_events);
    wire.auth_events = pairs(wire.auth_events);
    if (Object.keys(prevHashes).length) wire.prev_event_hashes = prevHashes;
    if (Object.keys(authHashes).length) wire.auth_event_hashes = authHashes;
  }
  wire.event_id = eventId;
  return wire as unknown as RoomEvent;
}

/** The columns rowToStoredEvent reads; queries alias events as e and rooms as r. */
export const EVENT_COLUMNS = `e.event_id, e.room_id, e.json, e.stream_ordering, e.topological_ordering, e.unsigned,
  e.state_group_before, e.state_group_after, e.rejected_reason, e.outlier, r.room_version`;

export interface EventDbRow {
  event_id: string;
  room_id: string;
  json: string;
  stream_ordering: number;
  topological_ordering: number;
  unsigned: JsonObject | null;
  state_group_before: number | null;
  state_group_after: number | null;
  rejected_reason: string | null;
  outlier: boolean;
  room_version: string;
}

export function rowToStoredEvent(r: EventDbRow): StoredEvent {
  return {
    event: storedToRoomEvent(r.json, r.event_id, r.room_version, r.room_id),
    roomVersion: r.room_version,
    streamOrdering: Number(r.stream_ordering),
    topologicalOrdering: Number(r.topological_ordering),
    unsigned: r.unsigned,
    stateGroupBefore: r.state_group_before === null ? null : Number(r.state_group_before),
    stateGroupAfter: r.state_group_after === null ? null : Number(r.state_group_after),
    rejected: r.rejected_reason !== null,
    outlier: r.outlier,
  };
}

/** The type/sender/URL parts of an event filter that SQL can apply. */
export interface EventSqlFilter {
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
  containsUrl?: boolean;
}

/**
 * SQL conditions (on events aliased as e) for a filter, pushing their values onto params;
 * "*" in a type or sender is a wildcard (spec: Client-Server API §8.x "Filtering").
 */
export function eventFilterConditions(f: EventSqlFilter | undefined, params: unknown[]): string[] {
  const conds: string[] = [];
  if (!f) return conds;
  const list = (values: string[] | undefined, column: string, negate: boolean) => {
    if (!values) return;
    const wildcard = values.some((v) => v.includes('*'));
    params.push(wildcard ? values.map((v) => v.replace(/[%_\\]/g, '\\$&').replace(/\*/g, '%')) : values);
    const expr = wildcard ? `${column} LIKE ANY($${params.length})` : `${column} = ANY($${params.length})`;
    conds.push(negate ? `NOT (${expr})` : expr);
  };
  list(f.types, 'e.type', false);
  list(f.notTypes, 'e.type', true);
  list(f.senders, 'e.sender', false);
  list(f.notSenders, 'e.sender', true);
  if (f.containsUrl !== undefined) conds.push(f.containsUrl ? 'e.contains_url' : 'NOT e.contains_url');
  return conds;
}

