/**
 * The client-server form of room events (spec: Client-Server API §9.x "ClientEvent"): the
 * signed fields clients read, plus unsigned age, prev_content, transaction_id and
 * redacted_because; redacted events are served redacted.
 */
import type { StoredEvent } from '../../storage/events.js';
import { isJsonObject, type JsonObject, type RoomEvent } from '../../matrix/types.js';
import { getRoomVersion } from '../../matrix/room-versions.js';
import { redactEvent, redactEventForClient } from '../../matrix/redaction.js';


export interface ClientEventOptions {
  now: number;
  /** The redaction that applies to this event, if any. */
  redactedBy?: StoredEvent;
  /** Set when the event was sent by the requesting device (spec: unsigned.transaction_id). */
  transactionId?: string;
  /** /sync omits room_id inside rooms (ClientEventWithoutRoomID). */
  omitRoomId?: boolean;
  /** The state event this one replaced (unsigned.replaces_state) has since been redacted. */
  replacedRedacted?: boolean;
  /** The requesting user's membership at the event (spec v1.11: unsigned.membership). */
  membership?: string;
}

export function toClientEvent(stored: StoredEvent, opts: ClientEventOptions): JsonObject {
  const ev = stored.event;
  const out: JsonObject = {
    content: ev.content,
    event_id: ev.event_id,
    origin_server_ts: ev.origin_server_ts,
    sender: ev.sender,
    type: ev.type,
  };
  if (!opts.omitRoomId) out.room_id = ev.room_id;
  if (ev.state_key !== undefined) out.state_key = ev.state_key;
  const version = getRoomVersion(stored.roomVersion)!;
  // spec: Room Version 11 moved `redacts` into content; clients of older rooms read it top-level,
  // so both places carry it (as Synapse does).
  if (ev.type === 'm.room.redaction') {
    const redacts = ev.redacts ?? (ev.content.redacts as string | undefined);
    if (redacts) out.redacts = redacts;
  }
  const unsigned: JsonObject = { age: Math.max(0, opts.now - ev.origin_server_ts) };
  if (stored.unsigned) Object.assign(unsigned, stored.unsigned);
  // prev_content was copied when this event was stored; a later redaction of the event it
  // replaced must reach it too, or the redacted content stays readable here.
  if (opts.replacedRedacted && isJsonObject(unsigned.prev_content)) {
    unsigned.prev_content = redactEvent({ type: ev.type, content: unsigned.prev_content }, version).content as JsonObject;
  }
  if (opts.transactionId) unsigned.transaction_id = opts.transactionId;
  if (opts.membership) unsigned.membership = opts.membership;
  out.unsigned = unsigned;
  if (opts.redactedBy) {
    const because = toClientEvent(opts.redactedBy, { now: opts.now, omitRoomId: opts.omitRoomId });
    // unsigned.membership survives (it is the reader's, not the sender's content).
    return redactEventForClient({ ...out, unsigned }, version, because) as JsonObject;
  }
  return out;
}

/** Stripped state for invites and knocks (spec: Client-Server API §9.x "Stripped state"). */
export function toStrippedState(ev: RoomEvent): JsonObject {
  const out: JsonObject = { content: ev.content, sender: ev.sender, state_key: ev.state_key ?? '', type: ev.type };
  return out;
}
